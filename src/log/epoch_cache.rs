//! The leader epoch cache: which leader epoch started at which offset, persisted in Kafka's
//! `leader-epoch-checkpoint` file of the partition directory (Kafka's `LeaderEpochFileCache`).
//!
//! Replication answers OffsetForLeaderEpoch from it (the end offset of an epoch is the start
//! offset of the next one), and a follower truncates a divergent tail with it (KIP-101, KIP-279).
//!
//! **File format** ([`LEADER_EPOCH_CHECKPOINT_FILE`]), text, as Kafka writes it: the version line
//! `0`, the number of entries, then one `<epoch> <start offset>` line per entry, oldest first:
//!
//! ```text
//! 0
//! 2
//! 0 0
//! 3 1500
//! ```
//!
//! Every change is written whole to `leader-epoch-checkpoint.tmp`, fsynced, renamed over the file,
//! and the directory fsynced. Entries are strictly increasing in both epoch and start offset.
//!
//! **Invariant with the log** (kept by [`super::PartitionLog`]): the file never lacks an entry for
//! data that reached the log — an entry is written *before* the first batch of its epoch, and a
//! truncation of the log is done *before* the cache's — so at open the file may only hold extra
//! entries at or past the recovered log end (or below a log start that moved), and trimming it
//! ([`LeaderEpochCache::truncate_from_end`] to the log end, [`LeaderEpochCache::truncate_from_start`]
//! to the log start) restores it. A missing or unreadable file is rebuilt from the batch headers.
//! (So an entry that has no data yet, such as a new leader's epoch start at the log end, does not
//! survive a reopen, as in Kafka, whose load trims the cache the same way.)
//!
//! A write that fails leaves the cache *dirty*: the in-memory entries are right, the file is stale,
//! and [`LeaderEpochCache::flush`] (called before every append) retries the write. A failed
//! [`LeaderEpochCache::assign`] is undone in memory instead, so the append that needed it fails;
//! an append whose write fails after its epochs were assigned puts the entries back as they were.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::LogError;
use super::checkpoint::replace_file;

/// File in the partition directory holding the leader epoch cache (Kafka's name and format).
pub const LEADER_EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";

/// Kafka's `UNDEFINED_EPOCH`: no epoch.
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's `UNDEFINED_EPOCH_OFFSET`: no end offset.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One line of the cache: leader epoch `epoch` wrote its first batch at `start_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The epoch → start offset map of one partition (see the module docs).
#[derive(Debug)]
pub struct LeaderEpochCache {
    dir: Arc<Path>,
    /// Strictly increasing in epoch and in start offset.
    entries: Vec<EpochEntry>,
    /// The file is older than `entries` (a write failed); [`Self::flush`] retries.
    dirty: bool,
}

/// Parse the text of a `leader-epoch-checkpoint` file (strictly: version 0, the count matching
/// the lines, two integers a line, epochs and start offsets non-negative and increasing).
pub fn parse_checkpoint(text: &str) -> Result<Vec<EpochEntry>, String> {
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("0") => {}
        Some(v) => return Err(format!("unsupported version {v:?}")),
        None => return Err("empty file".to_string()),
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| "missing or bad entry count".to_string())?;
    let mut entries: Vec<EpochEntry> = Vec::with_capacity(count.min(1024));
    for line in lines {
        let mut parts = line.split_whitespace();
        let (Some(e), Some(o), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("malformed line {line:?}"));
        };
        let (Ok(epoch), Ok(start_offset)) = (e.parse::<i32>(), o.parse::<i64>()) else {
            return Err(format!("malformed line {line:?}"));
        };
        if epoch < 0 || start_offset < 0 {
            return Err(format!("negative entry {line:?}"));
        }
        if let Some(prev) = entries.last()
            && (epoch <= prev.epoch || start_offset <= prev.start_offset)
        {
            return Err(format!(
                "entry {line:?} does not follow {} {}",
                prev.epoch, prev.start_offset
            ));
        }
        entries.push(EpochEntry {
            epoch,
            start_offset,
        });
    }
    if entries.len() != count {
        return Err(format!("expected {count} entries, found {}", entries.len()));
    }
    Ok(entries)
}

/// The text of a `leader-epoch-checkpoint` file holding `entries`.
pub fn format_checkpoint(entries: &[EpochEntry]) -> String {
    let mut s = format!("0\n{}\n", entries.len());
    for e in entries {
        s.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
    }
    s
}

