//! The classic group protocol's rebalance state machine, as Kafka's
//! GroupCoordinator runs it: Empty → PreparingRebalance → CompletingRebalance
//! → Stable (and Dead), generations, the MEMBER_ID_REQUIRED handshake (KIP-394),
//! static membership (KIP-345), session and rebalance timeouts.
//!
//! Pure and synchronous: every entry point takes `now_ms`, time moves only
//! through [`ClassicGroup::tick`], and a JoinGroup or SyncGroup that must wait
//! gets a oneshot receiver that a later call completes. No I/O, no clock, no
//! wire types beyond plain data — the coordinator and the API handlers wrap it.

use std::collections::{BTreeMap, HashMap};

use crate::error::KafkaError as E;
use bytes::Bytes;
use tokio::sync::oneshot;

pub use crate::error::{Code, NONE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka uses in DescribeGroups / ListGroups.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// How long the first join of an empty group stays open for more members after the last one
/// arrived, when `group.initial.rebalance.delay.ms` is shorter. Kafka never completes an empty
/// group's first join on the spot: its timer does, even at a delay of 0, and each member added
/// meanwhile re-arms it; so consumers started together land in one generation instead of the
/// first taking every partition and a rebalance taking them back a heartbeat (3 s) later.
///
/// How long "together" is depends on the client library, so each arrival re-arms the window
/// for its own client ([`initial_join_window_ms`]). fjord answers in microseconds where Kafka
/// takes milliseconds, which changes a race inside librdkafka: a consumer created right after
/// another often finds its connections still "suppressed" (its sparse-connect interval) and
/// looks up the coordinator or sends its first JoinGroup ~50 ms later. Its window covers that
/// with room to spare; a lone consumer pays it once (scripts/bench.sh measures it).
pub const INITIAL_JOIN_WINDOW_MS: i64 = 100;

/// The window for clients whose consumers started together send their JoinGroups within a few
/// milliseconds of each other (the Java client's do, measured: 3-6 ms apart on a quiet
/// machine). 50 ms rather than 20: with a cold JVM's threads competing for busy cores (a full
/// test run beside compilers) two consumers' joins once arrived more than 20 ms apart.
pub const SHORT_JOIN_WINDOW_MS: i64 = 50;

/// The first-join window for a member from this client library, as its ApiVersions request
/// names it (KIP-511): the long one for librdkafka and everything built on it, and for clients
/// that did not say; the short one for the others.
pub fn initial_join_window_ms(client_software: Option<&str>) -> i64 {
    match client_software {
        Some(name)
            if !name.is_empty()
                && !name.contains("rdkafka")
                && !name.contains("confluent-kafka") =>
        {
            SHORT_JOIN_WINDOW_MS
        }
        _ => INITIAL_JOIN_WINDOW_MS,
    }
}

/// Broker-side limits that shape a group's behaviour.
#[derive(Clone, Copy, Debug)]
pub struct GroupLimits {
    pub initial_rebalance_delay_ms: i64,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
}

impl Default for GroupLimits {
    fn default() -> Self {
        GroupLimits {
            initial_rebalance_delay_ms: 0,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
        }
    }
}

/// What JoinGroup answers.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinResult {
    pub error: Code,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    pub skip_assignment: bool,
    /// Filled for the leader only: (member id, instance id, metadata of the chosen protocol).
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    pub fn error(error: Code, member_id: &str) -> JoinResult {
        JoinResult {
            error,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            skip_assignment: false,
            members: Vec::new(),
        }
    }
}

/// What SyncGroup answers.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncResult {
    pub error: Code,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    fn error(error: Code) -> SyncResult {
        SyncResult {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// An answer now, or one that arrives when the rebalance moves on.
pub enum Reply<T> {
    Now(T),
    Later(oneshot::Receiver<T>),
}

/// A SyncGroup as the state machine needs it.
#[derive(Clone, Debug, Default)]
pub struct SyncRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation_id: i32,
    /// v5+: must match the group's, if given.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// The leader's assignment: member id → assignment.
    pub assignments: Vec<(String, Bytes)>,
}

/// A JoinGroup as the state machine needs it.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: a member without an id is first given one (MEMBER_ID_REQUIRED).
    pub require_known_member_id: bool,
    /// How long an empty group's first join waits after this member arrived
    /// ([`initial_join_window_ms`]).
    pub join_window_ms: i64,
}

pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub last_heartbeat_ms: i64,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
    /// Sent SyncGroup in the current generation (members that never do are removed).
    synced: bool,
    /// Order of first join; the leader is the earliest member when one must be chosen.
    join_order: u64,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub fn is_awaiting_join(&self) -> bool {
        self.join_waiter.is_some()
    }
}

pub struct ClassicGroup {
    pub group_id: String,
    pub state: GroupState,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, awaiting their JoinGroup: id → deadline.
    pub pending_members: HashMap<String, i64>,
    /// group.instance.id → member id.
    pub static_members: HashMap<String, String>,
    /// When the state last changed (DescribeGroups, offset expiry of empty groups).
    pub state_since_ms: i64,
    limits: GroupLimits,
    /// PreparingRebalance: when the join phase ends regardless of stragglers.
    rebalance_deadline_ms: Option<i64>,
    /// PreparingRebalance of a group that was empty: the join phase lasts at least until then.
    initial_delay_until_ms: Option<i64>,
    /// The first-join window of the member that arrived last.
    arrival_window_ms: i64,
    /// CompletingRebalance: members that have not synced by then are removed.
    sync_deadline_ms: Option<i64>,
    next_join_order: u64,
    /// Bumped on every change worth persisting (generation, membership).
    pub dirty: bool,
}

