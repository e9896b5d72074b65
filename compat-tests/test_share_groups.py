"""Share groups (KIP-932) with the Java Admin client (kafka-share-groups.sh's calls).

KafkaShareConsumer needs ShareFetch too, which fjord does not serve yet, so the members here are
raw ShareGroupHeartbeat v1 requests (flexible encoding, built below); java/ShareAdmin.java then
lists, describes and deletes the group as kafka-share-groups.sh does. Apache Kafka's behaviour
is the expectation.
"""
import struct

from conftest import GROUP_OVERRIDES, JavaProc, create_topics, wait_until
import wire

SHARE_GROUP_HEARTBEAT = 76
NOT_COORDINATOR = 16


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def compact_str(s):
    if s is None:
        return b"\x00"
    data = s.encode()
    return uvarint(len(data) + 1) + data


def heartbeat(conn, group, member, epoch, topics=None):
    """One ShareGroupHeartbeat v1; returns (error_code, member_epoch)."""
    body = compact_str(group) + compact_str(member) + struct.pack(">i", epoch) + compact_str(None)
    if topics is None:
        body += b"\x00"
    else:
        body += uvarint(len(topics) + 1) + b"".join(compact_str(t) for t in topics)
    body += b"\x00"  # tagged fields
    corr = conn.corr + 1
    conn.send_frame(conn.header(SHARE_GROUP_HEARTBEAT, 1, flexible=True) + body)
    frame = conn.recv_frame(10)
    got, = struct.unpack(">i", frame[:4])
    assert got == corr
    # response header v1: correlation id, tagged fields (empty); then throttle, error code.
    assert frame[4] == 0
    _throttle, error = struct.unpack(">ih", frame[5:11])
    rest = frame[11:]
    # error message (compact nullable string), member id (compact nullable string), member epoch
    n = rest[0]
    rest = rest[1 + max(n - 1, 0):]
    n = rest[0]
    rest = rest[1 + max(n - 1, 0):]
    member_epoch, = struct.unpack(">i", rest[:4])
    return error, member_epoch


def java_ok(out):
    assert out.strip().splitlines()[-1] == "OK", out


def test_java_admin_lists_describes_and_deletes_a_share_group(broker, run_java):
    create_topics(broker.bootstrap, "share-t")
    with wire.Conn(broker.port, client_id="share-compat") as c:
        assert heartbeat(c, "sg-admin", "m1", 0, ["share-t"]) == (0, 1)
        assert heartbeat(c, "sg-admin", "m2", 0, ["share-t"]) == (0, 2)
        assert heartbeat(c, "sg-admin", "m1", 1) == (0, 2)
        java_ok(run_java("ShareAdmin", "stable", broker.bootstrap, "sg-admin", "share-t"))
        assert heartbeat(c, "sg-admin", "m1", -1) == (0, -1)
        assert heartbeat(c, "sg-admin", "m2", -1) == (0, -1)
    java_ok(run_java("ShareAdmin", "empty", broker.bootstrap, "sg-admin", "share-t"))


def test_an_empty_share_group_survives_a_hard_restart(broker, run_java):
    create_topics(broker.bootstrap, "share-r")
    with wire.Conn(broker.port, client_id="share-compat") as c:
        assert heartbeat(c, "sg-restart", "m1", 0, ["share-r"]) == (0, 1)
        assert heartbeat(c, "sg-restart", "m1", -1) == (0, -1)
    broker.restart(kill=True)
    java_ok(run_java("ShareAdmin", "empty", broker.bootstrap, "sg-restart", "share-r"))


def test_share_group_in_a_cluster_survives_its_coordinators_kill(start_cluster, run_java):
    """The share group's epoch is in its __consumer_offsets partition: the node that takes over
    coordination after a SIGKILL lists and describes the Empty group, and deletes it."""
    from kafka.protocol.find_coordinator import FindCoordinatorRequest_v2

    cluster = start_cluster(overrides=GROUP_OVERRIDES)
    controller = cluster.controller_id()

    def coordinator(node, group):
        with wire.Conn(node.port) as c:
            r = c.request(FindCoordinatorRequest_v2(coordinator_key=group, coordinator_type=0))
        return r.coordinator_id if r.error_code == 0 else None

    first = cluster.node(1)
    wait_until(lambda: coordinator(first, "sg-probe"), timeout=30, what="a group coordinator")
    # a group whose coordinator is not the controller, so the kill moves only the coordinator
    group, home = next((g, c) for g in (f"sg-cluster-{i}" for i in range(64))
                       if (c := coordinator(first, g)) not in (None, controller))
    create_topics(cluster.bootstrap, "share-c")
    other = next(n for n in cluster.nodes if n.node_id != home)
    with wire.Conn(other.port, client_id="share-compat") as c:
        assert heartbeat(c, group, "m1", 0, ["share-c"])[0] == NOT_COORDINATOR
    with wire.Conn(cluster.node(home).port, client_id="share-compat") as c:
        assert wait_until(lambda: heartbeat(c, group, "m1", 0, ["share-c"]) == (0, 1) or None,
                          timeout=20, what="m1 joined")
        assert heartbeat(c, group, "m2", 0, ["share-c"]) == (0, 2)
        assert heartbeat(c, group, "m1", 1) == (0, 2)
        java_ok(run_java("ShareAdmin", "stable", cluster.bootstrap, group, "share-c"))
        assert heartbeat(c, group, "m1", -1) == (0, -1)
        assert heartbeat(c, group, "m2", -1) == (0, -1)

    cluster.node(home).kill()
    survivors = [n for n in cluster.nodes if n.node_id != home]
    wait_until(lambda: coordinator(survivors[0], group) not in (None, home) or None,
               timeout=30, what="a new coordinator")
    bootstrap = ",".join(n.bootstrap for n in survivors)
    java_ok(run_java("ShareAdmin", "empty", bootstrap, group, "share-c"))


