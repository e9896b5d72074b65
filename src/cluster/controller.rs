//! The active controller: the voter that leads the metadata quorum decides every change to the
//! cluster (topic placement, broker fencing, leader elections, producer id blocks) and writes it
//! to the metadata log as records. Brokers reach it with [`ControllerRequest`]s over the
//! CONTROLLER listener; a voter that is not the leader answers `NotController` with the leader
//! it knows of.
//!
//! **Owns:** validation of admin requests against the image, replica placement (Kafka's
//! rack-unaware round robin from a random start), broker liveness (heartbeats kept in memory on
//! the leader; a broker silent for `broker.session.timeout.ms` is fenced), the ISR changes
//! partition leaders ask for (AlterPartition, KIP-497), the elections (after fencing and
//! unfencing, unclean ones where `unclean.leader.election.enable` allows them, and the ones
//! ElectLeaders asks for), and partition reassignments (KIP-455: started, replaced or
//! cancelled on request, completed as soon as the replicas they add are in sync).
//!
//! **Must never:** change the image except by writing records through Raft, or make two
//! decisions at once (one `serial` lock: each decision reads the image its predecessor wrote).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::ResponseError as E;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::image::{Image, TopicImage};
use super::raft::state_machine::Shared;
use super::raft::store::LogReader;
use super::raft::types::{Raft, TypeConfig};
use super::records::{Endpoint, MetaRecord, MetaResponse, PartitionChange, PartitionState};
use crate::clock::Clock;
use crate::config::ClusterConfig;
use crate::error::Code;
use crate::security::acl::credentials::{self, AlterResult, Deletion, Upsertion};
use crate::security::acl::{AclBinding, AclBindingFilter};
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
    /// AlterPartitionReassignments (KIP-455): move each partition to its target replicas, or
    /// cancel its reassignment. `allow_replication_factor_change` false (KIP-860) refuses a
    /// target whose size differs from the replica count the partition is headed for.
    AlterReassignments {
        reassignments: Vec<Reassignment>,
        allow_replication_factor_change: bool,
    },
    /// ListPartitionReassignments: the reassignments in progress among `partitions` (topic
    /// name, index), or all of them.
    ListReassignments {
        partitions: Option<Vec<(String, i32)>>,
    },
    /// CreateAcls: each binding checked, the new ones written at once.
    CreateAcls {
        bindings: Vec<AclBinding>,
    },
    /// DeleteAcls: the bindings each filter matches, removed at once.
    DeleteAcls {
        filters: Vec<AclBindingFilter>,
    },
    /// AlterUserScramCredentials, decided against the image (see `credentials::alter`).
    AlterScramCredentials {
        deletions: Vec<Deletion>,
        upsertions: Vec<Upsertion>,
    },
    /// Replace a group's configs (checked by the asking broker), if they still are `expected`.
    AlterGroupConfigs {
        group: String,
        configs: BTreeMap<String, String>,
        expected: BTreeMap<String, String>,
    },
}

/// One partition of an AlterPartitionReassignments: the replicas it is to move to, or `None`
/// to cancel the reassignment in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassignment {
    pub topic: String,
    pub partition: i32,
    pub target: Option<Vec<i32>>,
}

