//! The group coordinator: classic consumer groups and their committed offsets.
//!
//! Groups live in memory; what must survive a restart — committed offsets and
//! each group's generation and protocol type — is written, in Kafka's own
//! record formats, to the internal topic `__consumer_offsets` (one partition:
//! there is one coordinator) through the same storage engine as user data, and
//! replayed at start-up. Never speaks the wire; API handlers translate.

pub mod classic;
pub mod consumer;
pub mod consumer_protocol;
pub mod records;

use std::collections::{BTreeMap, HashMap};

use crate::error::KafkaError as E;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::config::Config;
use crate::error::{Code, NONE};
use crate::log::control::marker_type;
use crate::topics::TopicRegistry;
use classic::{
    ClassicGroup, GroupLimits, GroupState, JoinRequest, JoinResult, Reply, SyncRequest, SyncResult,
};
use consumer::{ConsumerGroup, HeartbeatRequest, HeartbeatResult, TopicView};
use records::{GroupKey, GroupRecord};

/// The internal topic that holds committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
}

struct GroupEntry {
    group: ClassicGroup,
    /// Set when the group runs the KIP-848 consumer protocol (its classic side stays Empty).
    consumer: Option<ConsumerGroup>,
    offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// Offsets sent with open transactions (TxnOffsetCommit), by producer id.
    pending_txn: HashMap<i64, BTreeMap<(String, i32), CommittedOffset>>,
}

impl GroupEntry {
    /// A consumer-protocol group with members (classic APIs must keep off it).
    fn is_active_consumer_group(&self) -> bool {
        self.consumer
            .as_ref()
            .is_some_and(|c| !c.members.is_empty())
    }
}

/// Offsets checked for a commit: a code per offset, the records to write, and
/// the accepted offsets with their position in `results`.
struct OffsetBatch {
    results: Vec<Code>,
    records: Vec<(Bytes, Option<Bytes>)>,
    accepted: Vec<(usize, String, i32, CommittedOffset)>,
}

/// One row of ListGroups.
#[derive(Clone, Debug)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    /// Kafka's state name ("Stable", "Empty", "Reconciling", …).
    pub state: &'static str,
    /// "classic" or "consumer" (ListGroups v5 group_type).
    pub group_type: &'static str,
}

/// DescribeGroups' view of a group.
#[derive(Clone, Debug)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol_name: String,
    pub members: Vec<MemberDescription>,
}

#[derive(Clone, Debug)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, GroupEntry>>,
    limits: GroupLimits,
    retention_ms: i64,
    retention_check_interval_ms: i64,
    metadata_max_bytes: usize,
    last_expiry_check_ms: Mutex<i64>,
    consumer_session_timeout_ms: i32,
    pub consumer_heartbeat_interval_ms: i32,
    consumer_assignor: String,
}

fn limits_of(config: &Config) -> GroupLimits {
    GroupLimits {
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        min_session_timeout_ms: config.group_min_session_timeout_ms,
        max_session_timeout_ms: config.group_max_session_timeout_ms,
    }
}

