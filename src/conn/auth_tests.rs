//! The startup exchange on recorded and simulated server bytes: no socket.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::{digest, hmac, pbkdf2};

use super::*;

fn params(dsn: &str) -> ConnectParams {
    let kv = crate::config::parse_dsn(dsn).unwrap();
    ConnectParams::from_keywords(&kv, &|k| (k == "USER").then(|| "tester".to_string())).unwrap()
}

/// An Authentication message body: the method, then its data.
fn auth(method: i32, data: &[u8]) -> Vec<u8> {
    let mut v = method.to_be_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

/// The frontend messages in `out`: (tag, body) pairs.
fn sent(out: &BytesMut) -> Vec<(u8, Vec<u8>)> {
    let mut v = Vec::new();
    let mut b = &out[..];
    while !b.is_empty() {
        let len = u32::from_be_bytes(b[1..5].try_into().unwrap()) as usize;
        v.push((b[0], b[5..1 + len].to_vec()));
        b = &b[1 + len..];
    }
    v
}

fn start<'p>(p: &'p ConnectParams, t: Transport) -> (Startup<'p>, BytesMut) {
    let mut out = BytesMut::new();
    let s = Startup::start(p, t, &mut out).unwrap();
    (s, out)
}

#[test]
fn the_startup_message_names_user_database_encoding_and_datestyle() {
    let p = params("user=alice dbname=shop application_name=svc options='-c x=1'");
    let (_, out) = start(&p, Transport::Plain);
    // No tag: length, protocol 3.0, then name/value pairs and a final NUL.
    let len = u32::from_be_bytes(out[0..4].try_into().unwrap()) as usize;
    assert_eq!(len, out.len());
    assert_eq!(&out[4..8], &196608u32.to_be_bytes());
    let pairs: Vec<&[u8]> = out[8..out.len() - 2].split(|c| *c == 0).collect();
    assert_eq!(
        pairs,
        [
            &b"user"[..],
            b"alice",
            b"database",
            b"shop",
            b"client_encoding",
            b"UTF8",
            b"DateStyle",
            b"ISO",
            b"application_name",
            b"svc",
            b"options",
            b"-c x=1"
        ]
    );
}

/// What PostgreSQL 15 sends after a trust login, recorded (parameters cut to two).
#[test]
fn trust_login_reports_parameters_key_and_ready() {
    let p = params("user=alice");
    let (mut s, mut out) = start(&p, Transport::Plain);
    out.clear();
    let enc = Encoding::UTF8;
    assert_eq!(
        s.handle(b'R', &auth(0, b""), enc, &mut out).unwrap(),
        Event::Continue
    );
    assert_eq!(
        s.handle(b'S', b"server_version\x0015.8\x00", enc, &mut out)
            .unwrap(),
        Event::Parameter(b"server_version", b"15.8")
    );
    let key = [0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef];
    assert_eq!(
        s.handle(b'K', &key, enc, &mut out).unwrap(),
        Event::BackendKey {
            pid: 12345,
            secret: 0xdeadbeefu32 as i32
        }
    );
    assert_eq!(
        s.handle(b'N', b"SNOTICE\x00\x00", enc, &mut out).unwrap(),
        Event::Continue
    );
    assert_eq!(
        s.handle(b'Z', b"I", enc, &mut out).unwrap(),
        Event::Ready(TxStatus::Idle)
    );
    assert!(out.is_empty(), "trust needs no reply");
}

#[test]
fn cleartext_and_md5_answers() {
    let p = params("user=alice password=secret");
    let (mut s, mut out) = start(&p, Transport::Plain);
    out.clear();
    s.handle(b'R', &auth(3, b""), Encoding::UTF8, &mut out)
        .unwrap();
    assert_eq!(sent(&out), [(b'p', b"secret\0".to_vec())]);
    out.clear();
    s.handle(b'R', &auth(5, &[1, 2, 3, 4]), Encoding::UTF8, &mut out)
        .unwrap();
    // md5(md5(password || user) || salt), computed independently (Python's hashlib).
    assert_eq!(
        sent(&out),
        [(b'p', b"md598a0412b9c31436fc53776e863350083\0".to_vec())]
    );
    // A salt cut short.
    let e = s
        .handle(b'R', &auth(5, &[1, 2]), Encoding::UTF8, &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("short message"), "{e}");
}

