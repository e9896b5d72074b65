"""Replica administration with the Java Admin client (kafka-clients 4.x, java/ReplicationAdmin.java):
the calls kafka-leader-election.sh, kafka-log-dirs.sh and kafka-topics.sh --describe
[--under-replicated-partitions | --unavailable-partitions] make, against a 3-node cluster and a
single broker.

Apache Kafka's behaviour is the expectation:
- ElectLeaders (preferred) moves a partition's leadership back to its first replica once that
  replica is live and in sync again, from leader epoch + 1; a partition whose first replica
  leads already gets ELECTION_NOT_NEEDED (ElectionNotNeededException), one whose first replica
  is down PREFERRED_LEADER_NOT_AVAILABLE; any node answers (the controller elects). A single
  broker leads every partition as its only replica: no election is ever needed.
- DescribeLogDirs, asked of each broker, lists its one log dir with exactly the replicas it
  keeps there (led or followed), each with its size on disk (the sum of its .log segments,
  growing as records arrive), offset lag 0 and no future replica; describeReplicaLogDirs names
  that dir for each replica.
- describeTopics shows the ISR shrinking when a follower dies (under-replicated: ISR smaller
  than the replicas) and a partition whose only replica is down without a leader
  (unavailable), and both healing when the node returns.

Every cluster test starts its own cluster (`start_cluster`: broker.session.timeout.ms=2000).
"""
import time

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.protocol.admin import ElectLeadersRequest_v1

from conftest import create_topics, node_metadata, produce, wait_until
import wire

ELECTION_NOT_NEEDED = 84

# a follower that stops fetching leaves the ISR within a second or two (Kafka's default is 30 s)
FAST_ISR = {"replica.lag.time.max.ms": "1500"}


# --- helpers --------------------------------------------------------------------------------

def java(run_java, *args):
    """ReplicationAdmin's output lines, its final OK checked."""
    out = run_java("ReplicationAdmin", *args).splitlines()
    assert out and out[-1] == "OK", out
    return out


def describe(run_java, node, topic, which="all"):
    """Admin.describeTopics as kafka-topics.sh --describe prints it (which: all,
    under-replicated, unavailable): {partition: (leader or None, [replicas], sorted isr)}."""
    out = {}
    for line in java(run_java, "describe", node.bootstrap, topic, which):
        if line.startswith("PARTITION "):
            _, t, p, leader, replicas, isr = line.split()
            assert t == topic, line
            ids = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
            out[int(p)] = (None if leader == "none" else int(leader), ids(replicas), sorted(ids(isr)))
    return out


def elect(run_java, node, partitions, election="preferred"):
    """Admin.electLeaders: ({(topic, partition): "OK" or the exception's class}, all()'s outcome)."""
    which = "all" if partitions is None else ",".join(f"{t}:{p}" for t, p in partitions)
    results, overall = {}, None
    for line in java(run_java, "elect", node.bootstrap, election, which):
        if line.startswith("RESULT "):
            _, t, p, outcome = line.split()
            results[(t, int(p))] = outcome
        elif line.startswith("ALL "):
            overall = line.split()[1]
    return results, overall


def log_dirs(run_java, node, brokers):
    """Admin.describeLogDirs: ({broker: (dir, error, total, usable)},
    {broker: {(topic, partition): (size, offset lag, future)}})."""
    dirs, replicas = {}, {b: {} for b in brokers}
    for line in java(run_java, "logdirs", node.bootstrap, ",".join(map(str, brokers))):
        f = line.split()
        if f[0] == "DIR":
            assert int(f[1]) not in dirs, f"two log dirs for broker {f[1]}"
            dirs[int(f[1])] = (f[2], f[3], int(f[4]), int(f[5]))
        elif f[0] == "REPLICA":
            replicas[int(f[1])][(f[3], int(f[4]))] = (int(f[5]), int(f[6]), f[7] == "true")
    return dirs, replicas


def disk_bytes(node, topic, partition):
    """The sizes of the partition's .log segment files on the node."""
    return sum(f.stat().st_size for f in (node.log_dir / f"{topic}-{partition}").glob("*.log"))


