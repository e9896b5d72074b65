//! Share-partition state in a cluster (design share-groups.md §14.1 step 5): the
//! [`RemotePersister`] a share-partition leader writes and reads its state through. Each key
//! lives at its share coordinator, the leader of the `__share_group_state` partition the key
//! hashes to (`share::coordinator`), reached with Initialize/Read/Write/DeleteShareGroupState
//! on its inter-broker listener — this node's own included, so every state goes through the
//! coordinator's fencing and its ISR wait (`api::coordinator_writes`) the same way.
//!
//! **Owns:** finding a key's coordinator in the image (creating `__share_group_state` through
//! the controller on the first write, as FindCoordinator does), one connection per node for
//! these RPCs, retrying what a moving coordinator answers (NOT_COORDINATOR,
//! COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, timeouts, an image that does not
//! know the topic yet) until [`DEADLINE`], and Kafka's "initialize before the first write"
//! (a write to a key without state is INVALID_REQUEST at the coordinator).
//!
//! **Must never:** decide what to write (that is `share::manager`), or hide a fence: a newer
//! leader epoch or state epoch at the coordinator is [`PersistError::Fenced`], which makes the
//! manager drop its copy.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{
    ApiKey, DeleteShareGroupStateRequest, DeleteShareGroupStateResponse,
    InitializeShareGroupStateRequest, InitializeShareGroupStateResponse,
    ReadShareGroupStateRequest, ReadShareGroupStateResponse, WriteShareGroupStateRequest,
    WriteShareGroupStateResponse, delete_share_group_state_request,
    initialize_share_group_state_request, read_share_group_state_request,
    write_share_group_state_request,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::Broker;
use super::coordinators::SHARE_KEY;
use crate::cluster::peer::Peer;
use crate::share::coordinator::coordinator_key;
use crate::share::persist::{PersistError, PersistFuture, SHARE_STATE_TOPIC, StateWrite};
use crate::share::records::{PersistedRun, PersistedState, StateKey, state_from_id};
use crate::share::{RecordState, StatePersister};

/// How long one state operation keeps trying a coordinator that moves or loads.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// One RPC's own limit.
pub(super) const RPC_TIMEOUT: Duration = Duration::from_secs(3);
/// Between attempts at a coordinator that is not ready.
pub(super) const BACKOFF: Duration = Duration::from_millis(50);

/// The share-state persister of a cluster node.
pub struct RemotePersister<'a> {
    pub broker: &'a Broker,
}

impl StatePersister for RemotePersister<'_> {
    /// Every record goes to its own coordinator at once; the write fails if any does (the
    /// others may have landed: each record is a whole state, so writing it again is harmless).
    fn write<'a>(&'a self, records: &'a [StateWrite], _now_ms: i64) -> PersistFuture<'a, ()> {
        Box::pin(async move {
            let results = futures::future::join_all(records.iter().map(|(key, state)| async {
                match state {
                    Some(s) => self.broker.write_share_state(key, s).await,
                    None => self.broker.delete_share_state_of(key).await,
                }
            }))
            .await;
            let mut fenced = Vec::new();
            let mut failed = None;
            for r in results {
                match r {
                    Ok(()) => {}
                    Err(PersistError::Fenced(keys)) => fenced.extend(keys),
                    Err(e) => failed = Some(e),
                }
            }
            if !fenced.is_empty() {
                return Err(PersistError::Fenced(fenced));
            }
            failed.map_or(Ok(()), Err)
        })
    }

    fn load_one<'a>(
        &'a self,
        key: &'a StateKey,
        leader_epoch: i32,
    ) -> PersistFuture<'a, Option<PersistedState>> {
        Box::pin(self.broker.read_share_state(key, leader_epoch))
    }

    /// A cluster node replays nothing at start-up: each key is read when first used.
    fn load(&self) -> std::collections::HashMap<StateKey, PersistedState> {
        Default::default()
    }
}

/// What one attempt at a coordinator came to.
enum Attempt<T> {
    Done(T),
    /// The coordinator moved, is loading or did not answer: try again (the image may name
    /// another node by then).
    Again(String),
    Failed(PersistError),
}

