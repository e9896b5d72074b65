use bytes::BytesMut;
use kafka_protocol::records::Compression;

use super::*;
use crate::log::test_util::{batch_bytes, batch_bytes_with, decode_values};

fn open(dir: &Path) -> Arc<Partition> {
    Partition::open("t", 0, dir, LogConfig::default(), 0).unwrap()
}

fn client_write(p: &Partition, bytes: Vec<u8>) -> Result<AppendOutcome, AppendError> {
    let v = p.validate(BytesMut::from(&bytes[..]), AppendOrigin::Client, 0)?;
    p.append(v, 0)
}

fn appended_at(o: AppendOutcome) -> i64 {
    match o {
        AppendOutcome::Appended(r) => r.base_offset,
        other => panic!("expected an append, got {other:?}"),
    }
}

/// Every kind of write reaches a fetch parked on the partition: a client batch, an idempotent
/// one, a transactional one and the marker that ends its transaction. (Internal-topic records
/// go through the same function; topics::internal's tests show them waking a fetch too.)
#[test]
fn every_write_wakes_parked_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    let mut parked = p.subscribe();
    assert!(!parked.has_changed().unwrap());

    client_write(&p, batch_bytes(&[(1, "a"), (2, "b")], Compression::None)).unwrap();
    assert!(parked.has_changed().unwrap(), "plain produce");
    assert_eq!(*parked.borrow_and_update(), 2);

    let idem = batch_bytes_with(&[(3, "c")], Compression::None, 7, 0, 0, false, false);
    client_write(&p, idem).unwrap();
    assert_eq!(*parked.borrow_and_update(), 3, "idempotent produce");

    let txn = batch_bytes_with(&[(4, "d")], Compression::None, 8, 0, 0, true, false);
    client_write(&p, txn).unwrap();
    assert_eq!(*parked.borrow_and_update(), 4, "transactional produce");
    assert_eq!(
        p.offsets().last_stable_offset,
        3,
        "the open transaction holds the LSO"
    );

    let marker = p.write_marker(8, 0, Marker::Commit, 0, 5).unwrap();
    assert_eq!(marker, 4);
    assert!(parked.has_changed().unwrap(), "marker");
    assert_eq!(*parked.borrow_and_update(), 5);
    assert_eq!(p.offsets().last_stable_offset, 5);
}

#[test]
fn a_retried_idempotent_batch_is_acknowledged_with_its_first_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    let b = batch_bytes_with(
        &[(1, "a"), (1, "b")],
        Compression::None,
        3,
        0,
        0,
        false,
        false,
    );
    assert_eq!(appended_at(client_write(&p, b.clone()).unwrap()), 0);
    let mut parked = p.subscribe();
    assert_eq!(
        client_write(&p, b).unwrap(),
        AppendOutcome::Duplicate {
            base_offset: 0,
            log_start_offset: 0
        }
    );
    assert!(
        !parked.has_changed().unwrap(),
        "nothing written, nobody woken"
    );
    let gap = batch_bytes_with(&[(1, "c")], Compression::None, 3, 0, 5, false, false);
    assert!(matches!(
        client_write(&p, gap),
        Err(AppendError::Producer(
            ProducerStateError::OutOfOrderSequence { .. }
        ))
    ));
    assert_eq!(p.offsets().log_end_offset, 2);
    let _ = parked.borrow_and_update();
}

#[test]
fn clients_may_not_write_markers_but_the_coordinator_may() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    let marker = control::control_batch(9, 0, Marker::Abort, 0, 0);
    assert!(matches!(
        p.validate(marker.clone(), AppendOrigin::Client, 0),
        Err(AppendError::InvalidRecord(_))
    ));
    let two = [
        batch_bytes_with(&[(1, "a")], Compression::None, 3, 0, 0, false, false),
        batch_bytes_with(&[(1, "b")], Compression::None, 3, 0, 1, false, false),
    ]
    .concat();
    let v = p
        .validate(BytesMut::from(&two[..]), AppendOrigin::Client, 0)
        .unwrap();
    assert!(matches!(p.append(v, 0), Err(AppendError::InvalidRecord(_))));
    let v = p.validate(marker, AppendOrigin::Coordinator, 0).unwrap();
    assert_eq!(appended_at(p.append(v, 0).unwrap()), 0);
    assert_eq!(p.offsets().log_end_offset, 1);
}

/// An aborted transaction is reported to read_committed readers and survives a reopen, from the
/// transaction index and the log alone.
#[test]
fn aborted_transactions_reach_read_committed_readers_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let p = open(dir.path());
        client_write(&p, batch_bytes(&[(1, "plain")], Compression::None)).unwrap();
        let txn = batch_bytes_with(
            &[(2, "x"), (2, "y")],
            Compression::None,
            5,
            0,
            0,
            true,
            false,
        );
        client_write(&p, txn).unwrap();
        let r = p.read(0, 1 << 20, true, true);
        assert_eq!(r.offsets.last_stable_offset, 1);
        assert_eq!(
            decode_values(&r.slices.unwrap()[0].read().unwrap()).len(),
            1,
            "read_committed stops at the open transaction"
        );
        p.write_marker(5, 0, Marker::Abort, 0, 3).unwrap();
    }
    let p = open(dir.path());
    let o = p.offsets();
    assert_eq!((o.log_end_offset, o.last_stable_offset), (4, 4));
    let r = p.read(0, 1 << 20, true, true);
    assert_eq!(
        r.aborted,
        vec![AbortedTxn {
            producer_id: 5,
            first_offset: 1,
            last_offset: 3
        }]
    );
    assert!(matches!(
        p.read(5, 100, true, false).slices,
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

/// Kafka's LogValidator: a compacted topic refuses a client's record without a key, whatever
/// else the batch holds; the coordinator's own records are not checked.
#[test]
fn a_compacted_log_refuses_records_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        compact: true,
        ..LogConfig::default()
    };
    let p = Partition::open("t", 0, dir.path(), config, 0).unwrap();
    let keyed = batch_bytes(&[(1, "a"), (2, "b")], Compression::Gzip);
    client_write(&p, keyed).unwrap();
    let keyless = crate::log::test_util::keyed_batch(
        &[(Some("k"), Some("keyed"), 3), (None, Some("no key"), 3)],
        Compression::None,
    );
    assert!(matches!(
        client_write(&p, keyless.clone()),
        Err(AppendError::InvalidRecord(m)) if m.contains("without key")
    ));
    assert_eq!(p.offsets().log_end_offset, 2, "nothing written");
    let v = p
        .validate(BytesMut::from(&keyless[..]), AppendOrigin::Coordinator, 0)
        .unwrap();
    p.append(v, 0).unwrap();
}
