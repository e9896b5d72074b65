//! A partition's transaction index: an append-only file (`transactions.index`
//! in the partition directory) of fixed 17-byte entries — kind (1 begin,
//! 2 commit, 3 abort), producer id, offset — written after the log append they
//! describe. Replayed at start-up it restores the open transactions (the last
//! stable offset) and the aborted ranges (read_committed fetches) without
//! scanning the log; Kafka keeps `.txnindex` files for the same reason.
//!
//! A torn tail is cut to whole entries; entries past the log end (the log was
//! truncated by recovery) are dropped.
//!
//! A write that fails (a full disk) is cut back to whole entries, and its event is
//! held and written, before any later one, at the next append or flush: the file is
//! always a prefix of the events, so a restart catches up on what it lacks from the log.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::producer_state::ProducerStateTable;

pub const FILE_NAME: &str = "transactions.index";
const ENTRY: usize = 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnEvent {
    Begin {
        producer_id: i64,
        offset: i64,
    },
    End {
        producer_id: i64,
        marker_offset: i64,
        commit: bool,
    },
}

impl TxnEvent {
    fn offset(&self) -> i64 {
        match self {
            TxnEvent::Begin { offset, .. } => *offset,
            TxnEvent::End { marker_offset, .. } => *marker_offset,
        }
    }

