//! A full disk: an append that fails part way (the write, its fsync, or the roll before it)
//! leaves the log exactly as it was, and the log takes appends again once there is space.
//! The first tests make the segment writer fail on purpose (they run everywhere); the last
//! ones fill a real tmpfs and are skipped where mounting one is not permitted.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use bytes::Bytes;

use super::index::{IndexEntry, TimeIndexEntry, read_entries};
use super::test_util::*;
use super::{AppendResult, LogConfig, LogError, PartitionLog, validate_batches};

fn try_append(log: &mut PartitionLog, payload: &[u8]) -> Result<AppendResult, LogError> {
    let p = payload.to_vec();
    let infos = validate_batches(&p, 1 << 20).unwrap();
    log.append(&p, &infos, 0, 1000)
}

/// A batch of three records of about 100 bytes each.
fn batch(i: usize) -> Vec<u8> {
    let vals: Vec<String> = (0..3)
        .map(|j| format!("{i}-{j}-{}", "v".repeat(90)))
        .collect();
    let recs: Vec<(i64, &str)> = vals
        .iter()
        .enumerate()
        .map(|(j, v)| (1000 + (i * 3 + j) as i64, v.as_str()))
        .collect();
    batch_bytes(&recs, kafka_protocol::records::Compression::None)
}

fn is_disk_full(e: &LogError) -> bool {
    matches!(e, LogError::Io(io) if io.kind() == ErrorKind::StorageFull)
}

/// Everything a reader or the next append depends on.
#[derive(Debug, PartialEq)]
struct State {
    log_end: i64,
    segments: Vec<(i64, u64)>,
    indexes: Indexes,
    data: Bytes,
}

fn state(log: &PartitionLog) -> State {
    State {
        log_end: log.log_end_offset(),
        segments: log.segments_info(),
        indexes: segment_indexes(log),
        data: log.read(log.log_start_offset(), usize::MAX, true).unwrap(),
    }
}

/// Every segment file is exactly as long as its data, and (after a flush) every index file
/// holds exactly the in-memory entries.
fn assert_files_match(log: &mut PartitionLog) {
    for s in log.segments() {
        assert_eq!(
            fs::metadata(s.log_path()).unwrap().len(),
            s.size(),
            "{}",
            s.log_path().display()
        );
    }
    log.flush().unwrap();
    for s in log.segments() {
        let idx: Vec<IndexEntry> = read_entries(&s.offset_index().path()).unwrap();
        assert_eq!(idx, s.offset_index().entries());
        let t: Vec<TimeIndexEntry> = read_entries(&s.time_index().path()).unwrap();
        assert_eq!(t, s.time_index().entries());
    }
}

/// A log that got `batches` appended with no failure, for comparison.
fn reference(dir: &Path, c: &LogConfig, batches: &[Vec<u8>]) -> State {
    let mut log = PartitionLog::open(dir, c.clone(), 0).unwrap();
    for b in batches {
        try_append(&mut log, b).unwrap();
    }
    drop(log);
    state(&PartitionLog::open(dir, c.clone(), 0).unwrap())
}

#[test]
fn a_write_that_fails_part_way_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let c = LogConfig {
        index_interval_bytes: 200,
        ..LogConfig::default()
    };
    let p = dir.path().join("t-0");
    let mut log = PartitionLog::open(&p, c.clone(), 0).unwrap();
    let mut appended = vec![];
    for i in 0..10 {
        try_append(&mut log, &batch(i)).unwrap();
        appended.push(batch(i));
    }
    let before = state(&log);
    let failing = batch(100);
    for cut in [0, 1, 61, failing.len() / 2, failing.len() - 1] {
        log.segments.last_mut().unwrap().fail_next_write_after(cut);
        let e = try_append(&mut log, &failing).unwrap_err();
        assert!(is_disk_full(&e), "{e:?}");
        assert_eq!(state(&log), before, "after a write cut at {cut} bytes");
        assert_files_match(&mut log);
    }
    // The next append continues at the last complete batch.
    let r = try_append(&mut log, &batch(10)).unwrap();
    assert_eq!(r.base_offset, before.log_end);
    appended.push(batch(10));
    assert_files_match(&mut log);
    drop(log);
    // A reopen finds what a log that never failed has.
    let reopened = state(&PartitionLog::open(&p, c.clone(), 0).unwrap());
    assert_eq!(
        reopened,
        reference(&dir.path().join("ref-0"), &c, &appended)
    );
}

