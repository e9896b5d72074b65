"""A user's test file: what a project gets from `pip install fjord-broker` and kafka-python.

compat-tests/test_wheel.py runs it in a fresh virtualenv holding only the built wheel, kafka-python
and pytest; the fixtures `fjord_bootstrap`, `fjord_broker` and `fresh_topic` come from the
package's pytest plugin (no conftest.py here). It is not collected by the compat suite itself.
"""
import time

import fjord
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType


def produce(bootstrap, topic, records, **conf):
    """Send (key, value) pairs in order; returns [(partition, offset)] as acknowledged."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, **conf)
    try:
        futures = [producer.send(topic, key=k, value=v) for k, v in records]
        producer.flush(30)
        return [(md.partition, md.offset) for md in (f.get(timeout=30) for f in futures)]
    finally:
        producer.close()


def consume(bootstrap, topic, n, partition=0, timeout=30.0):
    """Read exactly n records of one partition from its beginning: [(offset, key, value)]."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    out = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out += [(r.offset, r.key, r.value) for r in records]
    finally:
        consumer.close()
    return out


def test_produce_and_consume(fjord_bootstrap, fresh_topic):
    topic = fresh_topic()
    acks = produce(fjord_bootstrap, topic, [(b"k1", b"one"), (b"k2", b"two"), (None, b"three")])
    assert acks == [(0, 0), (0, 1), (0, 2)]
    assert consume(fjord_bootstrap, topic, 3) == [(0, b"k1", b"one"), (1, b"k2", b"two"), (2, None, b"three")]


def test_fresh_topic_names_and_partitions(fjord_broker, fjord_bootstrap, fresh_topic):
    three = fresh_topic(partitions=3)
    one = fresh_topic()
    assert three != one
    assert three.startswith("test_fresh_topic_names_and_partitions-")
    consumer = KafkaConsumer(bootstrap_servers=fjord_bootstrap)
    try:
        assert consumer.partitions_for_topic(three) == {0, 1, 2}
        assert consumer.partitions_for_topic(one) == {0}
    finally:
        consumer.close()
    producer = KafkaProducer(bootstrap_servers=fjord_bootstrap)
    try:
        md = producer.send(three, value=b"to two", partition=2).get(timeout=30)
    finally:
        producer.close()
    assert (md.partition, md.offset) == (2, 0)
    assert consume(fjord_bootstrap, three, 1, partition=2) == [(0, None, b"to two")]


def test_fresh_topic_configs(fjord_broker, fresh_topic):
    topic = fresh_topic(configs={"cleanup.policy": "compact", "retention.ms": 60000})
    configs = {c["name"]: c for c in fjord_broker.api("GET", f"/api/v1/topics/{topic}")["configs"]}
    assert (configs["cleanup.policy"]["value"], configs["cleanup.policy"]["source"]) == ("compact", "DYNAMIC_TOPIC_CONFIG")
    assert configs["retention.ms"]["value"] == "60000"


def test_consumer_group_commits_and_the_broker_skips_the_rebalance_delay(fjord_bootstrap, fresh_topic):
    # fjord.TEST_DEFAULTS sets group.initial.rebalance.delay.ms=0: a group's first member gets
    # its partitions at once instead of after Kafka's default 3 s.
    admin = KafkaAdminClient(bootstrap_servers=fjord_bootstrap)
    try:
        [answer] = admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, "1", configs={"group.initial.rebalance.delay.ms": None})])
    finally:
        admin.close()
    [(_, _, _, _, entries)] = answer.resources
    assert [(e[0], e[1]) for e in entries] == [("group.initial.rebalance.delay.ms", "0")]

    topic = fresh_topic(partitions=2)
    produce(fjord_bootstrap, topic, [(None, b"a")], partitioner=lambda key, all_parts, available: 1)
    consumer = KafkaConsumer(topic, bootstrap_servers=fjord_bootstrap, group_id=f"{topic}-group",
                             auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        seen = []
        deadline = time.monotonic() + 30
        while not seen and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                seen += [(r.partition, r.offset, r.value) for r in records]
        assert seen == [(1, 0, b"a")]
        consumer.commit()
        assert consumer.committed(TopicPartition(topic, 1)) == 1
    finally:
        consumer.close()


def test_a_second_broker_in_the_same_session(fjord_broker, fjord_bootstrap):
    with fjord.Broker() as other:
        assert other.bootstrap_servers != fjord_bootstrap
        assert other.http_url != fjord_broker.http_url
        topic = other.create_topic("only-on-the-other")
        assert produce(other.bootstrap_servers, topic, [(b"k", b"v")]) == [(0, 0)]
        assert consume(other.bootstrap_servers, topic, 1) == [(0, b"k", b"v")]
        names = {t["name"] for t in fjord_broker.api("GET", "/api/v1/topics")["topics"]}
        assert topic not in names
        directory = other.directory
        pids = [n.pid for n in other.nodes]
    assert not directory.exists()
    assert all(not n.alive() for n in other.nodes) and len(pids) == 1


def test_overrides(fresh_topic):
    overrides = {"num.partitions": 4, "auto.create.topics.enable": True, "message.max.bytes": 2048}
    with fjord.Broker(overrides) as b:
        # Auto-created by the producer's metadata request, with the overridden partition count.
        assert produce(b.bootstrap_servers, "auto-created", [(None, b"x")],
                       partitioner=lambda key, all_parts, available: 3) == [(3, 0)]
        consumer = KafkaConsumer(bootstrap_servers=b.bootstrap_servers)
        try:
            assert consumer.partitions_for_topic("auto-created") == {0, 1, 2, 3}
        finally:
            consumer.close()
        broker_config = {c["name"]: c["value"] for c in b.api("GET", "/api/v1/topics/auto-created")["configs"]}
        assert broker_config["max.message.bytes"] == "2048"
        # fresh_topic can target a Broker of the test's own.
        assert len(b.api("GET", f"/api/v1/topics/{fresh_topic(partitions=2, broker=b)}")["partitions"]) == 2


def test_cluster_of_three(fresh_topic):
    with fjord.Broker(cluster=3) as c:
        servers = c.bootstrap_servers.split(",")
        assert len(servers) == 3 and len(set(servers)) == 3
        assert len(c.api("GET", "/api/v1/cluster")["brokers"]) == 3
        topic = fresh_topic(partitions=3, broker=c)
        described = c.api("GET", f"/api/v1/topics/{topic}")["partitions"]
        assert [len(p["replicas"]) for p in described] == [3, 3, 3]
        # Written through node 3 alone with acks=all, read through node 1 alone.
        records = [(b"k%d" % i, b"v%d" % i) for i in range(6)]
        acks = produce(servers[2], topic, records, acks="all",
                       partitioner=lambda key, all_parts, available: int(key[1:]) % 3)
        assert acks == [(i % 3, i // 3) for i in range(6)]
        for p in range(3):
            assert consume(servers[0], topic, 2, partition=p) == [
                (o, b"k%d" % (p + 3 * o), b"v%d" % (p + 3 * o)) for o in range(2)]


# README.md's example ("Use it in tests"), as it stands there.
def test_orders_round_trip(fjord_bootstrap, fresh_topic):
    topic = fresh_topic(partitions=1)
    producer = KafkaProducer(bootstrap_servers=fjord_bootstrap)
    assert producer.send(topic, b"order-1").get(timeout=10).offset == 0
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=fjord_bootstrap, consumer_timeout_ms=10000)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    record = next(consumer)
    assert (record.offset, record.value) == (0, b"order-1")
