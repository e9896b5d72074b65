//! Sparse per-segment index files, in Kafka's on-disk format.
//!
//! * `.index`: 8-byte entries `(relative offset: u32 BE, file position: u32 BE)`. The relative
//!   offset is that of the *last* record of the batch found at the position (as Kafka ≥ 3.x writes it).
//! * `.timeindex`: 12-byte entries `(timestamp: i64 BE, relative offset: u32 BE)`: the segment's
//!   running max timestamp and the last offset of the batch that first reached it.
//!
//! Files are plain appends (no preallocation, no mmap: a full disk surfaces as an `ENOSPC` error
//! from `write`, never as a SIGBUS); entries are also kept in memory for lookups, which are the
//! truth. A failed write (a full disk) marks the file dirty, and it is rewritten whole at the next
//! sync; until then the file may be short or end in a partial entry, which a reopen detects and
//! rebuilds from the segment data.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

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

/// An index file: in-memory entries plus (for the active segment) an open append handle.
#[derive(Debug)]
pub struct IndexFile<E: Entry> {
    path: PathBuf,
    entries: Vec<E>,
    file: Option<File>,
    /// An append handle is wanted (the segment is active), even while `file` is None because
    /// a rewrite failed.
    keep_open: bool,
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

impl<E: Entry> IndexFile<E> {
    /// An index with the given entries, not yet tied to an open file.
    pub fn new(path: PathBuf, entries: Vec<E>) -> Self {
        IndexFile {
            path,
            entries,
            file: None,
            keep_open: false,
            dirty: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn entries(&self) -> &[E] {
        &self.entries
    }
    pub fn last(&self) -> Option<E> {
        self.entries.last().copied()
    }

    /// Replace the file's content with the in-memory entries and fsync it; keep an append
    /// handle if `keep_open`. On failure the index is left dirty (the next [`IndexFile::sync`]
    /// tries again) and the error returned.
    pub fn rewrite(&mut self, keep_open: bool) -> io::Result<()> {
        self.file = None;
        self.keep_open = keep_open;
        self.dirty = true;
        let mut buf = Vec::with_capacity(self.entries.len() * E::SIZE);
        for e in &self.entries {
            e.encode(&mut buf);
        }
        let mut f = File::create(&self.path)?;
        f.write_all(&buf)?;
        f.sync_data()?;
        self.dirty = false;
        if keep_open {
            self.file = Some(f);
        }
        Ok(())
    }

    /// [`Self::rewrite`], where a failure (a full disk) is only logged: the in-memory entries
    /// serve lookups and the next [`Self::sync`] writes the file.
    pub fn rewrite_or_defer(&mut self, keep_open: bool) {
        if let Err(err) = self.rewrite(keep_open) {
            tracing::warn!(path = %self.path.display(), error = %err, "cannot write index; will rewrite at next flush");
        }
    }

    /// Open the existing file for appends (its content must equal the in-memory entries).
    pub fn open_for_append(&mut self) -> io::Result<()> {
        self.keep_open = true;
        self.file = Some(
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.path)?,
        );
        Ok(())
    }

    /// Drop the append handle (inactive segments keep only the in-memory entries).
    pub fn close(&mut self) {
        self.file = None;
        self.keep_open = false;
    }

    /// Whether the file is older than the in-memory entries (a write failed).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Forget the entries from `len` on (an append that is being undone). The file is cut to
    /// match; if that fails it is marked dirty.
    pub fn truncate_entries(&mut self, len: usize) {
        if self.entries.len() <= len {
            return;
        }
        self.entries.truncate(len);
        if self.dirty {
            return;
        }
        let cut = match &self.file {
            Some(f) => f.set_len((len * E::SIZE) as u64),
            None => Err(io::Error::other("no append handle")),
        };
        if let Err(err) = cut {
            tracing::warn!(path = %self.path.display(), error = %err, "cannot cut index; will rewrite at next flush");
            self.dirty = true;
        }
    }

    /// Append an entry in memory and, if the file is open, on disk. A write failure is logged
    /// and the file is marked dirty (rewritten at the next [`IndexFile::sync`]).
    pub fn append(&mut self, e: E) {
        self.entries.push(e);
        if self.dirty {
            return;
        }
        if let Some(f) = self.file.as_mut() {
            let mut buf = Vec::with_capacity(E::SIZE);
            e.encode(&mut buf);
            if let Err(err) = f.write_all(&buf) {
                tracing::warn!(path = %self.path.display(), error = %err, "index write failed; will rewrite at next flush");
                self.dirty = true;
            }
        }
    }

    /// Rewrite the file if a write failed earlier, then fsync it.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            return self.rewrite(self.keep_open);
        }
        match &self.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
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
        let path = dir.path().join("00000000000000000000.index");
        let mut idx = OffsetIndex::new(path.clone(), vec![]);
        idx.rewrite(true).unwrap();
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
        let mut t = TimeIndex::new(tpath.clone(), vec![]);
        t.rewrite(true).unwrap();
        t.append(TimeIndexEntry {
            timestamp: 1000,
            relative_offset: 9,
        });
        t.append(TimeIndexEntry {
            timestamp: 2000,
            relative_offset: 19,
        });
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
