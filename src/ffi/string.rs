//! Strings the library hands over to the caller (`char *` outputs such as
//! `pgpool_pool_prometheus`'s text), freed with `pgpool_string_free`.

use std::ffi::{c_char, CString};

use crate::handles::{self, Kind};

use super::panic::ffi_boundary;

/// Turns `s` into a NUL-terminated string owned by the caller (NUL bytes inside are
/// dropped) and records it as a live handle; returns it and its length (without the NUL).
pub(crate) fn into_handle(s: String) -> (*mut c_char, usize) {
    let c = CString::new(s).unwrap_or_else(|e| {
        let mut v = e.into_vec();
        v.retain(|b| *b != 0);
        CString::new(v).expect("NULs removed")
    });
    let len = c.as_bytes().len();
    let p = c.into_raw();
    handles::register(p as usize, Kind::String);
    (p, len)
}

/// Frees a string the library handed out through a `char **` output (e.g. by
/// `pgpool_pool_prometheus`). NULL is accepted and ignored. Call exactly once per string,
/// and do not write past its terminating NUL or shorten it before freeing it; a second
/// call on the same pointer is detected and ignored as long as no new string got the
/// same address in between (do not rely on it). Never pass it memory from `malloc`.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_string_free(s: *mut c_char) {
    ffi_boundary! {
        if s.is_null() || !handles::unregister(s as usize, Kind::String) {
            return;
        }
        // SAFETY: live strings come from `CString::into_raw` in `into_handle`; it is no
        // longer registered, so it is freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}
