//! The active controller: the voter that leads the metadata quorum decides every change to the
//! cluster (topic placement, broker fencing, leader elections, producer id blocks) and writes it
//! to the metadata log as records. Brokers reach it with [`ControllerRequest`]s over the
//! CONTROLLER listener; a voter that is not the leader answers `NotController` with the leader
//! it knows of.
//!
//! **Owns:** validation of admin requests against the image, replica placement (Kafka's
//! rack-unaware round robin from a random start), broker liveness (heartbeats kept in memory on
//! the leader; a broker silent for `broker.session.timeout.ms` is fenced), the ISR changes
//! partition leaders ask for (AlterPartition, KIP-497) and the elections: after fencing and
//! unfencing, unclean ones where `unclean.leader.election.enable` allows them, and the ones
//! ElectLeaders asks for.
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
    /// A partition's leader changes its ISR (Kafka's AlterPartition). `leader_epoch` and
    /// `partition_epoch` are those of the state it acts on; `broker_epoch` is its registration
    /// (a leader that registered again since is a stale process).
    AlterPartition {
        node_id: i32,
        broker_epoch: i64,
        topic_id: Uuid,
        partition: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        new_isr: Vec<i32>,
    },
    /// ElectLeaders: `election_type` 0 preferred, 1 unclean; `partitions` (topic id, index)
    /// None: every partition.
    ElectLeaders {
        election_type: i8,
        partitions: Option<Vec<(Uuid, i32)>>,
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

/// One partition's ElectLeaders result: topic id, partition index, and the error if it got no
/// new leader.
pub type ElectionResult = (Uuid, i32, Result<(), ApiError>);

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
    /// The partition's committed state after an AlterPartition.
    PartitionAltered(PartitionState),
    /// One result per partition of an ElectLeaders, in the request's order; for every partition
    /// (None asked), the partitions whose election was needed, as Kafka answers.
    LeadersElected(Vec<ElectionResult>),
    /// The request was refused as a whole.
    Error(ApiError),
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
            ControllerRequest::AlterPartition {
                node_id,
                broker_epoch,
                topic_id,
                partition,
                leader_epoch,
                partition_epoch,
                new_isr,
            } => {
                let planned = {
                    let image = self.shared.image.read();
                    check_broker_epoch(&image, node_id, broker_epoch).and_then(|()| {
                        plan_isr_change(
                            &image,
                            node_id,
                            topic_id,
                            partition,
                            leader_epoch,
                            partition_epoch,
                            &new_isr,
                        )
                    })
                };
                self.alter_partition(node_id, planned).await
            }
            ControllerRequest::ElectLeaders {
                election_type,
                partitions,
            } => self.elect_leaders(election_type, partitions).await,
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
            (epoch, elect_leaderless(&image))
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
                elect_leaderless(&image)
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
        self.elect_leaderless_partitions().await;
    }

    /// Give a leader to every leaderless partition that may have one now: mostly partitions
    /// whose topic allowed unclean election after they lost their last in-sync replica.
    async fn elect_leaderless_partitions(&self) {
        if elect_leaderless(&self.shared.image.read()).is_empty() {
            return;
        }
        let _serial = self.serial.lock().await;
        // Decide on an image that holds everything committed (a new leader may lag).
        if self.raft.ensure_linearizable().await.is_err() {
            return;
        }
        let changes = elect_leaderless(&self.shared.image.read());
        if changes.is_empty() {
            return;
        }
        for c in &changes {
            tracing::warn!(
                topic_id = %c.topic_id,
                partition = c.state.partition,
                leader = c.state.leader,
                isr = ?c.state.isr,
                "leaderless partition gets a leader"
            );
        }
        let _ = self.write(MetaRecord::PartitionChanges(changes)).await;
    }

    /// Write the ISR change `planned` (see [`plan_isr_change`]) and answer with the partition's
    /// committed state.
    async fn alter_partition(
        &self,
        node_id: i32,
        planned: Result<IsrChange, ApiError>,
    ) -> Result<ControllerReply, Option<i32>> {
        let change = match planned {
            Err(e) => return Ok(ControllerReply::Error(e)),
            Ok(IsrChange::Unchanged(state)) => return Ok(ControllerReply::PartitionAltered(state)),
            Ok(IsrChange::To(change)) => change,
        };
        let state = change.state.clone();
        let record = MetaRecord::PartitionChanges(vec![change.clone()]);
        if let Err(e) = self.write_or(record, E::UnknownTopicOrPartition).await? {
            return Ok(ControllerReply::Error(e));
        }
        tracing::info!(
            node_id,
            topic_id = %change.topic_id,
            partition = state.partition,
            isr = ?state.isr,
            partition_epoch = state.partition_epoch,
            "ISR changed by the partition leader"
        );
        Ok(ControllerReply::PartitionAltered(state))
    }

    async fn elect_leaders(
        &self,
        election_type: i8,
        partitions: Option<Vec<(Uuid, i32)>>,
    ) -> Result<ControllerReply, Option<i32>> {
        let Some(election) = Election::from_type(election_type) else {
            return Ok(ControllerReply::Error(ApiError::new(
                E::InvalidRequest,
                format!("Unknown election type {election_type}"),
            )));
        };
        let (changes, results) = {
            let image = self.shared.image.read();
            plan_elections(&image, election, partitions.as_deref())
        };
        if !changes.is_empty() {
            for c in &changes {
                tracing::info!(
                    topic_id = %c.topic_id,
                    partition = c.state.partition,
                    leader = c.state.leader,
                    ?election,
                    "leader elected on request"
                );
            }
            // A leader change can't be refused on replay: only the quorum can fail it.
            if let Err(WriteError::NotController(l)) =
                self.write(MetaRecord::PartitionChanges(changes)).await
            {
                return Err(l);
            }
        }
        Ok(ControllerReply::LeadersElected(results))
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

/// A new partition: every live replica is in sync (they are all empty, as in Kafka) and the
/// first of them leads. With every replica fenced there is no leader and the first replica is
/// the ISR, to lead when it comes back.
fn new_partition(image: &Image, p: i32, replicas: Vec<i32>) -> PartitionState {
    let mut isr: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|&r| image.is_live(r))
        .collect();
    let leader = isr.first().copied().unwrap_or(-1);
    if isr.is_empty() {
        isr.extend(replicas.first());
    }
    PartitionState {
        partition: p,
        isr,
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

/// `p` under a new leader, when one may lead: its first live in-sync replica or, with
/// `unclean`, its first live replica, which becomes the ISR alone (what only the lost in-sync
/// replicas had is gone, as after Kafka's unclean election). Both epochs are bumped.
fn new_leader(
    p: &PartitionState,
    live: impl Fn(i32) -> bool,
    unclean: bool,
) -> Option<PartitionState> {
    let mut next = p.clone();
    if let Some(leader) = p.isr.iter().copied().find(|&r| live(r)) {
        next.leader = leader;
    } else if unclean && let Some(leader) = p.replicas.iter().copied().find(|&r| live(r)) {
        next.leader = leader;
        next.isr = vec![leader];
    } else {
        return None;
    }
    next.leader_epoch += 1;
    next.partition_epoch += 1;
    Some(next)
}

/// `node_id` is fenced: every partition it leads moves to another live in-sync replica, else
/// (where the topic allows unclean election) to another live replica, else to no leader; it
/// leaves the ISRs it was in unless it was the last member (without KIP-966's eligible leader
/// replicas, Kafka keeps the last member so that it alone may lead cleanly when it returns).
fn elect_for_leaving(image: &Image, node_id: i32) -> Vec<PartitionChange> {
    let live = |r: i32| r != node_id && image.is_live(r);
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
            let next = if p.leader != node_id {
                next.partition_epoch += 1;
                next
            } else if let Some(elected) = new_leader(&next, live, image.unclean_election_enabled(t))
            {
                elected
            } else {
                next.leader = -1;
                next.leader_epoch += 1;
                next.partition_epoch += 1;
                next
            };
            changes.push(PartitionChange {
                topic_id: t.id,
                state: next,
            });
        }
    }
    changes
}

