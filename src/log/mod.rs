//! fjord's storage engine: partition logs on local disk in Kafka's own layout.
//!
//! **Owns:** the partition directory `<topic>-<partition>/` and everything in it: segments
//! `<20-digit base offset>.log` holding record batches exactly as producers sent them (only
//! baseOffset and partitionLeaderEpoch, neither CRC-covered, are rewritten), the sparse
//! `.index` / `.timeindex` files, offset assignment, segment rolling, crash recovery (CRC walk of
//! the last segment, truncation of torn tails, index rebuilds), reads by offset and by timestamp,
//! the persisted log start offset (`log-start-offset`, DeleteRecords) and retention
//! ([`retention`]), and compaction ([`cleaner`]: plan under the lock, build without it, install
//! under it; `*.cleaned` / `*.swap` files during a compaction).
//!
//! **Must never:** know about the Kafka wire protocol (requests, API versions, error codes — the
//! API layer maps [`LogError`]s), topics/partitions as concepts beyond the directory it
//! is handed, replication, high watermarks or transactions semantics (callers pass bounds such as
//! `max_offset` in); decode records on the append or fetch path; read the system clock (time is
//! always a `now_ms` argument); panic on bad bytes from disk or from clients (typed [`LogError`]s
//! instead); use `unsafe`.
//!
//! Concurrency: [`PartitionLog`] is not synchronised; the caller wraps it in a lock.

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod control;
pub mod files;
pub mod index;
pub mod partition;
pub mod records;
pub mod recovery;
pub mod retention;
pub mod segment;

#[cfg(test)]
pub(crate) mod test_util;

pub use batch::{BatchHeader, BatchInfo, stamp_log_append_time, validate_batches};
pub use checkpoint::LOG_START_OFFSET_FILE;
pub use cleaner::{CleanedLog, CompactionPlan, CompactionResult, CompactionStats, PlannedSegment};
pub use control::Marker;
pub use files::partition_dir;
pub use partition::{AppendResult, PartitionLog};
pub use retention::RetentionResult;
pub use segment::{FileSlice, LogSegment};

/// Errors of the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Bad CRC, torn/truncated batch, unreadable data.
    #[error("corrupt message: {0}")]
    CorruptMessage(String),
    /// A batch exceeds `max_message_bytes`.
    #[error("message too large: {0}")]
    MessageTooLarge(String),
    /// Well-formed but not acceptable (wrong magic, inconsistent counts, bad codec, ...).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    /// The log cannot accept writes any more (a failed write could not be undone).
    #[error("storage error: {0}")]
    Storage(String),
}

/// Per-partition log settings (Kafka names in parentheses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll when the active segment would exceed this many bytes (`segment.bytes`).
    /// Values above `i32::MAX` are treated as `i32::MAX` (index positions are 32-bit).
    pub segment_bytes: u64,
    /// Roll when the active segment's first batch was written more than this many ms ago (`segment.ms`).
    pub segment_ms: i64,
    /// Bytes of log data between offset-index entries (`index.interval.bytes`).
    pub index_interval_bytes: u32,
    /// Largest accepted batch (`max.message.bytes`).
    pub max_message_bytes: usize,
    /// fsync after this many records since the last flush (`flush.messages`); default `i64::MAX as u64` = never.
    pub flush_interval_messages: u64,
    /// `message.timestamp.type=LogAppendTime`: the writer stamps the broker's time into each
    /// batch before appending ([`stamp_log_append_time`]); the log itself never decodes records.
    pub log_append_time: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1_073_741_824,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            flush_interval_messages: i64::MAX as u64,
            log_append_time: false,
        }
    }
}
