//! The record codec the storage engine needs where it must look inside batches (compaction,
//! transaction markers): a CRC-checked sequential batch reader over segment data, the v2 record
//! layout (varints, key and value positions), and decompression / recompression with the batch's
//! own codec. The produce and fetch paths never use it: they move whole batches.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::compression as codec;

use super::LogError;
use super::batch::{
    ATTRIBUTES_AT, BatchHeader, CRC_AT, HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2, MIN_BATCH_LENGTH,
    compute_crc,
};
use super::compression::{InflateError, inflate};
use super::files::FileSlice;

const COMPRESSION_MASK: i16 = 0x07;

/// Sequential batch reader over a [`FileSlice`] (chunked positional reads; CRC-checked).
pub(super) struct BatchReader<'a> {
    slice: &'a FileSlice,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

pub(super) const READ_CHUNK: u64 = 1 << 20;

impl<'a> BatchReader<'a> {
    pub(super) fn new(slice: &'a FileSlice) -> Self {
        BatchReader {
            slice,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    fn corrupt(&self, what: &str) -> LogError {
        LogError::CorruptMessage(format!(
            "compaction: batch at position {} of a {}-byte segment: {what}",
            self.pos, self.slice.len
        ))
    }

    /// `len` bytes at `pos` (must lie within the slice).
    fn bytes(&mut self, pos: u64, len: u64) -> Result<&[u8], LogError> {
        let buf_end = self.buf_start + self.buf.len() as u64;
        if pos < self.buf_start || pos + len > buf_end {
            let n = len.max(READ_CHUNK).min(self.slice.len - pos);
            self.buf.resize(n as usize, 0);
            self.slice.read_into(&mut self.buf, pos)?;
            self.buf_start = pos;
        }
        let at = (pos - self.buf_start) as usize;
        Ok(&self.buf[at..at + len as usize])
    }

    /// The next batch: header and complete bytes.
    pub(super) fn next_batch(&mut self) -> Result<Option<(BatchHeader, Vec<u8>)>, LogError> {
        let end = self.slice.len;
        if self.pos >= end {
            return Ok(None);
        }
        if end - self.pos < HEADER_SIZE as u64 {
            return Err(self.corrupt("truncated header"));
        }
        let pos = self.pos;
        let h = BatchHeader::parse(self.bytes(pos, HEADER_SIZE as u64)?)
            .ok_or_else(|| self.corrupt("short header"))?;
        if h.magic != MAGIC_V2 || h.batch_length < MIN_BATCH_LENGTH || h.size() > end - pos {
            return Err(self.corrupt("invalid batch header"));
        }
        let data = self.bytes(pos, h.size())?.to_vec();
        if compute_crc(&data) != h.crc {
            return Err(self.corrupt("CRC mismatch"));
        }
        self.pos += h.size();
        Ok(Some((h, data)))
    }
}

/// One record inside a batch's (decompressed) records section.
#[derive(Clone, Debug)]
pub(super) struct RawRecord {
    /// Byte range of the whole record (length prefix included) in the records section.
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) offset: i64,
    /// The record's timestamp (LogAppendTime batches: the batch maxTimestamp).
    pub(super) timestamp: i64,
    pub(super) key: Option<(usize, usize)>,
    /// Byte range of the value (None: a null value, a tombstone).
    pub(super) value: Option<(usize, usize)>,
    pub(super) value_is_null: bool,
}

/// A decoded batch: its records section (decompressed) and where each record lies in it.
pub(super) struct DecodedBatch {
    pub(super) body: Bytes,
    pub(super) records: Vec<RawRecord>,
}

impl DecodedBatch {
    pub(super) fn key(&self, r: &RawRecord) -> Option<&[u8]> {
        r.key.map(|(s, e)| &self.body[s..e])
    }

    pub(super) fn value(&self, r: &RawRecord) -> Option<&[u8]> {
        r.value.map(|(s, e)| &self.body[s..e])
    }
}

fn read_varlong(b: &[u8], pos: &mut usize) -> Option<i64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(((v >> 1) as i64) ^ -((v & 1) as i64));
        }
    }
    None
}

fn read_varint(b: &[u8], pos: &mut usize) -> Option<i32> {
    read_varlong(b, pos).and_then(|v| i32::try_from(v).ok())
}

