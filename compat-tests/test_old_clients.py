"""Clients that speak Kafka's pre-0.11 protocol (message formats v0 and v1), which Kafka 4
no longer serves (KIP-896) and Kafka 3.x did: kafka-python pinned with `api_version`, pykafka,
librdkafka with `api.version.request=false`. Their records are up-converted to v2 batches on
produce and down-converted on fetch; current clients read what they wrote and vice versa."""
import subprocess

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conftest import create_topics, java_cmd

OLD_API_VERSIONS = [(0, 8, 2), (0, 9), (0, 10), (0, 10, 1)]
CODECS = [None, "gzip", "snappy", "lz4"]


def name(api_version, codec=None):
    return "old-" + "-".join(map(str, api_version)) + (f"-{codec}" if codec else "")


def produce_old(broker, topic, api_version, codec, n, start=0):
    """kafka-python pinned to an old protocol: n keyed records to partition 0; returns
    [(offset, timestamp)] as the broker acknowledged them."""
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=api_version,
                      compression_type=codec, linger_ms=5)
    futs = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0) for i in range(start, start + n)]
    meta = [f.get(timeout=10) for f in futs]
    p.close()
    return [(m.offset, m.timestamp) for m in meta]


def consume_old(broker, topic, api_version, n):
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, api_version=api_version,
                      auto_offset_reset="earliest", consumer_timeout_ms=5000)
    c.assign([TopicPartition(topic, 0)])
    got = []
    for m in c:
        got.append(m)
        if len(got) == n:
            break
    c.close()
    return got


@pytest.mark.parametrize("api_version", OLD_API_VERSIONS, ids=lambda v: "-".join(map(str, v)))
@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c or "none")
def test_kafka_python_old_protocol_round_trip(broker, api_version, codec):
    topic = name(api_version, codec)
    create_topics(broker.bootstrap, topic)
    acked = produce_old(broker, topic, api_version, codec, 5)
    acked += produce_old(broker, topic, api_version, codec, 5, start=5)
    assert [o for o, _ in acked] == list(range(10))
    got = consume_old(broker, topic, api_version, 10)
    assert [(m.offset, m.key, m.value) for m in got] == [(i, b"k%d" % i, b"v%d" % i) for i in range(10)]
    if api_version >= (0, 10):
        # Message format v1 carries the producer's timestamp, and it comes back.
        assert [m.timestamp for m in got] == [ts for _, ts in acked]
    else:
        assert all(m.timestamp is None for m in got), "message format v0 has no timestamp"


def test_kafka_python_0_10_1_offsets_for_times(broker):
    topic = "old-times"
    create_topics(broker.bootstrap, topic)
    acked = produce_old(broker, topic, (0, 10, 1), None, 6)
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, api_version=(0, 10, 1))
    tp = TopicPartition(topic, 0)
    found = c.offsets_for_times({tp: acked[3][1]})
    assert found[tp].offset == min(o for o, ts in acked if ts >= acked[3][1])
    assert c.beginning_offsets([tp]) == {tp: 0}
    assert c.end_offsets([tp]) == {tp: 6}
    c.close()


def test_old_producer_read_by_the_java_client_with_offsets_and_timestamps(broker, java_classes):
    topic = "old-to-java"
    create_topics(broker.bootstrap, topic)
    acked = produce_old(broker, topic, (0, 10), "gzip", 4)
    out = subprocess.run(java_cmd(java_classes, "Console", "consume-ts", broker.bootstrap, topic, 4),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert rows == [[str(o), "k%d" % i, "v%d" % i, str(ts), "CreateTime"]
                    for i, (o, ts) in enumerate(acked)]


def test_current_producer_with_headers_read_by_old_consumers(broker):
    """A v2 batch with headers, compression and a producer id (idempotence) is read by every
    old consumer: same offsets, keys and values; headers dropped."""
    topic = "new-to-old"
    create_topics(broker.bootstrap, topic)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type="lz4",
                      enable_idempotence=True, acks="all")
    metas = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
                    headers=[("h", b"%d" % i)]).get(timeout=10) for i in range(5)]
    p.close()
    for api_version in OLD_API_VERSIONS:
        got = consume_old(broker, topic, api_version, 5)
        assert [(m.offset, m.key, m.value) for m in got] == [(i, b"k%d" % i, b"v%d" % i) for i in range(5)], api_version
        if api_version >= (0, 10):
            assert [m.timestamp for m in got] == [m.timestamp for m in metas]


