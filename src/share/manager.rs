//! The share-partitions of this broker (Kafka `SharePartitionManager`; design §6, §7, §12):
//! one [`SharePartition`] state machine per (group, topic id, partition), each behind its own
//! mutex with an availability watch that parked ShareFetches wait on.
//!
//! Owns: creating a share-partition on its first ShareFetch with the SPSO
//! `share.auto.offset.reset` gives (earliest: the log start; latest: the high watermark;
//! by_duration: the first offset at or after now − duration), reading the batches acquisition
//! needs from the partition's log as file ranges (only batch headers are read; the record data
//! goes to the socket from the files, design §7.6), the lock-expiry tick, and releasing a
//! member's records when its share session ends.
//!
//! In memory only for now: the state of a share-partition is lost on restart and re-initialized
//! from `share.auto.offset.reset`. Durable state (design §8, step 5) plugs in at
//! [`ShareManager::initial_state`] (load) and after every change that returns from here
//! (write before answering).
//!
//! Never: speaks the wire, reads config stores (settings come in as values), or takes a
//! share-partition lock while holding a partition lock (the partition read takes the partition
//! lock under the share-partition lock, never the other way round).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use uuid::Uuid;

use super::partition::{
    AcknowledgementBatch, AcquireLimits, AcquiredRecords, BatchInfo, BatchSource, SharePartition,
    ShareSettings,
};
use crate::config::group::ShareAutoOffsetReset;
use crate::error::KafkaError;
use crate::log::batch::{HEADER_SIZE, MAGIC_V2};
use crate::log::{BatchHeader, FileSlice, LogError};
use crate::partition::{Isolation, Partition};

/// One share-partition: (group id, topic id, partition index).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SharePartitionKey {
    pub group_id: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

/// A share-partition and the watch bumped whenever some of its records become Available again
/// (release, lock expiry, a session's end, an acknowledgement that frees window room).
struct Cell {
    state: Mutex<SharePartition>,
    available: watch::Sender<u64>,
}

