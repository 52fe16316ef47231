//! Connection facts for `info`, `dsn` and `repr`, and psycopg2's `ConnectionInfo`.

use pgpool::config::{ConnectParams, Host};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::Connection;

/// Connection facts for `info`, `dsn` and `repr`. The password is kept for
/// `info.password` only (psycopg2's `PQpass`): `dsn` and `repr` never show it.
pub(crate) struct PublicParams {
    pub(crate) dsn: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) dbname: String,
    pub(crate) options: String,
    pub(crate) password: Option<String>,
}

impl PublicParams {
    pub(crate) fn new(p: &ConnectParams, dsn: Option<&str>) -> PublicParams {
        let host = match p.hosts.first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(d)) => d.display().to_string(),
            None => String::new(),
        };
        PublicParams {
            dsn: match dsn {
                Some(d) if !d.trim().is_empty() => pgpool::config::obscure_password(d),
                _ => p.describe(),
            },
            host,
            port: p
                .ports
                .first()
                .copied()
                .unwrap_or(pgpool::config::DEFAULT_PORT),
            user: p.user.clone(),
            dbname: p.dbname.clone(),
            options: p.options.clone().unwrap_or_default(),
            password: p.password.clone(),
        }
    }
}

/// psycopg2's `conn.info` (a subset of `ConnectionInfo`).
#[pyclass(frozen, module = "pgpool._pgpool", name = "ConnectionInfo")]
pub struct ConnectionInfo {
    pub(super) conn: Py<Connection>,
}

impl ConnectionInfo {
    fn facts(&self) -> Option<&PublicParams> {
        self.conn.get().facts_if_connected()
    }

    /// `f` of the core connection, `None` when there is none (closed, never opened).
    fn of_core<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&pgpool::Connection) -> T + Send,
    ) -> Option<T> {
        self.conn.get().locked(py, |st| st.conn_ref().map(f))
    }
}

#[pymethods]
impl ConnectionInfo {
    #[getter]
    fn transaction_status(&self, py: Python<'_>) -> i32 {
        self.conn.get().get_transaction_status(py)
    }

    /// libpq's `PQerrorMessage`: the error of the last statement (`pgerror`), `None`
    /// after one that succeeded.
    #[getter]
    fn error_message(&self) -> Option<String> {
        self.conn.get().error_message()
    }

    #[getter]
    fn backend_pid(&self) -> i32 {
        self.conn.get().backend_pid()
    }

    #[getter]
    fn server_version(&self) -> i32 {
        self.conn.get().server_version_num()
    }

    /// 3, or 0 when not connected (libpq's `PQprotocolVersion`).
    #[getter]
    fn protocol_version(&self) -> i32 {
        if self.facts().is_some() {
            3
        } else {
            0
        }
    }

    /// `CONNECTION_OK` (0) or `CONNECTION_BAD` (1).
    #[getter]
    fn status(&self) -> i32 {
        i32::from(self.conn.get().closed() != 0)
    }

    /// `None` when not connected (as every string fact below).
    #[getter]
    fn dbname(&self) -> Option<String> {
        self.facts().map(|f| f.dbname.clone())
    }

    #[getter]
    fn user(&self) -> Option<String> {
        self.facts().map(|f| f.user.clone())
    }

    /// The password the connection was opened with (`""` when none), as libpq's
    /// `PQpass`.
    #[getter]
    fn password(&self) -> Option<String> {
        self.facts().map(|f| f.password.clone().unwrap_or_default())
    }

    #[getter]
    fn host(&self) -> Option<String> {
        self.facts().map(|f| f.host.clone())
    }

    #[getter]
    fn port(&self) -> Option<u16> {
        self.facts().map(|f| f.port)
    }

    /// The `options` sent at startup (`""` when none).
    #[getter]
    fn options(&self) -> Option<String> {
        self.facts().map(|f| f.options.clone())
    }

    /// The socket's file descriptor, -1 when not connected.
    #[getter]
    fn socket(&self, py: Python<'_>) -> i32 {
        self.of_core(py, |c| c.raw_fd()).unwrap_or(-1)
    }

    /// False: an open connection needs no password (libpq's
    /// `PQconnectionNeedsPassword`; a connection that lacked one failed to open).
    #[getter]
    fn needs_password(&self) -> bool {
        false
    }

    /// The server asked for the password at startup.
    #[getter]
    fn used_password(&self, py: Python<'_>) -> bool {
        self.of_core(py, |c| c.used_password()).unwrap_or(false)
    }

    /// The connection uses TLS.
    #[getter]
    fn ssl_in_use(&self, py: Python<'_>) -> bool {
        self.of_core(py, |c| c.ssl_in_use()).unwrap_or(false)
    }

    fn parameter_status(&self, py: Python<'_>, name: &str) -> Option<String> {
        self.conn.get().get_parameter_status(py, name)
    }

    #[getter]
    fn dsn_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.conn.get().get_dsn_parameters(py)
    }
}
