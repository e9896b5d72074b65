//! When a voter of the metadata quorum campaigns: fjord's elector, with Pre-Vote (the Raft
//! thesis §9.6; Kafka 4's KIP-996), instead of openraft's own election timer (`enable_elect`
//! is off; heartbeats stay openraft's).
//!
//! A voter that has heard from no leader for its election timeout (drawn anew from
//! [`Timing::min`] up to [`Timing::max`] for every wait) first asks every other voter for a
//! pre-vote: the term it would campaign in and its last log id. A voter grants it only if it
//! has not heard from a leader for `min` itself (a leader is always current to itself) and the
//! candidate's log is at least as up to date as its own; a pre-vote changes nothing (no term, no
//! vote recorded). With a majority, itself included, the voter starts a real election
//! (`raft.trigger().elect()`); otherwise it waits another timeout. So a voter cut off from the
//! others never raises its term, and when it is reachable again it cannot depose a leader the
//! others still follow. A failed election (split votes) is retried the same way, after a fresh
//! timeout.
//!
//! What counts as hearing from the leader: an AppendEntries or InstallSnapshot accepted from
//! the leader of this node's current vote (the RPCs reach openraft through [`Elector`], which
//! records them), or being the leader. As in Raft, granting a real vote also restarts this
//! node's own timer (it does not make it refuse pre-votes).
//!
//! openraft's leader lease (a voter refuses real votes for `election_timeout_max` after hearing
//! from the leader) is set a heartbeat shorter than `min` ([`Timing::raft_config`]): a voter
//! that granted a pre-vote also grants the vote that follows, unless the leader came back in
//! between.
//!
//! **Owns:** the election timer, the pre-vote exchange (both sides) and the record of leader
//! contact. **Must never:** change Raft state other than through openraft's API.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use openraft::ServerState;
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::types::{LogId, NodeId, Raft, TypeConfig};

/// When voters campaign.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How often the leader sends heartbeats (openraft's `heartbeat_interval`).
    pub heartbeat: Duration,
    /// The shortest election timeout, and how long a voter refuses pre-votes after hearing from
    /// its leader.
    pub min: Duration,
    /// Election timeouts are drawn below this.
    pub max: Duration,
}

impl Timing {
    /// `base` with openraft's side of this timing: its election timer off, heartbeats every
    /// `heartbeat`, and its leader lease (`election_timeout_max`) a heartbeat shorter than
    /// `min`. openraft's `election_timeout_min` then only bounds a vote RPC (two heartbeats).
    pub fn raft_config(&self, base: openraft::Config) -> openraft::Config {
        let heartbeat = self.heartbeat.as_millis() as u64;
        openraft::Config {
            heartbeat_interval: heartbeat,
            enable_heartbeat: true,
            enable_elect: false,
            election_timeout_min: 2 * heartbeat,
            election_timeout_max: (self.min.as_millis() as u64).saturating_sub(heartbeat),
            ..base
        }
    }
}

/// A voter asks another for a pre-vote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreVoteRequest {
    pub candidate: NodeId,
    /// The term it would campaign in: its current term + 1.
    pub term: u64,
    pub last_log_id: Option<LogId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreVoteResponse {
    pub granted: bool,
    /// The answering voter's current term and last log id (for the candidate's logs).
    pub term: u64,
    pub last_log_id: Option<LogId>,
}

/// How a candidate reaches the other voters (the CONTROLLER listener, or a test's network).
pub trait PreVoteNetwork: Send + Sync {
    fn pre_vote(
        &self,
        to: NodeId,
        req: PreVoteRequest,
        timeout: Duration,
    ) -> impl Future<Output = io::Result<PreVoteResponse>> + Send;
}

/// One voter's elections: its timer ([`Elector::run`]), its answers to pre-votes, and the
/// inbound Raft RPCs, which pass through it to note leader contact.
pub struct Elector {
    id: NodeId,
    raft: Raft,
    timing: Timing,
    clock: Mutex<Clock>,
    enabled: AtomicBool,
}

struct Clock {
    /// When this node last heard from its leader, or last was the leader (at first: when it
    /// started).
    heard: Instant,
    /// When this node last asked for pre-votes or granted a vote: its timer restarts then too.
    reset: Instant,
    /// Whether this node was the leader when its state was last looked at.
    leading: bool,
    /// splitmix64 state for the timeouts.
    rng: u64,
}

