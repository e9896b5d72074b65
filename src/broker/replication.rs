//! Replication in a cluster, the broker's side of it (Kafka's ReplicaManager and
//! ReplicaFetcherThread): each partition takes the role the metadata image gives it; a
//! follower's partitions are fetched from their leader by one fetcher per leader, with Fetch
//! requests on the leader's inter-broker listener, and stored as the leader has them; a
//! leader asks the controller to change its ISR (Kafka's AlterPartition) when a follower
//! catches up or falls behind; high watermarks are checkpointed.
//!
//! The leader's bookkeeping (followers' log ends, the high watermark, who may join or must
//! leave the ISR) is [`crate::partition::replicas`]; the controller's checks of an ISR change
//! are in [`crate::cluster::controller`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::{BrokerId, FetchRequest};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

use super::Broker;
use super::fetchers::{Fetcher, Followed};
use crate::cluster::controller::{ControllerReply, ControllerRequest};
use crate::partition::{IsrRequest, Partition, Role};

/// How long an ISR change may take at the controller.
const ALTER_TIMEOUT: Duration = Duration::from_secs(10);

impl Broker {
    /// The fetchers follow `wanted` (leader → partitions to copy from it): new leaders get a
    /// fetcher, leaders no longer followed lose theirs, the others get their new sets.
    pub(super) fn assign_fetchers(self: &Arc<Self>, wanted: HashMap<i32, Followed>) {
        let mut fetchers = self.fetchers.by_leader.lock();
        fetchers.retain(|leader, _| wanted.contains_key(leader));
        for (leader, set) in wanted {
            match fetchers.get(&leader) {
                Some(f) => {
                    let mut current = f.partitions.lock();
                    if *current.keys().collect::<Vec<_>>() != *set.keys().collect::<Vec<_>>() {
                        *current = set;
                        f.wake.notify_one();
                    }
                }
                None => {
                    let partitions = Arc::new(Mutex::new(set));
                    let wake = Arc::new(Notify::new());
                    let task = tokio::spawn(self.clone().run_fetcher(
                        leader,
                        partitions.clone(),
                        wake.clone(),
                    ));
                    tracing::debug!(leader, "replica fetcher started");
                    fetchers.insert(
                        leader,
                        Fetcher {
                            partitions,
                            wake,
                            task,
                        },
                    );
                }
            }
        }
    }