impl Cell {
    fn bump(&self) {
        self.available.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// What one acquisition took: the acquired ranges, and the whole batches covering them in
/// offset order (file ranges; their bytes are the response's records).
#[derive(Debug, Default)]
pub struct Acquisition {
    pub records: Vec<AcquiredRecords>,
    pub batches: Vec<FileSlice>,
}

impl Acquisition {
    pub fn bytes(&self) -> u64 {
        self.batches.iter().map(|s| s.len).sum()
    }
}

/// The share-partitions of this broker.
#[derive(Default)]
pub struct ShareManager {
    partitions: RwLock<HashMap<SharePartitionKey, Arc<Cell>>>,
}

impl ShareManager {
    pub fn new() -> Self {
        Self::default()
    }

    fn existing(&self, key: &SharePartitionKey) -> Option<Arc<Cell>> {
        self.partitions.read().get(key).cloned()
    }

    /// The share-partition of `key`, created with its initial state if it has none.
    fn cell(
        &self,
        key: &SharePartitionKey,
        partition: &Partition,
        reset: ShareAutoOffsetReset,
        now_ms: i64,
    ) -> Arc<Cell> {
        if let Some(cell) = self.existing(key) {
            return cell;
        }
        // Resolved outside the map lock (it reads the partition); a racing creator's cell wins.
        let state = Self::initial_state(partition, reset, now_ms);
        self.partitions
            .write()
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Cell {
                    state: Mutex::new(state),
                    available: watch::Sender::new(0),
                })
            })
            .clone()
    }

    /// A share-partition without state starts at the SPSO `share.auto.offset.reset` gives
    /// (design §6.5 step 1). The seam for durable state: a persisted state is loaded here.
    fn initial_state(
        partition: &Partition,
        reset: ShareAutoOffsetReset,
        now_ms: i64,
    ) -> SharePartition {
        let offsets = partition.offsets();
        let start = match reset {
            ShareAutoOffsetReset::Earliest => offsets.log_start_offset,
            ShareAutoOffsetReset::Latest => offsets.high_watermark,
            ShareAutoOffsetReset::ByDuration(ms) => {
                match partition.offset_for_timestamp(now_ms.saturating_sub(ms)) {
                    Ok(Some((offset, _))) => offset.min(offsets.high_watermark),
                    _ => offsets.high_watermark,
                }
            }
        };
        SharePartition::new(start)
    }

    /// A receiver of the share-partition's availability watch (creating the share-partition
    /// if needed), to subscribe before trying to acquire.
    pub fn subscribe(
        &self,
        key: &SharePartitionKey,
        partition: &Partition,
        reset: ShareAutoOffsetReset,
        now_ms: i64,
    ) -> watch::Receiver<u64> {
        self.cell(key, partition, reset, now_ms)
            .available
            .subscribe()
    }

    /// Acquire records of `partition` for `member` (design §6.5): redeliveries first, then new
    /// whole batches, within `limits`. Returns the ranges and the batches that carry them.
    #[allow(clippy::too_many_arguments)]
    pub fn acquire(
        &self,
        key: &SharePartitionKey,
        partition: &Partition,
        member: &str,
        now_ms: i64,
        limits: AcquireLimits,
        settings: &ShareSettings,
        reset: ShareAutoOffsetReset,
    ) -> Result<Acquisition, KafkaError> {
        let cell = self.cell(key, partition, reset, now_ms);
        let mut state = cell.state.lock();
        let mut source = LogSource::new(partition);
        let records = state.acquire(member, now_ms, limits, settings, &mut source)?;
        drop(state);
        if records.is_empty() {
            return Ok(Acquisition::default());
        }
        let batches = source.covering(&records)?;
        Ok(Acquisition { records, batches })
    }

    /// Apply a partition's acknowledgements from `member` (design §6.6), all or nothing. A
    /// share-partition that does not exist here has nothing acquired: INVALID_RECORD_STATE for
    /// any acknowledgement (none is no error).
    pub fn acknowledge(
        &self,
        key: &SharePartitionKey,
        member: &str,
        batches: &[AcknowledgementBatch],
        now_ms: i64,
        settings: &ShareSettings,
    ) -> Result<(), KafkaError> {
        if batches.is_empty() {
            return Ok(());
        }
        let Some(cell) = self.existing(key) else {
            return Err(KafkaError::InvalidRecordState);
        };
        let result = cell
            .state
            .lock()
            .acknowledge(member, batches, now_ms, settings);
        if result.is_ok() {
            cell.bump();
        }
        result
    }

    /// The member's share session ended: its acquired records in every share-partition of the
    /// group become Available again (delivery count decremented). Returns how many offsets.
    pub fn release_member(&self, group_id: &str, member: &str) -> i64 {
        let cells: Vec<Arc<Cell>> = self
            .partitions
            .read()
            .iter()
            .filter(|(k, _)| k.group_id == group_id)
            .map(|(_, c)| c.clone())
            .collect();
        let mut released = 0;
        for cell in cells {
            let n = cell.state.lock().release_member(member);
            if n > 0 {
                cell.bump();
                released += n;
            }
        }
        released
    }

    /// The lock-expiry tick (design §6.9): every share-partition's locks due at `now_ms`.
    /// Returns how many offsets expired.
    pub fn expire_locks(&self, now_ms: i64, settings: &ShareSettings) -> i64 {
        let cells: Vec<Arc<Cell>> = self.partitions.read().values().cloned().collect();
        let mut expired = 0;
        for cell in cells {
            let mut state = cell.state.lock();
            if state.earliest_deadline().is_none_or(|d| d > now_ms) {
                continue;
            }
            let n = state.expire_locks(now_ms, settings);
            drop(state);
            if n > 0 {
                cell.bump();
                expired += n;
            }
        }
        expired
    }

    /// Drop the share-partitions whose partition `led` no longer answers for (topic deleted,
    /// leadership moved): in-memory state is all they have, and a new leader starts afresh.
    /// Fetches parked on one are woken (their watch closes) and try again.
    pub fn retain_partitions(&self, led: impl Fn(&Uuid, i32) -> bool) -> usize {
        let mut partitions = self.partitions.write();
        let before = partitions.len();
        partitions.retain(|k, _| led(&k.topic_id, k.partition));
        before - partitions.len()
    }

    /// SPSO of a share-partition that exists.
    pub fn start_offset(&self, key: &SharePartitionKey) -> Option<i64> {
        self.existing(key).map(|c| c.state.lock().start_offset())
    }
}

/// The partition's log as acquisition reads it: whole batches up to the high watermark
/// (read_uncommitted; read_committed is a later step, design §6.11), remembered with their
/// file ranges so the answer can carry them.
struct LogSource<'a> {
    partition: &'a Partition,
    log_start: i64,
    /// Batches read so far, by base offset.
    read: BTreeMap<i64, (BatchInfo, FileSlice)>,
}

