//! Where groups, transactions and share-partition state are coordinated. A single broker
//! coordinates everything. In a cluster, as in Kafka, a group id (transactional id, share
//! key `group:topicId:partition`) maps to a partition of `__consumer_offsets`
//! (`__transaction_state`, `__share_group_state`) by its Java hash, and the leader of that
//! partition is its coordinator: FindCoordinator answers with it, and the others answer
//! NOT_COORDINATOR. The internal topics are created through the controller the first time a
//! coordinator is looked for. When a node gains (loses) the leadership of such a partition it
//! replays (forgets) the groups (transactions, share states) in it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kafka_protocol::ResponseError as E;

use super::Broker;
use super::view::BrokerEndpoint;
use crate::cluster::controller::NewTopic;
use crate::error::Code;
use crate::group::{OFFSETS_TOPIC, TopicSource, partition_for_key};
use crate::partition::Partition;
use crate::share::persist::SHARE_STATE_TOPIC;
use crate::txn::coordinator::{PartitionDirectory, TRANSACTION_STATE_TOPIC};

/// In a cluster, where the transaction coordinator finds partitions: the image says whether
/// one exists. The coordinator writes no marker itself there: every marker is pending and the
/// marker round writes it (here or at its leader) and settles it once its ISR has it.
impl PartitionDirectory for Broker {
    fn exists(&self, topic: &str, partition: i32) -> bool {
        self.topic_view(topic)
            .is_some_and(|t| partition >= 0 && (partition as usize) < t.partitions.len())
    }

    fn local_leader(&self, _topic: &str, _partition: i32) -> Option<Arc<Partition>> {
        None
    }
}

/// FindCoordinator's key types.
pub const GROUP_KEY: i8 = 0;
pub const TRANSACTION_KEY: i8 = 1;
/// The share coordinator (KIP-932): brokers only, FindCoordinator v6+.
pub const SHARE_KEY: i8 = 2;

impl Broker {
    /// How many partitions `__transaction_state` has (1 on a single broker).
    pub fn txn_state_partitions(&self) -> i32 {
        match &self.cluster {
            None => 1,
            Some(c) => c
                .image()
                .topics
                .get(TRANSACTION_STATE_TOPIC)
                .map(|t| t.partitions.len() as i32)
                .unwrap_or(c.config.transaction_state_log_num_partitions),
        }
    }

    /// How many partitions `__consumer_offsets` has (1 on a single broker).
    pub fn offsets_partitions(&self) -> i32 {
        match &self.cluster {
            None => 1,
            Some(c) => c
                .image()
                .topics
                .get(OFFSETS_TOPIC)
                .map(|t| t.partitions.len() as i32)
                .unwrap_or(c.config.offsets_topic_num_partitions),
        }
    }

    /// How many partitions `__share_group_state` has (1 on a single broker, where
    /// `share/persist.rs` writes its one partition).
    pub fn share_state_partitions(&self) -> i32 {
        match &self.cluster {
            None => 1,
            Some(c) => c
                .image()
                .topics
                .get(SHARE_STATE_TOPIC)
                .map(|t| t.partitions.len() as i32)
                .unwrap_or(self.config.share_state_topic_num_partitions),
        }
    }

    /// The `__share_group_state` partition holding `key`'s state.
    pub fn share_state_partition(&self, key: &crate::share::records::StateKey) -> i32 {
        self.share_coordinator
            .partition_of(key, self.share_state_partitions())
    }

    /// NOT_COORDINATOR unless this node coordinates `transactional_id`.
    pub fn check_txn_coordinator(&self, transactional_id: &str) -> Result<(), Code> {
        if self
            .txns
            .owns(transactional_id, self.txn_state_partitions())
        {
            Ok(())
        } else {
            Err(E::NotCoordinator.code())
        }
    }

