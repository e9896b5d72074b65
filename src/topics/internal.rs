//! Internal topics (`__consumer_offsets`, `__transaction_state`): compacted partitions
//! written and replayed by the coordinators through the same storage engine as user data. A
//! single broker creates each with one partition on first use; in a cluster the controller
//! creates them (many partitions, each coordinator writing the ones this node leads), so here
//! they are only looked up.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::{Topic, TopicError, TopicRegistry};
use crate::log::LogError;
use crate::partition::{AppendOrigin, AppendOutcome};

/// A key and a value (None: tombstone).
pub type KeyValue = (Bytes, Option<Bytes>);

impl TopicRegistry {
    /// The internal topic `name`, created (one compacted partition) on first use.
    pub fn internal_topic(&self, name: &str, now_ms: i64) -> Result<Arc<Topic>, TopicError> {
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        if self.broker_config().cluster.is_some() {
            return Err(TopicError::UnknownTopic);
        }
        let mut cfg = BTreeMap::new();
        cfg.insert("cleanup.policy".to_string(), "compact".to_string());
        match self.create(name, 1, 1, cfg, now_ms) {
            Ok(t) => Ok(t),
            Err(e) => self.get(name).ok_or(e),
        }
    }

    /// Append records to an internal topic as one batch; `producer` makes it a
    /// transactional batch of that producer id and epoch. Returns the base offset.
    pub fn append_internal(
        &self,
        name: &str,
        partition: i32,
        records: Vec<KeyValue>,
        producer: Option<(i64, i16)>,
        now_ms: i64,
    ) -> Result<i64, TopicError> {
        let topic = self.internal_topic(name, now_ms)?;
        let partition = topic.partition(partition).ok_or(TopicError::UnknownTopic)?;
        let (producer_id, producer_epoch) = producer.unwrap_or((-1, -1));
        let recs: Vec<Record> = records
            .into_iter()
            .enumerate()
            .map(|(i, (key, value))| Record {
                transactional: producer.is_some(),
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id,
                producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: now_ms,
                key: Some(key),
                value,
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            recs.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .map_err(|e| LogError::InvalidRecord(e.to_string()))?;
        let validated = partition.validate(buf, AppendOrigin::Coordinator, now_ms)?;
        match partition.append(validated, now_ms)? {
            AppendOutcome::Appended(r) => Ok(r.base_offset),
            AppendOutcome::Duplicate { base_offset, .. } => Ok(base_offset),
        }
    }

    /// Every record of an internal topic, in order (start-up replay).
    pub fn replay_internal(&self, name: &str, f: &mut dyn FnMut(Record)) -> usize {
        self.replay_internal_partitions(name, None, f)
    }

    /// Every record of one partition of an internal topic, in order (a coordinator taking
    /// over that partition).
    pub fn replay_internal_partition(
        &self,
        name: &str,
        partition: i32,
        f: &mut dyn FnMut(Record),
    ) -> usize {
        self.replay_internal_partitions(name, Some(partition), f)
    }

    fn replay_internal_partitions(
        &self,
        name: &str,
        only: Option<i32>,
        f: &mut dyn FnMut(Record),
    ) -> usize {
        let Some(topic) = self.get(name) else {
            return 0;
        };
        let mut n = 0;
        for p in topic.local_partitions() {
            if only.is_some_and(|o| o != p.index) {
                continue;
            }
            let offsets = p.offsets();
            let mut offset = offsets.log_start_offset;
            let end = offsets.log_end_offset;
            while offset < end {
                let mut data = match p.read_bytes(offset, 8 << 20) {
                    Ok(d) if !d.is_empty() => d,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::error!("reading {name} at {offset}: {e}");
                        break;
                    }
                };
                let sets = match RecordBatchDecoder::decode_all(&mut data) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("decoding {name} at {offset}: {e}");
                        break;
                    }
                };
                let mut last = offset;
                for r in sets.into_iter().flat_map(|s| s.records) {
                    last = last.max(r.offset);
                    n += 1;
                    f(r);
                }
                offset = last + 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// Coordinator records go through the partition's one write path: a fetch parked on the
    /// internal topic wakes, plain and transactional records both, and replay reads them back.
    #[test]
    fn internal_records_wake_parked_fetches_and_replay() {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) = Config::from_sources(
            None,
            Vec::new(),
            &[format!("log.dirs={}", dir.path().display())],
        )
        .unwrap();
        let reg = TopicRegistry::open(Arc::new(c), 0).unwrap();
        let topic = reg.internal_topic("__consumer_offsets", 0).unwrap();
        let mut parked = topic.partition(0).unwrap().subscribe();
        let kv = |k: &'static str, v: &'static str| (Bytes::from(k), Some(Bytes::from(v)));

        let at = reg
            .append_internal(
                "__consumer_offsets",
                0,
                vec![kv("a", "1"), kv("b", "2")],
                None,
                0,
            )
            .unwrap();
        assert_eq!(at, 0);
        assert!(parked.has_changed().unwrap());
        assert_eq!(parked.borrow_and_update().log_end_offset, 2);

        let at = reg
            .append_internal("__consumer_offsets", 0, vec![kv("c", "3")], Some((9, 0)), 0)
            .unwrap();
        assert_eq!(at, 2);
        assert_eq!(parked.borrow_and_update().log_end_offset, 3);
        let offsets = topic.partition(0).unwrap().offsets();
        assert_eq!(
            offsets.last_stable_offset, 2,
            "the transactional record is open"
        );

        let mut seen = Vec::new();
        let n = reg.replay_internal("__consumer_offsets", &mut |r| {
            seen.push((r.offset, r.key.unwrap(), r.transactional));
        });
        assert_eq!(n, 3);
        assert_eq!(
            seen,
            vec![
                (0, Bytes::from("a"), false),
                (1, Bytes::from("b"), false),
                (2, Bytes::from("c"), true)
            ]
        );
    }
}
