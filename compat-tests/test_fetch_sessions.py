"""Incremental fetch sessions (KIP-227).

Raw wire (Fetch v11, kafka-python's protocol classes): a full fetch with epoch 0 gets a session;
incremental fetches add, update and forget partitions and are answered only with the partitions
that changed; a wrong epoch is INVALID_FETCH_SESSION_EPOCH (71), an unknown session id
FETCH_SESSION_ID_NOT_FOUND (70); epoch -1 closes the session.

Real clients, which use sessions (the Java client 4.x, kafka-python 2.x): consumers of many
partitions whose session is evicted under them (a one-slot cache, and a bigger session taking
the slot) or whose broker restarts read every record exactly once, at its offset. The broker's
debug log of the session cache shows that the eviction happened and was noticed.
"""
import re

from kafka import KafkaConsumer, TopicPartition
from kafka.protocol.fetch import FetchRequest_v11

import wire
from conftest import JavaProc, create_topics, produce_per_partition, wait_until

FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71

SESSION_LOG = "info,fjord::broker::fetch_sessions=debug"
# Also every request with its size (for the check that incremental requests are small).
REQUEST_LOG = SESSION_LOG + ",fjord::api=trace"
# One slot, and a session is safe from eviction by a bigger one for only a second.
ONE_SLOT = {"max.incremental.fetch.session.cache.slots": "1",
            "min.incremental.fetch.session.eviction.ms": "1000"}


def fetch(conn, session_id, epoch, topics=(), forgotten=(), max_wait_ms=0):
    """Fetch v11 with session metadata. topics: [(topic, [(partition, offset)])], forgotten:
    [(topic, [partition])]. Returns (error, session id, [(topic, partition, error, high
    watermark, [(offset, value)])])."""
    req = FetchRequest_v11(
        replica_id=-1, max_wait_time=max_wait_ms, min_bytes=1, max_bytes=1 << 20, isolation_level=0,
        session_id=session_id, session_epoch=epoch,
        topics=[(t, [(p, -1, off, -1, 1 << 20) for p, off in parts]) for t, parts in topics],
        forgotten_topics_data=[(t, list(ps)) for t, ps in forgotten], rack_id="")
    r = conn.request(req, timeout=max_wait_ms / 1000 + 10)
    answered = [(t, p, err, hw, [(o, v) for o, _k, v in wire.decode_records(data)])
                for t, parts in r.topics
                for p, err, hw, _lso, _log_start, _aborted, _preferred, data in parts]
    return r.error_code, r.session_id, answered


def put(conn, topic, partition, value):
    err, offset = conn.produce(topic, partition, wire.build_batch([value]))
    assert err == wire.NONE
    return offset


def test_a_session_answers_only_what_changed(broker):
    wire.create_topic(broker.port, "fs-wire", partitions=3)
    with wire.Conn(broker.port) as c:
        put(c, "fs-wire", 0, b"a0")
        put(c, "fs-wire", 1, b"b0")
        # Full fetch, epoch 0: every listed partition, and a session id.
        err, sid, got = fetch(c, 0, 0, [("fs-wire", [(0, 0), (1, 0)])])
        assert err == 0 and sid > 0
        assert got == [("fs-wire", 0, 0, 1, [(0, b"a0")]), ("fs-wire", 1, 0, 1, [(0, b"b0")])]
        # Epoch 1 with the new positions: nothing new.
        assert fetch(c, sid, 1, [("fs-wire", [(0, 1), (1, 1)])]) == (0, sid, [])
        # A record on partition 1; epoch 2 lists nothing and hears only of partition 1.
        put(c, "fs-wire", 1, b"b1")
        assert fetch(c, sid, 2) == (0, sid, [("fs-wire", 1, 0, 2, [(1, b"b1")])])
        # Epoch 3: partition 1 moves on, partition 2 is added, partition 0 forgotten. Only the
        # added one (never answered before) is answered.
        put(c, "fs-wire", 2, b"c0")
        assert fetch(c, sid, 3, [("fs-wire", [(1, 2), (2, 0)])], [("fs-wire", [0])]) == \
            (0, sid, [("fs-wire", 2, 0, 1, [(0, b"c0")])])
        # The forgotten partition is not the session's any more; the others are quiet.
        put(c, "fs-wire", 0, b"a1")
        assert fetch(c, sid, 4, [("fs-wire", [(2, 1)])]) == (0, sid, [])
        # The session remembers where each partition stands: a record appended at partition
        # 1's position is answered without the fetcher listing the partition.
        put(c, "fs-wire", 1, b"b2")
        assert fetch(c, sid, 5) == (0, sid, [("fs-wire", 1, 0, 3, [(2, b"b2")])])
        assert fetch(c, sid, 6, [("fs-wire", [(1, 3)])]) == (0, sid, [])


