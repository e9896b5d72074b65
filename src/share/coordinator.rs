//! The share coordinator of a cluster node (design docs/design/share-groups.md §14.1 step 4,
//! Kafka's `ShareCoordinatorShard`): the durable state of share-partitions whose
//! `__share_group_state` partition this node leads, served to share-partition leaders through
//! InitializeShareGroupState, ReadShareGroupState, WriteShareGroupState, DeleteShareGroupState
//! and ReadShareGroupStateSummary.
//!
//! A key `(group, topic id, partition)` lives in the `__share_group_state` partition
//! `abs(javaHash("group:topicId:partition")) % partitions` ([`coordinator_key`]; the topic id in
//! Kafka's string form), whose leader coordinates it. Taking over a partition replays it
//! ([`ShareCoordinator::load_partition`]); losing it forgets it. Records are fjord's snapshot
//! records (`records.rs`), the ones a single broker writes, one per key, latest wins, a tombstone
//! deletes.
//!
//! Fencing, with Kafka's codes and order of checks: a write whose leader epoch is below the
//! stored one is FENCED_LEADER_EPOCH, whose state epoch is below is FENCED_STATE_EPOCH; a read
//! with a higher leader epoch stores it (a record, before the answer) so that an older leader's
//! later writes are fenced; reading or writing a key never initialized is INVALID_REQUEST.
//!
//! A deleted topic's state is tombstoned here, by the coordinator itself, after each move of
//! the image ([`ShareCoordinator::delete_deleted_topics`], Kafka's
//! `ShareCoordinatorShard.maybeCleanupShareState`): a DeleteShareGroupState of a topic the
//! image no longer has is UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers, so no leader can do it.
//!
//! **Deviation from Kafka: a write replaces the key's state.** Kafka's coordinator merges the
//! written state batches into the stored ones (the leader sends only what changed). The only
//! sender here is fjord's share-partition leader, which always sends its whole window, so a
//! write is the new snapshot as it is: no batch merging, no ShareUpdate records.
//!
//! Owns: the loaded keys and their fences. Never: answers for a partition it has not loaded,
//! waits for the ISR (the API layer settles the answer, `api/coordinator_writes.rs`), or knows
//! the cluster image (callers say whether the topic-partition exists).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI32, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use uuid::Uuid;

use super::persist::SHARE_STATE_TOPIC;
use super::records::{
    PersistedRun, PersistedState, StateKey, decode_key, decode_value, encode_key, encode_value,
    state_from_id,
};
use crate::error::{Code, KafkaError as E};
use crate::topics::TopicRegistry;

/// Kafka's messages for the refusals that share one code.
pub const NEGATIVE_PARTITION_ID: &str = "The partition id cannot be a negative number.";
pub const NEGATIVE_STATE_EPOCH: &str = "The state epoch cannot be a negative number.";
pub const WRITE_UNINITIALIZED: &str =
    "Write operation on uninitialized share partition not allowed.";
pub const READ_UNINITIALIZED: &str = "Read operation on uninitialized share partition not allowed.";
/// fjord's: the leader initializes with a start offset it resolved (design §14.1 risk 4).
pub const UNRESOLVED_START_OFFSET: &str = "The start offset cannot be a negative number.";
/// fjord's: the batches must be the window as `records.rs` keeps it.
pub const BAD_STATE_BATCHES: &str =
    "State batches must be contiguous from the start offset, in state 0, 2 or 4.";

/// Kafka's text (`Errors.message()`) for the codes the share coordinator's answers carry.
pub fn kafka_message(code: Code) -> Option<&'static str> {
    Some(match E::try_from_code(code)? {
        E::NotCoordinator => "This is not the correct coordinator.",
        E::CoordinatorLoadInProgress => {
            "The coordinator is loading and hence can't process requests."
        }
        E::CoordinatorNotAvailable => "The coordinator is not available.",
        E::UnknownTopicOrPartition => "This server does not host this topic-partition.",
        E::FencedLeaderEpoch => {
            "The leader epoch in the request is older than the epoch on the broker."
        }
        E::FencedStateEpoch => {
            "The share coordinator rejected the request because the share-group state epoch did not match."
        }
        E::ClusterAuthorizationFailed => "Cluster authorization failed.",
        E::RequestTimedOut => "The request timed out.",
        _ => return None,
    })
}

/// A refused or failed operation: a Kafka code and its message (Kafka's validation message,
/// or the code's own text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError {
    pub code: Code,
    pub message: Option<&'static str>,
}

impl StateError {
    pub fn new(code: E) -> Self {
        StateError {
            code: code.code(),
            message: kafka_message(code.code()),
        }
    }

    fn invalid(message: &'static str) -> Self {
        StateError {
            code: E::InvalidRequest.code(),
            message: Some(message),
        }
    }
}

/// What ReadShareGroupStateSummary answers for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSummary {
    pub start_offset: i64,
    pub state_epoch: i32,
    pub leader_epoch: i32,
    pub delivery_complete_count: i32,
}

