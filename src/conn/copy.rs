//! `COPY ... FROM STDIN` and `COPY ... TO STDOUT`.

use bytes::BytesMut;
use postgres_protocol::message::frontend;

use super::{io_err, Connection, Step};

use crate::error::{Error, Result};
use crate::result::QueryResult;

/// CopyData: `d`, the length, the bytes.
pub(super) fn put_copy_data(data: &[u8], out: &mut BytesMut) -> Result<()> {
    let len = u32::try_from(data.len() + 4)
        .ok()
        .filter(|l| *l <= i32::MAX as u32)
        .ok_or_else(|| Error::InvalidParameter("a COPY data chunk over 2 GiB".into()))?;
    out.extend_from_slice(b"d");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

/// What `COPY ... TO STDOUT` has seen so far.
#[derive(Default)]
struct CopyOut {
    /// The result being read, and the last one complete.
    cur: QueryResult,
    last: QueryResult,
    /// The first error (the server's, or the sink's).
    err: Option<Error>,
    /// A CopyOutResponse arrived: the statement was a COPY TO STDOUT.
    saw_copy: bool,
}

impl Connection {
    /// `COPY ... FROM STDIN`: `next_chunk` supplies data until it returns `Ok(None)`.
    /// An error from `next_chunk` aborts the COPY (CopyFail) and is returned.
    pub fn copy_in(
        &mut self,
        sql: &str,
        next_chunk: &mut dyn FnMut() -> Result<Option<Vec<u8>>>,
    ) -> Result<QueryResult> {
        self.start_copy(sql)?;
        // Wait for CopyInResponse (or an error / a result that is not COPY FROM STDIN).
        let mut cur = QueryResult::default();
        let mut err: Option<Error> = None;
        loop {
            let (tag, len) = self.next_message(None, None)?;
            if tag == b'G' {
                self.rb.take(len);
                break;
            }
            if tag == b'H' {
                // COPY TO STDOUT given to copy_in: drain it.
                err = Some(Error::Interface(
                    "the statement is a COPY TO; use copy_to()/copy_expert() with a writable file"
                        .into(),
                ));
            }
            if let Step::Ready = self.read_step(&mut cur, &mut err, None)? {
                return Err(err.unwrap_or_else(|| {
                    Error::Interface("the statement is not a COPY FROM STDIN".into())
                }));
            }
        }
        let mut user_err = None;
        loop {
            match next_chunk() {
                Ok(Some(data)) => {
                    if data.is_empty() {
                        continue;
                    }
                    put_copy_data(&data, &mut self.wbuf)?;
                    if self.wbuf.len() >= 64 * 1024 {
                        self.flush()?;
                    }
                }
                Ok(None) => {
                    frontend::copy_done(&mut self.wbuf);
                    break;
                }
                Err(e) => {
                    let msg = e.to_string();
                    frontend::copy_fail(&msg.replace('\0', " "), &mut self.wbuf)
                        .map_err(|e| io_err("encode", e))?;
                    user_err = Some(e);
                    break;
                }
            }
        }
        self.flush()?;
        let r = self.read_until_ready(None, None);
        match user_err {
            Some(e) => Err(e),
            None => r,
        }
    }

    /// `COPY ... TO STDOUT`: every row chunk goes to `sink`. Returns the COPY's result
    /// (its command tag carries the row count).
    pub fn copy_out(
        &mut self,
        sql: &str,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<QueryResult> {
        self.start_copy(sql)?;
        let mut out = CopyOut::default();
        loop {
            let (tag, len) = self.next_message(None, None)?;
            let at = self.rb.take(len);
            let step = self.handle_copy_out(tag, at, &mut out, sink);
            // What the message called for (a CopyFail) goes out now.
            self.flush()?;
            if let Step::Ready = step? {
                break;
            }
        }
        let CopyOut {
            err,
            saw_copy,
            last,
            ..
        } = out;
        if let Some(e) = err {
            return Err(e);
        }
        if !saw_copy {
            return Err(Error::Interface(
                "the statement is not a COPY TO STDOUT".into(),
            ));
        }
        Ok(last)
    }

    /// Handles one message of a `COPY ... TO STDOUT`'s answer (its body at `at`): no
    /// I/O; a reply it calls for (a CopyFail) is queued in the write buffer.
    fn handle_copy_out(
        &mut self,
        tag: u8,
        at: std::ops::Range<usize>,
        out: &mut CopyOut,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Step> {
        match tag {
            b'H' => out.saw_copy = true,
            b'd' => {
                if out.err.is_none() {
                    if let Err(e) = sink(self.rb.get(at)) {
                        out.err = Some(e);
                    }
                }
            }
            b'G' => {
                frontend::copy_fail(
                    "the statement is a COPY FROM; use copy_from()/copy_expert() with a readable file",
                    &mut self.wbuf,
                )
                .map_err(|e| io_err("encode", e))?;
                out.err.get_or_insert_with(|| {
                    Error::Interface(
                        "the statement is a COPY FROM STDIN; use copy_from()/copy_expert() with a readable file"
                            .into(),
                    )
                });
            }
            _ => match self.handle_message(tag, at, &mut out.cur, &mut out.err)? {
                Step::Done => out.last = std::mem::take(&mut out.cur),
                step => return Ok(step),
            },
        }
        Ok(Step::More)
    }

    /// Sends a COPY statement (a queued BEGIN in front of it, its answer read).
    fn start_copy(&mut self, sql: &str) -> Result<()> {
        self.check_sendable()?;
        self.settle_deferred(None)?;
        self.extended = false;
        self.encoding.encode(sql)?; // (checked before a queued BEGIN goes out)
        let begin = self.put_pending_begin()?;
        self.put_query(sql)?;
        self.flush()?;
        if begin {
            if let Err(e) = self.read_begin(None) {
                let _ = self.read_until_ready(None, None);
                return Err(e);
            }
        }
        Ok(())
    }
}