    /// Fetch from `leader` for as long as this node follows partitions of it.
    async fn run_fetcher(
        self: Arc<Self>,
        leader: i32,
        partitions: Arc<Mutex<Followed>>,
        wake: Arc<Notify>,
    ) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let rc = cluster.config.replication.clone();
        let backoff = Duration::from_millis(rc.fetch_backoff_ms as u64);
        let mut peers = HashMap::new();
        // Partitions resting after an error, until the instant given.
        let mut resting: HashMap<(Uuid, i32), Instant> = HashMap::new();
        loop {
            let now = Instant::now();
            resting.retain(|_, until| *until > now);
            let set: Vec<((Uuid, i32), Arc<Partition>)> = partitions
                .lock()
                .iter()
                .filter(|(k, _)| !resting.contains_key(k))
                .map(|(k, p)| (*k, p.clone()))
                .collect();
            if set.is_empty() {
                let until = resting.values().min().copied();
                match until {
                    Some(t) => {
                        let _ = tokio::time::timeout_at(t, wake.notified()).await;
                    }
                    None => wake.notified().await,
                }
                continue;
            }
            let Some(peer) = self.peer(leader, &mut peers) else {
                tokio::time::sleep(backoff).await;
                continue;
            };
            let request = self.fetch_request(&set, &rc);
            let timeout =
                Duration::from_millis(rc.fetch_wait_max_ms as u64) + Duration::from_secs(30);
            let response = tokio::select! {
                r = peer.fetch(&request, timeout) => r,
                // The set changed (a partition moved to another leader): fetch again with the new one.
                _ = wake.notified() => continue,
            };
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(leader, "replica fetch failed: {e}");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            if response.error_code != 0 {
                tracing::debug!(leader, code = response.error_code, "replica fetch refused");
                tokio::time::sleep(backoff).await;
                continue;
            }
            let by_key: HashMap<(Uuid, i32), &Arc<Partition>> =
                set.iter().map(|(k, p)| (*k, p)).collect();
            for t in response.responses {
                for pd in t.partitions {
                    let key = (t.topic_id, pd.partition_index);
                    let Some(partition) = by_key.get(&key) else {
                        continue;
                    };
                    if let Err(why) = self.follower_apply(partition, leader, pd) {
                        tracing::debug!(topic = %partition.topic, partition = partition.index, leader, "{why}");
                        resting.insert(key, Instant::now() + backoff);
                    }
                }
            }
        }
    }

    fn fetch_request(
        &self,
        set: &[((Uuid, i32), Arc<Partition>)],
        rc: &crate::config::ReplicationConfig,
    ) -> FetchRequest {
        let mut topics: BTreeMap<Uuid, Vec<FetchPartition>> = BTreeMap::new();
        for ((id, index), p) in set {
            let (log_end, last_epoch, log_start) = p.fetch_position();
            topics.entry(*id).or_default().push(
                FetchPartition::default()
                    .with_partition(*index)
                    .with_current_leader_epoch(p.leader_epoch())
                    .with_fetch_offset(log_end)
                    .with_last_fetched_epoch(last_epoch)
                    .with_log_start_offset(log_start)
                    .with_partition_max_bytes(rc.fetch_max_bytes.min(i32::MAX as i64) as i32),
            );
        }
        FetchRequest::default()
            .with_replica_state(
                ReplicaState::default()
                    .with_replica_id(BrokerId(self.node_id))
                    .with_replica_epoch(-1),
            )
            .with_max_wait_ms(rc.fetch_wait_max_ms.min(i32::MAX as i64) as i32)
            .with_min_bytes(rc.fetch_min_bytes.min(i32::MAX as i64) as i32)
            .with_max_bytes(rc.fetch_response_max_bytes.min(i32::MAX as i64) as i32)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(id, partitions)| {
                        FetchTopic::default()
                            .with_topic_id(id)
                            .with_partitions(partitions)
                    })
                    .collect(),
            )
    }

    /// A follower takes one partition's part of its leader's fetch response: appends the
    /// batches, truncates a diverging tail, or starts over at the leader's log start. An
    /// error says why the partition should rest before its next fetch.
    fn follower_apply(
        &self,
        partition: &Partition,
        leader: i32,
        pd: kafka_protocol::messages::fetch_response::PartitionData,
    ) -> Result<(), String> {
        let expected_epoch = match partition.role() {
            Role::Follower {
                leader: l,
                leader_epoch,
            } if l == leader => leader_epoch,
            // The role moved on while the fetch was out: what it brought is not for us.
            _ => return Ok(()),
        };
        let now = self.now_ms();
        match pd.error_code {
            0 => {}
            c if c == E::OffsetOutOfRange.code() => {
                let (log_end, _, _) = partition.fetch_position();
                return if log_end < pd.log_start_offset {
                    partition
                        .truncate_fully_and_start_at(pd.log_start_offset)
                        .map_err(|e| format!("starting over at the leader's log start: {e}"))
                } else {
                    partition
                        .truncate_to(pd.high_watermark.max(0))
                        .map(|_| ())
                        .map_err(|e| format!("truncating to the leader's high watermark: {e}"))
                };
            }
            c => {
                return Err(format!(
                    "leader answered error {c} ({:?})",
                    kafka_protocol::ResponseError::try_from_code(c)
                ));
            }
        }
        let d = &pd.diverging_epoch;
        if d.epoch >= 0 && d.end_offset >= 0 {
            let at = truncation_offset(partition, d.epoch, d.end_offset);
            tracing::info!(topic = %partition.topic, partition = partition.index, leader, diverging_epoch = d.epoch, leader_end_offset = d.end_offset, truncate_to = at, "log diverged from the leader's");
            return partition
                .truncate_to(at)
                .map(|_| ())
                .map_err(|e| format!("truncating a diverging log: {e}"));
        }
        let payload = pd.records.unwrap_or_default();
        partition
            .append_as_follower(
                expected_epoch,
                &payload,
                pd.high_watermark,
                pd.log_start_offset,
                now,
            )
            .map(|_| ())
            .map_err(|e| format!("storing the leader's batches: {e}"))
    }

    /// A leader asks the controller for an ISR change (Kafka's AlterPartition), in the
    /// background; until it is settled the partition asks for no other.
    pub fn alter_isr(self: &Arc<Self>, partition: Arc<Partition>, change: IsrRequest) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let (topic_id, broker_epoch) = {
            let image = cluster.image();
            let Some(id) = image.topics.get(&partition.topic).map(|t| t.id) else {
                return;
            };
            (id, image.brokers.get(&self.node_id).map_or(-1, |b| b.epoch))
        };
        partition.set_pending_isr(change.partition_epoch, Some(change.isr.clone()));
        let mut isr = change.isr.clone();
        isr.push(self.node_id);
        isr.sort_unstable();
        let request = ControllerRequest::AlterPartition {
            node_id: self.node_id,
            broker_epoch,
            topic_id,
            partition: partition.index,
            leader_epoch: change.leader_epoch,
            partition_epoch: change.partition_epoch,
            new_isr: isr.clone(),
        };
        let broker = self.clone();
        tokio::spawn(async move {
            let reply = cluster.request(request, ALTER_TIMEOUT).await;
            match reply {
                Ok(ControllerReply::PartitionAltered(state)) => {
                    tracing::info!(topic = %partition.topic, partition = partition.index, isr = ?state.isr, partition_epoch = state.partition_epoch, "ISR changed");
                    let me = broker.node_id;
                    if state.leader == me {
                        let others =
                            |v: &[i32]| v.iter().copied().filter(|&r| r != me).collect::<Vec<_>>();
                        let _ = partition.become_leader(
                            state.leader_epoch,
                            state.partition_epoch,
                            &others(&state.replicas),
                            &others(&state.isr),
                            broker.now_ms(),
                        );
                    }
                }
                other => {
                    tracing::info!(topic = %partition.topic, partition = partition.index, wanted = ?isr, "ISR change not made: {other:?}");
                    partition.set_pending_isr(change.partition_epoch, None);
                }
            }
        });
    }

    /// Every `replica.high.watermark.checkpoint.interval.ms`, the high watermarks are written
    /// to `replication-offset-checkpoint`.
    pub(super) fn checkpoint_high_watermarks(
        self: &Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let every = Duration::from_millis(
            cluster
                .config
                .replication
                .high_watermark_checkpoint_interval_ms as u64,
        );
        let broker = self.clone();
        tokio::spawn(async move {
            loop {
                let stop = tokio::select! {
                    _ = shutdown.changed() => true,
                    _ = tokio::time::sleep(every) => false,
                };
                let b = broker.clone();
                let written =
                    tokio::task::spawn_blocking(move || b.topics.checkpoint_high_watermarks())
                        .await;
                if let Ok(Err(e)) = written {
                    tracing::warn!("writing replication-offset-checkpoint: {e}");
                }
                if stop {
                    return;
                }
            }
        });
    }

    /// Every half `replica.lag.time.max.ms`, the leaders here drop followers that fell behind
    /// from their ISRs (Kafka's isr-expiration task).
    pub(super) fn expire_isr(self: &Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let lag = cluster.config.replication.lag_time_max_ms;
        let every = Duration::from_millis((lag / 2).max(1) as u64);
        let broker = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                let now = broker.now_ms();
                for t in broker.topics.list() {
                    for p in t.local_partitions() {
                        if let Some(change) = p.isr_to_shrink(now, lag) {
                            tracing::info!(topic = %p.topic, partition = p.index, isr = ?change.isr, "followers fell behind: shrinking the ISR");
                            broker.alter_isr(p, change);
                        }
                    }
                }
            }
        });
    }
}

