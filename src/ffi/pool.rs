//! `pgpool_pool`: creating, sharing, closing and freeing a pool; checking connections
//! out; options and statistics.

use std::ffi::c_char;
use std::mem::{offset_of, size_of};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, PoolConfig, PoolOverrides};
use crate::handles::{self, Kind};
use crate::pool::Pool;

use super::args::{out_arg, str_arg};
use super::conn::pgpool_conn;
use super::error::{finish, pgpool_code, pgpool_error, Failure, FfiResult};
use super::panic::ffi_boundary;

/// A connection pool. Thread-safe: share one `const pgpool_pool *` between all threads.
/// Created by `pgpool_pool_new`, freed (once) by `pgpool_pool_free`.
pub struct pgpool_pool {
    _private: [u8; 0],
}

/// In a numeric field of `pgpool_options`: not set here, so the conninfo, then the
/// environment (`PGPOOL_MAX_SIZE`, ...), then pgpool's default decides.
pub const PGPOOL_DEFAULT: u32 = u32::MAX;

/// Pool settings. Versioned: fields are only ever appended, and `struct_size` tells the
/// library how much of the struct the caller knows. Fill it with `pgpool_options_init`
/// (every numeric field `PGPOOL_DEFAULT`, `pre_ping` true), then set what you need.
///
/// Settings given here win over the conninfo, which wins over the environment, which
/// wins over the defaults (min_size 1, max_size 10, acquire timeout 30 s, max_lifetime
/// 3600 s, max_idle 600 s, pre_ping on, max_waiting 0 = unbounded).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct pgpool_options {
    /// `sizeof(pgpool_options)` as the caller compiled it (set by `pgpool_options_init`).
    pub struct_size: u32,
    /// Connections kept open.
    pub min_size: u32,
    /// Connections at most.
    pub max_size: u32,
    /// Default time `pgpool_acquire` waits for a connection, in ms.
    pub acquire_timeout_ms: u32,
    /// Replace a connection after this long (minus up to 5% jitter), in ms; 0: never.
    pub max_lifetime_ms: u32,
    /// Close idle connections above `min_size` after this long, in ms; 0: never.
    pub max_idle_ms: u32,
    /// Time allowed for opening one connection, in ms; 0: no limit.
    pub connect_timeout_ms: u32,
    /// Check that a connection idle for more than 500 ms is alive before handing it out.
    /// Always applied when options are passed (`pgpool_options_init` sets true).
    pub pre_ping: bool,
    /// Reject `pgpool_acquire` at once (`PGPOOL_TOO_MANY_REQUESTS`) when this many callers
    /// are already waiting; 0: unbounded.
    pub max_waiting: u32,
}

/// The same layout with `pre_ping` as a byte, so copying a caller's bytes in is always
/// valid (a C `bool` other than 0/1 would not be a valid Rust `bool`).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawOptions {
    struct_size: u32,
    min_size: u32,
    max_size: u32,
    acquire_timeout_ms: u32,
    max_lifetime_ms: u32,
    max_idle_ms: u32,
    connect_timeout_ms: u32,
    pre_ping: u8,
    max_waiting: u32,
}

const _: () = {
    assert!(size_of::<RawOptions>() == size_of::<pgpool_options>());
    assert!(offset_of!(RawOptions, pre_ping) == offset_of!(pgpool_options, pre_ping));
    assert!(offset_of!(RawOptions, max_waiting) == offset_of!(pgpool_options, max_waiting));
};

impl pgpool_options {
    const DEFAULTS: pgpool_options = pgpool_options {
        struct_size: size_of::<pgpool_options>() as u32,
        min_size: PGPOOL_DEFAULT,
        max_size: PGPOOL_DEFAULT,
        acquire_timeout_ms: PGPOOL_DEFAULT,
        max_lifetime_ms: PGPOOL_DEFAULT,
        max_idle_ms: PGPOOL_DEFAULT,
        connect_timeout_ms: PGPOOL_DEFAULT,
        pre_ping: true,
        max_waiting: PGPOOL_DEFAULT,
    };
}

impl From<pgpool_options> for RawOptions {
    fn from(o: pgpool_options) -> RawOptions {
        RawOptions {
            struct_size: o.struct_size,
            min_size: o.min_size,
            max_size: o.max_size,
            acquire_timeout_ms: o.acquire_timeout_ms,
            max_lifetime_ms: o.max_lifetime_ms,
            max_idle_ms: o.max_idle_ms,
            connect_timeout_ms: o.connect_timeout_ms,
            pre_ping: o.pre_ping as u8,
            max_waiting: o.max_waiting,
        }
    }
}

