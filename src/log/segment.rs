//! One log segment: `<base>.log` (concatenated v2 batches) plus its `.index` and `.timeindex`.
//!
//! Index policy (mirrors Kafka's `LogSegment.append`, applied per batch, identically on the
//! append path and when rebuilding):
//! * before a batch is accounted, if more than `index_interval_bytes` of log data were written
//!   since the last offset-index entry, an offset-index entry `(batch last offset, batch position)`
//!   is added, and a time-index entry `(segment max timestamp so far, last offset of the batch that
//!   first reached it)` is added if that max is larger than the last time-index entry's
//!   timestamp (timestamps <= -1, i.e. "no timestamp", are never indexed);
//! * when a segment stops being the active one (roll, or rebuild of a non-last segment), a final
//!   time-index entry for the segment's max timestamp is added if it is larger than the last one,
//!   so the last time-index entry of an inactive segment is always the segment's max timestamp.
//!
//! The first batch of a segment never gets an index entry (position 0 is the implicit default).

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::LogError;
use super::batch::{
    ATTRIBUTES_AT, BatchHeader, HEADER_SIZE, MAGIC_AT, MAGIC_V2, MIN_BATCH_LENGTH,
    rewrite_base_offset_and_epoch,
};
pub use super::files::FileSlice;
use super::files::{SegmentPath, remove_if_exists};
use super::index::{
    IndexEntry, OffsetIndex, TimeIndex, TimeIndexEntry, check_offset_entries, check_time_entries,
    read_entries,
};
use super::open_files::{OpenFiles, SegmentFile};
use super::records;

/// Largest file position / relative offset an index entry can hold.
const MAX_INDEXABLE: u64 = i32::MAX as u64;
/// The bytes of a batch before its magic (base offset, length, partition leader epoch): what
/// the log stores differently from what it received.
const STORED_PREFIX: usize = MAGIC_AT;

/// Running state of the index policy (see module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IndexState {
    bytes_since_last_entry: u64,
    max_timestamp: i64,
    /// Last offset of the batch that first reached `max_timestamp`; -1 if none.
    offset_of_max_timestamp: i64,
}

impl IndexState {
    fn new() -> Self {
        IndexState {
            bytes_since_last_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
        }
    }

    /// Account one batch; returns the index entries to add, if any.
    fn step(
        &mut self,
        base_offset: i64,
        last_time_ts: i64,
        position: u64,
        h: &BatchHeader,
        interval: u32,
    ) -> (Option<IndexEntry>, Option<TimeIndexEntry>) {
        let last = h.last_offset();
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = last;
        }
        let mut out = (None, None);
        if self.bytes_since_last_entry > u64::from(interval) {
            out.0 = Some(IndexEntry {
                relative_offset: (last - base_offset) as u32,
                position: position as u32,
            });
            out.1 = self.time_entry(base_offset, last_time_ts);
            self.bytes_since_last_entry = 0;
        }
        self.bytes_since_last_entry += h.size();
        out
    }

    fn time_entry(&self, base_offset: i64, last_time_ts: i64) -> Option<TimeIndexEntry> {
        (self.max_timestamp > last_time_ts).then(|| TimeIndexEntry {
            timestamp: self.max_timestamp,
            relative_offset: (self.offset_of_max_timestamp - base_offset) as u32,
        })
    }
}

fn last_ts(t: &TimeIndex) -> i64 {
    t.last().map_or(-1, |e| e.timestamp)
}

/// Buffered positioned reader over `[0, end)` of a file (never moves the file cursor).
struct PosReader<'a> {
    file: &'a File,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
    buf_len: usize,
}

impl<'a> PosReader<'a> {
    fn new(file: &'a File, end: u64, capacity: usize) -> Self {
        PosReader {
            file,
            end,
            buf: vec![0; capacity],
            buf_start: 0,
            buf_len: 0,
        }
    }

    fn read_exact(&mut self, pos: u64, out: &mut [u8]) -> io::Result<()> {
        let len = out.len() as u64;
        if pos.checked_add(len).is_none_or(|e| e > self.end) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past segment end",
            ));
        }
        if pos >= self.buf_start && pos + len <= self.buf_start + self.buf_len as u64 {
            let at = (pos - self.buf_start) as usize;
            out.copy_from_slice(&self.buf[at..at + out.len()]);
            return Ok(());
        }
        if out.len() >= self.buf.len() {
            return self.file.read_exact_at(out, pos);
        }
        let n = (self.end - pos).min(self.buf.len() as u64) as usize;
        self.file.read_exact_at(&mut self.buf[..n], pos)?;
        self.buf_start = pos;
        self.buf_len = n;
        out.copy_from_slice(&self.buf[..out.len()]);
        Ok(())
    }
}

/// Result of walking a segment's batches.
struct Walk {
    valid_size: u64,
    next_offset: i64,
    index: Vec<IndexEntry>,
    time: Vec<TimeIndexEntry>,
    state: IndexState,
    first_max_timestamp: Option<i64>,
    /// Why the walk stopped before the end of the file, if it did.
    stopped: Option<String>,
}

impl Walk {
    /// The walk of an empty file.
    fn empty(base_offset: i64) -> Walk {
        Walk {
            valid_size: 0,
            next_offset: base_offset,
            index: Vec::new(),
            time: Vec::new(),
            state: IndexState::new(),
            first_max_timestamp: None,
            stopped: None,
        }
    }
}

/// CRC-walk a whole segment file, computing what its indexes should be. Stops at the first
/// torn/corrupt batch (reported in `stopped`); I/O errors are returned as errors.
fn recovery_walk(file: &File, file_size: u64, base_offset: i64, interval: u32) -> io::Result<Walk> {
    walk(file, file_size, base_offset, interval, true)
}