impl ClassicGroup {
    pub fn new(group_id: &str, limits: GroupLimits, now_ms: i64) -> ClassicGroup {
        ClassicGroup {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending_members: HashMap::new(),
            static_members: HashMap::new(),
            state_since_ms: now_ms,
            limits,
            rebalance_deadline_ms: None,
            initial_delay_until_ms: None,
            arrival_window_ms: INITIAL_JOIN_WINDOW_MS,
            sync_deadline_ms: None,
            next_join_order: 0,
            dirty: false,
        }
    }

    pub fn set_limits(&mut self, limits: GroupLimits) {
        self.limits = limits;
    }

    fn transition(&mut self, state: GroupState, now_ms: i64) {
        if self.state != state {
            self.state = state;
            self.state_since_ms = now_ms;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Protocols every member supports (the group's candidates).
    fn candidate_protocols(&self) -> Vec<String> {
        let mut iter = self.members.values();
        let Some(first) = iter.next() else {
            return Vec::new();
        };
        let mut c: Vec<String> = first.protocols.iter().map(|(n, _)| n.clone()).collect();
        for m in iter {
            c.retain(|p| m.protocols.iter().any(|(n, _)| n == p));
        }
        c
    }

    /// Kafka's vote: each member votes for its most preferred candidate; most votes wins
    /// (ties go to the candidate listed first by the earliest member).
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(String, usize)> = candidates.iter().map(|c| (c.clone(), 0)).collect();
        for m in self.members.values() {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(n))
                && let Some(v) = votes.iter_mut().find(|(c, _)| c == name)
            {
                v.1 += 1;
            }
        }
        let best = votes.iter().map(|(_, n)| *n).max()?;
        votes.into_iter().find(|(_, n)| *n == best).map(|(c, _)| c)
    }

    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            // An empty group takes any protocol type (its old one is forgotten on join).
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols.iter().any(|(n, _)| candidates.contains(n))
    }

    fn new_member_id(prefix: &str) -> String {
        format!("{prefix}-{}", uuid::Uuid::new_v4())
    }

    /// JoinGroup.
    pub fn join(&mut self, req: JoinRequest, now_ms: i64) -> Reply<JoinResult> {
        self.arrival_window_ms = req.join_window_ms;
        let fail = |e: Code| Reply::Now(JoinResult::error(e, &req.member_id));
        if self.state == GroupState::Dead {
            return fail(E::CoordinatorNotAvailable.code());
        }
        if req.session_timeout_ms < self.limits.min_session_timeout_ms
            || req.session_timeout_ms > self.limits.max_session_timeout_ms
        {
            return fail(E::InvalidSessionTimeout.code());
        }
        if !self.supports(&req.protocol_type, &req.protocols) {
            return fail(E::InconsistentGroupProtocol.code());
        }
        if req.member_id.is_empty() {
            return self.join_unknown_member(req, now_ms);
        }
        // A known id: a static member must still own it.
        if let Some(instance) = &req.group_instance_id
            && let Some(owner) = self.static_members.get(instance)
            && owner != &req.member_id
        {
            return fail(E::FencedInstanceId.code());
        }
        if self.pending_members.remove(&req.member_id).is_some() {
            return self.add_member_and_rebalance(req, now_ms);
        }
        if !self.members.contains_key(&req.member_id) {
            return fail(E::UnknownMemberId.code());
        }
        self.join_known_member(req, now_ms)
    }

    fn join_unknown_member(&mut self, mut req: JoinRequest, now_ms: i64) -> Reply<JoinResult> {
        if let Some(instance) = req.group_instance_id.clone() {
            let new_id = Self::new_member_id(&instance);
            if let Some(old_id) = self.static_members.get(&instance).cloned()
                && self.members.contains_key(&old_id)
            {
                return self.replace_static_member(&old_id, new_id, req, now_ms);
            }
            req.member_id = new_id;
            return self.add_member_and_rebalance(req, now_ms);
        }
        let new_id = Self::new_member_id(&req.client_id);
        if req.require_known_member_id {
            let deadline = now_ms + req.session_timeout_ms as i64;
            self.pending_members.insert(new_id.clone(), deadline);
            // It will be back with its member id in a round trip: hold the first join for it.
            self.extend_initial_delay(now_ms);
            return Reply::Now(JoinResult::error(E::MemberIdRequired.code(), &new_id));
        }
        req.member_id = new_id;
        self.add_member_and_rebalance(req, now_ms)
    }

