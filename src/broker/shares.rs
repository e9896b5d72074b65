//! Share groups' broker-side composition (design §7, §12.2): the effective share settings of a
//! group (its group configs over the broker's `group.share.*` keys), and the end of share
//! sessions (final epoch, closed connection, eviction), which releases the member's records;
//! dropping the share-partitions of partitions no longer led here (a single broker tombstones a
//! deleted topic's state, a cluster's share coordinator does; a moved leadership's only leaves
//! memory, design §14.1 step 3); where their
//! state is written; the share-partitions' timers (lock expiry and the dirty-state flush); the
//! admin side (design §9): share-group offsets and DeleteGroups deleting a share group's state
//! before the group. In a cluster the admin side asks the share coordinators instead
//! (`share_admin.rs`, design §14.1 step 6).
//!
//! The share manager's operations are awaited (a persister may be an RPC, and a state lock is
//! held across it).

use kafka_protocol::ResponseError as E;
use uuid::Uuid;

use super::share_sessions::ShareSessionKey;
use super::share_state::RemotePersister;
use super::{Broker, TopicRef};
use crate::config::group::{ShareAutoOffsetReset, effective_value};
use crate::error::Code;
use crate::share::{LocalPersister, SharePartitionKey, ShareSettings, StatePersister};

impl Broker {
    /// The share settings of `group`: its group configs over the broker's `group.share.*`
    /// keys, a stored value outside the broker's current bounds held to them (Kafka's
    /// `GroupConfig.evaluate`: the bounds may have changed since it was set).
    pub fn share_settings(&self, group: &str) -> ShareSettings {
        let share = &self.config.share;
        let configs = self.group_configs_of(group);
        let int = |name: &str, bounds: (i32, i32)| {
            effective_value(&self.config, &configs, name)
                .and_then(|v| v.parse::<i64>().ok())
                .map(|v| v.clamp(bounds.0 as i64, bounds.1 as i64))
        };
        let lock_ms = int(
            "share.record.lock.duration.ms",
            (
                share.min_record_lock_duration_ms,
                share.max_record_lock_duration_ms,
            ),
        )
        .unwrap_or(share.record_lock_duration_ms as i64);
        let delivery_limit = int(
            "share.delivery.count.limit",
            (
                share.min_delivery_count_limit,
                share.max_delivery_count_limit,
            ),
        )
        .unwrap_or(share.delivery_count_limit as i64);
        let max_record_locks = int(
            "share.partition.max.record.locks",
            (
                share.min_partition_max_record_locks,
                share.max_partition_max_record_locks,
            ),
        )
        .unwrap_or(share.partition_max_record_locks as i64);
        ShareSettings {
            record_lock_duration_ms: lock_ms,
            delivery_count_limit: delivery_limit.clamp(1, i16::MAX as i64) as i16,
            max_record_locks,
            renew_enabled: effective_value(
                &self.config,
                &configs,
                "share.renew.acknowledge.enable",
            )
            .is_none_or(|v| !v.eq_ignore_ascii_case("false")),
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

    /// The group's `share.isolation.level` is read_committed (default read_uncommitted).
    pub fn share_read_committed(&self, group: &str) -> bool {
        effective_value(
            &self.config,
            &self.group_configs_of(group),
            "share.isolation.level",
        )
        .is_some_and(|v| v == "read_committed")
    }

    /// A share session ended: its member's acquired records go back (delivery count
    /// decremented, design §6.4).
    pub async fn end_share_session(&self, key: &ShareSessionKey) {
        let released = self
            .shares
            .release_member(&key.group_id, &key.member_id)
            .await;
        if released > 0 {
            tracing::debug!(group = %key.group_id, member = %key.member_id, released, "share session ended; records released");
        }
        if self.cluster.is_some() && !self.share_sessions.has_group(&key.group_id) {
            self.unload_share_group(&key.group_id).await;
        }
    }

    /// The last share session of `group` on this cluster node ended: its share-partitions
    /// leave memory once their state is written, as Kafka's leader drops a share-partition
    /// whose group has no member on it (`SharePartitionListener.onGroupEmpty`). The state is
    /// the coordinator's, and an AlterShareGroupOffsets or DeleteShareGroupOffsets made there
    /// while the group is empty (design §14.1 step 6) is what the next session reads, not a
    /// stale copy. Kept when the write fails (its next write is fenced or retried instead).
    async fn unload_share_group(&self, group: &str) {
        let now = self.now_ms();
        if let Err(e) = self.shares.flush(&*self.share_persister(), now).await {
            tracing::warn!(
                group,
                "share state not written; the group stays loaded: {e}"
            );
            return;
        }
        if self.share_sessions.has_group(group) {
            return;
        }
        // Only what nobody uses: a session may open on another worker thread right now.
        let unloaded = self
            .shares
            .unload_idle_partitions(|k| k.group_id == group)
            .await;
        if unloaded > 0 {
            tracing::debug!(
                group,
                unloaded,
                "share group unloaded: no session left here"
            );
        }
    }

    /// Connection `conn_id` closed: the share sessions it owns end (KAFKA-19015; a session
    /// re-created on another connection since is kept, KAFKA-19950). Awaited by the
    /// connection's task, so a clean shutdown's flush, which waits for the connections, writes
    /// the releases.
    pub async fn connection_closed(&self, conn_id: u64) {
        for key in self.share_sessions.connection_closed(conn_id) {
            self.end_share_session(&key).await;
        }
    }

    /// Where share-partition state is written: the local `__share_group_state` on a single
    /// broker; in a cluster, each key's share coordinator (`share_state.rs`, design §14.1).
    /// It borrows the broker: a task that writes holds an `Arc<Broker>` and asks for it inside.
    pub fn share_persister(&self) -> Box<dyn StatePersister + '_> {
        if self.cluster.is_some() {
            Box::new(RemotePersister { broker: self })
        } else {
            Box::new(LocalPersister {
                topics: &self.topics,
            })
        }
    }

    /// The share-partitions' tick (every 100 ms): locks due expire, then every share-partition
    /// changed by expiry, release or initialization since its last write is written in one
    /// batch (retried next tick on failure).
    pub async fn share_tick(&self, now_ms: i64) {
        self.shares
            .expire_locks(now_ms, |group| self.share_settings(group))
            .await;
        self.flush_share_state(now_ms).await;
    }

    /// The tick's share-state write (and a clean shutdown's).
    pub async fn flush_share_state(&self, now_ms: i64) {
        if let Err(e) = self.shares.flush(&*self.share_persister(), now_ms).await {
            tracing::warn!("share state not written (retried next tick): {e}");
        }
    }

    /// Whether partition `index` of topic `id` exists as far as this broker can tell: a topic
    /// id that no longer resolves was deleted (a re-created topic has a new id). A cluster node
    /// whose image may not be current yet says yes.
    fn share_partition_exists(&self, id: &Uuid, index: i32) -> bool {
        let Some(cluster) = &self.cluster else {
            return self
                .topics
                .get_by_id(*id)
                .is_some_and(|t| t.partition(index).is_some());
        };
        if !cluster.caught_up() {
            return true;
        }
        let image = cluster.image();
        image
            .topic_by_id(*id)
            .is_some_and(|t| usize::try_from(index).is_ok_and(|i| i < t.partitions.len()))
    }

    /// Drop the share-partitions of partitions this broker no longer leads: a deleted topic's
    /// with their persisted state, a moved leadership's from memory only (the next leader
    /// loads their state). On a single broker every partition that exists is led here. In a
    /// cluster a deleted topic's leave memory only too: its share coordinator tombstones their
    /// state itself (`delete_share_state_of_deleted_topics`), and refuses a delete for a topic
    /// its image no longer has, as Kafka's does.
    pub async fn forget_share_partitions(&self) {
        let single = self.cluster.is_none();
        let dropped = self
            .shares
            .retain_partitions(
                |id, index| single && !self.share_partition_exists(id, index),
                |id, index| self.leader_partition(TopicRef::Id(*id), index).is_ok(),
                &*self.share_persister(),
                self.now_ms(),
            )
            .await;
        if dropped.deleted + dropped.unloaded > 0 {
            tracing::debug!(
                deleted = dropped.deleted,
                unloaded = dropped.unloaded,
                "share-partitions of partitions not led here dropped"
            );
        }
    }

    /// The image moved (`follow.rs`): the share-partitions of partitions another node (or
    /// none) leads now leave memory at once, rather than at the next retention tick, so a
    /// leadership that comes back finds no stale state (design §14.1 step 3). Their state is
    /// kept for the new leader; a deleted topic's is the retention tick's to tombstone.
    pub(super) fn follow_share_leadership(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let me = self.node_id;
        // The image is read per share-partition under the manager's map lock (that order, as
        // `forget_share_partitions`), never held around it.
        let unloaded = self.shares.unload_partitions(|k| {
            let image = cluster.image();
            image.topic_by_id(k.topic_id).is_some_and(|t| {
                usize::try_from(k.partition)
                    .ok()
                    .and_then(|i| t.partitions.get(i))
                    .is_some_and(|p| p.leader != me)
            })
        });
        if unloaded > 0 {
            tracing::debug!(
                unloaded,
                "share-partitions of partitions led elsewhere unloaded"
            );
        }
    }

    /// DeleteShareGroupOffsets / DeleteGroups: tombstone the share state of `group` (one topic
    /// with `Some`). KAFKA_STORAGE_ERROR when the tombstones cannot be written.
    /// In a cluster the state is deleted at the share coordinators (`share_admin.rs`).
    pub async fn delete_share_state(&self, group: &str, topic: Option<Uuid>) -> Result<(), Code> {
        if self.cluster.is_some() {
            return self.delete_cluster_share_state(group, topic).await;
        }
        self.shares
            .delete_state(group, topic, &*self.share_persister(), self.now_ms())
            .await
            .map(|_| ())
            .map_err(|e| {
                tracing::warn!(group, "share state not deleted: {e}");
                E::KafkaStorageError.code()
            })
    }

    /// AlterShareGroupOffsets: the share-partition starts again at `start_offset`. In a
    /// cluster its coordinator initializes it again under the next state epoch
    /// (`share_admin.rs`).
    pub async fn reset_share_start_offset(
        &self,
        key: &SharePartitionKey,
        start_offset: i64,
    ) -> Result<(), Code> {
        if self.cluster.is_some() {
            return self
                .initialize_share_start_offset(
                    &key.group_id,
                    (key.topic_id, key.partition),
                    start_offset,
                )
                .await;
        }
        self.shares
            .reset_start_offset(key, start_offset, &*self.share_persister(), self.now_ms())
            .await
            .map_err(|e| {
                tracing::warn!(group = %key.group_id, "share start offset not reset: {e}");
                E::KafkaStorageError.code()
            })
    }

    /// DeleteGroups of `ids` (authorized): an empty share group's share state is deleted
    /// first, so a crash in between leaves a group without state, never state without its
    /// group (design §8.6); a group whose state cannot be deleted stays.
    pub async fn delete_groups(&self, ids: &[String]) -> Vec<Code> {
        let now = self.now_ms();
        let mut codes: Vec<Option<Code>> = vec![None; ids.len()];
        for (i, id) in ids.iter().enumerate() {
            if let Ok(0) = self.groups.share_group_members(&self.topics, id, None, now)
                && let Err(code) = self.delete_share_state(id, None).await
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