/// The codes a coordinator answers while it moves, loads or catches up.
pub(super) fn transient(code: i16) -> bool {
    [
        E::NotCoordinator,
        E::CoordinatorLoadInProgress,
        E::CoordinatorNotAvailable,
        E::RequestTimedOut,
        E::UnknownTopicOrPartition,
        E::NotEnoughReplicas,
        E::NotEnoughReplicasAfterAppend,
    ]
    .iter()
    .any(|e| e.code() == code)
}

/// A coordinator's answer for one key as an [`Attempt`]: fences are final, transient codes
/// are tried again, anything else fails.
fn classify<T>(key: &StateKey, code: i16, message: Option<&StrBytes>, done: T) -> Attempt<T> {
    if code == 0 {
        return Attempt::Done(done);
    }
    if code == E::FencedLeaderEpoch.code() || code == E::FencedStateEpoch.code() {
        return Attempt::Failed(PersistError::Fenced(vec![key.clone()]));
    }
    let what = format!(
        "error {code}{}",
        message.map(|m| format!(" ({m})")).unwrap_or_default()
    );
    if transient(code) {
        Attempt::Again(what)
    } else {
        Attempt::Failed(PersistError::Failed(what))
    }
}

impl Broker {
    /// A connection to node `id` for the share-state RPCs.
    pub(super) fn share_peer(&self, id: i32) -> Option<Arc<Peer>> {
        self.peer(id, &mut self.share_peers.lock())
    }

    /// The node coordinating `key` now: `Ok(None)` when `__share_group_state` does not exist
    /// (and `create` is false: there is no state anywhere); `Err` while it has no leader.
    pub(super) async fn share_state_node(
        &self,
        key: &StateKey,
        create: bool,
    ) -> Result<Option<i32>, String> {
        let partition = self.share_state_partition(key);
        match self.partition_leader(SHARE_STATE_TOPIC, partition) {
            Some(leader) if leader >= 0 => Ok(Some(leader)),
            Some(_) => Err(format!("{SHARE_STATE_TOPIC}-{partition} has no leader")),
            None if !create => Ok(None),
            None => {
                // Created through the controller, as the first FindCoordinator of type 2 does.
                let listener = self
                    .cluster
                    .as_ref()
                    .map(|c| c.config.inter_broker_listener.clone())
                    .unwrap_or_default();
                let found = self
                    .find_coordinator(SHARE_KEY, &coordinator_key(key), &listener)
                    .await;
                match found {
                    Ok(e) => Ok(Some(e.id)),
                    Err(code) => Err(format!("{SHARE_STATE_TOPIC} being created (error {code})")),
                }
            }
        }
    }

