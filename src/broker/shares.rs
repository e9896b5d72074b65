//! Share groups' broker-side composition (design §7, §12.2): the effective share settings of a
//! group (its group configs over the broker's `group.share.*` keys), and the end of share
//! sessions (final epoch, closed connection, eviction), which releases the member's records;
//! dropping the share-partitions of partitions no longer led here; where their state is
//! written; the admin side (design §9): share-group offsets and DeleteGroups deleting a share
//! group's state before the group.

use kafka_protocol::ResponseError as E;
use uuid::Uuid;

use super::share_sessions::ShareSessionKey;
use super::{Broker, TopicRef};
use crate::config::group::{ShareAutoOffsetReset, effective_value};
use crate::error::Code;
use crate::share::{
    LocalPersister, SharePartitionKey, ShareSettings, StatePersister, VolatilePersister,
};

impl Broker {
    /// The share settings of `group` (its `share.record.lock.duration.ms` over the broker's),
    /// or the broker's own with `None` (what the expiry tick needs: the delivery limit).
    pub fn share_settings(&self, group: Option<&str>) -> ShareSettings {
        let share = &self.config.share;
        let lock_ms = group
            .and_then(|g| {
                effective_value(
                    &self.config,
                    &self.group_configs_of(g),
                    "share.record.lock.duration.ms",
                )
            })
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(share.record_lock_duration_ms as i64);
        ShareSettings {
            record_lock_duration_ms: lock_ms,
            delivery_count_limit: share.delivery_count_limit.clamp(1, i16::MAX as i32) as i16,
            max_record_locks: share.partition_max_record_locks as i64,
        }
    }

    /// The group's `share.auto.offset.reset` (default latest).
    pub fn share_auto_offset_reset(&self, group: &str) -> ShareAutoOffsetReset {
        effective_value(
            &self.config,
            &self.group_configs_of(group),
            "share.auto.offset.reset",
        )
        .and_then(|v| ShareAutoOffsetReset::parse(&v))
        .unwrap_or(ShareAutoOffsetReset::Latest)
    }

    /// A share session ended: its member's acquired records go back (delivery count
    /// decremented, design §6.4).
    pub fn end_share_session(&self, key: &ShareSessionKey) {
        let released = self.shares.release_member(&key.group_id, &key.member_id);
        if released > 0 {
            tracing::debug!(group = %key.group_id, member = %key.member_id, released, "share session ended; records released");
        }
    }

    /// Connection `conn_id` closed: the share sessions it owns end (KAFKA-19015; a session
    /// re-created on another connection since is kept, KAFKA-19950).
    pub fn connection_closed(&self, conn_id: u64) {
        for key in self.share_sessions.connection_closed(conn_id) {
            self.end_share_session(&key);
        }
    }

    /// Where share-partition state is written: the local `__share_group_state` on a single
    /// broker; nowhere in a cluster (design §8.7: state lives in the leader's memory until the
    /// share coordinator exists).
    pub fn share_persister(&self) -> Box<dyn StatePersister + '_> {
        if self.cluster.is_some() {
            Box::new(VolatilePersister)
        } else {
            Box::new(LocalPersister {
                topics: &self.topics,
            })
        }
    }

    /// The tick's share-state write: every share-partition changed by expiry, release or
    /// initialization since its last write, in one batch; retried next tick on failure.
    pub fn flush_share_state(&self, now_ms: i64) {
        if let Err(e) = self.shares.flush(&*self.share_persister(), now_ms) {
            tracing::warn!("share state not written (retried next tick): {e}");
        }
    }

    /// Drop the share-partitions (and their persisted state) of partitions this broker no
    /// longer leads (deleted topics, moved leadership).
    pub fn forget_share_partitions(&self) {
        let dropped = self.shares.retain_partitions(
            |id, index| self.leader_partition(TopicRef::Id(*id), index).is_ok(),
            &*self.share_persister(),
            self.now_ms(),
        );
        if dropped > 0 {
            tracing::debug!(
                dropped,
                "share-partitions of partitions not led here dropped"
            );
        }
    }

    /// DeleteShareGroupOffsets / DeleteGroups: tombstone the share state of `group` (one topic
    /// with `Some`). KAFKA_STORAGE_ERROR when the tombstones cannot be written.
    pub fn delete_share_state(&self, group: &str, topic: Option<Uuid>) -> Result<(), Code> {
        self.shares
            .delete_state(group, topic, &*self.share_persister(), self.now_ms())
            .map(|_| ())
            .map_err(|e| {
                tracing::warn!(group, "share state not deleted: {e}");
                E::KafkaStorageError.code()
            })
    }

    /// AlterShareGroupOffsets: the share-partition starts again at `start_offset`.
    pub fn reset_share_start_offset(
        &self,
        key: &SharePartitionKey,
        start_offset: i64,
    ) -> Result<(), Code> {
        self.shares
            .reset_start_offset(key, start_offset, &*self.share_persister(), self.now_ms())
            .map_err(|e| {
                tracing::warn!(group = %key.group_id, "share start offset not reset: {e}");
                E::KafkaStorageError.code()
            })
    }

    /// DeleteGroups of `ids` (authorized): an empty share group's share state is deleted
    /// first, so a crash in between leaves a group without state, never state without its
    /// group (design §8.6); a group whose state cannot be deleted stays.
    pub fn delete_groups(&self, ids: &[String]) -> Vec<Code> {
        let now = self.now_ms();
        let mut codes: Vec<Option<Code>> = vec![None; ids.len()];
        for (i, id) in ids.iter().enumerate() {
            if let Ok(0) = self.groups.share_group_members(&self.topics, id, None, now)
                && let Err(code) = self.delete_share_state(id, None)
            {
                codes[i] = Some(code);
            }
        }
        let rest: Vec<String> = ids
            .iter()
            .zip(&codes)
            .filter(|(_, c)| c.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        let mut deleted = self
            .groups
            .delete_groups(&self.topics, &rest, now)
            .into_iter();
        codes
            .into_iter()
            .map(|c| c.unwrap_or_else(|| deleted.next().unwrap_or(0)))
            .collect()
    }
}
