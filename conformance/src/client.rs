//! A small synchronous RESP client for tests: sends commands (or raw bytes) and returns each
//! reply both parsed ([`Frame`]) and as the exact bytes the server sent.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use compat::resp::{parse_frame, Frame, FrameError};

/// One reply: the parsed frame and its raw bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub frame: Frame,
    pub raw: Vec<u8>,
}

impl Reply {
    pub fn is_error(&self) -> bool {
        self.frame.is_error()
    }

    /// The error text of an error reply.
    pub fn error_text(&self) -> Option<String> {
        match &self.frame {
            Frame::Error(e) => Some(String::from_utf8_lossy(e).into_owned()),
            _ => None,
        }
    }
}

/// Why a reply could not be read.
#[derive(Debug)]
pub enum ConnError {
    /// The server closed the connection.
    Closed,
    /// No complete reply within the timeout.
    Timeout,
    /// The bytes are not RESP.
    Protocol(FrameError),
    Io(io::Error),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Closed => write!(f, "connection closed by the server"),
            ConnError::Timeout => write!(f, "timed out waiting for a reply"),
            ConnError::Protocol(e) => write!(f, "malformed reply: {e}"),
            ConnError::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for ConnError {}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof => {
                ConnError::Closed
            }
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ConnError::Timeout,
            _ => ConnError::Io(e),
        }
    }
}

/// A client connection.
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
    pub port: u16,
}

impl Conn {
    pub fn connect(port: u16) -> io::Result<Conn> {
        Conn::connect_timeout(port, Duration::from_secs(5))
    }

    pub fn connect_timeout(port: u16, timeout: Duration) -> io::Result<Conn> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: BytesMut::with_capacity(16 * 1024), timeout: Duration::from_secs(10), port })
    }

    /// How long [`Conn::read`] waits for a complete reply (default 10 s).
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Encodes `args` as a multibulk request and sends it.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        let mut out = BytesMut::new();
        Frame::command(args).encode(&mut out);
        self.stream.write_all(&out)
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends a command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ConnError> {
        self.send(args)?;
        self.read()
    }

    /// Sends a command and returns the reply frame; panics on I/O errors (for test set-up).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        match self.call(args) {
            Ok(r) => r.frame,
            Err(e) => panic!("{}: {e}", crate::render::args(args)),
        }
    }

    /// Reads one reply.
    pub fn read(&mut self) -> Result<Reply, ConnError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((frame, n))) => {
                    let raw = self.buf.split_to(n).to_vec();
                    return Ok(Reply { frame, raw });
                }
                Ok(None) => {}
                Err(e) => return Err(ConnError::Protocol(e)),
            }
            self.fill(deadline)?;
        }
    }

    /// Reads more bytes into the buffer, waiting at most until `deadline`.
    fn fill(&mut self, deadline: Instant) -> Result<(), ConnError> {
        let now = Instant::now();
        if now >= deadline {
            return Err(ConnError::Timeout);
        }
        self.stream.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Bytes received but not consumed by a reply yet.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Waits up to `wait` for the server to close the connection. Returns true when it did (EOF or
    /// reset); bytes that arrive meanwhile are kept for [`Conn::read`].
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            match self.fill(deadline) {
                Ok(()) => continue,
                Err(ConnError::Closed) => return true,
                Err(ConnError::Timeout) => return false,
                Err(_) => return true,
            }
        }
    }

    /// Reads until `n` bytes are buffered, the server closes, or `wait` passes; returns the
    /// buffered bytes (at most `n`) and whether the server closed the connection.
    pub fn read_raw(&mut self, n: usize, wait: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + wait;
        let mut closed = false;
        while self.buf.len() < n {
            match self.fill(deadline) {
                Ok(()) => {}
                Err(ConnError::Timeout) => break,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        let take = n.min(self.buf.len());
        (self.buf.split_to(take).to_vec(), closed)
    }

    /// Reads everything the server sends until it closes the connection or `wait` passes.
    /// Returns the bytes and whether the connection was closed.
    pub fn drain_until_close(&mut self, wait: Duration) -> (Vec<u8>, bool) {
        let closed = self.closed_within(wait);
        (self.buf.split().to_vec(), closed)
    }
}
