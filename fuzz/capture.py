"""Capture the fuzz targets' seed corpus from real clients.

Starts a real fjord (target/release/fjord, a free port on 127.0.0.1, a temporary data dir) that
advertises a recording proxy in front of it, so every connection of every client goes through
the proxy. The clients are the ones the compat tests use: confluent-kafka (librdkafka),
kafka-python (current and pinned to old protocols, which send message formats v0/v1), aiokafka,
kcat and the Java client (compat-tests/java, and fuzz/CaptureExtras.java for a few admin calls
none of those make). They produce with every codec, consume in groups
(classic and KIP-848), use transactions and the admin APIs, and authenticate with SASL PLAIN and
SCRAM on a second listener (a second proxy).

Every request frame a client sends (without its 4-byte length prefix) becomes a file of
fuzz/corpus/request/, and the `records` field of every partition of every Produce request a
file of fuzz/corpus/records/ (one flags byte first, see fuzz/src/lib.rs). Duplicates are dropped,
at most PER_KIND files are kept for each API and version (and for each records kind), and files
over MAX_FILE bytes are skipped, to keep the corpus small.

Usage: .venv/bin/python fuzz/capture.py [out dir, default fuzz/corpus]
"""
import asyncio
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FJORD_BIN = Path(os.environ.get("FJORD_BIN", ROOT / "target" / "release" / "fjord"))
JARS = ROOT / ".cache" / "jars"
JAVA_SRC = ROOT / "compat-tests" / "java"

