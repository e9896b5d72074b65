//! What the API handlers ask of the cluster, one way whether fjord runs alone or as a node of
//! a cluster: the brokers and controller to advertise, each topic's partitions with their
//! leaders, replicas and epochs, the partition a request may be served from here, and the
//! admin changes (create, delete, grow, configure topics, reassign partitions).
//!
//! On a single broker the answers come from the local topic registry (this broker leads every
//! partition at epoch 0); in a cluster from the metadata image, and admin changes go to the
//! active controller.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError as E;
use uuid::Uuid;

use super::Broker;
use crate::cluster::Cluster;
use crate::cluster::controller::{
    ApiError, ControllerReply, ControllerRequest, CreatedTopic, NewPartitions, NewTopic,
    OngoingReassignment, Reassignment, check_reassignment_target,
};
use crate::cluster::image::TopicImage;
use crate::error::Code;
use crate::partition::Partition;
use crate::topics::{Topic, TopicError};

/// How long an admin request waits for the active controller.
const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(15);

/// A topic as a request names it.
#[derive(Clone, Copy, Debug)]
pub enum TopicRef<'a> {
    Name(&'a str),
    Id(Uuid),
}

/// A broker as Metadata and DescribeCluster list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub id: i32,
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionView {
    pub partition: i32,
    /// -1: no leader.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// Replicas on brokers that are down.
    pub offline: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicView {
    pub name: String,
    pub id: Uuid,
    pub internal: bool,
    pub partitions: Vec<PartitionView>,
}

/// A topic error as the controller would answer it.
pub fn api_error(e: &TopicError) -> ApiError {
    let code = match e {
        TopicError::AlreadyExists(_) => E::TopicAlreadyExists,
        TopicError::InvalidName(_) => E::InvalidTopicException,
        TopicError::InvalidPartitions(_) => E::InvalidPartitions,
        TopicError::InvalidReplicationFactor(_) => E::InvalidReplicationFactor,
        TopicError::InvalidConfig(_) => E::InvalidConfig,
        TopicError::UnknownTopic => E::UnknownTopicOrPartition,
        TopicError::DeletionDisabled => E::TopicDeletionDisabled,
        TopicError::Log(_) | TopicError::Io(_) | TopicError::Append(_) => E::KafkaStorageError,
    };
    ApiError::new(code, e.to_string())
}

impl Broker {
    /// The brokers a client connected on `listener` is told about, by id.
    pub fn brokers(&self, listener: &str) -> Vec<BrokerEndpoint> {
        match &self.cluster {
            None => self
                .config
                .advertised_for(listener)
                .map(|l| {
                    vec![BrokerEndpoint {
                        id: self.node_id,
                        host: l.host.clone(),
                        port: self.advertised_port(l),
                        rack: None,
                    }]
                })
                .unwrap_or_default(),
            Some(c) => c
                .image()
                .live_brokers()
                .filter_map(|b| {
                    // The listener of the same name, else the broker's first.
                    let e = b.endpoint(listener).or(b.endpoints.first())?;
                    Some(BrokerEndpoint {
                        id: b.node_id,
                        host: e.host.clone(),
                        port: e.port,
                        rack: b.rack.clone(),
                    })
                })
                .collect(),
        }
    }

    /// The port clients are told for `listener`: its configured port, or for port 0 the one its
    /// socket was bound to (still 0 before `Server::bind`).
    fn advertised_port(&self, listener: &crate::config::Listener) -> u16 {
        if listener.port != 0 {
            return listener.port;
        }
        self.bound_listeners
            .get()
            .and_then(|b| b.iter().find(|(name, _)| *name == listener.name))
            .map_or(0, |(_, addr)| addr.port())
    }

    /// The controller id Metadata and DescribeCluster give clients: the active controller when
    /// it is also a broker (combined mode), else, as Kafka's KRaft brokers answer, a live
    /// broker (this one): clients send controller requests there and brokers forward them.
    pub fn controller_id(&self) -> i32 {
        match &self.cluster {
            None => self.node_id,
            Some(c) => match c.controller_id() {
                Some(id) if c.image().is_live(id) => id,
                _ if c.config.broker => self.node_id,
                _ => -1,
            },
        }
    }

    fn local_view(&self, t: &Topic) -> TopicView {
        TopicView {
            name: t.name.clone(),
            id: t.id,
            internal: t.is_internal(),
            partitions: (0..t.partition_count())
                .map(|p| PartitionView {
                    partition: p,
                    leader: self.node_id,
                    // What fetches are checked against (0 unless the log came from a cluster).
                    leader_epoch: t.partition(p).map_or(0, |x| x.leader_epoch()),
                    replicas: vec![self.node_id],
                    isr: vec![self.node_id],
                    offline: vec![],
                })
                .collect(),
        }
    }

    fn image_view(image: &crate::cluster::image::Image, t: &TopicImage) -> TopicView {
        TopicView {
            name: t.name.clone(),
            id: t.id,
            internal: t.is_internal(),
            partitions: t
                .partitions
                .iter()
                .map(|p| PartitionView {
                    partition: p.partition,
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    offline: p
                        .replicas
                        .iter()
                        .copied()
                        .filter(|&r| !image.is_live(r))
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn topic_view(&self, name: &str) -> Option<TopicView> {
        match &self.cluster {
            None => self.topics.get(name).map(|t| self.local_view(&t)),
            Some(c) => {
                let image = c.image();
                image.topics.get(name).map(|t| Self::image_view(&image, t))
            }
        }
    }

    pub fn topic_view_by_id(&self, id: Uuid) -> Option<TopicView> {
        match &self.cluster {
            None => self.topics.get_by_id(id).map(|t| self.local_view(&t)),
            Some(c) => {
                let image = c.image();
                image.topic_by_id(id).map(|t| Self::image_view(&image, t))
            }
        }
    }

    /// Every topic, sorted by name.
    pub fn topic_views(&self) -> Vec<TopicView> {
        match &self.cluster {
            None => self
                .topics
                .list()
                .iter()
                .map(|t| self.local_view(t))
                .collect(),
            Some(c) => {
                let image = c.image();
                image
                    .topics
                    .values()
                    .map(|t| Self::image_view(&image, t))
                    .collect()
            }
        }
    }

    /// The leader of partition `partition` of `topic` (-1: none), or None when there is no such
    /// partition; read without building the topic's whole view.
    pub fn partition_leader(&self, topic: &str, partition: i32) -> Option<i32> {
        match &self.cluster {
            None => self
                .topics
                .get(topic)?
                .partition(partition)
                .map(|_| self.node_id),
            Some(c) => {
                let image = c.image();
                let p = usize::try_from(partition).ok()?;
                image.topics.get(topic)?.partitions.get(p).map(|p| p.leader)
            }
        }
    }

    /// A topic's partition count and id, cluster-wide.
    pub fn topic_shape(&self, name: &str) -> Option<(Uuid, i32)> {
        match &self.cluster {
            None => self.topics.get(name).map(|t| (t.id, t.partition_count())),
            Some(c) => c
                .image()
                .topics
                .get(name)
                .map(|t| (t.id, t.partitions.len() as i32)),
        }
    }

    /// The partition a request for (`topic`, `index`) is served from on this broker: its
    /// leader's copy. UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID for a topic named by id)
    /// when the cluster has no such partition, NOT_LEADER_OR_FOLLOWER when another broker
    /// leads it (or none does).
    pub fn leader_partition(&self, topic: TopicRef, index: i32) -> Result<Arc<Partition>, Code> {
        let missing = match topic {
            TopicRef::Name(_) => E::UnknownTopicOrPartition.code(),
            TopicRef::Id(_) => E::UnknownTopicId.code(),
        };
        let Some(cluster) = &self.cluster else {
            let local = match topic {
                TopicRef::Name(n) => self.topics.get(n),
                TopicRef::Id(id) => self.topics.get_by_id(id),
            };
            let local = local.ok_or(missing)?;
            return local
                .partition(index)
                .ok_or(E::UnknownTopicOrPartition.code());
        };
        // Read before the image guard: `is_fenced` reads the image itself, and a second read
        // lock on one thread deadlocks against a waiting writer.
        let fenced = cluster.is_fenced();
        let (name, id, configs, state) = {
            let image = cluster.image();
            let t = match topic {
                TopicRef::Name(n) => image.topics.get(n),
                TopicRef::Id(id) => image.topic_by_id(id),
            }
            .ok_or(missing)?;
            let p = usize::try_from(index)
                .ok()
                .and_then(|i| t.partitions.get(i))
                .ok_or(E::UnknownTopicOrPartition.code())?;
            if p.leader != self.node_id || fenced {
                return Err(E::NotLeaderOrFollower.code());
            }
            // The usual case, on every produce and fetch: the partition is open and leads.
            if let Some(local) = self
                .topics
                .get(&t.name)
                .filter(|l| l.id == t.id)
                .and_then(|l| l.partition(index))
                && local.leads_at(p.leader_epoch)
            {
                return Ok(local);
            }
            (t.name.clone(), t.id, t.configs.clone(), p.clone())
        };
        let topic = name.as_str();
        // Usually already there and leading: the image follower opens a partition and gives
        // it its role as soon as the image moves. A request can beat it by a moment.
        let now = self.now_ms();
        let partition = self
            .topics
            .ensure_partition(topic, id, index, &configs, now)
            .map_err(|e| {
                tracing::warn!(topic, partition = index, "cannot open partition: {e}");
                E::NotLeaderOrFollower.code()
            })?;
        self.take_role(&partition, &state, now);
        if !partition.leads_at(state.leader_epoch) {
            return Err(E::NotLeaderOrFollower.code());
        }
        Ok(partition)
    }

    /// CreateTopics, one result per topic in order.
    pub async fn create_topics(
        &self,
        topics: Vec<NewTopic>,
        validate_only: bool,
    ) -> Vec<Result<CreatedTopic, ApiError>> {
        let Some(cluster) = &self.cluster else {
            return topics
                .into_iter()
                .map(|t| self.create_local(t, validate_only))
                .collect();
        };
        let n = topics.len();
        let req = ControllerRequest::CreateTopics {
            topics,
            validate_only,
        };
        match cluster.request(req, CONTROLLER_TIMEOUT).await {
            Ok(ControllerReply::Created(results)) if results.len() == n => results,
            Ok(other) => vec![Err(unexpected(other)); n],
            Err(e) => vec![Err(e); n],
        }
    }

    fn create_local(&self, t: NewTopic, validate_only: bool) -> Result<CreatedTopic, ApiError> {
        let (partitions, rf) = if t.assignments.is_empty() {
            (t.partitions, t.replication_factor)
        } else {
            if let Some(bad) = t
                .assignments
                .iter()
                .flatten()
                .find(|&&id| id != self.node_id)
            {
                return Err(ApiError::new(
                    E::InvalidReplicaAssignment,
                    format!(
                        "The manual partition assignment includes broker {bad}, but only broker {} is registered.",
                        self.node_id
                    ),
                ));
            }
            (t.assignments.len() as i32, t.assignments[0].len() as i16)
        };
        if validate_only {
            self.topics
                .validate_create(&t.name, partitions, rf, &t.configs)
                .map_err(|e| api_error(&e))?;
            return Ok(CreatedTopic {
                id: Uuid::nil(),
                partitions,
                replication_factor: rf,
            });
        }
        let topic = self
            .topics
            .create(&t.name, partitions, rf, t.configs, self.now_ms())
            .map_err(|e| api_error(&e))?;
        Ok(CreatedTopic {
            id: topic.id,
            partitions,
            replication_factor: rf,
        })
    }

    /// DeleteTopics by name, one result per name in order.
    pub async fn delete_topics(&self, names: Vec<String>) -> Vec<Result<(), ApiError>> {
        let Some(cluster) = &self.cluster else {
            return names
                .iter()
                .map(|n| self.topics.delete(n).map(|_| ()).map_err(|e| api_error(&e)))
                .collect();
        };
        if !self.config.delete_topic_enable {
            return vec![Err(api_error(&TopicError::DeletionDisabled)); names.len()];
        }
        let n = names.len();
        match cluster
            .request(
                ControllerRequest::DeleteTopics { names },
                CONTROLLER_TIMEOUT,
            )
            .await
        {
            Ok(ControllerReply::Done(results)) if results.len() == n => results,
            Ok(other) => vec![Err(unexpected(other)); n],
            Err(e) => vec![Err(e); n],
        }
    }

    /// CreatePartitions, one result per topic in order.
    pub async fn create_partitions(
        &self,
        topics: Vec<NewPartitions>,
        validate_only: bool,
    ) -> Vec<Result<(), ApiError>> {
        let Some(cluster) = &self.cluster else {
            return topics
                .into_iter()
                .map(|t| {
                    if t.assignments.iter().flatten().any(|&id| id != self.node_id) {
                        return Err(ApiError::new(
                            E::InvalidReplicaAssignment,
                            format!("Replica assignment may only name broker {}", self.node_id),
                        ));
                    }
                    self.topics
                        .add_partitions(&t.name, t.total, validate_only, self.now_ms())
                        .map_err(|e| api_error(&e))
                })
                .collect();
        };
        let n = topics.len();
        let req = ControllerRequest::CreatePartitions {
            topics,
            validate_only,
        };
        match cluster.request(req, CONTROLLER_TIMEOUT).await {
            Ok(ControllerReply::Done(results)) if results.len() == n => results,
            Ok(other) => vec![Err(unexpected(other)); n],
            Err(e) => vec![Err(e); n],
        }
    }

    /// AlterPartitionReassignments, one result per partition in order. A single broker answers
    /// as a one-broker Kafka: moving a partition to this broker changes nothing; any other
    /// target names a broker that is not registered, and nothing is ever being reassigned.
    pub async fn alter_reassignments(
        &self,
        reassignments: Vec<Reassignment>,
        allow_replication_factor_change: bool,
    ) -> Vec<Result<(), ApiError>> {
        let Some(cluster) = &self.cluster else {
            return reassignments
                .iter()
                .map(|r| {
                    let known = self
                        .topics
                        .get(&r.topic)
                        .is_some_and(|t| t.partition(r.partition).is_some());
                    if !known {
                        return Err(ApiError::new(
                            E::UnknownTopicOrPartition,
                            format!("Unable to find partition {}:{}.", r.topic, r.partition),
                        ));
                    }
                    let Some(target) = &r.target else {
                        return Err(ApiError::new(
                            E::NoReassignmentInProgress,
                            "No partition reassignment is in progress.",
                        ));
                    };
                    check_reassignment_target(target, |id| id == self.node_id)
                })
                .collect();
        };
        let n = reassignments.len();
        let req = ControllerRequest::AlterReassignments {
            reassignments,
            allow_replication_factor_change,
        };
        match cluster.request(req, CONTROLLER_TIMEOUT).await {
            Ok(ControllerReply::Done(results)) if results.len() == n => results,
            Ok(other) => vec![Err(unexpected(other)); n],
            Err(e) => vec![Err(e); n],
        }
    }

    /// ListPartitionReassignments: the reassignments in progress among `partitions` (topic,
    /// index), or all of them; none on a single broker.
    pub async fn list_reassignments(
        &self,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<OngoingReassignment>, ApiError> {
        let Some(cluster) = &self.cluster else {
            return Ok(vec![]);
        };
        let req = ControllerRequest::ListReassignments { partitions };
        match cluster.request(req, CONTROLLER_TIMEOUT).await? {
            ControllerReply::Reassignments(list) => Ok(list),
            other => Err(unexpected(other)),
        }
    }

    /// Change a topic's config overrides with `change` (applied to the current ones). In a
    /// cluster the controller takes the result only if the overrides did not change meanwhile;
    /// otherwise they are read again and `change` redone, so concurrent changes from several
    /// brokers do not lose one another.
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        change: &ConfigChange<'_>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let unknown = || {
            ApiError::new(
                E::UnknownTopicOrPartition,
                format!("Topic {name} does not exist."),
            )
        };
        let Some(cluster) = &self.cluster else {
            let mut overrides = self.topic_configs(name).ok_or_else(unknown)?;
            change(&mut overrides)?;
            return self
                .topics
                .alter_configs(name, overrides, validate_only)
                .map_err(|e| api_error(&e));
        };
        // The controller validates topic configs itself, so even a validation goes to it.
        swap_configs(
            cluster,
            || self.topic_configs(name).ok_or_else(unknown),
            change,
            |configs, expected| {
                Some(ControllerRequest::AlterTopicConfigs {
                    name: name.to_string(),
                    configs,
                    expected,
                    validate_only,
                })
            },
        )
        .await
    }

    /// In a cluster, keep the producer id manager stocked: ask the active controller for the
    /// next block when it runs low, in the background while ids are left, and waiting only
    /// when none is (one request at a time either way).
    pub async fn refill_producer_ids(self: &Arc<Self>) {
        if self.cluster.is_none() || !self.producer_ids.wants_block() {
            return;
        }
        if self.producer_ids.has_ids() {
            let broker = self.clone();
            tokio::spawn(async move { broker.fetch_producer_id_block().await });
        } else {
            self.fetch_producer_id_block().await;
        }
    }

    async fn fetch_producer_id_block(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let Ok(_one) = self.producer_id_refill.try_lock() else {
            // Someone is asking already: wait for that answer rather than asking again.
            let _wait = self.producer_id_refill.lock().await;
            return;
        };
        if !self.producer_ids.wants_block() {
            return;
        }
        let req = ControllerRequest::AllocateProducerIds {
            node_id: self.node_id,
        };
        match cluster.request(req, CONTROLLER_TIMEOUT).await {
            Ok(ControllerReply::ProducerIds { first, size }) => {
                tracing::debug!(first, size, "producer id block from the controller");
                self.producer_ids.add_block(first, size);
            }
            Ok(other) => tracing::warn!("unexpected controller reply {other:?}"),
            Err(e) => tracing::warn!("no producer id block: {}", e.message),
        }
    }

    /// A dynamic broker config layer as the cluster has it: the default (`None`) or one
    /// broker's. `None` on a single broker (its layers are local: see `dynamic`).
    pub fn broker_config_layer(&self, node_id: Option<i32>) -> Option<BTreeMap<String, String>> {
        let cluster = self.cluster.as_ref()?;
        let image = cluster.image();
        Some(match node_id {
            None => image.default_broker_configs.clone(),
            Some(id) => image.broker_configs.get(&id).cloned().unwrap_or_default(),
        })
    }

    /// Change a dynamic broker config layer cluster-wide with `change` (which also checks the
    /// result), redone on a layer that changed meanwhile (see `alter_topic_configs`).
    pub async fn alter_broker_configs(
        &self,
        node_id: Option<i32>,
        change: &ConfigChange<'_>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let Some(cluster) = &self.cluster else {
            return Err(ApiError::new(E::InvalidRequest, "not a cluster"));
        };
        swap_configs(
            cluster,
            || Ok(self.broker_config_layer(node_id).unwrap_or_default()),
            change,
            |configs, expected| {
                (!validate_only).then_some(ControllerRequest::AlterBrokerConfigs {
                    node_id,
                    configs,
                    expected,
                })
            },
        )
        .await
    }

    /// A group's configs (`--entity-type groups`): the metadata image's in a cluster, else
    /// the broker's own store.
    pub fn group_configs_of(&self, group: &str) -> BTreeMap<String, String> {
        match &self.cluster {
            None => self.group_configs.get(group),
            Some(c) => c
                .image()
                .group_configs
                .get(group)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Change a group's configs with `change` (which also checks the result): in the local
    /// store, or in a cluster through the metadata log, redone on a set that changed meanwhile
    /// (see `alter_topic_configs`).
    pub async fn alter_group_configs(
        &self,
        group: &str,
        change: &ConfigChange<'_>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        use crate::config::group::GroupConfigError;
        let Some(cluster) = &self.cluster else {
            let broker = self.topics.broker_config();
            let mut failed = None;
            let outcome = self.group_configs.alter(
                &broker,
                group,
                |m| {
                    change(m).map_err(|e| {
                        let message = e.message.clone();
                        failed = Some(e);
                        message
                    })
                },
                validate_only,
            );
            return match outcome {
                Ok(()) => Ok(()),
                Err(_) if failed.is_some() => Err(failed.expect("set")),
                Err(GroupConfigError::Invalid(m)) => Err(ApiError::new(E::InvalidConfig, m)),
                Err(e @ GroupConfigError::Io(_)) => {
                    Err(ApiError::new(E::KafkaStorageError, e.to_string()))
                }
            };
        };
        swap_configs(
            cluster,
            || Ok(self.group_configs_of(group)),
            change,
            |configs, expected| {
                (!validate_only).then(|| ControllerRequest::AlterGroupConfigs {
                    group: group.to_string(),
                    configs,
                    expected,
                })
            },
        )
        .await
    }

    /// A topic's config overrides, cluster-wide.
    pub fn topic_configs(&self, name: &str) -> Option<BTreeMap<String, String>> {
        match &self.cluster {
            None => self.topics.get(name).map(|t| t.configs.read().clone()),
            Some(c) => c.image().topics.get(name).map(|t| t.configs.clone()),
        }
    }
}

/// A change to a set of config overrides, redone if it raced another (see
/// `Broker::alter_topic_configs`).
pub type ConfigChange<'a> =
    dyn Fn(&mut BTreeMap<String, String>) -> Result<(), ApiError> + Sync + 'a;

/// How many times a config change is redone when others changed the same configs meanwhile.
const CAS_ATTEMPTS: usize = 5;

/// Read a set of configs, apply `change` to a copy, and have the controller replace the set
/// read with the result only if it is still what was read (`request(configs, expected)`;
/// `None`: a validation with nothing to send); redone on a set that changed meanwhile, so
/// concurrent changes from several brokers do not lose one another.
async fn swap_configs(
    cluster: &Cluster,
    read: impl Fn() -> Result<BTreeMap<String, String>, ApiError>,
    change: &ConfigChange<'_>,
    request: impl Fn(BTreeMap<String, String>, BTreeMap<String, String>) -> Option<ControllerRequest>,
) -> Result<(), ApiError> {
    for _ in 0..CAS_ATTEMPTS {
        let expected = read()?;
        let mut configs = expected.clone();
        change(&mut configs)?;
        let Some(req) = request(configs, expected) else {
            return Ok(());
        };
        match cluster.request(req, CONTROLLER_TIMEOUT).await? {
            ControllerReply::Done(mut r) if r.len() == 1 => return r.remove(0),
            ControllerReply::Stale => continue,
            other => return Err(unexpected(other)),
        }
    }
    Err(concurrent())
}

fn concurrent() -> ApiError {
    ApiError::new(
        E::ConcurrentTransactions,
        "The configs kept changing concurrently; retry.",
    )
}

/// A controller reply of the wrong kind for the request.
pub(super) fn unexpected(reply: ControllerReply) -> ApiError {
    ApiError::new(
        E::UnknownServerError,
        format!("unexpected controller reply {reply:?}"),
    )
}
