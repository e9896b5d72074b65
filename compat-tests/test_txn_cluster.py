"""Transactions on a 3-node cluster with confluent-kafka (librdkafka 2.12): the broker-facing
scenarios of librdkafka's own transaction test (tests/0103-transactions.c, run in full by
scripts/librdkafka-txn-test.sh) on replication factor 3 topics with min.insync.replicas=2.

Apache Kafka's behaviour is the expectation: each transaction spans partitions led by different
nodes; every COMMIT/ABORT marker takes an offset on every partition the transaction wrote to
(and none on a partition it did not); a read_committed consumer stops at the last stable offset
and never sees aborted records; offsets sent with a transaction are committed only when it
commits; a second producer with the same transactional.id fences the first; and a marker
written after a leader failover, at the new leader epoch, is read like any other.
"""
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import conftest
from conftest import GROUP_OVERRIDES, node_metadata, wait_until

# Every node's default as well as each topic's own setting: acks=all needs 2 of the 3 replicas.
TXN_OVERRIDES = {**GROUP_OVERRIDES, "min.insync.replicas": "2"}
NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: nothing committed


# --- helpers --------------------------------------------------------------------------------

def create_rf3(cluster, name, partitions=None, assignment=None):
    """An RF=3, min.insync.replicas=2 topic (confluent AdminClient); waits until every live node
    knows a leader for each partition; {partition: PartitionMeta}."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    if assignment is None:
        topic = NewTopic(name, num_partitions=partitions, replication_factor=3,
                         config={"min.insync.replicas": "2"})
    else:
        topic = NewTopic(name, num_partitions=len(assignment), replica_assignment=assignment,
                         config={"min.insync.replicas": "2"})
    admin.create_topics([topic], operation_timeout=15)[name].result(timeout=20)
    parts = cluster.wait_leaders(name, len(assignment) if assignment else partitions)
    assert all(len(m.replicas) == 3 and len(m.isr) == 3 for m in parts.values()), parts
    return parts


def spread_topic(cluster, name):
    """3 partitions, each led by a different node; {partition: leader}."""
    parts = create_rf3(cluster, name, 3)
    leaders = {p: m.leader for p, m in parts.items()}
    assert sorted(leaders.values()) == [1, 2, 3], parts
    return leaders


def txn_producer(bootstrap, txid, **conf):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txid, "linger.ms": 5, **conf})
    p.init_transactions(30)
    return p


def produce_txn(p, topic, values_by_partition):
    """Produce {partition: [value, ...]} in the current transaction and flush; returns
    {partition: [offset, ...]} from the delivery reports (every one must succeed)."""
    reports = []
    for part, values in values_by_partition.items():
        for v in values:
            p.produce(topic, value=v.encode(), partition=part,
                      on_delivery=lambda err, m: reports.append((err, m.partition(), m.offset())))
    assert p.flush(30) == 0
    assert [e for e, _, _ in reports if e is not None] == []
    out = {}
    for _, part, off in reports:
        out.setdefault(part, []).append(off)
    return out


def plain_produce(bootstrap, topic, values_by_partition):
    """Non-transactional (idempotent, acks=all) records, {partition: [value, ...]}."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
    errs = []
    for part, values in values_by_partition.items():
        for v in values:
            p.produce(topic, value=v.encode(), partition=part, on_delivery=lambda err, m: errs.append(err))
    assert p.flush(30) == 0
    assert errs == [None] * len(errs)


def read_all(bootstrap, topic, ends, isolation, timeout=30):
    """assign() every partition of `ends` ({partition: end offset}) from the beginning and read
    until each reports EOF at its end: sorted [(partition, offset, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-cluster-reader", "enable.auto.commit": False,
                  "isolation.level": isolation, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    out, done, eofs = [], set(), {}
    try:
        deadline = time.monotonic() + timeout
        while len(done) < len(ends):
            assert time.monotonic() < deadline, \
                f"{isolation}: no EOF at {ends} within {timeout}s (EOFs seen {eofs}, read {len(out)})"
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                eofs[m.partition()] = m.offset()
                if m.offset() == ends[m.partition()]:
                    done.add(m.partition())
                continue
            out.append((m.partition(), m.offset(), m.value().decode()))
        extra = [(m.partition(), m.offset()) for m in c.consume(10, timeout=0.3) if not m.error()]
        assert not extra, f"records beyond the ends {ends}: {extra}"
    finally:
        c.close()
    return sorted(out)


def watermarks(c, topic, partitions):
    """{partition: high watermark} as ListOffsets answers c's isolation level (read_committed:
    the last stable offset)."""
    return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            for p in partitions}


def find_coordinator(node, key, key_type):
    """FindCoordinator v2 sent to `node` until it names one: the coordinator's node id."""
    def ask():
        r = conftest.find_coordinator(node.port, key, key_type)
        return r.coordinator_id if r.error_code == 0 else None
    return wait_until(ask, timeout=20, interval=0.1, what=f"a coordinator for {key!r}")