    fn encode(&self) -> [u8; ENTRY] {
        let (kind, pid, off) = match *self {
            TxnEvent::Begin {
                producer_id,
                offset,
            } => (1u8, producer_id, offset),
            TxnEvent::End {
                producer_id,
                marker_offset,
                commit,
            } => (if commit { 2 } else { 3 }, producer_id, marker_offset),
        };
        let mut b = [0u8; ENTRY];
        b[0] = kind;
        b[1..9].copy_from_slice(&pid.to_be_bytes());
        b[9..17].copy_from_slice(&off.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<TxnEvent> {
        let pid = i64::from_be_bytes(b[1..9].try_into().ok()?);
        let off = i64::from_be_bytes(b[9..17].try_into().ok()?);
        match b[0] {
            1 => Some(TxnEvent::Begin {
                producer_id: pid,
                offset: off,
            }),
            2 | 3 => Some(TxnEvent::End {
                producer_id: pid,
                marker_offset: off,
                commit: b[0] == 2,
            }),
            _ => None,
        }
    }

    /// Apply to a producer state table.
    pub fn apply(&self, t: &mut ProducerStateTable) {
        match *self {
            TxnEvent::Begin {
                producer_id,
                offset,
            } => t.on_transactional_append(producer_id, offset),
            TxnEvent::End {
                producer_id,
                marker_offset,
                commit,
            } => {
                t.on_marker(producer_id, commit, marker_offset);
            }
        }
    }
}

pub struct TxnIndex {
    /// The partition directory (shared with the log).
    dir: Arc<Path>,
    file: Option<File>,
    /// Bytes of whole entries in the file.
    len: u64,
    /// Events not written yet (a write failed), in order.
    pending: Vec<TxnEvent>,
    /// Highest offset an entry refers to (-1: none).
    pub high_water: i64,
}

impl TxnIndex {
    /// The index of `dir` where there is no file yet.
    pub fn empty(dir: &Arc<Path>) -> TxnIndex {
        TxnIndex {
            dir: dir.clone(),
            file: None,
            len: 0,
            pending: Vec::new(),
            high_water: -1,
        }
    }

    /// Open the index of `dir`, keeping only entries below `log_end_offset`.
    pub fn open(dir: &Arc<Path>, log_end_offset: i64) -> io::Result<(TxnIndex, Vec<TxnEvent>)> {
        let path = dir.join(FILE_NAME);
        let mut events = Vec::new();
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let whole = bytes.len() / ENTRY * ENTRY;
        let mut keep = 0;
        for chunk in bytes[..whole].chunks_exact(ENTRY) {
            match TxnEvent::decode(chunk) {
                Some(e) if e.offset() < log_end_offset => {
                    events.push(e);
                    keep += ENTRY;
                }
                _ => break,
            }
        }
        if keep != bytes.len() {
            tracing::warn!(path = %path.display(), kept = keep / ENTRY, "truncating transaction index past the log end or a torn tail");
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(keep as u64)?;
        }
        let high_water = events.iter().map(TxnEvent::offset).max().unwrap_or(-1);
        Ok((
            TxnIndex {
                len: keep as u64,
                high_water,
                ..TxnIndex::empty(dir)
            },
            events,
        ))
    }

    /// Write `e` (after any event a failed write held back). On failure the event is held
    /// and written by the next append or [`Self::write_pending`].
    pub fn append(&mut self, e: TxnEvent) -> io::Result<()> {
        self.pending.push(e);
        self.write_pending()
    }

    /// Write the events held back by a failed write, in order.
    pub fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let f = match &self.file {
            Some(f) => f,
            None => self.file.insert(
                OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(false)
                    .open(self.dir.join(FILE_NAME))?,
            ),
        };
        let buf: Vec<u8> = self.pending.iter().flat_map(|e| e.encode()).collect();
        // Positioned at the end of the whole entries, so a torn entry a failed write left
        // (if cutting it failed too) is overwritten.
        if let Err(e) = f.write_all_at(&buf, self.len) {
            let _ = f.set_len(self.len);
            return Err(e);
        }
        self.len += buf.len() as u64;
        for e in self.pending.drain(..) {
            self.high_water = self.high_water.max(e.offset());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_reopen_and_past_the_end_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, ev) = TxnIndex::open(&Arc::from(dir.path()), 0).unwrap();
        assert!(ev.is_empty());
        let evs = [
            TxnEvent::Begin {
                producer_id: 1,
                offset: 0,
            },
            TxnEvent::End {
                producer_id: 1,
                marker_offset: 3,
                commit: false,
            },
            TxnEvent::Begin {
                producer_id: 2,
                offset: 4,
            },
            TxnEvent::End {
                producer_id: 2,
                marker_offset: 9,
                commit: true,
            },
        ];
        for e in evs {
            idx.append(e).unwrap();
        }
        drop(idx);
        let (idx, back) = TxnIndex::open(&Arc::from(dir.path()), 100).unwrap();
        assert_eq!(back, evs.to_vec());
        assert_eq!(idx.high_water, 9);
        // A log truncated to 5 offsets keeps the first three entries.
        let (_, back) = TxnIndex::open(&Arc::from(dir.path()), 5).unwrap();
        assert_eq!(back, evs[..3].to_vec());
        assert_eq!(
            std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len(),
            3 * 17
        );
        // A torn tail is cut.
        use std::io::Write;
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE_NAME))
            .unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        let (_, back) = TxnIndex::open(&Arc::from(dir.path()), 100).unwrap();
        assert_eq!(back.len(), 3);
        let mut t = ProducerStateTable::new();
        for e in &back {
            e.apply(&mut t);
        }
        assert_eq!(t.first_unstable_offset(), Some(4));
        assert_eq!(t.aborted_between(0, 10).len(), 1);
    }

    #[test]
    fn a_full_disk_holds_events_back_in_order() {
        let Some(tmpfs) = crate::log::test_util::Tmpfs::mount("size=64k") else {
            return;
        };
        let dir = tmpfs.path();
        let (mut idx, _) = TxnIndex::open(&Arc::from(dir), 0).unwrap();
        let ev = |o| TxnEvent::Begin {
            producer_id: 7,
            offset: o,
        };
        idx.append(ev(0)).unwrap();
        // Fill the disk: the page the index file already has leaves room for a few entries.
        let filler = dir.join("filler");
        let mut f = File::create(&filler).unwrap();
        while std::io::Write::write_all(&mut f, &[0u8; 4096]).is_ok() {}
        let mut n = 1;
        while idx.append(ev(n)).is_ok() {
            n += 1;
        }
        assert_eq!(idx.pending, [ev(n)]);
        assert!(idx.append(ev(n + 1)).is_err());
        let len = std::fs::metadata(dir.join(FILE_NAME)).unwrap().len();
        assert_eq!(len, n as u64 * ENTRY as u64, "whole entries only");
        drop(f);
        std::fs::remove_file(&filler).unwrap();
        idx.append(ev(n + 2)).unwrap();
        drop(idx);
        let (_, back) = TxnIndex::open(&Arc::from(dir), 100_000).unwrap();
        assert_eq!(back, (0..n + 3).map(ev).collect::<Vec<_>>());
    }
}
