//! The group coordinator's state: the groups map, each group's classic and consumer-protocol
//! state and offsets ([`GroupEntry`]), and the only code that writes `__consumer_offsets`
//! ([`GroupCoordinator::persist`]). What the coordinator does with that state lives beside it:
//! [`super::membership`] (the membership APIs), [`super::offsets`] (the offset APIs) and
//! [`super::lifecycle`] (start-up replay and time).
//!
//! **Must never:** speak the wire; read the clock (time is a `now_ms` argument).

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;

use super::classic::{ClassicGroup, GroupLimits};
use super::consumer::{ConsumerGroup, TopicView};
use super::offset_store::GroupOffsets;
use super::records;
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
    pub(super) offsets: GroupOffsets,
}

impl GroupEntry {
    /// A consumer-protocol group with members (classic APIs must keep off it).
    pub(super) fn is_active_consumer_group(&self) -> bool {
        self.consumer
            .as_ref()
            .is_some_and(|c| !c.members.is_empty())
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
}

fn limits_of(config: &Config) -> GroupLimits {
    GroupLimits {
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        min_session_timeout_ms: config.group_min_session_timeout_ms,
        max_session_timeout_ms: config.group_max_session_timeout_ms,
    }
}

/// Every topic's id and partition count, as the consumer protocol's assignors need.
pub(super) fn topic_view(topics: &TopicRegistry) -> TopicView {
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
        }
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
                offsets: GroupOffsets::default(),
            })
    }

    /// Write records to `__consumer_offsets`, creating it on first use.
    pub(super) fn persist(
        &self,
        topics: &TopicRegistry,
        records: Vec<(Bytes, Option<Bytes>)>,
        now_ms: i64,
    ) -> Result<(), Code> {
        self.persist_as(topics, records, None, now_ms)
    }

    /// [`Self::persist`], as a write of the transactional producer `(producer_id, epoch)`
    /// when one is given (TxnOffsetCommit).
    pub(super) fn persist_as(
        &self,
        topics: &TopicRegistry,
        records: Vec<(Bytes, Option<Bytes>)>,
        producer: Option<(i64, i16)>,
        now_ms: i64,
    ) -> Result<(), Code> {
        if records.is_empty() {
            return Ok(());
        }
        topics
            .append_internal(OFFSETS_TOPIC, records, producer, now_ms)
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

    /// Persist a group's metadata if a change made it dirty.
    pub(super) fn flush_group(
        &self,
        topics: &TopicRegistry,
        group: &mut ClassicGroup,
        now_ms: i64,
    ) {
        if group.dirty {
            group.dirty = false;
            if let Err(e) = self.persist(topics, vec![Self::metadata_record(group)], now_ms) {
                tracing::warn!(group = %group.group_id, "could not persist group metadata: {e:?}");
            }
        }
    }
}
