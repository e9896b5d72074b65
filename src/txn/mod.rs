//! Producer-side state: idempotent producer ids and sequence checks.
//! Transactions (issue 4) will live here too.

pub mod producer_id;
pub mod producer_state;
