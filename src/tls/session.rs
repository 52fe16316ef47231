//! TLS as bytes in, bytes out: rustls's in-memory `ClientConnection` ([`TlsSession`]:
//! ciphertext received goes in, plaintext comes out; plaintext to send goes in,
//! ciphertext comes out; no socket), and the small blocking driver the connection reads
//! and writes through ([`TlsStream`]: a TCP socket whose reads time out every poll
//! interval, as a plain connection's do). An event-loop driver would feed the same
//! session from its own reads.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use rustls::pki_types::CertificateDer;
use rustls::ClientConnection;

/// One TLS session, without I/O.
pub(crate) struct TlsSession {
    conn: ClientConnection,
    /// The server sent close_notify: what follows is the end of the stream.
    closed: bool,
}

impl TlsSession {
    pub(crate) fn new(conn: ClientConnection) -> TlsSession {
        TlsSession {
            conn,
            closed: false,
        }
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The server said close_notify.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Appends to `out` the ciphertext to send now (handshake messages, encrypted data,
    /// alerts).
    pub(crate) fn outgoing(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            // Writing to a Vec cannot fail.
            let _ = self.conn.write_tls(out);
        }
    }

    /// Takes all of `ciphertext` (as received); appends the plaintext it completes to
    /// `plain`. A TLS error (a bad certificate, a bad record) is an `InvalidData` error
    /// carrying the `rustls::Error`; the alert that tells the server is then waiting in
    /// [`TlsSession::outgoing`].
    pub(crate) fn receive(&mut self, mut ciphertext: &[u8], plain: &mut Vec<u8>) -> io::Result<()> {
        while !ciphertext.is_empty() {
            self.conn.read_tls(&mut ciphertext)?;
            let state = self
                .conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let n = state.plaintext_bytes_to_read();
            if n > 0 {
                let at = plain.len();
                plain.resize(at + n, 0);
                self.conn.reader().read_exact(&mut plain[at..])?;
            }
            if state.peer_has_closed() {
                self.closed = true;
            }
        }
        Ok(())
    }

    /// Encrypts `plain` into `out`.
    pub(crate) fn send(&mut self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.conn.writer().write_all(plain)?;
        self.outgoing(out);
        Ok(())
    }

    pub(crate) fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }
}

/// Enough for one TLS record (16 KiB of data plus its overhead).
const RECORD: usize = 16 * 1024 + 512;

/// A TLS session driven over a blocking TCP socket. A timed-out read returns
/// `WouldBlock` (as the plain socket's does); what arrived so far is in the session.
pub(crate) struct TlsStream {
    session: TlsSession,
    pub(crate) sock: TcpStream,
    /// Decrypted bytes not yet read (from `pos`).
    plain: Vec<u8>,
    pos: usize,
    /// Ciphertext waiting to be written (reused).
    out: Vec<u8>,
}

impl TlsStream {
    /// The handshake over `sock`, bounded by `deadline`: `WouldBlock` from a read is the
    /// poll interval passing (an error `TimedOut` once `deadline` is reached).
    pub(crate) fn handshake(
        conn: ClientConnection,
        mut sock: TcpStream,
        deadline: Option<Instant>,
    ) -> io::Result<TlsStream> {
        let mut session = TlsSession::new(conn);
        let mut out = Vec::new();
        let mut plain = Vec::new();
        let mut buf = vec![0u8; RECORD];
        loop {
            session.outgoing(&mut out);
            if !out.is_empty() {
                sock.write_all(&out)?;
                out.clear();
            }
            if !session.is_handshaking() {
                break;
            }
            match sock.read(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    if let Err(e) = session.receive(&buf[..n], &mut plain) {
                        // Tell the server why (an alert), as OpenSSL does.
                        session.outgoing(&mut out);
                        let _ = sock.write_all(&out);
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(TlsStream {
            session,
            sock,
            plain,
            pos: 0,
            out,
        })
    }

    pub(crate) fn session(&self) -> &TlsSession {
        &self.session
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut cipher = [0u8; RECORD];
        while self.pos == self.plain.len() {
            self.plain.clear();
            self.pos = 0;
            if self.session.is_closed() {
                return Ok(0);
            }
            // EOF without close_notify reads as EOF, like plain TCP.
            let n = self.sock.read(&mut cipher)?;
            if n == 0 {
                return Ok(0);
            }
            let r = self.session.receive(&cipher[..n], &mut self.plain);
            // A key update, or the alert for an error: sent at once.
            self.session.outgoing(&mut self.out);
            if !self.out.is_empty() {
                let w = self.sock.write_all(&self.out);
                self.out.clear();
                w?;
            }
            r?;
        }
        let n = buf.len().min(self.plain.len() - self.pos);
        buf[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for TlsStream {
    /// Encrypts and writes all of `buf` (socket errors show here, not later).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.clear();
        self.session.send(buf, &mut self.out)?;
        let w = self.sock.write_all(&self.out);
        self.out.clear();
        w?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