/// Where a follower cuts its log when the leader says its fetch diverged at `epoch` ending at
/// `leader_end` (Kafka's `getOffsetTruncationState`): the end of the largest epoch both logs
/// share, never above the follower's own log end.
fn truncation_offset(partition: &Partition, epoch: i32, leader_end: i64) -> i64 {
    let (log_end, _, _) = partition.fetch_position();
    let (own_epoch, own_end) = partition.end_offset_for_epoch(epoch);
    if own_end < 0 {
        leader_end.min(log_end)
    } else if own_epoch != epoch {
        own_end.min(log_end)
    } else {
        leader_end.min(own_end)
    }
}

/// Why a write's wait for its ISR ended without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsrWaitError {
    /// This node stopped leading the partition at the write's epoch.
    NotLeader,
    /// The deadline passed first.
    TimedOut,
}

/// Wait until the high watermark of `p` reaches `required_offset` while this node leads it at
/// `leader_epoch` (Kafka's DelayedProduce: the whole ISR has the write). Returns the ISR's size
/// then, for the caller's `min.insync.replicas` check.
pub async fn wait_for_isr(
    p: &Partition,
    leader_epoch: i32,
    required_offset: i64,
    deadline: Instant,
) -> Result<usize, IsrWaitError> {
    let mut progress = p.subscribe();
    loop {
        progress.borrow_and_update();
        let Some((hw, isr)) = p.replication_status(leader_epoch) else {
            return Err(IsrWaitError::NotLeader);
        };
        if hw >= required_offset {
            return Ok(isr);
        }
        match tokio::time::timeout_at(deadline, progress.changed()).await {
            Err(_) => return Err(IsrWaitError::TimedOut),
            Ok(Err(_)) => return Err(IsrWaitError::NotLeader),
            Ok(Ok(())) => {}
        }
    }
}

