//! RESP2/RESP3: the request decoder servers and proxies read commands with, and the frame
//! parser/encoder clients read replies with.

mod frame;
mod inline;
mod request;
mod scan;
pub mod write;

pub use frame::{parse_frame, Frame, FrameError};
pub use inline::split_args;
pub use request::{Limits, Peek, Peeked, ProtocolError, RequestDecoder};
pub use scan::ReplyScanner;

/// The largest bulk string accepted by default (`proto-max-bulk-len`, 512 MB).
pub const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// The largest multibulk count accepted (Redis 3.2 and the Codis proxy: 1M elements).
pub const MAX_MULTIBULK_LEN: usize = 1024 * 1024;
/// The longest inline request or count line before it is rejected (`PROTO_INLINE_MAX_SIZE`).
pub const MAX_INLINE_SIZE: usize = 64 * 1024;
