//! The active controller: the voter that leads the metadata quorum decides every change to the
//! cluster (topic placement, broker fencing, leader elections, producer id blocks) and writes it
//! to the metadata log as records. Brokers reach it with [`ControllerRequest`]s over the
//! CONTROLLER listener; a voter that is not the leader answers `NotController` with the leader
//! it knows of.
//!
//! **Owns:** validation of admin requests against the image, replica placement (Kafka's
//! rack-unaware round robin from a random start), broker liveness (heartbeats kept in memory on
//! the leader; a broker silent for `broker.session.timeout.ms` is fenced) and the elections that
//! follow fencing and unfencing.
//!
//! **Must never:** change the image except by writing records through Raft, or make two
//! decisions at once (one `serial` lock: each decision reads the image its predecessor wrote).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::ResponseError as E;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::image::Image;
use super::raft::state_machine::Shared;
use super::raft::store::LogReader;
use super::raft::types::{Raft, TypeConfig};
use super::records::{Endpoint, MetaRecord, MetaResponse, PartitionChange, PartitionState};
use crate::clock::Clock;
use crate::config::ClusterConfig;
use crate::error::Code;
use openraft::EntryPayload;
use openraft::storage::RaftLogReader;

/// The most partitions one CreateTopics / CreatePartitions request may add to a topic (Kafka's
/// controller bounds one operation's records at 10 000 the same way).
pub const MAX_PARTITIONS_PER_REQUEST: i32 = 10_000;

/// How many producer ids a broker's transaction coordinator gets at a time (Kafka's block).
pub const PRODUCER_ID_BLOCK: i64 = 1000;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    /// Explicit replica lists, one per partition; empty: the controller places them.
    pub assignments: Vec<Vec<i32>>,
    pub configs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewPartitions {
    pub name: String,
    pub total: i32,
    pub assignments: Vec<Vec<i32>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ControllerRequest {
    Register {
        node_id: i32,
        incarnation: Uuid,
        endpoints: Vec<Endpoint>,
        rack: Option<String>,
    },
    Heartbeat {
        node_id: i32,
        incarnation: Uuid,
    },
    CreateTopics {
        topics: Vec<NewTopic>,
        validate_only: bool,
    },
    DeleteTopics {
        names: Vec<String>,
    },
    CreatePartitions {
        topics: Vec<NewPartitions>,
        validate_only: bool,
    },
    /// Replace a topic's overrides with `configs`, if they still are `expected` (what the
    /// asking broker changed): two brokers altering one topic at once do not lose an update.
    AlterTopicConfigs {
        name: String,
        configs: BTreeMap<String, String>,
        expected: BTreeMap<String, String>,
        validate_only: bool,
    },
    AllocateProducerIds {
        node_id: i32,
    },
    /// Replace a dynamic broker config layer (checked by the asking broker), if it still is
    /// `expected`.
    AlterBrokerConfigs {
        node_id: Option<i32>,
        configs: BTreeMap<String, String>,
        expected: BTreeMap<String, String>,
    },
    /// DescribeQuorum, answered by the leader, which knows every voter's progress.
    DescribeQuorum,
    /// A broker-only node follows the metadata log: the committed records after `after`
    /// (waiting a moment for new ones), or the whole image when those are no longer kept.
    FetchMetadata {
        after: u64,
    },
}

/// A voter's (or observer's) progress as the quorum leader sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaProgress {
    pub node_id: i32,
    /// Next log index this replica does not have (Kafka's log end offset); -1: unknown.
    pub log_end_offset: i64,
    /// When the leader last heard from it (ms since the epoch); -1: unknown.
    pub last_fetch_ms: i64,
    pub last_caught_up_ms: i64,
}

/// The metadata quorum, for DescribeQuorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumInfo {
    pub leader: i32,
    /// The Raft term (Kafka's leader epoch of the metadata partition).
    pub epoch: i32,
    /// Next index past the last committed entry.
    pub high_watermark: i64,
    pub voters: Vec<ReplicaProgress>,
    pub observers: Vec<ReplicaProgress>,
}

/// A Kafka error code with its message, as the controller answers an admin request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: E, message: impl Into<String>) -> ApiError {
        ApiError {
            code: code.code(),
            message: message.into(),
        }
    }
}

