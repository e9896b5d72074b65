//! Per-partition idempotent producer state (KIP-98), the part of Kafka's
//! `ProducerStateManager` that non-transactional idempotence needs: the
//! current epoch of each producer id and the metadata of its last few batches,
//! so a retried batch is acknowledged with its original offsets and a gap is
//! refused. Knows nothing about the wire or the disk.

use std::collections::{HashMap, VecDeque};

/// How many batches per producer are remembered for duplicate detection.
/// Kafka keeps 5, matching the clients' max.in.flight.requests.per.connection cap.
pub const CACHED_BATCHES: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Clone, Debug, Default)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMetadata>,
}

/// Outcome of checking one incoming batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// New data: append it.
    Append,
    /// Already in the log: acknowledge with these offsets, append nothing.
    Duplicate { first_offset: i64, last_offset: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProducerStateError {
    #[error("producer {producer_id} epoch {epoch} is older than current epoch {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        got: i32,
    },
}

/// Last sequence of a batch: sequences wrap from i32::MAX to 0.
pub fn last_sequence(base_sequence: i32, last_offset_delta: i32) -> i32 {
    ((base_sequence as i64 + last_offset_delta as i64) % (i32::MAX as i64 + 1)) as i32
}

fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

/// A transaction that ended with an ABORT marker: read_committed consumers
/// drop this producer's batches in [first_offset, last_offset].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The offset of the ABORT marker.
    pub last_offset: i64,
}

#[derive(Debug, Default)]
pub struct ProducerStateTable {
    producers: HashMap<i64, ProducerEntry>,
    /// Producer id → first offset of its open transaction on this partition.
    ongoing: HashMap<i64, i64>,
    /// Aborted transactions, in marker order.
    aborted: Vec<AbortedTxn>,
}