/// [`recovery_walk`], or with `verify_crc` false only the batch headers are read (for data that
/// was checked already, e.g. when a truncation recomputes the indexes of what is left).
fn walk(
    file: &File,
    file_size: u64,
    base_offset: i64,
    interval: u32,
    verify_crc: bool,
) -> io::Result<Walk> {
    let buffer = if verify_crc { 1 << 20 } else { 8 * 1024 };
    let mut r = PosReader::new(file, file_size, buffer);
    let mut w = Walk::empty(base_offset);
    let mut hdr = [0u8; HEADER_SIZE];
    let mut chunk = vec![0u8; if verify_crc { 64 * 1024 } else { 0 }];
    let mut pos = 0u64;
    while pos < file_size {
        if file_size - pos < HEADER_SIZE as u64 {
            w.stopped = Some(format!(
                "{} trailing bytes, less than a batch header",
                file_size - pos
            ));
            break;
        }
        r.read_exact(pos, &mut hdr)?;
        let Some(h) = BatchHeader::parse(&hdr) else {
            break;
        };
        let size = h.size();
        let reason = if h.batch_length < MIN_BATCH_LENGTH {
            Some(format!("batch length {}", h.batch_length))
        } else if pos + size > file_size {
            Some(format!(
                "batch of {size} bytes but only {} bytes left",
                file_size - pos
            ))
        } else if h.magic != MAGIC_V2 {
            Some(format!("magic {}", h.magic))
        } else if h.last_offset_delta < 0 || h.records_count < 0 {
            Some(format!(
                "lastOffsetDelta {} recordsCount {}",
                h.last_offset_delta, h.records_count
            ))
        } else if h.base_offset < w.next_offset {
            Some(format!(
                "base offset {} below expected {}",
                h.base_offset, w.next_offset
            ))
        } else if (h.last_offset() - base_offset) as u64 > MAX_INDEXABLE
            || pos + size > MAX_INDEXABLE
        {
            Some(format!(
                "offset {} / position {pos} not indexable",
                h.last_offset()
            ))
        } else if !verify_crc {
            None
        } else {
            let mut crc = crc32c::crc32c(&hdr[ATTRIBUTES_AT..]);
            let end = pos + size;
            let mut p = pos + HEADER_SIZE as u64;
            while p < end {
                let n = (end - p).min(chunk.len() as u64) as usize;
                r.read_exact(p, &mut chunk[..n])?;
                crc = crc32c::crc32c_append(crc, &chunk[..n]);
                p += n as u64;
            }
            (crc != h.crc).then(|| {
                format!(
                    "CRC mismatch (stored {:#010x}, computed {crc:#010x})",
                    h.crc
                )
            })
        };
        if let Some(reason) = reason {
            w.stopped = Some(format!("at position {pos}: {reason}"));
            break;
        }
        w.first_max_timestamp.get_or_insert(h.max_timestamp);
        let (ie, te) = w.state.step(
            base_offset,
            w.time.last().map_or(-1, |e| e.timestamp),
            pos,
            &h,
            interval,
        );
        w.index.extend(ie);
        w.time.extend(te);
        pos += size;
        w.valid_size = pos;
        w.next_offset = h.last_offset() + 1;
    }
    Ok(w)
}

/// CRC-walk the complete segment data in `file` (`size` bytes, base offset `base_offset`) and
/// return the offset and time index entries an inactive segment with this data must have
/// (including the final time-index entry). Any torn or corrupt batch is an error.
pub(crate) fn compute_inactive_indexes(
    file: &File,
    size: u64,
    base_offset: i64,
    index_interval_bytes: u32,
) -> Result<(Vec<IndexEntry>, Vec<TimeIndexEntry>), LogError> {
    let mut w = recovery_walk(file, size, base_offset, index_interval_bytes)?;
    if let Some(reason) = w.stopped {
        return Err(LogError::CorruptMessage(format!(
            "segment data for base offset {base_offset}: {reason}"
        )));
    }
    let last = w.time.last().map_or(-1, |e| e.timestamp);
    w.time.extend(w.state.time_entry(base_offset, last));
    Ok((w.index, w.time))
}

/// What a quick (header-only) load of a non-last segment found.
struct QuickLoad {
    index: Vec<IndexEntry>,
    time: Vec<TimeIndexEntry>,
    next_offset: i64,
}

/// One segment of a partition log.
#[derive(Debug)]
pub struct LogSegment {
    base_offset: i64,
    /// This segment object's identity: a reopened or replaced segment gets a new one
    /// (compaction checks that the segments it planned are still the ones in the log).
    id: u64,
    /// The `.log` file, opened on use and closed by the descriptor cache in between
    /// ([`super::open_files`]); a fetch's slice holds its own handle.
    log: SegmentFile,
    /// Bytes of valid data (== file length except transiently during a failed write).
    size: u64,
    /// Last offset + 1 (== base offset when empty).
    next_offset: i64,
    index: OffsetIndex,
    time_index: TimeIndex,
    state: IndexState,
    /// When the segment received its first batch (drives segment_ms rolling).
    first_write_ms: Option<i64>,
    /// A write failed and the file could not be cut back to `size`: no appends until a retry
    /// of the cut succeeds (see [`Self::append`]).
    poisoned: bool,
    /// Bytes from the start whose batches are known to match their CRCs: checked at open by a
    /// recovery walk, or appended by this process (validated on the way in), or checked by a
    /// read ([`super::verify`]). Shared with the slices reads hand out.
    verified: Arc<AtomicU64>,
    /// Test only: the next data write stores this many bytes, then fails as on a full disk.
    #[cfg(test)]
    fail_write_after: Option<usize>,
    /// Test only: the next fsync of the data fails.
    #[cfg(test)]
    fail_sync: bool,
}

/// What an append changes, taken before it so a failed one can be undone.
#[derive(Clone, Copy)]
struct Mark {
    size: u64,
    next_offset: i64,
    state: IndexState,
    first_write_ms: Option<i64>,
    index_len: usize,
    time_len: usize,
}

