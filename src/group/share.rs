//! Share groups (KIP-932, ShareGroupHeartbeat): the coordinator assigns partitions with the
//! `simple` assignor ([`super::share_assignor`]) and hands each member its target as soon as it
//! heartbeats. Unlike the consumer protocol there is no revocation round: a partition may be
//! consumed by several members at once (the share-partition's acquisition locks keep records
//! apart), so a member moves straight to the new assignment epoch.
//!
//! - Any change of membership, subscription or subscribed topics' partition counts bumps the
//!   *group epoch*; the next heartbeat recomputes the target for it (the *assignment epoch*).
//! - A heartbeat carries the member's epoch: its current one, or its previous one (the answer
//!   with the bump may have been lost); anything else is FENCED_MEMBER_EPOCH and the client
//!   rejoins with epoch 0 and the same member id.
//! - A member silent for the session timeout is removed by [`ShareGroup::tick`].
//!
//! Pure and synchronous like the other group state machines: time comes in as `now_ms`, topics
//! as a [`TopicView`], settings (from group configs) as [`ShareGroupSettings`].
//!
//! **Must never:** touch share-partition state (`share/`, composed in `broker/`); read the clock.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::consumer::{Assignment, HeartbeatResult, TopicView};
use super::share_assignor::simple_assign;
use crate::error::KafkaError as E;
use crate::error::{Code, NONE};

/// The only share assignor (`group.share.assignors`).
pub const SHARE_ASSIGNOR: &str = "simple";

/// ShareGroupHeartbeat's `MemberEpoch` to leave the group.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareGroupState {
    Empty,
    Stable,
}

impl ShareGroupState {
    /// Kafka's names (ListGroups / ShareGroupDescribe).
    pub fn name(self) -> &'static str {
        match self {
            ShareGroupState::Empty => "Empty",
            ShareGroupState::Stable => "Stable",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ShareMember {
    pub member_id: String,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    /// Sorted, without duplicates.
    pub subscribed_topic_names: Vec<String>,
    /// What the member may consume now (its target at its epoch).
    pub assigned: Assignment,
    /// What the member was last sent, to send the assignment only when it changes.
    last_sent: Option<Assignment>,
    pub last_heartbeat_ms: i64,
}

/// A ShareGroupHeartbeat as the state machine needs it.
#[derive(Clone, Debug, Default)]
pub struct ShareHeartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    pub rack_id: Option<String>,
    /// `None`: unchanged since the last heartbeat.
    pub subscribed_topic_names: Option<Vec<String>>,
    pub client_id: String,
    pub client_host: String,
}

/// What a heartbeat needs from the group's and the broker's configs.
#[derive(Clone, Copy, Debug)]
pub struct ShareGroupSettings {
    /// `share.session.timeout.ms` (group config), else `group.share.session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `group.share.max.size`.
    pub max_size: i32,
}

/// Kafka's request checks (`throwIfShareGroupHeartbeatRequestIsInvalid`), in its order:
/// INVALID_REQUEST with its messages.
pub fn validate(group_id: &str, req: &ShareHeartbeat) -> Result<(), String> {
    let blank = |s: &str| s.trim().is_empty();
    if blank(&req.member_id) {
        return Err("MemberId can't be empty.".into());
    }
    if blank(group_id) {
        return Err("GroupId can't be empty.".into());
    }
    if req.rack_id.as_deref().is_some_and(blank) {
        return Err("RackId can't be empty.".into());
    }
    if req.member_epoch == 0 {
        if req
            .subscribed_topic_names
            .as_ref()
            .is_none_or(Vec::is_empty)
        {
            return Err("SubscribedTopicNames must be set in first request.".into());
        }
    } else if req.member_epoch < LEAVE_GROUP_MEMBER_EPOCH {
        return Err("MemberEpoch is invalid.".into());
    }
    Ok(())
}

pub struct ShareGroup {
    pub group_id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ShareMember>,
    /// Target assignment of the assignment epoch, per member.
    pub target: BTreeMap<String, Assignment>,
    /// The subscribed topics' (id, partitions) when the group epoch last moved.
    subscribed_metadata: BTreeMap<String, (Uuid, i32)>,
    /// The session timeout the last heartbeat was given (group configs change it).
    session_timeout_ms: i32,
    /// The group epoch moved since the coordinator last persisted it (`ShareGroupMetadata`).
    pub dirty: bool,
}

fn error(code: Code, message: String, member_id: &str) -> HeartbeatResult {
    HeartbeatResult {
        error: code,
        error_message: Some(message),
        member_id: member_id.to_string(),
        member_epoch: -1,
        assignment: None,
    }
}

impl ShareGroup {
    /// A new, empty group (`group_epoch` 0; a replayed group passes its stored epoch).
    pub fn new(group_id: &str, group_epoch: i32, session_timeout_ms: i32) -> ShareGroup {
        ShareGroup {
            group_id: group_id.to_string(),
            group_epoch,
            assignment_epoch: group_epoch,
            members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscribed_metadata: BTreeMap::new(),
            session_timeout_ms,
            dirty: false,
        }
    }

