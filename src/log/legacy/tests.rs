//! Fixtures: message sets written by kafka-python 2.2.15's LegacyRecordBatchBuilder (the
//! encoder kafka-python uses with api_version < 0.11), three messages each:
//! (ts 1000, key "k1", value "v1"), (1001, null key, "v2"), (1002, "k3", null value).

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::*;
use crate::log::batch::validate_batches;

const V0_PLAIN: &str = "00000000000000000000001257e7496e0000000000026b31000000027631000000000000000100000010d5960a780000ffffffff000000027632000000000000000200000010b643ca6a0000000000026b33ffffffff";
const V1_PLAIN: &str = "00000000000000000000001ab1a6ec76010000000000000003e8000000026b31000000027631000000000000000100000018ef17230e010000000000000003e9ffffffff0000000276320000000000000002000000181520851d010000000000000003ea000000026b33ffffffff";
const V1_GZIP: &str = "0000000000000000000000622746aa2a01010000000000000000ffffffff0000004c1f8b0800f5e00e6b02ff63608003a98dcbde94314239cc2f800453b621882c33840a822425de8b2bf3c155bdfc0f04603546502126901a51855659b89a5760938c412a014842430f6e000000";
const V1_SNAPPY: &str = "00000000000000000000007ba64d4bd701020000000000000000ffffffff0000006582534e41505059000000000100000001000000516e00001901141ab1a6ec76010d101c03e8000000026b310106007601060101011d1018ef17230e010901011403e9ffffffff052400320110010a1c000000181520851d152428ea000000026b33ffffffff";
const V1_LZ4: &str = "000000000000000000000081aef445ff01030000000000000000ffffffff0000006b04224d1868406e00000000000000155400000016000100631ab1a6ec760110008003e8000000026b31060010760600000200001d005018ef17230e09000002006103e9ffffffff240010321000000a0085000000181520851d2400b0ea000000026b33ffffffff00000000";
const V0_LZ4: &str = "000000000000000000000062e8fb91c20003ffffffff0000005404224d1860401a4500000016000100511257e7496e0f0080026b3100000002760600000200f1000100000010d5960a780000ffffffff1c0010321900000a00001c0042b643ca6a0e00606b33ffffffff00000000";
const V0_GZIP: &str = "000000000000000000000052a6fbd57c0001ffffffff000000441f8b0800f9e00e6b02ff63608003a1f0e79e79601653b621882c3384ca3002b1c0d5695c150c0cff81002c6704956302c96d733e9505d5690c5201008465e89056000000";
const V0_SNAPPY: &str = "000000000000000000000067bf2b78520002ffffffff0000005982534e41505059000000000100000001000000455600001901101257e7496e050f1c026b31000000027601060101380100000010d5960a780000ffffffff051c00320119010a011c3cb643ca6a0000000000026b33ffffffff";

fn hex(s: &str) -> Bytes {
    Bytes::from(
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>(),
    )
}

type Row = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// (offset, timestamp, key, value) of every record of v2 batches.
fn records_of(batch: &[u8]) -> Vec<Row> {
    let mut b = Bytes::copy_from_slice(batch);
    RecordBatchDecoder::decode_all(&mut b)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.records)
        .map(|r| {
            (
                r.offset,
                r.timestamp,
                r.key.map(|k| k.to_vec()),
                r.value.map(|v| v.to_vec()),
            )
        })
        .collect()
}

fn expected(timestamps: bool) -> Vec<Row> {
    let ts = |t: i64| if timestamps { t } else { -1 };
    vec![
        (0, ts(1000), Some(b"k1".to_vec()), Some(b"v1".to_vec())),
        (1, ts(1001), None, Some(b"v2".to_vec())),
        (2, ts(1002), Some(b"k3".to_vec()), None),
    ]
}

