//! The metadata quorum's Raft log on disk: openraft's [`RaftLogStorage`] (Kafka's
//! `KafkaMetadataLog` plus its `quorum-state` file) for the directory
//! `<log.dirs>/__cluster_metadata-0/`.
//!
//! **Owns:** three files of that directory. The snapshot files next to them belong to
//! [`super::snapshot_files`]; nothing here reads or deletes them.
//!
//! | file | content | written |
//! |---|---|---|
//! | [`QUORUM_STATE_FILE`] | JSON `{"vote": Vote or null, "committed": LogId or null}` | `save_vote`: temp file + fsync + rename + directory fsync; `save_committed`: the same without the directory fsync |
//! | [`LOG_START_FILE`] | JSON of the last purged log id (`null` or a LogId) | `purge`: temp file + fsync + rename + directory fsync, *before* any purged entry leaves the log file |
//! | [`LOG_FILE`] | frames `[u32 BE payload length][u32 BE crc32c of the payload][payload: JSON of the Entry]` | `append`: all frames of the batch, then fdatasync, then the callback |
//!
//! `save_committed` may lose its rename in a crash (openraft only needs committed as a hint),
//! but it still fsyncs the temp file before the rename: the vote lives in the same file, and an
//! unsynced rename could leave an empty `quorum-state` after a crash. Directory fsyncs are best
//! effort, as everywhere in fjord ([`crate::log::files::sync_dir`]).
//!
//! The metadata log is small, so every live entry is also kept in memory (with its frame's
//! byte position); reads never touch the disk. An append must continue the log (the index after
//! the last entry; any index when the log is empty) or it fails without writing anything;
//! entries at indexes already purged are dropped from the batch (openraft's own test suite
//! appends some after a purge). `truncate` cuts the file at the first removed frame and fsyncs
//! it. `purge` persists the log start, then drops the entries from memory; their frames stay at
//! the front of the file (skipped by index on open) until they are more than half the file or
//! more than [`REWRITE_DEAD_BYTES`]: then the live frames are copied to `<log file>.tmp`,
//! fsynced and renamed over the log file.
//!
//! **Open** (crash recovery): leftover `.tmp` files are deleted; a missing file means "empty";
//! an unreadable `quorum-state` or `log-start` fails the open (a guessed vote could elect two
//! leaders). The log file is read frame by frame: the first short frame, zero length or CRC
//! mismatch is the torn tail of a write that was never acknowledged (an append acknowledges only
//! after fdatasync), so the file is cut there with a warning. A frame with a good CRC that does
//! not decode, or live entries that are not contiguous from the log start, fail the open with
//! `InvalidData`: that is damage or a format change, not a crash, and cutting would drop
//! acknowledged entries.
//!
//! **Writes** (`save_vote`, `save_committed`, `append`, `truncate`, `purge`) run one at a time
//! in call order: each takes the file lock (a FIFO tokio mutex) before it starts and holds it
//! until its IO is done, on a blocking thread (`spawn_blocking`, so a tokio runtime is
//! required). A write whose caller stops waiting still completes, and the next one waits for it.
//! Readers ([`LogReader`], `get_log_state`, `read_vote`) only take the short in-memory lock.
//!
//! **Must never:** call an append's callback with `Ok` before its frames are fdatasynced; return
//! from `save_vote` before the vote is on disk; drop a purged entry from the log file before
//! [`LOG_START_FILE`] records the purge; leave a hole in the log; panic on bad disk contents;
//! hold the in-memory lock across an await or while doing file IO.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::{Bound, RangeBounds};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{
    LogId, OptionalSend, RaftLogId, RaftTypeConfig, StorageError, StorageIOError, Vote,
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::log::files::sync_dir;

/// Vote and committed log id, JSON (Kafka's metadata log also calls this file `quorum-state`).
pub const QUORUM_STATE_FILE: &str = "quorum-state";
/// The last purged log id, JSON.
pub const LOG_START_FILE: &str = "log-start";
/// The log entries: one file, named like a Kafka segment with base offset 0.
pub const LOG_FILE: &str = "00000000000000000000.log";
/// Dead (purged) bytes at the front of [`LOG_FILE`] above which a purge rewrites the file even
/// when they are less than half of it.
pub const REWRITE_DEAD_BYTES: u64 = 1 << 20;

/// Bytes before each frame's payload: length and CRC.
const FRAME_HEADER: usize = 8;
/// Suffix of a file being replaced.
const TMP: &str = ".tmp";

type NodeIdOf<C> = <C as RaftTypeConfig>::NodeId;
type EntryOf<C> = <C as RaftTypeConfig>::Entry;
type StorageResult<C, T> = Result<T, StorageError<NodeIdOf<C>>>;

/// Content of [`QUORUM_STATE_FILE`].
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
struct QuorumState<NID: openraft::NodeId> {
    vote: Option<Vote<NID>>,
    committed: Option<LogId<NID>>,
}

/// What readers see: the live entries and the persisted pointers. Changed only by a write that
/// holds the file lock, after its IO succeeded.
struct Cached<C: RaftTypeConfig> {
    entries: BTreeMap<u64, EntryOf<C>>,
    last_purged: Option<LogId<NodeIdOf<C>>>,
    vote: Option<Vote<NodeIdOf<C>>>,
    committed: Option<LogId<NodeIdOf<C>>>,
}