def group_consumer(bootstrap, group, topic, **conf):
    """A read_committed member subscribed to `topic`, auto commit off (it joins on first poll)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed", **conf})
    c.subscribe([topic])
    return c


def consume_exactly(c, n, timeout=20):
    """n records from consumer c: [(partition, offset, value)]."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"consumed only {len(got)} of {n}: {got}"
        for m in c.consume(num_messages=n - len(got), timeout=0.5):
            assert m.error() is None, m.error()
            got.append((m.partition(), m.offset(), m.value().decode()))
    return got


def committed(c, topic, partitions):
    return {tp.partition: tp.offset
            for tp in c.committed([TopicPartition(topic, p) for p in partitions], timeout=15)}


# --- 1. basic producer transactions ---------------------------------------------------------

def test_commit_and_abort_alternately_across_three_leaders(start_cluster):
    """0103 do_test_basic_producer_txn: several transactions over partitions led by nodes 1, 2
    and 3, committed and aborted in turn; exact records at both isolation levels."""
    cluster = start_cluster(overrides=TXN_OVERRIDES)
    spread_topic(cluster, "basic")
    p = txn_producer(cluster.bootstrap, "tx-basic")
    expect_rc, expect_ru = [], []
    nxt = {0: 0, 1: 0, 2: 0}
    for t, n in enumerate((5, 3, 7, 2, 4, 6)):
        commit = t % 2 == 0
        values = {part: [f"t{t}-p{part}-{i}" for i in range(n)] for part in range(3)}
        p.begin_transaction()
        # flushed before an abort too: librdkafka purges unsent records on abort, and the
        # aborted records must be in the log for read_uncommitted to see them
        offsets = produce_txn(p, "basic", values)
        assert offsets == {part: list(range(nxt[part], nxt[part] + n)) for part in range(3)}, (t, offsets)
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
        for part in range(3):
            recs = [(part, nxt[part] + i, v) for i, v in enumerate(values[part])]
            expect_ru += recs
            if commit:
                expect_rc += recs
            nxt[part] += n + 1  # the marker
    assert nxt == {0: 33, 1: 33, 2: 33}
    assert read_all(cluster.bootstrap, "basic", nxt, "read_committed") == sorted(expect_rc)
    assert read_all(cluster.bootstrap, "basic", nxt, "read_uncommitted") == sorted(expect_ru)
    assert len(expect_rc) == 3 * (5 + 7 + 4) and len(expect_ru) == 3 * 27
    for iso in ("read_committed", "read_uncommitted"):
        c = Consumer({"bootstrap.servers": cluster.node(3).bootstrap, "group.id": "wm", "isolation.level": iso})
        assert watermarks(c, "basic", range(3)) == nxt, iso
        c.close()


# --- 2. consume-transform-produce -----------------------------------------------------------