/// Every leaderless partition that may have a leader on `image` gets one (see [`new_leader`]):
/// a returning broker leads where it is the in-sync replica, and a live replica leads where the
/// topic allows unclean election (checked when a broker returns and on every tick, so that
/// turning the config on elects soon after).
fn elect_leaderless(image: &Image) -> Vec<PartitionChange> {
    let mut changes = Vec::new();
    for t in image.topics.values() {
        for p in t.partitions.iter().filter(|p| p.leader == -1) {
            let live = |r: i32| image.is_live(r);
            if let Some(state) = new_leader(p, live, image.unclean_election_enabled(t)) {
                changes.push(PartitionChange {
                    topic_id: t.id,
                    state,
                });
            }
        }
    }
    changes
}

/// The elections ElectLeaders asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Election {
    /// Each partition's first replica leads again, if it is live and in sync.
    Preferred,
    /// A leaderless partition is led by a live replica even if none is in sync, whatever the
    /// topic's `unclean.leader.election.enable` (the operator asked).
    Unclean,
}

impl Election {
    /// Kafka's ElectionType: 0 preferred, 1 unclean.
    pub fn from_type(election_type: i8) -> Option<Election> {
        match election_type {
            0 => Some(Election::Preferred),
            1 => Some(Election::Unclean),
            _ => None,
        }
    }
}

