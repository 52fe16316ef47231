//! TLS for server connections, with libpq's `sslmode` semantics, on rustls (ring provider).
//!
//! `src/conn/startup.rs` decides *when* to ask for TLS (`sslmode`, libpq's second attempt for
//! `allow` and `prefer`); this module does the rest: the SSLRequest exchange, the rustls
//! client configuration built from libpq's files, the handshake, and the
//! `tls-server-end-point` channel binding data for SCRAM-SHA-256-PLUS. The session itself
//! is rustls's in-memory connection, driven over the blocking socket by `session`.
//!
//! # Certificate checks, as libpq
//! | `sslmode` | root certificates | chain checked | host name checked |
//! |---|---|---|---|
//! | `allow`, `prefer`, `require` | none found | no (any certificate; the handshake signatures are still verified) | no |
//! | `allow`, `prefer`, `require` | `sslrootcert` (or `~/.postgresql/root.crt`) exists | yes | no |
//! | `verify-ca` | required | yes | no |
//! | `verify-full` | required | yes | yes (`subjectAltName`, DNS names and IP addresses) |
//!
//! `sslrootcert=system` uses the platform's roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` are
//! honoured, as by OpenSSL). Files are PEM. Defaults, used when they exist (libpq):
//! `~/.postgresql/root.crt`, `root.crl` (only with a root certificate file),
//! `postgresql.crt` and `postgresql.key`; `~` is `$HOME`.
//!
//! A rustls client configuration is built once per distinct set of settings *and file
//! versions* (path, size, modification time) and shared by every connection of every pool
//! that uses it, so a rotated certificate is picked up by the next connection, as libpq
//! (which reads the files at every connection) would.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use crate::config::{ConnectParams, Host, SslConfig, SslMode};
use crate::error::{Error, Result};

mod session;

pub(crate) use session::TlsStream;

/// The TLS side of a connection's settings: a shared rustls client configuration.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    config: Arc<ClientConfig>,
    /// Where the trusted roots came from, for error messages.
    roots: Arc<str>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("roots", &self.roots)
            .finish_non_exhaustive()
    }
}

/// Checks the TLS files of `p` the way a connection would (root certificate present for
/// `verify-ca`/`verify-full`, readable PEM files, private key permissions, certificate and
/// key matching) and builds the shared client configuration, so that a pool with unusable
/// TLS settings fails at creation with an [`Error::Config`] naming the setting instead of
/// at every connection attempt. Nothing is checked when TLS cannot be used: `sslmode=disable`
/// or only Unix-socket hosts (libpq ignores `sslmode` on those).
pub fn check(p: &ConnectParams) -> Result<()> {
    if p.hosts.iter().any(|h| matches!(h, Host::Tcp(_))) {
        TlsConnector::new(&p.ssl)?;
    }
    Ok(())
}

/// Where the certificates to trust come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Roots {
    /// None: no certificate check.
    None,
    /// The platform's roots (`sslrootcert=system`).
    System,
    /// A PEM file.
    File(FileId),
}

/// A file as it is now: a changed file is a different key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FileId {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileId {
    fn new(path: PathBuf, md: &std::fs::Metadata) -> FileId {
        FileId {
            path,
            len: md.len(),
            modified: md.modified().ok(),
        }
    }
}

/// Everything the client configuration is built from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    /// Check the host name too (`verify-full`).
    check_name: bool,
    roots: Roots,
    crl: Option<FileId>,
    /// Client certificate chain and its key.
    client: Option<(FileId, FileId)>,
}

/// The shared configurations, by key.
static CACHE: LazyLock<Mutex<HashMap<Key, TlsConnector>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// More distinct configurations than this (rotated files) start the cache afresh.
const CACHE_MAX: usize = 64;

/// Takes the connector cache's lock for `fork()` (see `runtime::before_fork`).
pub(crate) fn lock_for_fork() -> crate::runtime::ForkGuard {
    Box::new(CACHE.lock().unwrap_or_else(|e| e.into_inner()))
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".postgresql"))
}

/// `explicit` when set (non-empty), else the file under `~/.postgresql`.
fn file_setting(explicit: Option<&str>, default: &str) -> Option<PathBuf> {
    match explicit.filter(|s| !s.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => home().map(|h| h.join(default)),
    }
}