/// A new [`LogSegment::id`].
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether an index file holds the in-memory entries: compared entry by entry, or with
/// `length_only` by its length.
fn index_on_disk<E: super::index::Entry>(
    index: &super::index::IndexFile<E>,
    length_only: bool,
) -> bool {
    let path = index.path();
    if length_only {
        return std::fs::metadata(&path)
            .is_ok_and(|m| m.len() == (index.entries().len() * E::SIZE) as u64);
    }
    read_entries::<E>(&path).ok().as_deref() == Some(index.entries())
}

/// An index file that differs from what the segment data implies. A closed segment's is
/// rewritten now. The active segment's is normally just behind (its entries reach the file at
/// flushes, so after a crash it lacks the newest ones) and is rewritten at the next flush.
fn settle_index<E: super::index::Entry>(
    index: &mut super::index::IndexFile<E>,
    active: bool,
    kind: &str,
) {
    if active {
        tracing::debug!(index = %index.path().display(), "{kind} index behind the data; rewritten at the next flush");
    } else {
        tracing::warn!(index = %index.path().display(), "rebuilding {kind} index");
        index.rewrite_or_defer();
    }
}

impl LogSegment {
    fn paths(dir: &Arc<Path>, base_offset: i64) -> (SegmentPath, SegmentPath, SegmentPath) {
        (
            SegmentPath::new(dir, base_offset, ".log"),
            SegmentPath::new(dir, base_offset, ".index"),
            SegmentPath::new(dir, base_offset, ".timeindex"),
        )
    }

    /// Create a new, empty, active segment (fails if its `.log` already exists). If any of its
    /// three files cannot be created (a full disk), the ones that were are removed again, so a
    /// later attempt starts from scratch.
    pub fn create(
        dir: &Arc<Path>,
        base_offset: i64,
        files: &Arc<OpenFiles>,
    ) -> Result<LogSegment, LogError> {
        let (lp, ip, tp) = Self::paths(dir, base_offset);
        let log = SegmentFile::open(lp.clone(), true, files)?;
        let mut index = OffsetIndex::new(ip, Vec::new());
        let mut time_index = TimeIndex::new(tp, Vec::new());
        if let Err(e) = index
            .create_empty()
            .and_then(|()| time_index.create_empty())
        {
            drop(log);
            for p in [lp.path(), index.path(), time_index.path()] {
                if let Err(e2) = remove_if_exists(&p) {
                    tracing::warn!(file = %p.display(), error = %e2, "cannot remove a file of a segment that could not be created");
                }
            }
            return Err(e.into());
        }
        Ok(LogSegment {
            base_offset,
            id: next_id(),
            log,
            size: 0,
            next_offset: base_offset,
            index,
            time_index,
            state: IndexState::new(),
            first_write_ms: None,
            poisoned: false,
            verified: Arc::new(AtomicU64::new(0)),
            #[cfg(test)]
            fail_write_after: None,
            #[cfg(test)]
            fail_sync: false,
        })
    }

    /// Open an existing segment.
    ///
    /// * `active` (the last segment): always CRC-walked; a torn/corrupt tail is truncated and the
    ///   indexes are rebuilt if they differ from what the data implies (the files at the next flush).
    /// * otherwise: the indexes are loaded and checked against the log with a short header walk
    ///   (from the last index entry to the end of the file); if anything is missing or inconsistent
    ///   the segment is CRC-walked and rebuilt as above (plus its final time-index entry).
    pub fn open(
        dir: &Arc<Path>,
        base_offset: i64,
        active: bool,
        index_interval_bytes: u32,
        now_ms: i64,
        files: &Arc<OpenFiles>,
    ) -> Result<LogSegment, LogError> {
        Self::open_with(
            dir,
            base_offset,
            active,
            index_interval_bytes,
            now_ms,
            true,
            files,
        )
    }

    /// [`Self::open`]; with `verify_crc` false (after a clean shutdown) an active segment's
    /// batches are walked by their headers only, not CRC-checked: the headers still have to
    /// hold together, or the tail is cut as after a crash.
    pub fn open_with(
        dir: &Arc<Path>,
        base_offset: i64,
        active: bool,
        index_interval_bytes: u32,
        now_ms: i64,
        verify_crc: bool,
        files: &Arc<OpenFiles>,
    ) -> Result<LogSegment, LogError> {
        let (lp, ip, tp) = Self::paths(dir, base_offset);
        // The size by path: an empty active segment (most partitions at a start-up of many) is
        // never opened here, the cache opens it at its first use.
        let file_size = std::fs::metadata(lp.path())?.len();
        let file = SegmentFile::unopened(lp.clone(), files);
        if !active {
            let log = file.get()?;
            match Self::quick_load(&log, file_size, base_offset, &ip.path(), &tp.path()) {
                Ok(q) => {
                    let state = IndexState {
                        bytes_since_last_entry: 0,
                        max_timestamp: q.time.last().map_or(-1, |e| e.timestamp),
                        offset_of_max_timestamp: q
                            .time
                            .last()
                            .map_or(-1, |e| base_offset + i64::from(e.relative_offset)),
                    };
                    return Ok(LogSegment {
                        base_offset,
                        id: next_id(),
                        log: file,
                        size: file_size,
                        next_offset: q.next_offset,
                        index: OffsetIndex::new(ip, q.index),
                        time_index: TimeIndex::new(tp, q.time),
                        state,
                        first_write_ms: None,
                        poisoned: false,
                        verified: Arc::new(AtomicU64::new(0)),
                        #[cfg(test)]
                        fail_write_after: None,
                        #[cfg(test)]
                        fail_sync: false,
                    });
                }
                Err(reason) => {
                    tracing::warn!(segment = %lp.path().display(), %reason, "segment index missing or inconsistent; recovering segment");
                }
            }
        }

        let crc_checked = verify_crc || !active;
        let mut w = if file_size == 0 {
            Walk::empty(base_offset)
        } else {
            walk(
                &*file.get()?,
                file_size,
                base_offset,
                index_interval_bytes,
                crc_checked,
            )?
        };
        if let Some(reason) = &w.stopped {
            let log = file.get()?;
            tracing::warn!(
                segment = %lp.path().display(),
                %reason,
                valid_bytes = w.valid_size,
                truncated_bytes = file_size - w.valid_size,
                next_offset = w.next_offset,
                "truncating torn or corrupt segment tail"
            );
            log.set_len(w.valid_size)?;
            log.sync_all()?;
        }
        if !active {
            let last = w.time.last().map_or(-1, |e| e.timestamp);
            w.time.extend(w.state.time_entry(base_offset, last));
        }
        let mut index = OffsetIndex::new(ip, w.index);
        let mut time_index = TimeIndex::new(tp, w.time);
        // After a clean shutdown the active segment's index files were written whole at its
        // flush, so their length is checked, not their bytes (one stat instead of two reads),
        // and an empty segment's are empty.
        let trust_length = active && !verify_crc;
        let known_empty = trust_length && file_size == 0;
        if known_empty || index_on_disk(&index, trust_length) {
            index.matches_file();
        } else {
            settle_index(&mut index, active, "offset");
        }
        if known_empty || index_on_disk(&time_index, trust_length) {
            time_index.matches_file();
        } else {
            settle_index(&mut time_index, active, "time");
        }
        let first_write_ms = if active && w.valid_size > 0 {
            // Kafka rolls on the first batch's timestamp; never let it lie in the future.
            Some(
                w.first_max_timestamp
                    .filter(|&t| t >= 0)
                    .map_or(now_ms, |t| t.min(now_ms)),
            )
        } else {
            None
        };
        Ok(LogSegment {
            base_offset,
            id: next_id(),
            log: file,
            size: w.valid_size,
            next_offset: w.next_offset,
            index,
            time_index,
            state: w.state,
            first_write_ms,
            poisoned: false,
            verified: Arc::new(AtomicU64::new(if crc_checked { w.valid_size } else { 0 })),
            #[cfg(test)]
            fail_write_after: None,
            #[cfg(test)]
            fail_sync: false,
        })
    }

