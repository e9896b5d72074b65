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
