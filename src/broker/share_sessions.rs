//! Share sessions (KIP-932), the broker's side: Kafka's `ShareSessionCache` and
//! `SharePartitionManager.newContext` / `acknowledgeSessionUpdate` rules (design
//! docs/design/share-groups.md §7.1).
//!
//! A share session is keyed by (group id, member id). It remembers the partitions the member
//! fetches (an incremental ShareFetch names only changes), the next epoch it expects, the
//! connection it lives on, and when it was last used. ShareFetch epoch 0 starts a session
//! (replacing one of the same key without releasing its records), -1 ends one, n > 0 continues
//! one; ShareAcknowledge cannot start one.
//!
//! A session ends when its connection closes (Kafka 4.1+, KAFKA-19015): the member's acquired
//! records go back at once. A close from a connection that no longer owns the session — the
//! client re-created it with epoch 0 on a new connection — is ignored (KAFKA-19950).
//!
//! At most `group.share.max.share.sessions` sessions are kept; a new one takes the slot of the
//! least recently used session idle for at least [`EVICTION_MS`], else it is refused with
//! SHARE_SESSION_LIMIT_REACHED.
//!
//! Owns the sessions only: no protocol, no clock (every call takes `now`), no share-partition
//! state. Ending a session returns the keys whose records the caller must release.

use std::collections::HashMap;

use parking_lot::Mutex;
use uuid::Uuid;

/// ShareFetch epoch that opens a session.
pub const INITIAL_EPOCH: i32 = 0;
/// Epoch that closes the session after the request.
pub const FINAL_EPOCH: i32 = -1;
/// How long a session must have been idle before a new one may evict it (fjord's choice;
/// Kafka 4.2 ends sessions through connection closes and refuses new ones when full).
pub const EVICTION_MS: i64 = 120_000;

/// (group id, member id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShareSessionKey {
    pub group_id: String,
    pub member_id: String,
}

/// (topic id, partition).
pub type ShareTopicPartition = (Uuid, i32);

#[derive(Clone, Debug)]
struct ShareSession {
    /// In the order they were first named.
    partitions: Vec<ShareTopicPartition>,
    next_epoch: i32,
    conn_id: u64,
    last_used_ms: i64,
}

/// Why a request's session metadata was refused (top-level error codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareSessionError {
    /// SHARE_SESSION_NOT_FOUND.
    #[error("share session not found")]
    NotFound,
    /// INVALID_SHARE_SESSION_EPOCH.
    #[error("invalid share session epoch")]
    InvalidEpoch,
    /// SHARE_SESSION_LIMIT_REACHED.
    #[error("share session limit reached")]
    LimitReached,
    /// INVALID_REQUEST: acknowledgements in a ShareFetch that opens a session.
    #[error("acknowledgements in a ShareFetch with epoch 0")]
    InvalidRequest,
}

/// What a ShareFetch works on once its session metadata is accepted.
#[derive(Debug, PartialEq, Eq)]
pub struct ShareFetchContext {
    /// Every partition of the session (after the request's additions and removals); for the
    /// final epoch, the session's partitions as they were.
    pub partitions: Vec<ShareTopicPartition>,
    /// The final epoch: acknowledge, fetch nothing; the session is already gone and the
    /// member's records are to be released.
    pub closing: bool,
    /// Sessions evicted to make room: release their members' records.
    pub evicted: Vec<ShareSessionKey>,
}

/// The share sessions of this broker.
pub struct ShareSessionCache {
    max_sessions: usize,
    sessions: Mutex<HashMap<ShareSessionKey, ShareSession>>,
}

