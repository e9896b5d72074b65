"""Share groups (KIP-932) in a 3-node cluster, with Java kafka-clients 4.3's KafkaShareConsumer.

Share-partition state lives on the topic-partition's leader and is written, before each
acknowledgement is answered, to the share coordinator: the leader of the `__share_group_state`
partition the share-partition's key hashes to, replicated to its ISR (design
docs/design/share-groups.md §14.1). These tests kill the nodes that hold it and check what the
issue's single-broker proof checks: no accepted record is delivered again, every record is
accepted once, nothing is left.
"""
import base64
import io
import signal
import struct

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

import wire
from conftest import GROUP_OVERRIDES, JavaProc, find_coordinator, produce, wait_until
from test_share_consumers import SHARE_OVERRIDES, accept_all_across, recs, wait_acked


def create_replicated(cluster, topic, partitions=1):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    futs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=3)],
                               operation_timeout=10)
    for f in futs.values():
        f.result(timeout=15)
    return cluster.wait_leaders(topic, partitions)


def node_restarter(cluster, node):
    """A disruption: SIGKILL `node`; then (as `after`) start it again and wait for the cluster."""
    return node.kill, lambda: cluster.start()


def node_freezer(cluster, node):
    """A disruption: SIGSTOP `node` (fenced once broker.session.timeout.ms passes, while it
    still believes it leads); then SIGCONT it, a zombie until it catches up, and wait for the
    cluster."""
    def thaw():
        node.proc.send_signal(signal.SIGCONT)
        cluster.wait_ready(timeout=30)
    return lambda: node.proc.send_signal(signal.SIGSTOP), thaw


def group_coordinator_of(cluster, group):
    """The node FindCoordinator (key type 0, v2) names for `group`, asked of a live node."""
    r = find_coordinator(cluster.live()[0].port, group, 0)
    assert r.error_code == 0, r
    return r.coordinator_id


@pytest.mark.parametrize("victim", ["partition-leader", "controller", "stopped-leader",
                                    "share-coordinator", "group-coordinator"])
def test_accepted_records_are_never_redelivered_across_a_node_sigkill(start_cluster, java_classes, run_java,
                                                                      victim):
    """3,000 records on a partition replicated three times, accepted ten at a time by a
    KafkaShareConsumer (commitSync). About half way a node is SIGKILLed and restarted three
    quarters of the way: the partition's leader; or the controller (another node when the
    leader is it); or the share coordinator of the share-partition's key (the leader of its
    __share_group_state partition, found by asking every node for the key's state), or the
    share group's coordinator (FindCoordinator), whichever node that is at the moment of the
    kill (design §14.1 step 7 (b)). Or the leader is SIGSTOPped and, three quarters of the way,
    SIGCONTed as a zombie that still holds the old share-partition (its writes are fenced by
    the new leader's epoch). Every key is accepted exactly once as confirmed, none delivered
    after its acceptance was confirmed, nothing left over."""
    cluster = start_cluster(overrides=SHARE_OVERRIDES)
    topic, group = f"shc-{victim}", f"sgc-{victim}"
    leaders = create_replicated(cluster, topic)
    leader = leaders[0].leader
    targets = []
    if victim in ("share-coordinator", "group-coordinator"):
        topic_id = None
        if victim == "share-coordinator":
            out = run_java("ShareAdmin", "topic-id", cluster.bootstrap, group, topic)
            (topic_id,), = [l.split()[1:] for l in out.splitlines() if l.startswith("TOPICID ")]

        def disrupt():
            # Named now: the key has state (and so a coordinator) once the member acquired.
            if topic_id is None:
                node = group_coordinator_of(cluster, group)
            else:
                (node, _), = wait_until(lambda: share_state_everywhere(cluster, group, topic_id), timeout=30,
                                        what="the key's share coordinator").items()
            print(f"\n{victim}: node {node} (partition leader {leader})")
            targets.append(cluster.node(node))
            targets[0].kill()
        after = cluster.start
    else:
        if victim == "controller":
            ctrl = cluster.controller_id()
            targets.append(cluster.node(ctrl if ctrl != leader else next(n.node_id for n in cluster.nodes
                                                                         if n.node_id != leader)))
        else:
            targets.append(cluster.node(leader))
        disrupt, after = (node_freezer if victim == "stopped-leader" else node_restarter)(cluster, targets[0])
    try:
        accept_all_across(java_classes, cluster.bootstrap, topic, group, 3000, disrupt, after=after)
    finally:
        for target in targets:
            if target.proc is not None and target.proc.poll() is None:
                target.proc.send_signal(signal.SIGCONT)