#[test]
fn every_old_format_and_codec_up_converts_to_one_v2_batch() {
    for (name, fixture, magic, codec) in [
        ("v0", V0_PLAIN, 0, 0),
        ("v0 gzip", V0_GZIP, 0, 1),
        ("v0 snappy", V0_SNAPPY, 0, 2),
        ("v0 lz4 (KAFKA-1493 header)", V0_LZ4, 0, 3),
        ("v1", V1_PLAIN, 1, 0),
        ("v1 gzip", V1_GZIP, 1, 1),
        ("v1 snappy", V1_SNAPPY, 1, 2),
        ("v1 lz4", V1_LZ4, 1, 3),
    ] {
        let data = hex(fixture);
        assert!(is_legacy(&data), "{name}");
        let up = up_convert(&data, 1 << 20).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((up.magic, up.records), (magic, 3), "{name}");
        let infos = validate_batches(&up.batch, usize::MAX).unwrap();
        assert_eq!(infos.len(), 1, "{name}: one batch");
        assert_eq!(
            infos[0].compression, codec,
            "{name}: the producer's codec is kept"
        );
        assert_eq!(infos[0].producer_id, -1);
        assert_eq!(records_of(&up.batch), expected(magic == 1), "{name}");
    }
}

#[test]
fn v2_batches_are_not_legacy() {
    let data = hex(V1_PLAIN);
    let up = up_convert(&data, 1 << 20).unwrap();
    assert!(!is_legacy(&up.batch));
}

#[test]
fn a_bad_crc_is_a_corrupt_message_and_nothing_is_converted() {
    for fixture in [V0_PLAIN, V1_GZIP] {
        let mut data = hex(fixture).to_vec();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        assert!(matches!(
            up_convert(&Bytes::from(data), 1 << 20),
            Err(LogError::CorruptMessage(_))
        ));
    }
}

#[test]
fn truncated_and_malformed_sets_are_refused() {
    let data = hex(V1_PLAIN);
    for cut in [1, 11, 12, 20, data.len() - 1] {
        assert!(
            up_convert(&data.slice(..cut), 1 << 20).is_err(),
            "cut at {cut}"
        );
    }
    // A size field pointing past the end.
    let mut bad = data.to_vec();
    bad[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(up_convert(&Bytes::from(bad), 1 << 20).is_err());
    assert!(up_convert(&Bytes::new(), 1 << 20).is_err());
}

/// A wrapper that inflates past the limit is refused without inflating it all: 64 MiB of zeros
/// gzip to ~64 KiB; with a 1 MiB limit nothing beyond 1 MiB + 1 byte is ever allocated.
#[test]
fn a_compression_bomb_is_refused_at_the_limit() {
    use std::io::Write;
    let zeros = vec![0u8; 1 << 20];
    let mut inner = Vec::new();
    for i in 0..64 {
        put_message(&mut inner, 1, i, Some((5, false)), None, Some(&zeros));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&inner).unwrap();
    let compressed = gz.finish().unwrap();
    assert!(compressed.len() < 1 << 20);
    let mut wrapper = Vec::new();
    put_message(
        &mut wrapper,
        1,
        63,
        Some((5, false)),
        None,
        Some(&compressed),
    );
    // Mark it gzip-compressed and fix its CRC.
    wrapper[LOG_OVERHEAD + 5] = 1;
    let crc = crc32fast::hash(&wrapper[LOG_OVERHEAD + 4..]);
    wrapper[LOG_OVERHEAD..LOG_OVERHEAD + 4].copy_from_slice(&crc.to_be_bytes());
    let err = up_convert(&Bytes::from(wrapper), 1 << 20).unwrap_err();
    assert!(
        matches!(&err, LogError::InvalidRecord(m) if m.contains("inflates past")),
        "{err}"
    );
}

#[test]
fn nested_compression_is_refused() {
    let inner = hex(V1_GZIP);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &inner).unwrap();
    let mut wrapper = Vec::new();
    put_message(
        &mut wrapper,
        1,
        0,
        Some((5, false)),
        None,
        Some(&gz.finish().unwrap()),
    );
    wrapper[LOG_OVERHEAD + 5] = 1;
    let crc = crc32fast::hash(&wrapper[LOG_OVERHEAD + 4..]);
    wrapper[LOG_OVERHEAD..LOG_OVERHEAD + 4].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        up_convert(&Bytes::from(wrapper), 1 << 20),
        Err(LogError::InvalidRecord(_))
    ));
}

