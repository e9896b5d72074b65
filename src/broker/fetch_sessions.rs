//! Incremental fetch sessions (KIP-227), the broker's side: Kafka's `FetchSessionCache` and
//! `FetchManager.newContext` rules.
//!
//! A fetcher (consumer or follower) whose full fetch carries session epoch 0 is given a session
//! id. From then on it sends, with the next epoch each time, only the partitions whose fetch
//! position changed and the ones it no longer wants (forgotten), and the broker answers only
//! the partitions with something to say: records, a moved high watermark, last stable offset or
//! log start offset, an error, a diverging epoch. The session keeps, per partition, what the
//! fetcher last asked (`FetchPosition`) and what it was last told (`FetchAnswer`), in an order
//! that moves a partition which returned records to the back, so a fetch that fills its
//! `max_bytes` starts with the others next time (the fetcher cannot reorder what it does not
//! send).
//!
//! At most `max.incremental.fetch.session.cache.slots` sessions are kept. When the cache is
//! full a new session takes a slot only by evicting one that has not been used for
//! `min.incremental.fetch.session.eviction.ms`, or else the least valuable one that is itself
//! older than that: a follower's session (privileged) outranks a consumer's, a session with
//! more partitions outranks a smaller one. Without a slot the fetcher is answered with session
//! id 0 and keeps sending full fetches, which always work.
//!
//! Owns the sessions only: no protocol (requests come in as plain values, refusals go out as
//! [`SessionError`], which `api/fetch.rs` turns into Kafka's codes) and no clock of its own
//! (every call takes `now`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use uuid::Uuid;

/// Session epoch of a full fetch that asks for a session (Kafka's `INITIAL_EPOCH`).
pub const INITIAL_EPOCH: i32 = 0;
/// Session epoch of a fetch that wants no session: the one named, if any, is closed (Kafka's
/// `FINAL_EPOCH`).
pub const FINAL_EPOCH: i32 = -1;

/// How a session names a topic: by id from Fetch v13, by name before. A session stays with the
/// one it started with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SessionTopic {
    Id(Uuid),
    Name(Arc<str>),
}

/// One partition of a session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionPartition {
    pub topic: SessionTopic,
    pub partition: i32,
}

/// What a fetcher asks of one partition: the request's fields, kept by the session between
/// incremental fetches that do not repeat them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchPosition {
    pub fetch_offset: i64,
    pub partition_max_bytes: i32,
    pub current_leader_epoch: i32,
    pub last_fetched_epoch: i32,
    /// The fetcher's own log start offset (followers; -1 from consumers).
    pub log_start_offset: i64,
}

/// What a response said of one partition: an incremental response leaves a partition out when
/// it has nothing new against the last answer it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchAnswer {
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub has_records: bool,
    pub error: bool,
    pub diverging: bool,
}

/// Why a fetch's session metadata was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// FETCH_SESSION_ID_NOT_FOUND: never created, closed, or evicted.
    #[error("fetch session id not found")]
    NotFound,
    /// INVALID_FETCH_SESSION_EPOCH: not the epoch the session expects next.
    #[error("fetch session epoch is not the expected one")]
    InvalidEpoch,
    /// FETCH_SESSION_TOPIC_ID_ERROR: a session started with topic ids (v13+) used with names,
    /// or the other way round.
    #[error("fetch session topic id usage changed")]
    TopicIdUsage,
}

/// The session metadata of one fetch request.
pub struct SessionRequest<'a> {
    pub session_id: i32,
    pub epoch: i32,
    /// Fetch v13+: partitions are named by topic id.
    pub uses_topic_ids: bool,
    /// The partitions the request lists, in its order.
    pub fetch_data: &'a [(SessionPartition, FetchPosition)],
    /// Its forgotten partitions (v7+).
    pub forgotten: &'a [SessionPartition],
}

/// How one fetch request is served.
#[derive(Debug, PartialEq, Eq)]
pub enum FetchContext {
    /// Epoch -1 (or an incremental fetch that emptied its session): every requested partition
    /// is answered, with session id 0.
    Sessionless,
    /// Epoch 0: every requested partition is answered, and a session is created from the
    /// answer if the cache has room ([`FetchSessionCache::create_session`]).
    Full,
    /// An incremental fetch on a session: `partitions` are all the session's, in its order;
    /// the answer goes through [`FetchSessionCache::complete_incremental`] with `epoch`.
    Incremental {
        session_id: i32,
        epoch: i32,
        partitions: Vec<(SessionPartition, FetchPosition)>,
    },
}