def test_consume_transform_produce_offsets_advance_only_on_commit(start_cluster):
    """0103 do_test_consumer_producer_txn: input read by a group member, transformed into an
    output topic, its offsets sent with the transaction. After an abort the committed offsets
    stay put and the member rewinds to them, so every input reaches the output exactly once."""
    cluster = start_cluster(overrides=TXN_OVERRIDES)
    spread_topic(cluster, "ctp-in")
    spread_topic(cluster, "ctp-out")
    inputs = {part: [f"in-{part}-{i}" for i in range(10)] for part in range(3)}
    plain_produce(cluster.bootstrap, "ctp-in", inputs)

    c = group_consumer(cluster.bootstrap, "ctp-group", "ctp-in")
    p = txn_producer(cluster.bootstrap, "tx-ctp")
    last_committed = {0: NO_OFFSET, 1: NO_OFFSET, 2: NO_OFFSET}
    expect_next = {0: 0, 1: 0, 2: 0}
    out_committed, out_all = [], []
    out_next = {0: 0, 1: 0, 2: 0}
    rounds = 0
    try:
        while sum(max(o, 0) for o in last_committed.values()) < 30:
            rounds += 1
            assert rounds <= 20, f"no progress: committed {last_committed}"
            commit = rounds % 2 == 1
            got = consume_exactly(c, min(7, 30 - sum(max(o, 0) for o in last_committed.values())))
            assert sorted(tp.partition for tp in c.assignment()) == [0, 1, 2]
            # each record is the next of its partition: after an abort, the committed offset's
            for part, off, v in got:
                assert (off, v) == (expect_next[part], f"in-{part}-{off}"), (rounds, got, expect_next)
                expect_next[part] += 1
            p.begin_transaction()
            produced = produce_txn(p, "ctp-out", {part: [f"T-{v}" for q, _, v in got if q == part]
                                                  for part in sorted({q for q, _, _ in got})})
            positions = {tp.partition: tp.offset for tp in c.position(c.assignment()) if tp.offset >= 0}
            p.send_offsets_to_transaction([TopicPartition("ctp-in", q, o) for q, o in positions.items()],
                                          c.consumer_group_metadata(), 30)
            for part, offs in produced.items():
                vals = [f"T-{v}" for q, _, v in got if q == part]
                assert offs == list(range(out_next[part], out_next[part] + len(vals))), (rounds, produced)
                recs = [(part, o, v) for o, v in zip(offs, vals)]
                out_all.extend(recs)
                if commit:
                    out_committed.extend(recs)
                out_next[part] += len(vals) + 1
            if commit:
                p.commit_transaction(30)
                last_committed.update(positions)
            else:
                p.abort_transaction(30)
            assert committed(c, "ctp-in", range(3)) == last_committed, (rounds, commit, positions)
            if not commit:
                # reprocess from the committed offsets, as a restarted application would
                for part in range(3):
                    expect_next[part] = max(last_committed[part], 0)
                    c.seek(TopicPartition("ctp-in", part, expect_next[part]))
    finally:
        c.close()
    assert last_committed == {0: 10, 1: 10, 2: 10}
    assert rounds >= 8, rounds  # at least 5 commits with aborts in between
    # every input exactly once in the committed output, on the partition it came from
    rc = read_all(cluster.bootstrap, "ctp-out", out_next, "read_committed")
    assert rc == sorted(out_committed)
    assert sorted((q, v) for q, _, v in rc) == sorted((q, f"T-{v}") for q, vs in inputs.items() for v in vs)
    assert read_all(cluster.bootstrap, "ctp-out", out_next, "read_uncommitted") == sorted(out_all)
    # a new member of the group resumes after the last committed input
    c2 = group_consumer(cluster.bootstrap, "ctp-group", "ctp-in")
    try:
        deadline = time.monotonic() + 30
        while len(c2.assignment()) < 3:
            assert time.monotonic() < deadline, "the new member was not assigned ctp-in"
            m = c2.poll(0.2)
            assert m is None, (m.partition(), m.offset(), m.error())
        assert committed(c2, "ctp-in", range(3)) == {0: 10, 1: 10, 2: 10}
        assert c2.consume(10, timeout=1) == []
    finally:
        c2.close()


# --- 3. fencing -----------------------------------------------------------------------------

def start_fenced_pair(cluster, txid, rc):
    """p1 with an open transaction of 4 records on each of the 3 partitions of "fence" (led by
    nodes 1, 2 and 3), then p2 with the same transactional.id; (p1, p2, the read_committed
    watermarks taken with `rc` the moment p2's init_transactions() returned)."""
    p1 = txn_producer(cluster.bootstrap, txid)
    p1.begin_transaction()
    assert produce_txn(p1, "fence", {q: [f"old-{q}-{i}" for i in range(4)] for q in range(3)}) == \
        {q: [0, 1, 2, 3] for q in range(3)}
    assert watermarks(rc, "fence", range(3)) == {0: 0, 1: 0, 2: 0}  # open from offset 0
    p2 = txn_producer(cluster.bootstrap, txid)
    return p1, p2, watermarks(rc, "fence", range(3))


