//! The share-partitions of this broker (Kafka `SharePartitionManager`; design §6, §7, §12):
//! one [`SharePartition`] state machine per (group, topic id, partition), each behind its own
//! state lock with an availability watch that parked ShareFetches wait on.
//!
//! Owns: creating a share-partition on its first ShareFetch with the SPSO
//! `share.auto.offset.reset` gives (earliest: the log start; latest: the high watermark;
//! by_duration: the first offset at or after now − duration), reading the batches acquisition
//! needs from the partition's log as file ranges (only batch headers are read; the record data
//! goes to the socket from the files, design §7.6), the lock-expiry tick, and releasing a
//! member's records when its share session ends.
//!
//! Durable state (design §8): on a single broker the persisted states replayed at start-up
//! wait in a map until their share-partition is first used (then restored from them, §8.4); a
//! manager that did not replay (a cluster node) reads a share-partition's state from the
//! persister on first use instead ([`StatePersister::load_one`]). An acknowledgement that
//! changes a share-partition is written through the [`StatePersister`] before it is applied
//! (refused as a whole, memory unchanged, when the write fails); initialization, lock expiries,
//! session-end releases and SPSO moves at acquisition mark the share-partition dirty and
//! [`ShareManager::flush`] (the tick) writes every dirty one in one batch, retrying on the next
//! tick after a failure. Acquired records are never written (they come back Available).
//!
//! Locks (design §14.1 step 2): a share-partition's state is behind a `tokio::sync::Mutex`,
//! held across the persister's write (which may be an RPC), so write-before-apply and the
//! order of one key's records hold. The maps are `parking_lot` locks, never held across an
//! await. A path that holds several state locks (the flush, deletions) takes them in key
//! order; every other path holds one at a time. A share-partition taken out of the map
//! (deleted, reset, dropped, a new leader epoch) is retired: whoever locks it afterwards leaves
//! it alone, so nothing is written for it after its tombstone or its successor's state.
//!
//! Leadership (design §14.1 step 3): a share-partition remembers the partition's leader epoch
//! it was created or restored under; once the partition leads at a later epoch (leadership
//! went away and came back) it is stale and is made again from the persister. A partition no
//! longer led here loses its share-partitions from memory only; a deleted topic's are
//! tombstoned.
//!
//! Never: speaks the wire, reads config stores (settings come in as values), takes a
//! share-partition's state lock while holding a partition lock (the partition read takes the
//! partition lock under the state lock, never the other way round), or holds a map lock or a
//! partition lock across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use uuid::Uuid;

use super::partition::{
    AcknowledgementBatch, AcquireLimits, AcquiredRecords, BatchInfo, BatchSource, SharePartition,
    ShareSettings,
};
use super::persist::{PersistError, StatePersister, StateWrite};
use super::records::{PersistedRun, PersistedState, StateKey};
use crate::config::group::ShareAutoOffsetReset;
use crate::error::KafkaError;
use crate::log::batch::{HEADER_SIZE, MAGIC_V2};
use crate::log::{BatchHeader, FileSlice, LogError};
use crate::partition::producer_state::AbortedTxn;
use crate::partition::{Isolation, Partition};

/// One share-partition: (group id, topic id, partition index). Ordered: the order in which a
/// path holding several state locks takes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharePartitionKey {
    pub group_id: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

impl SharePartitionKey {
    fn state_key(&self) -> StateKey {
        StateKey {
            group: self.group_id.clone(),
            topic_id: self.topic_id,
            partition: self.partition,
        }
    }

    fn from_state_key(k: StateKey) -> Self {
        SharePartitionKey {
            group_id: k.group,
            topic_id: k.topic_id,
            partition: k.partition,
        }
    }
}

/// A share-partition and the watch bumped whenever some of its records become Available again
/// (release, lock expiry, a session's end, an acknowledgement that frees window room).
struct Cell {
    state: tokio::sync::Mutex<Slot>,
    available: watch::Sender<u64>,
    /// The partition's leader epoch this share-partition was created or restored under.
    leader_epoch: i32,
    /// Taken out of the map: nothing more may be done with it or written for it.
    retired: AtomicBool,
    /// SPSO and the delivery-complete count as of the last change, for readers that must not
    /// wait behind a write holding the state lock (the admin APIs).
    start_offset: AtomicI64,
    delivery_complete: AtomicI64,
}

/// A share-partition with what its persisted record needs.
struct Slot {
    sp: SharePartition,
    state_epoch: i32,
    /// Writes since the state epoch began.
    snapshot_epoch: i32,
    /// Changed since the last write in a way the tick must write (initialization, expiry,
    /// release, an SPSO move at acquisition).
    dirty: bool,
}

impl Slot {
    /// The record of `sp` as the next write of this slot.
    fn snapshot(&self, sp: &SharePartition, leader_epoch: i32, now_ms: i64) -> PersistedState {
        PersistedState {
            snapshot_epoch: self.snapshot_epoch.saturating_add(1),
            state_epoch: self.state_epoch,
            leader_epoch,
            start_offset: sp.start_offset(),
            delivery_complete_count: sp.delivery_complete_count().min(i32::MAX as i64) as i32,
            write_timestamp_ms: now_ms,
            runs: sp.runs().map(PersistedRun::from_run).collect(),
        }
    }
}

fn restore(state: &PersistedState) -> SharePartition {
    SharePartition::restore(
        state.start_offset,
        state.runs.iter().map(PersistedRun::to_run),
    )
}

impl Cell {
    fn new(
        sp: SharePartition,
        state_epoch: i32,
        snapshot_epoch: i32,
        dirty: bool,
        leader_epoch: i32,
    ) -> Arc<Cell> {
        Arc::new(Cell {
            start_offset: AtomicI64::new(sp.start_offset()),
            delivery_complete: AtomicI64::new(sp.delivery_complete_count()),
            state: tokio::sync::Mutex::new(Slot {
                sp,
                state_epoch,
                snapshot_epoch,
                dirty,
            }),
            available: watch::Sender::new(0),
            leader_epoch,
            retired: AtomicBool::new(false),
        })
    }

    fn restored(state: &PersistedState, leader_epoch: i32) -> Arc<Cell> {
        Self::new(
            restore(state),
            state.state_epoch,
            state.snapshot_epoch,
            false,
            leader_epoch,
        )
    }

    fn bump(&self) {
        self.available.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// After a change of `sp` (under the state lock).
    fn publish(&self, sp: &SharePartition) {
        self.start_offset
            .store(sp.start_offset(), Ordering::Release);
        self.delivery_complete
            .store(sp.delivery_complete_count(), Ordering::Release);
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }
}

/// What one acquisition took: the acquired ranges, and the whole batches covering them in
/// offset order (file ranges; their bytes are the response's records).
#[derive(Debug, Default)]
pub struct Acquisition {
    pub records: Vec<AcquiredRecords>,
    pub batches: Vec<FileSlice>,
}

impl Acquisition {
    pub fn bytes(&self) -> u64 {
        self.batches.iter().map(|s| s.len).sum()
    }
}

/// What [`ShareManager::retain_partitions`] dropped: share-partitions of deleted topics (state
/// tombstoned), and of partitions merely not led here (memory only).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    pub deleted: usize,
    pub unloaded: usize,
}

/// The share-partitions of this broker.
#[derive(Default)]
pub struct ShareManager {
    partitions: RwLock<HashMap<SharePartitionKey, Arc<Cell>>>,
    /// Persisted states not materialized yet (replayed at start-up, or written by a reset;
    /// taken on first use).
    persisted: Mutex<HashMap<SharePartitionKey, PersistedState>>,
    /// Every state was replayed at start-up ([`ShareManager::open`]): a share-partition in
    /// neither map has none. Otherwise its state is read from the persister on first use.
    replayed: bool,
}

/// How often an acquisition looks the share-partition up again when the one it found was
/// retired while it waited for its lock.
const RETIRED_RETRIES: usize = 3;

impl ShareManager {
    /// A manager that reads each share-partition's state from the persister on first use (a
    /// cluster node).
    pub fn new() -> Self {
        Self::default()
    }

    /// A manager holding what `persister` kept (design §8.4): each share-partition is restored
    /// from its state when first used; one without state here has none. The single broker's:
    /// it leads every partition, so nothing it holds is ever dropped from memory only (which
    /// would leave it to be initialized again, not restored).
    pub fn open(persister: &dyn StatePersister) -> Self {
        let persisted: HashMap<SharePartitionKey, PersistedState> = persister
            .load()
            .into_iter()
            .map(|(k, v)| (SharePartitionKey::from_state_key(k), v))
            .collect();
        if !persisted.is_empty() {
            tracing::info!(
                share_partitions = persisted.len(),
                "share-partition state replayed"
            );
        }
        ShareManager {
            partitions: Default::default(),
            persisted: Mutex::new(persisted),
            replayed: true,
        }
    }

    fn existing(&self, key: &SharePartitionKey) -> Option<Arc<Cell>> {
        self.partitions.read().get(key).cloned()
    }

    /// The share-partitions `which` picks, in key order (the order several state locks are
    /// taken in).
    fn cells(
        &self,
        which: impl Fn(&SharePartitionKey) -> bool,
    ) -> Vec<(SharePartitionKey, Arc<Cell>)> {
        let mut cells: Vec<(SharePartitionKey, Arc<Cell>)> = self
            .partitions
            .read()
            .iter()
            .filter(|(k, _)| which(k))
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect();
        cells.sort_by(|a, b| a.0.cmp(&b.0));
        cells
    }