/// The epoch after `epoch` (Kafka's `FetchMetadata.nextEpoch`): it wraps to 1, never to the
/// special 0 and -1.
pub fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 {
        FINAL_EPOCH
    } else if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// The fetch sessions of this broker.
pub struct FetchSessionCache {
    max_slots: usize,
    eviction_ms: i64,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    sessions: HashMap<i32, FetchSession>,
    /// (last used ms, id): the stalest session first.
    last_used: BTreeSet<(i64, i32)>,
    /// Sessions a new consumer session may evict (older than the eviction time at their last
    /// use), least valuable first.
    evictable_by_all: BTreeSet<EvictableKey>,
    /// Sessions a new follower session may evict: every consumer session, and follower
    /// sessions older than the eviction time.
    evictable_by_privileged: BTreeSet<EvictableKey>,
    /// Partitions over all sessions, as of their last use.
    partitions: usize,
}

/// The value of a session when slots are short, lowest first: consumer before follower, then
/// fewer partitions before more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct EvictableKey {
    privileged: bool,
    size: usize,
    id: i32,
}

struct FetchSession {
    id: i32,
    privileged: bool,
    uses_topic_ids: bool,
    created_ms: i64,
    last_used_ms: i64,
    /// The epoch the next incremental fetch must carry.
    epoch: i32,
    /// The size the cache's indexes know this session by (its size at its last use).
    cached_size: usize,
    partitions: Vec<CachedPartition>,
    index: HashMap<SessionPartition, usize>,
}

struct CachedPartition {
    key: SessionPartition,
    position: FetchPosition,
    /// As last sent to the fetcher (-1: never, or an error since, so the next answer goes out).
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

impl CachedPartition {
    /// Whether `answer` must be sent, remembering it as sent. Kafka's rules
    /// (`CachedPartition.maybeUpdateResponseData`), and the last stable offset too, which Kafka
    /// moves only together with the high watermark: a read_committed fetcher must not miss it.
    fn must_respond(&mut self, answer: &FetchAnswer) -> bool {
        let mut must = answer.has_records || answer.error || answer.diverging;
        if self.high_watermark != answer.high_watermark {
            must = true;
            self.high_watermark = answer.high_watermark;
        }
        if self.last_stable_offset != answer.last_stable_offset {
            must = true;
            self.last_stable_offset = answer.last_stable_offset;
        }
        if self.log_start_offset != answer.log_start_offset {
            must = true;
            self.log_start_offset = answer.log_start_offset;
        }
        if answer.error {
            // Sent again once the error has gone, whatever the offsets are then.
            self.high_watermark = -1;
        }
        must
    }
}

impl FetchSession {
    fn evictable_key(&self) -> EvictableKey {
        EvictableKey {
            privileged: self.privileged,
            size: self.cached_size,
            id: self.id,
        }
    }

    fn reindex(&mut self) {
        self.index = self
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| (p.key.clone(), i))
            .collect();
    }

    /// Apply an incremental fetch: listed partitions are added or take the new position,
    /// then forgotten ones are dropped (Kafka's order). Returns (added, updated, removed).
    fn update(
        &mut self,
        fetch_data: &[(SessionPartition, FetchPosition)],
        forgotten: &[SessionPartition],
    ) -> (usize, usize, usize) {
        let (mut added, mut updated) = (0, 0);
        for (key, position) in fetch_data {
            match self.index.get(key) {
                Some(&i) => {
                    self.partitions[i].position = *position;
                    updated += 1;
                }
                None => {
                    self.index.insert(key.clone(), self.partitions.len());
                    self.partitions.push(CachedPartition {
                        key: key.clone(),
                        position: *position,
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                    });
                    added += 1;
                }
            }
        }
        let before = self.partitions.len();
        if !forgotten.is_empty() {
            let forgotten: HashSet<&SessionPartition> = forgotten.iter().collect();
            self.partitions.retain(|p| !forgotten.contains(&p.key));
            if self.partitions.len() != before {
                self.reindex();
            }
        }
        (added, updated, before - self.partitions.len())
    }
}