/// One partition's ElectLeaders outcome: its new state, or Kafka's reason for none.
fn elect(
    image: &Image,
    p: &PartitionState,
    election: Election,
) -> Result<PartitionState, ApiError> {
    let live = |r: i32| image.is_live(r);
    match election {
        Election::Preferred => {
            let preferred = p.replicas.first().copied().unwrap_or(-1);
            if p.leader == preferred {
                return Err(ApiError::new(
                    E::ElectionNotNeeded,
                    "Leader election not needed for topic partition.",
                ));
            }
            if !live(preferred) || !p.isr.contains(&preferred) {
                return Err(ApiError::new(
                    E::PreferredLeaderNotAvailable,
                    format!(
                        "Failed to elect leader for partition {}: preferred replica {preferred} is not live and in sync.",
                        p.partition
                    ),
                ));
            }
            let mut next = p.clone();
            next.leader = preferred;
            next.leader_epoch += 1;
            next.partition_epoch += 1;
            Ok(next)
        }
        Election::Unclean => {
            if p.leader != -1 {
                return Err(ApiError::new(
                    E::ElectionNotNeeded,
                    "Leader election not needed for topic partition.",
                ));
            }
            new_leader(p, live, true).ok_or_else(|| {
                ApiError::new(
                    E::EligibleLeadersNotAvailable,
                    format!(
                        "Failed to elect leader for partition {}: no replica is live.",
                        p.partition
                    ),
                )
            })
        }
    }
}

/// Preferred leader election over the whole image: every partition whose first replica is
/// live and in sync but does not lead is led by it from the next leader epoch.
pub fn preferred_elections(image: &Image) -> Vec<PartitionChange> {
    image
        .topics
        .values()
        .flat_map(|t| {
            t.partitions.iter().filter_map(|p| {
                let state = elect(image, p, Election::Preferred).ok()?;
                Some(PartitionChange {
                    topic_id: t.id,
                    state,
                })
            })
        })
        .collect()
}

