"""kafka-python (2.2.x) used the way tutorials use it."""
import json

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import (InvalidTopicError, KafkaTimeoutError, TopicAlreadyExistsError,
                          UnknownTopicOrPartitionError)

from conftest import wait_until
import wire


def consume_all(bootstrap, topic, n, **kw):
    """KafkaConsumer without a group: subscribe, read from earliest, stop after n records."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=10000, **kw)
    out = []
    try:
        for msg in consumer:
            out.append(msg)
            if len(out) >= n:
                break
    finally:
        consumer.close()
    return out


def test_producer_send_get_offsets_and_consumer_reads_back(broker):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    metas = [producer.send("tutorial", f"message {i}".encode()).get(timeout=10) for i in range(20)]
    producer.close()
    assert [(m.topic, m.partition, m.offset) for m in metas] == [("tutorial", 0, i) for i in range(20)]

    msgs = consume_all(broker.bootstrap, "tutorial", 20)
    assert [(m.topic, m.partition, m.offset, m.value) for m in msgs] == \
        [("tutorial", 0, i, f"message {i}".encode()) for i in range(20)]
    assert all(m.key is None for m in msgs)


def test_consumer_without_group_stops_at_timeout_with_exact_count(broker):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    futs = [producer.send("exact", key=b"k%d" % i, value=b"v%d" % i) for i in range(250)]
    producer.flush(10)
    assert sorted(f.get(timeout=10).offset for f in futs) == list(range(250))
    producer.close()
    consumer = KafkaConsumer("exact", bootstrap_servers=broker.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    msgs = list(consumer)  # iteration ends after 3 s without records
    consumer.close()
    assert [(m.offset, m.key, m.value) for m in msgs] == [(i, b"k%d" % i, b"v%d" % i) for i in range(250)]


def test_assign_and_seek(broker):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(10):
        producer.send("seeky", b"r%d" % i).get(timeout=10)
    producer.close()
    tp = TopicPartition("seeky", 0)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, consumer_timeout_ms=5000)
    consumer.assign([tp])
    consumer.seek(tp, 6)
    got = [(m.offset, m.value) for m in consumer]
    assert got == [(i, b"r%d" % i) for i in range(6, 10)]
    consumer.seek_to_beginning(tp)
    first = next(consumer)
    assert (first.offset, first.value) == (0, b"r0")
    assert consumer.end_offsets([tp]) == {tp: 10}
    assert consumer.beginning_offsets([tp]) == {tp: 0}
    consumer.close()


def test_json_serializers_round_trip(broker):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap,
                             key_serializer=lambda k: json.dumps(k).encode(),
                             value_serializer=lambda v: json.dumps(v).encode())
    docs = [{"id": i, "name": f"n{i}", "tags": ["a", "b"], "x": i / 3} for i in range(5)]
    for d in docs:
        producer.send("json", key={"id": d["id"]}, value=d).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer("json", bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=10000,
                             key_deserializer=lambda b: json.loads(b.decode()),
                             value_deserializer=lambda b: json.loads(b.decode()))
    got = []
    for m in consumer:
        got.append((m.offset, m.key, m.value))
        if len(got) == 5:
            break
    consumer.close()
    assert got == [(i, {"id": i}, d) for i, d in enumerate(docs)]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression_round_trip(broker, codec):
    topic = f"comp-{codec}"
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec, linger_ms=20,
                             batch_size=64 * 1024)
    values = [(f"{codec} value {i} " * 20).encode() for i in range(300)]
    futs = [producer.send(topic, key=b"%d" % i, value=v) for i, v in enumerate(values)]
    producer.flush(10)
    assert [f.get(timeout=10).offset for f in futs] == list(range(300))
    producer.close()
    msgs = consume_all(broker.bootstrap, topic, 300)
    assert [(m.offset, m.key, m.value) for m in msgs] == [(i, b"%d" % i, v) for i, v in enumerate(values)]


def test_admin_create_list_describe_partitions_delete(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic("adm", num_partitions=3, replication_factor=1)])
    assert "adm" in admin.list_topics()
    (desc,) = admin.describe_topics(["adm"])
    assert desc["topic"] == "adm" and desc["error_code"] == 0
    assert sorted(p["partition"] for p in desc["partitions"]) == [0, 1, 2]
    assert all(p["leader"] >= 0 for p in desc["partitions"])

    with pytest.raises(TopicAlreadyExistsError):
        admin.create_topics([NewTopic("adm", num_partitions=3, replication_factor=1)])

    admin.create_partitions({"adm": NewPartitions(total_count=5)})
    wait_until(lambda: len(admin.describe_topics(["adm"])[0]["partitions"]) == 5,
               what="5 partitions after create_partitions")

    # every partition accepts writes
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for p in range(5):
        assert producer.send("adm", b"x", partition=p).get(timeout=10).offset == 0
    producer.close()

    admin.delete_topics(["adm"])
    wait_until(lambda: "adm" not in admin.list_topics(), what="topic gone from list_topics")
    with pytest.raises(UnknownTopicOrPartitionError):
        admin.delete_topics(["adm"])
    admin.close()


def test_admin_describe_cluster(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    c = admin.describe_cluster()
    admin.close()
    assert len(c["brokers"]) == 1
    (b,) = c["brokers"]
    assert (b["host"], b["port"]) == ("127.0.0.1", broker.port)
    assert c["controller_id"] == b["node_id"]
    assert c["cluster_id"]


def test_auto_create_disabled_unknown_topic(start_broker):
    b = start_broker({"auto.create.topics.enable": "false"})
    # the broker answers the metadata request with UNKNOWN_TOPIC_OR_PARTITION ...
    with wire.Conn(b.port) as c:
        md = c.metadata(["nope"], allow_auto_create=True)
        assert [(t[0], t[1]) for t in md.topics] == [(wire.UNKNOWN_TOPIC_OR_PARTITION, "nope")]
        # ... and a produce straight to it with the same error
        err, _ = c.produce("nope", 0, wire.build_batch([b"x"]))
        assert err == wire.UNKNOWN_TOPIC_OR_PARTITION
    # kafka-python's producer keeps retrying metadata and gives up after max_block_ms
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, max_block_ms=2000)
    with pytest.raises(KafkaTimeoutError):
        producer.send("nope", b"x").get(timeout=10)
    producer.close()
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    assert "nope" not in admin.list_topics()
    admin.close()


def test_auto_create_enabled_uses_num_partitions(start_broker):
    b = start_broker({"num.partitions": "4"})
    producer = KafkaProducer(bootstrap_servers=b.bootstrap)
    assert producer.send("auto4", b"x").get(timeout=10).offset == 0
    assert producer.partitions_for("auto4") == {0, 1, 2, 3}
    producer.close()


def test_invalid_topic_name(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    with pytest.raises(InvalidTopicError):
        admin.create_topics([NewTopic("bad topic!", num_partitions=1, replication_factor=1)])
    assert "bad topic!" not in admin.list_topics()
    admin.close()
    # the broker itself rejects the name in a metadata request with auto-create on
    with wire.Conn(broker.port) as c:
        md = c.metadata(["bad topic!"], allow_auto_create=True)
        assert [(t[0], t[1]) for t in md.topics] == [(wire.INVALID_TOPIC_EXCEPTION, "bad topic!")]
    # kafka-python validates names client side before it reaches the broker
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    with pytest.raises((InvalidTopicError, ValueError)):
        producer.send("bad topic!", b"x").get(timeout=10)
    producer.close()