    /// Load and sanity-check the indexes of a non-last segment without reading its data.
    fn quick_load(
        log: &File,
        file_size: u64,
        base: i64,
        ip: &Path,
        tp: &Path,
    ) -> Result<QuickLoad, String> {
        let index: Vec<IndexEntry> = read_entries(ip).map_err(|e| format!("offset index: {e}"))?;
        let time: Vec<TimeIndexEntry> = read_entries(tp).map_err(|e| format!("time index: {e}"))?;
        check_offset_entries(&index, file_size).map_err(|e| format!("offset index: {e}"))?;
        let start = index.last().map_or(0, |e| u64::from(e.position));
        let mut r = PosReader::new(log, file_size, 64 * 1024);
        let mut hdr = [0u8; HEADER_SIZE];
        let mut pos = start;
        let mut next_offset = base;
        while pos < file_size {
            r.read_exact(pos, &mut hdr)
                .map_err(|e| format!("header at {pos}: {e}"))?;
            let h = BatchHeader::parse(&hdr).ok_or("short header")?;
            if h.magic != MAGIC_V2
                || h.batch_length < MIN_BATCH_LENGTH
                || pos + h.size() > file_size
            {
                return Err(format!("bad batch header at position {pos}"));
            }
            if h.base_offset < next_offset
                || h.last_offset_delta < 0
                || h.last_offset() - base > MAX_INDEXABLE as i64
            {
                return Err(format!("unexpected offsets in batch at position {pos}"));
            }
            if pos == start
                && let Some(e) = index.last()
                && h.last_offset() != base + i64::from(e.relative_offset)
            {
                return Err(format!(
                    "last index entry {e:?} does not match batch at {pos}"
                ));
            }
            next_offset = h.last_offset() + 1;
            pos += h.size();
        }
        check_time_entries(&time, next_offset - 1 - base)
            .map_err(|e| format!("time index: {e}"))?;
        Ok(QuickLoad {
            index,
            time,
            next_offset,
        })
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    /// Offset after the last batch (== base offset when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    /// Bytes of data in the `.log` file.
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
    /// Largest batch maxTimestamp in the segment, -1 if none.
    pub fn max_timestamp(&self) -> i64 {
        self.state.max_timestamp
    }
    /// Last offset of the first batch that reached [`Self::max_timestamp`], -1 if none.
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.state.offset_of_max_timestamp
    }
    pub fn log_path(&self) -> PathBuf {
        self.log.path()
    }
    pub fn offset_index(&self) -> &OffsetIndex {
        &self.index
    }
    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }
    pub fn first_write_ms(&self) -> Option<i64> {
        self.first_write_ms
    }
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// This segment object's identity (see the field).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The whole segment data as a [`FileSlice`] (a snapshot: later appends are not included).
    pub fn slice_all(&self) -> io::Result<FileSlice> {
        Ok(FileSlice {
            file: self.log.get()?,
            position: 0,
            len: self.size,
            verified: None,
        })
    }

    /// Whether appending `bytes` bytes ending at offset `last_offset` at `now_ms` requires a roll
    /// first. An empty segment is never rolled.
    pub fn should_roll(
        &self,
        bytes: u64,
        last_offset: i64,
        segment_bytes: u64,
        segment_ms: i64,
        now_ms: i64,
    ) -> bool {
        if self.size == 0 {
            return false;
        }
        let limit = segment_bytes.min(MAX_INDEXABLE);
        self.size.saturating_add(bytes) > limit
            || self
                .first_write_ms
                .is_some_and(|t| now_ms.saturating_sub(t) > segment_ms)
            || last_offset.saturating_sub(self.base_offset) > MAX_INDEXABLE as i64
    }

    /// Append `data` (whole batches, offsets already assigned in the bytes). `headers` are the
    /// parsed headers of those batches with their positions inside `data`. With `fsync` the data
    /// is fsynced before the append counts (`flush.messages`).
    ///
    /// All or nothing: if the write (a full disk) or the fsync fails, the file is cut back to
    /// the last complete batch and the size, offsets and index entries are what they were, so
    /// the next append continues there and a reopen finds no garbage. If the cut itself fails
    /// the segment refuses appends until a later append manages it (reads are unaffected: they
    /// never look past the last complete batch). A failed index write does not fail the append:
    /// the entries stay in memory and the file is rewritten at the next flush.
    pub(crate) fn append(
        &mut self,
        data: &[u8],
        headers: &[(usize, BatchHeader)],
        index_interval_bytes: u32,
        now_ms: i64,
        fsync: bool,
    ) -> Result<(), LogError> {
        if self.poisoned {
            let size = self.size;
            self.log.get().and_then(|f| f.set_len(size)).map_err(|e| {
                LogError::Storage(format!(
                    "segment {} is offline after a failed write that could not be undone: {e}",
                    self.log.path().display()
                ))
            })?;
            tracing::info!(segment = %self.log.path().display(), "failed write undone; segment writable again");
            self.poisoned = false;
        }
        let mark = self.mark();
        let start = self.size;
        if let Err(e) = self.write_data(data, headers) {
            self.undo(mark);
            return Err(e.into());
        }
        self.size += data.len() as u64;
        // Validated on the way in: a checked prefix that reached the old end reaches the new.
        let _ =
            self.verified
                .compare_exchange(start, self.size, Ordering::AcqRel, Ordering::Relaxed);
        self.first_write_ms.get_or_insert(now_ms);
        for (p, h) in headers {
            let pos = start + *p as u64;
            let (ie, te) = self.state.step(
                self.base_offset,
                last_ts(&self.time_index),
                pos,
                h,
                index_interval_bytes,
            );
            if let Some(e) = ie {
                self.index.append(e);
            }
            if let Some(e) = te {
                self.time_index.append(e);
            }
            self.next_offset = h.last_offset() + 1;
        }
        if fsync {
            if let Err(e) = self.sync_data() {
                self.undo(mark);
                return Err(e.into());
            }
            if let Err(e) = self.flush_indexes() {
                tracing::warn!(segment = %self.log.path().display(), error = %e, "cannot flush indexes; will retry at next flush");
            }
        }
        Ok(())
    }

    /// Write `data` with each batch's first 16 bytes (base offset, length, partition leader
    /// epoch) as its header in `headers` says: one vectored write of the caller's buffer, no
    /// copy of it (a follower's headers are what its data holds already).
    fn write_data(&mut self, data: &[u8], headers: &[(usize, BatchHeader)]) -> io::Result<()> {
        let mut prefixes = Vec::with_capacity(headers.len());
        for (pos, h) in headers {
            let mut prefix = [0u8; STORED_PREFIX];
            prefix.copy_from_slice(&data[*pos..*pos + STORED_PREFIX]);
            rewrite_base_offset_and_epoch(&mut prefix, h.base_offset, h.partition_leader_epoch);
            prefixes.push(prefix);
        }
        let mut slices = Vec::with_capacity(2 * headers.len() + 1);
        let mut at = 0;
        for ((pos, _), prefix) in headers.iter().zip(&prefixes) {
            if *pos > at {
                slices.push(IoSlice::new(&data[at..*pos]));
            }
            slices.push(IoSlice::new(prefix));
            at = pos + STORED_PREFIX;
        }
        if at < data.len() {
            slices.push(IoSlice::new(&data[at..]));
        }
        let file = self.log.get()?;
        #[cfg(test)]
        if let Some(n) = self.fail_write_after.take() {
            let whole: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
            (&*file).write_all(&whole[..n.min(whole.len())])?;
            return Err(io::ErrorKind::StorageFull.into());
        }
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match (&*file).write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_sync) {
            return Err(io::ErrorKind::StorageFull.into());
        }
        self.log.get()?.sync_data()
    }

    /// Test only: make the next data write store `n` bytes and then fail as on a full disk.
    #[cfg(test)]
    pub(crate) fn fail_next_write_after(&mut self, n: usize) {
        self.fail_write_after = Some(n);
    }

    /// Test only: make the next data fsync fail.
    #[cfg(test)]
    pub(crate) fn fail_next_sync(&mut self) {
        self.fail_sync = true;
    }

    fn mark(&self) -> Mark {
        Mark {
            size: self.size,
            next_offset: self.next_offset,
            state: self.state,
            first_write_ms: self.first_write_ms,
            index_len: self.index.entries().len(),
            time_len: self.time_index.entries().len(),
        }
    }

    /// Put the segment back as it was at `m`, cutting the file back to the last complete batch.
    fn undo(&mut self, m: Mark) {
        self.size = m.size;
        self.verified.fetch_min(m.size, Ordering::AcqRel);
        self.next_offset = m.next_offset;
        self.state = m.state;
        self.first_write_ms = m.first_write_ms;
        self.index.truncate_entries(m.index_len);
        self.time_index.truncate_entries(m.time_len);
        if let Err(e) = self.log.get().and_then(|f| f.set_len(m.size)) {
            tracing::error!(segment = %self.log.path().display(), error = %e, "cannot undo a failed write; no appends until it can");
            self.poisoned = true;
        }
    }

    /// fsync data and indexes.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if !super::files::syncs_deferred() {
            self.log.get()?.sync_data()?;
        }
        self.index.sync()?;
        self.time_index.sync()?;
        Ok(())
    }

    /// fsync indexes only (rewriting any left dirty by a failed write).
    pub(crate) fn flush_indexes(&mut self) -> Result<(), LogError> {
        self.index.sync()?;
        self.time_index.sync()?;
        Ok(())
    }

    /// Prepare to become inactive: add the final time-index entry and fsync everything.
    pub(crate) fn seal(&mut self) -> Result<(), LogError> {
        let last = last_ts(&self.time_index);
        if let Some(e) = self.state.time_entry(self.base_offset, last) {
            self.time_index.append(e);
        }
        self.flush()
    }

    /// Undo [`Self::seal`] after a roll that failed: the time index back to `time_entries`.
    pub(crate) fn unseal(&mut self, time_entries: usize) {
        self.time_index.truncate_entries(time_entries);
    }

    /// Remove this segment's files (retention, DeleteRecords).
    pub fn delete_files(self) -> Result<(), LogError> {
        let LogSegment {
            log,
            index,
            time_index,
            ..
        } = self;
        let log_path = log.path();
        drop(log);
        for p in [log_path, index.path(), time_index.path()] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn corrupt(&self, pos: u64, what: &str) -> LogError {
        LogError::CorruptMessage(format!(
            "{} at position {pos}: {what}",
            self.log.path().display()
        ))
    }

    /// Read and check the header of the batch at `pos` through `r`.
    fn header_at(&self, r: &mut PosReader<'_>, pos: u64) -> Result<BatchHeader, LogError> {
        let mut hdr = [0u8; HEADER_SIZE];
        r.read_exact(pos, &mut hdr).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                self.corrupt(pos, "truncated batch header")
            } else {
                LogError::Io(e)
            }
        })?;
        let h = BatchHeader::parse(&hdr).ok_or_else(|| self.corrupt(pos, "short header"))?;
        if h.magic != MAGIC_V2 || h.batch_length < MIN_BATCH_LENGTH || pos + h.size() > self.size {
            return Err(self.corrupt(pos, "invalid batch header"));
        }
        Ok(h)
    }

    /// Visit batch headers from position `start` to the end; `f` returns false to stop.
    pub fn walk_headers(
        &self,
        start: u64,
        f: &mut dyn FnMut(u64, &BatchHeader) -> Result<bool, LogError>,
    ) -> Result<(), LogError> {
        let file = self.log.get()?;
        let mut r = PosReader::new(&file, self.size, 8 * 1024);
        let mut pos = start;
        while pos < self.size {
            let h = self.header_at(&mut r, pos)?;
            if !f(pos, &h)? {
                break;
            }
            pos += h.size();
        }
        Ok(())
    }

    /// Position of the first batch whose last offset is >= `offset`, or None if there is none
    /// in this segment. Uses the offset index, then a short header scan.
    pub fn find_batch_position(&self, offset: i64) -> Result<Option<u64>, LogError> {
        Ok(self.find_batch(offset)?.map(|(pos, _)| pos))
    }

    /// [`Self::find_batch_position`], with the header of the batch found.
    pub fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let start = self.index.lookup(offset - self.base_offset);
        let mut found = None;
        self.walk_headers(start, &mut |pos, h| {
            if h.last_offset() >= offset {
                found = Some((pos, *h));
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// The header of the last batch, None if the segment is empty.
    pub fn last_batch(&self) -> Result<Option<BatchHeader>, LogError> {
        if self.is_empty() {
            return Ok(None);
        }
        Ok(self.find_batch(self.next_offset - 1)?.map(|(_, h)| h))
    }

    /// Cut the segment at `position`, a batch boundary (a truncation of the log), and make it an
    /// active segment: the data from `position` on is removed (file length set, fsynced); the
    /// indexes are recomputed from the headers of the batches left — exactly what appending them
    /// would have written, and what a reopen rebuilds — rewritten, fsynced and kept open for
    /// appends. A segment that was offline after a failed write is usable again. Returns the
    /// bytes removed. `position` beyond the data or not at a batch boundary is an error, and
    /// nothing is changed then.
    pub(crate) fn truncate_to_position(
        &mut self,
        position: u64,
        index_interval_bytes: u32,
    ) -> Result<u64, LogError> {
        if position > self.size {
            return Err(self.corrupt(position, "truncation beyond the segment's data"));
        }
        let file = self.log.get()?;
        let w = walk(
            &file,
            position,
            self.base_offset,
            index_interval_bytes,
            false,
        )?;
        if let Some(reason) = w.stopped {
            return Err(self.corrupt(position, &format!("not a batch boundary: {reason}")));
        }
        file.set_len(position)?;
        file.sync_all()?;
        let removed = self.size - position;
        self.size = position;
        self.verified.fetch_min(position, Ordering::AcqRel);
        self.next_offset = w.next_offset;
        self.state = w.state;
        self.poisoned = false;
        self.first_write_ms = if position == 0 {
            None
        } else {
            // Rolling by segment.ms keeps its clock if the segment was active, else starts it
            // from the first batch's timestamp (as a reopen would).
            self.first_write_ms
                .or(w.first_max_timestamp.filter(|&t| t >= 0))
        };
        self.index = OffsetIndex::new(self.index.location().clone(), w.index);
        self.time_index = TimeIndex::new(self.time_index.location().clone(), w.time);
        self.index.rewrite_or_defer();
        self.time_index.rewrite_or_defer();
        Ok(removed)
    }

    /// The byte range of whole batches starting at `pos` (a batch boundary): as many as fit in
    /// `max_bytes`, and only batches whose last offset is < `max_offset`. If the first batch does
    /// not fit it is included anyway when `min_one`. Only batch headers are read. Returns the
    /// range (None when empty) and whether it stopped only because the segment ended (so the
    /// caller may continue with the next segment).
    pub fn slice_batches(
        &self,
        pos: u64,
        max_bytes: usize,
        min_one: bool,
        max_offset: i64,
    ) -> Result<(Option<FileSlice>, bool), LogError> {
        let file = self.log.get()?;
        let mut r = PosReader::new(&file, self.size, 4096);
        let mut end = pos;
        let mut reached_end = true;
        while end < self.size {
            let h = match self.header_at(&mut r, end) {
                Ok(h) => h,
                Err(e) if end == pos => return Err(e),
                Err(e) => {
                    tracing::warn!(segment = %self.log.path().display(), position = end, "invalid batch header during read; returning the batches before it: {e}");
                    reached_end = false;
                    break;
                }
            };
            if h.last_offset() >= max_offset {
                reached_end = false;
                break;
            }
            let taken = end - pos;
            if taken + h.size() > max_bytes as u64 && !(taken == 0 && min_one) {
                reached_end = false;
                break;
            }
            end += h.size();
        }
        let slice = (end > pos).then(|| FileSlice {
            file: file.clone(),
            position: pos,
            len: end - pos,
            verified: Some(self.verified.clone()),
        });
        Ok((slice, reached_end && end == self.size))
    }

    /// [`Self::slice_batches`], copied into memory.
    pub fn read_batches(
        &self,
        pos: u64,
        max_bytes: usize,
        min_one: bool,
        max_offset: i64,
    ) -> Result<(Vec<u8>, bool), LogError> {
        let (slice, more) = self.slice_batches(pos, max_bytes, min_one, max_offset)?;
        let data = match slice {
            Some(s) => s.read()?,
            None => Vec::new(),
        };
        Ok((data, more))
    }

    /// Read the whole batch at `pos` and decode its records (offset, timestamp), inflating
    /// them to at most `inflate_limit` bytes; None (logged) for a batch whose records cannot be
    /// opened, which the callers answer from the batch header instead.
    fn decode_batch_at(
        &self,
        pos: u64,
        h: &BatchHeader,
        inflate_limit: usize,
    ) -> Result<Option<Vec<(i64, i64)>>, LogError> {
        let mut data = vec![0u8; h.size() as usize];
        self.log.get()?.read_exact_at(&mut data, pos)?;
        match records::decode_batch(h, &data, inflate_limit) {
            Ok(b) => Ok(Some(
                b.records.iter().map(|r| (r.offset, r.timestamp)).collect(),
            )),
            Err(e) => {
                tracing::warn!(segment = %self.log.path().display(), offset = h.base_offset, "answering from the batch header: {e}");
                Ok(None)
            }
        }
    }

    /// Earliest record with timestamp >= `ts` and offset >= `min_offset` in this segment:
    /// `(offset, timestamp)`.
    /// A batch whose records cannot be opened (see [`Self::decode_batch_at`]) answers with its
    /// first offset and its max timestamp.
    pub fn offset_for_timestamp(
        &self,
        ts: i64,
        min_offset: i64,
        inflate_limit: usize,
    ) -> Result<Option<(i64, i64)>, LogError> {
        if self.state.max_timestamp < ts {
            return Ok(None);
        }
        let start = match self.time_index.lookup(ts) {
            Some(rel) => self.index.lookup(i64::from(rel)),
            None => 0,
        };
        let mut found = None;
        self.walk_headers(start, &mut |pos, h| {
            if h.last_offset() < min_offset || h.max_timestamp < ts {
                return Ok(true);
            }
            let Some(records) = self.decode_batch_at(pos, h, inflate_limit)? else {
                found = Some((h.base_offset.max(min_offset), h.max_timestamp));
                return Ok(false);
            };
            for (offset, rts) in records {
                if rts >= ts && offset >= min_offset {
                    found = Some((offset, rts));
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// Offset and timestamp of the first record carrying this segment's max timestamp.
    pub fn max_timestamp_record(
        &self,
        inflate_limit: usize,
    ) -> Result<Option<(i64, i64)>, LogError> {
        let target = self.state.max_timestamp;
        if target < 0 {
            return Ok(None);
        }
        let start = self
            .index
            .lookup(self.state.offset_of_max_timestamp - self.base_offset);
        let mut found = None;
        self.walk_headers(start, &mut |pos, h| {
            if h.max_timestamp != target {
                return Ok(true);
            }
            if h.is_log_append_time() {
                found = Some((h.base_offset, target));
                return Ok(false);
            }
            let recs = self
                .decode_batch_at(pos, h, inflate_limit)?
                .unwrap_or_default();
            let first = recs.iter().find(|(_, ts)| *ts == target);
            found = Some(first.map_or((h.last_offset(), target), |(o, _)| (*o, target)));
            Ok(false)
        })?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::rewrite_base_offset_and_epoch;
    use crate::log::test_util::*;
    use kafka_protocol::records::Compression;

    fn append_one(seg: &mut LogSegment, mut data: Vec<u8>, base: i64, interval: u32) -> Vec<u8> {
        rewrite_base_offset_and_epoch(&mut data, base, 0);
        let h = BatchHeader::parse(&data).unwrap();
        seg.append(&data, &[(0, h)], interval, 0, false).unwrap();
        data
    }

    #[test]
    fn index_policy_matches_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg =
            LogSegment::create(&Arc::from(dir.path()), 100, &OpenFiles::shared()).unwrap();
        let mut next = 100;
        let mut sizes = vec![];
        for i in 0..20 {
            let ts = [5, 3, 8, 8, 2, 9, 1, 12, 12, 4][i % 10] * 1000 + i as i64;
            let b = batch_bytes(&[(ts, "some value here"), (ts - 1, "x")], Compression::None);
            sizes.push(b.len() as u64);
            append_one(&mut seg, b, next, 100);
            next += 2;
        }
        assert_eq!(seg.next_offset(), 140);
        assert_eq!(seg.size(), sizes.iter().sum::<u64>());
        assert!(!seg.index.entries().is_empty());
        let idx = seg.index.entries().to_vec();
        let tidx = seg.time_index.entries().to_vec();
        // entries point at batch starts with the batch's last offset
        for e in &idx {
            let file = seg.log.get().unwrap();
            let mut r = PosReader::new(&file, seg.size, 64);
            let h = seg.header_at(&mut r, u64::from(e.position)).unwrap();
            assert_eq!(h.last_offset(), 100 + i64::from(e.relative_offset));
        }
        assert_eq!(seg.max_timestamp(), 12018);
        assert_eq!(seg.offset_of_max_timestamp(), 137);
        drop(seg);
        // reopen as active: the rebuild computes exactly what the append path wrote
        let seg = LogSegment::open(
            &Arc::from(dir.path()),
            100,
            true,
            100,
            0,
            &OpenFiles::shared(),
        )
        .unwrap();
        assert_eq!(seg.index.entries(), &idx[..]);
        assert_eq!(seg.time_index.entries(), &tidx[..]);
        assert_eq!(seg.next_offset(), 140);
        assert_eq!(seg.max_timestamp(), 12018);
        // lookups
        assert_eq!(seg.find_batch_position(100).unwrap(), Some(0));
        assert_eq!(seg.find_batch_position(101).unwrap(), Some(0));
        assert_eq!(seg.find_batch_position(102).unwrap(), Some(sizes[0]));
        assert_eq!(
            seg.find_batch_position(139).unwrap(),
            Some(seg.size() - sizes[19])
        );
        assert_eq!(seg.find_batch_position(140).unwrap(), None);
        assert_eq!(
            seg.max_timestamp_record(usize::MAX).unwrap(),
            Some((136, 12018))
        );
        assert_eq!(
            seg.offset_for_timestamp(12019, 0, usize::MAX).unwrap(),
            None
        );
        assert_eq!(
            seg.offset_for_timestamp(12008, 0, usize::MAX).unwrap(),
            Some((116, 12008))
        );
        assert_eq!(
            seg.offset_for_timestamp(8000, 0, usize::MAX).unwrap(),
            Some((104, 8002))
        );
        assert_eq!(
            seg.offset_for_timestamp(0, 0, usize::MAX).unwrap(),
            Some((100, 5000))
        );
        assert_eq!(
            seg.offset_for_timestamp(0, 131, usize::MAX).unwrap(),
            Some((131, 9014))
        );
    }

    #[test]
    fn a_batch_too_big_to_open_answers_from_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg =
            LogSegment::create(&Arc::from(dir.path()), 100, &OpenFiles::shared()).unwrap();
        let zeros = "\0".repeat(1 << 20);
        let recs = [
            (Some("a"), Some(zeros.as_str()), 5000),
            (Some("b"), Some("x"), 7000),
        ];
        append_one(&mut seg, keyed_batch(&recs, Compression::Zstd), 100, 1);
        // Opened: the exact record.
        assert_eq!(
            seg.offset_for_timestamp(6000, 0, usize::MAX).unwrap(),
            Some((101, 7000))
        );
        assert_eq!(
            seg.max_timestamp_record(usize::MAX).unwrap(),
            Some((101, 7000))
        );
        // Too big to open under a 64 KiB limit: the batch's first offset and max timestamp.
        assert_eq!(
            seg.offset_for_timestamp(6000, 0, 65536).unwrap(),
            Some((100, 7000))
        );
        assert_eq!(seg.max_timestamp_record(65536).unwrap(), Some((101, 7000)));
    }

    #[test]
    fn a_write_that_could_not_be_undone_is_undone_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(&Arc::from(dir.path()), 0, &OpenFiles::shared()).unwrap();
        let a = append_one(&mut seg, batch_bytes(&[(1, "a")], Compression::None), 0, 50);
        // What a failed write whose cut failed too leaves: garbage past the data, no appends.
        (&*seg.log.get().unwrap())
            .write_all(b"half a batch")
            .unwrap();
        seg.poisoned = true;
        let b = append_one(&mut seg, batch_bytes(&[(2, "b")], Compression::None), 1, 50);
        assert!(!seg.is_poisoned());
        assert_eq!(std::fs::read(seg.log_path()).unwrap(), [a, b].concat());
        assert_eq!(seg.next_offset(), 2);
    }

    #[test]
    fn inactive_open_uses_indexes_and_final_time_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(&Arc::from(dir.path()), 0, &OpenFiles::shared()).unwrap();
        for i in 0..10 {
            append_one(
                &mut seg,
                batch_bytes(&[(1000 + i, "v")], Compression::None),
                i,
                50,
            );
        }
        seg.seal().unwrap();
        let t = seg.time_index.entries().to_vec();
        assert_eq!(t.last().unwrap().timestamp, 1009);
        assert_eq!(t.last().unwrap().relative_offset, 9);
        drop(seg);
        let seg = LogSegment::open(
            &Arc::from(dir.path()),
            0,
            false,
            50,
            0,
            &OpenFiles::shared(),
        )
        .unwrap();
        assert_eq!(seg.next_offset(), 10);
        assert_eq!(seg.max_timestamp(), 1009);
        assert_eq!(seg.offset_of_max_timestamp(), 9);
        assert_eq!(seg.time_index.entries(), &t[..]);
    }

    #[test]
    fn read_batches_respects_limits() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(&Arc::from(dir.path()), 0, &OpenFiles::shared()).unwrap();
        let mut all = vec![];
        for i in 0..3 {
            all.push(append_one(
                &mut seg,
                batch_bytes(&[(1, "abcdefgh"), (2, "ij")], Compression::None),
                i * 2,
                4096,
            ));
        }
        let s0 = all[0].len();
        let (b, end) = seg.read_batches(0, usize::MAX, false, i64::MAX).unwrap();
        assert_eq!(b, all.concat());
        assert!(end);
        let (b, end) = seg.read_batches(0, s0 * 2 + 5, false, i64::MAX).unwrap();
        assert_eq!(b, all[..2].concat());
        assert!(!end);
        let (b, _) = seg.read_batches(0, 10, false, i64::MAX).unwrap();
        assert!(b.is_empty());
        let (b, end) = seg.read_batches(0, 10, true, i64::MAX).unwrap();
        assert_eq!(b, all[0]);
        assert!(!end);
        let (b, end) = seg.read_batches(s0 as u64 * 2, 0, true, i64::MAX).unwrap();
        assert_eq!(b, all[2]);
        assert!(end);
        // max_offset: batches must end before it
        let (b, end) = seg.read_batches(0, usize::MAX, true, 4).unwrap();
        assert_eq!(b, all[..2].concat());
        assert!(!end);
        let (b, _) = seg.read_batches(0, usize::MAX, true, 1).unwrap();
        assert!(b.is_empty());
    }
}
