//! Checkpoint files of a partition directory: the persisted log start offset.
//!
//! [`super::PartitionLog::log_start_offset`] is the first readable offset. It is
//! the first segment's base offset unless DeleteRecords moved it further, possibly into the middle
//! of a segment: reads below it fail with [`super::LogError::OffsetOutOfRange`]; a read starting at it
//! returns the whole batch containing it (as Kafka does). Whenever it moves, the new value is
//! written to [`LOG_START_OFFSET_FILE`] in the partition directory (temp file + fsync + rename +
//! directory fsync) *before* any segment is deleted, so a crash never exposes records below it.
//! Kafka keeps one `log-start-offset-checkpoint` per log directory; fjord keeps one small file
//! per partition directory instead, which needs no coordination between partitions and
//! disappears with the directory. On open the log start is `max(first segment base, persisted)`
//! clamped to the log end; a missing or unreadable file means "the first segment's base" (the
//! same thing Kafka does without a checkpoint entry; an unreadable file is logged).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use super::LogError;
use super::files::sync_dir;

/// File in the partition directory holding the persisted log start offset: two lines,
/// the format version `0` and the offset, e.g. `"0\n1234\n"`.
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset";

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
    let tmp = dir.join(format!("{LOG_START_OFFSET_FILE}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(format!("0\n{offset}\n").as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(LOG_START_OFFSET_FILE))?;
    sync_dir(dir);
    Ok(())
}
