"""Partition reassignment in a 3-node fjord cluster, driven by the Java Admin client as
kafka-reassign-partitions.sh drives it (java/Reassign.java): --execute is
alterPartitionReassignments, --verify and --list are listPartitionReassignments with
describeTopics, --cancel is alterPartitionReassignments with no target.

Apache Kafka's behaviour (KIP-455) is the expectation:
- a move from [1, 2] to [2, 3] lists replicas [2, 3, 1] (the target, then what it removes),
  adding [3], removing [1] while 3 catches up; once 3 is in the ISR it completes by itself:
  replicas [2, 3], ISR {2, 3}, and a leader out of the target (1) hands over to the target;
- the new replica copies the log byte for byte, the old one deletes its copy, and consumers
  read every record once at the offsets it was written at;
- a move that cannot complete (its new replica is down) is listed until cancelled; the cancel
  goes back to the replicas it started from, and cancelling again is
  NO_REASSIGNMENT_IN_PROGRESS; a target naming an unknown broker is INVALID_REPLICA_ASSIGNMENT.

Every test starts its own cluster (`start_cluster`, broker.session.timeout.ms=2000) and waits
on conditions; the node logs are attached to a failure by the fixture.
"""
from conftest import consume_assigned, node_metadata, produce, wait_until

N = 500


def segments(node, topic, partition):
    """{segment file name: bytes} of the partition's .log files on the node; None without a
    partition directory."""
    d = node.log_dir / f"{topic}-{partition}"
    if not d.is_dir():
        return None
    return {f.name: f.read_bytes() for f in sorted(d.glob("*.log"))}


def java_lines(run_java, *args):
    """The output lines of a Reassign.java run, without its closing OK."""
    lines = run_java("Reassign", *args).splitlines()
    assert lines[-1] == "OK", lines
    return lines[:-1]


def wait_assignment(cluster, topic, replicas, isr):
    """Every live node's Metadata shows partition 0 on `replicas` (in order) with the ISR
    `isr` (a set) and a leader among them; that PartitionMeta."""
    def settled():
        seen = []
        for n in cluster.live():
            p = node_metadata(n.port, [topic]).topics.get(topic, {}).get(0)
            if p is None or p.replicas != replicas or set(p.isr) != isr or p.leader not in isr:
                return None
            seen.append(p)
        return seen[0]
    return wait_until(settled, timeout=60, interval=0.2,
                      what=f"{topic}-0 on replicas {replicas} with ISR {isr} on every live node")


def test_move_a_partition_to_another_broker(start_cluster, run_java):
    cluster = start_cluster()
    bs = cluster.node(1).bootstrap
    java_lines(run_java, "create", bs, "moved", "1,2")
    cluster.wait_leaders("moved", 1)
    values = [b"r%03d" % i for i in range(N)]
    reports = produce(bs, "moved", values)
    assert [(err, p, off) for err, p, off, _, _ in reports] == [(None, 0, i) for i in range(N)]

    assert java_lines(run_java, "reassign", bs, "moved", 0, "2,3") == ["RESULT ok"]
    # In progress, or already completed: never anything else.
    listed = java_lines(run_java, "list", bs)
    assert listed in ([], ["REASSIGNING moved 0 2,3,1 3 1"]), listed

    moved = wait_assignment(cluster, "moved", [2, 3], {2, 3})
    assert moved.leader == 2, moved
    assert java_lines(run_java, "describe", bs, "moved") in (["PARTITION 0 2 2,3 2,3"],
                                                             ["PARTITION 0 2 2,3 3,2"])
    assert java_lines(run_java, "list", bs) == []

    # The new replica holds the very bytes of the other; the old one dropped its copy.
    last = {}

    def copied():
        last[2], last[3] = segments(cluster.node(2), "moved", 0), segments(cluster.node(3), "moved", 0)
        return last[3] and last[3] == last[2] and sum(map(len, last[2].values())) > 0
    wait_until(copied, timeout=30, interval=0.2,
               what=f"identical .log files on nodes 2 and 3 (sizes: "
                    f"{ {n: {k: len(v) for k, v in (s or {}).items()} for n, s in last.items()} })")
    wait_until(lambda: segments(cluster.node(1), "moved", 0) is None, timeout=30,
               what="node 1 to delete its moved-0 directory")

    records = consume_assigned(bs, "moved", N + 1, timeout=10)
    assert [(p, off, v) for p, off, _, v in records] == [(0, i, values[i]) for i in range(N)]


def test_a_move_that_cannot_complete_is_listed_until_cancelled(start_cluster, run_java):
    cluster = start_cluster()
    bs = cluster.node(1).bootstrap
    java_lines(run_java, "create", bs, "stuck", "1,2")
    cluster.wait_leaders("stuck", 1)
    values = [b"s%03d" % i for i in range(100)]
    produce(bs, "stuck", values)
    wait_assignment(cluster, "stuck", [1, 2], {1, 2})

    # Node 3 is down: it cannot catch up, so the move stays in progress.
    cluster.node(3).stop()
    assert java_lines(run_java, "reassign", bs, "stuck", 0, "1,3") == ["RESULT ok"]
    assert java_lines(run_java, "list", bs) == ["REASSIGNING stuck 0 1,3,2 3 2"]
    wait_assignment(cluster, "stuck", [1, 3, 2], {1, 2})
    # Still listed a while later: nothing completes it without 3 in sync.
    assert java_lines(run_java, "list", bs) == ["REASSIGNING stuck 0 1,3,2 3 2"]
    unknown = java_lines(run_java, "reassign", bs, "stuck", 0, "1,9")
    assert len(unknown) == 1 and unknown[0].startswith("RESULT InvalidReplicaAssignmentException"), unknown

    assert java_lines(run_java, "reassign", bs, "stuck", 0, "cancel") == ["RESULT ok"]
    assert java_lines(run_java, "list", bs) == []
    wait_assignment(cluster, "stuck", [1, 2], {1, 2})
    again = java_lines(run_java, "reassign", bs, "stuck", 0, "cancel")
    assert len(again) == 1 and again[0].startswith("RESULT NoReassignmentInProgressException"), again

    # Node 3 back: it does not host the partition (replaying the metadata log it may open it
    # for a moment, between the move and its cancel), and the records are all there.
    cluster.node(3).start()
    cluster.wait_ready()
    wait_until(lambda: segments(cluster.node(3), "stuck", 0) is None, timeout=30,
               what="node 3 without a stuck-0 directory")
    records = consume_assigned(bs, "stuck", len(values) + 1, timeout=10)
    assert [(off, v) for _, off, _, v in records] == list(enumerate(values))
