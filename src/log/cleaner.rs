//! Log compaction (`cleanup.policy=compact`) in three phases, so the partition lock is held only
//! briefly and producers are never blocked by the cleaning work itself:
//!
//! 1. [`PartitionLog::plan_compaction`] (under the lock, cheap): picks the segments to clean — the
//!    longest prefix of *closed* segments whose max timestamp is `<= now - min_compaction_lag_ms`
//!    (Kafka's "first uncleanable offset": the first segment violating the lag, and the active
//!    segment, end the cleanable range) — and snapshots `(base offset, Arc<File>, size)` of
//!    them and of every later segment up to the log end at plan time (the active segment
//!    included, at its size then). Nothing is read yet.
//! 2. [`CompactionPlan::build`] (no lock, the expensive part): reads the snapshot through the
//!    shared file handles. First pass, over the whole snapshot (planned segments *and* the rest of
//!    the log, so a key overwritten later — even in the active segment — is dropped from the old
//!    segments too): the newest offset of every key, the outcome of every transaction, and the
//!    last batch of every producer. Second pass, over the planned segments: each segment is
//!    rewritten into `<base>.log.cleaned` (+ `.index.cleaned`, `.timeindex.cleaned`, fsynced),
//!    keeping its base offset. Segments where nothing would be removed are left alone.
//! 3. [`PartitionLog::install_compaction`] (under the lock, a few renames): checks that every
//!    planned segment is still there unchanged (same file handle and size; retention, DeleteRecords
//!    or another compaction may have replaced or deleted it meanwhile), else discards the result.
//!    Then swaps the cleaned files in (protocol below) and reopens those segments from their
//!    prebuilt indexes. Appends made after the plan are never touched.
//!
//! # What is kept
//!
//! Offsets never change: a rewritten batch keeps its baseOffset, lastOffsetDelta, baseTimestamp,
//! partitionLeaderEpoch, attributes (codec, timestamp type, transactional/control bits),
//! producerId/epoch and baseSequence; the kept records are copied byte for byte (so each keeps its
//! offset, timestamp, key, value and headers, duplicate header keys included); recordsCount,
//! maxTimestamp (CreateTime batches: the largest kept record timestamp; LogAppendTime batches keep
//! theirs), batchLength and CRC are recomputed, and the records are recompressed with the batch's
//! own codec. A batch whose records are all kept is copied unchanged.
//!
//! A record is removed when
//! * its key has a newer record at a higher offset in the snapshot (non-transactional, or in a
//!   transaction committed within the snapshot), or
//! * it is the newest record of its key, its value is null (a tombstone), and its timestamp is
//!   older than `now - delete_retention_ms` (Kafka's delete horizon, simplified; a negative
//!   `delete_retention_ms` keeps tombstones forever), or
//! * it belongs to an aborted transaction (its producer's transactional batches before an ABORT
//!   marker of that producer, within the snapshot).
//!
//! Records without a key are kept (Kafka rejects them on compacted topics; fjord keeps whatever
//! was written). Records of transactions still open at the end of the snapshot never supersede
//! anything (they may yet abort), and are themselves removed only when superseded. Control batches
//! (transaction markers) are always kept as they are — Kafka eventually removes markers whose
//! transaction's data is gone; keeping them is always correct and costs one small batch each.
//!
//! Idempotence: a batch left with no records is dropped, unless it is the last batch of its
//! producer (producerId >= 0) in the snapshot: then an empty batch (header only, recordsCount 0,
//! uncompressed) with the original offsets, producer fields and sequence is kept, as Kafka does,
//! so producer state (last sequence / offset) can still be rebuilt from the log.
//!
//! # Swap protocol and crash safety
//!
//! For every rewritten segment, in ascending base offset order:
//! * build writes and fsyncs `B.log.cleaned`, `B.index.cleaned`, `B.timeindex.cleaned`;
//! * install renames them to `B.index.swap`, `B.timeindex.swap` and, last, `B.log.swap` — the
//!   rename of `B.log.swap` is the commit point of that segment — for all segments, then fsyncs the
//!   directory; then, per segment, renames `B.index.swap` → `B.index`, `B.timeindex.swap` →
//!   `B.timeindex` and `B.log.swap` → `B.log` (each atomically replacing the old file), and reopens it.
//!
//! On open ([`super::recovery::recover_leftovers`], called by [`PartitionLog::open`]): every `*.cleaned` file is
//! deleted (an unfinished or uninstalled build); for every `B.log.swap` the swap is completed
//! (its index `.swap` files are moved into place, or, if missing, the old index files are deleted
//! so they are rebuilt from the data); index `.swap` files without a `B.log.swap` are deleted.
//! Because segments are committed in ascending order, a crash leaves a prefix of the planned
//! segments cleaned, and any prefix is consistent: a record is only ever removed in favour of a
//! newer one at a higher offset, and a removed tombstone's older values all lie in the same
//! segment or earlier ones (the plan always starts at the first segment).
//!
//! An uninstalled [`CleanedLog`] deletes its `.cleaned` files when dropped. Only one compaction
//! per partition should run at a time (two concurrent builds of the same segments would write the
//! same `.cleaned` names); the caller serialises them.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::LogError;
use super::batch::BatchHeader;
use super::control::{Marker, batch_marker};
use super::files::{
    CLEANED, SEGMENT_SUFFIXES, SWAP, SegmentPath, remove_if_exists, segment_path, sync_dir,
};
use super::index::{OffsetIndex, TimeIndex};
use super::partition_log::PartitionLog;
use super::records::{BatchReader, DecodedBatch, READ_CHUNK, decode_batch, encode_batch};
use super::segment::{FileSlice, LogSegment, compute_inactive_indexes};
use std::sync::Arc;

/// One segment of a [`CompactionPlan`]: a snapshot of its data.
#[derive(Clone, Debug)]
pub struct PlannedSegment {
    pub base_offset: i64,
    /// Offset after the last batch at plan time.
    pub next_offset: i64,
    /// The segment's data at plan time (`position` 0, `len` = size then).
    pub slice: FileSlice,
    /// [`LogSegment::id`] at plan time: install checks the segment is still that one.
    pub id: u64,
}

/// What [`PartitionLog::plan_compaction`] chose; see the module docs.
#[derive(Clone, Debug)]
pub struct CompactionPlan {
    dir: PathBuf,
    index_interval_bytes: u32,
    /// [`super::LogConfig::max_inflated_batch_bytes`] at plan time.
    inflate_limit: usize,
    /// Segments to clean, oldest first (a prefix of the log's closed segments).
    clean: Vec<PlannedSegment>,
    /// Every later segment up to the log end at plan time (read only, for newer keys).
    rest: Vec<PlannedSegment>,
    end_offset: i64,
    /// The log's truncation count at plan time: a truncation from the end may have removed the
    /// newer records the key map saw, so the result of a plan made before one is discarded.
    truncations: u64,
}