    /// Run `attempt` against `key`'s coordinator until it is done, fails, or [`DEADLINE`]
    /// passes. `Ok(None)` when there is no coordinator because there is no state topic (only
    /// when `create` is false).
    async fn at_share_coordinator<T, F, Fut>(
        &self,
        key: &StateKey,
        create: bool,
        mut attempt: F,
    ) -> Result<Option<T>, PersistError>
    where
        F: FnMut(Arc<Peer>) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let started = Instant::now();
        let deadline = started + DEADLINE;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let why = match self.share_state_node(key, create).await {
                Ok(None) => return Ok(None),
                Ok(Some(node)) => match self.share_peer(node) {
                    None => format!("node {node} has no address"),
                    Some(peer) => match attempt(peer).await {
                        Attempt::Done(v) => {
                            tracing::debug!(key = %coordinator_key(key), node, attempts, micros = started.elapsed().as_micros() as u64, "share state call done");
                            return Ok(Some(v));
                        }
                        Attempt::Failed(e) => return Err(e),
                        Attempt::Again(why) => format!("node {node}: {why}"),
                    },
                },
                Err(why) => why,
            };
            if Instant::now() + BACKOFF >= deadline {
                return Err(PersistError::Failed(format!(
                    "share coordinator of {}: {why}",
                    coordinator_key(key)
                )));
            }
            tokio::time::sleep(BACKOFF).await;
        }
    }

    /// WriteShareGroupState v1 of `state` (the whole window); a key the coordinator has no
    /// state for is initialized first with the state's epoch and start offset.
    async fn write_share_state(
        &self,
        key: &StateKey,
        state: &PersistedState,
    ) -> Result<(), PersistError> {
        use write_share_group_state_request::{PartitionData, StateBatch, WriteStateData};
        let req = WriteShareGroupStateRequest::default()
            .with_group_id(key.group.clone().into())
            .with_topics(vec![
                WriteStateData::default()
                    .with_topic_id(key.topic_id)
                    .with_partitions(vec![
                        PartitionData::default()
                            .with_partition(key.partition)
                            .with_state_epoch(state.state_epoch)
                            .with_leader_epoch(state.leader_epoch)
                            .with_start_offset(state.start_offset)
                            .with_delivery_complete_count(state.delivery_complete_count)
                            .with_state_batches(
                                state
                                    .runs
                                    .iter()
                                    .map(|r| {
                                        StateBatch::default()
                                            .with_first_offset(r.first_offset)
                                            .with_last_offset(r.last_offset)
                                            .with_delivery_state(r.state.id())
                                            .with_delivery_count(r.delivery_count)
                                    })
                                    .collect(),
                            ),
                    ]),
            ]);
        // Initialized at most once, by whichever attempt first finds no state (an earlier
        // attempt may have met a coordinator still loading).
        let initialized = std::sync::atomic::AtomicBool::new(false);
        self.at_share_coordinator(key, true, |peer| {
            let req = &req;
            let initialized = &initialized;
            async move {
                let p = match ask(
                    &peer,
                    ApiKey::WriteShareGroupState,
                    1,
                    req,
                    |r: WriteShareGroupStateResponse| {
                        r.results.into_iter().next()?.partitions.into_iter().next()
                    },
                )
                .await
                {
                    Ok(p) => p,
                    Err(a) => return a,
                };
                if p.error_code == E::InvalidRequest.code()
                    && !initialized.swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    // No state at the coordinator yet: initialize, then write again.
                    return match initialize(&peer, key, state).await {
                        Attempt::Done(()) => Attempt::Again("initialized".into()),
                        other => other,
                    };
                }
                classify(key, p.error_code, p.error_message.as_ref(), ())
            }
        })
        .await
        .map(|_| ())
    }

    /// DeleteShareGroupState of `key`; nothing to do when no state topic exists.
    pub(super) async fn delete_share_state_of(&self, key: &StateKey) -> Result<(), PersistError> {
        use delete_share_group_state_request::{DeleteStateData, PartitionData};
        let req = DeleteShareGroupStateRequest::default()
            .with_group_id(key.group.clone().into())
            .with_topics(vec![
                DeleteStateData::default()
                    .with_topic_id(key.topic_id)
                    .with_partitions(vec![PartitionData::default().with_partition(key.partition)]),
            ]);
        self.at_share_coordinator(key, false, |peer| {
            let req = &req;
            async move {
                match ask(
                    &peer,
                    ApiKey::DeleteShareGroupState,
                    0,
                    req,
                    |r: DeleteShareGroupStateResponse| {
                        r.results.into_iter().next()?.partitions.into_iter().next()
                    },
                )
                .await
                {
                    Ok(p) => classify(key, p.error_code, p.error_message.as_ref(), ()),
                    Err(a) => a,
                }
            }
        })
        .await
        .map(|_| ())
    }

    /// ReadShareGroupState of `key` as the leader of `leader_epoch` (which the coordinator
    /// stores, fencing older leaders). `None`: no state (no state topic, or the key is
    /// uninitialized).
    async fn read_share_state(
        &self,
        key: &StateKey,
        leader_epoch: i32,
    ) -> Result<Option<PersistedState>, PersistError> {
        use read_share_group_state_request::{PartitionData, ReadStateData};
        let req = ReadShareGroupStateRequest::default()
            .with_group_id(key.group.clone().into())
            .with_topics(vec![
                ReadStateData::default()
                    .with_topic_id(key.topic_id)
                    .with_partitions(vec![
                        PartitionData::default()
                            .with_partition(key.partition)
                            .with_leader_epoch(leader_epoch),
                    ]),
            ]);
        let read = self
            .at_share_coordinator(key, false, |peer| {
                let req = &req;
                async move {
                    let p = match ask(
                        &peer,
                        ApiKey::ReadShareGroupState,
                        0,
                        req,
                        |r: ReadShareGroupStateResponse| {
                            r.results.into_iter().next()?.partitions.into_iter().next()
                        },
                    )
                    .await
                    {
                        Ok(p) => p,
                        Err(a) => return a,
                    };
                    if p.error_code == E::InvalidRequest.code() {
                        // Uninitialized: no state.
                        return Attempt::Done(None);
                    }
                    let state = p.error_code == 0 && p.start_offset >= 0;
                    let runs: Option<Vec<PersistedRun>> = p
                        .state_batches
                        .iter()
                        .map(|b| {
                            Some(PersistedRun {
                                first_offset: b.first_offset,
                                last_offset: b.last_offset,
                                state: state_from_id(b.delivery_state)?,
                                delivery_count: b.delivery_count,
                            })
                        })
                        .collect();
                    let Some(runs) = runs else {
                        return Attempt::Failed(PersistError::Failed(
                            "unknown delivery state in a read".into(),
                        ));
                    };
                    let done = state.then(|| PersistedState {
                        snapshot_epoch: 0,
                        state_epoch: p.state_epoch,
                        leader_epoch,
                        start_offset: p.start_offset,
                        delivery_complete_count: completed(&runs),
                        write_timestamp_ms: 0,
                        runs,
                    });
                    classify(key, p.error_code, p.error_message.as_ref(), done)
                }
            })
            .await?;
        Ok(read.flatten())
    }
}

