//! The TLS session in memory: a rustls server and our client session exchange bytes
//! through buffers, no socket (certificates made with openssl for the test).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig, ServerConnection};

use super::*;
use crate::tls::provider;

/// A CA and a server certificate for `localhost`, in a fresh directory.
fn certs(ca: &str) -> tempdir::Dir {
    let d = tempdir::Dir::new();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d.path())
            .output()
            .expect("openssl (installed by scripts/bootstrap) makes the test certificates");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(d.path().join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
    // A P-256 key and a request (or, with -x509, a self-signed certificate) for a subject.
    let req = |extra: &[&str], subject: &str, key: &str, out: &str| {
        let mut args = vec![
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-nodes", "-subj", subject, "-keyout", key, "-out", out]);
        run(&args);
    };
    req(
        &["-x509", "-days", "2"],
        &format!("/CN={ca}"),
        "ca.key",
        "ca.crt",
    );
    req(&[], "/CN=localhost", "server.key", "server.csr");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
    d
}

/// A temporary directory removed when dropped (std has none).
mod tempdir {
    use std::path::{Path, PathBuf};
    pub(super) struct Dir(PathBuf);
    impl Dir {
        pub(super) fn new() -> Dir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "pgpool-tls-unit-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub(super) fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn pem_certs(p: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(p)
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
}

fn server(dir: &Path) -> ServerConnection {
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pem_certs(&dir.join("server.crt")), key)
        .unwrap();
    ServerConnection::new(Arc::new(cfg)).unwrap()
}

fn client(roots_from: &Path) -> TlsSession {
    let mut roots = RootCertStore::empty();
    for c in pem_certs(roots_from) {
        roots.add(c).unwrap();
    }
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    TlsSession::new(ClientConnection::new(Arc::new(cfg), name).unwrap())
}

/// Moves everything the server has to send into the client, `chunk` bytes at a time.
fn to_client(
    s: &mut ServerConnection,
    c: &mut TlsSession,
    chunk: usize,
    plain: &mut Vec<u8>,
) -> io::Result<()> {
    let mut wire = Vec::new();
    while s.wants_write() {
        s.write_tls(&mut wire).unwrap();
    }
    for part in wire.chunks(chunk) {
        c.receive(part, plain)?;
    }
    Ok(())
}

fn to_server(c: &mut TlsSession, s: &mut ServerConnection) -> Result<(), rustls::Error> {
    let mut wire = Vec::new();
    c.outgoing(&mut wire);
    let mut r = &wire[..];
    while !r.is_empty() {
        s.read_tls(&mut r).unwrap();
        s.process_new_packets()?;
    }
    Ok(())
}

fn handshake(c: &mut TlsSession, s: &mut ServerConnection, chunk: usize) {
    let mut plain = Vec::new();
    for _ in 0..10 {
        if !c.is_handshaking() && !s.is_handshaking() {
            break;
        }
        to_server(c, s).unwrap();
        to_client(s, c, chunk, &mut plain).unwrap();
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert!(plain.is_empty());
}

#[test]
fn a_session_in_memory_carries_data_both_ways_however_the_bytes_are_cut() {
    let dir = certs("test CA");
    for chunk in [1, 7, 100, 1 << 20] {
        let (mut c, mut s) = (client(&dir.path().join("ca.crt")), server(dir.path()));
        handshake(&mut c, &mut s, chunk);
        assert_eq!(c.peer_certificates().map(|p| p.len()), Some(1));
        // Client to server: one message of 40,000 bytes (three records).
        let msg: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        let mut wire = Vec::new();
        c.send(&msg, &mut wire).unwrap();
        let (mut r, mut got) = (&wire[..], Vec::new());
        while !r.is_empty() {
            s.read_tls(&mut r).unwrap();
            s.process_new_packets().unwrap();
            let _ = s.reader().read_to_end(&mut got);
        }
        assert_eq!(got, msg);
        // Server to client, then close_notify.
        s.writer().write_all(b"Z\0\0\0\x05I").unwrap();
        s.send_close_notify();
        let mut plain = Vec::new();
        to_client(&mut s, &mut c, chunk, &mut plain).unwrap();
        assert_eq!(plain, b"Z\0\0\0\x05I");
        assert!(c.is_closed(), "chunk {chunk}");
    }
}

#[test]
fn an_unknown_issuer_is_a_rustls_error_and_the_server_hears_an_alert() {
    let dir = certs("test CA");
    let other = certs("another CA");
    let (mut c, mut s) = (client(&other.path().join("ca.crt")), server(dir.path()));
    to_server(&mut c, &mut s).unwrap();
    let e = to_client(&mut s, &mut c, 1 << 20, &mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    let tls = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    assert!(
        matches!(
            tls,
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "{e:?}"
    );
    // The alert reaches the server as an error of its own.
    assert!(to_server(&mut c, &mut s).is_err());
}

#[test]
fn a_damaged_record_is_an_error_not_a_panic() {
    let dir = certs("test CA");
    let (mut c, mut s) = (client(&dir.path().join("ca.crt")), server(dir.path()));
    handshake(&mut c, &mut s, 1 << 20);
    s.writer().write_all(b"hello").unwrap();
    let mut wire = Vec::new();
    while s.wants_write() {
        s.write_tls(&mut wire).unwrap();
    }
    let last = wire.len() - 1;
    wire[last] ^= 0x55;
    let e = c.receive(&wire, &mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
}
