//! Rebuilding a partition's producer state when it is opened.
//!
//! Idempotent producers that retry across a broker restart must still be deduplicated, so
//! producer state is rebuilt as Kafka rebuilds it: the newest producer-state snapshot at or
//! below the log end (written at every segment roll and at a clean shutdown, see
//! [`super::snapshot`]), then the batch headers from the snapshot's offset to the log end. With
//! no usable snapshot (none yet, or one below the log start) the headers of the whole log are
//! read. Open transactions and aborted ranges come from the transaction index; begins and ends
//! the index missed (a crash between the log append and the index write) are recovered from
//! the same walk.

use crate::log::control::first_batch_marker;
use crate::log::{LogError, PartitionLog};

use super::producer_state::{BatchMetadata, ProducerStateTable, last_sequence};
use super::snapshot;
use super::txn_index::{self, TxnEvent, TxnIndex};

/// The producer state table and the open transaction index of `log`. `files`: the files besides
/// segments that its directory held when the log was just opened (a snapshot or transaction
/// index that is not among them is not looked for); None: look.
pub(super) fn producer_state(
    log: &PartitionLog,
    files: Option<&[String]>,
) -> Result<(ProducerStateTable, TxnIndex), LogError> {
    let has = |f: &dyn Fn(&String) -> bool| files.is_none_or(|files| files.iter().any(f));
    let snapshots = has(&|n| n.ends_with(snapshot::SUFFIX));
    let (from, mut producers) = snapshots
        .then(|| snapshot::latest(log.dir(), log.log_end_offset()))
        .flatten()
        .filter(|(offset, _)| *offset >= log.log_start_offset())
        .unwrap_or_else(|| (log.log_start_offset(), ProducerStateTable::new()));
    let (mut txn_index, events) = if has(&|n| n == txn_index::FILE_NAME) {
        TxnIndex::open(log.shared_dir(), log.log_end_offset())?
    } else {
        (TxnIndex::empty(log.shared_dir()), Vec::new())
    };
    for e in &events {
        e.apply(&mut producers);
    }
    let covered = txn_index.high_water;
    let mut missed = Vec::new();
    let result = log.scan_batch_headers(from, &mut |base_offset, b| {
        if base_offset < from {
            return; // in the snapshot already
        }
        if b.is_transactional && base_offset > covered {
            missed.push((base_offset, b.producer_id, b.is_control));
        }
        if b.producer_id >= 0 && !b.is_control {
            producers.record(
                b.producer_id,
                b.producer_epoch,
                BatchMetadata {
                    first_seq: b.base_sequence,
                    last_seq: last_sequence(b.base_sequence, b.last_offset_delta),
                    first_offset: base_offset,
                    last_offset: base_offset + b.last_offset_delta as i64,
                },
            );
        }
    });
    if let Err(e) = result {
        tracing::warn!(dir = %log.dir().display(), "could not rebuild producer state: {e}");
    }
    for (offset, producer_id, is_control) in missed {
        let event = if is_control {
            let marker = log
                .read(offset, 4096, true)
                .ok()
                .and_then(|data| first_batch_marker(&data));
            TxnEvent::End {
                producer_id,
                marker_offset: offset,
                commit: marker.is_some_and(|m| m.is_commit()),
            }
        } else if producers.has_ongoing(producer_id) {
            continue;
        } else {
            TxnEvent::Begin {
                producer_id,
                offset,
            }
        };
        tracing::info!(dir = %log.dir().display(), ?event, "transaction index caught up from the log");
        event.apply(&mut producers);
        let _ = txn_index.append(event);
    }
    Ok((producers, txn_index))
}
