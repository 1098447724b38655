//! Per-connection client state, and the registry CLIENT LIST/KILL read.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::Notify;

/// State of one connection, owned by its task.
pub struct Client {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    /// Selected database.
    pub db: usize,
    /// RESP3 negotiated with `HELLO 3`.
    pub resp3: bool,
    pub authenticated: bool,
    /// Close the connection after the pending replies are written (QUIT, protocol errors).
    pub close_after_reply: bool,
}

impl Client {
    pub fn new(id: u64, addr: SocketAddr, local_addr: SocketAddr, authenticated: bool) -> Client {
        Client { id, addr, local_addr, db: 0, resp3: false, authenticated, close_after_reply: false }
    }
}

/// What the server knows about every connected client (CLIENT LIST, CLIENT KILL, INFO).
pub struct ClientInfo {
    pub id: u64,
    /// Socket file descriptor (CLIENT LIST `fd=`).
    pub fd: i32,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub name: Vec<u8>,
    pub db: usize,
    pub created_ms: i64,
    pub last_interaction_ms: i64,
    pub last_cmd: String,
    pub resp: u8,
    /// Wakes the connection task so it closes (CLIENT KILL, SHUTDOWN).
    pub kill: Arc<Notify>,
    pub killed: bool,
    /// Size of the last read buffer and pending output (INFO clients).
    pub qbuf: usize,
    pub obuf: usize,
    pub is_replica: bool,
    pub is_master: bool,
}
