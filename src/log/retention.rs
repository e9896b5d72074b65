//! Retention (`retention.ms` / `retention.bytes`) and DeleteRecords: moving the log start offset
//! and deleting whole segments from the front. The log start offset itself is persisted by
//! [`super::checkpoint`].
//!
//! **Retention** ([`PartitionLog::apply_retention`]) follows Kafka's `UnifiedLog.deleteOldSegments`:
//! 1. by time: delete segments from the front while `now - segment max timestamp > retention_ms`
//!    (the max timestamp is the largest batch maxTimestamp, tracked by the segment / its time
//!    index; file mtimes are never used). A segment holding no timestamped batch (max timestamp
//!    -1) never expires by time, unless it is empty (a closed empty segment is always expired);
//! 2. by size: delete segments from the front while `total size - segment size >= retention_bytes`;
//! 3. delete segments lying entirely below the log start offset (after DeleteRecords).
//!
//! Each pass stops at the first segment that does not qualify. The active segment is never
//! deleted while active: if a pass reaches it (every older segment qualified), it is non-empty and
//! qualifies itself, it is rolled first — exactly as Kafka does — and the segment it was is then
//! deleted in the same call, leaving an empty active segment at the log end offset (so the log
//! start offset becomes the log end offset). Negative `retention_ms` / `retention_bytes` mean
//! unlimited. After deleting, the log start offset moves to the first remaining segment's base
//! (if that is larger) and is persisted.

use super::LogError;
use super::checkpoint::write_log_start_checkpoint;
use super::files::sync_dir;
use super::partition_log::PartitionLog;
use super::segment::LogSegment;

/// What [`PartitionLog::apply_retention`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionResult {
    /// Base offsets of the deleted segments, oldest first.
    pub deleted_segments: Vec<i64>,
    /// Bytes of segment data deleted.
    pub deleted_bytes: u64,
    /// The log start offset afterwards.
    pub new_log_start: i64,
}

impl PartitionLog {
    /// Move the log start offset (and persist it) without deleting anything. No-op unless
    /// `offset` is larger than the current log start; never beyond the log end. The leader
    /// epoch cache follows (Kafka's `truncateFromStart`); a failure to write it is logged and
    /// retried before the next append (the stale file only holds older starts, which the next
    /// open clamps again).
    pub(super) fn advance_log_start(&mut self, offset: i64) -> Result<(), LogError> {
        let offset = offset.min(self.log_end_offset());
        if offset > self.log_start_offset {
            write_log_start_checkpoint(&self.dir, offset)?;
            self.log_start_offset = offset;
            if let Err(e) = self.epochs.truncate_from_start(offset) {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the leader epoch checkpoint; will retry before the next append");
            }
        }
        Ok(())
    }