def test_pykafka_sync_producer_and_simple_consumer_as_the_tutorials_write_them(broker):
    from pykafka import KafkaClient
    from pykafka.common import OffsetType
    create_topics(broker.bootstrap, "pyk-tutorial", partitions=2)
    client = KafkaClient(hosts=broker.bootstrap)
    topic = client.topics["pyk-tutorial"]
    with topic.get_sync_producer() as producer:
        for i in range(10):
            producer.produce(("test message " + str(i ** 2)).encode())
    consumer = topic.get_simple_consumer(auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True,
                                         consumer_timeout_ms=3000)
    got = [(m.partition_id, m.offset, m.value) for m in consumer]
    consumer.stop()
    assert sorted(v for _, _, v in got) == sorted(("test message " + str(i ** 2)).encode() for i in range(10))
    for p in (0, 1):
        offsets = [o for part, o, _ in got if part == p]
        assert offsets == list(range(len(offsets))), f"partition {p}: offsets from 0, in order"


def test_pykafka_async_producer(broker):
    from pykafka import KafkaClient
    from pykafka.common import OffsetType
    create_topics(broker.bootstrap, "pyk-async")
    client = KafkaClient(hosts=broker.bootstrap)
    topic = client.topics["pyk-async"]
    with topic.get_producer(delivery_reports=True, min_queued_messages=1) as producer:
        for i in range(20):
            producer.produce(b"async-%d" % i, partition_key=b"k")
        reports = []
        while len(reports) < 20:
            msg, exc = producer.get_delivery_report(block=True, timeout=10)
            assert exc is None, exc
            reports.append(msg)
    consumer = topic.get_simple_consumer(auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True,
                                         consumer_timeout_ms=3000)
    got = [(m.offset, m.value) for m in consumer]
    consumer.stop()
    assert got == [(i, b"async-%d" % i) for i in range(20)]


# --- bad input, raw protocol ------------------------------------------------------------------

def legacy_set(magic, codec, values, corrupt_crc=False):
    from kafka.record.legacy_records import LegacyRecordBatchBuilder
    b = LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 30)
    for i, v in enumerate(values):
        b.append(i, timestamp=1000 + i if magic else None, key=None, value=v, headers=[])
    data = bytearray(b.build())
    if corrupt_crc:
        data[-1] ^= 0xFF
    return bytes(data)


def produce_v2(conn, topic, records):
    from kafka.protocol.produce import ProduceRequest_v2
    r = conn.request(ProduceRequest_v2(required_acks=-1, timeout=10000, topics=[(topic, [(0, records)])]))
    (t, parts), = r.topics
    (p, err, offset, _ts), = parts
    return err, offset


def test_a_bad_crc_is_corrupt_message_and_nothing_is_stored(broker):
    import wire
    wire.create_topic(broker.port, "old-bad-crc")
    with wire.Conn(broker.port) as c:
        for magic, codec in [(0, 0), (1, 0), (1, 1)]:
            err, _ = produce_v2(c, "old-bad-crc", legacy_set(magic, codec, [b"a", b"b"], corrupt_crc=True))
            assert err == wire.CORRUPT_MESSAGE, (magic, codec)
        assert c.list_offset("old-bad-crc", 0) == (wire.NONE, 0), "nothing was stored"
        err, offset = produce_v2(c, "old-bad-crc", legacy_set(1, 0, [b"good"]))
        assert (err, offset) == (wire.NONE, 0)