def test_an_idle_groups_start_offset_survives_a_whole_cluster_sigkill(start_cluster, java_classes):
    """Ten records accepted, the member gone, every node SIGKILLed and started again: the group
    starts again at offset 10, not where share.auto.offset.reset (earliest) would."""

    cluster = start_cluster(overrides=GROUP_OVERRIDES)
    create_replicated(cluster, "shc-idle")
    first = JavaProc(java_classes, "ShareMember", cluster.bootstrap, "shc-idle", "sgc-idle", "accept",
                     "produce", "10")
    try:
        wait_acked(first, set(range(10)), timeout=60)
    finally:
        first.stop()
    cluster.kill()
    cluster.start()
    cluster.wait_leaders("shc-idle", 1, timeout=30)
    # keys 0..4 again, at offsets 10..14
    after = JavaProc(java_classes, "ShareMember", cluster.bootstrap, "shc-idle", "sgc-idle", "accept",
                     "produce", "5")
    try:
        wait_acked(after, set(range(5)), timeout=90)
        assert recs(after) == {k: [1] for k in range(5)}
    finally:
        after.stop()


COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, INVALID_REQUEST = 14, 15, 16, 42


def read_share_state(port, group, topic_id, partition):
    """ReadShareGroupState v0 (key 84, flexible; a broker's request, no authorizer here) of one
    key at the node on `port`, leader epoch -1 (no fencing): (error code, start offset).
    `topic_id` in Kafka's Uuid.toString() form."""
    def uvarint(n):
        out = b""
        while n >= 0x80:
            out += bytes([n & 0x7F | 0x80])
            n >>= 7
        return out + bytes([n])

    def read_uvarint(buf):
        n, shift = 0, 0
        while True:
            b = buf.read(1)[0]
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7

    g = group.encode()
    tid = base64.urlsafe_b64decode(topic_id + "==")
    body = (uvarint(len(g) + 1) + g + uvarint(2) + tid + uvarint(2)
            + struct.pack(">ii", partition, -1) + b"\0" + b"\0" + b"\0")
    with wire.Conn(port, timeout=5) as c:
        c.send_frame(c.header(84, 0, flexible=True) + body)
        buf = io.BytesIO(c.recv_frame(5))
    buf.read(4)  # correlation id
    read_uvarint(buf)  # header tagged fields (none)
    assert read_uvarint(buf) == 2, "one topic"
    buf.read(16)
    assert read_uvarint(buf) == 2, "one partition"
    _partition, error = struct.unpack(">ih", buf.read(6))
    message = read_uvarint(buf)
    if message:
        buf.read(message - 1)
    _state_epoch, start = struct.unpack(">iq", buf.read(12))
    return error, start


def share_state_everywhere(cluster, group, topic_id, partition=0):
    """{node id: (error, start offset)} of the live nodes that coordinate the key (every other
    node answers NOT_COORDINATOR); None while one answers that it is loading
    (COORDINATOR_LOAD_IN_PROGRESS) or not available (a coordinator that moves)."""
    got = {}
    for n in cluster.live():
        answer = read_share_state(n.port, group, topic_id, partition)
        if answer[0] in (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE):
            return None
        if answer[0] != NOT_COORDINATOR:
            got[n.node_id] = answer
    return got


def stderr_lines(node, text):
    return [l for l in node.stderr_path.read_text(errors="replace").splitlines() if text in l]


