//! The metadata log's records: what the controller decides and every node replays into its
//! [`Image`](super::image::Image). A record states a result (a topic with its partitions placed,
//! a broker fenced with the leaders that moved), never a request, so replay needs no decisions.
//!
//! Records travel through the Raft log as JSON (serde) and are stored in
//! `__cluster_metadata-0/`. Changing a variant's fields breaks reading an existing metadata log:
//! add variants or optional fields instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::security::acl::AclBinding;
use crate::security::acl::credentials::CredentialChange;

/// A broker's address on one listener, as Metadata hands it to clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub listener: String,
    pub host: String,
    pub port: u16,
}

/// One partition as the controller assigned it. `isr` and the leader epoch are present from
/// the start so that replication changes them without a new record shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// -1: no leader (every in-sync replica is fenced; the ISR then keeps its last member).
    pub leader: i32,
    pub leader_epoch: i32,
    /// Bumped on every change of this partition (Kafka's partition epoch).
    pub partition_epoch: i32,
    /// While a reassignment (KIP-455) is in progress: the replicas it adds, which are in
    /// `replicas` and join the ISR by catching up like any follower. Absent from records
    /// written before reassignments existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<i32>,
    /// The replicas it removes, still in `replicas` (and replicating) until it completes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<i32>,
}

impl PartitionState {
    /// Whether a reassignment is in progress.
    pub fn reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }
}

/// A new state for an existing partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionChange {
    pub topic_id: Uuid,
    pub state: PartitionState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaRecord {
    /// A broker (re)started: its endpoints and a fresh incarnation. It is unfenced. The record's
    /// log index becomes its broker epoch.
    RegisterBroker {
        node_id: i32,
        incarnation: Uuid,
        endpoints: Vec<Endpoint>,
        rack: Option<String>,
    },
    /// A broker missed its session (fenced) or came back (unfenced), with the leader moves
    /// that follow from it.
    BrokerFenced {
        node_id: i32,
        fenced: bool,
        changes: Vec<PartitionChange>,
    },
    /// A topic created with all its partitions placed.
    Topic {
        name: String,
        id: Uuid,
        configs: BTreeMap<String, String>,
        partitions: Vec<PartitionState>,
    },
    /// Partitions appended to a topic (CreatePartitions); the first has index = current count.
    AddPartitions {
        topic_id: Uuid,
        partitions: Vec<PartitionState>,
    },
    RemoveTopic {
        id: Uuid,
    },
    /// A topic's config overrides, replaced whole.
    TopicConfigs {
        id: Uuid,
        configs: BTreeMap<String, String>,
    },
    /// Leaders, ISRs and epochs that moved: elections, and the ISR changes partition leaders
    /// ask for (AlterPartition).
    PartitionChanges(Vec<PartitionChange>),
    /// A dynamic broker config layer, replaced whole: the cluster-wide default (`node_id`
    /// None) or one broker's.
    BrokerConfigs {
        node_id: Option<i32>,
        configs: BTreeMap<String, String>,
    },
    /// A block of producer ids handed to a broker's transaction coordinator.
    ProducerIds {
        node_id: i32,
        first: i64,
        size: i64,
    },
    /// ACLs added (CreateAcls) and removed (DeleteAcls), as the controller decided them.
    Acls {
        created: Vec<AclBinding>,
        deleted: Vec<AclBinding>,
    },
    /// SCRAM credentials set and removed (AlterUserScramCredentials): derived credentials only.
    ScramCredentials(Vec<CredentialChange>),
    /// A group's configs (`--entity-type groups`), replaced whole; empty removes them.
    GroupConfigs {
        group: String,
        configs: BTreeMap<String, String>,
    },
}

/// What applying a record did: one per entry of the Raft log.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MetaResponse {
    #[default]
    Applied,
    /// The record's precondition no longer held when it was applied (a topic created twice at
    /// once, deleted meanwhile): nothing changed, on every node alike.
    Rejected(String),
}