/// What an ElectLeaders comes to on `image`: the changes to write, and one result per
/// partition asked for, in order; with `partitions` None, every partition's result except
/// those whose election was not needed (Kafka leaves those out of an all-partitions answer).
pub fn plan_elections(
    image: &Image,
    election: Election,
    partitions: Option<&[(Uuid, i32)]>,
) -> (Vec<PartitionChange>, Vec<ElectionResult>) {
    let wanted: Vec<(Uuid, i32)> = match partitions {
        Some(list) => list.to_vec(),
        None => image
            .topics
            .values()
            .flat_map(|t| t.partitions.iter().map(|p| (t.id, p.partition)))
            .collect(),
    };
    // A partition named twice is answered from the state the first election gave it.
    let mut elected: BTreeMap<(Uuid, i32), PartitionState> = BTreeMap::new();
    let mut results = Vec::with_capacity(wanted.len());
    for (topic_id, partition) in wanted {
        let current = elected
            .get(&(topic_id, partition))
            .or_else(|| image.partition(topic_id, partition).map(|(_, p)| p));
        let result = match current {
            None => Err(ApiError::new(
                E::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            )),
            Some(p) => elect(image, p, election).map(|state| {
                elected.insert((topic_id, partition), state);
            }),
        };
        let not_needed = matches!(&result, Err(e) if e.code == E::ElectionNotNeeded.code());
        if partitions.is_some() || !not_needed {
            results.push((topic_id, partition, result));
        }
    }
    let changes = elected
        .into_iter()
        .map(|((topic_id, _), state)| PartitionChange { topic_id, state })
        .collect();
    (changes, results)
}

/// What an AlterPartition decided: the state to write, or the current one when nothing is to
/// change (a retry of a change already made).
#[derive(Debug, PartialEq, Eq)]
enum IsrChange {
    To(PartitionChange),
    Unchanged(PartitionState),
}

/// An AlterPartition comes from the incarnation of `node_id` that registered last (Kafka's
/// broker epoch check): else STALE_BROKER_EPOCH.
fn check_broker_epoch(image: &Image, node_id: i32, broker_epoch: i64) -> Result<(), ApiError> {
    match image.brokers.get(&node_id) {
        Some(b) if b.epoch == broker_epoch => Ok(()),
        Some(b) => Err(ApiError::new(
            E::StaleBrokerEpoch,
            format!(
                "Expected broker epoch {}, but got broker epoch {broker_epoch}",
                b.epoch
            ),
        )),
        None => Err(ApiError::new(
            E::StaleBrokerEpoch,
            format!("No broker registration found for broker {node_id}"),
        )),
    }
}

