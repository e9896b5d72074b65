//! Checkpoint files: the persisted log start offset of a partition directory, and Kafka's offset
//! checkpoint file format, in which the layers above keep per-partition offsets of a whole log
//! directory (`replication-offset-checkpoint`: the high watermarks).
//!
//! **Log start offset.** [`super::PartitionLog::log_start_offset`] is the first readable offset.
//! It is the first segment's base offset unless DeleteRecords moved it further, possibly into the
//! middle of a segment: reads below it fail with [`super::LogError::OffsetOutOfRange`]; a read
//! starting at it returns the whole batch containing it (as Kafka does). Whenever it moves, the
//! new value is written to [`LOG_START_OFFSET_FILE`] in the partition directory (temp file +
//! fsync + rename + directory fsync) *before* any segment is deleted, so a crash never exposes
//! records below it. Kafka keeps one `log-start-offset-checkpoint` per log directory; fjord keeps
//! one small file per partition directory instead, which needs no coordination between
//! partitions and disappears with the directory. On open the log start is
//! `max(first segment base, persisted)` clamped to the log end (a persisted value beyond the log
//! end is rewritten as the log end: see [`super::PartitionLog::open`]); a missing or unreadable
//! file means "the first segment's base" (the same thing Kafka does without a checkpoint entry;
//! an unreadable file is logged).
//!
//! **Offset checkpoint files** ([`read_offsets`], [`write_offsets`]), text, as Kafka's
//! `OffsetCheckpointFile` writes them: the version line `0`, the number of entries, then one
//! `<topic> <partition> <offset>` line per entry:
//!
//! ```text
//! 0
//! 2
//! orders 0 1500
//! orders 1 42
//! ```
//!
//! A line is split from the right, so the topic is everything before the last two fields: Kafka's
//! topic names hold no spaces, but a name is never misread if one does. The storage engine only
//! knows the format; what the offsets mean is the caller's.
//!
//! **Clean shutdown marker** ([`CLEAN_SHUTDOWN_FILE`], Kafka's name): written into the log
//! directory, durably, after a shutdown flushed every partition; taken (read and deleted) at the
//! next start, which then trusts the active segments' data and reads only their batch headers
//! instead of checking every CRC ([`super::PartitionLog::open_with`]). Without it, or when it
//! cannot be deleted, the start recovers as after a crash.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use super::LogError;
use super::files::{remove_if_exists, sync_dir};

/// File in the partition directory holding the persisted log start offset: two lines,
/// the format version `0` and the offset, e.g. `"0\n1234\n"`.
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset";

/// Kafka's file of a log directory holding the high watermark of each of its partitions, in the
/// offset checkpoint format ([`read_offsets`], [`write_offsets`]).
pub const REPLICATION_OFFSET_CHECKPOINT_FILE: &str = "replication-offset-checkpoint";

/// Durably replace the file at `path` with `contents`: written whole to `<path>.tmp` in the same
/// directory, fsynced, renamed over `path`, and the directory fsynced. A crash leaves the old
/// file or the new one, never a mix. If the write fails (a full disk) the old file stays as it
/// was and the half-written temp file is removed, giving its space back.
pub fn replace_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let written = fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(contents)?;
        super::files::sync_all(&f)
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        if let Err(e2) = remove_if_exists(&tmp) {
            tracing::warn!(file = %tmp.display(), error = %e2, "cannot remove a temp file");
        }
        return Err(e);
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
    Ok(())
}

/// Read [`LOG_START_OFFSET_FILE`]; None if missing or unreadable (logged).
pub fn read_log_start_checkpoint(dir: &Path) -> Option<i64> {
    let path = dir.join(LOG_START_OFFSET_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read log start offset; using the first segment's base");
            return None;
        }
    };
    let mut lines = text.lines().map(str::trim);
    let parsed = match (lines.next(), lines.next()) {
        (Some("0"), Some(v)) => v.parse::<i64>().ok().filter(|&v| v >= 0),
        _ => None,
    };
    if parsed.is_none() {
        tracing::warn!(file = %path.display(), "malformed log start offset file; using the first segment's base");
    }
    parsed
}

