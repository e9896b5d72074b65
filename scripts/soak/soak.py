"""Drives scripts/soak.sh: one release fjord under a mixed, steady load for N minutes.

Load (threads of this process; librdkafka does its network I/O in its own threads):
  * two confluent-kafka idempotent producers (acks=all) and one kafka-python idempotent producer
    (acks=all) write numbered records "<producer>|<seq>|..." to soak-a (3 partitions) and soak-b
    (2 partitions); every producer is closed and replaced by a new one (a new name, so a new
    numbering) every SOAK_RECYCLE_S seconds. The records whose delivery report said success are
    the *acknowledged* ones, kept as one bit per (producer, topic, seq);
  * two consumer groups on soak-a and soak-b: soak-classic (classic protocol, confluent-kafka and
    kafka-python members) and soak-848 (confluent-kafka, group.protocol=consumer); members join
    and leave every 15-30 s (each change is a rebalance) and commit offsets;
  * a transactional confluent-kafka producer on soak-txn committing and aborting transactions
    alternately, each also committing an offset for group soak-txn-offsets
    (send_offsets_to_transaction), and a read_committed consumer that fails the run the moment it
    sees a record of an aborted transaction;
  * soak-compact (cleanup.policy=compact, 1 MiB segments) overwritten over 200 keys with some
    tombstones, and soak-retention (retention.bytes 2 MiB, 1 MiB segments);
  * topic churn: create soak-churn-<n>, produce to it with a new idempotent producer, read the
    records back with a new consumer, delete it, wait until Metadata no longer lists it; repeat;
  * a sampler: VmRSS / RssAnon (/proc/<pid>/status), descriptors (/proc/<pid>/fd, classified:
    sockets, live segment files, deleted files, other), CPU % (utime+stime of /proc/<pid>/stat)
    every SOAK_SAMPLE_S seconds into soak.csv.

Then the load stops and the checks run: group offsets reach the log end, every acknowledged record
is read back (none lost, no duplicates), read_committed shows every committed transaction and
nothing of an aborted one, soak-compact keeps the newest acknowledged value of every key and has
shrunk, soak-retention has dropped its head; fjord must still run, stop cleanly on SIGTERM and
never have logged a panic; and RSS and descriptors must not keep growing (`growth`). soak.csv,
soak.png (matplotlib), summary.json and fjord.stderr are left in the output directory (and data/
on failure). `soak.py --replot DIR [PNG]` judges and plots DIR/soak.csv again. The criteria are
described in docs/reliability.md.
"""
import collections
import csv
import ctypes
import json
import os
import random
import re
import signal
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from confluent_kafka import (OFFSET_BEGINNING, Consumer, ConsumerGroupTopicPartitions, KafkaError,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
FJORD = Path(os.environ.get("FJORD_BIN", ROOT / "target/release/fjord"))
SAMPLE_S = float(os.environ.get("SOAK_SAMPLE_S", 5))
RATE = int(os.environ.get("SOAK_RATE", 200))              # records/s of each confluent-kafka producer
KP_RATE = int(os.environ.get("SOAK_KP_RATE", 100))        # records/s of the kafka-python producer
COMPACT_RATE = int(os.environ.get("SOAK_COMPACT_RATE", 50))  # records/s to soak-compact (and soak-retention)
RECYCLE_S = float(os.environ.get("SOAK_RECYCLE_S", 180))  # lifetime of one producer
TXN_RECORDS = 10                                          # records per transaction
COMPACT_KEYS = 200
TICKS = os.sysconf("SC_CLK_TCK")
PAD = b"." * 200
PAD_1K = b"c" * 1000

VERIFIED = {"soak-a": 3, "soak-b": 2}                     # topic -> partitions; every acked record checked
# Topics that keep all their data (no retention): their segment count grows by design, so the
# descriptors of their segment files are left out of the descriptor-growth criterion.
GROWING = ("soak-a", "soak-b", "soak-txn")
GROUPS = {  # group -> (min members, max members, member kinds, group.protocol)
    "soak-classic": (1, 3, ("ck", "kp"), "classic"),
    "soak-848": (1, 2, ("ck",), "consumer"),
}
BROKER_OVERRIDES = {
    "log.retention.check.interval.ms": "1000",  # retention and the cleaner every second
    "auto.create.topics.enable": "false",       # a client's metadata refresh must not revive a deleted churn topic
    "group.initial.rebalance.delay.ms": "0",
    "group.consumer.heartbeat.interval.ms": "1000",
}

# Growth criteria (see verdict): the mean of the last quarter of the load phase against the mean
# of its second quarter (the first quarter is the warm-up).
RSS_GROWTH_FACTOR = 1.20
RSS_GROWTH_SLACK_MIB = 8.0
FD_GROWTH_FACTOR = 1.10
FD_GROWTH_SLACK = 8


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """preexec_fn of fjord: SIGTERM it if this driver dies without stopping it (kill -9)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgrp()  # and not in the terminal's process group: Ctrl-C reaches the driver, which stops fjord


class Broker:
    def __init__(self, work):
        self.port = free_port()
        self.data = work / "data"
        self.stderr_path = work / "fjord.stderr"
        self.proc = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        args = [str(FJORD), "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "--override", f"log.dirs={self.data}"]
        for k, v in BROKER_OVERRIDES.items():
            args += ["--override", f"{k}={v}"]
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=dict(os.environ, NO_COLOR="1"), preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"fjord exited with {self.proc.returncode} during startup; see {self.stderr_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"fjord did not accept connections within 15 s; see {self.stderr_path}")
                time.sleep(0.01)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL after 20 s; returns the exit code (None if it never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stderr_lines(self):
        try:
            return self.stderr_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []


class Soak:
    """State shared by the load threads: counters, failures, the acknowledged-record ledger."""

    def __init__(self, broker):
        self.broker = broker
        self.bs = broker.bootstrap
        self.stop = threading.Event()      # the load generators stop
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.failures = []                 # each one fails the run
        self.errors = collections.defaultdict(list)  # kind -> first few messages (informational)
        self.acked = {}                    # (producer name, topic) -> bytearray, 1 per acked seq
        self.txn = {"committed": set(), "aborted": set(), "unknown": set(), "offsets": {}}
        self.compact_last = {}             # key -> (seq, tombstone) of the newest acked record
        self.threads = []

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def fail(self, msg):
        with self.lock:
            self.failures.append(msg)
        log("FAILURE: " + msg)

    def error(self, kind, msg):
        """A client-side error that is not by itself a failure (retried, or shows up as a missing ack)."""
        with self.lock:
            self.counts["error:" + kind] += 1
            if len(self.errors[kind]) < 5:
                self.errors[kind].append(str(msg))

    def ack(self, name, topic, seq):
        with self.lock:
            b = self.acked.get((name, topic))
            if b is None:
                b = self.acked[(name, topic)] = bytearray()
            if seq >= len(b):
                b.extend(bytes(seq + 1 - len(b) + 4096))
            b[seq] = 1
            self.counts["acked"] += 1

    def spawn(self, name, fn, *args):
        def run():
            try:
                fn(self, *args)
            except Exception:  # noqa: BLE001 - a crashed load thread is a failure of the run
                self.fail(f"thread {name} crashed:\n{traceback.format_exc()}")
        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        self.threads.append(t)
        return t


def pace(start, sent, rate):
    """Sleep so that `sent` records since `start` match `rate` per second (load pacing only)."""
    ahead = sent / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(min(ahead, 0.2))


# --- producers -------------------------------------------------------------------------------

def ck_producer(s, base):
    """confluent-kafka, idempotent, acks=all; a new producer (and name) every ~RECYCLE_S."""
    inc = 0
    topics = list(VERIFIED)
    while not s.stop.is_set():
        name = f"{base}.{inc}"
        p = Producer({"bootstrap.servers": s.bs, "enable.idempotence": True, "acks": "all",
                      "linger.ms": 10, "client.id": name})
        seqs = dict.fromkeys(topics, 0)
        t0, sent = time.monotonic(), 0
        until = t0 + RECYCLE_S * random.uniform(0.75, 1.25)
        while not s.stop.is_set() and time.monotonic() < until:
            for _ in range(max(1, RATE // 20)):
                topic = random.choice(topics)
                seq = seqs[topic]
                seqs[topic] += 1

                def on_delivery(err, msg, topic=topic, seq=seq):
                    if err is None:
                        s.ack(name, topic, seq)
                    else:
                        s.error("delivery", f"{name} {topic} #{seq}: {err}")
                while True:
                    try:
                        p.produce(topic, value=b"%s|%d|" % (name.encode(), seq) + PAD,
                                  key=b"%d" % seq, on_delivery=on_delivery)
                        break
                    except BufferError:
                        p.poll(0.1)
                sent += 1
                s.count("sent")
            p.poll(0)
            pace(t0, sent, RATE)
        left = p.flush(60)
        if left:
            s.error("flush", f"{name}: {left} records without a delivery report after 60 s")
        s.count("producers")
        inc += 1


def kp_producer(s, base):
    """kafka-python, idempotent, acks=all; a new producer (and name) every ~RECYCLE_S."""
    from kafka import KafkaProducer
    inc = 0
    topics = list(VERIFIED)
    while not s.stop.is_set():
        name = f"{base}.{inc}"
        p = KafkaProducer(bootstrap_servers=s.bs, acks="all", enable_idempotence=True, linger_ms=10,
                          client_id=name)
        seqs = dict.fromkeys(topics, 0)
        t0, sent = time.monotonic(), 0
        until = t0 + RECYCLE_S * random.uniform(0.75, 1.25)
        while not s.stop.is_set() and time.monotonic() < until:
            for _ in range(max(1, KP_RATE // 20)):
                topic = random.choice(topics)
                seq = seqs[topic]
                seqs[topic] += 1
                fut = p.send(topic, value=b"%s|%d|" % (name.encode(), seq) + PAD, key=b"%d" % seq)
                fut.add_callback(lambda _md, name=name, topic=topic, seq=seq: s.ack(name, topic, seq))
                fut.add_errback(lambda e, name=name, topic=topic, seq=seq:
                                s.error("delivery", f"{name} {topic} #{seq}: {e!r}"))
                sent += 1
                s.count("sent")
            pace(t0, sent, KP_RATE)
        p.flush(60)
        p.close(30)
        s.count("producers")
        inc += 1


def compact_producer(s):
    """soak-compact: COMPACT_KEYS keys overwritten (1 in 20 a tombstone); soak-retention: 1 KiB records."""
    p = Producer({"bootstrap.servers": s.bs, "enable.idempotence": True, "acks": "all", "linger.ms": 10,
                  "client.id": "compact"})
    t0, seq = time.monotonic(), 0
    while not s.stop.is_set():
        for _ in range(max(1, COMPACT_RATE // 20)):
            key = b"k%d" % random.randrange(COMPACT_KEYS)
            tomb = random.random() < 0.05
            value = None if tomb else b"C|%d|" % seq + PAD_1K

            def on_delivery(err, msg, key=key, seq=seq, tomb=tomb):
                if err is None:
                    with s.lock:
                        s.counts["compact_acked"] += 1
                        if s.compact_last.get(key, (-1, False))[0] < seq:
                            s.compact_last[key] = (seq, tomb)
                else:
                    s.error("delivery", f"soak-compact #{seq}: {err}")

            def on_retention(err, msg):
                if err is None:
                    s.count("retention_acked")
                else:
                    s.error("delivery", f"soak-retention: {err}")
            while True:
                try:
                    p.produce("soak-compact", value=value, key=key, on_delivery=on_delivery)
                    p.produce("soak-retention", value=PAD_1K, key=key, on_delivery=on_retention)
                    break
                except BufferError:
                    p.poll(0.1)
            seq += 1
        p.poll(0)
        pace(t0, seq, COMPACT_RATE)
    left = p.flush(60)
    if left:
        s.error("flush", f"compact: {left} records without a delivery report after 60 s")


# --- transactions ------------------------------------------------------------------------------

def txn_producer(s):
    """Transactions n = 0, 1, 2, ...: even ones commit, odd ones abort. Each writes TXN_RECORDS records
    "T|n|i" to soak-txn and offset n+1 of soak-txn/0 for group soak-txn-offsets."""
    meta_consumer = Consumer({"bootstrap.servers": s.bs, "group.id": "soak-txn-offsets",
                              "enable.auto.commit": False})
    group_md = meta_consumer.consumer_group_metadata()

    def new_producer():
        p = Producer({"bootstrap.servers": s.bs, "transactional.id": "soak-txn", "linger.ms": 5,
                      "transaction.timeout.ms": 30000, "client.id": "txn"})
        p.init_transactions(60)
        return p

    def finish(p, commit):
        """commit_transaction / abort_transaction, retried while the error says so: True if done."""
        for _ in range(5):
            try:
                (p.commit_transaction if commit else p.abort_transaction)(30)
                return True
            except KafkaException as e:
                err = e.args[0]
                s.error("txn", f"{'commit' if commit else 'abort'}: {err}")
                if err.retriable():
                    continue
                if commit and err.txn_requires_abort():
                    return None  # caller aborts
                return False
        return False

    p = new_producer()
    n = 0
    while not s.stop.is_set():
        commit = n % 2 == 0
        try:
            p.begin_transaction()
            for i in range(TXN_RECORDS):
                p.produce("soak-txn", value=b"T|%d|%d" % (n, i), key=b"%d" % i,
                          on_delivery=lambda err, msg, commit=commit: err is None and not commit
                          and s.count("txn_aborted_records_acked"))
            p.send_offsets_to_transaction([TopicPartition("soak-txn", 0, n + 1)], group_md, 30)
            # The records are in the log before the transaction ends (abort_transaction would
            # otherwise drop records still queued in the client, and test nothing).
            if p.flush(30):
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "txn records not delivered in 30 s"))
            done = finish(p, commit)
        except KafkaException as e:
            err = e.args[0]
            s.error("txn", f"txn {n}: {err}")
            done = None if err.txn_requires_abort() else False
        if done is None:  # abortable error: abort it instead
            done = finish(p, False)
            commit = False
        with s.lock:
            if done:
                s.txn["committed" if commit else "aborted"].add(n)
                if commit:
                    s.txn["offsets"]["last_committed_offset"] = n + 1
            else:
                s.txn["unknown"].add(n)
        if not done:  # fatal or unknown state: a new producer fences the old one and carries on
            try:
                p = new_producer()
            except KafkaException as e:
                s.fail(f"transactional producer cannot be re-initialised: {e}")
                return
        n += 1
        time.sleep(0.25)  # pacing
    p.flush(30)
    meta_consumer.close()


def read_committed_checker(s, done):
    """Follows soak-txn at read_committed until `done` is set; a record of a transaction that was (or
    will be) aborted is a failure. Returns nothing; counts per transaction go to s.txn['seen']."""
    c = Consumer({"bootstrap.servers": s.bs, "group.id": "soak-rc-check", "enable.auto.commit": False,
                  "isolation.level": "read_committed", "client.id": "rc-check"})
    c.assign([TopicPartition("soak-txn", p, OFFSET_BEGINNING) for p in range(2)])
    seen = s.txn["seen"] = collections.Counter()
    while not done.is_set():
        for m in c.consume(500, 0.5):
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    s.error("rc-consume", m.error())
                continue
            _, n, _ = m.value().split(b"|")
            n = int(n)
            with s.lock:
                seen[n] += 1
                if n % 2 == 1 or n in s.txn["aborted"]:
                    s.counts["rc_aborted_seen"] += 1
                    if s.counts["rc_aborted_seen"] <= 5:
                        s.failures.append(f"read_committed consumer saw record {m.value()!r} of aborted "
                                          f"transaction {n} at soak-txn/{m.partition()}@{m.offset()}")
    c.close()


# --- consumer groups ---------------------------------------------------------------------------

class Member:
    """One group member in its own thread: joins on start, leaves (close) when told."""

    def __init__(self, s, group, kind, protocol, ident):
        self.s, self.group, self.kind, self.protocol = s, group, kind, protocol
        self.name = f"{group}-{kind}-{ident}"
        self.leave = threading.Event()
        self.thread = s.spawn(self.name, lambda _s: self.run())

    def run(self):
        s = self.s
        if self.kind == "ck":
            conf = {"bootstrap.servers": s.bs, "group.id": self.group, "auto.offset.reset": "earliest",
                    "enable.auto.commit": True, "auto.commit.interval.ms": 1000, "client.id": self.name}
            if self.protocol == "consumer":
                conf["group.protocol"] = "consumer"
            else:
                conf["session.timeout.ms"] = 10000
            c = Consumer(conf)
            c.subscribe(list(VERIFIED), on_assign=lambda _c, parts: s.count(f"assign:{self.group}"))
            while not self.leave.is_set():
                msgs = c.consume(500, 0.5)
                for m in msgs:
                    if m.error():
                        s.error("group-consume", f"{self.name}: {m.error()}")
                s.count(f"consumed:{self.group}", sum(1 for m in msgs if not m.error()))
            c.close()  # commits the consumed offsets (auto commit) and leaves the group
        else:
            from kafka import ConsumerRebalanceListener, KafkaConsumer

            class Listener(ConsumerRebalanceListener):
                def on_partitions_revoked(self, revoked):
                    pass

                def on_partitions_assigned(self, assigned):
                    s.count(f"assign:{self_group}")
            self_group = self.group
            c = KafkaConsumer(bootstrap_servers=s.bs, group_id=self.group, auto_offset_reset="earliest",
                              enable_auto_commit=True, auto_commit_interval_ms=1000, client_id=self.name,
                              session_timeout_ms=10000, heartbeat_interval_ms=2000)
            c.subscribe(list(VERIFIED), listener=Listener())
            while not self.leave.is_set():
                got = c.poll(timeout_ms=500, max_records=500)
                s.count(f"consumed:{self.group}", sum(len(v) for v in got.values()))
            c.close(autocommit=True)
        s.count(f"left:{self.group}")


def group_churn(s, members):
    """Members join and leave: one change every 15-30 s, keeping each group within its bounds."""
    ident = 0
    for g, (_lo, _hi, kinds, proto) in GROUPS.items():
        for kind in kinds:
            members[g].append(Member(s, g, kind, proto, ident))
            s.count(f"joined:{g}")
            ident += 1
    while not s.stop.wait(random.uniform(15, 30)):
        g = random.choice(list(GROUPS))
        lo, hi, kinds, proto = GROUPS[g]
        live = members[g]
        if len(live) < hi and (len(live) <= lo or random.random() < 0.5):
            live.append(Member(s, g, random.choice(kinds), proto, ident))
            s.count(f"joined:{g}")
            ident += 1
        else:
            m = live.pop(random.randrange(len(live)))
            m.leave.set()
            m.thread.join(60)
            if m.thread.is_alive():
                s.fail(f"group member {m.name} did not close within 60 s")


# --- topic churn -------------------------------------------------------------------------------

def topic_churn(s):
    admin = AdminClient({"bootstrap.servers": s.bs})
    n = 0
    while not s.stop.is_set():
        name = f"soak-churn-{n}"
        parts = 1 + n % 3
        admin.create_topics([NewTopic(name, num_partitions=parts, replication_factor=1,
                                      config={"segment.bytes": "1048576"})])[name].result(30)
        s.count("topics_created")
        p = Producer({"bootstrap.servers": s.bs, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                      "client.id": f"churn-{n}"})
        acked = []
        for i in range(20):
            p.produce(name, value=b"churn|%d" % i, key=b"%d" % i,
                      on_delivery=lambda err, msg: acked.append(msg.value()) if err is None else
                      s.error("churn-delivery", f"{name}: {err}"))
        p.flush(30)
        c = Consumer({"bootstrap.servers": s.bs, "group.id": "soak-churn-reader", "enable.auto.commit": False,
                      "client.id": f"churn-reader-{n}"})
        c.assign([TopicPartition(name, i, OFFSET_BEGINNING) for i in range(parts)])
        got = set()
        deadline = time.monotonic() + 30
        while not set(acked) <= got and time.monotonic() < deadline:
            for m in c.consume(100, 0.2):
                if not m.error():
                    got.add(m.value())
        c.close()
        if not set(acked) <= got:
            s.fail(f"{name}: {len(set(acked) - got)} of {len(acked)} acknowledged records not read back in 30 s")
        s.count("churn_records_acked", len(acked))
        admin.delete_topics([name])[name].result(30)
        deadline = time.monotonic() + 30
        while name in admin.list_topics(timeout=10).topics:
            if time.monotonic() > deadline:
                s.fail(f"{name} still listed 30 s after DeleteTopics succeeded")
                break
            time.sleep(0.05)
        s.count("topics_deleted")
        n += 1
        s.stop.wait(1.0)  # pacing


# --- sampler -----------------------------------------------------------------------------------

FIELDS = ["t_s", "phase", "rss_mib", "rss_anon_mib", "fds", "fds_bounded", "fds_sockets", "fds_segments",
          "fds_growing_segments", "fds_deleted", "fds_other", "segment_files", "compact_segments", "threads", "cpu_pct", "driver_cpu_pct", "data_mib", "compact_mib",
          "acked"]


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


DELETED_SEEN = collections.Counter()  # kinds of deleted files fjord held open (diagnostics)


GROWING_RE = re.compile(r"(%s)-\d+/" % "|".join(map(re.escape, GROWING)))


def fd_classes(pid, data_dir):
    """Descriptors of fjord by kind: sockets, live segment files (of which those of GROWING topics),
    files deleted from disk, other."""
    sockets = segments = growing = deleted = other = 0
    prefix = str(data_dir) + "/"
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            sockets += 1
        elif target.endswith(" (deleted)"):
            deleted += 1
            rel = target[len(prefix):] if target.startswith(prefix) else target
            DELETED_SEEN[re.sub(r"\d+", "N", rel.split(" (deleted)")[0])] += 1
        elif target.startswith(prefix) and target.endswith(".log"):
            segments += 1
            if GROWING_RE.match(target[len(prefix):]):
                growing += 1
        else:
            other += 1
    return sockets, segments, growing, deleted, other


def dir_stats(data_dir):
    """(total bytes, bytes of soak-compact-*, number of *.log segment files, those of soak-compact)."""
    total = compact = files = compact_files = 0
    for root, _dirs, names in os.walk(data_dir):
        in_compact = os.path.basename(root).startswith("soak-compact-")
        for n in names:
            try:
                size = os.path.getsize(os.path.join(root, n))
            except OSError:
                continue
            total += size
            if in_compact:
                compact += size
            if n.endswith(".log"):
                files += 1
                compact_files += in_compact
    return total, compact, files, compact_files


class Sampler(threading.Thread):
    def __init__(self, s, csv_path):
        super().__init__(name="sampler", daemon=True)
        self.s = s
        self.pid = s.broker.proc.pid
        self.data = s.broker.data
        self.rows = []
        self.phase = "load"
        self.t0 = time.monotonic()
        self.running = True
        self.f = open(csv_path, "w", newline="")
        self.w = csv.DictWriter(self.f, fieldnames=FIELDS)
        self.w.writeheader()

    def sample(self, prev):
        now = time.monotonic()
        ticks = cpu_ticks(self.pid)
        st = proc_status(self.pid)
        sockets, segments, growing, deleted, other = fd_classes(self.pid, self.data)
        total, compact, files, compact_files = dir_stats(self.data)
        own = sum(os.times()[:2])
        cpu = None if prev is None else (ticks - prev[1]) / TICKS / (now - prev[0]) * 100
        own_cpu = None if prev is None else (own - prev[2]) / (now - prev[0]) * 100
        row = {"t_s": round(now - self.t0, 1), "phase": self.phase,
               "rss_mib": round(int(st["VmRSS"][0]) / 1024, 2), "rss_anon_mib": round(int(st["RssAnon"][0]) / 1024, 2),
               "fds": sockets + segments + deleted + other, "fds_bounded": sockets + segments - growing + deleted + other,
               "fds_sockets": sockets, "fds_segments": segments, "fds_growing_segments": growing,
               "fds_deleted": deleted, "fds_other": other, "segment_files": files, "compact_segments": compact_files,
               "threads": int(st["Threads"][0]),
               "cpu_pct": "" if cpu is None else round(cpu, 1),
               "driver_cpu_pct": "" if own_cpu is None else round(own_cpu, 1), "data_mib": round(total / 2**20, 1),
               "compact_mib": round(compact / 2**20, 2), "acked": self.s.counts["acked"]}
        self.rows.append(row)
        self.w.writerow(row)
        self.f.flush()
        return now, ticks, own

    def run(self):
        prev = None
        while self.running:
            if not self.s.broker.alive():
                self.s.fail(f"fjord exited with code {self.s.broker.proc.returncode} during the soak")
                return
            try:
                prev = self.sample(prev)
            except (OSError, KeyError):
                if not self.s.broker.alive():
                    continue  # reported above on the next round
                raise
            deadline = prev[0] + SAMPLE_S
            while self.running and time.monotonic() < deadline:
                time.sleep(0.1)


# --- checks ------------------------------------------------------------------------------------

def read_all(bs, topic, partitions, isolation="read_uncommitted", timeout=600):
    """Every record of `topic` from the beginning up to its current end (a fresh assign()ed
    consumer, nothing committed). Yields messages; fails (AssertionError) past the deadline."""
    c = Consumer({"bootstrap.servers": bs, "group.id": "soak-verify", "enable.auto.commit": False,
                  "isolation.level": isolation, "enable.partition.eof": True, "fetch.max.bytes": 16 << 20})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        pending = set(range(partitions))
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic} did not reach the end of partitions {sorted(pending)} "
                                     f"within {timeout} s")
            for m in c.consume(1000, 0.5):
                err = m.error()
                if err is None:
                    yield m
                elif err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(m.partition())
                else:
                    raise AssertionError(f"reading {topic}: {err}")
    finally:
        c.close()


def watermarks(bs, topic, partitions):
    c = Consumer({"bootstrap.servers": bs, "group.id": "soak-verify"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(partitions)]
    finally:
        c.close()


def wait_until(cond, timeout, interval=0.2):
    """Poll cond() until it returns a truthy value or the deadline passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def committed_offsets(admin, group):
    res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(15)
    return {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions}


def check_groups(s, members, summary):
    """After the producers stopped: every group's committed offsets reach the end of soak-a and soak-b."""
    admin = AdminClient({"bootstrap.servers": s.bs})
    ends = {(t, p): hw for t, n in VERIFIED.items() for p, (_lo, hw) in enumerate(watermarks(s.bs, t, n))}
    for g in GROUPS:
        if not members[g]:
            s.fail(f"group {g} has no member left for the catch-up check")
            continue

        def caught_up():
            try:
                got = committed_offsets(admin, g)
            except KafkaException as e:  # e.g. the coordinator busy: asked again until the deadline
                s.error("offset-fetch", f"{g}: {e}")
                return False, {}
            return all(got.get(tp, -1) >= end for tp, end in ends.items()), got
        ok = wait_until(lambda: caught_up()[0], 120, 1.0)
        got = caught_up()[1]
        behind = {f"{t}/{p}": (got.get((t, p)), end) for (t, p), end in ends.items() if got.get((t, p), -1) < end}
        summary["groups"][g]["caught_up"] = bool(ok)
        if not ok:
            s.fail(f"group {g}: committed offsets did not reach the log end within 120 s: {behind}")


def verify_records(s, summary):
    """Every acknowledged record of soak-a / soak-b is in the log; duplicates counted."""
    found = {}
    total = unknown = 0
    for topic, parts in VERIFIED.items():
        for m in read_all(s.bs, topic, parts):
            total += 1
            name, seq, _ = m.value().split(b"|", 2)
            key = (name.decode(), topic)
            seq = int(seq)
            b = found.get(key)
            if b is None:
                b = found[key] = bytearray()
            if seq >= len(b):
                b.extend(bytes(seq + 1 - len(b) + 4096))
            if b[seq] < 255:
                b[seq] += 1
    acked = lost = dup = found_acked = 0
    lost_examples = []
    for key, a in s.acked.items():
        f = found.get(key, bytearray())
        for seq in range(len(a)):
            if not a[seq]:
                continue
            acked += 1
            c = f[seq] if seq < len(f) else 0
            if c == 0:
                lost += 1
                if len(lost_examples) < 10:
                    lost_examples.append(f"{key[0]} {key[1]} #{seq}")
            else:
                found_acked += 1
                dup += c - 1
    for key, f in found.items():
        a = s.acked.get(key, bytearray())
        unknown += sum(1 for seq in range(len(f)) if f[seq] and not (seq < len(a) and a[seq]))
    summary["records"] = {"sent": s.counts["sent"], "acknowledged": acked, "read_back": total,
                          "acknowledged_found": found_acked, "lost": lost, "duplicates": dup,
                          "found_without_ack": unknown, "producers": s.counts["producers"]}
    log(f"records: {acked} acknowledged, {found_acked} found, {lost} lost, {dup} duplicates, "
        f"{unknown} in the log without an ack ({total} read)")
    if lost:
        s.fail(f"{lost} acknowledged records are missing from soak-a/soak-b, e.g. {lost_examples}")
    if dup:
        s.fail(f"{dup} duplicate records in soak-a/soak-b (idempotent producers)")
    if acked == 0:
        s.fail("no record was acknowledged")


def verify_txns(s, summary, checker_done, checker):
    t = s.txn
    committed, aborted, unknown = t["committed"], t["aborted"], t["unknown"]
    seen = t.setdefault("seen", collections.Counter())

    def live_complete():
        with s.lock:
            return all(seen[n] >= TXN_RECORDS for n in committed)
    if not wait_until(live_complete, 60):
        with s.lock:
            short = sorted(n for n in committed if seen[n] < TXN_RECORDS)
        s.fail(f"the live read_committed consumer lacks records of {len(short)} committed transactions "
               f"after 60 s, e.g. {short[:10]}")
    checker_done.set()
    checker.join(30)
    # From scratch, at both isolation levels.
    rc = collections.Counter()
    for m in read_all(s.bs, "soak-txn", 2, "read_committed"):
        rc[int(m.value().split(b"|")[1])] += 1
    ru = collections.Counter()
    for m in read_all(s.bs, "soak-txn", 2, "read_uncommitted"):
        ru[int(m.value().split(b"|")[1])] += 1
    missing = [n for n in committed if rc[n] != TXN_RECORDS]
    leaked = [n for n in aborted if rc[n]]
    odd_unknown = [n for n in unknown if rc[n] not in (0, TXN_RECORDS)]
    if missing:
        s.fail(f"read_committed from the beginning: {len(missing)} committed transactions incomplete or "
               f"duplicated, e.g. {[(n, rc[n]) for n in sorted(missing)[:10]]}")
    if leaked:
        s.fail(f"read_committed from the beginning: records of {len(leaked)} aborted transactions, "
               f"e.g. {sorted(leaked)[:10]}")
    in_log = sum(ru[n] for n in aborted)
    if in_log < s.counts["txn_aborted_records_acked"]:
        s.fail(f"read_uncommitted from the beginning: {in_log} records of aborted transactions, but "
               f"{s.counts['txn_aborted_records_acked']} were acknowledged before their aborts")
    if odd_unknown:
        s.fail(f"transactions of unknown outcome partly visible: {sorted(odd_unknown)[:10]}")
    # TxnOffsetCommit: the group's offset is the one of the last committed transaction.
    admin = AdminClient({"bootstrap.servers": s.bs})
    got = committed_offsets(admin, "soak-txn-offsets").get(("soak-txn", 0))
    want = t["offsets"].get("last_committed_offset")
    if got != want and not unknown:
        s.fail(f"soak-txn-offsets committed offset is {got}, the last committed transaction wrote {want}")
    summary["transactions"] = {
        "committed": len(committed), "aborted": len(aborted), "unknown_outcome": len(unknown),
        "records_per_txn": TXN_RECORDS, "read_committed_records": sum(rc.values()),
        "aborted_records_in_log": in_log,
        "aborted_seen_live": s.counts["rc_aborted_seen"], "txn_offset_commit": {"got": got, "want": want}}
    log(f"transactions: {len(committed)} committed, {len(aborted)} aborted, {len(unknown)} unknown; "
        f"read_committed saw {sum(rc.values())} records, none aborted: {not leaked}")


def verify_compaction(s, summary):
    last = dict(s.compact_last)
    acked = s.counts["compact_acked"]
    seen = {}
    n = 0
    for m in read_all(s.bs, "soak-compact", 1):
        n += 1
        v = m.value()
        seen[m.key()] = (-1, True) if v is None else (int(v.split(b"|")[1]), False)
    # a tombstone's seq is not in its value: compare the newest acked one with what is there
    lost = []
    for key, (seq, tomb) in last.items():
        have = seen.get(key)
        if have is None:
            if not tomb:
                lost.append((key, seq, "absent"))
        elif have[1]:
            if not tomb:
                # a tombstone in the log where the newest acked record has a value: that value is lost
                # unless an unacked later tombstone exists, which we cannot tell: accept only if acked
                # a tombstone
                lost.append((key, seq, "tombstone"))
        elif have[0] < seq and not tomb:
            lost.append((key, seq, f"older value #{have[0]}"))
        elif have[0] < seq and tomb:
            lost.append((key, seq, f"value #{have[0]} older than the acked tombstone"))
    (lo, hw), = watermarks(s.bs, "soak-compact", 1)
    _, compact_bytes, _, compact_files = dir_stats(s.broker.data)
    produced_bytes = acked * (len(PAD_1K) + 16)
    summary["compaction"] = {"acknowledged": acked, "offsets": hw, "records_after": n, "keys": len(seen),
                             "dir_mib": round(compact_bytes / 2**20, 2), "segment_files": compact_files,
                             "produced_mib": round(produced_bytes / 2**20, 1), "newest_value_missing": len(lost)}
    log(f"compaction: {acked} acknowledged, {n} records left over {len(seen)} keys, "
        f"{compact_bytes / 2**20:.1f} MiB on disk for {produced_bytes / 2**20:.1f} MiB produced")
    if lost:
        s.fail(f"soak-compact: the newest acknowledged record of {len(lost)} keys is gone, e.g. {lost[:5]}")
    if acked >= 2000 and n > acked / 2:
        s.fail(f"soak-compact was not compacted: {n} of {acked} records still there")
    (rlo, rhw), = watermarks(s.bs, "soak-retention", 1)
    summary["retention"] = {"log_start": rlo, "log_end": rhw}
    if s.counts["retention_acked"] > 4000 and rlo == 0:
        s.fail(f"soak-retention: nothing deleted by retention.bytes (log 0..{rhw})")


def mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def growth(rows):
    """The growth criteria over the load-phase samples (see module doc and docs/reliability.md)."""
    load = [r for r in rows if r["phase"] == "load"]
    if not load:
        return {}, []
    T = load[-1]["t_s"]
    q2 = [r for r in load if T / 4 <= r["t_s"] < T / 2]
    q4 = [r for r in load if r["t_s"] >= 3 * T / 4]
    out, problems = {}, []
    for key, label, factor, slack in (("rss_mib", "RSS (MiB)", RSS_GROWTH_FACTOR, RSS_GROWTH_SLACK_MIB),
                                      ("fds_bounded", "descriptors (but those of soak-a/b/txn segments)",
                                       FD_GROWTH_FACTOR, FD_GROWTH_SLACK)):
        a = mean([r[key] for r in q2])
        b = mean([r[key] for r in q4])
        limit = a * factor + slack
        out[key] = {"q2_mean": round(a, 2), "q4_mean": round(b, 2), "limit": round(limit, 2)}
        if len(q2) < 2 or len(q4) < 2:
            problems.append(f"too few samples to judge {label} growth ({len(q2)}, {len(q4)})")
        elif b > limit:
            why = ""
            if key == "fds_bounded":  # how much of it is soak-compact's segment files
                c2, c4 = mean([r["compact_segments"] for r in q2]), mean([r["compact_segments"] for r in q4])
                why = (f"; soak-compact's segment files grew from {c2:.1f} to {c4:.1f} meanwhile (without "
                       f"them: {a - c2:.1f} -> {b - c4:.1f})")
            problems.append(f"{label} keep growing: mean {b:.1f} over the last quarter against {a:.1f} "
                            f"over the second quarter (limit {limit:.1f}){why}")
    # (descriptors of deleted files are in fds_bounded: they must not pile up either)
    out["fds_bounded_without_compact_segments"] = {
        "q2_mean": round(mean([r["fds_bounded"] - r["compact_segments"] for r in q2]), 2),
        "q4_mean": round(mean([r["fds_bounded"] - r["compact_segments"] for r in q4]), 2)}
    out["compact_segments"] = {"q2_mean": round(mean([r["compact_segments"] for r in q2]), 2),
                               "q4_mean": round(mean([r["compact_segments"] for r in q4]), 2)}
    out["fds_deleted"] = {"q2_mean": round(mean([r["fds_deleted"] for r in q2]), 2),
                          "q4_mean": round(mean([r["fds_deleted"] for r in q4]), 2),
                          "max": max(r["fds_deleted"] for r in load)}
    return out, problems


def plot(rows, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [r["t_s"] / 60 for r in rows]
    fig, ax = plt.subplots(4, 1, figsize=(8, 8.5), sharex=True)
    ax[0].plot(t, [r["rss_mib"] for r in rows], label="VmRSS")
    ax[0].plot(t, [r["rss_anon_mib"] for r in rows], label="RssAnon")
    ax[0].set_ylabel("MiB")
    ax[0].set_ylim(bottom=0)
    ax[1].plot(t, [r["fds"] for r in rows], label="all")
    ax[1].plot(t, [r["fds_bounded"] for r in rows], label="all but soak-a/b/txn segments (judged)")
    ax[1].plot(t, [r["fds_bounded"] - r["compact_segments"] for r in rows], label="judged but soak-compact segments",
               linewidth=0.8)
    ax[1].plot(t, [r["fds_sockets"] for r in rows], label="sockets", linewidth=0.8)
    ax[1].plot(t, [r["compact_segments"] for r in rows], label="soak-compact segment files", linewidth=0.8)
    ax[1].set_ylabel("descriptors")
    ax[1].set_ylim(bottom=0)
    ax[2].plot(t, [r["cpu_pct"] if r["cpu_pct"] != "" else float("nan") for r in rows], label="fjord CPU",
               linewidth=0.8)
    ax[2].set_ylabel("% of a core")
    ax[2].set_ylim(bottom=0)
    rate = [float("nan")] + [(b["acked"] - a["acked"]) / max(b["t_s"] - a["t_s"], 1e-9)
                             for a, b in zip(rows, rows[1:])]
    ax[3].plot(t, rate, label="acknowledged records/s (soak-a, soak-b)", linewidth=0.8)
    ax[3].set_ylabel("records/s")
    ax[3].set_ylim(bottom=0)
    ax[3].set_xlabel("minutes")
    load = [r["t_s"] / 60 for r in rows if r["phase"] == "load"]
    for a in ax:
        if load:
            end = load[-1]
            a.axvspan(0, end / 4, color="0.92", zorder=0)
            a.axvspan(end / 4, end / 2, color="#dde8f5", zorder=0)
            a.axvspan(3 * end / 4, end, color="#f5e4dd", zorder=0)
            a.axvline(end, color="0.5", linestyle="--", linewidth=0.8)
        a.legend(loc="lower left" if a is ax[3] else "upper left", fontsize=7, ncol=3)
        a.grid(alpha=0.3)
    ax[0].set_title(title, fontsize=9)
    fig.text(0.01, 0.005, "grey: warm-up; blue: 2nd quarter; red: last quarter (compared); "
                          "dashed: load stops, checks run", fontsize=7)
    fig.tight_layout(rect=(0, 0.015, 1, 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)


# --- main ----------------------------------------------------------------------------------------

def load_csv(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append({k: (v if k == "phase" or v == "" else float(v)) for k, v in r.items()})
    return rows


def replot(work, png=None):
    """`soak.py --replot DIR [PNG]`: the growth verdict and the plot again from DIR/soak.csv."""
    work = Path(work)
    rows = load_csv(work / "soak.csv")
    summary = json.loads((work / "summary.json").read_text()) if (work / "summary.json").exists() else {}
    g, problems = growth(rows)
    print(json.dumps(g, indent=1))
    for p in problems:
        print("  - " + p)
    passed = summary.get("passed", not problems)
    minutes = summary.get("minutes", round(max(r["t_s"] for r in rows if r["phase"] == "load") / 60))
    plot(rows, Path(png) if png else work / "soak.png",
         f"fjord soak, {minutes:g} min load ({'passed' if passed else 'FAILED'}) - {os.cpu_count()} cores")


def main():
    if sys.argv[1:2] == ["--replot"]:
        replot(*sys.argv[2:4])
        return
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    work = Path(os.environ.get("SOAK_OUT") or tempfile.mkdtemp(prefix="fjord-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    broker = Broker(work)
    s = Soak(broker)
    summary = {"minutes": minutes, "out": str(work), "groups": {g: {} for g in GROUPS}}
    sampler = None
    members = {g: [] for g in GROUPS}
    interrupted = False
    exit_code = None
    log(f"output in {work}; fjord {FJORD}")
    try:
        broker.start()
        log(f"fjord pid {broker.proc.pid} on {broker.bootstrap}; load for {minutes:g} min")
        admin = AdminClient({"bootstrap.servers": s.bs, "log_level": 3})
        seg = {"segment.bytes": str(8 << 20)}
        new = [NewTopic(t, num_partitions=n, replication_factor=1, config=seg) for t, n in VERIFIED.items()]
        new += [NewTopic("soak-txn", num_partitions=2, replication_factor=1, config=seg),
                NewTopic("soak-compact", num_partitions=1, replication_factor=1,
                         config={"cleanup.policy": "compact", "segment.bytes": "1048576",
                                 "min.compaction.lag.ms": "0", "delete.retention.ms": "10000"}),
                NewTopic("soak-retention", num_partitions=1, replication_factor=1,
                         config={"retention.bytes": str(2 << 20), "segment.bytes": "1048576"})]
        for f in admin.create_topics(new, operation_timeout=30).values():
            f.result(30)
        del admin

        sampler = Sampler(s, work / "soak.csv")
        sampler.start()
        t_start = time.monotonic()
        producers = [s.spawn("ck0", ck_producer, "ck0"), s.spawn("ck1", ck_producer, "ck1"),
                     s.spawn("kp0", kp_producer, "kp0"), s.spawn("compact", compact_producer),
                     s.spawn("txn", txn_producer)]
        churn = s.spawn("churn", topic_churn)
        checker_done = threading.Event()
        checker = s.spawn("rc-check", read_committed_checker, checker_done)
        group_thread = s.spawn("groups", group_churn, members)

        deadline = t_start + minutes * 60
        last_report = t_start
        while time.monotonic() < deadline and not s.failures:
            time.sleep(1)  # pacing of the progress report only
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                r = sampler.rows[-1] if sampler.rows else {}
                log(f"{(last_report - t_start) / 60:.0f} min: {s.counts['acked']} acked, "
                    f"{len(s.txn['committed'])}+{len(s.txn['aborted'])} txns, {s.counts['topics_created']} topics, "
                    f"RSS {r.get('rss_mib')} MiB, {r.get('fds')} fds, CPU {r.get('cpu_pct')} %")
        load_seconds = time.monotonic() - t_start
        sampler.phase = "checks"
        s.stop.set()
        log("load stops; waiting for the producers' last delivery reports")
        for t in producers + [churn, group_thread]:
            t.join(120)
            if t.is_alive():
                s.fail(f"thread {t.name} did not stop within 120 s")
        if broker.alive():
            check_groups(s, members, summary)
            verify_txns(s, summary, checker_done, checker)
            verify_records(s, summary)
            verify_compaction(s, summary)
        for g in members:
            for m in members[g]:
                m.leave.set()
            for m in members[g]:
                m.thread.join(60)
        summary["load_seconds"] = round(load_seconds, 1)
    except KeyboardInterrupt:
        interrupted = True
        s.fail("interrupted")
    except Exception:  # noqa: BLE001
        s.fail("driver error:\n" + traceback.format_exc())
    finally:
        s.stop.set()
        if sampler:
            sampler.running = False
            sampler.join(SAMPLE_S + 5)
        was_alive = broker.alive()
        code = broker.stop()
        if was_alive and code != 0:
            s.fail(f"fjord exited with code {code} on SIGTERM")
        summary["fjord_exit_code"] = code

    lines = broker.stderr_lines()
    panics = [l for l in lines if "panicked" in l]
    if panics:
        s.fail("fjord panicked: " + " | ".join(panics[:5]))
    summary["fjord_log"] = {"lines": len(lines), "ERROR": sum(" ERROR " in l for l in lines),
                            "WARN": sum(" WARN " in l for l in lines)}

    rows = sampler.rows if sampler else []
    if rows and not interrupted:
        g, problems = growth(rows)
        summary["growth"] = g
        for p in problems:
            s.fail(p)
    if rows:
        load = [r for r in rows if r["phase"] == "load"]
        cpus = [r["cpu_pct"] for r in load if r["cpu_pct"] != ""]
        dcpus = [r["driver_cpu_pct"] for r in load if r["driver_cpu_pct"] != ""]
        summary["resources"] = {
            "samples": len(rows), "sample_s": SAMPLE_S,
            "rss_mib": {"start": load[0]["rss_mib"], "peak": max(r["rss_mib"] for r in load),
                        "end": load[-1]["rss_mib"]},
            "fds": {"start": load[0]["fds"], "peak": max(r["fds"] for r in load), "end": load[-1]["fds"]},
            "fds_bounded": {"start": load[0]["fds_bounded"],
                            "peak": max(r["fds_bounded"] for r in load), "end": load[-1]["fds_bounded"]},
            "fds_sockets": {"start": load[0]["fds_sockets"], "peak": max(r["fds_sockets"] for r in load),
                            "end": load[-1]["fds_sockets"]},
            "segment_files_end": load[-1]["segment_files"],
            "compact_segments": {"start": load[0]["compact_segments"], "end": load[-1]["compact_segments"]}, "threads_end": load[-1]["threads"],
            "cpu_pct_mean": round(mean(cpus), 1), "cpu_pct_max": max(cpus) if cpus else None,
            "driver_cpu_pct_mean": round(mean(dcpus), 1),
            "deleted_files_held": dict(DELETED_SEEN.most_common(10)),
            "data_mib_end": load[-1]["data_mib"]}
    with s.lock:
        c = dict(s.counts)
    summary["groups"].update({g: {**summary["groups"].get(g, {}), "joins": c.get(f"joined:{g}", 0),
                                  "leaves": c.get(f"left:{g}", 0), "assignments": c.get(f"assign:{g}", 0),
                                  "consumed": c.get(f"consumed:{g}", 0)} for g in GROUPS})
    summary["topics"] = {"created": c.get("topics_created", 0), "deleted": c.get("topics_deleted", 0),
                         "churn_records_acked": c.get("churn_records_acked", 0)}
    if summary.get("load_seconds"):
        total_acked = (c.get("acked", 0) + c.get("compact_acked", 0) + c.get("retention_acked", 0)
                       + len(s.txn["committed"]) * TXN_RECORDS + c.get("churn_records_acked", 0))
        summary["throughput_acked_rec_s"] = round(total_acked / summary["load_seconds"], 1)
    summary["client_errors"] = {k[6:]: v for k, v in c.items() if k.startswith("error:")}
    summary["client_error_examples"] = dict(s.errors)
    summary["failures"] = list(s.failures)
    summary["passed"] = not s.failures
    (work / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if rows:
        try:
            plot(rows, work / "soak.png", f"fjord soak, {minutes:g} min load "
                 f"({'passed' if not s.failures else 'FAILED'}) - {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
        except Exception:  # noqa: BLE001 - the plot is a by-product
            log("plot failed:\n" + traceback.format_exc())
    print(json.dumps({k: v for k, v in summary.items() if k != "client_error_examples"}, indent=1, default=str))
    if s.failures:
        log(f"FAILED ({len(s.failures)}):")
        for f in s.failures:
            print("  - " + f.replace("\n", "\n    "))
        log(f"kept {work} (fjord.stderr, soak.csv, soak.png, summary.json, data/)")
        exit_code = 130 if interrupted else 1
    else:
        if os.environ.get("SOAK_KEEP_DATA") != "1":
            shutil.rmtree(broker.data, ignore_errors=True)
        log(f"PASSED; {work}: soak.csv, soak.png, summary.json, fjord.stderr")
        exit_code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)  # client threads (librdkafka handles) must not hold the exit


if __name__ == "__main__":
    main()
