//! Sparse per-segment index files, in Kafka's on-disk format.
//!
//! * `.index`: 8-byte entries `(relative offset: u32 BE, file position: u32 BE)`. The relative
//!   offset is that of the *last* record of the batch found at the position (as Kafka ≥ 3.x writes it).
//! * `.timeindex`: 12-byte entries `(timestamp: i64 BE, relative offset: u32 BE)`: the segment's
//!   running max timestamp and the last offset of the batch that first reached it.
//!
//! Entries are kept in memory for lookups, which are the truth; the files are written with plain
//! appends at sync points (no preallocation, no mmap: a full disk surfaces as an `ENOSPC` error
//! from `write`, never as a SIGBUS) and hold no open descriptor between them. A failed write (a
//! full disk) marks the file dirty, and it is rewritten whole at the next sync; until then the
//! file may be short or end in a partial entry, which a reopen detects and rebuilds from the
//! segment data.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::files::SegmentPath;

/// One `.index` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub relative_offset: u32,
    pub position: u32,
}

/// One `.timeindex` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeIndexEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

/// A fixed-size index file entry.
pub trait Entry: Copy + PartialEq + std::fmt::Debug {
    const SIZE: usize;
    fn encode(&self, out: &mut Vec<u8>);
    /// `b` is exactly `SIZE` bytes.
    fn decode(b: &[u8]) -> Self;
}

impl Entry for IndexEntry {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        IndexEntry {
            relative_offset: super::batch::read_u32(b, 0),
            position: super::batch::read_u32(b, 4),
        }
    }
}

impl Entry for TimeIndexEntry {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        TimeIndexEntry {
            timestamp: super::batch::read_i64(b, 0),
            relative_offset: super::batch::read_u32(b, 8),
        }
    }
}

/// An index file: the in-memory entries (the truth for lookups) and how many of them the file
/// holds. No descriptor is kept open: entries appended to the active segment reach the file at
/// its next [`IndexFile::sync`] (a flush, a roll, a clean shutdown), written with one append.
/// A crash loses at most the unsynced tail, which the next open rebuilds from the segment data
/// (the active segment is always walked).
#[derive(Debug)]
pub struct IndexFile<E: Entry> {
    path: SegmentPath,
    entries: Vec<E>,
    /// Entries the file holds (a prefix of `entries`) when not `dirty`.
    written: usize,
    /// The file is not a prefix of the entries (a write or a cut failed): rewrite it whole.
    dirty: bool,
}

pub type OffsetIndex = IndexFile<IndexEntry>;
pub type TimeIndex = IndexFile<TimeIndexEntry>;

/// Read and decode every entry of an index file. `Err` holds a human-readable reason
/// (missing file, length not a multiple of the entry size, I/O error).
pub fn read_entries<E: Entry>(path: &Path) -> Result<Vec<E>, String> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err("missing".into()),
        Err(e) => return Err(format!("cannot open: {e}")),
    };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    if buf.len() % E::SIZE != 0 {
        return Err(format!(
            "length {} is not a multiple of {}",
            buf.len(),
            E::SIZE
        ));
    }
    Ok(buf.chunks_exact(E::SIZE).map(E::decode).collect())
}

fn encode_all<E: Entry>(entries: &[E]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(entries.len() * E::SIZE);
    for e in entries {
        e.encode(&mut buf);
    }
    buf
}

