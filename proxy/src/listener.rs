//! The client listener: TCP (`proto_type` "tcp", "tcp4", "tcp6") or a Unix socket ("unix",
//! "unixpacket"), as Go's `net.Listen(proto_type, proxy_addr)` accepts.
//!
//! Sessions are generic over [`ClientIo`], so the TCP path pays nothing for the other kinds.
//! A "unixpacket" (SOCK_SEQPACKET) connection is read and written like a stream: every read
//! takes one message whole (the buffer is larger than any message a client sends in one write),
//! and the RESP decoder does not care where messages begin.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A client connection as the session uses it.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {
    /// Ready when a read would not block (tokio's `poll_read_ready`).
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl ClientIo for TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }
}

impl ClientIo for UnixStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        UnixStream::poll_read_ready(self, cx)
    }
}

/// One accepted client.
pub enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
    Packet(SeqPacket),
}

/// A bound client listener of one of the kinds Go accepts.
pub enum Listener {
    Tcp(TcpListener),
    /// The socket file is removed when the proxy closes (as Go's `UnixListener.Close` does).
    Unix(UnixListener, PathBuf),
    Packet(AsyncFd<OwnedFd>, PathBuf),
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Listener {
        Listener::Tcp(l)
    }
}

/// A listener's descriptor, to be registered again with another worker's runtime.
pub enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener, PathBuf),
    Packet(OwnedFd, PathBuf),
}

/// True for the `proto_type` values of Unix sockets.
pub fn is_unix(proto: &str) -> bool {
    matches!(proto, "unix" | "unixpacket")
}

impl Listener {
    /// Binds `addr` for `proto` ("tcp", "tcp4", "tcp6", "unix", "unixpacket").
    pub async fn bind(proto: &str, addr: &str) -> io::Result<Listener> {
        match proto {
            "unix" => Ok(Listener::Unix(UnixListener::bind(addr)?, PathBuf::from(addr))),
            "unixpacket" => {
                let fd = bind_seqpacket(Path::new(addr))?;
                Ok(Listener::Packet(register(fd, Interest::READABLE)?, PathBuf::from(addr)))
            }
            _ => {
                let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr).await?.collect();
                match proto {
                    "tcp4" => addrs.retain(|a| a.is_ipv4()),
                    "tcp6" => addrs.retain(|a| a.is_ipv6()),
                    _ => {}
                }
                let Some(first) = addrs.first() else {
                    return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, "no suitable address"));
                };
                Ok(Listener::Tcp(TcpListener::bind(first).await?))
            }
        }
    }

    /// The TCP address, or `None` for a Unix socket.
    pub fn tcp_addr(&self) -> Option<io::Result<SocketAddr>> {
        match self {
            Listener::Tcp(l) => Some(l.local_addr()),
            _ => None,
        }
    }

    /// The address as Go's `Listener.Addr().String()` shows it (the path for Unix sockets).
    pub fn addr_string(&self) -> io::Result<String> {
        match self {
            Listener::Tcp(l) => Ok(l.local_addr()?.to_string()),
            Listener::Unix(_, p) | Listener::Packet(_, p) => Ok(p.display().to_string()),
        }
    }

    pub async fn accept(&self) -> io::Result<Client> {
        match self {
            Listener::Tcp(l) => Ok(Client::Tcp(l.accept().await?.0)),
            Listener::Unix(l, _) => Ok(Client::Unix(l.accept().await?.0)),
            Listener::Packet(l, _) => loop {
                let mut guard = l.readable().await?;
                match guard.try_io(|fd| accept_nonblocking(fd.get_ref())) {
                    Ok(r) => return Ok(Client::Packet(SeqPacket::new(r?)?)),
                    Err(_would_block) => continue,
                }
            },
        }
    }

    /// The descriptor, detached from this runtime.
    pub fn into_std(self) -> io::Result<StdListener> {
        match self {
            Listener::Tcp(l) => Ok(StdListener::Tcp(l.into_std()?)),
            Listener::Unix(l, p) => Ok(StdListener::Unix(l.into_std()?, p)),
            Listener::Packet(fd, p) => Ok(StdListener::Packet(fd.into_inner(), p)),
        }
    }
}

