//! One single-threaded runtime per core: each worker accepts clients on the shared listening
//! socket and serves them with backend connections of its own, so a request and its reply never
//! cross threads (no cross-thread wake-ups, no work stealing).
//!
//! [`start`] must run before the first slot is filled, since backend connections are created
//! per worker, on the worker's runtime; [`serve`] then hands the listening socket (duplicated
//! into every worker's reactor; whichever worker the kernel wakes first accepts).
//!
//! The worker that accepts is not always the one that serves: a burst of connections (a client
//! pool opening) is usually drained by the first worker to wake, and a client stays on its
//! worker for life, so [`assign`] sends each new client to the worker with the fewest sessions.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::listener::{Listener, StdListener};
use crate::proxy::Proxy;

type Start = (Proxy, StdListener, tokio::sync::mpsc::UnboundedSender<std::io::Result<()>>);

static HANDLES: OnceLock<Vec<Handle>> = OnceLock::new();
/// Sessions assigned to each worker and not yet ended.
static SESSIONS: OnceLock<Vec<AtomicUsize>> = OnceLock::new();
static STARTS: Mutex<Vec<oneshot::Sender<Start>>> = Mutex::new(Vec::new());

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The workers' runtimes; empty when the proxy runs on one shared runtime.
pub fn handles() -> &'static [Handle] {
    HANDLES.get().map(|v| &v[..]).unwrap_or(&[])
}

/// The index of the calling worker (0 outside workers).
pub fn current() -> usize {
    WORKER.with(|w| w.get())
}

/// Starts `n` worker threads (nothing with `n == 0`), idle until [`serve`].
pub fn start(n: usize) -> std::io::Result<()> {
    if n == 0 || HANDLES.get().is_some() {
        return Ok(());
    }
    let mut runtimes = Vec::with_capacity(n);
    for _ in 0..n {
        runtimes.push(tokio::runtime::Builder::new_current_thread().enable_all().build()?);
    }
    if HANDLES.set(runtimes.iter().map(|r| r.handle().clone()).collect()).is_err() {
        return Ok(());
    }
    let _ = SESSIONS.set((0..n).map(|_| AtomicUsize::new(0)).collect());
    let mut starts = STARTS.lock().unwrap_or_else(|e| e.into_inner());
    for (i, rt) in runtimes.into_iter().enumerate() {
        let (tx, rx) = oneshot::channel::<Start>();
        starts.push(tx);
        std::thread::Builder::new().name(format!("proxy-worker-{i}")).spawn(move || {
            WORKER.with(|w| w.set(i));
            rt.block_on(async move {
                // Dropped sender: the proxy never served; the runtime still drove connections.
                let Ok((proxy, l, done)) = rx.await else { return std::future::pending::<()>().await };
                let result = match l.into_tokio() {
                    Ok(listener) => proxy.serve(listener).await,
                    Err(e) => Err(e),
                };
                let _ = done.send(result);
            });
        })?;
    }
    Ok(())
}

/// Serves `listener` on the workers if [`start`] made some, else on the calling runtime.
pub async fn serve(proxy: Proxy, listener: Listener) -> std::io::Result<()> {
    let starts = std::mem::take(&mut *STARTS.lock().unwrap_or_else(|e| e.into_inner()));
    if starts.is_empty() {
        return proxy.serve(listener).await;
    }
    let std_listener = listener.into_std()?;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for tx in starts {
        let _ = tx.send((proxy.clone(), std_listener.try_clone()?, done_tx.clone()));
    }
    drop(done_tx);
    done_rx.recv().await.unwrap_or(Ok(()))
}

/// One session counted against the worker that serves it, until dropped.
pub struct Seat(Option<usize>);

impl Drop for Seat {
    fn drop(&mut self) {
        if let (Some(i), Some(load)) = (self.0, SESSIONS.get()) {
            load[i].fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Picks the worker for a new client, counting it there at once (so a burst accepted by one
/// worker is spread before any of its sessions has started): the calling worker unless another
/// has fewer sessions.
pub fn assign() -> Seat {
    let Some(load) = SESSIONS.get() else { return Seat(None) };
    let me = current().min(load.len() - 1);
    let mut best = me;
    let mut least = load[me].load(Ordering::Relaxed);
    for (i, l) in load.iter().enumerate() {
        let n = l.load(Ordering::Relaxed);
        if n < least {
            best = i;
            least = n;
        }
    }
    load[best].fetch_add(1, Ordering::Relaxed);
    Seat(Some(best))
}

/// Counts a new client on the calling worker (for clients that cannot move between runtimes).
pub fn assign_here() -> Seat {
    let Some(load) = SESSIONS.get() else { return Seat(None) };
    let me = current().min(load.len() - 1);
    load[me].fetch_add(1, Ordering::Relaxed);
    Seat(Some(me))
}

/// Sessions on each worker (empty without per-core workers).
pub fn sessions() -> Vec<usize> {
    SESSIONS.get().map(|v| v.iter().map(|l| l.load(Ordering::Relaxed)).collect()).unwrap_or_default()
}

/// The runtime of the worker `seat` is on, when that is not the calling worker.
pub fn handle_for(seat: &Seat) -> Option<&'static Handle> {
    let i = seat.0?;
    if i == current() {
        return None;
    }
    handles().get(i)
}
