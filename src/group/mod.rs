//! The group coordinator: consumer groups, classic and KIP-848, share groups (KIP-932), and the
//! internal topic `__consumer_offsets` that makes them and their committed offsets survive a
//! restart.
//!
//! **Owns:** [`GroupCoordinator`] and its groups map (groups live in memory); the membership
//! APIs — JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups,
//! KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe, and KIP-932's ShareGroupHeartbeat
//! and ShareGroupDescribe — which drive the state machines of [`classic`], [`consumer`] and
//! [`share`]; `__consumer_offsets` itself (one partition: there is
//! one coordinator): the only code that writes it (`persist`, in Kafka's own record formats from
//! [`records`], through the same storage engine as user data) and its replay at start-up, which
//! restores committed offsets, each group's generation and protocol type and each share group's
//! epoch; and
//! [`GroupCoordinator::tick`] (session, rebalance and sync deadlines; it triggers offset expiry).
//!
//! **Must never:** speak the wire (API handlers translate requests and responses); read the
//! clock (time is a `now_ms` argument).
//!
//! Its parts, each a file:
//!
//! | file | part |
//! | --- | --- |
//! | `coordinator.rs` | [`GroupCoordinator`]'s state (groups map, settings) and `persist`, the one writer of `__consumer_offsets` |
//! | `membership.rs` | the membership APIs |
//! | `offsets.rs` | the offset APIs: OffsetCommit, TxnOffsetCommit, OffsetFetch, OffsetDelete, transaction markers, expiry |
//! | `offset_store.rs` | one group's committed and transaction-pending offsets |
//! | `lifecycle.rs` | start-up replay of `__consumer_offsets`, and `tick` |
//! | [`classic`], [`consumer`], [`share`] | the classic, KIP-848 and share-group (KIP-932) state machines |
//! | [`share_assignor`] | the share groups' `simple` assignor |
//! | [`records`] | Kafka's key/value formats of `__consumer_offsets` |
//!
//! This file only names the parts; none of them uses it.

pub mod classic;
pub mod consumer;
pub mod consumer_protocol;
mod coordinator;
mod lifecycle;
mod membership;
mod offset_store;
mod offsets;
pub mod records;
pub mod share;
pub mod share_assignor;

pub use coordinator::{
    GroupCoordinator, OFFSETS_TOPIC, TopicSource, java_string_hash, partition_for_key,
};
pub use membership::{
    ConsumerGroupDescription, ConsumerMemberDescription, GroupDescription, GroupListing,
    MemberDescription, ShareGroupDescription,
};
pub use records::CommittedOffset;