impl<'a> LogSource<'a> {
    fn new(partition: &'a Partition) -> Self {
        LogSource {
            log_start: partition.offsets().log_start_offset,
            partition,
            read: BTreeMap::new(),
        }
    }

    /// Whole batches from the one holding `offset` (or from the log start when `offset` is
    /// below it), at least one if there is one. Each batch becomes its own file range; only
    /// its header is read.
    fn read_from(&mut self, offset: i64, max_bytes: i32) -> Result<Vec<BatchInfo>, KafkaError> {
        let offset = offset.max(self.log_start);
        let read = self.partition.read(
            offset,
            max_bytes.max(0) as usize,
            true,
            Isolation::HighWatermark,
        );
        let slices = match read.slices {
            Ok(slices) => slices,
            Err(LogError::OffsetOutOfRange { .. }) => return Ok(Vec::new()),
            Err(e) => {
                tracing::warn!(topic = %self.partition.topic, partition = self.partition.index, offset, "share fetch read failed: {e}");
                return Err(KafkaError::KafkaStorageError);
            }
        };
        let mut found = Vec::new();
        let mut header = [0u8; HEADER_SIZE];
        for slice in slices {
            let mut at = 0u64;
            while at + HEADER_SIZE as u64 <= slice.len {
                if let Err(e) = slice.read_into(&mut header, at) {
                    tracing::warn!(topic = %self.partition.topic, partition = self.partition.index, "share fetch read failed: {e}");
                    return Err(KafkaError::KafkaStorageError);
                }
                let Some(h) = BatchHeader::parse(&header) else {
                    break;
                };
                let size = h.size();
                if h.magic != MAGIC_V2 || size == 0 || at + size > slice.len {
                    break;
                }
                let info = BatchInfo {
                    base_offset: h.base_offset,
                    last_offset: h.last_offset(),
                    is_control: h.is_control(),
                };
                let range = FileSlice {
                    file: slice.file.clone(),
                    position: slice.position + at,
                    len: size,
                    verified: slice.verified.clone(),
                };
                self.read.insert(info.base_offset, (info, range));
                found.push(info);
                at += size;
            }
        }
        Ok(found)
    }

