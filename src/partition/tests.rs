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
    assert_eq!(parked.borrow_and_update().log_end_offset, 2);

    let idem = batch_bytes_with(&[(3, "c")], Compression::None, 7, 0, 0, false, false);
    client_write(&p, idem).unwrap();
    assert_eq!(
        parked.borrow_and_update().log_end_offset,
        3,
        "idempotent produce"
    );

    let txn = batch_bytes_with(&[(4, "d")], Compression::None, 8, 0, 0, true, false);
    client_write(&p, txn).unwrap();
    assert_eq!(
        parked.borrow_and_update().log_end_offset,
        4,
        "transactional produce"
    );
    assert_eq!(
        p.offsets().last_stable_offset,
        3,
        "the open transaction holds the LSO"
    );

    let marker = p.write_marker(8, 0, Marker::Commit, 0, 5).unwrap();
    assert_eq!(marker, 4);
    assert!(parked.has_changed().unwrap(), "marker");
    assert_eq!(parked.borrow_and_update().log_end_offset, 5);
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
        let r = p.read(0, 1 << 20, true, Isolation::Committed);
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
    let r = p.read(0, 1 << 20, true, Isolation::Committed);
    assert_eq!(
        r.aborted,
        vec![AbortedTxn {
            producer_id: 5,
            first_offset: 1,
            last_offset: 3
        }]
    );
    assert!(matches!(
        p.read(5, 100, true, Isolation::HighWatermark).slices,
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

fn idempotent(producer_id: i64, seq: i32, value: &str) -> Vec<u8> {
    batch_bytes_with(
        &[(1, value)],
        Compression::None,
        producer_id,
        0,
        seq,
        false,
        false,
    )
}

fn transactional(producer_id: i64, seq: i32, value: &str) -> Vec<u8> {
    batch_bytes_with(
        &[(1, value)],
        Compression::None,
        producer_id,
        0,
        seq,
        true,
        false,
    )
}

/// After a truncation an idempotent producer's sequence goes on from what is left: the cut
/// batches can be written again (the leader's copies arrive), earlier ones are still duplicates.
#[test]
fn an_idempotent_producer_continues_after_a_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    for seq in 0..5 {
        let at = appended_at(client_write(&p, idempotent(7, seq, &format!("v{seq}"))).unwrap());
        assert_eq!(at, i64::from(seq));
    }
    assert_eq!(p.truncate_to(3).unwrap(), 3);
    assert_eq!(p.offsets().log_end_offset, 3);
    assert_eq!(p.active_producers()[0].last_sequence, 2);
    assert!(matches!(
        client_write(&p, idempotent(7, 4, "v4")),
        Err(AppendError::Producer(
            ProducerStateError::OutOfOrderSequence { expected: 3, .. }
        ))
    ));
    assert_eq!(
        client_write(&p, idempotent(7, 1, "v1")).unwrap(),
        AppendOutcome::Duplicate {
            base_offset: 1,
            log_start_offset: 0
        }
    );
    assert_eq!(
        appended_at(client_write(&p, idempotent(7, 3, "v3")).unwrap()),
        3
    );
    // A reopen rebuilds the same state from the log.
    drop(p);
    let p = open(dir.path());
    assert_eq!(p.active_producers()[0].last_sequence, 3);
    assert_eq!(
        appended_at(client_write(&p, idempotent(7, 4, "v4")).unwrap()),
        4
    );
}

/// Producers whose newest batches lie in older segments than the one cut keep their state
/// (a rebuild from the active segment alone would forget them).
#[test]
fn producers_of_older_segments_keep_their_state_across_a_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 400,
        ..LogConfig::default()
    };
    let p = Partition::open("t", 0, dir.path(), config, 0).unwrap();
    client_write(&p, idempotent(1, 0, "old")).unwrap();
    for i in 0..20 {
        client_write(
            &p,
            batch_bytes(&[(1, &format!("filler-{i}"))], Compression::None),
        )
        .unwrap();
    }
    client_write(&p, idempotent(2, 0, "new")).unwrap();
    let end = p.offsets().log_end_offset;
    assert_eq!(p.truncate_to(end - 1).unwrap(), end - 1);
    let producers: Vec<i64> = p.active_producers().iter().map(|a| a.producer_id).collect();
    assert_eq!(producers, vec![1], "producer 2's only batch was cut");
    assert_eq!(
        client_write(&p, idempotent(1, 0, "old")).unwrap(),
        AppendOutcome::Duplicate {
            base_offset: 0,
            log_start_offset: 0
        }
    );
}

