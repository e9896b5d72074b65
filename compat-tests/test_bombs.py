"""Decompression bombs: a small compressed batch that inflates to far more than the broker will
ever decompress. fjord opens a client's compressed batch only where it must look at records (the
keyed-record check of compacted topics, ListOffsets by timestamp, compaction, old-format
conversion) and never inflates one past max(socket.request.max.bytes, max.message.bytes)
(docs/architecture.md, "Decompression").
"""
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.record.default_records import DefaultRecordBatchBuilder

import wire

INVALID_RECORD = 87
GZIP = 1
LIMIT = 1 << 20  # socket.request.max.bytes of these brokers
BOMB = b"\0" * (16 << 20)  # 16 MiB of zeros: ~16 KiB of gzip
T = int(time.time() * 1000) - 600_000  # record timestamps: T + 1000, T + 2000, ...


def batch(records, compression=0):
    """A v2 batch of (key, value, timestamp) records."""
    b = DefaultRecordBatchBuilder(magic=2, compression_type=compression, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 30)
    for i, (k, v, ts) in enumerate(records):
        assert b.append(i, timestamp=ts, key=k, value=v, headers=[]) is not None
    return bytes(b.build())


def bomb(key=b"k1"):
    data = batch([(key, BOMB, T + 2000), (key, b"after the zeros", T + 2500)], compression=GZIP)
    assert len(data) < 64 * 1024, len(data)
    return data


def start(start_broker):
    return start_broker({"socket.request.max.bytes": str(LIMIT),
                         "log.retention.check.interval.ms": "100"})


def test_a_compacted_topic_refuses_a_bomb_and_keeps_serving(start_broker):
    b = start(start_broker)
    wire.create_topic(b.port, "keyed", cleanup_policy="compact")
    with wire.Conn(b.port) as c:
        assert c.produce("keyed", 0, batch([(b"k0", b"v0", T + 1000)], GZIP)) == (wire.NONE, 0)
        err, _ = c.produce("keyed", 0, bomb())
        assert err == INVALID_RECORD
        # Nothing of it was stored; the next batch lands at offset 1.
        assert c.produce("keyed", 0, batch([(b"k1", b"v1", T + 3000)], GZIP)) == (wire.NONE, 1)
        err, hw, recs = c.fetch("keyed", 0, 0)
        assert (err, hw, recs) == (wire.NONE, 2, [(0, b"k0", b"v0"), (1, b"k1", b"v1")])


def test_list_offsets_by_time_answers_a_bomb_from_its_header(start_broker):
    b = start(start_broker)
    wire.create_topic(b.port, "plain")
    with wire.Conn(b.port) as c:
        assert c.produce("plain", 0, batch([(b"k0", b"before", T + 1000)])) == (wire.NONE, 0)
        # A topic that is not compacted stores compressed batches as they come (as Kafka does).
        assert c.produce("plain", 0, bomb()) == (wire.NONE, 1)
        assert c.produce("plain", 0, batch([(b"k2", b"later", T + 3000)])) == (wire.NONE, 3)
    tp = TopicPartition("plain", 0)
    consumer = KafkaConsumer(bootstrap_servers=b.bootstrap, request_timeout_ms=10000)
    try:
        found = consumer.offsets_for_times({tp: T + 1500})[tp]
        # The exact answer is offset 2 (timestamp 2500) inside the bomb; opening it would inflate
        # 16 MiB past the 1 MiB limit, so the batch answers: its first offset, its max timestamp.
        assert (found.offset, found.timestamp) == (1, T + 2500)
        found = consumer.offsets_for_times({tp: T + 2600})[tp]
        assert (found.offset, found.timestamp) == (3, T + 3000)
        found = consumer.offsets_for_times({tp: T + 500})[tp]
        assert (found.offset, found.timestamp) == (0, T + 1000)
    finally:
        consumer.close()
    # A consumer still reads everything, the bomb included (it is the client's to inflate).
    with wire.Conn(b.port) as c:
        err, hw, recs = c.fetch("plain", 0, 0, max_bytes=4 << 20)
        assert (err, hw) == (wire.NONE, 4)
        assert [(o, k, len(v)) for o, k, v in recs] == [
            (0, b"k0", 6), (1, b"k1", len(BOMB)), (2, b"k1", 15), (3, b"k2", 5)]


def test_compaction_keeps_a_bomb_and_compacts_the_rest(start_broker):
    b = start(start_broker)
    wire.create_topic(b.port, "later-compacted", segment_ms=100)
    with wire.Conn(b.port) as c:
        assert c.produce("later-compacted", 0, batch([(b"k1", b"a0", T + 1000)])) == (wire.NONE, 0)
        assert c.produce("later-compacted", 0, bomb()) == (wire.NONE, 1)
        assert c.produce("later-compacted", 0, batch([(b"k2", b"b0", T + 3000)])) == (wire.NONE, 3)
    # The topic becomes compacted after the bomb was stored.
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=10000)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "later-compacted", configs={
            "cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"})])
    finally:
        admin.close()
    rolled_at = time.monotonic() + 0.15  # older than segment.ms: the next append rolls
    with wire.Conn(b.port) as c:
        while time.monotonic() < rolled_at:
            c.api_versions()
        assert c.produce("later-compacted", 0, batch([(b"k2", b"b1", T + 4000)])) == (wire.NONE, 4)
        deadline = time.monotonic() + 20
        while True:
            err, hw, recs = c.fetch("later-compacted", 0, 0, max_bytes=4 << 20)
            assert (err, hw) == (wire.NONE, 5)
            got = [(o, k, len(v)) for o, k, v in recs]
            if (3, b"k2", 2) not in got:
                break
            assert got == [(0, b"k1", 2), (1, b"k1", len(BOMB)), (2, b"k1", 15), (3, b"k2", 2),
                           (4, b"k2", 2)], got
            assert time.monotonic() < deadline, f"k2@3 never compacted away: {got}"
        # k2@3 is superseded and gone; the bomb is kept as it was, and since its keys could not
        # be read they supersede nothing: k1@0 stays.
        assert got == [(0, b"k1", 2), (1, b"k1", len(BOMB)), (2, b"k1", 15), (4, b"k2", 2)]
    assert "compaction keeps a batch it cannot read" in b.stderr_path.read_text()