pub(super) fn compress(codec_id: u8, raw: &[u8]) -> Result<Vec<u8>, String> {
    fn run<C: codec::Compressor<BytesMut>>(raw: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = BytesMut::new();
        C::compress(&mut out, |b| {
            b.put_slice(raw);
            Ok(())
        })
        .map_err(|e| format!("cannot compress: {e:#}"))?;
        Ok(out.to_vec())
    }
    match codec_id {
        0 => Ok(raw.to_vec()),
        1 => run::<codec::Gzip>(raw),
        2 => run::<codec::Snappy>(raw),
        3 => run::<codec::Lz4>(raw),
        4 => run::<codec::Zstd>(raw),
        n => Err(format!("unknown compression codec {n}")),
    }
}

/// Decode the records of a (CRC-checked) batch down to what compaction needs, inflating them
/// to at most `inflate_limit` bytes: past it the batch is [`LogError::InvalidRecord`], a batch
/// whose records cannot be read [`LogError::CorruptMessage`]. Never does I/O.
pub(super) fn decode_batch(
    h: &BatchHeader,
    data: &[u8],
    inflate_limit: usize,
) -> Result<DecodedBatch, LogError> {
    let bad = |what: String| {
        LogError::CorruptMessage(format!("batch at offset {}: {what}", h.base_offset))
    };
    let body = Bytes::from(
        inflate(h.compression(), &data[HEADER_SIZE..], inflate_limit).map_err(|e| match e {
            InflateError::TooBig { .. } => {
                LogError::InvalidRecord(format!("batch at offset {}: {e}", h.base_offset))
            }
            InflateError::Corrupt(_) => bad(e.to_string()),
        })?,
    );
    let b = &body[..];
    let count = usize::try_from(h.records_count).map_err(|_| bad("negative count".into()))?;
    let mut records = Vec::with_capacity(count.min(b.len() / 7 + 1));
    let mut pos = 0usize;
    for i in 0..count {
        let start = pos;
        let len = read_varint(b, &mut pos)
            .and_then(|l| usize::try_from(l).ok())
            .filter(|&l| pos + l <= b.len())
            .ok_or_else(|| bad(format!("record {i}: bad length")))?;
        let end = pos + len;
        let rec = &b[..end];
        let parsed = (|| {
            let mut p = pos + 1; // attributes
            let ts_delta = read_varlong(rec, &mut p)?;
            let offset_delta = read_varint(rec, &mut p)?;
            let key_len = read_varint(rec, &mut p)?;
            let key = match key_len {
                -1 => None,
                l if l >= 0 && p + l as usize <= end => {
                    let k = (p, p + l as usize);
                    p += l as usize;
                    Some(k)
                }
                _ => return None,
            };
            let value_len = read_varint(rec, &mut p)?;
            let value = match value_len {
                -1 => None,
                l if l >= 0 && p + l as usize <= end => Some((p, p + l as usize)),
                _ => return None,
            };
            Some((ts_delta, offset_delta, key, value))
        })();
        let (ts_delta, offset_delta, key, value) =
            parsed.ok_or_else(|| bad(format!("record {i}: malformed")))?;
        let timestamp = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(ts_delta)
        };
        records.push(RawRecord {
            start,
            end,
            offset: h.base_offset.wrapping_add(i64::from(offset_delta)),
            timestamp,
            key,
            value,
            value_is_null: value.is_none(),
        });
        pos = end;
    }
    if pos != b.len() {
        return Err(bad(format!(
            "{} bytes after the last of {count} records",
            b.len() - pos
        )));
    }
    Ok(DecodedBatch { body, records })
}

/// Whether every record of the (validated) batch `data` has a key. Compacted topics refuse
/// keyless records; this is the one check on the produce path that decodes records, and only
/// compacted topics pay for it. `inflate_limit`: as for [`decode_batch`].
pub fn all_records_keyed(data: &[u8], inflate_limit: usize) -> Result<bool, LogError> {
    let h = BatchHeader::parse(data)
        .ok_or_else(|| LogError::CorruptMessage("short batch header".into()))?;
    let end = usize::try_from(h.size())
        .ok()
        .filter(|&e| e <= data.len())
        .ok_or_else(|| LogError::CorruptMessage("batch past the end of the data".into()))?;
    let batch = decode_batch(&h, &data[..end], inflate_limit)?;
    Ok(batch.records.iter().all(|r| r.key.is_some()))
}