impl GroupCoordinator {
    /// Replay `__consumer_offsets` (if it exists) into memory.
    pub fn open(config: &Config, topics: &TopicRegistry, now_ms: i64) -> GroupCoordinator {
        let coord = GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            limits: limits_of(config),
            retention_ms: config.offsets_retention_ms,
            retention_check_interval_ms: config.offsets_retention_check_interval_ms,
            metadata_max_bytes: config.offset_metadata_max_bytes,
            last_expiry_check_ms: Mutex::new(now_ms),
            consumer_session_timeout_ms: config.group_consumer_session_timeout_ms,
            consumer_heartbeat_interval_ms: config.group_consumer_heartbeat_interval_ms,
            consumer_assignor: config.group_consumer_assignors[0].clone(),
        };
        if topics.get(OFFSETS_TOPIC).is_some() {
            let n = coord.replay(topics, now_ms);
            tracing::info!(
                records = n,
                groups = coord.groups.lock().len(),
                "loaded {OFFSETS_TOPIC}"
            );
        }
        coord
    }

    fn replay(&self, topics: &TopicRegistry, now_ms: i64) -> usize {
        topics.replay_internal(OFFSETS_TOPIC, &mut |r| {
            if r.control {
                // A transaction marker settles that producer's pending offsets.
                if let Some(marker) = r.key.as_deref().and_then(marker_type) {
                    self.complete_transaction(r.producer_id, marker.is_commit());
                }
                return;
            }
            let Some(key) = r.key.as_ref().and_then(records::decode_key) else {
                return;
            };
            let value = r
                .value
                .as_ref()
                .and_then(|v| records::decode_value(&key, v));
            if r.transactional {
                if let (
                    GroupKey::Offset {
                        group,
                        topic,
                        partition,
                    },
                    Some(GroupRecord::Offset(o)),
                ) = (key, value)
                {
                    self.add_pending(&group, r.producer_id, topic, partition, o, now_ms);
                }
                return;
            }
            self.apply(key, value, now_ms);
        })
    }

    fn apply(&self, key: GroupKey, value: Option<GroupRecord>, now_ms: i64) {
        let mut groups = self.groups.lock();
        match (key, value) {
            (
                GroupKey::Offset {
                    group,
                    topic,
                    partition,
                },
                Some(GroupRecord::Offset(o)),
            ) => {
                self.entry(&mut groups, &group, now_ms)
                    .offsets
                    .insert((topic, partition), o);
            }
            (
                GroupKey::Offset {
                    group,
                    topic,
                    partition,
                },
                _,
            ) => {
                if let Some(e) = groups.get_mut(&group) {
                    e.offsets.remove(&(topic, partition));
                }
            }
            (
                GroupKey::Metadata { group },
                Some(GroupRecord::Metadata {
                    protocol_type,
                    generation_id,
                }),
            ) => {
                let entry = self.entry(&mut groups, &group, now_ms);
                entry.group = ClassicGroup::restore(
                    &group,
                    self.limits,
                    generation_id,
                    (!protocol_type.is_empty()).then_some(protocol_type),
                    now_ms,
                );
            }
            (GroupKey::Metadata { group }, _) => {
                groups.remove(&group);
            }
        }
    }

    fn entry<'a>(
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
                offsets: BTreeMap::new(),
                pending_txn: HashMap::new(),
            })
    }

    /// Write records to `__consumer_offsets`, creating it on first use.
    fn persist(
        &self,
        topics: &TopicRegistry,
        records: Vec<(Bytes, Option<Bytes>)>,
        now_ms: i64,
    ) -> Result<(), Code> {
        if records.is_empty() {
            return Ok(());
        }
        topics
            .append_internal(OFFSETS_TOPIC, records, None, now_ms)
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

    fn add_pending(
        &self,
        group_id: &str,
        producer_id: i64,
        topic: String,
        partition: i32,
        o: CommittedOffset,
        now_ms: i64,
    ) {
        let mut groups = self.groups.lock();
        self.entry(&mut groups, group_id, now_ms)
            .pending_txn
            .entry(producer_id)
            .or_default()
            .insert((topic, partition), o);
    }

    /// A transaction of `producer_id` ended: its offsets become committed, or vanish.
    pub fn complete_transaction(&self, producer_id: i64, commit: bool) {
        let mut groups = self.groups.lock();
        for entry in groups.values_mut() {
            if let Some(pending) = entry.pending_txn.remove(&producer_id)
                && commit
            {
                entry.offsets.extend(pending);
            }
        }
    }

    /// TxnOffsetCommit: offsets that count only if the transaction commits.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit_offsets(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        offsets: Vec<(String, i32, CommittedOffset)>,
        now_ms: i64,
    ) -> Result<Vec<Code>, Code> {
        let mut groups = self.groups.lock();
        let entry = self.entry(&mut groups, group_id, now_ms);
        // KIP-447: a member/generation, when given, must be current.
        if generation_id >= 0 || !member_id.is_empty() {
            match &entry.consumer {
                Some(cg) => cg.check_member_epoch(member_id, generation_id)?,
                None => entry
                    .group
                    .check_commit(member_id, instance, generation_id)?,
            }
        }
        let OffsetBatch {
            results,
            records,
            accepted,
        } = self.offset_batch(topics, group_id, offsets);
        if !records.is_empty() {
            topics
                .append_internal(
                    OFFSETS_TOPIC,
                    records,
                    Some((producer_id, producer_epoch)),
                    now_ms,
                )
                .map_err(|e| {
                    tracing::error!("writing {OFFSETS_TOPIC}: {e}");
                    E::CoordinatorNotAvailable.code()
                })?;
        }
        let pending = entry.pending_txn.entry(producer_id).or_default();
        for (_, t, p, o) in accepted {
            pending.insert((t, p), o);
        }
        Ok(results)
    }

    /// Validate offsets to commit (metadata size, partition exists) and encode the
    /// records of the valid ones; one result code per offset, in order.
    fn offset_batch(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        offsets: Vec<(String, i32, CommittedOffset)>,
    ) -> OffsetBatch {
        let mut b = OffsetBatch {
            results: Vec::with_capacity(offsets.len()),
            records: Vec::new(),
            accepted: Vec::new(),
        };
        for (topic, partition, o) in offsets {
            let code = if o.metadata.len() > self.metadata_max_bytes {
                E::OffsetMetadataTooLarge.code()
            } else if topics
                .get(&topic)
                .and_then(|t| t.partition(partition))
                .is_none()
            {
                E::UnknownTopicOrPartition.code()
            } else {
                b.records.push((
                    records::encode_offset_key(group_id, &topic, partition),
                    Some(records::encode_offset_value(&o)),
                ));
                b.accepted.push((b.results.len(), topic, partition, o));
                NONE
            };
            b.results.push(code);
        }
        b
    }

    /// Whether a transaction holds uncommitted offsets for a partition (require_stable).
    pub fn has_pending_offsets(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        let groups = self.groups.lock();
        groups.get(group_id).is_some_and(|e| {
            e.pending_txn
                .values()
                .any(|m| m.contains_key(&(topic.to_string(), partition)))
        })
    }

    fn metadata_record(group: &ClassicGroup) -> (Bytes, Option<Bytes>) {
        (
            records::encode_group_key(&group.group_id),
            Some(records::encode_group_value(group)),
        )
    }

    /// Persist a group's metadata if a change made it dirty.
    fn flush_group(&self, topics: &TopicRegistry, group: &mut ClassicGroup, now_ms: i64) {
        if group.dirty {
            group.dirty = false;
            if let Err(e) = self.persist(topics, vec![Self::metadata_record(group)], now_ms) {
                tracing::warn!(group = %group.group_id, "could not persist group metadata: {e:?}");
            }
        }
    }

    pub fn join(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        req: JoinRequest,
        now_ms: i64,
    ) -> Reply<JoinResult> {
        if group_id.is_empty() {
            return Reply::Now(JoinResult::error(E::InvalidGroupId.code(), &req.member_id));
        }
        let mut groups = self.groups.lock();
        let entry = self.entry(&mut groups, group_id, now_ms);
        if entry.is_active_consumer_group() {
            return Reply::Now(JoinResult::error(
                E::InconsistentGroupProtocol.code(),
                &req.member_id,
            ));
        }
        // An empty consumer-protocol group becomes a classic one.
        entry.consumer = None;
        let reply = entry.group.join(req, now_ms);
        self.flush_group(topics, &mut entry.group, now_ms);
        reply
    }

    pub fn sync(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        req: SyncRequest,
        now_ms: i64,
    ) -> Reply<SyncResult> {
        let mut groups = self.groups.lock();
        let Some(entry) = groups.get_mut(group_id) else {
            return Reply::Now(SyncResult {
                error: E::UnknownMemberId.code(),
                protocol_type: None,
                protocol_name: None,
                assignment: Bytes::new(),
            });
        };
        let reply = entry.group.sync(req, now_ms);
        self.flush_group(topics, &mut entry.group, now_ms);
        reply
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> Code {
        let mut groups = self.groups.lock();
        match groups.get_mut(group_id) {
            Some(e) => e
                .group
                .heartbeat(member_id, instance, generation_id, now_ms),
            None => E::UnknownMemberId.code(),
        }
    }

    /// LeaveGroup: one error per member.
    pub fn leave(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        members: &[(String, Option<String>)],
        now_ms: i64,
    ) -> Result<Vec<Code>, Code> {
        let mut groups = self.groups.lock();
        let Some(entry) = groups.get_mut(group_id) else {
            return Err(E::UnknownMemberId.code());
        };
        let out = members
            .iter()
            .map(|(id, inst)| entry.group.leave(id, inst.as_deref(), now_ms))
            .collect();
        self.flush_group(topics, &mut entry.group, now_ms);
        Ok(out)
    }

    /// OffsetCommit: a group-level error, or one error per offset (in order).
    #[allow(clippy::too_many_arguments)]
    pub fn commit_offsets(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        offsets: Vec<(String, i32, CommittedOffset)>,
        now_ms: i64,
    ) -> Result<Vec<Code>, Code> {
        if group_id.is_empty() {
            return Err(E::InvalidGroupId.code());
        }
        tracing::debug!(
            group = group_id,
            member = member_id,
            generation_id,
            "offset commit"
        );
        let mut groups = self.groups.lock();
        let exists = groups.contains_key(group_id);
        if !exists && generation_id >= 0 {
            // A generation of a group this coordinator does not know (as Kafka answers).
            return Err(E::IllegalGeneration.code());
        }
        let entry = self.entry(&mut groups, group_id, now_ms);
        match &entry.consumer {
            Some(cg) if !(cg.members.is_empty() && generation_id < 0) => {
                cg.check_member_epoch(member_id, generation_id)?
            }
            _ => entry
                .group
                .check_commit(member_id, instance, generation_id)?,
        }
        let OffsetBatch {
            mut results,
            mut records,
            accepted,
        } = self.offset_batch(topics, group_id, offsets);
        if !exists && !accepted.is_empty() {
            // First write for a standalone group: make it visible after a restart too.
            entry.group.dirty = true;
        }
        if entry.group.dirty {
            entry.group.dirty = false;
            records.push(Self::metadata_record(&entry.group));
        }
        if let Err(e) = self.persist(topics, records, now_ms) {
            for (i, ..) in &accepted {
                results[*i] = e;
            }
            return Ok(results);
        }
        for (_, topic, partition, o) in accepted {
            entry.offsets.insert((topic, partition), o);
        }
        Ok(results)
    }

    /// OffsetFetch: the committed offsets of the requested partitions (all when None).
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Vec<(String, i32, Option<CommittedOffset>)> {
        let groups = self.groups.lock();
        let offsets = groups.get(group_id).map(|e| &e.offsets);
        match partitions {
            Some(wanted) => wanted
                .into_iter()
                .flat_map(|(topic, parts)| {
                    parts
                        .into_iter()
                        .map(move |p| (topic.clone(), p))
                        .collect::<Vec<_>>()
                })
                .map(|(t, p)| {
                    let o = offsets.and_then(|m| m.get(&(t.clone(), p)).cloned());
                    (t, p, o)
                })
                .collect(),
            None => offsets
                .map(|m| {
                    m.iter()
                        .map(|((t, p), o)| (t.clone(), *p, Some(o.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    pub fn list_groups(&self) -> Vec<GroupListing> {
        let groups = self.groups.lock();
        let mut out: Vec<GroupListing> = groups
            .values()
            .filter(|e| e.group.state != GroupState::Dead)
            .map(|e| match &e.consumer {
                Some(cg) => GroupListing {
                    group_id: e.group.group_id.clone(),
                    protocol_type: "consumer".into(),
                    state: cg.state().name(),
                    group_type: "consumer",
                },
                None => GroupListing {
                    group_id: e.group.group_id.clone(),
                    protocol_type: e.group.protocol_type.clone().unwrap_or_default(),
                    state: e.group.state.name(),
                    group_type: "classic",
                },
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let groups = self.groups.lock();
        let entry = groups.get(group_id)?;
        if entry.consumer.is_some() {
            // DescribeGroups describes classic groups only (ConsumerGroupDescribe the rest).
            return None;
        }
        let g = &entry.group;
        let stable = g.state == GroupState::Stable;
        let protocol = g.protocol_name.clone().unwrap_or_default();
        let mut members: Vec<&classic::Member> = g.members.values().collect();
        members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        Some(GroupDescription {
            group_id: g.group_id.clone(),
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol_name: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: members
                .into_iter()
                .map(|m| MemberDescription {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    // Kafka includes metadata and assignment only for a Stable group.
                    metadata: if stable {
                        m.protocols
                            .iter()
                            .find(|(n, _)| *n == protocol)
                            .map(|(_, b)| b.clone())
                            .unwrap_or_default()
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// DeleteGroups: one error per group.
    pub fn delete_groups(&self, topics: &TopicRegistry, ids: &[String], now_ms: i64) -> Vec<Code> {
        let mut groups = self.groups.lock();
        ids.iter()
            .map(|id| {
                let Some(entry) = groups.get_mut(id) else {
                    return E::GroupIdNotFound.code();
                };
                if (entry.group.state != GroupState::Empty && entry.group.state != GroupState::Dead)
                    || entry.is_active_consumer_group()
                {
                    return E::NonEmptyGroup.code();
                }
                let mut records: Vec<(Bytes, Option<Bytes>)> = entry
                    .offsets
                    .keys()
                    .map(|(t, p)| (records::encode_offset_key(id, t, *p), None))
                    .collect();
                records.push((records::encode_group_key(id), None));
                if let Err(e) = self.persist(topics, records, now_ms) {
                    return e;
                }
                entry.group.mark_dead(now_ms);
                groups.remove(id);
                NONE
            })
            .collect()
    }

    /// OffsetDelete: a group-level error, or one error per partition.
    pub fn delete_offsets(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        partitions: Vec<(String, i32)>,
        now_ms: i64,
    ) -> Result<Vec<Code>, Code> {
        let mut groups = self.groups.lock();
        let Some(entry) = groups.get_mut(group_id) else {
            return Err(E::GroupIdNotFound.code());
        };
        if entry.group.state == GroupState::Dead {
            return Err(E::GroupIdNotFound.code());
        }
        let subscribed: Vec<String> = match &entry.consumer {
            Some(cg) => cg
                .subscribed_topics(&topic_view(topics))
                .into_iter()
                .collect(),
            None if entry.group.state == GroupState::Empty => Vec::new(),
            None => entry.group.subscribed_topics(),
        };
        let mut results = Vec::with_capacity(partitions.len());
        let mut records = Vec::new();
        let mut removed = Vec::new();
        for (topic, p) in partitions {
            if subscribed.contains(&topic) {
                results.push(E::GroupSubscribedToTopic.code());
                continue;
            }
            if entry.offsets.contains_key(&(topic.clone(), p)) {
                records.push((records::encode_offset_key(group_id, &topic, p), None));
                removed.push((topic, p));
            }
            results.push(NONE);
        }
        self.persist(topics, records, now_ms)?;
        for k in removed {
            entry.offsets.remove(&k);
        }
        Ok(results)
    }

    /// Advance time: sessions, rebalance and sync deadlines, offset expiry.
    pub fn tick(&self, topics: &TopicRegistry, now_ms: i64) {
        let mut groups = self.groups.lock();
        let mut view = None;
        for entry in groups.values_mut() {
            entry.group.tick(now_ms);
            self.flush_group(topics, &mut entry.group, now_ms);
            if let Some(cg) = &mut entry.consumer
                && !cg.members.is_empty()
            {
                let view = view.get_or_insert_with(|| topic_view(topics));
                cg.tick(view, now_ms);
            }
        }
        let mut last = self.last_expiry_check_ms.lock();
        if now_ms - *last < self.retention_check_interval_ms {
            return;
        }
        *last = now_ms;
        drop(last);
        self.expire_offsets(topics, &mut groups, now_ms);
    }

    /// offsets.retention.minutes: an empty group's offsets expire once the group has
    /// been empty, and the offset uncommitted-to, for the retention period (KIP-211).
    fn expire_offsets(
        &self,
        topics: &TopicRegistry,
        groups: &mut HashMap<String, GroupEntry>,
        now_ms: i64,
    ) {
        let mut dead = Vec::new();
        for (id, entry) in groups.iter_mut() {
            if entry.group.state != GroupState::Empty || entry.is_active_consumer_group() {
                continue;
            }
            let since = entry.group.state_since_ms;
            let expired: Vec<(String, i32)> = entry
                .offsets
                .iter()
                .filter(|(_, o)| now_ms - o.commit_timestamp_ms.max(since) >= self.retention_ms)
                .map(|(k, _)| k.clone())
                .collect();
            if expired.is_empty() {
                continue;
            }
            let mut records: Vec<(Bytes, Option<Bytes>)> = expired
                .iter()
                .map(|(t, p)| (records::encode_offset_key(id, t, *p), None))
                .collect();
            let all_gone = expired.len() == entry.offsets.len();
            if all_gone {
                records.push((records::encode_group_key(id), None));
            }
            if self.persist(topics, records, now_ms).is_ok() {
                tracing::info!(group = %id, offsets = expired.len(), "expired committed offsets");
                for k in expired {
                    entry.offsets.remove(&k);
                }
                if all_gone {
                    dead.push(id.clone());
                }
            }
        }
        for id in dead {
            groups.remove(&id);
        }
    }
}

/// Every topic's id and partition count, as the consumer protocol's assignors need.
pub fn topic_view(topics: &TopicRegistry) -> TopicView {
    topics
        .list()
        .iter()
        .map(|t| (t.name.clone(), (t.id, t.partition_count())))
        .collect()
}

/// A ConsumerGroupDescribe member.
#[derive(Clone, Debug)]
pub struct ConsumerMemberDescription {
    pub member: consumer::ConsumerMember,
    pub target: consumer::Assignment,
}

/// ConsumerGroupDescribe's view of a group.
#[derive(Clone, Debug)]
pub struct ConsumerGroupDescription {
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: Vec<ConsumerMemberDescription>,
}

impl GroupCoordinator {
    /// ConsumerGroupHeartbeat (KIP-848).
    pub fn consumer_heartbeat(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        req: HeartbeatRequest,
        now_ms: i64,
    ) -> HeartbeatResult {
        if group_id.is_empty() {
            return HeartbeatResult {
                error: E::InvalidGroupId.code(),
                error_message: Some("GroupId can't be empty.".into()),
                member_id: req.member_id,
                member_epoch: -1,
                assignment: None,
            };
        }
        let mut groups = self.groups.lock();
        let entry = self.entry(&mut groups, group_id, now_ms);
        if entry.consumer.is_none() {
            if !entry.group.is_empty() {
                return HeartbeatResult {
                    error: E::GroupIdNotFound.code(),
                    error_message: Some(format!("Group {group_id} is not a consumer group.")),
                    member_id: req.member_id,
                    member_epoch: -1,
                    assignment: None,
                };
            }
            entry.consumer = Some(ConsumerGroup::new(
                group_id,
                self.consumer_session_timeout_ms,
                &self.consumer_assignor,
            ));
        }
        let cg = entry.consumer.as_mut().expect("set above");
        tracing::debug!(group = group_id, member = %req.member_id, epoch = req.member_epoch, "consumer group heartbeat");
        let before = cg.group_epoch;
        let result = cg.heartbeat(req, &topic_view(topics), now_ms);
        if cg.group_epoch != before {
            // Persist that the group exists (and its epoch), as a classic group's generation.
            entry.group.generation_id = cg.group_epoch;
            entry.group.protocol_type = Some("consumer".into());
            entry.group.dirty = true;
            self.flush_group(topics, &mut entry.group, now_ms);
        }
        result
    }

    /// ConsumerGroupDescribe: None for a group that is not a consumer-protocol group.
    pub fn consumer_describe(&self, group_id: &str) -> Option<ConsumerGroupDescription> {
        let groups = self.groups.lock();
        let cg = groups.get(group_id)?.consumer.as_ref()?;
        Some(ConsumerGroupDescription {
            state: cg.state().name(),
            group_epoch: cg.group_epoch,
            assignment_epoch: cg.assignment_epoch,
            assignor: cg
                .members
                .values()
                .find_map(|m| m.server_assignor.clone())
                .unwrap_or_else(|| cg.default_assignor.clone()),
            members: cg
                .members
                .values()
                .map(|m| ConsumerMemberDescription {
                    member: m.clone(),
                    target: cg.target.get(&m.member_id).cloned().unwrap_or_default(),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn open(dir: &std::path::Path, extra: &[&str]) -> (Arc<Config>, TopicRegistry) {
        let mut ov = vec![format!("log.dirs={}", dir.display())];
        ov.extend(extra.iter().map(|s| s.to_string()));
        let (c, _) = Config::from_sources(None, Vec::new(), &ov).unwrap();
        let c = Arc::new(c);
        let reg = TopicRegistry::open(c.clone(), 0).unwrap();
        (c, reg)
    }

    fn offset(o: i64, ts: i64) -> CommittedOffset {
        CommittedOffset {
            offset: o,
            leader_epoch: 0,
            metadata: String::new(),
            commit_timestamp_ms: ts,
        }
    }

    #[test]
    fn offsets_and_deletions_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (c, reg) = open(dir.path(), &[]);
            reg.create("t", 2, 1, BTreeMap::new(), 0).unwrap();
            let g = GroupCoordinator::open(&c, &reg, 0);
            let codes = g
                .commit_offsets(
                    &reg,
                    "keep",
                    "",
                    None,
                    -1,
                    vec![("t".into(), 0, offset(5, 1)), ("t".into(), 1, offset(7, 1))],
                    1,
                )
                .unwrap();
            assert_eq!(codes, vec![NONE, NONE]);
            g.commit_offsets(
                &reg,
                "keep",
                "",
                None,
                -1,
                vec![("t".into(), 0, offset(6, 2))],
                2,
            )
            .unwrap();
            g.commit_offsets(
                &reg,
                "gone",
                "",
                None,
                -1,
                vec![("t".into(), 0, offset(1, 3))],
                3,
            )
            .unwrap();
            assert_eq!(g.delete_groups(&reg, &["gone".into()], 4), vec![NONE]);
            // Unknown partitions are refused, nothing stored.
            let codes = g
                .commit_offsets(
                    &reg,
                    "keep",
                    "",
                    None,
                    -1,
                    vec![("t".into(), 9, offset(1, 5))],
                    5,
                )
                .unwrap();
            assert_eq!(codes, vec![E::UnknownTopicOrPartition.code()]);
        }
        let (c, reg) = open(dir.path(), &[]);
        let g = GroupCoordinator::open(&c, &reg, 10);
        assert_eq!(
            g.fetch_offsets("keep", None),
            vec![
                ("t".to_string(), 0, Some(offset(6, 2))),
                ("t".to_string(), 1, Some(offset(7, 1)))
            ]
        );
        assert_eq!(g.fetch_offsets("gone", None), vec![]);
        let listed: Vec<String> = g.list_groups().into_iter().map(|l| l.group_id).collect();
        assert_eq!(listed, vec!["keep".to_string()]);
        assert!(reg.get(OFFSETS_TOPIC).unwrap().is_internal());
    }

    #[test]
    fn offsets_of_an_empty_group_expire_after_retention() {
        let dir = tempfile::tempdir().unwrap();
        let (c, reg) = open(
            dir.path(),
            &[
                "offsets.retention.minutes=1",
                "offsets.retention.check.interval.ms=1000",
            ],
        );
        reg.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let g = GroupCoordinator::open(&c, &reg, 0);
        g.commit_offsets(
            &reg,
            "idle",
            "",
            None,
            -1,
            vec![("t".into(), 0, offset(3, 0))],
            0,
        )
        .unwrap();
        g.tick(&reg, 59_000);
        assert_eq!(g.fetch_offsets("idle", None).len(), 1, "within retention");
        g.tick(&reg, 60_000);
        assert_eq!(g.fetch_offsets("idle", None), vec![], "expired");
        assert!(g.list_groups().is_empty());
        // and the expiry is durable
        let g2 = GroupCoordinator::open(&c, &reg, 61_000);
        assert_eq!(g2.fetch_offsets("idle", None), vec![]);
    }
}

#[cfg(test)]
mod consumer_protocol_tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn consumer_group_member_commits_with_its_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) = Config::from_sources(
            None,
            Vec::new(),
            &[format!("log.dirs={}", dir.path().display())],
        )
        .unwrap();
        let c = Arc::new(c);
        let reg = TopicRegistry::open(c.clone(), 0).unwrap();
        reg.create("t", 2, 1, BTreeMap::new(), 0).unwrap();
        let g = GroupCoordinator::open(&c, &reg, 0);
        let r = g.consumer_heartbeat(
            &reg,
            "cg",
            HeartbeatRequest {
                member_id: "m1".into(),
                member_epoch: 0,
                rebalance_timeout_ms: 30_000,
                subscribed_topic_names: Some(vec!["t".into()]),
                ..Default::default()
            },
            0,
        );
        assert_eq!((r.error, r.member_epoch), (NONE, 1));
        let o = CommittedOffset {
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 1,
        };
        let codes = g.commit_offsets(
            &reg,
            "cg",
            "m1",
            None,
            1,
            vec![("t".into(), 0, o.clone())],
            1,
        );
        assert_eq!(codes, Ok(vec![NONE]));
        let stale = g.commit_offsets(
            &reg,
            "cg",
            "m1",
            None,
            0,
            vec![("t".into(), 0, o.clone())],
            1,
        );
        assert_eq!(stale, Err(E::StaleMemberEpoch.code()));
        let unknown = g.commit_offsets(&reg, "cg", "zz", None, 1, vec![("t".into(), 0, o)], 1);
        assert_eq!(unknown, Err(E::UnknownMemberId.code()));
        let listed = g.list_groups();
        assert_eq!(
            (listed[0].group_type, listed[0].state),
            ("consumer", "Stable")
        );
    }
}