impl<E: Entry> IndexFile<E> {
    /// An index with the given entries; the file is taken to hold none of them until
    /// [`Self::rewrite`], [`Self::matches_file`] or a [`Self::sync`].
    pub fn new(path: SegmentPath, entries: Vec<E>) -> Self {
        IndexFile {
            path,
            entries,
            written: 0,
            dirty: true,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.path.path()
    }
    /// The path's parts (to make another index of the same file).
    pub fn location(&self) -> &SegmentPath {
        &self.path
    }
    pub fn entries(&self) -> &[E] {
        &self.entries
    }
    pub fn last(&self) -> Option<E> {
        self.entries.last().copied()
    }

    /// Replace the file's content with the in-memory entries and fsync it. On failure the index
    /// is left dirty (the next [`IndexFile::sync`] tries again) and the error returned.
    pub fn rewrite(&mut self) -> io::Result<()> {
        self.dirty = true;
        let mut f = File::create(self.path())?;
        f.write_all(&encode_all(&self.entries))?;
        super::files::sync_data(&f)?;
        self.written = self.entries.len();
        self.dirty = false;
        Ok(())
    }

    /// Create the file empty, without an fsync (a new segment's index: the segment's own
    /// files are made durable by its first flush, and an open rebuilds a missing index).
    pub fn create_empty(&mut self) -> io::Result<()> {
        File::create(self.path())?;
        self.written = 0;
        self.dirty = !self.entries.is_empty();
        Ok(())
    }

    /// [`Self::rewrite`], where a failure (a full disk) is only logged: the in-memory entries
    /// stay the truth and the next [`Self::sync`] retries.
    pub fn rewrite_or_defer(&mut self) {
        if let Err(err) = self.rewrite() {
            tracing::warn!(path = %self.path().display(), error = %err, "cannot write index; will rewrite at next flush");
        }
    }

    /// The file is known to hold exactly the in-memory entries (checked by the caller).
    pub fn matches_file(&mut self) {
        self.written = self.entries.len();
        self.dirty = false;
    }

    /// Whether the file is older than the in-memory entries (a write failed).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Forget the entries from `len` on (an append that is being undone). A file that already
    /// holds them is cut to match; if that fails it is marked dirty.
    pub fn truncate_entries(&mut self, len: usize) {
        if self.entries.len() <= len {
            return;
        }
        self.entries.truncate(len);
        if self.dirty || self.written <= len {
            return;
        }
        let cut = OpenOptions::new()
            .write(true)
            .open(self.path())
            .and_then(|f| f.set_len((len * E::SIZE) as u64));
        match cut {
            Ok(()) => self.written = len,
            Err(err) => {
                tracing::warn!(path = %self.path().display(), error = %err, "cannot cut index; will rewrite at next flush");
                self.dirty = true;
            }
        }
    }

    /// Append an entry in memory; the file gets it at the next [`Self::sync`].
    pub fn append(&mut self, e: E) {
        self.entries.push(e);
    }

    /// Bring the file up to the in-memory entries and fsync it: the new entries in one append,
    /// or the whole file if an earlier write failed. Nothing to write: no system call.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            return self.rewrite();
        }
        if self.written == self.entries.len() {
            return Ok(());
        }
        let appended = OpenOptions::new()
            .append(true)
            .open(self.path())
            .and_then(|mut f| {
                f.write_all(&encode_all(&self.entries[self.written..]))?;
                super::files::sync_data(&f)
            });
        match appended {
            Ok(()) => {
                self.written = self.entries.len();
                Ok(())
            }
            Err(e) => {
                // A partial append leaves the file in an unknown state: rewrite it next time.
                self.dirty = true;
                Err(e)
            }
        }
    }
}

impl OffsetIndex {
    /// File position of the largest entry whose relative offset is <= `relative_offset`, or 0.
    /// The batch at that position ends at or before the target, so a forward scan from it
    /// finds the batch containing the target.
    pub fn lookup(&self, relative_offset: i64) -> u64 {
        let n = self
            .entries
            .partition_point(|e| i64::from(e.relative_offset) <= relative_offset);
        match n.checked_sub(1) {
            Some(i) => u64::from(self.entries[i].position),
            None => 0,
        }
    }
}

impl TimeIndex {
    /// Relative offset of the largest entry whose timestamp is <= `timestamp`. Every batch before
    /// the batch holding that offset has a smaller max timestamp, so a search for the first record
    /// with timestamp >= `timestamp` may start there.
    pub fn lookup(&self, timestamp: i64) -> Option<u32> {
        let n = self.entries.partition_point(|e| e.timestamp <= timestamp);
        n.checked_sub(1).map(|i| self.entries[i].relative_offset)
    }
}

