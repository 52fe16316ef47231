//! Query results: column metadata and rows in the server's text form, copied once into
//! one buffer with a NUL after every value.
#![forbid(unsafe_code)]

/// One column of a result (from RowDescription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// OID of the table the column comes from, 0 if none.
    pub table_oid: u32,
    /// Attribute number in that table, 0 if none.
    pub column_id: i16,
    /// Type OID.
    pub type_oid: u32,
    /// Type size (`pg_type.typlen`), negative for variable size.
    pub type_size: i16,
    /// Type modifier (`atttypmod`).
    pub type_modifier: i32,
}

const NULL_CELL: u32 = u32::MAX;

/// The outcome of one statement.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    /// Columns; empty when the statement returns no rows (e.g. INSERT without RETURNING).
    pub columns: Vec<Column>,
    /// True when the statement described a row set (SELECT, RETURNING, SHOW...), even an
    /// empty one.
    pub has_rows: bool,
    /// The command tag (`INSERT 0 1`, `SELECT 3`, ...); empty for an empty query.
    pub command_tag: String,
    data: Vec<u8>,
    /// (offset, len) per cell, row-major; len == NULL_CELL for SQL NULL.
    cells: Vec<(u32, u32)>,
    nrows: usize,
    /// What a face attached while the rows arrived (see [`RowSink`](crate::conn::RowSink)):
    /// e.g. the Python objects of the rows decoded so far. Travels with the result.
    pub extra: Extra,
}

/// A face's data attached to a [`QueryResult`]. Not cloned (a clone starts without it).
#[derive(Default)]
pub struct Extra(pub Option<Box<dyn std::any::Any + Send + Sync>>);

impl Clone for Extra {
    fn clone(&self) -> Extra {
        Extra(None)
    }
}

impl std::fmt::Debug for Extra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Extra(..)"
        } else {
            "Extra(None)"
        })
    }
}

impl QueryResult {
    pub(crate) fn start(&mut self, columns: Vec<Column>) {
        self.columns = columns;
        self.has_rows = true;
    }

    /// Appends one DataRow body (after the 2-byte column count) to the buffer.
    pub(crate) fn push_row(&mut self, body: &[u8]) -> Result<(), &'static str> {
        if body.len() < 2 {
            return Err("short DataRow");
        }
        let n = u16::from_be_bytes([body[0], body[1]]) as usize;
        if n != self.columns.len() {
            return Err("DataRow column count differs from RowDescription");
        }
        let mut pos = 2;
        self.data.reserve(body.len());
        for _ in 0..n {
            if pos + 4 > body.len() {
                return Err("short DataRow");
            }
            let len = i32::from_be_bytes([body[pos], body[pos + 1], body[pos + 2], body[pos + 3]]);
            pos += 4;
            if len < 0 {
                self.cells.push((0, NULL_CELL));
            } else {
                let len = len as usize;
                if pos + len > body.len() {
                    return Err("short DataRow");
                }
                let off = self.data.len();
                self.data.extend_from_slice(&body[pos..pos + len]);
                self.data.push(0);
                self.cells.push((off as u32, len as u32));
                pos += len;
            }
        }
        self.nrows += 1;
        Ok(())
    }

    /// Converts every value from the client encoding `enc` to UTF-8 (the server sent
    /// them in `enc`); what cannot be converted is an error and leaves the result as it
    /// was. Face data attached meanwhile ([`QueryResult::extra`]) is dropped: it was
    /// built from the unconverted bytes.
    pub fn transcode(&mut self, enc: crate::encoding::Encoding) -> crate::error::Result<()> {
        self.extra = Extra(None);
        if enc.is_utf8() || self.data.is_ascii() {
            return Ok(());
        }
        let mut data = Vec::with_capacity(self.data.len() + self.data.len() / 2);
        let mut cells = Vec::with_capacity(self.cells.len());
        for &(off, len) in &self.cells {
            if len == NULL_CELL {
                cells.push((0, NULL_CELL));
                continue;
            }
            let (off, len) = (off as usize, len as usize);
            let text = enc.decode(&self.data[off..off + len])?;
            let at = data.len();
            data.extend_from_slice(text.as_bytes());
            data.push(0);
            cells.push((at as u32, text.len() as u32));
        }
        self.data = data;
        self.cells = cells;
        Ok(())
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.columns.len()
    }

    /// The text of a cell, `None` for SQL NULL or out of range.
    #[inline]
    pub fn get(&self, row: usize, col: usize) -> Option<&[u8]> {
        let (off, len) = self.cell(row, col)?;
        Some(&self.data[off..off + len])
    }

    /// The text of a cell with its NUL terminator (for C), `None` for NULL or out of range.
    #[inline]
    pub fn get_with_nul(&self, row: usize, col: usize) -> Option<&[u8]> {
        let (off, len) = self.cell(row, col)?;
        Some(&self.data[off..off + len + 1])
    }

    /// True when the cell is SQL NULL (false when out of range).
    pub fn is_null(&self, row: usize, col: usize) -> bool {
        let nc = self.columns.len();
        row < self.nrows && col < nc && self.cells[row * nc + col].1 == NULL_CELL
    }

    #[inline]
    fn cell(&self, row: usize, col: usize) -> Option<(usize, usize)> {
        let nc = self.columns.len();
        if row >= self.nrows || col >= nc {
            return None;
        }
        let (off, len) = self.cells[row * nc + col];
        if len == NULL_CELL {
            None
        } else {
            Some((off as usize, len as usize))
        }
    }

    /// Rows affected or returned, from the command tag (`INSERT 0 5` -> 5, `SELECT 3` -> 3);
    /// `None` when the tag carries no count (CREATE TABLE, BEGIN, ...).
    pub fn rows_affected(&self) -> Option<u64> {
        let mut words = self.command_tag.split(' ');
        let cmd = words.next()?;
        let last = self.command_tag.rsplit(' ').next()?;
        match cmd {
            "INSERT" | "UPDATE" | "DELETE" | "SELECT" | "MOVE" | "FETCH" | "COPY" | "MERGE" => {
                last.parse().ok()
            }
            _ => None,
        }
    }

    /// Bytes of row data held (for memory accounting).
    pub fn data_len(&self) -> usize {
        self.data.len() + self.cells.len() * 8
    }
}
