//! The membership APIs: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups,
//! ListGroups, DeleteGroups, KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe, and
//! KIP-932's ShareGroupHeartbeat and ShareGroupDescribe. Each finds its group in the
//! coordinator's state and drives the state machine of [`super::classic`],
//! [`super::consumer`] or [`super::share`].
//!
//! **Must never:** touch a group's offsets (only DeleteGroups drops a whole group); speak the
//! wire; read the clock.

use bytes::Bytes;

use super::classic::{self, GroupState, JoinRequest, JoinResult, Reply, SyncRequest, SyncResult};
use super::consumer::{self, ConsumerGroup, HeartbeatRequest, HeartbeatResult};
use super::coordinator::GroupCoordinator;
use super::records;
use super::share::{self, ShareGroup, ShareGroupSettings, ShareHeartbeat};
use crate::error::KafkaError as E;
use crate::error::{Code, NONE};
use crate::topics::TopicRegistry;

/// One row of ListGroups.
#[derive(Clone, Debug)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    /// Kafka's state name ("Stable", "Empty", "Reconciling", …).
    pub state: &'static str,
    /// "classic", "consumer" or "share" (ListGroups v5 group_type).
    pub group_type: &'static str,
    /// Members now.
    pub members: usize,
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

/// ShareGroupDescribe's view of a group.
#[derive(Clone, Debug)]
pub struct ShareGroupDescription {
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: &'static str,
    pub members: Vec<share::ShareMember>,
}

