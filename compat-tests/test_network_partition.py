"""A partition leader cut off by the network from the quorum and its followers while clients still
reach it (the replication issue's "network-partition variant"), on 3 real fjord processes.

Every link between nodes goes through a TcpProxy (tcp_proxy.py) in this process:
- controller links: node i reaches node j's CONTROLLER listener through its own proxy C[i->j]
  (each node's controller.quorum.voters lists its own real port and these proxies);
- replication links: node j advertises its REPLICATION listener (inter.broker.listener.name) at
  a proxy R[j], shared by every follower fetching from j; fjord's brokers send the client id
  fjord-broker-<id>, so R[j] can also refuse one fetcher alone.
Clients talk to every node's PLAINTEXT listener directly.

Isolating node X: cut C[X->*] and C[*->X], cut R[X] (nobody fetches from X), and cut R[j] for
the client fjord-broker-X only (X fetches from nobody). Healing reopens them all.

Apache Kafka's behaviour is the expectation:
- the isolated leader never acknowledges an acks=all write: its followers stop fetching, so its
  high watermark stays put and it cannot shrink the ISR without the controller (the answer is
  REQUEST_TIMED_OUT, or NOT_LEADER_OR_FOLLOWER / NOT_ENOUGH_REPLICAS once it gave up leading);
- acks=1 is answered from the leader's own log, so it may be acknowledged while the leader still
  believes it leads: those records are lost when it rejoins (Kafka's documented acks=1 risk);
- the controller fences the silent broker after broker.session.timeout.ms and elects another
  in-sync replica at a higher leader epoch; acks=all writes go on there at the next offset;
- fjord also stops serving partitions itself after a session without the controller
  (NOT_LEADER_OR_FOLLOWER);
- healed, the old leader is unfenced, follows the new leader, truncates the records only it had
  (diverging epoch) and is back in the ISR: every replica's .log files are byte-identical and
  readers see exactly the acknowledged acks=all records at their acknowledged offsets.

The scenario: 100 acks=all records (offsets 0-99) through every node; isolate X; straight to X's
client port, a few acks=1 records at once (while X surely still believes it leads: they are
acknowledged at 100) and then acks=-1 produces until X answers NOT_LEADER_OR_FOLLOWER (none may
succeed); the others' Metadata shows a new leader at a higher epoch; 50 acks=all records there
(offsets 100-149); heal; X is back in the ISR, the three .log files are the same bytes and a
consumer reads exactly the 150 acks=all records. Parametrized by whether X is also the active
controller (the quorum must then elect another one first) and by how the links break (closed
at once, or silent until healed, when what they held is delivered late). Timings are printed.

A second test checks Pre-Vote (KIP-996): a voter healed after being cut off does not depose the
active controller (its term never moved while it was alone).

SESSION_MS is broker.session.timeout.ms; NODE_OVERRIDES keeps every timeout short.
"""
import struct
import threading
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from conftest import Cluster, ClusterNode, _fail_on_panics, free_port, node_metadata, wait_until
from tcp_proxy import TcpProxy
import wire

NONE = 0
NOT_LEADER_OR_FOLLOWER = 6
REQUEST_TIMED_OUT = 7
NOT_ENOUGH_REPLICAS = 19
NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
ACKS_ALL_REFUSALS = {REQUEST_TIMED_OUT, NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND}

# 16 bytes ("NetworkPartition") in URL-safe base64 without padding: a valid 22-character id,
# set explicitly because every node's controller.quorum.voters differs here
CLUSTER_ID = "TmV0d29ya1BhcnRpdGlvbg"
SESSION_MS = 3000

NODE_OVERRIDES = {
    "broker.session.timeout.ms": str(SESSION_MS),
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "3000",
    "group.initial.rebalance.delay.ms": "0",
}

TOPIC = "netsplit"


# --- a cluster whose every inter-node link goes through a proxy ---------------------------------