impl TlsConnector {
    /// The connector for `ssl` (shared, built on first use), or `None` for
    /// `sslmode=disable`. File problems are `Error::Config` naming the setting.
    pub(crate) fn new(ssl: &SslConfig) -> Result<Option<TlsConnector>> {
        if ssl.mode == SslMode::Disable {
            return Ok(None);
        }
        let key = resolve(ssl)?;
        crate::runtime::register_fork_lock(crate::runtime::ForkLock::TlsCache, lock_for_fork, None);
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&key) {
            return Ok(Some(c.clone()));
        }
        let c = build(&key)?;
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, c.clone());
        Ok(Some(c))
    }
}

/// libpq's file lookup (`initialize_SSL` in fe-secure-openssl.c).
fn resolve(ssl: &SslConfig) -> Result<Key> {
    let verify = matches!(ssl.mode, SslMode::VerifyCa | SslMode::VerifyFull);

    // Root certificates.
    let root_path = file_setting(ssl.rootcert.as_deref(), "root.crt");
    let roots = match root_path {
        Some(p) if p.as_os_str() == "system" => Roots::System,
        Some(p) => match std::fs::metadata(&p) {
            Ok(md) => Roots::File(FileId::new(p, &md)),
            Err(e) if verify => {
                let why = if e.kind() == io::ErrorKind::NotFound {
                    "does not exist".to_string()
                } else {
                    format!("cannot be read ({e})")
                };
                return Err(Error::config(
                    "sslrootcert",
                    format!(
                        "root certificate file \"{}\" {why}; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification",
                        p.display()
                    ),
                ));
            }
            // Not there: no check (libpq's require/prefer/allow).
            Err(_) => Roots::None,
        },
        None if verify => {
            return Err(Error::config(
                "sslrootcert",
                "could not get the home directory to locate the root certificate file; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification",
            ))
        }
        None => Roots::None,
    };

    // Certificate revocation list: only next to a root certificate file (libpq). An
    // explicit sslcrl must be usable (libpq silently ignores one it cannot load; a
    // revocation list that is not applied is worse than an error).
    let crl = match (&roots, ssl.crlfile.as_deref().filter(|s| !s.is_empty())) {
        (Roots::File(_), Some(p)) => {
            let md = std::fs::metadata(p).map_err(|e| {
                Error::config(
                    "sslcrl",
                    format!("could not open certificate revocation list file \"{p}\": {e}"),
                )
            })?;
            Some(FileId::new(PathBuf::from(p), &md))
        }
        (Roots::File(_), None) => home().and_then(|h| {
            let p = h.join("root.crl");
            let md = std::fs::metadata(&p).ok()?;
            Some(FileId::new(p, &md))
        }),
        _ => None,
    };

    // Client certificate: used when the file exists; then its key must exist too.
    let client = match file_setting(ssl.cert.as_deref(), "postgresql.crt") {
        None => None,
        Some(cert) => match std::fs::metadata(&cert) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                None
            }
            Err(e) => {
                return Err(Error::config(
                    "sslcert",
                    format!(
                        "could not open certificate file \"{}\": {e}",
                        cert.display()
                    ),
                ))
            }
            Ok(cmd) => {
                let Some(key) = file_setting(ssl.key.as_deref(), "postgresql.key") else {
                    return Err(Error::config(
                        "sslkey",
                        "could not get the home directory to locate the private key file",
                    ));
                };
                let kmd = std::fs::metadata(&key).map_err(|e| {
                    let m = if e.kind() == io::ErrorKind::NotFound {
                        format!(
                            "certificate present, but not private key file \"{}\"",
                            key.display()
                        )
                    } else {
                        format!("could not stat private key file \"{}\": {e}", key.display())
                    };
                    Error::config("sslkey", m)
                })?;
                if !kmd.is_file() {
                    return Err(Error::config(
                        "sslkey",
                        format!(
                            "private key file \"{}\" is not a regular file",
                            key.display()
                        ),
                    ));
                }
                // libpq's rule: 0600 or less, or 0640 or less when owned by root.
                let loose = if kmd.uid() == 0 {
                    kmd.mode() & 0o037
                } else {
                    kmd.mode() & 0o077
                };
                if loose != 0 {
                    return Err(Error::config(
                        "sslkey",
                        format!(
                            "private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root",
                            key.display()
                        ),
                    ));
                }
                Some((FileId::new(cert, &cmd), FileId::new(key, &kmd)))
            }
        },
    };

    Ok(Key {
        check_name: ssl.mode == SslMode::VerifyFull,
        roots,
        crl,
        client,
    })
}

