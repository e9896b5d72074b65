"""Long polls: a fetch that finds no data parks until data arrives or max_wait expires."""
import select
import time

import wire


def test_empty_fetch_waits_for_max_wait(broker):
    wire.create_topic(broker.port, "lp-empty")
    with wire.Conn(broker.port) as c:
        t0 = time.monotonic()
        err, hw, recs = c.fetch("lp-empty", 0, 0, max_wait_ms=1000, min_bytes=1)
        elapsed = time.monotonic() - t0
    assert (err, hw, recs) == (wire.NONE, 0, [])
    assert 0.9 <= elapsed < 5, f"empty fetch with max_wait 1000 ms answered after {elapsed:.3f} s"


def test_parked_fetch_is_woken_by_produce(broker):
    wire.create_topic(broker.port, "lp")
    with wire.Conn(broker.port) as fetcher, wire.Conn(broker.port) as producer:
        from kafka.protocol.fetch import FetchRequest_v4
        req = FetchRequest_v4(replica_id=-1, max_wait_time=8000, min_bytes=1, max_bytes=1 << 20,
                              isolation_level=0, topics=[("lp", [(0, 0, 1 << 20)])])
        fetcher.send_frame(fetcher.header(req.API_KEY, req.API_VERSION) + req.encode())
        # the broker must not answer an empty partition at once (min_bytes=1 is not met)
        readable, _, _ = select.select([fetcher.sock], [], [], 0.5)
        assert not readable, "fetch with min_bytes=1 on an empty partition returned immediately"

        t0 = time.monotonic()
        assert producer.produce("lp", 0, wire.build_batch([b"wake up"])) == (wire.NONE, 0)
        frame = fetcher.recv_frame(timeout=10)
        latency = time.monotonic() - t0
        resp = req.RESPONSE_TYPE.decode(__import__("io").BytesIO(frame[4:]))
        (_t, [(_p, err, hw, _lso, _ab, data)]), = resp.topics
        assert (err, hw, wire.decode_records(data)) == (wire.NONE, 1, [(0, None, b"wake up")])
        # generous functional bound (not a benchmark): un-woken, it would take ~8 s
        assert latency < 4, f"parked fetch answered {latency:.3f} s after the produce"


def test_fetch_with_data_returns_immediately(broker):
    wire.create_topic(broker.port, "lp-data")
    with wire.Conn(broker.port) as c:
        assert c.produce("lp-data", 0, wire.build_batch([b"a", b"b"])) == (wire.NONE, 0)
        t0 = time.monotonic()
        err, hw, recs = c.fetch("lp-data", 0, 0, max_wait_ms=8000, min_bytes=1)
        elapsed = time.monotonic() - t0
    assert (err, hw, recs) == (wire.NONE, 2, [(0, None, b"a"), (1, None, b"b")])
    assert elapsed < 4, f"fetch with data available took {elapsed:.3f} s"
