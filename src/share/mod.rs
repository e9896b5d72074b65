//! Share groups' per-partition state (KIP-932, "Queues for Kafka"; design
//! docs/design/share-groups.md): which records of a topic-partition a share group has
//! delivered, to whom, how often, and which are done.
//!
//! Parts: `runs.rs` (the run-length map of in-flight offsets), `partition.rs` (one
//! share-partition's state machine: acquire, acknowledge, lock expiry, delivery limit, SPSO),
//! `records.rs` (the snapshot records of `__share_group_state`), `persist.rs` (where they are
//! written and replayed: [`persist::StatePersister`]), `coordinator.rs` (a cluster node's share
//! coordinator: the records of the `__share_group_state` partitions it leads) and `manager.rs` (the
//! broker's share-partitions, their initialization, log reads, expiry tick and availability
//! watches). The first three are pure: time comes in as `now_ms`, settings as plain numbers,
//! records as batch facts from a [`partition::BatchSource`]; the manager reads partitions
//! (under its share-partition locks, never the other way round). The manager and the
//! persister are async: a persister's write may be an RPC, awaited under the share-partition's
//! (tokio) state lock.
//!
//! Never: speaks the wire, or uses `group/` (share groups' membership lives
//! there; what needs both is composed in `broker/`, design §12.2).

pub mod coordinator;
pub mod manager;
pub mod partition;
pub mod persist;
pub mod records;
pub mod runs;

pub use coordinator::{ShareCoordinator, StateError, StateSummary, StateWriteRequest};
pub use manager::{Acquisition, ShareManager, SharePartitionKey};
pub use partition::{
    AcknowledgeType, AcknowledgementBatch, AcquireLimits, AcquiredRecords, BatchInfo, BatchSource,
    SharePartition, ShareSettings,
};
pub use persist::{LocalPersister, StatePersister, VolatilePersister};
pub use runs::{RecordState, Run, Runs};