fn read_certs(setting: &str, path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bad = |m: String| {
        Error::config(
            setting,
            format!("could not read {what} file \"{}\": {m}", path.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

fn build(key: &Key) -> Result<TlsConnector> {
    let provider = provider();
    let (verifier, roots_desc): (Arc<dyn ServerCertVerifier>, String) = match &key.roots {
        Roots::None => (
            Arc::new(AnyCertificate(provider.signature_verification_algorithms)),
            "(none: the server certificate is not checked)".into(),
        ),
        roots => {
            let mut store = RootCertStore::empty();
            let desc = match roots {
                Roots::System => {
                    let found = rustls_native_certs::load_native_certs();
                    let (added, _) = store.add_parsable_certificates(found.certs);
                    if added == 0 {
                        let errors: Vec<String> =
                            found.errors.iter().map(|e| e.to_string()).collect();
                        return Err(Error::config(
                            "sslrootcert",
                            format!(
                                "sslrootcert=system: no usable root certificate found on this system{}",
                                if errors.is_empty() {
                                    String::new()
                                } else {
                                    format!(" ({})", errors.join("; "))
                                }
                            ),
                        ));
                    }
                    "system".to_string()
                }
                Roots::File(f) => {
                    for c in read_certs("sslrootcert", &f.path, "root certificate")? {
                        store.add(c).map_err(|e| {
                            Error::config(
                                "sslrootcert",
                                format!(
                                    "could not read root certificate file \"{}\": {e}",
                                    f.path.display()
                                ),
                            )
                        })?;
                    }
                    format!("\"{}\"", f.path.display())
                }
                Roots::None => unreachable!(),
            };
            let mut b =
                WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone());
            if let Some(crl) = &key.crl {
                let bad = |m: String| {
                    Error::config(
                        "sslcrl",
                        format!(
                            "could not read certificate revocation list file \"{}\": {m}",
                            crl.path.display()
                        ),
                    )
                };
                let crls = CertificateRevocationListDer::pem_file_iter(&crl.path)
                    .map_err(|e| bad(e.to_string()))?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad(e.to_string()))?;
                if crls.is_empty() {
                    return Err(bad("no PEM X509 CRL in it".into()));
                }
                // Every certificate of the chain is checked and an unknown status is an
                // error: OpenSSL's X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL.
                b = b.with_crls(crls);
            }
            let webpki = b.build().map_err(|e| {
                let setting = if key.crl.is_some() {
                    "sslcrl"
                } else {
                    "sslrootcert"
                };
                Error::config(setting, format!("cannot use the root certificates: {e}"))
            })?;
            let v: Arc<dyn ServerCertVerifier> = if key.check_name {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            };
            (v, desc)
        }
    };

    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::Interface(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &key.client {
        None => builder.with_no_client_auth(),
        Some((cert, keyfile)) => {
            let chain = read_certs("sslcert", &cert.path, "certificate")?;
            let pk = read_key(&keyfile.path)?;
            builder.with_client_auth_cert(chain, pk).map_err(|e| {
                Error::config(
                    "sslkey",
                    format!(
                        "certificate does not match private key file \"{}\": {e}",
                        keyfile.path.display()
                    ),
                )
            })?
        }
    };
    // libpq 17 sends ALPN "postgresql"; servers before 17 ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsConnector {
        config: Arc::new(config),
        roots: roots_desc.into(),
    })
}

/// A private key in PEM (PKCS#8, PKCS#1 or SEC1), or DER as libpq also accepts.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let bad = |m: String| {
        Error::config(
            "sslkey",
            format!(
                "could not load private key file \"{}\": {m}",
                path.display()
            ),
        )
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(k) => Ok(k),
        Err(pem_err) => PrivateKeyDer::try_from(bytes)
            .map_err(|_| bad(format!("{pem_err} (not a PEM or DER private key)"))),
    }
}

// ---------------------------------------------------------------------------------------
// Verifiers