def test_a_compression_bomb_is_refused_and_the_broker_goes_on(start_broker):
    """64 MiB of zeros in a ~64 KiB gzip wrapper, inflating past the request size limit
    (socket.request.max.bytes, here 8 MiB): refused, nothing stored, the connection and the
    broker still serve."""
    broker = start_broker({"socket.request.max.bytes": str(8 << 20)})
    import gzip
    import struct
    import zlib
    import wire
    wire.create_topic(broker.port, "old-bomb")
    zeros = b"\0" * (1 << 20)
    inner = b"".join(legacy_set(1, 0, [zeros]) for _ in range(64))
    compressed = gzip.compress(inner, compresslevel=9)
    body = struct.pack(">bbq", 1, 1, 1000) + struct.pack(">i", -1) + struct.pack(">i", len(compressed)) + compressed
    message = struct.pack(">I", zlib.crc32(body)) + body
    wrapper = struct.pack(">qi", 63, len(message)) + message
    with wire.Conn(broker.port) as c:
        err, _ = produce_v2(c, "old-bomb", wrapper)
        assert err == 87, err  # INVALID_RECORD
        assert c.list_offset("old-bomb", 0) == (wire.NONE, 0)
        assert produce_v2(c, "old-bomb", legacy_set(1, 0, [b"after"])) == (wire.NONE, 0)
    assert broker.alive()


def test_message_format_version_is_accepted_described_and_ignored(broker):
    """Tools written for Kafka 3.x still set message.format.version: stored and described, the
    log keeps v2 all the same (Kafka 3.x ignored it too); a value that is not a version is
    refused with INVALID_CONFIG."""
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
    from confluent_kafka import KafkaException
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fut = admin.create_topics([NewTopic("old-format", 1, 1, config={"message.format.version": "0.10.2"})])
    fut["old-format"].result(timeout=10)
    res = ConfigResource(ConfigResource.Type.TOPIC, "old-format")
    configs = admin.describe_configs([res])[res].result(timeout=10)
    assert configs["message.format.version"].value == "0.10.2"
    bad = admin.create_topics([NewTopic("old-format-bad", 1, 1, config={"message.format.version": "ten"})])
    with pytest.raises(KafkaException) as e:
        bad["old-format-bad"].result(timeout=10)
    assert e.value.args[0].code() == 40  # INVALID_CONFIG
    # Current and old clients alike write to and read from it.
    produce_old(broker, "old-format", (0, 9), None, 2)
    got = consume_old(broker, "old-format", (0, 10), 2)
    assert [m.value for m in got] == [b"v0", b"v1"]
    assert "message.format.version is ignored" in broker.stderr_tail(50)


@pytest.mark.parametrize("api_version", [None, (0, 10), (0, 9)], ids=["v2", "0-10", "0-9"])
def test_a_compacted_topic_refuses_records_without_a_key_in_every_format(broker, api_version):
    """Kafka's rule (INVALID_RECORD, 'Compacted topic cannot accept message without key'), for
    message format v2 as for the old ones; keyed records still go in."""
    from kafka.errors import InvalidRecordError
    topic = "compacted-" + ("v2" if api_version is None else "-".join(map(str, api_version)))
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config={"cleanup.policy": "compact"})])[topic].result(timeout=10)
    kwargs = {} if api_version is None else {"api_version": api_version}
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, retries=0, **kwargs)
    with pytest.raises(InvalidRecordError):
        p.send(topic, value=b"no key", partition=0).get(timeout=10)
    assert p.send(topic, key=b"k", value=b"keyed", partition=0).get(timeout=10).offset == 0
    p.close()


# --- groups and admin at the old versions -------------------------------------------------------

