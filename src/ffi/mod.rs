//! The C ABI (`libpgpool.so`, `include/pgpool.h`; README, "C"): `extern "C"` glue over the
//! core, and nothing else: no pool logic lives here.
//!
//! Layout, after rustls-ffi: one module per C "class" ([`pool`], [`conn`], [`result`],
//! [`error`], [`string`], [`logging`]) plus the panic boundary ([`panic`]) and argument
//! checks ([`args`]). The table of live handles is the core's (`crate::handles`), shared
//! with the Python face's pools lent to C.
//!
//! Conventions every function follows:
//! - its body is one `ffi_boundary! { ... }`: a panic becomes `PGPOOL_PANIC` (or NULL, 0)
//!   and never unwinds into C (checked by a test below);
//! - NULL pointers are `PGPOOL_NULL_PARAMETER` (accessors return NULL/0/"" instead);
//! - outputs (`*out`) are written only on success, `*err` only on failure;
//! - ownership is in the types: the pool is an `Arc` handed out as `const pgpool_pool *`,
//!   a checked-out connection a `Box` as `pgpool_conn *`, results and errors `Box`es the
//!   caller frees; every `*_free` (and `pgpool_release`) accepts NULL;
//! - codes are returned as `pgpool_code` and taken as `uint32_t`, never as the enum.
#![allow(non_camel_case_types, unsafe_code)]
// The exported functions are safe to call from C's point of view: they check every
// pointer they can (NULL, live handles) and document the rest (valid strings, sizes).
// Marking them `unsafe fn` would change nothing for C callers.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

// The modules, in the order the header presents them (blank lines between them keep
// rustfmt from sorting them).
pub mod pool;

pub mod conn;

pub mod result;

pub mod error;

pub mod string;

pub mod logging;

mod args;
mod panic;

// What the header promises about threads, checked: a pool is shared between threads, a
// connection may move to another thread, a result is read from many at once.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<crate::pool::Pool>();
    send::<crate::pool::PooledConnection>();
    send_sync::<crate::result::QueryResult>();
};

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Skips a string literal starting at `i` (at the opening quote); returns the index
    /// after it.
    fn skip_string(b: &[u8], mut i: usize) -> usize {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        i
    }

    /// The index of the bracket closing the one at `open`, skipping strings, char
    /// literals of brackets and comments.
    fn matching(b: &[u8], open: usize) -> usize {
        let (o, c) = (b[open], if b[open] == b'{' { b'}' } else { b')' });
        let mut depth = 0usize;
        let mut i = open;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    i = skip_string(b, i);
                    continue;
                }
                b'\'' if i + 2 < b.len() && b[i + 2] == b'\'' => {
                    i += 3;
                    continue;
                }
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                x if x == o => depth += 1,
                x if x == c => {
                    depth -= 1;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        panic!("unbalanced brackets");
    }

    fn skip_ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    }

    /// Every `extern "C" fn` with a body in `code`: (name, body is exactly one
    /// `ffi_boundary! { ... }`).
    fn check_source(text: &str) -> Vec<(String, bool)> {
        // Drop line comments (docs may mention `extern "C" fn`).
        let code: String = text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("//") {
                    ""
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let b = code.as_bytes();
        let needle = "extern \"C\" fn";
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(pos) = code[from..].find(needle) {
            let start = from + pos + needle.len();
            from = start;
            let i = skip_ws(b, start);
            if b[i] == b'(' {
                continue; // a function pointer type, no body
            }
            let name: String = code[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let params = code[i..].find('(').unwrap() + i;
            let after_params = matching(b, params) + 1;
            let body_open = code[after_params..].find(['{', ';']).unwrap() + after_params;
            if b[body_open] == b';' {
                continue; // a declaration
            }
            let body_close = matching(b, body_open);
            let j = skip_ws(b, body_open + 1);
            let mut ok = code[j..].starts_with("ffi_boundary!");
            if ok {
                let k = skip_ws(b, j + "ffi_boundary!".len());
                ok = b[k] == b'{' && skip_ws(b, matching(b, k) + 1) == body_close;
            }
            found.push((name, ok));
        }
        found
    }

    /// [`check_source`] over every file of src/ffi: (file, name, ok).
    fn extern_fns() -> Vec<(String, String, bool)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (name, ok) in check_source(&text) {
                found.push((path.display().to_string(), name, ok));
            }
        }
        found
    }

    #[test]
    fn every_extern_c_fn_is_inside_the_panic_boundary() {
        let fns = extern_fns();
        let missing: Vec<_> = fns.iter().filter(|f| !f.2).collect();
        assert!(
            missing.is_empty(),
            "extern \"C\" functions whose body is not exactly one ffi_boundary! {{ ... }}: {missing:?}"
        );
        // Not vacuous: every exported function was seen.
        assert!(
            fns.len() >= 25,
            "only {} extern \"C\" functions found",
            fns.len()
        );
        for f in [
            "pgpool_pool_new",
            "pgpool_exec",
            "pgpool_result_value",
            "pgpool_error_free",
        ] {
            assert!(fns.iter().any(|x| x.1 == f), "{f} not found");
        }
    }

    #[test]
    fn the_checker_catches_a_missing_boundary() {
        let src = r#"
            /// Docs may say XC fn anything.
            pub XC fn good(a: u32) -> u32 {
                ffi_boundary! { let s = "}{"; let c = '}'; a + s.len() as u32 + c as u32 }
            }
            pub XC fn bare(a: u32) -> u32 { a }
            pub XC fn late(a: u32) -> u32 { let b = a; ffi_boundary! { b } }
            pub XC fn trailing(a: u32) -> u32 { ffi_boundary! { a }; 0 }
            unsafe XC { fn declared(x: u32); }
            static HOOK: Option<XC fn()> = None;
        "#
        .replace("XC", "extern \"C\""); // (not spelled out: this file is scanned too)
        let got = check_source(&src);
        let want: Vec<(String, bool)> = [
            ("good", true),
            ("bare", false),
            ("late", false),
            ("trailing", false),
        ]
        .iter()
        .map(|(n, ok)| (n.to_string(), *ok))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn header_version_macros_match_cargo_toml() {
        let h =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pgpool.h"))
                .unwrap();
        let want = [
            (
                "PGPOOL_VERSION_MAJOR",
                env!("CARGO_PKG_VERSION_MAJOR").to_string(),
            ),
            (
                "PGPOOL_VERSION_MINOR",
                env!("CARGO_PKG_VERSION_MINOR").to_string(),
            ),
            (
                "PGPOOL_VERSION_PATCH",
                env!("CARGO_PKG_VERSION_PATCH").to_string(),
            ),
            (
                "PGPOOL_VERSION_STRING",
                format!("\"{}\"", env!("CARGO_PKG_VERSION")),
            ),
        ];
        for (name, value) in want {
            let line = format!("#define {name} {value}");
            assert!(
                h.lines().any(|l| l.trim_end() == line),
                "include/pgpool.h lacks `{line}`"
            );
        }
    }
}
