//! Record batch (magic v2) header parsing and validation.
//!
//! Only the fixed 61-byte header is ever interpreted here; record bodies are opaque bytes
//! (covered by the CRC). Layout (all big-endian):
//!
//! | at | field                 | type |
//! |----|-----------------------|------|
//! |  0 | baseOffset            | i64  |
//! |  8 | batchLength           | i32  |
//! | 12 | partitionLeaderEpoch  | i32  |
//! | 16 | magic (= 2)           | i8   |
//! | 17 | crc (CRC-32C, 21..end)| u32  |
//! | 21 | attributes            | i16  |
//! | 23 | lastOffsetDelta       | i32  |
//! | 27 | baseTimestamp         | i64  |
//! | 35 | maxTimestamp          | i64  |
//! | 43 | producerId            | i64  |
//! | 51 | producerEpoch         | i16  |
//! | 53 | baseSequence          | i32  |
//! | 57 | recordsCount          | i32  |

use super::LogError;

/// baseOffset + batchLength: the bytes not counted by batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the fixed v2 batch header.
pub const HEADER_SIZE: usize = 61;
/// Smallest legal batchLength (a header with zero records).
pub const MIN_BATCH_LENGTH: i32 = (HEADER_SIZE - LOG_OVERHEAD) as i32;
/// The only supported record batch format.
pub const MAGIC_V2: i8 = 2;

pub(crate) const LENGTH_AT: usize = 8;
pub(crate) const LEADER_EPOCH_AT: usize = 12;
pub(crate) const MAGIC_AT: usize = 16;
pub(crate) const CRC_AT: usize = 17;
pub(crate) const ATTRIBUTES_AT: usize = 21;
pub(crate) const LAST_OFFSET_DELTA_AT: usize = 23;
pub(crate) const BASE_TIMESTAMP_AT: usize = 27;
pub(crate) const MAX_TIMESTAMP_AT: usize = 35;
pub(crate) const PRODUCER_ID_AT: usize = 43;
pub(crate) const PRODUCER_EPOCH_AT: usize = 51;
pub(crate) const BASE_SEQUENCE_AT: usize = 53;
pub(crate) const RECORDS_COUNT_AT: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

/// Smallest possible encoded v2 record (length, attributes, timestampDelta, offsetDelta,
/// keyLength, valueLength, headerCount: one byte each). Used to bound recordsCount of
/// uncompressed batches without decoding them.
const MIN_RECORD_SIZE: usize = 7;

/// Header fields of one validated v2 batch inside a produce payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchInfo {
    /// Byte offset of the batch inside the payload buffer (for [`crate::log::PartitionLog::scan_batch_headers`]:
    /// the byte position inside its segment file).
    pub position: usize,
    /// Total bytes (12 + batchLength).
    pub size: usize,
    pub last_offset_delta: i32,
    pub records_count: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub is_transactional: bool,
    pub is_control: bool,
    /// 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub compression: u8,
    pub timestamp_type_log_append: bool,
}

/// All fields of a v2 batch header, as read (nothing validated but the length of the input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[at..at + N]);
    a
}

pub(crate) fn read_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(arr(b, at))
}
pub(crate) fn read_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(arr(b, at))
}
pub(crate) fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(arr(b, at))
}
fn read_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(arr(b, at))
}

impl BatchHeader {
    /// Parse the first [`HEADER_SIZE`] bytes of `buf`; `None` if `buf` is shorter.
    /// The magic byte is not checked (callers must, since v0/v1 headers differ).
    pub fn parse(buf: &[u8]) -> Option<BatchHeader> {
        if buf.len() < HEADER_SIZE {
            return None;
        }
        Some(BatchHeader {
            base_offset: read_i64(buf, 0),
            batch_length: read_i32(buf, LENGTH_AT),
            partition_leader_epoch: read_i32(buf, LEADER_EPOCH_AT),
            magic: buf[MAGIC_AT] as i8,
            crc: read_u32(buf, CRC_AT),
            attributes: read_i16(buf, ATTRIBUTES_AT),
            last_offset_delta: read_i32(buf, LAST_OFFSET_DELTA_AT),
            base_timestamp: read_i64(buf, BASE_TIMESTAMP_AT),
            max_timestamp: read_i64(buf, MAX_TIMESTAMP_AT),
            producer_id: read_i64(buf, PRODUCER_ID_AT),
            producer_epoch: read_i16(buf, PRODUCER_EPOCH_AT),
            base_sequence: read_i32(buf, BASE_SEQUENCE_AT),
            records_count: read_i32(buf, RECORDS_COUNT_AT),
        })
    }

