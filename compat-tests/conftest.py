"""Fixtures and helpers shared by the compat tests: a real fjord process per test.

Each test starts its own broker on a free 127.0.0.1 port with a fresh data
directory and stops it afterwards. On failure the broker's stderr tail is
attached to the test report.

Every fixture or helper used by more than one test file is defined here, once
(test files import from conftest, never from each other): brokers
(`start_broker`, `broker`, `gbroker`), clusters of several nodes (`start_cluster`,
`cluster`, `Cluster`, `node_metadata`, `CLUSTER_OVERRIDES`), group settings (`GROUP_OVERRIDES`,
`KIP848_OVERRIDES`, `require_kip848`), client helpers (`create_topics`,
`produce`, `produce_error`, `consume_assigned`, `produce_per_partition`, `KCAT`, `needs_kcat`)
and the programs in java/ (`run_java`, `JavaProc`).
"""
import os
import queue
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaProducer

ROOT = Path(__file__).resolve().parent.parent
# A user's project, run by test_wheel.py in a virtualenv holding the built wheel; not part of
# this suite (its fixtures come from the installed package's pytest plugin).
collect_ignore = ["wheel_sample"]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import wire  # noqa: E402 - found through the sys.path entry above

FJORD_BIN = Path(os.environ.get("FJORD_BIN", ROOT / "target" / "release" / "fjord"))
JARS = Path(os.environ.get("FJORD_JARS", ROOT / ".cache" / "jars"))
JAVA_SRC = Path(__file__).resolve().parent / "java"


_PORTS_GIVEN = set()


def free_port():
    """A port free on 127.0.0.1 now and not handed out before in this session: a cluster takes
    several at once, and the kernel may offer a just-released port again."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


def wait_until(cond, timeout=10.0, interval=0.05, what="condition"):
    """Poll cond() until it returns a truthy value; return that value."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last_exc = None
    tries = 0
    while True:
        tries += 1
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 f" ({tries} tries in {time.monotonic() - t0:.1f}s"
                                 + (f", last error: {last_exc!r})" if last_exc else ")"))
        time.sleep(interval)


