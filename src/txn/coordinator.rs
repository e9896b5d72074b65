//! The transaction coordinator (KIP-98, fencing per KIP-588, server-side
//! partition verification per KIP-890 part 1).
//!
//! A transactional id maps to a producer id and epoch and moves through
//! Empty → Ongoing → PrepareCommit/PrepareAbort → CompleteCommit/CompleteAbort.
//! Ending a transaction writes a COMMIT or ABORT marker to every partition in
//! it (including `__consumer_offsets` for offsets sent with the transaction)
//! before it is complete. State changes are written to `__transaction_state`
//! in Kafka's record format and replayed at start-up, where a transaction
//! caught between Prepare and Complete is completed, never left half visible.
//!
//! Time comes in as `now_ms`; `tick` aborts transactions past their timeout.
//!
//! In a cluster a transaction's partitions may be led by other brokers. Their markers are
//! left `pending` on the transaction, which stays Prepare* (and answers
//! CONCURRENT_TRANSACTIONS) until the broker has delivered them (WriteTxnMarkers) and called
//! [`TransactionCoordinator::markers_written`]; as in Kafka, EndTxn answers once the Prepare
//! state is durable. A coordinator only holds the transactions of the `__transaction_state`
//! partitions it leads ([`TransactionCoordinator::load_partition`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::error::KafkaError as E;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use parking_lot::Mutex;

use crate::error::{Code, NONE};
use crate::group::{GroupCoordinator, OFFSETS_TOPIC, partition_for_key};
use crate::log::Marker;
use crate::partition::Partition;
use crate::topics::TopicRegistry;
use crate::txn::producer_id::ProducerIdManager;

pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
    PrepareEpochFence = 7,
}

impl TxnState {
    fn from_i8(v: i8) -> Option<TxnState> {
        Some(match v {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// Kafka's names (DescribeTransactions / ListTransactions).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// Partitions of a Prepare* transaction whose markers other brokers still have to write
    /// (not persisted: a coordinator that takes over sends every marker again).
    pub pending: BTreeSet<(String, i32)>,
}

pub struct TransactionCoordinator {
    txns: Mutex<HashMap<String, TxnMetadata>>,
    max_timeout_ms: i32,
    /// The `__transaction_state` partitions this node coordinates; `None`: all.
    owned: parking_lot::RwLock<Option<BTreeSet<i32>>>,
}

/// Where partitions are, for marker writing and validation: on a single broker, the local
/// registry; in a cluster, the metadata image and leadership.
pub trait PartitionDirectory: Sync {
    /// Whether the partition exists (anywhere in the cluster).
    fn exists(&self, topic: &str, partition: i32) -> bool;
    /// The partition, when this node leads it.
    fn local_leader(&self, topic: &str, partition: i32) -> Option<Arc<Partition>>;
}

impl PartitionDirectory for TopicRegistry {
    fn exists(&self, topic: &str, partition: i32) -> bool {
        self.get(topic)
            .and_then(|t| t.partition(partition))
            .is_some()
    }

    fn local_leader(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.get(topic).and_then(|t| t.partition(partition))
    }
}

/// Markers a coordinator still has to have written on other brokers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMarkers {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub partitions: Vec<(String, i32)>,
}

/// Who a transactional request comes from.
#[derive(Clone, Copy, Debug)]
pub struct TxnProducer<'a> {
    pub transactional_id: &'a str,
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// Everything the coordinator drives: partitions (markers), groups (offsets), ids.
pub struct TxnContext<'a> {
    pub topics: &'a TopicRegistry,
    pub groups: &'a GroupCoordinator,
    pub producer_ids: &'a ProducerIdManager,
    /// How many partitions `__transaction_state` has (1 on a single broker).
    pub state_partitions: i32,
    /// How many partitions `__consumer_offsets` has (1 on a single broker).
    pub offsets_partitions: i32,
    pub directory: &'a dyn PartitionDirectory,
}

impl TransactionCoordinator {
    pub fn new(max_timeout_ms: i32) -> TransactionCoordinator {
        TransactionCoordinator {
            txns: Mutex::new(HashMap::new()),
            max_timeout_ms,
            owned: parking_lot::RwLock::new(None),
        }
    }

    /// A cluster node: it coordinates no transaction until it leads a `__transaction_state`
    /// partition.
    pub fn join_cluster(&self) {
        *self.owned.write() = Some(BTreeSet::new());
    }

    /// Whether this node coordinates `transactional_id` (of `partitions` state partitions).
    pub fn owns(&self, transactional_id: &str, partitions: i32) -> bool {
        match &*self.owned.read() {
            None => true,
            Some(set) => set.contains(&partition_for_key(transactional_id, partitions)),
        }
    }

    /// The state partitions this node coordinates (`None`: all).
    pub fn owned_partitions(&self) -> Option<BTreeSet<i32>> {
        self.owned.read().clone()
    }

