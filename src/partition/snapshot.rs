//! Producer-state snapshots: `<offset>.snapshot` files in the partition directory, as Kafka
//! keeps them, so that after a restart an idempotent producer whose last batches lie in an
//! older segment is still deduplicated.
//!
//! A snapshot named `N` (20 digits, as segments are named) holds every producer's epoch and its
//! cached batches ([`super::producer_state::CACHED_BATCHES`]) as they were once the log held
//! offsets `< N`. It is written when a segment rolls, and at a clean shutdown; opening a
//! partition loads the newest snapshot at or below the recovered log end and replays batch
//! headers from `N` on (see [`super::load`]). Transactions are not in it: the transaction index
//! keeps them.
//!
//! File format (fjord's own; Kafka's keeps only each producer's last batch): `FJPS`, version
//! `1` (u8), CRC-32C (u32) of everything after it, producer count (u32), then per producer:
//! id (i64), epoch (i16), batch count (u8), and per batch first sequence (i32), last sequence
//! (i32), first offset (i64), last offset (i64). Big-endian. A snapshot that fails to parse is
//! skipped with a warning (an older one, or the log, is used instead).
//!
//! Snapshots are replaced whole (a temporary file renamed into place, removed if the write
//! fails: a full disk leaves the older snapshots as they were); a lost one only means a longer
//! replay. Only the [`KEEP`] newest are kept; a
//! truncation deletes those above its offset.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut};

use super::producer_state::{BatchMetadata, ProducerEntry, ProducerStateTable};
use crate::log::checkpoint::replace_file;

pub const SUFFIX: &str = ".snapshot";
const MAGIC: &[u8; 4] = b"FJPS";
const VERSION: u8 = 1;
/// Snapshots kept per partition: the newest, and one more in case the newest is damaged.
pub const KEEP: usize = 2;

fn path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}{SUFFIX}"))
}

