//! The blocking driver on server bytes written in advance to the other end of a socket
//! pair: statements, COPY in both directions, a pending BEGIN. No server: what the
//! client sent is read back from the socket and compared byte for byte.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::stream::Stream;
use super::*;
use crate::config::ConnectParams;
use crate::transaction::{Characteristics, Isolation};

/// A backend (or frontend) message: tag, length, body.
fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// RowDescription of one text column `name` of type int4.
fn row_description(name: &str) -> Vec<u8> {
    let mut b = 1i16.to_be_bytes().to_vec();
    b.extend_from_slice(name.as_bytes());
    b.push(0);
    b.extend_from_slice(&0i32.to_be_bytes()); // table oid
    b.extend_from_slice(&0i16.to_be_bytes()); // column number
    b.extend_from_slice(&23i32.to_be_bytes()); // int4
    b.extend_from_slice(&4i16.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&0i16.to_be_bytes()); // text
    msg(b'T', &b)
}

fn data_row(v: &str) -> Vec<u8> {
    let mut b = 1i16.to_be_bytes().to_vec();
    b.extend_from_slice(&(v.len() as i32).to_be_bytes());
    b.extend_from_slice(v.as_bytes());
    msg(b'D', &b)
}

fn complete(tag: &str) -> Vec<u8> {
    msg(b'C', format!("{tag}\0").as_bytes())
}

fn ready(status: u8) -> Vec<u8> {
    msg(b'Z', &[status])
}

/// CopyOutResponse / CopyInResponse for one text column.
fn copy_response(tag: u8) -> Vec<u8> {
    msg(tag, &[0, 0, 1, 0, 0])
}

fn query(sql: &str) -> Vec<u8> {
    msg(b'Q', format!("{sql}\0").as_bytes())
}

/// A connection whose server has already sent `server` (concatenated), and the server's
/// end of the socket.
fn connection(server: &[Vec<u8>]) -> (Connection, UnixStream) {
    let (client, mut peer) = UnixStream::pair().unwrap();
    peer.write_all(&server.concat()).unwrap();
    let kv = crate::config::parse_dsn("user=tester host=/tmp").unwrap();
    let p = ConnectParams::from_keywords(&kv, &|_| None).unwrap();
    let target = (crate::config::Host::Unix("/tmp".into()), 5432);
    let mut c = Connection::over(Stream::Unix(client), target, &p, None, Instant::now());
    c.stream.set_read_timeout(Some(POLL_INTERVAL)).unwrap();
    c.tx = TxStatus::Idle;
    (c, peer)
}

