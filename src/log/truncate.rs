//! Truncation from the end: [`PartitionLog::truncate_to`], what a follower does with the part of
//! its log that diverges from its leader's (Kafka's `UnifiedLog.truncateTo`).
//!
//! Order, so that a crash anywhere leaves a log that a reopen makes consistent:
//! 1. segments lying wholly at or above the cut are deleted, newest first, the directory fsynced
//!    after each (a crash leaves the log cut at a segment boundary above the target, which the
//!    follower's next truncation finishes);
//! 2. the segment holding the cut is cut (file length set, fsynced) and becomes the active
//!    segment, its indexes recomputed from the headers left (see
//!    [`super::LogSegment::truncate_to_position`]); if the data left ends below the new log end
//!    (a gap left by compaction), the active segment starts at the new log end;
//! 3. the leader epoch cache drops the entries at or after the new log end. Until it has, its
//!    file holds only extra entries past the log end, which every open drops.
//!
//! [`PartitionLog::truncate_fully_and_start_at`] replaces the whole log with an empty one starting
//! at a given offset (Kafka's `truncateFullyAndStartAt`: a follower whose log end is below its
//! leader's log start); its order of steps is in its docs.
//!
//! The layers above (producer state, the transaction index, the last stable offset) depend on
//! the tail of the log and are rebuilt by `crate::partition::Partition::truncate_to`.

use super::LogError;
use super::checkpoint::write_log_start_checkpoint;
use super::files::sync_dir;
use super::partition_log::PartitionLog;
use super::segment::LogSegment;

impl PartitionLog {
    /// Remove every batch holding an offset at or above `offset`, durably (see the module docs).
    /// Returns the log end offset afterwards.
    ///
    /// * `offset` below the log start is taken as the log start: the log is never cut below it
    ///   (cut at it, the log is empty and goes on at the log start).
    /// * `offset` at or beyond the log end: the log is unchanged; leader epoch entries starting
    ///   at or after `offset` (an epoch that has written nothing) are dropped all the same.
    /// * Otherwise the log end afterwards is `offset`, except when `offset` falls inside a batch:
    ///   batches are never split, so the whole batch goes and the log end is its base offset (or
    ///   the log start, if that is higher). Kafka leaves its log end at `offset` there, skipping
    ///   the offsets of the removed batch below it; fjord leaves no such hole.
    ///
    /// An error before anything was changed leaves the log as it was. An error half way takes
    /// the log offline for writes (appends and truncations fail with [`LogError::Storage`];
    /// reads go on) until it is reopened, which recovers what the disk holds.
    pub fn truncate_to(&mut self, offset: i64) -> Result<i64, LogError> {
        if let Some(reason) = &self.offline {
            return Err(LogError::Storage(reason.clone()));
        }
        let log_end = self.log_end_offset();
        let offset = offset.max(self.log_start_offset);
        if offset >= log_end {
            self.truncate_epochs(offset);
            return Ok(log_end);
        }
        // Plan without changing anything: the segment holding `offset`, where to cut it, and
        // the log end that leaves.
        let k = self
            .segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        let (cut_position, target) = match self.segments[k].find_batch(offset)? {
            Some((pos, h)) if h.base_offset < offset => {
                (pos, h.base_offset.max(self.log_start_offset))
            }
            Some((pos, _)) => (pos, offset),
            None => (self.segments[k].size(), offset),
        };
        let removed_segments = self.segments.len() - 1 - k;
        let bytes_before = self.size_bytes();
        self.truncations += 1;
        if let Err(e) = self.cut(k, cut_position, target) {
            let reason = format!("truncation to offset {target} failed half way: {e}");
            tracing::error!(dir = %self.dir.display(), "{reason}; no more writes until the log is reopened");
            self.offline = Some(reason);
            return Err(e);
        }
        let new_end = self.log_end_offset();
        debug_assert_eq!(new_end, target);
        self.truncate_epochs(new_end);
        self.unflushed_messages = 0;
        tracing::info!(
            dir = %self.dir.display(),
            requested = offset,
            log_end_offset = new_end,
            previous_log_end_offset = log_end,
            removed_segments,
            removed_bytes = bytes_before - self.size_bytes(),
            "truncated log"
        );
        Ok(new_end)
    }

