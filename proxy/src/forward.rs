//! Sending one keyed request to the backend that owns its slot, including the two ways Codis
//! keeps a migrating slot consistent (`forward.go`):
//!
//! - sync: before the request, `SLOTSMGRTTAGONE <target host> <target port> 3000 <key>` on the
//!   source moves the key's tag over, then the request goes to the target;
//! - semi-async: `SLOTSMGRT-EXEC-WRAPPER <key> <request...>` on the source runs the request there
//!   if the key is still there (code 2), says it is gone (code 0: send to the target) or that it
//!   is being moved (code 1: retry after a short pause).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use compat::resp::ReplyScanner;
use tokio::sync::oneshot;

use crate::backend::{encode_command, BackendConn, Guard, Pending, SharedBackend};
use crate::error::{BackendError, RequestError};
use crate::router::{ForwardMethod, Router, SlotRoute};
use crate::sink::{Sink, Target};

/// Where a request's reply goes and which connection family it uses.
pub struct Origin<'a> {
    pub sink: &'a Arc<Sink>,
    pub seq: u64,
    pub part: u32,
    pub database: u32,
    pub seed: u32,
}

/// Sends `args` for `slot`. Returns `Some(reply)` when the request was answered on the way
/// (semi-async code 2); otherwise the reply will arrive in the session's sink.
pub async fn forward<A: AsRef<[u8]>>(
    router: &Router,
    slot: usize,
    hkey: Option<&[u8]>,
    master_only: bool,
    args: &[A],
    origin: &Origin<'_>,
) -> Result<Option<Bytes>, RequestError> {
    forward_frame(router, slot, hkey, master_only, args, None, origin).await
}

/// [`forward`], given also `frame`: the client's bytes of `args` when they are already the
/// multibulk encoding the backend would get (see `RequestDecoder::decode_frame`); they are
/// copied as they are instead of being encoded again.
pub async fn forward_frame<A: AsRef<[u8]>>(
    router: &Router,
    slot: usize,
    hkey: Option<&[u8]>,
    master_only: bool,
    args: &[A],
    frame: Option<&[u8]>,
    origin: &Origin<'_>,
) -> Result<Option<Bytes>, RequestError> {
    let hkey = hkey.filter(|k| !k.is_empty());
    let mut loops = 0u32;
    loop {
        let mut route = router.route(slot);
        if route.locked {
            drop(route);
            route = router.route_unlocked(slot).await;
        }
        let Some((backend, _)) = &route.backend else { return Err(RequestError::SlotNotReady) };
        if let (Some((from, _)), Some(key)) = (&route.migrate, hkey) {
            match route.method {
                ForwardMethod::Sync => slotsmgrt(from, backend, key, origin).await?,
                ForwardMethod::SemiAsync => match exec_wrapper(from, key, args, origin).await? {
                    Wrapped::Moved => {}
                    Wrapped::Done(reply) => return Ok(Some(reply)),
                    Wrapped::Retry => {
                        drop(route);
                        backoff(loops).await;
                        loops += 1;
                        continue;
                    }
                },
            }
        }
        queue(router, &route, master_only, args, frame, origin)?;
        return Ok(None);
    }
}

/// The last step of forwarding, on a route with nothing left to wait for (not locked, keys not
/// migrating): picks the backend connection and queues the request on it, as `frame` (the
/// client's bytes) or else `args` encoded. Nothing is queued on an error: no connection for the
/// slot, or the connection is down while the failover hold is on (`BackendDown`, to be held).
pub(crate) fn queue<A: AsRef<[u8]>>(
    router: &Router,
    route: &Arc<SlotRoute>,
    master_only: bool,
    args: &[A],
    frame: Option<&[u8]>,
    origin: &Origin<'_>,
) -> Result<(), RequestError> {
    let conn = pick(route, master_only, origin.database, origin.seed).ok_or(RequestError::SlotNotReady)?;
    if router.holds_on_failover() && !conn.is_connected() {
        return Err(RequestError::BackendDown);
    }
    let target = Target::Session { sink: origin.sink.clone(), seq: origin.seq, part: origin.part };
    let pending = Pending { target, guard: Guard::One(route.clone()) };
    match frame {
        Some(frame) => conn.push(|out| out.extend_from_slice(frame), pending),
        None => conn.push(|out| encode_command(out, args), pending),
    }
    Ok(())
}

