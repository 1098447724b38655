//! The source's TCP link to a migration target: whole writes and RESP replies, each bounded by
//! the command's timeout.

use std::time::Duration;

use bytes::BytesMut;
use compat::resp::{parse_frame, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What went wrong talking to the target (the target's address is in the message).
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connect to target {addr}: {why}")]
    Connect { addr: String, why: String },
    #[error("write to target {addr}: {why}")]
    Write { addr: String, why: String },
    #[error("read from target {addr}: {why}")]
    Read { addr: String, why: String },
    #[error("target {addr} timed out")]
    Timeout { addr: String },
    #[error("target {addr} closed the connection")]
    Closed { addr: String },
    #[error("target {addr} sent a malformed reply: {why}")]
    Protocol { addr: String, why: String },
}

impl LinkError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, LinkError::Timeout { .. })
    }
}

pub struct TargetConn {
    stream: TcpStream,
    rbuf: BytesMut,
    pub addr: String,
    /// The db selected on the target (sync links send SELECT when it changes).
    pub db: Option<usize>,
    /// When the link was last used (unix ms).
    pub last_use_ms: i64,
}

impl TargetConn {
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TargetConn, LinkError> {
        let addr = format!("{host}:{port}");
        let stream = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
            Err(_) => return Err(LinkError::Timeout { addr }),
            Ok(Err(e)) => return Err(LinkError::Connect { addr, why: e.to_string() }),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        tracing::info!("slotsmgrt: connect to target {addr}");
        Ok(TargetConn { stream, rbuf: BytesMut::with_capacity(16 * 1024), addr, db: None, last_use_ms: 0 })
    }

    pub async fn send(&mut self, buf: &[u8], timeout: Duration) -> Result<(), LinkError> {
        match tokio::time::timeout(timeout, self.stream.write_all(buf)).await {
            Err(_) => Err(LinkError::Timeout { addr: self.addr.clone() }),
            Ok(Err(e)) => Err(LinkError::Write { addr: self.addr.clone(), why: e.to_string() }),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads one reply; `timeout` bounds the wait for it.
    pub async fn read_frame(&mut self, timeout: Duration) -> Result<Frame, LinkError> {
        loop {
            match parse_frame(&self.rbuf) {
                Ok(Some((frame, used))) => {
                    let _ = self.rbuf.split_to(used);
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(e) => return Err(LinkError::Protocol { addr: self.addr.clone(), why: e.to_string() }),
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(64 * 1024);
            }
            match tokio::time::timeout(timeout, self.stream.read_buf(&mut self.rbuf)).await {
                Err(_) => return Err(LinkError::Timeout { addr: self.addr.clone() }),
                Ok(Err(e)) => return Err(LinkError::Read { addr: self.addr.clone(), why: e.to_string() }),
                Ok(Ok(0)) => return Err(LinkError::Closed { addr: self.addr.clone() }),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// An idle cached link is usable if the peer neither closed it nor sent anything.
    pub fn is_reusable(&self, now_ms: i64, idle_ms: i64) -> bool {
        if now_ms - self.last_use_ms > idle_ms || !self.rbuf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        match self.stream.try_read(&mut probe) {
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }
}