    /// Take over the transactions of `__transaction_state` partition `partition`: replay it,
    /// and finish the ones caught between Prepare and Complete.
    pub fn load_partition(&self, ctx: &TxnContext<'_>, partition: i32, now_ms: i64) {
        let mut loaded = HashMap::new();
        ctx.topics
            .replay_internal_partition(TRANSACTION_STATE_TOPIC, partition, &mut |r| {
                replay_record(&mut loaded, r)
            });
        let mut txns = self.txns.lock();
        let ids: Vec<String> = loaded.keys().cloned().collect();
        txns.extend(loaded);
        if let Some(set) = &mut *self.owned.write() {
            set.insert(partition);
        }
        for id in ids {
            if let Some(m) = txns.get_mut(&id) {
                finish_in_doubt(ctx, m, now_ms);
            }
        }
    }

    /// Hand over the transactions of `partition` to its new coordinator.
    pub fn unload_partition(&self, partition: i32, partitions: i32) {
        if let Some(set) = &mut *self.owned.write() {
            set.remove(&partition);
        }
        self.txns
            .lock()
            .retain(|id, _| partition_for_key(id, partitions) != partition);
    }

    /// Every transaction waiting for markers on other brokers.
    pub fn pending_markers(&self) -> Vec<PendingMarkers> {
        self.txns
            .lock()
            .values()
            .filter(|m| !m.pending.is_empty())
            .map(|m| PendingMarkers {
                transactional_id: m.transactional_id.clone(),
                producer_id: m.producer_id,
                producer_epoch: m.producer_epoch,
                commit: m.state == TxnState::PrepareCommit,
                partitions: m.pending.iter().cloned().collect(),
            })
            .collect()
    }

    /// Markers of `transactional_id`'s transaction (at `producer_id`/`epoch`) were written on
    /// `partitions`; the transaction completes once none is left.
    pub fn markers_written(
        &self,
        ctx: &TxnContext<'_>,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
        now_ms: i64,
    ) {
        let mut txns = self.txns.lock();
        let Some(m) = txns.get_mut(transactional_id) else {
            return;
        };
        if m.producer_id != producer_id || m.producer_epoch != producer_epoch {
            return;
        }
        for tp in partitions {
            m.pending.remove(tp);
        }
        if m.pending.is_empty()
            && matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
            && let Err(e) = finish(ctx, m, now_ms)
        {
            tracing::error!(transactional_id, "could not complete the transaction: {e}");
        }
    }

    /// Replay `__transaction_state` and finish transactions caught mid-completion.
    pub fn open(max_timeout_ms: i32, ctx: &TxnContext<'_>, now_ms: i64) -> TransactionCoordinator {
        let coord = TransactionCoordinator::new(max_timeout_ms);
        {
            let mut txns = coord.txns.lock();
            let n = ctx
                .topics
                .replay_internal(TRANSACTION_STATE_TOPIC, &mut |r| {
                    replay_record(&mut txns, r)
                });
            if n > 0 {
                tracing::info!(
                    transactions = txns.len(),
                    "loaded {TRANSACTION_STATE_TOPIC}"
                );
            }
        }
        let in_doubt: Vec<String> = coord
            .txns
            .lock()
            .values()
            .filter(|m| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|m| m.transactional_id.clone())
            .collect();
        for id in in_doubt {
            let mut txns = coord.txns.lock();
            let Some(m) = txns.get_mut(&id) else { continue };
            finish_in_doubt(ctx, m, now_ms);
        }
        coord
    }

    pub fn max_timeout_ms(&self) -> i32 {
        self.max_timeout_ms
    }