def create_topic(cluster, name, assignment=None, partitions=None, rf=None):
    """kafka-python CreateTopics (explicit assignment, or partitions/rf); waits for a leader of
    every partition on every live node; {partition: PartitionMeta}."""
    admin = KafkaAdminClient(bootstrap_servers=cluster.live()[0].bootstrap, request_timeout_ms=15000)
    try:
        if assignment is None:
            topic = NewTopic(name, partitions, rf)
        else:
            topic = NewTopic(name, -1, -1, replica_assignments=assignment)
        resp = admin.create_topics([topic], timeout_ms=15000)
        assert [(t, e) for t, e, *_ in resp.topic_errors] == [(name, 0)], resp
    finally:
        admin.close()
    return cluster.wait_leaders(name, partitions or len(assignment))


def wait_partition(cluster, topic, partition, pred, what, timeout=30):
    """Every live node's Metadata for the partition satisfies pred(PartitionMeta); returns it."""
    seen = {}

    def ok():
        metas = []
        for n in cluster.live():
            m = node_metadata(n.port, [topic]).topics.get(topic, {}).get(partition)
            seen[n.node_id] = m
            metas.append(m)
        return metas[0] if all(m is not None and pred(m) for m in metas) else None
    try:
        return wait_until(ok, timeout=timeout, interval=0.1, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}; last seen: {seen}") from None


def in_sync(cluster, topic, partition):
    live = {n.node_id for n in cluster.live()}
    return wait_partition(cluster, topic, partition,
                          lambda m: m.error == 0 and m.leader in live and sorted(m.isr) == sorted(m.replicas),
                          what=f"{topic}-{partition} led by a live node with ISR == replicas")


def produce_acks_all(cluster, topic, partition, n, tag):
    prod = KafkaProducer(bootstrap_servers=",".join(x.bootstrap for x in cluster.live()), acks="all", linger_ms=5)
    try:
        futs = [prod.send(topic, value=b"%s-%d-" % (tag, i) + b"x" * 100, partition=partition) for i in range(n)]
        prod.flush(30)
        return [f.get(timeout=30).offset for f in futs]
    finally:
        prod.close()


# --- 1. preferred leader election -------------------------------------------------------------

def test_preferred_election_moves_leadership_back_after_a_restart(start_cluster, run_java):
    cluster = start_cluster(overrides=FAST_ISR)
    controller = cluster.controller_id()
    a, b = [n.node_id for n in cluster.nodes if n.node_id != controller]
    # pref-0 prefers a; pref-1 prefers b, whose leadership a's restart does not touch
    create_topic(cluster, "pref", assignment={0: [a, b, controller], 1: [b, a, controller]})
    assert produce_acks_all(cluster, "pref", 0, 20, b"before") == list(range(20))
    for p in (0, 1):
        in_sync(cluster, "pref", p)
    assert describe(run_java, cluster.node(b), "pref")[0][0] == a

    A = cluster.node(a)
    A.kill()
    m = wait_partition(cluster, "pref", 0, lambda m: m.leader not in (-1, a),
                       what=f"pref-0 led by another replica than {a} after its kill")
    # with its preferred replica down, a preferred election cannot happen
    results, overall = elect(run_java, cluster.node(b), [("pref", 0)])
    assert (results, overall) == ({("pref", 0): "PreferredLeaderNotAvailableException"},
                                  "PreferredLeaderNotAvailableException")

    A.launch()
    A.wait_accepting(30)
    before = in_sync(cluster, "pref", 0)
    assert before.leader != a and before.leader == m.leader, (before, m)
    # what kafka-topics.sh --describe shows: the leader is not the first replica
    leader, replicas, isr = describe(run_java, cluster.node(b), "pref")[0]
    assert leader == before.leader and replicas == [a, b, controller] and leader != replicas[0], (leader, replicas)
    assert isr == sorted(replicas)

    # the election, asked through a node that is not the controller
    results, overall = elect(run_java, cluster.node(b), [("pref", 0), ("pref", 1)])
    assert results == {("pref", 0): "OK", ("pref", 1): "ElectionNotNeededException"}, results
    assert overall == "ElectionNotNeededException"
    after = wait_partition(cluster, "pref", 0, lambda m: m.leader == a,
                           what=f"pref-0 led by its preferred replica {a} on every node")
    assert after.leader_epoch == before.leader_epoch + 1, (before, after)
    assert after.replicas == [a, b, controller] and sorted(after.isr) == sorted(after.replicas), after
    leader, replicas, _ = describe(run_java, cluster.node(controller), "pref")[0]
    assert leader == replicas[0] == a

    # a second election is not needed, whichever node is asked
    results, overall = elect(run_java, A, [("pref", 0)])
    assert (results, overall) == ({("pref", 0): "ElectionNotNeededException"}, "ElectionNotNeededException")
    for n in cluster.nodes:
        with wire.Conn(n.port) as c:
            r = c.request(ElectLeadersRequest_v1(election_type=0, topic_partitions=[("pref", [0, 1])],
                                                 timeout=15000), timeout=20)
        assert r.error_code == 0, (n.node_id, r)
        (topic, parts), = r.replication_election_results
        assert topic == "pref" and [(p, e) for p, e, _ in parts] == \
            [(0, ELECTION_NOT_NEEDED), (1, ELECTION_NOT_NEEDED)], (n.node_id, parts)
    # every partition: those led by their preferred replica are left out
    results, overall = elect(run_java, cluster.node(controller), None)
    assert not [tp for tp in results if tp[0] == "pref"], results
    assert node_metadata(A.port, ["pref"]).topics["pref"][0].leader_epoch == after.leader_epoch

    # the new leader takes writes where the old one stopped, and its log is everyone's
    assert produce_acks_all(cluster, "pref", 0, 5, b"after") == list(range(20, 25))


