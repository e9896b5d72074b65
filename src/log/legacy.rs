//! Kafka's message formats v0 and v1 (the pre-0.11 "MessageSet"), which old clients still
//! write and read. The log keeps one format, v2 record batches, as Kafka 3.x does with
//! `log.message.format.version` 0.11 or later: [`up_convert`] turns what an old producer sent
//! into one v2 batch before it is validated and appended; [`down_convert`] turns stored v2
//! batches into the message format an old fetch asks for.
//!
//! A v0/v1 message, as a message set holds them one after another:
//!
//! ```text
//! offset i64 | size i32 | crc u32 (CRC-32 of the rest) | magic i8 | attributes i8
//!            | timestamp i64 (v1 only) | key bytes (i32 length, -1 null) | value bytes
//! ```
//!
//! attributes bits 0–2 are the codec (0 none, 1 gzip, 2 snappy, 3 lz4), bit 3 (v1) the
//! timestamp type. A compressed message is a wrapper whose value is a compressed message set of
//! inner messages; a v1 wrapper's inner offsets are relative (0..n-1) and its LogAppendTime
//! timestamp applies to every inner message. Magic-0 LZ4 wrappers carry Kafka's historical frame
//! header checksum bug (KAFKA-1493: the checksum covers the frame's magic number too), which is
//! repaired before decoding.
//!
//! **Must never:** allocate more than the caller's inflation limit for a compressed wrapper (a
//! zip bomb is refused, not expanded), know the wire protocol, or keep anything but v2 in the log.

use bytes::{BufMut, Bytes, BytesMut};

use super::LogError;
use super::batch::{BatchHeader, HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2};
use super::compression::{self, InflateError};
use super::records::{NewRecord, decode_batch, encode_new_batch};

/// crc + magic + attributes + key length + value length.
const MESSAGE_V0_MIN: usize = 4 + 1 + 1 + 4 + 4;
/// v0 plus the timestamp.
const MESSAGE_V1_MIN: usize = MESSAGE_V0_MIN + 8;
const CODEC_MASK: i8 = 0x07;
const TIMESTAMP_TYPE_BIT: i8 = 0x08;

/// What [`up_convert`] found in an old message set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpConverted {
    /// One v2 batch holding every record, offsets 0..n-1 (the log assigns the real ones).
    pub batch: BytesMut,
    /// The message format the producer used (0 or 1).
    pub magic: i8,
    pub records: usize,
}

/// One message read from a message set.
struct Message {
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn corrupt(what: impl Into<String>) -> LogError {
    LogError::CorruptMessage(what.into())
}

fn invalid(what: impl Into<String>) -> LogError {
    LogError::InvalidRecord(what.into())
}

/// Whether `data` looks like a v0/v1 message set rather than v2 batches: the magic byte sits at
/// offset 16 of the first entry (after offset, size and crc), where a v2 batch has it too.
pub fn is_legacy(data: &[u8]) -> bool {
    data.len() > 16 && (data[16] == 0 || data[16] == 1)
}

/// Read the messages of a message set, CRC-checked. A trailing partial message is refused (a
/// producer sends whole messages).
fn read_message_set(data: &Bytes) -> Result<Vec<(i64, Message)>, LogError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        if data.len() - pos < LOG_OVERHEAD {
            return Err(corrupt(format!(
                "message set: {} trailing bytes are not a message",
                data.len() - pos
            )));
        }
        let offset = i64::from_be_bytes(data[pos..pos + 8].try_into().expect("8 bytes"));
        let size = i32::from_be_bytes(data[pos + 8..pos + 12].try_into().expect("4 bytes"));
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s >= MESSAGE_V0_MIN && s <= data.len() - pos - LOG_OVERHEAD)
            .ok_or_else(|| corrupt(format!("message at byte {pos}: bad size {size}")))?;
        let m = data.slice(pos + LOG_OVERHEAD..pos + LOG_OVERHEAD + size);
        out.push((offset, read_message(&m, pos)?));
        pos += LOG_OVERHEAD + size;
    }
    Ok(out)
}