/// Reads the caller's options: only `struct_size` bytes of them; fields the caller does
/// not know keep their defaults.
///
/// # Safety
/// `p` points to at least `p->struct_size` readable bytes.
unsafe fn read_options(p: *const pgpool_options) -> Result<RawOptions, Failure> {
    // SAFETY: the first field is always there.
    let size = unsafe { std::ptr::read_unaligned(p as *const u32) } as usize;
    if size < size_of::<u32>() {
        return Err(Failure::invalid(format!(
            "pgpool_options.struct_size is {size}: fill the options with pgpool_options_init first"
        )));
    }
    let mut raw = RawOptions::from(pgpool_options::DEFAULTS);
    let n = size.min(size_of::<RawOptions>());
    // SAFETY: `n` <= the caller's struct_size and <= our size; every bit pattern is a
    // valid RawOptions (integers only).
    unsafe {
        std::ptr::copy_nonoverlapping(p as *const u8, &mut raw as *mut RawOptions as *mut u8, n)
    };
    Ok(raw)
}

/// `PGPOOL_DEFAULT`: not set; else milliseconds, by the core's rule for the acquire
/// timeout ([`config::duration_ms`]).
fn ms(setting: &str, v: u32) -> Result<Option<Duration>, Failure> {
    if v == PGPOOL_DEFAULT {
        return Ok(None);
    }
    Ok(Some(config::duration_ms(setting, v.into())?))
}

/// `PGPOOL_DEFAULT`: not set; else milliseconds by the core's rule for off-able durations
/// ([`config::optional_duration_ms`]: 0 is never).
fn ms_or_never(setting: &str, v: u32) -> Result<Option<Option<Duration>>, Failure> {
    if v == PGPOOL_DEFAULT {
        return Ok(None);
    }
    Ok(Some(config::optional_duration_ms(setting, v.into())?))
}

fn count(v: u32) -> Option<usize> {
    (v != PGPOOL_DEFAULT).then_some(v as usize)
}

fn overrides(o: &RawOptions) -> Result<PoolOverrides, Failure> {
    Ok(PoolOverrides {
        min_size: count(o.min_size),
        max_size: count(o.max_size),
        timeout: ms("pgpool_options.acquire_timeout_ms", o.acquire_timeout_ms)?,
        max_lifetime: ms_or_never("pgpool_options.max_lifetime_ms", o.max_lifetime_ms)?,
        max_idle: ms_or_never("pgpool_options.max_idle_ms", o.max_idle_ms)?,
        pre_ping: Some(o.pre_ping != 0),
        max_waiting: count(o.max_waiting),
        ..PoolOverrides::default()
    })
}

/// Fills the first `size` bytes of `*opts` with the defaults and sets `struct_size` to
/// `size`. Use it through the `pgpool_options_init` inline function of this header,
/// which passes `sizeof(pgpool_options)` as the caller compiled it; bindings from other
/// languages call it directly. NULL `opts` or a `size` below 4 is ignored. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_options_init_sized(opts: *mut pgpool_options, size: usize) {
    ffi_boundary! {
        if opts.is_null() || size < size_of::<u32>() {
            return;
        }
        let mut defaults = pgpool_options::DEFAULTS;
        defaults.struct_size = size.min(u32::MAX as usize) as u32;
        let raw = RawOptions::from(defaults);
        let n = size.min(size_of::<RawOptions>());
        // SAFETY: the caller owns `size` writable bytes at `opts`.
        unsafe {
            std::ptr::copy_nonoverlapping(&raw as *const RawOptions as *const u8, opts as *mut u8, n)
        };
    }
}

/// Creates a pool and writes it to `*out`.
///
/// `conninfo` is a libpq connection string (`host=... port=... dbname=... user=...
/// password=... sslmode=...`) or a `postgresql://` URI; NULL builds it from the
/// environment (`DATABASE_URL`, libpq's `PGHOST`..., `POSTGRES_HOST`...). `opts` may be
/// NULL (the environment and defaults decide; see `pgpool_options`).
///
/// Returns at once: `min_size` connections are opened in the background, and a database
/// that is down is not an error here (`pgpool_acquire` reports it). Bad configuration is
/// `PGPOOL_CONFIG`, with the setting named in the error message.
///
/// On success `*out` is a pool the caller frees with `pgpool_pool_free`, exactly once;
/// on failure `*out` is untouched and, when `err` is not NULL, `*err` receives an error
/// the caller frees with `pgpool_error_free`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_pool_new(
    conninfo: *const c_char,
    opts: *const pgpool_options,
    out: *mut *const pgpool_pool,
    err: *mut *mut pgpool_error,
) -> pgpool_code {
    ffi_boundary! {
        // SAFETY: the caller's pointers, as `new_pool` requires.
        let r = unsafe { new_pool(conninfo, opts, out, None) };
        finish(r, err)
    }
}