/// An open transaction whose batches are truncated away no longer holds the last stable offset.
#[test]
fn an_open_transaction_truncated_away_releases_the_last_stable_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    client_write(&p, batch_bytes(&[(1, "plain")], Compression::None)).unwrap();
    client_write(&p, transactional(5, 0, "x")).unwrap();
    client_write(&p, transactional(5, 1, "y")).unwrap();
    assert_eq!(p.offsets().last_stable_offset, 1);
    assert_eq!(p.truncate_to(1).unwrap(), 1);
    let o = p.offsets();
    assert_eq!((o.log_end_offset, o.last_stable_offset), (1, 1));
    assert!(p.active_producers().is_empty());
    // The transaction index was cut too: a reopen agrees.
    drop(p);
    let p = open(dir.path());
    let o = p.offsets();
    assert_eq!((o.log_end_offset, o.last_stable_offset), (1, 1));
    // A new transaction of the same producer starts cleanly.
    client_write(&p, transactional(5, 0, "z")).unwrap();
    assert_eq!(p.offsets().last_stable_offset, 1);
}

/// A transaction whose marker is cut is open again (the leader's marker will come back); an
/// aborted range whose ABORT marker is cut is forgotten.
#[test]
fn a_truncated_marker_reopens_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    client_write(&p, transactional(5, 0, "committed")).unwrap();
    assert_eq!(p.write_marker(5, 0, Marker::Commit, 0, 1).unwrap(), 1);
    client_write(&p, transactional(6, 0, "aborted")).unwrap();
    assert_eq!(p.write_marker(6, 0, Marker::Abort, 0, 1).unwrap(), 3);
    assert_eq!(p.offsets().last_stable_offset, 4);
    assert_eq!(p.aborted_transactions(0, 4).len(), 1);
    // Cut the ABORT marker: transaction 6 is open from offset 2.
    assert_eq!(p.truncate_to(3).unwrap(), 3);
    assert_eq!(p.offsets().last_stable_offset, 2);
    assert!(p.aborted_transactions(0, 4).is_empty());
    // Cut the COMMIT marker too: transaction 5 is open from offset 0.
    assert_eq!(p.truncate_to(1).unwrap(), 1);
    assert_eq!(p.offsets().last_stable_offset, 0);
    let r = p.read(0, 1 << 20, true, Isolation::Committed);
    assert!(r.slices.unwrap().is_empty(), "read_committed sees nothing");
    // The marker arrives again.
    assert_eq!(p.write_marker(5, 0, Marker::Commit, 0, 2).unwrap(), 1);
    assert_eq!(p.offsets().last_stable_offset, 2);
    drop(p);
    let p = open(dir.path());
    assert_eq!(p.offsets().last_stable_offset, 2);
}