@pytest.mark.parametrize("api_version", [(0, 9), (0, 10), (0, 10, 1)], ids=lambda v: "-".join(map(str, v)))
def test_kafka_python_old_protocol_group_commits_and_resumes(broker, api_version):
    """A group consumer (JoinGroup/SyncGroup v0, OffsetCommit v1-v2, OffsetFetch v1) commits,
    closes, and a new one in the same group resumes exactly after what was committed."""
    topic = name(api_version) + "-group"
    group = topic + "-g"
    create_topics(broker.bootstrap, topic, partitions=2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=api_version)
    for i in range(10):
        p.send(topic, value=b"a%d" % i, partition=i % 2).get(timeout=10)

    def read(n):
        c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, api_version=api_version, group_id=group,
                          auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=8000)
        got = []
        for m in c:
            got.append((m.partition, m.offset, m.value))
            if len(got) == n:
                break
        c.commit()
        c.close()
        return got

    first = read(10)
    assert sorted(v for _, _, v in first) == sorted(b"a%d" % i for i in range(10))
    for i in range(4):
        p.send(topic, value=b"b%d" % i, partition=i % 2).get(timeout=10)
    p.close()
    second = read(4)
    assert sorted((pt, o, v) for pt, o, v in second) == [(0, 5, b"b0"), (0, 6, b"b2"), (1, 5, b"b1"), (1, 6, b"b3")]


def test_pykafka_balanced_consumer_managed_commits_and_resumes(broker):
    from pykafka import KafkaClient
    from pykafka.common import OffsetType
    create_topics(broker.bootstrap, "pyk-balanced", partitions=2)
    client = KafkaClient(hosts=broker.bootstrap)
    topic = client.topics["pyk-balanced"]
    with topic.get_sync_producer() as producer:
        for i in range(10):
            producer.produce(b"first-%d" % i)

    def read(n):
        consumer = topic.get_balanced_consumer(consumer_group=b"pyk-group", managed=True,
                                               auto_offset_reset=OffsetType.EARLIEST, auto_commit_enable=False,
                                               consumer_timeout_ms=8000)
        got = []
        for m in consumer:
            got.append(m.value)
            if len(got) == n:
                break
        consumer.commit_offsets()
        consumer.stop()
        return got

    assert sorted(read(10)) == sorted(b"first-%d" % i for i in range(10))
    with topic.get_sync_producer() as producer:
        for i in range(4):
            producer.produce(b"second-%d" % i)
    assert sorted(read(4)) == sorted(b"second-%d" % i for i in range(4))


@pytest.mark.parametrize("fallback", ["0.9.0", "0.10.0"])
def test_confluent_kafka_without_api_version_request(broker, fallback):
    """librdkafka told not to ask (api.version.request=false) and to assume an old broker:
    produce, a group consumer, commit."""
    import time
    from confluent_kafka import Consumer, Producer
    from confluent_kafka import TopicPartition as CkTopicPartition
    topic = "ck-old-" + fallback.replace(".", "-")
    create_topics(broker.bootstrap, topic)
    old = {"api.version.request": False, "broker.version.fallback": fallback}
    p = Producer({"bootstrap.servers": broker.bootstrap, **old})
    reports = []
    for i in range(5):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
                  on_delivery=lambda e, m: reports.append((e, m.offset())))
    assert p.flush(10) == 0
    assert reports == [(None, i) for i in range(5)]
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": topic + "-g", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, **old})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 5:
        assert time.monotonic() < deadline, got
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            got.append(m)
    assert [(m.offset(), m.key(), m.value()) for m in got] == [(i, b"k%d" % i, b"v%d" % i) for i in range(5)]
    if fallback == "0.10.0":
        assert all(m.timestamp()[0] == 1 and m.timestamp()[1] > 0 for m in got), "CreateTime timestamps"
    c.commit(asynchronous=False)
    committed = c.committed([CkTopicPartition(topic, 0)], timeout=10)
    assert committed[0].offset == 5
    c.close()


def test_kafka_python_old_admin_creates_and_deletes_topics(broker):
    """KafkaAdminClient pinned to 0.10.1: CreateTopics v0-v1, DeleteTopics v0."""
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, api_version=(0, 10, 1))
    admin.create_topics([NewTopic("old-admin", num_partitions=3, replication_factor=1)])
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    assert c.partitions_for_topic("old-admin") == {0, 1, 2}
    admin.delete_topics(["old-admin"])
    c.close()
    admin.close()
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    assert "old-admin" not in c.topics()
    c.close()
