//! A `BEGIN` queued to ride with the next statement, and the three ways it goes out: in
//! front of a statement in one Query message, as the unnamed statement ahead of an
//! extended-protocol one (no Sync of its own), or as a Query message of its own (ahead of
//! a COPY). See `docs/DESIGN.md`, "Transactions".

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use postgres_protocol::IsNull;

use super::io_err;
use crate::error::{Error, Result};
use crate::transaction::Characteristics;

/// The separator between a queued `BEGIN` (our own text, never ending in a comment) and
/// the statement after it in one Query message.
const SEPARATOR: &str = ";";

/// A transaction's `BEGIN` that has not been sent yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingBegin {
    sql: String,
}

impl PendingBegin {
    pub(crate) fn new(c: &Characteristics) -> PendingBegin {
        PendingBegin { sql: c.begin_sql() }
    }

    /// The statement's text (`BEGIN ISOLATION LEVEL ...`).
    #[cfg(test)]
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// Puts the `BEGIN` and its separator at the end of `q`, the start of a Query message
    /// whose next statement follows. Returns how many characters it added (error
    /// positions of the statements after it count from the start of the message).
    pub(crate) fn push_prefix(&self, q: &mut String) -> usize {
        q.push_str(&self.sql);
        q.push_str(SEPARATOR);
        self.prefix_len()
    }

    /// Characters [`push_prefix`](Self::push_prefix) adds.
    pub(crate) fn prefix_len(&self) -> usize {
        self.sql.len() + SEPARATOR.len()
    }

    /// `BEGIN;<sql>` as one Query message's text, and where `<sql>` starts in it.
    pub(crate) fn prefixed(&self, sql: &str) -> (String, usize) {
        let mut q = String::with_capacity(self.prefix_len() + sql.len());
        let at = self.push_prefix(&mut q);
        q.push_str(sql);
        (q, at)
    }

    /// Parse/Bind/Execute of the `BEGIN` as the unnamed statement, with no Sync of its
    /// own: the extended-protocol statement written after it shares its Sync.
    pub(crate) fn write_extended(&self, wbuf: &mut BytesMut) -> Result<()> {
        frontend::parse("", &self.sql, std::iter::empty(), wbuf)
            .map_err(|e| io_err("encode", e))?;
        frontend::bind(
            "",
            "",
            std::iter::empty(),
            std::iter::empty::<Option<&[u8]>>(),
            |_, _| Ok(IsNull::Yes),
            std::iter::empty(),
            wbuf,
        )
        .map_err(|_| Error::InvalidParameter("could not encode BEGIN".into()))?;
        frontend::execute("", 0, wbuf).map_err(|e| io_err("encode", e))
    }

    /// The `BEGIN` as a Query message of its own.
    pub(crate) fn write_query(&self, wbuf: &mut BytesMut) -> Result<()> {
        frontend::query(&self.sql, wbuf).map_err(|e| io_err("encode", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Isolation;

    #[test]
    fn prefix_and_position() {
        let b = PendingBegin::new(&Characteristics::default());
        let (q, at) = b.prefixed("SELECT 1");
        assert_eq!(q, "BEGIN;SELECT 1");
        assert_eq!(&q[at..], "SELECT 1");
        let mut q = String::from("");
        assert_eq!(b.push_prefix(&mut q), "BEGIN;".len());
    }

    #[test]
    fn messages_are_the_protocols() {
        let c = Characteristics {
            isolation: Some(Isolation::Serializable),
            ..Default::default()
        };
        let b = PendingBegin::new(&c);
        assert_eq!(b.sql(), "BEGIN ISOLATION LEVEL SERIALIZABLE");
        let mut w = BytesMut::new();
        b.write_query(&mut w).unwrap();
        // 'Q', int32 length (itself + text + NUL), the text, NUL.
        assert_eq!(w[0], b'Q');
        let len = u32::from_be_bytes([w[1], w[2], w[3], w[4]]) as usize;
        assert_eq!(len, 4 + b.sql().len() + 1);
        assert_eq!(&w[5..5 + b.sql().len()], b.sql().as_bytes());
        assert_eq!(w.len(), 1 + len);

        let mut w = BytesMut::new();
        b.write_extended(&mut w).unwrap();
        // Parse, Bind, Execute — and no Sync.
        let mut kinds = Vec::new();
        let mut i = 0;
        while i < w.len() {
            kinds.push(w[i]);
            let len = u32::from_be_bytes([w[i + 1], w[i + 2], w[i + 3], w[i + 4]]) as usize;
            i += 1 + len;
        }
        assert_eq!(i, w.len());
        assert_eq!(kinds, b"PBE");
    }
}