# --- 2. log dirs --------------------------------------------------------------------------------

def test_describe_log_dirs_lists_each_brokers_replicas_and_sizes_grow(start_cluster, run_java):
    cluster = start_cluster()
    spread = create_topic(cluster, "dirs", partitions=3, rf=2)
    single = create_topic(cluster, "dirs1", partitions=1, rf=1)
    for p in range(3):
        in_sync(cluster, "dirs", p)
    ids = [n.node_id for n in cluster.nodes]

    def hosted():
        """{node: {(topic, partition)}} of every topic's replicas, from Metadata."""
        md = node_metadata(cluster.node(1).port)
        return {i: {(t, p) for t, parts in md.topics.items() for p, m in parts.items() if i in m.replicas}
                for i in ids}

    def listed(via):
        dirs, replicas = log_dirs(run_java, via, ids)
        for n in cluster.nodes:
            path, err, total, usable = dirs[n.node_id]
            assert (path, err) == (str(n.log_dir), "none"), dirs[n.node_id]
            assert total > 0 and 0 <= usable <= total, dirs[n.node_id]
            for tp, (size, lag, future) in replicas[n.node_id].items():
                assert (lag, future) == (0, False), (n.node_id, tp)
        return replicas

    # each broker lists exactly what it hosts: the replicas of every topic that Metadata places on it
    def listing_matches():
        r = listed(cluster.node(2))
        return r if {i: set(r[i]) for i in ids} == hosted() else None
    replicas = wait_until(listing_matches, timeout=30, interval=0.5, what="log dirs listing the hosted replicas")
    for i in ids:
        want = {("dirs", p) for p, m in spread.items() if i in m.replicas}
        if single[0].replicas == [i]:
            want.add(("dirs1", 0))
        assert {tp for tp in replicas[i] if tp[0].startswith("dirs")} == want, (i, replicas[i])
        assert all(replicas[i][tp][0] == 0 for tp in want), replicas[i]

    # records make every replica of a partition grow alike, to its .log files' size
    for p in range(3):
        assert produce_acks_all(cluster, "dirs", p, 50 * (p + 1), b"d") == list(range(50 * (p + 1)))

    def grown():
        r = listed(cluster.node(3))
        sizes = {}
        for p, m in spread.items():
            got = {i: r[i][("dirs", p)][0] for i in m.replicas}
            disk = {i: disk_bytes(cluster.node(i), "dirs", p) for i in m.replicas}
            if got != disk or len(set(got.values())) != 1 or 0 in got.values():
                return None
            sizes[p] = got[m.replicas[0]]
        return sizes
    sizes = wait_until(grown, timeout=30, interval=0.5, what="every replica's size grown to its .log bytes")
    assert sizes[0] < sizes[1] < sizes[2], sizes

    # kafka-reassign-partitions.sh / kafka-log-dirs.sh: each replica's current log dir
    for p, m in spread.items():
        out = java(run_java, "replicadirs", cluster.node(1).bootstrap, "dirs", p, ",".join(map(str, m.replicas)))
        got = {int(f[1]): (f[2], f[3]) for f in (l.split() for l in out if l.startswith("REPLICADIR "))}
        assert got == {i: (str(cluster.node(i).log_dir), "null") for i in m.replicas}, got


