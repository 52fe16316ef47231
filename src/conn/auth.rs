//! The startup exchange without I/O: the StartupMessage, then each backend message up to
//! the first ReadyForQuery, answered with the bytes authentication calls for (cleartext,
//! MD5, SCRAM-SHA-256 with or without channel binding). The driver (`startup`) writes
//! what [`Startup::handle`] appends to its buffer and feeds it the messages it reads.

use std::sync::Arc;

use bytes::BytesMut;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{self, ChannelBinding, ScramSha256};
use postgres_protocol::message::frontend;

use crate::config::ConnectParams;
use crate::encoding::Encoding;
use crate::error::{Error, Result};

use super::message::{parse_error_fields, short, Body};
use super::{tx_from, TxStatus};

/// What the connection's transport offers SCRAM's channel binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Transport {
    /// Plain TCP or a Unix socket: nothing to bind to.
    Plain,
    /// TLS, with the `tls-server-end-point` hash of the server's certificate when its
    /// signature algorithm gives one.
    Tls(Option<Vec<u8>>),
}

/// What one backend message meant, once its reply (if any) is in the output buffer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event<'a> {
    /// Nothing to note (an authentication step, a notice); read on.
    Continue,
    /// ParameterStatus: a server setting's name and value, in the client encoding.
    Parameter(&'a [u8], &'a [u8]),
    /// BackendKeyData: what a CancelRequest needs.
    BackendKey { pid: i32, secret: i32 },
    /// ReadyForQuery: the startup is over.
    Ready(TxStatus),
}

/// The client's side of the startup exchange.
pub(super) struct Startup<'p> {
    user: &'p str,
    password: Option<&'p str>,
    transport: Transport,
    scram: Option<ScramSha256>,
    /// The server asked for the password (libpq's `PQconnectionUsedPassword`).
    used_password: std::cell::Cell<bool>,
}

impl<'p> Startup<'p> {
    /// Appends the StartupMessage for `p` to `out`.
    pub(super) fn start(
        p: &'p ConnectParams,
        transport: Transport,
        out: &mut BytesMut,
    ) -> Result<Startup<'p>> {
        let mut params: Vec<(&str, &str)> = vec![
            ("user", p.user.as_str()),
            ("database", p.dbname.as_str()),
            (
                "client_encoding",
                p.client_encoding.unwrap_or(Encoding::UTF8).name,
            ),
            ("DateStyle", "ISO"),
        ];
        if let Some(a) = &p.application_name {
            params.push(("application_name", a));
        }
        if let Some(o) = &p.options {
            params.push(("options", o));
        }
        frontend::startup_message(params.iter().copied(), out).map_err(auth_err)?;
        Ok(Startup {
            user: &p.user,
            password: p.password.as_deref(),
            transport,
            scram: None,
            used_password: std::cell::Cell::new(false),
        })
    }

    /// Handles one backend message (`tag`, `body`) of the startup; a reply goes to `out`.
    /// A server error is `Error::Db` (its text decoded with `enc`).
    pub(super) fn handle<'b>(
        &mut self,
        tag: u8,
        body: &'b [u8],
        enc: Encoding,
        out: &mut BytesMut,
    ) -> Result<Event<'b>> {
        let mut b = Body::new(body);
        match tag {
            b'R' => {
                self.authenticate(b.i32()?, b.rest(), out)?;
                Ok(Event::Continue)
            }
            b'S' => Ok(Event::Parameter(b.cbytes()?, b.cbytes()?)),
            b'K' => Ok(Event::BackendKey {
                pid: b.i32()?,
                secret: b.i32()?,
            }),
            b'Z' => Ok(Event::Ready(tx_from(body.first().copied().unwrap_or(b'I')))),
            b'E' => Err(Error::Db(Arc::new(parse_error_fields(body, enc)))),
            // NoticeResponse; NegotiateProtocolVersion (we ask for nothing optional).
            b'N' | b'v' => Ok(Event::Continue),
            _ => Err(Error::Connection(format!(
                "unexpected message '{}' during startup",
                tag as char
            ))),
        }
    }

    /// True once the server asked for the password (cleartext, MD5 or SCRAM).
    pub(super) fn used_password(&self) -> bool {
        self.used_password.get()
    }

    fn password(&self) -> Result<&'p str> {
        self.used_password.set(true);
        self.password.ok_or_else(|| {
            Error::Connection(
                "the server requested password-based authentication, but no password was \
                 provided"
                    .into(),
            )
        })
    }

    /// One Authentication* message: `method` and what follows it.
    fn authenticate(&mut self, method: i32, rest: &[u8], out: &mut BytesMut) -> Result<()> {
        match method {
            0 => {} // AuthenticationOk
            3 => frontend::password_message(self.password()?.as_bytes(), out).map_err(auth_err)?,
            5 => {
                let salt: [u8; 4] = rest.get(..4).ok_or_else(short)?.try_into().expect("4");
                let h = md5_hash(self.user.as_bytes(), self.password()?.as_bytes(), salt);
                frontend::password_message(h.as_bytes(), out).map_err(auth_err)?;
            }
            10 => {
                let mut mechs = Vec::new();
                let mut b = Body::new(rest);
                while let Ok(m) = b.cstr() {
                    if m.is_empty() {
                        break;
                    }
                    mechs.push(m.to_string());
                }
                let plus = mechs.iter().any(|m| m == sasl::SCRAM_SHA_256_PLUS);
                if !plus && !mechs.iter().any(|m| m == sasl::SCRAM_SHA_256) {
                    return Err(Error::Connection(format!(
                        "unsupported SASL mechanisms {mechs:?}"
                    )));
                }
                // libpq's channel_binding=prefer: SCRAM-SHA-256-PLUS with
                // tls-server-end-point over TLS when the server offers it.
                let (mech, cb) = match &self.transport {
                    Transport::Tls(Some(h)) if plus => (
                        sasl::SCRAM_SHA_256_PLUS,
                        ChannelBinding::tls_server_end_point(h.clone()),
                    ),
                    // The server would bind but we cannot: say so ('n').
                    Transport::Tls(None) if plus => {
                        (sasl::SCRAM_SHA_256, ChannelBinding::unsupported())
                    }
                    // We could bind, the server does not offer it ('y').
                    Transport::Tls(_) => (sasl::SCRAM_SHA_256, ChannelBinding::unrequested()),
                    Transport::Plain => (sasl::SCRAM_SHA_256, ChannelBinding::unsupported()),
                };
                let s = ScramSha256::new(self.password()?.as_bytes(), cb);
                frontend::sasl_initial_response(mech, s.message(), out).map_err(auth_err)?;
                self.scram = Some(s);
            }
            11 => {
                let s = self.scram.as_mut().ok_or_else(out_of_order)?;
                s.update(rest).map_err(scram_err)?;
                frontend::sasl_response(s.message(), out).map_err(auth_err)?;
            }
            12 => {
                let s = self.scram.as_mut().ok_or_else(out_of_order)?;
                s.finish(rest).map_err(scram_err)?;
            }
            other => {
                return Err(Error::Connection(format!(
                    "unsupported authentication method {other}"
                )))
            }
        }
        Ok(())
    }
}

fn auth_err(e: std::io::Error) -> Error {
    Error::Connection(format!("auth: {e}"))
}

fn scram_err(e: std::io::Error) -> Error {
    Error::Connection(format!("SCRAM: {e}"))
}

fn out_of_order() -> Error {
    Error::Connection("protocol error: SASL message before SASL authentication began".into())
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
