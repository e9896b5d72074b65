"""A 3-node fjord cluster (KRaft combined mode, Kafka's own config keys) driven by real clients.

Every test starts three fjord processes (`start_cluster` / `cluster` in conftest.py: node ids
1..3, process.roles=broker,controller, a static controller.quorum.voters over each node's
CONTROLLER listener, broker.session.timeout.ms=2000), talks to them with kafka-python,
confluent-kafka and the Java client (java/ClusterClients.java), and stops them.

Apache Kafka's behaviour is the expectation:
- Metadata and DescribeCluster from any node list the live (unfenced) brokers; a broker silent
  for broker.session.timeout.ms is fenced and drops out; a partition whose only in-sync replica
  is fenced has leader -1 (LEADER_NOT_AVAILABLE) and lists that replica as offline.
- CreateTopics places partitions over the live brokers, leader = first replica, honours an
  explicit replica assignment, and refuses RF > brokers with INVALID_REPLICATION_FACTOR (38).
- A request for a partition another broker leads gets NOT_LEADER_OR_FOLLOWER (6), and clients
  follow Metadata to the leader, so one bootstrap address is enough.
- A group's coordinator is the leader of __consumer_offsets partition
  abs(groupId.hashCode()) % offsets.topic.num.partitions, whichever node is asked.

Data replication is the next step (issue 9 only forms the cluster): the ISR of a new partition
is not asserted beyond "it contains the leader and only replicas".
"""
import collections
import re
import subprocess
import time

import kafka.errors
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.admin import NewTopic as CNewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.protocol.admin import (AlterConfigsRequest_v1, CreatePartitionsRequest_v1, CreateTopicsRequest_v2,
                                  DeleteTopicsRequest_v1, DescribeConfigsRequest_v1)

import conftest
from conftest import (CLUSTER_OVERRIDES, FJORD_BIN, GROUP_OVERRIDES, free_port, node_metadata, partition_for,
                      produce, produce_per_partition, wait_until)
import wire

NOT_LEADER_OR_FOLLOWER = 6
LEADER_NOT_AVAILABLE = 5
INVALID_REPLICATION_FACTOR = 38
SESSION_TIMEOUT_S = int(CLUSTER_OVERRIDES["broker.session.timeout.ms"]) / 1000


# --- helpers --------------------------------------------------------------------------------

def kp_admin(node):
    return KafkaAdminClient(bootstrap_servers=node.bootstrap, request_timeout_ms=15000)


def create_topic(cluster, node, name, partitions, rf, assignment=None):
    """Create a topic with kafka-python's admin client bootstrapped from `node`; wait until
    every live node knows it with a leader for every partition; {partition: PartitionMeta}."""
    admin = kp_admin(node)
    try:
        if assignment is None:
            topic = NewTopic(name, partitions, rf)
        else:
            topic = NewTopic(name, -1, -1, replica_assignments=assignment)
        resp = admin.create_topics([topic], timeout_ms=15000)
        assert [(t, e) for t, e, *_ in resp.topic_errors] == [(name, 0)], resp
    finally:
        admin.close()
    return cluster.wait_leaders(name, partitions)


def raw_create_topic(node, name, partitions, rf):
    """CreateTopics v2 sent to this very node (clients send admin requests to the controller)."""
    with wire.Conn(node.port) as c:
        r = c.request(CreateTopicsRequest_v2(create_topic_requests=[(name, partitions, rf, [], [])],
                                             timeout=15000, validate_only=False), timeout=20)
    (t, code, msg), = r.topic_errors
    assert t == name
    return code, msg


def leaders(parts):
    return {p: m.leader for p, m in parts.items()}


def data_dirs(node, topic):
    """The partition directories of `topic` in the node's log dir, as partition numbers."""
    out = set()
    for d in node.log_dir.iterdir():
        head, _, tail = d.name.rpartition("-")
        if d.is_dir() and head == topic and tail.isdigit():
            out.add(int(tail))
    return out