impl Elector {
    /// `seed` draws this node's timeouts (tests pass a fixed one).
    pub fn new(id: NodeId, raft: Raft, timing: Timing, seed: u64) -> Arc<Elector> {
        let now = Instant::now();
        Arc::new(Elector {
            id,
            raft,
            timing,
            clock: Mutex::new(Clock {
                heard: now,
                reset: now,
                leading: false,
                rng: seed,
            }),
            enabled: AtomicBool::new(true),
        })
    }

    /// Whether this node campaigns when its timeout passes (tests take the timer out;
    /// `raft.trigger().elect()` works either way). On by default.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// An AppendEntries from `from`, handed to openraft. Accepted from the leader of the vote it
    /// carries (this node's vote from then on), it is contact with the leader.
    pub async fn append_entries(
        &self,
        from: NodeId,
        req: AppendEntriesRequest<TypeConfig>,
    ) -> Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        let from_leader = req.vote.is_committed() && req.vote.leader_id().voted_for() == Some(from);
        let res = self.raft.append_entries(req).await;
        if from_leader
            && matches!(&res, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_)))
        {
            self.heard_from_leader();
        }
        res
    }

    /// A snapshot chunk from `from`, handed to openraft: contact with the leader as an
    /// AppendEntries is (a chunk can hold the connection longer than a heartbeat period).
    pub async fn install_snapshot(
        &self,
        from: NodeId,
        req: InstallSnapshotRequest<TypeConfig>,
    ) -> Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        let vote = req.vote;
        let res = self.raft.install_snapshot(req).await;
        let from_leader = vote.is_committed() && vote.leader_id().voted_for() == Some(from);
        if from_leader && matches!(&res, Ok(r) if r.vote == vote) {
            self.heard_from_leader();
        }
        res
    }

    /// A vote request, handed to openraft; a vote granted restarts this node's timer (Raft's
    /// rule: a follower that just voted lets that candidate finish).
    pub async fn vote(
        &self,
        req: VoteRequest<NodeId>,
    ) -> Result<VoteResponse<NodeId>, RaftError<NodeId>> {
        let res = self.raft.vote(req).await;
        if matches!(&res, Ok(r) if r.vote_granted) {
            self.clock.lock().reset = Instant::now();
        }
        res
    }

    /// Answer a pre-vote. Nothing changes here: no term, no vote.
    pub fn pre_vote(&self, req: &PreVoteRequest) -> PreVoteResponse {
        let (state, term) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            (m.state, m.current_term)
        };
        let last_log_id = self.raft.data_metrics().borrow().last_log;
        let leader_alive =
            state == ServerState::Leader || self.clock.lock().heard.elapsed() < self.timing.min;
        let log_ok = req.last_log_id >= last_log_id;
        let granted = !leader_alive && log_ok;
        tracing::debug!(
            candidate = req.candidate,
            term = req.term,
            granted,
            leader_alive,
            log_ok,
            "pre-vote asked"
        );
        PreVoteResponse {
            granted,
            term,
            last_log_id,
        }
    }

    /// The election timer, for as long as Raft runs: wait until no leader was heard (and no
    /// campaign or vote happened) for a fresh timeout, then campaign. Returns when Raft is shut
    /// down.
    pub async fn run<N: PreVoteNetwork>(self: Arc<Self>, network: N) {
        let mut metrics = self.raft.metrics();
        // Leader contact as of the last lost round that was logged at info: once per stretch
        // without a leader.
        let mut warned: Option<Instant> = None;
        loop {
            let timeout = self.draw();
            loop {
                let leading = metrics.borrow_and_update().state == ServerState::Leader;
                let due = {
                    let mut c = self.clock.lock();
                    // A leader is current to itself, up to the moment it steps down.
                    if leading || c.leading {
                        c.heard = Instant::now();
                    }
                    c.leading = leading;
                    c.heard.max(c.reset) + timeout
                };
                if Instant::now() >= due {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    changed = metrics.changed() => if changed.is_err() {
                        return;
                    },
                }
            }
            if !self.enabled.load(Ordering::Relaxed) {
                self.clock.lock().reset = Instant::now();
                continue;
            }
            match self.campaign(&network, &mut warned).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::debug!("the metadata quorum stopped ({e}): no more elections");
                    return;
                }
            }
        }
    }

    /// Ask the other voters for pre-votes, and start an election with a majority of them.
    async fn campaign<N: PreVoteNetwork>(
        &self,
        network: &N,
        warned: &mut Option<Instant>,
    ) -> Result<(), openraft::error::Fatal<NodeId>> {
        let started = Instant::now();
        let heard = {
            let mut c = self.clock.lock();
            c.reset = started;
            c.heard
        };
        let (state, term, joint) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            (
                m.state,
                m.current_term,
                m.membership_config.membership().get_joint_config().clone(),
            )
        };
        // Not a voter (not formed yet, or a learner): nothing to campaign for.
        if state == ServerState::Leader || !joint.iter().any(|c| c.contains(&self.id)) {
            return Ok(());
        }
        let req = PreVoteRequest {
            candidate: self.id,
            term: term + 1,
            last_log_id: self.raft.data_metrics().borrow().last_log,
        };
        let peers: BTreeSet<NodeId> = joint.iter().flatten().copied().collect();
        let mut granted = BTreeSet::from([self.id]);
        let mut refused = Vec::new();
        let mut asks: FuturesUnordered<_> = peers
            .iter()
            .filter(|&&to| to != self.id)
            .map(|&to| {
                let req = req.clone();
                async move { (to, network.pre_vote(to, req, self.timing.min).await) }
            })
            .collect();
        while !majority(&joint, &granted)
            && let Some((to, reply)) = asks.next().await
        {
            match reply {
                Ok(r) if r.granted => {
                    granted.insert(to);
                }
                Ok(r) => refused.push(format!("{to} (term {})", r.term)),
                Err(e) => refused.push(format!("{to} ({e})")),
            }
        }
        drop(asks);
        if !majority(&joint, &granted) {
            let msg = "no leader heard for an election timeout, but no majority grants a pre-vote (the others still hear a leader, or cannot be reached): not campaigning";
            if *warned == Some(heard) {
                tracing::debug!(term = term + 1, ?refused, "{msg}");
            } else {
                tracing::info!(term = term + 1, ?refused, "{msg}");
                *warned = Some(heard);
            }
            return Ok(());
        }
        // A leader heard, or a vote granted, while asking wins over the pre-votes.
        let current = {
            let c = self.clock.lock();
            c.heard <= started && c.reset <= started
        };
        if !current || self.raft.metrics().borrow().state == ServerState::Leader {
            return Ok(());
        }
        tracing::info!(
            term = term + 1,
            ?granted,
            "no leader heard for an election timeout and a majority granted a pre-vote: starting an election"
        );
        self.raft.trigger().elect().await
    }

    fn heard_from_leader(&self) {
        self.clock.lock().heard = Instant::now();
    }

    /// A fresh election timeout in `min..max`.
    fn draw(&self) -> Duration {
        let span = self.timing.max.saturating_sub(self.timing.min).as_millis() as u64;
        let mut c = self.clock.lock();
        c.rng = c.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = c.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        self.timing.min + Duration::from_millis(if span == 0 { 0 } else { z % span })
    }
}

