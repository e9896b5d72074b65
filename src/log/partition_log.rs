//! [`PartitionLog`]: one partition's ordered list of segments; the last one is active.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::batch::{BatchHeader, BatchInfo, MAGIC_V2};
use super::checkpoint::{
    LOG_START_OFFSET_FILE, read_log_start_checkpoint, write_log_start_checkpoint,
};
use super::epoch_cache::{EpochEntry, LEADER_EPOCH_CHECKPOINT_FILE, LeaderEpochCache};
use super::files::{parse_segment_file_name, sync_dir};
use super::segment::{FileSlice, LogSegment};
use super::{LogConfig, LogError};

/// Where [`PartitionLog::append`] put the batches (or [`PartitionLog::append_as_follower`] found
/// them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// The first batch's base offset.
    pub base_offset: i64,
    /// The last batch's last offset (the log end offset is one above it).
    pub last_offset: i64,
    /// maxTimestamp of the first appended batch flagged LogAppendTime (see
    /// [`super::batch::stamp_log_append_time`]), else -1.
    pub log_append_time: i64,
    pub log_start_offset: i64,
}

/// An append checked by [`PartitionLog::plan_append`], not written yet.
struct PlannedAppend {
    /// The batch headers as they are to be stored, with their positions in the payload.
    headers: Vec<(usize, BatchHeader)>,
    /// The first batch's base offset.
    first_offset: i64,
    /// The last batch's last offset.
    last_offset: i64,
    /// Offsets the batches take (for `flush.messages`; gaps between them are not counted).
    records: u64,
}

/// One partition's log. Not thread-safe by itself; the caller wraps it in a lock.
#[derive(Debug)]
pub struct PartitionLog {
    pub(super) dir: Arc<Path>,
    pub(super) config: LogConfig,
    /// Ordered by base offset; never empty; the last one is the active segment.
    pub(super) segments: Vec<LogSegment>,
    /// First readable offset: >= the first segment's base offset, <= the log end offset.
    /// Persisted in [`super::LOG_START_OFFSET_FILE`] whenever it moves past the first segment's base.
    pub(super) log_start_offset: i64,
    /// Records appended since the last fsync.
    pub(super) unflushed_messages: u64,
    /// Which leader epoch started where ([`super::epoch_cache`]); kept in step with the log.
    pub(super) epochs: LeaderEpochCache,
    /// Set when a truncation failed half way: memory and disk may disagree, so no more writes
    /// until the log is reopened (reads go on).
    pub(super) offline: Option<String>,
    /// Truncations from the end since open (a compaction planned before one is discarded).
    pub(super) truncations: u64,
    /// Names of the other files the directory held at open (not segments), until the layer
    /// above takes them ([`Self::take_other_files`]): so it need not list the directory again.
    pub(super) other_files: Vec<String>,
}

