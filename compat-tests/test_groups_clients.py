"""Consumer groups with the non-Java clients: kafka-python 2.2, confluent-kafka 2.12, aiokafka 0.12, kcat.

Written the way tutorials use them; Apache Kafka's behaviour is the expectation: a group member
resumes after the committed offset, committed() reports exactly what was committed, members of
one group split the partitions and every record is delivered once.
"""
import asyncio
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, ConsumerGroupType
from confluent_kafka import TopicPartition as CTopicPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from conftest import KIP848_OVERRIDES, KCAT, needs_kcat, produce_per_partition, require_kip848, wait_until
import wire


def expected(partitions, start, end):
    return sorted((p, o) for p in partitions for o in range(start, end))


# --- kafka-python ----------------------------------------------------------------------------

def kp_consumer(bootstrap, topic=None, group="g", **kw):
    args = (topic,) if topic else ()
    return KafkaConsumer(*args, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=kw.pop("enable_auto_commit", False), **kw)


def kp_poll_until(consumer, n, timeout=30, max_records=None):
    """poll() until at least n records arrived; returns [(partition, offset, value)] in delivery order."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} records within {timeout}s"
        for tp, msgs in consumer.poll(timeout_ms=200, max_records=max_records).items():
            got += [(m.partition, m.offset, m.value) for m in msgs]
    return got


def test_kafka_python_commit_then_second_consumer_resumes(gbroker):
    wire.create_topic(gbroker.port, "kp-resume")
    produce_per_partition(gbroker.bootstrap, "kp-resume", 1, 0, 50)
    tp = TopicPartition("kp-resume", 0)

    c1 = kp_consumer(gbroker.bootstrap, "kp-resume", group="kp-g", max_poll_records=7)
    first = kp_poll_until(c1, 20)
    c1.commit()
    n1 = len(first)
    assert first == [(0, i, b"p0-%d" % i) for i in range(n1)]
    assert c1.committed(tp) == n1
    c1.close()

    c2 = kp_consumer(gbroker.bootstrap, "kp-resume", group="kp-g")
    assert c2.committed(tp) == n1
    rest = kp_poll_until(c2, 50 - n1)
    assert rest == [(0, i, b"p0-%d" % i) for i in range(n1, 50)]
    c2.commit()
    assert c2.committed(tp) == 50
    assert c2.poll(timeout_ms=300) == {}

    # seek_to_beginning() on a group member re-reads from offset 0 although 50 is committed
    c2.seek_to_beginning()
    again = kp_poll_until(c2, 50)
    assert again[:50] == [(0, i, b"p0-%d" % i) for i in range(50)]
    assert c2.committed(tp) == 50  # seeking does not commit
    c2.close()

    admin = KafkaAdminClient(bootstrap_servers=gbroker.bootstrap)
    offsets = admin.list_consumer_group_offsets("kp-g")
    admin.close()
    assert {k: v.offset for k, v in offsets.items()} == {tp: 50}


def test_kafka_python_auto_commit_on_close(gbroker):
    wire.create_topic(gbroker.port, "kp-auto")
    produce_per_partition(gbroker.bootstrap, "kp-auto", 1, 0, 25)
    tp = TopicPartition("kp-auto", 0)
    c = kp_consumer(gbroker.bootstrap, "kp-auto", group="kp-auto-g", enable_auto_commit=True,
                    auto_commit_interval_ms=100)
    got = kp_poll_until(c, 25)
    assert got == [(0, i, b"p0-%d" % i) for i in range(25)]
    assert c.position(tp) == 25
    c.close()  # autocommit=True: commits the position

    probe = kp_consumer(gbroker.bootstrap, group="kp-auto-g")
    assert probe.committed(tp) == 25
    probe.close()
    admin = KafkaAdminClient(bootstrap_servers=gbroker.bootstrap)
    assert {k: v.offset for k, v in admin.list_consumer_group_offsets("kp-auto-g").items()} == {tp: 25}
    admin.close()


def test_kafka_python_two_consumers_split_four_partitions(gbroker):
    topic, parts = "kp-split", 4
    wire.create_topic(gbroker.port, topic, partitions=parts)
    produce_per_partition(gbroker.bootstrap, topic, parts, 0, 25)  # 100 before anyone joins
    members = []

    class Member(threading.Thread):
        def __init__(self, name):
            super().__init__(daemon=True, name=name)
            self.records, self.assignment, self.error, self.stop = [], set(), None, False
            self.c = kp_consumer(gbroker.bootstrap, topic, group="kp-split-g", session_timeout_ms=6000,
                                 heartbeat_interval_ms=1000, client_id=name)

        def run(self):
            try:
                while not self.stop:
                    batch = self.c.poll(timeout_ms=100)
                    for tp, msgs in batch.items():
                        self.records += [(m.partition, m.offset) for m in msgs]
                        assert all(m.value == b"p%d-%d" % (m.partition, m.offset) for m in msgs)
                    if batch:
                        self.c.commit()
                    self.assignment = {tp.partition for tp in self.c.assignment()}
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.error = e
            finally:
                self.c.close()

    try:
        for name in ("kp-a", "kp-b"):
            members.append(Member(name))
            members[-1].start()

        def settled():
            for m in members:
                assert m.error is None, m.error
            a, b = members
            return len(a.assignment) == 2 and len(b.assignment) == 2 and a.assignment | b.assignment == set(range(parts))
        wait_until(settled, timeout=45, what="2/2 split of 4 partitions")
        wait_until(lambda: settled() and sum(len(m.records) for m in members) >= 100, timeout=30,
                   what="the first 100 records")
        produce_per_partition(gbroker.bootstrap, topic, parts, 25, 10)  # 40 after the split
        wait_until(lambda: settled() and sum(len(m.records) for m in members) >= 140, timeout=30,
                   what="all 140 records")
        assert settled()
    finally:
        for m in members:
            m.stop = True
        for m in members:
            m.join(30)
    assert all(m.error is None for m in members), [m.error for m in members]
    everything = [r for m in members for r in m.records]
    assert len(everything) == len(set(everything)), "records delivered twice"
    assert sorted(everything) == expected(range(parts), 0, 35)
    for m in members:
        assert sorted(r for r in m.records if r[1] >= 25) == expected(m.assignment, 25, 35)

    admin = KafkaAdminClient(bootstrap_servers=gbroker.bootstrap)
    offsets = admin.list_consumer_group_offsets("kp-split-g")
    admin.close()
    assert {k.partition: v.offset for k, v in offsets.items()} == {p: 35 for p in range(parts)}


# --- confluent-kafka -------------------------------------------------------------------------

def ck_consumer(bootstrap, group, **conf):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False, **conf})


def ck_consume(c, n, timeout=30):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} messages within {timeout}s"
        for m in c.consume(num_messages=n - len(got), timeout=0.5):
            assert m.error() is None, m.error()
            got.append((m.partition(), m.offset(), m.value()))
    return got


def ck_committed(c, topic, parts):
    return {tp.partition: tp.offset for tp in c.committed([CTopicPartition(topic, p) for p in parts], timeout=15)}


def test_confluent_subscribe_commit_committed_and_resume(gbroker):
    wire.create_topic(gbroker.port, "ck-resume", partitions=2)
    produce_per_partition(gbroker.bootstrap, "ck-resume", 2, 0, 15)
    c = ck_consumer(gbroker.bootstrap, "ck-g")
    c.subscribe(["ck-resume"])
    got = ck_consume(c, 30)
    assert sorted(got) == [(p, o, b"p%d-%d" % (p, o)) for p in range(2) for o in range(15)]
    res = c.commit(asynchronous=False)
    assert sorted((tp.partition, tp.offset, tp.error) for tp in res) == [(0, 15, None), (1, 15, None)]
    assert ck_committed(c, "ck-resume", [0, 1]) == {0: 15, 1: 15}
    c.close()

    produce_per_partition(gbroker.bootstrap, "ck-resume", 2, 15, 5)
    c2 = ck_consumer(gbroker.bootstrap, "ck-g")
    assert ck_committed(c2, "ck-resume", [0, 1]) == {0: 15, 1: 15}
    c2.subscribe(["ck-resume"])
    got = ck_consume(c2, 10)
    assert sorted(got) == [(p, o, b"p%d-%d" % (p, o)) for p in range(2) for o in range(15, 20)]
    assert c2.consume(num_messages=10, timeout=0.5) == []
    c2.commit(asynchronous=False)
    assert ck_committed(c2, "ck-resume", [0, 1]) == {0: 20, 1: 20}
    c2.close()


@pytest.mark.parametrize("strategy", ["range,roundrobin", "cooperative-sticky"])
def test_confluent_two_consumers_split_partitions(gbroker, strategy):
    topic, parts = "ck-split", 4
    wire.create_topic(gbroker.port, topic, partitions=parts)
    produce_per_partition(gbroker.bootstrap, topic, parts, 0, 10)
    conf = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000, "partition.assignment.strategy": strategy}
    cs = [ck_consumer(gbroker.bootstrap, "ck-split-g", **conf, **{"client.id": f"ck-{i}"}) for i in range(2)]
    records = [[], []]
    try:
        for c in cs:
            c.subscribe([topic])

        def pump():
            for i, c in enumerate(cs):
                msgs = c.consume(num_messages=100, timeout=0.1)
                for m in msgs:
                    assert m.error() is None, m.error()
                    assert m.value() == b"p%d-%d" % (m.partition(), m.offset())
                    records[i].append((m.partition(), m.offset()))
                if msgs:
                    c.commit(asynchronous=False)

        def assignments():
            return [sorted(tp.partition for tp in c.assignment()) for c in cs]

        def settled():
            pump()
            a, b = assignments()
            return len(a) == 2 and len(b) == 2 and sorted(a + b) == list(range(parts)) and sum(map(len, records)) >= 40
        wait_until(settled, timeout=45, interval=0, what="2/2 split and the first 40 records")
        split = assignments()
        produce_per_partition(gbroker.bootstrap, topic, parts, 10, 10)
        wait_until(lambda: settled() and sum(map(len, records)) >= 80, timeout=30, interval=0, what="all 80 records")
        assert assignments() == split
        everything = records[0] + records[1]
        assert len(everything) == len(set(everything)), "records delivered twice"
        assert sorted(everything) == expected(range(parts), 0, 20)
        for i in range(2):
            assert sorted(r for r in records[i] if r[1] >= 10) == expected(split[i], 10, 20)
        assert ck_committed(cs[0], topic, range(parts)) == {p: 20 for p in range(parts)}
    finally:
        for c in cs:
            c.close()


def test_confluent_committed_offsets_survive_broker_sigkill(gbroker):
    wire.create_topic(gbroker.port, "ck-dur", partitions=2)
    produce_per_partition(gbroker.bootstrap, "ck-dur", 2, 0, 20)
    c = ck_consumer(gbroker.bootstrap, "ck-dur-g")
    c.subscribe(["ck-dur"])
    ck_consume(c, 40)
    c.commit(offsets=[CTopicPartition("ck-dur", 0, 7), CTopicPartition("ck-dur", 1, 13)], asynchronous=False)
    assert ck_committed(c, "ck-dur", [0, 1]) == {0: 7, 1: 13}
    c.close()

    gbroker.restart(kill=True)

    c = ck_consumer(gbroker.bootstrap, "ck-dur-g")
    assert ck_committed(c, "ck-dur", [0, 1]) == {0: 7, 1: 13}
    c.subscribe(["ck-dur"])
    got = ck_consume(c, 13 + 7)
    assert sorted(got) == sorted([(0, o, b"p0-%d" % o) for o in range(7, 20)] + [(1, o, b"p1-%d" % o) for o in range(13, 20)])
    assert c.consume(num_messages=10, timeout=0.5) == []
    c.close()


def test_confluent_admin_list_and_describe_groups(gbroker):
    wire.create_topic(gbroker.port, "ck-adm", partitions=3)
    produce_per_partition(gbroker.bootstrap, "ck-adm", 3, 0, 2)
    c = ck_consumer(gbroker.bootstrap, "ck-adm-g", **{"client.id": "ck-adm-client"})
    c.subscribe(["ck-adm"])
    try:
        ck_consume(c, 6)
        c.commit(asynchronous=False)
        admin = AdminClient({"bootstrap.servers": gbroker.bootstrap})
        listed = admin.list_consumer_groups(request_timeout=15).result(timeout=20)
        assert listed.errors == []
        mine = [g for g in listed.valid if g.group_id == "ck-adm-g"]
        assert len(mine) == 1, listed.valid
        assert mine[0].state == ConsumerGroupState.STABLE
        assert mine[0].is_simple_consumer_group is False
        assert mine[0].type == ConsumerGroupType.CLASSIC

        d = admin.describe_consumer_groups(["ck-adm-g"], request_timeout=15)["ck-adm-g"].result(timeout=20)
        assert d.group_id == "ck-adm-g"
        assert d.state == ConsumerGroupState.STABLE
        assert d.type == ConsumerGroupType.CLASSIC
        assert d.is_simple_consumer_group is False
        assert d.partition_assignor == "range"
        assert d.coordinator.port == gbroker.port
        (m,) = d.members
        assert m.client_id == "ck-adm-client"
        assert m.member_id == c.memberid()
        assert "127.0.0.1" in m.host
        assert sorted((tp.topic, tp.partition) for tp in m.assignment.topic_partitions) == \
            [("ck-adm", 0), ("ck-adm", 1), ("ck-adm", 2)]
    finally:
        c.close()
    wait_until(lambda: admin.describe_consumer_groups(["ck-adm-g"])["ck-adm-g"].result(timeout=20).state
               == ConsumerGroupState.EMPTY, timeout=15, what="group Empty after close")
    d = admin.describe_consumer_groups(["ck-adm-g"])["ck-adm-g"].result(timeout=20)
    assert d.members == []

    # offsets through librdkafka's admin API: list, alter (group empty), delete the group
    from confluent_kafka import ConsumerGroupTopicPartitions
    res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("ck-adm-g")])["ck-adm-g"].result(timeout=20)
    assert sorted((tp.topic, tp.partition, tp.offset) for tp in res.topic_partitions) == \
        [("ck-adm", p, 2) for p in range(3)]
    res = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(
        "ck-adm-g", [CTopicPartition("ck-adm", 0, 0), CTopicPartition("ck-adm", 2, 1)])])["ck-adm-g"].result(timeout=20)
    assert sorted((tp.partition, tp.offset, tp.error) for tp in res.topic_partitions) == [(0, 0, None), (2, 1, None)]
    res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("ck-adm-g")])["ck-adm-g"].result(timeout=20)
    assert sorted((tp.partition, tp.offset) for tp in res.topic_partitions) == [(0, 0), (1, 2), (2, 1)]
    assert admin.delete_consumer_groups(["ck-adm-g"], request_timeout=15)["ck-adm-g"].result(timeout=20) is None
    listed = admin.list_consumer_groups(request_timeout=15).result(timeout=20)
    assert "ck-adm-g" not in [g.group_id for g in listed.valid]


def test_confluent_kip848_two_consumers(start_broker):
    b = start_broker(KIP848_OVERRIDES)
    require_kip848(b)
    topic, parts = "ck-848", 4
    wire.create_topic(b.port, topic, partitions=parts)
    cs = [ck_consumer(b.bootstrap, "ck-848-g", **{"group.protocol": "consumer", "client.id": f"ck848-{i}"})
          for i in range(2)]
    records = [[], []]
    try:
        for c in cs:
            c.subscribe([topic])

        def pump():
            for i, c in enumerate(cs):
                msgs = c.consume(num_messages=100, timeout=0.1)
                for m in msgs:
                    assert m.error() is None, m.error()
                    records[i].append((m.partition(), m.offset()))
                if msgs:
                    c.commit(asynchronous=False)

        def assignments():
            return [sorted(tp.partition for tp in c.assignment()) for c in cs]

        def settled():
            pump()
            a, b_ = assignments()
            return len(a) == 2 and len(b_) == 2 and sorted(a + b_) == list(range(parts))
        wait_until(settled, timeout=45, interval=0, what="2/2 split under group.protocol=consumer")
        split = assignments()
        produce_per_partition(b.bootstrap, topic, parts, 0, 10)
        wait_until(lambda: settled() and sum(map(len, records)) >= 40, timeout=30, interval=0, what="40 records")
        assert assignments() == split
        for i in range(2):
            assert sorted(records[i]) == expected(split[i], 0, 10)
        assert ck_committed(cs[0], topic, range(parts)) == {p: 10 for p in range(parts)}
        admin = AdminClient({"bootstrap.servers": b.bootstrap})  # keep a reference until the future completes
        d = admin.describe_consumer_groups(["ck-848-g"])["ck-848-g"].result(timeout=20)
        assert d.type == ConsumerGroupType.CONSUMER
        assert d.state == ConsumerGroupState.STABLE
        assert sorted(m.client_id for m in d.members) == ["ck848-0", "ck848-1"]
    finally:
        for c in cs:
            c.close()


# --- aiokafka ----------------------------------------------------------------------------------

def test_aiokafka_group_commit_and_resume(gbroker):
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as ATP

    wire.create_topic(gbroker.port, "aio-g")
    produce_per_partition(gbroker.bootstrap, "aio-g", 1, 0, 40)
    tp = ATP("aio-g", 0)

    async def consume(n, max_records):
        c = AIOKafkaConsumer("aio-g", bootstrap_servers=gbroker.bootstrap, group_id="aio-group",
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        got = []
        try:
            committed_at_start = await c.committed(tp)
            while len(got) < n:
                batches = await c.getmany(timeout_ms=500, max_records=max_records)
                for _tp, msgs in batches.items():
                    got += [(m.partition, m.offset, m.value) for m in msgs]
            await c.commit()
            committed_at_end = await c.committed(tp)
        finally:
            await c.stop()
        return committed_at_start, got, committed_at_end

    start, first, end = asyncio.run(asyncio.wait_for(consume(15, 5), 60))
    n1 = len(first)
    assert start is None
    assert first == [(0, i, b"p0-%d" % i) for i in range(n1)]
    assert end == n1
    start, rest, end = asyncio.run(asyncio.wait_for(consume(40 - n1, None), 60))
    assert start == n1
    assert rest == [(0, i, b"p0-%d" % i) for i in range(n1, 40)]
    assert end == 40


# --- kcat ----------------------------------------------------------------------------------------

@needs_kcat
def test_kcat_balanced_consumer(gbroker):
    topic = "kc-group"
    wire.create_topic(gbroker.port, topic, partitions=2)
    produce_per_partition(gbroker.bootstrap, topic, 2, 0, 15)

    def kcat_g(count):
        r = subprocess.run([KCAT, "-b", gbroker.bootstrap, "-G", "kc-g", "-X", "auto.offset.reset=earliest",
                            "-c", str(count), "-e", "-q", "-f", "%p %o %s\\n", topic],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return sorted(tuple(l.split(" ")) for l in r.stdout.decode().splitlines())

    assert kcat_g(30) == sorted((str(p), str(o), f"p{p}-{o}") for p in range(2) for o in range(15))
    produce_per_partition(gbroker.bootstrap, topic, 2, 15, 3)
    # the second run resumes after what the first committed on exit
    assert kcat_g(6) == sorted((str(p), str(o), f"p{p}-{o}") for p in range(2) for o in range(15, 18))

    admin = KafkaAdminClient(bootstrap_servers=gbroker.bootstrap)
    offsets = admin.list_consumer_group_offsets("kc-g")
    admin.close()
    assert {k.partition: v.offset for k, v in offsets.items()} == {0: 18, 1: 18}