/// The leader epochs of a partition's writes, what OffsetForLeaderEpoch will answer, and a
/// truncation waking parked fetches with the new log end.
#[test]
fn end_offsets_of_epochs_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    assert_eq!(p.end_offset_for_epoch(0), (-1, -1), "no data, no epoch");
    client_write(&p, batch_bytes(&[(1, "a"), (1, "b")], Compression::None)).unwrap();
    assert_eq!(
        p.end_offset_for_epoch(0),
        (0, 2),
        "the single broker's epoch 0"
    );
    p.set_leader_epoch(3);
    client_write(&p, batch_bytes(&[(1, "c")], Compression::None)).unwrap();
    p.set_leader_epoch(5);
    client_write(&p, batch_bytes(&[(1, "d"), (1, "e")], Compression::None)).unwrap();
    assert_eq!(p.end_offset_for_epoch(0), (0, 2));
    assert_eq!(p.end_offset_for_epoch(2), (0, 2));
    assert_eq!(p.end_offset_for_epoch(3), (3, 3));
    assert_eq!(p.end_offset_for_epoch(4), (3, 3));
    assert_eq!(p.end_offset_for_epoch(5), (5, 5));
    assert_eq!(p.end_offset_for_epoch(6), (-1, -1));
    let mut parked = p.subscribe();
    assert_eq!(p.truncate_to(7).unwrap(), 5, "beyond the log end: nothing");
    assert!(!parked.has_changed().unwrap());
    assert_eq!(p.truncate_to(3).unwrap(), 3);
    assert!(parked.has_changed().unwrap());
    assert_eq!(parked.borrow_and_update().log_end_offset, 3);
    assert_eq!(p.end_offset_for_epoch(5), (-1, -1));
    assert_eq!(p.end_offset_for_epoch(3), (3, 3));
    assert_eq!(p.end_offset_for_epoch(1), (0, 2));
    // A reopened partition stamps the epoch of its latest data until the cluster sets one.
    drop(p);
    let p = open(dir.path());
    assert_eq!(p.leader_epoch(), 3);
    assert_eq!(p.end_offset_for_epoch(3), (3, 3));
}

fn open_replica(dir: &Path) -> Arc<Partition> {
    Partition::open_replica("t", 0, dir, LogConfig::default(), 0, None).unwrap()
}

/// Everything from `offset` to the log end as bytes (what a follower's fetch carries).
fn fetched(p: &Partition, offset: i64) -> BytesMut {
    let r = p.read(offset, 1 << 20, true, Isolation::LogEnd);
    let mut out = BytesMut::new();
    for s in r.slices.unwrap() {
        out.extend_from_slice(&s.read().unwrap());
    }
    out
}

/// A leader's high watermark is the smallest log end over it and its ISR: consumers see
/// nothing above it, a follower's fetch sees everything, and it never moves back.
#[test]
fn leader_high_watermark_follows_the_isr() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_replica(dir.path());
    assert_eq!(p.role(), Role::Unassigned);
    p.become_leader(3, 0, &[2, 3], &[2, 3], 1000).unwrap();
    assert!(p.leads_at(3));
    client_write(
        &p,
        batch_bytes(&[(1, "a"), (2, "b"), (3, "c")], Compression::None),
    )
    .unwrap();
    let o = p.offsets();
    assert_eq!((o.log_end_offset, o.high_watermark), (3, 0));
    let consumer = p.read(0, 1 << 20, true, Isolation::HighWatermark);
    assert!(consumer.slices.unwrap().is_empty());
    assert!(!fetched(&p, 0).is_empty());

    // Follower 2 has everything, 3 has one record: the watermark is 1.
    p.record_follower_fetch(2, 3, 3, 1001).unwrap();
    assert_eq!(p.offsets().high_watermark, 0, "3 has not fetched yet");
    p.record_follower_fetch(3, 3, 1, 1002).unwrap();
    assert_eq!(p.offsets().high_watermark, 1);
    assert_eq!(p.replication_status(3), Some((1, 3)));
    p.record_follower_fetch(3, 3, 3, 1003).unwrap();
    assert_eq!(p.offsets().high_watermark, 3);
    // A fetch from an older position (a restarted follower) does not move it back.
    p.record_follower_fetch(3, 3, 0, 1004).unwrap();
    assert_eq!(p.offsets().high_watermark, 3);
    // The leader epoch of every stored batch is the leader's.
    assert_eq!(p.end_offset_for_epoch(3), (3, 3));
}

