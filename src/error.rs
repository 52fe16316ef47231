//! The one error type of the core, mapped once to C codes (`src/ffi`) and once to Python
//! exceptions (`bindings/python`).
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

/// A server error (ErrorResponse), with every field the server sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbError {
    /// Severity, localized (`S`).
    pub severity: String,
    /// Severity, never localized (`V`).
    pub severity_nonlocalized: Option<String>,
    /// SQLSTATE code (`C`), e.g. `23505`.
    pub code: String,
    /// Primary message (`M`).
    pub message: String,
    /// Detail (`D`).
    pub detail: Option<String>,
    /// Hint (`H`).
    pub hint: Option<String>,
    /// Cursor position in the statement (`P`).
    pub position: Option<String>,
    /// Internal position (`p`).
    pub internal_position: Option<String>,
    /// Internal query (`q`).
    pub internal_query: Option<String>,
    /// Context (`W`).
    pub context: Option<String>,
    /// Schema name (`s`).
    pub schema_name: Option<String>,
    /// Table name (`t`).
    pub table_name: Option<String>,
    /// Column name (`c`).
    pub column_name: Option<String>,
    /// Data type name (`d`).
    pub datatype_name: Option<String>,
    /// Constraint name (`n`).
    pub constraint_name: Option<String>,
    /// Source file (`F`).
    pub source_file: Option<String>,
    /// Source line (`L`).
    pub source_line: Option<String>,
    /// Source function (`R`).
    pub source_function: Option<String>,
}

impl DbError {
    /// The text psycopg2 puts in `pgerror`: "ERROR:  message\nDETAIL:  ...\nHINT:  ...\n".
    pub fn pgerror(&self) -> String {
        let mut s = format!("{}:  {}\n", self.severity, self.message);
        if let Some(d) = &self.detail {
            s.push_str(&format!("DETAIL:  {d}\n"));
        }
        if let Some(h) = &self.hint {
            s.push_str(&format!("HINT:  {h}\n"));
        }
        s
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "\nDETAIL:  {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nHINT:  {h}")?;
        }
        Ok(())
    }
}

/// Every failure the core reports.
#[derive(Debug, Clone)]
pub enum Error {
    /// Bad configuration; `setting` names the offending setting.
    Config {
        /// The setting (DSN keyword, env variable or argument).
        setting: String,
        /// What is wrong with it.
        message: String,
    },
    /// No connection within the acquire timeout.
    Timeout {
        /// The timeout that elapsed, in seconds.
        timeout_secs: f64,
        /// Connections open when it elapsed.
        size: usize,
        /// Clients waiting when it elapsed.
        waiting: usize,
        /// The last connection error, if connecting failed meanwhile.
        last_error: Option<String>,
    },
    /// The pool is closed.
    Closed,
    /// Too many clients waiting (`max_waiting`).
    TooManyRequests {
        /// The configured limit.
        max_waiting: usize,
    },
    /// Connecting, or the connection broke (socket error, server gone, protocol error).
    Connection(String),
    /// The server reported an error.
    Db(Arc<DbError>),
    /// A parameter, statement or argument the caller passed is unusable.
    InvalidParameter(String),
    /// Client-side interpolation or adaptation of parameters failed (`crate::sql`), with
    /// the exception psycopg2 raises for it.
    Param(ParamError),
    /// The connection is in a state that does not allow the call (closed, busy, ...).
    Interface(String),
    /// The caller's interrupt hook asked to stop (e.g. Ctrl-C); the query was cancelled.
    Interrupted,
    /// Text that cannot be converted between UTF-8 and the connection's client encoding
    /// (`crate::encoding`): nothing was sent, or nothing was read.
    Encoding {
        /// The client encoding (PostgreSQL's name).
        encoding: &'static str,
        /// Python's codec for it (a face may raise the codec's own error).
        python: &'static str,
        /// True when text from the server could not be decoded; false when text for the
        /// server could not be encoded.
        decoding: bool,
        /// The text (UTF-8) or the bytes that failed.
        data: Vec<u8>,
        /// What failed.
        message: String,
    },
}

impl Error {
    /// A configuration error naming `setting`.
    pub fn config(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            setting: setting.into(),
            message: message.into(),
        }
    }

    /// The SQLSTATE of a server error, else `None`.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Db(e) => Some(&e.code),
            _ => None,
        }
    }

    /// True when the connection this came from can no longer be used.
    pub fn is_connection_error(&self) -> bool {
        match self {
            Error::Connection(_) => true,
            // admin_shutdown, crash_shutdown, cannot_connect_now, connection exceptions
            // (not an 08 the server reports as a plain ERROR and carries on after, e.g.
            // 08P01 for a Bind with the wrong number of parameters)
            Error::Db(e) => {
                (e.code.starts_with("08")
                    && e.severity_nonlocalized.as_deref().unwrap_or(&e.severity) != "ERROR")
                    || e.code == "57P01"
                    || e.code == "57P02"
                    || e.code == "57P03"
            }
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { setting, message } => {
                write!(f, "invalid configuration {setting}: {message}")
            }
            Error::Timeout {
                timeout_secs,
                size,
                waiting,
                last_error,
            } => {
                write!(
                    f,
                    "couldn't get a connection after {timeout_secs:.2} sec (pool size {size}, {waiting} waiting)"
                )?;
                if let Some(e) = last_error {
                    write!(f, "; last connection error: {e}")?;
                }
                Ok(())
            }
            Error::Closed => write!(f, "the pool is closed"),
            Error::TooManyRequests { max_waiting } => {
                write!(
                    f,
                    "too many clients waiting for a connection (max_waiting {max_waiting})"
                )
            }
            Error::Connection(m) => write!(f, "{m}"),
            Error::Db(e) => write!(f, "{e}"),
            Error::InvalidParameter(m) => write!(f, "{m}"),
            Error::Param(p) => write!(f, "{p}"),
            Error::Interface(m) => write!(f, "{m}"),
            Error::Interrupted => write!(f, "canceling statement due to user request"),
            Error::Encoding { message, .. } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The exception psycopg2 raises for an interpolation error (see `crate::sql`); the C
/// face reports every kind as `PGPOOL_INVALID_PARAMETER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamErrorKind {
    /// `ProgrammingError`.
    Programming,
    /// `KeyError`: the message is the missing key itself.
    Key,
    /// `IndexError`: more `%s` than values.
    Index,
    /// `TypeError`: fewer `%s` than values (psycopg2 never adapts the surplus ones).
    SurplusValues,
    /// `TypeError`, every other case.
    Type,
    /// `ValueError`.
    Value,
    /// `OverflowError`.
    Overflow,
    /// `RecursionError`.
    Recursion,
}

impl ParamErrorKind {
    /// The name of the Python exception class.
    pub fn python_class(self) -> &'static str {
        match self {
            ParamErrorKind::Programming => "ProgrammingError",
            ParamErrorKind::Key => "KeyError",
            ParamErrorKind::Index => "IndexError",
            ParamErrorKind::SurplusValues | ParamErrorKind::Type => "TypeError",
            ParamErrorKind::Value => "ValueError",
            ParamErrorKind::Overflow => "OverflowError",
            ParamErrorKind::Recursion => "RecursionError",
        }
    }
}

/// An interpolation or adaptation error: which exception psycopg2 raises, and that
/// exception's single argument. Displayed as `"<Class>: <argument>"` (the text the C face
/// reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    /// The exception.
    pub kind: ParamErrorKind,
    /// Its argument (`str(exc)`; for `KeyError`, the key, unquoted).
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.python_class(), self.message)
    }
}
