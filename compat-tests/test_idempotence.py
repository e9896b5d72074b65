"""Idempotent produce at the protocol level: duplicates and sequence gaps."""
import wire


def test_duplicate_batch_is_acknowledged_once_and_gap_rejected(broker):
    wire.create_topic(broker.port, "idem-raw")
    with wire.Conn(broker.port) as c:
        pid, epoch = c.init_producer_id()
        assert pid >= 0 and epoch >= 0

        def batch(seq, values):
            return wire.build_batch(values, producer_id=pid, producer_epoch=epoch, base_sequence=seq)

        first = batch(0, [b"a", b"b", b"c"])
        assert c.produce("idem-raw", 0, first) == (wire.NONE, 0)
        # a retry of the same batch (same pid/epoch/sequence): acknowledged with the original offset
        assert c.produce("idem-raw", 0, first) == (wire.NONE, 0)
        assert c.list_offset("idem-raw", 0) == (wire.NONE, 3)

        assert c.produce("idem-raw", 0, batch(3, [b"d", b"e"])) == (wire.NONE, 3)
        # an older (non-last) batch retried is still recognised as a duplicate
        assert c.produce("idem-raw", 0, first) == (wire.NONE, 0)
        assert c.list_offset("idem-raw", 0) == (wire.NONE, 5)

        # a sequence gap (expected 5)
        err, _ = c.produce("idem-raw", 0, batch(9, [b"gap"]))
        assert err == wire.OUT_OF_ORDER_SEQUENCE_NUMBER
        assert c.list_offset("idem-raw", 0) == (wire.NONE, 5)

        # the expected sequence continues to work
        assert c.produce("idem-raw", 0, batch(5, [b"f"])) == (wire.NONE, 5)
        err, hw, recs = c.fetch("idem-raw", 0, 0)
        assert (err, hw) == (wire.NONE, 6)
        assert [(o, v) for o, _k, v in recs] == list(enumerate([b"a", b"b", b"c", b"d", b"e", b"f"]))


def test_two_producers_have_independent_sequences(broker):
    wire.create_topic(broker.port, "idem-two")
    with wire.Conn(broker.port) as c:
        p1 = c.init_producer_id()
        p2 = c.init_producer_id()
        assert p1[0] != p2[0], "InitProducerId handed out the same producer id twice"
        b1 = wire.build_batch([b"p1-0"], producer_id=p1[0], producer_epoch=p1[1], base_sequence=0)
        b2 = wire.build_batch([b"p2-0"], producer_id=p2[0], producer_epoch=p2[1], base_sequence=0)
        assert c.produce("idem-two", 0, b1) == (wire.NONE, 0)
        assert c.produce("idem-two", 0, b2) == (wire.NONE, 1)
        assert c.produce("idem-two", 0, b1) == (wire.NONE, 0)
        assert c.list_offset("idem-two", 0) == (wire.NONE, 2)


def test_idempotent_state_survives_restart(start_broker):
    b = start_broker()
    wire.create_topic(b.port, "idem-restart")
    with wire.Conn(b.port) as c:
        pid, epoch = c.init_producer_id()
        first = wire.build_batch([b"x", b"y"], producer_id=pid, producer_epoch=epoch, base_sequence=0)
        assert c.produce("idem-restart", 0, first) == (wire.NONE, 0)
    b.restart(kill=True)
    with wire.Conn(b.port) as c:
        # a producer retrying across the broker restart must not create a duplicate
        assert c.produce("idem-restart", 0, first) == (wire.NONE, 0)
        assert c.list_offset("idem-restart", 0) == (wire.NONE, 2)
        nxt = wire.build_batch([b"z"], producer_id=pid, producer_epoch=epoch, base_sequence=2)
        assert c.produce("idem-restart", 0, nxt) == (wire.NONE, 2)


def test_idempotent_state_of_an_older_segment_survives_restart(start_broker):
    """The producer's batches are in an older segment than the active one when the broker is
    killed: the producer-state snapshot written at the roll still deduplicates its retry."""
    b = start_broker()
    wire.create_topic(b.port, "idem-old-seg", segment_bytes=1 << 20)  # Kafka's smallest
    with wire.Conn(b.port) as c:
        pid, epoch = c.init_producer_id()
        batches = [wire.build_batch([b"v%d" % s], producer_id=pid, producer_epoch=epoch,
                                    base_sequence=s) for s in range(3)]
        for s, batch in enumerate(batches):
            assert c.produce("idem-old-seg", 0, batch) == (wire.NONE, s)
        for i in range(20):  # 20 x 200 KB: three or four segments
            filler = wire.build_batch([b"%d" % i + b"." * 200_000])
            assert c.produce("idem-old-seg", 0, filler) == (wire.NONE, 3 + i)
    segments = sorted(p.name for p in (b.log_dir / "idem-old-seg-0").glob("*.log"))
    assert len(segments) >= 3, segments
    snapshots = sorted(p.name for p in (b.log_dir / "idem-old-seg-0").glob("*.snapshot"))
    assert snapshots, "a roll writes a producer-state snapshot"
    b.restart(kill=True)
    with wire.Conn(b.port) as c:
        # the last two batches are retried: acknowledged with their first offsets, not written
        assert c.produce("idem-old-seg", 0, batches[1]) == (wire.NONE, 1)
        assert c.produce("idem-old-seg", 0, batches[2]) == (wire.NONE, 2)
        assert c.list_offset("idem-old-seg", 0) == (wire.NONE, 23)
        gap = wire.build_batch([b"gap"], producer_id=pid, producer_epoch=epoch, base_sequence=5)
        assert c.produce("idem-old-seg", 0, gap)[0] == wire.OUT_OF_ORDER_SEQUENCE_NUMBER
        nxt = wire.build_batch([b"v3"], producer_id=pid, producer_epoch=epoch, base_sequence=3)
        assert c.produce("idem-old-seg", 0, nxt) == (wire.NONE, 23)
        err, hw, recs = c.fetch("idem-old-seg", 0, 0)
        assert (err, hw) == (wire.NONE, 24)
        assert [(o, v) for o, _k, v in recs[:3]] == [(0, b"v0"), (1, b"v1"), (2, b"v2")]
        err, hw, recs = c.fetch("idem-old-seg", 0, 23)
        assert [(o, v) for o, _k, v in recs] == [(23, b"v3")]
