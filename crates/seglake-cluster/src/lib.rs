//! seglake on an Apache DataFusion Ballista cluster.
//!
//! The scheduler and the executors are the `seglake` binary itself in
//! cluster roles ([`scheduler::run`], [`executor::run`]): Ballista's
//! scheduler and executor embedded as libraries, so every process knows
//! seglake's functions (the checked `sum`, the scoring function) and the
//! codecs that carry them and in-memory tables between processes
//! ([`codec`]). [`client::BallistaEngine`] is the driver's side: a
//! [`seglake_features::RemoteEngine`] whose sessions plan locally and run
//! on the cluster.
//!
//! Object storage: every process opens the stores its plans read itself,
//! with the credentials of its own environment ([`stores`]). Nothing
//! secret is put in the session settings Ballista ships to the cluster
//! (and shows in `information_schema`).

pub mod client;
pub mod codec;
pub mod executor;
mod functions;
pub mod scheduler;
pub mod stores;

pub use client::BallistaEngine;

/// A cluster role that could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{role}: {message}")]
    Role { role: &'static str, message: String },
    #[error("`{engine}` is not a cluster address: {message}")]
    Address { engine: String, message: String },
}
