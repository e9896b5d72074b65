//! The group coordinator's state: the groups map, each group's classic and consumer-protocol
//! state and offsets ([`GroupEntry`]), and the only code that writes `__consumer_offsets`
//! ([`GroupCoordinator::persist`]). What the coordinator does with that state lives beside it:
//! [`super::membership`] (the membership APIs), [`super::offsets`] (the offset APIs) and
//! [`super::lifecycle`] (start-up replay and time).
//!
//! **Must never:** speak the wire; read the clock (time is a `now_ms` argument).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::classic::{ClassicGroup, GroupLimits};
use super::consumer::{ConsumerGroup, TopicView};
use super::offset_store::GroupOffsets;
use super::records;
use super::share::ShareGroup;
use crate::config::Config;
use crate::error::Code;
use crate::error::KafkaError as E;
use crate::topics::TopicRegistry;

/// The internal topic that holds committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

pub(super) struct GroupEntry {
    pub(super) group: ClassicGroup,
    /// Set when the group runs the KIP-848 consumer protocol (its classic side stays Empty).
    pub(super) consumer: Option<ConsumerGroup>,
    /// Set when the group is a share group (KIP-932; its classic side stays Empty, it has no
    /// committed offsets).
    pub(super) share: Option<ShareGroup>,
    pub(super) offsets: GroupOffsets,
}

impl GroupEntry {
    /// A consumer-protocol group with members (classic APIs must keep off it).
    pub(super) fn is_active_consumer_group(&self) -> bool {
        self.consumer
            .as_ref()
            .is_some_and(|c| !c.members.is_empty())
    }

    /// Whether the group is a classic or consumer group a share-group heartbeat must not take
    /// over: one with members, a protocol type, committed offsets or a consumer side.
    pub(super) fn is_other_kind_than_share(&self) -> bool {
        self.share.is_none()
            && (self.consumer.is_some()
                || !self.group.is_empty()
                || self.group.protocol_type.is_some()
                || self.offsets.len() > 0
                || self.offsets.has_any_pending())
    }
}

pub struct GroupCoordinator {
    pub(super) groups: Mutex<HashMap<String, GroupEntry>>,
    pub(super) limits: GroupLimits,
    pub(super) retention_ms: i64,
    pub(super) retention_check_interval_ms: i64,
    pub(super) metadata_max_bytes: usize,
    pub(super) last_expiry_check_ms: Mutex<i64>,
    pub(super) consumer_session_timeout_ms: i32,
    pub consumer_heartbeat_interval_ms: i32,
    pub(super) consumer_assignor: String,
    /// `group.share.session.timeout.ms`: a replayed share group's until a heartbeat brings
    /// its group config's.
    pub(super) share_session_timeout_ms: i32,
    /// How many partitions `__consumer_offsets` has: 1 on a single broker, the cluster's
    /// `offsets.topic.num.partitions` in a cluster.
    offsets_partitions: AtomicI32,
    /// The `__consumer_offsets` partitions whose groups this node coordinates; `None`: all
    /// (the single broker).
    owned: RwLock<Option<BTreeSet<i32>>>,
    /// Where the consumer protocol's assignors see topics, when not the local registry (a
    /// cluster node sees the whole cluster's topics in its metadata image).
    topic_source: RwLock<Option<TopicSource>>,
}

/// Every topic's id and partition count, from somewhere other than the local registry.
pub type TopicSource = Arc<dyn Fn() -> TopicView + Send + Sync>;

/// Java's `String.hashCode` (over UTF-16 code units), which Kafka uses to map a group id or a
/// transactional id to its coordinator's partition.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// Kafka's `Utils.abs(key.hashCode()) % partitions`.
pub fn partition_for_key(key: &str, partitions: i32) -> i32 {
    if partitions <= 1 {
        return 0;
    }
    let h = java_string_hash(key);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions
}

