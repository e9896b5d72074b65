//! fjord: a Kafka broker that speaks the real Kafka protocol.
//!
//! Layers talk downward only: `server` (sockets, frames) → `api` (one module
//! per Kafka API) → broker core (`cluster` topics and partitions, `log`
//! storage, `txn` producer state). See docs/architecture.md.
//!
//! To run a broker inside a Rust program's tests, use [`EmbeddedBroker`]: everything else here
//! is the broker's own machinery, public for its tests and tools rather than as a stable API.

pub mod api;
pub mod broker;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod embedded;
pub mod error;
pub mod group;
pub mod http;
pub mod launch;
pub mod log;
pub mod metrics;
pub mod partition;
pub mod quotas;
pub mod security;
pub mod server;
pub mod share;
pub mod topics;
pub mod txn;

pub use embedded::{EmbedError, EmbeddedBroker, EmbeddedBrokerBuilder};