/// How long a coordinator's write waits for its ISR (Kafka's `offsets.commit.timeout.ms`).
const INTERNAL_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A broker's own write to `p` (a transaction marker, a coordinator record) that ends before
/// `required_offset`, written at `leader_epoch`: wait until its ISR has it. Errors are Kafka
/// codes: NOT_LEADER_OR_FOLLOWER when this node stopped leading, REQUEST_TIMED_OUT.
pub async fn replicated(p: &Partition, leader_epoch: i32, required_offset: i64) -> Result<(), i16> {
    let deadline = Instant::now() + INTERNAL_WRITE_TIMEOUT;
    match wait_for_isr(p, leader_epoch, required_offset, deadline).await {
        Ok(_) => Ok(()),
        Err(IsrWaitError::NotLeader) => Err(E::NotLeaderOrFollower.code()),
        Err(IsrWaitError::TimedOut) => Err(E::RequestTimedOut.code()),
    }
}

impl Broker {
    /// A coordinator wrote to partition `partition` of internal topic `topic`: wait until its
    /// ISR has everything written so far, as Kafka writes coordinator records with acks=all,
    /// so a committed offset or a transaction decision survives the leader's loss. Errors:
    /// NOT_COORDINATOR when this node stopped leading the partition, COORDINATOR_NOT_AVAILABLE
    /// when the ISR did not have it in time (Kafka's mapping of a coordinator append's
    /// timeout; clients retry both).
    pub async fn replicate_internal(&self, topic: &str, partition: i32) -> Result<(), i16> {
        if self.cluster.is_none() {
            return Ok(());
        }
        let Some(p) = self.topics.get(topic).and_then(|t| t.partition(partition)) else {
            return Ok(());
        };
        let required = p.offsets().log_end_offset;
        let deadline = Instant::now() + INTERNAL_WRITE_TIMEOUT;
        match wait_for_isr(&p, p.leader_epoch(), required, deadline).await {
            Ok(_) => Ok(()),
            Err(IsrWaitError::NotLeader) => Err(E::NotCoordinator.code()),
            Err(IsrWaitError::TimedOut) => Err(E::CoordinatorNotAvailable.code()),
        }
    }
}
