//! Connection facts for `info`, `dsn` and `repr`, and psycopg2's `ConnectionInfo`.

use pgpool::config::{ConnectParams, Host};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::Connection;

/// Connection facts for `info`, `dsn` and `repr` (never the password).
pub(crate) struct PublicParams {
    pub(crate) dsn: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) dbname: String,
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
                Some(d) if !d.trim().is_empty() => pgpool::config::redact_dsn(d),
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
        }
    }
}

/// psycopg2's `conn.info` (a subset of `ConnectionInfo`).
#[pyclass(frozen, module = "pgpool._pgpool", name = "ConnectionInfo")]
pub struct ConnectionInfo {
    pub(super) conn: Py<Connection>,
}

#[pymethods]
impl ConnectionInfo {
    #[getter]
    fn transaction_status(&self, py: Python<'_>) -> i32 {
        self.conn.get().get_transaction_status(py)
    }

    #[getter]
    fn backend_pid(&self) -> i32 {
        self.conn.get().backend_pid()
    }

    #[getter]
    fn server_version(&self) -> i32 {
        self.conn.get().server_version_num()
    }

    #[getter]
    fn protocol_version(&self) -> i32 {
        3
    }

    /// `CONNECTION_OK` (0) or `CONNECTION_BAD` (1).
    #[getter]
    fn status(&self) -> i32 {
        i32::from(self.conn.get().closed() != 0)
    }

    #[getter]
    fn dbname(&self) -> String {
        self.conn.get().facts().dbname.clone()
    }

    #[getter]
    fn user(&self) -> String {
        self.conn.get().facts().user.clone()
    }

    #[getter]
    fn host(&self) -> String {
        self.conn.get().facts().host.clone()
    }

    #[getter]
    fn port(&self) -> u16 {
        self.conn.get().facts().port
    }

    #[getter]
    fn ssl_in_use(&self) -> bool {
        false
    }

    fn parameter_status(&self, py: Python<'_>, name: &str) -> Option<String> {
        self.conn.get().get_parameter_status(py, name)
    }

    #[getter]
    fn dsn_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.conn.get().get_dsn_parameters(py)
    }
}
