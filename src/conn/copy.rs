//! `COPY ... FROM STDIN` and `COPY ... TO STDOUT`.

#[allow(unused_imports)]
use super::*;

use postgres_protocol::message::frontend;

use crate::error::{Error, Result};
use crate::result::QueryResult;

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
                    // CopyData: 'd' + len + data
                    self.wbuf.extend_from_slice(b"d");
                    self.wbuf
                        .extend_from_slice(&((data.len() + 4) as u32).to_be_bytes());
                    self.wbuf.extend_from_slice(&data);
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
        let mut cur = QueryResult::default();
        let mut last = QueryResult::default();
        let mut err: Option<Error> = None;
        let mut saw_copy = false;
        loop {
            let (tag, len) = self.next_message(None, None)?;
            match tag {
                b'H' => {
                    saw_copy = true;
                    self.rb.take(len);
                }
                b'd' => {
                    let at = self.rb.take(len);
                    if err.is_none() {
                        if let Err(e) = sink(self.rb.get(at)) {
                            err = Some(e);
                        }
                    }
                }
                b'G' => {
                    self.rb.take(len);
                    frontend::copy_fail("the statement is a COPY FROM; use copy_from()/copy_expert() with a readable file", &mut self.wbuf)
                        .map_err(|e| io_err("encode", e))?;
                    self.flush()?;
                    if err.is_none() {
                        err = Some(Error::Interface("the statement is a COPY FROM STDIN; use copy_from()/copy_expert() with a readable file".into()));
                    }
                }
                _ => match self.read_step(&mut cur, &mut err, None)? {
                    Step::Done => last = std::mem::take(&mut cur),
                    Step::Ready => break,
                    Step::More => {}
                },
            }
        }
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

    /// Sends a COPY statement (a queued BEGIN in front of it, its answer read).
    fn start_copy(&mut self, sql: &str) -> Result<()> {
        self.check_sendable()?;
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
