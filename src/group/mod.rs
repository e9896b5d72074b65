//! The group coordinator: consumer groups, classic and KIP-848, and the internal topic
//! `__consumer_offsets` that makes them and their committed offsets survive a restart.
//!
//! **Owns:** [`GroupCoordinator`] and its groups map (groups live in memory); the membership
//! APIs — JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups,
//! and KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe — which drive the state
//! machines of [`classic`] and [`consumer`]; `__consumer_offsets` itself (one partition: there is
//! one coordinator): the only code that writes it (`persist`, in Kafka's own record formats from
//! [`records`], through the same storage engine as user data) and its replay at start-up, which
//! restores committed offsets and each group's generation and protocol type; and
//! [`GroupCoordinator::tick`] (session, rebalance and sync deadlines; it triggers offset expiry).
//!
//! **Must never:** speak the wire (API handlers translate requests and responses); read the
//! clock (time is a `now_ms` argument); touch a group's offsets other than through
//! `offsets::GroupOffsets` — committing, fetching, deleting, transaction-pending and expiring
//! offsets live in `offsets.rs`.

pub mod classic;
pub mod consumer;
pub mod consumer_protocol;
mod offsets;
pub mod records;

use std::collections::HashMap;

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

pub use offsets::CommittedOffset;
use offsets::GroupOffsets;

/// The internal topic that holds committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

struct GroupEntry {
    group: ClassicGroup,
    /// Set when the group runs the KIP-848 consumer protocol (its classic side stays Empty).
    consumer: Option<ConsumerGroup>,
    offsets: GroupOffsets,
}

impl GroupEntry {
    /// A consumer-protocol group with members (classic APIs must keep off it).
    fn is_active_consumer_group(&self) -> bool {
        self.consumer
            .as_ref()
            .is_some_and(|c| !c.members.is_empty())
    }
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
                    .commit((topic, partition), o);
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
                    e.offsets.delete(&(topic, partition));
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
                offsets: GroupOffsets::default(),
            })
    }

    /// Write records to `__consumer_offsets`, creating it on first use.
    fn persist(
        &self,
        topics: &TopicRegistry,
        records: Vec<(Bytes, Option<Bytes>)>,
        now_ms: i64,
    ) -> Result<(), Code> {
        self.persist_as(topics, records, None, now_ms)
    }

    /// [`Self::persist`], as a write of the transactional producer `(producer_id, epoch)`
    /// when one is given (TxnOffsetCommit).
    fn persist_as(
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
