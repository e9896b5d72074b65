//! Producer id allocation that never hands out an id twice, across restarts.
//!
//! Ids are reserved in blocks: the end of the current block is written to
//! `<log.dir>/producer_id_block` (and fsynced) before any id from the block is
//! used, so after a crash the broker resumes past every id it may have given out.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

const BLOCK: i64 = 1000;
const FILE: &str = "producer_id_block";

pub struct ProducerIdManager {
    path: PathBuf,
    state: Mutex<(i64, i64)>, // (next id, end of reserved block, exclusive)
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
            path,
            state: Mutex::new((start, start)),
        })
    }

    /// A fresh producer id.
    pub fn next_id(&self) -> std::io::Result<i64> {
        let mut st = self.state.lock();
        if st.0 >= st.1 {
            let end = st.1 + BLOCK;
            let tmp = self.path.with_extension("tmp");
            let mut f = fs::File::create(&tmp)?;
            writeln!(f, "{end}")?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            st.1 = end;
        }
        let id = st.0;
        st.0 += 1;
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
}