/// Encode a batch like `h` holding only `kept` records of `batch` (see the module docs).
pub(super) fn encode_batch(
    h: &BatchHeader,
    batch: &DecodedBatch,
    kept: &[&RawRecord],
) -> Result<Vec<u8>, LogError> {
    let mut raw = Vec::new();
    for r in kept {
        raw.extend_from_slice(&batch.body[r.start..r.end]);
    }
    let codec_id = if kept.is_empty() { 0 } else { h.compression() };
    let max_timestamp = if h.is_log_append_time() || kept.is_empty() {
        h.max_timestamp
    } else {
        kept.iter()
            .map(|r| r.timestamp)
            .max()
            .unwrap_or(h.max_timestamp)
    };
    let attributes = (h.attributes & !COMPRESSION_MASK) | i16::from(codec_id);
    write_batch(
        &BatchHeader {
            attributes,
            max_timestamp,
            records_count: kept.len() as i32,
            ..*h
        },
        &raw,
    )
}

/// A record to encode: timestamp, key, value.
pub(super) type NewRecord<'a> = (i64, Option<&'a [u8]>, Option<&'a [u8]>);

/// A new batch (offsets from 0, no producer, CreateTime) of `records`, compressed with codec
/// `codec_id`.
pub(super) fn encode_new_batch(
    records: &[NewRecord<'_>],
    codec_id: u8,
) -> Result<Vec<u8>, LogError> {
    let base_timestamp = records.first().map_or(-1, |r| r.0);
    let mut raw = Vec::new();
    let mut rec = Vec::new();
    for (i, (ts, key, value)) in records.iter().enumerate() {
        rec.clear();
        rec.push(0); // attributes
        put_varlong(&mut rec, ts.wrapping_sub(base_timestamp));
        put_varlong(&mut rec, i as i64);
        for field in [key, value] {
            match field {
                Some(b) => {
                    put_varlong(&mut rec, b.len() as i64);
                    rec.extend_from_slice(b);
                }
                None => put_varlong(&mut rec, -1),
            }
        }
        put_varlong(&mut rec, 0); // headers
        put_varlong(&mut raw, rec.len() as i64);
        raw.extend_from_slice(&rec);
    }
    let n = i32::try_from(records.len())
        .map_err(|_| LogError::MessageTooLarge("too many records for one batch".into()))?;
    write_batch(
        &BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: -1,
            magic: MAGIC_V2,
            crc: 0,
            attributes: i16::from(codec_id),
            last_offset_delta: n - 1,
            base_timestamp,
            max_timestamp: records.iter().map(|r| r.0).max().unwrap_or(-1),
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: n,
        },
        &raw,
    )
}

/// A batch with `h`'s header fields (length and CRC computed) around the records section `raw`,
/// compressed with `h`'s codec.
fn write_batch(h: &BatchHeader, raw: &[u8]) -> Result<Vec<u8>, LogError> {
    let payload = compress(h.compression(), raw).map_err(LogError::InvalidRecord)?;
    let batch_length = i32::try_from(HEADER_SIZE - LOG_OVERHEAD + payload.len())
        .map_err(|_| LogError::MessageTooLarge("batch too large".into()))?;
    let mut out = Vec::with_capacity(HEADER_SIZE + payload.len());
    out.extend_from_slice(&h.base_offset.to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&h.partition_leader_epoch.to_be_bytes());
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&[0; 4]); // CRC, below
    debug_assert_eq!(out.len(), ATTRIBUTES_AT);
    out.extend_from_slice(&h.attributes.to_be_bytes());
    out.extend_from_slice(&h.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&h.base_timestamp.to_be_bytes());
    out.extend_from_slice(&h.max_timestamp.to_be_bytes());
    out.extend_from_slice(&h.producer_id.to_be_bytes());
    out.extend_from_slice(&h.producer_epoch.to_be_bytes());
    out.extend_from_slice(&h.base_sequence.to_be_bytes());
    out.extend_from_slice(&h.records_count.to_be_bytes());
    out.extend_from_slice(&payload);
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}
