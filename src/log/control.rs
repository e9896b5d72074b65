//! Control batches (KIP-98): the transaction markers that end a producer's transaction on a
//! partition. A marker batch is transactional and control, carries the producer id and epoch, and
//! one record whose key is (version 0, type: 0 ABORT / 1 COMMIT) and whose value is (version 0,
//! coordinator epoch).

use bytes::{BufMut, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::batch::BatchHeader;
use super::records::decode_batch;

/// The most a control batch may inflate to when its marker is read.
const MARKER_INFLATE_LIMIT: usize = 64 * 1024;

/// Control record type of an ABORT marker (the key's second i16).
pub const ABORT: i16 = 0;
/// Control record type of a COMMIT marker.
pub const COMMIT: i16 = 1;

/// Which way a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Commit,
    Abort,
}

impl Marker {
    pub fn is_commit(self) -> bool {
        self == Marker::Commit
    }
}

/// A marker batch (offset 0; the log assigns the real one).
pub fn control_batch(
    producer_id: i64,
    producer_epoch: i16,
    marker: Marker,
    coordinator_epoch: i32,
    now_ms: i64,
) -> BytesMut {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(match marker {
        Marker::Commit => COMMIT,
        Marker::Abort => ABORT,
    });
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

/// The marker a control record key stands for; None for other control records.
pub fn marker_type(key: &[u8]) -> Option<Marker> {
    if key.len() < 4 {
        return None;
    }
    // key: version (i16), type (i16)
    match i16::from_be_bytes([key[2], key[3]]) {
        COMMIT => Some(Marker::Commit),
        ABORT => Some(Marker::Abort),
        _ => None,
    }
}

/// The marker of a whole control batch (`data`: the batch's bytes, header included, CRC already
/// checked); None if it is not a control batch or not a transaction marker.
pub fn batch_marker(h: &BatchHeader, data: &[u8]) -> Option<Marker> {
    if !h.is_control() {
        return None;
    }
    // A marker is one small record: a control batch that claims more is not one.
    let batch = decode_batch(h, data, MARKER_INFLATE_LIMIT).ok()?;
    marker_type(batch.key(batch.records.first()?)?)
}

/// The marker of the first batch in `data` (a read starting at that batch).
pub fn first_batch_marker(data: &[u8]) -> Option<Marker> {
    let h = BatchHeader::parse(data)?;
    let end = usize::try_from(h.size())
        .ok()
        .filter(|&e| e <= data.len())?;
    batch_marker(&h, &data[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;

    #[test]
    fn markers_are_transactional_control_batches() {
        for marker in [Marker::Commit, Marker::Abort] {
            let b = control_batch(42, 3, marker, 0, 1000);
            let infos = crate::log::validate_batches(&b, usize::MAX).unwrap();
            assert_eq!(infos.len(), 1);
            let i = &infos[0];
            assert!(i.is_control && i.is_transactional);
            assert_eq!(
                (i.producer_id, i.producer_epoch, i.records_count),
                (42, 3, 1)
            );
            assert_eq!(first_batch_marker(&b), Some(marker));
            let mut data = b.freeze();
            let r = RecordBatchDecoder::decode_all(&mut data).unwrap()[0].records[0].clone();
            assert_eq!(marker_type(r.key.as_ref().unwrap()), Some(marker));
        }
    }
}
