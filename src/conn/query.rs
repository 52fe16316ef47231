//! Statements: the simple query protocol (a queued BEGIN in the same message) and the
//! unnamed statement of the extended protocol (`$1..$n` text parameters), in the session's
//! client encoding.

use postgres_protocol::message::frontend;
use postgres_protocol::IsNull;

use super::{io_err, shift_position, Connection, Interrupt, RowSink, TxStatus};
use crate::error::{Error, Result};
use crate::result::QueryResult;

impl Connection {
    /// Writes a Query message with `sql` in the client encoding.
    pub(super) fn put_query(&mut self, sql: &str) -> Result<()> {
        let bytes = self.encoding.encode(sql)?;
        let len = i32::try_from(bytes.len() + 5)
            .map_err(|_| Error::InvalidParameter("the query is too long".into()))?;
        self.wbuf.extend_from_slice(b"Q");
        self.wbuf.extend_from_slice(&len.to_be_bytes());
        self.wbuf.extend_from_slice(&bytes);
        self.wbuf.extend_from_slice(&[0]);
        Ok(())
    }

    /// Writes a pending BEGIN in front of what follows.
    pub(super) fn put_pending_begin(&mut self) -> Result<bool> {
        if let Some(b) = self.pending_begin.take() {
            b.write_query(&mut self.wbuf)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The checks before `sql` goes out with the simple query protocol (shared with
    /// [`send_async`](Self::send_async)).
    pub(super) fn start_simple(&mut self, sql: &str) -> Result<()> {
        self.check_sendable()?;
        self.extended = false;
        if sql.as_bytes().contains(&0) {
            return Err(Error::InvalidParameter(
                "the query contains NUL (0x00) characters".into(),
            ));
        }
        self.scan_session(sql);
        Ok(())
    }

    /// Runs SQL with the simple query protocol (no parameters; several statements
    /// allowed; no prepared statement of any kind). Returns the last statement's result,
    /// as psycopg2 does. One round trip, a deferred BEGIN included.
    pub fn simple_query(&mut self, sql: &str, intr: Option<Interrupt<'_>>) -> Result<QueryResult> {
        self.simple_query_with(sql, intr, None)
    }

    /// [`simple_query`](Self::simple_query), calling `sink` as the rows arrive (see
    /// [`RowSink`]).
    pub fn simple_query_with(
        &mut self,
        sql: &str,
        intr: Option<Interrupt<'_>>,
        sink: Option<RowSink<'_>>,
    ) -> Result<QueryResult> {
        self.start_simple(sql)?;
        let blank = sql.trim_matches([' ', '\t', '\n', '\r', '\x0c']).is_empty();
        if blank {
            // The empty query's answer must stay the caller's: a deferred reset goes
            // first, on its own.
            self.settle_deferred(intr)?;
        }
        // A previous pool user's deferred reset rides in front, in the same message.
        let (prefix, deferred) = self.take_deferred_prefix();
        match self.pending_begin.take() {
            None => {
                let sent = if prefix.is_empty() {
                    self.put_query(sql)
                } else {
                    self.put_query(&format!("{prefix}{sql}"))
                };
                if let Err(e) = sent {
                    self.deferred_reset |= deferred;
                    return Err(e);
                }
                self.flush()?;
                let r = self
                    .read_until_ready(intr, sink)
                    .map_err(|e| shift_position(e, prefix.len()));
                if let Err(e) = &r {
                    if !self.broken && unparsed(e) {
                        self.deferred_reset |= deferred; // nothing of the message ran
                    }
                }
                r
            }
            // Nothing but whitespace: "BEGIN; " would be one statement, and the empty
            // query's answer (EmptyQueryResponse, what the caller must see) would be
            // lost. Two Query messages in one write, as psycopg2 sends them.
            Some(begin) if blank => {
                if let Err(e) = begin
                    .write_query(&mut self.wbuf)
                    .and_then(|_| self.put_query(sql))
                {
                    self.wbuf.clear();
                    self.pending_begin = Some(begin);
                    return Err(e);
                }
                self.flush()?;
                self.read_begin(intr)?;
                self.read_until_ready(intr, sink)
            }
            Some(begin) => {
                // One Query message "BEGIN;<sql>": one write, and one flush and one
                // wake-up on the server side (two Query messages cost two).
                let (q, at) = begin.prefixed(sql);
                let (q, at) = if prefix.is_empty() {
                    (q, at)
                } else {
                    (format!("{prefix}{q}"), at + prefix.len())
                };
                if let Err(e) = self.put_query(&q) {
                    self.pending_begin = Some(begin);
                    self.deferred_reset |= deferred;
                    return Err(e);
                }
                self.flush()?;
                // An error position counts from the start of "BEGIN;<sql>": make it
                // count from the start of <sql>, the statement the caller knows.
                let r = self
                    .read_until_ready(intr, sink)
                    .map_err(|e| shift_position(e, at));
                if r.is_err() && self.tx == TxStatus::Idle && !self.broken {
                    // The server parses the whole message before running any of it: a
                    // syntax error means BEGIN did not run either. Keep the transaction
                    // pending, so what follows still runs inside one.
                    self.pending_begin = Some(begin);
                    self.deferred_reset |= deferred;
                }
                r
            }
        }
    }

    /// Runs one statement with `$1..$n` text parameters through the unnamed statement of
    /// the extended protocol, types inferred by the server (libpq's `PQexecParams` with
    /// `paramTypes = NULL`). `None` is SQL NULL. Results in text form.
    pub fn query_params(
        &mut self,
        sql: &str,
        params: &[Option<&[u8]>],
        intr: Option<Interrupt<'_>>,
    ) -> Result<QueryResult> {
        self.check_sendable()?;
        self.settle_deferred(intr)?;
        self.extended = true;
        if params.len() > i16::MAX as usize {
            return Err(Error::InvalidParameter(format!(
                "too many parameters ({}; at most {})",
                params.len(),
                i16::MAX
            )));
        }
        if sql.as_bytes().contains(&0) {
            return Err(Error::InvalidParameter(
                "the query contains NUL (0x00) characters".into(),
            ));
        }
        self.scan_session(sql);
        let begin = self.pending_begin.take();
        if let Some(begin) = &begin {
            // BEGIN through the unnamed statement too, with no Sync of its own: one
            // write, one Sync, one flush on the server for the whole block.
            begin.write_extended(&mut self.wbuf)?;
        }
        if let Err(e) = self.encode_extended(sql, params) {
            self.wbuf.clear();
            self.pending_begin = begin;
            return Err(e);
        }
        frontend::sync(&mut self.wbuf);
        self.flush()?;
        self.read_until_ready(intr, None)
    }

    pub(super) fn encode_extended(&mut self, sql: &str, params: &[Option<&[u8]>]) -> Result<()> {
        // Text in the client encoding: the statement, and the parameters (UTF-8 from the
        // faces) unless the session is UTF-8 already.
        let enc = self.encoding;
        let query = enc.encode(sql)?;
        let converted: Vec<Option<std::borrow::Cow<'_, [u8]>>> = if enc.is_utf8() {
            params
                .iter()
                .map(|p| p.map(std::borrow::Cow::Borrowed))
                .collect()
        } else {
            params
                .iter()
                .map(|p| match p {
                    None => Ok(None),
                    Some(v) => {
                        let text = std::str::from_utf8(v).map_err(|_| {
                            Error::InvalidParameter(format!(
                                "a parameter is not UTF-8 text (client_encoding {} is converted from UTF-8)",
                                enc.name
                            ))
                        })?;
                        Ok(Some(std::borrow::Cow::Owned(enc.encode(text)?.into_owned())))
                    }
                })
                .collect::<Result<_>>()?
        };
        // Parse: unnamed statement, the query, every parameter type left to the server
        let len = 4 + 1 + query.len() + 1 + 2 + 4 * params.len();
        let len = i32::try_from(len)
            .map_err(|_| Error::InvalidParameter("the query is too long".into()))?;
        self.wbuf.extend_from_slice(b"P");
        self.wbuf.extend_from_slice(&len.to_be_bytes());
        self.wbuf.extend_from_slice(&[0]);
        self.wbuf.extend_from_slice(&query);
        self.wbuf.extend_from_slice(&[0]);
        self.wbuf
            .extend_from_slice(&(params.len() as i16).to_be_bytes());
        for _ in params {
            self.wbuf.extend_from_slice(&0u32.to_be_bytes());
        }
        let r = frontend::bind(
            "",
            "",
            std::iter::once(0i16), // all parameters in text form
            converted.iter().map(|c| c.as_deref()),
            |p, buf| match p {
                Some(v) => {
                    buf.extend_from_slice(v);
                    Ok(IsNull::No)
                }
                None => Ok(IsNull::Yes),
            },
            std::iter::once(0i16), // all results in text form
            &mut self.wbuf,
        );
        if r.is_err() {
            self.wbuf.clear();
            return Err(Error::InvalidParameter(
                "could not encode parameters".into(),
            ));
        }
        frontend::describe(b'P', "", &mut self.wbuf).map_err(|e| io_err("encode", e))?;
        frontend::execute("", 0, &mut self.wbuf).map_err(|e| io_err("encode", e))?;
        Ok(())
    }
}

/// The server rejected the whole message before running any of it (a syntax error is
/// found when the message is parsed, before its first statement runs).
fn unparsed(e: &Error) -> bool {
    matches!(e, Error::Db(d) if matches!(d.code.as_str(), "42601" | "22021" | "54001"))
}