def consume_all(bootstrap, topic, partitions, n, timeout=30, **conf):
    """confluent-kafka: assign every partition from the beginning, read exactly n records;
    [(partition, offset, key, value)] sorted by (partition, offset)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cluster-assign",
                  "enable.auto.commit": False, "enable.partition.eof": False, **conf})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            for m in c.consume(num_messages=n - len(out), timeout=0.5):
                assert not m.error(), f"consume error: {m.error()}"
                out.append((m.partition(), m.offset(), m.key(), m.value()))
        # nothing beyond n
        extra = [m for m in c.consume(num_messages=10, timeout=0.5) if not m.error()]
        assert not extra, f"records beyond the {n} expected: {[(m.partition(), m.offset()) for m in extra]}"
    finally:
        c.close()
    assert len(out) == n, f"read {len(out)} of {n} records from {topic} via {bootstrap}"
    return sorted(out)


def assert_dense_offsets(records, partitions):
    """records [(partition, offset, ...)]: every partition holds offsets 0..k-1 and none is empty."""
    by_part = collections.defaultdict(list)
    for r in records:
        by_part[r[0]].append(r[1])
    assert sorted(by_part) == list(range(partitions)), f"partitions with records: {sorted(by_part)}"
    for p, offs in by_part.items():
        assert sorted(offs) == list(range(len(offs))), f"partition {p} offsets {sorted(offs)}"


def find_coordinator(node, key, key_type):
    """FindCoordinator v2 sent to this node: (error, node id, host, port)."""
    r = conftest.find_coordinator(node.port, key, key_type)
    return r.error_code, r.coordinator_id, r.host, r.port


# --- 1. formation ---------------------------------------------------------------------------

def test_formation_every_node_lists_the_same_three_brokers(cluster, run_java):
    want = {n.node_id: ("127.0.0.1", n.port) for n in cluster.nodes}
    # Metadata straight from each node
    mds = [node_metadata(n.port) for n in cluster.nodes]
    assert [md.brokers for md in mds] == [want] * 3
    controller = mds[0].controller_id
    cluster_id = mds[0].cluster_id
    assert controller in want
    assert [(md.controller_id, md.cluster_id) for md in mds] == [(controller, cluster_id)] * 3
    assert isinstance(cluster_id, str) and len(cluster_id) == 22, cluster_id

    for n in cluster.nodes:
        # kafka-python (Metadata)
        admin = kp_admin(n)
        try:
            d = admin.describe_cluster()
        finally:
            admin.close()
        assert {b["node_id"]: (b["host"], b["port"]) for b in d["brokers"]} == want
        assert (d["controller_id"], d["cluster_id"]) == (controller, cluster_id)

        # confluent-kafka: Metadata, and DescribeCluster (API 60)
        ca = AdminClient({"bootstrap.servers": n.bootstrap})
        md = ca.list_topics(timeout=10)
        assert {b.id: (b.host, b.port) for b in md.brokers.values()} == want
        assert (md.controller_id, md.cluster_id) == (controller, cluster_id)
        dc = ca.describe_cluster(request_timeout=10).result(timeout=15)
        assert {b.id: (b.host, b.port) for b in dc.nodes} == want
        assert (dc.controller.id, dc.cluster_id) == (controller, cluster_id)

        # Java Admin.describeCluster (DescribeCluster)
        out = run_java("ClusterClients", "describe", n.bootstrap).splitlines()
        assert out[-1] == "OK", out
        assert [l for l in out if l.startswith(("CLUSTER ", "NODE "))] == \
            [f"CLUSTER {cluster_id} {controller}"] + [f"NODE {i} {h} {p}" for i, (h, p) in sorted(want.items())]

        # the data dir: Kafka's meta.properties and metadata log directory
        meta = dict(l.split("=", 1) for l in (n.log_dir / "meta.properties").read_text().splitlines()
                    if "=" in l and not l.startswith("#"))
        assert (meta["node.id"], meta["cluster.id"]) == (str(n.node_id), cluster_id)
        assert (n.log_dir / "__cluster_metadata-0").is_dir()


def test_describe_quorum_as_kafka_metadata_quorum_shows_it(cluster, run_java):
    """Admin.describeMetadataQuorum (kafka-metadata-quorum.sh describe --status) from every
    node: the same leader (the active controller) and epoch, three voters, each voter caught
    up to the high watermark, and the voters' CONTROLLER endpoints."""
    controller = node_metadata(cluster.node(1).port).controller_id
    answers = []
    for n in cluster.nodes:
        out = run_java("ClusterClients", "quorum", n.bootstrap).splitlines()
        assert out[-1] == "OK", out
        leader = next(l.split() for l in out if l.startswith("LEADER "))
        voters = [l.split() for l in out if l.startswith("VOTER ")]
        endpoints = [l for l in out if l.startswith("ENDPOINT ")]
        assert int(leader[1]) == controller, out
        epoch, hw = int(leader[2]), int(leader[3])
        assert epoch >= 1 and hw >= 4, out  # the membership, a blank entry, 3 registrations
        assert [int(v[1]) for v in voters] == [1, 2, 3], out
        assert all(int(v[2]) >= hw for v in voters), out
        assert [e.split()[1] for e in endpoints] == ["1", "2", "3"], out
        for e, node in zip(endpoints, sorted(cluster.nodes, key=lambda x: x.node_id)):
            assert f"CONTROLLER://127.0.0.1:{node.controller_port}" in e, (e, node.controller_port)
        answers.append((int(leader[1]), epoch))
    assert len(set(answers)) == 1, answers


# --- 2. placement ---------------------------------------------------------------------------

def test_placement_spreads_replicas_and_leaders(cluster):
    spread = create_topic(cluster, cluster.node(2), "spread", 6, 3)
    single = create_topic(cluster, cluster.node(2), "single", 3, 1)

    assert sorted(spread) == list(range(6))
    for p, m in spread.items():
        assert len(m.replicas) == 3 and set(m.replicas) == {1, 2, 3}, m
        assert m.leader == m.replicas[0], m
        assert m.leader in m.isr and set(m.isr) <= set(m.replicas), m
    assert collections.Counter(leaders(spread).values()) == {1: 2, 2: 2, 3: 2}, spread

    assert sorted(single) == [0, 1, 2]
    assert sorted(m.leader for m in single.values()) == [1, 2, 3], single
    assert all(m.replicas == [m.leader] and m.isr == [m.leader] for m in single.values()), single

    # every node agrees, and hosts exactly the partitions it is a replica of
    for n in cluster.nodes:
        md = node_metadata(n.port, ["spread", "single"])
        assert {p: (m.leader, m.replicas) for p, m in md.topics["spread"].items()} == \
            {p: (m.leader, m.replicas) for p, m in spread.items()}
        assert {p: (m.leader, m.replicas) for p, m in md.topics["single"].items()} == \
            {p: (m.leader, m.replicas) for p, m in single.items()}
        wait_until(lambda: data_dirs(n, "spread") == set(range(6))
                   and data_dirs(n, "single") == {p for p, m in single.items() if m.leader == n.node_id},
                   what=f"node {n.node_id}'s partition directories")


def test_topic_description_in_kafka_topics_shape(cluster, run_java):
    """Admin.describeTopics, the call kafka-topics.sh --describe makes, printed in the tool's
    Leader/Replicas/Isr line shape: each partition of an RF 3 topic with its leader first among
    its replicas and the leader in sync."""
    parts = create_topic(cluster, cluster.node(1), "shape", 3, 3)
    out = run_java("ClusterClients", "topics", cluster.node(3).bootstrap, "shape").splitlines()
    assert out[-1] == "OK", out
    lines = [l for l in out if l.startswith("\tTopic: ")]
    want = [f"\tTopic: shape\tPartition: {p}\tLeader: {m.leader}"
            f"\tReplicas: {','.join(map(str, m.replicas))}\tIsr: {','.join(map(str, m.isr))}"
            for p, m in sorted(parts.items())]
    assert lines == want, (lines, want)
    for p, m in parts.items():
        assert m.replicas[0] == m.leader and m.leader in m.isr and len(set(m.replicas)) == 3