class Broker:
    def __init__(self, log_dir, port=None, overrides=None, name="fjord", nofile=None):
        self.log_dir = Path(log_dir)
        self.nofile = nofile  # RLIMIT_NOFILE of the process, if set: n, or (soft, hard)
        self.port = port or free_port()
        self.http_port = free_port()  # fjord.http.listener: /metrics, /health, /ready
        self.overrides = dict(overrides or {})
        self.name = name
        self.proc = None
        self.stderr_path = self.log_dir.parent / f"{self.log_dir.name}.{name}.stderr"
        self.starts = 0
        self.stop_requested = False

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    @property
    def host(self):
        return "127.0.0.1"

    @property
    def http(self):
        """The base URL of the broker's HTTP listener."""
        return f"http://127.0.0.1:{self.http_port}"

    def argv(self):
        args = [str(FJORD_BIN),
                "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "--override", f"log.dirs={self.log_dir}",
                "--override", f"fjord.http.listener=127.0.0.1:{self.http_port}"]
        for k, v in self.overrides.items():
            args += ["--override", f"{k}={v}"]
        return args

    def start(self, timeout=10.0):
        self.launch()
        return self.wait_accepting(timeout)

    def launch(self):
        """Start the process without waiting for it (see wait_accepting)."""
        if not FJORD_BIN.exists():
            pytest.fail(f"fjord binary not found at {FJORD_BIN} (run cargo build --release)")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        err = open(self.stderr_path, "ab")
        err.write(f"\n===== start #{self.starts}: {' '.join(self.argv())}\n".encode())
        err.flush()
        env = dict(os.environ, NO_COLOR="1")
        limit = (self.nofile, self.nofile) if isinstance(self.nofile, int) else self.nofile
        preexec = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit)) if limit else None
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=err, stderr=err, env=env, preexec_fn=preexec)
        err.close()
        self._launched_at = time.monotonic()
        self.stop_requested = False
        return self

    def wait_accepting(self, timeout=10.0):
        """Wait until the launched process accepts connections on its client port."""
        t0 = self._launched_at
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"fjord exited with {self.proc.returncode} during startup:\n"
                                     + self.stderr_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"fjord did not accept on port {self.port} within {timeout}s:\n"
                                     + self.stderr_tail())
            time.sleep(0.01)
        self.startup_seconds = time.monotonic() - t0
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=10.0):
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        self.terminate()
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def terminate(self):
        """SIGTERM without waiting."""
        if self.proc is not None:
            self.stop_requested = True
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)

    def kill(self):
        """SIGKILL: simulates a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop_requested = True
            self.proc.kill()
            self.proc.wait(10)

    def restart(self, kill=False, **extra_overrides):
        """Stop (SIGTERM, or SIGKILL if kill=True) and start again on the same port and dir."""
        if kill:
            self.kill()
        else:
            self.stop()
        self.overrides.update(extra_overrides)
        return self.start()

    def stderr_tail(self, n=80):
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no stderr captured)"
        return "\n".join(lines[-n:])


@pytest.fixture
def start_broker(tmp_path, request):
    """Factory: start_broker({"kafka.key": "value", ...}) -> a started Broker. `port`: its
    PLAINTEXT port, when the overrides name the listeners themselves."""
    brokers = []
    request.node._fjord_brokers = brokers

    def _start(overrides=None, name=None, nofile=None, port=None):
        b = Broker(tmp_path / f"data{len(brokers)}", port=port, overrides=overrides,
                   name=name or f"fjord{len(brokers)}", nofile=nofile)
        brokers.append(b)
        return b.start()

    yield _start
    for b in brokers:
        b.stop()
    _fail_on_panics(brokers)


def _fail_on_panics(brokers):
    # Client input must never panic the broker, even where a task boundary hides it.
    panics = [(b.name, l) for b in brokers for l in b.stderr_tail(100000).splitlines() if "panicked" in l]
    if panics:
        pytest.fail("fjord panicked during the test:\n" + "\n".join(f"{n}: {l}" for n, l in panics[:10]))


@pytest.fixture
def broker(start_broker):
    return start_broker()


# --- clusters ------------------------------------------------------------------
#
# A cluster node is a Broker started with Kafka's KRaft combined-mode keys (node.id,
# process.roles, controller.quorum.voters, a CONTROLLER listener). Nodes talk to each other
# over their controller ports; clients see their PLAINTEXT ports.

CLUSTER_OVERRIDES = {
    # fence a silent broker after 2 s (Kafka's default is 9 s) so kill tests stay short
    "broker.session.timeout.ms": "2000",
    "broker.heartbeat.interval.ms": "500",
}


class ClusterNode(Broker):
    """One node of a cluster: a broker and a controller voter (process.roles=broker,controller)."""

    def __init__(self, node_id, log_dir, overrides=None, name=None):
        super().__init__(log_dir, overrides=overrides, name=name or f"node{node_id}")
        self.node_id = node_id
        self.controller_port = free_port()
        self.voters = ""  # set by Cluster once every node has its ports

    def config(self):
        """Every key this node starts with (the cluster keys, then the overrides)."""
        return {
            "node.id": str(self.node_id),
            "process.roles": "broker,controller",
            "controller.quorum.voters": self.voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(self.log_dir),
            "fjord.http.listener": f"127.0.0.1:{self.http_port}",
            **self.overrides,
        }

    def argv(self):
        args = [str(FJORD_BIN)]
        for k, v in self.config().items():
            args += ["--override", f"{k}={v}"]
        return args


class ClusterMetadata:
    """What one node's Metadata (v7) answer says: cluster id, controller id, live brokers
    {id: (host, port)} and topics {name: {partition: PartitionMeta}} (with topic_errors)."""

    def __init__(self, resp):
        self.cluster_id = resp.cluster_id
        self.controller_id = resp.controller_id
        self.brokers = {nid: (host, port) for nid, host, port, _rack in resp.brokers}
        self.topics, self.topic_errors = {}, {}
        for err, name, _internal, parts in resp.topics:
            self.topic_errors[name] = err
            self.topics[name] = {p[1]: PartitionMeta(*p) for p in parts}


class PartitionMeta:
    def __init__(self, error, partition, leader, leader_epoch, replicas, isr, offline):
        self.error, self.partition, self.leader, self.leader_epoch = error, partition, leader, leader_epoch
        self.replicas, self.isr, self.offline = list(replicas), list(isr), list(offline)

    def __repr__(self):
        return (f"P{self.partition}(err={self.error} leader={self.leader} epoch={self.leader_epoch} "
                f"replicas={self.replicas} isr={self.isr})")


def find_coordinator(port, key, key_type):
    """FindCoordinator v2 sent to the node listening on port: its response (error_code,
    coordinator_id, host, port)."""
    from kafka.protocol.find_coordinator import FindCoordinatorRequest_v2
    with wire.Conn(port) as c:
        return c.request(FindCoordinatorRequest_v2(coordinator_key=key, coordinator_type=key_type))


def node_metadata(port, topics=None):
    """Metadata v7 from the node listening on port (topics=None: every topic)."""
    from kafka.protocol.metadata import MetadataRequest_v7
    with wire.Conn(port, timeout=5) as c:
        return ClusterMetadata(c.request(MetadataRequest_v7(topics=topics, allow_auto_topic_creation=False),
                                         timeout=5))


class Cluster:
    """n ClusterNodes with ids 1..n; nodes[i] is node id i+1."""

    def __init__(self, nodes):
        self.nodes = nodes
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
        for n in nodes:
            n.voters = voters

    def node(self, node_id):
        return next(n for n in self.nodes if n.node_id == node_id)

    @property
    def bootstrap(self):
        return ",".join(n.bootstrap for n in self.nodes)

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def start(self, timeout=30.0):
        """Launch every node not running (at once: a quorum forms only when enough voters
        are up) and wait until the cluster is ready."""
        for n in self.nodes:
            if not n.alive():
                n.launch()
        for n in self.nodes:
            n.wait_accepting(timeout)
        return self.wait_ready(timeout=timeout)

    def metadata(self, node, topics=None):
        return node_metadata(node.port, topics)

    def wait_ready(self, timeout=30.0):
        """Every live node lists exactly the live brokers, with their ports, names the same
        controller, one of them, and knows the same topics and partition counts (a node that
        just restarted has caught up). Returns that controller's id."""
        def ready():
            live = self.live()
            want = {n.node_id: ("127.0.0.1", n.port) for n in live}
            mds = [self.metadata(n) for n in live]
            ctrls = {md.controller_id for md in mds}
            topics = [{t: len(ps) for t, ps in md.topics.items()} for md in mds]
            if all(md.brokers == want for md in mds) and len(ctrls) == 1 and ctrls <= set(want) \
                    and all(t == topics[0] for t in topics):
                return ctrls.pop()
            return None
        return wait_until(ready, timeout=timeout, interval=0.1,
                          what=f"every live node of {[n.node_id for n in self.live()]} to list them all "
                               "and agree on the controller")

    def controller_id(self, timeout=15.0):
        """The active controller, as every live node reports it."""
        def agreed():
            ctrls = {self.metadata(n).controller_id for n in self.live()}
            return ctrls.pop() if len(ctrls) == 1 and ctrls != {-1} else None
        return wait_until(agreed, timeout=timeout, interval=0.1, what="the live nodes to agree on a controller")

    def wait_leaders(self, topic, partitions, timeout=15.0):
        """Every live node's Metadata knows `topic` with `partitions` partitions, each with a
        leader; returns {partition: PartitionMeta} as the first live node sees it."""
        def known():
            seen = []
            for n in self.live():
                md = self.metadata(n, [topic])
                parts = md.topics.get(topic, {})
                if md.topic_errors.get(topic) != 0 or len(parts) != partitions \
                        or any(p.leader < 0 or p.error for p in parts.values()):
                    return None
                seen.append(parts)
            return seen[0]
        return wait_until(known, timeout=timeout, interval=0.1,
                          what=f"topic {topic} with {partitions} led partitions on every live node")

    def stop(self, timeout=10.0):
        """SIGTERM every node at once, then wait for each (SIGKILL after timeout)."""
        for n in self.nodes:
            n.terminate()
        for n in self.nodes:
            n.stop(timeout)

    def kill(self):
        for n in self.nodes:
            n.kill()