    pub fn state(&self) -> ShareGroupState {
        if self.members.is_empty() {
            ShareGroupState::Empty
        } else {
            ShareGroupState::Stable
        }
    }

    fn subscribed_metadata(&self, topics: &TopicView) -> BTreeMap<String, (Uuid, i32)> {
        self.members
            .values()
            .flat_map(|m| m.subscribed_topic_names.iter())
            .filter_map(|t| topics.get(t).map(|meta| (t.clone(), *meta)))
            .collect()
    }

    /// Recompute the target for the group epoch.
    fn compute_target(&mut self, topics: &TopicView) {
        let subscriptions: BTreeMap<String, BTreeSet<Uuid>> = self
            .members
            .iter()
            .map(|(id, m)| {
                let ids = m
                    .subscribed_topic_names
                    .iter()
                    .filter_map(|t| topics.get(t).map(|(id, _)| *id))
                    .collect();
                (id.clone(), ids)
            })
            .collect();
        let counts: BTreeMap<Uuid, i32> = self.subscribed_metadata(topics).into_values().collect();
        self.target = simple_assign(&subscriptions, &counts, &self.target);
        self.assignment_epoch = self.group_epoch;
    }

    /// The group epoch moves (membership, subscriptions or topics changed).
    fn bump(&mut self, topics: &TopicView) {
        self.group_epoch += 1;
        self.dirty = true;
        self.subscribed_metadata = self.subscribed_metadata(topics);
    }