def test_explicit_replica_assignment_is_honoured(cluster):
    assignment = {0: [3, 1], 1: [1, 2], 2: [2, 3], 3: [3, 2], 4: [3, 1]}
    parts = create_topic(cluster, cluster.node(1), "manual", 5, None, assignment=assignment)
    assert {p: m.replicas for p, m in parts.items()} == assignment
    assert leaders(parts) == {p: r[0] for p, r in assignment.items()}
    for n in cluster.nodes:
        wait_until(lambda: data_dirs(n, "manual") == {p for p, r in assignment.items() if n.node_id in r},
                   what=f"node {n.node_id}'s directories for its replicas")

    # a broker that does not exist: INVALID_REPLICA_ASSIGNMENT, nothing created
    admin = kp_admin(cluster.node(1))
    try:
        with pytest.raises(kafka.errors.InvalidReplicationAssignmentError):  # kafka-python raises the topic's error
            admin.create_topics([NewTopic("manual-bad", -1, -1, replica_assignments={0: [1, 7]})], timeout_ms=15000)
    finally:
        admin.close()
    assert all("manual-bad" not in node_metadata(n.port).topics for n in cluster.nodes)


def test_replication_factor_above_live_brokers_is_refused(cluster):
    want_msg = ("Unable to replicate the partition 4 time(s): The target replication factor of 4 "
                "cannot be reached because only 3 broker(s) are registered.")
    # kafka-python (sent to the controller)
    admin = kp_admin(cluster.node(1))
    try:
        with pytest.raises(kafka.errors.InvalidReplicationFactorError) as ei:
            admin.create_topics([NewTopic("rf4", 3, 4)], timeout_ms=15000)
    finally:
        admin.close()
    assert ei.value.errno == INVALID_REPLICATION_FACTOR and want_msg in str(ei.value), str(ei.value)

    # confluent-kafka
    ca = AdminClient({"bootstrap.servers": cluster.node(3).bootstrap})
    fut = ca.create_topics([CNewTopic("rf4", 3, 4)])["rf4"]
    with pytest.raises(KafkaException) as ei:
        fut.result(timeout=15)
    assert ei.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR
    assert want_msg in ei.value.args[0].str()

    # straight to every node, controller or not
    for n in cluster.nodes:
        assert raw_create_topic(n, "rf4", 3, 4) == (INVALID_REPLICATION_FACTOR, want_msg)
    for n in cluster.nodes:
        md = node_metadata(n.port)
        assert "rf4" not in md.topics
        assert data_dirs(n, "rf4") == set()


def test_create_partitions_from_a_node_that_is_not_the_controller(cluster):
    before = create_topic(cluster, cluster.node(1), "grow", 3, 2)
    controller = cluster.controller_id()
    other = next(n for n in cluster.nodes if n.node_id != controller)
    with wire.Conn(other.port) as c:
        r = c.request(CreatePartitionsRequest_v1(topic_partitions=[("grow", (5, None))],
                                                 timeout=15000, validate_only=False), timeout=20)
    assert [(t, e) for t, e, _ in r.topic_errors] == [("grow", 0)], r
    after = cluster.wait_leaders("grow", 5)
    assert {p: after[p].replicas for p in range(3)} == {p: m.replicas for p, m in before.items()}
    for p in (3, 4):
        assert len(set(after[p].replicas)) == 2 and set(after[p].replicas) <= {1, 2, 3}, after[p]
        assert after[p].leader == after[p].replicas[0]
    # the new partitions take records through any bootstrap node
    produce_per_partition(other.bootstrap, "grow", 5, 0, 3)
    got = consume_all(cluster.node(controller).bootstrap, "grow", 5, 15)
    assert got == sorted((p, o, None, b"p%d-%d" % (p, o)) for p in range(5) for o in range(3))


def test_delete_topic_from_a_node_that_is_not_the_controller(cluster):
    create_topic(cluster, cluster.node(1), "doomed", 6, 3)
    kept = create_topic(cluster, cluster.node(1), "kept", 3, 1)
    produce_per_partition(cluster.node(1).bootstrap, "doomed", 6, 0, 5)
    for n in cluster.nodes:
        wait_until(lambda: data_dirs(n, "doomed") == set(range(6)), what=f"doomed-* on node {n.node_id}")

    controller = cluster.controller_id()
    other = next(n for n in reversed(cluster.nodes) if n.node_id != controller)
    with wire.Conn(other.port) as c:
        r = c.request(DeleteTopicsRequest_v1(topics=["doomed"], timeout=15000), timeout=20)
    assert list(r.topic_error_codes) == [("doomed", 0)], r

    def gone_everywhere():
        for n in cluster.nodes:
            md = node_metadata(n.port)
            if "doomed" in md.topics or "kept" not in md.topics:
                return False
            if data_dirs(n, "doomed"):
                return False
        return True
    wait_until(gone_everywhere, timeout=15, what="doomed gone from every node's metadata and data dir")
    for n in cluster.nodes:
        md = node_metadata(n.port, ["doomed"])
        assert md.topic_errors["doomed"] == wire.UNKNOWN_TOPIC_OR_PARTITION
        assert data_dirs(n, "kept") == {p for p, m in kept.items() if m.leader == n.node_id}


TOPIC_CONFIG = 1  # DescribeConfigs config_source DYNAMIC_TOPIC_CONFIG


def describe_topic_configs(node, topic, names):
    """DescribeConfigs v1 sent to this node: {name: (value, source)}."""
    with wire.Conn(node.port) as c:
        r = c.request(DescribeConfigsRequest_v1(resources=[(2, topic, names)], include_synonyms=False))
    (err, msg, _type, name, entries), = r.resources
    assert (err, name) == (0, topic), (err, msg)
    return {e[0]: (e[1], e[3]) for e in entries}