def assert_fenced(p1):
    with pytest.raises(KafkaException) as exc:
        p1.commit_transaction(30)
    err = exc.value.args[0]
    assert err.code() == KafkaError._FENCED and err.fatal(), err
    assert not err.retriable() and not err.txn_requires_abort(), err


FENCED_EXPECT_RC = sorted((q, 5 + i, f"new-{q}-{i}") for q in range(3) for i in range(3))
FENCED_EXPECT_RU = sorted([(q, i, f"old-{q}-{i}") for q in range(3) for i in range(4)] + FENCED_EXPECT_RC)


def test_second_producer_fences_the_first(start_cluster):
    """0103 do_test_fenced_txn: a second producer with the same transactional.id aborts the
    first one's open transaction (on partitions led by every node) and fences it: its commit
    fails with a fatal _FENCED error; the new producer's transaction commits. (The new producer
    waits here until the ABORT markers are in: see the next test.)"""
    cluster = start_cluster(overrides=TXN_OVERRIDES)
    spread_topic(cluster, "fence")
    rc = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "wm", "isolation.level": "read_committed"})
    try:
        p1, p2, _ = start_fenced_pair(cluster, "tx-fence", rc)
        assert_fenced(p1)
        wait_until(lambda: watermarks(rc, "fence", range(3)) == {0: 5, 1: 5, 2: 5}, timeout=15,
                   what="the fenced transaction's ABORT markers at offset 4")
    finally:
        rc.close()
    p2.begin_transaction()
    assert produce_txn(p2, "fence", {q: [f"new-{q}-{i}" for i in range(3)] for q in range(3)}) == \
        {q: [5, 6, 7] for q in range(3)}
    p2.commit_transaction(30)
    ends = {q: 9 for q in range(3)}
    assert read_all(cluster.bootstrap, "fence", ends, "read_committed") == FENCED_EXPECT_RC
    assert read_all(cluster.bootstrap, "fence", ends, "read_uncommitted") == FENCED_EXPECT_RU


def test_init_transactions_returns_once_the_fenced_transaction_is_aborted(start_cluster):
    """Kafka's InitProducerId answers CONCURRENT_TRANSACTIONS while it aborts the open transaction
    of the same transactional.id, until every ABORT marker is written and replicated: when
    init_transactions() returns, the last stable offset of each partition is past the marker.
    The new producer then starts at once; read_committed never sees the fenced records."""
    cluster = start_cluster(overrides=TXN_OVERRIDES)
    spread_topic(cluster, "fence")
    rc = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "wm", "isolation.level": "read_committed"})
    try:
        p1, p2, lso_at_init = start_fenced_pair(cluster, "tx-fence-now", rc)
        p2.begin_transaction()
        offsets = produce_txn(p2, "fence", {q: [f"new-{q}-{i}" for i in range(3)] for q in range(3)})
        p2.commit_transaction(30)
        assert_fenced(p1)
        # whatever happened, read everything once every partition is stable (LSO = HW)
        ru = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "wm", "isolation.level": "read_uncommitted"})

        def stable():
            hw = watermarks(ru, "fence", range(3))
            return hw if watermarks(rc, "fence", range(3)) == hw else None
        hw = wait_until(stable, timeout=15, what="every partition of fence to be stable")
    finally:
        rc.close()
        ru.close()
    got_rc = read_all(cluster.bootstrap, "fence", hw, "read_committed")
    got_ru = read_all(cluster.bootstrap, "fence", hw, "read_uncommitted")
    seen = {"LSO when init_transactions() returned": lso_at_init,
            "new producer's offsets": offsets,
            "end offsets": hw,
            "fenced records read_committed sees": len([r for r in got_rc if r[2].startswith("old-")]),
            "new records read_committed sees": len([r for r in got_rc if r[2].startswith("new-")])}
    assert seen == {"LSO when init_transactions() returned": {0: 5, 1: 5, 2: 5},
                    "new producer's offsets": {q: [5, 6, 7] for q in range(3)},
                    "end offsets": {q: 9 for q in range(3)},
                    "fenced records read_committed sees": 0,
                    "new records read_committed sees": 9}
    assert (got_rc, got_ru) == (FENCED_EXPECT_RC, FENCED_EXPECT_RU)