impl StdListener {
    pub fn try_clone(&self) -> io::Result<StdListener> {
        match self {
            StdListener::Tcp(l) => Ok(StdListener::Tcp(l.try_clone()?)),
            StdListener::Unix(l, p) => Ok(StdListener::Unix(l.try_clone()?, p.clone())),
            StdListener::Packet(fd, p) => Ok(StdListener::Packet(fd.try_clone()?, p.clone())),
        }
    }

    /// Registers the descriptor with the calling runtime.
    pub fn into_tokio(self) -> io::Result<Listener> {
        match self {
            StdListener::Tcp(l) => Ok(Listener::Tcp(TcpListener::from_std(l)?)),
            StdListener::Unix(l, p) => Ok(Listener::Unix(UnixListener::from_std(l)?, p)),
            StdListener::Packet(fd, p) => Ok(Listener::Packet(register(fd, Interest::READABLE)?, p)),
        }
    }
}

/// Registers `fd` with the calling runtime's reactor.
fn register(fd: OwnedFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd stays open, and the same descriptor, until the AsyncFd drops or returns it.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| e.into_parts().1)
}

fn bind_seqpacket(path: &Path) -> io::Result<OwnedFd> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let sock = Socket::new(Domain::UNIX, Type::SEQPACKET.nonblocking().cloexec(), None)?;
    sock.bind(&SockAddr::unix(path)?)?;
    sock.listen(1024)?;
    Ok(sock.into())
}

fn accept_nonblocking(fd: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: accept4 with null address pointers only returns a new descriptor or -1.
    let n = unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `n` is a descriptor we own from here on.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(n) })
}

/// The largest message one write sends (SOCK_SEQPACKET refuses one larger than the send buffer).
const PACKET_WRITE_MAX: usize = 64 * 1024;

/// A SOCK_SEQPACKET connection, non-blocking, driven by the runtime's reactor. A message larger
/// than the caller's buffer is received whole into `rest` and handed out from there (a short
/// `recv` would drop the remainder of the message).
pub struct SeqPacket {
    fd: AsyncFd<OwnedFd>,
    rest: Vec<u8>,
    pos: usize,
}

impl SeqPacket {
    fn new(fd: OwnedFd) -> io::Result<SeqPacket> {
        Ok(SeqPacket { fd: register(fd, Interest::READABLE | Interest::WRITABLE)?, rest: Vec::new(), pos: 0 })
    }
}

fn recv(fd: &OwnedFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: receives into a valid, initialised buffer of `buf.len()` bytes.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl AsyncRead for SeqPacket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.pos < me.rest.len() {
            let n = buf.remaining().min(me.rest.len() - me.pos);
            buf.put_slice(&me.rest[me.pos..me.pos + n]);
            me.pos += n;
            if me.pos == me.rest.len() {
                me.rest = Vec::new();
                me.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        loop {
            let mut guard = std::task::ready!(me.fd.poll_read_ready(cx))?;
            let spare = buf.initialize_unfilled();
            let r = guard.try_io(|fd| {
                // MSG_TRUNC with MSG_PEEK gives the message's whole length.
                let len = recv(fd.get_ref(), &mut [0u8; 1], libc::MSG_PEEK | libc::MSG_TRUNC)?;
                if len <= spare.len() {
                    return recv(fd.get_ref(), spare, 0);
                }
                let mut whole = vec![0u8; len];
                let got = recv(fd.get_ref(), &mut whole, 0)?;
                whole.truncate(got);
                let n = spare.len().min(got);
                spare[..n].copy_from_slice(&whole[..n]);
                me.rest = whole;
                me.pos = n;
                Ok(n)
            });
            match r {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for SeqPacket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let data = &data[..data.len().min(PACKET_WRITE_MAX)];
        loop {
            let mut guard = std::task::ready!(self.fd.poll_write_ready(cx))?;
            let r = guard.try_io(|fd| {
                // SAFETY: sends from a valid slice; MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE.
                let n = unsafe { libc::send(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: shutdown on a descriptor we own.
        unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) };
        Poll::Ready(Ok(()))
    }
}

impl ClientIo for SeqPacket {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pos < self.rest.len() {
            return Poll::Ready(Ok(()));
        }
        self.fd.poll_read_ready(cx).map_ok(|_| ())
    }
}
