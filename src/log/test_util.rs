//! Test helpers: build real v2 batches with kafka-protocol's encoder.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// One batch with records `(timestamp, value)` at offsets 0.., no producer id.
pub fn batch_bytes(recs: &[(i64, &str)], compression: Compression) -> Vec<u8> {
    batch_bytes_with(recs, compression, -1, -1, -1, false, false)
}

/// One batch with explicit producer fields and flags.
pub fn batch_bytes_with(
    recs: &[(i64, &str)],
    compression: Compression,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
) -> Vec<u8> {
    let records: Vec<Record> = recs
        .iter()
        .enumerate()
        .map(|(i, (ts, v))| Record {
            transactional,
            control,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: base_sequence.wrapping_add(i as i32),
            timestamp: *ts,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.to_vec()
}

/// Decode every batch in `data`: `(offset, timestamp, value)` of every record.
pub fn decode_values(data: &[u8]) -> Vec<(i64, i64, String)> {
    let mut b = Bytes::copy_from_slice(data);
    RecordBatchDecoder::decode_all(&mut b)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| {
            let v = r
                .value
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default();
            (r.offset, r.timestamp, v)
        })
        .collect()
}

/// One batch of keyed records `(key, value, timestamp)` at offsets 0.. (None = null).
/// Producer fields as given (sequence numbers start at `base_sequence`).
pub fn keyed_batch_with(
    recs: &[(Option<&str>, Option<&str>, i64)],
    compression: Compression,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
) -> Vec<u8> {
    let records: Vec<Record> = recs
        .iter()
        .enumerate()
        .map(|(i, (k, v, ts))| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // what a decoder reports: baseSequence + offset delta (-1 + i without a producer)
            sequence: base_sequence.wrapping_add(i as i32),
            timestamp: *ts,
            key: k.map(|k| Bytes::from(k.to_string())),
            value: v.map(|v| Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    encode(&records, compression)
}

/// [`keyed_batch_with`] without a producer id.
pub fn keyed_batch(
    recs: &[(Option<&str>, Option<&str>, i64)],
    compression: Compression,
) -> Vec<u8> {
    keyed_batch_with(recs, compression, -1, -1, -1, false)
}

/// A transaction marker (control batch) of `producer_id`: COMMIT if `commit`, else ABORT.
pub fn marker_batch(producer_id: i64, producer_epoch: i16, commit: bool, ts: i64) -> Vec<u8> {
    let rec = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: ts,
        key: Some(Bytes::from(vec![0, 0, 0, u8::from(commit)])),
        value: Some(Bytes::from(vec![0, 0, 0, 0, 0, 0])),
        headers: Default::default(),
    };
    encode(&[rec], Compression::None)
}

pub fn encode(records: &[Record], compression: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.to_vec()
}

/// A decoded record: `(offset, key, value, timestamp)`.
pub type KeyedRecord = (i64, Option<String>, Option<String>, i64);

/// Decode every non-control record in `data`.
pub fn decode_keyed(data: &[u8]) -> Vec<KeyedRecord> {
    let mut b = Bytes::copy_from_slice(data);
    let s = |v: Option<Bytes>| v.map(|v| String::from_utf8_lossy(&v).into_owned());
    RecordBatchDecoder::decode_all(&mut b)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .filter(|r| !r.control)
        .map(|r| (r.offset, s(r.key), s(r.value), r.timestamp))
        .collect()
}

/// Validate and append `payload` at `now_ms` (leader epoch 0).
pub fn append_payload(
    log: &mut crate::log::PartitionLog,
    payload: &[u8],
    now_ms: i64,
) -> crate::log::AppendResult {
    let p = payload.to_vec();
    let infos = crate::log::validate_batches(&p, 1 << 20).unwrap();
    log.append(&p, &infos, 0, now_ms).unwrap()
}

/// Sorted file names in `dir`.
pub fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// A small tmpfs mounted for one test (a real full disk), unmounted when dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mount a tmpfs with `options` (e.g. `"size=1m"`) on a new temp dir; None, with a note on
    /// stderr, where mounting is not permitted (not root, or in a container without the
    /// capability), so the test can skip.
    pub fn mount(options: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs ({}); this test needs root",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount ({e}); this test needs root");
                None
            }
        }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Busy (a file still open): detach it, the kernel frees it once closed.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Every segment's offset and time index entries, oldest segment first.
pub type Indexes = Vec<(
    Vec<super::index::IndexEntry>,
    Vec<super::index::TimeIndexEntry>,
)>;

/// The in-memory index entries of every segment of `log` (to compare two logs' states).
pub fn segment_indexes(log: &super::PartitionLog) -> Indexes {
    log.segments()
        .iter()
        .map(|s| {
            (
                s.offset_index().entries().to_vec(),
                s.time_index().entries().to_vec(),
            )
        })
        .collect()
}