# --- 4. empty transactions ------------------------------------------------------------------

@pytest.mark.parametrize("send_offsets", [False, True], ids=["no-offsets", "send-offsets"])
def test_empty_transactions_commit_and_abort(start_cluster, send_offsets):
    """0103 do_test_empty_txn: a transaction without records, committed and aborted, with and
    without offsets: the offsets are committed only by a commit, and no marker is written on
    the data partition."""
    cluster = start_cluster(overrides=TXN_OVERRIDES)
    create_rf3(cluster, "empty", 1)
    plain_produce(cluster.bootstrap, "empty", {0: [f"e-{i}" for i in range(10)]})
    p = txn_producer(cluster.bootstrap, "tx-empty")
    for do_commit in (True, False):
        group = f"empty-{send_offsets}-{do_commit}"
        c = group_consumer(cluster.bootstrap, group, "empty")
        try:
            # read everything either way, so the member has joined its group before committed():
            # fjord answers the very first group request of a new cluster NOT_COORDINATOR while
            # __consumer_offsets is being created, where Kafka answers retriable errors
            assert consume_exactly(c, 10) == [(0, i, f"e-{i}") for i in range(10)]
            p.begin_transaction()
            if send_offsets:
                p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
            if do_commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)
            want = 10 if (send_offsets and do_commit) else NO_OFFSET
            assert committed(c, "empty", [0]) == {0: want}, (send_offsets, do_commit)
            for iso in ("read_committed", "read_uncommitted"):
                w = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "wm", "isolation.level": iso})
                assert watermarks(w, "empty", [0]) == {0: 10}, (iso, do_commit)
                w.close()
        finally:
            c.close()
    assert read_all(cluster.bootstrap, "empty", {0: 10}, "read_committed") == \
        [(0, i, f"e-{i}") for i in range(10)]


# --- 5. high watermark and last stable offset -----------------------------------------------

def test_open_transaction_high_watermark_and_last_stable_offset(start_cluster):
    """0103 do_test_wmark_isolation_level: while a transaction is open, read_uncommitted sees
    its records and the high watermark; read_committed stops at the last stable offset (the
    first open record) until the commit."""
    cluster = start_cluster(overrides=TXN_OVERRIDES)
    spread_topic(cluster, "wmark")
    plain_produce(cluster.bootstrap, "wmark", {q: [f"plain-{q}-{i}" for i in range(5)] for q in range(3)})
    rc = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "wm-rc", "isolation.level": "read_committed"})
    ru = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "wm-ru", "isolation.level": "read_uncommitted"})
    p = txn_producer(cluster.bootstrap, "tx-wmark")
    try:
        p.begin_transaction()
        assert produce_txn(p, "wmark", {q: [f"open-{q}-{i}" for i in range(7)] for q in range(3)}) == \
            {q: list(range(5, 12)) for q in range(3)}
        assert watermarks(ru, "wmark", range(3)) == {0: 12, 1: 12, 2: 12}
        assert watermarks(rc, "wmark", range(3)) == {0: 5, 1: 5, 2: 5}
        plain = [(q, i, f"plain-{q}-{i}") for q in range(3) for i in range(5)]
        open_recs = [(q, 5 + i, f"open-{q}-{i}") for q in range(3) for i in range(7)]
        assert read_all(cluster.bootstrap, "wmark", {q: 12 for q in range(3)}, "read_uncommitted") == \
            sorted(plain + open_recs)
        assert read_all(cluster.bootstrap, "wmark", {q: 5 for q in range(3)}, "read_committed") == sorted(plain)
        # still stable a moment later: nothing moves the LSO but the marker
        time.sleep(0.5)
        assert watermarks(rc, "wmark", range(3)) == {0: 5, 1: 5, 2: 5}

        p.commit_transaction(30)
        # EndTxn answers once the commit is decided, its markers follow; as 0103 does, make sure
        # they are written: InitProducerId waits for them (CONCURRENT_TRANSACTIONS meanwhile)
        txn_producer(cluster.bootstrap, "tx-wmark")
        assert watermarks(rc, "wmark", range(3)) == {0: 13, 1: 13, 2: 13}
        assert watermarks(ru, "wmark", range(3)) == {0: 13, 1: 13, 2: 13}
        assert read_all(cluster.bootstrap, "wmark", {q: 13 for q in range(3)}, "read_committed") == \
            sorted(plain + open_recs)
    finally:
        rc.close()
        ru.close()