    /// InitProducerId with a transactional id.
    pub fn init_producer_id(
        &self,
        ctx: &TxnContext<'_>,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now_ms: i64,
    ) -> Result<(i64, i16), Code> {
        if transactional_id.is_empty() {
            return Err(E::InvalidRequest.code());
        }
        if timeout_ms <= 0 || timeout_ms > self.max_timeout_ms {
            return Err(E::InvalidTransactionTimeout.code());
        }
        let mut txns = self.txns.lock();
        let new_id = || ctx.producer_ids.next_id().map_err(|e| id_error(&e));
        let m = match txns.get_mut(transactional_id) {
            None => {
                let m = TxnMetadata {
                    transactional_id: transactional_id.to_string(),
                    producer_id: new_id()?,
                    producer_epoch: 0,
                    timeout_ms,
                    state: TxnState::Empty,
                    partitions: BTreeSet::new(),
                    start_ms: -1,
                    last_update_ms: now_ms,
                    pending: BTreeSet::new(),
                };
                persist(ctx, &m, now_ms)?;
                let out = (m.producer_id, m.producer_epoch);
                txns.insert(transactional_id.to_string(), m);
                return Ok(out);
            }
            Some(m) => m,
        };
        if let Some((pid, epoch)) = expected
            && pid >= 0
            && (pid != m.producer_id || epoch != m.producer_epoch)
        {
            return Err(E::ProducerFenced.code());
        }
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                return Err(E::ConcurrentTransactions.code());
            }
            TxnState::Ongoing => {
                // A new incarnation of the producer: fence the old one by aborting its
                // transaction with a bumped epoch. Until every ABORT marker is written (in a
                // cluster the marker round writes them) the answer is CONCURRENT_TRANSACTIONS,
                // as Kafka's: the new producer retries, and starts only once the old
                // transaction is aborted everywhere.
                abort_fenced(ctx, m, new_id, now_ms)?;
                if m.state == TxnState::PrepareAbort {
                    return Err(E::ConcurrentTransactions.code());
                }
            }
            _ => {}
        }
        update(ctx, m, now_ms, |n| {
            bump_epoch(n, new_id)?;
            n.timeout_ms = timeout_ms;
            n.state = TxnState::Empty;
            n.partitions.clear();
            n.last_update_ms = now_ms;
            Ok(())
        })?;
        Ok((m.producer_id, m.producer_epoch))
    }

    /// Common checks of AddPartitionsToTxn / AddOffsetsToTxn / EndTxn.
    fn check<'a>(
        txns: &'a mut HashMap<String, TxnMetadata>,
        who: TxnProducer<'_>,
    ) -> Result<&'a mut TxnMetadata, Code> {
        let m = Self::producer(txns, who)?;
        if is_prepared(m.state) {
            return Err(E::ConcurrentTransactions.code());
        }
        Ok(m)
    }

    /// The transaction of `who`, if `who` is its current producer (id and epoch).
    fn producer<'a>(
        txns: &'a mut HashMap<String, TxnMetadata>,
        who: TxnProducer<'_>,
    ) -> Result<&'a mut TxnMetadata, Code> {
        let TxnProducer {
            transactional_id,
            producer_id,
            producer_epoch,
        } = who;
        let Some(m) = txns.get_mut(transactional_id) else {
            return Err(E::InvalidProducerIdMapping.code());
        };
        if m.producer_id != producer_id {
            return Err(E::InvalidProducerIdMapping.code());
        }
        if producer_epoch != m.producer_epoch {
            return Err(E::ProducerFenced.code());
        }
        Ok(m)
    }

    /// AddPartitionsToTxn: one code per partition (or one for all).
    pub fn add_partitions(
        &self,
        ctx: &TxnContext<'_>,
        who: TxnProducer<'_>,
        partitions: &[(String, i32)],
        verify_only: bool,
        now_ms: i64,
    ) -> Result<Vec<Code>, Code> {
        let mut txns = self.txns.lock();
        let m = Self::check(&mut txns, who)?;
        if verify_only {
            return Ok(partitions
                .iter()
                .map(|tp| {
                    if m.state == TxnState::Ongoing && m.partitions.contains(tp) {
                        NONE
                    } else {
                        E::InvalidTxnState.code()
                    }
                })
                .collect());
        }
        let unknown: Vec<bool> = partitions
            .iter()
            .map(|(t, p)| !ctx.directory.exists(t, *p))
            .collect();
        if unknown.iter().any(|u| *u) {
            return Ok(unknown
                .iter()
                .map(|u| {
                    if *u {
                        E::UnknownTopicOrPartition.code()
                    } else {
                        E::OperationNotAttempted.code()
                    }
                })
                .collect());
        }
        update(ctx, m, now_ms, |n| {
            begin(n, now_ms);
            n.partitions.extend(partitions.iter().cloned());
            n.last_update_ms = now_ms;
            Ok(())
        })?;
        Ok(vec![NONE; partitions.len()])
    }

    /// AddOffsetsToTxn: the group's offsets partition joins the transaction.
    pub fn add_offsets(
        &self,
        ctx: &TxnContext<'_>,
        who: TxnProducer<'_>,
        group_id: &str,
        now_ms: i64,
    ) -> Result<(), Code> {
        let mut txns = self.txns.lock();
        let m = Self::check(&mut txns, who)?;
        if ctx.offsets_partitions <= 1 {
            ctx.groups.ensure_offsets_topic(ctx.topics, now_ms)?;
        }
        let partition = partition_for_key(group_id, ctx.offsets_partitions);
        update(ctx, m, now_ms, |n| {
            begin(n, now_ms);
            n.partitions.insert((OFFSETS_TOPIC.to_string(), partition));
            n.last_update_ms = now_ms;
            Ok(())
        })
    }

    /// Whether TxnOffsetCommit may add offsets for this producer now (the group's offsets
    /// partition `offsets_partition` must be in its ongoing transaction).
    pub fn check_offset_commit(
        &self,
        who: TxnProducer<'_>,
        offsets_partition: i32,
    ) -> Result<(), Code> {
        let mut txns = self.txns.lock();
        let m = Self::check(&mut txns, who)?;
        if m.state != TxnState::Ongoing
            || !m
                .partitions
                .contains(&(OFFSETS_TOPIC.to_string(), offsets_partition))
        {
            return Err(E::InvalidTxnState.code());
        }
        Ok(())
    }

    /// KIP-890 part 1: a transactional batch may be written only to a partition
    /// its (ongoing) transaction has added, at the current epoch.
    pub fn verify_produce(
        &self,
        who: TxnProducer<'_>,
        topic: &str,
        partition: i32,
    ) -> Result<(), Code> {
        let TxnProducer {
            transactional_id,
            producer_id,
            producer_epoch,
        } = who;
        let txns = self.txns.lock();
        let Some(m) = txns.get(transactional_id) else {
            return Err(E::InvalidProducerIdMapping.code());
        };
        if m.producer_id != producer_id {
            return Err(E::InvalidProducerIdMapping.code());
        }
        if producer_epoch < m.producer_epoch {
            return Err(E::InvalidProducerEpoch.code());
        }
        if m.state != TxnState::Ongoing || !m.partitions.contains(&(topic.to_string(), partition)) {
            return Err(E::InvalidTxnState.code());
        }
        Ok(())
    }

    /// EndTxn.
    pub fn end_txn(
        &self,
        ctx: &TxnContext<'_>,
        who: TxnProducer<'_>,
        commit: bool,
        now_ms: i64,
    ) -> Result<(), Code> {
        let mut txns = self.txns.lock();
        let m = Self::producer(&mut txns, who)?;
        match (m.state, commit) {
            (TxnState::Ongoing, _) => complete(ctx, m, commit, now_ms),
            // A retry of an EndTxn that already went through.
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
            // A retry of an EndTxn whose decision is written but whose markers are still
            // pending (a partition without a leader): in a cluster the first answer may have
            // been COORDINATOR_NOT_AVAILABLE because the decision reached the ISR too late,
            // though it stands. Kafka moves its state only once the ISR has the decision, so
            // its retry writes it again and succeeds; here the retry succeeds once the decision
            // is in the ISR (the answer waits for that as the first one did), rather than
            // answering CONCURRENT_TRANSACTIONS until every marker is written.
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => Ok(()),
            (state, _) if is_prepared(state) => Err(E::ConcurrentTransactions.code()),
            _ => Err(E::InvalidTxnState.code()),
        }
    }

    /// Abort transactions that outlived their timeout, fencing their producers; complete the
    /// ones whose markers are all written but whose completion could not be written (a full
    /// disk).
    pub fn tick(&self, ctx: &TxnContext<'_>, now_ms: i64) {
        let mut txns = self.txns.lock();
        for m in txns.values_mut() {
            if m.state == TxnState::Ongoing && now_ms - m.start_ms > m.timeout_ms as i64 {
                tracing::info!(transactional_id = %m.transactional_id, "aborting a transaction past transaction.timeout.ms");
                let new_id = || ctx.producer_ids.next_id().map_err(|e| id_error(&e));
                if let Err(e) = abort_fenced(ctx, m, new_id, now_ms) {
                    tracing::error!(transactional_id = %m.transactional_id, "timeout abort failed: {e}");
                }
            } else if matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
                && m.pending.is_empty()
                && let Err(e) = finish(ctx, m, now_ms)
            {
                tracing::debug!(transactional_id = %m.transactional_id, "completing the transaction failed again: {e}");
            }
        }
    }

    pub fn describe(&self, transactional_id: &str) -> Option<TxnMetadata> {
        self.txns.lock().get(transactional_id).cloned()
    }

    pub fn list(&self) -> Vec<TxnMetadata> {
        let mut v: Vec<TxnMetadata> = self.txns.lock().values().cloned().collect();
        v.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        v
    }
}

