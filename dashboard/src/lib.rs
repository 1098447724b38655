//! codis-dashboard, codis-admin and codis-fe.
//!
//! - [`topom`]: the dashboard's model of a product and everything it drives (slot migration,
//!   replica sync, promotion, sentinels, stats), [`api`] its REST server.
//! - [`admin`]: codis-admin's verbs; [`fe`]: codis-fe (dashboard list, reverse proxy, web UI).
//! - [`redis`], [`sentinel`]: what the dashboard says to codis-servers and redis-sentinels.
//! - [`golog`], [`args`], [`goerr`], [`ordered`]: Go's log layout, docopt-style command lines,
//!   Go's error wording and order-preserving JSON, so tools and people see what Go showed.

pub mod admin;
pub mod api;
pub mod args;
pub mod fe;
pub mod goerr;
pub mod golog;
pub mod metrics;
pub mod ordered;
pub mod redis;
pub mod sentinel;
pub mod topom;
pub mod usage;
pub mod version;
