//! The coordinator over time: [`GroupCoordinator::open`] replays `__consumer_offsets` at
//! start-up (committed offsets, each group's generation and protocol type, each share group's
//! epoch, offsets pending with transactions and the markers that settle them); [`GroupCoordinator::tick`] advances session,
//! rebalance and sync deadlines and triggers offset expiry.
//!
//! **Must never:** read the clock (the broker's ticker, or a test, passes `now_ms`).

use super::classic::ClassicGroup;
use super::coordinator::{GroupCoordinator, OFFSETS_TOPIC};
use super::records::{self, GroupKey, GroupRecord};
use super::share::ShareGroup;
use crate::config::Config;
use crate::log::control::marker_type;
use crate::topics::TopicRegistry;

impl GroupCoordinator {
    /// Replay `__consumer_offsets` (if it exists) into memory.
    pub fn open(config: &Config, topics: &TopicRegistry, now_ms: i64) -> GroupCoordinator {
        let coord = GroupCoordinator::new(config, now_ms);
        if topics.get(OFFSETS_TOPIC).is_some() {
            let n = coord.replay(topics, now_ms);
            tracing::info!(
                records = n,
                groups = coord.groups.lock().len(),
                "loaded {OFFSETS_TOPIC}"
            );
        }
        coord
    }

    fn replay(&self, topics: &TopicRegistry, now_ms: i64) -> usize {
        topics.replay_internal(OFFSETS_TOPIC, &mut |r| self.replay_record(r, now_ms))
    }

    pub(super) fn replay_partition(
        &self,
        topics: &TopicRegistry,
        partition: i32,
        now_ms: i64,
    ) -> usize {
        topics.replay_internal_partition(OFFSETS_TOPIC, partition, &mut |r| {
            self.replay_record(r, now_ms)
        })
    }

    fn replay_record(&self, r: kafka_protocol::records::Record, now_ms: i64) {
        {
            if r.control {
                // A transaction marker settles that producer's pending offsets.
                if let Some(marker) = r.key.as_deref().and_then(marker_type) {
                    self.complete_transaction(r.producer_id, marker.is_commit());
                }
                return;
            }
            let Some(key) = r.key.as_ref().and_then(records::decode_key) else {
                return;
            };
            let value = r
                .value
                .as_ref()
                .and_then(|v| records::decode_value(&key, v));
            if r.transactional {
                if let (
                    GroupKey::Offset {
                        group,
                        topic,
                        partition,
                    },
                    Some(GroupRecord::Offset(o)),
                ) = (key, value)
                {
                    self.add_pending(&group, r.producer_id, topic, partition, o, now_ms);
                }
                return;
            }
            self.apply(key, value, now_ms);
        }
    }

    fn apply(&self, key: GroupKey, value: Option<GroupRecord>, now_ms: i64) {
        let mut groups = self.groups.lock();
        match (key, value) {
            (
                GroupKey::Offset {
                    group,
                    topic,
                    partition,
                },
                Some(GroupRecord::Offset(o)),
            ) => {
                self.entry(&mut groups, &group, now_ms)
                    .offsets
                    .commit((topic, partition), o);
            }
            (
                GroupKey::Offset {
                    group,
                    topic,
                    partition,
                },
                _,
            ) => {
                if let Some(e) = groups.get_mut(&group) {
                    e.offsets.delete(&(topic, partition));
                }
            }
            (
                GroupKey::Metadata { group },
                Some(GroupRecord::Metadata {
                    protocol_type,
                    generation_id,
                }),
            ) => {
                let entry = self.entry(&mut groups, &group, now_ms);
                entry.group = ClassicGroup::restore(
                    &group,
                    self.limits,
                    generation_id,
                    (!protocol_type.is_empty()).then_some(protocol_type),
                    now_ms,
                );
            }
            (GroupKey::Metadata { group }, _) => {
                groups.remove(&group);
            }
            (GroupKey::ShareMetadata { group }, Some(GroupRecord::ShareMetadata { epoch })) => {
                // Members are not persisted: the group comes back Empty, at its epoch.
                let entry = self.entry(&mut groups, &group, now_ms);
                entry.consumer = None;
                entry.share = Some(ShareGroup::new(
                    &group,
                    epoch,
                    self.share_session_timeout_ms,
                ));
            }
            (GroupKey::ShareMetadata { group }, _) => {
                if groups.get(&group).is_some_and(|e| e.share.is_some()) {
                    groups.remove(&group);
                }
            }
        }
    }

    /// Advance time: sessions, rebalance and sync deadlines, offset expiry.
    pub fn tick(&self, topics: &TopicRegistry, now_ms: i64) {
        let mut groups = self.groups.lock();
        let mut view = None;
        for entry in groups.values_mut() {
            entry.group.tick(now_ms);
            self.flush_group(topics, &mut entry.group, now_ms);
            if let Some(cg) = &mut entry.consumer
                && !cg.members.is_empty()
            {
                let view = view.get_or_insert_with(|| self.topic_view(topics));
                cg.tick(view, now_ms);
            }
            if let Some(sg) = &mut entry.share {
                if !sg.members.is_empty() {
                    let view = view.get_or_insert_with(|| self.topic_view(topics));
                    if !sg.tick(view, now_ms).is_empty() {
                        sg.dirty = true;
                    }
                }
                self.flush_share_group(topics, sg, now_ms);
            }
        }
        let mut last = self.last_expiry_check_ms.lock();
        if now_ms - *last < self.retention_check_interval_ms {
            return;
        }
        *last = now_ms;
        drop(last);
        self.expire_offsets(topics, &mut groups, now_ms);
    }
}