#[test]
fn a_password_request_without_a_password_says_so() {
    let p = params("user=alice");
    let (mut s, mut out) = start(&p, Transport::Plain);
    for (method, data) in [
        (3, &b""[..]),
        (5, &[1, 2, 3, 4][..]),
        (10, b"SCRAM-SHA-256\0\0"),
    ] {
        let e = s
            .handle(b'R', &auth(method, data), Encoding::UTF8, &mut out)
            .unwrap_err();
        assert!(e.to_string().contains("no password was provided"), "{e}");
    }
}

#[test]
fn refusals_and_surprises_are_errors() {
    let p = params("user=alice password=x");
    let (mut s, mut out) = start(&p, Transport::Plain);
    let enc = Encoding::UTF8;
    let e = s.handle(b'R', &auth(7, b""), enc, &mut out).unwrap_err(); // GSSAPI
    assert!(
        e.to_string()
            .contains("unsupported authentication method 7"),
        "{e}"
    );
    let e = s
        .handle(b'R', &auth(10, b"OTHER\0\0"), enc, &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("unsupported SASL mechanisms"), "{e}");
    for m in [11, 12] {
        let e = s.handle(b'R', &auth(m, b"r=x"), enc, &mut out).unwrap_err();
        assert!(
            e.to_string().contains("before SASL authentication began"),
            "{e}"
        );
    }
    let e = s.handle(b'D', b"", enc, &mut out).unwrap_err();
    assert!(e.to_string().contains("unexpected message 'D'"), "{e}");
    // A recorded PostgreSQL 15 refusal: FATAL 28P01.
    let body = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"alice\"\0\
                 Fauth.c\0L326\0Rauth_failed\0\0";
    match s.handle(b'E', body, enc, &mut out).unwrap_err() {
        Error::Db(d) => {
            assert_eq!(d.code, "28P01");
            assert_eq!(
                d.message,
                "password authentication failed for user \"alice\""
            );
        }
        other => panic!("{other:?}"),
    }
    // Every prefix of an Authentication or BackendKeyData body is an error, not a panic.
    for (tag, body) in [
        (b'R', auth(5, &[1, 2, 3, 4])),
        (b'K', vec![0; 8]),
        (b'S', b"a\0b\0".to_vec()),
    ] {
        for n in 0..body.len() {
            assert!(
                s.handle(tag, &body[..n], enc, &mut out).is_err(),
                "{} {n}",
                tag as char
            );
        }
    }
}

/// The server's side of SCRAM-SHA-256 (RFC 5802/7677), for the tests.
struct ScramServer {
    salted: [u8; 32],
    salt: Vec<u8>,
    iterations: u32,
    nonce: String,
    client_first_bare: String,
    server_first: String,
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

impl ScramServer {
    fn new(password: &str) -> ScramServer {
        let salt = b"pgpool-test-salt".to_vec();
        let iterations = 4096;
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations.try_into().unwrap(),
            &salt,
            password.as_bytes(),
            &mut salted,
        );
        ScramServer {
            salted,
            salt,
            iterations,
            nonce: String::new(),
            client_first_bare: String::new(),
            server_first: String::new(),
        }
    }

    /// SASLInitialResponse body → (mechanism, gs2 header, AuthenticationSASLContinue data).
    fn first(&mut self, body: &[u8]) -> (String, String, Vec<u8>) {
        let nul = body.iter().position(|c| *c == 0).unwrap();
        let mech = String::from_utf8(body[..nul].to_vec()).unwrap();
        let len = i32::from_be_bytes(body[nul + 1..nul + 5].try_into().unwrap()) as usize;
        let msg = std::str::from_utf8(&body[nul + 5..nul + 5 + len]).unwrap();
        let bare_at = msg.match_indices(',').nth(1).unwrap().0 + 1;
        let (gs2, bare) = msg.split_at(bare_at);
        let client_nonce = bare.split(',').find_map(|f| f.strip_prefix("r=")).unwrap();
        self.nonce = format!("{client_nonce}server-nonce");
        self.client_first_bare = bare.to_string();
        self.server_first = format!(
            "r={},s={},i={}",
            self.nonce,
            B64.encode(&self.salt),
            self.iterations
        );
        (
            mech,
            gs2.to_string(),
            self.server_first.clone().into_bytes(),
        )
    }