def test_wrong_epoch_unknown_id_and_close(broker):
    wire.create_topic(broker.port, "fs-err", partitions=2)
    with wire.Conn(broker.port) as c:
        put(c, "fs-err", 0, b"x")
        err, sid, got = fetch(c, 0, 0, [("fs-err", [(0, 0), (1, 0)])])
        assert (err, len(got)) == (0, 2) and sid > 0
        assert fetch(c, sid, 1, [("fs-err", [(0, 1)])]) == (0, sid, [])
        # An epoch used already, one ahead, and a session id never given: refused with no
        # partitions and session id 0, and the session is not moved on by them.
        assert fetch(c, sid, 1) == (INVALID_FETCH_SESSION_EPOCH, 0, [])
        assert fetch(c, sid, 7) == (INVALID_FETCH_SESSION_EPOCH, 0, [])
        other = 1 if sid != 1 else 2
        assert fetch(c, other, 1) == (FETCH_SESSION_ID_NOT_FOUND, 0, [])
        assert fetch(c, sid, 2) == (0, sid, [])
        # Another connection may carry on the session (Kafka binds it to no connection).
        with wire.Conn(broker.port) as c2:
            assert fetch(c2, sid, 3) == (0, sid, [])
        # Epoch -1 closes it, and that fetch is served without a session: every partition
        # listed, session id 0.
        assert fetch(c, sid, -1, [("fs-err", [(0, 0)])]) == (0, 0, [("fs-err", 0, 0, 1, [(0, b"x")])])
        assert fetch(c, sid, 4) == (FETCH_SESSION_ID_NOT_FOUND, 0, [])
        # Epoch 0 without an id starts afresh.
        err, sid2, got = fetch(c, 0, 0, [("fs-err", [(1, 0)])])
        assert (err, got) == (0, [("fs-err", 1, 0, 0, [])]) and sid2 > 0


# --- real clients --------------------------------------------------------------------------------

def recs(proc):
    """(partition, offset, value) of every record a Java AssignedConsumer printed, in order."""
    out = []
    for line in proc.lines:
        if line.startswith("REC "):
            _, p, off, value = line.split(" ", 3)
            out.append((int(p), int(off), value))
    return out


def expected(partitions, offsets):
    """What produce_per_partition wrote: b"p<p>-<offset>" at each offset."""
    return sorted((p, o, f"p{p}-{o}") for p in partitions for o in offsets)


def log_count(b, what, since_start=1):
    """Lines of the broker's log (from its since_start-th start on) containing `what`."""
    text = b.stderr_path.read_text(errors="replace")
    parts = text.split("\n===== start #")
    return sum(l.count(what) for l in parts[since_start:])


def fetch_request_sizes(b, client_id):
    """Sizes (bytes, without the length prefix) of the Fetch requests `client_id` sent, as the
    broker's request trace logged them."""
    sizes = []
    for line in b.stderr_path.read_text(errors="replace").splitlines():
        if " request" in line and "key=Fetch" in line and f'client=Some("{client_id}")' in line:
            m = re.search(r"bytes=(\d+)", line)
            sizes.append(int(m.group(1)))
    return sizes


def test_java_consumers_across_a_session_eviction(start_broker, java_classes, monkeypatch):
    monkeypatch.setenv("FJORD_LOG", SESSION_LOG)
    b = start_broker(ONE_SLOT)
    topic = "fs-java-evict"
    create_topics(b.bootstrap, topic, partitions=100)
    produce_per_partition(b.bootstrap, topic, 100, 0, 2)
    small = JavaProc(java_classes, "AssignedConsumer", b.bootstrap, topic, 0, 49, "client.id=small")
    big = None
    try:
        small.wait_line("READY")
        wait_until(lambda: len(recs(small)) >= 100, timeout=60, what="the small consumer's first records")
        wait_until(lambda: log_count(b, "fetch session created") == 1, what="the small consumer's session")
        # The big consumer (100 partitions) finds the one slot taken; once the small session is
        # older than the eviction time it takes the slot, and the small consumer's next
        # incremental fetch is told FETCH_SESSION_ID_NOT_FOUND. It goes on with full fetches
        # (its 50 partitions cannot evict the 100).
        big = JavaProc(java_classes, "AssignedConsumer", b.bootstrap, topic, 0, 99, "client.id=big")
        produce_per_partition(b.bootstrap, topic, 100, 2, 2)
        wait_until(lambda: log_count(b, "fetch session evicted") == 1, timeout=30, what="an eviction")
        wait_until(lambda: log_count(b, "fetch session not found") >= 1, timeout=30,
                   what="the evicted consumer's next incremental fetch")
        produce_per_partition(b.bootstrap, topic, 100, 4, 2)
        wait_until(lambda: len(recs(small)) >= 300 and len(recs(big)) >= 600, timeout=60,
                   what="every record at both consumers")
        assert sorted(recs(small)) == expected(range(50), range(6))
        assert sorted(recs(big)) == expected(range(100), range(6))
        assert log_count(b, "fetch session evicted") == 1
        assert log_count(b, "fetch session created") == 2
        assert small.close() == 0 and big.close() == 0
    finally:
        small.stop()
        if big is not None:
            big.stop()


