//! The consumer group protocol of KIP-848 (ConsumerGroupHeartbeat): the
//! coordinator computes the assignment (server-side `uniform` and `range`
//! assignors) and hands it out member by member, with epochs.
//!
//! - Any change of membership, subscription or subscribed topics' partition
//!   counts bumps the *group epoch*; the target assignment is recomputed for
//!   the new epoch (the *assignment epoch*).
//! - A member moves to the new epoch only after it has revoked the partitions
//!   it loses (it reports what it owns in its heartbeat); a partition it gains
//!   is handed over only once its previous owner has released it.
//! - Epochs fence: a heartbeat with a stale epoch gets FENCED_MEMBER_EPOCH and
//!   the member rejoins with epoch 0.
//!
//! Pure and synchronous like the classic state machine: time comes in as
//! `now_ms`, topic metadata as a [`TopicView`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::KafkaError as E;
use uuid::Uuid;

use crate::error::{Code, NONE};

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// What the group needs to know of topics: name → (id, partition count).
pub type TopicView = BTreeMap<String, (Uuid, i32)>;

pub use crate::config::CONSUMER_GROUP_ASSIGNORS as ASSIGNORS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    /// Kafka's names (ListGroups / ConsumerGroupDescribe).
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// What the member may consume now (what it was last told).
    pub assigned: Assignment,
    /// Partitions the member was asked to give up and has not yet confirmed.
    pub revoking: Assignment,
    /// What the member was last sent, to send the assignment only when it changes.
    last_sent: Option<Assignment>,
    pub last_heartbeat_ms: i64,
    /// Since when the member has been asked to revoke (rebalance timeout).
    revoking_since_ms: Option<i64>,
}

/// A heartbeat as the state machine needs it.
#[derive(Clone, Debug, Default)]
pub struct HeartbeatRequest {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns, if it says.
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HeartbeatResult {
    pub error: Code,
    pub error_message: Option<String>,
    pub member_id: String,
    pub member_epoch: i32,
    /// Sent when it changed (or on join); None otherwise.
    pub assignment: Option<Assignment>,
}

impl HeartbeatResult {
    fn error(code: Code, message: &str, member_id: &str) -> HeartbeatResult {
        HeartbeatResult {
            error: code,
            error_message: Some(message.to_string()),
            member_id: member_id.to_string(),
            member_epoch: -1,
            assignment: None,
        }
    }
}

pub struct ConsumerGroup {
    pub group_id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// Target assignment of the assignment epoch, per member.
    pub target: HashMap<String, Assignment>,
    /// The subscribed topics' (id, partitions) when the target was computed.
    subscribed_metadata: BTreeMap<String, (Uuid, i32)>,
    pub session_timeout_ms: i32,
    pub default_assignor: String,
}

fn flatten(a: &Assignment) -> BTreeSet<(Uuid, i32)> {
    a.iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
        .collect()
}

fn gather(set: impl IntoIterator<Item = (Uuid, i32)>) -> Assignment {
    let mut a = Assignment::new();
    for (t, p) in set {
        a.entry(t).or_default().insert(p);
    }
    a
}

impl ConsumerGroup {
    pub fn new(group_id: &str, session_timeout_ms: i32, default_assignor: &str) -> ConsumerGroup {
        ConsumerGroup {
            group_id: group_id.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: HashMap::new(),
            subscribed_metadata: BTreeMap::new(),
            session_timeout_ms,
            default_assignor: default_assignor.to_string(),
        }
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.assignment_epoch < self.group_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| m.member_epoch != self.assignment_epoch || !m.revoking.is_empty())
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// Topic names a member subscribes to, by name or regex (internal topics excluded).
    fn member_topics(m: &ConsumerMember, topics: &TopicView) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = m
            .subscribed_topic_names
            .iter()
            .filter(|t| topics.contains_key(*t))
            .cloned()
            .collect();
        if let Some(re) = &m.subscribed_topic_regex
            && let Ok(re) = regex::Regex::new(&format!("^(?:{re})$"))
        {
            out.extend(
                topics
                    .keys()
                    .filter(|t| !t.starts_with("__") && re.is_match(t))
                    .cloned(),
            );
        }
        out
    }