/// Supplies the password of each new connection (`pgpool_pool_new_with_password`):
/// writes it, NUL-terminated, into `buf` (`size` bytes) and returns its length (without
/// the NUL); a negative value fails that connection attempt (reported as a connection
/// error naming the callback; the secret is never logged). Called on whichever thread
/// opens a connection (a caller of `pgpool_acquire`, the pool's maintenance thread),
/// possibly on several at once; `userdata` is passed back as given.
pub type pgpool_password_cb = Option<
    unsafe extern "C" fn(userdata: *mut std::ffi::c_void, buf: *mut c_char, size: usize) -> i64,
>;

/// The callback and its userdata, movable to the threads that connect.
struct PasswordCallback {
    cb: unsafe extern "C" fn(*mut std::ffi::c_void, *mut c_char, usize) -> i64,
    userdata: *mut std::ffi::c_void,
}

// SAFETY: the caller promises `userdata` may be used from any thread while the pool lives
// (documented on `pgpool_pool_new_with_password`).
unsafe impl Send for PasswordCallback {}
// SAFETY: as above; the callback is called concurrently by contract.
unsafe impl Sync for PasswordCallback {}

/// The largest password a callback may write (RDS IAM tokens are ~1-2 kB).
const PASSWORD_BUF: usize = 8192;

impl PasswordCallback {
    fn call(&self) -> Result<String, String> {
        let mut buf = vec![0u8; PASSWORD_BUF];
        // SAFETY: `buf` has PASSWORD_BUF writable bytes; the callback's contract.
        let n = unsafe { (self.cb)(self.userdata, buf.as_mut_ptr() as *mut c_char, buf.len()) };
        let out = match usize::try_from(n) {
            Err(_) => Err(format!("the password callback returned {n}")),
            Ok(n) if n >= buf.len() => Err(format!(
                "the password callback returned length {n}, more than its {PASSWORD_BUF}-byte buffer holds"
            )),
            Ok(n) => String::from_utf8(buf[..n].to_vec())
                .map_err(|_| "the password callback wrote a password that is not UTF-8".to_string()),
        };
        // The secret does not stay in freed memory.
        buf.iter_mut().for_each(|b| *b = 0);
        out
    }
}

/// `pgpool_pool_new` with a password callback (see `pgpool_password_cb`): called for
/// every new connection, its answer is the password (rotating secrets, IAM tokens),
/// instead of a password in `conninfo`. `userdata` must stay valid, and usable from any
/// thread, until `pgpool_pool_free` returns. A NULL `cb` is `PGPOOL_NULL_PARAMETER`.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_pool_new_with_password(
    conninfo: *const c_char,
    opts: *const pgpool_options,
    cb: pgpool_password_cb,
    userdata: *mut std::ffi::c_void,
    out: *mut *const pgpool_pool,
    err: *mut *mut pgpool_error,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = match cb {
            None => Err(Failure::null("cb")),
            Some(cb) => {
                let pc = PasswordCallback { cb, userdata };
                let provider: crate::PasswordProvider = Arc::new(move || pc.call());
                // SAFETY: the caller's pointers, as `new_pool` requires.
                unsafe { new_pool(conninfo, opts, out, Some(provider)) }
            }
        };
        finish(r, err)
    }
}

