//! Framing of backend messages, without I/O: bytes go in ([`ReadBuf::spare_mut`] and
//! [`ReadBuf::filled`], from whatever reads the socket), whole messages come out
//! ([`ReadBuf::peek`], [`ReadBuf::take`]). The blocking driver (`read.rs`) reads into it;
//! an event-loop driver can feed it the same way. See `docs/DESIGN.md`, "Who drives the
//! socket".

use std::ops::Range;

use crate::error::{Error, Result};

/// The read buffer of a connection: bytes received, not yet handled, from `pos` to `end`.
#[derive(Debug)]
pub(crate) struct ReadBuf {
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl ReadBuf {
    pub(crate) fn with_capacity(n: usize) -> ReadBuf {
        ReadBuf {
            buf: vec![0; n.max(5)],
            pos: 0,
            end: 0,
        }
    }

    /// The tag and length field (body length + 4) of the next message when it is buffered
    /// whole; `None` when more bytes are needed — room for them is made then (the buffer
    /// grows to hold a long message). A length under 4 is a protocol error.
    pub(crate) fn peek(&mut self) -> Result<Option<(u8, usize)>> {
        let avail = self.end - self.pos;
        if avail >= 5 {
            let b = &self.buf[self.pos..];
            let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
            if len < 4 {
                return Err(Error::Connection(
                    "protocol error: bad message length".into(),
                ));
            }
            if avail > len {
                return Ok(Some((b[0], len)));
            }
            if self.pos + 1 + len > self.buf.len() {
                self.compact();
                if 1 + len > self.buf.len() {
                    self.buf.resize((1 + len).next_power_of_two(), 0);
                }
            }
        } else if self.pos > 0 && self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.pos + 5 > self.buf.len() {
            self.compact();
        }
        Ok(None)
    }

    fn compact(&mut self) {
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
    }

    /// Consumes the message [`peek`](Self::peek) returned (`len`: its length field) and
    /// returns where its body is; the bytes stay valid until the next
    /// [`spare_mut`](Self::spare_mut).
    pub(crate) fn take(&mut self, len: usize) -> Range<usize> {
        let body = self.pos + 5..self.pos + 1 + len;
        self.pos = body.end;
        body
    }

    /// The bytes of a body [`take`](Self::take) returned.
    pub(crate) fn get(&self, body: Range<usize>) -> &[u8] {
        &self.buf[body]
    }

    /// True when a whole message is buffered.
    pub(crate) fn has_message(&self) -> bool {
        let avail = self.end - self.pos;
        if avail < 5 {
            return false;
        }
        let b = &self.buf[self.pos..];
        avail > u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize
    }

    /// Where the next bytes read go (after [`peek`](Self::peek) said more are needed,
    /// it is not empty).
    pub(crate) fn spare_mut(&mut self) -> &mut [u8] {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Makes [`spare_mut`](Self::spare_mut) non-empty without handling any message (for
    /// a read of everything the socket holds): compacts, and grows the buffer when it is
    /// full of unhandled bytes.
    pub(crate) fn make_room(&mut self) {
        if self.end < self.buf.len() {
            return;
        }
        if self.pos > 0 {
            self.compact();
        }
        if self.end == self.buf.len() {
            let n = (self.buf.len() * 2).max(8192);
            self.buf.resize(n, 0);
        }
    }

    /// Records that `n` bytes were written at the start of [`spare_mut`](Self::spare_mut).
    pub(crate) fn filled(&mut self, n: usize) {
        self.end += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn feed(rb: &mut ReadBuf, bytes: &[u8]) {
        let spare = rb.spare_mut();
        spare[..bytes.len()].copy_from_slice(bytes);
        rb.filled(bytes.len());
    }

    /// Every split of a stream of messages into reads gives the same messages.
    #[test]
    fn messages_come_out_whole_however_the_bytes_arrive() {
        let mut stream = Vec::new();
        let bodies: Vec<Vec<u8>> =
            vec![b"SELECT 1\0".to_vec(), vec![], vec![7; 300], b"I".to_vec()];
        for (i, b) in bodies.iter().enumerate() {
            stream.extend(message(b"CDdZ"[i], b));
        }
        for chunk in 1..=stream.len() {
            let mut rb = ReadBuf::with_capacity(16);
            let mut got = Vec::new();
            let mut fed = 0;
            while got.len() < bodies.len() {
                match rb.peek().unwrap() {
                    Some((tag, len)) => {
                        let body = rb.take(len);
                        got.push((tag, rb.get(body).to_vec()));
                    }
                    None => {
                        let n = chunk.min(stream.len() - fed).min(rb.spare_mut().len());
                        assert!(n > 0, "no room and no message (chunk {chunk})");
                        feed(&mut rb, &stream[fed..fed + n]);
                        fed += n;
                    }
                }
            }
            let want: Vec<(u8, Vec<u8>)> = bodies
                .iter()
                .enumerate()
                .map(|(i, b)| (b"CDdZ"[i], b.clone()))
                .collect();
            assert_eq!(got, want, "chunk {chunk}");
            assert!(!rb.has_message());
        }
    }

    #[test]
    fn a_bad_length_is_a_protocol_error() {
        let mut rb = ReadBuf::with_capacity(64);
        feed(&mut rb, &[b'Z', 0, 0, 0, 3, b'I']);
        assert!(matches!(rb.peek(), Err(Error::Connection(_))));
    }

    #[test]
    fn has_message_sees_only_whole_ones() {
        let mut rb = ReadBuf::with_capacity(64);
        let m = message(b'Z', b"I");
        feed(&mut rb, &m[..5]);
        assert!(!rb.has_message());
        feed(&mut rb, &m[5..]);
        assert!(rb.has_message());
    }

    #[test]
    fn make_room_keeps_unhandled_messages_and_grows_a_full_buffer() {
        let mut rb = ReadBuf::with_capacity(16);
        let a = message(b'A', b"0123456789"); // 15 bytes
        feed(&mut rb, &a);
        let n = rb.spare_mut().len();
        feed(&mut rb, &message(b'B', b"xyz")[..n]); // the buffer is now full
        assert!(rb.spare_mut().is_empty());
        rb.make_room();
        assert!(!rb.spare_mut().is_empty());
        let (tag, len) = rb.peek().unwrap().unwrap();
        let at = rb.take(len);
        assert_eq!((tag, rb.get(at)), (b'A', &b"0123456789"[..]));
    }
}
