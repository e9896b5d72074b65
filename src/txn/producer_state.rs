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

#[derive(Debug, Default)]
pub struct ProducerStateTable {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStateTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
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
mod tests {
    use super::*;

    fn meta(first_seq: i32, last_seq: i32, first_offset: i64) -> BatchMetadata {
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
    fn unknown_producer_starts_anywhere() {
        let t = ProducerStateTable::new();
        assert_eq!(t.check(99, 0, 42, 50), Ok(SequenceCheck::Append));
    }
}
