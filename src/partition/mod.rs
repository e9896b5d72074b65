//! One partition of a topic: its log, its producers' state and its transaction index behind one
//! lock, and the single write path every append goes through (Kafka's `Partition` +
//! `UnifiedLog.append`).
//!
//! **Owns:** [`Partition::append`], the only function that appends to a partition log. Client
//! produce, transaction markers and internal-topic records (and, with replication, the batches a
//! follower fetched) all come through it. A write is two steps, so a caller can check what it
//! needs between them (the transaction coordinator's check of a transactional produce):
//! [`Partition::validate`] (size, magic, CRC; rules of the write's [`AppendOrigin`];
//! LogAppendTime stamping) gives [`ValidatedBatches`], the only thing `append` takes; `append`
//! then, under the partition lock, checks idempotent sequences → assigns offsets and writes
//! ([`PartitionLog::append`]) → updates producer state, the transaction index and with them the
//! last stable offset → and, once the lock is released, wakes every fetch parked on this
//! partition. Reads (fetch ranges, offsets by time, log start / end, last stable offset, high
//! watermark, the end offsets of leader epochs), DeleteRecords, retention, compaction, a
//! follower's truncation ([`Partition::truncate_to`]), flush and size go through `Partition`
//! too; nothing outside this module takes the partition lock.
//!
//! **Must never:** know the wire protocol or Kafka error codes (callers map [`AppendError`] and
//! [`LogError`]); know topics beyond its own name and index; read the clock (time is a `now_ms`
//! argument).

mod load;
pub mod producer_state;
pub mod replicas;
pub mod snapshot;
pub mod txn_index;

use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::log::control::{self, Marker};
use crate::log::records::all_records_keyed;
use crate::log::verify::verify_slices;
use crate::log::{
    AppendResult, BatchInfo, CompactionResult, FileSlice, LogConfig, LogError, PartitionLog,
    RetentionResult, stamp_log_append_time, validate_batches,
};
use producer_state::{
    AbortedTxn, BatchMetadata, ProducerStateError, ProducerStateTable, SequenceCheck, last_sequence,
};
use replicas::LeaderState;
use txn_index::{TxnEvent, TxnIndex};

/// The leader epoch of a single broker's partitions, which never change leader (in a cluster
/// the metadata image sets each partition's, see [`Partition::set_leader_epoch`]).
pub const LEADER_EPOCH: i32 = 0;

/// Who is writing: decides which checks a write gets (Kafka's `AppendOrigin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer's Produce request: no control batches, one batch per idempotent write,
    /// sequence numbers checked and remembered.
    Client,
    /// The broker's own writes: transaction markers, internal-topic records.
    Coordinator,
    /// A follower storing its leader's batches as they are (offsets and epochs kept):
    /// producer state is recorded without checking, as the leader checked it.
    Replication,
}

/// Batches that passed [`Partition::validate`]; only `validate` makes them.
#[derive(Debug)]
pub struct ValidatedBatches {
    /// The batches as received (the request's own buffer): the log writes each batch's new base
    /// offset and leader epoch on the way out, so the bytes are never copied to patch them.
    payload: Bytes,
    batches: Vec<BatchInfo>,
    origin: AppendOrigin,
}

impl ValidatedBatches {
    /// The batches' headers, in order.
    pub fn batches(&self) -> &[BatchInfo] {
        &self.batches
    }

    /// The size of the batches, in bytes.
    pub fn bytes(&self) -> usize {
        self.payload.len()
    }
}

/// What [`Partition::append`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended(AppendResult),
    /// An idempotent producer's retry of a batch already in the log: nothing was written.
    Duplicate {
        base_offset: i64,
        log_start_offset: i64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The write is not acceptable from its origin (Kafka answers INVALID_RECORD).
    #[error("{0}")]
    InvalidRecord(String),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Producer(#[from] ProducerStateError),
}

/// The offsets that bound what a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    /// The highest offset every replica has (the log end on a single node) — what
    /// read_uncommitted consumers may read.
    pub high_watermark: i64,
    /// Below the oldest open transaction, else the high watermark: what read_committed
    /// consumers may read.
    pub last_stable_offset: i64,
}

/// What [`Partition::read`] found.
#[derive(Debug)]
pub struct PartitionRead {
    pub offsets: PartitionOffsets,
    /// Whole batches from the requested offset ([`LogError::OffsetOutOfRange`] outside
    /// `[log start, log end]`).
    pub slices: Result<Vec<FileSlice>, LogError>,
    /// read_committed, and data was found: the aborted transactions overlapping it.
    pub aborted: Vec<AbortedTxn>,
}

