//! pgpool: a PostgreSQL connection pool whose connections are driven by the thread that
//! holds them. See `docs/DESIGN.md`.
#![warn(missing_docs, unreachable_pub)]

mod atfork;
pub mod config;
pub mod conn;
pub mod encoding;
pub mod error;
pub mod handles;
pub mod lexer;
pub mod listen;
pub mod pool;
pub mod result;
pub mod runtime;
pub mod session;
pub mod sql;
pub mod statements;
pub mod stats;
pub mod tls;
pub mod tpc;
pub mod transaction;
pub mod types;

pub mod ffi;

pub use config::PoolConfig;
pub use conn::{Connection, Interrupt, TxStatus};
pub use error::{DbError, Error};
pub use listen::Listener;
pub use pool::{PasswordProvider, Pool, PooledConnection};
pub use result::{Column, QueryResult};
pub use stats::Stats;

/// The crate version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
