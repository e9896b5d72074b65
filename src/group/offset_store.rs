//! One group's offsets: the committed ones, and those open transactions hold until their marker
//! commits them (they become committed) or aborts them. A plain store: no locking, no
//! persistence, no membership checks — [`super::offsets`] does those.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use super::records::CommittedOffset;
use crate::error::Code;

/// A partition, as the offset maps key it.
pub(super) type TopicPartition = (String, i32);

/// One group's offsets: the committed ones, and those open transactions hold
/// until their marker commits them (they become committed) or aborts them.
#[derive(Default)]
pub(super) struct GroupOffsets {
    committed: BTreeMap<TopicPartition, CommittedOffset>,
    /// Offsets sent with open transactions (TxnOffsetCommit), by producer id.
    pending_txn: HashMap<i64, BTreeMap<TopicPartition, CommittedOffset>>,
}

impl GroupOffsets {
    /// The committed offset of a partition.
    pub(super) fn get(&self, tp: &TopicPartition) -> Option<&CommittedOffset> {
        self.committed.get(tp)
    }

    /// Every committed offset, by partition.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&TopicPartition, &CommittedOffset)> {
        self.committed.iter()
    }

    /// The partitions with a committed offset, in order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &TopicPartition> {
        self.committed.keys()
    }

    /// How many partitions have a committed offset.
    pub(super) fn len(&self) -> usize {
        self.committed.len()
    }

    /// Commit an offset (replacing the partition's previous one).
    pub(super) fn commit(&mut self, tp: TopicPartition, o: CommittedOffset) {
        self.committed.insert(tp, o);
    }

    /// Forget a partition's committed offset.
    pub(super) fn delete(&mut self, tp: &TopicPartition) {
        self.committed.remove(tp);
    }

    /// Hold offsets for `producer_id`'s open transaction.
    pub(super) fn add_pending(
        &mut self,
        producer_id: i64,
        offsets: impl IntoIterator<Item = (TopicPartition, CommittedOffset)>,
    ) {
        self.pending_txn
            .entry(producer_id)
            .or_default()
            .extend(offsets);
    }

    /// `producer_id`'s transaction ended: its offsets become committed, or vanish.
    pub(super) fn complete_transaction(&mut self, producer_id: i64, commit: bool) {
        if let Some(pending) = self.pending_txn.remove(&producer_id)
            && commit
        {
            self.committed.extend(pending);
        }
    }

    /// Whether an open transaction holds an offset for a partition.
    pub(super) fn has_pending(&self, tp: &TopicPartition) -> bool {
        self.pending_txn.values().any(|m| m.contains_key(tp))
    }

    /// Whether any open transaction holds offsets of this group.
    pub(super) fn has_any_pending(&self) -> bool {
        self.pending_txn.values().any(|m| !m.is_empty())
    }

    /// The partitions whose committed offset is past retention at `now_ms`:
    /// `retention_ms` after its commit, or after `since_ms` if that is later. A partition an
    /// open transaction holds an offset for is kept, as Kafka keeps it: the transaction's
    /// commit would otherwise bring back an offset whose tombstone was written.
    pub(super) fn expired(
        &self,
        since_ms: i64,
        retention_ms: i64,
        now_ms: i64,
    ) -> Vec<TopicPartition> {
        self.committed
            .iter()
            .filter(|(tp, o)| {
                now_ms - o.commit_timestamp_ms.max(since_ms) >= retention_ms
                    && !self.has_pending(tp)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// Offsets checked for a commit: a code per offset, the records to write, and
/// the accepted offsets with their position in `results`.
pub(super) struct OffsetBatch {
    pub(super) results: Vec<Code>,
    pub(super) records: Vec<(Bytes, Option<Bytes>)>,
    pub(super) accepted: Vec<(usize, String, i32, CommittedOffset)>,
}
