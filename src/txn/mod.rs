//! Producer-side state: idempotent producer ids and sequence checks.
//! Transactions: markers, the per-partition transaction index, and the
//! transaction coordinator.

pub mod coordinator;
pub mod producer_id;