impl ProducerStateTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Check a batch from `producer_id` at `epoch` carrying sequences first..=last.
    pub fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Result<SequenceCheck, ProducerStateError> {
        let Some(entry) = self.producers.get(&producer_id) else {
            // Unknown producer (new, or its state aged out of the log): any sequence starts it.
            return Ok(SequenceCheck::Append);
        };
        if epoch < entry.epoch {
            return Err(ProducerStateError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current: entry.epoch,
            });
        }
        if epoch > entry.epoch {
            // A bumped epoch restarts sequences at 0.
            if first_seq != 0 {
                return Err(ProducerStateError::OutOfOrderSequence {
                    producer_id,
                    expected: 0,
                    got: first_seq,
                });
            }
            return Ok(SequenceCheck::Append);
        }
        if let Some(b) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return Ok(SequenceCheck::Duplicate {
                first_offset: b.first_offset,
                last_offset: b.last_offset,
            });
        }
        match entry.batches.back() {
            Some(last) if next_sequence(last.last_seq) != first_seq => {
                Err(ProducerStateError::OutOfOrderSequence {
                    producer_id,
                    expected: next_sequence(last.last_seq),
                    got: first_seq,
                })
            }
            None if first_seq != 0 => Err(ProducerStateError::OutOfOrderSequence {
                producer_id,
                expected: 0,
                got: first_seq,
            }),
            _ => Ok(SequenceCheck::Append),
        }
    }

    /// A transactional batch of `producer_id` was appended at `first_offset`.
    pub fn on_transactional_append(&mut self, producer_id: i64, first_offset: i64) {
        self.ongoing.entry(producer_id).or_insert(first_offset);
    }

    /// A COMMIT or ABORT marker of `producer_id` was appended at `marker_offset`.
    /// Returns the aborted range to remember, if it was an abort of open data.
    pub fn on_marker(
        &mut self,
        producer_id: i64,
        commit: bool,
        marker_offset: i64,
    ) -> Option<AbortedTxn> {
        let first = self.ongoing.remove(&producer_id)?;
        if commit {
            return None;
        }
        let a = AbortedTxn {
            producer_id,
            first_offset: first,
            last_offset: marker_offset,
        };
        self.aborted.push(a);
        Some(a)
    }

    /// Restore an aborted range (from the partition's aborted-transaction index).
    pub fn restore_aborted(&mut self, a: AbortedTxn) {
        self.aborted.push(a);
    }

    /// The first offset of the oldest open transaction (the last stable offset).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.values().copied().min()
    }

    pub fn has_ongoing(&self, producer_id: i64) -> bool {
        self.ongoing.contains_key(&producer_id)
    }

    /// Aborted transactions that overlap offsets [from, to).
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// Open transactions: producer id → first offset (DescribeProducers).
    pub fn ongoing(&self) -> &HashMap<i64, i64> {
        &self.ongoing
    }

    /// Every producer with state here (DescribeProducers).
    pub fn producers(&self) -> impl Iterator<Item = (&i64, &ProducerEntry)> {
        self.producers.iter()
    }

    /// Forget everything at or above `offset` (the log was truncated there): batches (a producer
    /// left without any is forgotten), open transactions that began there, and aborted ranges
    /// whose marker was there. A transaction whose marker went is not reopened: that takes the
    /// transaction index, see `Partition::truncate_to`.
    pub fn truncate(&mut self, offset: i64) {
        self.producers.retain(|_, e| {
            e.batches.retain(|b| b.last_offset < offset);
            !e.batches.is_empty()
        });
        self.ongoing.retain(|_, first| *first < offset);
        self.aborted.retain(|a| a.last_offset < offset);
    }

    /// Take over the producers of `older` that this table does not know, with their epochs and
    /// batches (a table rebuilt from the newest segment lacks producers whose newest batches lie
    /// in older segments). Transactions are not taken over.
    pub fn adopt_unknown_producers(&mut self, older: ProducerStateTable) {
        for (producer_id, entry) in older.producers {
            self.producers.entry(producer_id).or_insert(entry);
        }
    }

    /// Put back a producer as a snapshot recorded it (see `super::snapshot`).
    pub fn restore_producer(&mut self, producer_id: i64, entry: ProducerEntry) {
        self.producers.insert(producer_id, entry);
    }

    /// Remember an appended batch (after [`check`](Self::check) said Append).
    pub fn record(&mut self, producer_id: i64, epoch: i16, batch: BatchMetadata) {
        let entry = self.producers.entry(producer_id).or_default();
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(batch);
        while entry.batches.len() > CACHED_BATCHES {
            entry.batches.pop_front();
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The metadata of a batch of sequences `first_seq..=last_seq` at `first_offset`.
    pub(crate) fn meta(first_seq: i32, last_seq: i32, first_offset: i64) -> BatchMetadata {
        BatchMetadata {
            first_seq,
            last_seq,
            first_offset,
            last_offset: first_offset + (last_seq - first_seq) as i64,
        }
    }

    #[test]
    fn in_order_batches_append() {
        let mut t = ProducerStateTable::new();
        assert_eq!(t.check(7, 0, 0, 9), Ok(SequenceCheck::Append));
        t.record(7, 0, meta(0, 9, 0));
        assert_eq!(t.check(7, 0, 10, 14), Ok(SequenceCheck::Append));
        t.record(7, 0, meta(10, 14, 10));
        assert_eq!(t.entry(7).unwrap().batches.len(), 2);
    }

    #[test]
    fn duplicate_returns_original_offsets() {
        let mut t = ProducerStateTable::new();
        t.record(7, 0, meta(0, 9, 100));
        t.record(7, 0, meta(10, 14, 110));
        assert_eq!(
            t.check(7, 0, 0, 9),
            Ok(SequenceCheck::Duplicate {
                first_offset: 100,
                last_offset: 109
            })
        );
        assert_eq!(
            t.check(7, 0, 10, 14),
            Ok(SequenceCheck::Duplicate {
                first_offset: 110,
                last_offset: 114
            })
        );
    }

    #[test]
    fn gap_is_out_of_order() {
        let mut t = ProducerStateTable::new();
        t.record(7, 0, meta(0, 9, 0));
        assert_eq!(
            t.check(7, 0, 12, 12),
            Err(ProducerStateError::OutOfOrderSequence {
                producer_id: 7,
                expected: 10,
                got: 12
            })
        );
    }

    #[test]
    fn epochs_fence_and_reset() {
        let mut t = ProducerStateTable::new();
        t.record(7, 3, meta(0, 0, 0));
        assert!(matches!(
            t.check(7, 2, 1, 1),
            Err(ProducerStateError::InvalidProducerEpoch { current: 3, .. })
        ));
        assert!(matches!(
            t.check(7, 4, 5, 5),
            Err(ProducerStateError::OutOfOrderSequence { expected: 0, .. })
        ));
        assert_eq!(t.check(7, 4, 0, 0), Ok(SequenceCheck::Append));
        t.record(7, 4, meta(0, 0, 1));
        assert_eq!(t.entry(7).unwrap().epoch, 4);
        assert_eq!(t.entry(7).unwrap().batches.len(), 1);
    }

    #[test]
    fn only_last_five_batches_are_remembered() {
        let mut t = ProducerStateTable::new();
        for i in 0..7 {
            t.record(1, 0, meta(i, i, i as i64));
        }
        assert_eq!(t.entry(1).unwrap().batches.len(), CACHED_BATCHES);
        // Batch 0 aged out: it no longer counts as a duplicate, and it is out of order.
        assert!(t.check(1, 0, 0, 0).is_err());
        assert_eq!(
            t.check(1, 0, 6, 6),
            Ok(SequenceCheck::Duplicate {
                first_offset: 6,
                last_offset: 6
            })
        );
    }

    #[test]
    fn sequences_wrap() {
        assert_eq!(last_sequence(i32::MAX, 0), i32::MAX);
        assert_eq!(last_sequence(i32::MAX, 1), 0);
        assert_eq!(last_sequence(i32::MAX - 1, 3), 1);
        let mut t = ProducerStateTable::new();
        t.record(1, 0, meta(i32::MAX - 1, i32::MAX, 0));
        assert_eq!(t.check(1, 0, 0, 4), Ok(SequenceCheck::Append));
    }

    #[test]
    fn transactions_set_the_last_stable_offset_and_aborted_ranges() {
        let mut t = ProducerStateTable::new();
        assert_eq!(t.first_unstable_offset(), None);
        t.on_transactional_append(1, 10);
        t.on_transactional_append(1, 12); // later batches of the same txn
        t.on_transactional_append(2, 11);
        assert_eq!(t.first_unstable_offset(), Some(10));
        assert_eq!(
            t.on_marker(1, true, 13),
            None,
            "a commit leaves no aborted range"
        );
        assert_eq!(t.first_unstable_offset(), Some(11));
        let a = t.on_marker(2, false, 14).unwrap();
        assert_eq!((a.first_offset, a.last_offset), (11, 14));
        assert_eq!(t.first_unstable_offset(), None);
        assert_eq!(t.aborted_between(0, 11), vec![]);
        assert_eq!(t.aborted_between(0, 12), vec![a]);
        assert_eq!(t.aborted_between(15, 20), vec![]);
        assert_eq!(
            t.on_marker(3, false, 15),
            None,
            "a marker without open data"
        );
    }

    #[test]
    fn truncation_forgets_what_was_cut() {
        let mut t = ProducerStateTable::new();
        t.record(1, 0, meta(0, 4, 0));
        t.record(1, 0, meta(5, 9, 10));
        t.record(2, 3, meta(0, 0, 12));
        t.on_transactional_append(3, 5);
        t.on_transactional_append(4, 13);
        t.on_transactional_append(5, 1);
        t.on_marker(5, false, 11);
        t.truncate(12);
        assert_eq!(t.entry(1).unwrap().batches.len(), 1, "batch at 10..14 cut");
        assert!(t.entry(2).is_none(), "its only batch was cut");
        assert_eq!(t.first_unstable_offset(), Some(5));
        assert!(!t.has_ongoing(4));
        assert_eq!(t.aborted_between(0, 100).len(), 1);
        t.truncate(11);
        assert!(
            t.aborted_between(0, 100).is_empty(),
            "the abort marker was cut"
        );
        // A rebuilt table takes over only the producers it does not know.
        let mut rebuilt = ProducerStateTable::new();
        rebuilt.record(1, 1, meta(0, 0, 20));
        rebuilt.adopt_unknown_producers(t);
        assert_eq!(rebuilt.entry(1).unwrap().epoch, 1);
        assert!(rebuilt.entry(2).is_none());
        assert_eq!(rebuilt.first_unstable_offset(), None);
    }

    #[test]
    fn unknown_producer_starts_anywhere() {
        let t = ProducerStateTable::new();
        assert_eq!(t.check(99, 0, 42, 50), Ok(SequenceCheck::Append));
    }
}
