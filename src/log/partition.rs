//! [`PartitionLog`]: one partition's ordered list of segments; the last one is active.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::batch::{BatchHeader, BatchInfo, HEADER_SIZE, MAGIC_V2, rewrite_base_offset_and_epoch};
use super::segment::LogSegment;
use super::{LogConfig, LogError};

/// `<log_dir>/<topic>-<partition>`, Kafka's partition directory naming.
pub fn partition_dir(log_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    log_dir.join(format!("{topic}-{partition}"))
}

/// Offsets assigned by [`PartitionLog::append`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendResult {
    pub base_offset: i64,
    pub last_offset: i64,
    /// maxTimestamp of the first appended batch flagged LogAppendTime (see
    /// [`super::batch::stamp_log_append_time`]), else -1.
    pub log_append_time: i64,
    pub log_start_offset: i64,
}

/// One partition's log. Not thread-safe by itself; the caller wraps it in a lock.
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    /// Ordered by base offset; never empty; the last one is the active segment.
    segments: Vec<LogSegment>,
    log_start_offset: i64,
    /// Records appended since the last fsync.
    unflushed_messages: u64,
}

/// `00000000000000000042.log` → `(42, ".log")` for the three segment file kinds.
fn parse_segment_file_name(name: &str) -> Option<(i64, &str)> {
    if name.len() <= 20 || !name.is_char_boundary(20) {
        return None;
    }
    let (digits, suffix) = name.split_at(20);
    if !digits.bytes().all(|b| b.is_ascii_digit())
        || !matches!(suffix, ".log" | ".index" | ".timeindex")
    {
        return None;
    }
    let base = i64::try_from(digits.parse::<u64>().ok()?).ok()?;
    Some((base, suffix))
}

/// fsync a directory so new/removed file names are durable (best effort: some filesystems refuse).
fn sync_dir(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "directory fsync failed");
    }
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
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64) -> Result<PartitionLog, LogError> {
        fs::create_dir_all(dir)?;
        let mut logs = BTreeSet::new();
        let mut index_files = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let fname = entry.file_name();
            let Some((base, suffix)) = fname.to_str().and_then(parse_segment_file_name) else {
                tracing::debug!(file = ?entry.path(), "ignoring non-segment file");
                continue;
            };
            if !entry.file_type()?.is_file() {
                tracing::warn!(file = ?entry.path(), "ignoring segment-named entry that is not a regular file");
                continue;
            }
            if suffix == ".log" {
                logs.insert(base);
            } else {
                index_files.push((base, entry.path()));
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
            segments.push(LogSegment::open(dir, base, active, interval, now_ms)?);
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
                segments.push(LogSegment::open(dir, base, true, interval, now_ms)?);
            }
        }
        if segments.is_empty() {
            segments.push(LogSegment::create(dir, 0)?);
            sync_dir(dir);
        }
        let log_start_offset = segments[0].base_offset();
        let log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset,
            unflushed_messages: 0,
        };
        tracing::debug!(
            dir = %log.dir.display(),
            segments = log.segments.len(),
            log_start_offset = log.log_start_offset,
            log_end_offset = log.log_end_offset(),
            "opened partition log"
        );
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
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
    ///
    /// `batches` must describe `payload` exactly (in order, back to back, covering all of it), as
    /// [`super::validate_batches`] returns them; otherwise [`LogError::InvalidRecord`] and nothing is
    /// written. The headers are re-read from `payload` so the on-disk state never depends on the
    /// descriptors being right. All batches go to one segment (rolling first if the append would
    /// push the active segment past `segment_bytes`, if its first write is more than `segment_ms`
    /// old, or if offsets would overflow its 32-bit relative index; an empty segment never rolls).
    pub fn append(
        &mut self,
        payload: &mut [u8],
        batches: &[BatchInfo],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendResult, LogError> {
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

        let base_offset = self.log_end_offset();
        let mut next = base_offset;
        let mut records = 0u64;
        for (_, h) in headers.iter_mut() {
            h.base_offset = next;
            h.partition_leader_epoch = leader_epoch;
            let n = i64::from(h.last_offset_delta) + 1;
            records += n as u64;
            next = next
                .checked_add(n)
                .ok_or_else(|| LogError::InvalidRecord("offset overflow".into()))?;
        }
        let last_offset = next - 1;

        let len = payload.len() as u64;
        let c = &self.config;
        if self
            .active()
            .should_roll(len, last_offset, c.segment_bytes, c.segment_ms, now_ms)
        {
            self.roll()?;
        }
        let active = self.active();
        if active.size() + len > i32::MAX as u64
            || last_offset - active.base_offset() > i32::MAX as i64
        {
            return Err(LogError::MessageTooLarge(format!(
                "append of {len} bytes / {records} offsets does not fit in one segment"
            )));
        }

        for (pos, h) in &headers {
            rewrite_base_offset_and_epoch(
                &mut payload[*pos..*pos + HEADER_SIZE],
                h.base_offset,
                leader_epoch,
            );
        }
        let interval = self.config.index_interval_bytes;
        self.active_mut()
            .append(payload, &headers, interval, now_ms)?;

        self.unflushed_messages = self.unflushed_messages.saturating_add(records);
        if self.unflushed_messages >= self.config.flush_interval_messages {
            self.active_mut().flush()?;
            self.unflushed_messages = 0;
        }
        let log_append_time = headers
            .iter()
            .find(|(_, h)| h.is_log_append_time())
            .map_or(-1, |(_, h)| h.max_timestamp);
        Ok(AppendResult {
            base_offset,
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
        self.active_mut().seal()?;
        let seg = LogSegment::create(&self.dir, base)?;
        sync_dir(&self.dir);
        self.active_mut().close_indexes();
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
        let log_end = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        if offset == log_end || offset >= max_offset {
            return Ok(Bytes::new());
        }
        let mut idx = self
            .segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        let mut out: Vec<u8> = Vec::new();
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
            let budget = max_bytes.saturating_sub(out.len());
            let (data, more) =
                seg.read_batches(pos, budget, min_one && out.is_empty(), max_offset)?;
            if out.is_empty() {
                out = data;
            } else {
                out.extend_from_slice(&data);
            }
            if !more {
                break;
            }
        }
        Ok(Bytes::from(out))
    }

    /// The earliest record (at or after the log start) whose timestamp is >= `ts`:
    /// `(offset, timestamp)`, or None. Only the one matching batch is decoded.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        for seg in &self.segments {
            if seg.max_timestamp() >= ts {
                if let Some(found) = seg.offset_for_timestamp(ts, self.log_start_offset)? {
                    return Ok(Some(found));
                }
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
            Some(seg) => seg.max_timestamp_record(),
            None => Ok(None),
        }
    }

    /// fsync the active segment and any index left dirty by a failed write.
    pub fn flush(&mut self) -> Result<(), LogError> {
        let n = self.segments.len();
        for seg in &mut self.segments[..n - 1] {
            seg.flush_indexes()?;
        }
        self.active_mut().flush()?;
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
