//! Producer id allocation that never hands out an id twice, across restarts.
//!
//! Ids are reserved in blocks: the end of the current block is written to
//! `<log.dir>/producer_id_block` (and fsynced) before any id from the block is
//! used, so after a crash the broker resumes past every id it may have given out.
//!
//! In a cluster the blocks come from the active controller instead (written to the metadata
//! log, so no two brokers ever get the same block): the broker adds them with
//! [`ProducerIdManager::add_block`] ahead of need, and `next_id` fails with `WouldBlock` only
//! while it has none.

use crate::log::checkpoint::replace_file;
use std::fs;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

const BLOCK: i64 = 1000;
const FILE: &str = "producer_id_block";

pub struct ProducerIdManager {
    /// `None` in a cluster: blocks come from the controller.
    path: Option<PathBuf>,
    state: Mutex<State>,
}

struct State {
    next: i64,
    /// End of the block in use, exclusive.
    end: i64,
    /// A block from the controller waiting for the current one to run out.
    spare: Option<(i64, i64)>,
}

impl ProducerIdManager {
    pub fn open(log_dir: &Path) -> std::io::Result<Self> {
        let path = log_dir.join(FILE);
        let start = match fs::read_to_string(&path) {
            Ok(s) => s.trim().parse::<i64>().unwrap_or(0).max(0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(ProducerIdManager {
            path: Some(path),
            state: Mutex::new(State {
                next: start,
                end: start,
                spare: None,
            }),
        })
    }

    /// A manager for a cluster node: no ids until the controller hands it a block.
    pub fn for_cluster() -> Self {
        ProducerIdManager {
            path: None,
            state: Mutex::new(State {
                next: 0,
                end: 0,
                spare: None,
            }),
        }
    }

    /// A cluster node should ask the controller for another block now (less than half a
    /// block left and none waiting).
    pub fn wants_block(&self) -> bool {
        let st = self.state.lock();
        self.path.is_none() && st.spare.is_none() && st.end - st.next < BLOCK / 2
    }

    /// Whether an id can be handed out now without asking the controller.
    pub fn has_ids(&self) -> bool {
        let st = self.state.lock();
        self.path.is_some() || st.next < st.end || st.spare.is_some()
    }

    /// Add a block of `size` ids starting at `first`, handed out by the controller.
    pub fn add_block(&self, first: i64, size: i64) {
        let mut st = self.state.lock();
        if st.next >= st.end {
            st.next = first;
            st.end = first + size;
        } else {
            st.spare = Some((first, first + size));
        }
    }

    /// A fresh producer id.
    pub fn next_id(&self) -> std::io::Result<i64> {
        let mut st = self.state.lock();
        if st.next >= st.end {
            if let Some((first, end)) = st.spare.take() {
                st.next = first;
                st.end = end;
            } else if let Some(path) = &self.path {
                let end = st.end + BLOCK;
                replace_file(path, format!("{end}\n").as_bytes())?;
                st.end = end;
            } else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "no producer id block from the controller yet",
                ));
            }
        }
        let id = st.next;
        st.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let m = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(m.next_id().unwrap(), 0);
        assert_eq!(m.next_id().unwrap(), 1);
        drop(m);
        let m = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(m.next_id().unwrap(), BLOCK);
        for i in 1..=BLOCK {
            assert_eq!(m.next_id().unwrap(), BLOCK + i);
        }
        drop(m);
        let m = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(m.next_id().unwrap(), 3 * BLOCK);
    }

    #[test]
    fn cluster_blocks_come_from_outside() {
        let m = ProducerIdManager::for_cluster();
        assert!(m.wants_block());
        assert_eq!(
            m.next_id().unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        m.add_block(5000, 3);
        assert_eq!(m.next_id().unwrap(), 5000);
        assert!(m.wants_block(), "less than half a block left");
        m.add_block(9000, 2);
        assert!(!m.wants_block(), "one block waiting");
        assert_eq!(m.next_id().unwrap(), 5001);
        assert_eq!(m.next_id().unwrap(), 5002);
        assert_eq!(m.next_id().unwrap(), 9000);
        assert_eq!(m.next_id().unwrap(), 9001);
        assert!(m.next_id().is_err());
    }
}