def test_topic_configs_changed_on_any_node_apply_everywhere(cluster):
    admin = kp_admin(cluster.node(1))
    try:
        resp = admin.create_topics([NewTopic("cfg", 3, 3, topic_configs={"retention.ms": "3600000"})],
                                   timeout_ms=15000)
        assert [(t, e) for t, e, *_ in resp.topic_errors] == [("cfg", 0)]
    finally:
        admin.close()
    cluster.wait_leaders("cfg", 3)
    names = ["retention.ms", "cleanup.policy", "max.message.bytes"]
    for n in cluster.nodes:
        got = wait_until(lambda: describe_topic_configs(n, "cfg", names), what="DescribeConfigs")
        assert got["retention.ms"] == ("3600000", TOPIC_CONFIG), (n.node_id, got)
        assert got["cleanup.policy"][0] == "delete", (n.node_id, got)

    # legacy AlterConfigs straight to a node that is not the controller
    controller = cluster.controller_id()
    other = next(n for n in cluster.nodes if n.node_id != controller)
    with wire.Conn(other.port) as c:
        r = c.request(AlterConfigsRequest_v1(resources=[(2, "cfg", [("retention.ms", "7200000"),
                                                                    ("max.message.bytes", "65536")])],
                                             validate_only=False))
    assert [(e, t, name) for e, _msg, t, name in r.resources] == [(0, 2, "cfg")], r
    # IncrementalAlterConfigs through confluent-kafka, bootstrapped from yet another node
    third = next(n for n in cluster.nodes if n.node_id not in (controller, other.node_id))
    ca = AdminClient({"bootstrap.servers": third.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, "cfg",
                         incremental_configs=[ConfigEntry("cleanup.policy", "compact",
                                                           incremental_operation=AlterConfigOpType.SET)])
    for f in ca.incremental_alter_configs([res]).values():
        f.result(timeout=15)

    want = {"retention.ms": ("7200000", TOPIC_CONFIG), "max.message.bytes": ("65536", TOPIC_CONFIG),
            "cleanup.policy": ("compact", TOPIC_CONFIG)}
    for n in cluster.nodes:
        wait_until(lambda: describe_topic_configs(n, "cfg", names) == want,
                   what=f"node {n.node_id} to describe the new configs")


def test_group_configs_set_on_one_node_apply_everywhere(cluster, run_java):
    """kafka-configs.sh --entity-type groups against a node that is not the controller: the
    group configs go through the metadata log, every node describes them, and they survive a
    whole-cluster restart."""
    controller = cluster.controller_id()
    other = next(n for n in cluster.nodes if n.node_id != controller)
    out = run_java("AdminSurface", "group-configs-set", other.bootstrap)
    assert out.strip().splitlines()[-1] == "OK", out
    for n in cluster.nodes:
        out = run_java("AdminSurface", "group-configs-check", n.bootstrap)
        assert out.strip().splitlines()[-1] == "OK", (n.node_id, out)
    cluster.kill()
    cluster.start()
    for n in cluster.nodes:
        out = run_java("AdminSurface", "group-configs-check", n.bootstrap)
        assert out.strip().splitlines()[-1] == "OK", ("after restart", n.node_id, out)


def test_concurrent_config_changes_from_different_nodes_all_apply(cluster):
    """IncrementalAlterConfigs of one topic sent at the same moment to three different nodes,
    each setting its own key: none overwrites another (the controller takes a change only on
    the overrides it was made to, and the broker redoes it otherwise)."""
    import threading
    create_topic(cluster, cluster.node(1), "race", 1, 1)
    keys = {1: ("retention.ms", "111111"), 2: ("segment.ms", "222222"),
            3: ("max.message.bytes", "333333")}
    for round_ in range(5):
        start = threading.Barrier(3)
        errors = []

        def alter(node):
            key, value = keys[node.node_id]
            ca = AdminClient({"bootstrap.servers": node.bootstrap})
            res = ConfigResource(ConfigResource.Type.TOPIC, "race", incremental_configs=[
                ConfigEntry(key, str(int(value) + round_), incremental_operation=AlterConfigOpType.SET)])
            start.wait()
            try:
                for f in ca.incremental_alter_configs([res]).values():
                    f.result(timeout=15)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=alter, args=(n,)) for n in cluster.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        want = {k: (str(int(v) + round_), TOPIC_CONFIG) for k, v in keys.values()}
        for n in cluster.nodes:
            wait_until(lambda: describe_topic_configs(n, "race", list(want)) == want,
                       what=f"round {round_}: node {n.node_id} describes all three changes")


# --- 3. produce and consume across nodes, each client ------------------------------------

N_KEYED = 300


def _check_round_trip(sent, got):
    """sent [(partition, offset, key)] from the producer, got [(partition, offset, key, value)]."""
    assert len(sent) == N_KEYED and len(got) == N_KEYED
    assert sorted(sent) == sorted((p, o, k) for p, o, k, _ in got)
    assert sorted((k, v) for _, _, k, v in got) == sorted((b"k%d" % i, b"v%d" % i) for i in range(N_KEYED))
    assert_dense_offsets(got, 6)
    # every key went to one partition only
    parts_of_key = collections.defaultdict(set)
    for p, _, k, _ in got:
        parts_of_key[k].add(p)
    assert all(len(s) == 1 for s in parts_of_key.values())


@pytest.fixture
def keyed_topic(cluster):
    """A 6-partition RF 3 topic whose leaders are spread over all three nodes."""
    parts = create_topic(cluster, cluster.node(2), "keyed", 6, 3)
    assert set(leaders(parts).values()) == {1, 2, 3}
    return "keyed"


def test_kafka_python_produce_on_node1_consume_on_node3(cluster, keyed_topic):
    prod = KafkaProducer(bootstrap_servers=cluster.node(1).bootstrap, linger_ms=5, acks="all")
    futs = [(b"k%d" % i, prod.send(keyed_topic, key=b"k%d" % i, value=b"v%d" % i)) for i in range(N_KEYED)]
    prod.flush(30)
    sent = []
    for k, f in futs:
        md = f.get(timeout=30)
        sent.append((md.partition, md.offset, k))
    prod.close()

    cons = KafkaConsumer(bootstrap_servers=cluster.node(3).bootstrap, enable_auto_commit=False,
                         group_id=None, consumer_timeout_ms=1000)
    tps = [KTopicPartition(keyed_topic, p) for p in range(6)]
    cons.assign(tps)
    cons.seek_to_beginning(*tps)
    got = []
    deadline = time.monotonic() + 30
    while len(got) < N_KEYED and time.monotonic() < deadline:
        for recs in cons.poll(timeout_ms=500).values():
            got += [(r.partition, r.offset, r.key, r.value) for r in recs]
    assert cons.end_offsets(tps) == {tp: sum(1 for s in sent if s[0] == tp.partition) for tp in tps}
    cons.close()
    _check_round_trip(sent, got)


