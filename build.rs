//! Link settings for `libpgpool.so`, the C library (`cargo:rustc-cdylib-link-arg` applies
//! to this crate's cdylib only, never to the rlib or to crates that depend on it).
//!
//! Exports: rustc links a cdylib with its own version script that exports exactly the
//! `#[no_mangle] pub extern "C"` functions (our `pgpool_*`) and hides everything else; a
//! second `--version-script` from here is ignored by ld (tried: restricting it to one
//! symbol changed nothing), so `make -C tests/c check-lib` verifies the export list with
//! `nm -D --defined-only` instead.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    if matches!(
        os.as_str(),
        "linux" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    ) {
        // The SONAME: programs record libpgpool.so.<major> and keep working with any
        // later library of the same major version.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpgpool.so.{major}");
        // Never unloaded: it registers pthread_atfork handlers and keeps runtime threads.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    } else if os == "macos" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libpgpool.{major}.dylib");
    }
}