/// A producer id that could not be had: in a cluster, while no block came from the controller
/// yet, a retriable COORDINATOR_LOAD_IN_PROGRESS (as Kafka answers); otherwise a storage error.
fn id_error(e: &std::io::Error) -> Code {
    if e.kind() == std::io::ErrorKind::WouldBlock {
        E::CoordinatorLoadInProgress.code()
    } else {
        E::KafkaStorageError.code()
    }
}

fn begin(m: &mut TxnMetadata, now_ms: i64) {
    if m.state != TxnState::Ongoing {
        m.state = TxnState::Ongoing;
        m.start_ms = now_ms;
        m.partitions.clear();
    }
}

/// Between a decision and its completion: the transaction's producer must wait.
fn is_prepared(state: TxnState) -> bool {
    matches!(
        state,
        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence
    )
}

/// Next epoch, or a new producer id when the epoch is exhausted.
fn bump_epoch(m: &mut TxnMetadata, new_id: impl Fn() -> Result<i64, Code>) -> Result<(), Code> {
    if m.producer_epoch >= i16::MAX - 1 {
        m.producer_id = new_id()?;
        m.producer_epoch = 0;
    } else {
        m.producer_epoch += 1;
    }
    Ok(())
}

/// Apply `change` to a copy of `m`, write the copy, and only then make it `m`: a write that
/// fails (a full disk; nothing of it stays in the log) leaves the transaction as it was, so
/// the client's retry finds the state its answer described.
fn update(
    ctx: &TxnContext<'_>,
    m: &mut TxnMetadata,
    now_ms: i64,
    change: impl FnOnce(&mut TxnMetadata) -> Result<(), Code>,
) -> Result<(), Code> {
    let mut next = m.clone();
    change(&mut next)?;
    persist(ctx, &next, now_ms)?;
    *m = next;
    Ok(())
}

/// Fence the producer of an ongoing transaction (a bumped epoch) and abort the transaction. If
/// the abort's prepare cannot be written, the epoch is not bumped either.
fn abort_fenced(
    ctx: &TxnContext<'_>,
    m: &mut TxnMetadata,
    new_id: impl Fn() -> Result<i64, Code>,
    now_ms: i64,
) -> Result<(), Code> {
    let before = (m.producer_id, m.producer_epoch);
    bump_epoch(m, new_id)?;
    complete(ctx, m, false, now_ms).inspect_err(|_| (m.producer_id, m.producer_epoch) = before)
}