def test_confluent_produce_on_node1_consume_on_node3(cluster, keyed_topic):
    reports = produce(cluster.node(1).bootstrap, keyed_topic, [b"v%d" % i for i in range(N_KEYED)],
                      keys=[b"k%d" % i for i in range(N_KEYED)], acks="all")
    assert all(r[0] is None for r in reports), [r for r in reports if r[0] is not None][:5]
    sent = [(p, o, k) for _, p, o, k, _ in reports]
    got = consume_all(cluster.node(3).bootstrap, keyed_topic, 6, N_KEYED)
    _check_round_trip(sent, got)


def test_java_produce_on_node1_consume_on_node3(cluster, keyed_topic, run_java):
    out = run_java("ClusterClients", "produce", cluster.node(1).bootstrap, keyed_topic, N_KEYED)
    assert out.splitlines()[-1] == "OK"
    sent = [(int(p), int(o), k.encode()) for _, p, o, k in (l.split(" ") for l in out.splitlines()
                                                             if l.startswith("SENT "))]
    out = run_java("ClusterClients", "consume", cluster.node(3).bootstrap, keyed_topic, N_KEYED)
    assert out.splitlines()[-1] == "OK"
    got = [(int(p), int(o), k.encode(), v.encode()) for _, p, o, k, v in (l.split(" ") for l in out.splitlines()
                                                                          if l.startswith("REC "))]
    _check_round_trip(sent, got)


# --- 4. NOT_LEADER_OR_FOLLOWER, and clients following Metadata ----------------------------

def test_not_leader_answers_and_clients_bootstrapped_from_one_node(cluster):
    parts = create_topic(cluster, cluster.node(1), "redir", 6, 1)
    entry = cluster.node(2)
    mine = sorted(p for p, m in parts.items() if m.leader == 2)
    elsewhere = sorted(p for p, m in parts.items() if m.leader != 2)
    assert len(mine) == 2 and len(elsewhere) == 4

    # node 2 answers for its own partitions and sends clients away for the others
    with wire.Conn(entry.port) as c:
        for p in range(6):
            want = 0 if p in mine else NOT_LEADER_OR_FOLLOWER
            assert c.produce("redir", p, wire.build_batch([b"raw-%d" % p]))[0] == want, p
            assert c.fetch("redir", p, 0)[0] == want, p
            assert c.list_offset("redir", p, wire.LATEST)[0] == want, p

    # clients given node 2 only reach every leader
    prod = KafkaProducer(bootstrap_servers=entry.bootstrap, linger_ms=5)
    futs = [(p, prod.send("redir", value=b"kp-%d-%d" % (p, i), partition=p)) for p in range(6) for i in range(10)]
    prod.flush(30)
    kp_offsets = collections.defaultdict(list)
    for p, f in futs:
        md = f.get(timeout=30)
        assert md.partition == p
        kp_offsets[p].append(md.offset)
    prod.close()
    first = {p: 1 if p in mine else 0 for p in range(6)}  # the raw record took offset 0 on node 2's own
    assert dict(kp_offsets) == {p: list(range(first[p], first[p] + 10)) for p in range(6)}

    reports = produce(entry.bootstrap, "redir", [b"ck-%d" % i for i in range(60)],
                      keys=[b"key-%d" % i for i in range(60)])
    assert all(r[0] is None for r in reports)

    total = 6 * 10 + 60 + len(mine)
    got = consume_all(entry.bootstrap, "redir", 6, total)
    assert_dense_offsets(got, 6)
    values = sorted(v for *_, v in got)
    assert values == sorted([b"raw-%d" % p for p in mine] + [b"kp-%d-%d" % (p, i) for p in range(6) for i in range(10)]
                            + [b"ck-%d" % i for i in range(60)])


# --- 5. a node killed and brought back -----------------------------------------------------

