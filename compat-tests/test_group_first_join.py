"""Consumers that join an empty group together land in one generation, as on Apache Kafka.

Kafka completes an empty group's first join from its timer even with
group.initial.rebalance.delay.ms=0, so JoinGroups that arrive together (a service or a test
starting two or three consumers back to back) share the first generation: each member's first
rebalance event is its own assignment, and nothing is revoked. Java kafka-clients 4.3
(threads of one JVM, java/JoinTogether.java) and confluent-kafka, dynamic and static members.
"""
import threading
import time

import pytest
from confluent_kafka import Consumer

from conftest import create_topics, produce_per_partition

PARTITIONS = 6
PER_PARTITION = 5


def filled_topic(broker, topic):
    create_topics(broker.bootstrap, topic, partitions=PARTITIONS)
    produce_per_partition(broker.bootstrap, topic, PARTITIONS, 0, PER_PARTITION)


def check_one_generation(assigned, revoked, records, n):
    """assigned: {consumer: [(generation, [partitions])]}; revoked: {consumer: [[partitions]]};
    records: [(consumer, partition, offset)]."""
    assert sorted(assigned) == list(range(n)), f"every consumer got an assignment: {assigned}"
    for c, events in assigned.items():
        assert len(events) == 1, f"consumer {c}: one assignment event, got {events}"
    assert not any(revoked.values()), f"nothing revoked: {revoked}"
    generations = {events[0][0] for events in assigned.values()}
    assert len(generations) == 1, f"one generation: {assigned}"
    owned = [p for events in assigned.values() for p in events[0][1]]
    assert sorted(owned) == list(range(PARTITIONS)), f"the partitions split among all: {assigned}"
    for c, events in assigned.items():
        assert events[0][1], f"consumer {c} got partitions"
    got = sorted((p, o) for _, p, o in records)
    assert got == [(p, o) for p in range(PARTITIONS) for o in range(PER_PARTITION)], "every record once"
    for c, p, _ in records:
        assert p in assigned[c][0][1], f"consumer {c} read partition {p} it does not own"


def parse_java(out):
    assigned, revoked, records = {}, {}, []
    for line in out.splitlines():
        f = line.split(" ")
        if f[0] == "ASSIGNED":
            parts = [int(x) for x in f[3].split(",")] if len(f) > 3 and f[3] else []
            assigned.setdefault(int(f[1]), []).append((int(f[2]), parts))
        elif f[0] == "REVOKED":
            revoked.setdefault(int(f[1]), []).append([int(x) for x in f[2].split(",")])
        elif f[0] == "REC":
            records.append((int(f[1]), int(f[2]), int(f[3])))
    return assigned, revoked, records


@pytest.mark.parametrize("n,membership", [(2, "dynamic"), (3, "dynamic"), (3, "static")])
def test_java_consumers_started_together_share_the_first_generation(gbroker, run_java, n, membership):
    topic = f"together-java-{n}-{membership}"
    filled_topic(gbroker, topic)
    out = run_java("JoinTogether", gbroker.bootstrap, topic, f"g-{topic}", n, membership,
                   PARTITIONS * PER_PARTITION)
    assert "DONE" in out, out
    check_one_generation(*parse_java(out), n)


@pytest.mark.parametrize("n,membership", [(2, "dynamic"), (3, "dynamic"), (3, "static")])
def test_confluent_consumers_started_together_share_the_first_generation(gbroker, n, membership):
    topic = f"together-ck-{n}-{membership}"
    filled_topic(gbroker, topic)
    group = f"g-{topic}"
    lock = threading.Lock()
    assigned, revoked, records = {}, {}, []
    consumers = []
    for i in range(n):
        conf = {"bootstrap.servers": gbroker.bootstrap, "group.id": group,
                "auto.offset.reset": "earliest", "enable.auto.commit": False}
        if membership == "static":
            conf["group.instance.id"] = f"{group}-member-{i}"
        c = Consumer(conf)

        def on_assign(consumer, parts, i=i):
            with lock:
                assigned.setdefault(i, []).append((consumer.memberid(), sorted(p.partition for p in parts)))

        def on_revoke(consumer, parts, i=i):
            if parts:
                with lock:
                    revoked.setdefault(i, []).append(sorted(p.partition for p in parts))

        c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        consumers.append(c)
    try:
        deadline = time.monotonic() + 60
        while len(records) < PARTITIONS * PER_PARTITION or len(assigned) < n:
            assert time.monotonic() < deadline, f"only {len(records)} records; assigned {assigned}"
            for i, c in enumerate(consumers):
                m = c.poll(0.01)
                if m is not None and m.error() is None:
                    records.append((i, m.partition(), m.offset()))
        # librdkafka reports no generation in its callbacks; its member ids stand in.
        gens = {i: [(0, parts) for _, parts in events] for i, events in assigned.items()}
        check_one_generation(gens, revoked, records, n)
    finally:
        for c in consumers:
            c.close()


def test_lone_consumer_reads_at_once(gbroker, run_java):
    """A lone consumer is not held back waiting for company: it gets every partition in its
    first generation and reads every record (how fast: scripts/bench.sh)."""
    topic = "together-alone"
    filled_topic(gbroker, topic)
    out = run_java("JoinTogether", gbroker.bootstrap, topic, f"g-{topic}", 1, "dynamic",
                   PARTITIONS * PER_PARTITION)
    assigned, revoked, records = parse_java(out)
    check_one_generation(assigned, revoked, records, 1)
    assert assigned[0][0][0] == 1, "the first generation"
