"""`scripts/bench.sh --scale [partitions|connections|clients]`: issue 13's scale goals (2-4) on one
node, each mode on a fresh broker with its own data directory, a table per mode. Minutes long; not
part of scripts/test.sh.

partitions   BENCH_SCALE_PARTITIONS (100000) partitions, as topics of BENCH_SCALE_TOPIC_PARTITIONS
             (100) created by CreateTopics requests of BENCH_SCALE_CREATE_BATCH (10) topics: the
             time, and where it stopped and why if it did; then, idle, RSS and open descriptors,
             Metadata for all topics, and a clean (SIGTERM) and an unclean (kill -9) restart timed
             to ready: a Metadata response that lists every topic with a leader for every partition.
connections  BENCH_SCALE_CONNECTIONS (10000) idle connections from this process (each sends
             ApiVersions, then nothing): how many were refused, the broker's RSS and descriptors per
             connection, and one Java producer's send->ack latency (acks=all, linger 0,
             BENCH_SCALE_ACTIVE_RATE (1000) records/s of 100 B for BENCH_SCALE_ACTIVE_SECONDS (20) s)
             before, with them open, and after they close.
clients      BENCH_SCALE_PRODUCERS (200) producers and BENCH_SCALE_CONSUMERS (200) consumers at
             BENCH_SCALE_CLIENT_RATE (50) records/s each, BENCH_SCALE_CLIENT_SECONDS (30) s measured
             after BENCH_SCALE_CLIENT_WARMUP (10) s: end-to-end latency, and the CPU of the broker
             and of the client process. BENCH_SCALE_CLIENT=raw (default): scripts/bench/tools
             many-clients, one thread and connection per client speaking the protocol directly
             (Produce v3 acks=all with one record, Fetch v4 long polls); =java: all in one JVM
             (Bench.java many-clients), which on 2 cores needs more CPU than the broker (raise the
             warm-up to 20 s or more for the JIT).
metrics      BENCH_SCALE_METRICS_PARTITIONS (10000) partitions with a record and a committed offset each:
             how long a /metrics scrape takes (issue 15).

The broker gets this machine's own RLIMIT_NOFILE (the limit bench.py was started with), whatever
this process raises its own to for the idle connections.
"""
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

import bench as b

sys.path.insert(0, str(b.ROOT / "compat-tests"))
import wire  # noqa: E402

PARTITIONS = int(os.environ.get("BENCH_SCALE_PARTITIONS", 100_000))
TOPIC_PARTITIONS = int(os.environ.get("BENCH_SCALE_TOPIC_PARTITIONS", 100))
CREATE_BATCH = int(os.environ.get("BENCH_SCALE_CREATE_BATCH", 10))
READY_TIMEOUT = float(os.environ.get("BENCH_SCALE_READY_TIMEOUT", 120))
METADATA_RUNS = int(os.environ.get("BENCH_SCALE_METADATA_RUNS", 7))
CONNECTIONS = int(os.environ.get("BENCH_SCALE_CONNECTIONS", 10_000))
ACTIVE_RATE = int(os.environ.get("BENCH_SCALE_ACTIVE_RATE", 1000))
ACTIVE_SECONDS = int(os.environ.get("BENCH_SCALE_ACTIVE_SECONDS", 20))
PRODUCERS = int(os.environ.get("BENCH_SCALE_PRODUCERS", 200))
CONSUMERS = int(os.environ.get("BENCH_SCALE_CONSUMERS", 200))
CLIENT_RATE = int(os.environ.get("BENCH_SCALE_CLIENT_RATE", 50))
CLIENT_SECONDS = int(os.environ.get("BENCH_SCALE_CLIENT_SECONDS", 30))
CLIENT_WARMUP = int(os.environ.get("BENCH_SCALE_CLIENT_WARMUP", 10))
CLIENT = os.environ.get("BENCH_SCALE_CLIENT", "raw")  # raw (scripts/bench/tools) or java
METRICS_PARTITIONS = int(os.environ.get("BENCH_SCALE_METRICS_PARTITIONS", 10_000))