impl PartitionLog {
    /// Open or create the partition directory and recover it.
    ///
    /// Every `<20 digits>.log` is a segment. The last segment is CRC-walked (torn or corrupt tail
    /// truncated with a warning, indexes rebuilt if they differ); earlier segments are trusted if
    /// their indexes pass a structural check plus a short header walk, else they are recovered
    /// the same way. Orphan index files are deleted, unrelated files ignored. An empty segment
    /// whose base offset lies inside the previous segment (a stray file) is deleted; a non-empty
    /// overlap is reported as [`LogError::CorruptMessage`].
    ///
    /// Before that, leftovers of an interrupted compaction are resolved (see
    /// [`super::recovery`]: `*.cleaned` files are deleted, committed `*.swap` files are moved into
    /// place). The log start offset is `max(first segment base, persisted value)` (see
    /// [`super::LOG_START_OFFSET_FILE`]), clamped to the log end offset; a persisted value beyond
    /// the log end is rewritten as the log end.
    ///
    /// Last, the leader epoch cache is loaded and made to agree with the recovered log (see
    /// [`Self::load_epoch_cache`]).
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64) -> Result<PartitionLog, LogError> {
        Self::open_with(dir, config, now_ms, false)
    }

    /// [`Self::open`]; after a clean shutdown (`clean_shutdown`, see
    /// [`super::checkpoint::take_clean_shutdown`]) the active segment's CRCs are not checked,
    /// only its batch headers walked.
    pub fn open_with(
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
        clean_shutdown: bool,
    ) -> Result<PartitionLog, LogError> {
        // One allocation of the path, shared by every file of the partition.
        let dir: Arc<Path> = Arc::from(dir);
        let dir = &dir;
        // One listing of the directory (a second only if leftovers of a compaction changed it);
        // a new partition's directory is made when the listing finds none.
        let list = || -> std::io::Result<Vec<(String, bool)>> {
            let mut out = Vec::new();
            let entries = match fs::read_dir(dir) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    fs::create_dir_all(dir)?;
                    return Ok(out);
                }
                r => r?,
            };
            for entry in entries {
                let entry = entry?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                out.push((name, entry.file_type()?.is_file()));
            }
            Ok(out)
        };
        let mut entries = list()?;
        if super::recovery::recover_leftovers(dir, entries.iter().map(|(n, _)| n.as_str()))? {
            entries = list()?;
        }
        let mut logs = BTreeSet::new();
        let mut index_files = Vec::new();
        let mut other_files = Vec::new();
        for (name, is_file) in entries {
            let path = dir.join(&name);
            let Some((base, suffix)) = parse_segment_file_name(&name) else {
                other_files.push(name);
                continue;
            };
            if !is_file {
                tracing::warn!(file = ?path, "ignoring segment-named entry that is not a regular file");
                continue;
            }
            if suffix == ".log" {
                logs.insert(base);
            } else {
                index_files.push((base, path));
            }
        }
        for (base, path) in index_files {
            if !logs.contains(&base) {
                tracing::warn!(file = %path.display(), "deleting index file without a segment");
                if let Err(e) = fs::remove_file(&path) {
                    tracing::warn!(file = %path.display(), error = %e, "cannot delete orphan index file");
                }
            }
        }

        let bases: Vec<i64> = logs.into_iter().collect();
        let interval = config.index_interval_bytes;
        let mut segments = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            let active = i + 1 == bases.len();
            segments.push(LogSegment::open_with(
                dir,
                base,
                active,
                interval,
                now_ms,
                !clean_shutdown,
                &config.open_files,
            )?);
        }

        // Segments must not overlap.
        let mut removed_active = false;
        let mut i = 1;
        while i < segments.len() {
            let prev_next = segments[i - 1].next_offset();
            if segments[i].base_offset() >= prev_next {
                i += 1;
                continue;
            }
            if !segments[i].is_empty() {
                return Err(LogError::CorruptMessage(format!(
                    "segment {} starts at offset {} but the previous segment ends at {}",
                    segments[i].log_path().display(),
                    segments[i].base_offset(),
                    prev_next - 1
                )));
            }
            tracing::warn!(
                segment = %segments[i].log_path().display(),
                previous_next_offset = prev_next,
                "deleting empty segment that overlaps the previous one"
            );
            removed_active |= i + 1 == segments.len();
            segments.remove(i).delete_files()?;
        }
        if removed_active {
            // The new last segment was opened as inactive; reopen it as the active one.
            if let Some(last) = segments.pop() {
                let base = last.base_offset();
                drop(last);
                segments.push(LogSegment::open(
                    dir,
                    base,
                    true,
                    interval,
                    now_ms,
                    &config.open_files,
                )?);
            }
        }
        if segments.is_empty() {
            segments.push(LogSegment::create(dir, 0, &config.open_files)?);
            sync_dir(dir);
        }
        let first_base = segments[0].base_offset();
        let log_end = segments[segments.len() - 1].next_offset();
        let has = |name: &str| other_files.iter().any(|n| n == name);
        let persisted = if has(LOG_START_OFFSET_FILE) {
            read_log_start_checkpoint(dir)
        } else {
            None
        };
        let epochs_file = has(LEADER_EPOCH_CHECKPOINT_FILE);
        let log_start_offset = persisted
            .map_or(first_base, |p| p.max(first_base))
            .min(log_end);
        if persisted.is_some_and(|p| p > log_end) {
            // Written before a crash cut the log end below it (a torn tail, or a crash inside
            // `truncate_fully_and_start_at`). Left as it is, it would hide the batches appended
            // from here up to it at the next open.
            tracing::warn!(dir = %dir.display(), persisted = ?persisted, log_end, "persisted log start offset beyond the log end; rewriting it as the log end");
            if let Err(e) = write_log_start_checkpoint(dir, log_end) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot rewrite the log start offset");
            }
        }
        let mut log = PartitionLog {
            dir: dir.clone(),
            config,
            segments,
            log_start_offset,
            unflushed_messages: 0,
            epochs: LeaderEpochCache::new(dir),
            offline: None,
            truncations: 0,
            other_files,
        };
        log.load_epoch_cache(epochs_file);
        tracing::debug!(
            dir = %log.dir.display(),
            segments = log.segments.len(),
            log_start_offset = log.log_start_offset,
            log_end_offset = log.log_end_offset(),
            "opened partition log"
        );
        Ok(log)
    }

    /// The leader epoch cache as it was at open, trimmed to the recovered log; rebuilt from the
    /// batch headers (in offset order, keeping each epoch above the previous one, Kafka's
    /// `LogSegment.recover` rule; negative epochs are no epoch) when the file is missing or
    /// unreadable, or when the last batch in the log has a later epoch than the file knows (a
    /// file that lacks entries: no data is ever written before its entry). Write failures are
    /// logged and retried before the next append.
    fn load_epoch_cache(&mut self, file_exists: bool) {
        let log_end = self.log_end_offset();
        let log_start = self.log_start_offset;
        let dir = self.dir.clone();
        let read = if file_exists {
            LeaderEpochCache::read(&dir)
        } else {
            Ok(None)
        };
        let loaded = match read {
            Ok(Some(mut cache)) => {
                cache.cut_start(log_start);
                cache.cut_end(log_end);
                let last = self.last_batch_epoch();
                match (last, cache.latest()) {
                    // A batch of an epoch the file does not know. (One of an older epoch than
                    // the latest is a stale epoch's write, which the cache never takes.)
                    (Some(epoch), latest) if latest.is_none_or(|l| l.epoch < epoch) => {
                        tracing::warn!(
                            dir = %dir.display(),
                            last_batch_epoch = epoch,
                            entries = ?cache.entries(),
                            "leader epoch checkpoint does not match the log; rebuilding it from the batch headers"
                        );
                        None
                    }
                    _ => Some(cache),
                }
            }
            Ok(None) if log_end == log_start && self.size_bytes() == 0 => {
                // A new partition: no file until its first epoch.
                Some(LeaderEpochCache::new(&dir))
            }
            Ok(None) => {
                tracing::info!(dir = %dir.display(), "no leader epoch checkpoint; building it from the batch headers");
                None
            }
            Err(reason) => {
                tracing::warn!(dir = %dir.display(), %reason, "unreadable leader epoch checkpoint; rebuilding it from the batch headers");
                None
            }
        };
        self.epochs = match loaded {
            Some(cache) => cache,
            None => {
                let mut cache = self.rebuild_epoch_cache();
                cache.cut_start(log_start);
                cache.cut_end(log_end);
                cache
            }
        };
        if let Err(e) = self.epochs.flush() {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot write the leader epoch checkpoint; will retry before the next append");
        }
    }

    /// The leader epoch cache as the batch headers of the whole log give it (in memory, dirty).
    /// A segment whose headers cannot all be read contributes those before the bad one.
    pub(super) fn rebuild_epoch_cache(&self) -> LeaderEpochCache {
        let mut cache = LeaderEpochCache::with_entries(&self.dir, Vec::new());
        for seg in &self.segments {
            let walked = seg.walk_headers(0, &mut |_, h| {
                cache.note_batch(h.partition_leader_epoch, h.base_offset);
                Ok(true)
            });
            if let Err(e) = walked {
                tracing::warn!(segment = %seg.log_path().display(), error = %e, "cannot read every batch header while rebuilding the leader epoch cache");
            }
        }
        cache
    }

    /// The partitionLeaderEpoch of the last batch at or above the log start, if it has one (>= 0).
    fn last_batch_epoch(&self) -> Option<i32> {
        let seg = self.segments.iter().rev().find(|s| !s.is_empty())?;
        let h = seg.last_batch().ok().flatten()?;
        (h.last_offset() >= self.log_start_offset && h.partition_leader_epoch >= 0)
            .then_some(h.partition_leader_epoch)
    }

    /// The leader epoch cache (see [`super::epoch_cache`]).
    pub fn leader_epoch_cache(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    /// The newest leader epoch entry: the epoch of the latest data and where it started.
    pub fn latest_epoch(&self) -> Option<EpochEntry> {
        self.epochs.latest()
    }

    /// What OffsetForLeaderEpoch answers for `epoch`: `(largest epoch <= epoch, its end offset)`,
    /// the end being the log end offset for the latest epoch (see
    /// [`LeaderEpochCache::end_offset_for`]); `(-1, -1)` when undefined.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// A new leader's epoch starts at the log end (Kafka's `maybeAssignEpochStartOffset`): the
    /// entry `(epoch, offset)` goes into the leader epoch cache, its file written and fsynced,
    /// before any batch of the epoch exists, so OffsetForLeaderEpoch answers for the epoch at
    /// once. `offset` must be the log end offset, else [`LogError::UnexpectedAppendOffset`].
    /// Returns whether the cache changed: an epoch that is already the latest, or older than
    /// it, changes nothing (see [`LeaderEpochCache::assign`]).
    ///
    /// A reopen drops the entry while no batch of the epoch has been written (it cannot tell it
    /// from what a crash between an entry and its first batch leaves; Kafka's load does the
    /// same), so a leader assigns its epoch again after a restart.
    pub fn assign_epoch_start(&mut self, epoch: i32, offset: i64) -> Result<bool, LogError> {
        if let Some(reason) = &self.offline {
            return Err(LogError::Storage(reason.clone()));
        }
        let log_end = self.log_end_offset();
        if offset != log_end {
            return Err(LogError::UnexpectedAppendOffset { offset, log_end });
        }
        self.epochs.flush()?;
        self.epochs.assign(epoch, offset)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The names of the files besides segments that the directory held at open (taken once).
    pub fn take_other_files(&mut self) -> Vec<String> {
        std::mem::take(&mut self.other_files)
    }

    /// The directory path, shared (one allocation for every file of the partition).
    pub fn shared_dir(&self) -> &Arc<Path> {
        &self.dir
    }
    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    /// Takes effect from the next append (existing indexes are not rewritten).
    pub fn set_config(&mut self, c: LogConfig) {
        self.config = c;
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }
    /// All segments, oldest first (the last is active).
    pub fn segments(&self) -> &[LogSegment] {
        &self.segments
    }

    fn active(&self) -> &LogSegment {
        // `segments` is never empty (established in `open`, only ever pushed to).
        &self.segments[self.segments.len() - 1]
    }
    fn active_mut(&mut self) -> &mut LogSegment {
        let n = self.segments.len();
        &mut self.segments[n - 1]
    }

    /// Append already-validated batches; see the module docs of [`super`] for the contract.
    /// Offsets are assigned from the log end offset, and `leader_epoch` is stamped on every batch
    /// (both written in place of `payload`'s as the batches go to the file; `payload` itself is
    /// not changed, nor copied).
    ///
    /// `batches` must describe `payload` exactly (in order, back to back, covering all of it), as
    /// [`super::validate_batches`] returns them; otherwise [`LogError::InvalidRecord`] and nothing is
    /// written. The headers are re-read from `payload` so the on-disk state never depends on the
    /// descriptors being right. All batches go to one segment (rolling first if the append would
    /// push the active segment past `segment_bytes`, if its first write is more than `segment_ms`
    /// old, or if offsets would overflow its 32-bit relative index; an empty segment never rolls).
    pub fn append(
        &mut self,
        payload: &[u8],
        batches: &[BatchInfo],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendResult, LogError> {
        let plan = self.plan_append(payload, batches, Some(leader_epoch))?;
        self.write_append(payload, plan, now_ms)
    }

    /// A follower's append (Kafka's `appendAsFollower`): batches fetched from the leader are
    /// stored exactly as they are, with their own base offsets and partition leader epochs.
    ///
    /// Checked before anything is written:
    /// * the first batch starts at or above the log end offset, else
    ///   [`LogError::UnexpectedAppendOffset`];
    /// * each later batch starts above the last offset of the one before, else
    ///   [`LogError::InvalidRecord`]. Gaps are fine (a compacted leader log has them): the log
    ///   end offset afterwards is the last batch's last offset + 1, and a read at an offset in a
    ///   gap returns the next batch;
    /// * no batch has a leader epoch below the latest one the epoch cache knows, or below the
    ///   batch before it, else [`LogError::InvalidRecord`].
    ///
    /// The epoch cache gets an entry for each new epoch at the first batch carrying it. Payload
    /// checks, rolling, indexing and `flush.messages` as in [`Self::append`]; a roll starts the
    /// new segment at the first batch's offset (as Kafka's does), which may leave a gap between
    /// segments, and an empty active segment based too far below the first batch to index its
    /// offsets is rolled too.
    pub fn append_as_follower(
        &mut self,
        payload: &[u8],
        batches: &[BatchInfo],
        now_ms: i64,
    ) -> Result<AppendResult, LogError> {
        let plan = self.plan_append(payload, batches, None)?;
        self.write_append(payload, plan, now_ms)
    }

    /// Check an append without changing anything: the headers as they will be stored (with their
    /// positions in `payload`) and the offsets they take. `assign`: `Some(leader epoch)` for a
    /// leader's append (offsets from the log end, that epoch on every batch), `None` for a
    /// follower's (offsets and epochs as in the headers, checked).
    fn plan_append(
        &self,
        payload: &[u8],
        batches: &[BatchInfo],
        assign: Option<i32>,
    ) -> Result<PlannedAppend, LogError> {
        if let Some(reason) = &self.offline {
            return Err(LogError::Storage(reason.clone()));
        }
        if batches.is_empty() {
            return Err(LogError::InvalidRecord("append of zero batches".into()));
        }
        let mut headers: Vec<(usize, BatchHeader)> = Vec::with_capacity(batches.len());
        let mut expected = 0usize;
        for b in batches {
            let end = b
                .position
                .checked_add(b.size)
                .filter(|&e| e <= payload.len());
            let h = end.and_then(|e| BatchHeader::parse(&payload[b.position..e]));
            let (Some(end), Some(h)) = (end, h) else {
                return Err(LogError::InvalidRecord(format!(
                    "batch descriptor (position {}, size {}) does not fit the {}-byte payload",
                    b.position,
                    b.size,
                    payload.len()
                )));
            };
            if b.position != expected
                || h.size() != b.size as u64
                || h.magic != MAGIC_V2
                || h.last_offset_delta < 0
            {
                return Err(LogError::InvalidRecord(format!(
                    "batch descriptor at {} does not match the payload",
                    b.position
                )));
            }
            headers.push((b.position, h));
            expected = end;
        }
        if expected != payload.len() {
            return Err(LogError::InvalidRecord(format!(
                "batch descriptors cover {expected} of {} payload bytes",
                payload.len()
            )));
        }

        let log_end = self.log_end_offset();
        // The lowest offset the next batch may start at, and the lowest epoch it may carry.
        let mut next = log_end;
        let mut min_epoch = self.epochs.latest().map_or(i32::MIN, |e| e.epoch);
        let mut records = 0u64;
        for (i, (pos, h)) in headers.iter_mut().enumerate() {
            match assign {
                Some(epoch) => {
                    h.base_offset = next;
                    h.partition_leader_epoch = epoch;
                }
                None if i == 0 && h.base_offset < log_end => {
                    return Err(LogError::UnexpectedAppendOffset {
                        offset: h.base_offset,
                        log_end,
                    });
                }
                None if h.base_offset < next => {
                    return Err(LogError::InvalidRecord(format!(
                        "batch at {pos} starts at offset {}, not after the previous batch's last offset {}",
                        h.base_offset,
                        next - 1
                    )));
                }
                None if h.partition_leader_epoch < min_epoch => {
                    return Err(LogError::InvalidRecord(format!(
                        "batch at {pos} (offset {}) has leader epoch {}, below the latest epoch {min_epoch}",
                        h.base_offset, h.partition_leader_epoch
                    )));
                }
                None => min_epoch = h.partition_leader_epoch,
            }
            let n = i64::from(h.last_offset_delta) + 1;
            records += n as u64;
            next = h
                .base_offset
                .checked_add(n)
                .ok_or_else(|| LogError::InvalidRecord("offset overflow".into()))?;
        }
        Ok(PlannedAppend {
            first_offset: headers[0].1.base_offset,
            last_offset: next - 1,
            records,
            headers,
        })
    }

    /// Write a planned append: roll if needed, record new leader epochs, append to the active
    /// segment, flush per `flush.messages`. `payload` holds the batches as they are to be stored.
    fn write_append(
        &mut self,
        payload: &[u8],
        plan: PlannedAppend,
        now_ms: i64,
    ) -> Result<AppendResult, LogError> {
        let PlannedAppend {
            headers,
            first_offset,
            last_offset,
            records,
        } = plan;
        let len = payload.len() as u64;
        let c = &self.config;
        let active = self.active();
        // Only a follower's batches can start past the log end, maybe too far past an empty
        // active segment's base to be indexed relative to it.
        let beyond_empty = active.is_empty()
            && first_offset > active.base_offset()
            && last_offset - active.base_offset() > i64::from(i32::MAX);
        if beyond_empty
            || active.should_roll(len, last_offset, c.segment_bytes, c.segment_ms, now_ms)
        {
            self.roll_at(first_offset)?;
        }
        let active = self.active();
        if active.size() + len > i32::MAX as u64
            || last_offset - active.base_offset() > i32::MAX as i64
        {
            return Err(LogError::MessageTooLarge(format!(
                "append of {len} bytes / {records} offsets does not fit in one segment"
            )));
        }

        // The epoch cache learns of a new epoch before its first batch is written, so the
        // checkpoint never lacks an entry for data in the log (a crash in between leaves an
        // entry at or past the log end, which the next open drops). If the write fails, the
        // entries go back to what they were.
        self.epochs.flush()?;
        let latest = self.epochs.latest().map_or(i32::MIN, |e| e.epoch);
        let before = headers
            .iter()
            .any(|(_, h)| h.partition_leader_epoch > latest)
            .then(|| self.epochs.entries().to_vec());
        let interval = self.config.index_interval_bytes;
        let unflushed = self.unflushed_messages.saturating_add(records);
        let fsync = unflushed >= self.config.flush_interval_messages;
        let written = headers
            .iter()
            .try_for_each(|(_, h)| {
                self.epochs
                    .assign(h.partition_leader_epoch, h.base_offset)
                    .map(drop)
            })
            .and_then(|()| {
                self.active_mut()
                    .append(payload, &headers, interval, now_ms, fsync)
            });
        if let Err(e) = written {
            // Nothing of the append is left (see LogSegment::append): the log end offset, the
            // segment file and its indexes are at the last complete batch.
            if let Some(entries) = before {
                self.epochs.restore(entries);
            }
            return Err(e);
        }
        self.unflushed_messages = if fsync { 0 } else { unflushed };
        let log_append_time = headers
            .iter()
            .find(|(_, h)| h.is_log_append_time())
            .map_or(-1, |(_, h)| h.max_timestamp);
        Ok(AppendResult {
            base_offset: first_offset,
            last_offset,
            log_append_time,
            log_start_offset: self.log_start_offset,
        })
    }

    /// Start a new active segment at the log end offset (no-op if the active segment is empty).
    /// The old segment gets its final time-index entry and is fsynced first.
    pub fn roll(&mut self) -> Result<(), LogError> {
        if self.active().is_empty() {
            return Ok(());
        }
        let base = self.log_end_offset();
        self.roll_at(base)
    }

    /// [`Self::roll`] to a new active segment at `base` (>= the log end offset), for a
    /// truncation that must leave the log end above the last batch, or a follower's batches that
    /// start above it. An empty active segment is rolled too when `base` is above its own (it
    /// stays, empty, as Kafka's does).
    ///
    /// If the new segment cannot be created (a full disk), nothing changes: the active segment
    /// stays active, without the final time-index entry, and a later append rolls again.
    pub(super) fn roll_at(&mut self, base: i64) -> Result<(), LogError> {
        let time_entries = self.active().time_index().entries().len();
        let created = self
            .active_mut()
            .seal()
            .and_then(|()| LogSegment::create(&self.dir, base, &self.config.open_files));
        let seg = match created {
            Ok(seg) => seg,
            Err(e) => {
                self.active_mut().unseal(time_entries);
                return Err(e);
            }
        };
        sync_dir(&self.dir);
        self.segments.push(seg);
        self.unflushed_messages = 0;
        tracing::debug!(dir = %self.dir.display(), base_offset = base, "rolled new segment");
        Ok(())
    }

    /// Read whole batches starting from the batch containing `offset`, up to `max_bytes`
    /// (the first batch is returned whole even if larger when `min_one`), continuing into
    /// following segments while the budget allows. `offset == log_end_offset` → empty;
    /// outside `[log_start, log_end]` → [`LogError::OffsetOutOfRange`].
    pub fn read(&self, offset: i64, max_bytes: usize, min_one: bool) -> Result<Bytes, LogError> {
        self.read_up_to(offset, max_bytes, min_one, i64::MAX)
    }

    /// Like [`Self::read`], but only returns batches whose last offset is below `max_offset`
    /// (e.g. the high watermark or last stable offset); batches are never split.
    pub fn read_up_to(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        max_offset: i64,
    ) -> Result<Bytes, LogError> {
        let slices = self.slices_up_to(offset, max_bytes, min_one, max_offset)?;
        let total: u64 = slices.iter().map(|s| s.len).sum();
        let mut out = vec![0u8; total as usize];
        let mut at = 0usize;
        for s in &slices {
            s.read_into(&mut out[at..at + s.len as usize], 0)?;
            at += s.len as usize;
        }
        Ok(Bytes::from(out))
    }

    /// Like [`Self::read_up_to`], but returns the file ranges instead of the bytes, so the
    /// caller can copy them to a socket after releasing the partition lock.
    pub fn slices_up_to(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        max_offset: i64,
    ) -> Result<Vec<FileSlice>, LogError> {
        let log_end = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        let mut out = Vec::new();
        if offset == log_end || offset >= max_offset {
            return Ok(out);
        }
        let mut idx = self
            .segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        let mut taken = 0usize;
        let mut first = true;
        while idx < self.segments.len() {
            let seg = &self.segments[idx];
            idx += 1;
            let pos = if first {
                seg.find_batch_position(offset)?
            } else {
                Some(0)
            };
            first = false;
            let Some(pos) = pos else { continue };
            let budget = max_bytes.saturating_sub(taken);
            let (slice, more) =
                seg.slice_batches(pos, budget, min_one && taken == 0, max_offset)?;
            if let Some(s) = slice {
                taken += s.len as usize;
                out.push(s);
            }
            if !more {
                break;
            }
        }
        Ok(out)
    }

    /// The earliest record (at or after the log start) whose timestamp is >= `ts`:
    /// `(offset, timestamp)`, or None. Only the one matching batch is decoded.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        for seg in &self.segments {
            if seg.max_timestamp() >= ts
                && let Some(found) = seg.offset_for_timestamp(
                    ts,
                    self.log_start_offset,
                    self.config.max_inflated_batch_bytes,
                )?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Offset and timestamp of the record with the largest timestamp (the first such on ties);
    /// None if the log holds no timestamped records.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<&LogSegment> = None;
        for seg in &self.segments {
            if seg.max_timestamp() >= 0
                && best.is_none_or(|b| seg.max_timestamp() > b.max_timestamp())
            {
                best = Some(seg);
            }
        }
        match best {
            Some(seg) => seg.max_timestamp_record(self.config.max_inflated_batch_bytes),
            None => Ok(None),
        }
    }

    /// fsync the active segment and any index left dirty by a failed write; write the leader
    /// epoch checkpoint if a write of it failed.
    pub fn flush(&mut self) -> Result<(), LogError> {
        let n = self.segments.len();
        for seg in &mut self.segments[..n - 1] {
            seg.flush_indexes()?;
        }
        self.active_mut().flush()?;
        self.epochs.flush()?;
        sync_dir(&self.dir);
        self.unflushed_messages = 0;
        Ok(())
    }

    /// Remove the whole partition directory.
    pub fn delete(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        drop(self);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `(base_offset, size_bytes)` of every segment, oldest first.
    pub fn segments_info(&self) -> Vec<(i64, u64)> {
        self.segments
            .iter()
            .map(|s| (s.base_offset(), s.size()))
            .collect()
    }

    /// Total bytes of segment data.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size()).sum()
    }

    /// Visit every batch header from the batch containing `from_offset` (clamped to the log
    /// start) to the end. `BatchInfo::position` is the batch's byte position in its segment file.
    pub fn scan_batch_headers(
        &self,
        from_offset: i64,
        f: &mut dyn FnMut(i64, &BatchInfo),
    ) -> Result<(), LogError> {
        let from = from_offset.max(self.log_start_offset);
        if from >= self.log_end_offset() {
            return Ok(());
        }
        let idx = self
            .segments
            .partition_point(|s| s.base_offset() <= from)
            .saturating_sub(1);
        let mut first = true;
        for seg in &self.segments[idx..] {
            let start = if first {
                seg.find_batch_position(from)?
            } else {
                Some(0)
            };
            first = false;
            let Some(start) = start else { continue };
            seg.walk_headers(start, &mut |pos, h| {
                f(h.base_offset, &h.info(pos as usize));
                Ok(true)
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{CRC_AT, rewrite_base_offset_and_epoch, validate_batches};
    use crate::log::test_util::*;
    use crate::log::{LogConfig, OpenFiles, stamp_log_append_time};
    use kafka_protocol::records::Compression;
    use std::path::Path;

    const EPOCH: i32 = 3;

    fn cfg() -> LogConfig {
        LogConfig::default()
    }

    /// Append one payload; returns the result and the bytes as they must now be stored.
    fn append(log: &mut PartitionLog, payload: &[u8], now_ms: i64) -> (AppendResult, Vec<u8>) {
        let mut p = payload.to_vec();
        let infos = validate_batches(&p, log.config().max_message_bytes).unwrap();
        let r = log.append(&p, &infos, EPOCH, now_ms).unwrap();
        let mut base = r.base_offset;
        for b in &infos {
            rewrite_base_offset_and_epoch(&mut p[b.position..], base, EPOCH);
            base += i64::from(b.last_offset_delta) + 1;
        }
        (r, p)
    }

    /// What `original` must look like after being stored at `base`.
    fn stored(original: &[u8], base: i64) -> Vec<u8> {
        let mut v = original.to_vec();
        rewrite_base_offset_and_epoch(&mut v, base, EPOCH);
        v
    }

    fn value_batch(i: usize, n: usize) -> Vec<u8> {
        let vals: Vec<String> = (0..n).map(|j| format!("value-{i}-{j}")).collect();
        let recs: Vec<(i64, &str)> = vals.iter().map(|v| (1000 + i as i64, v.as_str())).collect();
        batch_bytes(&recs, Compression::None)
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn new_log_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t-0");
        let log = PartitionLog::open(&p, cfg(), 0).unwrap();
        assert_eq!(log.log_start_offset(), 0);
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.segments_info(), vec![(0, 0)]);
        assert_eq!(log.size_bytes(), 0);
        assert_eq!(
            file_names(&p),
            [
                "00000000000000000000.index",
                "00000000000000000000.log",
                "00000000000000000000.timeindex"
            ]
        );
        assert_eq!(log.read(0, 1000, true).unwrap().len(), 0);
        assert!(matches!(
            log.read(1, 1000, true),
            Err(LogError::OffsetOutOfRange {
                offset: 1,
                log_start: 0,
                log_end: 0
            })
        ));
        assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
        assert_eq!(log.max_timestamp_offset().unwrap(), None);
        assert_eq!(crate::log::partition_dir(dir.path(), "t", 0), p);
    }

    #[test]
    fn append_and_read_back_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        let a = batch_bytes(&[(10, "a"), (11, "b"), (12, "c")], Compression::None);
        let b = batch_bytes(&[(20, "d")], Compression::Gzip);
        let (ra, sa) = append(&mut log, &a, 100);
        assert_eq!(
            ra,
            AppendResult {
                base_offset: 0,
                last_offset: 2,
                log_append_time: -1,
                log_start_offset: 0
            }
        );
        assert_eq!(sa, stored(&a, 0));
        assert_eq!(&sa[..8], &0i64.to_be_bytes());
        assert_eq!(&sa[8..], &stored(&a, 0)[8..]);
        let (rb, sb) = append(&mut log, &b, 100);
        assert_eq!((rb.base_offset, rb.last_offset), (3, 3));
        assert_eq!(sb, stored(&b, 3));
        assert_eq!(&sb[12..16], &EPOCH.to_be_bytes());
        // only baseOffset and epoch differ from what the producer sent
        assert_eq!(&sb[8..12], &b[8..12]);
        assert_eq!(&sb[16..], &b[16..]);

        let all = log.read(0, usize::MAX, false).unwrap();
        assert_eq!(&all[..], &[sa.clone(), sb.clone()].concat()[..]);
        for off in 0..3 {
            assert_eq!(&log.read(off, usize::MAX, false).unwrap()[..], &all[..]);
        }
        assert_eq!(&log.read(3, usize::MAX, false).unwrap()[..], &sb[..]);
        assert!(log.read(4, usize::MAX, false).unwrap().is_empty());
        assert_eq!(
            decode_values(&all),
            vec![
                (0, 10, "a".to_string()),
                (1, 11, "b".to_string()),
                (2, 12, "c".to_string()),
                (3, 20, "d".to_string())
            ]
        );
        assert_eq!(log.size_bytes(), (a.len() + b.len()) as u64);
        assert_eq!(log.segments_info(), vec![(0, (a.len() + b.len()) as u64)]);
        let on_disk = fs::read(dir.path().join("00000000000000000000.log")).unwrap();
        assert_eq!(on_disk, &all[..]);
    }

    #[test]
    fn multi_batch_payload_gets_consecutive_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        append(&mut log, &value_batch(0, 2), 0);
        let a = value_batch(1, 3);
        let b = value_batch(2, 4);
        let payload = [a.clone(), b.clone()].concat();
        let (r, s) = append(&mut log, &payload, 0);
        assert_eq!((r.base_offset, r.last_offset), (2, 8));
        assert_eq!(s, [stored(&a, 2), stored(&b, 5)].concat());
        assert_eq!(
            &log.read(5, usize::MAX, false).unwrap()[..],
            &stored(&b, 5)[..]
        );
        let mut seen = vec![];
        log.scan_batch_headers(0, &mut |base, info| {
            seen.push((base, info.records_count, info.position))
        })
        .unwrap();
        let p1 = value_batch(0, 2).len();
        assert_eq!(seen, vec![(0, 2, 0), (2, 3, p1), (5, 4, p1 + a.len())]);
        let mut seen = vec![];
        log.scan_batch_headers(6, &mut |base, _| seen.push(base))
            .unwrap();
        assert_eq!(seen, vec![5]);
        let mut seen = vec![];
        log.scan_batch_headers(9, &mut |base, _| seen.push(base))
            .unwrap();
        assert!(seen.is_empty());
    }

    #[test]
    fn bad_descriptors_are_rejected_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        let a = value_batch(0, 2);
        let p = [a.clone(), a.clone()].concat();
        let infos = validate_batches(&p, 1 << 20).unwrap();
        assert!(matches!(
            log.append(&p, &[], 0, 0),
            Err(LogError::InvalidRecord(_))
        ));
        assert!(matches!(
            log.append(&p, &infos[..1], 0, 0),
            Err(LogError::InvalidRecord(_))
        ));
        assert!(matches!(
            log.append(&p, &infos[1..], 0, 0),
            Err(LogError::InvalidRecord(_))
        ));
        let mut bad = infos.clone();
        bad[1].size += 100;
        assert!(matches!(
            log.append(&p, &bad, 0, 0),
            Err(LogError::InvalidRecord(_))
        ));
        let mut bad = infos.clone();
        bad[0].position = usize::MAX;
        assert!(matches!(
            log.append(&p, &bad, 0, 0),
            Err(LogError::InvalidRecord(_))
        ));
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.size_bytes(), 0);
        assert_eq!(log.append(&p, &infos, 0, 0).unwrap().last_offset, 3);
    }

    #[test]
    fn offsets_contiguous_across_many_appends() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_bytes: 2000,
            index_interval_bytes: 300,
            ..cfg()
        };
        let mut log = PartitionLog::open(dir.path(), c, 0).unwrap();
        let mut expected = 0i64;
        let mut all = vec![];
        for i in 0..200 {
            let n = 1 + i % 5;
            let (r, s) = append(&mut log, &value_batch(i, n), i as i64);
            assert_eq!(r.base_offset, expected);
            assert_eq!(r.last_offset, expected + n as i64 - 1);
            expected += n as i64;
            all.push((r.base_offset, s));
        }
        assert_eq!(log.log_end_offset(), expected);
        assert!(log.segments_info().len() > 10);
        // every segment starts where the previous ended
        let info = log.segments_info();
        for w in log.segments().windows(2) {
            assert_eq!(w[0].next_offset(), w[1].base_offset());
            assert!(w[0].size() <= 2000);
        }
        assert_eq!(info[0].0, 0);
        // every batch readable from each of its offsets, through the index
        for (base, s) in &all {
            let got = log.read(*base, s.len(), false).unwrap();
            assert_eq!(&got[..], &s[..]);
            let n = BatchHeader::parse(s).unwrap().records_count as i64;
            let got = log.read(*base + n - 1, 1, true).unwrap();
            assert_eq!(&got[..], &s[..]);
        }
        // whole log in one read, across all segments
        let everything: Vec<u8> = all.iter().flat_map(|(_, s)| s.clone()).collect();
        assert_eq!(&log.read(0, usize::MAX, true).unwrap()[..], &everything[..]);
        let values = decode_values(&everything);
        assert_eq!(values.len() as i64, expected);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(v.0, i as i64);
        }
    }

    #[test]
    fn rolls_on_segment_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let one = value_batch(0, 1);
        let size = one.len() as u64;
        let c = LogConfig {
            segment_bytes: size * 3,
            ..cfg()
        };
        let mut log = PartitionLog::open(dir.path(), c, 0).unwrap();
        for i in 0..7 {
            let (r, _) = append(&mut log, &value_batch(0, 1), 0);
            assert_eq!(r.base_offset, i);
        }
        assert_eq!(
            log.segments_info(),
            vec![(0, size * 3), (3, size * 3), (6, size)]
        );
        assert_eq!(
            file_names(dir.path()),
            [
                "00000000000000000000.index",
                "00000000000000000000.log",
                "00000000000000000000.timeindex",
                "00000000000000000003.index",
                "00000000000000000003.log",
                "00000000000000000003.timeindex",
                "00000000000000000006.index",
                "00000000000000000006.log",
                "00000000000000000006.timeindex",
                "leader-epoch-checkpoint",
            ]
        );
        // a batch bigger than segment_bytes still goes into an empty segment
        let big = value_batch(1, 40);
        assert!(big.len() as u64 > size * 3);
        let (r, _) = append(&mut log, &big, 0);
        assert_eq!(r.base_offset, 7);
        let (r, _) = append(&mut log, &value_batch(2, 1), 0);
        assert_eq!(r.base_offset, 47);
        assert_eq!(
            log.segments_info(),
            vec![
                (0, size * 3),
                (3, size * 3),
                (6, size),
                (7, big.len() as u64),
                (47, size)
            ]
        );
        // sealed segments got their final time index entry
        let t = log.segments()[0].time_index().entries().to_vec();
        assert_eq!(
            t.last().map(|e| (e.timestamp, e.relative_offset)),
            Some((1000, 0))
        );
    }

    #[test]
    fn rolls_on_segment_ms() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_ms: 1000,
            ..cfg()
        };
        let mut log = PartitionLog::open(dir.path(), c, 0).unwrap();
        // an empty segment is never rolled, however old
        append(&mut log, &value_batch(0, 1), 50_000);
        append(&mut log, &value_batch(0, 1), 51_000); // exactly segment_ms later: not yet
        assert_eq!(log.segments_info().len(), 1);
        append(&mut log, &value_batch(0, 1), 51_001);
        assert_eq!(
            log.segments_info().iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0, 2]
        );
        append(&mut log, &value_batch(0, 1), 51_500);
        append(&mut log, &value_batch(0, 1), 52_001);
        assert_eq!(log.segments_info().len(), 2);
        append(&mut log, &value_batch(0, 1), 52_002);
        assert_eq!(
            log.segments_info().iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0, 2, 5]
        );
        assert!(dir.path().join("00000000000000000005.log").exists());
        // time going backwards never rolls
        append(&mut log, &value_batch(0, 1), 10);
        assert_eq!(log.segments_info().len(), 3);
    }

    #[test]
    fn segment_ms_after_reopen_uses_first_batch_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_ms: 1000,
            ..cfg()
        };
        let mut log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        append(
            &mut log,
            &batch_bytes(&[(5_000, "x")], Compression::None),
            5_000,
        );
        drop(log);
        let mut log = PartitionLog::open(dir.path(), c, 5_500).unwrap();
        append(
            &mut log,
            &batch_bytes(&[(5_900, "x")], Compression::None),
            5_900,
        );
        assert_eq!(log.segments_info().len(), 1);
        append(
            &mut log,
            &batch_bytes(&[(6_001, "x")], Compression::None),
            6_001,
        );
        assert_eq!(log.segments_info().len(), 2);
    }

    #[test]
    fn read_limits_min_one_and_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let small = value_batch(0, 1);
        let c = LogConfig {
            segment_bytes: small.len() as u64 * 2,
            ..cfg()
        };
        let mut log = PartitionLog::open(dir.path(), c, 0).unwrap();
        let mut stored_batches = vec![];
        for i in 0..5 {
            let (_, s) = append(&mut log, &value_batch(i, 1), 0);
            stored_batches.push(s);
        }
        assert_eq!(log.segments_info().len(), 3);
        let sz = small.len();
        // exactly three batches fit, spanning two segments
        let got = log.read(0, sz * 3, false).unwrap();
        assert_eq!(&got[..], &stored_batches[..3].concat()[..]);
        let got = log.read(0, sz * 3 + sz - 1, false).unwrap();
        assert_eq!(&got[..], &stored_batches[..3].concat()[..]);
        let got = log.read(1, usize::MAX, false).unwrap();
        assert_eq!(&got[..], &stored_batches[1..].concat()[..]);
        // first batch larger than max_bytes
        assert!(log.read(2, sz - 1, false).unwrap().is_empty());
        assert!(log.read(2, 0, false).unwrap().is_empty());
        assert_eq!(
            &log.read(2, sz - 1, true).unwrap()[..],
            &stored_batches[2][..]
        );
        assert_eq!(&log.read(2, 0, true).unwrap()[..], &stored_batches[2][..]);
        // a big batch in the middle
        let big = value_batch(9, 30);
        let (r, sbig) = append(&mut log, &big, 0);
        assert_eq!(r.base_offset, 5);
        append(&mut log, &small, 0);
        assert_eq!(&log.read(5, 10, true).unwrap()[..], &sbig[..]);
        assert!(log.read(5, 10, false).unwrap().is_empty());
        // the batch before it fits, the big one does not: only the first is returned
        assert_eq!(
            &log.read(4, sz + 10, true).unwrap()[..],
            &stored_batches[4][..]
        );
        // read_up_to stops before batches reaching max_offset
        assert_eq!(
            &log.read_up_to(0, usize::MAX, true, 3).unwrap()[..],
            &stored_batches[..3].concat()[..]
        );
        assert!(log.read_up_to(3, usize::MAX, true, 3).unwrap().is_empty());
        assert_eq!(
            &log.read_up_to(4, usize::MAX, true, 34).unwrap()[..],
            &stored_batches[4][..]
        );
        assert_eq!(
            &log.read_up_to(4, usize::MAX, true, 35).unwrap()[..],
            &[stored_batches[4].clone(), sbig.clone()].concat()[..]
        );
    }

    #[test]
    fn offset_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        append(&mut log, &value_batch(0, 3), 0);
        assert!(log.read(3, 100, true).unwrap().is_empty());
        for off in [-1, 4, i64::MAX, i64::MIN] {
            match log.read(off, 100, true) {
                Err(LogError::OffsetOutOfRange {
                    offset,
                    log_start,
                    log_end,
                }) => {
                    assert_eq!((offset, log_start, log_end), (off, 0, 3));
                }
                other => panic!("{off}: {other:?}"),
            }
        }
    }

    #[test]
    fn reopen_gives_same_state_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_bytes: 1000,
            index_interval_bytes: 200,
            ..cfg()
        };
        let mut log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        for i in 0..40 {
            append(&mut log, &value_batch(i, 1 + i % 3), i as i64);
        }
        let leo = log.log_end_offset();
        let info = log.segments_info();
        let data = log.read(0, usize::MAX, true).unwrap();
        let indexes: Vec<_> = log
            .segments()
            .iter()
            .map(|s| {
                (
                    s.offset_index().entries().to_vec(),
                    s.time_index().entries().to_vec(),
                )
            })
            .collect();
        let maxts = log.max_timestamp_offset().unwrap();
        drop(log);
        let index_bytes_before = fs::read(dir.path().join("00000000000000000000.index")).unwrap();
        let mut log = PartitionLog::open(dir.path(), c, 100).unwrap();
        assert_eq!(log.log_end_offset(), leo);
        assert_eq!(log.segments_info(), info);
        assert_eq!(log.read(0, usize::MAX, true).unwrap(), data);
        let indexes2: Vec<_> = log
            .segments()
            .iter()
            .map(|s| {
                (
                    s.offset_index().entries().to_vec(),
                    s.time_index().entries().to_vec(),
                )
            })
            .collect();
        assert_eq!(indexes, indexes2);
        assert_eq!(
            fs::read(dir.path().join("00000000000000000000.index")).unwrap(),
            index_bytes_before
        );
        assert_eq!(log.max_timestamp_offset().unwrap(), maxts);
        let (r, _) = append(&mut log, &value_batch(99, 2), 200);
        assert_eq!(r.base_offset, leo);
        assert_eq!(log.log_end_offset(), leo + 2);
    }

    /// Build a log with 3 single-segment... returns (log dir, stored batches, base offsets).
    fn build(dir: &Path, c: &LogConfig, n: usize) -> Vec<(i64, Vec<u8>)> {
        let mut log = PartitionLog::open(dir, c.clone(), 0).unwrap();
        let mut out = vec![];
        for i in 0..n {
            let (r, s) = append(&mut log, &value_batch(i, 2), 0);
            out.push((r.base_offset, s));
        }
        out
    }

    /// Descriptors of this process open on files under `dir` (the kernel's view, not the
    /// cache's count).
    fn fds_under(dir: &Path) -> usize {
        fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.starts_with(dir))
            .count()
    }

    #[test]
    fn segment_files_stay_under_the_cap_and_reopen_on_use() {
        let dir = tempfile::tempdir().unwrap();
        let cache = OpenFiles::new(3);
        let c = LogConfig {
            segment_bytes: 600,
            index_interval_bytes: 100,
            open_files: cache.clone(),
            ..cfg()
        };
        let dirs = [dir.path().join("a-0"), dir.path().join("b-0")];
        let mut logs: Vec<PartitionLog> = dirs
            .iter()
            .map(|d| PartitionLog::open(d, c.clone(), 0).unwrap())
            .collect();
        let mut stored_bytes = vec![Vec::new(), Vec::new()];
        for i in 0..40 {
            for (log, all) in logs.iter_mut().zip(stored_bytes.iter_mut()) {
                let (r, s) = append(log, &value_batch(i, 3), 0);
                assert_eq!(r.base_offset, i as i64 * 3);
                all.extend_from_slice(&s);
                assert!(cache.open() <= 3, "{} open", cache.open());
            }
            assert!(
                fds_under(dir.path()) <= 3,
                "{} descriptors",
                fds_under(dir.path())
            );
        }
        assert!(logs.iter().all(|l| l.segments().len() >= 8));
        // Every segment read back, each one reopened on the way, never more than 3 open.
        let check = |logs: &[PartitionLog], stored_bytes: &[Vec<u8>]| {
            for (log, all) in logs.iter().zip(stored_bytes) {
                let mut got = Vec::new();
                let mut offset = 0;
                while offset < log.log_end_offset() {
                    let chunk = log.read(offset, 200, true).unwrap();
                    let (base, last) = batch_offsets(&chunk).pop().unwrap();
                    assert!(base <= offset);
                    offset = last + 1;
                    got.extend_from_slice(&chunk);
                    assert!(cache.open() <= 3);
                    assert!(fds_under(dir.path()) <= 3);
                }
                assert_eq!(&got, all);
            }
        };
        check(&logs, &stored_bytes);
        // A flush, a truncation and a reopen go through the cache too.
        for log in logs.iter_mut() {
            log.flush().unwrap();
        }
        let cut = logs[1].truncate_to(60).unwrap();
        assert_eq!(cut, 60);
        assert_eq!(logs[1].log_end_offset(), 60);
        let keep = position_of_offset(&stored_bytes[1], 60);
        stored_bytes[1].truncate(keep);
        drop(logs);
        assert_eq!(cache.open(), 0);
        assert_eq!(fds_under(dir.path()), 0);
        let logs: Vec<PartitionLog> = dirs
            .iter()
            .map(|d| PartitionLog::open(d, c.clone(), 0).unwrap())
            .collect();
        assert!(cache.open() <= 3);
        check(&logs, &stored_bytes);
    }

    #[test]
    fn a_leader_append_stamps_offsets_and_epoch_without_touching_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        append(&mut log, &value_batch(0, 4), 0);
        // Three batches in one payload, each claiming base offset 0 and no epoch.
        let payload: Vec<u8> = (0..3).flat_map(|i| value_batch(i, 2)).collect();
        let before = payload.clone();
        let infos = validate_batches(&payload, usize::MAX).unwrap();
        let r = log.append(&payload, &infos, 7, 0).unwrap();
        assert_eq!((r.base_offset, r.last_offset), (4, 9));
        assert_eq!(payload, before);
        let mut want = payload.clone();
        for (i, b) in infos.iter().enumerate() {
            rewrite_base_offset_and_epoch(&mut want[b.position..], 4 + 2 * i as i64, 7);
        }
        let got = log.read(4, 1 << 20, true).unwrap();
        assert_eq!(got.as_ref(), &want[..]);
        assert_eq!(
            batch_offsets(&got),
            vec![(4, 5), (6, 7), (8, 9)],
            "each batch at its own offsets"
        );
    }

    #[test]
    fn empty_partitions_open_no_file_until_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = OpenFiles::new(100);
        let c = LogConfig {
            open_files: cache.clone(),
            ..cfg()
        };
        let dirs: Vec<_> = (0..5).map(|i| dir.path().join(format!("t-{i}"))).collect();
        for d in &dirs {
            let mut log = PartitionLog::open(d, c.clone(), 0).unwrap();
            log.flush().unwrap();
        }
        assert_eq!(fds_under(dir.path()), 0);
        // A start-up after a clean shutdown: sizes only, no descriptor, no index read.
        let mut logs: Vec<PartitionLog> = dirs
            .iter()
            .map(|d| PartitionLog::open_with(d, c.clone(), 0, true).unwrap())
            .collect();
        assert_eq!(cache.open(), 0);
        assert_eq!(fds_under(dir.path()), 0);
        assert!(logs.iter().all(|l| l.log_end_offset() == 0));
        // The first use opens the one file it needs.
        let (r, stored) = append(&mut logs[3], &value_batch(0, 2), 0);
        assert_eq!(r.base_offset, 0);
        assert_eq!(cache.open(), 1);
        assert_eq!(fds_under(dir.path()), 1);
        logs[3].flush().unwrap();
        drop(logs);
        // Opened again as after a crash: the data is there.
        let log = PartitionLog::open_with(&dirs[3], c.clone(), 0, false).unwrap();
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(log.read(0, 1 << 20, true).unwrap().as_ref(), &stored[..]);
    }

    /// `(base offset, last offset)` of each whole batch in stored bytes.
    fn batch_offsets(bytes: &[u8]) -> Vec<(i64, i64)> {
        let infos = validate_batches(bytes, usize::MAX).unwrap();
        let mut pos = 0;
        let mut out = Vec::new();
        for info in infos {
            let base = i64::from_be_bytes(bytes[pos..pos + 8].try_into().unwrap());
            out.push((base, base + i64::from(info.last_offset_delta)));
            pos += info.size;
        }
        out
    }

    /// Byte position of the batch starting at `offset` in stored batches.
    fn position_of_offset(bytes: &[u8], offset: i64) -> usize {
        let infos = validate_batches(bytes, usize::MAX).unwrap();
        let mut pos = 0;
        for info in infos {
            if i64::from_be_bytes(bytes[pos..pos + 8].try_into().unwrap()) == offset {
                return pos;
            }
            pos += info.size;
        }
        panic!("no batch at {offset}")
    }

    fn last_log_file(dir: &Path) -> std::path::PathBuf {
        let names = file_names(dir);
        dir.join(names.iter().rev().find(|n| n.ends_with(".log")).unwrap())
    }

    #[test]
    fn torn_tail_truncated_mid_batch() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            index_interval_bytes: 100,
            ..cfg()
        };
        let batches = build(dir.path(), &c, 10);
        let path = last_log_file(dir.path());
        let full = fs::read(&path).unwrap();
        let last_len = batches[9].1.len();
        fs::write(&path, &full[..full.len() - last_len / 2]).unwrap();
        let mut log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        assert_eq!(log.log_end_offset(), 18);
        assert_eq!(log.size_bytes() as usize, full.len() - last_len);
        assert_eq!(
            fs::metadata(&path).unwrap().len() as usize,
            full.len() - last_len
        );
        assert_eq!(
            &log.read(0, usize::MAX, true).unwrap()[..],
            &full[..full.len() - last_len]
        );
        let (r, _) = append(&mut log, &value_batch(50, 3), 0);
        assert_eq!((r.base_offset, r.last_offset), (18, 20));
        drop(log);
        let log = PartitionLog::open(dir.path(), c, 0).unwrap();
        assert_eq!(log.log_end_offset(), 21);
        // a few bytes of header only
        drop(log);
        let full = fs::read(&path).unwrap();
        let mut with_tail = full.clone();
        with_tail.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 21, 0, 0]);
        fs::write(&path, &with_tail).unwrap();
        let log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        assert_eq!(log.log_end_offset(), 21);
        assert_eq!(fs::read(&path).unwrap(), full);
    }

    #[test]
    fn garbage_tail_truncated() {
        for garbage in [
            vec![0u8; 100],
            (0..200u32).map(|i| (i * 37 % 251) as u8).collect(),
            vec![0xff; 70],
        ] {
            let dir = tempfile::tempdir().unwrap();
            let batches = build(dir.path(), &cfg(), 4);
            let path = last_log_file(dir.path());
            let full = fs::read(&path).unwrap();
            let mut f = full.clone();
            f.extend_from_slice(&garbage);
            fs::write(&path, &f).unwrap();
            let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
            assert_eq!(log.log_end_offset(), 8);
            assert_eq!(fs::read(&path).unwrap(), full);
            let (r, s) = append(&mut log, &value_batch(7, 1), 0);
            assert_eq!(r.base_offset, 8);
            assert_eq!(&log.read(8, usize::MAX, true).unwrap()[..], &s[..]);
            assert_eq!(
                &log.read(6, usize::MAX, true).unwrap()[..],
                &[batches[3].1.clone(), s].concat()[..]
            );
        }
    }

    #[test]
    fn flipped_byte_in_last_batch_truncates_it() {
        let dir = tempfile::tempdir().unwrap();
        let batches = build(dir.path(), &cfg(), 5);
        let path = last_log_file(dir.path());
        let full = fs::read(&path).unwrap();
        let last_start = full.len() - batches[4].1.len();
        for at in [CRC_AT, 21, 30, batches[4].1.len() - 1] {
            let mut f = full.clone();
            f[last_start + at] ^= 0x10;
            fs::write(&path, &f).unwrap();
            let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
            assert_eq!(log.log_end_offset(), 8, "flip at {at}");
            assert_eq!(fs::read(&path).unwrap(), &full[..last_start]);
            let (r, s) = append(&mut log, &batches[4].1, 0);
            assert_eq!(r.base_offset, 8);
            assert_eq!(s, full[last_start..]);
            drop(log);
            assert_eq!(fs::read(&path).unwrap(), full);
        }
        // flipping the base offset (not CRC-covered) of a middle batch backwards is caught by the
        // offset monotonicity check
        let mut f = full.clone();
        let second = batches[0].1.len();
        f[second + 7] = 0;
        fs::write(&path, &f).unwrap();
        let log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        assert_eq!(log.log_end_offset(), 2);
    }

    #[test]
    fn missing_indexes_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_bytes: 1500,
            index_interval_bytes: 150,
            ..cfg()
        };
        let batches = build(dir.path(), &c, 40);
        let mut log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        // The active segment's index files get their entries at a flush.
        log.flush().unwrap();
        let indexes: Vec<_> = log
            .segments()
            .iter()
            .map(|s| {
                (
                    s.offset_index().entries().to_vec(),
                    s.time_index().entries().to_vec(),
                )
            })
            .collect();
        assert!(indexes.len() >= 3);
        assert!(indexes.iter().all(|(i, t)| !i.is_empty() && !t.is_empty()));
        let files: Vec<Vec<u8>> = file_names(dir.path())
            .iter()
            .filter(|n| !n.ends_with(".log"))
            .map(|n| fs::read(dir.path().join(n)).unwrap())
            .collect();
        drop(log);
        for n in file_names(dir.path()) {
            if !n.ends_with(".log") {
                fs::remove_file(dir.path().join(n)).unwrap();
            }
        }
        let mut log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        log.flush().unwrap();
        let rebuilt: Vec<_> = log
            .segments()
            .iter()
            .map(|s| {
                (
                    s.offset_index().entries().to_vec(),
                    s.time_index().entries().to_vec(),
                )
            })
            .collect();
        assert_eq!(rebuilt, indexes);
        let files2: Vec<Vec<u8>> = file_names(dir.path())
            .iter()
            .filter(|n| !n.ends_with(".log"))
            .map(|n| fs::read(dir.path().join(n)).unwrap())
            .collect();
        assert_eq!(files2, files);
        for (base, s) in &batches {
            assert_eq!(&log.read(*base + 1, s.len(), false).unwrap()[..], &s[..]);
        }
        assert_eq!(log.log_end_offset(), 80);
    }

    #[test]
    fn corrupt_indexes_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_bytes: 1500,
            index_interval_bytes: 150,
            ..cfg()
        };
        let batches = build(dir.path(), &c, 40);
        let log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        let seg1 = log.segments()[1].base_offset();
        let indexes: Vec<_> = log
            .segments()
            .iter()
            .map(|s| {
                (
                    s.offset_index().entries().to_vec(),
                    s.time_index().entries().to_vec(),
                )
            })
            .collect();
        drop(log);
        let name = |base: i64, sfx: &str| {
            dir.path()
                .join(crate::log::files::segment_file_name(base, sfx))
        };
        // odd length
        let mut idx0 = fs::read(name(0, ".index")).unwrap();
        idx0.push(7);
        fs::write(name(0, ".index"), &idx0).unwrap();
        // plausible-length garbage
        fs::write(name(seg1, ".index"), [0xabu8; 24]).unwrap();
        // time index of the last segment: garbage
        let active_base = {
            let l = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
            let b = l.segments().last().unwrap().base_offset();
            drop(l);
            b
        };
        fs::write(name(active_base, ".timeindex"), [1u8; 13]).unwrap();
        // time index of segment 0 with decreasing timestamps
        let mut t = vec![];
        t.extend_from_slice(&5000i64.to_be_bytes());
        t.extend_from_slice(&1u32.to_be_bytes());
        t.extend_from_slice(&10i64.to_be_bytes());
        t.extend_from_slice(&3u32.to_be_bytes());
        fs::write(name(0, ".timeindex"), &t).unwrap();
        let log = PartitionLog::open(dir.path(), c, 0).unwrap();
        let rebuilt: Vec<_> = log
            .segments()
            .iter()
            .map(|s| {
                (
                    s.offset_index().entries().to_vec(),
                    s.time_index().entries().to_vec(),
                )
            })
            .collect();
        assert_eq!(rebuilt, indexes);
        for (base, s) in &batches {
            assert_eq!(&log.read(*base, 1, true).unwrap()[..], &s[..]);
        }
        assert_eq!(
            fs::metadata(name(0, ".index")).unwrap().len() as usize,
            indexes[0].0.len() * 8
        );
    }

    #[test]
    fn torn_non_last_segment_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_bytes: 1500,
            index_interval_bytes: 150,
            ..cfg()
        };
        build(dir.path(), &c, 40);
        // corrupt the tail of segment 0: header walk notices the data does not end cleanly
        let p0 = dir.path().join("00000000000000000000.log");
        let mut d = fs::read(&p0).unwrap();
        let n = d.len();
        d[n - 1] ^= 1; // CRC-covered, not detected by the header walk...
        d.extend_from_slice(&[1, 2, 3]); // ...but the trailing bytes are
        fs::write(&p0, &d).unwrap();
        let log = PartitionLog::open(dir.path(), c, 0).unwrap();
        // the corrupt last batch of segment 0 was dropped; the next segment is intact
        let s0 = &log.segments()[0];
        let s1 = &log.segments()[1];
        assert!(s0.next_offset() < s1.base_offset());
        assert_eq!(
            s0.size() as usize,
            fs::metadata(&p0).unwrap().len() as usize
        );
        // reading the hole continues at the next segment
        let got = log.read(s0.next_offset(), 1, true).unwrap();
        assert_eq!(
            BatchHeader::parse(&got).unwrap().base_offset,
            s1.base_offset()
        );
    }

    #[test]
    fn stray_files_never_crash_startup() {
        let dir = tempfile::tempdir().unwrap();
        let batches = build(dir.path(), &cfg(), 3);
        fs::write(dir.path().join("00000000000000000099.index"), b"junk").unwrap();
        fs::write(dir.path().join("leader-epoch-checkpoint"), b"0\n0\n").unwrap();
        fs::write(dir.path().join("00000000000000000001.log"), b"").unwrap(); // overlaps, empty
        fs::create_dir(dir.path().join("00000000000000000077.log")).unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        assert_eq!(log.log_end_offset(), 6);
        assert_eq!(log.segments_info().len(), 1);
        assert!(!dir.path().join("00000000000000000099.index").exists());
        assert!(!dir.path().join("00000000000000000001.log").exists());
        assert!(dir.path().join("leader-epoch-checkpoint").exists());
        let (r, _) = append(&mut log, &value_batch(0, 1), 0);
        assert_eq!(r.base_offset, 6);
        drop(log);
        // a partial garbage file that sorts last becomes an empty segment and is dropped
        fs::write(dir.path().join("00000000000000000002.log"), [9u8; 40]).unwrap();
        let log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        assert_eq!(log.log_end_offset(), 7);
        assert_eq!(log.segments_info().len(), 1);
        assert_eq!(
            &log.read(0, batches[0].1.len(), false).unwrap()[..],
            &batches[0].1[..]
        );
        // a garbage file that lies beyond the log end becomes an empty active segment there
        drop(log);
        fs::write(dir.path().join("00000000000000000100.log"), [9u8; 40]).unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        assert_eq!(
            log.segments_info(),
            vec![(0, log.segments()[0].size()), (100, 0)]
        );
        assert_eq!(log.log_end_offset(), 100);
        assert!(log.read(8, 100, true).unwrap().is_empty());
        let (r, _) = append(&mut log, &value_batch(0, 1), 0);
        assert_eq!(r.base_offset, 100);
    }

    #[test]
    fn timestamps_lookup_multi_record_and_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_bytes: 400,
            index_interval_bytes: 50,
            ..cfg()
        };
        let mut log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        // offsets: 0..3 none, 3..6 gzip, 6..8 none, 8..12 gzip, 12 none
        let payloads = [
            batch_bytes(&[(100, "a"), (300, "b"), (200, "c")], Compression::None),
            batch_bytes(&[(150, "d"), (500, "e"), (500, "f")], Compression::Gzip),
            batch_bytes(&[(400, "g"), (450, "h")], Compression::None),
            batch_bytes(
                &[(600, "i"), (550, "j"), (600, "k"), (700, "l")],
                Compression::Gzip,
            ),
            batch_bytes(&[(650, "m")], Compression::None),
        ];
        for p in &payloads {
            append(&mut log, p, 0);
        }
        assert!(log.segments_info().len() >= 2);
        let check = |log: &PartitionLog| {
            assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 100)));
            assert_eq!(log.offset_for_timestamp(100).unwrap(), Some((0, 100)));
            assert_eq!(log.offset_for_timestamp(101).unwrap(), Some((1, 300)));
            assert_eq!(log.offset_for_timestamp(300).unwrap(), Some((1, 300)));
            assert_eq!(log.offset_for_timestamp(301).unwrap(), Some((4, 500)));
            assert_eq!(log.offset_for_timestamp(500).unwrap(), Some((4, 500)));
            assert_eq!(log.offset_for_timestamp(501).unwrap(), Some((8, 600)));
            assert_eq!(log.offset_for_timestamp(601).unwrap(), Some((11, 700)));
            assert_eq!(log.offset_for_timestamp(651).unwrap(), Some((11, 700)));
            assert_eq!(log.offset_for_timestamp(700).unwrap(), Some((11, 700)));
            assert_eq!(log.offset_for_timestamp(701).unwrap(), None);
            assert_eq!(log.max_timestamp_offset().unwrap(), Some((11, 700)));
        };
        check(&log);
        drop(log);
        let mut log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        check(&log);
        // ties: first record with the max timestamp wins, across segments too
        append(
            &mut log,
            &batch_bytes(&[(700, "n"), (10, "o")], Compression::Gzip),
            0,
        );
        assert_eq!(log.max_timestamp_offset().unwrap(), Some((11, 700)));
        append(
            &mut log,
            &batch_bytes(&[(5, "p"), (900, "q"), (900, "r")], Compression::None),
            0,
        );
        assert_eq!(log.max_timestamp_offset().unwrap(), Some((16, 900)));
        assert_eq!(log.offset_for_timestamp(800).unwrap(), Some((16, 900)));
        // all indexes removed: same answers
        drop(log);
        for n in file_names(dir.path()) {
            if n.ends_with("index") {
                fs::remove_file(dir.path().join(n)).unwrap();
            }
        }
        let log = PartitionLog::open(dir.path(), c, 0).unwrap();
        check_after(&log);
        fn check_after(log: &PartitionLog) {
            assert_eq!(log.offset_for_timestamp(301).unwrap(), Some((4, 500)));
            assert_eq!(log.max_timestamp_offset().unwrap(), Some((16, 900)));
        }
    }

    #[test]
    fn log_append_time_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        append(&mut log, &batch_bytes(&[(10, "a")], Compression::None), 0);
        let mut p = batch_bytes(&[(1, "x"), (2, "y")], Compression::Gzip);
        let mut infos = validate_batches(&p, 1 << 20).unwrap();
        stamp_log_append_time(&mut p, &mut infos[0], 5000).unwrap();
        let r = log.append(&p, &infos, 0, 5000).unwrap();
        assert_eq!(r.log_append_time, 5000);
        assert_eq!((r.base_offset, r.last_offset), (1, 2));
        // every record of a LogAppendTime batch carries the batch's maxTimestamp
        assert_eq!(log.offset_for_timestamp(11).unwrap(), Some((1, 5000)));
        assert_eq!(log.max_timestamp_offset().unwrap(), Some((1, 5000)));
    }

    #[test]
    fn flush_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("topic-3");
        let c = LogConfig {
            flush_interval_messages: 2,
            ..cfg()
        };
        let mut log = PartitionLog::open(&p, c, 0).unwrap();
        append(&mut log, &value_batch(0, 3), 0);
        append(&mut log, &value_batch(1, 1), 0);
        log.flush().unwrap();
        log.roll().unwrap();
        log.roll().unwrap(); // empty active segment: no-op
        assert_eq!(log.segments_info().len(), 2);
        assert!(p.exists());
        log.delete().unwrap();
        assert!(!p.exists());
    }

    #[test]
    fn rolls_before_relative_offsets_overflow() {
        use crate::log::batch::{LAST_OFFSET_DELTA_AT, RECORDS_COUNT_AT, compute_crc};
        // A compressed batch may claim any record count without us decoding it.
        let mut huge = batch_bytes(&[(1, "x")], Compression::Gzip);
        let n = i32::MAX;
        huge[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&n.to_be_bytes());
        huge[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4]
            .copy_from_slice(&(n - 1).to_be_bytes());
        let crc = compute_crc(&huge);
        huge[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        let (r, _) = append(&mut log, &huge, 0);
        assert_eq!((r.base_offset, r.last_offset), (0, i64::from(n) - 1));
        let (r, _) = append(&mut log, &value_batch(0, 1), 0);
        assert_eq!(r.base_offset, i64::from(n));
        assert_eq!(log.segments_info().len(), 1); // last - base == i32::MAX still fits
        let (r, _) = append(&mut log, &value_batch(0, 1), 0);
        assert_eq!(r.base_offset, i64::from(n) + 1);
        assert_eq!(
            log.segments_info().iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0, i64::from(n) + 1]
        );
        // a single payload that cannot fit any segment's relative offsets
        let two = [huge.clone(), huge.clone()].concat();
        let infos = validate_batches(&two, 1 << 20).unwrap();
        let leo = log.log_end_offset();
        assert!(matches!(
            log.append(&two, &infos, 0, 0),
            Err(LogError::MessageTooLarge(_))
        ));
        assert_eq!(log.log_end_offset(), leo);
        drop(log);
        let log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        assert_eq!(log.log_end_offset(), leo);
        assert_eq!(log.read(5, 1, true).unwrap().len(), huge.len());
    }

    #[test]
    fn zero_filled_preallocated_indexes_are_rebuilt() {
        // Kafka preallocates index files; after an unclean shutdown they may be zero-filled.
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_bytes: 1500,
            index_interval_bytes: 150,
            ..cfg()
        };
        let batches = build(dir.path(), &c, 30);
        let log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        let max_ts = log.max_timestamp_offset().unwrap();
        let seg0 = (
            log.segments()[0].offset_index().entries().to_vec(),
            log.segments()[0].time_index().entries().to_vec(),
        );
        drop(log);
        fs::write(
            dir.path().join("00000000000000000000.index"),
            vec![0u8; 8 * 64],
        )
        .unwrap();
        fs::write(
            dir.path().join("00000000000000000000.timeindex"),
            vec![0u8; 12 * 64],
        )
        .unwrap();
        let log = PartitionLog::open(dir.path(), c, 0).unwrap();
        assert_eq!(log.segments()[0].offset_index().entries(), &seg0.0[..]);
        assert_eq!(log.segments()[0].time_index().entries(), &seg0.1[..]);
        assert_eq!(log.max_timestamp_offset().unwrap(), max_ts);
        assert_eq!(&log.read(1, 1, true).unwrap()[..], &batches[0].1[..]);
    }

    /// `value_batch(i, n)` as a leader stored it: at offset `base`, in leader epoch `epoch`.
    fn leader_batch(i: usize, n: usize, base: i64, epoch: i32) -> Vec<u8> {
        let mut v = value_batch(i, n);
        rewrite_base_offset_and_epoch(&mut v, base, epoch);
        v
    }

    /// A follower's append of `payload` (whole batches, stored as they are).
    fn follow(log: &mut PartitionLog, payload: &[u8]) -> Result<AppendResult, LogError> {
        let infos = validate_batches(payload, log.config().max_message_bytes).unwrap();
        log.append_as_follower(payload, &infos, 0)
    }

    fn epoch_entries(list: &[(i32, i64)]) -> Vec<EpochEntry> {
        list.iter()
            .map(|&(epoch, start_offset)| EpochEntry {
                epoch,
                start_offset,
            })
            .collect()
    }

    #[test]
    fn follower_append_stores_batches_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        // Offsets 0..3 and 3..5 in epoch 0; a gap (5..10, compacted away on the leader); 10..12
        // and, after another gap, 15 in epoch 2.
        let a = leader_batch(0, 3, 0, 0);
        let b = leader_batch(1, 2, 3, 0);
        let c = leader_batch(2, 2, 10, 2);
        let d = leader_batch(3, 1, 15, 2);
        let r = follow(&mut log, &[a.clone(), b.clone()].concat()).unwrap();
        assert_eq!(
            r,
            AppendResult {
                base_offset: 0,
                last_offset: 4,
                log_append_time: -1,
                log_start_offset: 0
            }
        );
        let r = follow(&mut log, &[c.clone(), d.clone()].concat()).unwrap();
        assert_eq!((r.base_offset, r.last_offset), (10, 15));
        assert_eq!(log.log_end_offset(), 16);
        let all = [a.clone(), b.clone(), c.clone(), d.clone()].concat();
        assert_eq!(&log.read(0, usize::MAX, true).unwrap()[..], &all[..]);
        assert_eq!(
            fs::read(dir.path().join("00000000000000000000.log")).unwrap(),
            all
        );
        let offsets: Vec<i64> = decode_values(&all).iter().map(|v| v.0).collect();
        assert_eq!(offsets, [0, 1, 2, 3, 4, 10, 11, 15]);
        // A read at an offset without a batch starts at the next batch.
        for offset in 5..=11 {
            assert_eq!(
                &log.read(offset, usize::MAX, true).unwrap()[..],
                &[c.clone(), d.clone()].concat()[..]
            );
        }
        for offset in 12..=15 {
            assert_eq!(&log.read(offset, usize::MAX, true).unwrap()[..], &d[..]);
        }
        assert!(log.read(16, usize::MAX, true).unwrap().is_empty());
        assert_eq!(
            log.leader_epoch_cache().entries(),
            epoch_entries(&[(0, 0), (2, 10)])
        );
        // A leader's append (this one's, after it became leader) goes on at the log end.
        let (r, _) = append(&mut log, &value_batch(4, 1), 0);
        assert_eq!(r.base_offset, 16);
        assert_eq!(
            log.leader_epoch_cache().entries(),
            epoch_entries(&[(0, 0), (2, 10), (EPOCH, 16)])
        );
    }

    #[test]
    fn follower_gaps_survive_reopen_and_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let c = LogConfig {
            segment_bytes: 1000,
            index_interval_bytes: 150,
            ..cfg()
        };
        let mut log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        let mut stored: Vec<(i64, i64, Vec<u8>)> = vec![];
        let mut base = 0;
        for i in 0..60 {
            let n = 1 + i % 3;
            let last = base + n as i64 - 1;
            let b = leader_batch(i, n, base, (i / 15) as i32 * 2);
            let r = follow(&mut log, &b).unwrap();
            assert_eq!((r.base_offset, r.last_offset), (base, last));
            stored.push((base, last, b));
            // No gap, or one of up to 3 offsets.
            base = last + 1 + (i % 4) as i64;
        }
        let leo = stored[59].1 + 1;
        assert_eq!(log.log_end_offset(), leo);
        assert!(log.segments().len() > 5);
        // A roll starts the new segment at its first batch: the gap before it stays a gap.
        let bases: Vec<i64> = stored.iter().map(|s| s.0).collect();
        for w in log.segments().windows(2) {
            assert!(w[0].next_offset() <= w[1].base_offset());
            assert!(bases.contains(&w[1].base_offset()));
        }
        assert!(
            log.segments()
                .windows(2)
                .any(|w| w[0].next_offset() < w[1].base_offset())
        );
        assert!(segment_indexes(&log).iter().all(|(i, _)| !i.is_empty()));
        let check = |log: &PartitionLog| {
            let mut from = 0;
            for (base, last, s) in &stored {
                assert_eq!(&log.read(*base, s.len(), false).unwrap()[..], &s[..]);
                // Every offset after the batch before, gap included, reads this batch first.
                for offset in from..=*last {
                    assert_eq!(&log.read(offset, s.len(), true).unwrap()[..], &s[..]);
                }
                from = last + 1;
            }
        };
        check(&log);
        let state = |log: &PartitionLog| {
            (
                log.log_start_offset(),
                log.log_end_offset(),
                log.segments_info(),
                segment_indexes(log),
                log.read(0, usize::MAX, true).unwrap(),
                log.leader_epoch_cache().entries().to_vec(),
            )
        };
        let before = state(&log);
        assert_eq!(
            before.5,
            epoch_entries(&[(0, 0), (2, bases[15]), (4, bases[30]), (6, bases[45])])
        );
        drop(log);
        let log = PartitionLog::open(dir.path(), c.clone(), 0).unwrap();
        assert_eq!(state(&log), before, "reopened");
        check(&log);
        drop(log);
        // Recovered: indexes rebuilt from the data, a torn tail cut off.
        for n in file_names(dir.path()) {
            if n.ends_with("index") {
                fs::remove_file(dir.path().join(n)).unwrap();
            }
        }
        let active = last_log_file(dir.path());
        let mut data = fs::read(&active).unwrap();
        data.extend_from_slice(&stored[0].2[..40]);
        fs::write(&active, &data).unwrap();
        let mut log = PartitionLog::open(dir.path(), c, 0).unwrap();
        assert_eq!(state(&log), before, "recovered");
        check(&log);
        // And the follower goes on past another gap.
        let r = follow(&mut log, &leader_batch(99, 2, leo + 7, 6)).unwrap();
        assert_eq!((r.base_offset, r.last_offset), (leo + 7, leo + 8));
        assert_eq!(log.log_end_offset(), leo + 9);
    }

    #[test]
    fn follower_append_refuses_what_does_not_follow() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        follow(&mut log, &leader_batch(0, 3, 0, 2)).unwrap();
        let files = |d: &Path| -> Vec<(String, Vec<u8>)> {
            file_names(d)
                .into_iter()
                .map(|n| (n.clone(), fs::read(d.join(n)).unwrap()))
                .collect()
        };
        let before = files(dir.path());
        // Below the log end (a fetch response that raced with a truncation).
        for base in [0, 2] {
            assert!(matches!(
                follow(&mut log, &leader_batch(1, 1, base, 2)),
                Err(LogError::UnexpectedAppendOffset { offset, log_end: 3 }) if offset == base
            ));
        }
        let invalid = [
            // Offsets that do not increase from batch to batch.
            [leader_batch(1, 2, 5, 2), leader_batch(2, 1, 6, 2)].concat(),
            [leader_batch(1, 1, 8, 2), leader_batch(2, 1, 8, 2)].concat(),
            [leader_batch(1, 1, 8, 2), leader_batch(2, 1, 4, 2)].concat(),
            // Epochs going back: below the latest the cache knows, or below the batch before.
            leader_batch(1, 1, 3, 1),
            [leader_batch(1, 1, 3, 4), leader_batch(2, 1, 4, 3)].concat(),
            // Offsets past i64::MAX.
            leader_batch(1, 2, i64::MAX - 1, 2),
        ];
        for p in &invalid {
            assert!(
                matches!(follow(&mut log, p), Err(LogError::InvalidRecord(_))),
                "{p:?}"
            );
        }
        let p = leader_batch(1, 1, 3, 2);
        let mut infos = validate_batches(&p, 1 << 20).unwrap();
        infos[0].size -= 1;
        assert!(matches!(
            log.append_as_follower(&p, &infos, 0),
            Err(LogError::InvalidRecord(_))
        ));
        assert!(matches!(
            log.append_as_follower(&p, &[], 0),
            Err(LogError::InvalidRecord(_))
        ));
        assert_eq!(log.log_end_offset(), 3);
        assert_eq!(log.leader_epoch_cache().entries(), epoch_entries(&[(2, 0)]));
        assert_eq!(files(dir.path()), before);
        // What follows is taken.
        let r = follow(
            &mut log,
            &[leader_batch(1, 1, 3, 2), leader_batch(2, 1, 4, 4)].concat(),
        )
        .unwrap();
        assert_eq!((r.base_offset, r.last_offset), (3, 4));
        assert_eq!(
            log.leader_epoch_cache().entries(),
            epoch_entries(&[(2, 0), (4, 4)])
        );
    }

    #[test]
    fn follower_epochs_enter_the_cache() {
        use crate::log::epoch_cache::read_checkpoint;
        // Epochs 0, 0, 2, 5, with gaps between the batches.
        let batches = [
            leader_batch(0, 3, 0, 0),
            leader_batch(1, 2, 4, 0),
            leader_batch(2, 3, 7, 2),
            leader_batch(3, 1, 12, 5),
        ];
        let expected = epoch_entries(&[(0, 0), (2, 7), (5, 12)]);
        // One append each, or one for all: the same cache, in memory and on disk.
        for one_by_one in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
            if one_by_one {
                for b in &batches {
                    follow(&mut log, b).unwrap();
                }
            } else {
                follow(&mut log, &batches.concat()).unwrap();
            }
            assert_eq!(log.leader_epoch_cache().entries(), expected);
            assert_eq!(read_checkpoint(dir.path()).unwrap().unwrap(), expected);
            assert_eq!(log.end_offset_for_epoch(0), (0, 7));
            assert_eq!(log.end_offset_for_epoch(1), (0, 7));
            assert_eq!(log.end_offset_for_epoch(2), (2, 12));
            assert_eq!(log.end_offset_for_epoch(5), (5, 13));
            drop(log);
            let log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
            assert_eq!(log.leader_epoch_cache().entries(), expected);
        }
    }

    #[test]
    fn a_new_leader_epoch_starts_at_the_log_end() {
        use crate::log::epoch_cache::read_checkpoint;
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        follow(&mut log, &leader_batch(0, 3, 0, 1)).unwrap();
        assert!(log.assign_epoch_start(4, 3).unwrap());
        let expected = epoch_entries(&[(1, 0), (4, 3)]);
        assert_eq!(log.leader_epoch_cache().entries(), expected);
        assert_eq!(read_checkpoint(dir.path()).unwrap().unwrap(), expected);
        assert_eq!(log.end_offset_for_epoch(1), (1, 3));
        assert_eq!(log.end_offset_for_epoch(4), (4, 3));
        assert!(!log.assign_epoch_start(4, 3).unwrap(), "already the latest");
        assert!(
            !log.assign_epoch_start(2, 3).unwrap(),
            "older than the latest"
        );
        for offset in [2, 4] {
            assert!(matches!(
                log.assign_epoch_start(5, offset),
                Err(LogError::UnexpectedAppendOffset { log_end: 3, .. })
            ));
        }
        assert_eq!(log.leader_epoch_cache().entries(), expected);
        // The leader's batches go on at the log end, the entry already there.
        let p = value_batch(1, 2);
        let infos = validate_batches(&p, 1 << 20).unwrap();
        assert_eq!(log.append(&p, &infos, 4, 0).unwrap().base_offset, 3);
        assert_eq!(log.leader_epoch_cache().entries(), expected);
        // A start without data does not survive a reopen (Kafka's load drops it too).
        assert!(log.assign_epoch_start(6, 5).unwrap());
        drop(log);
        let log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        assert_eq!(log.leader_epoch_cache().entries(), expected);
    }

    #[test]
    fn follower_batches_far_past_a_segment_base_roll_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        // Farther from the segment base than a 32-bit relative offset reaches: even the empty
        // segment rolls, and stays empty (as Kafka's does).
        let far = 5_000_000_000i64;
        let b = leader_batch(0, 2, far, 0);
        let r = follow(&mut log, &b).unwrap();
        assert_eq!((r.base_offset, r.last_offset), (far, far + 1));
        assert_eq!(log.segments_info(), vec![(0, 0), (far, b.len() as u64)]);
        assert_eq!(log.log_start_offset(), 0);
        let c = leader_batch(1, 1, 2 * far, 0);
        follow(&mut log, &c).unwrap();
        let info = vec![(0, 0), (far, b.len() as u64), (2 * far, c.len() as u64)];
        assert_eq!(log.segments_info(), info);
        assert_eq!(
            &log.read(0, usize::MAX, true).unwrap()[..],
            &[b.clone(), c.clone()].concat()[..]
        );
        drop(log);
        let mut log = PartitionLog::open(dir.path(), cfg(), 0).unwrap();
        assert_eq!(log.segments_info(), info);
        assert_eq!(
            (log.log_start_offset(), log.log_end_offset()),
            (0, 2 * far + 1)
        );
        assert_eq!(&log.read(far + 2, usize::MAX, true).unwrap()[..], &c[..]);
        follow(&mut log, &leader_batch(2, 1, 2 * far + 1, 0)).unwrap();
        assert_eq!(log.segments_info().len(), 3);
    }

    #[test]
    fn a_failed_follower_append_changes_nothing() {
        use crate::log::epoch_cache::read_checkpoint;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t-0");
        let mut log = PartitionLog::open(&p, cfg(), 0).unwrap();
        follow(&mut log, &leader_batch(0, 2, 0, 1)).unwrap();
        fs::remove_dir_all(&p).unwrap();
        let next = [leader_batch(1, 1, 2, 3), leader_batch(2, 1, 3, 4)].concat();
        assert!(follow(&mut log, &next).is_err());
        assert_eq!(log.leader_epoch_cache().entries(), epoch_entries(&[(1, 0)]));
        assert_eq!(log.log_end_offset(), 2);
        fs::create_dir(&p).unwrap();
        follow(&mut log, &next).unwrap();
        let expected = epoch_entries(&[(1, 0), (3, 2), (4, 3)]);
        assert_eq!(log.leader_epoch_cache().entries(), expected);
        assert_eq!(read_checkpoint(&p).unwrap().unwrap(), expected);
    }

    #[test]
    fn partition_log_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PartitionLog>();
    }
}