/// Check an AlterPartition from `node_id` against `image`, in Kafka's order, and decide the
/// new state: the ISR as asked, the partition epoch bumped, the leader and its epoch kept.
/// A leader that retries a change already committed (an older partition epoch, the ISR asked
/// is the current one) gets the current state, as Kafka answers such retries. Kafka's KRaft
/// controller says INVALID_REQUEST where this says NOT_LEADER_OR_FOLLOWER (the asker does not
/// lead) and INELIGIBLE_REPLICA (a member is no replica): the asker learns more.
fn plan_isr_change(
    image: &Image,
    node_id: i32,
    topic_id: Uuid,
    partition: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    new_isr: &[i32],
) -> Result<IsrChange, ApiError> {
    let Some((_, p)) = image.partition(topic_id, partition) else {
        return Err(ApiError::new(
            E::UnknownTopicOrPartition,
            "This server does not host this topic-partition.",
        ));
    };
    if leader_epoch != p.leader_epoch {
        return Err(ApiError::new(
            E::FencedLeaderEpoch,
            format!(
                "The leader epoch of partition {partition} is {}, not {leader_epoch}.",
                p.leader_epoch
            ),
        ));
    }
    if node_id != p.leader {
        return Err(ApiError::new(
            E::NotLeaderOrFollower,
            format!(
                "Broker {node_id} does not lead partition {partition}; {} does.",
                p.leader
            ),
        ));
    }
    let same_isr = {
        let (mut asked, mut current) = (new_isr.to_vec(), p.isr.clone());
        asked.sort_unstable();
        current.sort_unstable();
        asked == current
    };
    if partition_epoch != p.partition_epoch {
        if same_isr {
            return Ok(IsrChange::Unchanged(p.clone()));
        }
        return Err(ApiError::new(
            E::InvalidUpdateVersion,
            format!(
                "The partition epoch of partition {partition} is {}, not {partition_epoch}.",
                p.partition_epoch
            ),
        ));
    }
    let duplicate = new_isr
        .iter()
        .enumerate()
        .any(|(i, r)| new_isr[..i].contains(r));
    if new_isr.is_empty() || duplicate || !new_isr.contains(&node_id) {
        return Err(ApiError::new(
            E::InvalidRequest,
            format!(
                "Invalid ISR {new_isr:?}: it must hold the leader {node_id} and no replica twice."
            ),
        ));
    }
    if let Some(&r) = new_isr
        .iter()
        .find(|&&r| !p.replicas.contains(&r) || !image.is_live(r))
    {
        let why = if p.replicas.contains(&r) {
            "is fenced or not registered"
        } else {
            "is not a replica"
        };
        return Err(ApiError::new(
            E::IneligibleReplica,
            format!("Broker {r} in the new ISR {new_isr:?} of partition {partition} {why}."),
        ));
    }
    if same_isr {
        return Ok(IsrChange::Unchanged(p.clone()));
    }
    let mut state = p.clone();
    state.isr = new_isr.to_vec();
    state.partition_epoch += 1;
    Ok(IsrChange::To(PartitionChange { topic_id, state }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::image::UNCLEAN_LEADER_ELECTION as UNCLEAN;

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
        assert!(
            elect_leaderless(&img).is_empty(),
            "nothing may lead partition 0"
        );
        img.apply(
            5,
            &MetaRecord::BrokerFenced {
                node_id: 2,
                fenced: false,
                changes: vec![],
            },
        );
        let back = elect_leaderless(&img);
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

    fn state(p: i32, replicas: &[i32], isr: &[i32], leader: i32) -> PartitionState {
        PartitionState {
            partition: p,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 3,
            partition_epoch: 7,
        }
    }

    /// Brokers registered at indexes 1.. (their broker epochs), and topic "t" with `parts`.
    fn image_with_topic(
        brokers: &[i32],
        parts: Vec<PartitionState>,
        configs: &[(&str, &str)],
    ) -> (Image, Uuid) {
        let mut img = image_with(brokers);
        let id = Uuid::new_v4();
        img.apply(
            100,
            &MetaRecord::Topic {
                name: "t".into(),
                id,
                configs: configs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                partitions: parts,
            },
        );
        (img, id)
    }

    fn fence(img: &mut Image, node_id: i32) {
        img.apply(
            101,
            &MetaRecord::BrokerFenced {
                node_id,
                fenced: true,
                changes: vec![],
            },
        );
    }

    fn code(r: Result<IsrChange, ApiError>) -> i16 {
        r.unwrap_err().code
    }

    #[test]
    fn new_partitions_have_every_live_replica_in_sync() {
        let mut img = image_with(&[1, 2, 3]);
        let p = new_partition(&img, 0, vec![2, 3, 1]);
        assert_eq!((p.leader, p.isr.clone()), (2, vec![2, 3, 1]));
        fence(&mut img, 2);
        let p = new_partition(&img, 1, vec![2, 3, 1]);
        assert_eq!((p.leader, p.isr.clone()), (3, vec![3, 1]));
        fence(&mut img, 3);
        fence(&mut img, 1);
        let p = new_partition(&img, 2, vec![2, 3, 1]);
        assert_eq!((p.leader, p.isr.clone()), (-1, vec![2]));
        // Through topic creation too.
        let mut img = image_with(&[1, 2, 3]);
        let (parts, _) = plan_topic(&img, &new_topic("t", 3, 3), -1).unwrap();
        assert!(parts.iter().all(|p| p.isr == p.replicas));
        fence(&mut img, 3);
        let mut t = new_topic("u", -1, -1);
        t.assignments = vec![vec![3, 1, 2]];
        let (parts, _) = plan_topic(&img, &t, -1).unwrap();
        assert_eq!((parts[0].leader, parts[0].isr.clone()), (1, vec![1, 2]));
    }

    #[test]
    fn alter_partition_changes_the_isr() {
        let (img, id) =
            image_with_topic(&[1, 2, 3], vec![state(0, &[1, 2, 3], &[1, 2, 3], 1)], &[]);
        let shrink = plan_isr_change(&img, 1, id, 0, 3, 7, &[1, 3]).unwrap();
        let IsrChange::To(change) = shrink else {
            panic!("{shrink:?}");
        };
        assert_eq!(change.topic_id, id);
        assert_eq!(change.state.isr, vec![1, 3]);
        assert_eq!(change.state.partition_epoch, 8);
        assert_eq!((change.state.leader, change.state.leader_epoch), (1, 3));
        assert_eq!(change.state.replicas, vec![1, 2, 3]);

        // Once committed, a retry of the same change (one partition epoch behind) succeeds with
        // the current state; another ISR at the old epoch is refused.
        let mut img = img;
        img.apply(102, &MetaRecord::PartitionChanges(vec![change.clone()]));
        assert_eq!(
            plan_isr_change(&img, 1, id, 0, 3, 7, &[3, 1]),
            Ok(IsrChange::Unchanged(change.state.clone()))
        );
        assert_eq!(
            code(plan_isr_change(&img, 1, id, 0, 3, 7, &[1])),
            E::InvalidUpdateVersion.code()
        );
        assert_eq!(
            code(plan_isr_change(&img, 1, id, 0, 3, 9, &[1])),
            E::InvalidUpdateVersion.code()
        );
        // The same ISR at the current epoch changes nothing.
        assert_eq!(
            plan_isr_change(&img, 1, id, 0, 3, 8, &[1, 3]),
            Ok(IsrChange::Unchanged(change.state.clone()))
        );
        // Expanding back.
        let Ok(IsrChange::To(back)) = plan_isr_change(&img, 1, id, 0, 3, 8, &[1, 3, 2]) else {
            panic!("expand refused");
        };
        assert_eq!(
            (back.state.isr, back.state.partition_epoch),
            (vec![1, 3, 2], 9)
        );
    }

    #[test]
    fn alter_partition_refusals() {
        let (mut img, id) =
            image_with_topic(&[1, 2, 3, 4], vec![state(0, &[1, 2, 3], &[1, 2], 1)], &[]);
        fence(&mut img, 3);
        let plan = |node: i32, topic: Uuid, p: i32, le: i32, pe: i32, isr: &[i32]| {
            code(plan_isr_change(&img, node, topic, p, le, pe, isr))
        };
        let unknown = E::UnknownTopicOrPartition.code();
        assert_eq!(plan(1, Uuid::new_v4(), 0, 3, 7, &[1]), unknown);
        assert_eq!(plan(1, id, 1, 3, 7, &[1]), unknown);
        assert_eq!(plan(1, id, -1, 3, 7, &[1]), unknown);
        assert_eq!(plan(1, id, 0, 2, 7, &[1]), E::FencedLeaderEpoch.code());
        assert_eq!(plan(1, id, 0, 4, 7, &[1]), E::FencedLeaderEpoch.code());
        assert_eq!(plan(2, id, 0, 3, 7, &[2]), E::NotLeaderOrFollower.code());
        assert_eq!(plan(1, id, 0, 3, 6, &[1]), E::InvalidUpdateVersion.code());
        let invalid = E::InvalidRequest.code();
        assert_eq!(plan(1, id, 0, 3, 7, &[]), invalid);
        assert_eq!(plan(1, id, 0, 3, 7, &[2]), invalid, "lacks the leader");
        assert_eq!(plan(1, id, 0, 3, 7, &[1, 2, 1]), invalid, "a duplicate");
        let ineligible = E::IneligibleReplica.code();
        assert_eq!(plan(1, id, 0, 3, 7, &[1, 2, 3]), ineligible, "3 is fenced");
        assert_eq!(plan(1, id, 0, 3, 7, &[1, 4]), ineligible, "4 is no replica");
        assert_eq!(plan(1, id, 0, 3, 7, &[1, 9]), ineligible, "9 is unknown");

        // Broker epochs are registration indexes: broker 2 registered at index 2.
        assert_eq!(check_broker_epoch(&img, 2, 2), Ok(()));
        assert_eq!(
            check_broker_epoch(&img, 2, 1).unwrap_err().code,
            E::StaleBrokerEpoch.code()
        );
        assert_eq!(
            check_broker_epoch(&img, 9, 2).unwrap_err().code,
            E::StaleBrokerEpoch.code()
        );
    }

    #[test]
    fn unclean_election_follows_the_topic_then_the_cluster_default() {
        let parts = || {
            vec![
                state(0, &[1, 2, 3], &[1], 1),
                state(1, &[2, 1, 3], &[2, 1], 2),
            ]
        };
        // Off (Kafka's default): the last in-sync replica stays in the ISR, with no leader.
        let (img, _) = image_with_topic(&[1, 2, 3], parts(), &[]);
        assert!(!img.unclean_election_enabled(&img.topics["t"]));
        let changes = elect_for_leaving(&img, 1);
        assert_eq!(changes.len(), 2);
        let p0 = &changes[0].state;
        assert_eq!(
            (p0.leader, p0.isr.clone(), p0.leader_epoch),
            (-1, vec![1], 4)
        );
        assert_eq!(p0.partition_epoch, 8);
        let p1 = &changes[1].state;
        assert_eq!(
            (p1.leader, p1.isr.clone(), p1.leader_epoch),
            (2, vec![2], 3)
        );
        assert_eq!(p1.partition_epoch, 8);

        // On for the topic: a live replica leads, alone in the ISR.
        let (img, _) = image_with_topic(&[1, 2, 3], parts(), &[(UNCLEAN, "true")]);
        let p0 = &elect_for_leaving(&img, 1)[0].state;
        assert_eq!(
            (p0.leader, p0.isr.clone(), p0.leader_epoch),
            (2, vec![2], 4)
        );
        assert_eq!(p0.partition_epoch, 8);

        // The cluster-wide broker default applies unless the topic overrides it.
        let defaults = |img: &mut Image, v: &str| {
            img.apply(
                102,
                &MetaRecord::BrokerConfigs {
                    node_id: None,
                    configs: [(UNCLEAN.to_string(), v.to_string())].into(),
                },
            );
        };
        let (mut img, _) = image_with_topic(&[1, 2, 3], parts(), &[]);
        defaults(&mut img, "true");
        assert_eq!(elect_for_leaving(&img, 1)[0].state.leader, 2);
        let (mut img, _) = image_with_topic(&[1, 2, 3], parts(), &[(UNCLEAN, "false")]);
        defaults(&mut img, "true");
        assert_eq!(elect_for_leaving(&img, 1)[0].state.leader, -1);

        // With no other live replica nothing may lead, even unclean.
        let (mut img, _) = image_with_topic(&[1, 2, 3], parts(), &[(UNCLEAN, "true")]);
        fence(&mut img, 2);
        fence(&mut img, 3);
        assert_eq!(elect_for_leaving(&img, 1)[0].state.leader, -1);
    }

    #[test]
    fn leaderless_partitions_are_elected_when_allowed() {
        let (mut img, id) = image_with_topic(&[1, 2, 3], vec![state(0, &[1, 2, 3], &[1], -1)], &[]);
        fence(&mut img, 1);
        assert!(elect_leaderless(&img).is_empty(), "off: wait for broker 1");
        // Turned on: the next tick elects the first live replica.
        img.apply(
            102,
            &MetaRecord::TopicConfigs {
                id,
                configs: [(UNCLEAN.to_string(), "true".to_string())].into(),
            },
        );
        let changes = elect_leaderless(&img);
        assert_eq!(changes.len(), 1);
        let p = &changes[0].state;
        assert_eq!(
            (p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch),
            (2, vec![2], 4, 8)
        );
        img.apply(103, &MetaRecord::PartitionChanges(changes));
        assert!(elect_leaderless(&img).is_empty(), "led now");

        // Off, a replica that is not in sync coming back does not lead; the in-sync one does.
        let (mut img, _) = image_with_topic(&[1, 2, 3], vec![state(0, &[1, 2, 3], &[1], -1)], &[]);
        fence(&mut img, 1);
        fence(&mut img, 2);
        fence(&mut img, 3);
        img.apply(
            104,
            &MetaRecord::BrokerFenced {
                node_id: 2,
                fenced: false,
                changes: vec![],
            },
        );
        assert!(elect_leaderless(&img).is_empty());
        img.apply(
            105,
            &MetaRecord::BrokerFenced {
                node_id: 1,
                fenced: false,
                changes: vec![],
            },
        );
        let p = &elect_leaderless(&img)[0].state;
        assert_eq!((p.leader, p.isr.clone(), p.leader_epoch), (1, vec![1], 4));
    }

    #[test]
    fn preferred_and_unclean_elections_on_request() {
        let (mut img, id) = image_with_topic(
            &[1, 2, 3],
            vec![
                state(0, &[1, 2, 3], &[1, 2, 3], 1), // preferred leads
                state(1, &[1, 2, 3], &[1, 2, 3], 2), // preferred may lead
                state(2, &[3, 1, 2], &[1, 2], 1),    // preferred not in sync
                state(3, &[2, 1, 3], &[2], -1),      // leaderless, 3 live
                state(4, &[2], &[2], -1),            // leaderless, no live replica
            ],
            &[],
        );
        fence(&mut img, 2);
        // Broker 2 is fenced: partition 1's preferred leader 1 is live.
        let changes = preferred_elections(&img);
        assert_eq!(changes.len(), 1);
        let p1 = &changes[0].state;
        assert_eq!((changes[0].topic_id, p1.partition), (id, 1));
        assert_eq!((p1.leader, p1.leader_epoch, p1.partition_epoch), (1, 4, 8));
        assert_eq!(p1.isr, vec![1, 2, 3]);

        let all: Vec<(Uuid, i32)> = (0..5)
            .map(|p| (id, p))
            .chain([(Uuid::new_v4(), 0), (id, 9)])
            .collect();
        let codes = |results: &[ElectionResult]| -> Vec<(i32, i16)> {
            results
                .iter()
                .map(|(_, p, r)| (*p, r.as_ref().map(|()| 0).unwrap_or_else(|e| e.code)))
                .collect()
        };
        let (changes, results) = plan_elections(&img, Election::Preferred, Some(&all));
        assert_eq!(changes, preferred_elections(&img));
        let unknown = E::UnknownTopicOrPartition.code();
        let not_needed = E::ElectionNotNeeded.code();
        let unavailable = E::PreferredLeaderNotAvailable.code();
        assert_eq!(
            codes(&results),
            vec![
                (0, not_needed),
                (1, 0),
                (2, unavailable),
                (3, unavailable), // 2 is fenced
                (4, unavailable),
                (0, unknown),
                (9, unknown)
            ]
        );
        // Every partition: the ones not needing an election are left out.
        let (_, results) = plan_elections(&img, Election::Preferred, None);
        assert_eq!(
            codes(&results),
            vec![(1, 0), (2, unavailable), (3, unavailable), (4, unavailable)]
        );

        let (changes, results) = plan_elections(&img, Election::Unclean, Some(&all));
        assert_eq!(changes.len(), 1);
        let p3 = &changes[0].state;
        assert_eq!(
            (p3.partition, p3.leader, p3.isr.clone(), p3.leader_epoch),
            (3, 1, vec![1], 4)
        );
        let eligible = E::EligibleLeadersNotAvailable.code();
        assert_eq!(
            codes(&results),
            vec![
                (0, not_needed),
                (1, not_needed),
                (2, not_needed),
                (3, 0),
                (4, eligible),
                (0, unknown),
                (9, unknown)
            ]
        );
        // A partition named twice: the second answer sees the first election.
        let (changes, results) = plan_elections(&img, Election::Unclean, Some(&[(id, 3), (id, 3)]));
        assert_eq!(changes.len(), 1);
        assert_eq!(codes(&results), vec![(3, 0), (3, not_needed)]);

        assert_eq!(Election::from_type(0), Some(Election::Preferred));
        assert_eq!(Election::from_type(1), Some(Election::Unclean));
        assert_eq!(Election::from_type(2), None);
    }
}