@pytest.fixture
def start_cluster(tmp_path, request):
    """Factory: start_cluster(n=3, overrides={...}, start=True) -> a ready Cluster.

    Every node gets free client and controller ports and its own data dir under tmp_path;
    CLUSTER_OVERRIDES apply unless overridden. All nodes are stopped at the end of the test,
    and their stderr is attached to a failure."""
    started = []
    request.node._fjord_brokers = getattr(request.node, "_fjord_brokers", [])

    def _start(n=3, overrides=None, start=True):
        base = len(started)
        cfg = {**CLUSTER_OVERRIDES, **(overrides or {})}
        nodes = [ClusterNode(i, tmp_path / f"c{base}-n{i}", overrides=cfg, name=f"node{i}") for i in range(1, n + 1)]
        cluster = Cluster(nodes)
        started.extend(nodes)
        request.node._fjord_brokers.extend(nodes)
        if start:
            cluster.start()
        return cluster

    yield _start
    for n in started:
        n.terminate()
    for n in started:
        n.stop()
    _fail_on_panics(started)


@pytest.fixture
def cluster(start_cluster):
    """A ready 3-node cluster with CLUSTER_OVERRIDES."""
    return start_cluster()


# --- consumer groups -----------------------------------------------------------

GROUP_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}
# fjord's key; Kafka also needs group.consumer.min.heartbeat.interval.ms lowered for this
KIP848_OVERRIDES = {**GROUP_OVERRIDES, "group.consumer.heartbeat.interval.ms": "1000"}
CONSUMER_GROUP_HEARTBEAT = 68


