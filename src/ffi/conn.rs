//! `pgpool_conn`: a checked-out connection: statements, transactions, release.

use std::ffi::{c_char, CStr};

use crate::conn::TxEnd;
use crate::handles::{self, Kind};
use crate::pool::PooledConnection;
use crate::result::QueryResult;

use super::args::str_arg;
use super::error::{finish, pgpool_code, pgpool_error, Failure, FfiResult};
use super::panic::ffi_boundary;
use super::result::{self as ffi_result, pgpool_result};

/// A connection checked out of a pool with `pgpool_acquire`. Use it from one thread at a
/// time (it may move between threads); hand it back with `pgpool_release`, exactly once.
pub struct pgpool_conn {
    _private: [u8; 0],
}

/// Boxes a checked-out connection into a live handle.
pub(crate) fn into_handle(conn: PooledConnection) -> *mut pgpool_conn {
    let p = Box::into_raw(Box::new(conn)) as *mut pgpool_conn;
    handles::register(p as usize, Kind::Conn);
    p
}

/// The connection behind a live handle.
fn conn_arg<'a>(conn: *mut pgpool_conn) -> Result<&'a mut PooledConnection, Failure> {
    if conn.is_null() {
        return Err(Failure::null("conn"));
    }
    if !handles::is_live(conn as usize, Kind::Conn) {
        return Err(Failure::invalid(
            "`conn` is not a checked-out connection (already released?)",
        ));
    }
    // SAFETY: live handles are boxed `PooledConnection`s; one thread at a time, by
    // contract.
    Ok(unsafe { &mut *(conn as *mut PooledConnection) })
}

/// Hands a connection back to its pool (also after the pool was closed or freed). A
/// transaction still open is rolled back and session state (`SET`, temporary tables,
/// `LISTEN`, advisory locks) is reset; a broken connection is discarded. NULL is accepted
/// and ignored. Call exactly once per connection: the handle is invalid afterwards (a
/// second release is detected and ignored as long as no new connection got the same
/// address).
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_release(conn: *mut pgpool_conn) {
    ffi_boundary! {
        if conn.is_null() || !handles::unregister(conn as usize, Kind::Conn) {
            return;
        }
        // SAFETY: it was live, and is ours now that it is unregistered.
        let conn = unsafe { Box::from_raw(conn as *mut PooledConnection) };
        conn.release();
    }
}

/// Runs one SQL statement and writes its result to `*out`.
///
/// With `nparams` > 0, `sql` is one statement whose `$1`..`$n` are bound to `params[0]`..
/// `params[n-1]`: text values (as you would type them in SQL, without quotes), NULL for
/// SQL NULL, types inferred by the server as libpq's `PQexecParams` does; it never
/// becomes part of the SQL text. With `nparams` == 0 (`params` may be NULL), `sql` may
/// hold several statements separated by `;` (as `PQexec`); the result is the last one's.
/// Either way no named prepared statement is created (PgBouncer-safe) and a `BEGIN` from
/// `pgpool_begin` goes out in the same network write.
///
/// Values come back in text form as psql prints them (see `pgpool_result_value`).
///
/// `out` may be NULL to discard the result. On success `*out` is a result the caller
/// frees with `pgpool_result_free`. Errors: `PGPOOL_DATABASE` (the server rejected it:
/// see `pgpool_error_sqlstate`; the connection stays usable, a transaction in progress is
/// aborted), `PGPOOL_CONNECTION` (the connection broke: release it),
/// `PGPOOL_INVALID_PARAMETER` (not UTF-8, NUL bytes...). One thread at a time per
/// connection.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_exec(
    conn: *mut pgpool_conn,
    sql: *const c_char,
    nparams: usize,
    params: *const *const c_char,
    out: *mut *mut pgpool_result,
    err: *mut *mut pgpool_error,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let c = conn_arg(conn)?;
            // SAFETY: a NUL-terminated string, by contract.
            let sql = unsafe { str_arg(sql, "sql") }?;
            if nparams > 0 && params.is_null() {
                return Err(Failure::null("params"));
            }
            // The protocol's limit, checked before `params` is read as a slice.
            if nparams > i16::MAX as usize {
                return Err(Failure::invalid(format!(
                    "too many parameters ({nparams}; at most {})",
                    i16::MAX
                )));
            }
            let res: QueryResult = if nparams == 0 {
                c.simple_query(sql, None)?
            } else {
                // SAFETY: `params` holds `nparams` pointers, each NULL or a
                // NUL-terminated string, by contract.
                let ps = unsafe { std::slice::from_raw_parts(params, nparams) };
                let values: Vec<Option<&[u8]>> = ps
                    .iter()
                    .map(|p| (!p.is_null()).then(|| unsafe { CStr::from_ptr(*p) }.to_bytes()))
                    .collect();
                c.query_params(sql, &values, None)?
            };
            if !out.is_null() {
                let p = ffi_result::into_handle(res);
                // SAFETY: `out` is writable, by contract.
                unsafe { *out = p };
            }
            Ok(())
        })();
        finish(r, err)
    }
}

/// Starts a transaction: `BEGIN` is sent together with the next statement (no round trip
/// of its own). End it with `pgpool_commit` or `pgpool_rollback`; releasing the
/// connection rolls it back. One thread at a time per connection.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_begin(conn: *mut pgpool_conn, err: *mut *mut pgpool_error) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let c = conn_arg(conn)?;
            c.begin(&Default::default());
            Ok(())
        })();
        finish(r, err)
    }
}

/// Commits the transaction. A transaction that failed earlier is rolled back by the
/// server instead: that is reported as `PGPOOL_DATABASE` with SQLSTATE `25P02`, so a
/// commit that did not happen never looks like one that did. Without a transaction it
/// is a no-op (the server only warns). One thread at a time per connection.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_commit(
    conn: *mut pgpool_conn,
    err: *mut *mut pgpool_error,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let c = conn_arg(conn)?;
            c.commit_checked(None)?;
            Ok(())
        })();
        finish(r, err)
    }
}

/// Rolls the transaction back (a no-op without one). One thread at a time per
/// connection.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_rollback(
    conn: *mut pgpool_conn,
    err: *mut *mut pgpool_error,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let c = conn_arg(conn)?;
            c.end_transaction(TxEnd::Rollback, false, None)?;
            Ok(())
        })();
        finish(r, err)
    }
}