/// One producer as DescribeProducers shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveProducer {
    pub producer_id: i64,
    /// -1 for a transactional producer that so far only has an open transaction here.
    pub producer_epoch: i32,
    pub last_sequence: i32,
    /// First offset of its open transaction, else -1.
    pub current_txn_start_offset: i64,
}

/// How far a read may go (Kafka's FetchIsolation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// A follower replicating: up to the log end.
    LogEnd,
    /// read_uncommitted consumers: up to the high watermark.
    HighWatermark,
    /// read_committed consumers: up to the last stable offset.
    Committed,
}

/// The log end offset and high watermark, as the partition's progress watch sends them after
/// every change of either: followers' fetches wait on the first, consumers' on the second,
/// acks=all produces on the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub log_end_offset: i64,
    pub high_watermark: i64,
}

/// This node's part in replicating the partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// It leads: clients write here, followers fetch from here.
    Leader(LeaderState),
    /// It copies `leader`'s log, fetching at `leader_epoch`.
    Follower { leader: i32, leader_epoch: i32 },
    /// Opened in a cluster before the metadata said what it is: nothing moves the high
    /// watermark.
    Unassigned,
}

/// Why the leader refused a follower's fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaFetchError {
    /// This node does not lead the partition, or `replica` is not one of its followers.
    NotLeaderOrFollower,
    /// The follower's epoch is older than the leader's.
    FencedLeaderEpoch,
    /// The follower's epoch is newer than the leader's (the leader has not heard of it yet).
    UnknownLeaderEpoch,
}

/// What the leader learnt from a follower's fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowerFetch {
    /// The ISR (with the leader) to ask the controller for, now that the follower caught up.
    pub expand_isr: Option<IsrRequest>,
}

/// An ISR change the leader asks the controller for (Kafka's AlterPartition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsrRequest {
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The new ISR without the leader (this node), sorted; the caller adds itself.
    pub isr: Vec<i32>,
}

/// Everything one partition's writer and readers share, behind the partition lock.
struct PartitionState {
    log: PartitionLog,
    producers: ProducerStateTable,
    txn_index: TxnIndex,
    high_watermark: i64,
    role: Role,
    /// The active segment's base offset when producer state was last snapshotted (or the
    /// partition opened): a different one means the log rolled since.
    snapshot_segment: i64,
}

impl PartitionState {
    fn offsets(&self) -> PartitionOffsets {
        let end = self.log.log_end_offset();
        let hw = self.high_watermark.clamp(self.log.log_start_offset(), end);
        PartitionOffsets {
            log_start_offset: self.log.log_start_offset(),
            log_end_offset: end,
            high_watermark: hw,
            last_stable_offset: self.producers.first_unstable_offset().unwrap_or(hw).min(hw),
        }
    }

    fn progress(&self) -> Progress {
        let o = self.offsets();
        Progress {
            log_end_offset: o.log_end_offset,
            high_watermark: o.high_watermark,
        }
    }

    /// A leader's high watermark after its log or its followers moved: the smallest log end
    /// over the leader and its maximal ISR, never lower than before.
    fn maybe_increment_high_watermark(&mut self) {
        if let Role::Leader(l) = &self.role {
            let candidate = l.high_watermark(self.log.log_end_offset());
            if candidate > self.high_watermark {
                self.high_watermark = candidate;
            }
        }
    }

    fn note_txn_event(&mut self, event: TxnEvent) {
        event.apply(&mut self.producers);
        if let Err(err) = self.txn_index.append(event) {
            tracing::error!(dir = %self.log.dir().display(), "writing the transaction index: {err}");
        }
    }

    /// Producer state, transaction index and last stable offset after `batches` landed at `r`.
    fn after_append(
        &mut self,
        payload: &[u8],
        batches: &[BatchInfo],
        origin: AppendOrigin,
        r: &AppendResult,
    ) {
        let mut offset = r.base_offset;
        for b in batches {
            let last_offset = offset + i64::from(b.last_offset_delta);
            if b.is_control {
                if b.is_transactional && b.producer_id >= 0 {
                    let bytes = &payload[b.position..b.position + b.size];
                    match control::first_batch_marker(bytes) {
                        Some(marker) => self.note_txn_event(TxnEvent::End {
                            producer_id: b.producer_id,
                            marker_offset: offset,
                            commit: marker.is_commit(),
                        }),
                        None => tracing::warn!(
                            dir = %self.log.dir().display(),
                            offset,
                            "control batch that is not a transaction marker"
                        ),
                    }
                }
            } else {
                if b.is_transactional && !self.producers.has_ongoing(b.producer_id) {
                    self.note_txn_event(TxnEvent::Begin {
                        producer_id: b.producer_id,
                        offset,
                    });
                }
                if b.producer_id >= 0 && origin != AppendOrigin::Coordinator {
                    self.producers.record(
                        b.producer_id,
                        b.producer_epoch,
                        BatchMetadata {
                            first_seq: b.base_sequence,
                            last_seq: last_sequence(b.base_sequence, b.last_offset_delta),
                            first_offset: offset,
                            last_offset,
                        },
                    );
                }
            }
            offset = last_offset + 1;
        }
        if self.active_segment() != self.snapshot_segment {
            self.snapshot_producers();
        }
    }