    fn subscribed_metadata(&self, topics: &TopicView) -> BTreeMap<String, (Uuid, i32)> {
        let mut out = BTreeMap::new();
        for m in self.members.values() {
            for t in Self::member_topics(m, topics) {
                if let Some(meta) = topics.get(&t) {
                    out.insert(t, *meta);
                }
            }
        }
        out
    }

    fn assignor(&self) -> String {
        self.members
            .values()
            .find_map(|m| m.server_assignor.clone())
            .filter(|a| ASSIGNORS.contains(&a.as_str()))
            .unwrap_or_else(|| self.default_assignor.clone())
    }

    /// Recompute the target assignment for the current group epoch.
    fn compute_target(&mut self, topics: &TopicView) {
        let subs: BTreeMap<String, BTreeSet<String>> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), Self::member_topics(m, topics)))
            .collect();
        self.target = if self.assignor() == "range" {
            range_assign(&subs, topics)
        } else {
            uniform_assign(&subs, topics, &self.target)
        };
        self.subscribed_metadata = self.subscribed_metadata(topics);
        self.assignment_epoch = self.group_epoch;
    }

    /// Partitions currently held by members other than `except` (assigned or still revoking).
    fn held_by_others(&self, except: &str) -> BTreeSet<(Uuid, i32)> {
        self.members
            .values()
            .filter(|m| m.member_id != except)
            .flat_map(|m| flatten(&m.assigned).into_iter().chain(flatten(&m.revoking)))
            .collect()
    }

    /// ConsumerGroupHeartbeat.
    pub fn heartbeat(
        &mut self,
        req: HeartbeatRequest,
        topics: &TopicView,
        now_ms: i64,
    ) -> HeartbeatResult {
        let id = req.member_id.clone();
        if id.is_empty() {
            return HeartbeatResult::error(
                E::InvalidRequest.code(),
                "MemberId can't be empty.",
                &id,
            );
        }
        if req.member_epoch == -1 || req.member_epoch == -2 {
            // Leaving (-2: a static member that will come back; its partitions are released too).
            if self.members.remove(&id).is_some() {
                self.target.remove(&id);
                self.group_epoch += 1;
                self.compute_target(topics);
            }
            return HeartbeatResult {
                error: NONE,
                error_message: None,
                member_id: id,
                member_epoch: req.member_epoch,
                assignment: None,
            };
        }
        let joining = req.member_epoch == 0;
        if !joining {
            let Some(m) = self.members.get(&id) else {
                return HeartbeatResult::error(
                    E::UnknownMemberId.code(),
                    &format!("Member {id} is not a member of group {}.", self.group_id),
                    &id,
                );
            };
            if req.member_epoch != m.member_epoch && req.member_epoch != m.previous_member_epoch {
                return HeartbeatResult::error(
                    E::FencedMemberEpoch.code(),
                    &format!(
                        "The member epoch {} is fenced; the current epoch is {}.",
                        req.member_epoch, m.member_epoch
                    ),
                    &id,
                );
            }
        }
        if joining && req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
            return HeartbeatResult::error(
                E::InvalidRequest.code(),
                "SubscribedTopicNames or SubscribedTopicRegex must be set when joining.",
                &id,
            );
        }
        if let Some(a) = &req.server_assignor
            && !ASSIGNORS.contains(&a.as_str())
        {
            return HeartbeatResult::error(
                E::UnsupportedAssignor.code(),
                &format!("Assignor {a} is not supported; use uniform or range."),
                &id,
            );
        }
        if let Some(re) = &req.subscribed_topic_regex
            && regex::Regex::new(re).is_err()
        {
            return HeartbeatResult::error(
                E::InvalidRegularExpression.code(),
                &format!("SubscribedTopicRegex {re} is not a valid regular expression."),
                &id,
            );
        }

        let mut bump = false;
        let existed = self.members.contains_key(&id);
        let m = self.members.entry(id.clone()).or_insert_with(|| {
            bump = true;
            ConsumerMember {
                member_id: id.clone(),
                instance_id: None,
                rack_id: None,
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                member_epoch: 0,
                previous_member_epoch: -1,
                rebalance_timeout_ms: 300_000,
                subscribed_topic_names: Vec::new(),
                subscribed_topic_regex: None,
                server_assignor: None,
                assigned: Assignment::new(),
                revoking: Assignment::new(),
                last_sent: None,
                last_heartbeat_ms: now_ms,
                revoking_since_ms: None,
            }
        });
        if joining && existed {
            // A rejoin after a fence or restart: start over with nothing owned.
            m.member_epoch = 0;
            m.previous_member_epoch = -1;
            m.assigned.clear();
            m.revoking.clear();
            m.last_sent = None;
            bump = true;
        }
        m.last_heartbeat_ms = now_ms;
        if req.instance_id.is_some() {
            m.instance_id = req.instance_id.clone();
        }
        if req.rack_id.is_some() {
            m.rack_id = req.rack_id.clone();
        }
        if req.rebalance_timeout_ms > 0 {
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if let Some(names) = req.subscribed_topic_names {
            let mut names = names;
            names.sort();
            names.dedup();
            if names != m.subscribed_topic_names {
                m.subscribed_topic_names = names;
                bump = true;
            }
        }
        if req.subscribed_topic_regex.is_some()
            && req.subscribed_topic_regex != m.subscribed_topic_regex
        {
            m.subscribed_topic_regex = req.subscribed_topic_regex.clone();
            bump = true;
        }
        if req.server_assignor.is_some() && req.server_assignor != m.server_assignor {
            m.server_assignor = req.server_assignor.clone();
            bump = true;
        }
        // What the member says it owns settles revocations.
        if let Some(owned) = &req.owned {
            let owned = flatten(owned);
            let still: BTreeSet<(Uuid, i32)> =
                flatten(&m.revoking).intersection(&owned).copied().collect();
            m.revoking = gather(still);
            if m.revoking.is_empty() {
                m.revoking_since_ms = None;
            }
        }
        if self.subscribed_metadata(topics) != self.subscribed_metadata {
            // Subscribed topics appeared, vanished or grew.
            bump = true;
        }
        if bump {
            self.group_epoch += 1;
            self.compute_target(topics);
        }
        self.reconcile(&id, now_ms);
        let m = &mut self.members.get_mut(&id).expect("member exists");
        let changed = m.last_sent.as_ref() != Some(&m.assigned);
        let assignment = (joining || changed).then(|| m.assigned.clone());
        if assignment.is_some() {
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

    /// Move a member towards its target: revoke first, then advance its epoch and
    /// hand over the target partitions that nobody else holds any more.
    fn reconcile(&mut self, id: &str, now_ms: i64) {
        let target = flatten(self.target.get(id).unwrap_or(&Assignment::new()));
        let others = self.held_by_others(id);
        let epoch = self.assignment_epoch;
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        let current = flatten(&m.assigned);
        let to_revoke: BTreeSet<(Uuid, i32)> = current.difference(&target).copied().collect();
        if !to_revoke.is_empty() {
            // Keep what stays, ask for the rest back; the epoch moves once it is released.
            m.assigned = gather(current.intersection(&target).copied());
            let mut revoking = flatten(&m.revoking);
            revoking.extend(to_revoke);
            m.revoking = gather(revoking);
            m.revoking_since_ms.get_or_insert(now_ms);
            return;
        }
        if !m.revoking.is_empty() {
            return; // still waiting for the member to confirm
        }
        if m.member_epoch != epoch {
            m.previous_member_epoch = m.member_epoch;
            m.member_epoch = epoch;
        }
        let free: BTreeSet<(Uuid, i32)> = target.difference(&others).copied().collect();
        m.assigned = gather(free);
    }

    /// Expire members whose session ran out, and those that never revoked in time.
    pub fn tick(&mut self, topics: &TopicView, now_ms: i64) -> Vec<String> {
        let session = self.session_timeout_ms as i64;
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now_ms - m.last_heartbeat_ms >= session
                    || m.revoking_since_ms
                        .is_some_and(|t| now_ms - t >= m.rebalance_timeout_ms as i64)
            })
            .map(|m| m.member_id.clone())
            .collect();
        if !gone.is_empty() {
            for id in &gone {
                tracing::info!(group = %self.group_id, member = %id, "consumer group member expired");
                self.members.remove(id);
                self.target.remove(id);
            }
            self.group_epoch += 1;
            self.compute_target(topics);
        }
        gone
    }

    /// OffsetCommit / OffsetFetch from a member: its epoch must be current.
    pub fn check_member_epoch(&self, member_id: &str, epoch: i32) -> Result<(), Code> {
        let Some(m) = self.members.get(member_id) else {
            return Err(E::UnknownMemberId.code());
        };
        if epoch != m.member_epoch {
            return Err(E::StaleMemberEpoch.code());
        }
        Ok(())
    }

    pub fn subscribed_topics(&self, topics: &TopicView) -> BTreeSet<String> {
        self.subscribed_metadata(topics).into_keys().collect()
    }
}

