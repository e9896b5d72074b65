//! Where share-partition state is kept between restarts (design §8.2, §8.7): a
//! [`StatePersister`] writes snapshots and tombstones and replays what was written. The state
//! machine and the manager never know which one they have.
//!
//! Writes and per-key loads are futures (design §14.1 step 2): in a cluster they become RPCs to
//! the share coordinator, awaited under the share-partition's state lock. `load` (the replay at
//! start-up) stays synchronous. The futures are boxed, as a trait with `async fn` could not be
//! used as `dyn StatePersister`.
//!
//! - [`LocalPersister`]: the local `__share_group_state` partition (single broker; one
//!   compacted partition created on first write), through the topic registry's internal append
//!   and replay, as `__consumer_offsets` is written. Synchronous inside: its futures finish on
//!   their first poll.
//! - [`VolatilePersister`]: writes nothing, so nothing survives the process (a cluster node
//!   until the share coordinator exists, design §8.7).
//! - [`MemoryPersister`]: unit tests' persister, which can be told to fail.
//!
//! Never: decides what to write or when (that is [`super::manager`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::records::{
    PersistedState, StateKey, decode_key, decode_value, encode_key, encode_value,
};
use crate::topics::TopicRegistry;

/// The internal topic that holds share-partition state.
pub const SHARE_STATE_TOPIC: &str = "__share_group_state";

/// A write or load failed: nothing of a write may be assumed written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PersistError {
    /// Not written (not read): a local write failed, the share coordinator could not be
    /// reached in time or refused. Nothing changes; the caller may try again.
    #[error("share state: {0}")]
    Failed(String),
    /// The share coordinator holds a newer leader epoch or state epoch for the key (design
    /// §14.1): this node's share-partition is stale and must not be used or written again.
    #[error("share state of {} share-partition(s) fenced by a newer epoch", .0.len())]
    Fenced(Vec<StateKey>),
}

/// One record to write: a state, or `None` to delete the key's state.
pub type StateWrite = (StateKey, Option<PersistedState>);

/// What a persister's write or load hands back: a future borrowing the persister and its
/// arguments.
pub type PersistFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PersistError>> + Send + 'a>>;

/// Where share-partition state is written and read back. It is read in one of two ways, by
/// the two kinds of [`super::manager::ShareManager`]:
///
/// - a single broker replays everything once, when it opens ([`Self::load`],
///   `ShareManager::open`), and never reads again: a share-partition without a replayed state
///   has none;
/// - a cluster node replays nothing and reads each key when its share-partition is first used
///   ([`Self::load_one`], `ShareManager::new`), at its share coordinator, which fences older
///   leader epochs.
///
/// A persister that replays (local, volatile, unit tests') answers `load_one` from that same
/// replay (the default), so the two ways never disagree; one read key by key (a cluster
/// node's) answers `load` with nothing.
pub trait StatePersister: Send + Sync {
    /// Write `records` as one unit (one batch): all of them or, on error, none that a reader
    /// may rely on. Nothing is written until the future is polled.
    fn write<'a>(&'a self, records: &'a [StateWrite], now_ms: i64) -> PersistFuture<'a, ()>;

    /// One key's latest state (`None`: none), read when its share-partition is first used by a
    /// manager that did not replay everything at start-up (a cluster node; the share
    /// coordinator fences older leader epochs with `leader_epoch`, design §14.1). By default,
    /// the key's state in a whole [`Self::load`].
    fn load_one<'a>(
        &'a self,
        key: &'a StateKey,
        _leader_epoch: i32,
    ) -> PersistFuture<'a, Option<PersistedState>> {
        Box::pin(async move { Ok(self.load().remove(key)) })
    }

    /// Every key's latest state (tombstoned keys absent), for start-up.
    fn load(&self) -> HashMap<StateKey, PersistedState>;
}

/// `__share_group_state` on this broker.
pub struct LocalPersister<'a> {
    pub topics: &'a TopicRegistry,
}

impl LocalPersister<'_> {
    fn write_now(&self, records: &[StateWrite], now_ms: i64) -> Result<(), PersistError> {
        if records.is_empty() {
            return Ok(());
        }
        let kvs = records
            .iter()
            .map(|(k, v)| (encode_key(k), v.as_ref().map(encode_value)))
            .collect();
        self.topics
            .append_internal(SHARE_STATE_TOPIC, 0, kvs, None, now_ms)
            .map(|_| ())
            .map_err(|e| PersistError::Failed(e.to_string()))
    }
}

impl StatePersister for LocalPersister<'_> {
    fn write<'a>(&'a self, records: &'a [StateWrite], now_ms: i64) -> PersistFuture<'a, ()> {
        Box::pin(async move { self.write_now(records, now_ms) })
    }

    fn load(&self) -> HashMap<StateKey, PersistedState> {
        let mut out = HashMap::new();
        let mut damaged = 0usize;
        self.topics.replay_internal(SHARE_STATE_TOPIC, &mut |r| {
            let Some(key) = r.key.as_ref().and_then(decode_key) else {
                damaged += 1;
                return;
            };
            match r.value.as_ref() {
                None => {
                    out.remove(&key);
                }
                Some(v) => match decode_value(v) {
                    Some(state) => {
                        out.insert(key, state);
                    }
                    None => damaged += 1,
                },
            }
        });
        if damaged > 0 {
            tracing::warn!(damaged, "{SHARE_STATE_TOPIC}: records skipped on replay");
        }
        out
    }
}