    /// The batches covering `ranges`, in offset order, each once: the ones already read, and
    /// for redelivered offsets, batches read now. Offsets whose batch is gone (retention) are
    /// skipped; the client cannot be given them.
    fn covering(&mut self, ranges: &[AcquiredRecords]) -> Result<Vec<FileSlice>, KafkaError> {
        let mut wanted: Vec<i64> = Vec::new();
        for r in ranges {
            let mut at = r.first_offset;
            let mut tried_read = false;
            while at <= r.last_offset {
                let holding = self
                    .read
                    .range(..=at)
                    .next_back()
                    .filter(|(_, (b, _))| b.last_offset >= at)
                    .map(|(base, (b, _))| (*base, b.last_offset));
                if let Some((base, last)) = holding {
                    wanted.push(base);
                    at = last.saturating_add(1);
                    tried_read = false;
                    continue;
                }
                if !tried_read {
                    self.read_from(at, REDELIVERY_READ_BYTES)?;
                    tried_read = true;
                    continue;
                }
                match self.read.range(at + 1..).next() {
                    Some((&base, _)) if base <= r.last_offset => at = base,
                    _ => break,
                }
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        Ok(wanted
            .into_iter()
            .filter_map(|base| self.read.get(&base).map(|(_, s)| s.clone()))
            .collect())
    }
}

/// How much one read for redelivered records asks for (whole batches; at least one).
const REDELIVERY_READ_BYTES: i32 = 1 << 20;

/// The first chunk a read for new records asks for; each further chunk doubles.
const FIRST_READ_BYTES: i64 = 64 << 10;

impl BatchSource for LogSource<'_> {
    fn log_start_offset(&self) -> i64 {
        self.log_start
    }

    /// Reads in chunks, doubling from [`FIRST_READ_BYTES`], until the batches read hold
    /// `max_records` offsets or `max_bytes` are read: a share fetch takes at most `MaxRecords`
    /// (the client's `max.poll.records`, 500 by default) while its `MaxBytes` is the client's
    /// `fetch.max.bytes` (50 MiB), and reading that far ahead cost one header read per batch
    /// (docs/performance.md, "Share groups").
    fn read_batches(
        &mut self,
        offset: i64,
        max_bytes: i32,
        max_records: i64,
    ) -> Result<Vec<BatchInfo>, KafkaError> {
        let mut found: Vec<BatchInfo> = Vec::new();
        let mut at = offset;
        let mut bytes_left = i64::from(max_bytes.max(0));
        let mut chunk = FIRST_READ_BYTES;
        loop {
            let ask = chunk.min(bytes_left).max(1) as i32;
            // Only the first read may go past `max_bytes` (one whole batch at least, KIP-74).
            let first = found.is_empty();
            let got = self.read_from(at, ask)?;
            if got.is_empty() {
                return Ok(found);
            }
            for b in got {
                let size = self
                    .read
                    .get(&b.base_offset)
                    .map_or(0, |(_, s)| s.len as i64);
                if b.last_offset < at || (!first && size > bytes_left) {
                    return Ok(found);
                }
                bytes_left -= size;
                at = b.last_offset.saturating_add(1);
                found.push(b);
            }
            if at - offset >= max_records || bytes_left <= 0 {
                return Ok(found);
            }
            chunk = chunk.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::log::LogConfig;
    use crate::log::test_util::batch_bytes;
    use crate::partition::AppendOrigin;
    use bytes::BytesMut;
    use kafka_protocol::records::Compression;
    use std::path::Path;

    const A: &str = "member-a";
    const B: &str = "member-b";

    fn open(dir: &Path, index: i32) -> Arc<Partition> {
        Partition::open("t", index, dir, LogConfig::default(), 0).unwrap()
    }

    /// Appends one batch of `n` records; returns its base offset.
    fn produce(p: &Partition, n: usize) -> i64 {
        let recs: Vec<(i64, String)> = (0..n).map(|i| (i as i64, format!("v{i}"))).collect();
        let recs: Vec<(i64, &str)> = recs.iter().map(|(t, v)| (*t, v.as_str())).collect();
        let bytes = batch_bytes(&recs, Compression::None);
        let v = p
            .validate(BytesMut::from(&bytes[..]), AppendOrigin::Client, 0)
            .unwrap();
        match p.append(v, 0).unwrap() {
            crate::partition::AppendOutcome::Appended(r) => r.base_offset,
            other => panic!("{other:?}"),
        }
    }

    fn key(partition: i32) -> SharePartitionKey {
        SharePartitionKey {
            group_id: "g".into(),
            topic_id: Uuid::from_u128(1),
            partition,
        }
    }

    fn limits(max_records: i64, max_bytes: i32) -> AcquireLimits {
        AcquireLimits {
            max_records,
            max_bytes,
        }
    }

    fn ranges(a: &Acquisition) -> Vec<(i64, i64, i16)> {
        a.records
            .iter()
            .map(|r| (r.first_offset, r.last_offset, r.delivery_count))
            .collect()
    }

    fn bases(a: &Acquisition) -> Vec<i64> {
        let mut out = Vec::new();
        for s in &a.batches {
            let bytes = s.read().unwrap();
            out.push(BatchHeader::parse(&bytes).unwrap().base_offset);
            assert_eq!(
                BatchHeader::parse(&bytes).unwrap().size(),
                s.len,
                "one whole batch per range"
            );
        }
        out
    }

    const EARLIEST: ShareAutoOffsetReset = ShareAutoOffsetReset::Earliest;

    #[test]
    fn initialization_follows_auto_offset_reset() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 3);
        let m = ShareManager::new();
        let s = ShareSettings::default();
        let latest = SharePartitionKey {
            group_id: "latest".into(),
            ..key(0)
        };
        let got = m
            .acquire(
                &latest,
                &p,
                A,
                0,
                limits(10, 1 << 20),
                &s,
                ShareAutoOffsetReset::Latest,
            )
            .unwrap();
        assert!(got.records.is_empty());
        assert_eq!(m.start_offset(&latest), Some(3));
        let got = m
            .acquire(&key(0), &p, A, 0, limits(10, 1 << 20), &s, EARLIEST)
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 2, 1)]);
        // Records produced after a latest share-partition was made are delivered.
        produce(&p, 2);
        let got = m
            .acquire(
                &latest,
                &p,
                A,
                0,
                limits(10, 1 << 20),
                &s,
                ShareAutoOffsetReset::Latest,
            )
            .unwrap();
        assert_eq!(ranges(&got), vec![(3, 4, 1)]);
        assert_eq!(bases(&got), vec![3]);
    }

    #[test]
    fn by_duration_starts_at_the_first_record_that_recent() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 5); // timestamps 0..=4
        let m = ShareManager::new();
        let s = ShareSettings::default();
        let got = m
            .acquire(
                &key(0),
                &p,
                A,
                10,
                limits(10, 1 << 20),
                &s,
                ShareAutoOffsetReset::ByDuration(8),
            )
            .unwrap();
        assert_eq!(ranges(&got), vec![(2, 4, 1)]);
        // Nothing that recent: the end.
        let k = SharePartitionKey {
            group_id: "g2".into(),
            ..key(0)
        };
        m.acquire(
            &k,
            &p,
            A,
            100,
            limits(10, 1 << 20),
            &s,
            ShareAutoOffsetReset::ByDuration(8),
        )
        .unwrap();
        assert_eq!(m.start_offset(&k), Some(5));
        assert!(m.acknowledge(&k, A, &[], 100, &s).is_ok());
    }

    #[test]
    fn retain_drops_share_partitions_of_partitions_gone() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        let m = ShareManager::new();
        let w = m.subscribe(&key(0), &p, EARLIEST, 0);
        m.subscribe(&key(1), &p, EARLIEST, 0);
        assert_eq!(m.retain_partitions(|_, partition| partition == 1), 1);
        assert_eq!(m.start_offset(&key(0)), None);
        assert!(m.start_offset(&key(1)).is_some());
        assert!(w.has_changed().is_err(), "a parked fetch's watch closes");
    }

    #[test]
    fn max_records_and_max_bytes_bound_whole_batches() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        for _ in 0..4 {
            produce(&p, 5);
        }
        let m = ShareManager::new();
        let s = ShareSettings::default();
        // Six records: two whole batches (batch-optimized overshoots to the batch end).
        let got = m
            .acquire(&key(0), &p, A, 0, limits(6, 1 << 20), &s, EARLIEST)
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 9, 1)]);
        assert_eq!(bases(&got), vec![0, 5]);
        // One byte: still one whole batch (KIP-74).
        let got = m
            .acquire(&key(0), &p, B, 0, limits(500, 1), &s, EARLIEST)
            .unwrap();
        assert_eq!(ranges(&got), vec![(10, 14, 1)]);
        assert_eq!(bases(&got), vec![10]);
        assert_eq!(got.bytes(), got.batches[0].len);
    }

    #[test]
    fn reads_for_new_records_stop_once_the_records_wanted_are_covered() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        // 40 batches of 10 records of 2 KiB: ~20 KiB a batch, ~800 KiB in all.
        let value = "x".repeat(2048);
        for _ in 0..40 {
            let recs: Vec<(i64, &str)> = (0..10).map(|t| (t, value.as_str())).collect();
            let bytes = batch_bytes(&recs, Compression::None);
            let v = p
                .validate(BytesMut::from(&bytes[..]), AppendOrigin::Client, 0)
                .unwrap();
            p.append(v, 0).unwrap();
        }
        let mut source = LogSource::new(&p);
        let got = source.read_batches(0, i32::MAX, 25).unwrap();
        // The first 64 KiB chunk holds three whole batches: 30 records, enough.
        assert_eq!(
            got.iter().map(|b| b.base_offset).collect::<Vec<_>>(),
            vec![0, 10, 20]
        );
        assert_eq!(
            source.read.len(),
            3,
            "no header read past what the fetch can take"
        );
        // Wanting more reads further in doubling chunks, up to the bytes allowed.
        let mut source = LogSource::new(&p);
        let got = source.read_batches(5, i32::MAX, 200).unwrap();
        assert_eq!(got.first().map(|b| b.base_offset), Some(0));
        let covered = got.last().unwrap().last_offset - 5 + 1;
        assert!((200..200 + 40).contains(&covered), "covered {covered}");
        let mut source = LogSource::new(&p);
        let got = source.read_batches(0, 50 << 10, 400).unwrap();
        assert_eq!(got.len(), 2, "50 KiB: two whole batches");
        let all = LogSource::new(&p)
            .read_batches(0, i32::MAX, i64::MAX)
            .unwrap();
        assert_eq!(all.len(), 40);
    }

    #[test]
    fn acquisition_across_partitions_and_members() {
        let dir = tempfile::tempdir().unwrap();
        let (p0, p1) = (
            open(&dir.path().join("0"), 0),
            open(&dir.path().join("1"), 1),
        );
        produce(&p0, 2);
        produce(&p1, 3);
        let m = ShareManager::new();
        let s = ShareSettings::default();
        let a0 = m
            .acquire(&key(0), &p0, A, 0, limits(500, 1 << 20), &s, EARLIEST)
            .unwrap();
        let a1 = m
            .acquire(&key(1), &p1, A, 0, limits(500, 1 << 20), &s, EARLIEST)
            .unwrap();
        assert_eq!(
            (ranges(&a0), ranges(&a1)),
            (vec![(0, 1, 1)], vec![(0, 2, 1)])
        );
        // Locked: another member gets nothing.
        let b0 = m
            .acquire(&key(0), &p0, B, 0, limits(500, 1 << 20), &s, EARLIEST)
            .unwrap();
        assert!(b0.records.is_empty() && b0.batches.is_empty());
    }

    #[test]
    fn release_redelivers_the_same_batches_with_the_next_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 3);
        produce(&p, 3);
        let m = ShareManager::new();
        let s = ShareSettings::default();
        m.acquire(&key(0), &p, A, 0, limits(500, 1 << 20), &s, EARLIEST)
            .unwrap();
        let mut watch = m.subscribe(&key(0), &p, EARLIEST, 0);
        let ack = |first, last, t| AcknowledgementBatch {
            first_offset: first,
            last_offset: last,
            acknowledge_types: vec![t],
        };
        m.acknowledge(&key(0), A, &[ack(0, 1, 1), ack(2, 4, 2)], 0, &s)
            .unwrap();
        assert!(watch.has_changed().unwrap(), "availability bumped");
        watch.borrow_and_update();
        assert_eq!(m.start_offset(&key(0)), Some(2));
        let got = m
            .acquire(&key(0), &p, B, 0, limits(500, 1 << 20), &s, EARLIEST)
            .unwrap();
        assert_eq!(ranges(&got), vec![(2, 4, 2)]);
        // Offsets 2..4 span both batches.
        assert_eq!(bases(&got), vec![0, 3]);
        assert_eq!(
            m.acknowledge(&key(0), A, &[ack(2, 2, 1)], 0, &s),
            Err(KafkaError::InvalidRecordState)
        );
        assert_eq!(
            m.acknowledge(&key(7), A, &[ack(0, 0, 1)], 0, &s),
            Err(KafkaError::InvalidRecordState)
        );
    }

    #[test]
    fn the_expiry_tick_frees_locks_with_the_simulated_clock() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), 0);
        produce(&p, 4);
        let clock = ManualClock::new(1_000);
        let m = ShareManager::new();
        let s = ShareSettings {
            record_lock_duration_ms: 500,
            ..ShareSettings::default()
        };
        m.acquire(
            &key(0),
            &p,
            A,
            clock.now_ms(),
            limits(500, 1 << 20),
            &s,
            EARLIEST,
        )
        .unwrap();
        let mut watch = m.subscribe(&key(0), &p, EARLIEST, clock.now_ms());
        clock.advance(499);
        assert_eq!(m.expire_locks(clock.now_ms(), &s), 0);
        assert!(!watch.has_changed().unwrap());
        clock.advance(1);
        assert_eq!(m.expire_locks(clock.now_ms(), &s), 4);
        assert!(watch.has_changed().unwrap());
        watch.borrow_and_update();
        let got = m
            .acquire(
                &key(0),
                &p,
                B,
                clock.now_ms(),
                limits(500, 1 << 20),
                &s,
                EARLIEST,
            )
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 3, 2)]);
    }

    #[test]
    fn release_on_session_end_decrements_and_wakes() {
        let dir = tempfile::tempdir().unwrap();
        let (p0, p1) = (
            open(&dir.path().join("0"), 0),
            open(&dir.path().join("1"), 1),
        );
        produce(&p0, 2);
        produce(&p1, 2);
        let m = ShareManager::new();
        let s = ShareSettings::default();
        for (k, p) in [(key(0), &p0), (key(1), &p1)] {
            m.acquire(&k, p, A, 0, limits(500, 1 << 20), &s, EARLIEST)
                .unwrap();
        }
        let w0 = m.subscribe(&key(0), &p0, EARLIEST, 0);
        assert_eq!(m.release_member("other-group", A), 0);
        assert_eq!(m.release_member("g", B), 0);
        assert!(!w0.has_changed().unwrap());
        assert_eq!(m.release_member("g", A), 4);
        assert!(w0.has_changed().unwrap());
        let got = m
            .acquire(&key(1), &p1, B, 0, limits(500, 1 << 20), &s, EARLIEST)
            .unwrap();
        assert_eq!(ranges(&got), vec![(0, 1, 1)], "count decremented, then +1");
    }
}