class ProxiedNode(ClusterNode):
    """A combined broker+controller node with a REPLICATION listener for the inter-broker
    traffic, advertised at its proxy, and its own view of where the other voters are."""

    def __init__(self, node_id, log_dir):
        super().__init__(node_id, log_dir, overrides=NODE_OVERRIDES, name=f"node{node_id}")
        self.repl_port = free_port()
        self.repl_proxy_port = None   # R[node]
        self.voters_view = None       # controller.quorum.voters as this node sees them

    def config(self):
        return {
            "node.id": str(self.node_id),
            "process.roles": "broker,controller",
            "cluster.id": CLUSTER_ID,
            "controller.quorum.voters": self.voters_view,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},REPLICATION://127.0.0.1:{self.repl_port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "REPLICATION",
            "controller.listener.names": "CONTROLLER",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                                    f"REPLICATION://127.0.0.1:{self.repl_proxy_port}",
            "log.dirs": str(self.log_dir),
            **self.overrides,
        }


class ProxiedCluster(Cluster):
    def __init__(self, nodes):
        super().__init__(nodes)  # sets the shared voter list, unused by ProxiedNode.config
        ids = [n.node_id for n in nodes]
        self.ctrl = {}  # (i, j): node i -> node j's CONTROLLER listener
        self.repl = {}  # j: anyone -> node j's REPLICATION listener
        try:
            for n in nodes:
                self.repl[n.node_id] = TcpProxy(n.repl_port, name=f"R[{n.node_id}]", port=free_port(),
                                                parse_client_id=True)
                n.repl_proxy_port = self.repl[n.node_id].port
                for j in ids:
                    if j != n.node_id:
                        self.ctrl[(n.node_id, j)] = TcpProxy(self.node(j).controller_port, name=f"C[{n.node_id}->{j}]",
                                                             port=free_port())
        except BaseException:
            self.stop_proxies()
            raise
        for n in nodes:
            n.voters_view = ",".join(
                f"{m.node_id}@127.0.0.1:{m.controller_port if m is n else self.ctrl[(n.node_id, m.node_id)].port}"
                for m in nodes)

    def proxies(self):
        return list(self.ctrl.values()) + list(self.repl.values())

    def isolate(self, x, mode="close"):
        """Cut node x off from the other nodes (not from clients); mode: see TcpProxy.cut."""
        for (i, j), p in self.ctrl.items():
            if x in (i, j):
                p.cut(mode=mode)
        for j, p in self.repl.items():
            if j == x:
                p.cut(mode=mode)
            else:
                p.cut(clients={f"fjord-broker-{x}"}, mode=mode)

    def heal(self):
        for p in self.proxies():
            p.heal()

    def stop_proxies(self):
        for p in self.proxies():
            p.stop()


@pytest.fixture
def proxied_cluster(tmp_path, request):
    """A started 3-node ProxiedCluster; every node and proxy is stopped at the end, a node's
    panic fails the test, and the node logs are attached to a failure (conftest's hook)."""
    nodes = [ProxiedNode(i, tmp_path / f"n{i}") for i in (1, 2, 3)]
    request.node._fjord_brokers = nodes
    cluster = ProxiedCluster(nodes)
    try:
        cluster.start(timeout=30)
        yield cluster
    finally:
        for n in nodes:
            n.terminate()
        for n in nodes:
            n.stop()
        cluster.stop_proxies()
    _fail_on_panics(nodes)


# --- helpers ------------------------------------------------------------------------------------

def partition_view(node, topic=TOPIC, partition=0):
    """(Metadata brokers, PartitionMeta or None) as `node` answers."""
    md = node_metadata(node.port, [topic])
    return md.brokers, md.topics.get(topic, {}).get(partition)


def describe(cluster, nodes=None):
    out = {}
    for n in nodes or cluster.nodes:
        try:
            brokers, m = partition_view(n)
            out[n.node_id] = (sorted(brokers), m)
        except Exception as e:  # noqa: BLE001 - only for a message
            out[n.node_id] = repr(e)
    return out


def wait_views(cluster, nodes, pred, what, timeout=30):
    """Every node in `nodes` answers Metadata with pred(brokers, PartitionMeta) true."""
    def ok():
        views = [partition_view(n) for n in nodes]
        return views if all(m is not None and pred(b, m) for b, m in views) else None
    try:
        return wait_until(ok, timeout=timeout, interval=0.05, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}; last seen (node: brokers, partition): {describe(cluster)}") from None


