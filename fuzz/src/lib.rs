//! What the fuzz targets run, as plain functions: the AFL binaries (`src/bin/request.rs`,
//! `src/bin/records.rs`) call them on each input, `src/bin/replay.rs` on files (to reproduce a
//! finding without AFL). Neither touches broker state: they stop where a real connection would
//! first read or change it. See docs/fuzzing.md.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::RequestKind;

use fjord::api::{accepts, decode_request, frame_key};
use fjord::group::consumer_protocol::{assignment_partitions, subscription_topics};
use fjord::log::LogConfig;
use fjord::log::legacy::{down_convert, is_legacy, up_convert};
use fjord::log::records::all_records_keyed;
use fjord::partition::{AppendOrigin, Partition};

/// The broker's clock, as far as the targets need one (LogAppendTime stamping).
const NOW_MS: i64 = 1_700_000_000_000;

/// How far an old producer's compressed message set may inflate here. The broker allows
/// `socket.request.max.bytes` (100 MiB by default); fuzzing under AFL's memory limit with that
/// bound would report every well-formed 100 MiB zip bomb as an out-of-memory crash, so the
/// target uses a smaller bound (the code that enforces it is the same).
const INFLATE_LIMIT: usize = 4 << 20;

/// The largest message set a legacy fetch is down-converted into here.
const DOWN_CONVERT_MAX_BYTES: usize = 1 << 20;

/// Four real partitions (in a directory removed right after they are opened: validation reads
/// only their configuration): every combination of `cleanup.policy=compact` (records must
/// have keys, which decodes them) and `message.timestamp.type=LogAppendTime` (the batch header
/// is rewritten).
fn partitions() -> &'static [Arc<Partition>; 4] {
    static PARTITIONS: OnceLock<[Arc<Partition>; 4]> = OnceLock::new();
    PARTITIONS.get_or_init(|| {
        let dir: PathBuf = std::env::temp_dir().join(format!("fjord-fuzz-{}", std::process::id()));
        let open = |i: usize| {
            let config = LogConfig {
                compact: i & 1 != 0,
                log_append_time: i & 2 != 0,
                ..LogConfig::default()
            };
            Partition::open("fuzz", i as i32, &dir.join(i.to_string()), config, NOW_MS)
                .expect("open a partition for fuzzing")
        };
        let partitions = [open(0), open(1), open(2), open(3)];
        let _ = std::fs::remove_dir_all(&dir);
        partitions
    })
}

/// One request frame, without its 4-byte length prefix: what `api::handle_frame` does with it
/// before it dispatches (API key and version, `accepts`, header and body decoding with
/// kafka-protocol or fjord's legacy codec), then what handlers decode further from a request's
/// opaque bytes without broker state: a Produce request's records ([`produce_records`]) and
/// the consumer protocol's subscriptions and assignments inside JoinGroup and SyncGroup.
///
/// Returns whether the frame decoded (for `replay`'s summary).
pub fn request(data: &[u8]) -> bool {
    let Ok((key, version, _correlation_id)) = frame_key(data) else {
        return false;
    };
    if !accepts(key, version) {
        return false;
    }
    let mut frame = Bytes::copy_from_slice(data);
    let Ok((_header, request)) = decode_request(key, version, &mut frame) else {
        return false;
    };
    match request {
        RequestKind::Produce(r) => {
            for topic in &r.topic_data {
                for p in &topic.partition_data {
                    if let Some(records) = p.records.as_ref().filter(|r| !r.is_empty()) {
                        let _ = produce_records(records, version <= 2, p.index as usize);
                    }
                }
            }
        }
        RequestKind::JoinGroup(r) => {
            for p in &r.protocols {
                let _ = subscription_topics(&p.metadata);
            }
        }
        RequestKind::SyncGroup(r) => {
            for a in &r.assignments {
                let _ = assignment_partitions(&a.assignment);
            }
        }
        _ => {}
    }
    true
}

/// The record-batch target's input: one flags byte, then a Produce request's `records` field.
///
/// flags bit 0: recompute the CRCs of the v2 batches / v0-v1 messages first (else nearly every
/// mutation dies at the CRC check); bit 1: the records come in a Produce v0-v2 request (a
/// v0/v1 message set, up-converted); bits 2-3: which of the four partitions (plain, compacted,
/// LogAppendTime, both) takes them.
///
/// Returns whether the records passed validation (for `replay`'s summary).
pub fn records(data: &[u8]) -> bool {
    let Some((&flags, records)) = data.split_first() else {
        return false;
    };
    let mut records = records.to_vec();
    if flags & 1 != 0 {
        fix_crcs(&mut records);
    }
    produce_records(&records, flags & 2 != 0, usize::from(flags >> 2))
}

/// A Produce request's records for one partition: what `api::produce` does before it appends
/// (a v0/v1 message set is up-converted into one v2 batch; `Partition::validate` checks size,
/// magic, CRC, counts, control batches, keys on a compacted topic and stamps LogAppendTime),
/// then what later reads of the stored batches decode from them: ListOffsets by timestamp
/// (kafka-protocol's `RecordBatchDecoder`) and a legacy Fetch (`down_convert` to v0 and v1).
/// Returns whether they passed validation.
pub fn produce_records(records: &[u8], legacy: bool, partition: usize) -> bool {
    let payload = if legacy {
        if !is_legacy(records) {
            return false;
        }
        match up_convert(&Bytes::copy_from_slice(records), INFLATE_LIMIT) {
            Ok(up) => up.batch,
            Err(_) => return false,
        }
    } else {
        BytesMut::from(records)
    };
    let stored = payload.clone().freeze();
    let p = &partitions()[partition % 4];
    let Ok(validated) = p.validate(payload, AppendOrigin::Client, NOW_MS) else {
        return false;
    };
    // What the broker does with a stored batch when it must open it (ListOffsets by time, the
    // cleaner, the keyed check) goes through one bounded inflate: records::decode_batch.
    for b in validated.batches() {
        let _ = all_records_keyed(&stored[b.position..b.position + b.size], INFLATE_LIMIT);
    }
    for magic in [0, 1] {
        let _ = down_convert(
            &stored,
            magic,
            0,
            DOWN_CONVERT_MAX_BYTES,
            INFLATE_LIMIT,
            &|_| false,
        );
    }
    true
}

/// Recompute the CRC of every whole v2 batch (CRC-32C) and v0/v1 message (CRC-32) at the top
/// level of `buf`, stopping at the first entry that is not one.
pub fn fix_crcs(buf: &mut [u8]) {
    let mut pos = 0usize;
    while buf.len() - pos > 16 {
        let length = i32::from_be_bytes(buf[pos + 8..pos + 12].try_into().unwrap());
        let Some(size) = usize::try_from(length)
            .ok()
            .and_then(|l| l.checked_add(12))
            .filter(|&s| s <= buf.len() - pos)
        else {
            return;
        };
        if size <= 16 {
            return;
        }
        let entry = &mut buf[pos..pos + size];
        match entry[16] {
            2 if size >= 61 => {
                let crc = crc32c::crc32c(&entry[21..]);
                entry[17..21].copy_from_slice(&crc.to_be_bytes());
            }
            0 | 1 => {
                let crc = crc32fast::hash(&entry[16..]);
                entry[12..16].copy_from_slice(&crc.to_be_bytes());
            }
            _ => return,
        }
        pos += size;
    }
}