/// Read the checkpoint of `dir`: `Ok(None)` when there is none, `Err(reason)` when it cannot
/// be read or parsed.
pub fn read_checkpoint(dir: &Path) -> Result<Option<Vec<EpochEntry>>, String> {
    let path = dir.join(LEADER_EPOCH_CHECKPOINT_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => parse_checkpoint(&text).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

/// Durably replace the checkpoint of `dir` with `entries` (temp file + fsync + rename + dir fsync).
pub fn write_checkpoint(dir: &Path, entries: &[EpochEntry]) -> Result<(), LogError> {
    Ok(replace_file(
        &dir.join(LEADER_EPOCH_CHECKPOINT_FILE),
        format_checkpoint(entries).as_bytes(),
    )?)
}

impl LeaderEpochCache {
    /// The cache of `dir` as its file holds it: `Ok(None)` without a file, `Err(reason)` when the
    /// file cannot be read or parsed.
    pub fn read(dir: &Arc<Path>) -> Result<Option<LeaderEpochCache>, String> {
        Ok(read_checkpoint(dir)?.map(|entries| LeaderEpochCache {
            dir: dir.clone(),
            entries,
            dirty: false,
        }))
    }

    /// An empty cache of `dir` for a log without a checkpoint: nothing needs writing until the
    /// first epoch is assigned.
    pub fn new(dir: &Arc<Path>) -> LeaderEpochCache {
        LeaderEpochCache {
            dir: dir.clone(),
            entries: Vec::new(),
            dirty: false,
        }
    }

    /// A cache of `dir` holding `entries` (which must be strictly increasing in epoch and start
    /// offset, as [`parse_checkpoint`] returns them). Nothing is written; it is marked dirty, so
    /// the next [`Self::flush`] writes it.
    pub fn with_entries(dir: &Arc<Path>, entries: Vec<EpochEntry>) -> LeaderEpochCache {
        debug_assert!(
            entries
                .windows(2)
                .all(|w| w[0].epoch < w[1].epoch && w[0].start_offset < w[1].start_offset)
        );
        LeaderEpochCache {
            dir: dir.clone(),
            entries,
            dirty: true,
        }
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The newest entry: the epoch of the latest data (or of a leader that has not written yet).
    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The oldest entry.
    pub fn earliest(&self) -> Option<EpochEntry> {
        self.entries.first().copied()
    }

    /// Whether the file is older than the entries (a write failed).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The epoch that wrote `offset`: that of the last entry starting at or before it.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        let n = self.entries.partition_point(|e| e.start_offset <= offset);
        n.checked_sub(1).map(|i| self.entries[i].epoch)
    }

    /// Kafka's `endOffsetFor`, what OffsetForLeaderEpoch answers: `(epoch, end offset)` where
    /// epoch is the largest known epoch <= `requested` and the end offset is the start offset of
    /// the next larger epoch, or `log_end_offset` when `requested` is the latest epoch.
    ///
    /// * `requested` < 0 (UNDEFINED_EPOCH), an empty cache, or `requested` above the latest
    ///   epoch: `(-1, -1)`;
    /// * `requested` below the first entry: `(requested, first entry's start offset)`, as
    ///   Kafka's `endOffsetFor` answers today (older releases answered `(-1, -1)`): the data of
    ///   older epochs is gone, so a follower truncates to where the known history starts.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested < 0 {
            return undefined;
        }
        match self.latest() {
            None => return undefined,
            Some(latest) if latest.epoch == requested => return (requested, log_end_offset),
            Some(_) => {}
        }
        // First entry with an epoch above the requested one.
        let higher = self.entries.partition_point(|e| e.epoch <= requested);
        let Some(next) = self.entries.get(higher) else {
            return undefined;
        };
        match higher.checked_sub(1) {
            Some(floor) => (self.entries[floor].epoch, next.start_offset),
            None => (requested, next.start_offset),
        }
    }

    /// Record that leader epoch `epoch` starts at `start_offset` (its first batch is about to be
    /// appended there), and write the file if that changed the cache. Returns whether it did.
    ///
    /// * a negative epoch or offset means "no epoch": ignored;
    /// * an epoch equal to the latest one: already known, ignored;
    /// * an epoch below the latest one (a stale epoch): ignored with a warning — Kafka's
    ///   `LogSegment.recover` rule. (Kafka's `assign` would instead drop the newer entries; fjord
    ///   drops entries only by truncation: a follower's [`super::PartitionLog::truncate_to`]
    ///   removes the ones without data first.)
    /// * a new, larger epoch: entries starting at or after `start_offset` (epochs that never
    ///   wrote anything before this one) are replaced by it, as in Kafka.
    ///
    /// On a write failure the cache is left as it was and the error returned.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool, LogError> {
        if epoch < 0 || start_offset < 0 {
            return Ok(false);
        }
        if let Some(latest) = self.latest() {
            if epoch == latest.epoch {
                return Ok(false);
            }
            if epoch < latest.epoch {
                tracing::warn!(
                    dir = %self.dir.display(),
                    epoch,
                    start_offset,
                    latest_epoch = latest.epoch,
                    "ignoring a leader epoch older than the latest one"
                );
                return Ok(false);
            }
        }
        let keep = self
            .entries
            .partition_point(|e| e.start_offset < start_offset);
        let mut next = self.entries[..keep].to_vec();
        let removed = &self.entries[keep..];
        if removed.iter().any(|e| e.start_offset != start_offset) {
            // Cannot happen while the file never holds entries past the log end; say so if it does.
            tracing::warn!(
                dir = %self.dir.display(),
                epoch,
                start_offset,
                ?removed,
                "new leader epoch replaces entries that started after it"
            );
        }
        next.push(EpochEntry {
            epoch,
            start_offset,
        });
        write_checkpoint(&self.dir, &next)?;
        self.entries = next;
        self.dirty = false;
        tracing::debug!(dir = %self.dir.display(), epoch, start_offset, "new leader epoch");
        Ok(true)
    }

    /// Remove every entry starting at or after `end_offset` (the log was truncated to it), and
    /// write the file if that changed anything. Returns whether it did. On a write failure the
    /// entries are changed all the same (they describe the log) and the cache stays dirty.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<bool, LogError> {
        let changed = self.cut_end(end_offset);
        self.flush()?;
        Ok(changed)
    }

    /// The log start moved to `start_offset`: entries wholly below it are dropped and the epoch
    /// holding it now starts there (Kafka's `truncateFromStart`); the file is written if that
    /// changed anything. Returns whether it did. Write failures as in [`Self::truncate_from_end`].
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<bool, LogError> {
        let changed = self.cut_start(start_offset);
        self.flush()?;
        Ok(changed)
    }

    /// Remove every entry (the log was emptied and starts over: Kafka's `clearAndFlush`), and
    /// write the file if that changed anything. Write failures as in [`Self::truncate_from_end`].
    pub fn clear(&mut self) -> Result<(), LogError> {
        if !self.entries.is_empty() {
            tracing::debug!(dir = %self.dir.display(), removed = ?self.entries, "cleared leader epoch cache");
            self.entries.clear();
            self.dirty = true;
        }
        self.flush()
    }

    /// Put back `entries`, taken from [`Self::entries`] before an append whose write failed
    /// assigned new epochs: the cache again describes the log. In memory only; marks the cache
    /// dirty, so the next [`Self::flush`] writes it.
    pub(super) fn restore(&mut self, entries: Vec<EpochEntry>) {
        self.entries = entries;
        self.dirty = true;
    }

    /// [`Self::truncate_from_end`] in memory only (marks the cache dirty if it changed).
    pub(super) fn cut_end(&mut self, end_offset: i64) -> bool {
        let keep = self
            .entries
            .partition_point(|e| e.start_offset < end_offset);
        if keep == self.entries.len() {
            return false;
        }
        let removed = self.entries.split_off(keep);
        tracing::debug!(dir = %self.dir.display(), end_offset, ?removed, "truncated leader epoch cache from the end");
        self.dirty = true;
        true
    }

    /// [`Self::truncate_from_start`] in memory only (marks the cache dirty if it changed).
    pub(super) fn cut_start(&mut self, start_offset: i64) -> bool {
        let upto = self
            .entries
            .partition_point(|e| e.start_offset <= start_offset);
        let Some(holder) = upto.checked_sub(1) else {
            return false;
        };
        if holder == 0 && self.entries[0].start_offset == start_offset {
            return false;
        }
        self.entries.drain(..holder);
        self.entries[0].start_offset = start_offset;
        tracing::debug!(dir = %self.dir.display(), start_offset, first = ?self.entries[0], "truncated leader epoch cache from the start");
        self.dirty = true;
        true
    }

    /// Write the file if it is older than the entries.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if self.dirty {
            write_checkpoint(&self.dir, &self.entries)?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Rebuild step: `epoch` is the epoch of a batch at `base_offset`, read from the log in
    /// offset order. Keeps it if it is above the latest epoch (Kafka's `LogSegment.recover`
    /// rule: negative epochs, from logs written before epochs were kept, are no epoch). In memory
    /// only; the caller flushes.
    pub(super) fn note_batch(&mut self, epoch: i32, base_offset: i64) {
        if epoch < 0 || base_offset < 0 || self.latest().is_some_and(|l| l.epoch >= epoch) {
            return;
        }
        let keep = self
            .entries
            .partition_point(|e| e.start_offset < base_offset);
        self.entries.truncate(keep);
        self.entries.push(EpochEntry {
            epoch,
            start_offset: base_offset,
        });
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(epoch: i32, start_offset: i64) -> EpochEntry {
        EpochEntry {
            epoch,
            start_offset,
        }
    }

    fn cache(dir: &Path, entries: &[(i32, i64)]) -> LeaderEpochCache {
        let mut c = LeaderEpochCache::with_entries(
            &Arc::from(dir),
            entries.iter().map(|&(a, b)| e(a, b)).collect(),
        );
        c.flush().unwrap();
        c
    }

    fn on_disk(dir: &Path) -> Vec<EpochEntry> {
        read_checkpoint(dir).unwrap().unwrap()
    }

    #[test]
    fn file_format_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_checkpoint(dir.path()), Ok(None));
        let entries = vec![e(0, 0), e(3, 1500), e(7, 1_000_000_000_000)];
        write_checkpoint(dir.path(), &entries).unwrap();
        let text = fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n3\n0 0\n3 1500\n7 1000000000000\n");
        assert_eq!(on_disk(dir.path()), entries);
        assert!(!dir.path().join("leader-epoch-checkpoint.tmp").exists());
        write_checkpoint(dir.path(), &[]).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE)).unwrap(),
            "0\n0\n"
        );
        assert_eq!(on_disk(dir.path()), vec![]);
        // What Kafka writes reads back the same (it ends every line with a newline too).
        assert_eq!(parse_checkpoint("0\n1\n5 1000\n"), Ok(vec![e(5, 1000)]));
    }

    #[test]
    fn damaged_files_are_refused() {
        for bad in [
            "",
            "1\n0\n",
            "0\n",
            "0\nx\n",
            "0\n2\n0 0\n",
            "0\n1\n0 0\n1 5\n",
            "0\n1\n0\n",
            "0\n1\n0 0 0\n",
            "0\n1\n0 zero\n",
            "0\n1\n-1 0\n",
            "0\n1\n0 -5\n",
            "0\n2\n3 10\n2 20\n",
            "0\n2\n2 10\n3 10\n",
            "0\n2\n2 10\n2 20\n",
            "0\n1\n0 0\n\n",
        ] {
            assert!(parse_checkpoint(bad).is_err(), "{bad:?} was accepted");
        }
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE), b"0\n1\n").unwrap();
        assert!(read_checkpoint(dir.path()).is_err());
    }

    #[test]
    fn assign_keeps_epochs_increasing() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(dir.path(), &[]);
        assert_eq!(c.latest(), None);
        assert!(c.assign(0, 0).unwrap());
        assert!(!c.assign(0, 10).unwrap(), "same epoch, later offset");
        assert!(c.assign(2, 10).unwrap());
        assert!(c.assign(5, 30).unwrap());
        assert!(!c.assign(3, 40).unwrap(), "stale epoch is ignored");
        assert!(!c.assign(-1, 40).unwrap(), "no epoch");
        assert!(!c.assign(6, -1).unwrap());
        assert_eq!(c.entries(), &[e(0, 0), e(2, 10), e(5, 30)]);
        assert_eq!(on_disk(dir.path()), c.entries());
        // A newer epoch at the same start replaces one that never wrote anything.
        assert!(c.assign(7, 30).unwrap());
        assert_eq!(c.entries(), &[e(0, 0), e(2, 10), e(7, 30)]);
        assert_eq!(c.latest(), Some(e(7, 30)));
        assert_eq!(c.earliest(), Some(e(0, 0)));
        assert_eq!(on_disk(dir.path()), c.entries());
        assert!(!c.is_dirty());
    }

    #[test]
    fn a_failed_assign_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("p");
        fs::create_dir(&sub).unwrap();
        let mut c = cache(&sub, &[(1, 0)]);
        fs::remove_dir_all(&sub).unwrap();
        assert!(c.assign(2, 5).is_err());
        assert_eq!(c.entries(), &[e(1, 0)]);
        // A truncation keeps its effect in memory and retries the write later.
        assert!(c.truncate_from_end(0).is_err());
        assert!(c.entries().is_empty());
        assert!(c.is_dirty());
        fs::create_dir(&sub).unwrap();
        c.flush().unwrap();
        assert!(!c.is_dirty());
        assert_eq!(on_disk(&sub), vec![]);
    }

    #[test]
    fn end_offset_for_follows_kafka() {
        let dir = tempfile::tempdir().unwrap();
        let empty = cache(dir.path(), &[]);
        assert_eq!(empty.end_offset_for(0, 100), (-1, -1));
        let c = cache(dir.path(), &[(2, 10), (4, 50), (7, 80)]);
        let leo = 120;
        assert_eq!(c.end_offset_for(-1, leo), (-1, -1), "undefined epoch");
        assert_eq!(c.end_offset_for(-3, leo), (-1, -1));
        assert_eq!(
            c.end_offset_for(1, leo),
            (1, 10),
            "below the first: where the history starts"
        );
        assert_eq!(c.end_offset_for(2, leo), (2, 50));
        assert_eq!(
            c.end_offset_for(3, leo),
            (2, 50),
            "unknown epoch: the one before"
        );
        assert_eq!(c.end_offset_for(4, leo), (4, 80));
        assert_eq!(c.end_offset_for(6, leo), (4, 80));
        assert_eq!(c.end_offset_for(7, leo), (7, 120), "latest: the log end");
        assert_eq!(c.end_offset_for(8, leo), (-1, -1), "above the latest");
        assert_eq!(c.epoch_for_offset(9), None);
        assert_eq!(c.epoch_for_offset(10), Some(2));
        assert_eq!(c.epoch_for_offset(79), Some(4));
        assert_eq!(c.epoch_for_offset(500), Some(7));
    }

    #[test]
    fn truncate_from_end_removes_entries_at_or_after_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(dir.path(), &[(2, 10), (4, 50), (7, 80)]);
        assert!(!c.truncate_from_end(81).unwrap());
        assert!(c.truncate_from_end(80).unwrap());
        assert_eq!(c.entries(), &[e(2, 10), e(4, 50)]);
        assert_eq!(on_disk(dir.path()), c.entries());
        assert!(c.truncate_from_end(11).unwrap());
        assert_eq!(c.entries(), &[e(2, 10)]);
        assert!(c.truncate_from_end(0).unwrap());
        assert!(c.entries().is_empty());
        assert_eq!(on_disk(dir.path()), vec![]);
        assert!(!c.truncate_from_end(0).unwrap());
    }

    #[test]
    fn truncate_from_start_clamps_the_first_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(dir.path(), &[(2, 10), (4, 50), (7, 80)]);
        assert!(!c.truncate_from_start(5).unwrap(), "below the first entry");
        assert!(!c.truncate_from_start(10).unwrap(), "at the first entry");
        assert!(c.truncate_from_start(20).unwrap());
        assert_eq!(c.entries(), &[e(2, 20), e(4, 50), e(7, 80)]);
        assert!(c.truncate_from_start(50).unwrap());
        assert_eq!(c.entries(), &[e(4, 50), e(7, 80)]);
        assert!(c.truncate_from_start(200).unwrap());
        assert_eq!(c.entries(), &[e(7, 200)]);
        assert_eq!(on_disk(dir.path()), c.entries());
    }

    #[test]
    fn rebuild_keeps_only_increasing_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::with_entries(&Arc::from(dir.path()), Vec::new());
        for (epoch, base) in [(-1, 0), (0, 3), (0, 5), (2, 9), (1, 12), (2, 14), (5, 20)] {
            c.note_batch(epoch, base);
        }
        assert_eq!(c.entries(), &[e(0, 3), e(2, 9), e(5, 20)]);
        assert!(c.is_dirty());
        c.flush().unwrap();
        assert_eq!(on_disk(dir.path()), c.entries());
        let back = LeaderEpochCache::read(&Arc::from(dir.path()))
            .unwrap()
            .unwrap();
        assert_eq!(back.entries(), c.entries());
        assert!(!back.is_dirty());
    }
}