/// A reassignment in progress, as ListPartitionReassignments shows it: the whole replica set
/// (target first, then the replicas being removed) and what is being added and removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OngoingReassignment {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
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
    /// The reassignments in progress a ListReassignments asked for, by topic and partition.
    Reassignments(Vec<OngoingReassignment>),
    /// The bindings each filter of a DeleteAcls removed, in the request's order.
    AclsDeleted(Vec<Result<Vec<AclBinding>, ApiError>>),
    /// One result per user of an AlterScramCredentials.
    ScramAltered(Vec<AlterResult>),
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
            ControllerRequest::AlterReassignments {
                reassignments,
                allow_replication_factor_change,
            } => {
                self.alter_reassignments(reassignments, allow_replication_factor_change)
                    .await
            }
            ControllerRequest::ListReassignments { partitions } => {
                let image = self.shared.image.read();
                Ok(ControllerReply::Reassignments(list_reassignments(
                    &image,
                    partitions.as_deref(),
                )))
            }
            ControllerRequest::CreateAcls { bindings } => self.create_acls(bindings).await,
            ControllerRequest::DeleteAcls { filters } => self.delete_acls(filters).await,
            ControllerRequest::AlterScramCredentials {
                deletions,
                upsertions,
            } => self.alter_scram_credentials(deletions, upsertions).await,
            ControllerRequest::AlterGroupConfigs {
                group, expected, ..
            } if self
                .shared
                .image
                .read()
                .group_configs
                .get(&group)
                .cloned()
                .unwrap_or_default()
                != expected =>
            {
                Ok(ControllerReply::Stale)
            }
            ControllerRequest::AlterGroupConfigs { group, configs, .. } => self
                .write_or(
                    MetaRecord::GroupConfigs { group, configs },
                    E::InvalidConfig,
                )
                .await
                .map(|result| ControllerReply::Done(vec![result])),
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
            let leaders_moved = changes.len();
            let record = MetaRecord::BrokerFenced {
                node_id,
                fenced: true,
                changes,
            };
            // Logged once committed: a controller cut off from the quorum fences no one.
            if self.write(record).await.is_err() {
                return;
            }
            tracing::warn!(
                node_id,
                leaders_moved,
                "broker fenced: no heartbeat for {} ms (broker.session.timeout.ms)",
                self.config.broker_session_timeout_ms
            );
        }
        // Give a leader to every leaderless partition that may have one now: mostly partitions
        // whose topic allowed unclean election after they lost their last in-sync replica.
        for c in self.write_planned(elect_leaderless).await {
            tracing::warn!(
                topic_id = %c.topic_id,
                partition = c.state.partition,
                leader = c.state.leader,
                isr = ?c.state.isr,
                "leaderless partition gets a leader"
            );
        }
        for c in self.write_planned(complete_reassignments).await {
            tracing::info!(
                topic_id = %c.topic_id,
                partition = c.state.partition,
                replicas = ?c.state.replicas,
                leader = c.state.leader,
                "partition reassignment completed"
            );
        }
    }

    /// Write the changes `plan` finds on the image, decided on one that holds everything
    /// committed (a new leader may lag); the changes written.
    async fn write_planned(
        &self,
        plan: fn(&Image) -> Vec<PartitionChange>,
    ) -> Vec<PartitionChange> {
        if plan(&self.shared.image.read()).is_empty() {
            return vec![];
        }
        let _serial = self.serial.lock().await;
        if self.raft.ensure_linearizable().await.is_err() {
            return vec![];
        }
        let changes = plan(&self.shared.image.read());
        if changes.is_empty()
            || self
                .write(MetaRecord::PartitionChanges(changes.clone()))
                .await
                .is_err()
        {
            return vec![];
        }
        changes
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
            replicas = ?state.replicas,
            leader = state.leader,
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

    async fn alter_reassignments(
        &self,
        reassignments: Vec<Reassignment>,
        allow_rf_change: bool,
    ) -> Result<ControllerReply, Option<i32>> {
        let (changes, results) = {
            let image = self.shared.image.read();
            plan_reassignments(&image, &reassignments, allow_rf_change)
        };
        if !changes.is_empty() {
            for c in &changes {
                tracing::info!(
                    topic_id = %c.topic_id,
                    partition = c.state.partition,
                    replicas = ?c.state.replicas,
                    adding = ?c.state.adding_replicas,
                    removing = ?c.state.removing_replicas,
                    leader = c.state.leader,
                    "partition reassignment changed"
                );
            }
            // A partition change can't be refused on replay: only the quorum can fail it.
            if let Err(WriteError::NotController(l)) =
                self.write(MetaRecord::PartitionChanges(changes)).await
            {
                return Err(l);
            }
        }
        Ok(ControllerReply::Done(results))
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

    /// CreateAcls, as Kafka's AclControlManager: each binding validated (INVALID_REQUEST), the
    /// ones not there yet written in one record; an existing binding is a success.
    async fn create_acls(&self, bindings: Vec<AclBinding>) -> Result<ControllerReply, Option<i32>> {
        let mut created = std::collections::BTreeSet::new();
        let results: Vec<Result<(), ApiError>> = {
            let image = self.shared.image.read();
            bindings
                .into_iter()
                .map(|b| {
                    b.validate()
                        .map_err(|why| ApiError::new(E::InvalidRequest, why))?;
                    if !image.acls.contains(&b) {
                        created.insert(b);
                    }
                    Ok(())
                })
                .collect()
        };
        if !created.is_empty() {
            let record = MetaRecord::Acls {
                created: created.into_iter().collect(),
                deleted: vec![],
            };
            match self.write(record).await {
                Ok(()) | Err(WriteError::Rejected(_)) => {}
                Err(WriteError::NotController(l)) => return Err(l),
            }
        }
        Ok(ControllerReply::Done(results))
    }

    /// DeleteAcls: each filter's matches (a filter with an UNKNOWN field is INVALID_REQUEST),
    /// all removed in one record.
    async fn delete_acls(
        &self,
        filters: Vec<AclBindingFilter>,
    ) -> Result<ControllerReply, Option<i32>> {
        let mut deleted = std::collections::BTreeSet::new();
        let results: Vec<Result<Vec<AclBinding>, ApiError>> = {
            let image = self.shared.image.read();
            filters
                .iter()
                .map(|f| {
                    if let Some(why) = f.unknown_field() {
                        return Err(ApiError::new(E::InvalidRequest, why));
                    }
                    let matched: Vec<AclBinding> = image
                        .acls
                        .iter()
                        .filter(|b| f.matches(b))
                        .cloned()
                        .collect();
                    deleted.extend(matched.iter().cloned());
                    Ok(matched)
                })
                .collect()
        };
        if !deleted.is_empty() {
            let record = MetaRecord::Acls {
                created: vec![],
                deleted: deleted.into_iter().collect(),
            };
            match self.write(record).await {
                Ok(()) | Err(WriteError::Rejected(_)) => {}
                Err(WriteError::NotController(l)) => return Err(l),
            }
        }
        Ok(ControllerReply::AclsDeleted(results))
    }

    /// AlterUserScramCredentials, decided against the image and written as one record.
    async fn alter_scram_credentials(
        &self,
        deletions: Vec<Deletion>,
        upsertions: Vec<Upsertion>,
    ) -> Result<ControllerReply, Option<i32>> {
        let (results, changes) = {
            let image = self.shared.image.read();
            credentials::alter(&image.scram_credentials, &deletions, &upsertions)
        };
        if !changes.is_empty() {
            match self.write(MetaRecord::ScramCredentials(changes)).await {
                Ok(()) | Err(WriteError::Rejected(_)) => {}
                Err(WriteError::NotController(l)) => return Err(l),
            }
        }
        Ok(ControllerReply::ScramAltered(results))
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
        adding_replicas: vec![],
        removing_replicas: vec![],
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

/// Kafka's check of a manual assignment's replicas, in its order (ids ascending): the list is
/// not empty, and every id is a registered broker named once. INVALID_REPLICA_ASSIGNMENT.
pub fn check_reassignment_target(
    target: &[i32],
    registered: impl Fn(i32) -> bool,
) -> Result<(), ApiError> {
    let invalid = |why: String| Err(ApiError::new(E::InvalidReplicaAssignment, why));
    if target.is_empty() {
        return invalid("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted = target.to_vec();
    sorted.sort_unstable();
    for (i, &id) in sorted.iter().enumerate() {
        if !registered(id) {
            return invalid(format!(
                "The manual partition assignment includes broker {id}, but no broker with that id is registered."
            ));
        }
        if i > 0 && sorted[i - 1] == id {
            return invalid(format!(
                "The manual partition assignment includes the broker {id} more than once."
            ));
        }
    }
    Ok(())
}

/// The replicas `p` had before its reassignment began (all of them when none is in progress).
fn original_replicas(p: &PartitionState) -> Vec<i32> {
    p.replicas
        .iter()
        .copied()
        .filter(|r| !p.adding_replicas.contains(r))
        .collect()
}

/// What one partition of an AlterPartitionReassignments comes to on `image`: its new state,
/// `None` when nothing is to change (the target is the current assignment), or Kafka's error.
///
/// A reassignment to `target` is computed against the original replicas (KIP-455; a new one
/// replaces one in progress): the replicas become the target followed by the original
/// replicas not in it, the ones added are adding, the original ones left out removing; a
/// replica an earlier reassignment was adding and this one drops leaves at once. A cancel
/// (`None`) goes back to the original replicas. Either way the ISR keeps only replicas, the
/// reassignment completes at once if it may (see [`settle`]), and a leader that is no longer
/// in the ISR is replaced. Should no in-sync replica remain, the change would be an unclean
/// election: refused (INVALID_REPLICA_ASSIGNMENT) unless the topic allows unclean election,
/// when the first replica becomes the ISR (Kafka's `PartitionReassignmentRevert`).
fn plan_reassignment(
    image: &Image,
    topic: &TopicImage,
    p: &PartitionState,
    target: Option<&[i32]>,
    allow_rf_change: bool,
) -> Result<Option<PartitionState>, ApiError> {
    let original = original_replicas(p);
    let mut next = p.clone();
    match target {
        None => {
            if !p.reassigning() {
                return Err(ApiError::new(
                    E::NoReassignmentInProgress,
                    "No partition reassignment is in progress.",
                ));
            }
            next.replicas = original;
            next.adding_replicas.clear();
            next.removing_replicas.clear();
        }
        Some(target) => {
            check_reassignment_target(target, |id| image.brokers.contains_key(&id))?;
            // The replicas it is headed for: the target of the one in progress, if any.
            let heading = p.replicas.len() - p.removing_replicas.len();
            if !allow_rf_change && heading != target.len() {
                return Err(ApiError::new(
                    E::InvalidReplicationFactor,
                    format!(
                        "The replication factor is changed from {heading} to {}",
                        target.len()
                    ),
                ));
            }
            let not_in = |list: &[i32], of: &[i32]| -> Vec<i32> {
                list.iter().copied().filter(|r| !of.contains(r)).collect()
            };
            next.removing_replicas = not_in(&original, target);
            next.adding_replicas = not_in(target, &original);
            next.replicas = target.to_vec();
            next.replicas.extend(&next.removing_replicas);
        }
    }
    let unchanged = next.replicas == p.replicas
        && next.adding_replicas == p.adding_replicas
        && next.removing_replicas == p.removing_replicas;
    if unchanged {
        return Ok(None);
    }
    next.isr.retain(|r| next.replicas.contains(r));
    if next.isr.is_empty() {
        if !image.unclean_election_enabled(topic) {
            return Err(ApiError::new(
                E::InvalidReplicaAssignment,
                format!(
                    "Unable to change the assignment of partition {}:{} because it would require an unclean leader election.",
                    topic.name, p.partition
                ),
            ));
        }
        next.isr = next.replicas[..1].to_vec();
    }
    Ok(Some(settle(image, p, next)))
}

/// `prev` becomes `next` (a new ISR or replica set, its epochs still `prev`'s): a reassignment
/// in progress completes once it may, a leader outside the ISR is replaced by the first
/// replica in the ISR that is live (or none), at the next leader epoch, and the partition
/// epoch moves on.
///
/// A reassignment completes (KIP-455) when every replica it adds is in the ISR: the replicas
/// become the target (the replicas it removes leave, from the ISR too), unless no in-sync
/// replica would be left; then it waits.
fn settle(image: &Image, prev: &PartitionState, mut next: PartitionState) -> PartitionState {
    if next.reassigning() && next.adding_replicas.iter().all(|r| next.isr.contains(r)) {
        let removing = std::mem::take(&mut next.removing_replicas);
        let isr: Vec<i32> = next
            .isr
            .iter()
            .copied()
            .filter(|r| !removing.contains(r))
            .collect();
        if isr.is_empty() {
            next.removing_replicas = removing;
        } else {
            next.isr = isr;
            next.replicas.retain(|r| !removing.contains(r));
            next.adding_replicas.clear();
        }
    }
    if !next.isr.contains(&next.leader) {
        let leader = next
            .replicas
            .iter()
            .copied()
            .find(|&r| next.isr.contains(&r) && image.is_live(r))
            .unwrap_or(-1);
        if leader != next.leader {
            next.leader = leader;
            next.leader_epoch = prev.leader_epoch + 1;
        }
    }
    next.partition_epoch = prev.partition_epoch + 1;
    next
}

/// What an AlterPartitionReassignments comes to on `image`: the changes to write, and one
/// result per partition asked for, in order (a partition named twice is answered from the
/// state the first gave it).
pub fn plan_reassignments(
    image: &Image,
    reassignments: &[Reassignment],
    allow_rf_change: bool,
) -> (Vec<PartitionChange>, Vec<Result<(), ApiError>>) {
    let mut planned: BTreeMap<(Uuid, i32), PartitionState> = BTreeMap::new();
    let mut results = Vec::with_capacity(reassignments.len());
    for r in reassignments {
        let Some(topic) = image.topics.get(&r.topic) else {
            results.push(Err(ApiError::new(
                E::UnknownTopicOrPartition,
                format!("Unable to find a topic named {}.", r.topic),
            )));
            continue;
        };
        let current = planned.get(&(topic.id, r.partition)).or_else(|| {
            let index = usize::try_from(r.partition).ok()?;
            topic.partitions.get(index)
        });
        let Some(p) = current else {
            results.push(Err(ApiError::new(
                E::UnknownTopicOrPartition,
                format!("Unable to find partition {}:{}.", r.topic, r.partition),
            )));
            continue;
        };
        let result = plan_reassignment(image, topic, p, r.target.as_deref(), allow_rf_change);
        results.push(result.map(|next| {
            if let Some(state) = next {
                planned.insert((topic.id, r.partition), state);
            }
        }));
    }
    let changes = planned
        .into_iter()
        .map(|((topic_id, _), state)| PartitionChange { topic_id, state })
        .collect();
    (changes, results)
}

/// Every reassignment that may complete on `image` but has not (its last adding replica
/// joined the ISR other than through AlterPartition, as an unclean election's only member):
/// completed, as [`settle`] does. Run on every tick.
fn complete_reassignments(image: &Image) -> Vec<PartitionChange> {
    let mut changes = Vec::new();
    for t in image.topics.values() {
        for p in t.partitions.iter().filter(|p| p.reassigning()) {
            let state = settle(image, p, p.clone());
            if !state.reassigning() {
                changes.push(PartitionChange {
                    topic_id: t.id,
                    state,
                });
            }
        }
    }
    changes
}

/// The reassignments in progress on `image`, by topic and partition: every one, or those of
/// `partitions` (topic name, index; unknown ones are left out, as Kafka does).
pub fn list_reassignments(
    image: &Image,
    partitions: Option<&[(String, i32)]>,
) -> Vec<OngoingReassignment> {
    let mut out: BTreeMap<(&str, i32), &PartitionState> = BTreeMap::new();
    for t in image.topics.values() {
        for p in t.partitions.iter().filter(|p| p.reassigning()) {
            let asked = partitions.is_none_or(|list| {
                list.iter()
                    .any(|(name, i)| *name == t.name && *i == p.partition)
            });
            if asked {
                out.insert((t.name.as_str(), p.partition), p);
            }
        }
    }
    out.into_iter()
        .map(|((topic, partition), p)| OngoingReassignment {
            topic: topic.to_string(),
            partition,
            replicas: p.replicas.clone(),
            adding: p.adding_replicas.clone(),
            removing: p.removing_replicas.clone(),
        })
        .collect()
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
    let next = PartitionState {
        isr: new_isr.to_vec(),
        ..p.clone()
    };
    let state = settle(image, p, next);
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
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        let shared = PartitionState {
            partition: 1,
            replicas: vec![2, 1],
            isr: vec![2, 1],
            leader: 2,
            leader_epoch: 3,
            partition_epoch: 5,
            adding_replicas: vec![],
            removing_replicas: vec![],
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
            adding_replicas: vec![],
            removing_replicas: vec![],
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

    fn reassign(topic: &str, partition: i32, target: Option<&[i32]>) -> Reassignment {
        Reassignment {
            topic: topic.into(),
            partition,
            target: target.map(<[i32]>::to_vec),
        }
    }

    /// Plan `asked` on `img` (RF changes allowed), apply what it decided, and return the codes
    /// (0 for success) and partition 0's state after it.
    fn reassign_on(img: &mut Image, asked: &[Reassignment]) -> (Vec<i16>, PartitionState) {
        let (changes, results) = plan_reassignments(img, asked, true);
        img.apply(200, &MetaRecord::PartitionChanges(changes));
        let codes = results
            .iter()
            .map(|r| r.as_ref().map(|()| 0).unwrap_or_else(|e| e.code))
            .collect();
        (codes, img.topics["t"].partitions[0].clone())
    }

    /// `(replicas, adding, removing, isr, leader, leader epoch, partition epoch)`.
    type Shape = (Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>, i32, i32, i32);

    fn shape(p: &PartitionState) -> Shape {
        (
            p.replicas.clone(),
            p.adding_replicas.clone(),
            p.removing_replicas.clone(),
            p.isr.clone(),
            p.leader,
            p.leader_epoch,
            p.partition_epoch,
        )
    }

    #[test]
    fn reassignment_adds_then_completes_when_the_new_replica_is_in_sync() {
        let (mut img, id) = image_with_topic(&[1, 2, 3], vec![state(0, &[1, 2], &[1, 2], 1)], &[]);
        let (codes, p) = reassign_on(&mut img, &[reassign("t", 0, Some(&[2, 3]))]);
        assert_eq!(codes, vec![0]);
        // Target first, then what it removes; the leader (being removed) leads on meanwhile.
        assert_eq!(
            shape(&p),
            (vec![2, 3, 1], vec![3], vec![1], vec![1, 2], 1, 3, 8)
        );
        assert_eq!(
            list_reassignments(&img, None),
            vec![OngoingReassignment {
                topic: "t".into(),
                partition: 0,
                replicas: vec![2, 3, 1],
                adding: vec![3],
                removing: vec![1],
            }]
        );
        assert_eq!(list_reassignments(&img, Some(&[("t".into(), 1)])), vec![]);
        assert_eq!(list_reassignments(&img, Some(&[("u".into(), 0)])), vec![]);
        assert_eq!(list_reassignments(&img, Some(&[("t".into(), 0)])).len(), 1);
        assert!(complete_reassignments(&img).is_empty(), "3 is not in sync");

        // 3 caught up: the leader's AlterPartition completes it. The old leader leaves, the
        // first in-sync replica of the target leads at the next leader epoch.
        let Ok(IsrChange::To(change)) = plan_isr_change(&img, 1, id, 0, 3, 8, &[1, 2, 3]) else {
            panic!("expansion refused");
        };
        assert_eq!(
            shape(&change.state),
            (vec![2, 3], vec![], vec![], vec![2, 3], 2, 4, 9)
        );
        img.apply(201, &MetaRecord::PartitionChanges(vec![change]));
        assert!(list_reassignments(&img, None).is_empty());
    }

    #[test]
    fn reassignment_requests_are_checked_as_kafka_does() {
        let (img, _) = image_with_topic(&[1, 2, 3], vec![state(0, &[1, 2], &[1, 2], 1)], &[]);
        let asked = [
            reassign("t", 0, Some(&[])),
            reassign("t", 0, Some(&[2, 2])),
            reassign("t", 0, Some(&[2, 9])),
            reassign("nope", 0, Some(&[2, 3])),
            reassign("t", 1, Some(&[2, 3])),
            reassign("t", -1, Some(&[2, 3])),
            reassign("t", 0, None),
            reassign("t", 0, Some(&[2, 3, 1])),
        ];
        let (changes, results) = plan_reassignments(&img, &asked, false);
        assert!(changes.is_empty());
        let errors: Vec<(i16, String)> = results
            .into_iter()
            .map(|r| {
                let e = r.unwrap_err();
                (e.code, e.message)
            })
            .collect();
        let invalid = E::InvalidReplicaAssignment.code();
        let unknown = E::UnknownTopicOrPartition.code();
        assert_eq!(
            errors,
            vec![
                (
                    invalid,
                    "The manual partition assignment includes an empty replica list.".into()
                ),
                (
                    invalid,
                    "The manual partition assignment includes the broker 2 more than once.".into()
                ),
                (
                    invalid,
                    "The manual partition assignment includes broker 9, but no broker with that id is registered.".into()
                ),
                (unknown, "Unable to find a topic named nope.".into()),
                (unknown, "Unable to find partition t:1.".into()),
                (unknown, "Unable to find partition t:-1.".into()),
                (
                    E::NoReassignmentInProgress.code(),
                    "No partition reassignment is in progress.".into()
                ),
                (
                    E::InvalidReplicationFactor.code(),
                    "The replication factor is changed from 2 to 3".into()
                ),
            ]
        );
        // Allowed, the replication factor may change; a fenced broker may be a target (it is
        // registered), and the current assignment again changes nothing.
        let mut img = img;
        fence(&mut img, 3);
        let (changes, results) = plan_reassignments(
            &img,
            &[
                reassign("t", 0, Some(&[2, 3, 1])),
                reassign("t", 0, Some(&[1, 2])),
            ],
            true,
        );
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(
            shape(&changes[0].state).0,
            vec![1, 2],
            "back to the original"
        );
        let (changes, results) =
            plan_reassignments(&img, &[reassign("t", 0, Some(&[1, 2]))], false);
        assert_eq!((changes.len(), results.len()), (0, 1));
        assert!(results[0].is_ok());
        // A new order of the same replicas: no reassignment, a new preferred leader.
        let (changes, _) = plan_reassignments(&img, &[reassign("t", 0, Some(&[2, 1]))], false);
        assert_eq!(
            shape(&changes[0].state),
            (vec![2, 1], vec![], vec![], vec![1, 2], 1, 3, 8)
        );
    }

    #[test]
    fn cancel_goes_back_to_the_original_replicas() {
        let (mut img, _) = image_with_topic(&[1, 2, 3], vec![state(0, &[1, 2], &[1, 2], 1)], &[]);
        reassign_on(&mut img, &[reassign("t", 0, Some(&[2, 3]))]);
        let (codes, p) = reassign_on(&mut img, &[reassign("t", 0, None)]);
        assert_eq!(codes, vec![0]);
        // The original replicas in the order the reassignment left them (as Kafka's revert).
        assert_eq!(shape(&p), (vec![2, 1], vec![], vec![], vec![1, 2], 1, 3, 9));
        assert!(list_reassignments(&img, None).is_empty());
        let (codes, _) = reassign_on(&mut img, &[reassign("t", 0, None)]);
        assert_eq!(codes, vec![E::NoReassignmentInProgress.code()]);

        // A leader the reassignment was adding gives the lead back to an original replica.
        let moving = PartitionState {
            adding_replicas: vec![3, 4],
            removing_replicas: vec![1, 2],
            ..state(0, &[3, 4, 1, 2], &[3, 1], 3)
        };
        let (mut img, _) = image_with_topic(&[1, 2, 3, 4], vec![moving.clone()], &[]);
        let (_, p) = reassign_on(&mut img, &[reassign("t", 0, None)]);
        assert_eq!(shape(&p), (vec![1, 2], vec![], vec![], vec![1], 1, 4, 8));

        // Only adding replicas in sync: reverting is an unclean election, refused unless the
        // topic allows it; then the first original replica is the ISR.
        let only_new = PartitionState {
            isr: vec![3],
            ..moving
        };
        let (mut img, _) = image_with_topic(&[1, 2, 3, 4], vec![only_new.clone()], &[]);
        let (codes, p) = reassign_on(&mut img, &[reassign("t", 0, None)]);
        assert_eq!(codes, vec![E::InvalidReplicaAssignment.code()]);
        assert_eq!(p, only_new);
        let (mut img, _) = image_with_topic(&[1, 2, 3, 4], vec![only_new], &[(UNCLEAN, "true")]);
        let (codes, p) = reassign_on(&mut img, &[reassign("t", 0, None)]);
        assert_eq!(codes, vec![0]);
        assert_eq!(shape(&p), (vec![1, 2], vec![], vec![], vec![1], 1, 4, 8));
    }

    #[test]
    fn a_new_reassignment_replaces_the_one_in_progress() {
        // [1, 2] -> [3, 4]; 3 caught up, 4 not yet.
        let moving = PartitionState {
            adding_replicas: vec![3, 4],
            removing_replicas: vec![1, 2],
            ..state(0, &[3, 4, 1, 2], &[1, 2, 3], 1)
        };
        let (mut img, _) = image_with_topic(&[1, 2, 3, 4], vec![moving], &[]);
        // Headed for 2 replicas: a third is a change of replication factor.
        let (_, results) = plan_reassignments(&img, &[reassign("t", 0, Some(&[1, 3, 4]))], false);
        assert_eq!(
            results[0].as_ref().unwrap_err().code,
            E::InvalidReplicationFactor.code()
        );
        // Against the original replicas [1, 2]: 3, which only the old one was adding, leaves.
        let (codes, p) = reassign_on(&mut img, &[reassign("t", 0, Some(&[1, 4]))]);
        assert_eq!(codes, vec![0]);
        assert_eq!(
            shape(&p),
            (vec![1, 4, 2], vec![4], vec![2], vec![1, 2], 1, 3, 8)
        );
        // Named twice in one request: the second sees the first.
        let (codes, p) = reassign_on(
            &mut img,
            &[reassign("t", 0, Some(&[2, 3])), reassign("t", 0, None)],
        );
        assert_eq!(codes, vec![0, 0]);
        assert_eq!(
            shape(&p),
            (vec![2, 1], vec![], vec![], vec![1, 2], 1, 3, 10)
        );
    }

    #[test]
    fn completion_needs_an_in_sync_replica_in_the_target() {
        // Dropping replicas completes at once when what stays is in sync.
        let (mut img, _) =
            image_with_topic(&[1, 2, 3], vec![state(0, &[1, 2, 3], &[1, 2, 3], 1)], &[]);
        let (_, p) = reassign_on(&mut img, &[reassign("t", 0, Some(&[1, 2]))]);
        assert_eq!(shape(&p), (vec![1, 2], vec![], vec![], vec![1, 2], 1, 3, 8));

        // Down to a replica out of sync: it waits for that replica to join the ISR.
        let (mut img, _) =
            image_with_topic(&[1, 2, 3], vec![state(0, &[1, 2, 3], &[1, 2], 1)], &[]);
        let (_, p) = reassign_on(&mut img, &[reassign("t", 0, Some(&[3]))]);
        assert_eq!(
            shape(&p),
            (vec![3, 1, 2], vec![], vec![1, 2], vec![1, 2], 1, 3, 8)
        );
        assert!(complete_reassignments(&img).is_empty());
        let id = img.topics["t"].id;
        let Ok(IsrChange::To(change)) = plan_isr_change(&img, 1, id, 0, 3, 8, &[1, 2, 3]) else {
            panic!("expansion refused");
        };
        assert_eq!(
            shape(&change.state),
            (vec![3], vec![], vec![], vec![3], 3, 4, 9)
        );

        // A reassignment whose adding replica got in sync another way (the only member after
        // an unclean election) is completed by the tick.
        let elected = PartitionState {
            adding_replicas: vec![3],
            removing_replicas: vec![1],
            ..state(0, &[2, 3, 1], &[3], 3)
        };
        let (img, id) = image_with_topic(&[1, 2, 3], vec![elected], &[]);
        let changes = complete_reassignments(&img);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].topic_id, id);
        assert_eq!(
            shape(&changes[0].state),
            (vec![2, 3], vec![], vec![], vec![3], 3, 3, 8)
        );
    }
}