impl GroupCoordinator {
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
        if !self.owns(group_id) {
            return Reply::Now(JoinResult::error(E::NotCoordinator.code(), &req.member_id));
        }
        let mut groups = self.groups.lock();
        let entry = self.entry(&mut groups, group_id, now_ms);
        if entry.share.is_some() {
            // Kafka: "Group X is not a classic group." (GroupIdNotFoundException).
            return Reply::Now(JoinResult::error(E::GroupIdNotFound.code(), &req.member_id));
        }
        if entry.is_active_consumer_group() {
            return Reply::Now(JoinResult::error(
                E::InconsistentGroupProtocol.code(),
                &req.member_id,
            ));
        }
        // An empty consumer-protocol group becomes a classic one.
        entry.consumer = None;
        tracing::debug!(
            group = group_id,
            member = %req.member_id,
            instance = ?req.group_instance_id,
            state = entry.group.state.name(),
            "JoinGroup"
        );
        let reply = entry.group.join(req, now_ms);
        self.flush_group(topics, &mut entry.group, now_ms);
        reply
    }

    /// When the group's pending join completes on its own (the first join of an empty group,
    /// see [`super::classic::INITIAL_JOIN_WINDOW_MS`]), for a timer to call
    /// [`Self::tick_group`] then.
    pub fn join_deadline(&self, group_id: &str) -> Option<i64> {
        self.groups.lock().get(group_id)?.group.join_deadline()
    }

    /// One group's timers ([`GroupCoordinator::tick`] runs every group's).
    pub fn tick_group(&self, topics: &TopicRegistry, group_id: &str, now_ms: i64) {
        let mut groups = self.groups.lock();
        if let Some(entry) = groups.get_mut(group_id) {
            entry.group.tick(now_ms);
            self.flush_group(topics, &mut entry.group, now_ms);
        }
    }

    pub fn sync(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        req: SyncRequest,
        now_ms: i64,
    ) -> Reply<SyncResult> {
        let mut groups = self.groups.lock();
        let missing = if self.owns(group_id) {
            E::UnknownMemberId
        } else {
            E::NotCoordinator
        };
        let Some(entry) = groups
            .get_mut(group_id)
            .filter(|_| missing != E::NotCoordinator)
        else {
            return Reply::Now(SyncResult {
                error: missing.code(),
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
        if !self.owns(group_id) {
            return E::NotCoordinator.code();
        }
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
        if !self.owns(group_id) {
            return Err(E::NotCoordinator.code());
        }
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
            .map(|e| match (&e.consumer, &e.share) {
                (_, Some(sg)) => GroupListing {
                    group_id: e.group.group_id.clone(),
                    protocol_type: "share".into(),
                    state: sg.state().name(),
                    group_type: "share",
                    members: sg.members.len(),
                },
                (Some(cg), None) => GroupListing {
                    group_id: e.group.group_id.clone(),
                    protocol_type: "consumer".into(),
                    state: cg.state().name(),
                    group_type: "consumer",
                    members: cg.members.len(),
                },
                (None, None) => GroupListing {
                    group_id: e.group.group_id.clone(),
                    protocol_type: e.group.protocol_type.clone().unwrap_or_default(),
                    state: e.group.state.name(),
                    group_type: "classic",
                    members: e.group.members.len(),
                },
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let groups = self.groups.lock();
        let entry = groups.get(group_id)?;
        if entry.consumer.is_some() || entry.share.is_some() {
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
                if !self.owns(id) {
                    return E::NotCoordinator.code();
                }
                let Some(entry) = groups.get_mut(id) else {
                    return E::GroupIdNotFound.code();
                };
                if (entry.group.state != GroupState::Empty && entry.group.state != GroupState::Dead)
                    || entry.is_active_consumer_group()
                    || entry.share.as_ref().is_some_and(|s| !s.members.is_empty())
                {
                    return E::NonEmptyGroup.code();
                }
                let mut records: Vec<(Bytes, Option<Bytes>)> = entry
                    .offsets
                    .keys()
                    .map(|(t, p)| (records::encode_offset_key(id, t, *p), None))
                    .collect();
                records.push((records::encode_group_key(id), None));
                if entry.share.is_some() {
                    records.push((records::encode_share_group_key(id), None));
                }
                if let Err(e) = self.persist(topics, id, records, now_ms) {
                    return e;
                }
                entry.group.mark_dead(now_ms);
                groups.remove(id);
                NONE
            })
            .collect()
    }
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
        if !self.owns(group_id) {
            return HeartbeatResult {
                error: E::NotCoordinator.code(),
                error_message: None,
                member_id: req.member_id,
                member_epoch: -1,
                assignment: None,
            };
        }
        let mut groups = self.groups.lock();
        let entry = self.entry(&mut groups, group_id, now_ms);
        if entry.consumer.is_none() {
            if !entry.group.is_empty() || entry.share.is_some() {
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
        let result = cg.heartbeat(req, &self.topic_view(topics), now_ms);
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

impl GroupCoordinator {
    /// Whether `group_id` is a share group (DescribeGroups refuses it).
    pub fn is_share_group(&self, group_id: &str) -> bool {
        self.groups
            .lock()
            .get(group_id)
            .is_some_and(|e| e.share.is_some())
    }

    /// ShareGroupHeartbeat (KIP-932), after authorization: Kafka's request checks, the
    /// coordinator's, the group lookup (a join creates the group), then the state machine;
    /// a moved group epoch is persisted before the answer.
    pub fn share_heartbeat(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        req: ShareHeartbeat,
        settings: ShareGroupSettings,
        now_ms: i64,
    ) -> HeartbeatResult {
        let fail = |code: Code, message: Option<String>| HeartbeatResult {
            error: code,
            error_message: message,
            member_id: req.member_id.clone(),
            member_epoch: -1,
            assignment: None,
        };
        if let Err(message) = share::validate(group_id, &req) {
            return fail(E::InvalidRequest.code(), Some(message));
        }
        if !self.owns(group_id) {
            return fail(E::NotCoordinator.code(), None);
        }
        let mut groups = self.groups.lock();
        match groups.get(group_id) {
            Some(e) if e.is_other_kind_than_share() => {
                return fail(
                    E::GroupIdNotFound.code(),
                    Some(format!("Group {group_id} is not a share group.")),
                );
            }
            Some(e) if e.share.is_some() => {}
            _ if req.member_epoch != 0 => {
                return fail(
                    E::GroupIdNotFound.code(),
                    Some(format!("Group {group_id} not found.")),
                );
            }
            _ => {}
        }
        let entry = self.entry(&mut groups, group_id, now_ms);
        let sg = entry
            .share
            .get_or_insert_with(|| ShareGroup::new(group_id, 0, settings.session_timeout_ms));
        tracing::debug!(group = group_id, member = %req.member_id, epoch = req.member_epoch, "share group heartbeat");
        let result = sg.heartbeat(req, &self.topic_view(topics), settings, now_ms);
        self.flush_share_group(topics, sg, now_ms);
        result
    }

    /// How many members share group `group_id` has (the share-group offsets admin APIs, which
    /// need it Empty): GROUP_ID_NOT_FOUND with Kafka's message for no group or another kind.
    /// With `create`, an absent group is created Empty and persisted first (AlterShareGroupOffsets,
    /// Kafka 4.2, KAFKA-19662).
    pub fn share_group_members(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        create: Option<i32>,
        now_ms: i64,
    ) -> Result<usize, (Code, String)> {
        if !self.owns(group_id) {
            return Err((E::NotCoordinator.code(), String::new()));
        }
        let mut groups = self.groups.lock();
        match groups.get(group_id) {
            Some(e) if e.share.is_some() => {}
            Some(e) if e.is_other_kind_than_share() => {
                return Err((
                    E::GroupIdNotFound.code(),
                    format!("Group {group_id} is not a share group."),
                ));
            }
            _ if create.is_none() => {
                return Err((
                    E::GroupIdNotFound.code(),
                    format!("Group {group_id} not found."),
                ));
            }
            _ => {}
        }
        let entry = self.entry(&mut groups, group_id, now_ms);
        let created = entry.share.is_none();
        let sg = entry
            .share
            .get_or_insert_with(|| ShareGroup::new(group_id, 0, create.unwrap_or_default()));
        if created {
            sg.dirty = true;
        }
        self.flush_share_group(topics, sg, now_ms);
        Ok(sg.members.len())
    }

    /// ShareGroupDescribe: the group, or the GROUP_ID_NOT_FOUND message.
    pub fn share_describe(&self, group_id: &str) -> Result<ShareGroupDescription, String> {
        let groups = self.groups.lock();
        let Some(entry) = groups.get(group_id) else {
            return Err(format!("Group {group_id} not found."));
        };
        let Some(sg) = &entry.share else {
            return Err(format!("Group {group_id} is not a share group."));
        };
        Ok(ShareGroupDescription {
            state: sg.state().name(),
            group_epoch: sg.group_epoch,
            assignment_epoch: sg.assignment_epoch,
            assignor: share::SHARE_ASSIGNOR,
            members: sg.members.values().cloned().collect(),
        })
    }
}