    fn active_segment(&self) -> i64 {
        self.log.segments().last().map_or(0, |s| s.base_offset())
    }

    /// Snapshot producer state at the log end (Kafka does at every roll and at shutdown).
    fn snapshot_producers(&mut self) {
        self.snapshot_segment = self.active_segment();
        let offset = self.log.log_end_offset();
        if let Err(e) = snapshot::write(self.log.dir(), offset, &self.producers) {
            tracing::warn!(dir = %self.log.dir().display(), offset, "writing a producer-state snapshot: {e}");
        }
    }
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    /// The partition directory (the path shared with its log).
    dir: Arc<Path>,
    state: Mutex<PartitionState>,
    /// Log end offset when the cleaner last compacted this partition (-1: never).
    cleaned_through: AtomicI64,
    /// Log end offset and high watermark after every change; long-polling fetches and
    /// acks=all produces wait on it. Made at the first subscription (under the state lock, so
    /// no change is missed): a partition nobody waits on holds no channel (about 400 bytes
    /// each, which 100,000 idle partitions notice).
    progress: OnceLock<watch::Sender<Progress>>,
    /// The partition's current leader epoch, stamped on every batch appended.
    leader_epoch: AtomicI32,
}

impl Partition {
    /// The leader epoch batches are stamped with now.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Relaxed)
    }

    /// A cluster's metadata moved this partition's leadership to `epoch`.
    pub fn set_leader_epoch(&self, epoch: i32) {
        self.leader_epoch.store(epoch, Ordering::Relaxed);
    }

    /// Open (or create) the partition's directory, recover its log and rebuild its producer
    /// state (see [`load`]), as the single broker's partition: it leads alone, so its high
    /// watermark is its log end.
    pub fn open(
        topic: &str,
        index: i32,
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<Arc<Partition>, LogError> {
        Self::reopen(topic, index, dir, config, now_ms, None, false).map(|(p, _)| p)
    }

    /// Open a partition of a cluster: no role until the metadata gives it one, the high
    /// watermark as last checkpointed (`None`: the log start).
    pub fn open_replica(
        topic: &str,
        index: i32,
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
        high_watermark: Option<i64>,
    ) -> Result<Arc<Partition>, LogError> {
        Self::reopen(
            topic,
            index,
            dir,
            config,
            now_ms,
            Some(high_watermark),
            false,
        )
        .map(|(p, _)| p)
    }

    /// Open a partition found at start-up: as [`Self::open`] (`replica` None) or
    /// [`Self::open_replica`] (`Some(high watermark)`); after a clean shutdown the log is
    /// opened without CRC checks of its active segment ([`PartitionLog::open_with`]). Also
    /// returns the names of the files besides segments that the directory held.
    pub fn reopen(
        topic: &str,
        index: i32,
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
        replica: Option<Option<i64>>,
        clean_shutdown: bool,
    ) -> Result<(Arc<Partition>, Vec<String>), LogError> {
        let mut log = PartitionLog::open_with(dir, config, now_ms, clean_shutdown)?;
        let files = log.take_other_files();
        let (producers, txn_index) = load::producer_state(&log, Some(&files))?;
        // Until the cluster says otherwise, the epoch of the latest data: a write before then
        // must not be stamped with an epoch older than what the log already holds.
        let epoch = log
            .latest_epoch()
            .map_or(LEADER_EPOCH, |e| e.epoch.max(LEADER_EPOCH));
        let (role, high_watermark) = match replica {
            None => (Role::Leader(LeaderState::solo(epoch)), log.log_end_offset()),
            Some(hw) => (
                Role::Unassigned,
                hw.unwrap_or(0)
                    .clamp(log.log_start_offset(), log.log_end_offset()),
            ),
        };
        let snapshot_segment = log.segments().last().map_or(0, |s| s.base_offset());
        let dir = log.shared_dir().clone();
        let state = PartitionState {
            log,
            producers,
            txn_index,
            high_watermark,
            role,
            snapshot_segment,
        };
        let partition = Arc::new(Partition {
            topic: topic.to_string(),
            index,
            dir,
            progress: OnceLock::new(),
            cleaned_through: AtomicI64::new(-1),
            leader_epoch: AtomicI32::new(epoch),
            state: Mutex::new(state),
        });
        Ok((partition, files))
    }

    /// Tell waiters where the log end and high watermark are now (after the lock is released).
    fn publish(&self, progress: Progress) {
        if let Some(tx) = self.progress.get() {
            tx.send_if_modified(|p| {
                let changed = *p != progress;
                *p = progress;
                changed
            });
        }
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Check a payload of record batches before [`append`](Self::append): size, magic and CRC of
    /// every batch (the log's `max.message.bytes` for clients), then the origin's rules; on a
    /// LogAppendTime topic the broker's time is stamped into each batch (a copy of the payload:
    /// the only case that changes CRC-covered bytes).
    pub fn validate(
        &self,
        payload: impl Into<Bytes>,
        origin: AppendOrigin,
        now_ms: i64,
    ) -> Result<ValidatedBatches, AppendError> {
        let payload: Bytes = payload.into();
        let (max_bytes, log_append_time, compact, inflate_limit) = match origin {
            AppendOrigin::Client => {
                let st = self.state.lock();
                let c = st.log.config();
                (
                    c.max_message_bytes,
                    c.log_append_time,
                    c.compact,
                    c.max_inflated_batch_bytes,
                )
            }
            AppendOrigin::Coordinator | AppendOrigin::Replication => (usize::MAX, false, false, 0),
        };
        let mut batches = validate_batches(&payload, max_bytes)?;
        if origin == AppendOrigin::Client && batches.iter().any(|b| b.is_control) {
            return Err(AppendError::InvalidRecord(
                "clients may not write control batches".into(),
            ));
        }
        if compact {
            for b in &batches {
                if !all_records_keyed(&payload[b.position..b.position + b.size], inflate_limit)? {
                    return Err(AppendError::InvalidRecord(
                        "Compacted topic cannot accept message without key.".into(),
                    ));
                }
            }
        }
        let payload = if log_append_time {
            let mut stamped = BytesMut::from(&payload[..]);
            for b in &mut batches {
                stamp_log_append_time(&mut stamped, b, now_ms)?;
            }
            stamped.freeze()
        } else {
            payload
        };
        Ok(ValidatedBatches {
            payload,
            batches,
            origin,
        })
    }

    /// The write path: see the module docs.
    pub fn append(
        &self,
        validated: ValidatedBatches,
        now_ms: i64,
    ) -> Result<AppendOutcome, AppendError> {
        let ValidatedBatches {
            payload,
            batches,
            origin,
        } = validated;
        let idempotent = batches.iter().any(|b| b.producer_id >= 0 && !b.is_control);
        if origin == AppendOrigin::Client && idempotent && batches.len() > 1 {
            return Err(AppendError::InvalidRecord(
                "idempotent produce must carry exactly one batch per partition".into(),
            ));
        }
        let mut st = self.state.lock();
        if origin == AppendOrigin::Client
            && let Some(b) = batches.first().filter(|b| b.producer_id >= 0)
        {
            let first_seq = b.base_sequence;
            let last_seq = last_sequence(b.base_sequence, b.last_offset_delta);
            match st
                .producers
                .check(b.producer_id, b.producer_epoch, first_seq, last_seq)?
            {
                SequenceCheck::Append => {}
                SequenceCheck::Duplicate { first_offset, .. } => {
                    tracing::debug!(
                        producer_id = b.producer_id,
                        first_seq,
                        "duplicate batch acknowledged with its original offset"
                    );
                    return Ok(AppendOutcome::Duplicate {
                        base_offset: first_offset,
                        log_start_offset: st.log.log_start_offset(),
                    });
                }
            }
        }
        let epoch = self.leader_epoch.load(Ordering::Relaxed);
        let r = st.log.append(&payload, &batches, epoch, now_ms)?;
        st.after_append(&payload, &batches, origin, &r);
        st.maybe_increment_high_watermark();
        let progress = st.progress();
        drop(st);
        self.publish(progress);
        Ok(AppendOutcome::Appended(r))
    }

    /// Whether this node leads the partition at `leader_epoch`.
    pub fn leads_at(&self, leader_epoch: i32) -> bool {
        matches!(&self.state.lock().role, Role::Leader(l) if l.leader_epoch == leader_epoch)
    }

    /// This node's role now.
    pub fn role(&self) -> Role {
        self.state.lock().role.clone()
    }

    /// The metadata made this node the partition's leader at `leader_epoch` (`followers`: the
    /// other replicas, `isr_followers`: those of them in sync). A new epoch starts at the log
    /// end (Kafka's maybeAssignEpochStartOffset: followers truncate against it even before the
    /// epoch's first batch) and forgets what the followers had; the same epoch again (an ISR
    /// change, a replica added) only updates the sets.
    pub fn become_leader(
        &self,
        leader_epoch: i32,
        partition_epoch: i32,
        followers: &[i32],
        isr_followers: &[i32],
        now_ms: i64,
    ) -> Result<(), LogError> {
        let mut st = self.state.lock();
        match &mut st.role {
            Role::Leader(l) if l.leader_epoch == leader_epoch => {
                l.update(partition_epoch, followers, isr_followers);
            }
            _ => {
                let end = st.log.log_end_offset();
                if st.log.latest_epoch().is_none_or(|e| e.epoch < leader_epoch) {
                    st.log.assign_epoch_start(leader_epoch, end)?;
                }
                st.role = Role::Leader(LeaderState::new(
                    leader_epoch,
                    partition_epoch,
                    followers,
                    isr_followers,
                    end,
                    now_ms,
                ));
                tracing::info!(topic = %self.topic, partition = self.index, leader_epoch, log_end_offset = end, "leading partition");
            }
        }
        self.leader_epoch.store(leader_epoch, Ordering::Relaxed);
        st.maybe_increment_high_watermark();
        let progress = st.progress();
        drop(st);
        self.publish(progress);
        Ok(())
    }

    /// The metadata made `leader` the partition's leader at `leader_epoch`; this node copies it.
    pub fn become_follower(&self, leader: i32, leader_epoch: i32) {
        let mut st = self.state.lock();
        let next = Role::Follower {
            leader,
            leader_epoch,
        };
        if st.role != next {
            tracing::info!(topic = %self.topic, partition = self.index, leader, leader_epoch, "following partition");
            st.role = next;
            drop(st);
            // Writes waiting for their ISR here learn that this node no longer leads.
            if let Some(tx) = self.progress.get() {
                tx.send_modify(|_| {});
            }
        }
        self.leader_epoch.store(leader_epoch, Ordering::Relaxed);
    }

    /// Where a follower fetches from: `(log end offset, epoch of its last batch, log start
    /// offset)`, the last epoch -1 for an empty log.
    pub fn fetch_position(&self) -> (i64, i32, i64) {
        let st = self.state.lock();
        (
            st.log.log_end_offset(),
            st.log.latest_epoch().map_or(-1, |e| e.epoch),
            st.log.log_start_offset(),
        )
    }

    /// The leader's side of a follower's fetch (Kafka's fetch from a replica): check the
    /// follower's epoch, record that `replica` has everything below `fetch_offset`, move the
    /// high watermark and tell whether the follower may join the ISR now.
    pub fn record_follower_fetch(
        &self,
        replica: i32,
        current_leader_epoch: i32,
        fetch_offset: i64,
        now_ms: i64,
    ) -> Result<FollowerFetch, ReplicaFetchError> {
        let mut st = self.state.lock();
        let end = st.log.log_end_offset();
        let Role::Leader(l) = &mut st.role else {
            return Err(ReplicaFetchError::NotLeaderOrFollower);
        };
        if current_leader_epoch >= 0 && current_leader_epoch < l.leader_epoch {
            return Err(ReplicaFetchError::FencedLeaderEpoch);
        }
        if current_leader_epoch > l.leader_epoch {
            return Err(ReplicaFetchError::UnknownLeaderEpoch);
        }
        if !l.is_follower(replica) {
            return Err(ReplicaFetchError::NotLeaderOrFollower);
        }
        if fetch_offset > end {
            // Past this log's end: the read answers OFFSET_OUT_OF_RANGE and the follower
            // truncates; it has nothing here to count.
            return Ok(FollowerFetch { expand_isr: None });
        }
        l.record_fetch(replica, fetch_offset, end, now_ms);
        st.maybe_increment_high_watermark();
        let hw = st.offsets().high_watermark;
        let Role::Leader(l) = &st.role else {
            unreachable!("checked above, under the same lock")
        };
        let expand_isr = l.isr_to_expand(replica, hw).map(|isr| IsrRequest {
            leader_epoch: l.leader_epoch,
            partition_epoch: l.partition_epoch,
            isr,
        });
        let progress = st.progress();
        drop(st);
        self.publish(progress);
        Ok(FollowerFetch { expand_isr })
    }

    /// A leader's ISR shrink, when in-sync followers lag more than `max_lag_ms`.
    pub fn isr_to_shrink(&self, now_ms: i64, max_lag_ms: i64) -> Option<IsrRequest> {
        let st = self.state.lock();
        let Role::Leader(l) = &st.role else {
            return None;
        };
        let isr = l.isr_to_shrink(st.log.log_end_offset(), now_ms, max_lag_ms)?;
        let r = IsrRequest {
            leader_epoch: l.leader_epoch,
            partition_epoch: l.partition_epoch,
            isr,
        };
        Some(r)
    }

    /// An ISR change (`isr` without the leader) was sent to the controller at
    /// `partition_epoch`: until it is settled it counts for the high watermark and no other
    /// is asked. `None` clears it (the controller refused, or the request failed).
    pub fn set_pending_isr(&self, partition_epoch: i32, isr: Option<Vec<i32>>) {
        let mut st = self.state.lock();
        if let Role::Leader(l) = &mut st.role
            && l.partition_epoch == partition_epoch
        {
            l.pending_isr = isr;
        }
    }

    /// `(high watermark, in-sync replicas with the leader)` while this node leads at
    /// `leader_epoch` (what an acks=all write waits on).
    pub fn replication_status(&self, leader_epoch: i32) -> Option<(i64, usize)> {
        let st = self.state.lock();
        match &st.role {
            Role::Leader(l) if l.leader_epoch == leader_epoch => {
                Some((st.offsets().high_watermark, l.isr_size()))
            }
            _ => None,
        }
    }

    /// In-sync replicas including the leader, when this node leads (what `min.insync.replicas`
    /// is checked against).
    pub fn in_sync_replicas(&self) -> Option<usize> {
        match &self.state.lock().role {
            Role::Leader(l) => Some(l.isr_size()),
            _ => None,
        }
    }

    /// A follower stores batches fetched from its leader as they are (offsets and epochs
    /// kept, [`PartitionLog::append_as_follower`]), with producer state and the transaction
    /// index following; its high watermark becomes the leader's, capped by its own log end,
    /// and its log start follows the leader's. `payload` may be empty (only the offsets moved).
    /// Nothing is done unless this node still follows at `leader_epoch`.
    pub fn append_as_follower(
        &self,
        leader_epoch: i32,
        payload: &[u8],
        leader_high_watermark: i64,
        leader_log_start: i64,
        now_ms: i64,
    ) -> Result<Option<AppendResult>, AppendError> {
        let batches = if payload.is_empty() {
            Vec::new()
        } else {
            validate_batches(payload, usize::MAX)?
        };
        let mut st = self.state.lock();
        // The role moved on since the fetch was sent: what it brought is not for this log.
        if !matches!(st.role, Role::Follower { leader_epoch: e, .. } if e == leader_epoch) {
            return Ok(None);
        }
        let result = if batches.is_empty() {
            None
        } else {
            let r = st.log.append_as_follower(payload, &batches, now_ms)?;
            st.after_append(payload, &batches, AppendOrigin::Replication, &r);
            Some(r)
        };
        let end = st.log.log_end_offset();
        st.high_watermark = leader_high_watermark.min(end);
        if leader_log_start > st.log.log_start_offset() && leader_log_start <= end {
            st.log.delete_records_before(leader_log_start)?;
        }
        let progress = st.progress();
        drop(st);
        self.publish(progress);
        Ok(result)
    }

    /// A follower whose log ends below its leader's log start starts over there, empty (Kafka's
    /// truncateFullyAndStartAt): producer state and the transaction index are emptied too.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), LogError> {
        let mut st = self.state.lock();
        st.log.truncate_fully_and_start_at(offset)?;
        let (producers, txn_index) = load::producer_state(&st.log, None)?;
        st.producers = producers;
        st.txn_index = txn_index;
        st.high_watermark = offset;
        self.cleaned_through.store(-1, Ordering::Relaxed);
        let progress = st.progress();
        drop(st);
        self.publish(progress);
        tracing::info!(topic = %self.topic, partition = self.index, offset, "replica log emptied to start at the leader's log start");
        Ok(())
    }

    /// Write a transaction marker (a COMMIT or ABORT control batch) of a producer through
    /// [`append`](Self::append). Returns the marker's offset.
    pub fn write_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        marker: Marker,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<i64, AppendError> {
        let payload = control::control_batch(
            producer_id,
            producer_epoch,
            marker,
            coordinator_epoch,
            now_ms,
        );
        let validated = self.validate(payload, AppendOrigin::Coordinator, now_ms)?;
        match self.append(validated, now_ms)? {
            AppendOutcome::Appended(r) => Ok(r.base_offset),
            AppendOutcome::Duplicate { base_offset, .. } => Ok(base_offset),
        }
    }

    /// A receiver that sees the log end offset and high watermark after every change.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        if let Some(tx) = self.progress.get() {
            return tx.subscribe();
        }
        // Under the lock: a change either comes before (and is in the first value) or is
        // published after the channel exists.
        let st = self.state.lock();
        self.progress
            .get_or_init(|| watch::Sender::new(st.progress()))
            .subscribe()
    }

    /// Fetches and produces waiting on this partition right now (Kafka's purgatory sizes, per
    /// partition).
    pub fn waiting_fetches(&self) -> usize {
        self.progress.get().map_or(0, watch::Sender::receiver_count)
    }

    pub fn offsets(&self) -> PartitionOffsets {
        self.state.lock().offsets()
    }

    /// Whole batches from `offset`, at most `max_bytes` of them unless `min_one` (then at least
    /// the first batch, whatever its size), up to where `isolation` allows.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        isolation: Isolation,
    ) -> PartitionRead {
        let read_committed = isolation == Isolation::Committed;
        let st = self.state.lock();
        let offsets = st.offsets();
        let (start, end) = (offsets.log_start_offset, offsets.log_end_offset);
        let mut read = PartitionRead {
            offsets,
            slices: Ok(Vec::new()),
            aborted: Vec::new(),
        };
        if offset < start || offset > end {
            read.slices = Err(LogError::OffsetOutOfRange {
                offset,
                log_start: start,
                log_end: end,
            });
            return read;
        }
        if offset == end || (max_bytes == 0 && !min_one) {
            return read;
        }
        let upper = match isolation {
            Isolation::LogEnd => offsets.log_end_offset,
            Isolation::HighWatermark => offsets.high_watermark,
            Isolation::Committed => offsets.last_stable_offset,
        };
        read.slices = st.log.slices_up_to(offset, max_bytes, min_one, upper);
        if read_committed && read.slices.as_ref().is_ok_and(|s| !s.is_empty()) {
            read.aborted = st
                .producers
                .aborted_between(offset, offsets.last_stable_offset);
        }
        drop(st);
        // Batches not yet known good are CRC-checked now, without the lock (log::verify).
        if let Ok(slices) = &mut read.slices {
            match verify_slices(slices) {
                Ok(None) => {}
                Ok(Some(d)) => {
                    tracing::error!(topic = %self.topic, partition = self.index, offset = d.offset, position = d.position, "damaged batch on disk: {}; serving the batches before it", d.reason);
                }
                Err(e) => {
                    tracing::error!(topic = %self.topic, partition = self.index, offset, "damaged batch on disk: {e}");
                    read.slices = Err(e);
                }
            }
        }
        read
    }

    /// Batches from `offset` as bytes, at least the first whole batch (internal-topic replay).
    pub fn read_bytes(&self, offset: i64, max_bytes: usize) -> Result<Bytes, LogError> {
        self.state.lock().log.read(offset, max_bytes, true)
    }

    /// The first offset whose batch has a timestamp >= `ts`, with that timestamp.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.state.lock().log.offset_for_timestamp(ts)
    }

    /// The offset and timestamp of the record with the largest timestamp.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        self.state.lock().log.max_timestamp_offset()
    }

    /// Aborted transactions overlapping offsets `[from, to)`.
    pub fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.state.lock().producers.aborted_between(from, to)
    }

    /// Producers with state here, by producer id (DescribeProducers).
    pub fn active_producers(&self) -> Vec<ActiveProducer> {
        let st = self.state.lock();
        let ongoing = st.producers.ongoing();
        let mut active: Vec<ActiveProducer> = st
            .producers
            .producers()
            .map(|(pid, e)| ActiveProducer {
                producer_id: *pid,
                producer_epoch: i32::from(e.epoch),
                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                current_txn_start_offset: ongoing.get(pid).copied().unwrap_or(-1),
            })
            .collect();
        // Transactional producers that only wrote markers so far.
        for (pid, first) in ongoing {
            if !active.iter().any(|a| a.producer_id == *pid) {
                active.push(ActiveProducer {
                    producer_id: *pid,
                    producer_epoch: -1,
                    last_sequence: -1,
                    current_txn_start_offset: *first,
                });
            }
        }
        active.sort_by_key(|a| a.producer_id);
        active
    }

    /// What OffsetForLeaderEpoch answers for `epoch`: `(the largest epoch <= epoch this log
    /// knows, the offset where it ended)` — the start of the next epoch, or the log end offset
    /// for the latest one; `(-1, -1)` when undefined (see
    /// [`crate::log::LeaderEpochCache::end_offset_for`]).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.state.lock().log.end_offset_for_epoch(epoch)
    }

    /// A follower's truncation of its divergent tail: every batch at or above `offset` is removed
    /// (see [`PartitionLog::truncate_to`]: never below the log start; a batch holding `offset` goes
    /// whole). What depends on the tail is rebuilt as at open (see [`load`]): producer state
    /// from the active segment's headers, open transactions and aborted ranges from the
    /// transaction index (cut to the new log end, so a transaction whose marker was cut is open
    /// again); producers whose newest batches lie in older segments keep what was known of them
    /// below the cut. The last stable offset follows, and fetches parked on the partition are
    /// woken with the new log end. Returns the log end offset afterwards.
    pub fn truncate_to(&self, offset: i64) -> Result<i64, LogError> {
        let mut st = self.state.lock();
        let before = st.log.log_end_offset();
        let end = st.log.truncate_to(offset)?;
        if end == before {
            return Ok(end);
        }
        self.cleaned_through.store(-1, Ordering::Relaxed);
        let mut previous = std::mem::take(&mut st.producers);
        previous.truncate(end);
        let rebuilt = load::producer_state(&st.log, None);
        let result = match rebuilt {
            Ok((mut producers, txn_index)) => {
                producers.adopt_unknown_producers(previous);
                st.producers = producers;
                st.txn_index = txn_index;
                Ok(end)
            }
            Err(e) => {
                // The transaction index could not be read: keep what memory knows, cut.
                tracing::error!(dir = %self.dir.display(), "rebuilding producer state after a truncation: {e}");
                st.producers = previous;
                Err(e)
            }
        };
        st.high_watermark = st.high_watermark.min(end);
        let progress = st.progress();
        drop(st);
        self.publish(progress);
        tracing::info!(topic = %self.topic, partition = self.index, log_end_offset = end, "truncated partition");
        result
    }

    /// Kafka's DeleteRecords (see [`PartitionLog::delete_records_before`]). Returns the log start
    /// offset afterwards; on error, the error and the log start offset as it stands.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, (LogError, i64)> {
        let mut st = self.state.lock();
        st.log
            .delete_records_before(offset)
            .map_err(|e| (e, st.log.log_start_offset()))
    }

    /// Offsets, bytes on disk and segments, read under one lock (for `/metrics`).
    pub fn log_stats(&self) -> (PartitionOffsets, u64, usize) {
        let st = self.state.lock();
        (st.offsets(), st.log.size_bytes(), st.log.segments().len())
    }

    /// Bytes of log data on disk.
    pub fn size_bytes(&self) -> u64 {
        self.state.lock().log.size_bytes()
    }

    /// The most bytes one batch's records may inflate to when opened
    /// ([`LogConfig::max_inflated_batch_bytes`]).
    pub fn inflate_limit(&self) -> usize {
        self.state.lock().log.config().max_inflated_batch_bytes
    }

    /// New log settings (a topic or broker config changed).
    pub fn set_log_config(&self, config: LogConfig) {
        self.state.lock().log.set_config(config);
    }

    /// Delete segments past `retention_ms` / `retention_bytes` (never the active one).
    pub fn apply_retention(
        &self,
        retention_ms: i64,
        retention_bytes: i64,
        now_ms: i64,
    ) -> Result<RetentionResult, LogError> {
        self.state
            .lock()
            .log
            .apply_retention(retention_ms, retention_bytes, now_ms)
    }

    /// Compact the log (see [`crate::log::cleaner`]): the lock is held only to plan and to
    /// install; the cleaned segments are built without it, so producers are never blocked.
    /// None when there was nothing to do (no new data since the last clean, or no segment old
    /// enough).
    pub fn compact(
        &self,
        min_compaction_lag_ms: i64,
        delete_retention_ms: i64,
        now_ms: i64,
    ) -> Option<Result<CompactionResult, LogError>> {
        let plan = {
            let st = self.state.lock();
            if st.log.log_end_offset() == self.cleaned_through.load(Ordering::Relaxed) {
                return None; // nothing new since the last clean
            }
            st.log.plan_compaction(min_compaction_lag_ms, now_ms)?
        };
        let end = plan.key_map_range().1;
        let cleaned = match plan.build(delete_retention_ms, now_ms, plan.dir()) {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        let result = self.state.lock().log.install_compaction(cleaned);
        if result.is_ok() {
            self.cleaned_through.store(end, Ordering::Relaxed);
        }
        Some(result)
    }

    /// fsync the log, write any transaction index entry a full disk held back, and snapshot
    /// producer state (clean shutdown: the next open replays no headers).
    pub fn flush(&self) -> Result<(), LogError> {
        let mut st = self.state.lock();
        let pending = st.txn_index.write_pending();
        st.log.flush()?;
        let end = st.log.log_end_offset();
        if st.producers.producers().next().is_some()
            && snapshot::list(&self.dir).last().map(|(o, _)| *o) != Some(end)
        {
            st.snapshot_producers();
        }
        Ok(pending?)
    }
}

#[cfg(test)]
mod tests;