    /// Retire `cell` and take it out of the map if it is still `key`'s (a fenced write: the
    /// next use loads the state again, at the partition's current leader epoch).
    fn forget(&self, key: &SharePartitionKey, cell: &Arc<Cell>) {
        cell.retire();
        let mut partitions = self.partitions.write();
        if partitions.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            partitions.remove(key);
        }
    }

    /// The share-partition of `key` as the partition leads now (`partition`'s leader epoch),
    /// made if it has none (restored from its persisted state, or initialized) or if the one
    /// here was made under an earlier leader epoch (leadership left and came back: what it
    /// holds may be stale).
    async fn cell(
        &self,
        key: &SharePartitionKey,
        partition: &Partition,
        reset: ShareAutoOffsetReset,
        now_ms: i64,
        persister: &dyn StatePersister,
    ) -> Result<Arc<Cell>, PersistError> {
        let epoch = partition.leader_epoch();
        if let Some(cell) = self.existing(key)
            && cell.leader_epoch >= epoch
        {
            return Ok(cell);
        }
        {
            // A persisted state is taken under the map lock, so no racing creator can miss it.
            let mut partitions = self.partitions.write();
            match partitions.get(key) {
                Some(cell) if cell.leader_epoch >= epoch => return Ok(cell.clone()),
                Some(stale) => {
                    tracing::debug!(group = %key.group_id, topic_id = %key.topic_id, partition = key.partition, from = stale.leader_epoch, to = epoch, "share-partition made again at a new leader epoch");
                    stale.retire();
                    partitions.remove(key);
                }
                None => {}
            }
            if let Some(state) = self.persisted.lock().remove(key) {
                let cell = Cell::restored(&state, epoch);
                partitions.insert(key.clone(), cell.clone());
                return Ok(cell);
            }
        }
        // Read and resolved outside the map lock (a load may be an RPC; the initial state
        // reads the partition); a racing creator's cell wins. A new state is written by the
        // next flush (design §8.3: at initialization) on a single broker, at once on a cluster
        // node (below).
        let loaded = if self.replayed {
            None
        } else {
            persister.load_one(&key.state_key(), epoch).await?
        };
        let cell = match &loaded {
            Some(state) => Cell::restored(state, epoch),
            None => Cell::new(
                Self::initial_state(partition, reset, now_ms),
                0,
                0,
                true,
                epoch,
            ),
        };
        {
            let mut partitions = self.partitions.write();
            match partitions.get(key) {
                Some(racing) if racing.leader_epoch >= epoch => return Ok(racing.clone()),
                _ => {
                    if let Some(stale) = partitions.insert(key.clone(), cell.clone()) {
                        stale.retire();
                    }
                }
            }
        }
        if loaded.is_none() && !self.replayed {
            // A cluster node writes a new state before anything is acquired from it: a failover
            // right after must find this SPSO, not resolve `share.auto.offset.reset` again
            // (with `latest`, to a later offset). A failed write leaves it to the tick.
            let mut slot = cell.state.lock().await;
            if slot.dirty && !cell.is_retired() {
                let record = [(
                    key.state_key(),
                    Some(slot.snapshot(&slot.sp, cell.leader_epoch, now_ms)),
                )];
                match persister.write(&record, now_ms).await {
                    Ok(()) => {
                        slot.snapshot_epoch = slot.snapshot_epoch.saturating_add(1);
                        slot.dirty = false;
                    }
                    Err(e) => {
                        tracing::debug!(group = %key.group_id, topic_id = %key.topic_id, partition = key.partition, "new share state left to the tick: {e}");
                    }
                }
            }
        }
        Ok(cell)
    }

    /// A share-partition without state starts at the SPSO `share.auto.offset.reset` gives
    /// (design §6.5 step 1).
    fn initial_state(
        partition: &Partition,
        reset: ShareAutoOffsetReset,
        now_ms: i64,
    ) -> SharePartition {
        let offsets = partition.offsets();
        let start = match reset {
            ShareAutoOffsetReset::Earliest => offsets.log_start_offset,
            ShareAutoOffsetReset::Latest => offsets.high_watermark,
            ShareAutoOffsetReset::ByDuration(ms) => {
                match partition.offset_for_timestamp(now_ms.saturating_sub(ms)) {
                    Ok(Some((offset, _))) => offset.min(offsets.high_watermark),
                    _ => offsets.high_watermark,
                }
            }
        };
        SharePartition::new(start)
    }

    /// A receiver of the share-partition's availability watch (creating the share-partition
    /// if needed), to subscribe before trying to acquire. KAFKA_STORAGE_ERROR when its state
    /// cannot be read.
    pub async fn subscribe(
        &self,
        key: &SharePartitionKey,
        partition: &Partition,
        reset: ShareAutoOffsetReset,
        now_ms: i64,
        persister: &dyn StatePersister,
    ) -> Result<watch::Receiver<u64>, KafkaError> {
        let cell = self
            .cell(key, partition, reset, now_ms, persister)
            .await
            .map_err(|e| load_failed(key, e))?;
        Ok(cell.available.subscribe())
    }

    /// Acquire records of `partition` for `member` (design §6.5): redeliveries first, then new
    /// whole batches, within `limits`. Returns the ranges and the batches that carry them.
    #[allow(clippy::too_many_arguments)]
    pub async fn acquire(
        &self,
        key: &SharePartitionKey,
        partition: &Partition,
        member: &str,
        now_ms: i64,
        limits: AcquireLimits,
        settings: &ShareSettings,
        reset: ShareAutoOffsetReset,
        persister: &dyn StatePersister,
    ) -> Result<Acquisition, KafkaError> {
        for _ in 0..RETIRED_RETRIES {
            let cell = self
                .cell(key, partition, reset, now_ms, persister)
                .await
                .map_err(|e| load_failed(key, e))?;
            let mut slot = cell.state.lock().await;
            if cell.is_retired() {
                // Dropped or replaced while we waited: acquire from its successor.
                continue;
            }
            let mut source = LogSource::new(partition, limits.read_committed);
            // What a write would show of this (expiries at the delivery limit archive records;
            // the log start may move SPSO); acquisitions themselves are not written.
            let before = (slot.sp.start_offset(), slot.sp.delivery_complete_count());
            let records = slot
                .sp
                .acquire(member, now_ms, limits, settings, &mut source)?;
            if (slot.sp.start_offset(), slot.sp.delivery_complete_count()) != before {
                slot.dirty = true;
                cell.publish(&slot.sp);
            }
            drop(slot);
            if records.is_empty() {
                return Ok(Acquisition::default());
            }
            let batches = source.covering(&records)?;
            return Ok(Acquisition { records, batches });
        }
        Ok(Acquisition::default())
    }

    /// Apply a partition's acknowledgements from `member` (design §6.6), all or nothing. A
    /// share-partition that does not exist here, or was made under an earlier leader epoch than
    /// the partition's `leader_epoch` now, has nothing acquired: INVALID_RECORD_STATE for any
    /// acknowledgement (none is no error). The changed state is written before it is applied
    /// (design §8.3), under the state lock; a failed write refuses the acknowledgement with
    /// KAFKA_STORAGE_ERROR and leaves the share-partition as it was.
    #[allow(clippy::too_many_arguments)]
    pub async fn acknowledge(
        &self,
        key: &SharePartitionKey,
        member: &str,
        batches: &[AcknowledgementBatch],
        now_ms: i64,
        settings: &ShareSettings,
        leader_epoch: i32,
        persister: &dyn StatePersister,
    ) -> Result<(), KafkaError> {
        if batches.is_empty() {
            return Ok(());
        }
        let Some(cell) = self
            .existing(key)
            .filter(|c| c.leader_epoch >= leader_epoch)
        else {
            return Err(KafkaError::InvalidRecordState);
        };
        let mut slot = cell.state.lock().await;
        if cell.is_retired() {
            return Err(KafkaError::InvalidRecordState);
        }
        let mut next = slot.sp.clone();
        next.acknowledge(member, batches, now_ms, settings)?;
        if batches.iter().all(AcknowledgementBatch::only_renews) {
            // RENEW (KIP-1222) moves only lock deadlines, which are never written (an
            // Acquired offset is persisted as Available), so nothing is written before the
            // answer, as in Kafka. The expiries it ran first are written by the next flush.
            let before = (slot.sp.start_offset(), slot.sp.delivery_complete_count());
            let moved = (next.start_offset(), next.delivery_complete_count()) != before;
            slot.sp = next;
            if moved {
                slot.dirty = true;
                cell.publish(&slot.sp);
            }
        } else if next != slot.sp {
            let snapshot = slot.snapshot(&next, cell.leader_epoch, now_ms);
            let record = [(key.state_key(), Some(snapshot))];
            if let Err(e) = persister.write(&record, now_ms).await {
                tracing::warn!(group = %key.group_id, topic_id = %key.topic_id, partition = key.partition, "acknowledgement refused: {e}");
                if let PersistError::Fenced(_) = e {
                    // Another leader (or a reset) took over the state: this copy is dead.
                    self.forget(key, &cell);
                    return Err(KafkaError::NotLeaderOrFollower);
                }
                return Err(KafkaError::KafkaStorageError);
            }
            slot.snapshot_epoch = slot.snapshot_epoch.saturating_add(1);
            slot.dirty = false;
            slot.sp = next;
            cell.publish(&slot.sp);
        }
        drop(slot);
        cell.bump();
        Ok(())
    }

    /// Write every dirty share-partition's state as one batch (the tick, design §8.3). On a
    /// failed write they stay dirty for the next flush. Returns how many were written.
    pub async fn flush(
        &self,
        persister: &dyn StatePersister,
        now_ms: i64,
    ) -> Result<usize, PersistError> {
        let cells = self.cells(|_| true);
        // Held until the write is done, so no acknowledgement's newer record of the same key
        // can land before this older one; taken in key order, as every path holding several.
        let mut slots = Vec::new();
        let mut records: Vec<StateWrite> = Vec::new();
        for (key, cell) in &cells {
            let slot = cell.state.lock().await;
            if slot.dirty && !cell.is_retired() {
                records.push((
                    key.state_key(),
                    Some(slot.snapshot(&slot.sp, cell.leader_epoch, now_ms)),
                ));
                slots.push(slot);
            }
        }
        if records.is_empty() {
            return Ok(0);
        }
        if let Err(e) = persister.write(&records, now_ms).await {
            if let PersistError::Fenced(keys) = &e {
                // Never written again: a newer leader or a reset owns these states now.
                for (key, cell) in &cells {
                    if keys.contains(&key.state_key()) {
                        self.forget(key, cell);
                    }
                }
            }
            return Err(e);
        }
        for slot in &mut slots {
            slot.snapshot_epoch = slot.snapshot_epoch.saturating_add(1);
            slot.dirty = false;
        }
        Ok(slots.len())
    }

    /// The member's share session ended: its acquired records in every share-partition of the
    /// group become Available again (delivery count decremented). Returns how many offsets.
    pub async fn release_member(&self, group_id: &str, member: &str) -> i64 {
        self.make_available(
            |k| k.group_id == group_id,
            |_, sp| sp.release_member(member),
        )
        .await
    }

    /// The lock-expiry tick (design §6.9): every share-partition's locks due at `now_ms`.
    /// Returns how many offsets expired.
    pub async fn expire_locks(
        &self,
        now_ms: i64,
        settings_of: impl Fn(&str) -> ShareSettings,
    ) -> i64 {
        self.make_available(
            |_| true,
            |k, sp| {
                if sp.earliest_deadline().is_none_or(|d| d > now_ms) {
                    return 0;
                }
                // Per group: its delivery limit decides Available or Archived.
                sp.expire_locks(now_ms, &settings_of(&k.group_id))
            },
        )
        .await
    }

    /// Runs `change` on every materialized share-partition `which` picks, one at a time; one
    /// that made records Available again (`change` returns how many) is marked for the tick's
    /// write and its parked fetches are woken. Returns the total.
    async fn make_available(
        &self,
        which: impl Fn(&SharePartitionKey) -> bool,
        change: impl Fn(&SharePartitionKey, &mut SharePartition) -> i64,
    ) -> i64 {
        let mut total = 0;
        for (key, cell) in self.cells(which) {
            let mut slot = cell.state.lock().await;
            if cell.is_retired() {
                continue;
            }
            let n = change(&key, &mut slot.sp);
            if n > 0 {
                slot.dirty = true;
                cell.publish(&slot.sp);
                drop(slot);
                cell.bump();
                total += n;
            }
        }
        total
    }

    /// Drop the share-partitions, materialized or only persisted, whose partition is not led
    /// here any more. Those `gone` picks (their topic was deleted: the topic id no longer
    /// exists) are tombstoned too (design §8.4: a deleted topic's state can never apply to
    /// another); the others (leadership moved) leave memory only, their state kept for the
    /// next leader. Fetches parked on one are woken (their watch closes) and try again.
    pub async fn retain_partitions(
        &self,
        gone: impl Fn(&Uuid, i32) -> bool,
        led: impl Fn(&Uuid, i32) -> bool,
        persister: &dyn StatePersister,
        now_ms: i64,
    ) -> Dropped {
        let mut deleted: Vec<(SharePartitionKey, Option<Arc<Cell>>)> = Vec::new();
        let mut unloaded = 0usize;
        {
            // Both maps under the partitions' lock, as `cell` moves a key from one to the other.
            let mut partitions = self.partitions.write();
            partitions.retain(|k, cell| {
                if led(&k.topic_id, k.partition) {
                    return true;
                }
                if gone(&k.topic_id, k.partition) {
                    deleted.push((k.clone(), Some(cell.clone())));
                } else {
                    cell.retire();
                    unloaded += 1;
                }
                false
            });
            self.persisted.lock().retain(|k, _| {
                if led(&k.topic_id, k.partition) {
                    return true;
                }
                if gone(&k.topic_id, k.partition) {
                    deleted.push((k.clone(), None));
                } else {
                    unloaded += 1;
                }
                false
            });
        }
        deleted.sort_by(|a, b| a.0.cmp(&b.0));
        // A write under way for one of them lands before its tombstone: its state lock is
        // held across the tombstones' write (in key order), and it is retired under it.
        let mut slots = Vec::new();
        for cell in deleted.iter().filter_map(|(_, c)| c.as_ref()) {
            slots.push(cell.state.lock().await);
            cell.retire();
        }
        let tombstones: Vec<StateWrite> =
            deleted.iter().map(|(k, _)| (k.state_key(), None)).collect();
        if let Err(e) = persister.write(&tombstones, now_ms).await {
            // Replayed again at the next start, where the same check drops it.
            tracing::warn!("share state of deleted topics not deleted: {e}");
        }
        drop(slots);
        Dropped {
            deleted: deleted.len(),
            unloaded,
        }
    }

    /// Drop from memory only the share-partitions, materialized or only persisted, that `lost`
    /// picks: those of partitions led by another node now (a group with no session left here
    /// goes by [`ShareManager::unload_idle_partitions`]). Their state stays with the persister
    /// for whoever uses them next; nothing is written. Returns how many.
    pub fn unload_partitions(&self, lost: impl Fn(&SharePartitionKey) -> bool) -> usize {
        // Called on every move of a cluster's image: the map is write-locked (which stalls
        // every share fetch for a moment) only when there is something to drop.
        if !self.partitions.read().keys().any(&lost) && !self.persisted.lock().keys().any(&lost) {
            return 0;
        }
        let mut unloaded = 0usize;
        let mut partitions = self.partitions.write();
        partitions.retain(|k, cell| {
            if !lost(k) {
                return true;
            }
            // A write under way for it still lands (its lock is not waited for): it carries
            // what the share-partition had, and a write made after it is skipped.
            cell.retire();
            unloaded += 1;
            false
        });
        unloaded + self.forget_persisted(lost)
    }

    /// Drop the persisted states not materialized yet that `pick` picks (nobody can hold one);
    /// returns how many.
    fn forget_persisted(&self, pick: impl Fn(&SharePartitionKey) -> bool) -> usize {
        let mut forgotten = 0usize;
        self.persisted.lock().retain(|k, _| {
            let picked = pick(k);
            forgotten += usize::from(picked);
            !picked
        });
        forgotten
    }

    /// Drop from memory the share-partitions `idle` picks that nobody uses: a materialized one
    /// only if, under its state lock, it holds no Acquired record and has no change waiting for
    /// the tick's write; it is retired under that lock. For a group with no session left on this
    /// node: a session opened meanwhile on another worker thread either locks a share-partition
    /// first (which then holds its acquisition and stays) or finds it retired and acquires from
    /// its successor, restored from the persister. So no acquisition is made on a share-partition
    /// being dropped, which would let its records be delivered again. Returns how many.
    pub async fn unload_idle_partitions(&self, idle: impl Fn(&SharePartitionKey) -> bool) -> usize {
        let candidates: Vec<(SharePartitionKey, Arc<Cell>)> = self
            .partitions
            .read()
            .iter()
            .filter(|(k, _)| idle(k))
            .map(|(k, cell)| (k.clone(), Arc::clone(cell)))
            .collect();
        let mut unloaded = 0usize;
        for (key, cell) in candidates {
            let slot = cell.state.lock().await;
            if cell.is_retired() || slot.dirty || slot.sp.earliest_deadline().is_some() {
                continue;
            }
            // The map lock under the state lock, never held across an await: no path waits for
            // a state lock while it holds the map.
            let mut partitions = self.partitions.write();
            if partitions
                .get(&key)
                .is_some_and(|current| Arc::ptr_eq(current, &cell))
            {
                cell.retire();
                partitions.remove(&key);
                unloaded += 1;
            }
        }
        unloaded + self.forget_persisted(idle)
    }

    /// SPSO of a share-partition that exists (materialized or persisted), as of its last
    /// change (never waiting for a write under way).
    pub fn start_offset(&self, key: &SharePartitionKey) -> Option<i64> {
        match self.existing(key) {
            Some(c) => Some(c.start_offset.load(Ordering::Acquire)),
            None => self.persisted.lock().get(key).map(|s| s.start_offset),
        }
    }

    /// Every share-partition of `group` with state here: (topic id, partition, SPSO,
    /// delivery-complete count), the inputs of DescribeShareGroupOffsets v1's lag (KIP-1226).
    pub fn group_offsets(&self, group: &str) -> Vec<(Uuid, i32, i64, i64)> {
        let mut out: Vec<(Uuid, i32, i64, i64)> = self
            .partitions
            .read()
            .iter()
            .filter(|(k, _)| k.group_id == group)
            .map(|(k, c)| {
                let spso = c.start_offset.load(Ordering::Acquire);
                let dcc = c.delivery_complete.load(Ordering::Acquire);
                (k.topic_id, k.partition, spso, dcc)
            })
            .collect();
        out.extend(
            self.persisted
                .lock()
                .iter()
                .filter(|(k, _)| k.group_id == group)
                .map(|(k, s)| {
                    let dcc = i64::from(s.delivery_complete_count);
                    (k.topic_id, k.partition, s.start_offset, dcc)
                }),
        );
        out.sort();
        out
    }

    /// Delete the state of `group` (only topic `topic` with `Some`): tombstones first, then the
    /// in-memory share-partitions (design §8.6). Nothing is dropped when the write fails.
    /// Returns the share-partitions deleted.
    pub async fn delete_state(
        &self,
        group: &str,
        topic: Option<Uuid>,
        persister: &dyn StatePersister,
        now_ms: i64,
    ) -> Result<Vec<SharePartitionKey>, PersistError> {
        let matches =
            |k: &SharePartitionKey| k.group_id == group && topic.is_none_or(|t| t == k.topic_id);
        let cells = self.cells(matches);
        let mut keys: Vec<SharePartitionKey> = cells.iter().map(|(k, _)| k.clone()).collect();
        keys.extend(self.persisted.lock().keys().filter(|k| matches(k)).cloned());
        keys.sort();
        keys.dedup();
        // Held across the tombstones' write, so a write under way for one lands before it.
        let mut slots = Vec::new();
        for (_, cell) in &cells {
            slots.push(cell.state.lock().await);
        }
        let tombstones: Vec<StateWrite> = keys.iter().map(|k| (k.state_key(), None)).collect();
        persister.write(&tombstones, now_ms).await?;
        {
            let mut partitions = self.partitions.write();
            partitions.retain(|k, cell| {
                let delete = matches(k);
                if delete {
                    cell.retire();
                }
                !delete
            });
            self.persisted.lock().retain(|k, _| !matches(k));
        }
        drop(slots);
        Ok(keys)
    }

    /// Replace a share-partition's state with an empty window at `start_offset` under a new
    /// state epoch (AlterShareGroupOffsets, design §9.2), written first. The share-partition is
    /// restored from it on its next use.
    pub async fn reset_start_offset(
        &self,
        key: &SharePartitionKey,
        start_offset: i64,
        persister: &dyn StatePersister,
        now_ms: i64,
    ) -> Result<(), PersistError> {
        let cell = self.existing(key);
        // Held across the write, so a write under way for it lands first.
        let slot = match &cell {
            Some(c) => Some(c.state.lock().await).filter(|_| !c.is_retired()),
            None => None,
        };
        let (epoch, leader_epoch) = match (&slot, &cell) {
            (Some(s), Some(c)) => (s.state_epoch, c.leader_epoch),
            _ => (
                self.persisted.lock().get(key).map_or(0, |s| s.state_epoch),
                0,
            ),
        };
        let state = PersistedState {
            snapshot_epoch: 1,
            state_epoch: epoch.saturating_add(1),
            leader_epoch,
            start_offset: start_offset.max(0),
            delivery_complete_count: 0,
            write_timestamp_ms: now_ms,
            runs: Vec::new(),
        };
        persister
            .write(&[(key.state_key(), Some(state.clone()))], now_ms)
            .await?;
        {
            let mut partitions = self.partitions.write();
            if let Some(replaced) = partitions.remove(key) {
                replaced.retire();
            }
            self.persisted.lock().insert(key.clone(), state);
        }
        drop(slot);
        Ok(())
    }
}