impl ShareSessionCache {
    pub fn new(max_sessions: i32) -> Self {
        ShareSessionCache {
            max_sessions: max_sessions.max(0) as usize,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The session rules of a ShareFetch (design §7.1): `added` are the request's partitions,
    /// `forgotten` its `ForgottenTopicsData`.
    #[allow(clippy::too_many_arguments)]
    pub fn fetch_context(
        &self,
        key: &ShareSessionKey,
        epoch: i32,
        conn_id: u64,
        added: &[ShareTopicPartition],
        forgotten: &[ShareTopicPartition],
        has_acknowledgements: bool,
        now_ms: i64,
    ) -> Result<ShareFetchContext, ShareSessionError> {
        let mut sessions = self.sessions.lock();
        match epoch {
            INITIAL_EPOCH => {
                if has_acknowledgements {
                    return Err(ShareSessionError::InvalidRequest);
                }
                // A new session of the same key replaces the old one; its records stay
                // acquired (the member is the same).
                sessions.remove(key);
                let mut evicted = Vec::new();
                if sessions.len() >= self.max_sessions {
                    let victim = sessions
                        .iter()
                        .filter(|(_, s)| now_ms - s.last_used_ms >= EVICTION_MS)
                        .min_by_key(|(k, s)| (s.last_used_ms, (*k).clone()))
                        .map(|(k, _)| k.clone());
                    match victim {
                        Some(v) if self.max_sessions > 0 => {
                            sessions.remove(&v);
                            evicted.push(v);
                        }
                        _ => return Err(ShareSessionError::LimitReached),
                    }
                }
                let mut partitions = Vec::new();
                add_partitions(&mut partitions, added);
                sessions.insert(
                    key.clone(),
                    ShareSession {
                        partitions: partitions.clone(),
                        next_epoch: 1,
                        conn_id,
                        last_used_ms: now_ms,
                    },
                );
                Ok(ShareFetchContext {
                    partitions,
                    closing: false,
                    evicted,
                })
            }
            FINAL_EPOCH => {
                let session = sessions.remove(key).ok_or(ShareSessionError::NotFound)?;
                Ok(ShareFetchContext {
                    partitions: session.partitions,
                    closing: true,
                    evicted: Vec::new(),
                })
            }
            n => {
                let session = sessions.get_mut(key).ok_or(ShareSessionError::NotFound)?;
                if n != session.next_epoch {
                    return Err(ShareSessionError::InvalidEpoch);
                }
                add_partitions(&mut session.partitions, added);
                session.partitions.retain(|tp| !forgotten.contains(tp));
                session.next_epoch = next_epoch(n);
                session.conn_id = conn_id;
                session.last_used_ms = now_ms;
                Ok(ShareFetchContext {
                    partitions: session.partitions.clone(),
                    closing: false,
                    evicted: Vec::new(),
                })
            }
        }
    }

    /// The session rules of a ShareAcknowledge: epoch 0 is INVALID_SHARE_SESSION_EPOCH, -1
    /// closes the session (returns true: release the member's records after the
    /// acknowledgements), n > 0 must be the expected epoch.
    pub fn acknowledge_context(
        &self,
        key: &ShareSessionKey,
        epoch: i32,
        conn_id: u64,
        now_ms: i64,
    ) -> Result<bool, ShareSessionError> {
        let mut sessions = self.sessions.lock();
        match epoch {
            INITIAL_EPOCH => Err(ShareSessionError::InvalidEpoch),
            FINAL_EPOCH => sessions
                .remove(key)
                .map(|_| true)
                .ok_or(ShareSessionError::NotFound),
            n => {
                let session = sessions.get_mut(key).ok_or(ShareSessionError::NotFound)?;
                if n != session.next_epoch {
                    return Err(ShareSessionError::InvalidEpoch);
                }
                session.next_epoch = next_epoch(n);
                session.conn_id = conn_id;
                session.last_used_ms = now_ms;
                Ok(false)
            }
        }
    }

    /// Connection `conn_id` closed: its sessions end. Returns their keys, whose members'
    /// records the caller releases. A session that has moved to another connection since is
    /// not touched (KAFKA-19950).
    pub fn connection_closed(&self, conn_id: u64) -> Vec<ShareSessionKey> {
        let mut sessions = self.sessions.lock();
        let closed: Vec<ShareSessionKey> = sessions
            .iter()
            .filter(|(_, s)| s.conn_id == conn_id)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &closed {
            sessions.remove(k);
        }
        closed
    }

    /// Whether any session of `group` is kept now.
    pub fn has_group(&self, group: &str) -> bool {
        self.sessions.lock().keys().any(|k| k.group_id == group)
    }

    /// Sessions kept now.
    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// After `i32::MAX` comes 1 (0 is the initial epoch, -1 the final one).
fn next_epoch(n: i32) -> i32 {
    if n == i32::MAX { 1 } else { n + 1 }
}

fn add_partitions(into: &mut Vec<ShareTopicPartition>, added: &[ShareTopicPartition]) {
    for tp in added {
        if !into.contains(tp) {
            into.push(*tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(member: &str) -> ShareSessionKey {
        ShareSessionKey {
            group_id: "g".into(),
            member_id: member.into(),
        }
    }

    fn tp(p: i32) -> ShareTopicPartition {
        (Uuid::from_u128(7), p)
    }

    fn open(c: &ShareSessionCache, member: &str, conn: u64, now: i64) -> ShareFetchContext {
        c.fetch_context(&key(member), 0, conn, &[tp(0)], &[], false, now)
            .unwrap()
    }

    #[test]
    fn epoch_zero_opens_and_replaces_a_session() {
        let c = ShareSessionCache::new(10);
        let ctx = open(&c, "a", 1, 0);
        assert_eq!(ctx.partitions, vec![tp(0)]);
        assert!(!ctx.closing && ctx.evicted.is_empty());
        // Epoch 1 is expected; a second epoch 0 starts over at 1.
        c.fetch_context(&key("a"), 1, 1, &[], &[], false, 1)
            .unwrap();
        open(&c, "a", 1, 2);
        assert_eq!(
            c.fetch_context(&key("a"), 2, 1, &[], &[], false, 3),
            Err(ShareSessionError::InvalidEpoch)
        );
        c.fetch_context(&key("a"), 1, 1, &[], &[], false, 3)
            .unwrap();
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn epoch_zero_with_acknowledgements_is_invalid_request() {
        let c = ShareSessionCache::new(10);
        assert_eq!(
            c.fetch_context(&key("a"), 0, 1, &[tp(0)], &[], true, 0),
            Err(ShareSessionError::InvalidRequest)
        );
        assert!(c.is_empty());
    }

    #[test]
    fn incremental_epochs_add_and_forget_partitions() {
        let c = ShareSessionCache::new(10);
        open(&c, "a", 1, 0);
        let ctx = c
            .fetch_context(&key("a"), 1, 1, &[tp(1), tp(0)], &[], false, 1)
            .unwrap();
        assert_eq!(ctx.partitions, vec![tp(0), tp(1)]);
        let ctx = c
            .fetch_context(&key("a"), 2, 1, &[], &[tp(0)], false, 2)
            .unwrap();
        assert_eq!(ctx.partitions, vec![tp(1)]);
        // Wrong epochs, unknown members.
        assert_eq!(
            c.fetch_context(&key("a"), 2, 1, &[], &[], false, 3),
            Err(ShareSessionError::InvalidEpoch)
        );
        assert_eq!(
            c.fetch_context(&key("b"), 1, 1, &[], &[], false, 3),
            Err(ShareSessionError::NotFound)
        );
    }

    #[test]
    fn the_epoch_after_max_is_one() {
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(5), 6);
    }

    #[test]
    fn final_epoch_closes_and_needs_a_session() {
        let c = ShareSessionCache::new(10);
        assert_eq!(
            c.fetch_context(&key("a"), -1, 1, &[], &[], true, 0),
            Err(ShareSessionError::NotFound)
        );
        open(&c, "a", 1, 0);
        let ctx = c
            .fetch_context(&key("a"), -1, 1, &[], &[], true, 1)
            .unwrap();
        assert!(ctx.closing);
        assert_eq!(ctx.partitions, vec![tp(0)]);
        assert!(c.is_empty());
    }

    #[test]
    fn share_acknowledge_epochs() {
        let c = ShareSessionCache::new(10);
        assert_eq!(
            c.acknowledge_context(&key("a"), 0, 1, 0),
            Err(ShareSessionError::InvalidEpoch)
        );
        assert_eq!(
            c.acknowledge_context(&key("a"), 1, 1, 0),
            Err(ShareSessionError::NotFound)
        );
        assert_eq!(
            c.acknowledge_context(&key("a"), -1, 1, 0),
            Err(ShareSessionError::NotFound)
        );
        open(&c, "a", 1, 0);
        assert_eq!(
            c.acknowledge_context(&key("a"), 2, 1, 1),
            Err(ShareSessionError::InvalidEpoch)
        );
        assert_eq!(c.acknowledge_context(&key("a"), 1, 1, 1), Ok(false));
        // ShareFetch and ShareAcknowledge share the epoch sequence.
        c.fetch_context(&key("a"), 2, 1, &[], &[], true, 2).unwrap();
        assert_eq!(c.acknowledge_context(&key("a"), 3, 1, 3), Ok(false));
        assert_eq!(c.acknowledge_context(&key("a"), -1, 1, 4), Ok(true));
        assert!(c.is_empty());
    }

    #[test]
    fn limit_evicts_only_idle_sessions() {
        let c = ShareSessionCache::new(2);
        open(&c, "a", 1, 0);
        open(&c, "b", 1, 10);
        assert_eq!(
            c.fetch_context(&key("c"), 0, 1, &[tp(0)], &[], false, 100),
            Err(ShareSessionError::LimitReached)
        );
        // Re-creating an existing key needs no new slot.
        open(&c, "b", 1, 100);
        // Once idle long enough, the least recently used one goes.
        let ctx = open(&c, "c", 1, EVICTION_MS);
        assert_eq!(ctx.evicted, vec![key("a")]);
        assert_eq!(c.len(), 2);
        let none = ShareSessionCache::new(0);
        assert_eq!(
            none.fetch_context(&key("a"), 0, 1, &[], &[], false, 0),
            Err(ShareSessionError::LimitReached)
        );
    }

    #[test]
    fn connection_close_ends_its_sessions_only() {
        let c = ShareSessionCache::new(10);
        open(&c, "a", 1, 0);
        open(&c, "b", 2, 0);
        assert_eq!(c.connection_closed(1), vec![key("a")]);
        assert_eq!(c.len(), 1);
        assert!(c.connection_closed(1).is_empty());
    }

    /// KAFKA-19950: the client re-created its session on a new connection before the old
    /// connection's close was processed; that close must not end the new session.
    #[test]
    fn a_stale_connection_close_is_ignored() {
        let c = ShareSessionCache::new(10);
        open(&c, "a", 1, 0);
        open(&c, "a", 2, 1);
        assert!(c.connection_closed(1).is_empty());
        assert_eq!(c.len(), 1);
        assert_eq!(c.connection_closed(2), vec![key("a")]);
    }
}