    /// Kafka's DeleteRecords: make `offset` the new log start offset (`-1` = the high watermark,
    /// which is the log end offset here). Offsets below the current log start are a no-op; a
    /// negative offset other than -1 or one beyond the log end is [`LogError::OffsetOutOfRange`].
    /// Whole segments lying entirely below the new log start are deleted (never the active one);
    /// the log start may sit inside a segment. Returns the log start offset afterwards.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        let log_end = self.log_end_offset();
        let target = if offset == -1 { log_end } else { offset };
        if target < 0 || target > log_end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        self.advance_log_start(target)?;
        let below = self.count_below_log_start();
        self.delete_front_segments(below)?;
        tracing::debug!(dir = %self.dir.display(), log_start_offset = self.log_start_offset, "deleted records");
        Ok(self.log_start_offset)
    }

    /// Apply `retention.ms` / `retention.bytes` at time `now_ms` (see the module docs).
    pub fn apply_retention(
        &mut self,
        retention_ms: i64,
        retention_bytes: i64,
        now_ms: i64,
    ) -> Result<RetentionResult, LogError> {
        let mut result = RetentionResult {
            deleted_segments: Vec::new(),
            deleted_bytes: 0,
            new_log_start: self.log_start_offset,
        };
        if retention_ms >= 0 {
            let n = self.deletable_prefix(&mut |s| {
                s.is_empty()
                    || (s.max_timestamp() >= 0
                        && now_ms.saturating_sub(s.max_timestamp()) > retention_ms)
            });
            self.delete_prefix(n, &mut result)?;
        }
        if retention_bytes >= 0 {
            let mut total = self.size_bytes();
            let limit = retention_bytes as u64;
            let n = self.deletable_prefix(&mut |s| {
                let rest = total.saturating_sub(s.size());
                if total >= s.size() && rest >= limit {
                    total = rest;
                    true
                } else {
                    false
                }
            });
            self.delete_prefix(n, &mut result)?;
        }
        let n = self.count_below_log_start();
        self.delete_prefix(n, &mut result)?;
        result.new_log_start = self.log_start_offset;
        if !result.deleted_segments.is_empty() {
            tracing::info!(
                dir = %self.dir.display(),
                segments = ?result.deleted_segments,
                bytes = result.deleted_bytes,
                log_start_offset = self.log_start_offset,
                "retention deleted segments"
            );
        }
        Ok(result)
    }

    /// Number of leading segments for which `pred` holds, stopping at the first that does not;
    /// the active segment counts only if it is non-empty and every older segment counted.
    fn deletable_prefix(&self, pred: &mut dyn FnMut(&LogSegment) -> bool) -> usize {
        let n = self.segments.len();
        let mut k = 0;
        while k < n {
            let s = &self.segments[k];
            if (k + 1 == n && s.is_empty()) || !pred(s) {
                break;
            }
            k += 1;
        }
        k
    }

    /// Delete the first `n` segments (rolling first if that includes the active one).
    fn delete_prefix(&mut self, n: usize, result: &mut RetentionResult) -> Result<(), LogError> {
        if n == 0 {
            return Ok(());
        }
        if n >= self.segments.len() {
            self.roll()?;
        }
        let bytes: u64 = self.segments[..n].iter().map(|s| s.size()).sum();
        let bases: Vec<i64> = self.segments[..n].iter().map(|s| s.base_offset()).collect();
        self.delete_front_segments(n)?;
        result.deleted_segments.extend(bases);
        result.deleted_bytes += bytes;
        Ok(())
    }

    /// Number of leading closed segments lying entirely below the log start offset.
    fn count_below_log_start(&self) -> usize {
        let n = self.segments.len();
        let mut k = 0;
        while k + 1 < n && self.segments[k + 1].base_offset() <= self.log_start_offset {
            k += 1;
        }
        k
    }

    /// Delete the first `n` segments (`n` < number of segments): first persist the log start
    /// offset they imply, then remove their files.
    fn delete_front_segments(&mut self, n: usize) -> Result<(), LogError> {
        let n = n.min(self.segments.len() - 1);
        if n == 0 {
            return Ok(());
        }
        self.advance_log_start(self.segments[n].base_offset())?;
        for seg in self.segments.drain(..n).collect::<Vec<_>>() {
            let path = seg.log_path().to_path_buf();
            if let Err(e) = seg.delete_files() {
                tracing::warn!(segment = %path.display(), error = %e, "cannot delete segment files");
                return Err(e);
            }
        }
        sync_dir(&self.dir);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::log::LogConfig;
    use crate::log::checkpoint::LOG_START_OFFSET_FILE;
    use crate::log::test_util::*;
    use kafka_protocol::records::Compression;

    /// A one-record batch with timestamp `ts` (same size for every `i` < 10).
    fn rec(i: usize, ts: i64) -> Vec<u8> {
        batch_bytes(&[(ts, &format!("value-{i}"))], Compression::None)
    }

    fn open(dir: &Path) -> PartitionLog {
        PartitionLog::open(dir, LogConfig::default(), 0).unwrap()
    }

    /// Segments [0,3) [3,6) [6,9) closed, [9,10) active; each batch one record; segment max
    /// timestamps as given.
    fn four_segments(dir: &Path, max_ts: [i64; 4]) -> (PartitionLog, u64) {
        let mut log = open(dir);
        for (s, &ts) in max_ts.iter().enumerate() {
            let n = if s == 3 { 1 } else { 3 };
            for j in 0..n {
                append_payload(&mut log, &rec(j, ts - 5 * (n - 1 - j) as i64), 0);
            }
            if s < 3 {
                log.roll().unwrap();
            }
        }
        let b = rec(0, 0).len() as u64;
        assert_eq!(
            log.segments_info(),
            vec![(0, 3 * b), (3, 3 * b), (6, 3 * b), (9, b)]
        );
        (log, b)
    }

    fn out_of_range(log: &PartitionLog, offset: i64) -> bool {
        matches!(
            log.read(offset, 1000, true),
            Err(LogError::OffsetOutOfRange { offset: o, log_start, log_end })
                if o == offset && log_start == log.log_start_offset() && log_end == log.log_end_offset()
        )
    }

    #[test]
    fn retention_by_time() {
        let dir = tempfile::tempdir().unwrap();
        // max timestamps (last record of each segment): 1000, 5000, 2000 (older than its
        // predecessor), 9000 (active)
        let (mut log, b) = four_segments(dir.path(), [1000, 5000, 2000, 9000]);
        assert_eq!(log.segments()[2].max_timestamp(), 2000);
        // not expired yet (now - 1000 == retention is not "older than")
        let r = log.apply_retention(10_000, -1, 11_000).unwrap();
        assert_eq!(
            r,
            RetentionResult {
                deleted_segments: vec![],
                deleted_bytes: 0,
                new_log_start: 0
            }
        );
        assert!(!dir.path().join(LOG_START_OFFSET_FILE).exists());
        // unlimited
        let r = log.apply_retention(-1, -1, i64::MAX).unwrap();
        assert!(r.deleted_segments.is_empty());
        // segment 0 expires; segment 1 does not, so segment 2 (expired) must wait behind it
        let r = log.apply_retention(10_000, -1, 12_500).unwrap();
        assert_eq!(r.deleted_segments, vec![0]);
        assert_eq!(r.deleted_bytes, 3 * b);
        assert_eq!(r.new_log_start, 3);
        assert_eq!(log.log_start_offset(), 3);
        assert_eq!(log.segments_info(), vec![(3, 3 * b), (6, 3 * b), (9, b)]);
        assert_eq!(
            file_names(dir.path()),
            [
                "00000000000000000003.index",
                "00000000000000000003.log",
                "00000000000000000003.timeindex",
                "00000000000000000006.index",
                "00000000000000000006.log",
                "00000000000000000006.timeindex",
                "00000000000000000009.index",
                "00000000000000000009.log",
                "00000000000000000009.timeindex",
                "leader-epoch-checkpoint",
                "log-start-offset",
            ]
        );
        assert_eq!(
            fs::read_to_string(dir.path().join(LOG_START_OFFSET_FILE)).unwrap(),
            "0\n3\n"
        );
        assert!(out_of_range(&log, 0));
        assert!(out_of_range(&log, 2));
        assert_eq!(decode_values(&log.read(3, 1000, true).unwrap())[0].0, 3);
        // segments 1 and 2 expire; the active segment (9000) does not
        let r = log.apply_retention(10_000, -1, 15_001).unwrap();
        assert_eq!(r.deleted_segments, vec![3, 6]);
        assert_eq!(r.new_log_start, 9);
        assert_eq!(log.segments_info(), vec![(9, b)]);
        // the active segment expires: rolled, then deleted; an empty active segment remains
        let r = log.apply_retention(10_000, -1, 19_001).unwrap();
        assert_eq!(r.deleted_segments, vec![9]);
        assert_eq!(r.deleted_bytes, b);
        assert_eq!(r.new_log_start, 10);
        assert_eq!(log.segments_info(), vec![(10, 0)]);
        assert_eq!(log.log_end_offset(), 10);
        assert!(out_of_range(&log, 9));
        assert!(log.read(10, 1000, true).unwrap().is_empty());
        // an empty active segment is never rolled
        let r = log.apply_retention(0, 0, i64::MAX).unwrap();
        assert!(r.deleted_segments.is_empty());
        assert_eq!(log.segments_info(), vec![(10, 0)]);
        let a = append_payload(&mut log, &rec(0, 20_000), 0);
        assert_eq!((a.base_offset, a.log_start_offset), (10, 10));
        drop(log);
        let log = open(dir.path());
        assert_eq!(log.log_start_offset(), 10);
        assert_eq!(log.log_end_offset(), 11);
        assert_eq!(log.segments_info(), vec![(10, b)]);
    }

    #[test]
    fn retention_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, b) = four_segments(dir.path(), [1000, 2000, 3000, 4000]);
        assert_eq!(log.size_bytes(), 10 * b);
        // larger than the log: nothing
        let r = log.apply_retention(-1, (10 * b) as i64, 0).unwrap();
        assert!(r.deleted_segments.is_empty());
        // keep at least 4 segments' worth: 10b - 3b = 7b >= 4b → delete seg 0;
        // 7b - 3b = 4b >= 4b → delete seg 1; 4b - 3b = b < 4b → stop
        let r = log.apply_retention(-1, (4 * b) as i64, 0).unwrap();
        assert_eq!(r.deleted_segments, vec![0, 3]);
        assert_eq!(r.deleted_bytes, 6 * b);
        assert_eq!(r.new_log_start, 6);
        assert_eq!(log.segments_info(), vec![(6, 3 * b), (9, b)]);
        assert_eq!(log.size_bytes(), 4 * b);
        // exactly the active segment's size: the closed one goes, the active stays
        let r = log.apply_retention(-1, b as i64, 0).unwrap();
        assert_eq!(r.deleted_segments, vec![6]);
        assert_eq!(log.segments_info(), vec![(9, b)]);
        let r = log.apply_retention(-1, b as i64, 0).unwrap();
        assert!(r.deleted_segments.is_empty());
        assert_eq!(log.segments_info(), vec![(9, b)]);
        // time and size rules combine; persisted start survives reopen
        drop(log);
        let log = open(dir.path());
        assert_eq!(log.log_start_offset(), 9);
        assert!(out_of_range(&log, 8));
    }

    #[test]
    fn active_segment_is_never_deleted_while_active() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, b) = four_segments(dir.path(), [1000, 2000, 3000, 4000]);
        // everything closed expires, the active segment (4000) does not
        let r = log.apply_retention(100, -1, 4100).unwrap();
        assert_eq!(r.deleted_segments, vec![0, 3, 6]);
        assert_eq!(log.segments_info(), vec![(9, b)]);
        assert_eq!(decode_values(&log.read(9, 1000, true).unwrap()).len(), 1);
        // size 0 only ever deletes the active segment's data after rolling it
        let r = log.apply_retention(-1, 0, 0).unwrap();
        assert_eq!(r.deleted_segments, vec![9]);
        assert_eq!(log.segments_info(), vec![(10, 0)]);
        assert_eq!(
            file_names(dir.path()),
            [
                "00000000000000000010.index",
                "00000000000000000010.log",
                "00000000000000000010.timeindex",
                "leader-epoch-checkpoint",
                "log-start-offset",
            ]
        );
    }

    #[test]
    fn delete_records_inside_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        // [0,5) one batch, [5,10) one batch (closed), [10,12) active
        let b5 = batch_bytes(
            &[(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")],
            Compression::None,
        );
        append_payload(&mut log, &b5, 0);
        log.roll().unwrap();
        append_payload(&mut log, &b5, 0);
        log.roll().unwrap();
        append_payload(
            &mut log,
            &batch_bytes(&[(6, "f"), (7, "g")], Compression::None),
            0,
        );
        assert_eq!(log.segments_info().len(), 3);
        // out of range requests change nothing
        for bad in [13, -2, i64::MIN] {
            assert!(matches!(
                log.delete_records_before(bad),
                Err(LogError::OffsetOutOfRange { offset, log_start: 0, log_end: 12 }) if offset == bad
            ));
        }
        assert_eq!(log.delete_records_before(0).unwrap(), 0);
        assert!(!dir.path().join(LOG_START_OFFSET_FILE).exists());
        // inside segment [5,10): segment 0 goes, segment 5 stays
        assert_eq!(log.delete_records_before(7).unwrap(), 7);
        assert_eq!(log.log_start_offset(), 7);
        assert_eq!(
            log.segments_info().iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![5, 10]
        );
        assert!(!dir.path().join("00000000000000000000.log").exists());
        assert!(out_of_range(&log, 6));
        assert!(out_of_range(&log, 0));
        assert!(log.slices_up_to(6, 100, true, i64::MAX).is_err());
        // reading at the log start returns the whole batch containing it
        let got = log.read(7, b5.len(), true).unwrap();
        assert_eq!(got.len(), b5.len());
        assert_eq!(decode_values(&got)[0].0, 5);
        let slices = log.slices_up_to(7, usize::MAX, true, i64::MAX).unwrap();
        assert_eq!(slices[0].position, 0);
        let mut scanned = vec![];
        log.scan_batch_headers(0, &mut |base, _| scanned.push(base))
            .unwrap();
        assert_eq!(scanned, vec![5, 10]);
        // lower requests are no-ops
        assert_eq!(log.delete_records_before(3).unwrap(), 7);
        assert_eq!(
            fs::read_to_string(dir.path().join(LOG_START_OFFSET_FILE)).unwrap(),
            "0\n7\n"
        );
        // persisted across reopen
        drop(log);
        let mut log = open(dir.path());
        assert_eq!(log.log_start_offset(), 7);
        assert!(out_of_range(&log, 6));
        // -1: up to the high watermark (= log end); the active segment stays
        assert_eq!(log.delete_records_before(-1).unwrap(), 12);
        assert_eq!(
            log.segments_info().iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![10]
        );
        assert!(out_of_range(&log, 11));
        assert!(log.read(12, 100, true).unwrap().is_empty());
        let a = append_payload(&mut log, &rec(0, 9), 0);
        assert_eq!((a.base_offset, a.log_start_offset), (12, 12));
        drop(log);
        let log = open(dir.path());
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (12, 13));
        assert_eq!(decode_values(&log.read(12, 1000, true).unwrap())[0].0, 12);
    }

    #[test]
    fn persisted_log_start_is_clamped_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        append_payload(
            &mut log,
            &batch_bytes(&[(1, "a"), (2, "b"), (3, "c")], Compression::None),
            0,
        );
        drop(log);
        let f = dir.path().join(LOG_START_OFFSET_FILE);
        fs::write(&f, "0\n999\n").unwrap();
        assert_eq!(open(dir.path()).log_start_offset(), 3); // clamped to the log end
        fs::write(&f, "0\n2\n").unwrap();
        assert_eq!(open(dir.path()).log_start_offset(), 2);
        for junk in ["", "garbage", "1\n2\n", "0\n-5\n", "0\n"] {
            fs::write(&f, junk).unwrap();
            assert_eq!(open(dir.path()).log_start_offset(), 0, "{junk:?}");
        }
        // a stale value below the first segment's base is ignored
        fs::write(&f, "0\n1\n").unwrap();
        let mut log = open(dir.path());
        append_payload(&mut log, &rec(0, 5), 0);
        log.roll().unwrap();
        append_payload(&mut log, &rec(0, 5), 0);
        assert_eq!(log.delete_records_before(4).unwrap(), 4);
        assert_eq!(log.segments_info()[0].0, 4);
        fs::write(&f, "0\n1\n").unwrap();
        drop(log);
        assert_eq!(open(dir.path()).log_start_offset(), 4);
    }
}