/// What a created (or validated) topic came to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreatedTopic {
    pub id: Uuid,
    pub partitions: i32,
    pub replication_factor: i16,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ControllerReply {
    /// This voter does not lead the quorum; `leader` is the one it knows of.
    NotController {
        leader: Option<i32>,
    },
    Registered {
        broker_epoch: i64,
    },
    /// `known`: false when the controller has no registration of this incarnation (the broker
    /// registers again).
    Heartbeat {
        known: bool,
        fenced: bool,
    },
    Created(Vec<Result<CreatedTopic, ApiError>>),
    /// One result per topic or name of the request, in order.
    Done(Vec<Result<(), ApiError>>),
    ProducerIds {
        first: i64,
        size: i64,
    },
    Quorum(QuorumInfo),
    /// The configs changed since the asker read them: read again and redo the change.
    Stale,
    Metadata {
        records: Vec<(u64, MetaRecord)>,
        /// The log index the records bring the asker to.
        last: u64,
        /// Start over from this image (at `last`) first.
        image: Option<Image>,
    },
}

/// How long a metadata write may take to commit before the controller gives up on it.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a FetchMetadata waits for a new record before answering with none.
const FETCH_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

pub struct Controller {
    node_id: i32,
    raft: Raft,
    shared: Arc<Shared>,
    config: ClusterConfig,
    clock: Arc<dyn Clock>,
    /// When each broker was last heard from, while this node leads (cleared when it does not).
    last_heard: Mutex<HashMap<i32, i64>>,
    serial: tokio::sync::Mutex<()>,
    /// Reads the committed log for broker-only nodes.
    log: LogReader<TypeConfig>,
}

enum WriteError {
    NotController(Option<i32>),
    Rejected(String),
}

impl Controller {
    pub fn new(
        node_id: i32,
        raft: Raft,
        shared: Arc<Shared>,
        config: ClusterConfig,
        clock: Arc<dyn Clock>,
        log: LogReader<TypeConfig>,
    ) -> Controller {
        Controller {
            node_id,
            raft,
            shared,
            config,
            clock,
            last_heard: Mutex::new(HashMap::new()),
            serial: tokio::sync::Mutex::new(()),
            log,
        }
    }

    /// FetchMetadata: committed records after `after`, or the image when they are gone.
    async fn fetch_metadata(&self, after: u64) -> ControllerReply {
        let mut rx = self.shared.subscribe();
        let _ = tokio::time::timeout(FETCH_WAIT, rx.wait_for(|&i| i > after)).await;
        // Only a confirmed leader answers: an old leader cut off from the quorum (it keeps
        // thinking it leads in openraft 0.9) could hand out an image older than the asker's.
        if self.raft.ensure_linearizable().await.is_err() {
            return ControllerReply::NotController {
                leader: self.leader_hint(),
            };
        }
        let applied = self.shared.applied_index();
        if applied <= after {
            return ControllerReply::Metadata {
                records: vec![],
                last: after,
                image: None,
            };
        }
        if applied > after {
            let mut log = self.log.clone();
            if let Ok(entries) = log.try_get_log_entries(after + 1..=applied).await
                && entries.first().map(|e| e.log_id.index) == Some(after + 1)
                && entries.len() as u64 == applied - after
            {
                let records = entries
                    .into_iter()
                    .filter_map(|e| match e.payload {
                        EntryPayload::Normal(r) => Some((e.log_id.index, r)),
                        _ => None,
                    })
                    .collect();
                return ControllerReply::Metadata {
                    records,
                    last: applied,
                    image: None,
                };
            }
        }
        // Purged into a snapshot: the whole image.
        let (index, image) = self.shared.snapshot();
        ControllerReply::Metadata {
            records: vec![],
            last: index,
            image: Some(image),
        }
    }

    fn leader_hint(&self) -> Option<i32> {
        let m = self.raft.metrics().borrow().clone();
        m.current_leader.map(|l| l as i32)
    }

    pub fn applied_index(&self) -> u64 {
        self.shared.applied_index()
    }

    pub fn is_leader(&self) -> bool {
        self.leader_hint() == Some(self.node_id)
    }