# --- 3. under-replicated and unavailable partitions ----------------------------------------------

def test_describe_topics_shows_under_replicated_and_unavailable_partitions(start_cluster, run_java):
    cluster = start_cluster(overrides=FAST_ISR)
    controller = cluster.controller_id()
    lead, fol = [n.node_id for n in cluster.nodes if n.node_id != controller]
    create_topic(cluster, "urp", assignment={0: [lead, fol], 1: [lead, controller]})
    create_topic(cluster, "lonely", assignment={0: [fol]})
    for p in (0, 1):
        in_sync(cluster, "urp", p)
    via = cluster.node(controller)
    assert describe(run_java, via, "urp", "under-replicated") == {}
    assert describe(run_java, via, "urp", "unavailable") == {}
    assert describe(run_java, via, "lonely", "unavailable") == {}

    F = cluster.node(fol)
    F.kill()
    t0 = time.monotonic()
    wait_partition(cluster, "urp", 0, lambda m: (m.leader, m.isr) == (lead, [lead]),
                   what=f"urp-0's ISR shrunk to [{lead}] after {fol}'s kill")
    wait_partition(cluster, "lonely", 0, lambda m: m.leader == -1, what="lonely-0 without a leader")
    print(f"\nISR shrunk and lonely-0 leaderless {time.monotonic() - t0:.1f}s after the kill")

    # kafka-topics.sh --describe --under-replicated-partitions: urp-0 only
    assert describe(run_java, via, "urp", "under-replicated") == {0: (lead, [lead, fol], [lead])}
    assert describe(run_java, via, "urp") == {0: (lead, [lead, fol], [lead]),
                                              1: (lead, [lead, controller], sorted([lead, controller]))}
    assert describe(run_java, via, "urp", "unavailable") == {}
    # --unavailable-partitions: lonely-0, whose only replica is down, has no leader
    unavailable = describe(run_java, via, "lonely", "unavailable")
    assert list(unavailable) == [0] and unavailable[0][:2] == (None, [fol]), unavailable

    # the follower returns: in sync again, and lonely-0 led by it
    F.launch()
    F.wait_accepting(30)
    in_sync(cluster, "urp", 0)
    wait_partition(cluster, "lonely", 0, lambda m: m.leader == fol, what=f"lonely-0 led by {fol} again")
    assert describe(run_java, via, "urp", "under-replicated") == {}
    assert describe(run_java, via, "lonely", "unavailable") == {}
    assert describe(run_java, via, "lonely") == {0: (fol, [fol], [fol])}


# --- 4. a single broker -------------------------------------------------------------------------

def test_single_broker_needs_no_election_and_lists_its_log_dir(broker, run_java):
    create_topics(broker.bootstrap, "solo", partitions=2)
    reports = produce(broker.bootstrap, "solo", [b"v%d" % i for i in range(20)])
    assert all(r[0] is None for r in reports), reports

    for election in ("preferred", "unclean"):
        results, overall = elect(run_java, broker, [("solo", 0), ("solo", 1)], election)
        assert results == {("solo", 0): "ElectionNotNeededException",
                           ("solo", 1): "ElectionNotNeededException"}, (election, results)
        assert overall == "ElectionNotNeededException"
    assert elect(run_java, broker, None) == ({}, "OK")
    results, _ = elect(run_java, broker, [("solo", 5), ("nope", 0)])
    assert results == {("solo", 5): "UnknownTopicOrPartitionException",
                       ("nope", 0): "UnknownTopicOrPartitionException"}, results

    dirs, replicas = log_dirs(run_java, broker, [1])
    path, err, total, usable = dirs[1]
    assert (path, err) == (str(broker.log_dir), "none") and total > 0 and 0 <= usable <= total, dirs
    solo = {tp: v for tp, v in replicas[1].items() if tp[0] == "solo"}
    assert sorted(solo) == [("solo", 0), ("solo", 1)], replicas
    for (t, p), (size, lag, future) in solo.items():
        assert (size, lag, future) == (disk_bytes(broker, t, p), 0, False), (t, p)
    assert sum(size for size, _, _ in solo.values()) > 0