/// Structural check of offset-index entries against a log file of `log_size` bytes.
pub fn check_offset_entries(entries: &[IndexEntry], log_size: u64) -> Result<(), String> {
    for (i, e) in entries.iter().enumerate() {
        if e.relative_offset > i32::MAX as u32 || u64::from(e.position) >= log_size {
            return Err(format!(
                "entry {i} {e:?} out of range (log size {log_size})"
            ));
        }
        if i > 0 {
            let p = entries[i - 1];
            if e.relative_offset <= p.relative_offset || e.position <= p.position {
                return Err(format!("entry {i} {e:?} not after {p:?}"));
            }
        }
    }
    Ok(())
}

/// Structural check of time-index entries: timestamps strictly increasing (both writers only
/// append a larger timestamp; this also rejects zero-filled preallocated files), offsets
/// non-decreasing and within `max_relative_offset`.
pub fn check_time_entries(
    entries: &[TimeIndexEntry],
    max_relative_offset: i64,
) -> Result<(), String> {
    for (i, e) in entries.iter().enumerate() {
        if i64::from(e.relative_offset) > max_relative_offset {
            return Err(format!("entry {i} {e:?} beyond the segment's last offset"));
        }
        if i > 0 {
            let p = entries[i - 1];
            if e.timestamp <= p.timestamp || e.relative_offset < p.relative_offset {
                return Err(format!("entry {i} {e:?} not after {p:?}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let shared: std::sync::Arc<Path> = std::sync::Arc::from(dir.path());
        let path = dir.path().join("00000000000000000000.index");
        let mut idx = OffsetIndex::new(SegmentPath::new(&shared, 0, ".index"), vec![]);
        idx.rewrite().unwrap();
        idx.append(IndexEntry {
            relative_offset: 9,
            position: 100,
        });
        idx.append(IndexEntry {
            relative_offset: 19,
            position: 200,
        });
        idx.sync().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            vec![0, 0, 0, 9, 0, 0, 0, 100, 0, 0, 0, 19, 0, 0, 0, 200]
        );
        let back: Vec<IndexEntry> = read_entries(&path).unwrap();
        assert_eq!(back, idx.entries());
        assert_eq!(idx.lookup(0), 0);
        assert_eq!(idx.lookup(8), 0);
        assert_eq!(idx.lookup(9), 100);
        assert_eq!(idx.lookup(18), 100);
        assert_eq!(idx.lookup(19), 200);
        assert_eq!(idx.lookup(1000), 200);
        assert!(check_offset_entries(idx.entries(), 201).is_ok());
        assert!(check_offset_entries(idx.entries(), 200).is_err());

        let tpath = dir.path().join("00000000000000000000.timeindex");
        let mut t = TimeIndex::new(SegmentPath::new(&shared, 0, ".timeindex"), vec![]);
        t.rewrite().unwrap();
        t.append(TimeIndexEntry {
            timestamp: 1000,
            relative_offset: 9,
        });
        t.append(TimeIndexEntry {
            timestamp: 2000,
            relative_offset: 19,
        });
        // Appended entries reach the file at the next sync, in one append.
        assert_eq!(std::fs::read(&tpath).unwrap().len(), 0);
        t.sync().unwrap();
        assert_eq!(std::fs::read(&tpath).unwrap().len(), 24);
        t.truncate_entries(1);
        assert_eq!(std::fs::read(&tpath).unwrap().len(), 12);
        t.append(TimeIndexEntry {
            timestamp: 2000,
            relative_offset: 19,
        });
        t.sync().unwrap();
        assert_eq!(std::fs::read(&tpath).unwrap().len(), 24);
        assert_eq!(t.lookup(999), None);
        assert_eq!(t.lookup(1000), Some(9));
        assert_eq!(t.lookup(1999), Some(9));
        assert_eq!(t.lookup(5000), Some(19));
        assert!(check_time_entries(t.entries(), 19).is_ok());
        assert!(check_time_entries(t.entries(), 18).is_err());
    }

    #[test]
    fn bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        assert_eq!(read_entries::<IndexEntry>(&path).unwrap_err(), "missing");
        std::fs::write(&path, [1, 2, 3]).unwrap();
        assert!(read_entries::<IndexEntry>(&path).is_err());
        let bad = [
            IndexEntry {
                relative_offset: 5,
                position: 10,
            },
            IndexEntry {
                relative_offset: 5,
                position: 20,
            },
        ];
        assert!(check_offset_entries(&bad, 100).is_err());
    }
}