def test_node_killed_is_fenced_and_returns_with_its_records(cluster):
    parts = create_topic(cluster, cluster.node(1), "kr", 6, 1)
    produce_per_partition(cluster.bootstrap, "kr", 6, 0, 20)
    controller = cluster.controller_id()
    victim = next(n for n in reversed(cluster.nodes) if n.node_id != controller)
    survivors = [n for n in cluster.nodes if n is not victim]
    theirs = sorted(p for p, m in parts.items() if m.leader == victim.node_id)
    ours = sorted(p for p in parts if p not in theirs)
    assert len(theirs) == 2

    t0 = time.monotonic()
    victim.kill()
    want = {n.node_id: ("127.0.0.1", n.port) for n in survivors}
    wait_until(lambda: all(node_metadata(n.port).brokers == want for n in survivors),
               timeout=SESSION_TIMEOUT_S + 8, interval=0.1, what=f"node {victim.node_id} fenced")
    fenced_after = time.monotonic() - t0
    # fenced by the session timeout, not on the first missed heartbeat
    assert fenced_after >= SESSION_TIMEOUT_S - 0.6, fenced_after

    def outage_seen():
        for n in survivors:
            ps = node_metadata(n.port, ["kr"]).topics["kr"]
            for p in theirs:
                if (ps[p].error, ps[p].leader) != (LEADER_NOT_AVAILABLE, -1):
                    return None
        return ps
    during = wait_until(outage_seen, timeout=10, what="the victim's partitions without a leader")
    for p in theirs:
        m = during[p]
        assert (m.replicas, m.isr, m.offline) == ([victim.node_id], [victim.node_id], [victim.node_id]), m
        assert m.leader_epoch > parts[p].leader_epoch, (m, parts[p])
    for p in ours:
        assert (during[p].error, during[p].leader, during[p].leader_epoch) == (0, parts[p].leader, parts[p].leader_epoch)

    # kafka-python's describe_topics says the same
    admin = kp_admin(survivors[0])
    try:
        (t,) = admin.describe_topics(["kr"])
    finally:
        admin.close()
    by_p = {p["partition"]: p for p in t["partitions"]}
    assert {p: (by_p[p]["error_code"], by_p[p]["leader"]) for p in theirs} == \
        {p: (LEADER_NOT_AVAILABLE, -1) for p in theirs}
    assert {p: (by_p[p]["error_code"], by_p[p]["leader"]) for p in ours} == {p: (0, parts[p].leader) for p in ours}

    # the surviving partitions take and serve records
    prod = KafkaProducer(bootstrap_servers=",".join(n.bootstrap for n in survivors), linger_ms=5)
    futs = [(p, 20 + i, prod.send("kr", value=b"p%d-%d" % (p, 20 + i), partition=p)) for p in ours for i in range(5)]
    prod.flush(30)
    assert [(f.get(timeout=30).partition, f.get(timeout=30).offset) for _, _, f in futs] == [(p, o) for p, o, _ in futs]
    prod.close()
    c = Consumer({"bootstrap.servers": survivors[0].bootstrap, "group.id": "kr-assign", "enable.auto.commit": False})
    c.assign([TopicPartition("kr", p, OFFSET_BEGINNING) for p in ours])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 25 * len(ours) and time.monotonic() < deadline:
        got += [(m.partition(), m.offset(), m.value()) for m in c.consume(100, timeout=0.5) if not m.error()]
    c.close()
    assert sorted(got) == [(p, o, b"p%d-%d" % (p, o)) for p in ours for o in range(25)]

    # back with the same data dir: registered again, leads its partitions at a higher epoch
    victim.start()
    cluster.wait_ready(timeout=20)
    after = cluster.wait_leaders("kr", 6, timeout=15)
    for p in theirs:
        assert after[p].leader == victim.node_id, after[p]
        assert after[p].leader_epoch > during[p].leader_epoch, (after[p], during[p])
        assert after[p].offline == []
    got = consume_all(cluster.node(controller).bootstrap, "kr", 6, 20 * len(theirs) + 25 * len(ours))
    assert got == sorted([(p, o, None, b"p%d-%d" % (p, o)) for p in theirs for o in range(20)]
                         + [(p, o, None, b"p%d-%d" % (p, o)) for p in ours for o in range(25)])
    # and takes new ones where it left off
    prod = KafkaProducer(bootstrap_servers=victim.bootstrap, linger_ms=5)
    assert [prod.send("kr", value=b"again", partition=p).get(timeout=30).offset for p in theirs] == [20] * len(theirs)
    prod.close()
    # OffsetForLeaderEpoch (what a Java consumer validates its position with) from the leader's
    # epoch cache: epoch 0 ended where the new epoch's first record went (20); the current
    # epoch ends at the log end (21).
    from kafka.protocol.offset_for_leader_epoch import OffsetForLeaderEpochRequest_v2
    with wire.Conn(victim.port, timeout=5) as conn:
        for p in theirs:
            epoch = after[p].leader_epoch
            r = conn.request(OffsetForLeaderEpochRequest_v2(topics=[
                ("kr", [(p, epoch, 0), (p, epoch, epoch)])]), timeout=5)
            answers = [tuple(x) for x in r.topics[0][1]]
            assert answers == [(0, p, 0, 20), (0, p, epoch, 21)], (p, epoch, answers)


# --- 6. the active controller killed -----------------------------------------------------------

def test_controller_killed_another_takes_over_and_the_old_one_rejoins(cluster):
    old = cluster.controller_id()
    dead = cluster.node(old)
    survivors = [n for n in cluster.nodes if n is not dead]

    t0 = time.monotonic()
    dead.kill()

    def new_controller():
        ids = {node_metadata(n.port).controller_id for n in survivors}
        return ids.pop() if len(ids) == 1 and ids <= {n.node_id for n in survivors} else None
    new = wait_until(new_controller, timeout=10, interval=0.05, what="a new controller on both survivors")
    failover = time.monotonic() - t0
    assert failover < 5, f"failover took {failover:.1f}s"

    # topic creation works from either survivor right away
    for i, n in enumerate(survivors):
        code, msg = raw_create_topic(n, f"right-after-{i}", 1, 1)
        assert code == 0, (code, msg)
    for i in range(2):
        wait_until(lambda: all(f"right-after-{i}" in node_metadata(n.port).topics for n in survivors),
                   what=f"right-after-{i} on both survivors")

    # once the dead node is fenced, new topics go to the survivors only and work end to end
    want = {n.node_id: ("127.0.0.1", n.port) for n in survivors}
    wait_until(lambda: all(node_metadata(n.port).brokers == want for n in survivors),
               timeout=SESSION_TIMEOUT_S + 8, interval=0.1, what=f"old controller {old} fenced")
    parts = create_topic(cluster, survivors[0], "after-failover", 4, 2)
    assert all(set(m.replicas) == {n.node_id for n in survivors} for m in parts.values()), parts
    produce_per_partition(survivors[1].bootstrap, "after-failover", 4, 0, 5)

    # the old controller comes back as a follower and catches up
    dead.start()
    assert cluster.wait_ready(timeout=20) == new
    wait_until(lambda: node_metadata(dead.port, ["after-failover"]).topics["after-failover"].keys() == set(range(4)),
               what="the old controller to learn the topic created while it was down")
    got = consume_all(dead.bootstrap, "after-failover", 4, 20)
    assert got == [(p, o, None, b"p%d-%d" % (p, o)) for p in range(4) for o in range(5)]


# --- 7. every node killed at once ---------------------------------------------------------------

