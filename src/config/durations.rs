//! Durations: one rule per kind of setting, for every face (Python keyword arguments, the
//! environment, the C API's `pgpool_options`).
#![forbid(unsafe_code)]

use std::time::Duration;

use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------
// Durations: one rule per kind of setting, for every face (Python keyword arguments, the
// environment, the C API's `pgpool_options`), so that a value means the same thing
// wherever it is given and nothing out of range reaches the clock arithmetic.

/// The longest duration any setting takes: 100 years (3,155,760,000 s, 365.25-day years).
///
/// Every instant pgpool computes from a setting (`now + timeout`, `now + max_lifetime`, the
/// coarse clock's 32.32 fixed point, which overflows past 2^32 s) stays representable
/// below this bound, so no setting can make the arithmetic overflow or panic.
pub const MAX_DURATION: Duration = Duration::from_secs(3_155_760_000);

/// A duration setting that always has a value: the acquire `timeout` (also a per-call
/// timeout). Seconds, fractions allowed, from 0 to [`MAX_DURATION`]: NaN, infinity, a
/// negative number or more than 100 years is an error naming `setting`.
pub fn duration_secs(setting: &str, secs: f64) -> Result<Duration> {
    if secs.is_nan() {
        return Err(Error::config(setting, "NaN is not a number of seconds"));
    }
    if secs < 0.0 {
        return Err(Error::config(
            setting,
            format!("must not be negative, got {secs}"),
        ));
    }
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(Error::config(
            setting,
            format!(
                "{secs} s is out of range (at most {} s, 100 years)",
                MAX_DURATION.as_secs()
            ),
        ));
    }
    // In range: cannot fail (and never panics, unlike `from_secs_f64`).
    Duration::try_from_secs_f64(secs).map_err(|e| Error::config(setting, e.to_string()))
}

/// A duration setting that can be off: `max_lifetime`, `max_idle`, `leak_threshold`,
/// `command_timeout`. Seconds, fractions allowed. `0`, `-1` (SQLAlchemy's
/// `pool_recycle=-1`) and `+inf` mean off (`None`), and so does anything longer than
/// [`MAX_DURATION`] (100 years: "never" in practice, as infinity). NaN and any other
/// negative number are errors naming `setting`.
pub fn optional_duration_secs(setting: &str, secs: f64) -> Result<Option<Duration>> {
    if secs.is_nan() {
        return Err(Error::config(
            setting,
            "NaN is not a number of seconds (use 0, -1 or inf for off)",
        ));
    }
    if secs == 0.0 || secs == -1.0 || secs > MAX_DURATION.as_secs_f64() {
        return Ok(None);
    }
    if secs < 0.0 {
        return Err(Error::config(
            setting,
            format!("must not be negative, got {secs} (use 0, -1 or inf for off)"),
        ));
    }
    duration_secs(setting, secs).map(Some)
}

/// [`duration_secs`] for a whole number of milliseconds (the C API's `*_ms` fields).
pub fn duration_ms(setting: &str, ms: u64) -> Result<Duration> {
    let d = Duration::from_millis(ms);
    if d > MAX_DURATION {
        return Err(Error::config(
            setting,
            format!(
                "{ms} ms is out of range (at most {} ms, 100 years)",
                MAX_DURATION.as_millis()
            ),
        ));
    }
    Ok(d)
}

/// [`optional_duration_secs`] for a whole number of milliseconds (the C API's `*_ms`
/// fields): 0 means off, as does more than 100 years.
pub fn optional_duration_ms(_setting: &str, ms: u64) -> Result<Option<Duration>> {
    let d = Duration::from_millis(ms);
    Ok((!d.is_zero() && d <= MAX_DURATION).then_some(d))
}

/// The number of seconds in an environment value: a decimal number, fractions and
/// exponents allowed, `inf`/`infinity` too (Rust's `f64` syntax); `None` when it is not
/// a number (NaN is a number here: the kinds reject it with their own message).
pub(super) fn env_seconds(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok()
}

/// An environment value for a [`duration_secs`] setting.
pub(super) fn parse_duration(setting: &str, value: &str) -> Result<Duration> {
    match env_seconds(value) {
        Some(secs) if secs.is_finite() => duration_secs(setting, secs),
        _ => Err(Error::config(
            setting,
            format!("invalid number of seconds '{}'", value.trim()),
        )),
    }
}

/// An environment value for an [`optional_duration_secs`] setting; `off`, `never`,
/// `none`, `false` and `no` mean off as well.
pub(super) fn parse_optional_duration(setting: &str, value: &str) -> Result<Option<Duration>> {
    let t = value.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "off" | "never" | "none" | "false" | "no") {
        return Ok(None);
    }
    match env_seconds(value) {
        Some(secs) => optional_duration_secs(setting, secs),
        None => Err(Error::config(
            setting,
            format!("invalid number of seconds '{}'", value.trim()),
        )),
    }
}
