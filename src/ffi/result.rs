//! `pgpool_result`: the rows of one statement, in text form, immutable.

use std::ffi::{c_char, CString};

use crate::handles::{self, Kind};
use crate::result::QueryResult;

use super::panic::ffi_boundary;

/// The outcome of one statement: its columns and rows, in the server's text form.
/// Immutable: read it from any number of threads. Owned by the caller: free it with
/// `pgpool_result_free`; every string it hands out lives until then.
pub struct pgpool_result {
    _private: [u8; 0],
}

struct ResultData {
    res: QueryResult,
    colnames: Vec<CString>,
}

/// Boxes a result into a live handle.
pub(crate) fn into_handle(res: QueryResult) -> *mut pgpool_result {
    let colnames = res
        .columns
        .iter()
        .map(|c| CString::new(c.name.replace('\0', "")).expect("NULs removed"))
        .collect();
    let p = Box::into_raw(Box::new(ResultData { res, colnames })) as *mut pgpool_result;
    handles::register(p as usize, Kind::Result);
    p
}

/// # Safety
/// `r` is NULL or a live result.
unsafe fn data<'a>(r: *const pgpool_result) -> Option<&'a ResultData> {
    // SAFETY: by the caller's contract.
    unsafe { (r as *const ResultData).as_ref() }
}

/// Number of rows (0 for a statement that returns none, and for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_result_nrows(r: *const pgpool_result) -> usize {
    ffi_boundary! {
        unsafe { data(r) }.map_or(0, |d| d.res.nrows())
    }
}

/// Number of columns (0 for a statement that returns no rows, e.g. INSERT without
/// RETURNING, and for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_result_ncols(r: *const pgpool_result) -> usize {
    ffi_boundary! {
        unsafe { data(r) }.map_or(0, |d| d.res.ncols())
    }
}

/// A column's name, or NULL when `col` is out of range (or `r` is NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_result_colname(r: *const pgpool_result, col: usize) -> *const c_char {
    ffi_boundary! {
        match unsafe { data(r) }.and_then(|d| d.colnames.get(col)) {
            Some(n) => n.as_ptr(),
            None => std::ptr::null(),
        }
    }
}

/// A column's type OID (`pg_type.oid`: 23 int4, 25 text, 1700 numeric, ...), or 0 when
/// `col` is out of range (or `r` is NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_result_coltype(r: *const pgpool_result, col: usize) -> u32 {
    ffi_boundary! {
        unsafe { data(r) }
            .and_then(|d| d.res.columns.get(col))
            .map_or(0, |c| c.type_oid)
    }
}

/// A value as a NUL-terminated string in the text form psql prints: `42`, `3.14`,
/// `1e+100`, `t`/`f`, `2024-01-31`, `2024-01-31 12:00:00`, `\x0102` (bytea), `{1,2,NULL}`
/// (arrays), `{"a": 1}` (json as sent). NULL for SQL NULL and when `row` or `col` is out
/// of range (or `r` is NULL). The string lives as long as `r`.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_result_value(
    r: *const pgpool_result,
    row: usize,
    col: usize,
) -> *const c_char {
    ffi_boundary! {
        match unsafe { data(r) }.and_then(|d| d.res.get_with_nul(row, col)) {
            Some(v) => v.as_ptr() as *const c_char,
            None => std::ptr::null(),
        }
    }
}

/// Rows affected by an INSERT, UPDATE, DELETE or MERGE (rows returned by a SELECT, rows
/// copied by COPY); 0 for statements without a count (CREATE, SET, ...) and for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_result_affected(r: *const pgpool_result) -> u64 {
    ffi_boundary! {
        unsafe { data(r) }.and_then(|d| d.res.rows_affected()).unwrap_or(0)
    }
}

/// Frees a result. NULL is accepted and ignored. Call exactly once per result (a second
/// call is detected and ignored as long as no new result got the same address).
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_result_free(r: *mut pgpool_result) {
    ffi_boundary! {
        if r.is_null() || !handles::unregister(r as usize, Kind::Result) {
            return;
        }
        // SAFETY: it was live, and is ours now that it is unregistered.
        drop(unsafe { Box::from_raw(r as *mut ResultData) });
    }
}