/// A share-partition's state could not be read: the partition cannot be served now (by this
/// node at all, when a newer leader epoch fenced the read).
fn load_failed(key: &SharePartitionKey, e: PersistError) -> KafkaError {
    tracing::warn!(group = %key.group_id, topic_id = %key.topic_id, partition = key.partition, "share-partition state not loaded: {e}");
    match e {
        PersistError::Fenced(_) => KafkaError::NotLeaderOrFollower,
        PersistError::Failed(_) => KafkaError::KafkaStorageError,
    }
}

/// The partition's log as acquisition reads it: whole batches up to the high watermark
/// (read_uncommitted), or up to the last stable offset with aborted transactions' batches and
/// transaction markers marked to archive (read_committed, design §6.11), remembered with their
/// file ranges so the answer can carry them.
struct LogSource<'a> {
    partition: &'a Partition,
    log_start: i64,
    read_committed: bool,
    /// read_committed: the aborted transactions overlapping what was read so far.
    aborted: Vec<AbortedTxn>,
    /// Batches read so far, by base offset.
    read: BTreeMap<i64, (BatchInfo, FileSlice)>,
}

impl<'a> LogSource<'a> {
    fn new(partition: &'a Partition, read_committed: bool) -> Self {
        LogSource {
            log_start: partition.offsets().log_start_offset,
            partition,
            read_committed,
            aborted: Vec::new(),
            read: BTreeMap::new(),
        }
    }