    /// Cluster mode: let the group coordinator's assignors see every topic of the cluster.
    pub(super) fn join_cluster_coordinators(&self) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let source: TopicSource = Arc::new(move || {
            cluster
                .image()
                .topics
                .values()
                .map(|t| (t.name.clone(), (t.id, t.partitions.len() as i32)))
                .collect()
        });
        self.groups.join_cluster(source);
    }

    /// The broker coordinating `key`: COORDINATOR_NOT_AVAILABLE while its partition has no
    /// leader (or its internal topic is being created).
    pub async fn find_coordinator(
        &self,
        key_type: i8,
        key: &str,
        listener: &str,
    ) -> Result<BrokerEndpoint, Code> {
        let Some(cluster) = &self.cluster else {
            return self
                .brokers(listener)
                .into_iter()
                .next()
                .ok_or(E::CoordinatorNotAvailable.code());
        };
        let (topic, count, rf) = match key_type {
            GROUP_KEY => (
                OFFSETS_TOPIC,
                cluster.config.offsets_topic_num_partitions,
                cluster.config.offsets_topic_replication_factor,
            ),
            SHARE_KEY => (
                SHARE_STATE_TOPIC,
                self.config.share_state_topic_num_partitions,
                self.config.share_state_topic_replication_factor,
            ),
            _ => (
                TRANSACTION_STATE_TOPIC,
                cluster.config.transaction_state_log_num_partitions,
                cluster.config.transaction_state_log_replication_factor,
            ),
        };
        let exists = cluster.image().topics.contains_key(topic);
        if !exists {
            let mut configs = BTreeMap::new();
            configs.insert("cleanup.policy".to_string(), "compact".to_string());
            if key_type == SHARE_KEY {
                // Kafka's ShareCoordinatorService creates it with these two.
                configs.insert(
                    "min.insync.replicas".to_string(),
                    self.config.share_state_topic_min_isr.to_string(),
                );
                configs.insert(
                    "segment.bytes".to_string(),
                    self.config.share_state_topic_segment_bytes.to_string(),
                );
            }
            let spec = NewTopic {
                name: topic.to_string(),
                partitions: count,
                replication_factor: rf,
                assignments: vec![],
                configs,
            };
            if let Err(e) = self.create_topics(vec![spec], false).await.remove(0)
                && e.code != E::TopicAlreadyExists.code()
            {
                tracing::warn!(topic, "cannot create the internal topic yet: {}", e.message);
                return Err(E::CoordinatorNotAvailable.code());
            }
        }
        let leader = {
            let image = cluster.image();
            let t = image
                .topics
                .get(topic)
                .ok_or(E::CoordinatorNotAvailable.code())?;
            let p = partition_for_key(key, t.partitions.len() as i32);
            t.partitions[p as usize].leader
        };
        if leader < 0 {
            return Err(E::CoordinatorNotAvailable.code());
        }
        self.brokers(listener)
            .into_iter()
            .find(|b| b.id == leader)
            .ok_or(E::CoordinatorNotAvailable.code())
    }

    /// NOT_COORDINATOR unless this node coordinates `group_id`.
    pub fn check_group_coordinator(&self, group_id: &str) -> Result<(), Code> {
        if self.groups.owns(group_id) {
            Ok(())
        } else {
            Err(E::NotCoordinator.code())
        }
    }

    /// The partitions of `topic` this node leads, and the topic's partition count.
    fn led_partitions(&self, topic: &str) -> (i32, BTreeSet<i32>) {
        let Some(cluster) = &self.cluster else {
            return (0, BTreeSet::new());
        };
        if cluster.is_fenced() {
            let count = cluster
                .image()
                .topics
                .get(topic)
                .map(|t| t.partitions.len() as i32)
                .unwrap_or(0);
            return (count, BTreeSet::new());
        }
        let image = cluster.image();
        match image.topics.get(topic) {
            None => (0, BTreeSet::new()),
            Some(t) => (
                t.partitions.len() as i32,
                t.partitions
                    .iter()
                    .filter(|p| p.leader == self.node_id)
                    .map(|p| p.partition)
                    .collect(),
            ),
        }
    }

    /// After the image moved: take over the groups (transactions) of the `__consumer_offsets`
    /// (`__transaction_state`) partitions this node now leads, hand over the ones it no longer
    /// leads.
    pub(super) fn follow_coordinators(&self) {
        if self.cluster.is_none() {
            return;
        }
        self.follow_txn_coordinator();
        self.follow_share_coordinator();
        let (count, led) = self.led_partitions(OFFSETS_TOPIC);
        let owned = self.groups.owned_partitions().unwrap_or_default();
        if owned == led {
            return;
        }
        for &p in owned.difference(&led) {
            self.groups.unload_partition(p);
        }
        let now = self.now_ms();
        for &p in led.difference(&owned) {
            self.groups.load_partition(&self.topics, p, count, now);
        }
        tracing::info!(
            partitions = ?led,
            "coordinating the groups of {} of {count} {OFFSETS_TOPIC} partitions",
            led.len()
        );
    }

    /// The share coordinator follows the leadership of `__share_group_state` as the group
    /// coordinator follows `__consumer_offsets`.
    fn follow_share_coordinator(&self) {
        let (count, mut led) = self.led_partitions(SHARE_STATE_TOPIC);
        // The image read here may be newer than the one this reconcile opened partitions from
        // (`__share_group_state` created meanwhile): load a partition once it leads locally,
        // the next reconcile does the rest. Its first writes would fail otherwise.
        let local = self.topics.get(SHARE_STATE_TOPIC);
        led.retain(|&p| {
            local
                .as_ref()
                .and_then(|t| t.partition(p))
                .is_some_and(|p| matches!(p.role(), crate::partition::Role::Leader(_)))
        });
        let owned = self.share_coordinator.owned_partitions();
        if owned == led {
            return;
        }
        for &p in owned.difference(&led) {
            self.share_coordinator.unload_partition(p);
        }
        for &p in led.difference(&owned) {
            self.share_coordinator
                .load_partition(&self.topics, p, count);
        }
        tracing::info!(
            partitions = ?led,
            "coordinating the share state of {} of {count} {SHARE_STATE_TOPIC} partitions",
            led.len()
        );
    }

    /// After the image moved (and so after the share coordinator loaded a partition): the
    /// share coordinator tombstones the state of topics the image no longer has (design §8.4,
    /// `ShareCoordinator::delete_deleted_topics`), once the image is known to be current. The
    /// tombstones are written as DeleteShareGroupState writes them, and their ISR is waited
    /// for as `api/coordinator_writes.rs` waits for it; one that misses it (a failover under
    /// way) is written again by the partition's next coordinator when it loads.
    pub(super) fn delete_share_state_of_deleted_topics(self: &Arc<Self>) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let exists = |id: uuid::Uuid| cluster.image().topic_by_id(id).is_some();
        let swept = self.share_coordinator.delete_deleted_topics(
            &self.topics,
            cluster
                .caught_up()
                .then_some(&exists as &dyn Fn(uuid::Uuid) -> bool),
            self.now_ms(),
        );
        if swept.failed > 0 {
            tracing::warn!(
                failed = swept.failed,
                "share state of deleted topics not deleted yet (tried again at the next move of the image)"
            );
        }
        if swept.partitions.is_empty() {
            return;
        }
        tracing::info!(
            deleted = swept.deleted,
            partitions = ?swept.partitions,
            "share state of deleted topics tombstoned"
        );
        // Called from the blocking reconcile, inside the runtime.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let broker = self.clone();
        runtime.spawn(async move {
            for p in swept.partitions {
                if let Err(code) = broker.replicate_internal(SHARE_STATE_TOPIC, p).await {
                    tracing::warn!(
                        code,
                        "{SHARE_STATE_TOPIC}-{p}: tombstones of deleted topics not in the ISR yet"
                    );
                }
            }
        });
    }

    fn follow_txn_coordinator(&self) {
        let (count, led) = self.led_partitions(TRANSACTION_STATE_TOPIC);
        let owned = self.txns.owned_partitions().unwrap_or_default();
        if owned == led {
            return;
        }
        for &p in owned.difference(&led) {
            self.txns.unload_partition(p, count);
        }
        let now = self.now_ms();
        let ctx = self.txn_context();
        for &p in led.difference(&owned) {
            self.txns.load_partition(&ctx, p, now);
        }
        tracing::info!(
            partitions = ?led,
            "coordinating the transactions of {} of {count} {TRANSACTION_STATE_TOPIC} partitions",
            led.len()
        );
    }
}