/// `verify-ca`, and `require`/`prefer`/`allow` with a root certificate: the chain (and
/// revocation, with a CRL) exactly as `WebPkiServerVerifier` checks it, the host name not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // WebPkiServerVerifier checks the name last, once the chain is valid: a name
        // mismatch means everything else passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require`/`prefer`/`allow` without a root certificate: any certificate (libpq does not
/// check it then), but the handshake signatures are verified with the provider's
/// algorithms, so the peer does hold the certificate's key.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------
// Negotiation and handshake

fn timed_out(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Sends an SSLRequest on a fresh socket (whose reads time out every poll interval) and
/// reads the server's one-byte answer: `true` for 'S' (go ahead with TLS), `false` for 'N'.
/// Exactly one byte is read, so no unencrypted data can slip in front of the handshake.
pub(crate) fn ssl_request(sock: &mut TcpStream, deadline: Option<Instant>) -> Result<bool> {
    let mut buf = BytesMut::with_capacity(8);
    frontend::ssl_request(&mut buf);
    sock.write_all(&buf)
        .map_err(|e| Error::Connection(format!("could not send SSL negotiation packet: {e}")))?;
    let mut b = [0u8; 1];
    loop {
        match sock.read(&mut b) {
            Ok(0) => {
                return Err(Error::Connection(
                    "server closed the connection unexpectedly during SSL negotiation".into(),
                ))
            }
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if timed_out(deadline) {
                    return Err(Error::Connection("timeout expired".into()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::Connection(format!(
                    "could not receive the answer to the SSL negotiation packet: {e}"
                )))
            }
        }
    }
    match b[0] {
        b'S' => Ok(true),
        b'N' => Ok(false),
        // An ErrorResponse (e.g. the server could not fork a backend).
        b'E' => Err(Error::Connection(format!(
            "server sent an error response during SSL negotiation{}",
            error_message(sock)
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ))),
        other => Err(Error::Connection(format!(
            "received invalid response to SSL negotiation: {}",
            other as char
        ))),
    }
}

/// The primary message of the ErrorResponse whose tag was just read, if it arrives soon.
fn error_message(sock: &mut TcpStream) -> Option<String> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len).ok()?;
    let len = (u32::from_be_bytes(len) as usize).checked_sub(4)?.min(8192);
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).ok()?;
    let mut fields = body.split(|&c| c == 0);
    fields.find_map(|f| {
        f.strip_prefix(b"M")
            .map(|m| String::from_utf8_lossy(m).into_owned())
    })
}

/// The name the certificate is checked against and sent as SNI: an IP address literal is
/// an address (no SNI, as libpq); anything else a DNS name.
fn server_name(host: &str) -> Result<ServerName<'static>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_owned())
        .map_err(|e| Error::Connection(format!("host name \"{host}\" cannot be used for TLS: {e}")))
}

/// The TLS handshake on `sock` after the server agreed to TLS, bounded by `deadline`
/// (connect_timeout). Failures read like libpq's ("SSL error: ...", "server certificate
/// for ... does not match host name ...").
pub(crate) fn handshake(
    c: &TlsConnector,
    sock: TcpStream,
    host: &str,
    deadline: Option<Instant>,
) -> Result<TlsStream> {
    let name = server_name(host)?;
    let conn = ClientConnection::new(c.config.clone(), name)
        .map_err(|e| Error::Connection(format!("could not establish SSL connection: {e}")))?;
    TlsStream::handshake(conn, sock, deadline).map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut => Error::Connection("timeout expired".into()),
        _ => handshake_error(c, e, host),
    })
}

fn handshake_error(c: &TlsConnector, e: io::Error, host: &str) -> Error {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return Error::Connection(if e.kind() == io::ErrorKind::UnexpectedEof {
            "SSL SYSCALL error: EOF detected (the server closed the connection during the TLS handshake)".into()
        } else {
            format!("SSL SYSCALL error: {e}")
        });
    };
    let m = match tls {
        rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            presented,
            ..
        }) => {
            let names: Vec<String> = presented.iter().map(|n| presented_name(n)).collect();
            match names.as_slice() {
                [] => "could not get server's host name from server certificate".to_string(),
                [one] => format!("server certificate for \"{one}\" does not match host name \"{host}\""),
                [first, rest @ ..] => format!(
                    "server certificate for \"{first}\" (and {} other name{}) does not match host name \"{host}\"",
                    rest.len(),
                    if rest.len() == 1 { "" } else { "s" }
                ),
            }
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
            format!("server certificate does not match host name \"{host}\"")
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
            "SSL error: certificate verify failed: the server certificate is not signed by a trusted CA (unknown issuer; roots: {})",
            c.roots
        ),
        rustls::Error::InvalidCertificate(CertificateError::Revoked) => {
            "SSL error: certificate verify failed: certificate revoked (sslcrl)".to_string()
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownRevocationStatus) => {
            "SSL error: certificate verify failed: unable to get certificate CRL (sslcrl has no list from an issuer of the server's chain)".to_string()
        }
        rustls::Error::InvalidCertificate(ce) => {
            format!("SSL error: certificate verify failed: {ce}")
        }
        other => format!("SSL error: {other}"),
    };
    Error::Connection(m)
}