impl FetchSessionCache {
    /// `max.incremental.fetch.session.cache.slots`, `min.incremental.fetch.session.eviction.ms`.
    pub fn new(max_slots: usize, eviction_ms: i64) -> FetchSessionCache {
        FetchSessionCache {
            max_slots,
            eviction_ms,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// Sessions in the cache.
    pub fn len(&self) -> usize {
        self.state.lock().sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Partitions over all sessions (Kafka's NumIncrementalFetchPartitionsCached).
    pub fn partitions(&self) -> usize {
        self.state.lock().partitions
    }

    /// Decide how a fetch is served from its session metadata (Kafka's
    /// `FetchManager.newContext`). A full fetch (epoch 0 or -1) closes the session it names;
    /// an incremental one must name a session here, at its expected epoch and with its kind of
    /// topic naming, and then updates it and moves it to the next epoch.
    pub fn new_context(
        &self,
        req: &SessionRequest<'_>,
        now: i64,
    ) -> Result<FetchContext, SessionError> {
        let mut state = self.state.lock();
        if req.epoch == INITIAL_EPOCH || req.epoch == FINAL_EPOCH {
            if req.session_id != 0 && state.remove(req.session_id).is_some() {
                tracing::debug!(
                    session = req.session_id,
                    "fetch session closed by its fetcher"
                );
            }
            return Ok(if req.epoch == FINAL_EPOCH {
                FetchContext::Sessionless
            } else {
                FetchContext::Full
            });
        }
        let Some(session) = state.sessions.get_mut(&req.session_id) else {
            tracing::debug!(session = req.session_id, "fetch session not found");
            return Err(SessionError::NotFound);
        };
        if session.epoch != req.epoch {
            tracing::debug!(
                session = req.session_id,
                expected = session.epoch,
                got = req.epoch,
                "fetch session epoch mismatch"
            );
            return Err(SessionError::InvalidEpoch);
        }
        if session.uses_topic_ids != req.uses_topic_ids {
            return Err(SessionError::TopicIdUsage);
        }
        let (added, updated, removed) = session.update(req.fetch_data, req.forgotten);
        if session.partitions.is_empty() {
            tracing::debug!(
                session = req.session_id,
                "fetch session closed: no partitions left"
            );
            state.remove(req.session_id);
            return Ok(FetchContext::Sessionless);
        }
        session.epoch = next_epoch(session.epoch);
        let partitions = session
            .partitions
            .iter()
            .map(|p| (p.key.clone(), p.position))
            .collect();
        tracing::trace!(
            session = req.session_id,
            epoch = req.epoch,
            added,
            updated,
            removed,
            "incremental fetch"
        );
        state.touch(req.session_id, now, self.eviction_ms);
        Ok(FetchContext::Incremental {
            session_id: req.session_id,
            epoch: req.epoch,
            partitions,
        })
    }

    /// After a full fetch (epoch 0) was read: make a session of its partitions and what they
    /// were answered, if a slot is free or can be freed (see the module doc). The session id,
    /// or 0 when there is no room.
    pub fn create_session(
        &self,
        now: i64,
        privileged: bool,
        uses_topic_ids: bool,
        partitions: impl IntoIterator<Item = (SessionPartition, FetchPosition, FetchAnswer)>,
    ) -> i32 {
        let partitions: Vec<CachedPartition> = partitions
            .into_iter()
            .map(|(key, position, answer)| CachedPartition {
                key,
                position,
                high_watermark: if answer.error {
                    -1
                } else {
                    answer.high_watermark
                },
                last_stable_offset: answer.last_stable_offset,
                log_start_offset: answer.log_start_offset,
            })
            .collect();
        let mut state = self.state.lock();
        let wanted = EvictableKey {
            privileged,
            size: partitions.len(),
            id: 0,
        };
        if state.sessions.len() >= self.max_slots
            && !state.try_evict(privileged, wanted, now, self.eviction_ms)
        {
            tracing::debug!(
                privileged,
                partitions = partitions.len(),
                "fetch session cache full: no session for this fetcher"
            );
            return 0;
        }
        let id = loop {
            let id = (getrandom::u32().expect("the OS has randomness") & 0x7fff_ffff) as i32;
            if id != 0 && !state.sessions.contains_key(&id) {
                break id;
            }
        };
        let mut session = FetchSession {
            id,
            privileged,
            uses_topic_ids,
            created_ms: now,
            last_used_ms: now,
            epoch: next_epoch(INITIAL_EPOCH),
            cached_size: 0,
            partitions,
            index: HashMap::new(),
        };
        session.reindex();
        tracing::debug!(
            session = id,
            privileged,
            partitions = session.partitions.len(),
            "fetch session created"
        );
        state.insert(session, now, self.eviction_ms);
        id
    }

    /// After an incremental fetch was read: which of the session's partitions the response
    /// includes, in the order of `answers` (the context's), remembering what is sent. A
    /// partition that returned records moves to the back of the session. Refused when the
    /// session was evicted (FETCH_SESSION_ID_NOT_FOUND) or moved on by another fetch
    /// (INVALID_FETCH_SESSION_EPOCH, as Kafka) meanwhile.
    pub fn complete_incremental<'a>(
        &self,
        session_id: i32,
        epoch: i32,
        answers: impl IntoIterator<Item = (&'a SessionPartition, FetchAnswer)>,
    ) -> Result<Vec<bool>, SessionError> {
        let mut state = self.state.lock();
        let Some(session) = state.sessions.get_mut(&session_id) else {
            // Evicted while the fetch was parked. Kafka would still answer from the detached
            // session and refuse the next fetch; refusing this one costs the fetcher nothing
            // (it starts over with a full fetch from the same positions either way).
            tracing::debug!(
                session = session_id,
                "fetch session not found: evicted during the fetch"
            );
            return Err(SessionError::NotFound);
        };
        if session.epoch != next_epoch(epoch) {
            tracing::info!(
                session = session_id,
                expected = next_epoch(epoch),
                got = session.epoch,
                "fetch session moved on while a fetch was answered: a duplicate request?"
            );
            return Err(SessionError::InvalidEpoch);
        }
        let mut moved = Vec::new();
        let include = answers
            .into_iter()
            .map(|(key, answer)| {
                let Some(&i) = session.index.get(key) else {
                    return false;
                };
                if answer.has_records {
                    moved.push(i);
                }
                session.partitions[i].must_respond(&answer)
            })
            .collect();
        if !moved.is_empty() {
            let moved: HashSet<usize> = moved.into_iter().collect();
            let (back, front): (Vec<_>, Vec<_>) = std::mem::take(&mut session.partitions)
                .into_iter()
                .enumerate()
                .partition(|(i, _)| moved.contains(i));
            session.partitions = front.into_iter().chain(back).map(|(_, p)| p).collect();
            session.reindex();
        }
        Ok(include)
    }
}

impl CacheState {
    fn insert(&mut self, session: FetchSession, now: i64, eviction_ms: i64) {
        let id = session.id;
        // Counted in by touch (a new session's cached size is 0: nothing to count out).
        self.sessions.insert(id, session);
        self.touch(id, now, eviction_ms);
    }

    fn remove(&mut self, id: i32) -> Option<FetchSession> {
        let session = self.sessions.remove(&id)?;
        self.last_used.remove(&(session.last_used_ms, id));
        let key = session.evictable_key();
        self.evictable_by_all.remove(&key);
        self.evictable_by_privileged.remove(&key);
        self.partitions -= session.cached_size;
        Some(session)
    }

    /// A session was used at `now`: its place among the stale, and among the evictable by the
    /// size it has now and its age (Kafka's `touch`: a session becomes evictable by size only
    /// once it is older than the eviction time, a follower's only by another follower's).
    fn touch(&mut self, id: i32, now: i64, eviction_ms: i64) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        self.last_used.remove(&(session.last_used_ms, id));
        session.last_used_ms = now;
        self.last_used.insert((now, id));
        let old = session.evictable_key();
        self.evictable_by_all.remove(&old);
        self.evictable_by_privileged.remove(&old);
        self.partitions -= session.cached_size;
        session.cached_size = session.partitions.len();
        self.partitions += session.cached_size;
        let key = session.evictable_key();
        let old_enough = now - session.created_ms > eviction_ms;
        if !session.privileged || old_enough {
            self.evictable_by_privileged.insert(key);
        }
        if old_enough {
            self.evictable_by_all.insert(key);
        }
    }

    /// Free a slot for a new session whose value is `wanted` (Kafka's `tryEvict`): the stalest
    /// session if unused for longer than the eviction time, else the least valuable evictable
    /// one if it is worth less than the new one.
    fn try_evict(
        &mut self,
        privileged: bool,
        wanted: EvictableKey,
        now: i64,
        eviction_ms: i64,
    ) -> bool {
        let Some(&(last_used, stalest)) = self.last_used.first() else {
            return false;
        };
        let stale = now - last_used > eviction_ms;
        let victim = if stale {
            stalest
        } else {
            let evictable = if privileged {
                &self.evictable_by_privileged
            } else {
                &self.evictable_by_all
            };
            match evictable.first() {
                Some(least) if wanted >= *least => least.id,
                _ => return false,
            }
        };
        let evicted = self.remove(victim);
        tracing::debug!(
            session = victim,
            partitions = evicted.map_or(0, |s| s.partitions.len()),
            stale,
            "fetch session evicted"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    const EVICTION_MS: i64 = 120_000;

    fn key(topic: &str, partition: i32) -> SessionPartition {
        SessionPartition {
            topic: SessionTopic::Name(Arc::from(topic)),
            partition,
        }
    }

    fn at(offset: i64) -> FetchPosition {
        FetchPosition {
            fetch_offset: offset,
            partition_max_bytes: 1 << 20,
            current_leader_epoch: -1,
            last_fetched_epoch: -1,
            log_start_offset: -1,
        }
    }

    fn answer(high_watermark: i64) -> FetchAnswer {
        FetchAnswer {
            high_watermark,
            last_stable_offset: high_watermark,
            log_start_offset: 0,
            has_records: false,
            error: false,
            diverging: false,
        }
    }

    fn with_records(high_watermark: i64) -> FetchAnswer {
        FetchAnswer {
            has_records: true,
            ..answer(high_watermark)
        }
    }

    /// A session of `partitions` partitions of topic `t` (all at offset 0, high watermark 0).
    fn create(cache: &FetchSessionCache, now: i64, privileged: bool, partitions: i32) -> i32 {
        cache.create_session(
            now,
            privileged,
            false,
            (0..partitions).map(|p| (key("t", p), at(0), answer(0))),
        )
    }

    fn request<'a>(
        session_id: i32,
        epoch: i32,
        fetch_data: &'a [(SessionPartition, FetchPosition)],
        forgotten: &'a [SessionPartition],
    ) -> SessionRequest<'a> {
        SessionRequest {
            session_id,
            epoch,
            uses_topic_ids: false,
            fetch_data,
            forgotten,
        }
    }

    fn incremental(cache: &FetchSessionCache, id: i32, epoch: i32, now: i64) -> FetchContext {
        cache
            .new_context(&request(id, epoch, &[], &[]), now)
            .unwrap()
    }

    fn keys(context: &FetchContext) -> Vec<(SessionPartition, i64)> {
        match context {
            FetchContext::Incremental { partitions, .. } => partitions
                .iter()
                .map(|(k, p)| (k.clone(), p.fetch_offset))
                .collect(),
            other => panic!("not incremental: {other:?}"),
        }
    }

    #[test]
    fn epochs_advance_and_wrap_past_the_special_values() {
        assert_eq!(next_epoch(0), 1);
        assert_eq!(next_epoch(41), 42);
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(-1), -1);
    }

    #[test]
    fn a_full_fetch_creates_a_session_that_incremental_fetches_continue() {
        let cache = FetchSessionCache::new(10, EVICTION_MS);
        let data = [(key("t", 0), at(0)), (key("t", 1), at(5))];
        assert_eq!(
            cache.new_context(&request(0, INITIAL_EPOCH, &data, &[]), 0),
            Ok(FetchContext::Full)
        );
        let id = cache.create_session(
            0,
            false,
            false,
            data.iter().map(|(k, p)| (k.clone(), *p, answer(10))),
        );
        assert!(id > 0);
        assert_eq!((cache.len(), cache.partitions()), (1, 2));
        // Epoch 1 first, then 2: each incremental fetch is given every partition of the
        // session with the position it last sent.
        for epoch in 1..=3 {
            let context = incremental(&cache, id, epoch, 0);
            assert_eq!(keys(&context), vec![(key("t", 0), 0), (key("t", 1), 5)]);
            let FetchContext::Incremental { epoch: e, .. } = context else {
                unreachable!()
            };
            assert_eq!(e, epoch);
            let answers = [(key("t", 0), answer(10)), (key("t", 1), answer(10))];
            let include = cache.complete_incremental(id, e, answers.iter().map(|(k, a)| (k, *a)));
            assert_eq!(include, Ok(vec![false, false]), "nothing changed");
        }
        // Not the epoch expected next (an old one, a future one), an unknown id.
        for epoch in [1, 3, 5] {
            assert_eq!(
                cache.new_context(&request(id, epoch, &[], &[]), 0),
                Err(SessionError::InvalidEpoch)
            );
        }
        assert_eq!(
            cache.new_context(&request(id ^ 1, 4, &[], &[]), 0),
            Err(SessionError::NotFound)
        );
        // ...and an incremental epoch without a session id.
        assert_eq!(
            cache.new_context(&request(0, 1, &[], &[]), 0),
            Err(SessionError::NotFound)
        );
        assert!(matches!(
            incremental(&cache, id, 4, 0),
            FetchContext::Incremental { .. }
        ));
    }

    #[test]
    fn incremental_fetches_add_update_and_forget_partitions() {
        let cache = FetchSessionCache::new(10, EVICTION_MS);
        let id = create(&cache, 0, false, 3);
        // Update t-1, add u-0, forget t-0 (listed and forgotten in the same request: added,
        // then forgotten, as Kafka applies them).
        let data = [
            (key("t", 1), at(7)),
            (key("u", 0), at(3)),
            (key("u", 1), at(0)),
        ];
        let forgotten = [key("t", 0), key("u", 1), key("v", 9)];
        let context = cache
            .new_context(&request(id, 1, &data, &forgotten), 0)
            .unwrap();
        assert_eq!(
            keys(&context),
            vec![(key("t", 1), 7), (key("t", 2), 0), (key("u", 0), 3)]
        );
        assert_eq!(cache.partitions(), 3);
        // The added partition has never been answered: it is included whatever it says; the
        // others only when changed.
        let answers = [
            (key("t", 1), answer(0)),
            (key("t", 2), answer(0)),
            (key("u", 0), answer(0)),
        ];
        let include = cache.complete_incremental(id, 1, answers.iter().map(|(k, a)| (k, *a)));
        assert_eq!(include, Ok(vec![false, false, true]));
        // Forgetting the last partitions closes the session: the fetch is served sessionless.
        let forgotten = [key("t", 1), key("t", 2), key("u", 0)];
        assert_eq!(
            cache.new_context(&request(id, 2, &[], &forgotten), 0),
            Ok(FetchContext::Sessionless)
        );
        assert!(cache.is_empty());
        assert_eq!(cache.partitions(), 0);
        assert_eq!(
            cache.new_context(&request(id, 3, &[], &[]), 0),
            Err(SessionError::NotFound)
        );
    }

    #[test]
    fn only_partitions_with_something_new_are_answered() {
        let cache = FetchSessionCache::new(10, EVICTION_MS);
        let id = create(&cache, 0, false, 7);
        let mut epoch = 1;
        // One incremental fetch whose partition p reads as `read(p)`: the partitions answered.
        let mut round = |read: &dyn Fn(i32) -> FetchAnswer| {
            let context = incremental(&cache, id, epoch, 0);
            let ks: Vec<SessionPartition> = keys(&context).into_iter().map(|(k, _)| k).collect();
            let answers = ks.iter().map(|k| (k, read(k.partition)));
            let include = cache.complete_incremental(id, epoch, answers).unwrap();
            epoch += 1;
            ks.iter()
                .zip(include)
                .filter(|(_, i)| *i)
                .map(|(k, _)| k.partition)
                .collect::<Vec<i32>>()
        };
        let changed = |p: i32| {
            let mut a = answer(0);
            match p {
                1 => a.has_records = true,
                2 => a.high_watermark = 5,
                3 => a.last_stable_offset = 5,
                4 => a.log_start_offset = 2,
                5 => a.error = true,
                6 => a.diverging = true,
                _ => {}
            }
            a
        };
        assert_eq!(round(&changed), vec![1, 2, 3, 4, 5, 6]);
        // The same again: only what is news each time (records, the error, the divergence).
        // p1 moved to the back when it returned records.
        assert_eq!(round(&changed), vec![5, 6, 1]);
        // The error clears: p5 is answered once more, then no more.
        let cleared = |p: i32| if p == 5 { answer(0) } else { changed(p) };
        let quiet = |p: i32| {
            let mut a = cleared(p);
            a.has_records = false;
            a.diverging = false;
            a
        };
        assert_eq!(round(&cleared), vec![5, 6, 1]);
        assert_eq!(round(&quiet), Vec::<i32>::new());
        // A high watermark moving back (truncation) counts as much as one moving on.
        let truncated = |p: i32| {
            let mut a = quiet(p);
            if p == 2 {
                a.high_watermark = 4;
            }
            a
        };
        assert_eq!(round(&truncated), vec![2]);
        assert_eq!(round(&truncated), Vec::<i32>::new());
    }

    #[test]
    fn partitions_that_returned_records_move_to_the_back() {
        let cache = FetchSessionCache::new(10, EVICTION_MS);
        let id = create(&cache, 0, false, 4);
        let context = incremental(&cache, id, 1, 0);
        let ks: Vec<SessionPartition> = keys(&context).into_iter().map(|(k, _)| k).collect();
        let answers = [with_records(1), answer(0), with_records(1), answer(0)];
        cache
            .complete_incremental(id, 1, ks.iter().zip(answers))
            .unwrap();
        let order: Vec<i32> = keys(&incremental(&cache, id, 2, 0))
            .into_iter()
            .map(|(k, _)| k.partition)
            .collect();
        assert_eq!(order, vec![1, 3, 0, 2]);
    }

    #[test]
    fn full_fetches_close_the_session_they_name() {
        let cache = FetchSessionCache::new(10, EVICTION_MS);
        let data = [(key("t", 0), at(0))];
        // Epoch -1 with a session id: closed, and this fetch is sessionless.
        let id = create(&cache, 0, false, 2);
        assert_eq!(
            cache.new_context(&request(id, FINAL_EPOCH, &data, &[]), 0),
            Ok(FetchContext::Sessionless)
        );
        assert!(cache.is_empty());
        assert_eq!(
            cache.new_context(&request(id, 1, &[], &[]), 0),
            Err(SessionError::NotFound)
        );
        // Epoch 0 with a session id: closed, and a new full fetch begins.
        let id = create(&cache, 0, false, 2);
        assert_eq!(
            cache.new_context(&request(id, INITIAL_EPOCH, &data, &[]), 0),
            Ok(FetchContext::Full)
        );
        assert!(cache.is_empty());
        // Sessionless without a session: nothing to close.
        assert_eq!(
            cache.new_context(&request(0, FINAL_EPOCH, &data, &[]), 0),
            Ok(FetchContext::Sessionless)
        );
    }

    #[test]
    fn a_session_keeps_the_topic_naming_it_started_with() {
        let cache = FetchSessionCache::new(10, EVICTION_MS);
        let id_key = SessionPartition {
            topic: SessionTopic::Id(Uuid::from_u128(7)),
            partition: 0,
        };
        let with_ids = cache.create_session(0, false, true, [(id_key, at(0), answer(0))]);
        let by_name = create(&cache, 0, false, 1);
        assert_eq!(
            cache.new_context(&request(with_ids, 1, &[], &[]), 0),
            Err(SessionError::TopicIdUsage)
        );
        let mut req = request(by_name, 1, &[], &[]);
        req.uses_topic_ids = true;
        assert_eq!(cache.new_context(&req, 0), Err(SessionError::TopicIdUsage));
        // The refusals did not move the sessions on.
        let mut req = request(with_ids, 1, &[], &[]);
        req.uses_topic_ids = true;
        assert!(matches!(
            cache.new_context(&req, 0),
            Ok(FetchContext::Incremental { .. })
        ));
        assert!(matches!(
            incremental(&cache, by_name, 1, 0),
            FetchContext::Incremental { .. }
        ));
    }

    #[test]
    fn an_answer_for_a_session_moved_on_or_gone_is_refused() {
        let cache = FetchSessionCache::new(10, EVICTION_MS);
        let id = create(&cache, 0, false, 1);
        let k = key("t", 0);
        incremental(&cache, id, 1, 0);
        // A second request at the next epoch while the first was parked.
        incremental(&cache, id, 2, 0);
        assert_eq!(
            cache.complete_incremental(id, 1, [(&k, answer(0))]),
            Err(SessionError::InvalidEpoch)
        );
        assert_eq!(
            cache.complete_incremental(id, 2, [(&k, answer(0))]),
            Ok(vec![false])
        );
        cache
            .new_context(&request(id, FINAL_EPOCH, &[], &[]), 0)
            .unwrap();
        assert_eq!(
            cache.complete_incremental(id, 3, [(&k, answer(0))]),
            Err(SessionError::NotFound)
        );
    }

    #[test]
    fn a_full_cache_creates_no_session_until_one_is_stale() {
        let clock = ManualClock::new(1_000_000);
        let cache = FetchSessionCache::new(2, EVICTION_MS);
        let a = create(&cache, clock.now_ms(), false, 5);
        clock.advance(10);
        let b = create(&cache, clock.now_ms(), false, 5);
        assert!(a > 0 && b > 0 && a != b);
        // Full, both young: no room even for a bigger session...
        clock.advance(10);
        assert_eq!(create(&cache, clock.now_ms(), false, 50), 0);
        // ...and while both are used, none becomes stale.
        let mut epochs = [(a, 1), (b, 1)];
        for _ in 0..3 {
            clock.advance(EVICTION_MS / 2);
            for (id, epoch) in &mut epochs {
                incremental(&cache, *id, *epoch, clock.now_ms());
                *epoch += 1;
            }
        }
        assert_eq!(create(&cache, clock.now_ms(), false, 1), 0);
        // b goes quiet; once unused for longer than the eviction time it gives way, whatever
        // the sizes.
        for _ in 0..3 {
            clock.advance(EVICTION_MS / 2);
            let (id, epoch) = &mut epochs[0];
            incremental(&cache, *id, *epoch, clock.now_ms());
            *epoch += 1;
        }
        let c = create(&cache, clock.now_ms(), false, 1);
        assert!(c > 0);
        assert_eq!(
            cache.new_context(&request(b, epochs[1].1, &[], &[]), clock.now_ms()),
            Err(SessionError::NotFound)
        );
        assert!(matches!(
            incremental(&cache, a, epochs[0].1, clock.now_ms()),
            FetchContext::Incremental { .. }
        ));
        assert_eq!((cache.len(), cache.partitions()), (2, 6));
    }

    #[test]
    fn an_old_enough_session_gives_way_to_a_bigger_one_smallest_first() {
        let clock = ManualClock::new(0);
        let cache = FetchSessionCache::new(3, EVICTION_MS);
        let small = create(&cache, clock.now_ms(), false, 2);
        let middle = create(&cache, clock.now_ms(), false, 4);
        let large = create(&cache, clock.now_ms(), false, 8);
        // Used regularly, past the eviction time since their creation.
        let mut epoch = 1;
        for _ in 0..3 {
            clock.advance(EVICTION_MS / 2);
            for id in [small, middle, large] {
                incremental(&cache, id, epoch, clock.now_ms());
            }
            epoch += 1;
        }
        // Not bigger than the smallest (equal does not count): no room.
        assert_eq!(create(&cache, clock.now_ms(), false, 2), 0);
        assert_eq!(create(&cache, clock.now_ms(), false, 1), 0);
        // Bigger than the smallest: it goes, the others stay.
        let three = create(&cache, clock.now_ms(), false, 3);
        assert!(three > 0);
        let gone = |id, epoch| {
            cache.new_context(&request(id, epoch, &[], &[]), clock.now_ms())
                == Err(SessionError::NotFound)
        };
        assert!(gone(small, epoch));
        // The new session is young, so the next bigger one takes the 4-partition one's place.
        let nine = create(&cache, clock.now_ms(), false, 9);
        assert!(nine > 0);
        assert!(gone(middle, epoch));
        for id in [large, three, nine] {
            assert!(!gone(id, if id == large { epoch } else { 1 }));
        }
    }

    #[test]
    fn followers_outrank_consumers() {
        let clock = ManualClock::new(0);
        let cache = FetchSessionCache::new(2, EVICTION_MS);
        let consumer = create(&cache, clock.now_ms(), false, 100);
        let follower = create(&cache, clock.now_ms(), true, 1);
        // A young consumer session gives way to a follower's, even a smaller one...
        let follower2 = create(&cache, clock.now_ms(), true, 1);
        assert!(follower2 > 0);
        assert_eq!(
            cache.new_context(&request(consumer, 1, &[], &[]), clock.now_ms()),
            Err(SessionError::NotFound)
        );
        // ...but a young follower session gives way to nothing, and an old one only to
        // another follower's bigger session, never to a consumer's.
        assert_eq!(create(&cache, clock.now_ms(), true, 50), 0);
        for epoch in 1..=3 {
            clock.advance(EVICTION_MS / 2);
            for id in [follower, follower2] {
                incremental(&cache, id, epoch, clock.now_ms());
            }
        }
        assert_eq!(create(&cache, clock.now_ms(), false, 1000), 0);
        assert_eq!(create(&cache, clock.now_ms(), true, 1), 0);
        assert!(create(&cache, clock.now_ms(), true, 2) > 0);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn no_slots_no_sessions() {
        let cache = FetchSessionCache::new(0, EVICTION_MS);
        assert_eq!(create(&cache, 0, true, 10), 0);
        assert!(cache.is_empty());
    }
}
