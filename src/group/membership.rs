//! The membership APIs: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups,
//! ListGroups, DeleteGroups, and KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe.
//! Each finds its group in the coordinator's state and drives the state machine of
//! [`super::classic`] or [`super::consumer`].
//!
//! **Must never:** touch a group's offsets (only DeleteGroups drops a whole group); speak the
//! wire; read the clock.

use std::net::SocketAddr;

use bytes::Bytes;

use super::classic::{self, GroupState, JoinRequest, JoinResult, Reply, SyncRequest, SyncResult};
use super::consumer::{self, ConsumerGroup, HeartbeatRequest, HeartbeatResult};
use super::coordinator::{COORDINATOR_LOOKUP_GRACE_MS, GroupCoordinator, Lookup, topic_view};
use super::records;
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
        tracing::debug!(
            group = group_id,
            member = %req.member_id,
            instance = ?req.group_instance_id,
            state = entry.group.state.name(),
            "JoinGroup"
        );
        let hold = if req.member_id.is_empty() {
            self.claim_lookup(group_id, now_ms)
        } else {
            self.pending_lookups_until(group_id, now_ms)
        };
        entry.group.expect_members_until(hold);
        let reply = entry.group.join(req, now_ms);
        self.flush_group(topics, &mut entry.group, now_ms);
        reply
    }

    /// When the group's pending join completes on its own (the first join of an empty group,
    /// see [`super::classic::INITIAL_JOIN_WINDOW_MS`]), for a timer to call
    /// [`Self::tick_group`] then.
    pub fn join_deadline(&self, group_id: &str, now_ms: i64) -> Option<i64> {
        self.groups
            .lock()
            .get(group_id)?
            .group
            .join_deadline(now_ms)
    }

    /// A FindCoordinator for `group_id` from the connection `peer`: a consumer that may be
    /// about to join (see [`super::classic::ClassicGroup::expect_members_until`]).
    pub fn note_lookup(&self, group_id: &str, peer: SocketAddr, now_ms: i64) {
        let hold = {
            let mut lookups = self.lookups.lock();
            let recent = lookups.entry(group_id.to_string()).or_default();
            recent.retain(|l| l.peer != peer);
            recent.push(Lookup {
                peer,
                at_ms: now_ms,
                claimed: false,
            });
            unclaimed_until(recent, now_ms)
        };
        if let Some(entry) = self.groups.lock().get_mut(group_id) {
            entry.group.expect_members_until(hold);
        }
    }

    /// A new consumer (no member id yet) joined: it accounts for the oldest lookup not yet
    /// accounted for. Returns how long the first join should still wait for others.
    fn claim_lookup(&self, group_id: &str, now_ms: i64) -> Option<i64> {
        let mut lookups = self.lookups.lock();
        let recent = lookups.get_mut(group_id)?;
        recent.retain(|l| now_ms - l.at_ms < COORDINATOR_LOOKUP_GRACE_MS);
        if let Some(oldest) = recent.iter_mut().find(|l| !l.claimed) {
            oldest.claimed = true;
        }
        unclaimed_until(recent, now_ms)
    }

    /// How long the first join should still wait for consumers that looked it up.
    fn pending_lookups_until(&self, group_id: &str, now_ms: i64) -> Option<i64> {
        let mut lookups = self.lookups.lock();
        let recent = lookups.get_mut(group_id)?;
        let until = unclaimed_until(recent, now_ms);
        if recent.is_empty() {
            lookups.remove(group_id);
        }
        until
    }

    /// One group's timers ([`GroupCoordinator::tick`] runs every group's).
    pub fn tick_group(&self, topics: &TopicRegistry, group_id: &str, now_ms: i64) {
        let mut groups = self.groups.lock();
        if let Some(entry) = groups.get_mut(group_id) {
            let hold = self.pending_lookups_until(group_id, now_ms);
            entry.group.expect_members_until(hold);
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

/// Drop lookups past the grace period; the time until which the newest unclaimed one holds
/// the first join, if any.
fn unclaimed_until(recent: &mut Vec<Lookup>, now_ms: i64) -> Option<i64> {
    recent.retain(|l| now_ms - l.at_ms < COORDINATOR_LOOKUP_GRACE_MS);
    recent
        .iter()
        .filter(|l| !l.claimed)
        .map(|l| l.at_ms + COORDINATOR_LOOKUP_GRACE_MS)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::group::classic::{INITIAL_JOIN_WINDOW_MS, JoinRequest};
    use std::sync::Arc;

    fn open(dir: &std::path::Path) -> (GroupCoordinator, TopicRegistry) {
        let (c, _) =
            Config::from_sources(None, Vec::new(), &[format!("log.dirs={}", dir.display())])
                .unwrap();
        let c = Arc::new(c);
        let reg = TopicRegistry::open(c.clone(), 0).unwrap();
        (GroupCoordinator::open(&c, &reg, 0), reg)
    }

    fn static_join(instance: &str) -> JoinRequest {
        JoinRequest {
            member_id: String::new(),
            group_instance_id: Some(instance.into()),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
            require_known_member_id: true,
        }
    }

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn generation(r: &mut tokio::sync::oneshot::Receiver<JoinResult>) -> Option<i32> {
        r.try_recv().ok().map(|j| j.generation_id)
    }

    fn later(r: Reply<JoinResult>) -> tokio::sync::oneshot::Receiver<JoinResult> {
        match r {
            Reply::Later(rx) => rx,
            Reply::Now(j) => panic!("answered at once: {j:?}"),
        }
    }

    /// Three consumers look the coordinator up together; one joins at once, the others 50 ms
    /// later (librdkafka's connection set-up): one generation of three, formed a window after
    /// the last of them, while a lone consumer is held only by the window.
    #[test]
    fn lookups_hold_the_first_join_for_consumers_on_their_way() {
        let dir = tempfile::tempdir().unwrap();
        let (g, topics) = open(dir.path());
        for port in [1, 2, 3] {
            g.note_lookup("g", peer(port), 10);
        }
        let mut a = later(g.join(&topics, "g", static_join("a"), 11));
        g.tick_group(&topics, "g", 11 + INITIAL_JOIN_WINDOW_MS);
        assert_eq!(
            generation(&mut a),
            None,
            "two more consumers are on their way"
        );
        assert_eq!(
            g.join_deadline("g", 40),
            Some(10 + COORDINATOR_LOOKUP_GRACE_MS)
        );
        let mut b = later(g.join(&topics, "g", static_join("b"), 61));
        let mut c = later(g.join(&topics, "g", static_join("c"), 62));
        assert_eq!(
            g.join_deadline("g", 62),
            Some(62 + INITIAL_JOIN_WINDOW_MS),
            "everyone who looked is here: only the window is left"
        );
        g.tick_group(&topics, "g", 62 + INITIAL_JOIN_WINDOW_MS);
        assert_eq!(
            [generation(&mut a), generation(&mut b), generation(&mut c)],
            [Some(1); 3]
        );

        // A lone consumer: its own lookup is accounted for by its join.
        g.note_lookup("solo", peer(9), 1_000);
        let mut s = later(g.join(&topics, "solo", static_join("s"), 1_001));
        assert_eq!(
            g.join_deadline("solo", 1_001),
            Some(1_001 + INITIAL_JOIN_WINDOW_MS)
        );
        g.tick_group(&topics, "solo", 1_001 + INITIAL_JOIN_WINDOW_MS);
        assert_eq!(generation(&mut s), Some(1));
    }

    /// A lookup that never becomes a join (an admin tool) holds a first join only so long.
    #[test]
    fn a_lookup_without_a_join_holds_the_first_join_at_most_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let (g, topics) = open(dir.path());
        g.note_lookup("g", peer(1), 0);
        g.note_lookup("g", peer(2), 0);
        let mut a = later(g.join(&topics, "g", static_join("a"), 1));
        g.tick_group(&topics, "g", COORDINATOR_LOOKUP_GRACE_MS - 1);
        assert_eq!(generation(&mut a), None);
        g.tick_group(&topics, "g", COORDINATOR_LOOKUP_GRACE_MS);
        assert_eq!(generation(&mut a), Some(1));
        assert!(
            g.lookups
                .lock()
                .get("g")
                .is_none_or(|l| l.iter().all(|l| l.claimed)),
            "expired lookups are dropped"
        );
    }
}