/// Prepare, write the markers this node can write, and complete when none is left to
/// other brokers. Once the prepare is written the outcome is decided and this succeeds: a
/// completion that cannot be written yet is retried by [`TransactionCoordinator::tick`].
fn complete(
    ctx: &TxnContext<'_>,
    m: &mut TxnMetadata,
    commit: bool,
    now_ms: i64,
) -> Result<(), Code> {
    update(ctx, m, now_ms, |n| {
        n.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        n.last_update_ms = now_ms;
        Ok(())
    })?;
    write_markers(ctx, m, now_ms)?;
    if m.pending.is_empty()
        && let Err(e) = finish(ctx, m, now_ms)
    {
        tracing::warn!(transactional_id = %m.transactional_id, "cannot write the transaction's completion yet: {e}; will retry");
    }
    Ok(())
}

/// Write the markers of a Prepare* transaction on the partitions this node leads; the others,
/// and any whose write failed, become `pending` (a partition that no longer exists needs none).
fn write_markers(ctx: &TxnContext<'_>, m: &mut TxnMetadata, now_ms: i64) -> Result<(), Code> {
    let commit = m.state == TxnState::PrepareCommit;
    m.pending.clear();
    for (topic, partition) in &m.partitions {
        let Some(p) = ctx.directory.local_leader(topic, *partition) else {
            if ctx.directory.exists(topic, *partition) {
                m.pending.insert((topic.clone(), *partition));
            }
            continue;
        };
        let marker = if commit {
            Marker::Commit
        } else {
            Marker::Abort
        };
        if let Err(e) = p.write_marker(m.producer_id, m.producer_epoch, marker, 0, now_ms) {
            // Never complete without it: it is retried with the other pending markers.
            tracing::error!(topic = %topic, partition, "writing a transaction marker: {e}");
            m.pending.insert((topic.clone(), *partition));
            continue;
        }
        if topic == OFFSETS_TOPIC {
            ctx.groups.complete_transaction(m.producer_id, commit);
        }
    }
    Ok(())
}

/// Every marker is written: the transaction is complete (if that can be written; else it stays
/// Prepare* with nothing pending, and [`TransactionCoordinator::tick`] tries again).
fn finish(ctx: &TxnContext<'_>, m: &mut TxnMetadata, now_ms: i64) -> Result<(), Code> {
    update(ctx, m, now_ms, |n| {
        n.state = if n.state == TxnState::PrepareCommit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        n.partitions.clear();
        n.pending.clear();
        n.last_update_ms = now_ms;
        Ok(())
    })
}

/// A transaction found between Prepare and Complete (after a restart or a change of
/// coordinator): write its markers again and complete it, never leave it half visible.
fn finish_in_doubt(ctx: &TxnContext<'_>, m: &mut TxnMetadata, now_ms: i64) {
    if !matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
        return;
    }
    let commit = m.state == TxnState::PrepareCommit;
    tracing::info!(transactional_id = %m.transactional_id, commit, "completing a transaction caught between prepare and complete");
    let result = write_markers(ctx, m, now_ms).and_then(|()| {
        if m.pending.is_empty() {
            finish(ctx, m, now_ms)
        } else {
            Ok(())
        }
    });
    if let Err(e) = result {
        tracing::error!(transactional_id = %m.transactional_id, "could not complete: {e}");
    }
}

/// One `__transaction_state` record into a map of transactions (a tombstone removes one).
fn replay_record(txns: &mut HashMap<String, TxnMetadata>, r: kafka_protocol::records::Record) {
    let Some(id) = r.key.as_ref().and_then(decode_key) else {
        return;
    };
    match r.value.as_ref().and_then(|v| decode_value(&id, v)) {
        Some(m) => {
            txns.insert(id, m);
        }
        None => {
            txns.remove(&id);
        }
    }
}

fn encode_key(id: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i16(id.len() as i16);
    b.put_slice(id.as_bytes());
    b.freeze()
}

/// Kafka's TransactionLogValue v0.
fn encode_value(m: &TxnMetadata) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i64(m.producer_id);
    b.put_i16(m.producer_epoch);
    b.put_i32(m.timeout_ms);
    b.put_i8(m.state as i8);
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in &m.partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    b.put_i32(by_topic.len() as i32);
    for (t, ps) in by_topic {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(p);
        }
    }
    b.put_i64(m.last_update_ms);
    b.put_i64(m.start_ms);
    b.freeze()
}

fn get_str(b: &mut Bytes) -> Option<String> {
    if b.remaining() < 2 {
        return None;
    }
    let len = b.get_i16();
    if len < 0 || b.remaining() < len as usize {
        return None;
    }
    String::from_utf8(b.split_to(len as usize).to_vec()).ok()
}

fn decode_key(k: &Bytes) -> Option<String> {
    let mut b = k.clone();
    if b.remaining() < 2 || b.get_i16() != 0 {
        return None;
    }
    get_str(&mut b)
}