fn read_message(m: &Bytes, at: usize) -> Result<Message, LogError> {
    let crc = u32::from_be_bytes(m[0..4].try_into().expect("4 bytes"));
    if crc32fast::hash(&m[4..]) != crc {
        return Err(corrupt(format!("message at byte {at}: CRC mismatch")));
    }
    let magic = m[4] as i8;
    let attributes = m[5] as i8;
    let mut p = 6;
    let timestamp = match magic {
        0 => -1,
        1 => {
            if m.len() < MESSAGE_V1_MIN {
                return Err(corrupt(format!("message at byte {at}: too short for v1")));
            }
            p += 8;
            i64::from_be_bytes(m[6..14].try_into().expect("8 bytes"))
        }
        other => {
            return Err(invalid(format!(
                "message at byte {at}: magic {other} in a v0/v1 message set"
            )));
        }
    };
    let mut bytes_field = |what: &str| -> Result<Option<Bytes>, LogError> {
        if m.len() - p < 4 {
            return Err(corrupt(format!("message at byte {at}: truncated {what}")));
        }
        let len = i32::from_be_bytes(m[p..p + 4].try_into().expect("4 bytes"));
        p += 4;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= m.len() - p)
            .ok_or_else(|| corrupt(format!("message at byte {at}: bad {what} length {len}")))?;
        let b = m.slice(p..p + len);
        p += len;
        Ok(Some(b))
    };
    let key = bytes_field("key")?;
    let value = bytes_field("value")?;
    if p != m.len() {
        return Err(corrupt(format!(
            "message at byte {at}: {} bytes after the value",
            m.len() - p
        )));
    }
    Ok(Message {
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

/// Decompress a wrapper's value, refusing to produce more than `limit` bytes.
fn inflate(codec: i8, magic: i8, data: &[u8], limit: usize) -> Result<Vec<u8>, LogError> {
    let fixed;
    let data = if codec == 3 && magic == 0 {
        fixed = repair_lz4_header_checksum(data)?;
        &fixed[..]
    } else {
        data
    };
    match codec {
        1..=3 => compression::inflate(codec as u8, data, limit).map_err(|e| match e {
            InflateError::TooBig { .. } => {
                invalid(format!("compressed message inflates past {limit} bytes"))
            }
            InflateError::Corrupt(why) => corrupt(format!("cannot decompress {why}")),
        }),
        other => Err(invalid(format!("unknown compression codec {other}"))),
    }
}

/// Magic-0 LZ4 (KAFKA-1493): the frame header checksum was computed over the frame magic number
/// and descriptor instead of the descriptor alone. Write the correct one.
fn repair_lz4_header_checksum(frame: &[u8]) -> Result<Vec<u8>, LogError> {
    let bad = || corrupt("lz4: truncated frame header");
    if frame.len() < 7 {
        return Err(bad());
    }
    let flg = frame[4];
    let mut descriptor_len = 2;
    if flg & 0x08 != 0 {
        descriptor_len += 8; // content size
    }
    if flg & 0x01 != 0 {
        descriptor_len += 4; // dictionary id
    }
    let hc_at = 4 + descriptor_len;
    if frame.len() <= hc_at {
        return Err(bad());
    }
    let mut fixed = frame.to_vec();
    fixed[hc_at] = (xxhash_rust::xxh32::xxh32(&frame[4..hc_at], 0) >> 8) as u8;
    Ok(fixed)
}

/// Turn an old producer's message set into one v2 batch (uncompressed records re-encoded,
/// compressed wrappers opened and their records re-compressed with the same codec). CRCs are
/// checked first: a bad one is [`LogError::CorruptMessage`] and nothing is converted.
/// `inflate_limit` bounds the bytes all compressed wrappers may inflate to together.
pub fn up_convert(data: &Bytes, inflate_limit: usize) -> Result<UpConverted, LogError> {
    let outer = read_message_set(data)?;
    let magic = outer
        .first()
        .map(|(_, m)| m.magic)
        .ok_or_else(|| invalid("empty message set"))?;
    let mut codec = 0i8;
    let mut records = Vec::new();
    let mut inflated = 0usize;
    for (_, m) in outer {
        if m.magic != magic {
            return Err(invalid("message set mixes message formats"));
        }
        let m_codec = m.attributes & CODEC_MASK;
        if m_codec == 0 {
            records.push(m);
            continue;
        }
        codec = m_codec;
        let compressed = m
            .value
            .as_ref()
            .ok_or_else(|| invalid("compressed message without a value"))?;
        let inner = inflate(
            m_codec,
            m.magic,
            compressed,
            inflate_limit.saturating_sub(inflated),
        )?;
        inflated += inner.len();
        let inner = Bytes::from(inner);
        let log_append = m.magic == 1 && m.attributes & TIMESTAMP_TYPE_BIT != 0;
        for (_, mut im) in read_message_set(&inner)? {
            if im.attributes & CODEC_MASK != 0 {
                return Err(invalid("a compressed message inside a compressed message"));
            }
            if im.magic != m.magic {
                return Err(invalid("inner message format differs from its wrapper's"));
            }
            if log_append {
                // A LogAppendTime wrapper's time is every inner message's time.
                im.timestamp = m.timestamp;
            }
            records.push(im);
        }
    }
    if records.is_empty() {
        return Err(invalid("message set holds no message"));
    }
    // Timestamps are the messages' own (CreateTime): whether the log stamps its own time is the
    // topic's choice (message.timestamp.type), applied when the batch is validated.
    let recs: Vec<NewRecord<'_>> = records
        .iter()
        .map(|m| (m.timestamp, m.key.as_deref(), m.value.as_deref()))
        .collect();
    let batch = BytesMut::from(&encode_new_batch(&recs, codec as u8)?[..]);
    Ok(UpConverted {
        batch,
        magic,
        records: records.len(),
    })
}

/// Append one uncompressed v0/v1 message.
fn put_message(
    out: &mut Vec<u8>,
    magic: i8,
    offset: i64,
    timestamp: Option<(i64, bool)>,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    let body_len = if magic == 0 {
        MESSAGE_V0_MIN
    } else {
        MESSAGE_V1_MIN
    } + key.map_or(0, <[u8]>::len)
        + value.map_or(0, <[u8]>::len);
    let mut m = BytesMut::with_capacity(LOG_OVERHEAD + body_len);
    m.put_i64(offset);
    m.put_i32(body_len as i32);
    m.put_u32(0); // CRC, below
    m.put_i8(magic);
    let (ts, log_append) = timestamp.unwrap_or((-1, false));
    m.put_i8(if magic == 1 && log_append {
        TIMESTAMP_TYPE_BIT
    } else {
        0
    });
    if magic == 1 {
        m.put_i64(ts);
    }
    for field in [key, value] {
        match field {
            Some(b) => {
                m.put_i32(b.len() as i32);
                m.put_slice(b);
            }
            None => m.put_i32(-1),
        }
    }
    let crc = crc32fast::hash(&m[LOG_OVERHEAD + 4..]);
    m[LOG_OVERHEAD..LOG_OVERHEAD + 4].copy_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&m);
}

/// What [`down_convert`] produced.
#[derive(Debug, Default)]
pub struct DownConverted {
    /// The message set (uncompressed messages, absolute offsets).
    pub messages: Vec<u8>,
    pub count: usize,
}

/// Turn stored v2 batches (whole batches, as a fetch reads them) into a v0 or v1 message set
/// of uncompressed messages with their absolute offsets: control batches and the batches
/// `skip` names (aborted transactions) are left out, headers and producer metadata dropped.
/// Messages below `from_offset` are left out (a batch read from its start can begin before the
/// offset asked for). Stops before a message that would take the set past `max_bytes`, unless
/// it is the first (an old consumer must always make progress). A compressed batch is inflated
/// to at most `inflate_limit` bytes.
pub fn down_convert(
    batches: &[u8],
    magic: i8,
    from_offset: i64,
    max_bytes: usize,
    inflate_limit: usize,
    skip: &dyn Fn(&BatchHeader) -> bool,
) -> Result<DownConverted, LogError> {
    let mut out = DownConverted::default();
    let mut pos = 0usize;
    while batches.len() - pos >= HEADER_SIZE {
        let h = BatchHeader::parse(&batches[pos..]).ok_or_else(|| corrupt("short batch header"))?;
        let end = usize::try_from(h.size())
            .ok()
            .and_then(|n| pos.checked_add(n))
            .filter(|&e| e <= batches.len())
            .ok_or_else(|| corrupt("batch past the end of the data"))?;
        if h.magic != MAGIC_V2 {
            return Err(corrupt(format!("stored batch with magic {}", h.magic)));
        }
        let data = &batches[pos..end];
        pos = end;
        if h.is_control() || skip(&h) || h.last_offset() < from_offset {
            continue;
        }
        let decoded = decode_batch(&h, data, inflate_limit)?;
        for r in &decoded.records {
            if r.offset < from_offset {
                continue;
            }
            let before = out.messages.len();
            put_message(
                &mut out.messages,
                magic,
                r.offset,
                Some((r.timestamp, h.is_log_append_time())),
                decoded.key(r),
                decoded.value(r),
            );
            if out.messages.len() > max_bytes && out.count > 0 {
                out.messages.truncate(before);
                return Ok(out);
            }
            out.count += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