MODES = ("partitions", "connections", "clients", "metrics")
NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)  # the machine's, handed to the broker


def progress(msg):
    print(f"[scale] {msg}", file=sys.stderr, flush=True)


def verdict(ok, applies=True):
    """A goal's verdict; `applies` is False when a knob made the run smaller than the goal's."""
    return ("met" if ok else "NOT met") if applies else "n/a at this size"


def launch(port, data, log):
    """Starts fjord (no waiting) with the RLIMIT_NOFILE bench.py was started with."""
    return subprocess.Popen(
        [str(b.FJORD), "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--override", f"log.dirs={data}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=dict(os.environ, NO_COLOR="1"),
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, NOFILE))


def wait_accepts(p, port, timeout=10):
    t0 = time.perf_counter()
    while not b.accepts(port):
        if p.poll() is not None:
            raise RuntimeError(f"fjord exited with {p.returncode} during startup")
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"fjord did not accept connections within {timeout} s")
        time.sleep(0.001)


def stop(p, sig=signal.SIGTERM, timeout=60):
    """Stops fjord with `sig`; ms until it exited."""
    if p.poll() is not None:
        return 0.0
    t0 = time.perf_counter()
    p.send_signal(sig)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return (time.perf_counter() - t0) * 1000


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


# --- raw Metadata for all topics (v4), parsed without kafka-python (100k partitions) --------------

def recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            raise ConnectionError(f"closed after {got}/{n} bytes")
        got += k
    return buf


def request(sock, api_key, version, body, corr=1):
    header = struct.pack(">hhih", api_key, version, corr, 5) + b"scale"
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    size, = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, size)


METADATA_ALL_V4 = struct.pack(">ib", -1, 0)  # topics: null (all), allow_auto_topic_creation false


def metadata_all(sock):
    """(ms from sending to the whole response received, response frame)."""
    t0 = time.perf_counter()
    frame = request(sock, 3, 4, METADATA_ALL_V4)
    return (time.perf_counter() - t0) * 1000, frame


def count_metadata(frame):
    """(topics listed, partitions with error 0 and a leader, partitions listed) of a v4 response."""
    u = struct.unpack_from
    off = 8  # correlation id, throttle_time_ms
    n, = u(">i", frame, off)
    off += 4
    for _ in range(n):  # brokers: node_id, host, port, rack
        off += 4
        slen, = u(">h", frame, off)
        off += 2 + slen + 4
        slen, = u(">h", frame, off)
        off += 2 + max(slen, 0)
    slen, = u(">h", frame, off)  # cluster_id
    off += 2 + max(slen, 0) + 4  # controller_id
    topics, = u(">i", frame, off)
    off += 4
    ok = listed = 0
    for _ in range(topics):
        slen, = u(">h", frame, off + 2)  # error_code, name
        off += 4 + slen + 1  # is_internal
        parts, = u(">i", frame, off)
        off += 4
        listed += parts
        for _ in range(parts):
            err, _idx, leader, replicas = u(">hiii", frame, off)
            off += 14 + 4 * replicas
            isr, = u(">i", frame, off)
            off += 4 + 4 * isr
            if err == 0 and leader >= 0:
                ok += 1
    return topics, ok, listed


def time_to_ready(p, port, t0, topics, partitions, timeout=READY_TIMEOUT):
    """ms from t0 (the exec) to the first Metadata response listing >= `topics` topics and
    >= `partitions` partitions with a leader (the time the response arrived, not the time it
    took this script to parse it); (None, last counts seen, why) if that never came."""
    seen, why = (0, 0, 0), f"not ready in {timeout:.0f} s"
    while time.perf_counter() - t0 < timeout:
        if p.poll() is not None:
            return None, seen, f"exited with {p.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                while time.perf_counter() - t0 < timeout:
                    frame = request(s, 3, 4, METADATA_ALL_V4)
                    arrived = time.perf_counter()
                    seen = count_metadata(frame)
                    if seen[0] >= topics and seen[1] >= partitions:
                        return (arrived - t0) * 1000, seen, ""
                    time.sleep(0.01)
        except OSError:
            time.sleep(0.001)
    return None, seen, why


