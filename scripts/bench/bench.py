"""Drives scripts/bench.sh: starts fjord, runs Bench.java modes, samples /proc, prints a table."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FJORD = Path(os.environ.get("FJORD_BIN", ROOT / "target/release/fjord"))
TOOLS = Path(os.environ.get("BENCH_TOOLS_DIR", ROOT / "target/bench-tools/release"))  # scripts/bench/tools
FLOOR = TOOLS / "floor"
JARS = ROOT / ".cache/jars"
RECORDS = int(os.environ.get("BENCH_RECORDS", 1_000_000))
SIZE = int(os.environ.get("BENCH_RECORD_BYTES", 1024))
PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", 4))
E2E_ROUNDS = int(os.environ.get("BENCH_E2E_ROUNDS", 200))
STARTUP_RUNS = int(os.environ.get("BENCH_STARTUP_RUNS", 5))
GROUP_FIRST_RUNS = int(os.environ.get("BENCH_GROUP_FIRST_RUNS", 11))
OLD_RECORDS = int(os.environ.get("BENCH_OLD_RECORDS", 200_000))
TLS = os.environ.get("BENCH_TLS", "1") != "0"  # the TLS rows (an SSL listener beside PLAINTEXT)
SHARE = os.environ.get("BENCH_SHARE", "1") != "0"  # the share-group rows (KIP-932 share consumers)
# max.poll.records of the share consumers (the client's default, 500, unless set): a share fetch
# asks for at most this many records.
SHARE_MAX_POLL = os.environ.get("BENCH_SHARE_MAX_POLL_RECORDS", "")
# fetch.max.bytes of the share consumers (the client's default, 50 MiB, unless set): a share
# fetch's MaxBytes, which bounds how far ahead fjord reads batch headers (docs/performance.md).
SHARE_FETCH_MAX_BYTES = os.environ.get("BENCH_SHARE_FETCH_MAX_BYTES", "")
JAVA_JOIN_WINDOW_MS = 50  # SHORT_JOIN_WINDOW_MS in src/group/classic.rs
RATE = int(os.environ.get("BENCH_LATENCY_RATE", 5000))  # records/s for the latency run
FLOOR_BYTES = int(os.environ.get("BENCH_FLOOR_BYTES", 2 << 30))  # bytes per floor run
FLOOR_RUNS = int(os.environ.get("BENCH_FLOOR_RUNS", 3))  # runs of each floor, before and after; median
FLOOR_GOAL = 1.3  # issue 13, goal 1: broker CPU per GiB within 1.3x of the floor
# Per floor mode: bytes per call, and the peer's socket buffer in the runs fjord is judged against:
# what the Java client sets on its side of fjord's connections (the producer's send.buffer.bytes,
# the consumer's receive.buffer.bytes). Each mode also runs with the kernel's default (0), as before.
FLOOR_MODES = {"recv-write": (256 << 10, 128 << 10), "sendfile": (1 << 20, 64 << 10)}
# The consume runs' JVM touches its heap at start, so that first touches of the heap are not counted
# in the consumer's kernel time (the producer's is its network thread's, which barely allocates).
CONSUMER_JVM = ("-XX:+AlwaysPreTouch",)
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port, data, stderr, extra=()):
    args = [str(FJORD), "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}",
            "--override", f"log.dirs={data}", *extra]
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                         env=dict(os.environ, NO_COLOR="1"))
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return p, (time.perf_counter() - t0) * 1000
        except OSError:
            if p.poll() is not None:
                sys.exit(f"fjord exited with {p.returncode} during startup")
            if time.perf_counter() - t0 > 10:
                p.kill()
                sys.exit("fjord did not accept connections within 10 s")
            time.sleep(0.0005)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_split(pid):
    """(user, system) CPU seconds of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def cpu_seconds(pid):
    return sum(cpu_split(pid))