def _describe(cluster):
    """{topic: (topic id, {partition: (replicas, leader)})} as confluent-kafka's DescribeTopics sees it."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    out = {}
    for name, f in admin.describe_topics(TopicCollection(["w6", "w3", "wm"])).items():
        d = f.result(timeout=15)
        out[name] = (str(d.topic_id), {p.id: ([r.id for r in p.replicas], p.leader.id if p.leader else -1)
                                       for p in d.partitions})
    return out


def test_whole_cluster_sigkill_and_restart_keeps_topics_and_records(cluster):
    create_topic(cluster, cluster.node(1), "w6", 6, 3)
    create_topic(cluster, cluster.node(2), "w3", 3, 1)
    create_topic(cluster, cluster.node(3), "wm", 2, None, assignment={0: [2, 3], 1: [3, 1]})
    produce_per_partition(cluster.bootstrap, "w6", 6, 0, 30)
    produce_per_partition(cluster.bootstrap, "w3", 3, 0, 30)
    produce_per_partition(cluster.bootstrap, "wm", 2, 0, 30)
    before = _describe(cluster)

    cluster.kill()
    cluster.start()
    for t, n in (("w6", 6), ("w3", 3), ("wm", 2)):
        cluster.wait_leaders(t, n, timeout=20)
    assert _describe(cluster) == before
    for t, n in (("w6", 6), ("w3", 3), ("wm", 2)):
        got = consume_all(cluster.bootstrap, t, n, 30 * n)
        assert got == [(p, o, None, b"p%d-%d" % (p, o)) for p in range(n) for o in range(30)], t
    produce_per_partition(cluster.node(2).bootstrap, "w6", 6, 30, 1)


# --- 8. misconfiguration -----------------------------------------------------------------------

def _run_fjord(overrides, timeout=10):
    args = [str(FJORD_BIN)]
    for k, v in overrides.items():
        args += ["--override", f"{k}={v}"]
    t0 = time.monotonic()
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"fjord kept running for {timeout}s with a bad config:\n{e.stderr}")
    return r.returncode, r.stderr, time.monotonic() - t0


def _node_config(tmp_path, node_id=1):
    """Kafka's combined-mode keys for one node of a 3-voter quorum, on free ports; a voter's
    entry matches its CONTROLLER listener."""
    voters = {i: free_port() for i in (1, 2, 3)}
    controller = voters.get(node_id) or free_port()
    return {"node.id": str(node_id), "process.roles": "broker,controller",
            "controller.quorum.voters": ",".join(f"{i}@127.0.0.1:{p}" for i, p in voters.items()),
            "listeners": f"PLAINTEXT://127.0.0.1:{free_port()},CONTROLLER://127.0.0.1:{controller}",
            "controller.listener.names": "CONTROLLER", "log.dirs": str(tmp_path / "data")}


@pytest.mark.parametrize("case", ["node-id-not-a-voter", "voter-id-twice", "no-controller-listener"])
def test_misconfiguration_is_refused_at_start_naming_the_key(tmp_path, case):
    cfg = _node_config(tmp_path, node_id=4 if case == "node-id-not-a-voter" else 1)
    if case == "node-id-not-a-voter":
        want = [r"controller\.quorum\.voters", r"node\.id 4"]
    elif case == "voter-id-twice":
        cfg["controller.quorum.voters"] = cfg["controller.quorum.voters"].replace("2@", "1@")
        want = [r"controller\.quorum\.voters", r"(?i)twice|duplicate"]
    else:
        cfg["listeners"] = cfg["listeners"].split(",")[0]
        want = [r"controller\.listener\.names", "CONTROLLER"]
    rc, err, took = _run_fjord(cfg)
    assert rc != 0, err
    assert took < 5, f"took {took:.1f}s to refuse"
    assert all(re.search(w, err) for w in want), err
    assert "panicked" not in err, err
    # refused before the data dir is touched
    assert not (tmp_path / "data").exists()


def test_data_dir_of_another_cluster_is_refused(cluster):
    n = cluster.node(3)
    other = "AnotherClusterIdAAAAAA"
    n.stop()
    rc, err, took = _run_fjord({**n.config(), "cluster.id": other})
    assert rc != 0, err
    assert took < 5, f"took {took:.1f}s to refuse"
    assert "cluster.id" in err and other in err and "meta.properties" in err, err
    # the dir was left alone: the node rejoins its own cluster
    n.start()
    cluster.wait_ready(timeout=20)


# --- a restarted node catches up before it answers -------------------------------------------

def test_restarted_node_serves_no_stale_metadata(cluster):
    """Kafka's broker processes no request before it has caught up with the metadata log
    (BrokerServer waits for the initial catch-up before enabling request processing), so its
    first Metadata answer after a restart already reflects what changed while it was down."""
    create_topic(cluster, cluster.node(1), "old", 3, 3)
    controller = cluster.controller_id()
    away = next(n for n in reversed(cluster.nodes) if n.node_id != controller)
    survivors = [n for n in cluster.nodes if n is not away]
    away.kill()
    want = {n.node_id: ("127.0.0.1", n.port) for n in survivors}
    wait_until(lambda: all(node_metadata(n.port).brokers == want for n in survivors),
               timeout=SESSION_TIMEOUT_S + 8, interval=0.1, what=f"node {away.node_id} fenced")
    with wire.Conn(survivors[0].port) as c:
        r = c.request(DeleteTopicsRequest_v1(topics=["old"], timeout=15000), timeout=20)
    assert list(r.topic_error_codes) == [("old", 0)]
    create_topic(cluster, survivors[1], "while-away", 4, 2)

    away.launch()

    def first_answer():
        try:
            return node_metadata(away.port, ["while-away", "old"])
        except (OSError, wire.Closed):
            assert away.alive(), away.stderr_tail()
            return None
    md = wait_until(first_answer, timeout=20, interval=0.005, what=f"node {away.node_id} to answer")
    assert md.topic_errors == {"while-away": 0, "old": wire.UNKNOWN_TOPIC_OR_PARTITION}, \
        f"first answer after restart: {md.topic_errors} {md.topics}"
    assert sorted(md.topics["while-away"]) == [0, 1, 2, 3]
    cluster.wait_ready(timeout=20)


# --- 9. coordinators spread over the cluster -----------------------------------------------------
# Kafka: FindCoordinator names the leader of the group's __consumer_offsets partition (or the
# transactional id's __transaction_state partition), whichever node is asked.

def test_find_coordinator_names_the_same_node_from_every_node(start_cluster):
    cluster = start_cluster(overrides=GROUP_OVERRIDES)
    for key, key_type, internal in (("g-cluster", 0, "__consumer_offsets"),
                                    ("tx-cluster", 1, "__transaction_state")):
        answers = [find_coordinator(n, key, key_type) for n in cluster.nodes]
        assert len(set(answers)) == 1, answers
        err, coordinator, host, port = answers[0]
        assert err == 0 and (host, port) == ("127.0.0.1", cluster.node(coordinator).port), answers

        # the coordinator leads the key's partition of the internal topic (Kafka: 50 partitions,
        # replication factor offsets.topic.replication.factor / transaction.state.log.replication.factor = 3)
        def internal_topic():
            parts = node_metadata(cluster.node(1).port, [internal]).topics.get(internal, {})
            return parts if parts and all(m.leader >= 0 for m in parts.values()) else None
        parts = wait_until(internal_topic, timeout=20, what=f"{internal} with a leader for every partition")
        assert len(parts) >= 3, f"{internal} has {len(parts)} partition(s): its coordinators cannot spread"
        assert {m.leader for m in parts.values()} == {1, 2, 3}, parts
        assert {len(m.replicas) for m in parts.values()} == {3}, parts
        home = parts[partition_for(key, len(parts))]
        assert home.leader == coordinator, (key, home)


def test_group_members_on_different_nodes_split_partitions(start_cluster):
    cluster = start_cluster(overrides=GROUP_OVERRIDES)
    # the members' bootstrap nodes must name one coordinator, or they form two groups
    coordinators = [find_coordinator(cluster.node(i), "g-split", 0) for i in (1, 3)]
    assert coordinators[0] == coordinators[1], coordinators
    create_topic(cluster, cluster.node(1), "grp", 6, 3)
    produce_per_partition(cluster.bootstrap, "grp", 6, 0, 10)
    members = [Consumer({"bootstrap.servers": cluster.node(i).bootstrap, "group.id": "g-split",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 10000})
               for i in (1, 3)]
    try:
        for m in members:
            m.subscribe(["grp"])
        got = [[], []]

        def settled():
            for i, m in enumerate(members):
                got[i] += [(x.partition(), x.offset()) for x in m.consume(50, timeout=0.2) if not x.error()]
            a = [sorted(tp.partition for tp in m.assignment()) for m in members]
            return a if (len(a[0]) == 3 and len(a[1]) == 3 and sum(map(len, got)) >= 60) else None
        assignment = wait_until(settled, timeout=30, interval=0, what="two members with 3 partitions each")
        assert sorted(assignment[0] + assignment[1]) == list(range(6)), assignment
        for i in range(2):
            assert {p for p, _ in got[i]} <= set(assignment[i]), (i, assignment, got[i])
        assert sorted(got[0] + got[1]) == [(p, o) for p in range(6) for o in range(10)]
        for m in members:
            m.commit(asynchronous=False)
        committed = members[0].committed([TopicPartition("grp", p) for p in range(6)], timeout=10)
        assert [(tp.partition, tp.offset) for tp in committed] == [(p, 10) for p in range(6)]
    finally:
        for m in members:
            m.close()


def test_transaction_across_partitions_led_by_different_nodes(start_cluster):
    cluster = start_cluster(overrides=GROUP_OVERRIDES)
    parts = create_topic(cluster, cluster.node(1), "txn", 6, 1)
    assert set(leaders(parts).values()) == {1, 2, 3}
    p = Producer({"bootstrap.servers": cluster.node(2).bootstrap, "transactional.id": "tx-across",
                  "linger.ms": 5})
    p.init_transactions(15)
    for txn, n, commit in (("a", 5, True), ("b", 3, False), ("c", 2, True)):
        p.begin_transaction()
        for part in range(6):
            for i in range(n):
                p.produce("txn", value=b"%s-%d-%d" % (txn.encode(), part, i), partition=part)
        if commit:
            p.commit_transaction(15)
        else:
            # librdkafka purges what it has not sent when aborting: send first, so the aborted
            # records are in the log (and skipped by read_committed) at known offsets.
            p.flush(15)
            p.abort_transaction(15)
    # Kafka's log: a0..a4 at 0-4, commit marker 5, b0..b2 at 6-8, abort marker 9, c0 c1 at 10-11, marker 12
    got = consume_all(cluster.node(3).bootstrap, "txn", 6, 42, **{"isolation.level": "read_committed"})
    assert got == sorted([(q, i, None, b"a-%d-%d" % (q, i)) for q in range(6) for i in range(5)]
                         + [(q, 10 + i, None, b"c-%d-%d" % (q, i)) for q in range(6) for i in range(2)])
    c = Consumer({"bootstrap.servers": cluster.node(1).bootstrap, "group.id": "txn-lso"})
    for q in range(6):
        assert c.get_watermark_offsets(TopicPartition("txn", q), timeout=10) == (0, 13), q
    c.close()


# --- fjord dev-cluster ----------------------------------------------------------------------

def _free_block(count, offset):
    """A base port such that base..base+count-1 and base+offset.. are all free."""
    import random
    import socket
    for _ in range(200):
        base = random.randrange(20000, 40000)
        ports = [base + i for i in range(count)] + [base + offset + i for i in range(count)]
        try:
            socks = []
            for p in ports:
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    pytest.fail("no free block of ports")


def test_dev_cluster_starts_three_nodes_and_stops_them(tmp_path):
    """`fjord dev-cluster --nodes 3`: prints the bootstrap string, the three nodes form one
    cluster that serves a produce and a consume, a node is killable on its own (pid file), and
    SIGTERM to dev-cluster stops every node."""
    import signal
    base = _free_block(3, 1000)
    d = tmp_path / "dc"
    proc = subprocess.Popen([str(FJORD_BIN), "dev-cluster", "--nodes", "3", "--dir", str(d),
                             "--base-port", str(base),
                             "--override", "broker.session.timeout.ms=2000",
                             "--override", "broker.heartbeat.interval.ms=500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        want = ",".join(f"localhost:{base + i}" for i in range(3))
        assert line == f"bootstrap.servers={want}", line
        pids = {n: int((d / f"node{n}.pid").read_text()) for n in (1, 2, 3)}

        def formed():
            try:
                md = node_metadata(base)
            except OSError:
                return None
            return md if sorted(md.brokers) == [1, 2, 3] else None
        wait_until(formed, timeout=20, what="three dev-cluster nodes in one cluster")
        admin = AdminClient({"bootstrap.servers": want})
        for f in admin.create_topics([CNewTopic("dev", 3, 3)]).values():
            f.result(timeout=15)
        produce_per_partition(want, "dev", 3, 0, 4)
        got = consume_all(want, "dev", 3, 12)
        assert sorted((p, o) for p, o, _, _ in got) == [(p, o) for p in range(3) for o in range(4)]
        # one node alone: killed by its pid, the others stay
        import os
        os.kill(pids[3], signal.SIGKILL)
        wait_until(lambda: sorted(node_metadata(base).brokers) == [1, 2] or None, timeout=20,
                   what="node 3 fenced after its kill")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    import os
    for n, pid in pids.items():
        if n == 3:
            continue
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower(), n