def test_share_group_offsets_as_kafka_share_groups_sh(start_broker, run_java, java_classes):
    """kafka-share-groups.sh --describe --offsets / --reset-offsets / --delete-offsets / --delete
    through the Admin client, between real KafkaShareConsumers (ShareMember, explicit mode,
    share.auto.offset.reset=earliest): a reset moves where the next consumer starts, exactly."""
    from test_share_consumers import acked, recs, wait_acked

    # Members leave by their session timing out once their JVM is killed.
    b = start_broker({**GROUP_OVERRIDES, "group.share.min.session.timeout.ms": "1000",
                      "group.share.session.timeout.ms": "2000",
                      "group.share.heartbeat.interval.ms": "500",
                      "group.share.min.heartbeat.interval.ms": "500"})
    group, topic = "sg-offsets", "so-t"

    def member(*extra):
        return JavaProc(java_classes, "ShareMember", b.bootstrap, topic, group, "accept", *extra)

    m = member("produce", "10")
    try:
        wait_acked(m, set(range(10)), timeout=60)
        java_ok(run_java("ShareAdmin", "offsets-busy", b.bootstrap, group, topic, "10"))
    finally:
        m.stop()
    out = run_java("ShareAdmin", "reset-earliest", b.bootstrap, group, topic, "10")
    java_ok(out)
    assert "RESET 0" in out
    m = member()
    try:  # starts exactly at 0 again: the ten records once more, each a first delivery
        wait_acked(m, set(range(10)), timeout=60)
        assert recs(m) == {k: [1] for k in range(10)}
    finally:
        m.stop()
    out = run_java("ShareAdmin", "reset-latest", b.bootstrap, group, topic, "10")
    java_ok(out)
    assert "RESET 10" in out
    m = member("produce", "3")  # keys 0..2 again, at offsets 10..12
    try:
        wait_acked(m, {0, 1, 2}, timeout=60)
        assert recs(m) == {k: [1] for k in range(3)}
        assert acked(m) == {0, 1, 2}
    finally:
        m.stop()
    java_ok(run_java("ShareAdmin", "delete-offsets", b.bootstrap, group, topic, "13"))


def test_share_group_lag_as_kafka_share_groups_sh(broker, run_java):
    """kafka-share-groups.sh --describe --offsets's LAG (DescribeShareGroupOffsets v1, KIP-1226)
    through the Admin client: a KafkaShareConsumer accepts 30 of 100 records and releases the
    rest (LAG 70); --reset-offsets to 50 gives LAG 50; a partition never read has no offsets."""
    java_ok(run_java("ShareAdmin", "lag", broker.bootstrap, "sg-lag", "lag-t"))


def test_share_group_offsets_in_a_cluster(start_cluster, run_java):
    """kafka-share-groups.sh --describe/--reset/--delete-offsets and --delete against a 3-node
    cluster (design §14.1 step 6): the share state lives at the share coordinators, the
    partitions are led by the two nodes that are not the group's coordinator, and the Admin
    client bootstraps from that coordinator, which leads none of them — its answers (START-OFFSET,
    LAG from the leaders' high watermarks) come from the other nodes. See ShareAdmin.java
    `cluster`."""
    from kafka.protocol.find_coordinator import FindCoordinatorRequest_v2
    from test_replication import create_topic

    cluster = start_cluster(overrides=GROUP_OVERRIDES)
    group, topic = "sg-cluster-admin", "share-ca"

    def coordinator(node):
        with wire.Conn(node.port) as c:
            r = c.request(FindCoordinatorRequest_v2(coordinator_key=group, coordinator_type=0))
        return r.coordinator_id if r.error_code == 0 else None

    home = wait_until(lambda: coordinator(cluster.node(1)), timeout=30, what="a group coordinator")
    a, b = [n.node_id for n in cluster.nodes if n.node_id != home]
    parts = create_topic(cluster, topic, 3, assignment={0: [a, b, home], 1: [b, home, a], 2: [a, home, b]})
    assert {p: m.leader for p, m in parts.items()} == {0: a, 1: b, 2: a}
    java_ok(run_java("ShareAdmin", "cluster", cluster.node(home).bootstrap, group, topic))