/// Everything the client wrote so far.
fn client_sent(peer: &mut UnixStream) -> Vec<u8> {
    peer.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = peer.read(&mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    all
}

#[test]
fn a_simple_query_reads_its_rows_up_to_ready() {
    let (mut c, mut peer) = connection(&[
        row_description("n"),
        data_row("1"),
        data_row("22"),
        complete("SELECT 2"),
        ready(b'I'),
    ]);
    let r = c.simple_query("SELECT n FROM t", None).unwrap();
    assert_eq!(r.command_tag, "SELECT 2");
    assert_eq!(
        (r.get(0, 0), r.get(1, 0)),
        (Some(&b"1"[..]), Some(&b"22"[..]))
    );
    assert_eq!(r.columns[0].name, "n");
    assert_eq!(client_sent(&mut peer), query("SELECT n FROM t"));
    assert_eq!(c.transaction_status(), TxStatus::Idle);
}

#[test]
fn a_pending_begin_goes_out_in_front_of_the_first_statement() {
    // One Query message, so one ReadyForQuery for both statements.
    let (mut c, mut peer) = connection(&[complete("BEGIN"), complete("INSERT 0 1"), ready(b'T')]);
    c.begin(&Characteristics {
        isolation: Some(Isolation::Serializable),
        readonly: None,
        deferrable: None,
    });
    let r = c.simple_query("INSERT INTO t VALUES (1)", None).unwrap();
    assert_eq!(r.command_tag, "INSERT 0 1");
    assert_eq!(
        client_sent(&mut peer),
        query("BEGIN ISOLATION LEVEL SERIALIZABLE;INSERT INTO t VALUES (1)")
    );
    assert_eq!(c.transaction_status(), TxStatus::InTransaction);
}

#[test]
fn copy_out_hands_every_chunk_to_the_sink() {
    let (mut c, mut peer) = connection(&[
        copy_response(b'H'),
        msg(b'd', b"1\n"),
        msg(b'd', b"22\n"),
        msg(b'c', b""),
        complete("COPY 2"),
        ready(b'I'),
    ]);
    let mut got = Vec::new();
    let r = c
        .copy_out("COPY t TO STDOUT", &mut |d| {
            got.push(d.to_vec());
            Ok(())
        })
        .unwrap();
    assert_eq!(r.command_tag, "COPY 2");
    assert_eq!(got, [b"1\n".to_vec(), b"22\n".to_vec()]);
    assert_eq!(client_sent(&mut peer), query("COPY t TO STDOUT"));
}

#[test]
fn a_failing_sink_ends_copy_out_with_its_error_and_the_connection_usable() {
    let (mut c, _peer) = connection(&[
        copy_response(b'H'),
        msg(b'd', b"1\n"),
        msg(b'd', b"22\n"),
        msg(b'c', b""),
        complete("COPY 2"),
        ready(b'I'),
        complete("SELECT 0"),
        ready(b'I'),
    ]);
    let mut calls = 0;
    let e = c
        .copy_out("COPY t TO STDOUT", &mut |_| {
            calls += 1;
            Err(Error::Interface("disk full".into()))
        })
        .unwrap_err();
    assert_eq!((e.to_string().contains("disk full"), calls), (true, 1));
    assert!(!c.is_broken());
    assert_eq!(
        c.simple_query("SELECT", None).unwrap().command_tag,
        "SELECT 0"
    );
}

#[test]
fn copy_in_frames_every_chunk_then_copy_done() {
    let (mut c, mut peer) = connection(&[copy_response(b'G'), complete("COPY 2"), ready(b'I')]);
    let mut chunks = vec![b"1\n".to_vec(), Vec::new(), b"22\n".to_vec()].into_iter();
    let r = c
        .copy_in("COPY t FROM STDIN", &mut || Ok(chunks.next()))
        .unwrap();
    assert_eq!(r.command_tag, "COPY 2");
    let expected = [
        query("COPY t FROM STDIN"),
        msg(b'd', b"1\n"), // (the empty chunk sends nothing)
        msg(b'd', b"22\n"),
        msg(b'c', b""),
    ]
    .concat();
    assert_eq!(client_sent(&mut peer), expected);
}

#[test]
fn a_failing_source_sends_copy_fail_and_returns_its_error() {
    let err = b"SERROR\0VERROR\0C57014\0MCOPY from stdin failed: boom\0\0";
    let (mut c, mut peer) = connection(&[copy_response(b'G'), msg(b'E', err), ready(b'I')]);
    let mut first = true;
    let e = c
        .copy_in("COPY t FROM STDIN", &mut || {
            if std::mem::take(&mut first) {
                Ok(Some(b"1\n".to_vec()))
            } else {
                Err(Error::Interface("boom\0!".into()))
            }
        })
        .unwrap_err();
    assert!(e.to_string().contains("boom"), "{e}");
    let expected = [
        query("COPY t FROM STDIN"),
        msg(b'd', b"1\n"),
        msg(b'f', b"boom !\0"), // CopyFail: the message, NUL-free
    ]
    .concat();
    assert_eq!(client_sent(&mut peer), expected);
    assert!(!c.is_broken());
}

#[test]
fn copy_from_stdin_through_a_plain_statement_is_refused_with_copy_fail() {
    let err = b"SERROR\0VERROR\0C57014\0MCOPY from stdin failed: refused\0\0";
    let (mut c, mut peer) = connection(&[copy_response(b'G'), msg(b'E', err), ready(b'I')]);
    let e = c.simple_query("COPY t FROM STDIN", None).unwrap_err();
    assert!(e.to_string().contains("copy_from()"), "{e}");
    let sent = client_sent(&mut peer);
    let q = query("COPY t FROM STDIN");
    assert_eq!(&sent[..q.len()], &q[..]);
    assert_eq!(
        sent[q.len()],
        b'f',
        "a CopyFail follows (and no Sync in the simple protocol)"
    );
    assert_eq!(
        sent.len(),
        q.len() + 5 + "COPY FROM STDIN is not supported here; use copy_expert()\0".len()
    );
}

#[test]
fn the_server_closing_mid_answer_breaks_the_connection() {
    let (mut c, peer) = connection(&[row_description("n"), data_row("1")]);
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let e = c.simple_query("SELECT n FROM t", None).unwrap_err();
    assert!(c.is_broken());
    assert!(e.to_string().contains("closed the connection"), "{e}");
}

#[test]
fn copy_data_framing() {
    let mut out = BytesMut::new();
    copy::put_copy_data(b"abc", &mut out).unwrap();
    assert_eq!(&out[..], &msg(b'd', b"abc")[..]);
}

fn notification(pid: i32, channel: &str, payload: &str) -> Vec<u8> {
    let mut b = pid.to_be_bytes().to_vec();
    b.extend_from_slice(format!("{channel}\0{payload}\0").as_bytes());
    msg(b'A', &b)
}

fn fatal(message: &str) -> Vec<u8> {
    msg(
        b'E',
        format!("SFATAL\0VFATAL\0C57P01\0M{message}\0\0").as_bytes(),
    )
}

#[test]
fn notifications_in_an_answer_are_kept_for_the_face() {
    let (mut c, _peer) = connection(&[
        row_description("n"),
        notification(7, "chan", "in answer"),
        data_row("1"),
        complete("SELECT 1"),
        ready(b'I'),
    ]);
    let r = c.simple_query("SELECT 1", None).unwrap();
    assert_eq!(r.nrows(), 1);
    assert!(c.has_notifications());
    let n = c.take_notifications();
    assert_eq!(
        n,
        vec![Notification {
            pid: 7,
            channel: "chan".into(),
            payload: "in answer".into()
        }]
    );
    assert!(!c.has_notifications());
}

#[test]
fn poll_input_reads_an_idle_connection_without_blocking() {
    let (mut c, mut peer) = connection(&[]);
    c.poll_input().unwrap(); // nothing there: returns at once
    assert!(c.take_notifications().is_empty());
    peer.write_all(&[notification(9, "a", ""), notification(9, "b", "x")].concat())
        .unwrap();
    c.poll_input().unwrap();
    let got: Vec<_> = c
        .take_notifications()
        .into_iter()
        .map(|n| (n.channel, n.payload))
        .collect();
    assert_eq!(got, vec![("a".into(), "".into()), ("b".into(), "x".into())]);
    // The server's goodbye: a FATAL then the close is a notice (as libpq), and the
    // next poll finds the connection closed.
    peer.write_all(&fatal("terminating connection")).unwrap();
    drop(peer);
    c.poll_input().unwrap();
    assert!(c
        .take_notices()
        .iter()
        .any(|n| n.message == "terminating connection"));
    assert!(c.poll_input().is_err());
    assert!(c.is_broken());
}

fn error_response(code: &str, message: &str) -> Vec<u8> {
    msg(
        b'E',
        format!("SERROR\0VERROR\0C{code}\0M{message}\0\0").as_bytes(),
    )
}

#[test]
fn an_async_statement_is_read_without_blocking_as_it_arrives() {
    let (mut c, mut peer) = connection(&[]);
    c.send_async("SELECT 1; SELECT n").unwrap();
    assert!(c.async_pending());
    assert_eq!(client_sent(&mut peer), query("SELECT 1; SELECT n"));
    // Nothing else may go out meanwhile.
    assert!(matches!(
        c.simple_query("SELECT 2", None),
        Err(Error::Interface(_))
    ));
    assert!(matches!(c.poll_async(), Ok(AsyncPoll::Pending)));
    let answer = [
        row_description("a"),
        data_row("1"),
        complete("SELECT 1"),
        row_description("n"),
        data_row("7"),
        complete("SELECT 1"),
        ready(b'I'),
    ]
    .concat();
    // Split inside a message: the first half is not enough.
    peer.write_all(&answer[..answer.len() - 9]).unwrap();
    assert!(matches!(c.poll_async(), Ok(AsyncPoll::Pending)));
    peer.write_all(&answer[answer.len() - 9..]).unwrap();
    let Ok(AsyncPoll::Done(r)) = c.poll_async() else {
        panic!("the answer is complete")
    };
    // The last statement's result, as psycopg2 has it.
    assert_eq!(
        (r.columns[0].name.as_str(), r.get(0, 0)),
        ("n", Some(&b"7"[..]))
    );
    assert!(!c.async_pending());
    assert!(!c.is_broken());
}

#[test]
fn an_async_statement_returns_its_first_error_once_complete() {
    let (mut c, _peer) = connection(&[
        error_response("42703", "column \"x\" does not exist"),
        ready(b'I'),
    ]);
    c.send_async("SELECT x; SELECT 1").unwrap();
    match c.poll_async() {
        Err(Error::Db(e)) => assert_eq!(e.code, "42703"),
        other => panic!("expected the server's error, got {other:?}"),
    }
    assert!(!c.async_pending() && !c.is_broken());
}

#[test]
fn the_wait_hook_is_called_where_a_read_would_block() {
    let (mut c, mut peer) = connection(&[]);
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peer2 = std::sync::Arc::new(std::sync::Mutex::new(peer.try_clone().unwrap()));
    let (n, p) = (calls.clone(), peer2.clone());
    // The "coroutine library": on the first wait the server answers.
    c.set_wait_hook(Some(std::sync::Arc::new(move |w| {
        assert_eq!(w, Wait::Read);
        if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            let mut p = p.lock().unwrap();
            p.write_all(&[row_description("n"), data_row("5")].concat())
                .unwrap();
            p.write_all(&[complete("SELECT 1"), ready(b'I')].concat())
                .unwrap();
        }
        Ok(())
    })));
    let r = c.simple_query("SELECT n", None).unwrap();
    assert_eq!(r.get(0, 0), Some(&b"5"[..]));
    assert!(calls.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(client_sent(&mut peer), query("SELECT n"));
    // A hook's error ends the statement and gives the connection up.
    c.set_wait_hook(Some(std::sync::Arc::new(|_| {
        Err(Error::Interface("the callback failed".into()))
    })));
    assert!(matches!(
        c.simple_query("SELECT 2", None),
        Err(Error::Interface(_))
    ));
    assert!(c.is_broken());
}

#[test]
fn an_autocommit_writes_reset_rides_with_the_next_users_first_statement() {
    let (mut c, mut peer) = connection(&[
        complete("INSERT 0 1"),
        ready(b'I'),
        complete("DISCARD SEQUENCES"),
        row_description("n"),
        data_row("1"),
        complete("SELECT 1"),
        ready(b'I'),
    ]);
    c.simple_query("INSERT INTO t DEFAULT VALUES", None)
        .unwrap();
    assert_eq!(
        client_sent(&mut peer),
        query("INSERT INTO t DEFAULT VALUES")
    );
    // Back to the pool: no round trip (only DISCARD SEQUENCES was needed).
    assert!(!c.release_needs_io());
    c.reset().unwrap();
    assert!(client_sent(&mut peer).is_empty());
    // The next user's first statement carries it, in the same message.
    let r = c.simple_query("SELECT 1", None).unwrap();
    assert_eq!(r.get(0, 0), Some(&b"1"[..]));
    assert_eq!(client_sent(&mut peer), query("DISCARD SEQUENCES;SELECT 1"));
}