# --- partitions ---------------------------------------------------------------------------------

def partitions_mode(work, classes, rows):
    from kafka.protocol.admin import CreateTopicsRequest_v1
    n_topics = max(1, PARTITIONS // TOPIC_PARTITIONS)
    wanted = n_topics * TOPIC_PARTITIONS
    full = wanted >= 100_000  # the goals are for 100k partitions
    data = work / "scale-partitions"
    log_path = work / "scale-partitions.log"
    log = open(log_path, "wb")
    port = b.free_port()
    p = launch(port, data, log)
    try:
        wait_accepts(p, port)
        created, stopped = 0, None
        t0 = time.perf_counter()
        try:
            with wire.Conn(port, timeout=600) as c:
                for first in range(0, n_topics, CREATE_BATCH):
                    names = [f"scale-{i:05d}" for i in range(first, min(first + CREATE_BATCH, n_topics))]
                    req = CreateTopicsRequest_v1(
                        create_topic_requests=[(n, TOPIC_PARTITIONS, 1, [], []) for n in names],
                        timeout=600_000, validate_only=False)
                    r = c.request(req, timeout=600)
                    errors = [(t, code, msg) for t, code, msg in r.topic_errors if code != 0]
                    created += (len(names) - len(errors)) * TOPIC_PARTITIONS
                    if errors:
                        t, code, msg = errors[0]
                        stopped = (f"{len(errors)} of the {len(names)} topics of the next request failed, "
                                   f"the first ({t}) with error {code}: {msg!r}")
                        break
                    if (first // CREATE_BATCH) % 10 == 9:
                        progress(f"partitions: {created:,} created, {time.perf_counter() - t0:.1f} s")
        except (OSError, wire.Closed) as e:
            stopped = f"the connection failed ({e!r}); fjord {'exited' if p.poll() is not None else 'is running'}"
        create_s = time.perf_counter() - t0
        if p.poll() is not None:
            rows.append(("partitions: create", f"fjord exited ({p.returncode}) after {created:,} partitions; "
                         f"{stopped}"))
            return
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.settimeout(120)
            _, frame = metadata_all(s)
        topics, ok, listed = count_metadata(frame)
        if stopped:
            rows.append((f"partitions: create {wanted:,} ({n_topics:,} topics x {TOPIC_PARTITIONS}, "
                         f"{CREATE_BATCH} topics per CreateTopics)",
                         f"STOPPED after {created:,} partitions in {create_s:.1f} s "
                         f"({create_s * 1000 / max(created, 1):.2f} ms each; goal 100k in <= 30 s: {verdict(False, full)}): "
                         f"{stopped}"))
        else:
            rows.append((f"partitions: create {wanted:,} ({n_topics:,} topics x {TOPIC_PARTITIONS}, "
                         f"{CREATE_BATCH} topics per CreateTopics)",
                         f"{create_s:.1f} s ({create_s * 1000 / wanted:.2f} ms each; goal 100k in <= 30 s: "
                         f"{verdict(create_s <= 30, full)})"))
        rows.append(("partitions: Metadata lists", f"{topics:,} topics, {listed:,} partitions ({ok:,} with a leader)"))
        emfile = log_path.read_bytes().count(b"Too many open files")
        if emfile:
            rows.append(("partitions: 'Too many open files' in the broker's log", f"{emfile:,} times"))

        time.sleep(5)
        c0 = b.cpu_seconds(p.pid)
        time.sleep(10)
        idle_cpu = (b.cpu_seconds(p.pid) - c0) / 10 * 100
        rows.append((f"partitions: idle with {ok:,} partitions: RSS, descriptors, CPU",
                     f"RSS {b.rss_kib(p.pid) / 1024:.1f} MiB (anon {rss_anon_kib(p.pid) / 1024:.1f}; goal <= 200 MB "
                     f"with 100k: {verdict(b.rss_kib(p.pid) * 1024 <= 200e6 and ok >= 100_000, full)}), "
                     f"{fds(p.pid):,} open fds (limit {NOFILE[0]:,}), CPU {idle_cpu:.1f} % of a core"))

        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.settimeout(120)
            times = []
            for _ in range(METADATA_RUNS):
                ms, frame = metadata_all(s)
                times.append(ms)
        times.sort()
        rows.append((f"partitions: Metadata for all topics (v4, {len(frame) / 2**20:.1f} MiB response)",
                     f"median {times[len(times) // 2]:.0f} ms, max {times[-1]:.0f} ms over {METADATA_RUNS} "
                     f"(goal <= 200 ms with 100k: {verdict(times[len(times) // 2] <= 200 and ok >= 100_000, full)})"))

        for name, sig, goal_s in (("clean restart (SIGTERM, then start)", signal.SIGTERM, 2),
                                  ("unclean restart (kill -9, then start)", signal.SIGKILL, 10)):
            down_ms = stop(p, sig)
            progress(f"partitions: {name}")
            t0 = time.perf_counter()
            p = launch(port, data, log)
            ready_ms, seen, why = time_to_ready(p, port, t0, topics, ok)
            shutdown = f"; it stopped in {down_ms:.0f} ms" if sig == signal.SIGTERM else ""
            if ready_ms is None:
                rows.append((f"partitions: {name} -> ready",
                             f"NOT ready: {why}; last Metadata listed {seen[0]:,} topics, {seen[1]:,} partitions "
                             f"with a leader{shutdown}"))
            else:
                rows.append((f"partitions: {name} -> ready",
                             f"{ready_ms:.0f} ms (goal <= {goal_s} s with 100k: "
                             f"{verdict(ready_ms <= goal_s * 1000 and ok >= 100_000, full)}){shutdown}; then RSS "
                             f"{b.rss_kib(p.pid) / 1024:.1f} MiB, {fds(p.pid):,} fds"))
            if p.poll() is not None:
                break
    finally:
        stop(p)
        log.close()
        tail = [l for l in log_path.read_text(errors="replace").splitlines() if "ERROR" in l or "WARN" in l]
        if tail:
            progress(f"partitions: {len(tail)} WARN/ERROR lines in the broker's log; the first: {tail[0][:300]}")


# --- metrics ------------------------------------------------------------------------------------

def metrics_mode(work, classes, rows):
    """A /metrics scrape with METRICS_PARTITIONS partitions that each hold a record and a
    committed offset of one group (issue 15: <= 100 ms with 10k partitions)."""
    from kafka.protocol.admin import CreateTopicsRequest_v1
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    import urllib.request
    n_topics = max(1, METRICS_PARTITIONS // 100)
    data = work / "scale-metrics"
    log = open(work / "scale-metrics.log", "wb")
    port, http_port = b.free_port(), b.free_port()
    p = subprocess.Popen(
        [str(b.FJORD), "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--override", f"log.dirs={data}",
         "--override", f"fjord.http.listener=127.0.0.1:{http_port}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=dict(os.environ, NO_COLOR="1"))
    try:
        wait_accepts(p, port)
        names = [f"m-{i:04d}" for i in range(n_topics)]
        with wire.Conn(port, timeout=600) as c:
            for first in range(0, n_topics, CREATE_BATCH):
                batch = names[first:first + CREATE_BATCH]
                c.request(CreateTopicsRequest_v1(create_topic_requests=[(n, 100, 1, [], []) for n in batch],
                                                 timeout=600_000, validate_only=False), timeout=600)
        bs = f"127.0.0.1:{port}"
        prod = KafkaProducer(bootstrap_servers=bs, linger_ms=20, batch_size=1 << 16)
        for t in names:
            for part in range(100):
                prod.send(t, b"x" * 100, partition=part)
        prod.flush(300)
        prod.close()
        cons = KafkaConsumer(bootstrap_servers=bs, group_id="metrics-bench", enable_auto_commit=False)
        tps = [TopicPartition(t, part) for t in names for part in range(100)]
        for i in range(0, len(tps), 1000):
            cons.commit({tp: OffsetAndMetadata(1, None, -1) for tp in tps[i:i + 1000]})
        cons.close()
        times, size, body = [], 0, b""
        for _ in range(METADATA_RUNS):
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=60) as r:
                body = r.read()
            times.append((time.perf_counter() - t0) * 1000)
            size = len(body)
        times.sort()
        lag_rows = body.count(b"\nkafka_consumergroup_lag{")
        rows.append((f"metrics: /metrics with {n_topics * 100:,} partitions, each with a record and a committed "
                     f"offset ({size / 2**20:.1f} MiB, {lag_rows:,} lag series)",
                     f"median {times[len(times) // 2]:.0f} ms, max {times[-1]:.0f} ms over {METADATA_RUNS} "
                     f"(goal <= 100 ms with 10k: {verdict(times[len(times) // 2] <= 100, n_topics * 100 >= 10_000)})"))
    finally:
        stop(p)
        log.close()


# --- connections --------------------------------------------------------------------------------

API_VERSIONS_V0 = (lambda h: struct.pack(">i", len(h)) + h)(struct.pack(">hhih", 18, 0, 1, 5) + b"idle-")


def open_idle(port, n, batch=200):
    """n connections that each did ApiVersions v0; (open sockets, refused count, first refusal)."""
    socks, refused, first = [], 0, None
    for start in range(0, n, batch):
        pending = []
        for _ in range(min(batch, n - start)):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(API_VERSIONS_V0)
                pending.append(s)
            except OSError as e:
                refused += 1
                first = first or repr(e)
        for s in pending:
            try:
                size, = struct.unpack(">i", recv_exact(s, 4))
                recv_exact(s, size)
                socks.append(s)
            except (OSError, ConnectionError) as e:
                refused += 1
                first = first or repr(e)
                s.close()
    return socks, refused, first


def alive(socks):
    """How many of the sockets the broker has not closed."""
    n = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1, socket.MSG_PEEK):
                n += 1  # unexpected bytes, but open
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def connections_mode(work, classes, rows):
    soft, hard = NOFILE
    need = CONNECTIONS + 1000
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    log = open(work / "scale-connections.log", "wb")
    port = b.free_port()
    p = launch(port, work / "scale-connections", log)
    socks = []
    try:
        wait_accepts(p, port)
        bs = f"127.0.0.1:{port}"
        n = ACTIVE_RATE * ACTIVE_SECONDS

        def active(topic):
            r = b.java(classes, "produce-rate", bs, topic, n, 100, ACTIVE_RATE)
            return float(r["p50_ms"]), float(r["p99_ms"]), float(r["max_ms"]), r["errors"]

        progress("connections: active producer alone")
        before = active("scale-active-before")
        time.sleep(2)
        rss0, anon0, fd0 = b.rss_kib(p.pid), rss_anon_kib(p.pid), fds(p.pid)
        progress(f"connections: opening {CONNECTIONS:,} idle connections")
        t0 = time.perf_counter()
        socks, refused, first = open_idle(port, CONNECTIONS)
        opened = len(socks)
        open_s = time.perf_counter() - t0
        time.sleep(3)
        rss1, anon1, fd1 = b.rss_kib(p.pid), rss_anon_kib(p.pid), fds(p.pid)
        per = (rss1 - rss0) / max(len(socks), 1)
        rows.append((f"connections: open {CONNECTIONS:,} idle (ApiVersions, then nothing)",
                     f"{len(socks):,} open, {refused:,} refused{' (first: ' + first + ')' if first else ''} "
                     f"in {open_s:.1f} s (goal: none of 10k refused: {verdict(refused == 0, CONNECTIONS >= 10_000)})"))
        rows.append(("connections: broker RSS growth per idle connection",
                     f"{per:.1f} KiB (RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB, anon {anon0 / 1024:.1f} -> "
                     f"{anon1 / 1024:.1f}; fds {fd0:,} -> {fd1:,}; goal <= 20 KiB: {verdict(per <= 20, CONNECTIONS >= 10_000)})"))
        progress("connections: active producer beside them")
        during = active("scale-active-with")
        still = alive(socks)
        rss2 = b.rss_kib(p.pid)
        for s in socks:
            s.close()
        socks = []
        time.sleep(3)
        rss3 = b.rss_kib(p.pid)
        progress("connections: active producer after they closed")
        after = active("scale-active-after")
        ratio = during[1] / before[1] if before[1] > 0 else float("inf")
        label = (f"connections: active producer send->ack (acks=all, linger 0, {ACTIVE_RATE} rec/s x 100 B, "
                 f"{ACTIVE_SECONDS} s)")
        for when, r in (("alone", before), (f"with {opened:,} idle", during), ("after they closed", after)):
            rows.append((f"{label}: {when}", f"p50 {r[0]:.2f} ms, p99 {r[1]:.2f} ms, max {r[2]:.2f} ms (errors {r[3]})"))
        rows.append(("connections: p99 with the idle connections / alone",
                     f"{ratio:.2f}x (goal <= 2x with 10k: {verdict(ratio <= 2, CONNECTIONS >= 10_000)})"))
        rows.append(("connections: idle ones still open after the active run; RSS then, and after they closed",
                     f"{still:,} of {CONNECTIONS:,}; {rss2 / 1024:.1f} MiB, {rss3 / 1024:.1f} MiB"))
    finally:
        for s in socks:
            s.close()
        stop(p)
        log.close()


# --- clients ------------------------------------------------------------------------------------

class CpuSampler(threading.Thread):
    """(wall time, broker CPU seconds, open fds, RSS KiB) every 0.5 s."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.running = pid, [], True

    def run(self):
        while self.running:
            try:
                self.samples.append((time.time(), b.cpu_seconds(self.pid), fds(self.pid), b.rss_kib(self.pid)))
            except OSError:
                return
            time.sleep(0.5)

    def at(self, t):
        return min(self.samples, key=lambda s: abs(s[0] - t))


def many_clients_raw(port, topic):
    """scripts/bench/tools/src/many_clients.rs on a topic created here."""
    wire.create_topic(port, topic, max(PRODUCERS, CONSUMERS))
    cmd = [str(b.TOOLS / "many-clients"), f"127.0.0.1:{port}", topic, str(PRODUCERS), str(CONSUMERS),
           str(CLIENT_RATE), str(CLIENT_WARMUP), str(CLIENT_SECONDS)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=CLIENT_WARMUP + CLIENT_SECONDS + 300)
    results = [l for l in r.stdout.splitlines() if l.startswith("RESULT")]
    if r.returncode != 0 or not results:
        raise RuntimeError(f"many-clients failed ({r.returncode}): {r.stdout[-2000:]} {r.stderr[-2000:]}")
    if r.stderr.strip():
        progress(f"clients: many-clients said: {r.stderr.strip()[:500]}")
    return dict(kv.split("=", 1) for kv in results[-1].split()[1:])


def clients_mode(work, classes, rows):
    log = open(work / "scale-clients.log", "wb")
    port = b.free_port()
    p = launch(port, work / "scale-clients", log)
    sampler = None
    try:
        wait_accepts(p, port)
        sampler = CpuSampler(p.pid)
        sampler.start()
        progress(f"clients: {PRODUCERS} producers, {CONSUMERS} consumers, {CLIENT_RATE} rec/s each ({CLIENT})")
        if CLIENT == "java":
            r = b.java(classes, "many-clients", f"127.0.0.1:{port}", "scale-clients", PRODUCERS, CONSUMERS,
                       CLIENT_RATE, CLIENT_WARMUP, CLIENT_SECONDS)
            client = "Java kafka-clients 4.3, one JVM (Bench.java many-clients)"
        else:
            r = many_clients_raw(port, "scale-clients")
            client = "raw protocol, a connection per client, one thread (scripts/bench/tools many-clients)"
        sampler.running = False
        sampler.join()
        t0, t1 = int(r["wall_start_ms"]) / 1000, int(r["wall_end_ms"]) / 1000
        s0, s1 = sampler.at(t0), sampler.at(t1)
        broker_cpu = (s1[1] - s0[1]) / max(s1[0] - s0[0], 1e-9) * 100
        window = float(r["window_s"])
        client_cpu = float(r["client_cpu_s"]) / window * 100
        rate = PRODUCERS * CLIENT_RATE
        in_window = [s for s in sampler.samples if t0 <= s[0] <= t1] or [s1]
        rows.append((f"clients: {PRODUCERS} producers + {CONSUMERS} consumers, {CLIENT_RATE} rec/s each "
                     f"({rate:,} rec/s of 100 B), acks=all, one record per produce",
                     f"{client}; {r['received']} of {r['sent']} records sent in the {window:.0f} s window "
                     f"received (errors {r['errors']})"))
        rows.append(("clients: end-to-end latency (send -> the consumer has it)",
                     f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, p99.9 {r['p999_ms']} ms, max {r['max_ms']} ms "
                     f"(goal p99 <= 10 ms with 200 + 200: "
                     f"{verdict(float(r['p99_ms']) <= 10, PRODUCERS >= 200 and CONSUMERS >= 200)})"))
        if "late_p99_ms" in r:
            rows.append(("clients: sends behind their schedule (the client's own lag)",
                         f"p99 {r['late_p99_ms']} ms"))
        rows.append(("clients: broker CPU, RSS, open fds in the window",
                     f"{broker_cpu:.0f} % of a core; RSS max {max(s[3] for s in in_window) / 1024:.1f} MiB; "
                     f"{max(s[2] for s in in_window):,} fds"))
        rows.append(("clients: the client process's CPU in the window (its cost on this machine)",
                     f"{client_cpu:.0f} % of a core ({r['threads']} threads)"))
    finally:
        if sampler:
            sampler.running = False
        stop(p)
        log.close()


def print_table(mode, rows):
    w = max([len(k) for k, _ in rows] + [20])
    print()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"fjord scale: {mode} ({os.cpu_count()} cores, {os.uname().release}, RLIMIT_NOFILE {NOFILE[0]:,}; "
          f"load average now {load})")
    print("-" * (w + 60))
    for k, v in rows:
        print(f"{k.ljust(w)}  {v}")
    print("-" * (w + 60))
    sys.stdout.flush()


def main(work, classes, argv):
    chosen = []
    for i, a in enumerate(argv):
        value = a.split("=", 1)[1] if a.startswith("--scale=") else None
        if a == "--scale" and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            value = argv[i + 1]
        if value:
            chosen += [m for m in value.split(",") if m]
    for m in chosen:
        if m not in MODES:
            sys.exit(f"--scale: unknown mode {m!r}; modes: {', '.join(MODES)}")
    run = {"partitions": partitions_mode, "connections": connections_mode, "clients": clients_mode,
           "metrics": metrics_mode}
    for mode in chosen or MODES:
        rows = []
        try:
            run[mode](work, classes, rows)
        except (Exception, SystemExit) as e:
            traceback.print_exc()
            rows.append((f"{mode}: FAILED", f"{type(e).__name__}: {str(e)[:500]}"))
        print_table(mode, rows or [(mode, "no figures")])
