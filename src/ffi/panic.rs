//! The panic boundary: every `extern "C"` function's body runs inside [`ffi_boundary!`],
//! so a panic becomes a return value (`PGPOOL_PANIC`, NULL, 0, nothing) instead of
//! unwinding into C (undefined behaviour) or aborting the process (Rust >= 1.81).
//!
//! The unit test `every_extern_c_fn_is_inside_the_panic_boundary` (in `ffi/mod.rs`) fails
//! when an `extern "C" fn` in `src/ffi` has a body that is not exactly one
//! `ffi_boundary! { ... }`.

use std::ptr::{null, null_mut};

/// What an exported function returns when its body panicked (`pgpool_code`'s is
/// `PGPOOL_PANIC`, in `error`).
pub(crate) trait PanicDefault {
    fn panic_default() -> Self;
}

impl<T> PanicDefault for *const T {
    fn panic_default() -> Self {
        null()
    }
}

impl<T> PanicDefault for *mut T {
    fn panic_default() -> Self {
        null_mut()
    }
}

macro_rules! zero_default {
    ($($t:ty),*) => {$(
        impl PanicDefault for $t {
            fn panic_default() -> Self {
                Default::default()
            }
        }
    )*};
}
zero_default!((), bool, u32, u64, usize);

/// Runs the body of an exported function, turning a panic into the return type's
/// [`PanicDefault`]. `return` inside the body returns from the function, as usual.
macro_rules! ffi_boundary {
    ( $($body:tt)* ) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(ret) => ret,
            Err(_) => $crate::ffi::panic::PanicDefault::panic_default(),
        }
    };
}
pub(crate) use ffi_boundary;

#[cfg(test)]
mod tests {
    fn panics_with_ptr() -> *const u8 {
        ffi_boundary! {
            let v: Vec<u8> = Vec::new();
            &v[1] as *const u8
        }
    }

    fn returns_early() -> u64 {
        ffi_boundary! {
            if std::hint::black_box(true) {
                return 7;
            }
            8
        }
    }

    #[test]
    fn a_panic_becomes_the_default() {
        assert!(panics_with_ptr().is_null());
        assert_eq!(returns_early(), 7);
    }
}