fn decode_value(id: &str, v: &Bytes) -> Option<TxnMetadata> {
    let mut b = v.clone();
    if b.remaining() < 2 + 8 + 2 + 4 + 1 + 4 {
        return None;
    }
    let _version = b.get_i16();
    let producer_id = b.get_i64();
    let producer_epoch = b.get_i16();
    let timeout_ms = b.get_i32();
    let state = TxnState::from_i8(b.get_i8())?;
    let topics = b.get_i32();
    let mut partitions = BTreeSet::new();
    for _ in 0..topics.max(0) {
        let t = get_str(&mut b)?;
        if b.remaining() < 4 {
            return None;
        }
        let n = b.get_i32();
        for _ in 0..n.max(0) {
            if b.remaining() < 4 {
                return None;
            }
            partitions.insert((t.clone(), b.get_i32()));
        }
    }
    if b.remaining() < 16 {
        return None;
    }
    let last_update_ms = b.get_i64();
    let start_ms = b.get_i64();
    Some(TxnMetadata {
        transactional_id: id.to_string(),
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        start_ms,
        last_update_ms,
        pending: BTreeSet::new(),
    })
}

/// Append a transaction's state to `__transaction_state` (created on first use).
fn persist(ctx: &TxnContext<'_>, m: &TxnMetadata, now_ms: i64) -> Result<(), Code> {
    let partition = partition_for_key(&m.transactional_id, ctx.state_partitions);
    ctx.topics
        .append_internal(
            TRANSACTION_STATE_TOPIC,
            partition,
            vec![(encode_key(&m.transactional_id), Some(encode_value(m)))],
            None,
            now_ms,
        )
        .map(|_| ())
        .map_err(|e| {
            tracing::error!("writing {TRANSACTION_STATE_TOPIC}: {e}");
            E::CoordinatorNotAvailable.code()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    use crate::config::Config;
    use crate::group::GroupCoordinator;
    use crate::partition::AppendOrigin;
    use std::sync::Arc;

    struct World {
        _dir: tempfile::TempDir,
        topics: TopicRegistry,
        groups: GroupCoordinator,
        ids: ProducerIdManager,
    }

    impl World {
        fn new() -> World {
            let dir = tempfile::tempdir().unwrap();
            World::at(dir)
        }

        fn at(dir: tempfile::TempDir) -> World {
            let (c, _) = Config::from_sources(
                None,
                Vec::new(),
                &[format!("log.dirs={}", dir.path().display())],
            )
            .unwrap();
            let config = Arc::new(c);
            let topics = TopicRegistry::open(config.clone(), 0).unwrap();
            let groups = GroupCoordinator::open(&config, &topics, 0);
            let ids = ProducerIdManager::open(dir.path()).unwrap();
            World {
                _dir: dir,
                topics,
                groups,
                ids,
            }
        }

        fn ctx(&self) -> TxnContext<'_> {
            TxnContext {
                topics: &self.topics,
                groups: &self.groups,
                producer_ids: &self.ids,
                state_partitions: 1,
                offsets_partitions: 1,
                directory: &self.topics,
            }
        }

        fn lso(&self, topic: &str) -> (i64, i64) {
            let p = self.topics.get(topic).unwrap().partition(0).unwrap();
            let o = p.offsets();
            (o.last_stable_offset, o.log_end_offset)
        }

        /// A transactional batch of `n` records, as a producer's would land.
        fn produce(&self, topic: &str, pid: i64, epoch: i16, n: usize) {
            let p = self.topics.get(topic).unwrap().partition(0).unwrap();
            let records: Vec<Record> = (0..n)
                .map(|i| Record {
                    transactional: true,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: -1,
                    producer_id: pid,
                    producer_epoch: epoch,
                    timestamp_type: TimestampType::Creation,
                    offset: i as i64,
                    sequence: i as i32,
                    timestamp: 0,
                    key: None,
                    value: Some(Bytes::from_static(b"v")),
                    headers: Default::default(),
                })
                .collect();
            let mut buf = BytesMut::new();
            RecordBatchEncoder::encode(
                &mut buf,
                records.iter(),
                &RecordEncodeOptions {
                    version: 2,
                    compression: Compression::None,
                },
            )
            .unwrap();
            let v = p.validate(buf, AppendOrigin::Client, 0).unwrap();
            p.append(v, 0).unwrap();
        }
    }

    fn who(id: &str, pid: i64, epoch: i16) -> TxnProducer<'_> {
        TxnProducer {
            transactional_id: id,
            producer_id: pid,
            producer_epoch: epoch,
        }
    }

    fn start_txn(w: &World, c: &TransactionCoordinator, now: i64) -> (i64, i16) {
        let (pid, epoch) = c
            .init_producer_id(&w.ctx(), "tx", 10_000, None, now)
            .unwrap();
        c.add_partitions(
            &w.ctx(),
            who("tx", pid, epoch),
            &[("t".into(), 0)],
            false,
            now,
        )
        .unwrap();
        w.produce("t", pid, epoch, 3);
        (pid, epoch)
    }

    #[test]
    fn commit_moves_the_last_stable_offset() {
        let w = World::new();
        w.topics.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let c = TransactionCoordinator::new(900_000);
        let (pid, epoch) = start_txn(&w, &c, 0);
        assert_eq!(w.lso("t"), (0, 3));
        c.end_txn(&w.ctx(), who("tx", pid, epoch), true, 5).unwrap();
        assert_eq!(w.lso("t"), (4, 4), "data and the marker are stable");
        assert_eq!(c.describe("tx").unwrap().state, TxnState::CompleteCommit);
        // A commit retried after it went through is fine; an abort is not.
        assert_eq!(c.end_txn(&w.ctx(), who("tx", pid, epoch), true, 6), Ok(()));
        assert_eq!(
            c.end_txn(&w.ctx(), who("tx", pid, epoch), false, 6),
            Err(E::InvalidTxnState.code())
        );
    }

    #[test]
    fn a_full_disk_changes_no_transaction() {
        let Some(tmpfs) = crate::log::test_util::Tmpfs::mount("size=2m") else {
            return;
        };
        let w = World::at(tempfile::tempdir_in(tmpfs.path()).unwrap());
        w.topics.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let c = TransactionCoordinator::new(900_000);
        let (pid, epoch) = start_txn(&w, &c, 0);
        let filler = tmpfs.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        while std::io::Write::write_all(&mut f, &[0u8; 4096]).is_ok() {}
        drop(f);
        // Writes of the transaction's state go on in the page its log already has; the same
        // record again until none fits.
        let add = || {
            c.add_partitions(
                &w.ctx(),
                who("tx", pid, epoch),
                &[("t".into(), 0)],
                false,
                1,
            )
        };
        while add().is_ok() {}
        assert_eq!(add(), Err(E::CoordinatorNotAvailable.code()));
        let unavailable = Err(E::CoordinatorNotAvailable.code());
        for _ in 0..2 {
            assert_eq!(
                c.end_txn(&w.ctx(), who("tx", pid, epoch), true, 2),
                unavailable
            );
            let m = c.describe("tx").unwrap();
            assert_eq!((m.state, m.producer_epoch), (TxnState::Ongoing, epoch));
        }
        // Neither does a timeout abort: the producer is not fenced either.
        c.tick(&w.ctx(), 20_000);
        let m = c.describe("tx").unwrap();
        assert_eq!((m.state, m.producer_epoch), (TxnState::Ongoing, epoch));
        assert_eq!(w.lso("t"), (0, 3));
        // Space again: the client's retry goes through.
        std::fs::remove_file(&filler).unwrap();
        c.end_txn(&w.ctx(), who("tx", pid, epoch), true, 3).unwrap();
        assert_eq!(c.describe("tx").unwrap().state, TxnState::CompleteCommit);
        assert_eq!(w.lso("t"), (4, 4));
    }

    #[test]
    fn end_txn_retried_while_its_markers_are_pending() {
        let w = World::new();
        w.topics.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let c = TransactionCoordinator::new(900_000);
        let (pid, epoch) = start_txn(&w, &c, 0);
        // What a commit whose marker could not be written yet leaves: decided, marker pending.
        {
            let mut txns = c.txns.lock();
            let m = txns.get_mut("tx").unwrap();
            m.state = TxnState::PrepareCommit;
            m.pending.insert(("t".to_string(), 0));
        }
        // The same decision again: it stands.
        c.end_txn(&w.ctx(), who("tx", pid, epoch), true, 1).unwrap();
        // The other decision, or an old epoch: refused as before.
        assert_eq!(
            c.end_txn(&w.ctx(), who("tx", pid, epoch), false, 1),
            Err(E::ConcurrentTransactions.code())
        );
        assert_eq!(
            c.end_txn(&w.ctx(), who("tx", pid, epoch - 1), true, 1),
            Err(E::ProducerFenced.code())
        );
        assert_eq!(c.describe("tx").unwrap().state, TxnState::PrepareCommit);
    }

    #[test]
    fn a_completion_that_could_not_be_written_is_retried_by_the_tick() {
        let w = World::new();
        w.topics.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let c = TransactionCoordinator::new(900_000);
        start_txn(&w, &c, 0);
        // What a failed write of the completion leaves: prepared, every marker written.
        c.txns.lock().get_mut("tx").unwrap().state = TxnState::PrepareCommit;
        c.tick(&w.ctx(), 1);
        let m = c.describe("tx").unwrap();
        assert_eq!(m.state, TxnState::CompleteCommit);
        assert!(m.partitions.is_empty());
    }

    #[test]
    fn timeout_aborts_and_fences_with_a_simulated_clock() {
        let w = World::new();
        w.topics.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let c = TransactionCoordinator::new(900_000);
        let (pid, epoch) = start_txn(&w, &c, 1_000);
        c.tick(&w.ctx(), 11_000);
        assert_eq!(
            c.describe("tx").unwrap().state,
            TxnState::Ongoing,
            "at the timeout, not past it"
        );
        c.tick(&w.ctx(), 11_001);
        let m = c.describe("tx").unwrap();
        assert_eq!(
            (m.state, m.producer_epoch),
            (TxnState::CompleteAbort, epoch + 1)
        );
        assert_eq!(w.lso("t"), (4, 4));
        let p = w.topics.get("t").unwrap().partition(0).unwrap();
        let aborted = p.aborted_transactions(0, 4);
        assert_eq!((aborted[0].first_offset, aborted[0].last_offset), (0, 3));
        // The timed-out producer is fenced.
        assert_eq!(
            c.end_txn(&w.ctx(), who("tx", pid, epoch), true, 12_000),
            Err(E::ProducerFenced.code())
        );
        assert_eq!(
            c.verify_produce(who("tx", pid, epoch), "t", 0),
            Err(E::InvalidProducerEpoch.code())
        );
    }

    #[test]
    fn a_new_incarnation_aborts_the_open_transaction() {
        let w = World::new();
        w.topics.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let c = TransactionCoordinator::new(900_000);
        let (pid, epoch) = start_txn(&w, &c, 0);
        let (pid2, epoch2) = c
            .init_producer_id(&w.ctx(), "tx", 10_000, None, 10)
            .unwrap();
        assert_eq!(
            (pid2, epoch2),
            (pid, epoch + 2),
            "one bump to abort, one for the new producer"
        );
        assert_eq!(w.lso("t"), (4, 4));
        assert_eq!(
            c.add_partitions(
                &w.ctx(),
                who("tx", pid, epoch),
                &[("t".into(), 0)],
                false,
                11
            ),
            Err(E::ProducerFenced.code())
        );
        assert_eq!(
            c.init_producer_id(&w.ctx(), "tx", 1_000_000, None, 12),
            Err(E::InvalidTransactionTimeout.code())
        );
    }

    /// A cluster's coordinator leads none of the transaction's partitions: markers are pending.
    struct Remote<'a>(&'a TopicRegistry);

    impl PartitionDirectory for Remote<'_> {
        fn exists(&self, topic: &str, partition: i32) -> bool {
            self.0.exists(topic, partition)
        }
        fn local_leader(&self, _: &str, _: i32) -> Option<Arc<Partition>> {
            None
        }
    }

    /// In a cluster, a new incarnation waits (CONCURRENT_TRANSACTIONS) until the old
    /// transaction's ABORT markers are written everywhere, as Kafka's does: until then the new
    /// producer could neither begin nor have its records committed by a late marker.
    #[test]
    fn a_new_incarnation_waits_for_the_abort_markers_elsewhere() {
        let w = World::new();
        w.topics.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let remote = Remote(&w.topics);
        let ctx = TxnContext {
            directory: &remote,
            ..w.ctx()
        };
        let c = TransactionCoordinator::new(900_000);
        let (pid, epoch) = start_txn(&w, &c, 0);
        assert_eq!(
            c.init_producer_id(&ctx, "tx", 10_000, None, 10),
            Err(E::ConcurrentTransactions.code())
        );
        let pending = c.pending_markers();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            (pending[0].producer_epoch, pending[0].commit),
            (epoch + 1, false)
        );
        // Retried while the markers are out: still waiting.
        assert_eq!(
            c.init_producer_id(&ctx, "tx", 10_000, None, 11),
            Err(E::ConcurrentTransactions.code())
        );
        // The marker round wrote them: the retry gets the next epoch.
        c.markers_written(&ctx, "tx", pid, epoch + 1, &[("t".into(), 0)], 12);
        assert_eq!(c.describe("tx").unwrap().state, TxnState::CompleteAbort);
        assert_eq!(
            c.init_producer_id(&ctx, "tx", 10_000, None, 13),
            Ok((pid, epoch + 2))
        );
    }

    #[test]
    fn state_survives_a_restart_and_in_doubt_transactions_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let w = World::at(dir);
        w.topics.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let c = TransactionCoordinator::new(900_000);
        let (pid, epoch) = start_txn(&w, &c, 0);
        // Simulate a crash between PrepareCommit and the markers.
        {
            let mut txns = c.txns.lock();
            let m = txns.get_mut("tx").unwrap();
            m.state = TxnState::PrepareCommit;
            persist(&w.ctx(), m, 1).unwrap();
        }
        drop(c);
        let World { _dir, .. } = w;
        let w = World::at(_dir);
        assert_eq!(w.lso("t"), (0, 3), "still open after the restart");
        let c = TransactionCoordinator::open(900_000, &w.ctx(), 100);
        let m = c.describe("tx").unwrap();
        assert_eq!(
            (m.state, m.producer_id, m.producer_epoch),
            (TxnState::CompleteCommit, pid, epoch)
        );
        assert_eq!(
            w.lso("t"),
            (4, 4),
            "completed at start-up, not left half visible"
        );
        assert!(
            path.join("t-0")
                .join(crate::partition::txn_index::FILE_NAME)
                .exists()
        );
    }

    #[test]
    fn state_records_round_trip() {
        let m = TxnMetadata {
            transactional_id: "tx".into(),
            producer_id: 7,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: [
                ("a".to_string(), 0),
                ("a".to_string(), 2),
                ("b".to_string(), 1),
            ]
            .into_iter()
            .collect(),
            pending: BTreeSet::new(),
            start_ms: 10,
            last_update_ms: 20,
        };
        let id = decode_key(&encode_key("tx")).unwrap();
        assert_eq!(decode_value(&id, &encode_value(&m)), Some(m));
        assert_eq!(
            decode_value("tx", &Bytes::from_static(b"\x00\x00\x01")),
            None
        );
    }
}