#[test]
fn a_failed_fsync_undoes_the_append() {
    let dir = tempfile::tempdir().unwrap();
    let c = LogConfig {
        index_interval_bytes: 200,
        flush_interval_messages: 1,
        ..LogConfig::default()
    };
    let p = dir.path().join("t-0");
    let mut log = PartitionLog::open(&p, c.clone(), 0).unwrap();
    let mut appended = vec![];
    for i in 0..5 {
        try_append(&mut log, &batch(i)).unwrap();
        appended.push(batch(i));
    }
    let before = state(&log);
    log.segments.last_mut().unwrap().fail_next_sync();
    assert!(is_disk_full(
        &try_append(&mut log, &batch(100)).unwrap_err()
    ));
    assert_eq!(state(&log), before);
    assert_files_match(&mut log);
    assert_eq!(
        try_append(&mut log, &batch(5)).unwrap().base_offset,
        before.log_end
    );
    appended.push(batch(5));
    drop(log);
    let reopened = state(&PartitionLog::open(&p, c.clone(), 0).unwrap());
    assert_eq!(
        reopened,
        reference(&dir.path().join("ref-0"), &c, &appended)
    );
}

#[test]
fn a_roll_that_cannot_create_the_new_segment_leaves_the_log_usable() {
    let dir = tempfile::tempdir().unwrap();
    let c = LogConfig {
        segment_bytes: 1500,
        index_interval_bytes: 200,
        ..LogConfig::default()
    };
    let p = dir.path().join("t-0");
    let mut log = PartitionLog::open(&p, c.clone(), 0).unwrap();
    let mut appended = vec![];
    let mut i = 0;
    // Fill the first segment up to the point where the next batch rolls.
    while log.segments()[0].size() + batch(i).len() as u64 <= c.segment_bytes {
        try_append(&mut log, &batch(i)).unwrap();
        appended.push(batch(i));
        i += 1;
    }
    let before = state(&log);
    let base = log.log_end_offset();
    // A directory where a file of the new segment must go: its creation fails.
    for suffix in [".log", ".index", ".timeindex"] {
        let blocker = p.join(format!("{base:020}{suffix}"));
        fs::create_dir(&blocker).unwrap();
        assert!(try_append(&mut log, &batch(i)).is_err());
        fs::remove_dir(&blocker).unwrap();
        assert_eq!(state(&log), before);
        // No file of the half-created segment is left to block the next roll.
        assert_eq!(
            file_names(&p)
                .iter()
                .filter(|n| n.starts_with(&format!("{base:020}")))
                .count(),
            0,
            "{:?}",
            file_names(&p)
        );
    }
    let r = try_append(&mut log, &batch(i)).unwrap();
    appended.push(batch(i));
    assert_eq!(r.base_offset, base);
    assert_eq!(log.segments().len(), 2);
    assert_files_match(&mut log);
    drop(log);
    let reopened = state(&PartitionLog::open(&p, c.clone(), 0).unwrap());
    assert_eq!(
        reopened,
        reference(&dir.path().join("ref-0"), &c, &appended)
    );
}

/// Append until the disk is full; returns the batches acknowledged.
fn append_until_full(log: &mut PartitionLog, from: usize) -> Vec<Vec<u8>> {
    let mut acked = vec![];
    for i in from.. {
        match try_append(log, &batch(i)) {
            Ok(r) => {
                assert_eq!(r.base_offset, 3 * (from + acked.len()) as i64);
                acked.push(batch(i));
            }
            Err(e) => {
                assert!(is_disk_full(&e), "{e:?}");
                return acked;
            }
        }
    }
    unreachable!()
}