# --- 6. markers at a new leader epoch -------------------------------------------------------

def test_abort_and_commit_after_leader_failover(start_cluster):
    """0103 do_test_txn_abort_control_message_leader_epoch, across a failover: a committed
    transaction at the first leader; one left open when that leader is SIGKILLed, aborted after
    the failover (its ABORT marker written by the new leader at the new epoch); then one
    committed and one aborted there. read_committed reads exactly the committed records; a
    member that reads to the end and commits its position commits the offset after the last
    (ABORT) marker, at the new epoch."""
    cluster = start_cluster(overrides=TXN_OVERRIDES)
    txid, group = "tx-failover", "failover-group"
    # keep both coordinators alive: this is about the data partition's leader only
    keep = {find_coordinator(cluster.node(1), txid, 1), find_coordinator(cluster.node(1), group, 0)}
    victim = next(n for n in (1, 2, 3) if n not in keep)
    others = [n for n in (1, 2, 3) if n != victim]
    parts = create_rf3(cluster, "failover", assignment=[[victim, *others]])
    assert parts[0].leader == victim
    epoch0 = parts[0].leader_epoch

    p = txn_producer(cluster.bootstrap, txid)
    p.begin_transaction()
    assert produce_txn(p, "failover", {0: [f"a-{i}" for i in range(5)]}) == {0: [0, 1, 2, 3, 4]}
    p.commit_transaction(30)                                                # COMMIT at 5
    p.begin_transaction()
    assert produce_txn(p, "failover", {0: [f"b-{i}" for i in range(4)]}) == {0: [6, 7, 8, 9]}

    cluster.node(victim).kill()

    def new_leader():
        m = node_metadata(cluster.node(others[0]).port, ["failover"]).topics["failover"][0]
        return m if m.leader in others and m.leader_epoch > epoch0 and victim not in m.isr else None
    moved = wait_until(new_leader, timeout=20, interval=0.1, what="a new leader for failover-0")

    p.abort_transaction(30)                                                 # ABORT at 10
    p.begin_transaction()
    assert produce_txn(p, "failover", {0: [f"c-{i}" for i in range(3)]}) == {0: [11, 12, 13]}
    p.commit_transaction(30)                                                # COMMIT at 14
    p.begin_transaction()
    assert produce_txn(p, "failover", {0: ["d-0", "d-1"]}) == {0: [15, 16]}
    p.abort_transaction(30)                                                 # ABORT at 17
    bootstrap = ",".join(cluster.node(n).bootstrap for n in others)
    txn_a, txn_b, txn_c, txn_d = ([(0, first + i, f"{x}-{i}") for i in range(n)]
                                  for x, first, n in (("a", 0, 5), ("b", 6, 4), ("c", 11, 3), ("d", 15, 2)))
    assert read_all(bootstrap, "failover", {0: 18}, "read_committed") == txn_a + txn_c
    assert read_all(bootstrap, "failover", {0: 18}, "read_uncommitted") == txn_a + txn_b + txn_c + txn_d

    # librdkafka's #4384: the position after the trailing ABORT marker is the end offset, stored
    # and committed with the leader epoch of the batch that holds the marker: the new leader's
    c = group_consumer(bootstrap, group, "failover", **{"enable.partition.eof": True})
    try:
        got, eof = [], None
        deadline = time.monotonic() + 20
        while eof != 18:
            assert time.monotonic() < deadline, (got, eof)
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                eof = m.offset()
                continue
            got.append(m.offset())
        assert got == [0, 1, 2, 3, 4, 11, 12, 13]
        c.commit(asynchronous=False)
        tp, = c.committed([TopicPartition("failover", 0)], timeout=15)
        assert tp.offset == 18
        assert tp.leader_epoch == moved.leader_epoch, (tp.leader_epoch, moved)
    finally:
        c.close()