@pytest.fixture
def gbroker(start_broker):
    """A broker whose groups rebalance without the initial delay."""
    return start_broker(GROUP_OVERRIDES)


def require_kip848(broker):
    with wire.Conn(broker.port) as c:
        versions = c.api_versions()
    if CONSUMER_GROUP_HEARTBEAT not in versions:
        pytest.xfail("KIP-848 not implemented yet: ConsumerGroupHeartbeat (68) not in ApiVersions")


# --- client helpers ------------------------------------------------------------

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
needs_kcat = pytest.mark.skipif(KCAT is None, reason="kcat not installed (scripts/install-deps.sh installs it)")


def partition_for(key, partitions):
    """Kafka's coordinator partition for a group or transactional id:
    Utils.abs(key.hashCode()) % partitions (String.hashCode over UTF-16 code units)."""
    b = key.encode("utf-16-be")
    h = 0
    for i in range(0, len(b), 2):
        h = (31 * h + int.from_bytes(b[i:i + 2], "big")) & 0xFFFFFFFF
    h = h - (1 << 32) if h >= 1 << 31 else h
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def create_topics(bootstrap, *names, partitions=1):
    """Create topics with confluent-kafka's AdminClient; returns the client."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futs = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names],
                               operation_timeout=10)
    for f in futs.values():
        f.result(timeout=15)
    return admin


def produce(bootstrap, topic, values, keys=None, **conf):
    """confluent-kafka: produce values, flush, return delivery reports [(err, partition, offset, key, value)] in order."""
    reports = []

    def on_delivery(err, msg):
        reports.append((err, msg.partition(), msg.offset(), msg.key(), msg.value()))

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    for i, v in enumerate(values):
        p.produce(topic, value=v, key=None if keys is None else keys[i], on_delivery=on_delivery)
        p.poll(0)
    remaining = p.flush(30)
    assert remaining == 0, f"{remaining} messages not delivered"
    return reports


def produce_error(bootstrap, topic, conf):
    """confluent-kafka: produce one record; the delivery error's code, or None if it was stored
    (a denied write gets TOPIC_AUTHORIZATION_FAILED)."""
    errs = []
    p = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 10000, **conf})
    p.produce(topic, b"x", on_delivery=lambda e, m: errs.append(e))
    p.flush(15)
    return errs[0].code() if errs and errs[0] is not None else None


def consume_assigned(bootstrap, topic, n, partition=0, start=OFFSET_BEGINNING, timeout=20, **conf):
    """confluent-kafka: assign() (no subscribe, nothing committed) and read exactly n messages."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-assign",
                  "enable.auto.commit": False, "enable.auto.offset.store": False, **conf})
    c.assign([TopicPartition(topic, partition, start)])
    out = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            for m in c.consume(num_messages=n - len(out), timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError(f"consume error: {m.error()}")
                out.append((m.partition(), m.offset(), m.key(), m.value()))
    finally:
        c.close()
    return out


def produce_per_partition(bootstrap, topic, partitions, start, n):
    """kafka-python: n records b"p<p>-<offset>" to each partition; asserts they land at start..start+n-1."""
    prod = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    futs = [(p, start + i, prod.send(topic, value=b"p%d-%d" % (p, start + i), partition=p))
            for i in range(n) for p in range(partitions)]
    prod.flush(30)
    for p, off, f in futs:
        md = f.get(timeout=30)
        assert (md.partition, md.offset) == (p, off)
    prod.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in getattr(item, "_fjord_brokers", []):
            if b.alive():
                state = "running"
            elif b.proc is not None and not b.stop_requested:
                # 0: it shut down on SIGTERM/SIGINT that this test did not send
                state = f"EXITED ON ITS OWN with {b.proc.returncode}"
            else:
                state = f"EXITED with {b.proc.returncode if b.proc else None}"
            rep.sections.append((f"{b.name} stderr (tail, port {b.port}, {state})", b.stderr_tail()))


# --- Java --------------------------------------------------------------------

@pytest.fixture(scope="session")
def java_classes(tmp_path_factory):
    """Compile compat-tests/java/*.java once per session."""
    if not list(JARS.glob("kafka-clients-*.jar")):
        pytest.fail(f"kafka-clients jars missing in {JARS} (run scripts/install-deps.sh)")
    out = tmp_path_factory.mktemp("java-classes")
    srcs = sorted(str(p) for p in JAVA_SRC.glob("*.java"))
    r = subprocess.run(["javac", "-nowarn", "-d", str(out), "-cp", f"{JARS}/*", *srcs],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        pytest.fail("javac failed:\n" + r.stdout + r.stderr)
    return out


def java_cmd(java_classes, main, *args):
    """The command line running one of compat-tests/java's programs."""
    return ["java", "-cp", f"{java_classes}:{JARS}/*", main, *map(str, args)]


def _filter_java_noise(text):
    return "\n".join(l for l in text.splitlines()
                     if not l.startswith("SLF4J") and "JAVA_TOOL_OPTIONS" not in l)


@pytest.fixture
def run_java(java_classes):
    """run_java(MainClass, *args, timeout=...) -> stdout; fails the test on non-zero exit."""
    def _run(main, *args, timeout=180, check=True):
        cmd = java_cmd(java_classes, main, *args)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            pytest.fail(f"java {main} timed out after {timeout}s\nstdout:\n{out[-4000:]}")
        out = r.stdout
        err = _filter_java_noise(r.stderr)
        if check and r.returncode != 0:
            pytest.fail(f"java {main} {' '.join(map(str, args))} exited {r.returncode}\n"
                        f"--- stdout ---\n{out[-6000:]}\n--- stderr ---\n{err[-6000:]}")
        return out
    return _run


class JavaProc:
    """One of compat-tests/java's programs as a separate JVM, stdin kept open.

    Its output lines (stdout and stderr) are kept with their arrival times and
    also arrive on a queue for wait_line()."""

    def __init__(self, java_classes, main, *args):
        self.proc = subprocess.Popen(java_cmd(java_classes, main, *args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.timed_lines = []  # (monotonic time, line)
        self.q = queue.Queue()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._lock:
                self.timed_lines.append((time.monotonic(), line))
            self.q.put(line)

    @property
    def lines(self):
        return [l for _, l in self.events()]

    def events(self, prefix=None):
        """[(time, line)] so far, optionally only the lines starting with prefix."""
        with self._lock:
            return [(t, l) for t, l in self.timed_lines if prefix is None or l.startswith(prefix)]

    def output(self):
        return "\n".join(l for _, l in self.events())[-6000:]

    def wait_line(self, want, timeout=60):
        """Wait for the line `want`; a FAIL line or the process ending fails the test."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0 and self.proc.poll() is None or not self.q.empty(), \
                f"no {want!r} line (exit {self.proc.poll()}):\n" + "\n".join(self.lines[-60:])
            try:
                line = self.q.get(timeout=min(max(left, 0.01), 0.5))
            except queue.Empty:
                continue
            if line.startswith("FAIL"):
                time.sleep(0.2)
                raise AssertionError("\n".join(self.lines[-60:]))
            if line == want:
                return

    def sigkill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        """SIGKILL if still running; reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def close(self, timeout=30):
        """Ask the program to finish ("close" on stdin), SIGKILL after timeout; the exit code."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("close\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        return self.proc.returncode