/// InitializeShareGroupState of `key` at `state`'s state epoch and start offset.
async fn initialize(peer: &Peer, key: &StateKey, state: &PersistedState) -> Attempt<()> {
    use initialize_share_group_state_request::{InitializeStateData, PartitionData};
    let req = InitializeShareGroupStateRequest::default()
        .with_group_id(key.group.clone().into())
        .with_topics(vec![
            InitializeStateData::default()
                .with_topic_id(key.topic_id)
                .with_partitions(vec![
                    PartitionData::default()
                        .with_partition(key.partition)
                        .with_state_epoch(state.state_epoch)
                        .with_start_offset(state.start_offset),
                ]),
        ]);
    match ask(
        peer,
        ApiKey::InitializeShareGroupState,
        0,
        &req,
        |r: InitializeShareGroupStateResponse| {
            r.results.into_iter().next()?.partitions.into_iter().next()
        },
    )
    .await
    {
        Ok(p) => classify(key, p.error_code, p.error_message.as_ref(), ()),
        Err(a) => a,
    }
}

/// One RPC to `peer` and the one partition result `first` picks from its answer (every
/// request here names one key); an unanswered call is tried again, an empty answer fails.
async fn ask<Req: Encodable, Resp: Decodable, P, T>(
    peer: &Peer,
    api: ApiKey,
    version: i16,
    req: &Req,
    first: impl FnOnce(Resp) -> Option<P>,
) -> Result<P, Attempt<T>> {
    let resp = peer
        .call(api, version, req, RPC_TIMEOUT)
        .await
        .map_err(|e| Attempt::Again(e.to_string()))?;
    first(resp).ok_or_else(|| Attempt::Failed(PersistError::Failed("empty answer".into())))
}

/// Offsets Acknowledged or Archived in `runs` (the delivery-complete count).
fn completed(runs: &[PersistedRun]) -> i32 {
    let n: i64 = runs
        .iter()
        .filter(|r| matches!(r.state, RecordState::Acknowledged | RecordState::Archived))
        .map(|r| r.last_offset - r.first_offset + 1)
        .sum();
    n.min(i32::MAX as i64) as i32
}
