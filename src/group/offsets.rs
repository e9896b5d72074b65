//! The coordinator's offset APIs: OffsetCommit, TxnOffsetCommit, OffsetFetch, OffsetDelete,
//! settling a transaction's offsets at its marker, the pending check of `require_stable`, and
//! retention (`offsets.retention.minutes`, KIP-211). The offsets themselves sit in each group's
//! [`super::offset_store::GroupOffsets`].
//!
//! **Must never:** run membership — join, leave, rebalance, move a generation or epoch (a commit
//! only checks the member and generation or epoch it is given; the only group-level effects here
//! are that a first commit creates a standalone group and persists its metadata, and that expiry
//! drops an empty group left without offsets); write `__consumer_offsets` except through the
//! coordinator's `persist` / `persist_as`; speak the wire; read the clock (time is a `now_ms`
//! argument).

use std::collections::HashMap;

use bytes::Bytes;

use super::classic::GroupState;
use super::coordinator::{GroupCoordinator, GroupEntry};
use super::offset_store::OffsetBatch;
use super::records::{self, CommittedOffset};
use crate::error::KafkaError as E;
use crate::error::{Code, NONE};
use crate::topics::TopicRegistry;

impl GroupCoordinator {
    /// OffsetCommit: a group-level error, or one error per offset (in order).
    #[allow(clippy::too_many_arguments)]
    pub fn commit_offsets(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        offsets: Vec<(String, i32, CommittedOffset)>,
        now_ms: i64,
    ) -> Result<Vec<Code>, Code> {
        if group_id.is_empty() {
            return Err(E::InvalidGroupId.code());
        }
        if !self.owns(group_id) {
            return Err(E::NotCoordinator.code());
        }
        tracing::debug!(
            group = group_id,
            member = member_id,
            generation_id,
            "offset commit"
        );
        let mut groups = self.groups.lock();
        let exists = groups.contains_key(group_id);
        if !exists && generation_id >= 0 {
            // A generation of a group this coordinator does not know (as Kafka answers).
            return Err(E::IllegalGeneration.code());
        }
        let entry = self.entry(&mut groups, group_id, now_ms);
        if entry.share.is_some() {
            // A share group has no committed offsets (Kafka: "… is not a classic group").
            return Err(E::GroupIdNotFound.code());
        }
        match &entry.consumer {
            Some(cg) if !(cg.members.is_empty() && generation_id < 0) => {
                cg.check_member_epoch(member_id, generation_id)?
            }
            _ => entry
                .group
                .check_commit(member_id, instance, generation_id)?,
        }
        let OffsetBatch {
            mut results,
            mut records,
            accepted,
        } = self.offset_batch(topics, group_id, offsets);
        if !exists && !accepted.is_empty() {
            // First write for a standalone group: make it visible after a restart too.
            entry.group.dirty = true;
        }
        if entry.group.dirty {
            records.push(Self::metadata_record(&entry.group));
        }
        // A failed write (a full disk) commits nothing: the offsets keep their previous
        // values, the group stays dirty, and the client retries (see persist).
        if let Err(e) = self.persist(topics, group_id, records, now_ms) {
            for (i, ..) in &accepted {
                results[*i] = e;
            }
            return Ok(results);
        }
        entry.group.dirty = false;
        for (_, topic, partition, o) in accepted {
            entry.offsets.commit((topic, partition), o);
        }
        Ok(results)
    }