    /// Total size in bytes (12 + batchLength); 0 for a negative batchLength.
    pub fn size(&self) -> u64 {
        if self.batch_length < 0 {
            0
        } else {
            LOG_OVERHEAD as u64 + self.batch_length as u64
        }
    }

    /// Offset of the last record (baseOffset + lastOffsetDelta), saturating.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    pub fn compression(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// The [`BatchInfo`] view of this header, located at `position`.
    pub fn info(&self, position: usize) -> BatchInfo {
        BatchInfo {
            position,
            size: self.size() as usize,
            last_offset_delta: self.last_offset_delta,
            records_count: self.records_count,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            is_transactional: self.is_transactional(),
            is_control: self.is_control(),
            compression: self.compression(),
            timestamp_type_log_append: self.is_log_append_time(),
        }
    }
}

/// CRC-32C of a complete batch as stored in its header region (attributes .. end).
pub(crate) fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_AT..])
}

/// Validate a produce payload: one or more concatenated v2 record batches.
///
/// Errors:
/// * empty payload, magic != 2, lastOffsetDelta != recordsCount - 1, recordsCount <= 0,
///   unknown compression codec, impossible recordsCount for an uncompressed batch → [`LogError::InvalidRecord`]
/// * trailing partial batch, batchLength < 49, CRC mismatch → [`LogError::CorruptMessage`]
/// * a batch larger than `max_message_bytes` → [`LogError::MessageTooLarge`]
///
/// Nothing is decoded below the batch header. Transactional/control/producer-id semantics are
/// left to the caller (it sees them in [`BatchInfo`]).
pub fn validate_batches(
    payload: &[u8],
    max_message_bytes: usize,
) -> Result<Vec<BatchInfo>, LogError> {
    if payload.is_empty() {
        return Err(LogError::InvalidRecord("empty record set".into()));
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < payload.len() {
        let rest = &payload[pos..];
        if rest.len() <= MAGIC_AT {
            return Err(LogError::CorruptMessage(format!(
                "truncated record batch at byte {pos}: only {} bytes left",
                rest.len()
            )));
        }
        let magic = rest[MAGIC_AT] as i8;
        if magic != MAGIC_V2 {
            return Err(LogError::InvalidRecord(format!(
                "unsupported record batch magic {magic} at byte {pos} (only v2 is supported)"
            )));
        }
        let batch_length = read_i32(rest, LENGTH_AT);
        if batch_length < MIN_BATCH_LENGTH {
            return Err(LogError::CorruptMessage(format!(
                "batch length {batch_length} at byte {pos} is smaller than the minimum {MIN_BATCH_LENGTH}"
            )));
        }
        let size = LOG_OVERHEAD + batch_length as usize;
        if size > rest.len() {
            return Err(LogError::CorruptMessage(format!(
                "truncated record batch at byte {pos}: declares {size} bytes, {} present",
                rest.len()
            )));
        }
        if size > max_message_bytes {
            return Err(LogError::MessageTooLarge(format!(
                "record batch of {size} bytes exceeds the maximum of {max_message_bytes}"
            )));
        }
        let batch = &rest[..size];
        let Some(h) = BatchHeader::parse(batch) else {
            // unreachable: size >= HEADER_SIZE was checked above
            return Err(LogError::CorruptMessage("short batch header".into()));
        };
        let actual = compute_crc(batch);
        if actual != h.crc {
            return Err(LogError::CorruptMessage(format!(
                "CRC mismatch in batch at byte {pos}: stored {:#010x}, computed {actual:#010x}",
                h.crc
            )));
        }
        if h.compression() > 4 {
            return Err(LogError::InvalidRecord(format!(
                "unknown compression codec {} in batch at byte {pos}",
                h.compression()
            )));
        }
        if h.records_count <= 0 {
            return Err(LogError::InvalidRecord(format!(
                "batch at byte {pos} has records count {}",
                h.records_count
            )));
        }
        if i64::from(h.last_offset_delta) != i64::from(h.records_count) - 1 {
            return Err(LogError::InvalidRecord(format!(
                "batch at byte {pos}: lastOffsetDelta {} does not match records count {}",
                h.last_offset_delta, h.records_count
            )));
        }
        if h.compression() == 0 && h.records_count as usize > (size - HEADER_SIZE) / MIN_RECORD_SIZE
        {
            return Err(LogError::InvalidRecord(format!(
                "batch at byte {pos} claims {} records in {} bytes",
                h.records_count,
                size - HEADER_SIZE
            )));
        }
        out.push(h.info(pos));
        pos += size;
    }
    Ok(out)
}

/// Overwrite baseOffset and partitionLeaderEpoch of the batch starting at `batch[0]`
/// (neither field is covered by the CRC). `batch` must hold at least the 61-byte header.
pub(crate) fn rewrite_base_offset_and_epoch(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    batch[..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&leader_epoch.to_be_bytes());
}

/// Opt-in helper for topics configured with `message.timestamp.type=LogAppendTime`: set the
/// timestamp-type attribute bit and maxTimestamp to `now_ms`, and recompute the CRC (this is the
/// only place the storage layer ever rewrites CRC-covered bytes; [`crate::log::PartitionLog::append`]
/// never calls it). `info` must come from [`validate_batches`] on the same `payload`; it is updated.
pub fn stamp_log_append_time(
    payload: &mut [u8],
    info: &mut BatchInfo,
    now_ms: i64,
) -> Result<(), LogError> {
    let end = info
        .position
        .checked_add(info.size)
        .filter(|&e| e <= payload.len());
    let Some(end) = end.filter(|_| info.size >= HEADER_SIZE) else {
        return Err(LogError::InvalidRecord(format!(
            "batch descriptor (position {}, size {}) does not fit a payload of {} bytes",
            info.position,
            info.size,
            payload.len()
        )));
    };
    let batch = &mut payload[info.position..end];
    let attrs = read_i16(batch, ATTRIBUTES_AT) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attrs.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    info.max_timestamp = now_ms;
    info.timestamp_type_log_append = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_util::*;
    use kafka_protocol::records::Compression;

    #[test]
    fn validates_single_and_multiple_batches() {
        let a = batch_bytes(&[(1000, "a"), (1001, "b"), (999, "c")], Compression::None);
        let b = batch_bytes(&[(2000, "dd")], Compression::Gzip);
        let mut payload = a.clone();
        payload.extend_from_slice(&b);
        let infos = validate_batches(&payload, 1 << 20).unwrap();
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[0].position, 0);
        assert_eq!(infos[0].size, a.len());
        assert_eq!(infos[0].records_count, 3);
        assert_eq!(infos[0].last_offset_delta, 2);
        assert_eq!(infos[0].base_timestamp, 999); // the encoder uses the minimum as base
        assert_eq!(infos[0].max_timestamp, 1001);
        assert_eq!(infos[0].compression, 0);
        assert_eq!(infos[0].producer_id, -1);
        assert!(
            !infos[0].is_transactional
                && !infos[0].is_control
                && !infos[0].timestamp_type_log_append
        );
        assert_eq!(infos[1].position, a.len());
        assert_eq!(infos[1].size, b.len());
        assert_eq!(infos[1].compression, 1);
        assert_eq!(infos[1].records_count, 1);
        assert_eq!(infos[1].max_timestamp, 2000);
    }

    #[test]
    fn rejects_empty_and_truncated() {
        assert!(matches!(
            validate_batches(&[], 1000),
            Err(LogError::InvalidRecord(_))
        ));
        let a = batch_bytes(&[(1, "hello")], Compression::None);
        for cut in [1, 11, 16, 17, 30, 61, a.len() - 1] {
            let r = validate_batches(&a[..cut], 1 << 20);
            assert!(
                matches!(r, Err(LogError::CorruptMessage(_))),
                "cut {cut}: {r:?}"
            );
        }
        // a complete batch followed by a few stray bytes
        let mut p = a.clone();
        p.extend_from_slice(&[0, 0, 0]);
        assert!(matches!(
            validate_batches(&p, 1 << 20),
            Err(LogError::CorruptMessage(_))
        ));
        // batchLength too small
        let mut p = a.clone();
        p[8..12].copy_from_slice(&48i32.to_be_bytes());
        assert!(matches!(
            validate_batches(&p, 1 << 20),
            Err(LogError::CorruptMessage(_))
        ));
        let mut p = a.clone();
        p[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(matches!(
            validate_batches(&p, 1 << 20),
            Err(LogError::CorruptMessage(_))
        ));
    }

    #[test]
    fn rejects_bad_crc_magic_and_size() {
        let a = batch_bytes(&[(1, "hello"), (2, "world")], Compression::None);
        // flip a byte in the record data
        let mut p = a.clone();
        let last = p.len() - 1;
        p[last] ^= 0x40;
        assert!(
            matches!(validate_batches(&p, 1 << 20), Err(LogError::CorruptMessage(m)) if m.contains("CRC"))
        );
        // flip the CRC itself
        let mut p = a.clone();
        p[CRC_AT] ^= 1;
        assert!(matches!(
            validate_batches(&p, 1 << 20),
            Err(LogError::CorruptMessage(_))
        ));
        // base offset and leader epoch are not CRC-covered
        let mut p = a.clone();
        rewrite_base_offset_and_epoch(&mut p, 12345, 7);
        assert!(validate_batches(&p, 1 << 20).is_ok());
        // magic 1 and 3
        for magic in [0u8, 1, 3] {
            let mut p = a.clone();
            p[MAGIC_AT] = magic;
            assert!(
                matches!(validate_batches(&p, 1 << 20), Err(LogError::InvalidRecord(m)) if m.contains("magic")),
                "magic {magic}"
            );
        }
        // size limit: exactly the batch size is fine, one less is not
        assert!(validate_batches(&a, a.len()).is_ok());
        assert!(matches!(
            validate_batches(&a, a.len() - 1),
            Err(LogError::MessageTooLarge(_))
        ));
    }

    #[test]
    fn rejects_inconsistent_counts_and_codec() {
        let a = batch_bytes(&[(1, "hello"), (2, "world")], Compression::None);
        let fix_crc = |p: &mut Vec<u8>| {
            let crc = compute_crc(p);
            p[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        };
        let mut p = a.clone();
        p[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&5i32.to_be_bytes());
        fix_crc(&mut p);
        assert!(matches!(
            validate_batches(&p, 1 << 20),
            Err(LogError::InvalidRecord(_))
        ));
        let mut p = a.clone();
        p[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&0i32.to_be_bytes());
        p[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&(-1i32).to_be_bytes());
        fix_crc(&mut p);
        assert!(matches!(
            validate_batches(&p, 1 << 20),
            Err(LogError::InvalidRecord(_))
        ));
        // absurd record count for an uncompressed batch
        let mut p = a.clone();
        p[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&1_000_000i32.to_be_bytes());
        p[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4]
            .copy_from_slice(&999_999i32.to_be_bytes());
        fix_crc(&mut p);
        assert!(matches!(
            validate_batches(&p, 1 << 20),
            Err(LogError::InvalidRecord(_))
        ));
        // codec 5
        let mut p = a.clone();
        p[ATTRIBUTES_AT + 1] |= 5;
        fix_crc(&mut p);
        assert!(
            matches!(validate_batches(&p, 1 << 20), Err(LogError::InvalidRecord(m)) if m.contains("compression"))
        );
        // the fixed-up original is still fine
        let mut p = a.clone();
        fix_crc(&mut p);
        assert_eq!(p, a);
    }

    #[test]
    fn flags_are_reported() {
        let p = batch_bytes_with(&[(5, "x")], Compression::None, 42, 3, 10, true, false);
        let infos = validate_batches(&p, 1 << 20).unwrap();
        assert_eq!(infos[0].producer_id, 42);
        assert_eq!(infos[0].producer_epoch, 3);
        assert_eq!(infos[0].base_sequence, 10);
        assert!(infos[0].is_transactional);
        assert!(!infos[0].is_control);
    }

    #[test]
    fn stamping_log_append_time_keeps_crc_valid() {
        let mut p = batch_bytes(&[(5, "x"), (6, "y")], Compression::None);
        let mut infos = validate_batches(&p, 1 << 20).unwrap();
        stamp_log_append_time(&mut p, &mut infos[0], 777).unwrap();
        assert_eq!(infos[0].max_timestamp, 777);
        let again = validate_batches(&p, 1 << 20).unwrap();
        assert_eq!(again, infos);
        let mut bogus = infos[0].clone();
        bogus.size += 1;
        assert!(stamp_log_append_time(&mut p, &mut bogus, 1).is_err());
    }
}