/// Uniform assignor: every subscribed partition to the subscribed member with
/// the fewest, keeping a partition with its current owner while that owner is
/// under its fair share (so a rebalance moves as little as it can).
fn uniform_assign(
    subs: &BTreeMap<String, BTreeSet<String>>,
    topics: &TopicView,
    previous: &HashMap<String, Assignment>,
) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, BTreeSet<(Uuid, i32)>> =
        subs.keys().map(|m| (m.clone(), BTreeSet::new())).collect();
    let mut partitions: Vec<(String, Uuid, i32)> = Vec::new();
    for (name, (id, count)) in topics {
        if subs.values().any(|s| s.contains(name)) {
            for p in 0..*count {
                partitions.push((name.clone(), *id, p));
            }
        }
    }
    let total = partitions.len();
    let members = subs.len().max(1);
    let quota = total.div_ceil(members);
    let mut unassigned = Vec::new();
    for (name, id, p) in partitions {
        let keeper = previous.iter().find(|(m, a)| {
            a.get(&id).is_some_and(|ps| ps.contains(&p))
                && subs.get(*m).is_some_and(|s| s.contains(&name))
        });
        match keeper {
            Some((m, _)) if out.get(m).is_some_and(|a| a.len() < quota) => {
                out.get_mut(m).expect("member").insert((id, p));
            }
            _ => unassigned.push((name, id, p)),
        }
    }
    for (name, id, p) in unassigned {
        let best = subs
            .iter()
            .filter(|(_, s)| s.contains(&name))
            .map(|(m, _)| m)
            .min_by_key(|m| (out[*m].len(), (*m).clone()));
        if let Some(m) = best {
            out.get_mut(m).expect("member").insert((id, p));
        }
    }
    out.into_iter().map(|(m, s)| (m, gather(s))).collect()
}