    /// KIP-345: a static member rejoining with a new member id takes the old one's
    /// place. The old id is fenced; a Stable group with unchanged protocols keeps
    /// its assignment and generation (no rebalance).
    fn replace_static_member(
        &mut self,
        old_id: &str,
        new_id: String,
        req: JoinRequest,
        now_ms: i64,
    ) -> Reply<JoinResult> {
        let Some(mut member) = self.members.remove(old_id) else {
            return Reply::Now(JoinResult::error(E::UnknownMemberId.code(), ""));
        };
        if let Some(w) = member.join_waiter.take() {
            let _ = w.send(JoinResult::error(E::FencedInstanceId.code(), old_id));
        }
        if let Some(w) = member.sync_waiter.take() {
            let _ = w.send(SyncResult::error(E::FencedInstanceId.code()));
        }
        let protocols_changed = member.protocols != req.protocols;
        member.member_id = new_id.clone();
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.session_timeout_ms = req.session_timeout_ms;
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.protocols = req.protocols.clone();
        member.last_heartbeat_ms = now_ms;
        let was_leader = self.leader.as_deref() == Some(old_id);
        if was_leader {
            self.leader = Some(new_id.clone());
        }
        self.members.insert(new_id.clone(), member);
        if let Some(instance) = &req.group_instance_id {
            self.static_members.insert(instance.clone(), new_id.clone());
        }
        self.dirty = true;
        match self.state {
            GroupState::Stable if !protocols_changed => {
                // Same generation, same assignment. A rejoining leader is told to
                // skip assignment (KIP-345 / JoinGroup v9 skip_assignment).
                Reply::Now(self.current_join_result(&new_id, was_leader))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(&new_id) {
                    m.join_waiter = Some(tx);
                }
                self.prepare_rebalance(now_ms);
                self.maybe_complete_join(now_ms);
                Reply::Later(rx)
            }
            _ => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(&new_id) {
                    m.join_waiter = Some(tx);
                }
                self.maybe_complete_join(now_ms);
                Reply::Later(rx)
            }
        }
    }

    fn current_join_result(&self, member_id: &str, skip_assignment: bool) -> JoinResult {
        let leader = self.leader.clone().unwrap_or_default();
        let members = if member_id == leader {
            self.member_list()
        } else {
            Vec::new()
        };
        JoinResult {
            error: NONE,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader,
            member_id: member_id.to_string(),
            skip_assignment,
            members,
        }
    }

    fn member_list(&self) -> Vec<(String, Option<String>, Bytes)> {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let mut ms: Vec<&Member> = self.members.values().collect();
        ms.sort_by_key(|m| m.join_order);
        ms.into_iter()
            .map(|m| {
                (
                    m.member_id.clone(),
                    m.group_instance_id.clone(),
                    m.metadata_for(&protocol),
                )
            })
            .collect()
    }

    fn add_member_and_rebalance(&mut self, req: JoinRequest, now_ms: i64) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        let member = Member {
            member_id: req.member_id.clone(),
            group_instance_id: req.group_instance_id.clone(),
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            protocol_type: req.protocol_type.clone(),
            protocols: req.protocols,
            assignment: Bytes::new(),
            last_heartbeat_ms: now_ms,
            join_waiter: Some(tx),
            sync_waiter: None,
            synced: false,
            join_order: self.next_join_order,
        };
        self.next_join_order += 1;
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type);
        }
        // (an empty group adopts the first joiner's protocol type)
        if let Some(instance) = &req.group_instance_id {
            self.static_members
                .insert(instance.clone(), req.member_id.clone());
        }
        self.members.insert(req.member_id.clone(), member);
        self.dirty = true;
        match self.state {
            GroupState::PreparingRebalance => {
                self.extend_initial_delay(now_ms);
            }
            _ => self.prepare_rebalance(now_ms),
        }
        self.maybe_complete_join(now_ms);
        Reply::Later(rx)
    }

    fn join_known_member(&mut self, req: JoinRequest, now_ms: i64) -> Reply<JoinResult> {
        let id = req.member_id.clone();
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        let Some(m) = self.members.get_mut(&id) else {
            return Reply::Now(JoinResult::error(E::UnknownMemberId.code(), &id));
        };
        let changed = m.protocols != req.protocols;
        m.last_heartbeat_ms = now_ms;
        m.client_id = req.client_id;
        m.client_host = req.client_host;
        m.session_timeout_ms = req.session_timeout_ms;
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        m.protocols = req.protocols;
        match self.state {
            GroupState::CompletingRebalance | GroupState::Stable if !changed && !is_leader => {
                // Nothing changed for a follower: hand back the current generation.
                Reply::Now(self.current_join_result(&id, false))
            }
            GroupState::CompletingRebalance if !changed => {
                Reply::Now(self.current_join_result(&id, false))
            }
            _ => {
                let (tx, rx) = oneshot::channel();
                if let Some(old) = m.join_waiter.replace(tx) {
                    // A duplicate JoinGroup: the older request is superseded.
                    let _ = old.send(JoinResult::error(E::UnknownMemberId.code(), &id));
                }
                if self.state != GroupState::PreparingRebalance {
                    self.prepare_rebalance(now_ms);
                }
                self.maybe_complete_join(now_ms);
                Reply::Later(rx)
            }
        }
    }

    fn max_rebalance_timeout(&self) -> i64 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms as i64)
            .max()
            .unwrap_or(0)
    }

    fn prepare_rebalance(&mut self, now_ms: i64) {
        if self.state == GroupState::CompletingRebalance {
            // The leader's assignment will never come: release waiting syncs.
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                if let Some(w) = m.sync_waiter.take() {
                    let _ = w.send(SyncResult::error(E::RebalanceInProgress.code()));
                }
            }
        }
        let was_empty = self.state == GroupState::Empty;
        self.transition(GroupState::PreparingRebalance, now_ms);
        let deadline = now_ms + self.max_rebalance_timeout();
        self.rebalance_deadline_ms = Some(deadline);
        self.sync_deadline_ms = None;
        self.initial_delay_until_ms =
            was_empty.then(|| (now_ms + self.initial_delay_step()).min(deadline));
    }

    /// The first join of an empty group waits this long after the last member arrived.
    fn initial_delay_step(&self) -> i64 {
        self.limits
            .initial_rebalance_delay_ms
            .max(self.arrival_window_ms)
    }

    /// A member arrived during the first join of an empty group (Kafka's `newMemberAdded`):
    /// keep the join open for the next one, up to the rebalance timeout.
    fn extend_initial_delay(&mut self, now_ms: i64) {
        if let (Some(until), Some(deadline)) =
            (self.initial_delay_until_ms, self.rebalance_deadline_ms)
        {
            let extended = (now_ms + self.initial_delay_step()).min(deadline);
            self.initial_delay_until_ms = Some(until.max(extended));
        }
    }

    /// When a join now waiting will complete on its own (the first join of an empty group),
    /// so the caller can run [`Self::tick`] then rather than at its next periodic tick.
    pub fn join_deadline(&self) -> Option<i64> {
        if self.state != GroupState::PreparingRebalance {
            return None;
        }
        self.initial_delay_until_ms
    }

    fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.join_waiter.is_some())
    }

    fn maybe_complete_join(&mut self, now_ms: i64) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let delayed = self.initial_delay_until_ms.is_some_and(|t| now_ms < t);
        let timed_out = self.rebalance_deadline_ms.is_some_and(|t| now_ms >= t);
        if (self.all_members_joined() && !delayed) || timed_out {
            self.complete_join(now_ms);
        }
    }

    fn remove_member(&mut self, member_id: &str, error: Code) -> Option<Member> {
        let mut m = self.members.remove(member_id)?;
        if let Some(instance) = &m.group_instance_id
            && self.static_members.get(instance).map(String::as_str) == Some(member_id)
        {
            self.static_members.remove(instance);
        }
        if let Some(w) = m.join_waiter.take() {
            let _ = w.send(JoinResult::error(error, member_id));
        }
        if let Some(w) = m.sync_waiter.take() {
            let _ = w.send(SyncResult::error(error));
        }
        if self.leader.as_deref() == Some(member_id) {
            self.leader = None;
        }
        self.dirty = true;
        Some(m)
    }

    fn complete_join(&mut self, now_ms: i64) {
        // Members that did not rejoin in time are out.
        let stragglers: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in stragglers {
            self.remove_member(&id, E::UnknownMemberId.code());
        }
        self.pending_members.clear();
        self.rebalance_deadline_ms = None;
        self.initial_delay_until_ms = None;
        self.generation_id += 1;
        self.dirty = true;
        if self.members.is_empty() {
            // Kafka keeps the protocol type of an empty group (ListGroups shows it).
            self.protocol_name = None;
            self.leader = None;
            self.transition(GroupState::Empty, now_ms);
            return;
        }
        self.protocol_name = self.select_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self
                .members
                .values()
                .min_by_key(|m| m.join_order)
                .map(|m| m.member_id.clone());
        }
        self.transition(GroupState::CompletingRebalance, now_ms);
        self.sync_deadline_ms = Some(now_ms + self.max_rebalance_timeout());
        let leader = self.leader.clone().unwrap_or_default();
        let list = self.member_list();
        for m in self.members.values_mut() {
            m.synced = false;
            m.assignment = Bytes::new();
            m.last_heartbeat_ms = now_ms;
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(JoinResult {
                    error: NONE,
                    generation_id: self.generation_id,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    leader: leader.clone(),
                    member_id: m.member_id.clone(),
                    skip_assignment: false,
                    members: if m.member_id == leader {
                        list.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }

    /// Checks common to SyncGroup, Heartbeat and OffsetCommit for a member.
    fn check_member(
        &self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
    ) -> Result<(), Code> {
        if let Some(instance) = instance
            && let Some(owner) = self.static_members.get(instance)
            && owner != member_id
        {
            return Err(E::FencedInstanceId.code());
        }
        if !self.members.contains_key(member_id) {
            return Err(E::UnknownMemberId.code());
        }
        if generation_id != self.generation_id {
            return Err(E::IllegalGeneration.code());
        }
        Ok(())
    }

    /// SyncGroup.
    pub fn sync(&mut self, req: SyncRequest, now_ms: i64) -> Reply<SyncResult> {
        let SyncRequest {
            member_id,
            group_instance_id,
            generation_id,
            protocol_type,
            protocol_name,
            assignments,
        } = req;
        let member_id = member_id.as_str();
        let instance = group_instance_id.as_deref();
        let protocol_type = protocol_type.as_deref();
        let protocol_name = protocol_name.as_deref();
        let fail = |e| Reply::Now(SyncResult::error(e));
        match self.state {
            GroupState::Dead => return fail(E::CoordinatorNotAvailable.code()),
            GroupState::Empty => return fail(E::UnknownMemberId.code()),
            _ => {}
        }
        if let Err(e) = self.check_member(member_id, instance, generation_id) {
            return fail(e);
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            return fail(E::InconsistentGroupProtocol.code());
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_heartbeat_ms = now_ms;
        }
        match self.state {
            GroupState::PreparingRebalance => fail(E::RebalanceInProgress.code()),
            GroupState::Stable => {
                let m = &self.members[member_id];
                Reply::Now(SyncResult {
                    error: NONE,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment: m.assignment.clone(),
                })
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(member_id) {
                    m.synced = true;
                    if let Some(old) = m.sync_waiter.replace(tx) {
                        let _ = old.send(SyncResult::error(E::UnknownMemberId.code()));
                    }
                }
                if self.leader.as_deref() == Some(member_id) {
                    let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
                    for m in self.members.values_mut() {
                        m.assignment = given.remove(&m.member_id).unwrap_or_default();
                    }
                    self.transition(GroupState::Stable, now_ms);
                    self.sync_deadline_ms = None;
                    self.dirty = true;
                    for m in self.members.values_mut() {
                        if let Some(w) = m.sync_waiter.take() {
                            let _ = w.send(SyncResult {
                                error: NONE,
                                protocol_type: self.protocol_type.clone(),
                                protocol_name: self.protocol_name.clone(),
                                assignment: m.assignment.clone(),
                            });
                        }
                    }
                }
                Reply::Later(rx)
            }
            GroupState::Empty | GroupState::Dead => fail(E::UnknownMemberId.code()),
        }
    }

    /// Heartbeat.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> Code {
        match self.state {
            GroupState::Dead => return E::CoordinatorNotAvailable.code(),
            GroupState::Empty => return E::UnknownMemberId.code(),
            _ => {}
        }
        if let Err(e) = self.check_member(member_id, instance, generation_id) {
            // A member that rejoined mid-rebalance may heartbeat with the old generation:
            // tell it to rejoin rather than that it is illegal (as Kafka does).
            if e == E::IllegalGeneration.code() && self.state == GroupState::PreparingRebalance {
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_heartbeat_ms = now_ms;
                }
                return E::RebalanceInProgress.code();
            }
            return e;
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_heartbeat_ms = now_ms;
        }
        match self.state {
            GroupState::PreparingRebalance => E::RebalanceInProgress.code(),
            _ => NONE,
        }
    }

    /// LeaveGroup for one member (by id, or by instance id when the id is empty).
    pub fn leave(&mut self, member_id: &str, instance: Option<&str>, now_ms: i64) -> Code {
        if self.state == GroupState::Dead {
            return E::CoordinatorNotAvailable.code();
        }
        let id = if member_id.is_empty() {
            match instance.and_then(|i| self.static_members.get(i)) {
                Some(id) => id.clone(),
                None => return E::UnknownMemberId.code(),
            }
        } else {
            if let Some(i) = instance
                && let Some(owner) = self.static_members.get(i)
                && owner != member_id
            {
                return E::FencedInstanceId.code();
            }
            member_id.to_string()
        };
        if self.pending_members.remove(&id).is_some() {
            self.maybe_complete_join(now_ms);
            return NONE;
        }
        if self.remove_member(&id, E::UnknownMemberId.code()).is_none() {
            return E::UnknownMemberId.code();
        }
        self.after_membership_loss(now_ms);
        NONE
    }

    fn after_membership_loss(&mut self, now_ms: i64) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now_ms);
                self.maybe_complete_join(now_ms);
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now_ms),
            _ => {}
        }
    }

    /// Whether a commit from this member/generation may be stored now.
    pub fn check_commit(
        &self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
    ) -> Result<(), Code> {
        match self.state {
            GroupState::Dead => Err(E::CoordinatorNotAvailable.code()),
            // Standalone consumers (assign + commit) commit with generation -1.
            _ if generation_id < 0 && self.is_empty() => Ok(()),
            _ => {
                self.check_member(member_id, instance, generation_id)?;
                if self.state == GroupState::CompletingRebalance {
                    return Err(E::RebalanceInProgress.code());
                }
                Ok(())
            }
        }
    }

    /// Advance time: expire sessions and pending members, end join and sync phases.
    pub fn tick(&mut self, now_ms: i64) {
        let expired_pending: Vec<String> = self
            .pending_members
            .iter()
            .filter(|(_, deadline)| now_ms >= **deadline)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired_pending {
            self.pending_members.remove(id);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.join_waiter.is_none()
                    && m.sync_waiter.is_none()
                    && now_ms - m.last_heartbeat_ms >= m.session_timeout_ms as i64
            })
            .map(|m| m.member_id.clone())
            .collect();
        for id in &expired {
            tracing::info!(group = %self.group_id, member = %id, "member session expired");
            self.remove_member(id, E::UnknownMemberId.code());
        }
        if !expired.is_empty() {
            self.after_membership_loss(now_ms);
        } else if !expired_pending.is_empty() {
            self.maybe_complete_join(now_ms);
        }
        if self.state == GroupState::PreparingRebalance {
            self.maybe_complete_join(now_ms);
        }
        if self.state == GroupState::CompletingRebalance
            && self.sync_deadline_ms.is_some_and(|t| now_ms >= t)
        {
            // KIP-?/Kafka: members that never sent SyncGroup are removed, then rebalance.
            let unsynced: Vec<String> = self
                .members
                .values()
                .filter(|m| !m.synced)
                .map(|m| m.member_id.clone())
                .collect();
            for id in unsynced {
                self.remove_member(&id, E::RebalanceInProgress.code());
            }
            self.prepare_rebalance(now_ms);
            self.maybe_complete_join(now_ms);
        }
    }

    /// Remove every member and mark the group Dead (DeleteGroups).
    pub fn mark_dead(&mut self, now_ms: i64) {
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            self.remove_member(&id, E::CoordinatorNotAvailable.code());
        }
        self.transition(GroupState::Dead, now_ms);
    }

    /// Topics the members subscribe to, from their consumer-protocol metadata.
    pub fn subscribed_topics(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in self.members.values() {
            for (_, meta) in &m.protocols {
                for t in super::consumer_protocol::subscription_topics(meta) {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
        out
    }

    /// Restore what a group keeps across a restart (generation, protocol type).
    pub fn restore(
        group_id: &str,
        limits: GroupLimits,
        generation_id: i32,
        protocol_type: Option<String>,
        now_ms: i64,
    ) -> ClassicGroup {
        let mut g = ClassicGroup::new(group_id, limits, now_ms);
        g.generation_id = generation_id;
        g.protocol_type = protocol_type;
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: i32 = 10_000;
    const REBALANCE: i32 = 30_000;

    fn limits(delay: i64) -> GroupLimits {
        GroupLimits {
            initial_rebalance_delay_ms: delay,
            ..GroupLimits::default()
        }
    }

    fn join_req(member_id: &str, instance: Option<&str>) -> JoinRequest {
        JoinRequest {
            member_id: member_id.to_string(),
            group_instance_id: instance.map(str::to_string),
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
            require_known_member_id: true,
            join_window_ms: INITIAL_JOIN_WINDOW_MS,
        }
    }

    fn now<T>(r: Reply<T>) -> T {
        match r {
            Reply::Now(t) => t,
            Reply::Later(_) => panic!("expected an immediate reply"),
        }
    }

    fn later<T>(r: Reply<T>) -> oneshot::Receiver<T> {
        match r {
            Reply::Later(rx) => rx,
            Reply::Now(_) => panic!("expected a parked reply"),
        }
    }

    fn ready<T>(rx: &mut oneshot::Receiver<T>) -> T {
        rx.try_recv().expect("reply should be ready")
    }

    fn parked<T>(rx: &mut oneshot::Receiver<T>) {
        assert!(
            matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "reply should still be parked"
        );
    }

    fn sync_req(member: &str, generation: i32, assignments: Vec<(String, Bytes)>) -> SyncRequest {
        SyncRequest {
            member_id: member.to_string(),
            generation_id: generation,
            assignments,
            ..Default::default()
        }
    }

    fn assignment_of(i: usize) -> Bytes {
        Bytes::from(format!("assignment-{i}"))
    }

    /// A Stable group of `n` members that joined at t=0 (generation 1, first is leader).
    fn stable_group(n: usize) -> (ClassicGroup, Vec<String>) {
        let mut g = ClassicGroup::new("g", limits(0), 0);
        // Everyone gets an id first; pending members hold the rebalance open.
        let ids: Vec<String> = (0..n)
            .map(|_| now(g.join(join_req("", None), 0)).member_id)
            .collect();
        let mut joins: Vec<_> = ids
            .iter()
            .map(|id| later(g.join(join_req(id, None), 0)))
            .collect();
        // The first join of an empty group completes from its timer, even at delay 0.
        assert_eq!(g.join_deadline(), Some(INITIAL_JOIN_WINDOW_MS));
        g.tick(INITIAL_JOIN_WINDOW_MS - 1);
        joins.iter_mut().for_each(parked);
        g.tick(INITIAL_JOIN_WINDOW_MS);
        for (i, j) in joins.iter_mut().enumerate() {
            let r = ready(j);
            assert_eq!((r.error, r.generation_id), (NONE, 1));
            assert_eq!(r.leader, ids[0]);
            assert_eq!(r.members.len(), if i == 0 { n } else { 0 });
        }
        let mut syncs: Vec<_> = ids[1..]
            .iter()
            .map(|id| later(g.sync(sync_req(id, 1, vec![]), 0)))
            .collect();
        for s in &mut syncs {
            parked(s);
        }
        let all = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), assignment_of(i)))
            .collect();
        let mut leader = later(g.sync(sync_req(&ids[0], 1, all), 0));
        assert_eq!(ready(&mut leader).assignment, assignment_of(0));
        for (i, s) in syncs.iter_mut().enumerate() {
            let r = ready(s);
            assert_eq!(
                (r.error, r.assignment.clone()),
                (NONE, assignment_of(i + 1))
            );
        }
        assert_eq!(g.state, GroupState::Stable);
        (g, ids)
    }

    #[test]
    fn lone_member_handshake_join_sync() {
        let mut g = ClassicGroup::new("g", limits(0), 0);
        let first = now(g.join(join_req("", None), 0));
        assert_eq!(first.error, E::MemberIdRequired.code());
        let id = first.member_id;
        let mut join = later(g.join(join_req(&id, None), 0));
        parked(&mut join);
        g.tick(INITIAL_JOIN_WINDOW_MS);
        let r = ready(&mut join);
        assert_eq!((r.error, r.generation_id), (NONE, 1));
        assert_eq!(r.leader, id);
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
        assert_eq!(g.state, GroupState::CompletingRebalance);
        let mut sync = later(g.sync(sync_req(&id, 1, vec![(id.clone(), assignment_of(0))]), 25));
        assert_eq!(ready(&mut sync).assignment, assignment_of(0));
        assert_eq!(g.state, GroupState::Stable);
        assert_eq!(g.heartbeat(&id, None, 1, 10), NONE);
        assert_eq!(g.heartbeat(&id, None, 0, 10), E::IllegalGeneration.code());
        assert_eq!(
            g.heartbeat("nobody", None, 1, 10),
            E::UnknownMemberId.code()
        );
    }

    #[test]
    fn three_members_form_one_generation() {
        let (g, ids) = stable_group(3);
        assert_eq!(g.generation_id, 1);
        assert_eq!(g.members.len(), 3);
        assert_eq!(g.leader.as_deref(), Some(ids[0].as_str()));
    }

    #[test]
    fn a_new_member_triggers_a_rebalance_everyone_rejoins() {
        let (mut g, ids) = stable_group(2);
        let c = now(g.join(join_req("", None), 100)).member_id;
        let mut c_join = later(g.join(join_req(&c, None), 100));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        // Existing members learn of it through their heartbeat.
        assert_eq!(
            g.heartbeat(&ids[0], None, 1, 200),
            E::RebalanceInProgress.code()
        );
        let mut a = later(g.join(join_req(&ids[0], None), 300));
        parked(&mut c_join);
        let mut b = later(g.join(join_req(&ids[1], None), 400));
        for rx in [&mut a, &mut b, &mut c_join] {
            let r = ready(rx);
            assert_eq!((r.error, r.generation_id), (NONE, 2));
        }
        assert_eq!(g.state, GroupState::CompletingRebalance);
    }

    #[test]
    fn session_timeout_evicts_a_silent_member() {
        let (mut g, ids) = stable_group(2);
        // A keeps heartbeating, B goes silent.
        for t in (3_000..=9_000).step_by(3_000) {
            assert_eq!(g.heartbeat(&ids[0], None, 1, t), NONE);
            g.tick(t);
        }
        assert_eq!(g.members.len(), 2, "B is within its session timeout");
        g.tick(SESSION as i64);
        assert_eq!(g.members.len(), 1, "B expired after session.timeout.ms");
        assert!(!g.members.contains_key(&ids[1]));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(
            g.heartbeat(&ids[0], None, 1, 10_100),
            E::RebalanceInProgress.code()
        );
        let mut a = later(g.join(join_req(&ids[0], None), 10_200));
        let r = ready(&mut a);
        assert_eq!((r.generation_id, r.leader.as_str()), (2, ids[0].as_str()));
        assert_eq!(
            g.heartbeat(&ids[1], None, 1, 10_300),
            E::UnknownMemberId.code()
        );
    }

    #[test]
    fn rebalance_timeout_removes_members_that_do_not_rejoin() {
        let (mut g, ids) = stable_group(2);
        let c = now(g.join(join_req("", None), 1_000)).member_id;
        let mut c_join = later(g.join(join_req(&c, None), 1_000));
        let mut a = later(g.join(join_req(&ids[0], None), 2_000));
        // B keeps heartbeating (and is told to rejoin) but never rejoins; the
        // join phase waits for it...
        for t in (3_000..1_000 + REBALANCE as i64).step_by(3_000) {
            assert_eq!(
                g.heartbeat(&ids[1], None, 1, t),
                E::RebalanceInProgress.code()
            );
            g.tick(t);
        }
        g.tick(1_000 + REBALANCE as i64 - 1);
        parked(&mut a);
        // ...until the rebalance timeout.
        g.tick(1_000 + REBALANCE as i64);
        for rx in [&mut a, &mut c_join] {
            let r = ready(rx);
            assert_eq!((r.error, r.generation_id), (NONE, 2));
        }
        assert_eq!(g.members.len(), 2);
        assert!(!g.members.contains_key(&ids[1]));
    }

    #[test]
    fn leader_leaving_mid_sync_restarts_the_rebalance() {
        let mut g = ClassicGroup::new("g", limits(0), 0);
        let ids: Vec<String> = (0..2)
            .map(|_| now(g.join(join_req("", None), 0)).member_id)
            .collect();
        let mut joins: Vec<_> = ids
            .iter()
            .map(|id| later(g.join(join_req(id, None), 0)))
            .collect();
        g.tick(INITIAL_JOIN_WINDOW_MS);
        for j in &mut joins {
            ready(j);
        }
        let mut b_sync = later(g.sync(sync_req(&ids[1], 1, vec![]), 30));
        parked(&mut b_sync);
        assert_eq!(g.leave(&ids[0], None, 40), NONE);
        assert_eq!(ready(&mut b_sync).error, E::RebalanceInProgress.code());
        assert_eq!(g.state, GroupState::PreparingRebalance);
        // Not a group's first join: it completes as soon as everyone is back.
        let mut b = later(g.join(join_req(&ids[1], None), 50));
        let r = ready(&mut b);
        assert_eq!((r.generation_id, r.leader.as_str()), (2, ids[1].as_str()));
        assert_eq!(r.members.len(), 1);
    }

    #[test]
    fn last_member_leaving_empties_the_group() {
        let (mut g, ids) = stable_group(1);
        assert_eq!(g.leave(&ids[0], None, 50), NONE);
        assert_eq!(g.state, GroupState::Empty);
        assert_eq!(g.generation_id, 2);
        assert_eq!(g.leave(&ids[0], None, 60), E::UnknownMemberId.code());
    }

    #[test]
    fn static_member_replacing_itself_keeps_the_generation() {
        let mut g = ClassicGroup::new("g", limits(0), 0);
        let mut s1 = later(g.join(join_req("", Some("i1")), 0));
        g.tick(INITIAL_JOIN_WINDOW_MS);
        let r = ready(&mut s1);
        let old = r.member_id.clone();
        assert!(
            old.starts_with("i1-"),
            "static members skip MEMBER_ID_REQUIRED"
        );
        let mut sync = later(g.sync(sync_req(&old, 1, vec![(old.clone(), assignment_of(7))]), 0));
        ready(&mut sync);
        assert_eq!(g.state, GroupState::Stable);

        // The process restarts: same instance id, no member id.
        let r = now(g.join(join_req("", Some("i1")), 5_000));
        assert_eq!(r.error, NONE);
        assert_ne!(r.member_id, old);
        assert_eq!(r.generation_id, 1, "no rebalance");
        assert!(r.skip_assignment, "the leader keeps the assignment it made");
        assert_eq!(g.state, GroupState::Stable);
        let new = r.member_id;
        let s = now(g.sync(
            SyncRequest {
                group_instance_id: Some("i1".into()),
                ..sync_req(&new, 1, vec![])
            },
            5_001,
        ));
        assert_eq!(s.assignment, assignment_of(7));
        // The old incarnation is fenced.
        assert_eq!(
            g.heartbeat(&old, Some("i1"), 1, 5_002),
            E::FencedInstanceId.code()
        );
        assert_eq!(g.heartbeat(&new, Some("i1"), 1, 5_002), NONE);
    }

    #[test]
    fn initial_rebalance_delay_holds_the_first_join() {
        let mut g = ClassicGroup::new("g", limits(3_000), 0);
        let id = now(g.join(join_req("", None), 0)).member_id;
        let mut j = later(g.join(join_req(&id, None), 0));
        g.tick(2_999);
        parked(&mut j);
        g.tick(3_000);
        assert_eq!(ready(&mut j).generation_id, 1);
    }

    #[test]
    fn first_join_collects_members_that_arrive_together() {
        const W: i64 = INITIAL_JOIN_WINDOW_MS;
        let mut g = ClassicGroup::new("g", limits(0), 0);
        // Static members skip MEMBER_ID_REQUIRED: without the window the first would be a
        // generation of its own at once.
        let mut a = later(g.join(join_req("", Some("a")), 0));
        assert_eq!(g.join_deadline(), Some(W));
        let mut b = later(g.join(join_req("", Some("b")), W - 5));
        assert_eq!(
            g.join_deadline(),
            Some(2 * W - 5),
            "each arrival re-arms the window"
        );
        // A dynamic member's first JoinGroup (MEMBER_ID_REQUIRED) holds it open too.
        let c_id = now(g.join(join_req("", None), 2 * W - 10)).member_id;
        assert_eq!(g.join_deadline(), Some(3 * W - 10));
        let mut c = later(g.join(join_req(&c_id, None), 2 * W));
        g.tick(3 * W - 1);
        parked(&mut a);
        parked(&mut b);
        parked(&mut c);
        g.tick(3 * W);
        let results = [ready(&mut a), ready(&mut b), ready(&mut c)];
        for r in &results {
            assert_eq!((r.error, r.generation_id), (NONE, 1));
        }
        assert_eq!(results[0].members.len(), 3, "the leader sees all three");
        assert_eq!(g.join_deadline(), None);
    }

    #[test]
    fn a_member_after_the_window_rebalances_a_formed_group() {
        let mut g = ClassicGroup::new("g", limits(0), 0);
        let mut a = later(g.join(join_req("", Some("a")), 0));
        g.tick(INITIAL_JOIN_WINDOW_MS);
        let a_id = ready(&mut a).member_id;
        let mut sync = later(g.sync(
            sync_req(&a_id, 1, vec![(a_id.clone(), assignment_of(0))]),
            30,
        ));
        ready(&mut sync);
        let mut b = later(g.join(join_req("", Some("b")), 500));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(
            g.join_deadline(),
            None,
            "only an empty group's first join waits"
        );
        assert_eq!(
            g.heartbeat(&a_id, Some("a"), 1, 600),
            E::RebalanceInProgress.code()
        );
        let mut a2 = later(g.join(join_req(&a_id, Some("a")), 600));
        assert_eq!(ready(&mut a2).generation_id, 2);
        assert_eq!(ready(&mut b).generation_id, 2);
    }

    #[test]
    fn the_window_follows_the_client_library() {
        assert_eq!(
            initial_join_window_ms(Some("apache-kafka-java")),
            SHORT_JOIN_WINDOW_MS
        );
        assert_eq!(
            initial_join_window_ms(Some("kafka-python")),
            SHORT_JOIN_WINDOW_MS
        );
        assert_eq!(
            initial_join_window_ms(Some("librdkafka")),
            INITIAL_JOIN_WINDOW_MS
        );
        assert_eq!(
            initial_join_window_ms(Some("confluent-kafka-python")),
            INITIAL_JOIN_WINDOW_MS
        );
        assert_eq!(
            initial_join_window_ms(None),
            INITIAL_JOIN_WINDOW_MS,
            "did not say"
        );
        // A Java consumer alone waits the short window; a librdkafka one arriving later
        // re-arms it with its own.
        let mut g = ClassicGroup::new("g", limits(0), 0);
        let java = JoinRequest {
            join_window_ms: SHORT_JOIN_WINDOW_MS,
            ..join_req("", Some("j"))
        };
        let mut a = later(g.join(java, 0));
        assert_eq!(g.join_deadline(), Some(SHORT_JOIN_WINDOW_MS));
        let mut b = later(g.join(join_req("", Some("r")), 10));
        assert_eq!(g.join_deadline(), Some(10 + INITIAL_JOIN_WINDOW_MS));
        g.tick(10 + INITIAL_JOIN_WINDOW_MS);
        assert_eq!(ready(&mut a).generation_id, 1);
        assert_eq!(ready(&mut b).generation_id, 1);
    }

    #[test]
    fn a_longer_initial_delay_still_governs() {
        let mut g = ClassicGroup::new("g", limits(3_000), 0);
        let mut a = later(g.join(join_req("", Some("a")), 0));
        assert_eq!(g.join_deadline(), Some(3_000));
        let mut b = later(g.join(join_req("", Some("b")), 2_000));
        assert_eq!(g.join_deadline(), Some(5_000));
        g.tick(4_999);
        parked(&mut a);
        g.tick(5_000);
        assert_eq!(ready(&mut a).generation_id, 1);
        assert_eq!(ready(&mut b).generation_id, 1);
    }

    #[test]
    fn pending_member_that_never_joins_expires() {
        let (mut g, ids) = stable_group(1);
        let ghost = now(g.join(join_req("", None), 100)).member_id;
        assert!(g.pending_members.contains_key(&ghost));
        assert_eq!(g.heartbeat(&ids[0], None, 1, 5_000), NONE);
        g.tick(100 + SESSION as i64);
        assert!(g.pending_members.is_empty());
        assert_eq!(
            g.state,
            GroupState::Stable,
            "a member id alone does not rebalance"
        );
        let _ = ids;
    }

    #[test]
    fn commit_rules() {
        let (mut g, ids) = stable_group(1);
        assert_eq!(g.check_commit(&ids[0], None, 1), Ok(()));
        assert_eq!(
            g.check_commit(&ids[0], None, 0),
            Err(E::IllegalGeneration.code())
        );
        assert_eq!(g.check_commit("", None, -1), Err(E::UnknownMemberId.code()));
        let empty = ClassicGroup::new("e", limits(0), 0);
        assert_eq!(
            empty.check_commit("", None, -1),
            Ok(()),
            "standalone commits"
        );
        // During CompletingRebalance commits wait for the assignment.
        let c = now(g.join(join_req("", None), 10)).member_id;
        let _cj = later(g.join(join_req(&c, None), 10));
        let _aj = later(g.join(join_req(&ids[0], None), 10));
        assert_eq!(g.state, GroupState::CompletingRebalance);
        assert_eq!(
            g.check_commit(&ids[0], None, 2),
            Err(E::RebalanceInProgress.code())
        );
    }

    #[test]
    fn inconsistent_protocols_and_bad_timeouts_are_refused() {
        let (mut g, _) = stable_group(1);
        let mut other = join_req("", None);
        other.protocols = vec![("roundrobin".into(), Bytes::new())];
        assert_eq!(
            now(g.join(other, 0)).error,
            E::InconsistentGroupProtocol.code()
        );
        let mut short = join_req("", None);
        short.session_timeout_ms = 100;
        assert_eq!(now(g.join(short, 0)).error, E::InvalidSessionTimeout.code());
    }

    #[test]
    fn unsynced_members_are_removed_after_the_sync_deadline() {
        let mut g = ClassicGroup::new("g", limits(0), 0);
        let ids: Vec<String> = (0..2)
            .map(|_| now(g.join(join_req("", None), 0)).member_id)
            .collect();
        let mut joins: Vec<_> = ids
            .iter()
            .map(|id| later(g.join(join_req(id, None), 0)))
            .collect();
        g.tick(INITIAL_JOIN_WINDOW_MS);
        for j in &mut joins {
            ready(j);
        }
        // Only the follower syncs; the leader never does.
        let mut b_sync = later(g.sync(sync_req(&ids[1], 1, vec![]), 30));
        g.tick(INITIAL_JOIN_WINDOW_MS + REBALANCE as i64);
        assert_eq!(ready(&mut b_sync).error, E::RebalanceInProgress.code());
        assert!(!g.members.contains_key(&ids[0]));
        assert_eq!(g.state, GroupState::PreparingRebalance);
    }
}
