//! fjord's storage engine: partition logs on local disk in Kafka's own layout.
//!
//! **Owns:** the partition directory `<topic>-<partition>/` and the log in it. Its parts are its
//! file names:
//!
//! | file | part |
//! | --- | --- |
//! | [`partition_log`] | [`PartitionLog`]: the ordered segments, offset assignment (or a follower's batches kept as its leader wrote them), rolling, reads by offset and time, opening |
//! | [`segment`] | one `<base>.log` with its indexes; the CRC walk that recovers a torn tail |
//! | [`index`] | the sparse `.index` (offset → position) and `.timeindex` (timestamp → offset) |
//! | [`batch`] | v2 batch headers: validation (size, magic, CRC-32C), offset rewrite, LogAppendTime stamping |
//! | [`records`] | the record codec, for the few places that look inside batches |
//! | [`compression`] | decompression bounded by a limit (a small batch may claim to inflate to gigabytes) |
//! | [`control`] | control batches: the COMMIT / ABORT transaction markers |
//! | [`legacy`] | message formats v0/v1: up-conversion on produce, down-conversion on fetch |
//! | [`files`] | file naming (`<20-digit base offset>.log`, `.cleaned`, `.swap`), fsync helpers, [`FileSlice`] (a byte range of a segment file) |
//! | [`checkpoint`] | `log-start-offset`, the persisted log start; Kafka's offset checkpoint file format, for the layers above (`replication-offset-checkpoint`) |
//! | [`epoch_cache`] | `leader-epoch-checkpoint`: which leader epoch started at which offset (OffsetForLeaderEpoch, a follower's truncation) |
//! | [`recovery`] | completing or discarding an interrupted compaction at open |
//! | [`retention`] | DeleteRecords and `retention.ms` / `retention.bytes` (truncation from the start) |
//! | [`truncate`] | truncation from the end: a follower's divergent tail; starting over empty at an offset |
//! | [`cleaner`] | compaction: plan under the lock, build without it, install under it |
//! | [`verify`] | CRC checks of stored batches the first time a read hands them out |
//!
//! Batches are stored exactly as producers sent them (only baseOffset and partitionLeaderEpoch,
//! neither CRC-covered, are rewritten), and a follower's exactly as its leader stored them
//! (nothing rewritten: [`PartitionLog::append_as_follower`]). Offsets may have gaps (a follower
//! copies a compacted leader log's; compaction leaves them): the log end offset is the last
//! batch's last offset + 1, a read at an offset without a batch returns the next batch.
//!
//! **Must never:** know about the Kafka wire protocol (requests, API versions, error codes — the
//! API layer maps [`LogError`]s), topics/partitions as concepts beyond the directory it
//! is handed, the replication protocol (followers, ISR), high watermarks (beyond the file format
//! they are checkpointed in) or transactions semantics
//! (callers pass bounds such as `max_offset` in, and the offset to truncate to: the log keeps the
//! leader epochs and truncates, it does not decide where); decode records on the append or fetch path; read the system clock (time is
//! always a `now_ms` argument); panic on bad bytes from disk or from clients (typed [`LogError`]s
//! instead); use `unsafe`.
//!
//! Concurrency: [`PartitionLog`] is not synchronised; its one owner, `crate::partition::Partition`,
//! wraps it in a lock.

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod compression;
pub mod control;
pub mod epoch_cache;
pub mod files;
pub mod index;
pub mod legacy;
pub mod open_files;
pub mod partition_log;
pub mod records;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod truncate;
pub mod verify;

#[cfg(test)]
mod disk_full_tests;
#[cfg(test)]
pub(crate) mod test_util;

pub use batch::{BatchHeader, BatchInfo, stamp_log_append_time, validate_batches};
pub use checkpoint::{
    LOG_START_OFFSET_FILE, REPLICATION_OFFSET_CHECKPOINT_FILE, read_offsets, write_offsets,
};
pub use cleaner::{CleanedLog, CompactionPlan, CompactionResult, CompactionStats, PlannedSegment};
pub use control::Marker;
pub use epoch_cache::{EpochEntry, LEADER_EPOCH_CHECKPOINT_FILE, LeaderEpochCache};
pub use files::partition_dir;
pub use open_files::OpenFiles;
pub use partition_log::{AppendResult, PartitionLog};
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
    /// A follower's batches start below the log end offset (Kafka's
    /// UnexpectedAppendOffsetException: a fetch response that raced with a truncation), or a new
    /// leader epoch's start is not the log end offset. Nothing was written.
    #[error("unexpected offset {offset} at log end offset {log_end}")]
    UnexpectedAppendOffset { offset: i64, log_end: i64 },
    /// The log cannot accept writes now: a failed write could not be undone yet (retried at
    /// the next append), or a truncation failed half way (until the log is reopened). A full
    /// disk itself is [`LogError::Io`] (`ENOSPC`) of the one append that hit it.
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
    /// `cleanup.policy` includes compact: clients' records must carry keys (checked by the
    /// writer with [`records::all_records_keyed`], as Kafka's LogValidator does).
    pub compact: bool,
    /// The most bytes one compressed batch's records may inflate to where fjord opens a batch
    /// (the broker's `socket.request.max.bytes`, at least `max_message_bytes`): past it the
    /// keyed-record check refuses the batch, ListOffsets by timestamp answers from the batch
    /// header, and the cleaner keeps the batch as it is ([`compression`]).
    pub max_inflated_batch_bytes: usize,
    /// The descriptor cache the log's segment files are opened through
    /// (`fjord.log.max.open.files`); the process's own unless a test gives one.
    pub open_files: std::sync::Arc<OpenFiles>,
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
            compact: false,
            max_inflated_batch_bytes: 104_857_600,
            open_files: OpenFiles::shared(),
        }
    }
}