/// Every snapshot in `dir`, oldest first.
pub fn list(dir: &Path) -> Vec<(i64, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(i64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let offset = name.strip_suffix(SUFFIX)?.parse().ok()?;
            Some((offset, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Write the snapshot of `table` at `offset`, then delete all but the [`KEEP`] newest.
pub fn write(dir: &Path, offset: i64, table: &ProducerStateTable) -> io::Result<()> {
    replace_file(&path(dir, offset), &encode(table))?;
    let all = list(dir);
    for (_, p) in &all[..all.len().saturating_sub(KEEP)] {
        remove(p);
    }
    Ok(())
}

/// The newest readable snapshot at or below `log_end`: its offset and table. Snapshots above
/// `log_end` (the log was truncated below them) are deleted.
pub fn latest(dir: &Path, log_end: i64) -> Option<(i64, ProducerStateTable)> {
    let mut all = list(dir);
    for (_, p) in all.iter().filter(|(o, _)| *o > log_end) {
        remove(p);
    }
    all.retain(|(o, _)| *o <= log_end);
    for (offset, p) in all.into_iter().rev() {
        match fs::read(&p).map(|data| decode(&data)) {
            Ok(Some(table)) => return Some((offset, table)),
            Ok(None) => {
                tracing::warn!(file = %p.display(), "producer-state snapshot unreadable; skipped")
            }
            Err(e) => tracing::warn!(file = %p.display(), "producer-state snapshot: {e}"),
        }
    }
    None
}

fn remove(p: &Path) {
    if let Err(e) = fs::remove_file(p)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(file = %p.display(), "deleting a producer-state snapshot: {e}");
    }
}

fn encode(table: &ProducerStateTable) -> Vec<u8> {
    let mut body = Vec::new();
    let producers: Vec<_> = table.producers().collect();
    body.put_u32(producers.len() as u32);
    for (id, e) in producers {
        body.put_i64(*id);
        body.put_i16(e.epoch);
        body.put_u8(e.batches.len() as u8);
        for b in &e.batches {
            body.put_i32(b.first_seq);
            body.put_i32(b.last_seq);
            body.put_i64(b.first_offset);
            body.put_i64(b.last_offset);
        }
    }
    let mut out = Vec::with_capacity(body.len() + 9);
    out.extend_from_slice(MAGIC);
    out.put_u8(VERSION);
    out.put_u32(crc32c::crc32c(&body));
    out.extend_from_slice(&body);
    out
}

fn decode(data: &[u8]) -> Option<ProducerStateTable> {
    let mut b = data.strip_prefix(&MAGIC[..])?;
    if b.try_get_u8().ok()? != VERSION {
        return None;
    }
    let crc = b.try_get_u32().ok()?;
    if crc32c::crc32c(b) != crc {
        return None;
    }
    let mut table = ProducerStateTable::new();
    for _ in 0..b.try_get_u32().ok()? {
        let id = b.try_get_i64().ok()?;
        let epoch = b.try_get_i16().ok()?;
        let n = b.try_get_u8().ok()?;
        let mut batches = VecDeque::with_capacity(usize::from(n));
        for _ in 0..n {
            batches.push_back(BatchMetadata {
                first_seq: b.try_get_i32().ok()?,
                last_seq: b.try_get_i32().ok()?,
                first_offset: b.try_get_i64().ok()?,
                last_offset: b.try_get_i64().ok()?,
            });
        }
        table.restore_producer(id, ProducerEntry { epoch, batches });
    }
    b.is_empty().then_some(table)
}

#[cfg(test)]
mod tests {
    use super::super::producer_state::tests::meta;
    use super::*;

    fn sample() -> ProducerStateTable {
        let mut t = ProducerStateTable::new();
        for i in 0..7 {
            t.record(1000, 3, meta(i * 10, i * 10 + 9, i64::from(i) * 10));
        }
        t.record(2000, 0, meta(0, 0, 70));
        t
    }

    fn entries(t: &ProducerStateTable) -> Vec<(i64, i16, Vec<BatchMetadata>)> {
        let mut v: Vec<_> = t
            .producers()
            .map(|(id, e)| (*id, e.epoch, e.batches.iter().copied().collect()))
            .collect();
        v.sort_by_key(|e| e.0);
        v
    }

    #[test]
    fn round_trip_keeps_every_cached_batch() {
        let dir = tempfile::tempdir().unwrap();
        let t = sample();
        write(dir.path(), 71, &t).unwrap();
        assert!(dir.path().join("00000000000000000071.snapshot").exists());
        let (offset, back) = latest(dir.path(), 71).unwrap();
        assert_eq!(offset, 71);
        assert_eq!(entries(&back), entries(&t));
        assert_eq!(entries(&back)[0].2.len(), 5);
    }

    #[test]
    fn only_the_newest_are_kept_and_truncation_drops_those_above() {
        let dir = tempfile::tempdir().unwrap();
        let t = sample();
        for o in [10, 20, 30, 40] {
            write(dir.path(), o, &t).unwrap();
        }
        let offsets: Vec<i64> = list(dir.path()).into_iter().map(|(o, _)| o).collect();
        assert_eq!(offsets, vec![30, 40]);
        // The log now ends at 35: the snapshot at 40 describes data that is gone.
        assert_eq!(latest(dir.path(), 35).unwrap().0, 30);
        assert_eq!(list(dir.path()).len(), 1);
        assert!(latest(dir.path(), 29).is_none());
        assert!(list(dir.path()).is_empty());
    }

    #[test]
    fn a_damaged_snapshot_falls_back_to_an_older_one() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 10, &sample()).unwrap();
        write(dir.path(), 20, &sample()).unwrap();
        let newest = path(dir.path(), 20);
        let mut data = fs::read(&newest).unwrap();
        let n = data.len();
        data[n - 3] ^= 0x40;
        fs::write(&newest, &data).unwrap();
        assert_eq!(latest(dir.path(), 100).unwrap().0, 10);
        fs::write(&newest, &data[..n / 2]).unwrap();
        assert_eq!(latest(dir.path(), 100).unwrap().0, 10);
        // Anything at all: never a panic.
        for len in 0..data.len() {
            let _ = decode(&data[..len]);
        }
        assert!(decode(b"FJPS\x02\0\0\0\0").is_none(), "unknown version");
    }
}