def test_a_deleted_topics_share_state_is_tombstoned_at_its_coordinator(start_cluster, java_classes, run_java,
                                                                       monkeypatch):
    """Design §14.1 step 7 (f). A group accepts 10 of 30 records of a topic replicated three
    times; its member goes (its connection closes: the leader ends the share session and drops
    the group's share-partitions from memory, so no leader holds the state). The topic is
    deleted with the Java Admin: the key's share coordinator tombstones the state by itself (a
    tombstone as the key's last record in __share_group_state; the key reads as uninitialized,
    INVALID_REQUEST, instead of UNKNOWN_TOPIC_OR_PARTITION for state of an unknown topic). The
    topic re-created under its name (a new id) starts empty: a new member of the group gets
    exactly offsets 0-4, and the group's offsets are the new topic's only (START-OFFSET 5, LAG
    0). The coordinator SIGKILLed and restarted: the old state does not come back, and no
    other node had to tombstone it again (the tombstone was in the replicated log)."""
    monkeypatch.setenv("FJORD_LOG", "info,openraft=warn,fjord::broker::shares=debug")
    cluster = start_cluster(overrides=GROUP_OVERRIDES)
    topic, group = "shc-deleted", "sgc-deleted"
    leader = cluster.node(create_replicated(cluster, topic)[0].leader)

    def admin(mode, prefix):
        out = run_java("ShareAdmin", mode, cluster.bootstrap, group, topic)
        return [l.split()[1:] for l in out.splitlines() if l.startswith(prefix + " ")]

    first = JavaProc(java_classes, "ShareMember", cluster.bootstrap, topic, group, "accept", "produce", "10")
    try:
        wait_acked(first, set(range(10)), timeout=60)
    finally:
        first.stop()
    produce(cluster.bootstrap, topic, [f"v-{i}".encode() for i in range(10, 30)],
            keys=[str(i).encode() for i in range(10, 30)], acks="all")
    wait_until(lambda: any(group in l for l in stderr_lines(leader, "share group unloaded")), timeout=30,
               what="the leader to unload the idle group's share-partitions")
    wait_until(lambda: admin("offsets", "OFFSET") == [[topic, "0", "10", "20"]], timeout=30,
               what="START-OFFSET 10, LAG 20")
    (old_id,), = admin("topic-id", "TOPICID")
    before = wait_until(lambda: share_state_everywhere(cluster, group, old_id), timeout=30,
                        what="the key's coordinator")
    (coordinator, answer), = before.items()
    assert answer == (0, 10)

    assert admin("delete-topic", "DELETED") == [[old_id]]
    wait_until(lambda: share_state_everywhere(cluster, group, old_id) == {coordinator: (INVALID_REQUEST, -1)},
               timeout=30, what="the coordinator to tombstone the deleted topic's state")
    state = admin("state-log", "STATE")
    old = [row for row in state if row[2] == old_id]
    assert old and old[-1][3:] == ["0", "TOMBSTONE"], state
    assert all(row[4] == "VALUE" for row in old[:-1]), state
    tombstoned = "share state of deleted topics tombstoned"
    assert len(stderr_lines(cluster.node(coordinator), tombstoned)) == 1

    # The topic again, under its name: a new id and no state.
    wait_until(lambda: create_replicated(cluster, topic), timeout=30, what=f"{topic} created again")
    (new_id,), = admin("topic-id", "TOPICID")
    assert new_id != old_id
    second = JavaProc(java_classes, "ShareMember", cluster.bootstrap, topic, group, "accept", "produce", "5")
    try:
        wait_acked(second, set(range(5)), timeout=90)
        assert recs(second) == {k: [1] for k in range(5)}
    finally:
        second.stop()
    wait_until(lambda: admin("offsets", "OFFSET") == [[topic, "0", "5", "0"]], timeout=30,
               what="START-OFFSET 5, LAG 0 of the new topic")

    # The old key's coordinator SIGKILLed, then started again: the state stays deleted.
    cluster.node(coordinator).kill()
    moved = wait_until(lambda: share_state_everywhere(cluster, group, old_id), timeout=30,
                       what="a new coordinator of the old key")
    assert list(moved.values()) == [(INVALID_REQUEST, -1)] and coordinator not in moved
    cluster.start()
    after = wait_until(lambda: share_state_everywhere(cluster, group, old_id), timeout=30,
                       what="the old key's coordinator after the restart")
    assert list(after.values()) == [(INVALID_REQUEST, -1)]
    assert sum(len(stderr_lines(n, tombstoned)) for n in cluster.nodes) == 1, \
        "only the first coordinator wrote tombstones; the others replayed them"
    state = admin("state-log", "STATE")
    assert [row for row in state if row[2] == old_id][-1][3:] == ["0", "TOMBSTONE"], state
    assert admin("offsets", "OFFSET") == [[topic, "0", "5", "0"]]