/// Makes `slot` ready for requests pinned to its master (transactions, WATCH, blocking
/// commands) and returns the master's address. On a migrating slot the sync method moves the
/// keys over first; the semi-async method cannot wrap such requests, so they are refused.
pub async fn settle(router: &Router, slot: usize, keys: &[&[u8]], origin: &Origin<'_>) -> Result<String, RequestError> {
    let route = router.route_unlocked(slot).await;
    let Some((backend, _)) = &route.backend else { return Err(RequestError::SlotNotReady) };
    if let Some((from, _)) = &route.migrate {
        if route.method != ForwardMethod::Sync {
            return Err(RequestError::SlotMigrating(slot));
        }
        for key in keys.iter().filter(|k| !k.is_empty()) {
            slotsmgrt(from, backend, key, origin).await?;
        }
    }
    Ok(backend.addr.clone())
}

/// Sends `cmds` back to back on the master connection of `slot` (MULTI ... EXEC), one target
/// per command; `keys` are moved first if the slot is migrating (see [`settle`]).
pub async fn forward_batch(
    router: &Router,
    slot: usize,
    keys: &[&[u8]],
    cmds: &[Vec<Bytes>],
    targets: Vec<Target>,
    origin: &Origin<'_>,
) -> Result<(), RequestError> {
    settle(router, slot, keys, origin).await?;
    let route = router.route_unlocked(slot).await;
    let Some(conn) = route.backend.as_ref().and_then(|(b, _)| b.conn(origin.database, origin.seed, true)) else {
        return Err(RequestError::SlotNotReady);
    };
    let guard = route.clone();
    conn.push_batch(
        |out| {
            for c in cmds {
                encode_command(out, c);
            }
        },
        targets.into_iter().map(|target| Pending { target, guard: Guard::One(guard.clone()) }),
    );
    Ok(())
}

/// Go's pause between EXEC-WRAPPER retries: none five times, then `loop` ms, at most 20 ms.
async fn backoff(loops: u32) {
    match loops {
        0..=4 => tokio::task::yield_now().await,
        5..=19 => tokio::time::sleep(Duration::from_millis(loops as u64)).await,
        _ => tokio::time::sleep(Duration::from_millis(20)).await,
    }
}

/// The connection for a request on `route`: a connected replica for reads when the slot has
/// replica groups and is not migrating (groups in order, rotating within a group), otherwise
/// the primary.
pub(crate) fn pick(route: &SlotRoute, master_only: bool, database: u32, seed: u32) -> Option<&Arc<BackendConn>> {
    if route.migrate.is_none() && !master_only {
        for group in &route.replica_groups {
            let n = group.len();
            for k in 0..n {
                if let Some(c) = group[(seed as usize + 1 + k) % n].conn(database, seed, false) {
                    return Some(c);
                }
            }
        }
    }
    route.backend.as_ref()?.0.conn(database, seed, true)
}

/// Sends a helper command on the source's connection and waits for its reply.
async fn call(from: &SharedBackend, args: &[&[u8]], origin: &Origin<'_>) -> Result<Bytes, RequestError> {
    let conn = from.conn(origin.database, origin.seed, true).ok_or(RequestError::SlotNotReady)?;
    let (tx, rx) = oneshot::channel();
    conn.push(|out| encode_command(out, args), Pending { target: Target::Oneshot(tx), guard: Guard::None });
    Ok(rx.await.unwrap_or(Err(BackendError::Reset))?)
}

pub(crate) fn type_name(reply: &[u8]) -> &'static str {
    match reply.first() {
        Some(b'+') => "<string>",
        Some(b'-') => "<error>",
        Some(b':') => "<int>",
        Some(b'$') => "<bulkbytes>",
        Some(b'*') => "<array>",
        _ => "<unknown>",
    }
}

