//! `pgpool_code` (the result of every fallible call) and `pgpool_error` (its details:
//! message and SQLSTATE), mapped once from the core's [`crate::Error`].

use std::ffi::{c_char, CString};

use crate::error::Error;

use crate::handles::{self, Kind};

use super::panic::{ffi_boundary, PanicDefault};

/// The result of a fallible call: `PGPOOL_OK` (0) or an error code. Codes come in bands:
/// 1xx the caller's arguments or configuration, 2xx the pool, 3xx the server or the
/// connection, 9xx internal. Compare with the named constants, never with numbers;
/// `pgpool_code_name` gives the constant's name.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pgpool_code {
    /// Success.
    PGPOOL_OK = 0,
    /// A required pointer argument was NULL.
    PGPOOL_NULL_PARAMETER = 100,
    /// An argument is unusable: a string that is not UTF-8, a query containing NUL bytes,
    /// too many parameters, an options struct without `struct_size`, a handle that is
    /// not live (already released or freed, when that can be detected).
    PGPOOL_INVALID_PARAMETER = 101,
    /// Bad configuration (conninfo, options or environment); the message names the
    /// setting.
    PGPOOL_CONFIG = 102,
    /// The connection cannot run the call in its state: it broke earlier (release it), or
    /// it was inherited from the parent process across `fork()`.
    PGPOOL_INTERFACE = 103,
    /// No connection became available within the acquire timeout; the message has the
    /// pool size, the number of waiters and the last connection error, if any.
    PGPOOL_TIMEOUT = 200,
    /// The pool is closed (`pgpool_pool_close`).
    PGPOOL_CLOSED = 201,
    /// Too many callers already waiting for a connection (`max_waiting`): rejected at
    /// once.
    PGPOOL_TOO_MANY_REQUESTS = 202,
    /// The server reported an error for the statement: see `pgpool_error_sqlstate`. The
    /// connection is still usable (a transaction in progress is aborted).
    PGPOOL_DATABASE = 300,
    /// Connecting failed, or the connection broke (network error, server restart,
    /// backend terminated: the SQLSTATE, if the server sent one, says which, e.g.
    /// `57P01`). The connection is unusable: release it and acquire another.
    PGPOOL_CONNECTION = 301,
    /// A bug in pgpool: the call panicked. Nothing was written to the outputs. Please
    /// report it.
    PGPOOL_PANIC = 900,
}

use pgpool_code::*;

impl pgpool_code {
    fn name(self) -> &'static str {
        match self {
            PGPOOL_OK => "PGPOOL_OK\0",
            PGPOOL_NULL_PARAMETER => "PGPOOL_NULL_PARAMETER\0",
            PGPOOL_INVALID_PARAMETER => "PGPOOL_INVALID_PARAMETER\0",
            PGPOOL_CONFIG => "PGPOOL_CONFIG\0",
            PGPOOL_INTERFACE => "PGPOOL_INTERFACE\0",
            PGPOOL_TIMEOUT => "PGPOOL_TIMEOUT\0",
            PGPOOL_CLOSED => "PGPOOL_CLOSED\0",
            PGPOOL_TOO_MANY_REQUESTS => "PGPOOL_TOO_MANY_REQUESTS\0",
            PGPOOL_DATABASE => "PGPOOL_DATABASE\0",
            PGPOOL_CONNECTION => "PGPOOL_CONNECTION\0",
            PGPOOL_PANIC => "PGPOOL_PANIC\0",
        }
    }

    const ALL: [pgpool_code; 11] = [
        PGPOOL_OK,
        PGPOOL_NULL_PARAMETER,
        PGPOOL_INVALID_PARAMETER,
        PGPOOL_CONFIG,
        PGPOOL_INTERFACE,
        PGPOOL_TIMEOUT,
        PGPOOL_CLOSED,
        PGPOOL_TOO_MANY_REQUESTS,
        PGPOOL_DATABASE,
        PGPOOL_CONNECTION,
        PGPOOL_PANIC,
    ];

    fn from_u32(code: u32) -> Option<pgpool_code> {
        Self::ALL.iter().copied().find(|c| *c as u32 == code)
    }
}

impl PanicDefault for pgpool_code {
    fn panic_default() -> Self {
        PGPOOL_PANIC
    }
}

/// A failed call's details, kept until the caller frees it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: pgpool_code,
    message: String,
    sqlstate: String,
}

impl Failure {
    pub(crate) fn new(code: pgpool_code, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            sqlstate: String::new(),
        }
    }

    /// A NULL pointer where one was required.
    pub(crate) fn null(arg: &str) -> Failure {
        Failure::new(PGPOOL_NULL_PARAMETER, format!("argument `{arg}` is NULL"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(PGPOOL_INVALID_PARAMETER, message)
    }
}

/// The one mapping of core errors to C codes.
impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let code = match &e {
            Error::Config { .. } => PGPOOL_CONFIG,
            Error::Timeout { .. } => PGPOOL_TIMEOUT,
            Error::Closed => PGPOOL_CLOSED,
            Error::TooManyRequests { .. } => PGPOOL_TOO_MANY_REQUESTS,
            Error::Connection(_) => PGPOOL_CONNECTION,
            Error::Db(_) if e.is_connection_error() => PGPOOL_CONNECTION,
            Error::Db(_) => PGPOOL_DATABASE,
            Error::InvalidParameter(_) | Error::Param(_) | Error::Encoding { .. } => {
                PGPOOL_INVALID_PARAMETER
            }
            Error::Interface(_) => PGPOOL_INTERFACE,
            // C has no interrupt hook; should it happen, it is the server's
            // query_canceled.
            Error::Interrupted => PGPOOL_DATABASE,
        };
        let sqlstate = match &e {
            Error::Interrupted => "57014".to_string(),
            _ => e.sqlstate().unwrap_or("").to_string(),
        };
        Failure {
            code,
            message: e.to_string(),
            sqlstate,
        }
    }
}