/// A follower's fetch is checked: its epoch against the leader's, and that it is a follower.
#[test]
fn follower_fetches_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_replica(dir.path());
    p.become_leader(5, 0, &[2], &[2], 0).unwrap();
    let err = |r: Result<FollowerFetch, ReplicaFetchError>| r.unwrap_err();
    assert_eq!(
        err(p.record_follower_fetch(2, 4, 0, 1)),
        ReplicaFetchError::FencedLeaderEpoch
    );
    assert_eq!(
        err(p.record_follower_fetch(2, 6, 0, 1)),
        ReplicaFetchError::UnknownLeaderEpoch
    );
    assert_eq!(
        err(p.record_follower_fetch(9, 5, 0, 1)),
        ReplicaFetchError::NotLeaderOrFollower
    );
    p.become_follower(2, 6);
    assert_eq!(
        err(p.record_follower_fetch(2, 6, 0, 1)),
        ReplicaFetchError::NotLeaderOrFollower
    );
    assert_eq!(p.replication_status(5), None);
}

/// A follower outside the ISR that catches up is proposed for it; one that falls behind
/// longer than the lag limit is proposed out.
#[test]
fn isr_changes_are_proposed() {
    let dir = tempfile::tempdir().unwrap();
    let p = open_replica(dir.path());
    p.become_leader(1, 4, &[2, 3], &[2], 0).unwrap();
    client_write(&p, batch_bytes(&[(1, "a")], Compression::None)).unwrap();
    p.record_follower_fetch(2, 1, 1, 9).unwrap();
    assert_eq!(p.offsets().high_watermark, 1);
    let seen = p.record_follower_fetch(3, 1, 0, 10).unwrap();
    assert_eq!(seen.expand_isr, None, "below the high watermark");
    let seen = p.record_follower_fetch(3, 1, 1, 11).unwrap();
    assert_eq!(
        seen.expand_isr,
        Some(IsrRequest {
            leader_epoch: 1,
            partition_epoch: 4,
            isr: vec![2, 3]
        })
    );
    // While the change is in flight nothing else is proposed.
    p.set_pending_isr(4, Some(vec![2, 3]));
    assert_eq!(
        p.record_follower_fetch(3, 1, 1, 12).unwrap().expand_isr,
        None
    );
    assert_eq!(p.isr_to_shrink(100_000, 30_000), None);
    // The controller committed it (partition epoch 5); 2 then stops fetching and lags.
    p.become_leader(1, 5, &[2, 3], &[2, 3], 13).unwrap();
    client_write(&p, batch_bytes(&[(2, "b")], Compression::None)).unwrap();
    p.record_follower_fetch(3, 1, 2, 20_000).unwrap();
    assert_eq!(p.isr_to_shrink(29_000, 30_000), None);
    assert_eq!(
        p.isr_to_shrink(30_010, 30_000),
        Some(IsrRequest {
            leader_epoch: 1,
            partition_epoch: 5,
            isr: vec![3]
        })
    );
}

/// A follower stores the leader's batches with their offsets and epochs, takes the leader's
/// watermark, and learns its producers: once it leads, a producer's retry is a duplicate.
#[test]
fn follower_copies_batches_and_producer_state() {
    let dir = tempfile::tempdir().unwrap();
    let leader = open_replica(&dir.path().join("leader"));
    let follower = open_replica(&dir.path().join("follower"));
    leader.become_leader(7, 0, &[2], &[2], 0).unwrap();
    follower.become_follower(1, 7);
    let idem = batch_bytes_with(
        &[(1, "x"), (2, "y")],
        Compression::None,
        42,
        0,
        0,
        false,
        false,
    );
    client_write(&leader, idem.clone()).unwrap();
    client_write(&leader, batch_bytes(&[(3, "z")], Compression::None)).unwrap();
    let bytes = fetched(&leader, 0);
    let stored = follower
        .append_as_follower(7, &bytes, 2, 0, 5)
        .unwrap()
        .unwrap();
    assert_eq!((stored.base_offset, stored.last_offset), (0, 2));
    assert_eq!(fetched(&follower, 0), bytes, "byte for byte the leader's");
    let o = follower.offsets();
    assert_eq!((o.log_end_offset, o.high_watermark), (3, 2));
    assert_eq!(follower.end_offset_for_epoch(7), (7, 3));
    // A fetch answer for an epoch it no longer follows at is dropped.
    assert!(
        follower
            .append_as_follower(6, &[], 3, 0, 6)
            .unwrap()
            .is_none()
    );
    // Failover: the follower leads at epoch 8; the producer retries its batch.
    follower.become_leader(8, 1, &[1], &[], 10).unwrap();
    match client_write(&follower, idem).unwrap() {
        AppendOutcome::Duplicate { base_offset, .. } => assert_eq!(base_offset, 0),
        other => panic!("expected the retry to be a duplicate, got {other:?}"),
    }
    // Its new epoch starts at its log end, before any batch of it.
    assert_eq!(follower.end_offset_for_epoch(7), (7, 3));
    assert_eq!(follower.end_offset_for_epoch(8), (8, 3));
    assert_eq!(follower.offsets().high_watermark, 3, "alone in the ISR");
}