def test_java_consumer_across_a_broker_restart(start_broker, java_classes, monkeypatch):
    monkeypatch.setenv("FJORD_LOG", REQUEST_LOG)
    b = start_broker()
    topic = "fs-java-restart"
    create_topics(b.bootstrap, topic, partitions=100)
    produce_per_partition(b.bootstrap, topic, 100, 0, 2)
    c = JavaProc(java_classes, "AssignedConsumer", b.bootstrap, topic, 0, 99, "client.id=restarted")
    try:
        wait_until(lambda: len(recs(c)) >= 200, timeout=60, what="the first records")
        # Caught up and idle: its incremental fetches name no partition (the full fetch named
        # all 100).
        wait_until(lambda: len(fetch_request_sizes(b, "restarted")) >= 5, what="idle fetches")
        sizes = fetch_request_sizes(b, "restarted")
        assert max(sizes) > 100 * 20 and min(sizes) < 100, sizes
        # The restarted broker knows no session: the consumer starts a new one and goes on
        # where it was.
        b.restart()
        produce_per_partition(b.bootstrap, topic, 100, 2, 2)
        wait_until(lambda: len(recs(c)) >= 400, timeout=60, what="the records after the restart")
        assert sorted(recs(c)) == expected(range(100), range(4))
        wait_until(lambda: log_count(b, "fetch session created", since_start=2) >= 1,
                   what="a session on the restarted broker")
        assert c.close() == 0
    finally:
        c.stop()


def test_kafka_python_consumers_across_a_session_eviction(start_broker, monkeypatch):
    monkeypatch.setenv("FJORD_LOG", SESSION_LOG)
    b = start_broker(ONE_SLOT)
    topic = "fs-kp-evict"
    create_topics(b.bootstrap, topic, partitions=20)
    produce_per_partition(b.bootstrap, topic, 20, 0, 2)

    def consumer(name, partitions):
        c = KafkaConsumer(bootstrap_servers=b.bootstrap, client_id=name, enable_auto_commit=False,
                          auto_offset_reset="earliest", fetch_max_wait_ms=100)
        c.assign([TopicPartition(topic, p) for p in partitions])
        return c

    got = {"small": [], "big": []}
    consumers = {"small": consumer("small", range(10))}

    def poll():
        for name, c in consumers.items():
            for msgs in c.poll(timeout_ms=50).values():
                got[name] += [(m.partition, m.offset, m.value.decode()) for m in msgs]
        return True

    try:
        wait_until(lambda: poll() and len(got["small"]) >= 20, timeout=30, interval=0,
                   what="the small consumer's first records")
        wait_until(lambda: poll() and log_count(b, "fetch session created") == 1, interval=0,
                   what="the small consumer's session")
        consumers["big"] = consumer("big", range(20))
        produce_per_partition(b.bootstrap, topic, 20, 2, 2)
        wait_until(lambda: poll() and log_count(b, "fetch session evicted") == 1, timeout=30,
                   interval=0, what="an eviction")
        wait_until(lambda: poll() and log_count(b, "fetch session not found") >= 1, timeout=30,
                   interval=0, what="the evicted consumer's next incremental fetch")
        produce_per_partition(b.bootstrap, topic, 20, 4, 2)
        wait_until(lambda: poll() and len(got["small"]) >= 60 and len(got["big"]) >= 120,
                   timeout=60, interval=0, what="every record at both consumers")
        assert sorted(got["small"]) == expected(range(10), range(6))
        assert sorted(got["big"]) == expected(range(20), range(6))
        assert log_count(b, "fetch session evicted") == 1
    finally:
        for c in consumers.values():
            c.close()