    /// Serve one broker request. Decisions are made one at a time, each on an image that
    /// includes everything committed before it.
    pub async fn handle(&self, req: ControllerRequest) -> ControllerReply {
        if !self.is_leader() {
            return ControllerReply::NotController {
                leader: self.leader_hint(),
            };
        }
        if let ControllerRequest::FetchMetadata { after } = req {
            return self.fetch_metadata(after).await;
        }
        let _serial = self.serial.lock().await;
        if self.raft.ensure_linearizable().await.is_err() {
            return ControllerReply::NotController {
                leader: self.leader_hint(),
            };
        }
        let result = match req {
            ControllerRequest::Register {
                node_id,
                incarnation,
                endpoints,
                rack,
            } => self.register(node_id, incarnation, endpoints, rack).await,
            ControllerRequest::Heartbeat {
                node_id,
                incarnation,
            } => self.heartbeat(node_id, incarnation).await,
            ControllerRequest::CreateTopics {
                topics,
                validate_only,
            } => self.create_topics(topics, validate_only).await,
            ControllerRequest::DeleteTopics { names } => self.delete_topics(names).await,
            ControllerRequest::CreatePartitions {
                topics,
                validate_only,
            } => self.create_partitions(topics, validate_only).await,
            ControllerRequest::AlterTopicConfigs {
                name,
                configs,
                expected,
                validate_only,
            } => {
                // (A topic that is gone is refused below.)
                let current = self
                    .shared
                    .image
                    .read()
                    .topics
                    .get(&name)
                    .map(|t| t.configs.clone());
                if current.is_some_and(|c| c != expected) {
                    return ControllerReply::Stale;
                }
                self.alter_topic_configs(name, configs, validate_only).await
            }
            ControllerRequest::AllocateProducerIds { node_id } => {
                self.allocate_producer_ids(node_id).await
            }
            ControllerRequest::DescribeQuorum => Ok(ControllerReply::Quorum(self.quorum_info())),
            ControllerRequest::AlterBrokerConfigs {
                node_id, expected, ..
            } if {
                let image = self.shared.image.read();
                let current = match node_id {
                    None => image.default_broker_configs.clone(),
                    Some(id) => image.broker_configs.get(&id).cloned().unwrap_or_default(),
                };
                current != expected
            } =>
            {
                Ok(ControllerReply::Stale)
            }
            ControllerRequest::AlterBrokerConfigs {
                node_id, configs, ..
            } => self
                .write_or(
                    MetaRecord::BrokerConfigs { node_id, configs },
                    E::InvalidConfig,
                )
                .await
                .map(|result| ControllerReply::Done(vec![result])),
            ControllerRequest::FetchMetadata { after } => Ok(self.fetch_metadata(after).await),
        };
        match result {
            Ok(reply) => reply,
            Err(leader) => ControllerReply::NotController { leader },
        }
    }

    /// The quorum as this (leading) node's Raft metrics describe it.
    fn quorum_info(&self) -> QuorumInfo {
        let m = self.raft.metrics().borrow().clone();
        let now = self.clock.now_ms();
        let hw = m.last_applied.map(|l| l.index as i64 + 1).unwrap_or(0);
        let replication = m.replication.clone().unwrap_or_default();
        let progress = |id: u64| {
            let end = if id == m.id {
                m.last_log_index.map(|i| i as i64 + 1).unwrap_or(0)
            } else {
                replication
                    .get(&id)
                    .map(|l| l.map(|l| l.index as i64 + 1).unwrap_or(0))
                    .unwrap_or(-1)
            };
            let seen = if end >= 0 { now } else { -1 };
            ReplicaProgress {
                node_id: id as i32,
                log_end_offset: end,
                last_fetch_ms: seen,
                last_caught_up_ms: if end >= hw { seen } else { -1 },
            }
        };
        let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
        let learners: Vec<u64> = m.membership_config.membership().learner_ids().collect();
        QuorumInfo {
            leader: m.current_leader.map(|l| l as i32).unwrap_or(-1),
            epoch: m.current_term as i32,
            high_watermark: hw,
            voters: voters.into_iter().map(progress).collect(),
            observers: learners.into_iter().map(progress).collect(),
        }
    }

    async fn write(&self, record: MetaRecord) -> Result<(), WriteError> {
        // A leader cut off from the quorum stays leader in openraft 0.9 and its writes wait
        // for the partition to heal: give up instead (the asker retries the new leader).
        let Ok(written) = tokio::time::timeout(WRITE_TIMEOUT, self.raft.client_write(record)).await
        else {
            tracing::warn!("a metadata write did not commit within {WRITE_TIMEOUT:?}");
            return Err(WriteError::NotController(None));
        };
        match written {
            Ok(resp) => match resp.data {
                MetaResponse::Applied => Ok(()),
                MetaResponse::Rejected(why) => Err(WriteError::Rejected(why)),
            },
            Err(e) => {
                tracing::info!("metadata write failed: {e}");
                let leader = e
                    .forward_to_leader()
                    .and_then(|f| f.leader_id)
                    .map(|l| l as i32);
                Err(WriteError::NotController(leader))
            }
        }
    }

    /// A write whose rejection is an error for the client (`code`), and whose failure to reach
    /// the quorum is a NotController answer.
    async fn write_or(
        &self,
        record: MetaRecord,
        code: E,
    ) -> Result<Result<(), ApiError>, Option<i32>> {
        match self.write(record).await {
            Ok(()) => Ok(Ok(())),
            Err(WriteError::Rejected(why)) => Ok(Err(ApiError::new(code, why))),
            Err(WriteError::NotController(l)) => Err(l),
        }
    }