/// Down-conversion writes exactly what kafka-python writes for the same messages (its v0 and
/// v1 fixtures above, which carry offsets 0, 1, 2).
#[test]
fn down_conversion_is_byte_exact_with_an_old_producers_encoding() {
    let v2 = up_convert(&hex(V1_PLAIN), 1 << 20).unwrap().batch;
    for (magic, fixture) in [(0, V0_PLAIN), (1, V1_PLAIN)] {
        let down = down_convert(&v2, magic, 0, usize::MAX, usize::MAX, &|_| false).unwrap();
        assert_eq!(down.count, 3);
        assert_eq!(down.messages, hex(fixture).to_vec(), "magic {magic}");
    }
}

#[test]
fn down_conversion_skips_control_batches_skipped_batches_and_earlier_offsets() {
    use crate::log::control::{Marker, control_batch};
    let mut data = up_convert(&hex(V1_PLAIN), 1 << 20).unwrap().batch.to_vec();
    let mut marker = control_batch(7, 0, Marker::Commit, 0, 5).to_vec();
    marker[0..8].copy_from_slice(&3i64.to_be_bytes()); // its stored offset
    data.extend_from_slice(&marker);
    let down = down_convert(&data, 1, 1, usize::MAX, usize::MAX, &|_| false).unwrap();
    assert_eq!(down.count, 2, "offsets 1 and 2; the marker is not shown");
    let again = up_convert(&Bytes::from(down.messages), 1 << 20).unwrap();
    assert_eq!(records_of(&again.batch)[0].3.as_deref(), Some(&b"v2"[..]));
    let none = down_convert(&data, 1, 0, usize::MAX, usize::MAX, &|h| h.base_offset == 0).unwrap();
    assert_eq!(none.count, 0, "a skipped (aborted) batch shows nothing");
}

#[test]
fn down_conversion_stops_at_max_bytes_but_always_gives_one_message() {
    let v2 = up_convert(&hex(V1_PLAIN), 1 << 20).unwrap().batch;
    let one = down_convert(&v2, 1, 0, 1, usize::MAX, &|_| false).unwrap();
    assert_eq!(one.count, 1);
    let two = down_convert(&v2, 1, 0, 2 * 38 + 1, usize::MAX, &|_| false).unwrap();
    assert_eq!((two.count, two.messages.len()), (2, 38 + 36));
}

/// Fuzzing finding (fuzz/, records target): two v1 messages timestamped i64::MAX and i64::MIN.
/// Up-conversion stores the second as a delta of 1 (wrapping, as Java does) from a base of
/// i64::MAX; decoding it again (ListOffsets by timestamp reads stored batches with
/// kafka-protocol's RecordBatchDecoder) added base and delta with `+`, which panics on
/// overflow in a debug build. The vendored kafka-protocol now adds with wrapping.
const V1_TIMESTAMPS_AT_BOTH_ENDS: &[u8] = b"\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x17\x4b\xa5\xbe\x3e\x01\x00\x7f\xff\xff\xff\xff\xff\
\xff\xff\xff\xff\xff\xff\x00\x00\x00\x01\x61\
\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x17\x14\x37\x58\xbb\x01\x00\x80\x00\x00\x00\x00\x00\
\x00\x00\xff\xff\xff\xff\x00\x00\x00\x01\x62";

#[test]
fn timestamps_at_both_ends_of_i64_round_trip_through_up_conversion() {
    let up = up_convert(&Bytes::from_static(V1_TIMESTAMPS_AT_BOTH_ENDS), 1 << 20).unwrap();
    assert_eq!(up.records, 2);
    let rows = records_of(&up.batch);
    let timestamps: Vec<i64> = rows.iter().map(|r| r.1).collect();
    assert_eq!(timestamps, vec![i64::MAX, i64::MIN]);
    assert_eq!(rows[1].3.as_deref(), Some(&b"b"[..]));
}