/// The result of the body of a fallible exported function.
pub(crate) type FfiResult = Result<(), Failure>;

/// Turns a body's result into the code, writing the details to `*err` on failure when
/// `err` is not NULL (never on success).
pub(crate) fn finish(r: FfiResult, err: *mut *mut pgpool_error) -> pgpool_code {
    match r {
        Ok(()) => PGPOOL_OK,
        Err(f) => {
            let code = f.code;
            if !err.is_null() {
                let boxed = Box::new(ErrorData {
                    code,
                    message: to_cstring(f.message),
                    sqlstate: to_cstring(f.sqlstate),
                });
                let p = Box::into_raw(boxed) as *mut pgpool_error;
                handles::register(p as usize, Kind::Error);
                // SAFETY: the caller passes either NULL or a writable `pgpool_error *`.
                unsafe { *err = p };
            }
            code
        }
    }
}

fn to_cstring(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let mut v = e.into_vec();
        v.retain(|b| *b != 0);
        CString::new(v).expect("NULs removed")
    })
}

/// The details of a failed call: a message and, for server errors, the SQLSTATE.
/// Immutable; may be read from any thread. Owned by the caller: free it with
/// `pgpool_error_free`.
pub struct pgpool_error {
    _private: [u8; 0],
}

struct ErrorData {
    code: pgpool_code,
    message: CString,
    sqlstate: CString,
}

/// # Safety
/// `e` is NULL or a live error handle.
unsafe fn data<'a>(e: *const pgpool_error) -> Option<&'a ErrorData> {
    // SAFETY: by the caller's contract.
    unsafe { (e as *const ErrorData).as_ref() }
}

/// The error's message (never NULL): what went wrong, in English. For server errors the
/// server's primary message, then `DETAIL:` and `HINT:` lines when it sent them.
/// Returns "" when `e` is NULL. The string lives as long as `e`.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_error_message(e: *const pgpool_error) -> *const c_char {
    ffi_boundary! {
        match unsafe { data(e) } {
            Some(d) => d.message.as_ptr(),
            None => c"".as_ptr(),
        }
    }
}

/// The five-character SQLSTATE of a server error (e.g. "23505" for a unique violation),
/// or "" when the error did not come from the server (and when `e` is NULL). Never NULL.
/// The string lives as long as `e`.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_error_sqlstate(e: *const pgpool_error) -> *const c_char {
    ffi_boundary! {
        match unsafe { data(e) } {
            Some(d) => d.sqlstate.as_ptr(),
            None => c"".as_ptr(),
        }
    }
}

/// The code the failed call returned; `PGPOOL_NULL_PARAMETER` when `e` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_error_code(e: *const pgpool_error) -> pgpool_code {
    ffi_boundary! {
        match unsafe { data(e) } {
            Some(d) => d.code,
            None => PGPOOL_NULL_PARAMETER,
        }
    }
}

/// Frees an error. NULL is accepted and ignored. Call exactly once per error; a second
/// call on the same pointer is detected and ignored as long as no new error got the
/// same address in between (do not rely on it).
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_error_free(e: *mut pgpool_error) {
    ffi_boundary! {
        if e.is_null() || !handles::unregister(e as usize, Kind::Error) {
            return;
        }
        // SAFETY: it was live (registered by `finish`), and is no longer registered.
        drop(unsafe { Box::from_raw(e as *mut ErrorData) });
    }
}

/// The name of a code's constant, e.g. "PGPOOL_TIMEOUT"; "PGPOOL_UNKNOWN" for a number
/// that is no code. Never NULL; a static string. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_code_name(code: u32) -> *const c_char {
    ffi_boundary! {
        match pgpool_code::from_u32(code) {
            Some(c) => c.name().as_ptr() as *const c_char,
            None => c"PGPOOL_UNKNOWN".as_ptr(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_constants() {
        for c in pgpool_code::ALL {
            assert_eq!(c.name(), format!("{c:?}\0"));
            assert_eq!(pgpool_code::from_u32(c as u32), Some(c));
        }
        assert_eq!(pgpool_code::from_u32(12345), None);
    }

    fn panics_with_code() -> pgpool_code {
        ffi_boundary! {
            if std::hint::black_box(true) {
                panic!("boom (expected by the test)");
            }
            PGPOOL_OK
        }
    }

    #[test]
    fn a_panic_is_pgpool_panic() {
        assert_eq!(panics_with_code(), PGPOOL_PANIC);
    }
}