/// The body of `pgpool_pool_new*`.
///
/// # Safety
/// `conninfo` is NULL or NUL-terminated; `opts` is NULL or points to `struct_size`
/// bytes; `out` is writable.
unsafe fn new_pool(
    conninfo: *const c_char,
    opts: *const pgpool_options,
    out: *mut *const pgpool_pool,
    password: Option<crate::PasswordProvider>,
) -> FfiResult {
    (|| {
        let out = out_arg(out, "out")?;
        let dsn = if conninfo.is_null() {
            None
        } else {
            // SAFETY: a NUL-terminated string, by contract.
            Some(unsafe { str_arg(conninfo, "conninfo") }?)
        };
        let raw = if opts.is_null() {
            None
        } else {
            // SAFETY: `opts` points to `struct_size` bytes, by contract.
            Some(unsafe { read_options(opts) }?)
        };
        let ov = match &raw {
            Some(raw) => overrides(raw)?,
            None => PoolOverrides::default(),
        };
        let mut config = PoolConfig::new(dsn, &ov)?;
        // The C API has no readonly checkout: replicas from the environment
        // (`REPLICA_DATABASE_URL`) would only hold connections nobody uses.
        config.replicas.clear();
        if let Some(raw) = &raw {
            // 0: no limit.
            if let Some(t) =
                ms_or_never("pgpool_options.connect_timeout_ms", raw.connect_timeout_ms)?
            {
                config.connect.connect_timeout = t;
            }
        }
        let pool = match password {
            Some(p) => Pool::with_password_provider(config, p)?,
            None => Pool::new(config)?,
        };
        let p = handles::export_pool(pool);
        // SAFETY: `out` is a writable pointer, by contract.
        unsafe { *out = p as *const pgpool_pool };
        Ok(())
    })()
}

/// Drains the pool (deploys, password rotation, failovers): idle connections close now,
/// checked-out ones when they are released (their callers finish undisturbed), and new
/// connections serve `pgpool_acquire` meanwhile. Waits up to `timeout_ms` (negative: no
/// limit; 0: returns at once) for the checked-out ones; `PGPOOL_TIMEOUT` if some are
/// still out then (they are closed when released all the same). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_pool_drain(
    pool: *const pgpool_pool,
    timeout_ms: i32,
    err: *mut *mut pgpool_error,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let pool = pool_arg(pool)?;
            match u64::try_from(timeout_ms) {
                Ok(ms) => pool.drain(Some(config::duration_ms("timeout_ms", ms)?))?,
                Err(_) => pool.drain(None)?,
            }
            Ok(())
        })();
        finish(r, err)
    }
}

/// New connection settings (a conninfo string or URI, as `pgpool_pool_new` takes; the
/// pool settings stay): new connections use them and the connections open now are
/// replaced as they are released (`pgpool_pool_drain` with timeout 0) — for credentials
/// rotated without a restart. Bad settings are `PGPOOL_CONFIG` and change nothing.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_pool_set_conninfo(
    pool: *const pgpool_pool,
    conninfo: *const c_char,
    err: *mut *mut pgpool_error,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let pool = pool_arg(pool)?;
            if conninfo.is_null() {
                return Err(Failure::null("conninfo"));
            }
            // SAFETY: a NUL-terminated string, by contract.
            let dsn = unsafe { str_arg(conninfo, "conninfo") }?;
            let mut config = PoolConfig::new(Some(dsn), &PoolOverrides::default())?;
            if config.connect.connect_timeout.is_none() {
                // `pgpool_options.connect_timeout_ms` is a pool setting: it stays.
                config.connect.connect_timeout = pool.connect_params().connect_timeout;
            }
            pool.set_connect(config.connect)?;
            Ok(())
        })();
        finish(r, err)
    }
}

/// A counted reference to a live pool.
fn pool_arg(pool: *const pgpool_pool) -> Result<Arc<Pool>, Failure> {
    if pool.is_null() {
        return Err(Failure::null("pool"));
    }
    handles::pool_ref(pool as *const Pool)
        .ok_or_else(|| Failure::invalid("`pool` is not a live pool (already freed?)"))
}

/// Closes the pool: callers waiting in `pgpool_acquire` and later calls get
/// `PGPOOL_CLOSED`; idle connections are closed now, checked-out ones when they are
/// released. The handle stays valid until `pgpool_pool_free`. Closing twice is fine.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_pool_close(pool: *const pgpool_pool) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            pool_arg(pool)?.close();
            Ok(())
        })();
        finish(r, std::ptr::null_mut())
    }
}

/// Closes the pool (as `pgpool_pool_close`) and frees the handle. NULL is accepted and
/// ignored. Call exactly once, after every thread is done with the pool (a second call is
/// detected and ignored as long as no new pool got the same address). Connections still
/// checked out stay usable until released.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_pool_free(pool: *const pgpool_pool) {
    ffi_boundary! {
        if pool.is_null() || !handles::unregister(pool as usize, Kind::Pool) {
            return;
        }
        // SAFETY: registered pools come from `Arc::into_raw`; unregistering it handed us
        // its count.
        let pool = unsafe { Arc::from_raw(pool as *const Pool) };
        pool.close();
        drop(pool);
    }
}