    /// ShareGroupHeartbeat, after [`validate`] and the coordinator's checks.
    pub fn heartbeat(
        &mut self,
        req: ShareHeartbeat,
        topics: &TopicView,
        settings: ShareGroupSettings,
        now_ms: i64,
    ) -> HeartbeatResult {
        let id = req.member_id.clone();
        self.session_timeout_ms = settings.session_timeout_ms;
        if req.member_epoch == LEAVE_GROUP_MEMBER_EPOCH {
            if self.members.remove(&id).is_none() {
                return error(
                    E::UnknownMemberId.code(),
                    format!("Member {id} is not a member of group {}.", self.group_id),
                    &id,
                );
            }
            tracing::debug!(group = %self.group_id, member = %id, "share group member left");
            self.target.remove(&id);
            self.bump(topics);
            return HeartbeatResult {
                error: NONE,
                error_message: None,
                member_id: id,
                member_epoch: LEAVE_GROUP_MEMBER_EPOCH,
                assignment: None,
            };
        }
        let joining = req.member_epoch == 0;
        match self.members.get(&id) {
            None if !joining => {
                return error(
                    E::UnknownMemberId.code(),
                    format!("Member {id} is not a member of group {}.", self.group_id),
                    &id,
                );
            }
            None if self.members.len() >= settings.max_size.max(0) as usize => {
                return error(
                    E::GroupMaxSizeReached.code(),
                    format!(
                        "The share group has reached its maximum capacity of {} members.",
                        settings.max_size
                    ),
                    &id,
                );
            }
            Some(m) if !joining && req.member_epoch > m.member_epoch => {
                return error(
                    E::FencedMemberEpoch.code(),
                    format!(
                        "The share group member has a greater member epoch ({}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                        req.member_epoch, m.member_epoch
                    ),
                    &id,
                );
            }
            Some(m)
                if !joining
                    && req.member_epoch < m.member_epoch
                    && req.member_epoch != m.previous_member_epoch =>
            {
                return error(
                    E::FencedMemberEpoch.code(),
                    format!(
                        "The share group member has a smaller member epoch ({}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                        req.member_epoch, m.member_epoch
                    ),
                    &id,
                );
            }
            _ => {}
        }

        let mut bump = false;
        let m = self.members.entry(id.clone()).or_insert_with(|| {
            bump = true;
            tracing::debug!(member = %id, "share group member joins");
            ShareMember {
                member_id: id.clone(),
                rack_id: None,
                client_id: String::new(),
                client_host: String::new(),
                member_epoch: 0,
                previous_member_epoch: -1,
                subscribed_topic_names: Vec::new(),
                assigned: Assignment::new(),
                last_sent: None,
                last_heartbeat_ms: now_ms,
            }
        });
        if joining {
            // A (re)join: the member starts over at epoch 0 and is sent its assignment.
            m.member_epoch = 0;
            m.previous_member_epoch = -1;
            m.last_sent = None;
        }
        m.last_heartbeat_ms = now_ms;
        m.client_id = req.client_id;
        m.client_host = req.client_host;
        if req.rack_id.is_some() {
            m.rack_id = req.rack_id;
        }
        if let Some(mut names) = req.subscribed_topic_names {
            names.sort();
            names.dedup();
            if names != m.subscribed_topic_names {
                m.subscribed_topic_names = names;
                bump = true;
            }
        }
        if bump || self.subscribed_metadata(topics) != self.subscribed_metadata {
            self.bump(topics);
        }
        if self.group_epoch > self.assignment_epoch {
            self.compute_target(topics);
        }
        let target = self.target.get(&id).cloned().unwrap_or_default();
        let epoch = self.assignment_epoch;
        let m = self.members.get_mut(&id).expect("member exists");
        if m.member_epoch < epoch {
            m.previous_member_epoch = m.member_epoch;
            m.member_epoch = epoch;
            m.assigned = target;
        }
        let send = joining || m.last_sent.as_ref() != Some(&m.assigned);
        let assignment = send.then(|| m.assigned.clone());
        if send {
            m.last_sent = Some(m.assigned.clone());
        }
        HeartbeatResult {
            error: NONE,
            error_message: None,
            member_id: id,
            member_epoch: m.member_epoch,
            assignment,
        }
    }