/// `DnsName("localhost")` / `IpAddress(127.0.0.1)` (webpki's rendering) as the bare name.
fn presented_name(n: &str) -> String {
    for (pre, suf) in [("DnsName(\"", "\")"), ("IpAddress(", ")")] {
        if let Some(inner) = n.strip_prefix(pre).and_then(|r| r.strip_suffix(suf)) {
            return inner.to_string();
        }
    }
    n.to_string()
}

// ---------------------------------------------------------------------------------------
// Channel binding

/// `tls-server-end-point` channel binding data (RFC 5929): the hash of the server's
/// certificate with the hash function of its signature algorithm (SHA-256 for MD5 and
/// SHA-1), as PostgreSQL computes it. `None` when it cannot be determined (e.g. Ed25519):
/// the client then says it does not support channel binding.
pub(crate) fn server_end_point(s: &TlsStream) -> Option<Vec<u8>> {
    let cert = s.session().peer_certificates()?.first()?;
    let alg = signature_hash(cert.as_ref())?;
    Some(ring::digest::digest(alg, cert.as_ref()).as_ref().to_vec())
}

/// One DER TLV: (tag, contents, rest).
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, b) = b.split_first()?;
    let (len, b) = if l0 < 0x80 {
        (l0 as usize, b)
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
        (len, &b[n..])
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// The digest for the certificate's `signatureAlgorithm`.
fn signature_hash(cert: &[u8]) -> Option<&'static ring::digest::Algorithm> {
    use ring::digest::{SHA256, SHA384, SHA512};
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01]; // 1.2.840.113549.1.1
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04]; // 1.2.840.10045.4
    const HASH: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02]; // 2.16.840.1.101.3.4.2
    let (0x30, cert, _) = der(cert)? else {
        return None;
    };
    let (0x30, _tbs, rest) = der(cert)? else {
        return None;
    };
    let (0x30, alg, _) = der(rest)? else {
        return None;
    };
    let (0x06, oid, params) = der(alg)? else {
        return None;
    };
    if let Some(&[n]) = oid.strip_prefix(RSA) {
        return match n {
            4 | 5 | 11 => Some(&SHA256), // MD5, SHA-1, SHA-256 with RSA
            12 => Some(&SHA384),
            13 => Some(&SHA512),
            10 => {
                // RSASSA-PSS: the hash is in the parameters ([0], SHA-1 when absent).
                let (0x30, p, _) = der(params)? else {
                    return None;
                };
                match der(p) {
                    Some((0xa0, h, _)) => {
                        let (0x30, h, _) = der(h)? else {
                            return None;
                        };
                        let (0x06, h, _) = der(h)? else {
                            return None;
                        };
                        match h.strip_prefix(HASH)? {
                            [1] => Some(&SHA256),
                            [2] => Some(&SHA384),
                            [3] => Some(&SHA512),
                            _ => None,
                        }
                    }
                    _ => Some(&SHA256),
                }
            }
            _ => None,
        };
    }
    match oid.strip_prefix(ECDSA)? {
        [1] | [3, 2] => Some(&SHA256), // ecdsa-with-SHA1, -SHA256
        [3, 3] => Some(&SHA384),
        [3, 4] => Some(&SHA512),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(
            der(&[0x30, 0x01, 0xff, 0x00]),
            Some((0x30, &[0xff][..], &[0][..]))
        );
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(7u8, 256));
        let (t, c, r) = der(&long).unwrap();
        assert_eq!((t, c.len(), r.len()), (4, 256, 0));
        assert_eq!(der(&[0x30, 0x05, 0x00]), None);
        assert_eq!(der(&[0x30, 0x80]), None);
    }

    /// A certificate skeleton: SEQUENCE { tbs, AlgorithmIdentifier { oid, params }, sig }.
    fn cert_with(oid: &[u8], params: &[u8]) -> Vec<u8> {
        fn tlv(tag: u8, c: &[u8]) -> Vec<u8> {
            assert!(c.len() < 0x80);
            let mut v = vec![tag, c.len() as u8];
            v.extend_from_slice(c);
            v
        }
        let mut alg = tlv(0x06, oid);
        alg.extend_from_slice(params);
        let mut body = tlv(0x30, &[0x02, 0x01, 0x01]); // tbsCertificate stand-in
        body.extend(tlv(0x30, &alg));
        body.extend(tlv(0x03, &[0x00, 0xab]));
        let mut long = vec![0x30, 0x81, body.len() as u8]; // long-form length
        long.extend(body);
        long
    }

    #[test]
    fn signature_hashes_for_channel_binding() {
        use ring::digest::{SHA256, SHA384, SHA512};
        let rsa = |n: u8| vec![0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, n];
        let alg = |c: &[u8]| signature_hash(c).map(|a| a.output_len());
        let null = [0x05, 0x00];
        assert_eq!(alg(&cert_with(&rsa(5), &null)), Some(SHA256.output_len())); // SHA-1
        assert_eq!(alg(&cert_with(&rsa(11), &null)), Some(SHA256.output_len()));
        assert_eq!(alg(&cert_with(&rsa(12), &null)), Some(SHA384.output_len()));
        assert_eq!(alg(&cert_with(&rsa(13), &null)), Some(SHA512.output_len()));
        assert_eq!(alg(&cert_with(&rsa(14), &null)), None); // SHA-224: not offered
        let ecdsa = |tail: &[u8]| {
            let mut v = vec![0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
            v.extend_from_slice(tail);
            v
        };
        assert_eq!(
            alg(&cert_with(&ecdsa(&[3, 2]), &[])),
            Some(SHA256.output_len())
        );
        assert_eq!(
            alg(&cert_with(&ecdsa(&[3, 3]), &[])),
            Some(SHA384.output_len())
        );
        assert_eq!(
            alg(&cert_with(&ecdsa(&[3, 4]), &[])),
            Some(SHA512.output_len())
        );
        // RSASSA-PSS: SHA-384 in the parameters; none given means SHA-1, so SHA-256.
        let sha384 = [
            0x30, 0x0f, 0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
            0x04, 0x02, 0x02,
        ];
        assert_eq!(
            alg(&cert_with(&rsa(10), &sha384)),
            Some(SHA384.output_len())
        );
        assert_eq!(
            alg(&cert_with(&rsa(10), &[0x30, 0x00])),
            Some(SHA256.output_len())
        );
        // Ed25519 (1.3.101.112): no tls-server-end-point hash.
        assert_eq!(alg(&cert_with(&[0x2b, 0x65, 0x70], &[])), None);
        assert_eq!(alg(b"garbage"), None);
    }

    #[test]
    fn presented_names() {
        assert_eq!(presented_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(presented_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("::1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("db.example.com").unwrap(),
            ServerName::DnsName(_)
        ));
    }

    #[test]
    fn disable_needs_nothing() {
        let ssl = SslConfig {
            mode: SslMode::Disable,
            rootcert: Some("/nonexistent/root.crt".into()),
            ..Default::default()
        };
        assert!(TlsConnector::new(&ssl).unwrap().is_none());
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
            let ssl = SslConfig {
                mode,
                rootcert: Some("/nonexistent/root.crt".into()),
                ..Default::default()
            };
            let e = TlsConnector::new(&ssl).unwrap_err();
            assert!(
                matches!(&e, Error::Config { setting, .. } if setting == "sslrootcert"),
                "{e:?}"
            );
            assert!(e.to_string().contains("does not exist"), "{e}");
        }
        // require with a missing explicit root file: no check, as libpq.
        let ssl = SslConfig {
            mode: SslMode::Require,
            rootcert: Some("/nonexistent/root.crt".into()),
            cert: Some("/nonexistent/client.crt".into()),
            ..Default::default()
        };
        assert!(TlsConnector::new(&ssl).unwrap().is_some());
    }
}