/// Durably replace [`LOG_START_OFFSET_FILE`] with `offset`.
pub fn write_log_start_checkpoint(dir: &Path, offset: i64) -> Result<(), LogError> {
    Ok(replace_file(
        &dir.join(LOG_START_OFFSET_FILE),
        format!("0\n{offset}\n").as_bytes(),
    )?)
}

/// Kafka's clean shutdown marker (see the module docs).
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// Durably mark the log directory `dir` as cleanly shut down: every partition must have been
/// flushed and nothing may be written after this.
pub fn write_clean_shutdown(dir: &Path) -> Result<(), LogError> {
    replace_file(
        &dir.join(CLEAN_SHUTDOWN_FILE),
        b"{\"version\":0,\"brokerEpoch\":-1}\n",
    )?;
    Ok(())
}

/// Whether the last shutdown of `dir` was clean; the marker is deleted (durably) before the
/// answer is yes, so a crash from here on is recovered as one.
pub fn take_clean_shutdown(dir: &Path) -> bool {
    let path = dir.join(CLEAN_SHUTDOWN_FILE);
    if !path.exists() {
        return false;
    }
    match fs::remove_file(&path) {
        Ok(()) => {
            sync_dir(dir);
            true
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot delete the clean shutdown marker; recovering as after a crash: {e}");
            false
        }
    }
}

/// Read an offset checkpoint file (see the module docs): `(topic, partition) → offset`. A missing
/// file is an empty map; a file that cannot be read, or is not exactly in the format (version 0,
/// the count matching the entries, no entry twice, partitions and offsets non-negative), is an
/// error naming the file and the line.
pub fn read_offsets(path: &Path) -> Result<HashMap<(String, i32), i64>, LogError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => {
            return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display())).into());
        }
    };
    parse_offsets(&text).map_err(|(line, reason)| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "malformed offset checkpoint {}: line {line}: {reason}",
                path.display()
            ),
        )
        .into()
    })
}

/// Durably replace the offset checkpoint file at `path` with `entries` (see [`replace_file`]),
/// one line per entry sorted by topic and partition. An entry the file could not give back
/// (an empty topic name or one holding a line break, a negative partition or offset) is an
/// error, and nothing is written then.
pub fn write_offsets(path: &Path, entries: &HashMap<(String, i32), i64>) -> Result<(), LogError> {
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort();
    let mut text = format!("0\n{}\n", sorted.len());
    for ((topic, partition), offset) in sorted {
        if topic.is_empty() || topic.contains(['\n', '\r']) || *partition < 0 || *offset < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot write {topic:?} {partition} {offset} to the offset checkpoint {}",
                    path.display()
                ),
            )
            .into());
        }
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    Ok(replace_file(path, text.as_bytes())?)
}

/// Parse the text of an offset checkpoint file; errors are `(line number, reason)`.
fn parse_offsets(text: &str) -> Result<HashMap<(String, i32), i64>, (usize, String)> {
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("0") => {}
        Some(v) => return Err((1, format!("unsupported version {v:?}"))),
        None => return Err((1, "empty file".to_string())),
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| (2, "missing or bad entry count".to_string()))?;
    let mut offsets = HashMap::with_capacity(count.min(1 << 16));
    for (i, line) in lines.enumerate() {
        let number = i + 3;
        if i == count {
            return Err((number, format!("more entries than the {count} declared")));
        }
        let Some((topic, partition, offset)) = parse_entry(line) else {
            return Err((number, format!("malformed entry {line:?}")));
        };
        if offsets
            .insert((topic.to_string(), partition), offset)
            .is_some()
        {
            return Err((number, format!("second entry for {topic} {partition}")));
        }
    }
    if offsets.len() != count {
        return Err((
            offsets.len() + 3,
            format!("{count} entries declared, {} found", offsets.len()),
        ));
    }
    Ok(offsets)
}

