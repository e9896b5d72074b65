//! The Raft type configuration of the metadata quorum: entries carry [`MetaRecord`]s, node ids
//! are Kafka node ids.

use std::io::Cursor;

use openraft::BasicNode;

use crate::cluster::records::{MetaRecord, MetaResponse};

openraft::declare_raft_types!(
    /// The metadata quorum's types.
    pub TypeConfig:
        D = MetaRecord,
        R = MetaResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type NodeId = u64;
pub type LogId = openraft::LogId<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, BasicNode>;
pub type Snapshot = openraft::storage::Snapshot<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
