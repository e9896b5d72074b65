//! The replica fetchers a cluster node runs: one per leader it follows partitions of, each
//! with the set of partitions it copies and a way to wake it when that set changes. What a
//! fetcher does is in [`super::replication`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::partition::Partition;

/// A partition a fetcher copies: its topic id and index, and the partition.
pub(super) type Followed = BTreeMap<(Uuid, i32), Arc<Partition>>;

/// One fetcher per leader this node follows partitions of.
#[derive(Default)]
pub struct Fetchers {
    pub(super) by_leader: Mutex<HashMap<i32, Fetcher>>,
}

pub(super) struct Fetcher {
    pub(super) partitions: Arc<Mutex<Followed>>,
    pub(super) wake: Arc<Notify>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