    async fn register(
        &self,
        node_id: i32,
        incarnation: Uuid,
        endpoints: Vec<Endpoint>,
        rack: Option<String>,
    ) -> Result<ControllerReply, Option<i32>> {
        self.last_heard.lock().insert(node_id, self.clock.now_ms());
        let record = MetaRecord::RegisterBroker {
            node_id,
            incarnation,
            endpoints,
            rack,
        };
        if let Err(WriteError::NotController(l)) = self.write(record).await {
            return Err(l);
        }
        let (epoch, changes) = {
            let image = self.shared.image.read();
            let epoch = image.brokers.get(&node_id).map(|b| b.epoch).unwrap_or(-1);
            (epoch, elect_for_returning(&image, node_id))
        };
        tracing::info!(node_id, broker_epoch = epoch, "broker registered");
        if !changes.is_empty()
            && let Err(WriteError::NotController(l)) =
                self.write(MetaRecord::PartitionChanges(changes)).await
        {
            return Err(l);
        }
        Ok(ControllerReply::Registered {
            broker_epoch: epoch,
        })
    }

    async fn heartbeat(
        &self,
        node_id: i32,
        incarnation: Uuid,
    ) -> Result<ControllerReply, Option<i32>> {
        let state = self.shared.image.read().brokers.get(&node_id).cloned();
        let Some(state) = state.filter(|b| b.incarnation == incarnation) else {
            return Ok(ControllerReply::Heartbeat {
                known: false,
                fenced: true,
            });
        };
        self.last_heard.lock().insert(node_id, self.clock.now_ms());
        if state.fenced {
            let changes = {
                let mut image = self.shared.image.read().clone();
                // Elect as if the broker were already back.
                if let Some(b) = image.brokers.get_mut(&node_id) {
                    b.fenced = false;
                }
                elect_for_returning(&image, node_id)
            };
            let record = MetaRecord::BrokerFenced {
                node_id,
                fenced: false,
                changes,
            };
            if let Err(WriteError::NotController(l)) = self.write(record).await {
                return Err(l);
            }
            tracing::info!(node_id, "broker unfenced: heard from it again");
        }
        Ok(ControllerReply::Heartbeat {
            known: true,
            fenced: false,
        })
    }

    /// Fence every broker not heard from within the session timeout. Run on a timer; a node
    /// that does not lead forgets what it heard, so a new leader gives every broker a full
    /// session from the moment it took over.
    pub async fn tick(&self) {
        if !self.is_leader() {
            self.last_heard.lock().clear();
            return;
        }
        let now = self.clock.now_ms();
        let expired: Vec<i32> = {
            let image = self.shared.image.read();
            let mut heard = self.last_heard.lock();
            image
                .live_brokers()
                .filter(|b| {
                    let seen = *heard.entry(b.node_id).or_insert(now);
                    now - seen > self.config.broker_session_timeout_ms
                })
                .map(|b| b.node_id)
                .collect()
        };
        for node_id in expired {
            let _serial = self.serial.lock().await;
            let changes = {
                let mut image = self.shared.image.read().clone();
                if !image.is_live(node_id) {
                    continue;
                }
                if let Some(b) = image.brokers.get_mut(&node_id) {
                    b.fenced = true;
                }
                elect_for_leaving(&image, node_id)
            };
            tracing::warn!(
                node_id,
                leaders_moved = changes.len(),
                "broker fenced: no heartbeat for {} ms (broker.session.timeout.ms)",
                self.config.broker_session_timeout_ms
            );
            let record = MetaRecord::BrokerFenced {
                node_id,
                fenced: true,
                changes,
            };
            if self.write(record).await.is_err() {
                return;
            }
        }
    }