/// The text of a one-line reply (`+...`, `-...`, `:...`).
fn line(reply: &[u8]) -> String {
    let end = memchr::memchr(b'\r', reply).unwrap_or(reply.len());
    String::from_utf8_lossy(&reply[1.min(end)..end]).into_owned()
}

async fn slotsmgrt(
    from: &SharedBackend,
    to: &SharedBackend,
    key: &[u8],
    origin: &Origin<'_>,
) -> Result<(), RequestError> {
    let args: [&[u8]; 5] = [b"SLOTSMGRTTAGONE", &to.host, &to.port, b"3000", key];
    let reply = call(from, &args, origin).await?;
    match reply.first() {
        Some(b':') => Ok(()),
        Some(b'-') => Err(RequestError::BadSlotsMgrt(line(&reply))),
        _ => Err(RequestError::BadSlotsMgrt(format!("should be integer, but got {}", type_name(&reply)))),
    }
}

enum Wrapped {
    Moved,
    Retry,
    Done(Bytes),
}

async fn exec_wrapper<A: AsRef<[u8]>>(
    from: &SharedBackend,
    key: &[u8],
    args: &[A],
    origin: &Origin<'_>,
) -> Result<Wrapped, RequestError> {
    let mut full: Vec<&[u8]> = Vec::with_capacity(args.len() + 2);
    full.push(b"SLOTSMGRT-EXEC-WRAPPER");
    full.push(key);
    full.extend(args.iter().map(|a| a.as_ref()));
    let reply = call(from, &full, origin).await?;
    parse_wrapped(reply).map_err(RequestError::BadExecWrapper)
}

/// Splits `*2 :code resp` into the code and the raw bytes of `resp`.
fn parse_wrapped(reply: Bytes) -> Result<Wrapped, String> {
    match reply.first() {
        Some(b'*') => {}
        Some(b'-') => return Err(line(&reply)),
        _ => return Err(format!("should be integer, but got {}", type_name(&reply))),
    }
    let header_end = memchr::memchr(b'\n', &reply).map(|i| i + 1).unwrap_or(reply.len());
    if &reply[..header_end] != b"*2\r\n" {
        return Err(format!("array.len = {}", line(&reply[..header_end])));
    }
    let rest = reply.slice(header_end..);
    let code_len = match ReplyScanner::new().scan(&rest) {
        Ok(Some(n)) => n,
        _ => return Err("truncated reply".into()),
    };
    let code_text = line(&rest[..code_len]);
    let inner = rest.slice(code_len..);
    if rest.first() != Some(&b':') {
        return Err(format!("type(array[0]) = {}, len(array[0].value) = {}", type_name(&rest), code_text.len()));
    }
    match code_text.as_str() {
        "0" => Ok(Wrapped::Moved),
        "1" => Ok(Wrapped::Retry),
        "2" => Ok(Wrapped::Done(inner)),
        other => Err(format!("[{other}] {}", line(&inner))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_replies_from_the_capture() {
        // Shapes recorded in wire/2_async_migration (w2e): [2, "hello world"], [0, -ERR ...], [-1, -ERR ...].
        let done = parse_wrapped(Bytes::from_static(b"*2\r\n:2\r\n$11\r\nhello world\r\n")).unwrap();
        assert!(matches!(done, Wrapped::Done(b) if &b[..] == b"$11\r\nhello world\r\n"));
        let moved = parse_wrapped(Bytes::from_static(b"*2\r\n:0\r\n-ERR the specified key doesn't exist\r\n")).unwrap();
        assert!(matches!(moved, Wrapped::Moved));
        let busy =
            parse_wrapped(Bytes::from_static(b"*2\r\n:1\r\n-ERR the specified key is being migrated\r\n")).unwrap();
        assert!(matches!(busy, Wrapped::Retry));
        let err = parse_wrapped(Bytes::from_static(b"*2\r\n:-1\r\n-ERR invalid command specified (NOSUCHCMD)\r\n"));
        assert_eq!(err.err().unwrap(), "[-1] ERR invalid command specified (NOSUCHCMD)");
        assert_eq!(parse_wrapped(Bytes::from_static(b"-ERR x\r\n")).err().unwrap(), "ERR x");
    }
}
