//! Producer-side state: idempotent producer ids and sequence checks.
//! Transactions: markers, the per-partition transaction index, and the
//! transaction coordinator.

pub mod coordinator;
pub mod markers;
pub mod producer_id;
pub mod producer_state;
pub mod txn_index;