fn limits_of(config: &Config) -> GroupLimits {
    GroupLimits {
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        min_session_timeout_ms: config.group_min_session_timeout_ms,
        max_session_timeout_ms: config.group_max_session_timeout_ms,
    }
}

/// Every topic's id and partition count from the local registry (a single broker).
fn local_topic_view(topics: &TopicRegistry) -> TopicView {
    topics
        .list()
        .iter()
        .map(|t| (t.name.clone(), (t.id, t.partition_count())))
        .collect()
}

impl GroupCoordinator {
    /// A coordinator with no groups yet (see [`GroupCoordinator::open`], which replays).
    pub(super) fn new(config: &Config, now_ms: i64) -> GroupCoordinator {
        GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            limits: limits_of(config),
            retention_ms: config.offsets_retention_ms,
            retention_check_interval_ms: config.offsets_retention_check_interval_ms,
            metadata_max_bytes: config.offset_metadata_max_bytes,
            last_expiry_check_ms: Mutex::new(now_ms),
            consumer_session_timeout_ms: config.group_consumer_session_timeout_ms,
            consumer_heartbeat_interval_ms: config.group_consumer_heartbeat_interval_ms,
            consumer_assignor: config.group_consumer_assignors[0].clone(),
            share_session_timeout_ms: config.share.session_timeout_ms,
            offsets_partitions: AtomicI32::new(1),
            owned: RwLock::new(None),
            topic_source: RwLock::new(None),
        }
    }

    /// Every topic's id and partition count, as the consumer protocol's assignors need.
    pub(super) fn topic_view(&self, topics: &TopicRegistry) -> TopicView {
        match &*self.topic_source.read() {
            Some(source) => source(),
            None => local_topic_view(topics),
        }
    }

    /// A cluster node's coordinator: no groups until [`Self::load_partition`].
    pub fn for_cluster(config: &Config, now_ms: i64) -> GroupCoordinator {
        GroupCoordinator::new(config, now_ms)
    }

    /// A cluster node: assignors see the cluster's topics through `source`, and this node
    /// coordinates no group until it leads a `__consumer_offsets` partition.
    pub fn join_cluster(&self, source: TopicSource) {
        *self.topic_source.write() = Some(source);
        *self.owned.write() = Some(BTreeSet::new());
    }

    /// The `__consumer_offsets` partition that holds `group_id`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        partition_for_key(group_id, self.offsets_partitions.load(Ordering::Relaxed))
    }

    /// Whether this node coordinates `group_id`.
    pub fn owns(&self, group_id: &str) -> bool {
        match &*self.owned.read() {
            None => true,
            Some(set) => set.contains(&self.partition_for(group_id)),
        }
    }

    /// The partitions this node coordinates (`None`: all, a single broker).
    pub fn owned_partitions(&self) -> Option<BTreeSet<i32>> {
        self.owned.read().clone()
    }

    /// Take over the groups of `__consumer_offsets` partition `partition` (of `count`): replay
    /// it, then serve them.
    pub fn load_partition(&self, topics: &TopicRegistry, partition: i32, count: i32, now_ms: i64) {
        self.offsets_partitions
            .store(count.max(1), Ordering::Relaxed);
        let n = self.replay_partition(topics, partition, now_ms);
        if let Some(set) = &mut *self.owned.write() {
            set.insert(partition);
        }
        tracing::debug!(
            partition,
            records = n,
            "now coordinating the groups of {OFFSETS_TOPIC}-{partition}"
        );
    }

    /// Hand over the groups of `partition`: forget them (their new coordinator replays them).
    pub fn unload_partition(&self, partition: i32) {
        if let Some(set) = &mut *self.owned.write() {
            set.remove(&partition);
        }
        let mut groups = self.groups.lock();
        groups.retain(|id, _| self.partition_for(id) != partition);
        tracing::debug!(
            partition,
            "no longer coordinating the groups of {OFFSETS_TOPIC}-{partition}"
        );
    }

    pub(super) fn entry<'a>(
        &self,
        groups: &'a mut HashMap<String, GroupEntry>,
        group_id: &str,
        now_ms: i64,
    ) -> &'a mut GroupEntry {
        groups
            .entry(group_id.to_string())
            .or_insert_with(|| GroupEntry {
                group: ClassicGroup::new(group_id, self.limits, now_ms),
                consumer: None,
                share: None,
                offsets: GroupOffsets::default(),
            })
    }

    /// Write `group_id`'s records to its `__consumer_offsets` partition (a single broker
    /// creates the topic on first use).
    ///
    /// A write that fails (a full disk: the log leaves nothing of it behind) is
    /// COORDINATOR_NOT_AVAILABLE, which every client retries after looking the coordinator up
    /// again. Kafka answers NOT_COORDINATOR for a storage error, because its log dir goes
    /// offline and the partition's leadership moves; fjord's coordinator stays where it is and
    /// writes again as soon as there is space, so "not available for now" is the true answer.
    pub(super) fn persist(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        records: Vec<(Bytes, Option<Bytes>)>,
        now_ms: i64,
    ) -> Result<(), Code> {
        self.persist_as(topics, group_id, records, None, now_ms)
    }

    /// [`Self::persist`], as a write of the transactional producer `(producer_id, epoch)`
    /// when one is given (TxnOffsetCommit).
    pub(super) fn persist_as(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        records: Vec<(Bytes, Option<Bytes>)>,
        producer: Option<(i64, i16)>,
        now_ms: i64,
    ) -> Result<(), Code> {
        if records.is_empty() {
            return Ok(());
        }
        if !self.owns(group_id) {
            return Err(E::NotCoordinator.code());
        }
        let partition = self.partition_for(group_id);
        topics
            .append_internal(OFFSETS_TOPIC, partition, records, producer, now_ms)
            .map(|_| ())
            .map_err(|e| {
                tracing::error!("writing {OFFSETS_TOPIC}: {e}");
                E::CoordinatorNotAvailable.code()
            })
    }

    /// Make sure `__consumer_offsets` exists (a transaction may add it before any commit).
    pub fn ensure_offsets_topic(&self, topics: &TopicRegistry, now_ms: i64) -> Result<(), Code> {
        topics
            .internal_topic(OFFSETS_TOPIC, now_ms)
            .map(|_| ())
            .map_err(|_| E::CoordinatorNotAvailable.code())
    }

    pub(super) fn metadata_record(group: &ClassicGroup) -> (Bytes, Option<Bytes>) {
        (
            records::encode_group_key(&group.group_id),
            Some(records::encode_group_value(group)),
        )
    }

    /// Persist a share group's epoch (`ShareGroupMetadata`) if it moved since the last write;
    /// a failed write is retried by the next tick, as [`Self::flush_group`] does.
    pub(super) fn flush_share_group(
        &self,
        topics: &TopicRegistry,
        group: &mut ShareGroup,
        now_ms: i64,
    ) {
        if group.dirty {
            let record = (
                records::encode_share_group_key(&group.group_id),
                Some(records::encode_share_group_value(group.group_epoch)),
            );
            match self.persist(topics, &group.group_id.clone(), vec![record], now_ms) {
                Ok(()) => group.dirty = false,
                Err(e) => {
                    tracing::warn!(group = %group.group_id, "could not persist share group metadata: {e:?}; will retry")
                }
            }
        }
    }

    /// Persist a group's metadata if a change made it dirty. If the write fails (a full disk)
    /// the group stays dirty, and the next flush (every tick) writes it.
    pub(super) fn flush_group(
        &self,
        topics: &TopicRegistry,
        group: &mut ClassicGroup,
        now_ms: i64,
    ) {
        if group.dirty {
            let record = Self::metadata_record(group);
            match self.persist(topics, &group.group_id.clone(), vec![record], now_ms) {
                Ok(()) => group.dirty = false,
                Err(e) => {
                    tracing::warn!(group = %group.group_id, "could not persist group metadata: {e:?}; will retry")
                }
            }
        }
    }
}