/// The open log file and where each live entry's frame starts. Only a write holding the file
/// lock touches it.
struct LogFile {
    dir: PathBuf,
    file: File,
    /// Length of the valid frames: the next frame goes here.
    end: u64,
    /// Index of every live entry → byte position of its frame. Frames of purged entries may
    /// precede the first of them.
    positions: BTreeMap<u64, u64>,
}

/// The Raft log, vote and committed pointer of the metadata quorum, stored in one directory.
/// See the module docs for the files and the rules.
pub struct LogStore<C: RaftTypeConfig> {
    files: Arc<tokio::sync::Mutex<LogFile>>,
    cache: Arc<Mutex<Cached<C>>>,
}

/// A cheap, cloneable reader of the entries of a [`LogStore`] (one per replication task). It
/// sees every entry whose append has returned.
pub struct LogReader<C: RaftTypeConfig> {
    cache: Arc<Mutex<Cached<C>>>,
}

impl<C: RaftTypeConfig> Clone for LogReader<C> {
    fn clone(&self) -> Self {
        LogReader {
            cache: self.cache.clone(),
        }
    }
}

impl<C> LogStore<C>
where
    C: RaftTypeConfig,
    EntryOf<C>: Clone,
{
    /// Open the log in `dir`, creating the directory and an empty log if needed, and recover
    /// from a crash (see the module docs). Blocking: call it before starting Raft, or from a
    /// blocking thread.
    pub fn open(dir: &Path) -> io::Result<LogStore<C>> {
        create_dir_durably(dir)?;
        for name in [QUORUM_STATE_FILE, LOG_START_FILE, LOG_FILE] {
            let tmp = dir.join(format!("{name}{TMP}"));
            match fs::remove_file(&tmp) {
                Ok(()) => tracing::info!(file = %tmp.display(), "removed a leftover temp file"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let quorum: QuorumState<NodeIdOf<C>> =
            read_json(dir, QUORUM_STATE_FILE)?.unwrap_or(QuorumState {
                vote: None,
                committed: None,
            });
        let last_purged: Option<LogId<NodeIdOf<C>>> = read_json(dir, LOG_START_FILE)?.flatten();

        let path = dir.join(LOG_FILE);
        let created = !path.try_exists()?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if created {
            // The new name must be durable before an append is acknowledged.
            sync_dir(dir);
        }
        let bytes = fs::read(&path)?;
        let scan = scan_frames::<C>(&bytes, &path, last_purged.as_ref().map(|l| l.index))?;
        if scan.valid_len < bytes.len() as u64 {
            tracing::warn!(
                file = %path.display(),
                at = scan.valid_len,
                discarded_bytes = bytes.len() as u64 - scan.valid_len,
                reason = scan.torn.unwrap_or("?"),
                "torn write at the end of the metadata log (never acknowledged); truncating it"
            );
            file.set_len(scan.valid_len)?;
            file.sync_all()?;
        }
        let positions = scan
            .entries
            .iter()
            .map(|(&i, (pos, _))| (i, *pos))
            .collect();
        let entries = scan.entries.into_iter().map(|(i, (_, e))| (i, e)).collect();
        Ok(LogStore {
            files: Arc::new(tokio::sync::Mutex::new(LogFile {
                dir: dir.to_path_buf(),
                file,
                end: scan.valid_len,
                positions,
            })),
            cache: Arc::new(Mutex::new(Cached {
                entries,
                last_purged,
                vote: quorum.vote,
                committed: quorum.committed,
            })),
        })
    }

    /// Run `op` on the log file on a blocking thread, after every earlier write.
    async fn write<T, F>(&self, op: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut LogFile, &Mutex<Cached<C>>) -> io::Result<T> + Send + 'static,
    {
        // Taken here, in call order (the tokio mutex is FIFO), and released only when the IO is
        // done, even if this future is dropped meanwhile.
        let mut files = self.files.clone().lock_owned().await;
        let cache = self.cache.clone();
        tokio::task::spawn_blocking(move || op(&mut files, &cache))
            .await
            .unwrap_or_else(|e| {
                Err(io::Error::other(format!(
                    "metadata log write task failed: {e}"
                )))
            })
    }

    /// Append `entries` durably (frames written and fdatasynced); the trait's `append` is this
    /// plus the callback.
    async fn append_durably(&self, entries: Vec<EntryOf<C>>) -> io::Result<()> {
        self.write(move |files, cache| files.append::<C>(cache, entries))
            .await
    }
}

impl<C> RaftLogReader<C> for LogStore<C>
where
    C: RaftTypeConfig,
    EntryOf<C>: Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<C, Vec<EntryOf<C>>> {
        Ok(read_range::<C, _>(&self.cache, range))
    }
}

impl<C> RaftLogReader<C> for LogReader<C>
where
    C: RaftTypeConfig,
    EntryOf<C>: Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<C, Vec<EntryOf<C>>> {
        Ok(read_range::<C, _>(&self.cache, range))
    }
}

impl<C> RaftLogStorage<C> for LogStore<C>
where
    C: RaftTypeConfig,
    EntryOf<C>: Clone,
{
    type LogReader = LogReader<C>;

    async fn get_log_state(&mut self) -> StorageResult<C, LogState<C>> {
        let cache = self.cache.lock();
        let last_log_id = match cache.entries.last_key_value() {
            Some((_, e)) => Some(e.get_log_id().clone()),
            None => cache.last_purged.clone(),
        };
        Ok(LogState {
            last_purged_log_id: cache.last_purged.clone(),
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        LogReader {
            cache: self.cache.clone(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeIdOf<C>>) -> StorageResult<C, ()> {
        let vote = vote.clone();
        self.write(move |files, cache| {
            let committed = cache.lock().committed.clone();
            let state = QuorumState {
                vote: Some(vote.clone()),
                committed,
            };
            write_json(&files.dir, QUORUM_STATE_FILE, &state, true)?;
            cache.lock().vote = Some(vote);
            Ok(())
        })
        .await
        .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> StorageResult<C, Option<Vote<NodeIdOf<C>>>> {
        Ok(self.cache.lock().vote.clone())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeIdOf<C>>>,
    ) -> StorageResult<C, ()> {
        self.write(move |files, cache| {
            let vote = cache.lock().vote.clone();
            let state = QuorumState {
                vote,
                committed: committed.clone(),
            };
            // The temp file is fsynced before the rename even though a lost committed id is
            // harmless: the same file holds the vote, which must never be replaced by an empty
            // or partly written file. A lost rename only brings back the previous committed id.
            write_json(&files.dir, QUORUM_STATE_FILE, &state, false)?;
            cache.lock().committed = committed;
            Ok(())
        })
        .await
        .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> StorageResult<C, Option<LogId<NodeIdOf<C>>>> {
        Ok(self.cache.lock().committed.clone())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<C>) -> StorageResult<C, ()>
    where
        I: IntoIterator<Item = EntryOf<C>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        match self.append_durably(entries.into_iter().collect()).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let err = StorageIOError::write_logs(&e).into();
                callback.log_io_completed(Err(e));
                Err(err)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeIdOf<C>>) -> StorageResult<C, ()> {
        self.write(move |files, cache| files.truncate::<C>(cache, log_id.index))
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId<NodeIdOf<C>>) -> StorageResult<C, ()> {
        self.write(move |files, cache| files.purge::<C>(cache, log_id))
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

impl LogFile {
    /// Byte position of the first live frame (everything before it is purged).
    fn live_start(&self) -> u64 {
        self.positions
            .first_key_value()
            .map_or(self.end, |(_, &p)| p)
    }

    fn append<C>(&mut self, cache: &Mutex<Cached<C>>, entries: Vec<EntryOf<C>>) -> io::Result<()>
    where
        C: RaftTypeConfig,
    {
        // Entries at purged indexes are already covered by the snapshot the purge followed:
        // storing them would only put dead frames after live ones. (openraft's own test suite
        // appends such entries after `get_initial_state` purged up to the state machine's
        // last applied id.)
        let purged = cache.lock().last_purged.as_ref().map(|l| l.index);
        let mut entries = entries;
        if let Some(p) = purged {
            let before = entries.len();
            entries.retain(|e| e.get_log_id().index > p);
            if entries.len() < before {
                tracing::debug!(
                    dropped = before - entries.len(),
                    purged_upto = p,
                    "append of purged log indexes ignored"
                );
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        // None: the log is empty, any index may come next (openraft never leaves a gap after
        // the purged id; opening such a log would fail).
        let mut expected = self
            .positions
            .last_key_value()
            .map(|(&i, _)| i.checked_add(1));
        let mut buf = Vec::new();
        let mut new_positions = Vec::with_capacity(entries.len());
        for entry in &entries {
            let index = entry.get_log_id().index;
            match expected {
                Some(next) if next != Some(index) => {
                    return Err(invalid_input(format!(
                        "append of log index {index} would leave a hole: expected {}",
                        next.map_or("nothing (log is full)".to_string(), |n| n.to_string())
                    )));
                }
                _ => {}
            }
            expected = Some(index.checked_add(1));
            let payload = serde_json::to_vec(entry).map_err(io::Error::other)?;
            let len = u32::try_from(payload.len())
                .map_err(|_| invalid_input(format!("log entry {index} is too large to store")))?;
            new_positions.push((index, self.end + buf.len() as u64));
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
            buf.extend_from_slice(&payload);
        }
        let written = self
            .file
            .write_all_at(&buf, self.end)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Cut off whatever part of the batch reached the file, so that a retry (after a
            // restart) appends on a frame boundary; on open a leftover would be a torn tail.
            if let Err(e2) = self.file.set_len(self.end) {
                tracing::warn!(dir = %self.dir.display(), error = %e2, "cannot cut a failed append off the metadata log");
            }
            return Err(e);
        }
        self.end += buf.len() as u64;
        self.positions.extend(new_positions);
        let mut cache = cache.lock();
        for entry in entries {
            cache.entries.insert(entry.get_log_id().index, entry);
        }
        Ok(())
    }

    /// Delete the entries with index >= `index`.
    fn truncate<C>(&mut self, cache: &Mutex<Cached<C>>, index: u64) -> io::Result<()>
    where
        C: RaftTypeConfig,
    {
        let Some((_, &pos)) = self.positions.range(index..).next() else {
            return Ok(());
        };
        self.file.set_len(pos)?;
        self.end = pos;
        self.positions.split_off(&index);
        cache.lock().entries.split_off(&index);
        self.file.sync_all()
    }

    /// Delete the entries with index <= `upto.index`, persisting `upto` as the log start first.
    fn purge<C>(&mut self, cache: &Mutex<Cached<C>>, upto: LogId<NodeIdOf<C>>) -> io::Result<()>
    where
        C: RaftTypeConfig,
    {
        if cache
            .lock()
            .last_purged
            .as_ref()
            .is_some_and(|p| p.index >= upto.index)
        {
            return Ok(());
        }
        write_json(&self.dir, LOG_START_FILE, &Some(upto.clone()), true)?;
        let index = upto.index;
        {
            let mut cache = cache.lock();
            cache.entries = match index.checked_add(1) {
                Some(first_kept) => cache.entries.split_off(&first_kept),
                None => BTreeMap::new(),
            };
            cache.last_purged = Some(upto);
        }
        self.positions = match index.checked_add(1) {
            Some(first_kept) => self.positions.split_off(&first_kept),
            None => BTreeMap::new(),
        };
        let dead = self.live_start();
        if dead > REWRITE_DEAD_BYTES || dead > self.end - dead {
            // The purge itself is durable; a failed rewrite only leaves dead frames behind.
            if let Err(e) = self.rewrite() {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot rewrite the metadata log without its purged entries; keeping them");
            }
        }
        Ok(())
    }

    /// Replace the log file with a copy of its live frames.
    fn rewrite(&mut self) -> io::Result<()> {
        let start = self.live_start();
        let path = self.dir.join(LOG_FILE);
        let tmp_path = self.dir.join(format!("{LOG_FILE}{TMP}"));
        let copy = || -> io::Result<File> {
            let len = usize::try_from(self.end - start).map_err(io::Error::other)?;
            let mut live = vec![0; len];
            self.file.read_exact_at(&mut live, start)?;
            let mut tmp = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp_path)?;
            tmp.write_all(&live)?;
            tmp.sync_all()?;
            fs::rename(&tmp_path, &path)?;
            Ok(tmp)
        };
        match copy() {
            Ok(file) => {
                sync_dir(&self.dir);
                self.file = file;
                self.end -= start;
                for pos in self.positions.values_mut() {
                    *pos -= start;
                }
                tracing::debug!(dir = %self.dir.display(), dropped_bytes = start, "rewrote the metadata log");
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp_path);
                Err(e)
            }
        }
    }
}

fn read_range<C, RB>(cache: &Mutex<Cached<C>>, range: RB) -> Vec<EntryOf<C>>
where
    C: RaftTypeConfig,
    EntryOf<C>: Clone,
    RB: RangeBounds<u64>,
{
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => match s.checked_add(1) {
            Some(s) => s,
            None => return Vec::new(),
        },
        Bound::Unbounded => 0,
    };
    // None: no upper limit.
    let end = match range.end_bound() {
        Bound::Included(&e) => e.checked_add(1),
        Bound::Excluded(&e) => Some(e),
        Bound::Unbounded => None,
    };
    let cache = cache.lock();
    match end {
        Some(end) if end <= start => Vec::new(),
        Some(end) => cache
            .entries
            .range(start..end)
            .map(|(_, e)| e.clone())
            .collect(),
        None => cache
            .entries
            .range(start..)
            .map(|(_, e)| e.clone())
            .collect(),
    }
}

/// The frames of a log file that survive recovery.
struct Scan<C: RaftTypeConfig> {
    /// Live entries (index > last purged) with their frame positions.
    entries: BTreeMap<u64, (u64, EntryOf<C>)>,
    /// Length of the good frames; the file is cut here.
    valid_len: u64,
    /// Why the frames after `valid_len` were dropped.
    torn: Option<&'static str>,
}

/// Decode the frames of `bytes` (the content of the log file at `path`), skipping entries with
/// index <= `purged`.
fn scan_frames<C: RaftTypeConfig>(
    bytes: &[u8],
    path: &Path,
    purged: Option<u64>,
) -> io::Result<Scan<C>> {
    let mut entries: BTreeMap<u64, (u64, EntryOf<C>)> = BTreeMap::new();
    let mut pos = 0usize;
    let mut torn = None;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let Some((header, rest)) = rest.split_first_chunk::<FRAME_HEADER>() else {
            torn = Some("short frame header");
            break;
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 {
            // Never written (every entry has a payload): zeros of a file extended by a crash.
            torn = Some("zero-length frame");
            break;
        }
        let Some(payload) = rest.get(..len) else {
            torn = Some("short frame");
            break;
        };
        if crc32c::crc32c(payload) != crc {
            torn = Some("CRC mismatch");
            break;
        }
        let entry: EntryOf<C> = serde_json::from_slice(payload).map_err(|e| {
            invalid_data(format!(
                "{}: the frame at byte {pos} has a good CRC but is not a log entry: {e}",
                path.display()
            ))
        })?;
        let index = entry.get_log_id().index;
        match entries.last_key_value() {
            Some((&last, _)) if last.checked_add(1) != Some(index) => {
                return Err(invalid_data(format!(
                    "{}: log index {index} at byte {pos} follows index {last}: the log is not contiguous",
                    path.display()
                )));
            }
            None if purged.is_some_and(|p| index <= p) => {} // purged, not yet rewritten away
            None => {
                let first = purged.map_or(Some(0), |p| p.checked_add(1));
                if first != Some(index) {
                    return Err(invalid_data(format!(
                        "{}: the first live log index is {index} but the log starts at {} ({LOG_START_FILE}): entries are missing",
                        path.display(),
                        first.map_or("nothing".to_string(), |f| f.to_string()),
                    )));
                }
                entries.insert(index, (pos as u64, entry));
            }
            Some(_) => {
                entries.insert(index, (pos as u64, entry));
            }
        }
        pos += FRAME_HEADER + len;
    }
    Ok(Scan {
        entries,
        valid_len: pos as u64,
        torn,
    })
}

/// `fs::create_dir_all`, plus a fsync of the parent when `dir` is new, so that files
/// fsynced in it later cannot vanish with it in a crash.
pub(crate) fn create_dir_durably(dir: &Path) -> io::Result<()> {
    if dir.try_exists()? {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent);
    }
    Ok(())
}

/// Read `dir/name` as JSON; None if the file does not exist. Unreadable content is an error.
fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> io::Result<Option<T>> {
    let path = dir.join(name);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| invalid_data(format!("{}: {e}", path.display())))
}

/// Replace `dir/name` with `value` as JSON: temp file + fsync + rename, then a directory fsync
/// if `sync_directory` (without it the rename may be lost in a crash, leaving the old file).
fn write_json<T: Serialize>(
    dir: &Path,
    name: &str,
    value: &T,
    sync_directory: bool,
) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    let tmp = dir.join(format!("{name}{TMP}"));
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(&bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, dir.join(name))) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if sync_directory {
        sync_dir(dir);
    }
    Ok(())
}

fn invalid_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use openraft::storage::{RaftLogStorageExt, RaftStateMachine, Snapshot, SnapshotMeta};
    use openraft::testing::{StoreBuilder, Suite};
    use openraft::{
        BasicNode, CommittedLeaderId, Entry, EntryPayload, RaftSnapshotBuilder, StoredMembership,
    };

    use super::*;
    use crate::cluster::raft::snapshot_files::SnapshotFiles;

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    enum Cmd {
        Set { key: String, value: String },
    }

    openraft::declare_raft_types!(
        TestConfig:
            D = Cmd,
            R = (),
            NodeId = u64,
            Node = BasicNode,
    );

    type Store = LogStore<TestConfig>;

    // ---- a small in-memory state machine whose snapshots are SnapshotFiles, for the Suite ----

    #[derive(Clone, Default, Serialize, Deserialize)]
    struct SmData {
        last_applied: Option<LogId<u64>>,
        membership: StoredMembership<u64, BasicNode>,
        kv: BTreeMap<String, String>,
    }

    type Meta = SnapshotMeta<u64, BasicNode>;

    struct TestSm {
        data: Arc<Mutex<SmData>>,
        files: SnapshotFiles,
        built: Arc<Mutex<u64>>,
    }

    fn sto_err(e: &io::Error) -> StorageError<u64> {
        StorageIOError::write_state_machine(e).into()
    }

    impl RaftSnapshotBuilder<TestConfig> for TestSm {
        async fn build_snapshot(&mut self) -> Result<Snapshot<TestConfig>, StorageError<u64>> {
            let data = self.data.lock().clone();
            let bytes = serde_json::to_vec(&data).map_err(|e| sto_err(&io::Error::other(e)))?;
            let n = {
                let mut b = self.built.lock();
                *b += 1;
                *b
            };
            let (index, term) = data
                .last_applied
                .as_ref()
                .map_or((0, 0), |l| (l.index, l.leader_id.term));
            let meta = Meta {
                last_log_id: data.last_applied,
                last_membership: data.membership.clone(),
                snapshot_id: format!("{index}-{n}"),
            };
            self.files
                .save(&meta, index, term, &bytes)
                .map_err(|e| sto_err(&e))?;
            Ok(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(bytes)),
            })
        }
    }

    impl RaftStateMachine<TestConfig> for TestSm {
        type SnapshotBuilder = TestSm;

        async fn applied_state(
            &mut self,
        ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>>
        {
            let d = self.data.lock();
            Ok((d.last_applied, d.membership.clone()))
        }

        async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError<u64>>
        where
            I: IntoIterator<Item = Entry<TestConfig>> + OptionalSend,
            I::IntoIter: OptionalSend,
        {
            let mut d = self.data.lock();
            let mut out = Vec::new();
            for e in entries {
                d.last_applied = Some(e.log_id);
                match e.payload {
                    EntryPayload::Blank => {}
                    EntryPayload::Normal(Cmd::Set { key, value }) => {
                        d.kv.insert(key, value);
                    }
                    EntryPayload::Membership(m) => {
                        d.membership = StoredMembership::new(Some(e.log_id), m)
                    }
                }
                out.push(());
            }
            Ok(out)
        }

        async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
            TestSm {
                data: self.data.clone(),
                files: self.files.clone(),
                built: self.built.clone(),
            }
        }

        async fn begin_receiving_snapshot(
            &mut self,
        ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
            Ok(Box::new(Cursor::new(Vec::new())))
        }

        async fn install_snapshot(
            &mut self,
            meta: &Meta,
            snapshot: Box<Cursor<Vec<u8>>>,
        ) -> Result<(), StorageError<u64>> {
            let bytes = snapshot.into_inner();
            let data: SmData =
                serde_json::from_slice(&bytes).map_err(|e| sto_err(&io::Error::other(e)))?;
            let (index, term) = meta
                .last_log_id
                .as_ref()
                .map_or((0, 0), |l| (l.index, l.leader_id.term));
            self.files
                .save(meta, index, term, &bytes)
                .map_err(|e| sto_err(&e))?;
            *self.data.lock() = data;
            Ok(())
        }

        async fn get_current_snapshot(
            &mut self,
        ) -> Result<Option<Snapshot<TestConfig>>, StorageError<u64>> {
            let found = self.files.load_latest::<Meta>().map_err(|e| sto_err(&e))?;
            Ok(found.map(|(meta, bytes)| Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(bytes)),
            }))
        }
    }

    /// Makes a fresh store and state machine in a new temp dir; counts how often.
    #[derive(Default)]
    struct Builder(std::sync::atomic::AtomicUsize);

    impl StoreBuilder<TestConfig, Store, TestSm, tempfile::TempDir> for Builder {
        async fn build(&self) -> Result<(tempfile::TempDir, Store, TestSm), StorageError<u64>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
            let store = Store::open(dir.path()).map_err(|e| StorageIOError::read(&e))?;
            let sm = TestSm {
                data: Arc::default(),
                files: SnapshotFiles::open(dir.path()).map_err(|e| StorageIOError::read(&e))?,
                built: Arc::default(),
            };
            Ok((dir, store, sm))
        }
    }

    /// openraft's own conformance suite (35 cases). A plain test: it makes a runtime per case.
    #[test]
    fn openraft_storage_suite() {
        let builder = Arc::new(Builder::default());
        Suite::test_all(builder.clone()).unwrap();
        // 34 cases build one store each, transfer_snapshot builds two: all 35 ran.
        assert_eq!(builder.0.load(std::sync::atomic::Ordering::Relaxed), 36);
    }

    impl StoreBuilder<TestConfig, Store, TestSm, tempfile::TempDir> for Arc<Builder> {
        async fn build(&self) -> Result<(tempfile::TempDir, Store, TestSm), StorageError<u64>> {
            self.as_ref().build().await
        }
    }

    // ---- durability and recovery ----

    fn lid(term: u64, index: u64) -> LogId<u64> {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    fn ent(term: u64, index: u64) -> Entry<TestConfig> {
        Entry {
            log_id: lid(term, index),
            payload: EntryPayload::Normal(Cmd::Set {
                key: format!("k{index}"),
                value: format!("value of {index} in term {term}"),
            }),
        }
    }

    fn frame(entry: &Entry<TestConfig>) -> Vec<u8> {
        let payload = serde_json::to_vec(entry).unwrap();
        let mut f = (payload.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
        f.extend_from_slice(&payload);
        f
    }

    async fn append(store: &mut Store, term: u64, indexes: impl IntoIterator<Item = u64>) {
        let entries: Vec<_> = indexes.into_iter().map(|i| ent(term, i)).collect();
        store.blocking_append(entries).await.unwrap();
    }

    /// `(term, index)` of every entry the store returns.
    async fn ids(store: &mut Store) -> Vec<(u64, u64)> {
        store
            .try_get_log_entries(..)
            .await
            .unwrap()
            .iter()
            .map(|e| (e.log_id.leader_id.term, e.log_id.index))
            .collect()
    }

    fn ids_of(term: u64, indexes: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
        indexes.into_iter().map(|i| (term, i)).collect()
    }

    fn log_len(dir: &Path) -> u64 {
        fs::metadata(dir.join(LOG_FILE)).unwrap().len()
    }

    fn open_err(dir: &Path) -> io::Error {
        match Store::open(dir) {
            Ok(_) => panic!("open should fail"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn reopen_keeps_entries_vote_committed_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.read_vote().await.unwrap(), None);
        assert_eq!(store.read_committed().await.unwrap(), None);
        append(&mut store, 1, 0..10).await;
        store.save_vote(&Vote::new(3, 1)).await.unwrap();
        store.save_committed(Some(lid(1, 7))).await.unwrap();
        let len = log_len(dir.path());
        store.purge(lid(1, 2)).await.unwrap();
        assert_eq!(
            log_len(dir.path()),
            len,
            "a small purge leaves the dead frames in the file"
        );
        drop(store);

        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(ids(&mut store).await, ids_of(1, 3..10));
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(lid(1, 2)));
        assert_eq!(state.last_log_id, Some(lid(1, 9)));
        assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 1)));
        assert_eq!(store.read_committed().await.unwrap(), Some(lid(1, 7)));

        // Appends after a reopen go after the last frame and survive the next reopen; a later
        // committed id keeps the vote, a later vote keeps the committed id.
        append(&mut store, 2, 10..12).await;
        store.save_committed(Some(lid(2, 11))).await.unwrap();
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        let mut want = ids_of(1, 3..10);
        want.extend(ids_of(2, 10..12));
        assert_eq!(ids(&mut store).await, want);
        assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 1)));
        store.save_vote(&Vote::new(4, 2)).await.unwrap();
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(4, 2)));
        assert_eq!(store.read_committed().await.unwrap(), Some(lid(2, 11)));
        let state: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(QUORUM_STATE_FILE)).unwrap()).unwrap();
        assert!(
            state.get("vote").is_some() && state.get("committed").is_some(),
            "{state}"
        );
    }

    #[tokio::test]
    async fn truncate_then_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        append(&mut store, 1, 0..10).await;
        store.truncate(lid(1, 6)).await.unwrap();
        assert_eq!(ids(&mut store).await, ids_of(1, 0..6));
        let cut = log_len(dir.path());
        let six_frames: usize = (0..6).map(|i| frame(&ent(1, i)).len()).sum();
        assert_eq!(
            cut, six_frames as u64,
            "the file is cut at the first removed frame"
        );
        // A conflicting entry from a new leader replaces the removed ones.
        append(&mut store, 2, 6..8).await;
        // Truncating past the end is a no-op.
        store.truncate(lid(2, 100)).await.unwrap();
        drop(store);

        let mut store = Store::open(dir.path()).unwrap();
        let mut want = ids_of(1, 0..6);
        want.extend(ids_of(2, 6..8));
        assert_eq!(ids(&mut store).await, want);
        store.truncate(lid(1, 0)).await.unwrap();
        assert_eq!(log_len(dir.path()), 0);
        assert_eq!(store.get_log_state().await.unwrap().last_log_id, None);
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(ids(&mut store).await, vec![]);
    }

    #[tokio::test]
    async fn torn_tail_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let mut store = Store::open(dir.path()).unwrap();
        append(&mut store, 1, 0..5).await;
        drop(store);
        let good = fs::read(&path).unwrap();

        let last = frame(&ent(1, 4)).len();
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 3] ^= 0x55;
        let mut garbage = good.clone();
        garbage.extend_from_slice(&[0, 0, 0, 200, 1, 2, 3, 4, b'{', b'"']);
        let mut zeros = good.clone();
        zeros.extend_from_slice(&[0; 4096]);
        let mut header_only = good.clone();
        header_only.extend_from_slice(&[0, 0, 0]);
        let cases: [(&str, Vec<u8>, u64); 5] = [
            ("garbage after the last frame", garbage, 5),
            ("zeros after the last frame", zeros, 5),
            ("a short header", header_only, 5),
            (
                "last frame cut in half",
                good[..good.len() - last / 2].to_vec(),
                4,
            ),
            ("last frame with a bad CRC", bad_crc, 4),
        ];
        for (what, bytes, kept) in cases {
            fs::write(&path, &bytes).unwrap();
            let mut store = Store::open(dir.path()).unwrap();
            assert_eq!(ids(&mut store).await, ids_of(1, 0..kept), "{what}");
            let good_len: usize = (0..kept).map(|i| frame(&ent(1, i)).len()).sum();
            assert_eq!(
                log_len(dir.path()),
                good_len as u64,
                "{what}: file cut at the last good frame"
            );
            // The repaired log takes new appends and reopens cleanly.
            append(&mut store, 2, kept..kept + 1).await;
            drop(store);
            let mut store = Store::open(dir.path()).unwrap();
            assert_eq!(ids(&mut store).await.len() as u64, kept + 1, "{what}");
        }
    }

    #[tokio::test]
    async fn purge_with_rewrite_then_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        append(&mut store, 1, 0..10).await;
        let before = log_len(dir.path());
        store.purge(lid(1, 6)).await.unwrap();
        let live: usize = (7..10).map(|i| frame(&ent(1, i)).len()).sum();
        assert!(log_len(dir.path()) < before);
        assert_eq!(
            log_len(dir.path()),
            live as u64,
            "the file holds only the live frames"
        );
        assert!(!dir.path().join(format!("{LOG_FILE}.tmp")).exists());
        // Positions were shifted: a truncate after the rewrite cuts at the right byte.
        store.truncate(lid(1, 9)).await.unwrap();
        append(&mut store, 2, 9..11).await;
        // Purging backwards is a no-op.
        store.purge(lid(1, 3)).await.unwrap();
        drop(store);

        let mut store = Store::open(dir.path()).unwrap();
        let mut want = ids_of(1, 7..9);
        want.extend(ids_of(2, 9..11));
        assert_eq!(ids(&mut store).await, want);
        assert_eq!(
            store.get_log_state().await.unwrap().last_purged_log_id,
            Some(lid(1, 6))
        );

        // Purge beyond the last entry (a follower that installed a snapshot): the log is empty,
        // its last log id is the purged one, and appends continue after it.
        store.purge(lid(3, 20)).await.unwrap();
        assert_eq!(log_len(dir.path()), 0);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(
            (state.last_purged_log_id, state.last_log_id),
            (Some(lid(3, 20)), Some(lid(3, 20)))
        );
        // An entry at a purged index is dropped, not stored.
        append(&mut store, 3, 19..23).await;
        assert_eq!(ids(&mut store).await, ids_of(3, 21..23));
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(ids(&mut store).await, ids_of(3, 21..23));
        assert_eq!(
            store.get_log_state().await.unwrap().last_purged_log_id,
            Some(lid(3, 20))
        );
    }

    #[tokio::test]
    async fn crash_between_log_start_and_rewrite_reopens() {
        // log-start says 4 is purged, but the file still holds every frame (the rewrite never
        // happened): the dead frames are skipped.
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for i in 0..8 {
            bytes.extend(frame(&ent(1, i)));
        }
        fs::write(dir.path().join(LOG_FILE), &bytes).unwrap();
        fs::write(
            dir.path().join(LOG_START_FILE),
            serde_json::to_vec(&Some(lid(1, 4))).unwrap(),
        )
        .unwrap();
        fs::write(
            dir.path().join(format!("{LOG_FILE}.tmp")),
            b"half a rewrite",
        )
        .unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(ids(&mut store).await, ids_of(1, 5..8));
        assert!(!dir.path().join(format!("{LOG_FILE}.tmp")).exists());
        // Truncating every live entry keeps the dead frames, and the log stays valid.
        store.truncate(lid(1, 5)).await.unwrap();
        append(&mut store, 2, 5..6).await;
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(ids(&mut store).await, ids_of(2, 5..6));
    }

    #[test]
    fn non_contiguous_log_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let write = |indexes: &[u64]| {
            let bytes: Vec<u8> = indexes.iter().flat_map(|&i| frame(&ent(1, i))).collect();
            fs::write(&path, bytes).unwrap();
        };
        let refused = |why: &str| {
            let e = open_err(dir.path());
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{why}: {e}");
            assert!(
                e.to_string().contains(LOG_FILE),
                "{why}: the error names the file: {e}"
            );
        };

        write(&[0, 1, 3, 4]);
        refused("a hole");
        write(&[0, 1, 2, 1]);
        refused("going backwards");
        write(&[2, 3]);
        refused("missing start, nothing purged");
        fs::write(
            dir.path().join(LOG_START_FILE),
            serde_json::to_vec(&Some(lid(1, 1))).unwrap(),
        )
        .unwrap();
        write(&[0, 1, 3, 4]);
        refused("a hole after the purged entries");
        write(&[0, 1, 2, 0]);
        refused("a purged index after a live one");
        write(&[0, 1, 2, 3]);
        assert!(Store::open(dir.path()).is_ok());

        // A frame whose CRC is right but which is not an entry is damage, not a torn write.
        let payload = b"{\"not\":\"an entry\"}";
        let mut bytes: Vec<u8> = [0u64, 1, 2]
            .iter()
            .flat_map(|&i| frame(&ent(1, i)))
            .collect();
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes.extend(frame(&ent(1, 3)));
        fs::write(&path, &bytes).unwrap();
        refused("an undecodable frame");
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes,
            "a refused log is not modified"
        );
    }

    #[test]
    fn damaged_quorum_state_or_log_start_refused() {
        for name in [QUORUM_STATE_FILE, LOG_START_FILE] {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(name), b"{\"vote\": ").unwrap();
            let e = open_err(dir.path());
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{name}: {e}");
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[tokio::test]
    async fn leftover_temp_files_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.save_vote(&Vote::new(2, 1)).await.unwrap();
        drop(store);
        for name in [QUORUM_STATE_FILE, LOG_START_FILE] {
            fs::write(dir.path().join(format!("{name}.tmp")), b"{\"vo").unwrap();
        }
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(2, 1)));
        for name in [QUORUM_STATE_FILE, LOG_START_FILE] {
            assert!(!dir.path().join(format!("{name}.tmp")).exists());
        }
    }

    #[tokio::test]
    async fn append_that_would_leave_a_hole_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        append(&mut store, 1, 0..3).await;
        let len = log_len(dir.path());
        assert!(store.blocking_append([ent(1, 4)]).await.is_err());
        assert!(store.blocking_append([ent(1, 3), ent(1, 5)]).await.is_err());
        assert!(store.blocking_append([ent(1, 2)]).await.is_err());
        assert_eq!(log_len(dir.path()), len, "nothing was written");
        assert_eq!(ids(&mut store).await, ids_of(1, 0..3));
        store.blocking_append(Vec::new()).await.unwrap();
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(ids(&mut store).await, ids_of(1, 0..3));
    }

    #[tokio::test]
    async fn reader_sees_appends_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut reader = store.get_log_reader().await;
        let mut reader2 = reader.clone();
        append(&mut store, 1, 0..10).await;
        let idx = |v: Vec<Entry<TestConfig>>| v.iter().map(|e| e.log_id.index).collect::<Vec<_>>();
        assert_eq!(
            idx(reader.try_get_log_entries(3..6).await.unwrap()),
            vec![3, 4, 5]
        );
        assert_eq!(
            idx(reader2.try_get_log_entries(8..).await.unwrap()),
            vec![8, 9]
        );
        assert_eq!(
            idx(reader.try_get_log_entries(..=1).await.unwrap()),
            vec![0, 1]
        );
        assert_eq!(
            idx(reader.try_get_log_entries(9..=u64::MAX).await.unwrap()),
            vec![9]
        );
        assert_eq!(
            idx(reader
                .try_get_log_entries((Bound::Included(6), Bound::Excluded(3)))
                .await
                .unwrap()),
            Vec::<u64>::new()
        );
        assert_eq!(
            idx(reader.try_get_log_entries(5..5).await.unwrap()),
            Vec::<u64>::new()
        );
        let excluded = (Bound::Excluded(u64::MAX), Bound::Unbounded);
        assert_eq!(
            idx(reader.try_get_log_entries(excluded).await.unwrap()),
            Vec::<u64>::new()
        );
        let excluded = (Bound::Excluded(2), Bound::Excluded(5));
        assert_eq!(
            idx(reader.try_get_log_entries(excluded).await.unwrap()),
            vec![3, 4]
        );
        store.purge(lid(1, 4)).await.unwrap();
        store.truncate(lid(1, 8)).await.unwrap();
        assert_eq!(
            idx(reader.try_get_log_entries(..).await.unwrap()),
            vec![5, 6, 7]
        );
    }
}