/// Counters of one [`CompactionPlan::build`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionStats {
    /// Records in the planned segments (control records included).
    pub records_read: u64,
    /// Records removed (superseded, expired tombstones, aborted).
    pub records_removed: u64,
    /// Of those, expired tombstones.
    pub tombstones_removed: u64,
    /// Of those, records of aborted transactions.
    pub aborted_removed: u64,
    /// Batches dropped entirely.
    pub batches_removed: u64,
    /// Size of the planned segments.
    pub bytes_before: u64,
    /// Size of the planned segments once cleaned.
    pub bytes_after: u64,
    /// Batches whose records could not be opened (they inflate past the limit, or hold data
    /// their codec cannot read although their CRC is right): kept as they are, and their keys
    /// supersede nothing.
    pub batches_unreadable: u64,
}

/// One planned segment after [`CompactionPlan::build`].
#[derive(Debug)]
struct CleanedSegment {
    base_offset: i64,
    original_id: u64,
    original_size: u64,
    /// False: nothing to remove, no files were written, install leaves the segment alone.
    changed: bool,
}

/// The output of [`CompactionPlan::build`], to hand to [`PartitionLog::install_compaction`].
/// Dropping it uninstalled deletes its `.cleaned` files.
#[derive(Debug)]
pub struct CleanedLog {
    dir: PathBuf,
    segments: Vec<CleanedSegment>,
    stats: CompactionStats,
    /// [`PartitionLog`]'s truncation count when the plan was made.
    truncations: u64,
}

/// What [`PartitionLog::install_compaction`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionResult {
    /// False if the planned segments changed meanwhile and the result was discarded.
    pub installed: bool,
    /// Base offsets of the segments replaced by cleaned ones.
    pub replaced_segments: Vec<i64>,
    pub stats: CompactionStats,
}

impl CleanedLog {
    /// Counters of the build.
    pub fn stats(&self) -> &CompactionStats {
        &self.stats
    }
    /// Base offsets of the segments that were rewritten (others had nothing to remove).
    pub fn rewritten_segments(&self) -> Vec<i64> {
        self.segments
            .iter()
            .filter(|s| s.changed)
            .map(|s| s.base_offset)
            .collect()
    }

    /// Delete this result's `.cleaned` and `.swap` files (best effort) and forget them.
    fn discard(&mut self) {
        for s in self.segments.drain(..).filter(|s| s.changed) {
            for sfx in SEGMENT_SUFFIXES {
                for extra in [CLEANED, SWAP] {
                    let p = segment_path(&self.dir, s.base_offset, sfx, extra);
                    if let Err(e) = remove_if_exists(&p) {
                        tracing::warn!(file = %p.display(), error = %e, "cannot delete compaction file");
                    }
                }
            }
        }
    }
}

impl Drop for CleanedLog {
    fn drop(&mut self) {
        self.discard();
    }
}

// ---------------------------------------------------------------------------------------------
// Planning, building, installing.

/// Everything the first pass learns about the snapshot.
#[derive(Default)]
struct KeyMap {
    /// Newest offset of every key (non-transactional or committed records).
    newest: HashMap<Vec<u8>, i64>,
    /// Base offsets of transactional data batches of aborted transactions.
    aborted: HashSet<i64>,
    /// Base offset of the last batch of every producer id.
    last_batch_of_producer: HashMap<i64, i64>,
}

/// A transaction seen in the first pass and not yet ended by a marker.
#[derive(Default)]
struct OpenTxn {
    batches: Vec<i64>,
    keys: Vec<(Vec<u8>, i64)>,
}

fn note_newest(map: &mut HashMap<Vec<u8>, i64>, key: Vec<u8>, offset: i64) {
    let e = map.entry(key).or_insert(offset);
    *e = (*e).max(offset);
}