/// Range assignor: per topic, the subscribed members (by member id) take
/// contiguous ranges of partitions, the first ones one extra when uneven.
fn range_assign(
    subs: &BTreeMap<String, BTreeSet<String>>,
    topics: &TopicView,
) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, BTreeSet<(Uuid, i32)>> =
        subs.keys().map(|m| (m.clone(), BTreeSet::new())).collect();
    for (name, (id, count)) in topics {
        let members: Vec<&String> = subs
            .iter()
            .filter(|(_, s)| s.contains(name))
            .map(|(m, _)| m)
            .collect();
        if members.is_empty() {
            continue;
        }
        let n = members.len() as i32;
        let (base, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, m) in members.iter().enumerate() {
            let take = base + if (i as i32) < extra { 1 } else { 0 };
            for p in next..next + take {
                out.get_mut(*m).expect("member").insert((*id, p));
            }
            next += take;
        }
    }
    out.into_iter().map(|(m, s)| (m, gather(s))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(list: &[(&str, i32)]) -> TopicView {
        list.iter()
            .enumerate()
            .map(|(i, (n, c))| (n.to_string(), (Uuid::from_u128(i as u128 + 1), *c)))
            .collect()
    }

    fn join(id: &str, subs: &[&str]) -> HeartbeatRequest {
        HeartbeatRequest {
            member_id: id.into(),
            member_epoch: 0,
            rebalance_timeout_ms: 60_000,
            subscribed_topic_names: Some(subs.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn beat(id: &str, epoch: i32, owned: Option<&Assignment>) -> HeartbeatRequest {
        HeartbeatRequest {
            member_id: id.into(),
            member_epoch: epoch,
            owned: owned.cloned(),
            ..Default::default()
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    #[test]
    fn lone_member_gets_everything() {
        let t = topics(&[("t", 6)]);
        let mut g = ConsumerGroup::new("g", 45_000, "uniform");
        let r = g.heartbeat(join("a", &["t"]), &t, 0);
        assert_eq!(r.error, NONE);
        assert_eq!(r.member_epoch, 1);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 6);
        assert_eq!(g.state(), ConsumerGroupState::Stable);
        // Unchanged: no assignment in the answer.
        let r = g.heartbeat(beat("a", 1, None), &t, 100);
        assert_eq!((r.member_epoch, r.assignment), (1, None));
    }

    #[test]
    fn second_member_gets_partitions_only_after_the_first_revokes() {
        let t = topics(&[("t", 6)]);
        let mut g = ConsumerGroup::new("g", 45_000, "uniform");
        let a_all = g.heartbeat(join("a", &["t"]), &t, 0).assignment.unwrap();
        // b joins: epoch 2, but a still holds everything, so b gets nothing yet.
        let rb = g.heartbeat(join("b", &["t"]), &t, 10);
        assert_eq!(rb.member_epoch, 2);
        assert_eq!(count(rb.assignment.as_ref().unwrap()), 0);
        assert_eq!(g.state(), ConsumerGroupState::Reconciling);
        // a is asked to give up half; its epoch stays until it confirms.
        let ra = g.heartbeat(beat("a", 1, Some(&a_all)), &t, 20);
        assert_eq!(ra.member_epoch, 1);
        let a_kept = ra.assignment.unwrap();
        assert_eq!(count(&a_kept), 3);
        // a confirms it owns only the kept half: it moves to epoch 2.
        let ra = g.heartbeat(beat("a", 1, Some(&a_kept)), &t, 30);
        assert_eq!(ra.member_epoch, 2);
        // now b receives the released half.
        let rb = g.heartbeat(beat("b", 2, Some(&Assignment::new())), &t, 40);
        let b_got = rb.assignment.unwrap();
        assert_eq!(count(&b_got), 3);
        assert!(flatten(&b_got).is_disjoint(&flatten(&a_kept)));
        assert_eq!(g.state(), ConsumerGroupState::Stable);
    }

    #[test]
    fn stale_epochs_are_fenced_and_unknown_members_refused() {
        let t = topics(&[("t", 2)]);
        let mut g = ConsumerGroup::new("g", 45_000, "uniform");
        g.heartbeat(join("a", &["t"]), &t, 0);
        g.heartbeat(join("b", &["t"]), &t, 0);
        assert_eq!(
            g.heartbeat(beat("a", 7, None), &t, 1).error,
            E::FencedMemberEpoch.code()
        );
        assert_eq!(
            g.heartbeat(beat("zz", 1, None), &t, 1).error,
            E::UnknownMemberId.code()
        );
        assert_eq!(g.check_member_epoch("b", 2), Ok(()));
        assert_eq!(
            g.check_member_epoch("b", 1),
            Err(E::StaleMemberEpoch.code())
        );
    }

    #[test]
    fn leaving_and_expiry_hand_partitions_to_the_rest() {
        let t = topics(&[("t", 4)]);
        let mut g = ConsumerGroup::new("g", 45_000, "range");
        let ra = g.heartbeat(join("a", &["t"]), &t, 0).assignment.unwrap();
        g.heartbeat(join("b", &["t"]), &t, 0);
        let ra = g
            .heartbeat(beat("a", 1, Some(&ra)), &t, 1)
            .assignment
            .unwrap();
        g.heartbeat(beat("a", 1, Some(&ra)), &t, 2);
        let rb = g.heartbeat(beat("b", 2, Some(&Assignment::new())), &t, 3);
        assert_eq!(count(rb.assignment.as_ref().unwrap()), 2);
        // b leaves: a is given everything at the next epoch.
        let r = g.heartbeat(beat("b", -1, None), &t, 4);
        assert_eq!(r.member_epoch, -1);
        let ra2 = g.heartbeat(beat("a", 2, None), &t, 5);
        assert_eq!(ra2.member_epoch, 3);
        assert_eq!(count(ra2.assignment.as_ref().unwrap()), 4);
        // c joins, then goes silent past the session timeout.
        g.heartbeat(join("c", &["t"]), &t, 10);
        let epoch = g.members["a"].member_epoch;
        g.heartbeat(beat("a", epoch, None), &t, 40_000);
        assert!(
            g.tick(&t, 10 + 44_999).is_empty(),
            "c is within its session"
        );
        assert_eq!(g.tick(&t, 10 + 45_000), vec!["c".to_string()]);
        assert!(!g.members.contains_key("c"));
    }

    #[test]
    fn regex_and_new_topics_bump_the_epoch() {
        let mut t = topics(&[("orders-eu", 2), ("orders-us", 2), ("other", 3)]);
        let mut g = ConsumerGroup::new("g", 45_000, "uniform");
        let mut req = join("a", &[]);
        req.subscribed_topic_names = None;
        req.subscribed_topic_regex = Some("orders-.*".into());
        let r = g.heartbeat(req, &t, 0);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 4);
        t.insert("orders-apac".into(), (Uuid::from_u128(99), 1));
        let r = g.heartbeat(beat("a", 1, None), &t, 1);
        assert_eq!(r.member_epoch, 2);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 5);
    }

    #[test]
    fn assignors_split_evenly() {
        let t = topics(&[("x", 7)]);
        let subs: BTreeMap<String, BTreeSet<String>> = ["a", "b", "c"]
            .iter()
            .map(|m| (m.to_string(), ["x".to_string()].into_iter().collect()))
            .collect();
        let r = range_assign(&subs, &t);
        let sizes: Vec<usize> = ["a", "b", "c"].iter().map(|m| count(&r[*m])).collect();
        assert_eq!(sizes, vec![3, 2, 2]);
        assert_eq!(r["a"][&Uuid::from_u128(1)], [0, 1, 2].into_iter().collect());
        let u = uniform_assign(&subs, &t, &HashMap::new());
        let mut sizes: Vec<usize> = u.values().map(count).collect();
        sizes.sort();
        assert_eq!(sizes, vec![2, 2, 3]);
        let all: BTreeSet<(Uuid, i32)> = u.values().flat_map(flatten).collect();
        assert_eq!(all.len(), 7);
        // Sticky: recomputing with the previous result moves nothing.
        assert_eq!(uniform_assign(&subs, &t, &u), u);
    }
}