    /// read_committed: a marker is never a record to hand out, and a data batch of a
    /// transaction that `aborted` lists (begun at or before the batch, its ABORT marker after
    /// it) was rolled back.
    fn archives(&self, h: &BatchHeader) -> bool {
        self.read_committed
            && (h.is_control()
                || (h.is_transactional()
                    && self.aborted.iter().any(|a| {
                        a.producer_id == h.producer_id
                            && a.first_offset <= h.base_offset
                            && h.last_offset() < a.last_offset
                    })))
    }

    /// Whole batches from the one holding `offset` (or from the log start when `offset` is
    /// below it), at least one if there is one. Each batch becomes its own file range; only
    /// its header is read.
    fn read_from(&mut self, offset: i64, max_bytes: i32) -> Result<Vec<BatchInfo>, KafkaError> {
        let offset = offset.max(self.log_start);
        let isolation = if self.read_committed {
            Isolation::Committed
        } else {
            Isolation::HighWatermark
        };
        let read = self
            .partition
            .read(offset, max_bytes.max(0) as usize, true, isolation);
        for a in read.aborted {
            if !self.aborted.contains(&a) {
                self.aborted.push(a);
            }
        }
        let slices = match read.slices {
            Ok(slices) => slices,
            Err(LogError::OffsetOutOfRange { .. }) => return Ok(Vec::new()),
            Err(e) => {
                tracing::warn!(topic = %self.partition.topic, partition = self.partition.index, offset, "share fetch read failed: {e}");
                return Err(KafkaError::KafkaStorageError);
            }
        };
        let mut found = Vec::new();
        let mut header = [0u8; HEADER_SIZE];
        for slice in slices {
            let mut at = 0u64;
            while at + HEADER_SIZE as u64 <= slice.len {
                if let Err(e) = slice.read_into(&mut header, at) {
                    tracing::warn!(topic = %self.partition.topic, partition = self.partition.index, "share fetch read failed: {e}");
                    return Err(KafkaError::KafkaStorageError);
                }
                let Some(h) = BatchHeader::parse(&header) else {
                    break;
                };
                let size = h.size();
                if h.magic != MAGIC_V2 || size == 0 || at + size > slice.len {
                    break;
                }
                let info = BatchInfo {
                    base_offset: h.base_offset,
                    last_offset: h.last_offset(),
                    is_control: h.is_control(),
                    archive: self.archives(&h),
                };
                let range = FileSlice {
                    file: slice.file.clone(),
                    position: slice.position + at,
                    len: size,
                    verified: slice.verified.clone(),
                };
                self.read.insert(info.base_offset, (info, range));
                found.push(info);
                at += size;
            }
        }
        Ok(found)
    }

