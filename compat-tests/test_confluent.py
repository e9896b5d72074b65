"""confluent-kafka (librdkafka 2.12) producer, consumer and admin client."""
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import consume_assigned, create_topics, produce, wait_until


def test_produce_with_delivery_callbacks_and_assign_consume(broker):
    create_topics(broker.bootstrap, "conf")
    values = [b"value-%04d" % i for i in range(500)]
    keys = [b"key-%d" % (i % 7) for i in range(500)]
    reports = produce(broker.bootstrap, "conf", values, keys)
    assert [r[0] for r in reports] == [None] * 500
    assert [(r[1], r[2], r[3], r[4]) for r in reports] == [(0, i, keys[i], values[i]) for i in range(500)]
    got = consume_assigned(broker.bootstrap, "conf", 500)
    assert got == [(0, i, keys[i], values[i]) for i in range(500)]


def test_consume_from_explicit_offset(broker):
    create_topics(broker.bootstrap, "mid")
    produce(broker.bootstrap, "mid", [b"%d" % i for i in range(50)])
    got = consume_assigned(broker.bootstrap, "mid", 10, start=40)
    assert got == [(0, i, None, b"%d" % i) for i in range(40, 50)]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression_round_trip(broker, codec):
    topic = f"ck-{codec}"
    create_topics(broker.bootstrap, topic)
    values = [(f"{codec} payload {i} " * 30).encode() for i in range(400)]
    reports = produce(broker.bootstrap, topic, values, **{"compression.type": codec, "linger.ms": 20})
    assert [(r[0], r[2]) for r in reports] == [(None, i) for i in range(400)]
    got = consume_assigned(broker.bootstrap, topic, 400)
    assert got == [(0, i, None, v) for i, v in enumerate(values)]


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks(broker, acks):
    topic = f"acks-{acks}"
    create_topics(broker.bootstrap, topic)
    values = [b"a%d-%d" % (i, i * i) for i in range(100)]
    reports = produce(broker.bootstrap, topic, values, acks=acks)
    assert [r[0] for r in reports] == [None] * 100
    if acks == "0":
        # no response, so no offset is known to the client (librdkafka: OFFSET_INVALID -> None)
        assert all(r[2] is None or r[2] < 0 for r in reports)
    else:
        assert [r[2] for r in reports] == list(range(100))
    got = consume_assigned(broker.bootstrap, topic, 100)
    assert got == [(0, i, None, v) for i, v in enumerate(values)]


def test_idempotent_producer(broker):
    create_topics(broker.bootstrap, "idem")
    values = [b"i%d" % i for i in range(300)]
    reports = produce(broker.bootstrap, "idem", values, **{"enable.idempotence": True})
    assert [(r[0], r[2]) for r in reports] == [(None, i) for i in range(300)]
    assert consume_assigned(broker.bootstrap, "idem", 300) == [(0, i, None, v) for i, v in enumerate(values)]


def test_admin_create_list_delete(broker):
    admin = create_topics(broker.bootstrap, "ca1", "ca2", partitions=3)
    md = admin.list_topics(timeout=10)
    assert {"ca1", "ca2"} <= set(md.topics)
    for t in ("ca1", "ca2"):
        assert md.topics[t].error is None
        assert sorted(md.topics[t].partitions) == [0, 1, 2]
        assert all(p.leader >= 0 for p in md.topics[t].partitions.values())
    assert len(md.brokers) == 1
    (b,) = md.brokers.values()
    assert (b.host, b.port) == ("127.0.0.1", broker.port)
    assert md.cluster_id

    # creating an existing topic fails with TOPIC_ALREADY_EXISTS
    f = admin.create_topics([NewTopic("ca1", num_partitions=3, replication_factor=1)])["ca1"]
    with pytest.raises(Exception) as ei:
        f.result(timeout=15)
    assert ei.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    for f in admin.delete_topics(["ca1"], operation_timeout=10).values():
        f.result(timeout=15)
    wait_until(lambda: "ca1" not in admin.list_topics(timeout=10).topics, what="ca1 deleted")
    assert "ca2" in admin.list_topics(timeout=10).topics

    f = admin.delete_topics(["ca1"], operation_timeout=10)["ca1"]
    with pytest.raises(Exception) as ei:
        f.result(timeout=15)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_produce_to_many_partitions(broker):
    create_topics(broker.bootstrap, "multi", partitions=3)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    reports = []
    for i in range(30):
        p.produce("multi", value=b"%d" % i, partition=i % 3,
                  on_delivery=lambda e, m: reports.append((e, m.partition(), m.offset(), m.value())))
    assert p.flush(30) == 0
    for part in range(3):
        mine = [r for r in reports if r[1] == part]
        assert [(r[0], r[2], r[3]) for r in mine] == [(None, j, b"%d" % (j * 3 + part)) for j in range(10)]
        got = consume_assigned(broker.bootstrap, "multi", 10, partition=part)
        assert got == [(part, j, None, b"%d" % (j * 3 + part)) for j in range(10)]


def test_log_append_time_topic(broker):
    """message.timestamp.type=LogAppendTime: the broker stamps records with its own clock."""
    import time
    from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futs = admin.create_topics([NewTopic("lat", num_partitions=1, replication_factor=1,
                                         config={"message.timestamp.type": "LogAppendTime"}),
                                NewTopic("ct", num_partitions=1, replication_factor=1)])
    for f in futs.values():
        f.result(timeout=15)
    before = int(time.time() * 1000)
    for topic in ("lat", "ct"):
        p = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(3):
            p.produce(topic, value=b"t%d" % i, timestamp=1_000_000 + i)
        assert p.flush(30) == 0
    after = int(time.time() * 1000)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ts", "enable.auto.commit": False})
    for topic, kind in (("lat", TIMESTAMP_LOG_APPEND_TIME), ("ct", TIMESTAMP_CREATE_TIME)):
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        msgs = []
        deadline = time.monotonic() + 15
        while len(msgs) < 3 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                msgs.append(m)
        assert [m.value() for m in msgs] == [b"t0", b"t1", b"t2"], topic
        for i, m in enumerate(msgs):
            ttype, ts = m.timestamp()
            assert ttype == kind, (topic, m.timestamp())
            if kind == TIMESTAMP_LOG_APPEND_TIME:
                assert before - 1000 <= ts <= after + 1000, (topic, ts, before, after)
            else:
                assert ts == 1_000_000 + i
    c.close()