/// Whether `granted` holds a majority of every configuration of a (possibly joint) membership.
fn majority(joint: &[BTreeSet<NodeId>], granted: &BTreeSet<NodeId>) -> bool {
    joint
        .iter()
        .all(|c| c.iter().filter(|id| granted.contains(id)).count() * 2 > c.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_of_every_configuration() {
        let c = |ids: &[NodeId]| ids.iter().copied().collect::<BTreeSet<_>>();
        assert!(majority(&[c(&[1, 2, 3])], &c(&[1, 2])));
        assert!(!majority(&[c(&[1, 2, 3])], &c(&[1])));
        assert!(!majority(&[c(&[1, 2, 3, 4])], &c(&[1, 2])));
        assert!(!majority(&[c(&[1, 2, 3]), c(&[3, 4, 5])], &c(&[1, 2, 3])));
        assert!(majority(&[c(&[1, 2, 3]), c(&[3, 4, 5])], &c(&[2, 3, 4])));
    }

    #[test]
    fn production_timing_gives_openraft_a_shorter_lease() {
        let t = Timing {
            heartbeat: Duration::from_millis(100),
            min: Duration::from_millis(500),
            max: Duration::from_millis(1000),
        };
        let c = t
            .raft_config(openraft::Config::default())
            .validate()
            .unwrap();
        assert!(!c.enable_elect && c.enable_heartbeat);
        assert_eq!(
            (
                c.heartbeat_interval,
                c.election_timeout_min,
                c.election_timeout_max
            ),
            (100, 200, 400)
        );
    }
}