    /// Delete every segment and start over with an empty log whose start and end offset are
    /// `offset` (Kafka's `truncateFullyAndStartAt`: a follower whose log end is below its
    /// leader's log start goes on from there). The leader epoch cache is cleared.
    ///
    /// `offset` below the log start is refused ([`LogError::OffsetOutOfRange`]): the log start
    /// never moves back, as in [`Self::truncate_to`] (a follower's log end, below the offset it
    /// starts at, is never below its log start).
    ///
    /// Order, so that a reopen after a crash at any point finds the old log, a prefix of it, an
    /// empty log at or below `offset`, or the new log:
    /// 1. the data at or above `offset` is cut off ([`Self::truncate_to`], nothing if `offset` is
    ///    at or beyond the log end), so no segment has data at or above it;
    /// 2. `offset` is persisted as the log start: a reopen clamps it to the log end, so from here
    ///    it finds an empty log at the log end (and rewrites the log start as that);
    /// 3. the new, empty segment is created at `offset` (unless the active segment is already
    ///    that one, empty): from here a reopen finds the log start and end at `offset`, the old
    ///    segments wholly below it (retention deletes what is left of them);
    /// 4. the old segments are deleted, oldest first;
    /// 5. the leader epoch cache is cleared (a reopen before this trims it to the empty log
    ///    anyway).
    ///
    /// Errors as in [`Self::truncate_to`]: before anything changed, the log is as it was; half
    /// way, the log is offline for writes until reopened.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        if let Some(reason) = &self.offline {
            return Err(LogError::Storage(reason.clone()));
        }
        let (log_start, log_end) = (self.log_start_offset, self.log_end_offset());
        if offset < log_start {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start,
                log_end,
            });
        }
        let (bytes_before, segments_before) = (self.size_bytes(), self.segments.len());
        if offset < log_end {
            self.truncate_to(offset)?;
        }
        self.truncations += 1;
        if let Err(e) = self.replace_segments(offset) {
            let reason = format!("starting over at offset {offset} failed half way: {e}");
            tracing::error!(dir = %self.dir.display(), "{reason}; no more writes until the log is reopened");
            self.offline = Some(reason);
            return Err(e);
        }
        if let Err(e) = self.epochs.clear() {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the leader epoch checkpoint; will retry before the next append");
        }
        self.unflushed_messages = 0;
        tracing::info!(
            dir = %self.dir.display(),
            log_start_offset = offset,
            previous_log_start_offset = log_start,
            previous_log_end_offset = log_end,
            previous_segments = segments_before,
            removed_bytes = bytes_before,
            "truncated the log fully and started over"
        );
        Ok(())
    }

    /// Steps 2 to 4 of [`Self::truncate_fully_and_start_at`]: every segment's data lies below
    /// `offset`; leave one empty segment there, and the log start at it.
    fn replace_segments(&mut self, offset: i64) -> Result<(), LogError> {
        if offset > self.log_start_offset {
            write_log_start_checkpoint(&self.dir, offset)?;
        }
        let active = self.segments[self.segments.len() - 1].base_offset();
        if active != offset {
            let seg = LogSegment::create(&self.dir, offset, &self.config.open_files)?;
            sync_dir(&self.dir);
            self.segments.push(seg);
        }
        self.log_start_offset = offset;
        let old: Vec<LogSegment> = self.segments.drain(..self.segments.len() - 1).collect();
        for seg in old {
            seg.delete_files()?;
        }
        sync_dir(&self.dir);
        Ok(())
    }

    /// The destructive steps of [`Self::truncate_to`]: delete the segments after `k`, cut
    /// segment `k` at `position`, and make the log end `target`.
    fn cut(&mut self, k: usize, position: u64, target: i64) -> Result<(), LogError> {
        while self.segments.len() > k + 1 {
            if let Some(seg) = self.segments.pop() {
                seg.delete_files()?;
                sync_dir(&self.dir);
            }
        }
        let interval = self.config.index_interval_bytes;
        self.segments[k].truncate_to_position(position, interval)?;
        let active = &self.segments[k];
        if active.next_offset() < target {
            // The data left ends in a gap below the target: the log goes on at the target.
            if active.is_empty() {
                let seg = LogSegment::create(&self.dir, target, &self.config.open_files)?;
                sync_dir(&self.dir);
                self.segments.push(seg);
                if k == 0 {
                    // Nothing is left below the target: the log starts there.
                    self.advance_log_start(target)?;
                }
                self.segments.remove(k).delete_files()?;
                sync_dir(&self.dir);
            } else {
                self.roll_at(target)?;
            }
        }
        Ok(())
    }

    /// Drop the leader epoch entries at or after `end_offset`; a failed write is logged and
    /// retried before the next append.
    fn truncate_epochs(&mut self, end_offset: i64) {
        if let Err(e) = self.epochs.truncate_from_end(end_offset) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the leader epoch checkpoint; will retry before the next append");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use kafka_protocol::records::Compression;

    use super::*;
    use crate::log::batch::rewrite_base_offset_and_epoch;
    use crate::log::epoch_cache::{
        EpochEntry, LEADER_EPOCH_CHECKPOINT_FILE, read_checkpoint, write_checkpoint,
    };
    use crate::log::index::{IndexEntry, TimeIndexEntry, read_entries};
    use crate::log::test_util::{Indexes, batch_bytes, decode_values, file_names, segment_indexes};
    use crate::log::{AppendResult, LOG_START_OFFSET_FILE, LogConfig, validate_batches};

    /// Small segments (about 8 batches each) and dense indexes.
    fn small() -> LogConfig {
        LogConfig {
            segment_bytes: 1000,
            index_interval_bytes: 150,
            ..LogConfig::default()
        }
    }

    fn open(dir: &Path, c: &LogConfig) -> PartitionLog {
        PartitionLog::open(dir, c.clone(), 0).unwrap()
    }

    /// A batch of two records with distinct timestamps and values.
    fn batch(i: usize) -> Vec<u8> {
        let (a, b) = (format!("value-{i}-a"), format!("value-{i}-b"));
        let ts = 1000 + (i as i64 % 7) * 10;
        batch_bytes(&[(ts, &a), (ts + 3, &b)], Compression::None)
    }

    /// Append batch `i` stamped with leader epoch `epoch`; returns its base offset.
    fn put(log: &mut PartitionLog, i: usize, epoch: i32) -> i64 {
        let p = batch(i);
        let infos = validate_batches(&p, 1 << 20).unwrap();
        log.append(&p, &infos, epoch, 0).unwrap().base_offset
    }

    /// Batches `range` with the epoch `epoch_of(i)`.
    fn fill(log: &mut PartitionLog, range: std::ops::Range<usize>, epoch_of: fn(usize) -> i32) {
        for i in range {
            put(log, i, epoch_of(i));
        }
    }

    fn epoch_zero(_: usize) -> i32 {
        0
    }

    /// Epoch 1 for batches 0..6, 4 for 6..15, 7 after.
    fn three_epochs(i: usize) -> i32 {
        match i {
            0..6 => 1,
            6..15 => 4,
            _ => 7,
        }
    }

    /// Everything observable about a log: offsets, segments, indexes, data, epochs.
    #[derive(Debug, PartialEq)]
    struct Snapshot {
        log_start: i64,
        log_end: i64,
        segments: Vec<(i64, u64)>,
        indexes: Indexes,
        data: Vec<u8>,
        epochs: Vec<EpochEntry>,
    }

    fn snapshot(log: &PartitionLog) -> Snapshot {
        let data = if log.log_start_offset() < log.log_end_offset() {
            log.read(log.log_start_offset(), usize::MAX, true)
                .unwrap()
                .to_vec()
        } else {
            Vec::new()
        };
        Snapshot {
            log_start: log.log_start_offset(),
            log_end: log.log_end_offset(),
            segments: log.segments_info(),
            indexes: segment_indexes(log),
            data,
            epochs: log.leader_epoch_cache().entries().to_vec(),
        }
    }

    /// The files say what memory says: segment lengths, index files (the active segment's a
    /// prefix: its entries reach the file at flushes), the epoch checkpoint, and no file of a
    /// segment that is not in the log.
    fn assert_disk_matches(log: &PartitionLog) {
        let active = log.segments().len() - 1;
        for (i, s) in log.segments().iter().enumerate() {
            assert_eq!(fs::metadata(s.log_path()).unwrap().len(), s.size());
            let index = read_entries::<IndexEntry>(&s.offset_index().path()).unwrap();
            let time = read_entries::<TimeIndexEntry>(&s.time_index().path()).unwrap();
            if i == active {
                assert!(s.offset_index().entries().starts_with(&index));
                assert!(s.time_index().entries().starts_with(&time));
            } else {
                assert_eq!(index, s.offset_index().entries());
                assert_eq!(time, s.time_index().entries());
            }
        }
        let logs = file_names(log.dir())
            .into_iter()
            .filter(|n| n.ends_with(".log") || n.ends_with("index"))
            .count();
        assert_eq!(logs, 3 * log.segments().len());
        assert_eq!(
            read_checkpoint(log.dir()).unwrap().unwrap_or_default(),
            log.leader_epoch_cache().entries()
        );
    }

    /// The snapshot without a trailing empty segment: a truncation to a segment's base offset
    /// keeps that segment, empty, as the active one (as Kafka does), where a log that never held
    /// more has not rolled to it yet.
    fn normalized(mut s: Snapshot) -> Snapshot {
        if s.segments.len() > 1 && s.segments.last().is_some_and(|&(_, size)| size == 0) {
            s.segments.pop();
            s.indexes.pop();
        }
        s
    }

    /// Truncating a log of `n` batches to `offset` (a batch boundary) gives exactly the log
    /// holding only the batches below it, and both go on identically; reopening changes nothing.
    fn check_against_fresh(c: &LogConfig, n: usize, keep: usize, epoch_of: fn(usize) -> i32) {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let mut log = open(a.path(), c);
        fill(&mut log, 0..n, epoch_of);
        let offset = 2 * keep as i64;
        assert_eq!(log.truncate_to(offset).unwrap(), offset);
        let mut fresh = open(b.path(), c);
        fill(&mut fresh, 0..keep, epoch_of);
        assert_eq!(normalized(snapshot(&log)), snapshot(&fresh));
        assert_disk_matches(&log);
        let truncated = snapshot(&log);
        drop(log);
        let mut log = open(a.path(), c);
        assert_eq!(snapshot(&log), truncated, "after reopen");
        assert_disk_matches(&log);
        fill(&mut log, keep..n + 3, epoch_of);
        fill(&mut fresh, keep..n + 3, epoch_of);
        let (after, expected) = (snapshot(&log), snapshot(&fresh));
        assert_eq!(
            (after.log_end, &after.data, &after.epochs),
            (expected.log_end, &expected.data, &expected.epochs),
            "appends after the truncation"
        );
        if after.segments == expected.segments {
            assert_eq!(after, expected);
        }
        assert_disk_matches(&log);
    }

    #[test]
    fn truncate_within_the_active_segment() {
        let c = LogConfig {
            index_interval_bytes: 150,
            ..LogConfig::default()
        };
        for keep in [1, 5, 9, 19] {
            check_against_fresh(&c, 20, keep, epoch_zero);
        }
        // What is left reads back; what was cut is out of range.
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..10, epoch_zero);
        let files = file_names(dir.path());
        assert_eq!(log.truncate_to(8).unwrap(), 8);
        assert_eq!(file_names(dir.path()), files);
        let values: Vec<_> = decode_values(&log.read(0, usize::MAX, true).unwrap())
            .into_iter()
            .map(|(o, _, v)| (o, v))
            .collect();
        assert_eq!(values.len(), 8);
        assert_eq!(values[7], (7, "value-3-b".to_string()));
        assert!(log.read(8, 100, true).unwrap().is_empty());
        assert!(matches!(
            log.read(9, 100, true),
            Err(LogError::OffsetOutOfRange { log_end: 8, .. })
        ));
        assert_eq!(put(&mut log, 50, 0), 8);
    }

    #[test]
    fn truncate_across_segments() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..40, epoch_zero);
        assert!(log.segments().len() >= 4);
        let second = log.segments()[1].base_offset();
        // Into the middle of the second segment: every later segment's files go.
        let offset = second + 4;
        assert_eq!(log.truncate_to(offset).unwrap(), offset);
        assert_eq!(log.segments().len(), 2);
        assert_eq!(log.segments()[1].next_offset(), offset);
        for keep in [3, 10, 17, 25, 39] {
            check_against_fresh(&c, 40, keep, epoch_zero);
        }
    }

    #[test]
    fn truncate_at_a_segment_boundary() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..40, epoch_zero);
        let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset()).collect();
        let boundary = bases[2];
        // The segment that starts at the offset stays, empty, as the active segment.
        assert_eq!(log.truncate_to(boundary).unwrap(), boundary);
        assert_eq!(log.segments_info().last(), Some(&(boundary, 0)));
        assert_eq!(log.segments().len(), 3);
        assert_disk_matches(&log);
        // Just below the boundary: the segment before it loses its last batch.
        assert_eq!(log.truncate_to(boundary - 2).unwrap(), boundary - 2);
        assert_eq!(log.segments().len(), 2);
        assert_eq!(log.segments()[1].next_offset(), boundary - 2);
        assert_disk_matches(&log);
        for base in &bases[1..] {
            check_against_fresh(&c, 40, *base as usize / 2, epoch_zero);
        }
    }

    #[test]
    fn truncate_to_the_log_start() {
        let c = small();
        // Everything, from a log starting at 0.
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..20, epoch_zero);
        assert_eq!(log.truncate_to(0).unwrap(), 0);
        assert_eq!(log.segments_info(), vec![(0, 0)]);
        assert_eq!(log.leader_epoch_cache().entries(), &[]);
        assert_disk_matches(&log);
        assert_eq!(put(&mut log, 0, 2), 0);
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[EpochEntry {
                epoch: 2,
                start_offset: 0
            }]
        );

        // Below a log start that DeleteRecords moved into a later segment, inside a batch: the
        // log is cut at the log start and goes on there.
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..30, epoch_zero);
        let start = log.segments()[1].base_offset() + 3;
        log.delete_records_before(start).unwrap();
        assert_eq!(log.log_start_offset(), start);
        assert_eq!(log.truncate_to(2).unwrap(), start);
        assert_eq!(log.log_start_offset(), start);
        assert_eq!(log.log_end_offset(), start);
        assert!(log.read(start, 100, true).unwrap().is_empty());
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[],
            "the epoch started below the new log end"
        );
        assert_disk_matches(&log);
        let before = snapshot(&log);
        drop(log);
        let mut log = open(dir.path(), &c);
        assert_eq!(snapshot(&log), before);
        assert_eq!(put(&mut log, 0, 0), start);
        assert_eq!(
            decode_values(&log.read(start, 1000, true).unwrap())[0].0,
            start
        );
    }

    #[test]
    fn truncate_is_a_no_op_at_or_beyond_the_log_end() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..20, three_epochs);
        let before = snapshot(&log);
        let files: Vec<(String, Vec<u8>)> = file_names(dir.path())
            .into_iter()
            .map(|n| (n.clone(), fs::read(dir.path().join(n)).unwrap()))
            .collect();
        assert_eq!(log.truncate_to(40).unwrap(), 40);
        assert_eq!(log.truncate_to(41).unwrap(), 40);
        assert_eq!(log.truncate_to(i64::MAX).unwrap(), 40);
        assert_eq!(snapshot(&log), before);
        let after: Vec<(String, Vec<u8>)> = file_names(dir.path())
            .into_iter()
            .map(|n| (n.clone(), fs::read(dir.path().join(n)).unwrap()))
            .collect();
        assert_eq!(after, files);
    }

    #[test]
    fn truncate_inside_a_batch_removes_the_whole_batch() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..20, epoch_zero);
        // Batches hold two offsets each: 13 is the second offset of the batch at 12.
        assert_eq!(log.truncate_to(13).unwrap(), 12);
        let b = tempfile::tempdir().unwrap();
        let mut fresh = open(b.path(), &c);
        fill(&mut fresh, 0..6, epoch_zero);
        assert_eq!(snapshot(&log), snapshot(&fresh));
        assert_disk_matches(&log);
    }

    #[test]
    fn reopen_after_truncation() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..40, three_epochs);
        // Several truncations in a row, each surviving a reopen.
        for offset in [70, 51, 30, 29, 12, 1] {
            let end = log.truncate_to(offset).unwrap();
            assert_eq!(end, offset / 2 * 2);
            let before = snapshot(&log);
            assert_disk_matches(&log);
            drop(log);
            log = open(dir.path(), &c);
            assert_eq!(
                snapshot(&log),
                before,
                "reopened after truncating to {offset}"
            );
            assert_disk_matches(&log);
        }
        assert_eq!(log.log_end_offset(), 0);
    }

    #[test]
    fn epoch_cache_follows_appends_and_truncation() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        assert!(!dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE).exists());
        fill(&mut log, 0..20, three_epochs);
        let entry = |epoch, start_offset| EpochEntry {
            epoch,
            start_offset,
        };
        let all = [entry(1, 0), entry(4, 12), entry(7, 30)];
        assert_eq!(log.leader_epoch_cache().entries(), &all);
        assert_disk_matches(&log);
        assert_eq!(log.end_offset_for_epoch(0), (0, 0));
        assert_eq!(log.end_offset_for_epoch(1), (1, 12));
        assert_eq!(log.end_offset_for_epoch(3), (1, 12));
        assert_eq!(log.end_offset_for_epoch(4), (4, 30));
        assert_eq!(log.end_offset_for_epoch(7), (7, 40));
        assert_eq!(log.end_offset_for_epoch(8), (-1, -1));
        assert_eq!(log.latest_epoch(), Some(entry(7, 30)));

        // A stale epoch is stamped into its batch but not cached, nor after a reopen.
        put(&mut log, 20, 5);
        assert_eq!(log.leader_epoch_cache().entries(), &all);
        drop(log);
        let mut log = open(dir.path(), &c);
        assert_eq!(log.leader_epoch_cache().entries(), &all);

        // Into epoch 4: epoch 7 goes, and the latest epoch ends at the new log end.
        assert_eq!(log.truncate_to(25).unwrap(), 24);
        assert_eq!(log.leader_epoch_cache().entries(), &all[..2]);
        assert_eq!(log.end_offset_for_epoch(4), (4, 24));
        assert_eq!(log.end_offset_for_epoch(7), (-1, -1));
        assert_disk_matches(&log);
        // At the first batch of epoch 4: it goes too.
        assert_eq!(log.truncate_to(12).unwrap(), 12);
        assert_eq!(log.leader_epoch_cache().entries(), &all[..1]);
        assert_disk_matches(&log);
        drop(log);
        let mut log = open(dir.path(), &c);
        assert_eq!(log.leader_epoch_cache().entries(), &all[..1]);
        assert_eq!(log.end_offset_for_epoch(1), (1, 12));
        // A new leader's epoch starts at the log end.
        put(&mut log, 30, 9);
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[entry(1, 0), entry(9, 12)]
        );
        assert_disk_matches(&log);

        // An epoch entry without data (a crash after the checkpoint was written, before the
        // batch) is dropped by a truncation to the log end, and by a reopen.
        let leo = log.log_end_offset();
        crate::log::epoch_cache::write_checkpoint(
            dir.path(),
            &[entry(1, 0), entry(9, 12), entry(11, leo)],
        )
        .unwrap();
        drop(log);
        let mut log = open(dir.path(), &c);
        assert_eq!(log.latest_epoch(), Some(entry(9, 12)));
        assert_disk_matches(&log);
        log.epochs.assign(11, leo).unwrap();
        assert_eq!(log.truncate_to(leo).unwrap(), leo);
        assert_eq!(log.latest_epoch(), Some(entry(9, 12)));
        assert_disk_matches(&log);
    }

    #[test]
    fn epoch_cache_follows_the_log_start() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..40, three_epochs);
        log.delete_records_before(5).unwrap();
        let entry = |epoch, start_offset| EpochEntry {
            epoch,
            start_offset,
        };
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[entry(1, 5), entry(4, 12), entry(7, 30)]
        );
        assert_disk_matches(&log);
        // Retention deleting a whole segment moves the log start to the next one's base.
        let keep = log.size_bytes() - log.segments()[0].size();
        let r = log.apply_retention(-1, keep as i64, 0).unwrap();
        assert!(r.new_log_start > 12 && r.new_log_start < 30);
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[entry(4, r.new_log_start), entry(7, 30)]
        );
        assert_disk_matches(&log);
        drop(log);
        let log = open(dir.path(), &c);
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[entry(4, r.new_log_start), entry(7, 30)]
        );
        assert_eq!(log.end_offset_for_epoch(1), (1, r.new_log_start));
    }

    #[test]
    fn epoch_cache_is_rebuilt_from_the_batch_headers() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..40, three_epochs);
        log.delete_records_before(3).unwrap();
        let expected = log.leader_epoch_cache().entries().to_vec();
        drop(log);
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE);
        let rebuilt = |dir: &Path| {
            let log = open(dir, &c);
            assert_disk_matches(&log);
            log.leader_epoch_cache().entries().to_vec()
        };
        // Missing.
        fs::remove_file(&path).unwrap();
        assert_eq!(rebuilt(dir.path()), expected);
        // Damaged.
        fs::write(&path, b"0\n3\n1 0\n").unwrap();
        assert_eq!(rebuilt(dir.path()), expected);
        fs::write(&path, b"garbage").unwrap();
        assert_eq!(rebuilt(dir.path()), expected);
        // Lacking the epoch of the last batch (a file from elsewhere, or an empty one).
        fs::write(&path, b"0\n1\n1 0\n").unwrap();
        assert_eq!(rebuilt(dir.path()), expected);
        fs::write(&path, b"0\n0\n").unwrap();
        assert_eq!(rebuilt(dir.path()), expected);
        // A log written before fjord kept epochs: epoch 0 everywhere, -1 in some batches.
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..10, |i| if i < 3 { -1 } else { 0 });
        drop(log);
        fs::remove_file(dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE)).unwrap();
        assert_eq!(
            rebuilt(dir.path()),
            vec![EpochEntry {
                epoch: 0,
                start_offset: 6
            }]
        );
        // A new, empty log writes no file.
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), &c));
        assert!(!dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE).exists());
    }

    /// A gap in the offsets (left by compaction, or by the recovery of a torn segment): the log
    /// end after a truncation is still the offset asked for.
    #[test]
    fn truncate_into_a_gap() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..30, epoch_zero);
        let seg1 = log.segments()[1].base_offset();
        drop(log);
        // Tear the last batch of segment 0: it is dropped at open, leaving offsets
        // [seg1 - 2, seg1) without data.
        let p0 = dir.path().join("00000000000000000000.log");
        let mut d = fs::read(&p0).unwrap();
        let n = d.len();
        d[n - 1] ^= 1;
        d.extend_from_slice(&[1, 2, 3]);
        fs::write(&p0, &d).unwrap();
        let mut log = open(dir.path(), &c);
        assert_eq!(log.segments()[0].next_offset(), seg1 - 2);
        // Inside the gap: segment 1 and later go; a new segment starts at the offset.
        assert_eq!(log.truncate_to(seg1 - 1).unwrap(), seg1 - 1);
        assert_eq!(log.segments_info().last(), Some(&(seg1 - 1, 0)));
        assert_disk_matches(&log);
        let before = snapshot(&log);
        drop(log);
        let mut log = open(dir.path(), &c);
        assert_eq!(snapshot(&log), before);
        assert_eq!(put(&mut log, 0, 0), seg1 - 1);
        // At the start of the gap: the log ends with the data.
        assert_eq!(log.truncate_to(seg1 - 2).unwrap(), seg1 - 2);
        assert_eq!(log.segments().len(), 1);
        assert_disk_matches(&log);
    }

    /// The first segment emptied by a truncation into a gap at its start: the log starts at the
    /// new log end.
    #[test]
    fn truncate_into_a_gap_at_the_start() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        // A log whose first batch is at offset 4 of a segment based at 0: the first four
        // offsets are a gap (what compaction leaves when it drops a segment's first batches).
        let mut log = open(dir.path(), &c);
        fill(&mut log, 0..10, epoch_zero);
        drop(log);
        let p0 = dir.path().join("00000000000000000000.log");
        let d = fs::read(&p0).unwrap();
        let first_two: usize = (0..2).map(|i| batch(i).len()).sum();
        fs::write(&p0, &d[first_two..]).unwrap();
        let mut log = open(dir.path(), &c);
        assert_eq!(log.log_start_offset(), 0);
        assert_eq!(
            log.segments()[0]
                .find_batch(0)
                .unwrap()
                .unwrap()
                .1
                .base_offset,
            4
        );
        assert_eq!(log.truncate_to(2).unwrap(), 2);
        assert_eq!(log.segments_info(), vec![(2, 0)]);
        assert_eq!(log.log_start_offset(), 2);
        assert_disk_matches(&log);
        let before = snapshot(&log);
        drop(log);
        let mut log = open(dir.path(), &c);
        assert_eq!(snapshot(&log), before);
        assert_eq!(put(&mut log, 0, 0), 2);
    }

    /// Batch `i` as a leader stored it: at offset `base`, in leader epoch `epoch`.
    fn leader(i: usize, base: i64, epoch: i32) -> Vec<u8> {
        let mut b = batch(i);
        rewrite_base_offset_and_epoch(&mut b, base, epoch);
        b
    }

    fn follow(log: &mut PartitionLog, payload: &[u8]) -> Result<AppendResult, LogError> {
        let infos = validate_batches(payload, 1 << 20).unwrap();
        log.append_as_follower(payload, &infos, 0)
    }

    /// A follower's log of 30 batches in the epochs of [`three_epochs`], with gaps of up to two
    /// offsets between batches (and so between segments). Returns the base offset of each batch.
    fn follower_log(dir: &Path, c: &LogConfig) -> (PartitionLog, Vec<i64>) {
        let mut log = open(dir, c);
        let mut bases = vec![];
        let mut base = 0;
        for i in 0..30 {
            follow(&mut log, &leader(i, base, three_epochs(i))).unwrap();
            bases.push(base);
            base += 2 + (i % 3) as i64;
        }
        (log, bases)
    }

    fn entry(epoch: i32, start_offset: i64) -> EpochEntry {
        EpochEntry {
            epoch,
            start_offset,
        }
    }

    #[test]
    fn truncate_a_follower_log_with_gaps() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let (mut log, b) = follower_log(dir.path(), &c);
        assert!(log.segments().len() >= 3);
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[entry(1, 0), entry(4, b[6]), entry(7, b[15])]
        );
        // Into the gap after batch 20 (offsets b[20] + 2 and + 3): the log ends at the offset.
        assert_eq!(b[21], b[20] + 4);
        assert_eq!(log.truncate_to(b[20] + 3).unwrap(), b[20] + 3);
        let data: Vec<u8> = (0..=20)
            .flat_map(|i| leader(i, b[i], three_epochs(i)))
            .collect();
        assert_eq!(snapshot(&log).data, data);
        assert_disk_matches(&log);
        let before = snapshot(&log);
        drop(log);
        let mut log = open(dir.path(), &c);
        assert_eq!(snapshot(&log), before);
        // Inside a batch: the whole batch goes. Into epoch 4: epoch 7 goes.
        assert_eq!(log.truncate_to(b[12] + 1).unwrap(), b[12]);
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[entry(1, 0), entry(4, b[6])]
        );
        // At epoch 4's first batch.
        assert_eq!(log.truncate_to(b[6]).unwrap(), b[6]);
        assert_eq!(log.leader_epoch_cache().entries(), &[entry(1, 0)]);
        assert_disk_matches(&log);
        let before = snapshot(&log);
        drop(log);
        let mut log = open(dir.path(), &c);
        assert_eq!(snapshot(&log), before);
        // The follower goes on with the new leader's epoch, past a gap.
        let r = follow(&mut log, &leader(40, b[6] + 5, 9)).unwrap();
        assert_eq!(r.base_offset, b[6] + 5);
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[entry(1, 0), entry(9, b[6] + 5)]
        );
        assert_disk_matches(&log);
    }

    /// The state after starting over at `offset`, in memory, on disk, and after a reopen; then
    /// a follower's batches at `offset` and after a gap are taken.
    fn check_started_over(dir: &Path, c: &LogConfig, log: PartitionLog, offset: i64) {
        assert_eq!(
            (log.log_start_offset(), log.log_end_offset()),
            (offset, offset)
        );
        assert_eq!(log.segments_info(), vec![(offset, 0)]);
        assert!(log.leader_epoch_cache().entries().is_empty());
        assert!(log.read(offset, 100, true).unwrap().is_empty());
        assert!(matches!(
            log.read(offset - 1, 100, true),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert_disk_matches(&log);
        let names: Vec<String> = file_names(dir)
            .into_iter()
            .filter(|n| n.ends_with("log") || n.ends_with("index"))
            .collect();
        let segment = |sfx| crate::log::files::segment_file_name(offset, sfx);
        assert_eq!(
            names,
            [segment(".index"), segment(".log"), segment(".timeindex")]
        );
        if offset > 0 {
            assert_eq!(
                fs::read_to_string(dir.join(LOG_START_OFFSET_FILE)).unwrap(),
                format!("0\n{offset}\n")
            );
        }
        let before = snapshot(&log);
        drop(log);
        let mut log = open(dir, c);
        assert_eq!(snapshot(&log), before, "reopened");
        assert!(matches!(
            follow(&mut log, &leader(0, offset - 1, 9)),
            Err(LogError::UnexpectedAppendOffset { .. })
        ));
        let (a, b) = (leader(0, offset, 9), leader(1, offset + 5, 10));
        assert_eq!(follow(&mut log, &a).unwrap().base_offset, offset);
        assert_eq!(follow(&mut log, &b).unwrap().base_offset, offset + 5);
        assert_eq!(
            log.read(offset, usize::MAX, true).unwrap().to_vec(),
            [a, b].concat()
        );
        assert_eq!(
            log.leader_epoch_cache().entries(),
            &[entry(9, offset), entry(10, offset + 5)]
        );
        assert_disk_matches(&log);
    }

    #[test]
    fn start_over_beyond_the_log_end() {
        let c = small();
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = follower_log(dir.path(), &c);
        let offset = log.log_end_offset() + 100;
        log.truncate_fully_and_start_at(offset).unwrap();
        check_started_over(dir.path(), &c, log, offset);
        // At the log end, whose segment is not empty.
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = follower_log(dir.path(), &c);
        let offset = log.log_end_offset();
        log.truncate_fully_and_start_at(offset).unwrap();
        check_started_over(dir.path(), &c, log, offset);
    }

    #[test]
    fn start_over_inside_the_log() {
        let c = small();
        for at in [|b: &[i64]| b[17] + 1, |b: &[i64]| b[9], |_: &[i64]| 0] {
            let dir = tempfile::tempdir().unwrap();
            let (mut log, b) = follower_log(dir.path(), &c);
            let offset = at(&b);
            log.truncate_fully_and_start_at(offset).unwrap();
            check_started_over(dir.path(), &c, log, offset);
        }
        // Not below the log start.
        let dir = tempfile::tempdir().unwrap();
        let (mut log, b) = follower_log(dir.path(), &c);
        log.delete_records_before(b[3]).unwrap();
        let before = snapshot(&log);
        assert!(matches!(
            log.truncate_fully_and_start_at(b[3] - 1),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert_eq!(snapshot(&log), before);
        log.truncate_fully_and_start_at(b[3]).unwrap();
        check_started_over(dir.path(), &c, log, b[3]);
    }

    /// The disk as a crash between the steps of `truncate_fully_and_start_at` leaves it, built
    /// by hand: every reopen finds a consistent log.
    #[test]
    fn starting_over_survives_a_crash_at_any_step() {
        let c = small();
        let offset = 500;
        // After step 2: the log start persisted beyond the log end. An empty log at its end.
        let dir = tempfile::tempdir().unwrap();
        let (log, b) = follower_log(dir.path(), &c);
        let end = log.log_end_offset();
        assert!(end < offset);
        drop(log);
        write_log_start_checkpoint(dir.path(), offset).unwrap();
        let mut log = open(dir.path(), &c);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (end, end));
        assert!(matches!(
            log.read(b[29], 100, true),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert!(log.leader_epoch_cache().entries().is_empty());
        assert_disk_matches(&log);
        // The log start was rewritten as the log end: what is appended from there stays
        // readable once the log grows past the value that was persisted.
        assert_eq!(
            fs::read_to_string(dir.path().join(LOG_START_OFFSET_FILE)).unwrap(),
            format!("0\n{end}\n")
        );
        follow(&mut log, &leader(0, end, 9)).unwrap();
        follow(&mut log, &leader(1, offset + 10, 9)).unwrap();
        drop(log);
        let log = open(dir.path(), &c);
        assert_eq!(log.log_start_offset(), end);
        assert_eq!(
            log.read(end, usize::MAX, true).unwrap().to_vec(),
            [leader(0, end, 9), leader(1, offset + 10, 9)].concat()
        );

        // After step 3, and during step 4: the new segment and (some of) the old ones. The log
        // starts and ends at the offset; retention deletes the old segments.
        for deleted_before_the_crash in [0, 2] {
            let dir = tempfile::tempdir().unwrap();
            let (log, _) = follower_log(dir.path(), &c);
            let old: Vec<i64> = log.segments().iter().map(|s| s.base_offset()).collect();
            drop(log);
            write_log_start_checkpoint(dir.path(), offset).unwrap();
            drop(
                LogSegment::create(
                    &std::sync::Arc::from(dir.path()),
                    offset,
                    &crate::log::OpenFiles::shared(),
                )
                .unwrap(),
            );
            for &base in &old[..deleted_before_the_crash] {
                for sfx in crate::log::files::SEGMENT_SUFFIXES {
                    let name = crate::log::files::segment_file_name(base, sfx);
                    fs::remove_file(dir.path().join(name)).unwrap();
                }
            }
            let mut log = open(dir.path(), &c);
            assert_eq!(
                (log.log_start_offset(), log.log_end_offset()),
                (offset, offset)
            );
            assert_eq!(
                log.segments().len(),
                old.len() - deleted_before_the_crash + 1
            );
            assert!(log.read(offset, 100, true).unwrap().is_empty());
            assert!(log.leader_epoch_cache().entries().is_empty());
            assert_disk_matches(&log);
            let r = log.apply_retention(-1, -1, 0).unwrap();
            assert_eq!(r.deleted_segments, old[deleted_before_the_crash..]);
            check_started_over(dir.path(), &c, log, offset);
        }

        // After step 4: only the new segment, with the old log's epoch checkpoint.
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = follower_log(dir.path(), &c);
        let entries = log.leader_epoch_cache().entries().to_vec();
        log.truncate_fully_and_start_at(offset).unwrap();
        drop(log);
        write_checkpoint(dir.path(), &entries).unwrap();
        let log = open(dir.path(), &c);
        check_started_over(dir.path(), &c, log, offset);
    }
}

#[cfg(test)]
mod measure {
    //! Costs of truncation and of rebuilding the epoch cache on a large log (run by hand:
    //! `cargo test --release --lib log::truncate::measure -- --ignored --nocapture`).
    use std::time::Instant;

    use kafka_protocol::records::Compression;

    use crate::log::test_util::batch_bytes;
    use crate::log::{LogConfig, PartitionLog, validate_batches};

    fn build(dir: &std::path::Path, batch_size: usize, total: usize) -> PartitionLog {
        let value = "x".repeat(batch_size - 80);
        let one = batch_bytes(&[(1000, &value)], Compression::None);
        let infos = validate_batches(&one, 1 << 20).unwrap();
        let mut log = PartitionLog::open(dir, LogConfig::default(), 0).unwrap();
        for i in 0..total / one.len() {
            let p = one.clone();
            log.append(&p, &infos, (i / 1000) as i32, 0).unwrap();
        }
        log.flush().unwrap();
        log
    }

    #[test]
    #[ignore]
    fn truncation_and_rebuild_costs() {
        for batch_size in [1024usize, 16 * 1024] {
            let dir = tempfile::tempdir().unwrap();
            let total = 256 << 20;
            let mut log = build(dir.path(), batch_size, total);
            let end = log.log_end_offset();
            let epochs = log.leader_epoch_cache().entries().len();
            let t = Instant::now();
            let rebuilt = log.rebuild_epoch_cache();
            let rebuild = t.elapsed();
            assert_eq!(rebuilt.entries().len(), epochs);
            let t = Instant::now();
            log.truncate_to(end / 2).unwrap();
            let middle = t.elapsed();
            let t = Instant::now();
            log.truncate_to(end / 2 - 1).unwrap();
            let last_batch = t.elapsed();
            drop(log);
            let t = Instant::now();
            let log = PartitionLog::open(dir.path(), LogConfig::default(), 0).unwrap();
            let reopen = t.elapsed();
            println!(
                "{} MiB in {batch_size}-byte batches ({end} batches, {epochs} epochs): \
                 epoch cache rebuild {rebuild:?}; truncate to the middle {middle:?}; \
                 then by one batch {last_batch:?}; reopen of the truncated log {reopen:?} (end {})",
                total >> 20,
                log.log_end_offset()
            );
        }
    }
}