/// Checks out a connection, waiting up to `timeout_ms` milliseconds (negative: the pool's
/// acquire timeout; 0: do not wait for other callers to release one, though a new
/// connection may still be opened when the pool has room). Waiters are served in arrival
/// order. While the database is unreachable, connecting is retried until the timeout.
///
/// On success `*out` is a connection owned by the calling thread until it hands it back
/// with `pgpool_release` (exactly once); use it from one thread at a time. Errors:
/// `PGPOOL_TIMEOUT` (the message names the last connection error, if any),
/// `PGPOOL_CLOSED`, `PGPOOL_TOO_MANY_REQUESTS`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_acquire(
    pool: *const pgpool_pool,
    timeout_ms: i32,
    out: *mut *mut pgpool_conn,
    err: *mut *mut pgpool_error,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let pool = pool_arg(pool)?;
            let out = out_arg(out, "out")?;
            // Negative: the pool's default.
            let timeout = match u64::try_from(timeout_ms) {
                Ok(ms) => Some(config::duration_ms("timeout_ms", ms)?),
                Err(_) => None,
            };
            let conn = pool.get(timeout)?;
            let p = super::conn::into_handle(conn);
            // SAFETY: `out` is a writable pointer, by contract.
            unsafe { *out = p };
            Ok(())
        })();
        finish(r, err)
    }
}

/// A snapshot of a pool's statistics: gauges, then counters since the pool was created.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct pgpool_stats {
    /// Connections open (idle + in use).
    pub size: u32,
    /// Idle connections.
    pub available: u32,
    /// Connections checked out.
    pub in_use: u32,
    /// Callers waiting in `pgpool_acquire` now.
    pub waiting: u32,
    /// The configured `min_size`.
    pub min_size: u32,
    /// The configured `max_size`.
    pub max_size: u32,
    /// Checkouts requested.
    pub requests: u64,
    /// Checkouts that timed out.
    pub timeouts: u64,
    /// Total time callers waited for a connection, in microseconds.
    pub wait_us_total: u64,
    /// Connections opened.
    pub connections_created: u64,
    /// Connections found dead (server restarts, killed backends, network errors).
    pub connections_lost: u64,
    /// How long the oldest caller waiting in `pgpool_acquire` now has waited, in
    /// milliseconds (0 when nobody waits): PgBouncer's `maxwait`. Appended later than the
    /// fields above: a caller compiled against an older header does not get it.
    pub oldest_wait_ms: u64,
    /// The longest wait since the pool was created, in milliseconds (a high-water mark).
    pub wait_high_water_ms: u64,
    /// Checkouts given back (returned, or released by `pgpool_release`/`pgpool_discard`).
    /// Appended with the four below, after `wait_high_water_ms`.
    pub returns: u64,
    /// Total time connections were held, checkout to return, in microseconds:
    /// `hold_us_total / returns` is the mean hold (PgBouncer's `avg_xact_time` for
    /// callers that hold a connection per transaction).
    pub hold_us_total: u64,
    /// Transaction blocks on pool connections that ended committed.
    pub xact_committed: u64,
    /// Transaction blocks that ended rolled back (by the caller, a `COMMIT` of a failed
    /// transaction, or the pool's rollback at return).
    pub xact_rolled_back: u64,
    /// Connections returned broken or failing their reset (discarded by the pool).
    pub returns_bad: u64,
}

fn u32_sat(v: usize) -> u32 {
    v.min(u32::MAX as usize) as u32
}