#[test]
fn a_real_full_disk() {
    let Some(tmpfs) = Tmpfs::mount("size=1m") else {
        return;
    };
    let c = LogConfig {
        segment_bytes: 64 * 1024,
        index_interval_bytes: 256,
        ..LogConfig::default()
    };
    let p = tmpfs.path().join("t-0");
    let mut log = PartitionLog::open(&p, c.clone(), 0).unwrap();
    // Half the space for a filler, the rest for the log.
    let filler = tmpfs.path().join("filler");
    fs::write(&filler, vec![0u8; 512 * 1024]).unwrap();
    let mut acked = append_until_full(&mut log, 0);
    assert!(acked.len() > 100, "{}", acked.len());
    let full = state(&log);
    // More attempts (some of them rolls on a full disk) change nothing.
    for i in 0..20 {
        assert!(is_disk_full(
            &try_append(&mut log, &batch(1000 + i)).unwrap_err()
        ));
        assert_eq!(state(&log), full);
    }
    for s in log.segments() {
        assert_eq!(fs::metadata(s.log_path()).unwrap().len(), s.size());
    }
    // A restart on the full disk opens the log and reads everything.
    let _ = log.flush();
    drop(log);
    let mut log = PartitionLog::open(&p, c.clone(), 0).unwrap();
    assert_eq!(state(&log).data, full.data);
    assert_eq!(state(&log).log_end, full.log_end);
    // Space is freed: appends resume at the next offset, by themselves.
    fs::remove_file(&filler).unwrap();
    for i in acked.len()..acked.len() + 50 {
        let r = try_append(&mut log, &batch(i)).unwrap();
        assert_eq!(r.base_offset, 3 * i as i64);
        acked.push(batch(i));
    }
    assert_files_match(&mut log);
    drop(log);
    // What is there after a restart is exactly what a log that never hit a full disk has.
    let reopened = state(&PartitionLog::open(&p, c.clone(), 0).unwrap());
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(reopened, reference(dir.path(), &c, &acked));
}

#[test]
fn a_roll_on_a_disk_out_of_inodes() {
    let Some(tmpfs) = Tmpfs::mount("size=1m,nr_inodes=64") else {
        return;
    };
    let c = LogConfig {
        segment_bytes: 1500,
        index_interval_bytes: 200,
        ..LogConfig::default()
    };
    let p = tmpfs.path().join("t-0");
    let mut log = PartitionLog::open(&p, c.clone(), 0).unwrap();
    let mut appended = vec![];
    let mut i = 0;
    while log.segments()[0].size() + batch(i).len() as u64 <= c.segment_bytes {
        try_append(&mut log, &batch(i)).unwrap();
        appended.push(batch(i));
        i += 1;
    }
    let before = state(&log);
    // Take every inode left.
    let mut fillers = vec![];
    for n in 0.. {
        let f = tmpfs.path().join(format!("f{n}"));
        if fs::File::create(&f).is_err() {
            break;
        }
        fillers.push(f);
    }
    let base = log.log_end_offset();
    // With 0, 1 and 2 inodes free the new segment's three files cannot all be created.
    for free in 0..3 {
        for f in fillers.drain(..free.min(fillers.len())) {
            fs::remove_file(f).unwrap();
        }
        let e = try_append(&mut log, &batch(i)).unwrap_err();
        assert!(is_disk_full(&e), "{e:?}");
        assert_eq!(state(&log), before);
        assert!(
            !file_names(&p)
                .iter()
                .any(|n| n.starts_with(&format!("{base:020}"))),
            "{:?}",
            file_names(&p)
        );
        if fillers.is_empty() {
            break;
        }
        // Take back what the failed roll gave back.
        for n in 0.. {
            let f = tmpfs.path().join(format!("g{free}-{n}"));
            if fs::File::create(&f).is_err() {
                break;
            }
            fillers.push(f);
        }
    }
    for f in fillers.drain(..) {
        fs::remove_file(f).unwrap();
    }
    assert_eq!(try_append(&mut log, &batch(i)).unwrap().base_offset, base);
    appended.push(batch(i));
    assert_files_match(&mut log);
    drop(log);
    let reopened = state(&PartitionLog::open(&p, c.clone(), 0).unwrap());
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(reopened, reference(dir.path(), &c, &appended));
}