impl CompactionPlan {
    /// The partition directory the plan was made for (where [`Self::build`] should write).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Base offsets of the segments to clean, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.clean.iter().map(|s| s.base_offset).collect()
    }
    /// The planned segments (snapshots).
    pub fn segments(&self) -> &[PlannedSegment] {
        &self.clean
    }
    /// `[start, end)`: the offsets the key map is built from — the first planned segment's base
    /// to the log end offset at plan time (later appends are not considered).
    pub fn key_map_range(&self) -> (i64, i64) {
        (
            self.clean
                .first()
                .map_or(self.end_offset, |s| s.base_offset),
            self.end_offset,
        )
    }

    /// The records of a data batch, or None (logged) when they cannot be opened: a batch the
    /// cleaner cannot read is kept as it is rather than stopping compaction of the partition.
    fn open_batch(&self, h: &BatchHeader, data: &[u8]) -> Option<DecodedBatch> {
        match decode_batch(h, data, self.inflate_limit) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), offset = h.base_offset, "compaction keeps a batch it cannot read: {e}");
                None
            }
        }
    }

    /// First pass: newest offset per key, aborted transactions, last batch per producer.
    fn build_key_map(&self) -> Result<KeyMap, LogError> {
        let mut map = KeyMap::default();
        let mut open: HashMap<i64, OpenTxn> = HashMap::new();
        for seg in self.clean.iter().chain(&self.rest) {
            let mut r = BatchReader::new(&seg.slice);
            while let Some((h, data)) = r.next_batch()? {
                let pid = h.producer_id;
                if pid >= 0 {
                    map.last_batch_of_producer.insert(pid, h.base_offset);
                }
                if h.is_control() {
                    if h.is_transactional() && pid >= 0 {
                        let txn = open.remove(&pid).unwrap_or_default();
                        match batch_marker(&h, &data) {
                            Some(Marker::Commit) => {
                                for (k, o) in txn.keys {
                                    note_newest(&mut map.newest, k, o);
                                }
                            }
                            Some(Marker::Abort) => map.aborted.extend(txn.batches),
                            other => {
                                tracing::warn!(offset = h.base_offset, marker = ?other, "unknown control record; transaction left undecided");
                            }
                        }
                    }
                    continue;
                }
                let Some(batch) = self.open_batch(&h, &data) else {
                    if h.is_transactional() && pid >= 0 {
                        open.entry(pid).or_default().batches.push(h.base_offset);
                    }
                    continue;
                };
                if h.is_transactional() && pid >= 0 {
                    let txn = open.entry(pid).or_default();
                    txn.batches.push(h.base_offset);
                    for rec in &batch.records {
                        if let Some(k) = batch.key(rec) {
                            txn.keys.push((k.to_vec(), rec.offset));
                        }
                    }
                } else {
                    for rec in &batch.records {
                        if let Some(k) = batch.key(rec) {
                            note_newest(&mut map.newest, k.to_vec(), rec.offset);
                        }
                    }
                }
            }
        }
        Ok(map)
    }

    /// Second phase (no lock needed): compute the cleaned segments and write them as
    /// `<base>.log.cleaned` (+ index files) into `dir`, which must be the partition directory
    /// ([`Self::dir`]; the install renames within it). See the module docs for what is kept.
    pub fn build(
        &self,
        delete_retention_ms: i64,
        now_ms: i64,
        dir: &Path,
    ) -> Result<CleanedLog, LogError> {
        let map = self.build_key_map()?;
        let delete_horizon = if delete_retention_ms < 0 {
            i64::MIN
        } else {
            now_ms.saturating_sub(delete_retention_ms)
        };
        let mut out = CleanedLog {
            dir: dir.to_path_buf(),
            segments: Vec::with_capacity(self.clean.len()),
            stats: CompactionStats::default(),
            truncations: self.truncations,
        };
        for seg in &self.clean {
            // `out` deletes what was written so far if this fails.
            let cs = self.clean_segment(seg, &map, delete_horizon, dir, &mut out.stats)?;
            out.segments.push(cs);
        }
        tracing::debug!(dir = %dir.display(), stats = ?out.stats, "compaction built");
        Ok(out)
    }

    fn clean_segment(
        &self,
        seg: &PlannedSegment,
        map: &KeyMap,
        delete_horizon: i64,
        dir: &Path,
        stats: &mut CompactionStats,
    ) -> Result<CleanedSegment, LogError> {
        let base = seg.base_offset;
        stats.bytes_before += seg.slice.len;
        // Decide per batch; batches stay in memory only one at a time.
        let mut writer: Option<BufWriter<File>> = None;
        let mut written = 0u64;
        let log_path = segment_path(dir, base, ".log", CLEANED);
        let mut copied_prefix = 0u64; // bytes of unchanged batches before the first change
        let mut r = BatchReader::new(&seg.slice);
        let result = (|| -> Result<(), LogError> {
            while let Some((h, data)) = r.next_batch()? {
                let out_bytes: Option<Vec<u8>> = if h.is_control() {
                    stats.records_read += h.records_count.max(0) as u64;
                    None // unchanged
                } else if let Some(batch) = self.open_batch(&h, &data) {
                    stats.records_read += batch.records.len() as u64;
                    let aborted = h.is_transactional() && map.aborted.contains(&h.base_offset);
                    let mut kept = Vec::with_capacity(batch.records.len());
                    for rec in &batch.records {
                        let keep = if aborted {
                            stats.aborted_removed += 1;
                            false
                        } else if let Some(k) = batch.key(rec) {
                            match map.newest.get(k) {
                                Some(&n) if n > rec.offset => false,
                                Some(&n)
                                    if n == rec.offset
                                        && rec.value_is_null
                                        && rec.timestamp < delete_horizon =>
                                {
                                    stats.tombstones_removed += 1;
                                    false
                                }
                                _ => true,
                            }
                        } else {
                            true
                        };
                        if keep {
                            kept.push(rec);
                        }
                    }
                    stats.records_removed += (batch.records.len() - kept.len()) as u64;
                    if kept.len() == batch.records.len() {
                        None
                    } else if !kept.is_empty()
                        || (h.producer_id >= 0
                            && map.last_batch_of_producer.get(&h.producer_id)
                                == Some(&h.base_offset))
                    {
                        Some(encode_batch(&h, &batch, &kept)?)
                    } else {
                        stats.batches_removed += 1;
                        Some(Vec::new())
                    }
                } else {
                    stats.batches_unreadable += 1;
                    stats.records_read += h.records_count.max(0) as u64;
                    None // kept as it is
                };
                match (out_bytes, writer.as_mut()) {
                    (None, None) => copied_prefix += data.len() as u64,
                    (None, Some(w)) => {
                        w.write_all(&data)?;
                        written += data.len() as u64;
                    }
                    (Some(new), w) => {
                        let w = match w {
                            Some(w) => w,
                            None => {
                                // First change: start the file with the unchanged prefix.
                                let mut w =
                                    BufWriter::with_capacity(1 << 20, File::create(&log_path)?);
                                copy_range(&seg.slice, copied_prefix, &mut w)?;
                                written += copied_prefix;
                                writer.insert(w)
                            }
                        };
                        w.write_all(&new)?;
                        written += new.len() as u64;
                    }
                }
            }
            Ok(())
        })();
        let cleanup = |e: LogError| {
            for sfx in SEGMENT_SUFFIXES {
                let _ = remove_if_exists(&segment_path(dir, base, sfx, CLEANED));
            }
            e
        };
        result.map_err(cleanup)?;
        let Some(w) = writer else {
            stats.bytes_after += seg.slice.len;
            return Ok(CleanedSegment {
                base_offset: base,
                original_id: seg.id,
                original_size: seg.slice.len,
                changed: false,
            });
        };
        let finish = || -> Result<(), LogError> {
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            let file = File::open(&log_path)?;
            let (idx, tidx) =
                compute_inactive_indexes(&file, written, base, self.index_interval_bytes)?;
            let at = |suffix| SegmentPath {
                dir: Arc::from(dir),
                base,
                suffix,
                extra: CLEANED,
            };
            OffsetIndex::new(at(".index"), idx).rewrite()?;
            TimeIndex::new(at(".timeindex"), tidx).rewrite()?;
            Ok(())
        };
        finish().map_err(cleanup)?;
        stats.bytes_after += written;
        Ok(CleanedSegment {
            base_offset: base,
            original_id: seg.id,
            original_size: seg.slice.len,
            changed: true,
        })
    }
}