def raw_long_poll_latency(port, rounds=300):
    """A fetch parked in a long poll (raw protocol, no client library in the way) is
    woken by a produce on another connection: ms from sending the produce to the fetch
    response arriving, and from the produce's ack to it. Returns (p50, p99, p50 after ack)."""
    sys.path.insert(0, str(ROOT / "compat-tests"))
    import wire
    from kafka.protocol.fetch import FetchRequest_v4
    wire.create_topic(port, "bench-raw-lp")
    send_to_fetch, ack_to_fetch = [], []
    batch = wire.build_batch([b"x"])
    with wire.Conn(port) as fetcher, wire.Conn(port) as producer:
        for offset in range(rounds):
            req = FetchRequest_v4(replica_id=-1, max_wait_time=5000, min_bytes=1, max_bytes=1 << 20,
                                  isolation_level=0, topics=[("bench-raw-lp", [(0, offset, 1 << 20)])])
            fetcher.send_frame(fetcher.header(req.API_KEY, req.API_VERSION) + req.encode())
            time.sleep(0.01)  # the fetch is parked by now
            t0 = time.perf_counter()
            producer.produce("bench-raw-lp", 0, batch, acks=1)
            t1 = time.perf_counter()
            fetcher.recv_frame(timeout=10)
            t2 = time.perf_counter()
            send_to_fetch.append((t2 - t0) * 1000)
            ack_to_fetch.append((t2 - t1) * 1000)
    a = sorted(send_to_fetch[rounds // 10:])
    b = sorted(ack_to_fetch[rounds // 10:])
    return a[len(a) // 2], a[int(len(a) * 0.99)], b[len(b) // 2]


def old_consumer(bootstrap, topic, partitions, records):
    """kafka-python pinned to api_version (0,10): Fetch v2, message format v1."""
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, api_version=(0, 10), auto_offset_reset="earliest",
                      max_partition_fetch_bytes=1 << 20, consumer_timeout_ms=10000)
    c.assign([TopicPartition(topic, i) for i in range(partitions)])
    n = size = 0
    t0 = time.perf_counter()
    for m in c:
        n += 1
        size += len(m.value) + (len(m.key) if m.key else 0)
        if n >= records:
            break
    seconds = time.perf_counter() - t0
    c.close()
    return {"rec_s": n / seconds, "mib_s": size / seconds / 2**20, "seconds": seconds, "bytes": size}


def dd_baseline(work, gib=1):
    """System CPU seconds for `dd` to write `gib` GiB into the page cache of the same
    filesystem: the kernel's share of any writer's cost on this machine right now."""
    target = work / "dd-baseline"
    r = subprocess.run(["/usr/bin/time", "-f", "%S", "dd", "if=/dev/zero", f"of={target}", "bs=256k",
                        f"count={4096 * gib}"], capture_output=True, text=True)
    target.unlink(missing_ok=True)
    try:
        return float(r.stderr.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")


def floor_run(d, mode, chunk, buffer, rate=0, nbytes=FLOOR_BYTES):
    """One run of the floor program: (its own CPU-s per GiB, its peer's)."""
    r = subprocess.run([str(FLOOR), mode, str(d), str(nbytes), str(chunk), str(buffer), str(rate)],
                       capture_output=True, text=True, timeout=600)
    results = [l for l in r.stdout.splitlines() if l.startswith("RESULT")]
    if r.returncode != 0 or not results:
        sys.exit(f"floor {mode} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    kv = dict(kv.split("=", 1) for kv in results[-1].split()[1:])
    return float(kv["cpu_s_per_gib"]), float(kv["peer_cpu_s_per_gib"])


def floor(work, samples):
    """Runs the machine's floor (scripts/bench/tools/src/floor.rs) FLOOR_RUNS times per byte path
    and peer socket buffer (the kernel's default and the Java client's, alternately), FLOOR_BYTES
    each, in a directory on the same filesystem as the broker's data, adding each run's CPU-s per
    GiB, the floor process's own and its peer's, to samples[(mode, peer buffer)]."""
    d = work / "floor"
    d.mkdir(exist_ok=True)
    for mode, (chunk, java_buffer) in FLOOR_MODES.items():
        for _ in range(FLOOR_RUNS):
            for buffer in (0, java_buffer):
                samples.setdefault((mode, buffer), []).append(floor_run(d, mode, chunk, buffer))


def paced_floor(work, samples, mib_s, nbytes):
    """The recv -> write floor with its sender paced to the rate the Java producer achieved against
    fjord (MiB/s) and sending as many bytes, 2 x FLOOR_RUNS times, with the Java producer's socket
    buffer: samples[("recv-write", "paced")]. Receiving and writing a byte costs more at a lower rate
    (each wake-up finds less to read; freed page-cache memory sits longer before it is reused, and
    this VM gives such memory back to its host), so this is the floor for the produce as it ran."""
    d = work / "floor"
    d.mkdir(exist_ok=True)
    chunk, java_buffer = FLOOR_MODES["recv-write"]
    rate = samples[("recv-write", "paced rate")] = max(1, round(mib_s))
    for _ in range(2 * FLOOR_RUNS):
        samples.setdefault(("recv-write", "paced"), []).append(
            floor_run(d, "recv-write", chunk, java_buffer, rate, nbytes))


def floor_rows(rows, samples, produce, consume):
    """The floor's rows (median and range of its runs) and fjord's ratios to it (issue 13, goal 1).
    produce and consume are lists of (broker CPU, the client's kernel CPU) per GiB, the main run's
    first, then the plaintext run before the TLS rows. The goal is judged on both sides of the
    loopback connection: the broker plus the Java client's I/O thread's system time, against the
    floor's two processes with the Java client's socket buffer on the peer. The broker alone against
    the floor process alone (kernel-default buffers) is printed too, as in earlier tables."""
    def med(v):
        v = sorted(v)
        return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2

    alone, both = {}, {}
    for mode, what, peer, java_peer in (
            ("recv-write", "floor: recv -> write (loopback TCP into a file, 256 KiB reads)", "sender",
             "floor: recv -> write, sender with 128 KiB SO_SNDBUF, both"),
            ("sendfile", "floor: sendfile (page-cached file -> loopback socket, 1 MiB calls)", "receiver",
             "floor: sendfile, receiver with 64 KiB SO_RCVBUF, both")):
        runs = samples[(mode, 0)]
        v = sorted(own for own, _ in runs)
        alone[mode] = med(v)
        rows.append((what, f"{alone[mode]:.2f} CPU-s/GiB (median of {len(v)} runs of {FLOOR_BYTES / 2**30:.1f} GiB, "
                           f"half before the produce, half after the consume; range {v[0]:.2f}-{v[-1]:.2f}; "
                           f"its {peer}: {med([p for _, p in runs]):.2f}; kernel-default socket buffers)"))
        runs = samples[(mode, FLOOR_MODES[mode][1])]
        v = sorted(own + p for own, p in runs)
        both[mode] = med(v)
        rows.append((java_peer, f"{both[mode]:.2f} CPU-s/GiB (the {peer} set as the Java client does; median of "
                                f"{len(v)} runs, range {v[0]:.2f}-{v[-1]:.2f}; {mode} process "
                                f"{med([o for o, _ in runs]):.2f} + its {peer} {med([p for _, p in runs]):.2f})"))
    runs = samples.get(("recv-write", "paced"), [])
    if runs:
        v = sorted(own + p for own, p in runs)
        both["paced"] = med(v)
        rows.append((f"floor: recv -> write paced to the producer's {samples[('recv-write', 'paced rate')]} MiB/s, "
                     "sender with 128 KiB SO_SNDBUF, both",
                     f"{both['paced']:.2f} CPU-s/GiB (median of {len(v)} runs right after the produce, as many "
                     f"bytes, range {v[0]:.2f}-{v[-1]:.2f}; recv-write process {med([o for o, _ in runs]):.2f} "
                     f"+ its sender {med([p for _, p in runs]):.2f})"))
    for name, cpus, mode, client, goal in (
            ("produce", produce, "recv-write", "producer's network thread", "paced" not in both),
            ("consume", consume, "sendfile", "consumer's polling thread", True),
            ("produce", produce, "paced", "producer's network thread", True)):
        if mode not in both:
            continue
        base = both[mode]
        ratio = sum(cpus[0]) / base
        again = "".join(f"; the plaintext run before TLS: ({b:.2f} + {c:.2f}) / {base:.2f} = {(b + c) / base:.2f}x"
                        for b, c in cpus[1:])
        verdict = (f"goal <= {FLOOR_GOAL}x: {'met' if ratio <= FLOOR_GOAL else 'not met'}" if goal
                   else "the floor unpaced; the goal is judged on the paced floor")
        floor_name = "floor paced to the producer's rate" if mode == "paced" else "floor"
        rows.append((f"fjord {name} + client kernel CPU / {floor_name}, both",
                     f"(broker {cpus[0][0]:.2f} + {client} system {cpus[0][1]:.2f}) / {base:.2f} = {ratio:.2f}x "
                     f"({verdict}{again})"))
        if mode not in alone:
            continue
        base = alone[mode]
        again = "".join(f"; the plaintext run before TLS: {b / base:.2f}x" for b, _ in cpus[1:])
        rows.append((f"fjord {name} CPU / {mode} floor process (as before)",
                     f"{cpus[0][0]:.2f} / {base:.2f} = {cpus[0][0] / base:.2f}x{again}"))


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.05)


def tls_setup(work):
    """An SSL listener's broker arguments and the Java clients' settings file for it: a CA and
    a broker certificate made by compat-tests/certs.py (openssl CLI)."""
    sys.path.insert(0, str(ROOT / "compat-tests"))
    from certs import make_pki
    pki = make_pki(work / "pki")
    ssl_port = free_port()
    client = work / "tls-client.properties"
    client.write_text("".join(f"{k}={v}\n" for k, v in pki.java().items()))
    extra = [a for k, v in pki.broker_keys().items() for a in ("--override", f"{k}={v}")]
    return ssl_port, extra, f"-Dclient.config={client}"


def java(classes, *args, props=(), must=True):
    """Runs a Bench.java mode and returns its RESULT line's fields; if it fails, exits, or
    (must=False) prints its output and returns None."""
    cmd = ["java", "-Xms512m", "-Xmx2g", *props, "-cp", f"{classes}:{JARS}/*", "Bench", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    results = [l for l in r.stdout.splitlines() if l.startswith("RESULT")]
    if r.returncode != 0 or not results:
        failure = f"Bench {args[0]} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        if must:
            sys.exit(failure)
        print(failure)
        return None
    for l in r.stdout.splitlines():
        if l.startswith("first error"):
            print(l)
    return dict(kv.split("=", 1) for kv in results[-1].split()[1:])


def share_rows(rows, classes, pid, bs, produced, classic_rec_s, classic_cpu_gib):
    """Share groups (KIP-932): 1 and then 3 KafkaShareConsumers (implicit acknowledgement; threads
    of one JVM) in a new share group each, from earliest, read the `produced` records the bench
    produced on PARTITIONS partitions. Broker CPU is counted over the whole Java run, as for the
    classic consume. A row is valid only if the consumers were delivered every produced offset
    exactly once and the broker confirmed exactly `produced` accepted; otherwise an error row is
    printed."""
    props = (*CONSUMER_JVM, *((f"-Dshare.max.poll.records={SHARE_MAX_POLL}",) if SHARE_MAX_POLL else ()),
             *((f"-Dshare.fetch.max.bytes={SHARE_FETCH_MAX_BYTES}",) if SHARE_FETCH_MAX_BYTES else ()))
    poll = (f"max.poll.records {SHARE_MAX_POLL or '500 (default)'}, "
            f"fetch.max.bytes {SHARE_FETCH_MAX_BYTES or '52428800 (default)'}")
    for n in (1, 3):
        name = f"share consume, {n} KafkaShareConsumer{'s' if n > 1 else ''} in one share group (implicit acks)"
        c0 = cpu_split(pid)
        r = java(classes, "share", bs, "bench", f"bench-share-{n}", n, produced, props=props, must=False)
        c1 = cpu_split(pid)
        if r is None:
            rows.append((name, "ERROR: the Java run failed (its output is printed above)"))
            continue
        counts = (f"{int(r['accepted']):,} accepted of {produced:,} produced; delivered {int(r['delivered']):,}, "
                  f"distinct {int(r['distinct']):,}, duplicates {r['duplicates']}, deliveryCount > 1: {r['redelivered']}, "
                  f"acknowledgements failed {r['ack_failed']}")
        if r["ok"] != "1":
            rows.append((name, f"ERROR: not every produced record accepted exactly once ({counts})"))
            continue
        sgib = max(int(r["bytes"]) / 2**30, 1e-9)
        used = [b - a for a, b in zip(c0, c1)]
        rows.append((name, f"{float(r['rec_s']):,.0f} rec/s, {r['mib_s']} MiB/s ({r['seconds']} s from the first record "
                           f"to the last; subscribe -> first record {r['first_record_ms']} ms; {counts}; per consumer "
                           f"{r['per_consumer']}; {poll}; classic consumer {classic_rec_s:,.0f} rec/s)"))
        rows.append((f"broker CPU per GiB share-consumed, {n} consumer{'s' if n > 1 else ''}",
                     f"{sum(used) / sgib:.2f} CPU-s/GiB, user {used[0] / sgib:.2f} system {used[1] / sgib:.2f} "
                     f"(classic consumer: {classic_cpu_gib:.2f})"))


def cluster_main(work, classes, rows):
    """The 3-node run: RF=3, min.insync.replicas=2, acks=all; each node's CPU, the cluster's."""
    base = free_port()
    while any(not port_free(base + d) for d in (0, 1, 2, 1000, 1001, 1002)):
        base = free_port()
    log = open(work / "dev-cluster.out", "wb")
    t0 = time.perf_counter()
    dc = subprocess.Popen([str(FJORD), "dev-cluster", "--nodes", "3", "--dir", str(work / "cluster"),
                           "--base-port", str(base)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                          env=dict(os.environ, NO_COLOR="1"))
    try:
        bs = ",".join(f"127.0.0.1:{base + d}" for d in range(3))
        pids = []
        while len(pids) < 3 or not all(accepts(base + d) for d in range(3)):
            if dc.poll() is not None or time.perf_counter() - t0 > 30:
                sys.exit("the dev cluster did not start; see " + str(work / "dev-cluster.out"))
            pids = [int(f.read_text()) for f in sorted((work / "cluster").glob("node*.pid"))
                    if f.read_text().strip()]
            time.sleep(0.01)
        rows.append(("3 nodes: launch -> every node accepts", f"{(time.perf_counter() - t0) * 1000:.0f} ms"))
        time.sleep(1.0)
        rows.append(("3 nodes: idle RSS per node", ", ".join(f"{rss_kib(pid) / 1024:.1f}" for pid in pids) + " MiB"))
        props = ("-Drf=3", "-Dmin.isr=2")
        cpu0 = [cpu_seconds(pid) for pid in pids]
        prod = java(classes, "produce", bs, "bench", PARTITIONS * 3, RECORDS, SIZE, props=props)
        cpu1 = [cpu_seconds(pid) for pid in pids]
        gib = int(prod["bytes"]) / 2**30
        used = [b - a for a, b in zip(cpu0, cpu1)]
        rows.append((f"3 nodes: produce {RECORDS} x {SIZE} B, acks=all, RF=3, min.insync 2, {PARTITIONS * 3} partitions",
                     f"{float(prod['rec_s']):,.0f} rec/s, {prod['mib_s']} MiB/s ({prod['seconds']} s, errors {prod['errors']})"))
        rows.append(("3 nodes: producer send->ack latency (saturated)", f"p50 {prod['p50_ms']} ms, p99 {prod['p99_ms']} ms, "
                     f"max {prod['max_ms']} ms"))
        rows.append(("3 nodes: broker CPU per GiB produced (all nodes; per replica copy)",
                     f"{sum(used) / gib:.2f} CPU-s/GiB; {sum(used) / gib / 3:.2f} per replicated GiB "
                     f"(nodes: {', '.join(f'{u / gib:.2f}' for u in used)})"))
        lat = java(classes, "produce-rate", bs, "bench-latency", RATE * 5, SIZE, RATE, props=props)
        rows.append((f"3 nodes: send->ack latency at {RATE} rec/s, acks=all RF=3, linger 0",
                     f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, p99.9 {lat['p999_ms']} ms, "
                     f"max {lat['max_ms']} ms (errors {lat['errors']})"))
        idle0 = [cpu_seconds(pid) for pid in pids]
        time.sleep(10)
        idle1 = [cpu_seconds(pid) for pid in pids]
        rows.append(("3 nodes: idle CPU (followers' long polls, heartbeats)",
                     f"{sum(b - a for a, b in zip(idle0, idle1)) / 10 * 100:.2f} % of a core for the 3 nodes"))
        cpu2 = [cpu_seconds(pid) for pid in pids]
        cons = java(classes, "consume", bs, "bench", PARTITIONS * 3, RECORDS)
        cpu3 = [cpu_seconds(pid) for pid in pids]
        rows.append(("3 nodes: consume from the leaders",
                     f"{float(cons['rec_s']):,.0f} rec/s, {cons['mib_s']} MiB/s; "
                     f"{sum(b - a for a, b in zip(cpu2, cpu3)) / max(int(cons['bytes']) / 2**30, 1e-9):.2f} CPU-s/GiB"))
    finally:
        dc.send_signal(signal.SIGINT)
        try:
            dc.wait(20)
        except subprocess.TimeoutExpired:
            dc.kill()
            dc.wait()
        log.close()


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main():
    work = Path(tempfile.mkdtemp(prefix="fjord-bench-"))
    classes = work / "classes"
    subprocess.run(["javac", "-nowarn", "-d", str(classes), "-cp", f"{JARS}/*",
                    str(ROOT / "scripts/bench/Bench.java")], check=True)
    stderr = open(work / "fjord.stderr", "wb")
    rows = []
    if "--scale" in sys.argv[1:] or any(a.startswith("--scale=") for a in sys.argv[1:]):
        import scale
        try:
            scale.main(work, classes, sys.argv[1:])
        finally:
            stderr.close()
            shutil.rmtree(work, ignore_errors=True)
        return
    if "--cluster" in sys.argv[1:]:
        try:
            cluster_main(work, classes, rows)
        finally:
            stderr.close()
            shutil.rmtree(work, ignore_errors=True)
        print_rows(rows)
        return
    try:
        # startup: exec -> first accepted connection, fresh dir each time
        times, selfreported = [], []
        for i in range(STARTUP_RUNS):
            with open(work / f"startup{i}.stderr", "wb") as err:
                p, ms = start(free_port(), work / f"startup{i}", err)
            times.append(ms)
            stop(p)
            m = re.search(r"started in ([0-9.]+) ms", (work / f"startup{i}.stderr").read_text(errors="replace"))
            if m:
                selfreported.append(float(m.group(1)))
        rows.append(("startup: exec -> port accepts", f"min {min(times):.1f} ms, median {sorted(times)[len(times)//2]:.1f} ms "
                     f"over {len(times)} runs"))
        if selfreported:
            rows.append(("startup: broker's own 'started in' log", f"median {sorted(selfreported)[len(selfreported)//2]:.1f} ms"))

        # The floor, measured in this run: before the broker takes any load and again after the
        # consume (this machine is shared; its cost per byte drifts with what else runs).
        floors = {}
        floor(work, floors)

        port = free_port()
        tls_extra = []
        if TLS:
            ssl_port, tls_extra, tls_props = tls_setup(work)
            tls_extra = ["--override", f"listeners=PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port}",
                         *tls_extra]
        p, _ = start(port, work / "data", stderr, tls_extra)
        bs = f"127.0.0.1:{port}"
        time.sleep(1.0)
        rows.append(("idle RSS", f"{rss_kib(p.pid) / 1024:.1f} MiB"))

        sampler = RssSampler(p.pid)
        sampler.start()
        u0, s0 = cpu_split(p.pid)
        cpu0 = u0 + s0
        prod = java(classes, "produce", bs, "bench", PARTITIONS, RECORDS, SIZE)
        u1, s1 = cpu_split(p.pid)
        cpu1 = u1 + s1
        gib = int(prod["bytes"]) / 2**30
        rows.append((f"produce {RECORDS} x {SIZE} B, acks=all, {PARTITIONS} partitions",
                     f"{float(prod['rec_s']):,.0f} rec/s, {prod['mib_s']} MiB/s ({prod['seconds']} s, errors {prod['errors']})"))
        rows.append(("producer send->ack latency (saturated)", f"p50 {prod['p50_ms']} ms, p99 {prod['p99_ms']} ms, "
                     f"p99.9 {prod['p999_ms']} ms, max {prod['max_ms']} ms"))
        produce_cpu_gib = ((cpu1 - cpu0) / gib, float(prod["client_sys_s"]) / gib)
        rows.append(("broker CPU per GiB produced", f"{(cpu1 - cpu0) / gib:.2f} CPU-s/GiB "
                     f"({cpu1 - cpu0:.2f} s for {gib:.2f} GiB: user {(u1 - u0) / gib:.2f}, "
                     f"system {(s1 - s0) / gib:.2f} per GiB)"))
        rows.append(("Java producer's system CPU per GiB", f"{produce_cpu_gib[1]:.2f} CPU-s/GiB in its network thread "
                     f"(the whole JVM: {float(prod['client_process_sys_s']) / gib:.2f})"))
        paced_floor(work, floors, float(prod["mib_s"]), int(prod["bytes"]))
        rows.append(("kernel baseline: dd 1 GiB into the page cache", f"{dd_baseline(work):.2f} system CPU-s "
                     "(the floor any writer pays here)"))

        lat = java(classes, "produce-rate", bs, "bench-latency", RATE * 5, SIZE, RATE)
        rows.append((f"producer send->ack latency at {RATE} rec/s, linger 0 (after 1 s warm-up)", f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
                     f"p99.9 {lat['p999_ms']} ms, max {lat['max_ms']} ms (errors {lat['errors']})"))

        cpu2 = cpu_seconds(p.pid)
        cons = java(classes, "consume", bs, "bench", PARTITIONS, RECORDS, props=CONSUMER_JVM)
        cpu3 = cpu_seconds(p.pid)
        rows.append(("consume (assign, from beginning)",
                     f"{float(cons['rec_s']):,.0f} rec/s, {cons['mib_s']} MiB/s ({cons['records']} records, {cons['seconds']} s)"))
        cgib = max(int(cons['bytes']) / 2**30, 1e-9)
        consume_cpu_gib = ((cpu3 - cpu2) / cgib, float(cons["client_sys_s"]) / cgib)
        rows.append(("broker CPU per GiB consumed", f"{consume_cpu_gib[0]:.2f} CPU-s/GiB"))
        rows.append(("Java consumer's system CPU per GiB", f"{consume_cpu_gib[1]:.2f} CPU-s/GiB in its polling thread "
                     f"(the whole JVM: {float(cons['client_process_sys_s']) / cgib:.2f})"))
        if SHARE:
            share_rows(rows, classes, p.pid, bs, RECORDS - int(prod["errors"]), float(cons["rec_s"]),
                       consume_cpu_gib[0])
        floor(work, floors)
        produce_cpu_gib, consume_cpu_gib = [produce_cpu_gib], [consume_cpu_gib]
        if TLS:
            # The same produce and consume over PLAINTEXT and then over the SSL listener (TLS 1.3,
            # the Java client's cipher choice), back to back on fresh topics, so that the two
            # differ in nothing but TLS.
            pair = {}
            for name, pbs, pprops in (("plain", bs, ()), ("tls", f"127.0.0.1:{ssl_port}", (tls_props,))):
                c0 = cpu_split(p.pid)
                pprod = java(classes, "produce", pbs, f"bench-{name}", PARTITIONS, RECORDS, SIZE, props=pprops)
                c1 = cpu_split(p.pid)
                pcons = java(classes, "consume", pbs, f"bench-{name}", PARTITIONS, RECORDS,
                             props=(*pprops, *CONSUMER_JVM))
                c2 = cpu_split(p.pid)
                pgib = int(pprod["bytes"]) / 2**30
                cgib = max(int(pcons["bytes"]) / 2**30, 1e-9)
                pair[name] = (pprod, pcons, [(c1[i] - c0[i]) / pgib for i in (0, 1)],
                              [(c2[i] - c1[i]) / cgib for i in (0, 1)])
            (tprod, tcons, tpc, tcc), (pprod, pcons, ppc, pcc) = pair["tls"], pair["plain"]
            rows.append((f"TLS: produce {RECORDS} x {SIZE} B, acks=all, over SSL",
                         f"{float(tprod['rec_s']):,.0f} rec/s, {tprod['mib_s']} MiB/s (plaintext just before: "
                         f"{float(pprod['rec_s']):,.0f} rec/s, {pprod['mib_s']} MiB/s; errors {tprod['errors']})"))
            rows.append(("TLS: broker CPU per GiB produced",
                         f"{sum(tpc):.2f} CPU-s/GiB, user {tpc[0]:.2f} system {tpc[1]:.2f} (plaintext just before: "
                         f"{sum(ppc):.2f}, user {ppc[0]:.2f} system {ppc[1]:.2f})"))
            rows.append(("TLS: consume (assign, from beginning) over SSL",
                         f"{float(tcons['rec_s']):,.0f} rec/s, {tcons['mib_s']} MiB/s (plaintext just before: "
                         f"{float(pcons['rec_s']):,.0f} rec/s, {pcons['mib_s']} MiB/s)"))
            rows.append(("TLS: broker CPU per GiB consumed",
                         f"{sum(tcc):.2f} CPU-s/GiB, user {tcc[0]:.2f} system {tcc[1]:.2f} (plaintext just before: "
                         f"{sum(pcc):.2f}, user {pcc[0]:.2f} system {pcc[1]:.2f})"))
            produce_cpu_gib.append((sum(ppc), float(pprod["client_sys_s"]) / (int(pprod["bytes"]) / 2**30)))
            consume_cpu_gib.append((sum(pcc), float(pcons["client_sys_s"]) / max(int(pcons["bytes"]) / 2**30, 1e-9)))
        floor_rows(rows, floors, produce_cpu_gib, consume_cpu_gib)
        # An old (message format v1) consumer: every batch is down-converted by the broker.
        cpu4 = cpu_seconds(p.pid)
        old = old_consumer(bs, "bench", PARTITIONS, OLD_RECORDS)
        cpu5 = cpu_seconds(p.pid)
        rows.append((f"consume with kafka-python api_version=(0,10) ({OLD_RECORDS} records, down-converted)",
                     f"{old['rec_s']:,.0f} rec/s, {old['mib_s']:.1f} MiB/s ({old['seconds']:.2f} s; "
                     f"the client decoding in Python is the bottleneck)"))
        rows.append(("broker CPU per GiB down-converted (v2 -> v1 messages)",
                     f"{(cpu5 - cpu4) / max(old['bytes'] / 2**30, 1e-9):.2f} CPU-s/GiB"))
        sampler.running = False
        sampler.join()
        rows.append(("peak RSS under load", f"{sampler.peak / 1024:.1f} MiB"))

        p50, p99, after_ack = raw_long_poll_latency(port)
        rows.append(("long-poll wake-up, raw protocol client (produce sent -> parked fetch answered)",
                     f"p50 {p50:.3f} ms, p99 {p99:.3f} ms; {after_ack:.3f} ms after the produce ack (p50)"))
        e2e = java(classes, "e2e", bs, "bench-e2e", E2E_ROUNDS)
        rows.append((f"end-to-end via long poll ({E2E_ROUNDS} single records, after warm-up)",
                     f"p50 {e2e['p50_ms']} ms, p99 {e2e['p99_ms']} ms, max {e2e['max_ms']} ms"))
        first = java(classes, "group-first", bs, "bench-group-first", GROUP_FIRST_RUNS)
        rows.append((f"lone group consumer: subscribe -> first record (Java, {GROUP_FIRST_RUNS} new groups)",
                     f"first (cold JVM) {first['cold_ms']} ms; then p50 {first['warm_p50_ms']} ms, "
                     f"max {first['warm_max_ms']} ms (includes the Java client's {JAVA_JOIN_WINDOW_MS} ms first-join window)"))
        rows.append(("RSS after load", f"{rss_kib(p.pid) / 1024:.1f} MiB"))
        stop(p)
    finally:
        stderr.close()
        shutil.rmtree(work, ignore_errors=True)

    print_rows(rows)


def print_rows(rows):
    w = max(len(k) for k, _ in rows)
    print()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"fjord benchmark ({os.cpu_count()} cores, {os.uname().release}; load average now {load})")
    print("-" * (w + 60))
    for k, v in rows:
        print(f"{k.ljust(w)}  {v}")
    print("-" * (w + 60))


if __name__ == "__main__":
    main()
