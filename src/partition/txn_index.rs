//! A partition's transaction index: an append-only file (`transactions.index`
//! in the partition directory) of fixed 17-byte entries — kind (1 begin,
//! 2 commit, 3 abort), producer id, offset — written after the log append they
//! describe. Replayed at start-up it restores the open transactions (the last
//! stable offset) and the aborted ranges (read_committed fetches) without
//! scanning the log; Kafka keeps `.txnindex` files for the same reason.
//!
//! A torn tail is cut to whole entries; entries past the log end (the log was
//! truncated by recovery) are dropped.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

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
    path: PathBuf,
    file: Option<File>,
    /// Highest offset an entry refers to (-1: none).
    pub high_water: i64,
}

impl TxnIndex {
    /// Open the index of `dir`, keeping only entries below `log_end_offset`.
    pub fn open(dir: &Path, log_end_offset: i64) -> io::Result<(TxnIndex, Vec<TxnEvent>)> {
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
                path,
                file: None,
                high_water,
            },
            events,
        ))
    }

    pub fn append(&mut self, e: TxnEvent) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        self.file
            .as_mut()
            .expect("opened above")
            .write_all(&e.encode())?;
        self.high_water = self.high_water.max(e.offset());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_reopen_and_past_the_end_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, ev) = TxnIndex::open(dir.path(), 0).unwrap();
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
        let (idx, back) = TxnIndex::open(dir.path(), 100).unwrap();
        assert_eq!(back, evs.to_vec());
        assert_eq!(idx.high_water, 9);
        // A log truncated to 5 offsets keeps the first three entries.
        let (_, back) = TxnIndex::open(dir.path(), 5).unwrap();
        assert_eq!(back, evs[..3].to_vec());
        assert_eq!(
            std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len(),
            3 * 17
        );
        // A torn tail is cut.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE_NAME))
            .unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        let (_, back) = TxnIndex::open(dir.path(), 100).unwrap();
        assert_eq!(back.len(), 3);
        let mut t = ProducerStateTable::new();
        for e in &back {
            e.apply(&mut t);
        }
        assert_eq!(t.first_unstable_offset(), Some(4));
        assert_eq!(t.aborted_between(0, 10).len(), 1);
    }
}