    /// SASLResponse body (client-final) → (channel binding it sent, AuthenticationSASLFinal
    /// data), or None when the client's proof is wrong.
    fn last(&self, body: &[u8], sign_wrong: bool) -> Option<(Vec<u8>, Vec<u8>)> {
        let msg = std::str::from_utf8(body).unwrap();
        let (without_proof, proof) = msg.rsplit_once(",p=").unwrap();
        let cbind = without_proof
            .split(',')
            .find_map(|f| f.strip_prefix("c="))
            .unwrap();
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_key = hmac256(&self.salted, b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, &client_key);
        let signature = hmac256(stored_key.as_ref(), auth_message.as_bytes());
        let proof = B64.decode(proof).unwrap();
        let recovered: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        if digest::digest(&digest::SHA256, &recovered).as_ref() != stored_key.as_ref() {
            return None;
        }
        let server_key = hmac256(&self.salted, b"Server Key");
        let mut server_sig = hmac256(&server_key, auth_message.as_bytes());
        if sign_wrong {
            server_sig[0] ^= 1;
        }
        let fin = format!("v={}", B64.encode(server_sig)).into_bytes();
        Some((B64.decode(cbind).unwrap(), fin))
    }
}

/// A whole SCRAM exchange against the simulated server; returns the mechanism and the
/// gs2 header the client chose, and the final step's outcome.
fn scram(
    password: &str,
    server_password: &str,
    t: Transport,
    offered: &[u8],
    sign_wrong: bool,
) -> (String, String, Result<Event<'static>>) {
    let dsn = format!("user=alice password={password}");
    let p = params(&dsn);
    let (mut s, mut out) = start(&p, t);
    let mut server = ScramServer::new(server_password);
    out.clear();
    s.handle(b'R', &auth(10, offered), Encoding::UTF8, &mut out)
        .unwrap();
    let [(b'p', first)] = &sent(&out)[..] else {
        panic!("{out:?}")
    };
    let (mech, gs2, cont) = server.first(first);
    out.clear();
    s.handle(b'R', &auth(11, &cont), Encoding::UTF8, &mut out)
        .unwrap();
    let [(b'p', last)] = &sent(&out)[..] else {
        panic!("{out:?}")
    };
    let Some((cbind, fin)) = server.last(last, sign_wrong) else {
        return (mech, gs2, Err(Error::Connection("wrong proof".into())));
    };
    assert_eq!(
        cbind[..gs2.len()],
        *gs2.as_bytes(),
        "c= repeats the gs2 header"
    );
    out.clear();
    let r = s
        .handle(b'R', &auth(12, &fin), Encoding::UTF8, &mut out)
        .map(|_| Event::Continue);
    assert!(out.is_empty());
    (mech, gs2, r)
}

#[test]
fn scram_without_tls_logs_in_and_checks_the_server() {
    let (mech, gs2, r) = scram("pw", "pw", Transport::Plain, b"SCRAM-SHA-256\0\0", false);
    assert_eq!((mech.as_str(), gs2.as_str()), ("SCRAM-SHA-256", "n,,"));
    assert!(r.is_ok(), "{r:?}");
    // A server that does not know the password cannot sign: refused.
    let (_, _, r) = scram("pw", "pw", Transport::Plain, b"SCRAM-SHA-256\0\0", true);
    let e = r.unwrap_err();
    assert!(e.to_string().starts_with("SCRAM:"), "{e}");
    // A wrong password: the server (simulated) rejects the proof.
    let (_, _, r) = scram("nope", "pw", Transport::Plain, b"SCRAM-SHA-256\0\0", false);
    assert!(r.is_err());
}

#[test]
fn scram_over_tls_binds_the_channel_when_it_can() {
    let hash = vec![7u8; 32];
    let both = b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0";
    let (mech, gs2, r) = scram("pw", "pw", Transport::Tls(Some(hash.clone())), both, false);
    assert_eq!(
        (mech.as_str(), gs2.as_str()),
        ("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,")
    );
    assert!(r.is_ok(), "{r:?}");
    // The server does not offer binding: 'y' (we could have).
    let (mech, gs2, _) = scram(
        "pw",
        "pw",
        Transport::Tls(Some(hash)),
        b"SCRAM-SHA-256\0\0",
        false,
    );
    assert_eq!((mech.as_str(), gs2.as_str()), ("SCRAM-SHA-256", "y,,"));
    // No hash for this certificate: 'n'.
    let (mech, gs2, _) = scram("pw", "pw", Transport::Tls(None), both, false);
    assert_eq!((mech.as_str(), gs2.as_str()), ("SCRAM-SHA-256", "n,,"));
}