/// A reassignment as the leader sees it, in one leader epoch: a replica added (the same epoch
/// again with it among the followers) may fetch and joins the ISR once it has the log; a
/// replica removed is refused; a leader that is no longer a replica stops leading.
#[test]
fn replicas_added_and_removed_in_the_same_leader_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::open_replica("t", 0, dir.path(), LogConfig::default(), 0, None).unwrap();
    p.become_leader(1, 0, &[2], &[2], 0).unwrap();
    client_write(&p, batch_bytes(&[(1, "a"), (1, "b")], Compression::None)).unwrap();
    p.record_follower_fetch(2, 1, 2, 1).unwrap();
    assert_eq!(p.offsets().high_watermark, 2);
    assert_eq!(
        p.record_follower_fetch(3, 1, 0, 1),
        Err(ReplicaFetchError::NotLeaderOrFollower),
        "not a replica yet"
    );

    // [1, 2] -> [2, 3, 1]: 3 is adding.
    p.become_leader(1, 1, &[2, 3], &[2], 2).unwrap();
    let behind = p.record_follower_fetch(3, 1, 0, 3).unwrap();
    assert_eq!(behind.expand_isr, None, "3 has nothing yet");
    assert_eq!(p.offsets().high_watermark, 2, "3 is not in the ISR");
    let caught_up = p.record_follower_fetch(3, 1, 2, 4).unwrap();
    assert_eq!(
        caught_up.expand_isr,
        Some(IsrRequest {
            leader_epoch: 1,
            partition_epoch: 1,
            isr: vec![2, 3],
        })
    );

    // Completed with this node still leading, 2 removed: its fetches are refused.
    p.become_leader(1, 2, &[3], &[3], 5).unwrap();
    assert_eq!(
        p.record_follower_fetch(2, 1, 2, 6),
        Err(ReplicaFetchError::NotLeaderOrFollower)
    );
    assert_eq!(p.replication_status(1), Some((2, 2)));
    // Moved off this node: it follows no one, and a write waiting for its ISR learns it.
    p.become_follower(-1, 2);
    assert_eq!(p.replication_status(1), None);
}

fn snapshot_offsets(dir: &Path) -> Vec<i64> {
    snapshot::list(dir).into_iter().map(|(o, _)| o).collect()
}