    /// The batches covering `ranges`, in offset order, each once: the ones already read, and
    /// for redelivered offsets, batches read now. Offsets whose batch is gone (retention) are
    /// skipped; the client cannot be given them.
    fn covering(&mut self, ranges: &[AcquiredRecords]) -> Result<Vec<FileSlice>, KafkaError> {
        let mut wanted: Vec<i64> = Vec::new();
        for r in ranges {
            let mut at = r.first_offset;
            let mut tried_read = false;
            while at <= r.last_offset {
                let holding = self
                    .read
                    .range(..=at)
                    .next_back()
                    .filter(|(_, (b, _))| b.last_offset >= at)
                    .map(|(base, (b, _))| (*base, b.last_offset));
                if let Some((base, last)) = holding {
                    wanted.push(base);
                    at = last.saturating_add(1);
                    tried_read = false;
                    continue;
                }
                if !tried_read {
                    self.read_from(at, REDELIVERY_READ_BYTES)?;
                    tried_read = true;
                    continue;
                }
                match self.read.range(at + 1..).next() {
                    Some((&base, _)) if base <= r.last_offset => at = base,
                    _ => break,
                }
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        Ok(wanted
            .into_iter()
            .filter_map(|base| self.read.get(&base).map(|(_, s)| s.clone()))
            .collect())
    }
}

/// How much one read for redelivered records asks for (whole batches; at least one).
const REDELIVERY_READ_BYTES: i32 = 1 << 20;

/// The first chunk a read for new records asks for; each further chunk doubles.
const FIRST_READ_BYTES: i64 = 64 << 10;

impl BatchSource for LogSource<'_> {
    fn log_start_offset(&self) -> i64 {
        self.log_start
    }

    /// Reads in chunks, doubling from [`FIRST_READ_BYTES`], until the batches read hold
    /// `max_records` offsets or `max_bytes` are read: a share fetch takes at most `MaxRecords`
    /// (the client's `max.poll.records`, 500 by default) while its `MaxBytes` is the client's
    /// `fetch.max.bytes` (50 MiB), and reading that far ahead cost one header read per batch
    /// (docs/performance.md, "Share groups").
    fn read_batches(
        &mut self,
        offset: i64,
        max_bytes: i32,
        max_records: i64,
    ) -> Result<Vec<BatchInfo>, KafkaError> {
        let mut found: Vec<BatchInfo> = Vec::new();
        let mut at = offset;
        let mut bytes_left = i64::from(max_bytes.max(0));
        let mut chunk = FIRST_READ_BYTES;
        // Offsets to hand out among those read (archived batches take none of `max_records`).
        let mut deliverable = 0i64;
        loop {
            let ask = chunk.min(bytes_left).max(1) as i32;
            // Only the first read may go past `max_bytes` (one whole batch at least, KIP-74).
            let first = found.is_empty();
            let got = self.read_from(at, ask)?;
            if got.is_empty() {
                return Ok(found);
            }
            for b in got {
                let size = self
                    .read
                    .get(&b.base_offset)
                    .map_or(0, |(_, s)| s.len as i64);
                if b.last_offset < at || (!first && size > bytes_left) {
                    return Ok(found);
                }
                bytes_left -= size;
                if !b.archive {
                    deliverable += b.last_offset - b.base_offset.max(at) + 1;
                }
                at = b.last_offset.saturating_add(1);
                found.push(b);
            }
            if deliverable >= max_records || bytes_left <= 0 {
                return Ok(found);
            }
            chunk = chunk.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::log::LogConfig;
    use crate::log::test_util::batch_bytes;
    use crate::partition::AppendOrigin;
    use bytes::BytesMut;
    use kafka_protocol::records::Compression;
    use std::path::Path;

    use crate::share::persist::MemoryPersister;

    const A: &str = "member-a";
    const NOP: crate::share::VolatilePersister = crate::share::VolatilePersister;
    const B: &str = "member-b";

    fn open(dir: &Path, index: i32) -> Arc<Partition> {
        Partition::open("t", index, dir, LogConfig::default(), 0).unwrap()
    }

    /// Appends one batch of `n` records; returns its base offset.
    fn produce(p: &Partition, n: usize) -> i64 {
        let recs: Vec<(i64, String)> = (0..n).map(|i| (i as i64, format!("v{i}"))).collect();
        let recs: Vec<(i64, &str)> = recs.iter().map(|(t, v)| (*t, v.as_str())).collect();
        let bytes = batch_bytes(&recs, Compression::None);
        let v = p
            .validate(BytesMut::from(&bytes[..]), AppendOrigin::Client, 0)
            .unwrap();
        match p.append(v, 0).unwrap() {
            crate::partition::AppendOutcome::Appended(r) => r.base_offset,
            other => panic!("{other:?}"),
        }
    }

    /// (topic id, partition, SPSO) of the group's share-partitions.
    fn start_offsets(m: &ShareManager, group: &str) -> Vec<(Uuid, i32, i64)> {
        m.group_offsets(group)
            .into_iter()
            .map(|(t, p, spso, _)| (t, p, spso))
            .collect()
    }

    fn key(partition: i32) -> SharePartitionKey {
        SharePartitionKey {
            group_id: "g".into(),
            topic_id: Uuid::from_u128(1),
            partition,
        }
    }

    fn limits(max_records: i64, max_bytes: i32) -> AcquireLimits {
        AcquireLimits {
            max_records,
            max_bytes,
            record_limit: false,
            read_committed: false,
        }
    }

    fn ranges(a: &Acquisition) -> Vec<(i64, i64, i16)> {
        a.records
            .iter()
            .map(|r| (r.first_offset, r.last_offset, r.delivery_count))
            .collect()
    }

    fn bases(a: &Acquisition) -> Vec<i64> {
        let mut out = Vec::new();
        for s in &a.batches {
            let bytes = s.read().unwrap();
            out.push(BatchHeader::parse(&bytes).unwrap().base_offset);
            assert_eq!(
                BatchHeader::parse(&bytes).unwrap().size(),
                s.len,
                "one whole batch per range"
            );
        }
        out
    }

    const EARLIEST: ShareAutoOffsetReset = ShareAutoOffsetReset::Earliest;

    #[tokio::test]
    async fn initialization_follows_auto_offset_reset() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 3);
        let m = ShareManager::new();
        let s = ShareSettings::default();
        let latest = SharePartitionKey {
            group_id: "latest".into(),
            ..key(0)
        };
        let got = m
            .acquire(
                &latest,
                &p,
                A,
                0,
                limits(10, 1 << 20),
                &s,
                ShareAutoOffsetReset::Latest,
                &NOP,
            )
            .await
            .unwrap();
        assert!(got.records.is_empty());
        assert_eq!(m.start_offset(&latest), Some(3));
        let got = m
            .acquire(&key(0), &p, A, 0, limits(10, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 2, 1)]);
        // Records produced after a latest share-partition was made are delivered.
        produce(&p, 2);
        let got = m
            .acquire(
                &latest,
                &p,
                A,
                0,
                limits(10, 1 << 20),
                &s,
                ShareAutoOffsetReset::Latest,
                &NOP,
            )
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(3, 4, 1)]);
        assert_eq!(bases(&got), vec![3]);
    }

    #[tokio::test]
    async fn by_duration_starts_at_the_first_record_that_recent() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 5); // timestamps 0..=4
        let m = ShareManager::new();
        let s = ShareSettings::default();
        let got = m
            .acquire(
                &key(0),
                &p,
                A,
                10,
                limits(10, 1 << 20),
                &s,
                ShareAutoOffsetReset::ByDuration(8),
                &NOP,
            )
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(2, 4, 1)]);
        // Nothing that recent: the end.
        let k = SharePartitionKey {
            group_id: "g2".into(),
            ..key(0)
        };
        m.acquire(
            &k,
            &p,
            A,
            100,
            limits(10, 1 << 20),
            &s,
            ShareAutoOffsetReset::ByDuration(8),
            &NOP,
        )
        .await
        .unwrap();
        assert_eq!(m.start_offset(&k), Some(5));
        assert!(m.acknowledge(&k, A, &[], 100, &s, 0, &NOP).await.is_ok());
    }

    #[tokio::test]
    async fn retain_drops_share_partitions_of_partitions_gone() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        let m = ShareManager::new();
        let w = m.subscribe(&key(0), &p, EARLIEST, 0, &NOP).await.unwrap();
        m.subscribe(&key(1), &p, EARLIEST, 0, &NOP).await.unwrap();
        assert_eq!(
            m.retain_partitions(
                |_, partition| partition != 1,
                |_, partition| partition == 1,
                &NOP,
                0
            )
            .await,
            Dropped {
                deleted: 1,
                unloaded: 0
            }
        );
        assert_eq!(m.start_offset(&key(0)), None);
        assert!(m.start_offset(&key(1)).is_some());
        assert!(w.has_changed().is_err(), "a parked fetch's watch closes");
    }

    #[tokio::test]
    async fn max_records_and_max_bytes_bound_whole_batches() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        for _ in 0..4 {
            produce(&p, 5);
        }
        let m = ShareManager::new();
        let s = ShareSettings::default();
        // Six records: two whole batches (batch-optimized overshoots to the batch end).
        let got = m
            .acquire(&key(0), &p, A, 0, limits(6, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 9, 1)]);
        assert_eq!(bases(&got), vec![0, 5]);
        // One byte: still one whole batch (KIP-74).
        let got = m
            .acquire(&key(0), &p, B, 0, limits(500, 1), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(10, 14, 1)]);
        assert_eq!(bases(&got), vec![10]);
        assert_eq!(got.bytes(), got.batches[0].len);
    }

    /// Appends `n` records of a transaction of `producer_id` (first sequence `seq`).
    fn produce_txn(p: &Partition, producer_id: i64, seq: i32, n: usize) {
        let recs: Vec<(i64, &str)> = (0..n).map(|i| (i as i64, "t")).collect();
        let bytes = crate::log::test_util::batch_bytes_with(
            &recs,
            Compression::None,
            producer_id,
            0,
            seq,
            true,
            false,
        );
        let v = p
            .validate(BytesMut::from(&bytes[..]), AppendOrigin::Client, 0)
            .unwrap();
        p.append(v, 0).unwrap();
    }

    /// read_committed (design §6.11): acquisition stops at the LSO, archives the aborted
    /// transaction and the markers, and hands out the open transaction once it commits (the
    /// marker moves the partition's progress watch, which wakes a parked fetch);
    /// read_uncommitted hands out everything below the high watermark.
    #[tokio::test]
    async fn read_committed_skips_aborted_transactions_and_markers_and_stops_at_the_lso() {
        use crate::log::control::Marker;
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 2); // 0-1
        produce_txn(&p, 7, 0, 3); // 2-4
        assert_eq!(p.write_marker(7, 0, Marker::Commit, 0, 0).unwrap(), 5);
        produce_txn(&p, 8, 0, 3); // 6-8
        assert_eq!(p.write_marker(8, 0, Marker::Abort, 0, 0).unwrap(), 9);
        produce_txn(&p, 9, 0, 2); // 10-11, open
        produce(&p, 1); // 12
        assert_eq!(p.offsets().last_stable_offset, 10);

        let m = ShareManager::new();
        let s = ShareSettings::default();
        let committed = AcquireLimits {
            read_committed: true,
            ..limits(500, 1 << 20)
        };
        let got = m
            .acquire(&key(0), &p, A, 0, committed, &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 4, 1)]);
        assert_eq!(bases(&got), vec![0, 2]);
        // Nothing more below the LSO: 5-9 were archived, not acquired.
        let none = m
            .acquire(&key(0), &p, B, 0, committed, &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&none), vec![]);
        m.acknowledge(&key(0), A, &[ack(0, 4, 1)], 0, &s, 0, &NOP)
            .await
            .unwrap();
        assert_eq!(m.start_offset(&key(0)), Some(10));

        let mut progress = p.subscribe();
        progress.borrow_and_update();
        assert_eq!(p.write_marker(9, 0, Marker::Commit, 0, 0).unwrap(), 13);
        assert!(
            progress.has_changed().unwrap(),
            "the commit wakes a parked fetch"
        );
        let got = m
            .acquire(&key(0), &p, B, 0, committed, &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(10, 12, 1)]);
        assert_eq!(bases(&got), vec![10, 12]);
        m.acknowledge(&key(0), B, &[ack(10, 12, 1)], 0, &s, 0, &NOP)
            .await
            .unwrap();
        assert_eq!(m.start_offset(&key(0)), Some(14));

        // read_uncommitted: the aborted records and the markers too.
        let other = SharePartitionKey {
            group_id: "u".into(),
            ..key(0)
        };
        let got = m
            .acquire(&other, &p, A, 0, limits(500, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 13, 1)]);
        assert_eq!(bases(&got), vec![0, 2, 5, 6, 9, 10, 12, 13]);
    }

    #[tokio::test]
    async fn reads_for_new_records_stop_once_the_records_wanted_are_covered() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        // 40 batches of 10 records of 2 KiB: ~20 KiB a batch, ~800 KiB in all.
        let value = "x".repeat(2048);
        for _ in 0..40 {
            let recs: Vec<(i64, &str)> = (0..10).map(|t| (t, value.as_str())).collect();
            let bytes = batch_bytes(&recs, Compression::None);
            let v = p
                .validate(BytesMut::from(&bytes[..]), AppendOrigin::Client, 0)
                .unwrap();
            p.append(v, 0).unwrap();
        }
        let mut source = LogSource::new(&p, false);
        let got = source.read_batches(0, i32::MAX, 25).unwrap();
        // The first 64 KiB chunk holds three whole batches: 30 records, enough.
        assert_eq!(
            got.iter().map(|b| b.base_offset).collect::<Vec<_>>(),
            vec![0, 10, 20]
        );
        assert_eq!(
            source.read.len(),
            3,
            "no header read past what the fetch can take"
        );
        // Wanting more reads further in doubling chunks, up to the bytes allowed.
        let mut source = LogSource::new(&p, false);
        let got = source.read_batches(5, i32::MAX, 200).unwrap();
        assert_eq!(got.first().map(|b| b.base_offset), Some(0));
        let covered = got.last().unwrap().last_offset - 5 + 1;
        assert!((200..200 + 40).contains(&covered), "covered {covered}");
        let mut source = LogSource::new(&p, false);
        let got = source.read_batches(0, 50 << 10, 400).unwrap();
        assert_eq!(got.len(), 2, "50 KiB: two whole batches");
        let all = LogSource::new(&p, false)
            .read_batches(0, i32::MAX, i64::MAX)
            .unwrap();
        assert_eq!(all.len(), 40);
    }

    #[tokio::test]
    async fn acquisition_across_partitions_and_members() {
        let dir = tempfile::tempdir().unwrap();
        let (p0, p1) = (
            open(&dir.path().join("0"), 0),
            open(&dir.path().join("1"), 1),
        );
        produce(&p0, 2);
        produce(&p1, 3);
        let m = ShareManager::new();
        let s = ShareSettings::default();
        let a0 = m
            .acquire(&key(0), &p0, A, 0, limits(500, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        let a1 = m
            .acquire(&key(1), &p1, A, 0, limits(500, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(
            (ranges(&a0), ranges(&a1)),
            (vec![(0, 1, 1)], vec![(0, 2, 1)])
        );
        // Locked: another member gets nothing.
        let b0 = m
            .acquire(&key(0), &p0, B, 0, limits(500, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert!(b0.records.is_empty() && b0.batches.is_empty());
    }

    #[tokio::test]
    async fn release_redelivers_the_same_batches_with_the_next_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 3);
        produce(&p, 3);
        let m = ShareManager::new();
        let s = ShareSettings::default();
        m.acquire(&key(0), &p, A, 0, limits(500, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        let mut watch = m.subscribe(&key(0), &p, EARLIEST, 0, &NOP).await.unwrap();
        let ack = |first, last, t| AcknowledgementBatch {
            first_offset: first,
            last_offset: last,
            acknowledge_types: vec![t],
        };
        m.acknowledge(&key(0), A, &[ack(0, 1, 1), ack(2, 4, 2)], 0, &s, 0, &NOP)
            .await
            .unwrap();
        assert!(watch.has_changed().unwrap(), "availability bumped");
        watch.borrow_and_update();
        assert_eq!(m.start_offset(&key(0)), Some(2));
        let got = m
            .acquire(&key(0), &p, B, 0, limits(500, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(2, 4, 2)]);
        // Offsets 2..4 span both batches.
        assert_eq!(bases(&got), vec![0, 3]);
        assert_eq!(
            m.acknowledge(&key(0), A, &[ack(2, 2, 1)], 0, &s, 0, &NOP)
                .await,
            Err(KafkaError::InvalidRecordState)
        );
        assert_eq!(
            m.acknowledge(&key(7), A, &[ack(0, 0, 1)], 0, &s, 0, &NOP)
                .await,
            Err(KafkaError::InvalidRecordState)
        );
    }

    #[tokio::test]
    async fn the_expiry_tick_frees_locks_with_the_simulated_clock() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 4);
        let clock = ManualClock::new(1_000);
        let m = ShareManager::new();
        let s = ShareSettings {
            record_lock_duration_ms: 500,
            ..ShareSettings::default()
        };
        m.acquire(
            &key(0),
            &p,
            A,
            clock.now_ms(),
            limits(500, 1 << 20),
            &s,
            EARLIEST,
            &NOP,
        )
        .await
        .unwrap();
        let mut watch = m
            .subscribe(&key(0), &p, EARLIEST, clock.now_ms(), &NOP)
            .await
            .unwrap();
        clock.advance(499);
        assert_eq!(m.expire_locks(clock.now_ms(), |_| s).await, 0);
        assert!(!watch.has_changed().unwrap());
        clock.advance(1);
        assert_eq!(m.expire_locks(clock.now_ms(), |_| s).await, 4);
        assert!(watch.has_changed().unwrap());
        watch.borrow_and_update();
        let got = m
            .acquire(
                &key(0),
                &p,
                B,
                clock.now_ms(),
                limits(500, 1 << 20),
                &s,
                EARLIEST,
                &NOP,
            )
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 3, 2)]);
    }

    #[tokio::test]
    async fn release_on_session_end_decrements_and_wakes() {
        let dir = tempfile::tempdir().unwrap();
        let (p0, p1) = (
            open(&dir.path().join("0"), 0),
            open(&dir.path().join("1"), 1),
        );
        produce(&p0, 2);
        produce(&p1, 2);
        let m = ShareManager::new();
        let s = ShareSettings::default();
        for (k, p) in [(key(0), &p0), (key(1), &p1)] {
            m.acquire(&k, p, A, 0, limits(500, 1 << 20), &s, EARLIEST, &NOP)
                .await
                .unwrap();
        }
        let w0 = m.subscribe(&key(0), &p0, EARLIEST, 0, &NOP).await.unwrap();
        assert_eq!(m.release_member("other-group", A).await, 0);
        assert_eq!(m.release_member("g", B).await, 0);
        assert!(!w0.has_changed().unwrap());
        assert_eq!(m.release_member("g", A).await, 4);
        assert!(w0.has_changed().unwrap());
        let got = m
            .acquire(&key(1), &p1, B, 0, limits(500, 1 << 20), &s, EARLIEST, &NOP)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 1, 1)], "count decremented, then +1");
    }

    fn ack(first: i64, last: i64, t: i8) -> AcknowledgementBatch {
        AcknowledgementBatch {
            first_offset: first,
            last_offset: last,
            acknowledge_types: vec![t],
        }
    }

    fn state_key(partition: i32) -> StateKey {
        key(partition).state_key()
    }

    /// Initialization is written by the flush; an acknowledgement is written before it is
    /// applied; Acquired records are written as Available with their delivery count, never as
    /// Acquired; a manager opened from the records restores SPSO and the window lazily.
    #[tokio::test]
    async fn state_is_written_and_restored_on_first_use() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        for _ in 0..3 {
            produce(&p, 2);
        }
        let disk = MemoryPersister::new();
        let m = ShareManager::open(&disk);
        let s = ShareSettings::default();
        m.subscribe(&key(0), &p, EARLIEST, 0, &disk).await.unwrap();
        assert_eq!(m.flush(&disk, 0).await.unwrap(), 1, "initialization");
        assert_eq!(disk.get(&state_key(0)).unwrap().start_offset, 0);
        assert_eq!(m.flush(&disk, 0).await.unwrap(), 0, "nothing dirty");

        let got = m
            .acquire(&key(0), &p, A, 0, limits(500, 1 << 20), &s, EARLIEST, &disk)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 5, 1)]);
        assert_eq!(
            m.flush(&disk, 0).await.unwrap(),
            0,
            "acquisition is not written"
        );
        // Accept 0..1, reject 2, release 3: 4..5 stay Acquired.
        m.acknowledge(
            &key(0),
            A,
            &[ack(0, 1, 1), ack(2, 2, 3), ack(3, 3, 2)],
            0,
            &s,
            0,
            &disk,
        )
        .await
        .unwrap();
        let written = disk.get(&state_key(0)).unwrap();
        assert_eq!(written.start_offset, 3);
        assert_eq!(written.snapshot_epoch, 2);
        let runs: Vec<(i64, i64, i8, i16)> = written
            .runs
            .iter()
            .map(|r| {
                (
                    r.first_offset,
                    r.last_offset,
                    r.state.id(),
                    r.delivery_count,
                )
            })
            .collect();
        // (Adjacent equal runs are merged by the record encoding, not here.)
        assert_eq!(
            runs,
            vec![(3, 3, 0, 1), (4, 5, 0, 1)],
            "Acquired 4..5 written as Available"
        );

        // A restart: nothing materialized until used; then the same SPSO and window.
        let m2 = ShareManager::open(&disk);
        assert_eq!(m2.start_offset(&key(0)), Some(3));
        assert_eq!(start_offsets(&m2, "g"), vec![(key(0).topic_id, 0, 3)]);
        let got = m2
            .acquire(&key(0), &p, B, 0, limits(500, 1 << 20), &s, EARLIEST, &disk)
            .await
            .unwrap();
        assert_eq!(
            ranges(&got),
            vec![(3, 5, 2)],
            "redelivered, nothing accepted"
        );
        assert_eq!(m2.flush(&disk, 0).await.unwrap(), 0, "restored, not dirty");
    }

    /// A RENEW writes nothing (deadlines are not persisted), so it succeeds while writes fail,
    /// and the renewed lock holds past the old deadline.
    #[tokio::test]
    async fn a_renewal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 4);
        let disk = MemoryPersister::new();
        let m = ShareManager::open(&disk);
        let s = ShareSettings::default();
        m.acquire(&key(0), &p, A, 0, limits(500, 1 << 20), &s, EARLIEST, &disk)
            .await
            .unwrap();
        m.flush(&disk, 0).await.unwrap();
        disk.set_failing(true);
        m.acknowledge(&key(0), A, &[ack(0, 3, 4)], 20_000, &s, 0, &disk)
            .await
            .unwrap();
        assert_eq!(m.expire_locks(30_000, |_| s).await, 0, "renewed to 50 000");
        assert_eq!(m.expire_locks(50_000, |_| s).await, 4);
        disk.set_failing(false);
    }

    /// A failed write refuses the acknowledgement and leaves memory as it was; expiry and
    /// release are written by the next flush that succeeds.
    #[tokio::test]
    async fn a_failed_write_refuses_the_acknowledgement() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 4);
        let disk = MemoryPersister::new();
        let m = ShareManager::open(&disk);
        let s = ShareSettings::default();
        m.acquire(&key(0), &p, A, 0, limits(500, 1 << 20), &s, EARLIEST, &disk)
            .await
            .unwrap();
        disk.set_failing(true);
        assert_eq!(
            m.acknowledge(&key(0), A, &[ack(0, 3, 1)], 0, &s, 0, &disk)
                .await,
            Err(KafkaError::KafkaStorageError)
        );
        assert_eq!(m.start_offset(&key(0)), Some(0), "memory unchanged");
        assert!(m.flush(&disk, 0).await.is_err());
        disk.set_failing(false);
        m.acknowledge(&key(0), A, &[ack(0, 1, 1)], 0, &s, 0, &disk)
            .await
            .unwrap();
        assert_eq!(m.start_offset(&key(0)), Some(2));
        assert_eq!(disk.get(&state_key(0)).unwrap().start_offset, 2);
        assert_eq!(m.release_member("g", A).await, 2);
        assert_eq!(m.flush(&disk, 0).await.unwrap(), 1);
        let w = disk.get(&state_key(0)).unwrap();
        assert_eq!(
            (
                w.runs[0].first_offset,
                w.runs[0].last_offset,
                w.runs[0].delivery_count
            ),
            (2, 3, 0),
            "released: count decremented"
        );
    }

    /// Deleting a group's (or one topic's) state tombstones it, materialized or not; so does
    /// dropping the partitions of a deleted topic; a reset starts a new state epoch.
    #[tokio::test]
    async fn tombstones_and_resets() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 4);
        let disk = MemoryPersister::new();
        let m = ShareManager::open(&disk);
        for i in 0..3 {
            m.subscribe(&key(i), &p, EARLIEST, 0, &disk).await.unwrap();
        }
        let other = SharePartitionKey {
            topic_id: Uuid::from_u128(2),
            ..key(0)
        };
        m.subscribe(&other, &p, EARLIEST, 0, &disk).await.unwrap();
        m.flush(&disk, 0).await.unwrap();
        let m = ShareManager::open(&disk);
        m.subscribe(&key(0), &p, EARLIEST, 0, &disk).await.unwrap(); // materialized; 1, 2 and `other` only persisted

        assert_eq!(
            m.retain_partitions(|_, i| i == 2, |_, i| i != 2, &disk, 0)
                .await,
            Dropped {
                deleted: 1,
                unloaded: 0
            }
        );
        assert!(disk.get(&state_key(2)).is_none());
        let deleted = m
            .delete_state("g", Some(Uuid::from_u128(1)), &disk, 0)
            .await
            .unwrap();
        assert_eq!(deleted.len(), 2);
        assert!(disk.get(&state_key(0)).is_none() && disk.get(&state_key(1)).is_none());
        assert_eq!(m.start_offset(&key(0)), None);
        assert_eq!(start_offsets(&m, "g"), vec![(other.topic_id, 0, 0)]);

        m.reset_start_offset(&other, 3, &disk, 0).await.unwrap();
        let w = disk.get(&other.state_key()).unwrap();
        assert_eq!((w.start_offset, w.state_epoch), (3, 1));
        let got = m
            .acquire(
                &other,
                &p,
                A,
                0,
                limits(500, 1 << 20),
                &ShareSettings::default(),
                EARLIEST,
                &disk,
            )
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(3, 3, 1)]);
        m.delete_state("g", None, &disk, 0).await.unwrap();
        assert!(disk.load().is_empty());
        disk.set_failing(true);
        m.subscribe(&key(0), &p, EARLIEST, 0, &disk).await.unwrap();
        assert!(m.delete_state("g", None, &disk, 0).await.is_err());
        assert_eq!(
            m.start_offset(&key(0)),
            Some(0),
            "kept when the tombstone failed"
        );
    }

    /// Acquires all of `p` for A (ids from `key(i)`), accepts the first two offsets and
    /// writes: SPSO 2, the rest Available with count 1 on the persister.
    async fn accept_two(
        m: &ShareManager,
        k: &SharePartitionKey,
        p: &Partition,
        disk: &MemoryPersister,
    ) {
        let s = ShareSettings::default();
        m.acquire(k, p, A, 0, limits(500, 1 << 20), &s, EARLIEST, disk)
            .await
            .unwrap();
        m.acknowledge(k, A, &[ack(0, 1, 1)], 0, &s, p.leader_epoch(), disk)
            .await
            .unwrap();
    }

    /// A fresh partition of 4 records, a persister and a manager (`ShareManager::new`, state
    /// read per key), after `accept_two` on `key(0)`: the directory is kept alive by the
    /// caller.
    async fn two_accepted() -> (
        tempfile::TempDir,
        Arc<Partition>,
        MemoryPersister,
        ShareManager,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 4);
        let disk = MemoryPersister::new();
        let m = ShareManager::new();
        accept_two(&m, &key(0), &p, &disk).await;
        (dir, p, disk, m)
    }

    /// A deleted topic's share-partitions are dropped and tombstoned; those of a partition
    /// merely not led here leave memory only, and a manager that loads per key (a cluster
    /// node) restores them from the persister on their next use.
    #[tokio::test]
    async fn retain_tombstones_deleted_topics_and_only_unloads_moved_leadership() {
        let dir = tempfile::tempdir().unwrap();
        let ps: Vec<Arc<Partition>> = (0..3)
            .map(|i| open(&dir.path().join(i.to_string()), i))
            .collect();
        for p in &ps {
            produce(p, 4);
        }
        let disk = MemoryPersister::new();
        let m = ShareManager::new();
        for (i, p) in ps.iter().enumerate() {
            accept_two(&m, &key(i as i32), p, &disk).await;
        }
        let moved = m
            .subscribe(&key(1), &ps[1], EARLIEST, 0, &disk)
            .await
            .unwrap();
        // Partition 0 is led here, 1 moved to another node, 2's topic is gone.
        let dropped = m
            .retain_partitions(|_, i| i == 2, |_, i| i == 0, &disk, 0)
            .await;
        assert_eq!(
            dropped,
            Dropped {
                deleted: 1,
                unloaded: 1
            }
        );
        assert!(disk.get(&state_key(2)).is_none(), "tombstoned");
        assert_eq!(disk.get(&state_key(1)).unwrap().start_offset, 2, "kept");
        assert_eq!(m.start_offset(&key(0)), Some(2));
        assert_eq!(m.start_offset(&key(1)), None, "not in memory");
        assert!(
            moved.has_changed().is_err(),
            "a parked fetch's watch closes"
        );
        assert_eq!(
            m.acknowledge(
                &key(1),
                A,
                &[ack(2, 3, 1)],
                0,
                &ShareSettings::default(),
                0,
                &disk
            )
            .await,
            Err(KafkaError::InvalidRecordState),
            "what A held went with the memory"
        );
        // Led here again: restored from the persister, A's records Available again.
        let got = m
            .acquire(
                &key(1),
                &ps[1],
                B,
                0,
                limits(500, 1 << 20),
                &ShareSettings::default(),
                EARLIEST,
                &disk,
            )
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(2, 3, 2)]);
        assert_eq!(m.start_offset(&key(1)), Some(2));

        // The image's follower unloads at once, as the retention tick does.
        assert_eq!(m.unload_partitions(|k| k.partition == 1), 1);
        assert_eq!(m.start_offset(&key(1)), None);
        assert_eq!(disk.get(&state_key(1)).unwrap().start_offset, 2);
    }

    /// A group with no session left here is unloaded only where nobody uses it: a
    /// share-partition holding Acquired records, or a change not written yet, stays; once
    /// released and written it goes, and the persister has its state.
    #[tokio::test]
    async fn an_idle_unload_keeps_what_is_acquired_or_unwritten() {
        let (_dir, p, disk, m) = two_accepted().await;
        assert_eq!(m.release_member(&key(0).group_id, A).await, 2);
        let s = ShareSettings::default();
        let got = m
            .acquire(&key(0), &p, B, 0, limits(500, 1 << 20), &s, EARLIEST, &disk)
            .await
            .unwrap();
        assert_eq!(ranges(&got), vec![(2, 3, 1)]);
        assert_eq!(m.unload_idle_partitions(|_| true).await, 0, "B holds 2-3");
        assert_eq!(m.start_offset(&key(0)), Some(2));

        assert_eq!(m.release_member(&key(0).group_id, B).await, 2);
        assert_eq!(
            m.unload_idle_partitions(|_| true).await,
            0,
            "release not written"
        );
        m.flush(&disk, 0).await.unwrap();
        assert_eq!(m.unload_idle_partitions(|k| k.partition == 1).await, 0);
        assert_eq!(m.unload_idle_partitions(|_| true).await, 1);
        assert_eq!(m.start_offset(&key(0)), None);
        let kept = disk.get(&state_key(0)).unwrap();
        assert_eq!((kept.start_offset, kept.runs.len()), (2, 1));
    }

    /// An acquisition and an idle unload of the same share-partition, both waiting for its
    /// state lock (a write holds it), in either order: the acquisition that locks first keeps
    /// the share-partition loaded; one that locks after the unload acquires from the
    /// successor, restored from the persister. Either way the records are acquired once, in
    /// the share-partition the manager holds, and nobody else gets them.
    #[tokio::test]
    async fn an_acquisition_racing_an_idle_unload_is_never_lost() {
        for acquisition_first in [true, false] {
            let (_dir, p, disk, m) = two_accepted().await;
            assert_eq!(m.release_member(&key(0).group_id, A).await, 2);
            m.flush(&disk, 0).await.unwrap();
            let s = ShareSettings::default();
            let cell = m.existing(&key(0)).unwrap();
            let writer = cell.state.lock().await;
            let k = key(0);
            let acquire = m.acquire(&k, &p, B, 0, limits(500, 1 << 20), &s, EARLIEST, &disk);
            let unload = m.unload_idle_partitions(|_| true);
            let release = async {
                tokio::task::yield_now().await;
                drop(writer);
            };
            // join! polls in order, and the state lock is handed out in the order asked.
            let (got, unloaded) = if acquisition_first {
                let (got, unloaded, ()) = tokio::join!(acquire, unload, release);
                (got, unloaded)
            } else {
                let (unloaded, got, ()) = tokio::join!(unload, acquire, release);
                (got, unloaded)
            };
            assert_eq!(
                ranges(&got.unwrap()),
                vec![(2, 3, 1)],
                "{acquisition_first}"
            );
            assert_eq!(unloaded, usize::from(!acquisition_first));
            assert_eq!(cell.is_retired(), !acquisition_first);
            let again = m
                .acquire(&key(0), &p, A, 0, limits(500, 1 << 20), &s, EARLIEST, &disk)
                .await
                .unwrap();
            assert!(
                again.records.is_empty(),
                "B holds 2-3 ({acquisition_first})"
            );
            assert_eq!(m.unload_idle_partitions(|_| true).await, 0);
        }
    }

    /// A share-partition made under an earlier leader epoch is stale once the partition leads
    /// at a later one (leadership went away and came back): it is made again from the
    /// persister, the acquisitions it held are gone, and acknowledgements of them fail.
    #[tokio::test]
    async fn a_new_leader_epoch_reloads_the_share_partition() {
        let (_dir, p, disk, m) = two_accepted().await;
        let s = ShareSettings::default();
        assert_eq!(disk.get(&state_key(0)).unwrap().leader_epoch, 0);
        let old = m.subscribe(&key(0), &p, EARLIEST, 0, &disk).await.unwrap();

        p.set_leader_epoch(3);
        assert_eq!(
            m.acknowledge(&key(0), A, &[ack(2, 2, 1)], 0, &s, 3, &disk)
                .await,
            Err(KafkaError::InvalidRecordState),
            "acquired under epoch 0"
        );
        let got = m
            .acquire(&key(0), &p, B, 0, limits(500, 1 << 20), &s, EARLIEST, &disk)
            .await
            .unwrap();
        assert_eq!(
            ranges(&got),
            vec![(2, 3, 2)],
            "restored: 2..3 Available, count 1"
        );
        assert!(old.has_changed().is_err(), "the stale one is gone");
        assert_eq!(
            m.acknowledge(&key(0), A, &[ack(2, 2, 1)], 0, &s, 3, &disk)
                .await,
            Err(KafkaError::InvalidRecordState)
        );
        m.acknowledge(&key(0), B, &[ack(2, 3, 1)], 0, &s, 3, &disk)
            .await
            .unwrap();
        let w = disk.get(&state_key(0)).unwrap();
        assert_eq!(
            (w.start_offset, w.leader_epoch),
            (4, 3),
            "written under the new epoch"
        );
        // The same epoch again keeps the share-partition.
        let again = m.subscribe(&key(0), &p, EARLIEST, 0, &disk).await.unwrap();
        m.release_member("g", B).await;
        assert_eq!(m.start_offset(&key(0)), Some(4));
        drop(again);
    }

    /// Flushes, acknowledgements, expiries, deletions and resets of the same share-partitions
    /// at once, with every write suspending under its state lock: all finish (the paths that
    /// hold several state locks take them in key order) and each key's last record is its
    /// last state.
    #[tokio::test(start_paused = true)]
    async fn concurrent_writers_do_not_deadlock() {
        let dir = tempfile::tempdir().unwrap();
        let ps: Vec<Arc<Partition>> = (0..4)
            .map(|i| open(&dir.path().join(i.to_string()), i))
            .collect();
        for p in &ps {
            produce(p, 8);
        }
        let disk = Arc::new(MemoryPersister::new());
        let m = Arc::new(ShareManager::new());
        let s = ShareSettings {
            record_lock_duration_ms: 10,
            ..ShareSettings::default()
        };
        let keys: Vec<SharePartitionKey> = ["g", "h"]
            .into_iter()
            .flat_map(|g| {
                (0..4).map(move |i| SharePartitionKey {
                    group_id: g.into(),
                    ..key(i)
                })
            })
            .collect();
        for k in &keys {
            let p = &ps[k.partition as usize];
            m.acquire(k, p, A, 0, limits(4, 1 << 20), &s, EARLIEST, &*disk)
                .await
                .unwrap();
        }
        let mut tasks = tokio::task::JoinSet::new();
        for round in 0..4i64 {
            for k in &keys {
                let (m, disk, k) = (m.clone(), disk.clone(), k.clone());
                tasks.spawn(async move {
                    let s = ShareSettings::default();
                    let _ = m
                        .acknowledge(&k, A, &[ack(round, round, 1)], 0, &s, 0, &*disk)
                        .await;
                });
            }
            let (m2, disk2) = (m.clone(), disk.clone());
            tasks.spawn(async move {
                m2.flush(&*disk2, 0).await.unwrap();
            });
            if round == 1 {
                let (m3, disk3) = (m.clone(), disk.clone());
                tasks.spawn(async move {
                    m3.delete_state("h", None, &*disk3, 0).await.unwrap();
                });
                let (m4, disk4) = (m.clone(), disk.clone());
                tasks.spawn(async move {
                    m4.reset_start_offset(&key(3), 6, &*disk4, 0).await.unwrap();
                });
            }
            if round == 2 {
                let m5 = m.clone();
                tasks.spawn(async move {
                    m5.expire_locks(100, |_| ShareSettings::default()).await;
                });
            }
        }
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
        })
        .await
        .expect("deadlocked");
        assert!(disk.writes.load(Ordering::SeqCst) > 10);
        m.flush(&*disk, 0).await.unwrap();
        for i in 0..3 {
            assert_eq!(
                disk.get(&state_key(i)).map(|w| w.start_offset),
                m.start_offset(&key(i)),
                "partition {i}: the last record is the state"
            );
        }
        assert_eq!(disk.get(&state_key(3)).unwrap().start_offset, 6);
        assert_eq!(start_offsets(&m, "h"), vec![]);
        assert!(keys[4..].iter().all(|k| disk.get(&k.state_key()).is_none()));
    }

    /// A cluster node's manager (no replay) reads a new share-partition's state and, finding
    /// none, writes the initial one before acquiring: the SPSO `latest` resolved is durable
    /// before any record is handed out, and the tick has nothing left to write.
    #[tokio::test]
    async fn a_cluster_node_writes_a_new_state_before_acquiring() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 3);
        let disk = MemoryPersister::new();
        let m = ShareManager::new();
        let s = ShareSettings::default();
        let got = m
            .acquire(
                &key(0),
                &p,
                A,
                0,
                limits(10, 1 << 20),
                &s,
                ShareAutoOffsetReset::Latest,
                &disk,
            )
            .await
            .unwrap();
        assert!(got.records.is_empty(), "latest: nothing before offset 3");
        assert_eq!(disk.writes.load(Ordering::SeqCst), 1);
        let written = disk.get(&state_key(0)).expect("written at once");
        assert_eq!((written.start_offset, written.runs.len()), (3, 0));
        assert_eq!(m.flush(&disk, 0).await.unwrap(), 0, "nothing dirty");
    }

    /// The flush and a deletion both hold several state locks across a write: while an
    /// acknowledgement holds one in the middle, the flush holds the ones before it and the
    /// deletion waits behind them rather than taking the ones after it (key order), so both
    /// finish.
    #[tokio::test(start_paused = true)]
    async fn several_lock_holders_take_locks_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let ps: Vec<Arc<Partition>> = (0..4)
            .map(|i| open(&dir.path().join(i.to_string()), i))
            .collect();
        let disk = Arc::new(MemoryPersister::new());
        // A replaying (single-broker) manager: new states wait for the flush.
        let m = Arc::new(ShareManager::open(&*disk));
        let s = ShareSettings::default();
        for (i, p) in ps.iter().enumerate() {
            produce(p, 2);
            // Initialized (dirty: not written yet) and acquired.
            m.acquire(
                &key(i as i32),
                p,
                A,
                0,
                limits(10, 1 << 20),
                &s,
                EARLIEST,
                &*disk,
            )
            .await
            .unwrap();
        }
        let mut tasks = tokio::task::JoinSet::new();
        let (m1, d1) = (m.clone(), disk.clone());
        tasks.spawn(async move {
            let s = ShareSettings::default();
            m1.acknowledge(&key(1), A, &[ack(0, 1, 1)], 0, &s, 0, &*d1)
                .await
                .unwrap();
        });
        let (m2, d2) = (m.clone(), disk.clone());
        tasks.spawn(async move {
            assert_eq!(
                m2.flush(&*d2, 0).await.unwrap(),
                3,
                "all but the acknowledged one"
            );
        });
        let (m3, d3) = (m.clone(), disk.clone());
        tasks.spawn(async move {
            assert_eq!(m3.delete_state("g", None, &*d3, 0).await.unwrap().len(), 4);
        });
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
        })
        .await
        .expect("deadlocked");
        assert_eq!(disk.writes.load(Ordering::SeqCst), 3);
        assert!(
            (0..4).all(|i| disk.get(&state_key(i)).is_none()),
            "deleted last"
        );
        assert_eq!(start_offsets(&m, "g"), vec![]);
    }
}
