//! Errors of the proxy, worded as Codis 3.2 words them where a client sees them
//! (`ERR handle request, <cause>` / `ERR handle response, <cause>`).

/// Why a backend connection could not answer a request. Shown to clients as
/// `ERR handle response, <this>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The connection was lost or could not be made before the request was answered.
    #[error("backend conn reset")]
    Reset,
    /// The connection failed while this request was in flight.
    #[error("backend conn failure, {0}")]
    Failure(String),
    /// The connection failed before this request (its bytes here) was written: it can be sent
    /// elsewhere (backend_failover_hold). The second field is the request's slot.
    #[error("backend conn reset")]
    NotSent(bytes::Bytes, usize),
}

/// Why a request could not be dispatched. Shown to clients as `ERR handle request, <this>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("command '{0}' is not allowed")]
    NotAllowed(String),
    #[error("bad command length, too short or too long")]
    BadOpLen,
    #[error("slot is not ready, may be offline")]
    SlotNotReady,
    #[error("bad slotsmgrt resp: {0}")]
    BadSlotsMgrt(String),
    #[error("bad slotsmgrt-exec-wrapper resp: {0}")]
    BadExecWrapper(String),
    /// The slot's backend is down and requests wait for a new route (backend_failover_hold);
    /// the session holds the request.
    #[error("backend conn reset")]
    BackendDown,
    /// A transaction or blocking command on a slot migrating with the semi-async method.
    #[error("slot {0} is migrating, try again when it is done")]
    SlotMigrating(usize),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Errors of the slot table's administrative side (fillslots).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    #[error("use of closed router")]
    Closed,
    #[error("use of invalid slot id")]
    InvalidSlotId,
    #[error("use of invalid forwarder method")]
    InvalidMethod,
}