/// What [`ShareCoordinator::delete_deleted_topics`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeletedTopicsSweep {
    /// Keys tombstoned.
    pub deleted: usize,
    /// The `__share_group_state` partitions written, in order: the caller waits for their ISR,
    /// as the API layer does for the other writes (`api/coordinator_writes.rs`).
    pub partitions: Vec<i32>,
    /// Keys of deleted topics whose tombstone could not be written (kept for the next sweep).
    pub failed: usize,
}

/// A WriteShareGroupState partition: the leader's whole window (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateWriteRequest {
    pub state_epoch: i32,
    pub leader_epoch: i32,
    /// -1: the stored start offset.
    pub start_offset: i64,
    /// -1: unknown (WriteShareGroupState v0 does not carry it).
    pub delivery_complete_count: i32,
    /// `(first offset, last offset, delivery state, delivery count)`, as the wire has them.
    pub batches: Vec<(i64, i64, i8, i16)>,
}

/// The string Kafka hashes to place a key (`SharePartitionKey.asCoordinatorKey`), also the
/// FindCoordinator key of type 2.
pub fn coordinator_key(key: &StateKey) -> String {
    format!(
        "{}:{}:{}",
        key.group,
        kafka_uuid_string(key.topic_id),
        key.partition
    )
}

/// Kafka's `Uuid.toString()`: URL-safe base64 of the 16 bytes, without padding.
pub fn kafka_uuid_string(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// The share coordinator's loaded `__share_group_state` partitions.
pub struct ShareCoordinator {
    /// `__share_group_state` partition → the latest state of each key in it. A partition is
    /// coordinated here exactly while it is a key of this map.
    loaded: Mutex<HashMap<i32, HashMap<StateKey, PersistedState>>>,
    /// Partitions of `__share_group_state` (the count the keys were placed with).
    partitions: AtomicI32,
    /// Kafka's `Utils.abs(key.hashCode()) % partitions`, handed in by the broker (it lives with
    /// the group coordinator, which `share/` does not use).
    partition_for_key: fn(&str, i32) -> i32,
}

impl ShareCoordinator {
    pub fn new(partition_for_key: fn(&str, i32) -> i32) -> Self {
        ShareCoordinator {
            loaded: Mutex::new(HashMap::new()),
            partitions: AtomicI32::new(1),
            partition_for_key,
        }
    }

    /// The `__share_group_state` partition of `key`, of `partitions`.
    pub fn partition_of(&self, key: &StateKey, partitions: i32) -> i32 {
        (self.partition_for_key)(&coordinator_key(key), partitions)
    }

    fn partition_for(&self, key: &StateKey) -> i32 {
        self.partition_of(key, self.partitions.load(Ordering::Relaxed))
    }

    /// The partitions coordinated here.
    pub fn owned_partitions(&self) -> BTreeSet<i32> {
        self.loaded.lock().keys().copied().collect()
    }

    /// Take over partition `partition` (of `count`): replay it, then serve its keys.
    pub fn load_partition(&self, topics: &TopicRegistry, partition: i32, count: i32) {
        self.partitions.store(count.max(1), Ordering::Relaxed);
        let mut states = HashMap::new();
        let mut damaged = 0usize;
        let n = topics.replay_internal_partition(SHARE_STATE_TOPIC, partition, &mut |r| {
            let Some(key) = r.key.as_ref().and_then(decode_key) else {
                damaged += 1;
                return;
            };
            match r.value.as_ref() {
                None => {
                    states.remove(&key);
                }
                Some(v) => match decode_value(v) {
                    Some(state) => {
                        states.insert(key, state);
                    }
                    None => damaged += 1,
                },
            }
        });
        if damaged > 0 {
            tracing::warn!(
                damaged,
                "{SHARE_STATE_TOPIC}-{partition}: records skipped on replay"
            );
        }
        tracing::debug!(
            partition,
            records = n,
            keys = states.len(),
            "now coordinating the share state of {SHARE_STATE_TOPIC}-{partition}"
        );
        self.loaded.lock().insert(partition, states);
    }

    /// Hand over `partition`: forget its keys (the new coordinator replays them).
    pub fn unload_partition(&self, partition: i32) {
        self.loaded.lock().remove(&partition);
    }

    /// The latest state of `key`, if this node coordinates it and it has one.
    pub fn get(&self, key: &StateKey) -> Option<PersistedState> {
        let p = self.partition_for(key);
        self.loaded.lock().get(&p)?.get(key).cloned()
    }

    /// Run `f` on the loaded partition of `key` (NOT_COORDINATOR if it is not loaded), after
    /// Kafka's first check, a negative partition.
    fn with_partition<T>(
        &self,
        key: &StateKey,
        f: impl FnOnce(i32, &mut HashMap<StateKey, PersistedState>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let p = self.partition_for(key);
        let mut loaded = self.loaded.lock();
        let states = loaded
            .get_mut(&p)
            .ok_or(StateError::new(E::NotCoordinator))?;
        if key.partition < 0 {
            return Err(StateError::invalid(NEGATIVE_PARTITION_ID));
        }
        f(p, states)
    }

    /// InitializeShareGroupState: a new state epoch, `start_offset`, an empty window. Refused
    /// when the stored state epoch is higher. `known`: whether the topic-partition exists.
    pub fn initialize(
        &self,
        topics: &TopicRegistry,
        key: &StateKey,
        state_epoch: i32,
        start_offset: i64,
        known: bool,
        now_ms: i64,
    ) -> Result<(), StateError> {
        self.with_partition(key, |p, states| {
            let stored = states.get(key);
            if stored.is_some_and(|s| s.state_epoch > state_epoch) {
                return Err(StateError::new(E::FencedStateEpoch));
            }
            if !known {
                return Err(StateError::new(E::UnknownTopicOrPartition));
            }
            if state_epoch < 0 {
                return Err(StateError::invalid(NEGATIVE_STATE_EPOCH));
            }
            if start_offset < 0 {
                return Err(StateError::invalid(UNRESOLVED_START_OFFSET));
            }
            let state = PersistedState {
                snapshot_epoch: stored.map_or(0, |s| s.snapshot_epoch.wrapping_add(1)),
                state_epoch,
                // The leader-epoch fence outlives a new state epoch (Kafka keeps the highest
                // leader epoch it has seen for the key); -1: no leader read it yet.
                leader_epoch: stored.map_or(-1, |s| s.leader_epoch),
                start_offset,
                delivery_complete_count: 0,
                write_timestamp_ms: now_ms,
                runs: Vec::new(),
            };
            append(topics, p, key, Some(&state), now_ms)?;
            states.insert(key.clone(), state);
            Ok(())
        })
    }

    /// ReadShareGroupState: the stored state. A leader epoch above the stored one is written
    /// first (a record, before the answer), so that a leader of an older epoch is fenced from
    /// then on; -1 reads without fencing.
    pub fn read(
        &self,
        topics: &TopicRegistry,
        key: &StateKey,
        leader_epoch: i32,
        known: bool,
        now_ms: i64,
    ) -> Result<PersistedState, StateError> {
        self.with_partition(key, |p, states| {
            let stored = states
                .get(key)
                .ok_or(StateError::invalid(READ_UNINITIALIZED))?;
            if leader_epoch != -1 && stored.leader_epoch > leader_epoch {
                return Err(StateError::new(E::FencedLeaderEpoch));
            }
            if !known {
                return Err(StateError::new(E::UnknownTopicOrPartition));
            }
            if leader_epoch == -1 || leader_epoch == stored.leader_epoch {
                return Ok(stored.clone());
            }
            let state = PersistedState {
                snapshot_epoch: stored.snapshot_epoch.wrapping_add(1),
                leader_epoch,
                write_timestamp_ms: now_ms,
                ..stored.clone()
            };
            append(topics, p, key, Some(&state), now_ms)?;
            states.insert(key.clone(), state.clone());
            Ok(state)
        })
    }

    /// WriteShareGroupState: the leader's whole window replaces the stored state (module doc).
    /// The state epoch stays the stored one (only InitializeShareGroupState moves it); the
    /// leader epoch is the higher of the stored and the written one.
    pub fn write(
        &self,
        topics: &TopicRegistry,
        key: &StateKey,
        req: &StateWriteRequest,
        known: bool,
        now_ms: i64,
    ) -> Result<(), StateError> {
        self.with_partition(key, |p, states| {
            let stored = states
                .get(key)
                .ok_or(StateError::invalid(WRITE_UNINITIALIZED))?;
            if req.leader_epoch != -1 && stored.leader_epoch > req.leader_epoch {
                return Err(StateError::new(E::FencedLeaderEpoch));
            }
            if req.state_epoch != -1 && stored.state_epoch > req.state_epoch {
                return Err(StateError::new(E::FencedStateEpoch));
            }
            if !known {
                return Err(StateError::new(E::UnknownTopicOrPartition));
            }
            let start_offset = if req.start_offset == -1 {
                stored.start_offset
            } else {
                req.start_offset
            };
            let runs =
                window(start_offset, &req.batches).ok_or(StateError::invalid(BAD_STATE_BATCHES))?;
            let state = PersistedState {
                snapshot_epoch: stored.snapshot_epoch.wrapping_add(1),
                state_epoch: stored.state_epoch,
                leader_epoch: stored.leader_epoch.max(req.leader_epoch),
                start_offset,
                delivery_complete_count: req.delivery_complete_count,
                write_timestamp_ms: now_ms,
                runs,
            };
            append(topics, p, key, Some(&state), now_ms)?;
            states.insert(key.clone(), state);
            Ok(())
        })
    }

    /// DeleteShareGroupState: a tombstone; nothing is written for a key without state.
    pub fn delete(
        &self,
        topics: &TopicRegistry,
        key: &StateKey,
        known: bool,
        now_ms: i64,
    ) -> Result<(), StateError> {
        self.with_partition(key, |p, states| {
            if !known {
                return Err(StateError::new(E::UnknownTopicOrPartition));
            }
            tombstone(topics, p, states, key, now_ms).map(|_| ())
        })
    }

    /// Tombstone the state of every key coordinated here whose topic no longer exists, as
    /// Kafka's share coordinator does when the image drops a topic
    /// (`ShareCoordinatorService.handleTopicsDeletion` → `maybeCleanupShareState`): nobody
    /// else would, once no leader holds the share-partition in memory. Run after every move
    /// of the image and so after every load (a state partition replayed after the deletion).
    ///
    /// `exists` says whether a topic id is in the cluster image; `None` while the image is
    /// not known to be current (a restarting node's may lack topics): nothing is deleted then.
    /// It is asked under the loaded partitions' lock, so a key that an initialize stored
    /// (it checked the topic in an image no newer than the one asked here) is seen by it; a
    /// topic id never comes back, so one the image lacks is deleted for good (a topic
    /// re-created under its name has a new id, whose keys are other keys). A tombstone that
    /// cannot be written leaves its key, which the next sweep tries again.
    pub fn delete_deleted_topics(
        &self,
        topics: &TopicRegistry,
        exists: Option<&dyn Fn(Uuid) -> bool>,
        now_ms: i64,
    ) -> DeletedTopicsSweep {
        let mut swept = DeletedTopicsSweep::default();
        let Some(exists) = exists else {
            return swept;
        };
        let mut loaded = self.loaded.lock();
        let mut known: HashMap<Uuid, bool> = HashMap::new();
        let mut partitions: Vec<i32> = loaded.keys().copied().collect();
        partitions.sort_unstable();
        for p in partitions {
            let Some(states) = loaded.get_mut(&p) else {
                continue;
            };
            let mut gone: Vec<StateKey> = states
                .keys()
                .filter(|k| {
                    !*known
                        .entry(k.topic_id)
                        .or_insert_with(|| exists(k.topic_id))
                })
                .cloned()
                .collect();
            gone.sort_unstable();
            let mut written = false;
            for (i, key) in gone.iter().enumerate() {
                match tombstone(topics, p, states, key, now_ms) {
                    Ok(w) => {
                        written |= w;
                        swept.deleted += usize::from(w);
                    }
                    Err(_) => {
                        // The partition cannot be written now (its ISR, or its leadership is
                        // moving): the rest of it neither.
                        swept.failed += gone.len() - i;
                        break;
                    }
                }
            }
            if written {
                swept.partitions.push(p);
            }
        }
        swept
    }

    /// ReadShareGroupStateSummary: what the state says without its window, and without
    /// touching the leader-epoch fence. A key without state answers start offset -1
    /// (uninitialized), state epoch 0, leader epoch 0 and delivery-complete count -1, Kafka's
    /// `PartitionFactory` defaults.
    pub fn summary(&self, key: &StateKey, known: bool) -> Result<StateSummary, StateError> {
        self.with_partition(key, |_, states| {
            if !known {
                return Err(StateError::new(E::UnknownTopicOrPartition));
            }
            Ok(match states.get(key) {
                Some(s) => StateSummary {
                    start_offset: s.start_offset,
                    state_epoch: s.state_epoch,
                    leader_epoch: s.leader_epoch,
                    delivery_complete_count: s.delivery_complete_count,
                },
                None => StateSummary {
                    start_offset: -1,
                    state_epoch: 0,
                    leader_epoch: 0,
                    delivery_complete_count: -1,
                },
            })
        })
    }
}

/// Tombstone `key` in partition `p` if it has state (whether a record was written): the one
/// delete path of DeleteShareGroupState and of the deleted topics' sweep.
fn tombstone(
    topics: &TopicRegistry,
    p: i32,
    states: &mut HashMap<StateKey, PersistedState>,
    key: &StateKey,
    now_ms: i64,
) -> Result<bool, StateError> {
    if !states.contains_key(key) {
        return Ok(false);
    }
    append(topics, p, key, None, now_ms)?;
    states.remove(key);
    Ok(true)
}

/// Write one record of `key` to its partition; the in-memory state follows only once it is
/// written. Kafka's coordinators answer a failed append COORDINATOR_NOT_AVAILABLE (retried),
/// and so an append refused for want of in-sync replicas: the coordinator writes with
/// acks=all, so the topic's `min.insync.replicas` (`share.coordinator.state.topic.min.isr`)
/// holds for it as for a producer's write.
fn append(
    topics: &TopicRegistry,
    partition: i32,
    key: &StateKey,
    state: Option<&PersistedState>,
    now_ms: i64,
) -> Result<(), StateError> {
    if let Some(t) = topics.get(SHARE_STATE_TOPIC) {
        let min_isr = t.settings.read().min_insync_replicas;
        let isr = t.partition(partition).and_then(|p| p.in_sync_replicas());
        if let Some(isr) = isr.filter(|&n| n < min_isr) {
            tracing::warn!(
                isr,
                min_isr,
                "{SHARE_STATE_TOPIC}-{partition}: not enough in-sync replicas to write"
            );
            return Err(StateError::new(E::CoordinatorNotAvailable));
        }
    }
    let record = (encode_key(key), state.map(encode_value));
    topics
        .append_internal(SHARE_STATE_TOPIC, partition, vec![record], None, now_ms)
        .map(|_| ())
        .map_err(|e| {
            tracing::error!("writing {SHARE_STATE_TOPIC}-{partition}: {e}");
            StateError::new(E::CoordinatorNotAvailable)
        })
}

/// The written batches as persisted runs, if they are a window `records.rs` can keep:
/// contiguous from `start_offset`, well formed, in a persistable state.
fn window(start_offset: i64, batches: &[(i64, i64, i8, i16)]) -> Option<Vec<PersistedRun>> {
    if start_offset < 0 {
        return None;
    }
    let mut expect = start_offset;
    let mut runs = Vec::with_capacity(batches.len());
    for &(first_offset, last_offset, state, delivery_count) in batches {
        let state = state_from_id(state)?;
        if first_offset != expect || last_offset < first_offset || delivery_count < 0 {
            return None;
        }
        expect = last_offset.checked_add(1)?;
        runs.push(PersistedRun {
            first_offset,
            last_offset,
            state,
            delivery_count,
        });
    }
    Some(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::group::partition_for_key;
    use crate::share::runs::RecordState;
    use std::sync::Arc;

    const PARTITIONS: i32 = 3;

    struct Fixture {
        _dir: tempfile::TempDir,
        topics: TopicRegistry,
        coordinator: ShareCoordinator,
    }

    /// A registry with a 3-partition `__share_group_state` (as a cluster node holds it) and a
    /// coordinator that loaded all three.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) = Config::from_sources(
            None,
            Vec::new(),
            &[format!("log.dirs={}", dir.path().display())],
        )
        .unwrap();
        let topics = TopicRegistry::open(Arc::new(c), 0).unwrap();
        let mut cfg = std::collections::BTreeMap::new();
        cfg.insert("cleanup.policy".to_string(), "compact".to_string());
        topics
            .create(SHARE_STATE_TOPIC, PARTITIONS, 1, cfg, 0)
            .unwrap();
        let coordinator = ShareCoordinator::new(partition_for_key);
        for p in 0..PARTITIONS {
            coordinator.load_partition(&topics, p, PARTITIONS);
        }
        Fixture {
            _dir: dir,
            topics,
            coordinator,
        }
    }

    impl Fixture {
        /// The log end offset of `__share_group_state` partition `p`: one more per record.
        fn log_end(&self, p: i32) -> i64 {
            self.topics
                .get(SHARE_STATE_TOPIC)
                .unwrap()
                .partition(p)
                .unwrap()
                .offsets()
                .log_end_offset
        }
    }

    /// `share.coordinator.state.topic.min.isr` holds for the coordinator's acks=all writes:
    /// one in-sync replica of two required refuses the write, and nothing changes.
    #[test]
    fn writes_need_min_isr() {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) = Config::from_sources(
            None,
            Vec::new(),
            &[format!("log.dirs={}", dir.path().display())],
        )
        .unwrap();
        let topics = TopicRegistry::open(Arc::new(c), 0).unwrap();
        let mut cfg = std::collections::BTreeMap::new();
        cfg.insert("cleanup.policy".to_string(), "compact".to_string());
        cfg.insert("min.insync.replicas".to_string(), "2".to_string());
        topics.create(SHARE_STATE_TOPIC, 1, 1, cfg, 0).unwrap();
        let coordinator = ShareCoordinator::new(partition_for_key);
        coordinator.load_partition(&topics, 0, 1);
        let k = key(0);
        assert_eq!(
            coordinator.initialize(&topics, &k, 0, 0, true, 0),
            Err(code(E::CoordinatorNotAvailable))
        );
        assert_eq!(coordinator.get(&k), None);
    }

    fn key(partition: i32) -> StateKey {
        StateKey {
            group: "queue-readers".into(),
            topic_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            partition,
        }
    }

    fn write(state_epoch: i32, leader_epoch: i32) -> StateWriteRequest {
        StateWriteRequest {
            state_epoch,
            leader_epoch,
            start_offset: 100,
            delivery_complete_count: 5,
            batches: vec![(100, 104, 2, 1), (105, 109, 0, 2)],
        }
    }

    fn code(e: E) -> StateError {
        StateError::new(e)
    }

    /// Kafka's topic-id string and key placement, values computed with kafka-clients 4.3 in
    /// jshell: `new Uuid(0x0123456789abcdefL, 0x0123456789abcdefL).toString()`,
    /// `new Uuid(-1L, -1L).toString()` and `Utils.abs(key.hashCode()) % 50`.
    #[test]
    fn keys_are_placed_as_kafka_places_them() {
        let k = key(7);
        assert_eq!(kafka_uuid_string(k.topic_id), "ASNFZ4mrze8BI0VniavN7w");
        assert_eq!(
            coordinator_key(&k),
            "queue-readers:ASNFZ4mrze8BI0VniavN7w:7"
        );
        assert_eq!(
            kafka_uuid_string(Uuid::from_u128(u128::MAX)),
            "_____________________w",
            "the URL-safe alphabet"
        );
        let c = ShareCoordinator::new(partition_for_key);
        assert_eq!(c.partition_of(&k, 50), 20);
    }

    /// Initialize, write, read: exact values, each a record, the snapshot epoch counting.
    #[test]
    fn initialize_write_read_round_trip() {
        let f = fixture();
        let (t, c, k) = (&f.topics, &f.coordinator, key(0));
        assert_eq!(
            c.read(t, &k, 0, true, 1),
            Err(StateError::invalid(READ_UNINITIALIZED))
        );
        assert_eq!(
            c.write(t, &k, &write(0, 0), true, 1),
            Err(StateError::invalid(WRITE_UNINITIALIZED))
        );
        c.initialize(t, &k, 0, 100, true, 10).unwrap();
        let s = c.read(t, &k, -1, true, 11).unwrap();
        assert_eq!(
            s,
            PersistedState {
                snapshot_epoch: 0,
                state_epoch: 0,
                leader_epoch: -1,
                start_offset: 100,
                delivery_complete_count: 0,
                write_timestamp_ms: 10,
                runs: vec![],
            }
        );
        c.write(t, &k, &write(0, 3), true, 20).unwrap();
        let s = c.read(t, &k, 3, true, 21).unwrap();
        assert_eq!(s.snapshot_epoch, 1);
        assert_eq!(s.leader_epoch, 3);
        assert_eq!(s.delivery_complete_count, 5);
        assert_eq!(s.write_timestamp_ms, 20);
        assert_eq!(
            s.runs,
            vec![
                PersistedRun {
                    first_offset: 100,
                    last_offset: 104,
                    state: RecordState::Acknowledged,
                    delivery_count: 1
                },
                PersistedRun {
                    first_offset: 105,
                    last_offset: 109,
                    state: RecordState::Available,
                    delivery_count: 2
                },
            ]
        );
        assert_eq!(
            c.summary(&k, true).unwrap(),
            StateSummary {
                start_offset: 100,
                state_epoch: 0,
                leader_epoch: 3,
                delivery_complete_count: 5
            }
        );
        // A second write replaces the window (no merge with the stored batches).
        let mut w = write(0, 3);
        w.start_offset = 105;
        w.batches = vec![(105, 105, 4, 5)];
        c.write(t, &k, &w, true, 30).unwrap();
        let s = c.read(t, &k, 3, true, 31).unwrap();
        assert_eq!(
            (s.snapshot_epoch, s.start_offset, s.runs.len()),
            (2, 105, 1)
        );
        // Start offset -1 keeps the stored one.
        w.start_offset = -1;
        c.write(t, &k, &w, true, 40).unwrap();
        assert_eq!(c.get(&k).unwrap().start_offset, 105);
        let p = c.partition_of(&k, PARTITIONS);
        // The read at leader epoch 3 wrote nothing: the write had stored it.
        assert_eq!(f.log_end(p), 4, "initialize + three writes");
    }

    /// The fencing table, in Kafka's order of checks; nothing is written for a refusal.
    #[test]
    fn fencing() {
        let f = fixture();
        let (t, c, k) = (&f.topics, &f.coordinator, key(1));
        c.initialize(t, &k, 2, 0, true, 0).unwrap();
        // A read with a higher leader epoch stores it (a record) before answering.
        let before = c.get(&k).unwrap();
        let s = c.read(t, &k, 5, true, 1).unwrap();
        assert_eq!(
            (s.leader_epoch, s.snapshot_epoch),
            (5, before.snapshot_epoch + 1)
        );
        assert_eq!(c.get(&k).unwrap().leader_epoch, 5);
        let rows: &[(i32, i32, Result<(), StateError>)] = &[
            (2, 4, Err(code(E::FencedLeaderEpoch))),
            (1, 4, Err(code(E::FencedLeaderEpoch))), // leader epoch checked first
            (1, 5, Err(code(E::FencedStateEpoch))),
            (1, -1, Err(code(E::FencedStateEpoch))),
            (-1, 4, Err(code(E::FencedLeaderEpoch))),
            (2, 5, Ok(())),
            (3, 6, Ok(())), // higher epochs are taken (the leader epoch only)
            (-1, -1, Ok(())),
        ];
        for (state_epoch, leader_epoch, want) in rows {
            let mut w = write(*state_epoch, *leader_epoch);
            w.start_offset = 0;
            w.batches = vec![(0, 9, 0, 1)];
            assert_eq!(
                &c.write(t, &k, &w, true, 2),
                want,
                "state epoch {state_epoch}, leader epoch {leader_epoch}"
            );
        }
        let s = c.get(&k).unwrap();
        assert_eq!((s.state_epoch, s.leader_epoch), (2, 6));
        assert_eq!(
            c.read(t, &k, 5, true, 3),
            Err(code(E::FencedLeaderEpoch)),
            "an old leader cannot read"
        );
        // Initialize: a lower state epoch is fenced, the same or a higher one starts afresh
        // and keeps the leader-epoch fence.
        assert_eq!(
            c.initialize(t, &k, 1, 50, true, 4),
            Err(code(E::FencedStateEpoch))
        );
        c.initialize(t, &k, 3, 50, true, 4).unwrap();
        let s = c.get(&k).unwrap();
        assert_eq!((s.state_epoch, s.leader_epoch, s.start_offset), (3, 6, 50));
        assert!(s.runs.is_empty());
        assert_eq!(
            c.write(t, &k, &write(2, 6), true, 5),
            Err(code(E::FencedStateEpoch)),
            "a leader of the state before the reset is fenced"
        );
        // Validation.
        assert_eq!(
            c.initialize(t, &key(-1), 0, 0, true, 6),
            Err(StateError::invalid(NEGATIVE_PARTITION_ID))
        );
        assert_eq!(
            c.write(t, &k, &write(3, 6), false, 6),
            Err(code(E::UnknownTopicOrPartition))
        );
        assert_eq!(
            c.initialize(t, &k, 3, -1, true, 6),
            Err(StateError::invalid(UNRESOLVED_START_OFFSET))
        );
        let mut holey = write(3, 6);
        holey.start_offset = 50;
        holey.batches = vec![(50, 52, 0, 1), (54, 55, 0, 1)];
        assert_eq!(
            c.write(t, &k, &holey, true, 6),
            Err(StateError::invalid(BAD_STATE_BATCHES))
        );
        holey.batches = vec![(50, 52, 1, 1)];
        assert_eq!(
            c.write(t, &k, &holey, true, 6),
            Err(StateError::invalid(BAD_STATE_BATCHES)),
            "Acquired is never persisted"
        );
        assert_eq!(c.get(&k).unwrap(), s, "refusals change nothing");
    }

    /// The deleted topics' sweep: nothing while the image is not known to be current; then
    /// exactly the keys of topic ids the image lacks are tombstoned (a record each, in their
    /// own partitions, which it names), the others kept as they were, whatever their group; a
    /// topic re-created under its name (a new id) keeps its own state. A second sweep writes
    /// nothing, and a replay after it (the next coordinator) finds the same.
    #[test]
    fn deleted_topics_are_tombstoned_only_with_a_current_image() {
        let f = fixture();
        let (t, c) = (&f.topics, &f.coordinator);
        let deleted = Uuid::from_u128(1);
        let recreated = Uuid::from_u128(2);
        let live = Uuid::from_u128(3);
        let keys: Vec<StateKey> = ["readers", "auditors"]
            .iter()
            .flat_map(|g| {
                [deleted, recreated, live].into_iter().flat_map(move |id| {
                    (0..4).map(move |partition| StateKey {
                        group: g.to_string(),
                        topic_id: id,
                        partition,
                    })
                })
            })
            .collect();
        for (i, k) in keys.iter().enumerate() {
            c.initialize(t, k, 0, i as i64, true, 1).unwrap();
        }
        let ends = || (0..PARTITIONS).map(|p| f.log_end(p)).collect::<Vec<_>>();
        let before = ends();
        let states: Vec<Option<PersistedState>> = keys.iter().map(|k| c.get(k)).collect();
        assert!(states.iter().all(Option::is_some));

        // Not caught up: the image may lack any topic, nothing is deleted.
        assert_eq!(
            c.delete_deleted_topics(t, None, 2),
            DeletedTopicsSweep::default()
        );
        assert_eq!(ends(), before);
        assert_eq!(keys.iter().map(|k| c.get(k)).collect::<Vec<_>>(), states);

        // The image has `live` and the re-created topic's new id, not `deleted`.
        let exists = |id: Uuid| id == live || id == recreated;
        let swept = c.delete_deleted_topics(t, Some(&exists), 3);
        let gone: Vec<&StateKey> = keys.iter().filter(|k| k.topic_id == deleted).collect();
        let mut per_partition = vec![0i64; PARTITIONS as usize];
        for k in &gone {
            per_partition[c.partition_of(k, PARTITIONS) as usize] += 1;
        }
        let written: Vec<i32> = (0..PARTITIONS)
            .filter(|&p| per_partition[p as usize] > 0)
            .collect();
        assert_eq!(
            swept,
            DeletedTopicsSweep {
                deleted: 8,
                partitions: written,
                failed: 0
            }
        );
        let after: Vec<i64> = before
            .iter()
            .zip(&per_partition)
            .map(|(b, n)| b + n)
            .collect();
        assert_eq!(ends(), after, "one tombstone per deleted key");
        for (k, s) in keys.iter().zip(&states) {
            let want = if k.topic_id == deleted {
                None
            } else {
                s.clone()
            };
            assert_eq!(c.get(k), want, "{k:?}");
        }
        assert_eq!(
            c.read(t, gone[0], -1, true, 4),
            Err(StateError::invalid(READ_UNINITIALIZED))
        );

        // Done once: a second sweep writes nothing; a replay has the same keys.
        assert_eq!(
            c.delete_deleted_topics(t, Some(&exists), 5),
            DeletedTopicsSweep::default()
        );
        assert_eq!(ends(), after);
        let other = ShareCoordinator::new(partition_for_key);
        for p in 0..PARTITIONS {
            other.load_partition(t, p, PARTITIONS);
        }
        for k in &keys {
            assert_eq!(other.get(k), c.get(k), "{k:?}");
        }
    }

    /// A sweep whose tombstones cannot be written (too few in-sync replicas) keeps the keys
    /// and counts them; the next one, once writes succeed, deletes them.
    #[test]
    fn a_failed_sweep_keeps_its_keys_for_the_next() {
        let f = fixture();
        let (t, c) = (&f.topics, &f.coordinator);
        let keys: Vec<StateKey> = (0..4).map(key).collect();
        for k in &keys {
            c.initialize(t, k, 0, 0, true, 1).unwrap();
        }
        let topic = t.get(SHARE_STATE_TOPIC).unwrap();
        topic.settings.write().min_insync_replicas = 2;
        let gone = |_: Uuid| false;
        let swept = c.delete_deleted_topics(t, Some(&gone), 2);
        assert_eq!((swept.deleted, swept.failed), (0, 4));
        assert!(swept.partitions.is_empty());
        assert!(keys.iter().all(|k| c.get(k).is_some()));
        topic.settings.write().min_insync_replicas = 1;
        let swept = c.delete_deleted_topics(t, Some(&gone), 3);
        assert_eq!((swept.deleted, swept.failed), (4, 0));
        assert!(keys.iter().all(|k| c.get(k).is_none()));
    }

    /// Keys of a partition not loaded here are NOT_COORDINATOR; unloading forgets them and
    /// loading replays the latest state of each key, tombstones removing it.
    #[test]
    fn replay_after_unload_and_load() {
        let f = fixture();
        let (t, c) = (&f.topics, &f.coordinator);
        let keys: Vec<StateKey> = (0..6).map(key).collect();
        for (i, k) in keys.iter().enumerate() {
            c.initialize(t, k, 0, i as i64 * 10, true, 1).unwrap();
            c.read(t, k, 1, true, 2).unwrap();
        }
        c.delete(t, &keys[0], true, 3).unwrap();
        c.delete(t, &keys[0], true, 3).unwrap(); // no state: nothing written
        let expected: Vec<Option<PersistedState>> = keys.iter().map(|k| c.get(k)).collect();
        assert_eq!(expected[0], None);
        let p = c.partition_of(&keys[1], PARTITIONS);
        c.unload_partition(p);
        assert_eq!(c.owned_partitions().len(), PARTITIONS as usize - 1);
        assert_eq!(
            c.read(t, &keys[1], 1, true, 4),
            Err(code(E::NotCoordinator))
        );
        assert_eq!(c.summary(&keys[1], true), Err(code(E::NotCoordinator)));
        // Another coordinator of the same log (a new leader) sees the same states.
        let other = ShareCoordinator::new(partition_for_key);
        for q in 0..PARTITIONS {
            other.load_partition(t, q, PARTITIONS);
        }
        c.load_partition(t, p, PARTITIONS);
        for (k, want) in keys.iter().zip(&expected) {
            assert_eq!(&c.get(k), want, "{k:?}");
            assert_eq!(&other.get(k), want, "{k:?}");
        }
        assert_eq!(
            other.read(t, &keys[0], 1, true, 5),
            Err(StateError::invalid(READ_UNINITIALIZED)),
            "a tombstoned key is uninitialized"
        );
        assert_eq!(
            other.summary(&keys[0], true).unwrap(),
            StateSummary {
                start_offset: -1,
                state_epoch: 0,
                leader_epoch: 0,
                delivery_complete_count: -1
            }
        );
        assert_eq!(
            other.read(t, &keys[2], 0, true, 5),
            Err(code(E::FencedLeaderEpoch)),
            "the fence survives the reload"
        );
    }
}