/// Writes nothing and loads nothing.
pub struct VolatilePersister;

impl StatePersister for VolatilePersister {
    fn write<'a>(&'a self, _records: &'a [StateWrite], _now_ms: i64) -> PersistFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn load(&self) -> HashMap<StateKey, PersistedState> {
        HashMap::new()
    }
}

/// Keeps the latest state per key in memory; `fail` makes every write fail (unit tests). Its
/// futures yield once before they do anything, as a remote persister's would, so tests see
/// other tasks run while a state lock is held across a write.
#[derive(Default)]
pub struct MemoryPersister {
    states: Mutex<HashMap<StateKey, PersistedState>>,
    pub fail: AtomicBool,
    /// Successful write calls (not records).
    pub writes: AtomicUsize,
}

impl MemoryPersister {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &StateKey) -> Option<PersistedState> {
        self.states.lock().get(key).cloned()
    }

    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl MemoryPersister {
    fn failing(&self) -> Result<(), PersistError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(PersistError::Failed("failing on purpose".into()));
        }
        Ok(())
    }
}

impl StatePersister for MemoryPersister {
    fn write<'a>(&'a self, records: &'a [StateWrite], _now_ms: i64) -> PersistFuture<'a, ()> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.failing()?;
            let mut states = self.states.lock();
            for (k, v) in records {
                match v {
                    Some(s) => states.insert(k.clone(), s.clone()),
                    None => states.remove(k),
                };
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }

    fn load_one<'a>(
        &'a self,
        key: &'a StateKey,
        _leader_epoch: i32,
    ) -> PersistFuture<'a, Option<PersistedState>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.failing()?;
            Ok(self.get(key))
        })
    }

    fn load(&self) -> HashMap<StateKey, PersistedState> {
        self.states.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::share::records::PersistedRun;
    use crate::share::runs::RecordState;
    use std::sync::Arc;
    use uuid::Uuid;

    fn state(spso: i64) -> PersistedState {
        PersistedState {
            snapshot_epoch: 1,
            state_epoch: 0,
            leader_epoch: 0,
            start_offset: spso,
            delivery_complete_count: 0,
            write_timestamp_ms: 7,
            runs: vec![PersistedRun {
                first_offset: spso,
                last_offset: spso + 3,
                state: RecordState::Available,
                delivery_count: 2,
            }],
        }
    }

    /// A broker's config with its log under `dir`.
    fn config(dir: &tempfile::TempDir) -> Arc<Config> {
        let logs = format!("log.dirs={}", dir.path().display());
        Arc::new(Config::from_sources(None, Vec::new(), &[logs]).unwrap().0)
    }

    fn key(partition: i32) -> StateKey {
        StateKey {
            group: "g".into(),
            topic_id: Uuid::from_u128(5),
            partition,
        }
    }

    /// The local topic replays the latest state of each key; a tombstone deletes it; the
    /// records survive reopening the registry.
    #[tokio::test]
    async fn local_state_replays_latest_and_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(&dir);
        {
            let reg = TopicRegistry::open(c.clone(), 0).unwrap();
            let p = LocalPersister { topics: &reg };
            assert!(p.load().is_empty(), "no topic yet");
            p.write(&[(key(0), Some(state(1))), (key(1), Some(state(4)))], 0)
                .await
                .unwrap();
            p.write(&[(key(0), Some(state(9)))], 0).await.unwrap();
            p.write(&[(key(1), None)], 0).await.unwrap();
            assert!(reg.get(SHARE_STATE_TOPIC).unwrap().is_internal());
            reg.shut_down();
        }
        let reg = TopicRegistry::open(c, 0).unwrap();
        let p = LocalPersister { topics: &reg };
        let loaded = p.load();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[&key(0)], state(9));
    }

    /// The single-broker contract: a persister that replays answers `load_one` with what its
    /// replay holds for the key (latest write, none once tombstoned or never written), so a
    /// manager reading key by key would see what `ShareManager::open` restores.
    #[tokio::test]
    async fn a_replaying_persister_loads_one_key_from_its_replay() {
        let dir = tempfile::tempdir().unwrap();
        let reg = TopicRegistry::open(config(&dir), 0).unwrap();
        let p = LocalPersister { topics: &reg };
        assert_eq!(p.load_one(&key(0), 0).await.unwrap(), None, "no topic yet");
        p.write(&[(key(0), Some(state(1))), (key(1), Some(state(4)))], 0)
            .await
            .unwrap();
        p.write(&[(key(0), Some(state(9))), (key(1), None)], 0)
            .await
            .unwrap();
        assert_eq!(p.load_one(&key(0), 0).await.unwrap(), Some(state(9)));
        assert_eq!(p.load_one(&key(1), 0).await.unwrap(), None, "tombstoned");
        assert_eq!(p.load_one(&key(2), 0).await.unwrap(), None, "never written");
        let v = VolatilePersister;
        v.write(&[(key(0), Some(state(1)))], 0).await.unwrap();
        assert_eq!(v.load_one(&key(0), 0).await.unwrap(), None, "nothing kept");
        reg.shut_down();
    }
}
