//! Backend message bodies: the field readers and the decoders of ErrorResponse/NoticeResponse
//! and RowDescription (plain functions over bytes, no I/O).

#[allow(unused_imports)]
use super::*;

use crate::encoding::Encoding;
use crate::error::{DbError, Error, Result};
use crate::result::Column;

/// A cursor over a backend message body.
pub(super) struct Body<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Body<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Body { b, pos: 0 }
    }
    pub(super) fn u8(&mut self) -> Result<u8> {
        let v = *self.b.get(self.pos).ok_or_else(short)?;
        self.pos += 1;
        Ok(v)
    }
    pub(super) fn i16(&mut self) -> Result<i16> {
        let s = self.b.get(self.pos..self.pos + 2).ok_or_else(short)?;
        self.pos += 2;
        Ok(i16::from_be_bytes([s[0], s[1]]))
    }
    pub(super) fn i32(&mut self) -> Result<i32> {
        let s = self.b.get(self.pos..self.pos + 4).ok_or_else(short)?;
        self.pos += 4;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub(super) fn cstr(&mut self) -> Result<&'a str> {
        let rest = self.b.get(self.pos..).ok_or_else(short)?;
        let end = rest.iter().position(|&c| c == 0).ok_or_else(short)?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end])
            .map_err(|_| Error::Connection("invalid UTF-8 from server".into()))
    }
    /// A NUL-terminated string's bytes (in the client encoding).
    pub(super) fn cbytes(&mut self) -> Result<&'a [u8]> {
        let rest = self.b.get(self.pos..).ok_or_else(short)?;
        let end = rest.iter().position(|&c| c == 0).ok_or_else(short)?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }
    pub(super) fn rest(&self) -> &'a [u8] {
        &self.b[self.pos.min(self.b.len())..]
    }
}

pub(super) fn short() -> Error {
    Error::Connection("protocol error: short message from server".into())
}

/// An ErrorResponse's or NoticeResponse's fields (text in the client encoding `enc`;
/// what does not decode is replaced, so that the message always gets through).
pub(super) fn parse_error_fields(body: &[u8], enc: Encoding) -> DbError {
    let mut e = DbError::default();
    let mut b = Body::new(body);
    while let Ok(code) = b.u8() {
        if code == 0 {
            break;
        }
        let Ok(v) = b.cbytes() else { break };
        let v = enc.decode_lossy(v);
        match code {
            b'S' => e.severity = v,
            b'V' => e.severity_nonlocalized = Some(v),
            b'C' => e.code = v,
            b'M' => e.message = v,
            b'D' => e.detail = Some(v),
            b'H' => e.hint = Some(v),
            b'P' => e.position = Some(v),
            b'p' => e.internal_position = Some(v),
            b'q' => e.internal_query = Some(v),
            b'W' => e.context = Some(v),
            b's' => e.schema_name = Some(v),
            b't' => e.table_name = Some(v),
            b'c' => e.column_name = Some(v),
            b'd' => e.datatype_name = Some(v),
            b'n' => e.constraint_name = Some(v),
            b'F' => e.source_file = Some(v),
            b'L' => e.source_line = Some(v),
            b'R' => e.source_function = Some(v),
            _ => {}
        }
    }
    e
}

pub(super) fn parse_row_description(body: &[u8], enc: Encoding) -> Result<Vec<Column>> {
    let mut b = Body::new(body);
    let n = b.i16()? as usize;
    let mut cols = Vec::with_capacity(n);
    for _ in 0..n {
        let name = enc.decode_lossy(b.cbytes()?);
        let table_oid = b.i32()? as u32;
        let column_id = b.i16()?;
        let type_oid = b.i32()? as u32;
        let type_size = b.i16()?;
        let type_modifier = b.i32()?;
        let _format = b.i16()?;
        cols.push(Column {
            name,
            table_oid,
            column_id,
            type_oid,
            type_size,
            type_modifier,
        });
    }
    Ok(cols)
}