/// Writes a snapshot of the pool's statistics to the first `size` bytes of `*out`. Use it
/// through the `pgpool_pool_stats` inline function of this header, which passes
/// `sizeof(pgpool_stats)` as the caller compiled it (the struct may grow at the end).
/// `size` 0 is `PGPOOL_INVALID_PARAMETER`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_pool_stats_sized(
    pool: *const pgpool_pool,
    out: *mut pgpool_stats,
    size: usize,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let pool = pool_arg(pool)?;
            let out = out_arg(out, "out")?;
            if size == 0 {
                return Err(Failure::invalid("`size` is 0"));
            }
            let s = pool.stats();
            let st = pgpool_stats {
                size: u32_sat(s.pool_size),
                available: u32_sat(s.pool_available),
                in_use: u32_sat(s.in_use),
                waiting: u32_sat(s.requests_waiting),
                min_size: u32_sat(s.pool_min),
                max_size: u32_sat(s.pool_max),
                requests: s.requests_num,
                timeouts: s.requests_timeouts,
                wait_us_total: s.requests_wait_us,
                connections_created: s.connections_num,
                connections_lost: s.connections_lost,
                oldest_wait_ms: s.oldest_wait_ms,
                wait_high_water_ms: s.max_wait_ms,
                returns: s.returns_num,
                hold_us_total: s.usage_us,
                xact_committed: s.xact_committed,
                xact_rolled_back: s.xact_rolled_back,
                returns_bad: s.returns_bad,
            };
            let n = size.min(size_of::<pgpool_stats>());
            // SAFETY: the caller owns `size` writable bytes at `out`.
            unsafe {
                std::ptr::copy_nonoverlapping(&st as *const pgpool_stats as *const u8, out as *mut u8, n)
            };
            Ok(())
        })();
        finish(r, std::ptr::null_mut())
    }
}

/// Writes the pool's statistics in the Prometheus text exposition format (version 0.0.4)
/// to `*out`: the same text as the Python module's `pool.prometheus()`. Gauges
/// `pgpool_pool_size`, `pgpool_pool_idle`, `pgpool_pool_in_use`, `pgpool_requests_waiting`,
/// `pgpool_pool_min`, `pgpool_pool_max`, `pgpool_utilization`; counters
/// `pgpool_requests_total`, `pgpool_requests_timeouts_total`,
/// `pgpool_connections_created_total`, `pgpool_connections_lost_total` and more; the
/// histogram `pgpool_acquire_wait_seconds`. Every sample has a `pool` label ("default"
/// for pools made by `pgpool_pool_new`). Serve it with the content type
/// `text/plain; version=0.0.4`.
///
/// On success `*out` is a NUL-terminated string the caller frees with
/// `pgpool_string_free` (exactly once), and `*len`, when `len` is not NULL, its length in
/// bytes without the NUL; on failure neither is written. Works on a closed pool too.
/// Errors: `PGPOOL_NULL_PARAMETER` (`pool` or `out` NULL), `PGPOOL_INVALID_PARAMETER`
/// (`pool` is not a live pool). Thread-safe; takes no lock a checkout waits for.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_pool_prometheus(
    pool: *const pgpool_pool,
    out: *mut *mut c_char,
    len: *mut usize,
) -> pgpool_code {
    ffi_boundary! {
        let r: FfiResult = (|| {
            let pool = pool_arg(pool)?;
            let out = out_arg(out, "out")?;
            let (p, n) = super::string::into_handle(pool.prometheus());
            // SAFETY: `out` (and `len` when not NULL) are writable pointers, by contract.
            unsafe {
                *out = p;
                if !len.is_null() {
                    *len = n;
                }
            }
            Ok(())
        })();
        finish(r, std::ptr::null_mut())
    }
}

/// The library's version, e.g. "0.1.0" (the header's `PGPOOL_VERSION_STRING` is the
/// version it was generated for). A static string; thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pgpool_version() -> *const c_char {
    ffi_boundary! {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shorter_options_struct_reads_only_its_fields() {
        // A caller that knows only struct_size, min_size and max_size.
        let old: [u32; 3] = [12, 2, 7];
        let raw = unsafe { read_options(old.as_ptr() as *const pgpool_options) }.unwrap();
        assert_eq!((raw.min_size, raw.max_size), (2, 7));
        assert_eq!(raw.acquire_timeout_ms, PGPOOL_DEFAULT);
        assert_eq!(raw.pre_ping, 1);
        assert_eq!(raw.max_waiting, PGPOOL_DEFAULT);
        let zero: [u32; 1] = [0];
        assert!(unsafe { read_options(zero.as_ptr() as *const pgpool_options) }.is_err());
    }

    #[test]
    fn init_writes_only_size_bytes() {
        let mut buf = [0xAAu8; 64];
        pgpool_options_init_sized(buf.as_mut_ptr() as *mut pgpool_options, 12);
        assert_eq!(&buf[0..4], &12u32.to_ne_bytes());
        assert_eq!(&buf[4..8], &PGPOOL_DEFAULT.to_ne_bytes());
        assert!(buf[12..].iter().all(|b| *b == 0xAA));
    }
}