/// A producer whose batches lie in older segments is still deduplicated after a restart that
/// did not shut down cleanly (no shutdown snapshot): the snapshot of the last roll has it. With
/// every snapshot gone the whole log's headers are read, with the same result.
#[test]
fn producers_of_older_segments_are_deduplicated_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 400,
        ..LogConfig::default()
    };
    let p = Partition::open("t", 0, dir.path(), config.clone(), 0).unwrap();
    for seq in 0..3 {
        let at = appended_at(client_write(&p, idempotent(1, seq, "old")).unwrap());
        assert_eq!(at, i64::from(seq));
    }
    for i in 0..20 {
        client_write(
            &p,
            batch_bytes(&[(1, &format!("filler-{i}"))], Compression::None),
        )
        .unwrap();
    }
    let segments = p.state.lock().log.segments().len();
    assert!(segments >= 3, "{segments} segments");
    let snapshots = snapshot_offsets(dir.path());
    assert_eq!(snapshots.len(), snapshot::KEEP, "{snapshots:?}");
    let end = p.offsets().log_end_offset;
    assert_eq!(end, 23);
    drop(p); // as kill -9 would: no flush, no shutdown snapshot

    for pass in ["snapshot", "no snapshot"] {
        if pass == "no snapshot" {
            for (_, path) in snapshot::list(dir.path()) {
                std::fs::remove_file(path).unwrap();
            }
        }
        let p = Partition::open("t", 0, dir.path(), config.clone(), 0).unwrap();
        assert_eq!(
            client_write(&p, idempotent(1, 2, "old")).unwrap(),
            AppendOutcome::Duplicate {
                base_offset: 2,
                log_start_offset: 0
            },
            "{pass}"
        );
        assert!(
            matches!(
                client_write(&p, idempotent(1, 5, "gap")),
                Err(AppendError::Producer(
                    ProducerStateError::OutOfOrderSequence { expected: 3, .. }
                ))
            ),
            "{pass}"
        );
        assert_eq!(p.offsets().log_end_offset, end, "{pass}");
    }
}

/// A clean shutdown snapshots producer state at the log end; a truncation below a snapshot
/// deletes it.
#[test]
fn shutdown_snapshots_and_truncation_drops_what_it_cut() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    client_write(&p, batch_bytes(&[(1, "plain")], Compression::None)).unwrap();
    assert!(snapshot_offsets(dir.path()).is_empty(), "no roll yet");
    p.flush().unwrap();
    assert!(
        snapshot_offsets(dir.path()).is_empty(),
        "no producers: nothing to snapshot"
    );
    client_write(&p, idempotent(4, 0, "a")).unwrap();
    client_write(&p, idempotent(4, 1, "b")).unwrap();
    p.flush().unwrap();
    assert_eq!(snapshot_offsets(dir.path()), vec![3]);
    drop(p);
    let p = open(dir.path());
    assert_eq!(
        client_write(&p, idempotent(4, 1, "b")).unwrap(),
        AppendOutcome::Duplicate {
            base_offset: 2,
            log_start_offset: 0
        }
    );
    assert_eq!(p.truncate_to(2).unwrap(), 2);
    assert!(snapshot_offsets(dir.path()).is_empty());
    // Sequence 1 was cut: it is new data again.
    assert_eq!(
        appended_at(client_write(&p, idempotent(4, 1, "b")).unwrap()),
        2
    );
}

/// Fuzzing finding (fuzz/, records target): an old producer's message set timestamped
/// i64::MAX, then i64::MIN, up-converted and stored; looking an offset up by timestamp decodes
/// the stored batch, whose second record's timestamp (base i64::MAX + delta 1) overflowed in
/// kafka-protocol's decoder (a panic in a debug build). Kafka's arithmetic wraps, so does fjord's.
#[test]
fn a_lookup_by_timestamp_decodes_timestamps_at_both_ends_of_i64() {
    const V1_SET: &[u8] = b"\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x17\x4b\xa5\xbe\x3e\x01\x00\x7f\xff\xff\xff\xff\xff\
\xff\xff\xff\xff\xff\xff\x00\x00\x00\x01\x61\
\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x17\x14\x37\x58\xbb\x01\x00\x80\x00\x00\x00\x00\x00\
\x00\x00\xff\xff\xff\xff\x00\x00\x00\x01\x62";
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    let up = crate::log::legacy::up_convert(&bytes::Bytes::from_static(V1_SET), 1 << 20).unwrap();
    let v = p.validate(up.batch, AppendOrigin::Client, 0).unwrap();
    assert_eq!(appended_at(p.append(v, 0).unwrap()), 0);
    assert_eq!(p.offset_for_timestamp(0).unwrap(), Some((0, i64::MAX)));
    assert_eq!(p.max_timestamp_offset().unwrap(), Some((0, i64::MAX)));
}