    /// TxnOffsetCommit: offsets that count only if the transaction commits.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit_offsets(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        offsets: Vec<(String, i32, CommittedOffset)>,
        now_ms: i64,
    ) -> Result<Vec<Code>, Code> {
        if !self.owns(group_id) {
            return Err(E::NotCoordinator.code());
        }
        let mut groups = self.groups.lock();
        let entry = self.entry(&mut groups, group_id, now_ms);
        if entry.share.is_some() {
            return Err(E::GroupIdNotFound.code());
        }
        // KIP-447: a member/generation, when given, must be current.
        if generation_id >= 0 || !member_id.is_empty() {
            match &entry.consumer {
                Some(cg) => cg.check_member_epoch(member_id, generation_id)?,
                None => entry
                    .group
                    .check_commit(member_id, instance, generation_id)?,
            }
        }
        let OffsetBatch {
            results,
            records,
            accepted,
        } = self.offset_batch(topics, group_id, offsets);
        self.persist_as(
            topics,
            group_id,
            records,
            Some((producer_id, producer_epoch)),
            now_ms,
        )?;
        entry.offsets.add_pending(
            producer_id,
            accepted.into_iter().map(|(_, t, p, o)| ((t, p), o)),
        );
        Ok(results)
    }

    /// Validate offsets to commit (metadata size, partition exists) and encode the
    /// records of the valid ones; one result code per offset, in order.
    fn offset_batch(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        offsets: Vec<(String, i32, CommittedOffset)>,
    ) -> OffsetBatch {
        let mut b = OffsetBatch {
            results: Vec::with_capacity(offsets.len()),
            records: Vec::new(),
            accepted: Vec::new(),
        };
        let view = self.topic_view(topics);
        for (topic, partition, o) in offsets {
            let code = if o.metadata.len() > self.metadata_max_bytes {
                E::OffsetMetadataTooLarge.code()
            } else if !view
                .get(&topic)
                .is_some_and(|&(_, count)| partition >= 0 && partition < count)
            {
                E::UnknownTopicOrPartition.code()
            } else {
                b.records.push((
                    records::encode_offset_key(group_id, &topic, partition),
                    Some(records::encode_offset_value(&o)),
                ));
                b.accepted.push((b.results.len(), topic, partition, o));
                NONE
            };
            b.results.push(code);
        }
        b
    }

    /// OffsetFetch: the committed offsets of the requested partitions (all when None).
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Vec<(String, i32, Option<CommittedOffset>)> {
        let groups = self.groups.lock();
        let offsets = groups.get(group_id).map(|e| &e.offsets);
        match partitions {
            Some(wanted) => wanted
                .into_iter()
                .flat_map(|(topic, parts)| {
                    parts
                        .into_iter()
                        .map(move |p| (topic.clone(), p))
                        .collect::<Vec<_>>()
                })
                .map(|(t, p)| {
                    let o = offsets.and_then(|m| m.get(&(t.clone(), p)).cloned());
                    (t, p, o)
                })
                .collect(),
            None => offsets
                .map(|m| {
                    m.iter()
                        .map(|((t, p), o)| (t.clone(), *p, Some(o.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// OffsetDelete: a group-level error, or one error per partition.
    pub fn delete_offsets(
        &self,
        topics: &TopicRegistry,
        group_id: &str,
        partitions: Vec<(String, i32)>,
        now_ms: i64,
    ) -> Result<Vec<Code>, Code> {
        if !self.owns(group_id) {
            return Err(E::NotCoordinator.code());
        }
        let mut groups = self.groups.lock();
        let Some(entry) = groups.get_mut(group_id) else {
            return Err(E::GroupIdNotFound.code());
        };
        if entry.group.state == GroupState::Dead {
            return Err(E::GroupIdNotFound.code());
        }
        let subscribed: Vec<String> = match &entry.consumer {
            Some(cg) => cg
                .subscribed_topics(&self.topic_view(topics))
                .into_iter()
                .collect(),
            None if entry.group.state == GroupState::Empty => Vec::new(),
            None => entry.group.subscribed_topics(),
        };
        let mut results = Vec::with_capacity(partitions.len());
        let mut records = Vec::new();
        let mut removed = Vec::new();
        for (topic, p) in partitions {
            if subscribed.contains(&topic) {
                results.push(E::GroupSubscribedToTopic.code());
                continue;
            }
            if entry.offsets.get(&(topic.clone(), p)).is_some() {
                records.push((records::encode_offset_key(group_id, &topic, p), None));
                removed.push((topic, p));
            }
            results.push(NONE);
        }
        self.persist(topics, group_id, records, now_ms)?;
        for k in removed {
            entry.offsets.delete(&k);
        }
        Ok(results)
    }

    pub(super) fn add_pending(
        &self,
        group_id: &str,
        producer_id: i64,
        topic: String,
        partition: i32,
        o: CommittedOffset,
        now_ms: i64,
    ) {
        let mut groups = self.groups.lock();
        self.entry(&mut groups, group_id, now_ms)
            .offsets
            .add_pending(producer_id, [((topic, partition), o)]);
    }

    /// A transaction of `producer_id` ended: its offsets become committed, or vanish.
    pub fn complete_transaction(&self, producer_id: i64, commit: bool) {
        let mut groups = self.groups.lock();
        for entry in groups.values_mut() {
            entry.offsets.complete_transaction(producer_id, commit);
        }
    }

    /// Whether a transaction holds uncommitted offsets for a partition (require_stable).
    pub fn has_pending_offsets(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        let groups = self.groups.lock();
        groups
            .get(group_id)
            .is_some_and(|e| e.offsets.has_pending(&(topic.to_string(), partition)))
    }

    /// offsets.retention.minutes: an empty group's offsets expire once the group has
    /// been empty, and the offset uncommitted-to, for the retention period (KIP-211).
    pub(super) fn expire_offsets(
        &self,
        topics: &TopicRegistry,
        groups: &mut HashMap<String, GroupEntry>,
        now_ms: i64,
    ) {
        let mut dead = Vec::new();
        for (id, entry) in groups.iter_mut() {
            if entry.group.state != GroupState::Empty || entry.is_active_consumer_group() {
                continue;
            }
            let since = entry.group.state_since_ms;
            let expired = entry.offsets.expired(since, self.retention_ms, now_ms);
            if expired.is_empty() {
                continue;
            }
            let mut records: Vec<(Bytes, Option<Bytes>)> = expired
                .iter()
                .map(|(t, p)| (records::encode_offset_key(id, t, *p), None))
                .collect();
            // A group that an open transaction still holds offsets for stays (Kafka's rule).
            let all_gone = expired.len() == entry.offsets.len() && !entry.offsets.has_any_pending();
            if all_gone {
                records.push((records::encode_group_key(id), None));
            }
            if self.persist(topics, id, records, now_ms).is_ok() {
                tracing::info!(group = %id, offsets = expired.len(), "expired committed offsets");
                for k in expired {
                    entry.offsets.delete(&k);
                }
                if all_gone {
                    dead.push(id.clone());
                }
            }
        }
        for id in dead {
            groups.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::group::OFFSETS_TOPIC;
    use crate::group::consumer::HeartbeatRequest;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn open(dir: &std::path::Path, extra: &[&str]) -> (Arc<Config>, TopicRegistry) {
        let mut ov = vec![format!("log.dirs={}", dir.display())];
        ov.extend(extra.iter().map(|s| s.to_string()));
        let (c, _) = Config::from_sources(None, Vec::new(), &ov).unwrap();
        let c = Arc::new(c);
        let reg = TopicRegistry::open(c.clone(), 0).unwrap();
        (c, reg)
    }

    fn offset(o: i64, ts: i64) -> CommittedOffset {
        CommittedOffset {
            offset: o,
            leader_epoch: 0,
            metadata: String::new(),
            commit_timestamp_ms: ts,
        }
    }

    #[test]
    fn offsets_and_deletions_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (c, reg) = open(dir.path(), &[]);
            reg.create("t", 2, 1, BTreeMap::new(), 0).unwrap();
            let g = GroupCoordinator::open(&c, &reg, 0);
            let codes = g
                .commit_offsets(
                    &reg,
                    "keep",
                    "",
                    None,
                    -1,
                    vec![("t".into(), 0, offset(5, 1)), ("t".into(), 1, offset(7, 1))],
                    1,
                )
                .unwrap();
            assert_eq!(codes, vec![NONE, NONE]);
            g.commit_offsets(
                &reg,
                "keep",
                "",
                None,
                -1,
                vec![("t".into(), 0, offset(6, 2))],
                2,
            )
            .unwrap();
            g.commit_offsets(
                &reg,
                "gone",
                "",
                None,
                -1,
                vec![("t".into(), 0, offset(1, 3))],
                3,
            )
            .unwrap();
            assert_eq!(g.delete_groups(&reg, &["gone".into()], 4), vec![NONE]);
            // Unknown partitions are refused, nothing stored.
            let codes = g
                .commit_offsets(
                    &reg,
                    "keep",
                    "",
                    None,
                    -1,
                    vec![("t".into(), 9, offset(1, 5))],
                    5,
                )
                .unwrap();
            assert_eq!(codes, vec![E::UnknownTopicOrPartition.code()]);
        }
        let (c, reg) = open(dir.path(), &[]);
        let g = GroupCoordinator::open(&c, &reg, 10);
        assert_eq!(
            g.fetch_offsets("keep", None),
            vec![
                ("t".to_string(), 0, Some(offset(6, 2))),
                ("t".to_string(), 1, Some(offset(7, 1)))
            ]
        );
        assert_eq!(g.fetch_offsets("gone", None), vec![]);
        let listed: Vec<String> = g.list_groups().into_iter().map(|l| l.group_id).collect();
        assert_eq!(listed, vec!["keep".to_string()]);
        assert!(reg.get(OFFSETS_TOPIC).unwrap().is_internal());
    }

    #[test]
    fn offsets_of_an_empty_group_expire_after_retention() {
        let dir = tempfile::tempdir().unwrap();
        let (c, reg) = open(
            dir.path(),
            &[
                "offsets.retention.minutes=1",
                "offsets.retention.check.interval.ms=1000",
            ],
        );
        reg.create("t", 1, 1, BTreeMap::new(), 0).unwrap();
        let g = GroupCoordinator::open(&c, &reg, 0);
        g.commit_offsets(
            &reg,
            "idle",
            "",
            None,
            -1,
            vec![("t".into(), 0, offset(3, 0))],
            0,
        )
        .unwrap();
        g.tick(&reg, 59_000);
        assert_eq!(g.fetch_offsets("idle", None).len(), 1, "within retention");
        g.tick(&reg, 60_000);
        assert_eq!(g.fetch_offsets("idle", None), vec![], "expired");
        assert!(g.list_groups().is_empty());
        // and the expiry is durable
        let g2 = GroupCoordinator::open(&c, &reg, 61_000);
        assert_eq!(g2.fetch_offsets("idle", None), vec![]);
    }

    /// Kafka keeps what an open transaction holds: a partition with a pending transactional
    /// offset does not expire, and the group stays while the transaction is open; once it
    /// commits, the offset is a committed one with its own retention.
    #[test]
    fn offsets_held_by_an_open_transaction_do_not_expire() {
        let dir = tempfile::tempdir().unwrap();
        let (c, reg) = open(
            dir.path(),
            &[
                "offsets.retention.minutes=1",
                "offsets.retention.check.interval.ms=1000",
            ],
        );
        reg.create("t", 2, 1, BTreeMap::new(), 0).unwrap();
        let g = GroupCoordinator::open(&c, &reg, 0);
        g.commit_offsets(
            &reg,
            "eos",
            "",
            None,
            -1,
            vec![("t".into(), 0, offset(3, 0)), ("t".into(), 1, offset(4, 0))],
            0,
        )
        .unwrap();
        g.txn_commit_offsets(
            &reg,
            "eos",
            77,
            0,
            "",
            None,
            -1,
            vec![("t".into(), 0, offset(9, 1_000))],
            1_000,
        )
        .unwrap();
        g.tick(&reg, 60_000);
        let left: Vec<i32> = g
            .fetch_offsets("eos", None)
            .into_iter()
            .map(|(_, p, _)| p)
            .collect();
        assert_eq!(
            left,
            vec![0],
            "partition 1 expired; partition 0 is held by the transaction"
        );
        assert_eq!(
            g.list_groups().len(),
            1,
            "the group stays while the transaction is open"
        );
        g.complete_transaction(77, true);
        assert_eq!(
            g.fetch_offsets("eos", None)[0].2.as_ref().unwrap().offset,
            9
        );
        g.tick(&reg, 61_000 + 60_000);
        assert!(g.fetch_offsets("eos", None).is_empty());
        assert!(g.list_groups().is_empty());
    }

    #[test]
    fn consumer_group_member_commits_with_its_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) = Config::from_sources(
            None,
            Vec::new(),
            &[format!("log.dirs={}", dir.path().display())],
        )
        .unwrap();
        let c = Arc::new(c);
        let reg = TopicRegistry::open(c.clone(), 0).unwrap();
        reg.create("t", 2, 1, BTreeMap::new(), 0).unwrap();
        let g = GroupCoordinator::open(&c, &reg, 0);
        let r = g.consumer_heartbeat(
            &reg,
            "cg",
            HeartbeatRequest {
                member_id: "m1".into(),
                member_epoch: 0,
                rebalance_timeout_ms: 30_000,
                subscribed_topic_names: Some(vec!["t".into()]),
                ..Default::default()
            },
            0,
        );
        assert_eq!((r.error, r.member_epoch), (NONE, 1));
        let o = CommittedOffset {
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 1,
        };
        let codes = g.commit_offsets(
            &reg,
            "cg",
            "m1",
            None,
            1,
            vec![("t".into(), 0, o.clone())],
            1,
        );
        assert_eq!(codes, Ok(vec![NONE]));
        let stale = g.commit_offsets(
            &reg,
            "cg",
            "m1",
            None,
            0,
            vec![("t".into(), 0, o.clone())],
            1,
        );
        assert_eq!(stale, Err(E::StaleMemberEpoch.code()));
        let unknown = g.commit_offsets(&reg, "cg", "zz", None, 1, vec![("t".into(), 0, o)], 1);
        assert_eq!(unknown, Err(E::UnknownMemberId.code()));
        let listed = g.list_groups();
        assert_eq!(
            (listed[0].group_type, listed[0].state),
            ("consumer", "Stable")
        );
    }
}