/// `<topic> <partition> <offset>`, split from the right (the topic is all before the last two
/// fields).
fn parse_entry(line: &str) -> Option<(&str, i32, i64)> {
    let (rest, offset) = line.rsplit_once(' ')?;
    let (topic, partition) = rest.rsplit_once(' ')?;
    let partition: i32 = partition.parse().ok()?;
    let offset: i64 = offset.parse().ok()?;
    (!topic.is_empty() && partition >= 0 && offset >= 0).then_some((topic, partition, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(&str, i32, i64)]) -> HashMap<(String, i32), i64> {
        list.iter()
            .map(|&(t, p, o)| ((t.to_string(), p), o))
            .collect()
    }

    #[test]
    fn offsets_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REPLICATION_OFFSET_CHECKPOINT_FILE);
        let hw = entries(&[
            ("orders", 1, 42),
            ("orders", 0, 1500),
            ("__consumer_offsets", 49, 0),
            ("a.b-c_d", 7, i64::MAX),
        ]);
        write_offsets(&path, &hw).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "0\n4\n__consumer_offsets 49 0\na.b-c_d 7 9223372036854775807\norders 0 1500\norders 1 42\n"
        );
        assert_eq!(read_offsets(&path).unwrap(), hw);
        assert!(
            !dir.path()
                .join("replication-offset-checkpoint.tmp")
                .exists()
        );
        // Replaced whole, including by nothing.
        let one = entries(&[("orders", 0, 1600)]);
        write_offsets(&path, &one).unwrap();
        assert_eq!(read_offsets(&path).unwrap(), one);
        write_offsets(&path, &HashMap::new()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "0\n0\n");
        assert!(read_offsets(&path).unwrap().is_empty());
        // What Kafka writes reads back the same.
        fs::write(&path, "0\n2\nfoo 0 10\nbar-baz 3 0\n").unwrap();
        assert_eq!(
            read_offsets(&path).unwrap(),
            entries(&[("foo", 0, 10), ("bar-baz", 3, 0)])
        );
        // A topic name holding spaces (never Kafka's) is split from the right, never misread.
        let odd = entries(&[("a b", 1, 2), ("a", 1, 3), (" x 1 ", 0, 4)]);
        write_offsets(&path, &odd).unwrap();
        assert_eq!(read_offsets(&path).unwrap(), odd);
    }

    #[test]
    fn a_missing_offsets_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REPLICATION_OFFSET_CHECKPOINT_FILE);
        assert!(read_offsets(&path).unwrap().is_empty());
        assert!(!path.exists());
        // A directory in its place is an error, naming the file.
        fs::create_dir(&path).unwrap();
        let e = read_offsets(&path).unwrap_err().to_string();
        assert!(e.contains("replication-offset-checkpoint"), "{e}");
    }

    #[test]
    fn malformed_offsets_files_are_refused_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REPLICATION_OFFSET_CHECKPOINT_FILE);
        for (bad, line) in [
            ("", 1),
            ("1\n0\n", 1),
            ("0\n", 2),
            ("0\nx\n", 2),
            ("0\n2\nt 0 5\n", 4),
            ("0\n1\nt 0 5\nt 1 6\n", 4),
            ("0\n1\nt 0\n", 3),
            ("0\n1\nt0 5\n", 3),
            ("0\n1\n 0 5\n", 3),
            ("0\n1\nt x 5\n", 3),
            ("0\n1\nt 0 five\n", 3),
            ("0\n1\nt -1 5\n", 3),
            ("0\n1\nt 0 -5\n", 3),
            ("0\n2\nt 0 5\nt 0 6\n", 4),
            ("0\n1\nt 0 5\n\n", 4),
            ("0\n2\nt\t0 5\nu 0 1\n", 3),
        ] {
            fs::write(&path, bad).unwrap();
            let e = read_offsets(&path).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{}: line {line}:", path.display())),
                "{bad:?}: {e}"
            );
        }
        // Entries the format cannot hold are refused before anything is written.
        fs::write(&path, "0\n0\n").unwrap();
        for bad in [("", 0, 1), ("a\nb", 0, 1), ("t", -1, 1), ("t", 0, -1)] {
            assert!(write_offsets(&path, &entries(&[bad])).is_err(), "{bad:?}");
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), "0\n0\n");
    }
}