    async fn create_topics(
        &self,
        topics: Vec<NewTopic>,
        validate_only: bool,
    ) -> Result<ControllerReply, Option<i32>> {
        let mut out = Vec::with_capacity(topics.len());
        for t in topics {
            let planned = {
                let image = self.shared.image.read();
                plan_topic(&image, &t, self.config_rf(&t.name))
            };
            let (partitions, rf) = match planned {
                Ok(p) => p,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            let id = Uuid::new_v4();
            let created = CreatedTopic {
                id,
                partitions: partitions.len() as i32,
                replication_factor: rf,
            };
            if validate_only {
                out.push(Ok(CreatedTopic {
                    id: Uuid::nil(),
                    ..created
                }));
                continue;
            }
            let record = MetaRecord::Topic {
                name: t.name.clone(),
                id,
                configs: t.configs.clone(),
                partitions,
            };
            match self.write_or(record, E::TopicAlreadyExists).await {
                Ok(Ok(())) => {
                    tracing::info!(topic = %t.name, %id, partitions = created.partitions, replication_factor = rf, "created topic");
                    out.push(Ok(created))
                }
                Ok(Err(e)) => out.push(Err(e)),
                // Lost the leadership part-way: what was written stays written, the rest is
                // NOT_CONTROLLER for the client to retry (not the whole batch again).
                Err(_) => out.push(Err(not_controller())),
            }
        }
        Ok(ControllerReply::Created(out))
    }

    /// The replication factor an internal topic asks for when created without one.
    fn config_rf(&self, name: &str) -> i16 {
        match name {
            "__consumer_offsets" => self.config.offsets_topic_replication_factor,
            "__transaction_state" => self.config.transaction_state_log_replication_factor,
            _ => -1,
        }
    }

    async fn delete_topics(&self, names: Vec<String>) -> Result<ControllerReply, Option<i32>> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let id = self.shared.image.read().topics.get(&name).map(|t| t.id);
            let Some(id) = id else {
                out.push(Err(ApiError::new(
                    E::UnknownTopicOrPartition,
                    "This server does not host this topic-partition.",
                )));
                continue;
            };
            let result = self
                .write_or(MetaRecord::RemoveTopic { id }, E::UnknownTopicOrPartition)
                .await
                .unwrap_or_else(|_| Err(not_controller()));
            if result.is_ok() {
                tracing::info!(topic = %name, %id, "deleted topic");
            }
            out.push(result);
        }
        Ok(ControllerReply::Done(out))
    }

    async fn create_partitions(
        &self,
        topics: Vec<NewPartitions>,
        validate_only: bool,
    ) -> Result<ControllerReply, Option<i32>> {
        let mut out = Vec::with_capacity(topics.len());
        for t in topics {
            let planned = {
                let image = self.shared.image.read();
                plan_partitions(&image, &t)
            };
            let (topic_id, partitions) = match planned {
                Ok(p) => p,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            if validate_only {
                out.push(Ok(()));
                continue;
            }
            let record = MetaRecord::AddPartitions {
                topic_id,
                partitions,
            };
            out.push(
                self.write_or(record, E::InvalidPartitions)
                    .await
                    .unwrap_or_else(|_| Err(not_controller())),
            );
        }
        Ok(ControllerReply::Done(out))
    }

    async fn alter_topic_configs(
        &self,
        name: String,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<ControllerReply, Option<i32>> {
        let id = self.shared.image.read().topics.get(&name).map(|t| t.id);
        let Some(id) = id else {
            return Ok(ControllerReply::Done(vec![Err(ApiError::new(
                E::UnknownTopicOrPartition,
                format!("Topic {name} does not exist."),
            ))]));
        };
        for (k, v) in &configs {
            if let Err(e) = crate::config::validate_topic_config(k, v) {
                return Ok(ControllerReply::Done(vec![Err(ApiError::new(
                    E::InvalidConfig,
                    e.to_string(),
                ))]));
            }
        }
        if validate_only {
            return Ok(ControllerReply::Done(vec![Ok(())]));
        }
        let result = self
            .write_or(
                MetaRecord::TopicConfigs { id, configs },
                E::UnknownTopicOrPartition,
            )
            .await?;
        Ok(ControllerReply::Done(vec![result]))
    }

    async fn allocate_producer_ids(&self, node_id: i32) -> Result<ControllerReply, Option<i32>> {
        let first = self.shared.image.read().next_producer_id;
        let record = MetaRecord::ProducerIds {
            node_id,
            first,
            size: PRODUCER_ID_BLOCK,
        };
        match self.write(record).await {
            Ok(()) | Err(WriteError::Rejected(_)) => Ok(ControllerReply::ProducerIds {
                first,
                size: PRODUCER_ID_BLOCK,
            }),
            Err(WriteError::NotController(l)) => Err(l),
        }
    }
}

fn not_controller() -> ApiError {
    ApiError::new(
        E::NotController,
        "The active controller changed while this request was applied; retry.",
    )
}

/// Live brokers sorted by id: the ones new replicas may go to.
fn live_ids(image: &Image) -> Vec<i32> {
    image.live_brokers().map(|b| b.node_id).collect()
}

/// Kafka's rack-unaware placement: partition p's first replica is broker (start + p) mod n, the
/// others follow it round the ring, shifted so that followers spread too.
fn place(brokers: &[i32], first_partition: i32, count: i32, rf: i16) -> Vec<Vec<i32>> {
    let n = brokers.len() as i64;
    let start = rand_below(n);
    let shift = rand_below(n);
    (0..count as i64)
        .map(|i| {
            let p = first_partition as i64 + i;
            let first = (start + p) % n;
            let mut replicas = vec![brokers[first as usize]];
            let step = 1 + (shift + p / n) % (n - 1).max(1);
            for r in 1..rf as i64 {
                let at = (first + step * r) % n;
                let mut id = brokers[at as usize];
                // A step that lands on a broker already used walks on to the next free one.
                let mut k = at;
                while replicas.contains(&id) {
                    k = (k + 1) % n;
                    id = brokers[k as usize];
                }
                replicas.push(id);
            }
            replicas
        })
        .collect()
}

fn rand_below(n: i64) -> i64 {
    if n <= 1 {
        return 0;
    }
    (Uuid::new_v4().as_u128() % n as u128) as i64
}

/// A new partition: its first live replica leads (none when all are fenced). Until replicas
/// replicate (the next issue), only the leader is in sync.
fn new_partition(image: &Image, p: i32, replicas: Vec<i32>) -> PartitionState {
    let leader = replicas
        .iter()
        .copied()
        .find(|&r| image.is_live(r))
        .unwrap_or(-1);
    let first = replicas.first().copied().unwrap_or(-1);
    PartitionState {
        partition: p,
        isr: vec![if leader >= 0 { leader } else { first }],
        leader,
        replicas,
        leader_epoch: 0,
        partition_epoch: 0,
    }
}

fn check_assignment(image: &Image, lists: &[Vec<i32>]) -> Result<i16, ApiError> {
    let rf = lists.first().map(|l| l.len()).unwrap_or(0);
    for l in lists {
        if l.is_empty() || l.len() != rf {
            return Err(ApiError::new(
                E::InvalidReplicaAssignment,
                "All partitions should have the same number of replicas",
            ));
        }
        for (i, id) in l.iter().enumerate() {
            if l[..i].contains(id) {
                return Err(ApiError::new(
                    E::InvalidReplicaAssignment,
                    format!("Duplicate brokers not allowed in replica assignment: {l:?}"),
                ));
            }
            if !image.brokers.contains_key(id) {
                return Err(ApiError::new(
                    E::InvalidReplicaAssignment,
                    format!(
                        "The manual partition assignment includes broker {id}, but no broker with that id is registered."
                    ),
                ));
            }
        }
    }
    Ok(rf as i16)
}

/// Validate a new topic against the image and place its partitions.
pub fn plan_topic(
    image: &Image,
    t: &NewTopic,
    internal_rf: i16,
) -> Result<(Vec<PartitionState>, i16), ApiError> {
    crate::topics::validate_topic_name(&t.name)
        .map_err(|e| ApiError::new(E::InvalidTopicException, e.to_string()))?;
    if image.topics.contains_key(&t.name) {
        return Err(ApiError::new(
            E::TopicAlreadyExists,
            format!("Topic '{}' already exists.", t.name),
        ));
    }
    for (k, v) in &t.configs {
        crate::config::validate_topic_config(k, v)
            .map_err(|e| ApiError::new(E::InvalidConfig, e.to_string()))?;
    }
    if !t.assignments.is_empty() {
        if t.assignments.len() > MAX_PARTITIONS_PER_REQUEST as usize {
            return Err(ApiError::new(
                E::InvalidPartitions,
                format!("at most {MAX_PARTITIONS_PER_REQUEST} partitions per request"),
            ));
        }
        let rf = check_assignment(image, &t.assignments)?;
        let parts = t
            .assignments
            .iter()
            .enumerate()
            .map(|(p, r)| new_partition(image, p as i32, r.clone()))
            .collect();
        return Ok((parts, rf));
    }
    if t.partitions < 1 {
        return Err(ApiError::new(
            E::InvalidPartitions,
            "Number of partitions must be larger than 0.",
        ));
    }
    if t.partitions > MAX_PARTITIONS_PER_REQUEST {
        return Err(ApiError::new(
            E::InvalidPartitions,
            format!(
                "Unable to create {} partitions at once: at most {MAX_PARTITIONS_PER_REQUEST} per request.",
                t.partitions
            ),
        ));
    }
    let rf = if t.replication_factor == -1 && internal_rf > 0 {
        internal_rf
    } else {
        t.replication_factor
    };
    if rf < 1 {
        return Err(ApiError::new(
            E::InvalidReplicationFactor,
            "Replication factor must be larger than 0.",
        ));
    }
    let live = live_ids(image);
    if rf as usize > live.len() {
        return Err(ApiError::new(
            E::InvalidReplicationFactor,
            format!(
                "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {} broker(s) are registered.",
                live.len()
            ),
        ));
    }
    let parts = place(&live, 0, t.partitions, rf)
        .into_iter()
        .enumerate()
        .map(|(p, r)| new_partition(image, p as i32, r))
        .collect();
    Ok((parts, rf))
}

fn plan_partitions(
    image: &Image,
    t: &NewPartitions,
) -> Result<(Uuid, Vec<PartitionState>), ApiError> {
    let Some(topic) = image.topics.get(&t.name) else {
        return Err(ApiError::new(
            E::UnknownTopicOrPartition,
            format!("The topic '{}' does not exist.", t.name),
        ));
    };
    let current = topic.partitions.len() as i32;
    if t.total < current {
        return Err(ApiError::new(
            E::InvalidPartitions,
            format!(
                "Topic currently has {current} partitions, which is higher than the requested {}.",
                t.total
            ),
        ));
    }
    if t.total == current {
        return Err(ApiError::new(
            E::InvalidPartitions,
            format!("Topic already has {current} partitions."),
        ));
    }
    if t.total - current > MAX_PARTITIONS_PER_REQUEST {
        return Err(ApiError::new(
            E::InvalidPartitions,
            format!(
                "Unable to add {} partitions at once: at most {MAX_PARTITIONS_PER_REQUEST} per request.",
                t.total - current
            ),
        ));
    }
    let rf = topic
        .partitions
        .first()
        .map(|p| p.replicas.len())
        .unwrap_or(1) as i16;
    let lists = if t.assignments.is_empty() {
        let live = live_ids(image);
        if (rf as usize) > live.len() {
            return Err(ApiError::new(
                E::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {rf} time(s): only {} broker(s) are registered.",
                    live.len()
                ),
            ));
        }
        place(&live, current, t.total - current, rf)
    } else {
        if t.assignments.len() as i32 != t.total - current {
            return Err(ApiError::new(
                E::InvalidReplicaAssignment,
                format!(
                    "Increasing the number of partitions by {} but {} assignments provided.",
                    t.total - current,
                    t.assignments.len()
                ),
            ));
        }
        let got = check_assignment(image, &t.assignments)?;
        if got != rf {
            return Err(ApiError::new(
                E::InvalidReplicaAssignment,
                format!("The new partitions must have {rf} replicas, as the topic's others do."),
            ));
        }
        t.assignments.clone()
    };
    Ok((
        topic.id,
        lists
            .into_iter()
            .enumerate()
            .map(|(i, r)| new_partition(image, current + i as i32, r))
            .collect(),
    ))
}

