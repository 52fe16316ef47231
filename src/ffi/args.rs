//! Arguments from C: required strings and output pointers.

use std::ffi::{c_char, CStr};

use super::error::Failure;

/// A required C string argument as UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| Failure::invalid(format!("argument `{name}` is not valid UTF-8")))
}

/// A required output pointer.
pub(crate) fn out_arg<T>(p: *mut T, name: &str) -> Result<*mut T, Failure> {
    if p.is_null() {
        Err(Failure::null(name))
    } else {
        Ok(p)
    }
}
