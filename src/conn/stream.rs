//! The socket: TCP, Unix or TLS streams with blocking reads and a poll interval, and the
//! cancel request (a connection of its own, over TLS when the connection uses it).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres_protocol::message::frontend;

use super::POLL_INTERVAL;
use crate::config::{ConnectParams, Host};
use crate::error::{Error, Result};

pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// TLS over TCP (`src/tls.rs`); boxed: rustls's state is large.
    Tls(Box<crate::tls::TlsStream>),
}

impl Stream {
    pub(super) fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(d),
            Stream::Unix(s) => s.set_read_timeout(d),
            Stream::Tls(s) => s.sock.set_read_timeout(d),
        }
    }
    pub(super) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tls(s) => s.sock.set_nonblocking(on),
        }
    }
    /// The socket's file descriptor (a TLS connection's TCP socket).
    pub(super) fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tls(s) => s.sock.as_raw_fd(),
        }
    }
    pub(super) fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(d),
            Stream::Unix(s) => s.set_write_timeout(d),
            Stream::Tls(s) => s.sock.set_write_timeout(d),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            // A timed-out read (WouldBlock) leaves a partial record in the TLS session;
            // the next read carries on.
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            // Encrypted and written whole (socket errors show now).
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What is needed to cancel the running statement of a connection, from any thread.
#[derive(Debug, Clone)]
pub struct CancelToken {
    pub(super) target: Arc<(Host, u16)>,
    pub(super) connect_timeout: Option<Duration>,
    pub(super) pid: i32,
    pub(super) secret: i32,
    /// Set when the connection uses TLS: the cancel request goes over TLS too.
    pub(super) tls: Option<crate::tls::TlsConnector>,
}

impl CancelToken {
    /// Sends a CancelRequest on a new connection (as libpq's `PQcancel`), over TLS when
    /// the connection uses TLS (as libpq 17's `PQcancelBlocking`: servers and proxies that
    /// only accept TLS connections get the request too).
    pub fn cancel(&self) -> Result<()> {
        let s = open_socket(&self.target.0, self.target.1, self.connect_timeout)
            .map_err(|e| Error::Connection(format!("cancel: {e}")))?;
        let mut s = match (s, &self.tls, &self.target.0) {
            (Stream::Tcp(mut t), Some(tls), Host::Tcp(name)) => {
                let deadline =
                    Instant::now() + self.connect_timeout.unwrap_or(Duration::from_secs(10));
                let cancel_err = |e: Error| Error::Connection(format!("cancel: {e}"));
                t.set_read_timeout(Some(POLL_INTERVAL))
                    .map_err(|e| Error::Connection(format!("cancel: {e}")))?;
                if crate::tls::ssl_request(&mut t, Some(deadline)).map_err(cancel_err)? {
                    let ts =
                        crate::tls::handshake(tls, t, name, Some(deadline)).map_err(cancel_err)?;
                    Stream::Tls(Box::new(ts))
                } else {
                    Stream::Tcp(t)
                }
            }
            (s, _, _) => s,
        };
        let mut buf = BytesMut::with_capacity(16);
        frontend::cancel_request(self.pid, self.secret, &mut buf);
        s.write_all(&buf)
            .map_err(|e| Error::Connection(format!("cancel: {e}")))?;
        // The server closes the connection when it has read the request.
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut b = [0u8; 1];
        let _ = s.read(&mut b);
        Ok(())
    }
}

pub(super) fn open_socket(host: &Host, port: u16, timeout: Option<Duration>) -> io::Result<Stream> {
    match host {
        Host::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            let s = UnixStream::connect(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{} ({e})", path.display())))?;
            Ok(Stream::Unix(s))
        }
        Host::Tcp(name) => {
            let addrs: Vec<SocketAddr> = (name.as_str(), port).to_socket_addrs()?.collect();
            let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{name}: no address"));
            for addr in addrs {
                let r = match timeout {
                    Some(t) => TcpStream::connect_timeout(&addr, t),
                    None => TcpStream::connect(addr),
                };
                match r {
                    Ok(s) => return Ok(Stream::Tcp(s)),
                    Err(e) => last = io::Error::new(e.kind(), format!("{addr}: {e}")),
                }
            }
            Err(last)
        }
    }
}

pub(super) fn configure_tcp(s: &TcpStream, p: &ConnectParams) -> io::Result<()> {
    s.set_nodelay(true)?;
    let sock = socket2::SockRef::from(s);
    if p.keepalives {
        let mut ka = socket2::TcpKeepalive::new()
            .with_time(p.keepalives_idle.unwrap_or(Duration::from_secs(60)));
        if let Some(i) = p.keepalives_interval {
            ka = ka.with_interval(i);
        }
        if let Some(c) = p.keepalives_count {
            ka = ka.with_retries(c);
        }
        sock.set_tcp_keepalive(&ka)?;
    }
    if let Some(t) = p.tcp_user_timeout {
        sock.set_tcp_user_timeout(Some(t))?;
    }
    Ok(())
}