PER_KIND = 4
MAX_FILE = 16 * 1024
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" '
              'user_admin="admin-secret" user_alice="alice-secret";')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """A TCP proxy that keeps every client-to-broker request frame."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.frames = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self.pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, False), daemon=True).start()

    def pump(self, src, dst, record):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if not record:
                    continue
                buf += data
                while len(buf) >= 4:
                    (n,) = struct.unpack(">i", buf[:4])
                    if n < 0 or len(buf) < 4 + n:
                        break
                    with self.lock:
                        self.frames.append(buf[4:4 + n])
                    buf = buf[4 + n:]
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# --- Produce request parsing (enough to find each partition's records) ------------------------

class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if n < 0 or self.p + n > len(self.b):
            raise ValueError("short")
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        v = shift = 0
        while True:
            byte = self.take(1)[0]
            v |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return v
            shift += 7

    def string(self, flexible):
        n = self.uvarint() - 1 if flexible else self.i16()
        return None if n < 0 else self.take(n)

    def tagged(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def produce_records(frame):
    """(version, [records]) of a Produce request frame, or None."""
    r = Reader(frame)
    key, version = r.i16(), r.i16()
    if key != 0:
        return None
    flexible = version >= 9
    r.i32()  # correlation id
    r.string(False)  # client id (a nullable string even in header v2)
    if flexible:
        r.tagged()
    if version >= 3:
        r.string(flexible)  # transactional id
    r.i16()
    r.i32()  # acks, timeout
    out = []
    topics = r.uvarint() - 1 if flexible else r.i32()
    for _ in range(topics):
        if version >= 13:
            r.take(16)
        else:
            r.string(flexible)
        parts = r.uvarint() - 1 if flexible else r.i32()
        for _ in range(parts):
            r.i32()
            n = r.uvarint() - 1 if flexible else r.i32()
            if n > 0:
                out.append(r.take(n))
            if flexible:
                r.tagged()
        if flexible:
            r.tagged()
    return version, out


# --- Clients ----------------------------------------------------------------------------------

def step(name, fn, *args):
    t0 = time.monotonic()
    try:
        fn(*args)
        print(f"  {name}: ok ({time.monotonic() - t0:.1f}s)", flush=True)
    except Exception:
        print(f"  {name}: FAILED (its frames are kept all the same)\n{traceback.format_exc()}",
              flush=True)


def confluent(bs):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import (AdminClient, AclBinding, AclBindingFilter, AclOperation,
                                       AclPermissionType, ConfigResource, NewPartitions,
                                       NewTopic, ResourcePatternType, ResourceType)
    admin = AdminClient({"bootstrap.servers": bs})
    names = [f"ck-{c}" for c in CODECS] + ["ck-txn", "ck-compact", "ck-del"]
    futs = admin.create_topics([NewTopic(n, 2, 1) for n in names[:-2]]
                               + [NewTopic("ck-compact", 1, 1, config={"cleanup.policy": "compact"}),
                                  NewTopic("ck-del", 1, 1)])
    for f in futs.values():
        f.result(30)
    for codec in CODECS:
        p = Producer({"bootstrap.servers": bs, "compression.type": codec, "linger.ms": 5,
                      "enable.idempotence": codec in ("lz4", "zstd")})
        for i in range(20):
            p.produce(f"ck-{codec}", key=f"k{i}".encode(), value=f"value {i} {codec}".encode() * 3,
                      headers=[("h", b"v")] if i % 5 == 0 else None)
        p.flush(30)
    p = Producer({"bootstrap.servers": bs, "acks": 0})
    p.produce("ck-compact", key=b"key", value=b"v")
    p.produce("ck-compact", key=b"key", value=None)
    p.flush(30)
    c = Consumer({"bootstrap.servers": bs, "group.id": "ck-group", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(["ck-gzip", "ck-zstd"])
    got, deadline = 0, time.monotonic() + 30
    while got < 40 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
    c.commit(asynchronous=False)
    c.committed([TopicPartition("ck-gzip", 0)], timeout=10)
    c.offsets_for_times([TopicPartition("ck-gzip", 0, 0)], timeout=10)
    c.close()
    tp = Producer({"bootstrap.servers": bs, "transactional.id": "ck-tx", "compression.type": "snappy"})
    tp.init_transactions(30)
    for commit in (True, False):
        tp.begin_transaction()
        for i in range(5):
            tp.produce("ck-txn", key=b"t", value=f"txn {i}".encode())
        tp.send_offsets_to_transaction([TopicPartition("ck-gzip", 0, 3)],
                                       Consumer({"bootstrap.servers": bs, "group.id": "ck-txg"})
                                       .consumer_group_metadata(), 30)
        (tp.commit_transaction if commit else tp.abort_transaction)(30)
    admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "ck-gzip")])[
        ConfigResource(ConfigResource.Type.TOPIC, "ck-gzip")].result(30)
    for f in admin.create_partitions([NewPartitions("ck-none", 3)]).values():
        f.result(30)
    admin.list_consumer_groups().result(30)
    for f in admin.describe_consumer_groups(["ck-group"]).values():
        f.result(30)
    for f in admin.delete_topics(["ck-del"]).values():
        f.result(30)
    acl = AclBinding(ResourceType.TOPIC, "ck-gzip", ResourcePatternType.LITERAL, "User:alice", "*",
                     AclOperation.READ, AclPermissionType.ALLOW)
    for action in (lambda: admin.create_acls([acl]),
                   lambda: {0: admin.describe_acls(AclBindingFilter(
                       ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                       AclOperation.ANY, AclPermissionType.ANY))},
                   lambda: admin.delete_acls([AclBindingFilter(
                       ResourceType.TOPIC, "ck-gzip", ResourcePatternType.LITERAL, None, None,
                       AclOperation.ANY, AclPermissionType.ANY)])):
        try:
            fs = action()
            for f in (fs.values() if isinstance(fs, dict) else fs):
                f.result(30)
        except Exception:
            pass  # refused without an authorizer: the request was sent all the same
    for f in admin.delete_records([TopicPartition("ck-none", 0, 2)]).values():
        f.result(30)
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, OffsetSpec,
                                       ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)
    admin.describe_cluster().result(30)
    res = ConfigResource(ConfigResource.Type.TOPIC, "ck-gzip", incremental_configs=[
        ConfigEntry("retention.ms", "600000",
                    incremental_operation=AlterConfigOpType.SET)])
    for f in admin.incremental_alter_configs([res]).values():
        f.result(30)
    for f in admin.list_offsets({TopicPartition("ck-gzip", 0): OffsetSpec.latest(),
                                 TopicPartition("ck-gzip", 1): OffsetSpec.for_timestamp(0)}
                                ).values():
        f.result(30)
    upsert = UserScramCredentialUpsertion("ron", ScramCredentialInfo(
        ScramMechanism.SCRAM_SHA_256, 4096), b"ron-pw")
    for f in admin.alter_user_scram_credentials([upsert]).values():
        f.result(30)
    for f in admin.describe_user_scram_credentials(["ron"]).values():
        f.result(30)
    for f in admin.delete_consumer_groups(["ck-txg"]).values():
        try:
            f.result(30)
        except Exception:
            pass
    # KIP-848: ConsumerGroupHeartbeat.
    c = Consumer({"bootstrap.servers": bs, "group.id": "ck-848", "group.protocol": "consumer",
                  "auto.offset.reset": "earliest"})
    c.subscribe(["ck-lz4"])
    got, deadline = 0, time.monotonic() + 20
    while got < 10 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
    c.close()
    for f in admin.describe_consumer_groups(["ck-848"]).values():
        f.result(30)


def sasl(bs):
    """SaslHandshake and SaslAuthenticate: PLAIN (librdkafka, kafka-python) and SCRAM."""
    from confluent_kafka import Producer
    from kafka import KafkaProducer
    for mech, user, pw in (("PLAIN", "alice", "alice-secret"), ("SCRAM-SHA-256", "ron", "ron-pw")):
        p = Producer({"bootstrap.servers": bs, "security.protocol": "SASL_PLAINTEXT",
                      "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": pw})
        p.produce("ck-none", value=b"sasl " + mech.encode())
        if p.flush(30):
            raise RuntimeError(f"{mech}: not delivered")
    p = KafkaProducer(bootstrap_servers=bs, security_protocol="SASL_PLAINTEXT",
                      sasl_mechanism="PLAIN", sasl_plain_username="alice",
                      sasl_plain_password="alice-secret")
    p.send("ck-none", b"kafka-python sasl").get(30)
    p.close()


def kafka_python(bs):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bs)
    admin.create_topics([NewTopic("kp", 1, 1)] + [NewTopic(f"kp-old-{i}", 1, 1) for i in range(4)])
    for codec in (None, "gzip", "snappy", "lz4", "zstd"):
        p = KafkaProducer(bootstrap_servers=bs, compression_type=codec, linger_ms=5)
        for i in range(10):
            p.send("kp", key=b"k%d" % i, value=b"kafka-python %d" % i)
        p.flush(30)
        p.close()
    # Old protocols: Produce v0-v2 carry message formats v0 (0.8.2, 0.9) and v1 (0.10).
    for i, version in enumerate([(0, 8, 2), (0, 9), (0, 10), (0, 10, 1)]):
        for codec in (None, "gzip", "snappy", "lz4"):
            p = KafkaProducer(bootstrap_servers=bs, api_version=version, compression_type=codec,
                              linger_ms=5)
            for j in range(5):
                p.send(f"kp-old-{i}", key=b"o%d" % j, value=b"old %d" % j)
            p.flush(30)
            p.close()
        c = KafkaConsumer(f"kp-old-{i}", bootstrap_servers=bs, api_version=version,
                          auto_offset_reset="earliest", consumer_timeout_ms=3000,
                          **({"group_id": f"kp-old-g{i}"} if version >= (0, 9) else {}))
        for _ in c:
            pass
        c.close()
    c = KafkaConsumer("kp", bootstrap_servers=bs, group_id="kp-group",
                      auto_offset_reset="earliest", consumer_timeout_ms=5000)
    for _ in c:
        pass
    c.commit()
    c.close()
    admin.list_consumer_groups()
    admin.describe_consumer_groups(["kp-group"])
    admin.list_consumer_group_offsets("kp-group")
    admin.delete_topics(["kp-old-3"])
    from kafka.admin import ConfigResource, ConfigResourceType
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp",
                                        configs={"retention.ms": "700000"})])
    admin.close()


def aiokafka_clients(bs):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def run():
        p = AIOKafkaProducer(bootstrap_servers=bs, compression_type="gzip", enable_idempotence=True)
        await p.start()
        for i in range(10):
            await p.send_and_wait("ck-none", key=b"a%d" % i, value=b"aiokafka %d" % i)
        await p.stop()
        c = AIOKafkaConsumer("ck-none", bootstrap_servers=bs, group_id="aio-group",
                             auto_offset_reset="earliest")
        await c.start()
        try:
            await asyncio.wait_for(c.getmany(timeout_ms=3000), 10)
            await c.commit()
        finally:
            await c.stop()

    asyncio.run(run())


def kcat(bs):
    exe = shutil.which("kcat") or shutil.which("kafkacat")
    if exe is None:
        raise RuntimeError("kcat not installed")
    subprocess.run([exe, "-b", bs, "-L"], check=True, capture_output=True, timeout=30)
    for codec in CODECS:
        subprocess.run([exe, "-b", bs, "-P", "-t", "kcat", "-z", codec, "-K:"],
                       input=b"".join(b"key%d:kcat %s %d\n" % (i, codec.encode(), i)
                                      for i in range(10)),
                       check=True, capture_output=True, timeout=30)
    subprocess.run([exe, "-b", bs, "-C", "-t", "kcat", "-o", "beginning", "-e", "-c", "20"],
                   check=True, capture_output=True, timeout=30)
    subprocess.run([exe, "-b", bs, "-G", "kcat-group", "-o", "beginning", "-e", "-c", "10", "kcat"],
                   capture_output=True, timeout=30)


def java(bs, log_dir):
    if not list(JARS.glob("kafka-clients-*.jar")):
        raise RuntimeError(f"no kafka-clients jar in {JARS} (scripts/install-deps.sh)")
    with tempfile.TemporaryDirectory() as out:
        srcs = [str(JAVA_SRC / f) for f in ("Compression.java", "TxnScenarios.java",
                                            "AdminSurface.java", "TxnAdmin.java",
                                            "Reassign.java")]
        srcs.append(str(Path(__file__).resolve().parent / "CaptureExtras.java"))
        subprocess.run(["javac", "-nowarn", "-d", out, "-cp", f"{JARS}/*", *srcs], check=True,
                       capture_output=True, timeout=300)

        def run(*args):
            r = subprocess.run(["java", "-cp", f"{out}:{JARS}/*", *args], capture_output=True,
                               text=True, timeout=180)
            if r.returncode != 0:
                raise RuntimeError(f"java {args[0]} exited {r.returncode}: {r.stdout[-2000:]}")

        failed = []
        for args in (["CaptureExtras", bs, "ck-gzip", "ck-group", "ck-tx"], ["Compression", bs], ["TxnScenarios", "commit-abort", bs, "jtxn", "jtxn-id"],
                     ["AdminSurface", "configs", bs], ["AdminSurface", "topics", bs, log_dir],
                     ["AdminSurface", "quotas-set", bs], ["AdminSurface", "delete-records", bs],
                     ["TxnAdmin", bs], ["Reassign", "reassign", bs, "ck-gzip", "0", "1"],
                     ["Reassign", "list", bs]):
            try:
                run(*args)
            except Exception as e:  # a scenario's own assertion: its requests were sent
                failed.append(f"{' '.join(args[:2])}: {e}"[:300])
        if failed:
            raise RuntimeError("; ".join(failed))


# --- Corpus -----------------------------------------------------------------------------------

def write_corpus(frames, out):
    req_dir, rec_dir = out / "request", out / "records"
    for d in (req_dir, rec_dir):
        d.mkdir(parents=True, exist_ok=True)
    kept = {}

    def keep(d, kind, data):
        if len(data) > MAX_FILE:
            return
        digest = hashlib.sha1(data).hexdigest()[:12]
        path = d / f"{kind}-{digest}"
        if path.exists() or kept.get((d, kind), 0) >= PER_KIND:
            return
        kept[(d, kind)] = kept.get((d, kind), 0) + 1
        path.write_bytes(data)

    for frame in frames:
        if len(frame) < 4:
            continue
        key, version = struct.unpack(">hh", frame[:4])
        keep(req_dir, f"k{key}-v{version}", frame)
        try:
            parsed = produce_records(frame)
        except (ValueError, struct.error):
            parsed = None
        if parsed is None:
            continue
        version, records = parsed
        for rec in records:
            legacy = version <= 2
            magic = rec[16] if len(rec) > 16 else -1
            codec = (rec[17] if magic in (0, 1) else rec[22]) & 7 if len(rec) > 22 else 0
            partition = int(hashlib.sha1(rec).hexdigest(), 16) % 4
            flags = 1 | (2 if legacy else 0) | (partition << 2)
            keep(rec_dir, f"magic{magic}-codec{codec}", bytes([flags]) + rec)
    return kept


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz" / "corpus"
    if not FJORD_BIN.exists():
        sys.exit(f"{FJORD_BIN} missing: cargo build --release")
    data = Path(tempfile.mkdtemp(prefix="fjord-capture-"))
    port, sasl_port = free_port(), free_port()
    proxy, sasl_proxy = Recorder(port), Recorder(sasl_port)
    log = open(data / "fjord.log", "wb")
    overrides = {
        "listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy.port},"
                                f"SASL_PLAINTEXT://127.0.0.1:{sasl_proxy.port}",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "log.dirs": str(data / "logs"),
        "group.initial.rebalance.delay.ms": "0",
        "group.consumer.heartbeat.interval.ms": "1000",
        "message.max.bytes": "2000000",
    }
    argv = [str(FJORD_BIN)]
    for k, v in overrides.items():
        argv += ["--override", f"{k}={v}"]
    broker = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or broker.poll() is not None:
                    sys.exit("fjord did not start:\n" + (data / "fjord.log").read_text()[-3000:])
                time.sleep(0.1)
        bs = f"127.0.0.1:{proxy.port}"
        print(f"fjord on {port}, recording proxy on {proxy.port}", flush=True)
        step("confluent-kafka", confluent, bs)
        step("kafka-python", kafka_python, bs)
        step("aiokafka", aiokafka_clients, bs)
        step("kcat", kcat, bs)
        step("sasl", sasl, f"127.0.0.1:{sasl_proxy.port}")
        step("java", java, bs, str(data / "logs"))
        time.sleep(1)
    finally:
        broker.terminate()
        try:
            broker.wait(10)
        except subprocess.TimeoutExpired:
            broker.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)
    frames = []
    for p in (proxy, sasl_proxy):
        with p.lock:
            frames += p.frames
    kept = write_corpus(frames, out)
    print(f"{len(frames)} request frames captured; kept "
          f"{sum(n for (d, _), n in kept.items() if d.name == 'request')} request and "
          f"{sum(n for (d, _), n in kept.items() if d.name == 'records')} records files in {out}")


if __name__ == "__main__":
    main()