/// Copy `[0, len)` of `slice` to `w`.
fn copy_range(slice: &FileSlice, len: u64, w: &mut impl Write) -> Result<(), LogError> {
    let mut buf = vec![0u8; READ_CHUNK.min(len) as usize];
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        slice.read_into(&mut buf[..n], at)?;
        w.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

impl PartitionLog {
    /// Phase 1 of compaction (see [`super::cleaner`]); None if no closed segment is old enough.
    pub fn plan_compaction(
        &self,
        min_compaction_lag_ms: i64,
        now_ms: i64,
    ) -> Option<CompactionPlan> {
        let horizon = now_ms.saturating_sub(min_compaction_lag_ms.max(0));
        let n = self.segments.len() - 1;
        let cleanable = self.segments[..n]
            .iter()
            .take_while(|s| s.max_timestamp() <= horizon)
            .count();
        if cleanable == 0 {
            return None;
        }
        let snap = |s: &LogSegment| -> Option<PlannedSegment> {
            let slice = s
                .slice_all()
                .map_err(|e| {
                    tracing::warn!(segment = %s.log_path().display(), "cannot plan a compaction: {e}")
                })
                .ok()?;
            Some(PlannedSegment {
                base_offset: s.base_offset(),
                next_offset: s.next_offset(),
                slice,
                id: s.id(),
            })
        };
        Some(CompactionPlan {
            dir: self.dir.to_path_buf(),
            index_interval_bytes: self.config.index_interval_bytes,
            inflate_limit: self.config.max_inflated_batch_bytes,
            clean: self.segments[..cleanable]
                .iter()
                .map(snap)
                .collect::<Option<_>>()?,
            rest: self.segments[cleanable..]
                .iter()
                .map(snap)
                .collect::<Option<_>>()?,
            end_offset: self.log_end_offset(),
            truncations: self.truncations,
        })
    }

    /// Phase 3 of compaction (see [`super::cleaner`]): swap the cleaned segments in, or discard
    /// them (`installed: false`) if any planned segment was deleted or replaced meanwhile, or if
    /// the log was truncated from the end since the plan (the newer records that superseded
    /// some of the removed ones may be gone).
    pub fn install_compaction(
        &mut self,
        mut cleaned: CleanedLog,
    ) -> Result<CompactionResult, LogError> {
        let stats = cleaned.stats.clone();
        let closed = &self.segments[..self.segments.len() - 1];
        let still_there = cleaned.truncations == self.truncations
            && cleaned.segments.iter().all(|c| {
                closed.iter().any(|s| {
                    s.base_offset() == c.base_offset
                        && s.id() == c.original_id
                        && s.size() == c.original_size
                })
            });
        if !still_there {
            tracing::info!(dir = %self.dir.display(), "segments changed during compaction; discarding the result");
            cleaned.discard();
            return Ok(CompactionResult {
                installed: false,
                replaced_segments: Vec::new(),
                stats,
            });
        }
        let src = cleaned.dir.clone();
        let dir = self.dir.clone();
        let changed: Vec<i64> = cleaned.rewritten_segments();
        // Commit: `.cleaned` → `.swap`, indexes first, the log (the commit point) last.
        for &base in &changed {
            for sfx in [".index", ".timeindex", ".log"] {
                if let Err(e) = fs::rename(
                    segment_path(&src, base, sfx, CLEANED),
                    segment_path(&dir, base, sfx, SWAP),
                ) {
                    // Nothing of this segment or later ones is committed: abandon them.
                    for &b in changed.iter().skip_while(|&&b| b != base) {
                        for sfx in SEGMENT_SUFFIXES {
                            let _ = remove_if_exists(&segment_path(&dir, b, sfx, SWAP));
                        }
                    }
                    // Committed earlier segments are completed now (or at the next open).
                    let done: Vec<i64> =
                        changed.iter().copied().take_while(|&b| b != base).collect();
                    cleaned
                        .segments
                        .retain(|c| !c.changed || !done.contains(&c.base_offset));
                    self.complete_swaps(&done)?;
                    return Err(e.into());
                }
            }
        }
        sync_dir(&dir);
        // `cleaned` no longer owns any file.
        cleaned.segments.clear();
        self.complete_swaps(&changed)?;
        self.remove_empty_segments();
        tracing::info!(dir = %dir.display(), segments = ?changed, stats = ?stats, "compaction installed");
        Ok(CompactionResult {
            installed: true,
            replaced_segments: changed,
            stats,
        })
    }

    /// Delete the closed segments that compaction left empty, except the first (whose base
    /// offset is the log start) and the active one: every key in them had a newer record, and
    /// kept, each would hold three open files forever (Kafka's cleaner merges small segments
    /// instead). Offsets may have gaps, so the neighbours need no change. The `.log` goes first:
    /// a crash leaves index files without a segment, which the next open deletes.
    fn remove_empty_segments(&mut self) {
        let mut removed = false;
        let mut i = 1;
        while i + 1 < self.segments.len() {
            if self.segments[i].size() != 0 {
                i += 1;
                continue;
            }
            let seg = self.segments.remove(i);
            let path = seg.log_path().to_path_buf();
            match seg.delete_files() {
                Ok(()) => {
                    tracing::debug!(segment = %path.display(), "removed a segment compaction emptied")
                }
                Err(e) => {
                    tracing::warn!(segment = %path.display(), "cannot remove a segment compaction emptied: {e}")
                }
            }
            removed = true;
        }
        if removed {
            sync_dir(&self.dir);
        }
    }

    /// Move committed `.swap` files into place and reopen those segments.
    fn complete_swaps(&mut self, bases: &[i64]) -> Result<(), LogError> {
        let dir = self.dir.clone();
        let interval = self.config.index_interval_bytes;
        for &base in bases {
            for sfx in [".index", ".timeindex", ".log"] {
                fs::rename(
                    segment_path(&dir, base, sfx, SWAP),
                    segment_path(&dir, base, sfx, ""),
                )?;
            }
            let seg = LogSegment::open(&dir, base, false, interval, 0, &self.config.open_files)?;
            if let Some(slot) = self.segments.iter_mut().find(|s| s.base_offset() == base) {
                *slot = seg;
            }
        }
        sync_dir(&dir);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogConfig;
    use crate::log::batch::{BatchHeader, HEADER_SIZE, compute_crc};
    use crate::log::files::segment_file_name;
    use crate::log::test_util::*;
    use bytes::Bytes;
    use kafka_protocol::records::{Compression, Record, RecordBatchDecoder, TimestampType};

    type Kv<'a> = (Option<&'a str>, Option<&'a str>, i64);

    fn open(dir: &Path) -> PartitionLog {
        PartitionLog::open(dir, LogConfig::default(), 0).unwrap()
    }

    fn put(log: &mut PartitionLog, recs: &[Kv<'_>]) -> i64 {
        append_payload(log, &keyed_batch(recs, Compression::None), 0).base_offset
    }

    fn all(log: &PartitionLog) -> Vec<KeyedRecord> {
        decode_keyed(&log.read(log.log_start_offset(), usize::MAX, true).unwrap())
    }

    fn kr(offset: i64, k: &str, v: Option<&str>, ts: i64) -> KeyedRecord {
        (offset, Some(k.into()), v.map(Into::into), ts)
    }

    /// Plan, build and install in one go.
    fn compact(log: &mut PartitionLog, delete_retention_ms: i64, now_ms: i64) -> CompactionResult {
        let plan = log.plan_compaction(0, now_ms).unwrap();
        let cleaned = plan.build(delete_retention_ms, now_ms, plan.dir()).unwrap();
        log.install_compaction(cleaned).unwrap()
    }

    fn no_leftovers(dir: &Path) {
        for n in file_names(dir) {
            assert!(!n.ends_with(".cleaned") && !n.ends_with(".swap"), "{n}");
        }
    }

    fn headers(data: &[u8]) -> Vec<BatchHeader> {
        let mut out = vec![];
        let mut pos = 0;
        while pos < data.len() {
            let h = BatchHeader::parse(&data[pos..]).unwrap();
            let end = pos + h.size() as usize;
            assert_eq!(compute_crc(&data[pos..end]), h.crc);
            out.push(h);
            pos = end;
        }
        out
    }

    /// seg 0: [k1 k2 k3 k6] @0..3, [k1] @4 · seg 5: [k2 k4] @5..6, [k5] @7 · active: [k3] @8, [k1] @9
    fn sample(dir: &Path) -> PartitionLog {
        let mut log = open(dir);
        put(
            &mut log,
            &[
                (Some("k1"), Some("a0"), 100),
                (Some("k2"), Some("b0"), 101),
                (Some("k3"), Some("c0"), 102),
                (Some("k6"), Some("f0"), 103),
            ],
        );
        put(&mut log, &[(Some("k1"), Some("a1"), 104)]);
        log.roll().unwrap();
        put(
            &mut log,
            &[(Some("k2"), Some("b1"), 105), (Some("k4"), Some("d0"), 106)],
        );
        put(&mut log, &[(Some("k5"), Some("e0"), 107)]);
        log.roll().unwrap();
        put(&mut log, &[(Some("k3"), Some("c1"), 108)]);
        put(&mut log, &[(Some("k1"), Some("a2"), 109)]);
        log
    }

    #[test]
    fn keeps_exactly_the_newest_value_per_key_at_original_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = sample(dir.path());
        let before = log.segments_info();
        let plan = log.plan_compaction(0, 1000).unwrap();
        assert_eq!(plan.segment_base_offsets(), vec![0, 5]);
        assert_eq!(plan.key_map_range(), (0, 10));
        assert_eq!(plan.dir(), dir.path());
        let cleaned = plan.build(1000, 1000, plan.dir()).unwrap();
        // segment 5 has nothing to remove: not rewritten
        assert_eq!(cleaned.rewritten_segments(), vec![0]);
        assert_eq!(
            file_names(dir.path())
                .into_iter()
                .filter(|n| n.ends_with(".cleaned"))
                .collect::<Vec<_>>(),
            [
                "00000000000000000000.index.cleaned",
                "00000000000000000000.log.cleaned",
                "00000000000000000000.timeindex.cleaned",
            ]
        );
        let res = log.install_compaction(cleaned).unwrap();
        assert!(res.installed);
        assert_eq!(res.replaced_segments, vec![0]);
        assert_eq!(res.stats.records_read, 8);
        assert_eq!(res.stats.records_removed, 4);
        assert_eq!(res.stats.batches_removed, 1);
        assert_eq!(res.stats.tombstones_removed, 0);
        no_leftovers(dir.path());
        // The kept record k6 (offset delta 3, timestamp delta 3, 2-byte key and value) is
        // 1 (length) + 10 bytes: header 61 + 11.
        assert_eq!(log.segments_info(), vec![(0, 72), before[1], before[2]]);
        assert_eq!(res.stats.bytes_before, before[0].1 + before[1].1);
        assert_eq!(res.stats.bytes_after, 72 + before[1].1);
        assert_eq!(
            fs::metadata(dir.path().join("00000000000000000000.log"))
                .unwrap()
                .len(),
            72
        );
        let expect = vec![
            kr(3, "k6", Some("f0"), 103),
            kr(5, "k2", Some("b1"), 105),
            kr(6, "k4", Some("d0"), 106),
            kr(7, "k5", Some("e0"), 107),
            kr(8, "k3", Some("c1"), 108),
            kr(9, "k1", Some("a2"), 109),
        ];
        assert_eq!(all(&log), expect);
        // the rewritten batch keeps base offset, lastOffsetDelta, base timestamp
        let seg0 = log.segments()[0].slice_all().unwrap().read().unwrap();
        let h = headers(&seg0);
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].base_offset, h[0].last_offset_delta, h[0].records_count),
            (0, 3, 1)
        );
        assert_eq!((h[0].base_timestamp, h[0].max_timestamp), (100, 103));
        // reads at any offset of the old range find the right batch
        assert_eq!(decode_keyed(&log.read(1, 1, true).unwrap())[0].0, 3);
        assert_eq!(decode_keyed(&log.read(4, 1, true).unwrap())[0].0, 5);
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((3, 103)));
        assert_eq!(log.log_end_offset(), 10);
        // indexes were prebuilt: reopening finds the same state
        let idx: Vec<_> = log
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
        let mut log = open(dir.path());
        let idx2: Vec<_> = log
            .segments()
            .iter()
            .map(|s| {
                (
                    s.offset_index().entries().to_vec(),
                    s.time_index().entries().to_vec(),
                )
            })
            .collect();
        assert_eq!(idx, idx2);
        assert_eq!(all(&log), expect);
        // compacting again changes nothing
        let res = compact(&mut log, 1000, 1000);
        assert!(res.installed);
        assert!(res.replaced_segments.is_empty());
        assert_eq!(all(&log), expect);
        // appends continue at the end
        assert_eq!(put(&mut log, &[(Some("k9"), Some("z"), 200)]), 10);
    }

    #[test]
    fn appends_between_plan_and_install_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = sample(dir.path());
        let plan = log.plan_compaction(0, 1000).unwrap();
        // after the plan: k6 overwritten (not seen by this compaction), a roll, more data
        assert_eq!(put(&mut log, &[(Some("k6"), Some("f1"), 110)]), 10);
        log.roll().unwrap();
        assert_eq!(put(&mut log, &[(Some("k2"), Some("b2"), 111)]), 11);
        let cleaned = plan.build(1000, 1000, plan.dir()).unwrap();
        assert_eq!(put(&mut log, &[(Some("k7"), Some("g0"), 112)]), 12);
        let res = log.install_compaction(cleaned).unwrap();
        assert!(res.installed);
        assert_eq!(res.replaced_segments, vec![0]);
        assert_eq!(
            all(&log),
            vec![
                kr(3, "k6", Some("f0"), 103),
                kr(5, "k2", Some("b1"), 105),
                kr(6, "k4", Some("d0"), 106),
                kr(7, "k5", Some("e0"), 107),
                kr(8, "k3", Some("c1"), 108),
                kr(9, "k1", Some("a2"), 109),
                kr(10, "k6", Some("f1"), 110),
                kr(11, "k2", Some("b2"), 111),
                kr(12, "k7", Some("g0"), 112),
            ]
        );
        // the next compaction covers the segments closed since and sees the new values
        let res = compact(&mut log, 1000, 1000);
        assert_eq!(res.replaced_segments, vec![0, 5]);
        assert_eq!(
            all(&log),
            vec![
                kr(6, "k4", Some("d0"), 106),
                kr(7, "k5", Some("e0"), 107),
                kr(8, "k3", Some("c1"), 108),
                kr(9, "k1", Some("a2"), 109),
                kr(10, "k6", Some("f1"), 110),
                kr(11, "k2", Some("b2"), 111),
                kr(12, "k7", Some("g0"), 112),
            ]
        );
        // segment 0 is now empty but stays (offsets 0..4 hold nothing)
        assert_eq!(log.segments_info()[0], (0, 0));
        assert_eq!(decode_keyed(&log.read(0, 1, true).unwrap())[0].0, 6);
        assert_eq!(log.log_start_offset(), 0);
        drop(log);
        let log = open(dir.path());
        assert_eq!(all(&log).len(), 7);
        assert_eq!(log.log_end_offset(), 13);
    }

    #[test]
    fn plan_respects_min_compaction_lag_and_active_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        assert!(log.plan_compaction(0, 0).is_none()); // only the active segment
        put(&mut log, &[(Some("a"), Some("1"), 1000)]);
        assert!(log.plan_compaction(0, 10_000).is_none());
        log.roll().unwrap();
        put(&mut log, &[(Some("a"), Some("2"), 5000)]);
        log.roll().unwrap();
        put(&mut log, &[(Some("a"), Some("3"), 2000)]);
        log.roll().unwrap();
        // lag 1000 at 5999: segment 1 (max 5000) is too young and ends the cleanable range,
        // even though segment 2 (2000) would qualify
        let plan = log.plan_compaction(1000, 5999).unwrap();
        assert_eq!(plan.segment_base_offsets(), vec![0]);
        assert_eq!(plan.key_map_range(), (0, 3));
        assert!(log.plan_compaction(1000, 1999).is_none());
        let plan = log.plan_compaction(1000, 6000).unwrap();
        assert_eq!(plan.segment_base_offsets(), vec![0, 1, 2]);
    }

    #[test]
    fn tombstones_are_dropped_only_after_delete_retention() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        put(
            &mut log,
            &[
                (Some("k1"), Some("v1"), 1000),
                (Some("k2"), Some("v2"), 1000),
            ],
        );
        log.roll().unwrap();
        put(&mut log, &[(Some("k1"), None, 2000)]);
        put(
            &mut log,
            &[(Some("k3"), None, 9000), (None, Some("keyless"), 9000)],
        );
        log.roll().unwrap();
        put(&mut log, &[(Some("k9"), Some("x"), 9500)]);
        // horizon 9500 - 8000 = 1500: the tombstone (2000) is kept, the value it deletes is gone
        let res = compact(&mut log, 8000, 9500);
        assert_eq!(res.stats.tombstones_removed, 0);
        assert_eq!(
            all(&log),
            vec![
                kr(1, "k2", Some("v2"), 1000),
                kr(2, "k1", None, 2000),
                kr(3, "k3", None, 9000),
                (4, None, Some("keyless".into()), 9000),
                kr(5, "k9", Some("x"), 9500),
            ]
        );
        // exactly at the horizon: still kept (timestamp must be older)
        let res = compact(&mut log, 8000, 10_000);
        assert_eq!(res.stats.tombstones_removed, 0);
        assert!(res.replaced_segments.is_empty());
        // past it: dropped; the younger tombstone k3 and the keyless record stay
        let res = compact(&mut log, 8000, 10_001);
        assert_eq!(res.stats.tombstones_removed, 1);
        assert_eq!(res.replaced_segments, vec![2]);
        assert_eq!(
            all(&log),
            vec![
                kr(1, "k2", Some("v2"), 1000),
                kr(3, "k3", None, 9000),
                (4, None, Some("keyless".into()), 9000),
                kr(5, "k9", Some("x"), 9500),
            ]
        );
        // a negative delete retention keeps tombstones forever
        let res = compact(&mut log, -1, i64::MAX);
        assert_eq!(res.stats.tombstones_removed, 0);
        let res = compact(&mut log, 0, 20_000);
        assert_eq!(res.stats.tombstones_removed, 1);
        assert_eq!(all(&log).len(), 3);
    }

    #[test]
    fn gzip_batches_are_recompressed_with_headers_preserved() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        let mut hdrs = kafka_protocol::indexmap::IndexMap::new();
        hdrs.insert("trace".to_string().into(), Some(Bytes::from_static(b"t-1")));
        hdrs.insert("empty".to_string().into(), None);
        let rec = |i: i64, k: &str, v: &str, h: bool| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: -1 + i as i32,
            timestamp: 500 + i,
            key: Some(Bytes::from(k.to_string())),
            value: Some(Bytes::from(v.to_string())),
            headers: if h { hdrs.clone() } else { Default::default() },
        };
        let first = encode(
            &[
                rec(0, "a", "old-a", false),
                rec(1, "b", "keep-b", true),
                rec(2, "c", "old-c", false),
                rec(3, "d", "keep-d", false),
            ],
            Compression::Gzip,
        );
        append_payload(&mut log, &first, 0);
        log.roll().unwrap();
        append_payload(
            &mut log,
            &keyed_batch(
                &[
                    (Some("a"), Some("new-a"), 600),
                    (Some("c"), Some("new-c"), 601),
                ],
                Compression::Gzip,
            ),
            0,
        );
        let res = compact(&mut log, 0, 1000);
        assert_eq!(res.replaced_segments, vec![0]);
        let data = log.read(0, 1, true).unwrap();
        let h = headers(&data);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].compression(), 1);
        assert_eq!(
            (h[0].base_offset, h[0].last_offset_delta, h[0].records_count),
            (0, 3, 2)
        );
        assert_eq!((h[0].base_timestamp, h[0].max_timestamp), (500, 503));
        let mut b = Bytes::copy_from_slice(&data);
        let set = RecordBatchDecoder::decode(&mut b).unwrap();
        assert_eq!(set.compression, Compression::Gzip);
        assert_eq!(
            set.records,
            vec![rec(1, "b", "keep-b", true), rec(3, "d", "keep-d", false)]
                .into_iter()
                .map(|mut r| {
                    r.partition_leader_epoch = 0;
                    r
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(
            all(&log)
                .into_iter()
                .map(|r| (r.0, r.2.unwrap()))
                .collect::<Vec<_>>(),
            vec![
                (1, "keep-b".to_string()),
                (3, "keep-d".to_string()),
                (4, "new-a".to_string()),
                (5, "new-c".to_string())
            ]
        );
    }

    #[test]
    fn every_codec_is_recompressed_with_itself() {
        for (id, c) in [
            (0u8, Compression::None),
            (1, Compression::Gzip),
            (2, Compression::Snappy),
            (3, Compression::Lz4),
            (4, Compression::Zstd),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut log = open(dir.path());
            let recs = [(Some("a"), Some("1"), 10), (Some("b"), Some("2"), 11)];
            append_payload(&mut log, &keyed_batch(&recs, c), 0);
            log.roll().unwrap();
            put(&mut log, &[(Some("a"), Some("3"), 12)]);
            let res = compact(&mut log, 0, 100);
            assert_eq!(res.replaced_segments, vec![0], "{c:?}");
            let seg0 = log.segments()[0].slice_all().unwrap().read().unwrap();
            let h = headers(&seg0);
            assert_eq!(
                (h.len(), h[0].compression(), h[0].records_count),
                (1, id, 1)
            );
            assert_eq!(
                decode_keyed(&seg0),
                vec![kr(1, "b", Some("2"), 11)],
                "{c:?}"
            );
        }
    }

    #[test]
    fn corrupt_data_fails_the_build_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample(dir.path());
        let plan = log.plan_compaction(0, 1000).unwrap();
        let p = dir.path().join("00000000000000000005.log");
        let mut data = fs::read(&p).unwrap();
        let n = data.len();
        data[n - 1] ^= 0xff;
        fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .write_all(&data)
            .unwrap();
        assert!(matches!(
            plan.build(0, 1000, plan.dir()),
            Err(LogError::CorruptMessage(_))
        ));
        no_leftovers(dir.path());
        // the log itself is untouched by the failed build
        assert_eq!(log.segments_info().len(), 3);
    }

    #[test]
    fn a_batch_that_inflates_past_the_limit_is_kept_and_the_rest_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            max_inflated_batch_bytes: 64 * 1024,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config, 0).unwrap();
        let zeros = "\0".repeat(1 << 20); // 1 MiB of zeros: a few KiB of gzip
        put(&mut log, &[(Some("k1"), Some("a0"), 100)]);
        let bomb = keyed_batch(&[(Some("k1"), Some(&zeros), 101)], Compression::Gzip);
        assert!(bomb.len() < 8 * 1024, "{}", bomb.len());
        append_payload(&mut log, &bomb, 0);
        put(&mut log, &[(Some("k2"), Some("b0"), 102)]);
        log.roll().unwrap();
        put(&mut log, &[(Some("k2"), Some("b1"), 103)]);
        let plan = log.plan_compaction(0, 1000).unwrap();
        let cleaned = plan.build(0, 1000, plan.dir()).unwrap();
        let stats = cleaned.stats().clone();
        assert_eq!(stats.batches_unreadable, 1);
        assert_eq!(stats.records_removed, 1, "k2@2 superseded by k2@3");
        log.install_compaction(cleaned).unwrap();
        let left: Vec<_> = all(&log).into_iter().map(|r| (r.0, r.1)).collect();
        // k1@0 stays: the unreadable batch's key supersedes nothing; the bomb stays as it was.
        assert_eq!(
            left,
            vec![
                (0, Some("k1".into())),
                (1, Some("k1".into())),
                (3, Some("k2".into()))
            ]
        );
        no_leftovers(dir.path());
    }

    #[test]
    fn segments_left_empty_are_removed_but_the_first_and_the_active() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        // seg 0: k1 @0 · seg 1: k1 @1 · seg 2: k1 @2 · seg 3: k1 @3 · active: k2 @4
        for i in 0..4 {
            put(&mut log, &[(Some("k1"), Some("v"), 100 + i)]);
            log.roll().unwrap();
        }
        put(&mut log, &[(Some("k2"), Some("w"), 200)]);
        assert_eq!(log.segments_info().len(), 5);
        compact(&mut log, 0, 1000);
        // Segments 0..2 were emptied: 1 and 2 are gone, 0 stays (the log start), 3 holds k1@3.
        let bases: Vec<i64> = log.segments_info().iter().map(|s| s.0).collect();
        assert_eq!(bases, vec![0, 3, 4]);
        assert_eq!(log.segments_info()[0].1, 0);
        assert_eq!(log.log_start_offset(), 0);
        assert_eq!(
            all(&log),
            vec![kr(3, "k1", Some("v"), 103), kr(4, "k2", Some("w"), 200)]
        );
        let logs: Vec<String> = file_names(dir.path())
            .into_iter()
            .filter(|n| n.ends_with(".log") || n.ends_with("index"))
            .collect();
        assert_eq!(logs.len(), 9, "{logs:?}");
        drop(log);
        let log = open(dir.path());
        assert_eq!(log.segments_info().len(), 3);
        assert_eq!(
            all(&log),
            vec![kr(3, "k1", Some("v"), 103), kr(4, "k2", Some("w"), 200)]
        );
        assert_eq!(
            log.read(1, usize::MAX, true)
                .map(|b| decode_keyed(&b))
                .unwrap(),
            vec![kr(3, "k1", Some("v"), 103), kr(4, "k2", Some("w"), 200)]
        );
    }

    #[test]
    fn transactions_and_producer_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        let txn =
            |pid: i64, recs: &[Kv<'_>]| keyed_batch_with(recs, Compression::None, pid, 0, 0, true);
        // 0: k1=old, k2=old, k3=old, k4=old (no producer)
        put(
            &mut log,
            &[
                (Some("k1"), Some("old"), 10),
                (Some("k2"), Some("old"), 10),
                (Some("k3"), Some("old"), 10),
                (Some("k4"), Some("old"), 10),
            ],
        );
        // 4: pid 7 txn k1=aborted; 5: pid 8 txn k2=committed; 6: ABORT(7); 7: COMMIT(8)
        append_payload(&mut log, &txn(7, &[(Some("k1"), Some("aborted"), 11)]), 0);
        append_payload(&mut log, &txn(8, &[(Some("k2"), Some("committed"), 11)]), 0);
        append_payload(&mut log, &marker_batch(7, 0, false, 12), 0);
        append_payload(&mut log, &marker_batch(8, 0, true, 12), 0);
        // 8: pid 5 idempotent k4=v1 (seq 0..0); 9: pid 6 idempotent k5=v (seq 3)
        append_payload(
            &mut log,
            &keyed_batch_with(
                &[(Some("k4"), Some("v1"), 13)],
                Compression::None,
                5,
                1,
                0,
                false,
            ),
            0,
        );
        append_payload(
            &mut log,
            &keyed_batch_with(
                &[(Some("k5"), Some("v"), 13)],
                Compression::None,
                6,
                2,
                3,
                false,
            ),
            0,
        );
        log.roll().unwrap();
        // 10: pid 5 idempotent k4=v2 (seq 1); 11: k5 overwritten without a producer id;
        // 12: pid 9 txn k3=open (no marker yet)
        append_payload(
            &mut log,
            &keyed_batch_with(
                &[(Some("k4"), Some("v2"), 14)],
                Compression::None,
                5,
                1,
                1,
                false,
            ),
            0,
        );
        put(&mut log, &[(Some("k5"), Some("plain"), 14)]);
        append_payload(&mut log, &txn(9, &[(Some("k3"), Some("open"), 15)]), 0);
        let res = compact(&mut log, 0, 100);
        assert_eq!(res.replaced_segments, vec![0]);
        assert_eq!(res.stats.aborted_removed, 1);
        let seg0 = log.segments()[0].slice_all().unwrap().read().unwrap();
        let hs = headers(&seg0);
        // batch 0 keeps k1 (the aborted write does not supersede it) and k3 (the open txn
        // does not either); batch 4 (aborted, not pid 7's last batch) and batch 8 (pid 5
        // wrote again later) are gone; batch 9 is emptied but pid 6's last: kept empty
        let summary: Vec<_> = hs
            .iter()
            .map(|h| {
                (
                    h.base_offset,
                    h.last_offset_delta,
                    h.records_count,
                    h.producer_id,
                    h.base_sequence,
                    h.is_control(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, 3, 2, -1, -1, false),
                (5, 0, 1, 8, 0, false),
                (6, 0, 1, 7, -1, true),
                (7, 0, 1, 8, -1, true),
                (9, 0, 0, 6, 3, false),
            ]
        );
        assert_eq!(hs[4].producer_epoch, 2);
        assert_eq!(hs[4].size(), HEADER_SIZE as u64);
        assert_eq!(
            decode_keyed(&seg0),
            vec![
                kr(0, "k1", Some("old"), 10),
                kr(2, "k3", Some("old"), 10),
                kr(5, "k2", Some("committed"), 11),
            ]
        );
        // the producer-state view of the log still sees pid 6's last sequence
        let mut seen = vec![];
        log.scan_batch_headers(0, &mut |base, b| {
            if b.producer_id == 6 {
                seen.push((base, b.base_sequence, b.last_offset_delta));
            }
        })
        .unwrap();
        assert_eq!(seen, vec![(9, 3, 0)]);
        drop(log);
        let log = open(dir.path());
        assert_eq!(log.log_end_offset(), 13);
        assert_eq!(
            decode_keyed(&log.read(0, usize::MAX, false).unwrap()).len(),
            6
        );
    }

    #[test]
    fn install_discards_when_segments_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = sample(dir.path());
        let before = all(&log);
        let plan = log.plan_compaction(0, 1000).unwrap();
        let cleaned = plan.build(0, 1000, plan.dir()).unwrap();
        // DeleteRecords removes segment 0 meanwhile
        assert_eq!(log.delete_records_before(5).unwrap(), 5);
        let res = log.install_compaction(cleaned).unwrap();
        assert!(!res.installed);
        assert!(res.replaced_segments.is_empty());
        no_leftovers(dir.path());
        assert_eq!(all(&log), before[before.len() - 5..].to_vec());
        // a result that is dropped uninstalled removes its files too
        let plan = log.plan_compaction(0, 1000).unwrap();
        assert_eq!(plan.segment_base_offsets(), vec![5]);
        put(&mut log, &[(Some("k4"), Some("d1"), 200)]);
        log.roll().unwrap();
        let plan = log.plan_compaction(0, 1000).unwrap();
        let cleaned = plan.build(0, 1000, plan.dir()).unwrap();
        assert_eq!(cleaned.rewritten_segments(), vec![5]);
        assert!(dir.path().join("00000000000000000005.log.cleaned").exists());
        drop(cleaned);
        no_leftovers(dir.path());
        // once another compaction replaced the segment, a result of the older plan is discarded
        let fresh_plan = log.plan_compaction(0, 1000).unwrap();
        let fresh = fresh_plan.build(0, 1000, fresh_plan.dir()).unwrap();
        assert!(log.install_compaction(fresh).unwrap().installed);
        let again = plan.build(0, 1000, plan.dir()).unwrap();
        assert!(!log.install_compaction(again).unwrap().installed);
        no_leftovers(dir.path());
    }

    /// A truncation between plan and install may remove the newer records that superseded
    /// records the build dropped: the result is discarded.
    #[test]
    fn install_discards_after_a_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = sample(dir.path());
        let plan = log.plan_compaction(0, 1000).unwrap();
        let cleaned = plan.build(1000, 1000, plan.dir()).unwrap();
        assert_eq!(cleaned.rewritten_segments(), vec![0]);
        // The active segment's k3 and k1 (which supersede c0, a0 and a1 in segment 0) go.
        assert_eq!(log.truncate_to(8).unwrap(), 8);
        let before = all(&log);
        let res = log.install_compaction(cleaned).unwrap();
        assert!(!res.installed);
        no_leftovers(dir.path());
        assert_eq!(all(&log), before);
        assert!(before.contains(&kr(2, "k3", Some("c0"), 102)));
        assert!(before.contains(&kr(4, "k1", Some("a1"), 104)));
        // A plan made after the truncation installs.
        assert!(compact(&mut log, 1000, 1000).installed);
        assert!(all(&log).contains(&kr(4, "k1", Some("a1"), 104)));
        assert!(!all(&log).contains(&kr(0, "k1", Some("a0"), 100)));
    }

    #[test]
    fn crash_leftovers_are_resolved_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let log = sample(d);
        let original = all(&log);
        let original_info = log.segments_info();
        let name = |base: i64, sfx: &str, extra: &str| {
            d.join(format!("{}{extra}", segment_file_name(base, sfx)))
        };
        // 1. crash after build: *.cleaned are deleted, nothing changes
        let plan = log.plan_compaction(0, 1000).unwrap();
        std::mem::forget(plan.build(0, 1000, d).unwrap());
        assert!(name(0, ".log", CLEANED).exists());
        drop(log);
        let log = open(d);
        no_leftovers(d);
        assert_eq!(all(&log), original);
        assert_eq!(log.segments_info(), original_info);
        // 2. crash in the middle of the commit: index .swap files without a log .swap are
        //    uncommitted and deleted
        let plan = log.plan_compaction(0, 1000).unwrap();
        std::mem::forget(plan.build(0, 1000, d).unwrap());
        fs::rename(name(0, ".index", CLEANED), name(0, ".index", SWAP)).unwrap();
        drop(log);
        let log = open(d);
        no_leftovers(d);
        assert_eq!(all(&log), original);
        // 3. crash after the commit point: the swap is completed
        let plan = log.plan_compaction(0, 1000).unwrap();
        std::mem::forget(plan.build(0, 1000, d).unwrap());
        for sfx in [".index", ".timeindex", ".log"] {
            fs::rename(name(0, sfx, CLEANED), name(0, sfx, SWAP)).unwrap();
        }
        drop(log);
        let log = open(d);
        no_leftovers(d);
        let compacted = all(&log);
        assert_eq!(compacted.len(), 6);
        assert_eq!(compacted[0], kr(3, "k6", Some("f0"), 103));
        assert_eq!(log.segments_info()[0], (0, 72));
        let idx0 = log.segments()[0].offset_index().entries().to_vec();
        // 4. committed log swap whose index swaps were already moved (or lost): stale indexes
        //    are deleted and rebuilt
        drop(log);
        let mut log = sample(&d.join("again"));
        let d2 = d.join("again");
        let plan = log.plan_compaction(0, 1000).unwrap();
        std::mem::forget(plan.build(0, 1000, &d2).unwrap());
        fs::rename(
            d2.join("00000000000000000000.log.cleaned"),
            d2.join("00000000000000000000.log.swap"),
        )
        .unwrap();
        drop(log);
        log = open(&d2);
        no_leftovers(&d2);
        assert_eq!(all(&log), compacted);
        assert_eq!(log.segments()[0].offset_index().entries(), &idx0[..]);
        assert_eq!(
            log.segments()[0].time_index().entries(),
            &[crate::log::index::TimeIndexEntry {
                timestamp: 103,
                relative_offset: 3
            }]
        );
    }
}