    /// Remove members whose session ran out (the group epoch moves); their ids.
    pub fn tick(&mut self, topics: &TopicView, now_ms: i64) -> Vec<String> {
        let session = self.session_timeout_ms as i64;
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| now_ms - m.last_heartbeat_ms >= session)
            .map(|m| m.member_id.clone())
            .collect();
        if !gone.is_empty() {
            for id in &gone {
                tracing::info!(group = %self.group_id, member = %id, "share group member expired");
                self.members.remove(id);
                self.target.remove(id);
            }
            self.bump(topics);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: ShareGroupSettings = ShareGroupSettings {
        session_timeout_ms: 45_000,
        max_size: 200,
    };

    fn topics(list: &[(&str, i32)]) -> TopicView {
        list.iter()
            .enumerate()
            .map(|(i, (n, c))| (n.to_string(), (Uuid::from_u128(i as u128 + 1), *c)))
            .collect()
    }

    fn join(id: &str, subs: &[&str]) -> ShareHeartbeat {
        ShareHeartbeat {
            member_id: id.into(),
            member_epoch: 0,
            subscribed_topic_names: Some(subs.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn beat(id: &str, epoch: i32) -> ShareHeartbeat {
        ShareHeartbeat {
            member_id: id.into(),
            member_epoch: epoch,
            ..Default::default()
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    #[test]
    fn validation_messages_are_kafkas() {
        let v = |g: &str, r: ShareHeartbeat| validate(g, &r).err();
        assert_eq!(v("g", beat("", 1)).unwrap(), "MemberId can't be empty.");
        assert_eq!(v(" ", beat("m", 1)).unwrap(), "GroupId can't be empty.");
        let mut r = beat("m", 1);
        r.rack_id = Some(String::new());
        assert_eq!(v("g", r).unwrap(), "RackId can't be empty.");
        assert_eq!(
            v("g", beat("m", 0)).unwrap(),
            "SubscribedTopicNames must be set in first request."
        );
        assert_eq!(
            v("g", join("m", &[])).unwrap(),
            "SubscribedTopicNames must be set in first request."
        );
        assert_eq!(v("g", beat("m", -2)).unwrap(), "MemberEpoch is invalid.");
        assert_eq!(v("g", beat("m", -1)), None);
        assert_eq!(v("g", join("m", &["t"])), None);
    }

    #[test]
    fn members_share_one_partition_and_get_it_at_once() {
        let t = topics(&[("t", 1)]);
        let mut g = ShareGroup::new("g", 0, 45_000);
        let ra = g.heartbeat(join("a", &["t"]), &t, SETTINGS, 0);
        assert_eq!((ra.error, ra.member_epoch), (NONE, 1));
        assert_eq!(count(ra.assignment.as_ref().unwrap()), 1);
        assert_eq!(g.state(), ShareGroupState::Stable);
        // b joins: no revocation round, b has partition 0 too.
        let rb = g.heartbeat(join("b", &["t"]), &t, SETTINGS, 10);
        assert_eq!(rb.member_epoch, 2);
        assert_eq!(count(rb.assignment.as_ref().unwrap()), 1);
        // a moves to epoch 2; its assignment did not change, so none is sent.
        let ra = g.heartbeat(beat("a", 1), &t, SETTINGS, 20);
        assert_eq!((ra.member_epoch, ra.assignment), (2, None));
        assert_eq!(g.members["a"].previous_member_epoch, 1);
    }

    #[test]
    fn assignment_is_sent_only_when_it_changes() {
        let t = topics(&[("t", 4)]);
        let mut g = ShareGroup::new("g", 0, 45_000);
        g.heartbeat(join("a", &["t"]), &t, SETTINGS, 0);
        let r = g.heartbeat(beat("a", 1), &t, SETTINGS, 1);
        assert_eq!((r.member_epoch, r.assignment), (1, None));
        g.heartbeat(join("b", &["t"]), &t, SETTINGS, 2);
        let r = g.heartbeat(beat("a", 1), &t, SETTINGS, 3);
        assert_eq!(r.member_epoch, 2);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 2);
        let r = g.heartbeat(beat("a", 2), &t, SETTINGS, 4);
        assert_eq!(r.assignment, None);
        // A topic growing bumps the epoch and changes the assignment.
        let t = topics(&[("t", 6)]);
        let r = g.heartbeat(beat("a", 2), &t, SETTINGS, 5);
        assert_eq!(r.member_epoch, 3);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 3);
    }

    #[test]
    fn epochs_fence_except_the_previous_one() {
        let t = topics(&[("t", 2)]);
        let mut g = ShareGroup::new("g", 0, 45_000);
        g.heartbeat(join("a", &["t"]), &t, SETTINGS, 0);
        g.heartbeat(join("b", &["t"]), &t, SETTINGS, 0);
        g.heartbeat(beat("a", 1), &t, SETTINGS, 1); // a: epoch 2, previous 1
        let r = g.heartbeat(beat("a", 3), &t, SETTINGS, 2);
        assert_eq!(r.error, E::FencedMemberEpoch.code());
        assert!(
            r.error_message
                .unwrap()
                .contains("greater member epoch (3)")
        );
        // The previous epoch is accepted (the answer with the bump may have been lost).
        let r = g.heartbeat(beat("a", 1), &t, SETTINGS, 3);
        assert_eq!((r.error, r.member_epoch), (NONE, 2));
        // Older than the previous one: fenced.
        g.heartbeat(join("c", &["t"]), &t, SETTINGS, 4); // epoch 3
        g.heartbeat(beat("a", 2), &t, SETTINGS, 5); // a: epoch 3, previous 2
        let r = g.heartbeat(beat("a", 1), &t, SETTINGS, 6);
        assert_eq!(r.error, E::FencedMemberEpoch.code());
        assert!(
            r.error_message
                .unwrap()
                .contains("smaller member epoch (1)")
        );
        // A fenced member rejoins with epoch 0 and its id, and gets an assignment.
        let r = g.heartbeat(join("a", &["t"]), &t, SETTINGS, 7);
        assert_eq!((r.error, r.member_epoch), (NONE, 3));
        assert!(r.assignment.is_some());
        // Unknown members.
        let r = g.heartbeat(beat("zz", 1), &t, SETTINGS, 8);
        assert_eq!(r.error, E::UnknownMemberId.code());
        assert_eq!(
            r.error_message.unwrap(),
            "Member zz is not a member of group g."
        );
    }

    #[test]
    fn leaving_bumps_the_epoch_and_rebalances() {
        let t = topics(&[("t", 4)]);
        let mut g = ShareGroup::new("g", 0, 45_000);
        g.heartbeat(join("a", &["t"]), &t, SETTINGS, 0);
        g.heartbeat(join("b", &["t"]), &t, SETTINGS, 0);
        let r = g.heartbeat(beat("a", 1), &t, SETTINGS, 1);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 2);
        let r = g.heartbeat(beat("b", -1), &t, SETTINGS, 1);
        assert_eq!((r.error, r.member_epoch), (NONE, -1));
        assert_eq!(g.group_epoch, 3);
        let r = g.heartbeat(beat("a", 2), &t, SETTINGS, 2);
        assert_eq!(r.member_epoch, 3);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 4);
        // Leaving twice: unknown.
        let r = g.heartbeat(beat("b", -1), &t, SETTINGS, 3);
        assert_eq!(r.error, E::UnknownMemberId.code());
        g.heartbeat(beat("a", -1), &t, SETTINGS, 4);
        assert_eq!(g.state(), ShareGroupState::Empty);
    }

    #[test]
    fn session_timeout_removes_a_silent_member() {
        let t = topics(&[("t", 2)]);
        let settings = ShareGroupSettings {
            session_timeout_ms: 1_000,
            max_size: 200,
        };
        let mut g = ShareGroup::new("g", 0, 45_000);
        g.heartbeat(join("a", &["t"]), &t, settings, 0);
        g.heartbeat(join("b", &["t"]), &t, settings, 0);
        g.heartbeat(beat("a", 1), &t, settings, 600);
        assert!(g.tick(&t, 999).is_empty());
        assert_eq!(g.tick(&t, 1_000), vec!["b".to_string()]);
        assert_eq!(g.group_epoch, 3);
        let r = g.heartbeat(beat("a", 2), &t, settings, 1_100);
        assert_eq!(r.member_epoch, 3);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 2);
        assert_eq!(g.tick(&t, 2_100), vec!["a".to_string()]);
        assert_eq!(g.state(), ShareGroupState::Empty);
    }

    #[test]
    fn the_group_has_a_maximum_size() {
        let t = topics(&[("t", 1)]);
        let settings = ShareGroupSettings {
            session_timeout_ms: 45_000,
            max_size: 2,
        };
        let mut g = ShareGroup::new("g", 0, 45_000);
        g.heartbeat(join("a", &["t"]), &t, settings, 0);
        g.heartbeat(join("b", &["t"]), &t, settings, 0);
        let r = g.heartbeat(join("c", &["t"]), &t, settings, 0);
        assert_eq!(r.error, E::GroupMaxSizeReached.code());
        assert_eq!(
            r.error_message.unwrap(),
            "The share group has reached its maximum capacity of 2 members."
        );
        // A member already in the group may rejoin.
        assert_eq!(g.heartbeat(join("a", &["t"]), &t, settings, 1).error, NONE);
    }

    #[test]
    fn unknown_topics_are_absent_until_created() {
        let mut g = ShareGroup::new("g", 5, 45_000);
        let r = g.heartbeat(join("a", &["later"]), &TopicView::new(), SETTINGS, 0);
        assert_eq!(r.member_epoch, 6);
        assert_eq!(r.assignment, Some(Assignment::new()));
        let t = topics(&[("later", 3)]);
        let r = g.heartbeat(beat("a", 6), &t, SETTINGS, 1);
        assert_eq!(r.member_epoch, 7);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 3);
    }
}