/// `node_id` is fenced: every partition it leads moves to another live in-sync replica, or to
/// no leader; it leaves the ISRs it was in unless it was the last member.
fn elect_for_leaving(image: &Image, node_id: i32) -> Vec<PartitionChange> {
    let mut changes = Vec::new();
    for t in image.topics.values() {
        for p in &t.partitions {
            if p.leader != node_id && !(p.isr.contains(&node_id) && p.isr.len() > 1) {
                continue;
            }
            let mut next = p.clone();
            if p.isr.len() > 1 {
                next.isr.retain(|&r| r != node_id);
            }
            if p.leader == node_id {
                next.leader = next
                    .isr
                    .iter()
                    .copied()
                    .find(|&r| r != node_id && image.is_live(r))
                    .unwrap_or(-1);
                next.leader_epoch += 1;
            }
            next.partition_epoch += 1;
            changes.push(PartitionChange {
                topic_id: t.id,
                state: next,
            });
        }
    }
    changes
}

/// `node_id` is back: every leaderless partition it is an in-sync replica of gets it as leader.
fn elect_for_returning(image: &Image, node_id: i32) -> Vec<PartitionChange> {
    let mut changes = Vec::new();
    for t in image.topics.values() {
        for p in &t.partitions {
            if p.leader == -1 && p.isr.contains(&node_id) {
                let mut next = p.clone();
                next.leader = node_id;
                next.leader_epoch += 1;
                next.partition_epoch += 1;
                changes.push(PartitionChange {
                    topic_id: t.id,
                    state: next,
                });
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_with(brokers: &[i32]) -> Image {
        let mut img = Image::default();
        for (i, &id) in brokers.iter().enumerate() {
            img.apply(
                i as u64 + 1,
                &MetaRecord::RegisterBroker {
                    node_id: id,
                    incarnation: Uuid::new_v4(),
                    endpoints: vec![],
                    rack: None,
                },
            );
        }
        img
    }

    fn new_topic(name: &str, partitions: i32, rf: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: rf,
            assignments: vec![],
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn placement_spreads_leaders_and_replicas() {
        let img = image_with(&[1, 2, 3]);
        for _ in 0..20 {
            let (parts, rf) = plan_topic(&img, &new_topic("t", 6, 3), -1).unwrap();
            assert_eq!(rf, 3);
            let mut leaders = BTreeMap::new();
            for p in &parts {
                let mut r = p.replicas.clone();
                r.sort();
                assert_eq!(r, vec![1, 2, 3], "each partition on 3 distinct brokers");
                assert_eq!(p.leader, p.replicas[0]);
                *leaders.entry(p.leader).or_insert(0) += 1;
            }
            assert_eq!(leaders.values().copied().collect::<Vec<_>>(), vec![2, 2, 2]);
        }
        let (parts, _) = plan_topic(&img, &new_topic("t", 3, 1), -1).unwrap();
        let mut firsts: Vec<i32> = parts.iter().map(|p| p.replicas[0]).collect();
        firsts.sort();
        assert_eq!(firsts, vec![1, 2, 3]);
    }

    #[test]
    fn replication_factor_above_live_brokers_is_refused() {
        let mut img = image_with(&[1, 2, 3]);
        let err = plan_topic(&img, &new_topic("t", 1, 4), -1).unwrap_err();
        assert_eq!(err.code, E::InvalidReplicationFactor.code());
        assert!(err.message.contains("only 3 broker(s)"), "{}", err.message);
        img.apply(
            9,
            &MetaRecord::BrokerFenced {
                node_id: 3,
                fenced: true,
                changes: vec![],
            },
        );
        assert!(plan_topic(&img, &new_topic("t", 1, 3), -1).is_err());
        assert!(plan_topic(&img, &new_topic("t", 1, 2), -1).is_ok());
        // Internal topics take their configured factor when the request gives none.
        assert_eq!(
            plan_topic(&img, &new_topic("__consumer_offsets", 1, -1), 3)
                .unwrap_err()
                .code,
            E::InvalidReplicationFactor.code()
        );
    }

    #[test]
    fn explicit_assignment_is_checked() {
        let img = image_with(&[1, 2]);
        let mut t = new_topic("t", -1, -1);
        t.assignments = vec![vec![2, 1], vec![1, 2]];
        let (parts, rf) = plan_topic(&img, &t, -1).unwrap();
        assert_eq!(rf, 2);
        assert_eq!(parts[0].leader, 2);
        assert_eq!(parts[1].replicas, vec![1, 2]);
        t.assignments = vec![vec![1, 7]];
        assert_eq!(
            plan_topic(&img, &t, -1).unwrap_err().code,
            E::InvalidReplicaAssignment.code()
        );
        t.assignments = vec![vec![1, 1]];
        assert!(plan_topic(&img, &t, -1).is_err());
    }

    #[test]
    fn fencing_moves_leaders_and_return_restores_them() {
        let mut img = image_with(&[1, 2]);
        let id = Uuid::new_v4();
        let single = PartitionState {
            partition: 0,
            replicas: vec![2],
            isr: vec![2],
            leader: 2,
            leader_epoch: 0,
            partition_epoch: 0,
        };
        let shared = PartitionState {
            partition: 1,
            replicas: vec![2, 1],
            isr: vec![2, 1],
            leader: 2,
            leader_epoch: 3,
            partition_epoch: 5,
        };
        img.apply(
            3,
            &MetaRecord::Topic {
                name: "t".into(),
                id,
                configs: BTreeMap::new(),
                partitions: vec![single, shared],
            },
        );
        let changes = elect_for_leaving(&img, 2);
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes[0].state.leader, -1,
            "RF=1: no leader while it is away"
        );
        assert_eq!(changes[0].state.isr, vec![2], "the last ISR member stays");
        assert_eq!(changes[0].state.leader_epoch, 1);
        assert_eq!(changes[1].state.leader, 1);
        assert_eq!(changes[1].state.isr, vec![1]);
        assert_eq!(changes[1].state.leader_epoch, 4);
        img.apply(
            4,
            &MetaRecord::BrokerFenced {
                node_id: 2,
                fenced: true,
                changes,
            },
        );
        let back = elect_for_returning(&img, 2);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].state.partition, 0);
        assert_eq!(back[0].state.leader, 2);
        assert_eq!(back[0].state.leader_epoch, 2);
    }

    #[test]
    fn create_partitions_places_new_ones() {
        let mut img = image_with(&[1, 2, 3]);
        let (parts, _) = plan_topic(&img, &new_topic("t", 2, 2), -1).unwrap();
        let id = Uuid::new_v4();
        img.apply(
            5,
            &MetaRecord::Topic {
                name: "t".into(),
                id,
                configs: BTreeMap::new(),
                partitions: parts,
            },
        );
        let (tid, new) = plan_partitions(
            &img,
            &NewPartitions {
                name: "t".into(),
                total: 5,
                assignments: vec![],
            },
        )
        .unwrap();
        assert_eq!(tid, id);
        assert_eq!(
            new.iter().map(|p| p.partition).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert!(new.iter().all(|p| p.replicas.len() == 2));
        let err = plan_partitions(
            &img,
            &NewPartitions {
                name: "t".into(),
                total: 2,
                assignments: vec![],
            },
        )
        .unwrap_err();
        assert_eq!(err.code, E::InvalidPartitions.code());
    }
}
