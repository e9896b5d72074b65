//! Transaction markers: the control batches (KIP-98) that end a producer's
//! transaction on a partition. A marker batch is transactional and control,
//! carries the producer id and epoch, and one record whose key is
//! (version 0, type: 0 ABORT / 1 COMMIT) and value (version 0, coordinator epoch).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::log::PartitionLog;

pub const ABORT: i16 = 0;
pub const COMMIT: i16 = 1;

pub fn control_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    now_ms: i64,
) -> BytesMut {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(if commit { COMMIT } else { ABORT });
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(coordinator_epoch);
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now_ms,
        key: Some(key.freeze()),
        value: Some(value.freeze()),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        std::iter::once(&record),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("a control batch always encodes");
    buf
}

/// The type of a control record key: Some(true) COMMIT, Some(false) ABORT.
pub fn marker_type(key: &Bytes) -> Option<bool> {
    let mut k = key.clone();
    if k.remaining() < 4 {
        return None;
    }
    let _version = k.get_i16();
    match k.get_i16() {
        COMMIT => Some(true),
        ABORT => Some(false),
        _ => None,
    }
}

/// Read the marker at `offset` of a log (start-up recovery only).
pub fn read_marker_type(log: &PartitionLog, offset: i64) -> Option<bool> {
    let mut data = log.read(offset, 4096, true).ok()?;
    let sets = RecordBatchDecoder::decode_all(&mut data).ok()?;
    let r = sets.into_iter().flat_map(|s| s.records).next()?;
    if !r.control {
        return None;
    }
    marker_type(r.key.as_ref()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_transactional_control_batches() {
        for commit in [true, false] {
            let b = control_batch(42, 3, commit, 0, 1000);
            let infos = crate::log::validate_batches(&b, usize::MAX).unwrap();
            assert_eq!(infos.len(), 1);
            let i = &infos[0];
            assert!(i.is_control && i.is_transactional);
            assert_eq!(
                (i.producer_id, i.producer_epoch, i.records_count),
                (42, 3, 1)
            );
            let mut data = b.freeze();
            let r = RecordBatchDecoder::decode_all(&mut data).unwrap()[0].records[0].clone();
            assert_eq!(marker_type(r.key.as_ref().unwrap()), Some(commit));
        }
    }
}