def segments(node, topic=TOPIC, partition=0):
    d = node.log_dir / f"{topic}-{partition}"
    return {f.name: f.read_bytes() for f in sorted(d.glob("*.log"))} if d.is_dir() else {}


def produce_all(bootstrap, values):
    """confluent-kafka, acks=all: [(error, offset, value)] in order."""
    reports = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "enable.idempotence": False, "message.timeout.ms": 30000})
    for v in values:
        p.produce(TOPIC, value=v, partition=0,
                  on_delivery=lambda err, msg: reports.append((err, msg.offset(), msg.value())))
        p.poll(0)
    assert p.flush(40) == 0
    del p
    return reports


def read_all(bootstrap, end, timeout=30):
    """confluent-kafka, assign(): every record of partition 0 from offset 0 until the end of the
    partition (PARTITION_EOF at `end`); [(offset, value)]; asserts nothing lies beyond `end`."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "netsplit-verify", "enable.auto.commit": False,
                  "enable.partition.eof": True, "fetch.wait.max.ms": 100})
    out = []
    try:
        lo, hi = wait_until(lambda: c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=5),
                            timeout=20, what="the watermarks")
        assert (lo, hi) == (0, end), (lo, hi)
        c.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        at_end = False
        while not at_end:
            assert time.monotonic() < deadline, f"read {len(out)} records, not at the end {end}"
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    assert m.error().code() == KafkaError._PARTITION_EOF, f"consume error: {m.error()}"
                    at_end = m.offset() >= end
                    continue
                out.append((m.offset(), m.value()))
    finally:
        c.close()
    return out


class ProduceProbe(threading.Thread):
    """Sends produces of one record, one at a time, straight to `node`'s client port, every
    `interval` seconds, until stop() (or, with until_error, until that error is answered);
    every answer is kept as (sent at, answered at, error, base offset)."""

    def __init__(self, node, acks, prefix, timeout_ms=1000, interval=0.0, until_error=None):
        super().__init__(daemon=True)
        self.node, self.acks, self.prefix = node, acks, prefix
        self.timeout_ms, self.interval, self.until_error = timeout_ms, interval, until_error
        self.answers, self.errors = [], []
        self._halt = threading.Event()

    def run(self):
        i = 0
        while not self._halt.is_set():
            try:
                with wire.Conn(self.node.port, timeout=self.timeout_ms / 1000 + 10) as c:
                    while not self._halt.is_set():
                        t = time.monotonic()
                        err, off = c.produce(TOPIC, 0, wire.build_batch([self.prefix + b"-%d" % i]),
                                             acks=self.acks, timeout_ms=self.timeout_ms)
                        i += 1
                        self.answers.append((t, time.monotonic(), err, off))
                        if err == self.until_error:
                            return
                        self._halt.wait(self.interval)
            except Exception as e:  # noqa: BLE001 - kept for the report
                self.errors.append(repr(e))
                self._halt.wait(0.1)

    def stop(self):
        self._halt.set()
        self.join(15)


def quorum(node):
    """(leader id, leader epoch) of the metadata quorum, from DescribeQuorum v2 sent to `node`
    (kafka-python has no class for it: a flexible request, built and parsed here)."""
    with wire.Conn(node.port, timeout=15) as c:
        body = bytes([2, 19]) + b"__cluster_metadata" + bytes([2]) + struct.pack(">i", 0) + b"\x00\x00\x00"
        c.send_frame(c.header(55, 2, flexible=True) + body)
        r = c.recv_frame(15)
    pos = 5  # correlation id, header tags

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, r, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def uvarint():
        nonlocal pos
        shift = v = 0
        while True:
            b = r[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def compact_string():
        nonlocal pos
        n = uvarint()
        s = r[pos:pos + n - 1] if n else None
        pos += max(n - 1, 0)
        return s

    err = take(">h")
    msg = compact_string()
    assert err == 0, (err, msg)
    assert uvarint() == 2 and compact_string() == b"__cluster_metadata" and uvarint() == 2, r
    _index, perr = take(">ih")
    msg = compact_string()
    assert perr == 0, (perr, msg)
    return take(">ii")


# --- the test -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["close", "hang"])
@pytest.mark.parametrize("isolated_role", ["controller", "not-controller"])
def test_isolated_leader_steps_down_and_truncates_its_lone_writes(proxied_cluster, isolated_role, mode):
    cluster = proxied_cluster
    controller = cluster.controller_id()
    x = controller if isolated_role == "controller" else min(i for i in (1, 2, 3) if i != controller)
    others = [n for n in cluster.nodes if n.node_id != x]
    iso = cluster.node(x)
    others_bootstrap = ",".join(n.bootstrap for n in others)
    quorum0 = quorum(cluster.node(controller))
    print(f"\nactive controller {controller} (quorum leader, epoch {quorum0}); isolating node {x} (partition leader)")

    # RF=3, led by x: explicit assignment, x first
    admin = KafkaAdminClient(bootstrap_servers=others[0].bootstrap, request_timeout_ms=15000)
    try:
        resp = admin.create_topics([NewTopic(TOPIC, -1, -1, replica_assignments={0: [x] + [n.node_id for n in others]})],
                                   timeout_ms=15000)
        assert [(t, e) for t, e, *_ in resp.topic_errors] == [(TOPIC, 0)], resp
    finally:
        admin.close()
    views = wait_views(cluster, cluster.nodes,
                       lambda b, m: m.error == 0 and m.leader == x and sorted(m.isr) == [1, 2, 3],
                       what=f"leader {x} and ISR [1, 2, 3] on every node")
    epoch0 = views[0][1].leader_epoch
    assert all(m.leader_epoch == epoch0 for _, m in views), views

    before = [b"before-%03d" % i for i in range(100)]
    reports = produce_all(cluster.bootstrap, before)
    assert [(e, o, v) for e, o, v in reports] == [(None, i, v) for i, v in enumerate(before)], \
        [r for r in reports if r[0] is not None][:5]

    # --- the partition --------------------------------------------------------------------------
    t0 = time.monotonic()
    cluster.isolate(x, mode)
    print(f"isolated node {x} at t=0 (links {mode}: {'closed' if mode == 'close' else 'silent'})")

    # acks=1, straight to x: answered from x's own log while it still believes it leads
    acks1 = [b"isolated-acks1-%d" % i for i in range(5)]
    with wire.Conn(iso.port) as c:
        acks1_answer = c.produce(TOPIC, 0, wire.build_batch(acks1), acks=1, timeout_ms=5000)
    t_acks1 = time.monotonic() - t0
    print(f"acks=1 on the isolated node at t={t_acks1:.2f}s: (error, offset) {acks1_answer}")
    assert acks1_answer in ((NONE, 100), (NOT_LEADER_OR_FOLLOWER, -1)), acks1_answer
    # its high watermark stays where the ISR left it: a consumer reading it sees none of them
    with wire.Conn(iso.port) as c:
        err, hw, recs = c.fetch(TOPIC, 0, 95)
    print(f"fetch from offset 95 on the isolated node: error {err}, high watermark {hw}, "
          f"offsets {[o for o, _, _ in recs if o >= 95]}")
    assert (err, hw, [o for o, _, _ in recs if o >= 95]) in ((NONE, 100, [95, 96, 97, 98, 99]),
                                                             (NOT_LEADER_OR_FOLLOWER, -1, [])), (err, hw, recs)

    # acks=-1, straight to x, until x stops serving: never acknowledged
    probe = ProduceProbe(iso, -1, b"isolated-acks-all", timeout_ms=250, until_error=NOT_LEADER_OR_FOLLOWER)
    probe.start()

    # the controller (re-elected among the others if x was it) fences x and elects a new leader
    events = {}
    try:
        def watch():
            now = time.monotonic() - t0
            for n in others:
                brokers, m = partition_view(n)
                if x not in brokers:
                    events.setdefault(f"node {n.node_id} lists no broker {x}", now)
                if m is not None and m.leader not in (x, -1) and m.leader_epoch > epoch0:
                    events.setdefault(f"node {n.node_id} shows leader {m.leader}", now)
            ans = probe.answers
            if ans and ans[-1][2] == NOT_LEADER_OR_FOLLOWER:
                events.setdefault(f"node {x} answers NOT_LEADER_OR_FOLLOWER", ans[-1][1] - t0)
            return len(events) == 2 * len(others) + 1
        try:
            wait_until(watch, timeout=30, interval=0.05, what="fencing, a new leader and the isolated node stepping down")
        except AssertionError as e:
            raise AssertionError(f"{e}; events {events}; probe answers {[(round(a - t0, 2), err, off) for a, _, err, off in probe.answers]}"
                                 f" errors {probe.errors}; views {describe(cluster)}") from None
    finally:
        probe.stop()
    for what, t in sorted(events.items(), key=lambda kv: kv[1]):
        print(f"  t={t:.2f}s {what}")
    answers = [(round(s - t0, 2), round(a - s, 2), err, off) for s, a, err, off in probe.answers]
    print(f"acks=-1 probes on node {x} (sent at, took, error, offset): {answers}")
    assert not probe.errors, probe.errors
    assert all(err in ACKS_ALL_REFUSALS for _, _, err, _ in answers), \
        f"an acks=-1 write was answered other than refused by the isolated leader: {answers}"
    # after stepping down, x refuses acks=1 and reads too
    with wire.Conn(iso.port) as c:
        assert c.produce(TOPIC, 0, wire.build_batch([b"isolated-after-fence"]), acks=1) == (NOT_LEADER_OR_FOLLOWER, -1)
        err, hw, recs = c.fetch(TOPIC, 0, 95)
        assert (err, recs) == (NOT_LEADER_OR_FOLLOWER, []), (err, hw, recs)

    views = wait_views(cluster, others, lambda b, m: m.leader not in (x, -1) and m.leader_epoch > epoch0
                       and x not in m.isr, what=f"a new leader and ISR without {x} on nodes {[n.node_id for n in others]}")
    new_leader, epoch1 = views[0][1].leader, views[0][1].leader_epoch
    assert all((m.leader, m.leader_epoch) == (new_leader, epoch1) for _, m in views), views
    quorum1 = quorum(cluster.node(new_leader))
    print(f"new leader {new_leader} at epoch {epoch1} (was {x} at {epoch0}); quorum (leader, epoch) {quorum1};"
          f" isolated node's own view: {describe(cluster, [iso])}")
    if acks1_answer[0] == NONE:
        # x wrote records nobody else has: the truncation below is really exercised
        assert any(b"isolated-acks1-0" in s for s in segments(iso).values())

    # writes go on at the new leader, at the next offsets
    after = [b"after-%03d" % i for i in range(50)]
    reports = produce_all(others_bootstrap, after)
    assert [(e, o, v) for e, o, v in reports] == [(None, 100 + i, v) for i, v in enumerate(after)], \
        [r for r in reports if r[0] is not None][:5] or reports[:3]
    t_written = time.monotonic() - t0

    # --- heal -----------------------------------------------------------------------------------
    t_heal = time.monotonic()
    cluster.heal()
    print(f"healed at t={t_heal - t0:.2f}s (50 acks=all records written on node {new_leader} by t={t_written:.2f}s)")
    views = wait_views(cluster, cluster.nodes,
                       lambda b, m: x in b and m.leader == new_leader and m.leader_epoch == epoch1 and sorted(m.isr) == [1, 2, 3],
                       what=f"node {x} back in the ISR of leader {new_leader} on every node")
    t_rejoin = time.monotonic() - t_heal

    last = {}

    def identical():
        copies = [segments(n) for n in cluster.nodes]
        last.update({n.node_id: {f: len(b) for f, b in c.items()} for n, c in zip(cluster.nodes, copies)})
        return all(c == copies[0] for c in copies[1:]) and copies[0]
    try:
        wait_until(identical, timeout=30, interval=0.1, what="byte-identical .log files on the 3 nodes")
    except AssertionError as e:
        raise AssertionError(f"{e}; segment sizes per node: {last}") from None
    t_identical = time.monotonic() - t_heal
    assert not any(b"isolated-" in s for s in segments(iso).values())

    got = read_all(cluster.node(new_leader).bootstrap, 150)
    assert got == [(i, v) for i, v in enumerate(before + after)], \
        [r for r in got if not r[1].startswith((b"before-", b"after-"))][:5] or len(got)

    quorum2 = quorum(cluster.node(new_leader))
    print(f"metadata quorum (leader, epoch): {quorum0} before, {quorum1} isolated, {quorum2} healed"
          + (" (the healed node deposed the quorum's leader)" if quorum2[1] != quorum1[1] else ""))
    truncations = [l for l in iso.stderr_tail(100000).splitlines() if "truncat" in l.lower()]
    print(f"timings: fenced by the controller (others drop broker {x}) "
          f"{min(t for w, t in events.items() if 'lists no broker' in w):.2f}s, "
          f"new leader {min(t for w, t in events.items() if 'shows leader' in w):.2f}s, "
          f"isolated node refuses {events[f'node {x} answers NOT_LEADER_OR_FOLLOWER']:.2f}s after the cut; "
          f"back in the ISR {t_rejoin:.2f}s and logs identical {t_identical:.2f}s after the heal "
          f"({last[x]} on each node)")
    print(f"node {x} log lines about truncation: {truncations[-3:]}")
    print("proxies (connections accepted / cut): "
          + ", ".join(f"{p.name} {p.accepted}/{p.refused}" for p in cluster.proxies()))


def test_healed_voter_does_not_depose_the_controller(proxied_cluster):
    """A voter that is neither the controller nor a partition leader is isolated until the
    controller fences it, then healed: as in Kafka 4 (Pre-Vote), the majority keeps its
    controller at the same epoch, and the partition leader answers every produce meanwhile."""
    cluster = proxied_cluster
    controller = cluster.controller_id()
    y = min(i for i in (1, 2, 3) if i != controller)
    leader = next(i for i in (1, 2, 3) if i not in (controller, y))
    others = [n for n in cluster.nodes if n.node_id != y]
    admin = KafkaAdminClient(bootstrap_servers=cluster.node(leader).bootstrap, request_timeout_ms=15000)
    try:
        resp = admin.create_topics([NewTopic(TOPIC, -1, -1, replica_assignments={0: [leader, controller, y]})],
                                   timeout_ms=15000)
        assert [(t, e) for t, e, *_ in resp.topic_errors] == [(TOPIC, 0)], resp
    finally:
        admin.close()
    wait_views(cluster, cluster.nodes, lambda b, m: m.error == 0 and m.leader == leader and sorted(m.isr) == [1, 2, 3],
               what=f"leader {leader} and ISR [1, 2, 3] on every node")
    quorum0 = quorum(cluster.node(leader))

    t0 = time.monotonic()
    cluster.isolate(y)
    # fenced by the controller after its session: by then it has campaigned on its own
    wait_views(cluster, others, lambda b, m: y not in b and y not in m.isr and m.leader == leader,
               what=f"broker {y} fenced and out of the ISR")
    t_fenced = time.monotonic() - t0
    quorum1 = quorum(cluster.node(leader))
    assert quorum1 == quorum0, "the majority changed its controller while a minority voter was away"

    probe = ProduceProbe(cluster.node(leader), 1, b"across-heal", timeout_ms=1000, interval=0.02)
    probe.start()
    try:
        t_heal = time.monotonic()
        cluster.heal()
        wait_views(cluster, cluster.nodes, lambda b, m: y in b and m.leader == leader and sorted(m.isr) == [1, 2, 3],
                   what=f"node {y} back in the ISR")
        t_rejoin = time.monotonic() - t_heal
    finally:
        probe.stop()
    quorum2 = quorum(cluster.node(leader))
    refused = [(round(s - t_heal, 2), err) for s, _, err, _ in probe.answers if err != NONE]
    print(f"\ncontroller {controller}, isolated voter {y}, partition leader {leader}: fenced after {t_fenced:.2f}s;"
          f" rejoined {t_rejoin:.2f}s after the heal; quorum (leader, epoch) {quorum0} -> {quorum2};"
          f" {len(probe.answers)} acks=1 produces on node {leader} across the heal, refused: {refused[:3]}"
          f"{'...' if len(refused) > 3 else ''} ({len(refused)})")
    assert not probe.errors, probe.errors
    assert (quorum2, refused) == (quorum0, []), \
        f"quorum (leader, epoch) {quorum0} before the heal, {quorum2} after; produces refused by the leader (t after heal, error): {refused}"
