//! fjord: a Kafka broker that speaks the real Kafka protocol.
//!
//! Layers talk downward only: `server` (sockets, frames) → `api` (one module
//! per Kafka API) → broker core (`cluster` topics and partitions, `log`
//! storage, `txn` producer state). See docs/architecture.md.

pub mod api;
pub mod broker;
pub mod clock;
pub mod cluster;
pub mod config;
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
pub mod topics;
pub mod txn;
