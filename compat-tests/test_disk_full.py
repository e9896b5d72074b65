"""A full disk (issue 14): fjord on a small tmpfs the test mounts, filled by a file the test
writes; confluent-kafka, kafka-python and the Java client. A produce that does not fit gets KAFKA_STORAGE_ERROR and leaves nothing of itself;
every acknowledged record stays readable; an offset commit that does not fit gets
COORDINATOR_NOT_AVAILABLE; once the file is deleted writes go on by themselves, at the next
offset, with no restart; a restart (SIGKILL, and one on a full disk) finds exactly the
acknowledged records.

Mounting needs root (or CAP_SYS_ADMIN): elsewhere the test is skipped, saying so.
"""
import os
import subprocess

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka import KafkaProducer
from kafka.errors import KafkaStorageError

from conftest import Broker, _fail_on_panics, consume_assigned, create_topics, wait_until
import wire

DISK = 4 * 1024 * 1024
TOPIC = "full"
GROUP = "full-readers"
VALUE = b"x" * 1000


def value(i):
    return b"rec-%06d-" % i + VALUE


@pytest.fixture
def small_disk(tmp_path, request):
    """A 4 MiB tmpfs at tmp_path/mnt; (mount point, brokers started on it). Every broker is
    stopped and the tmpfs unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mnt)],
                           capture_output=True, text=True)
        why = r.stderr.strip() or f"exit code {r.returncode}"
    except OSError as e:
        r, why = None, str(e)
    if r is None or r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({why}); the disk-full test needs root")
    brokers = []
    request.node._fjord_brokers = brokers
    try:
        yield mnt, brokers
    finally:
        for b in brokers:
            b.stop()
        if subprocess.run(["umount", str(mnt)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)])
    _fail_on_panics(brokers)


def start_on(mnt, brokers, tmp_path):
    b = Broker(mnt / "data", overrides={"group.initial.rebalance.delay.ms": "0"})
    # The broker's own log stays off the small disk.
    b.stderr_path = tmp_path / "fjord.stderr"
    brokers.append(b)
    return b.start()


def fill(path, leave=0):
    """Write a file that takes all free space of its filesystem but `leave` bytes."""
    st = os.statvfs(path.parent)
    size = max(st.f_bavail * st.f_frsize - leave, 0)
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as f:
        try:
            while size > 0:
                n = min(size, len(chunk))
                f.write(chunk[:n])
                size -= n
            f.flush()
        except OSError:
            pass  # the disk was fuller than statvfs said: full is what we want


def produce_until_full(bootstrap, start):
    """confluent-kafka (no retries, no idempotence): records `start`.. in batches until one is
    refused; returns (values acknowledged, with their offsets), the first error."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "retries": 0,
                  "enable.idempotence": False, "linger.ms": 5})
    acked, errors = [], []
    i = start
    while not errors:
        reports = []
        for _ in range(20):
            p.produce(TOPIC, value(i), on_delivery=lambda e, m: reports.append((e, m.offset(), m.value())))
            i += 1
        assert p.flush(30) == 0
        for err, off, v in reports:
            if err is None:
                assert not errors, "a record was stored after one was refused"
                acked.append((off, v))
            else:
                errors.append(err)
        assert i - start < 10_000, "the disk never filled"
    return acked, errors[0]


def produce_all(bootstrap, values, **conf):
    """confluent-kafka: values produced and all acknowledged; their offsets."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, **conf})
    reports = []
    for v in values:
        p.produce(TOPIC, v, on_delivery=lambda e, m: reports.append((e, m.offset())))
    assert p.flush(60) == 0
    assert [e for e, _ in reports if e is not None] == []
    return [o for _, o in reports]


def read_all(bootstrap, n):
    return [(off, v) for _, off, _, v in consume_assigned(bootstrap, TOPIC, n)]


def log_end(port):
    with wire.Conn(port) as c:
        return c.list_offset(TOPIC, 0, wire.LATEST)[1]


def commit(consumer, offset):
    """OffsetCommit of `offset` for partition 0: None, or the error code."""
    try:
        res = consumer.commit(offsets=[TopicPartition(TOPIC, 0, offset)], asynchronous=False)
    except KafkaException as e:
        return e.args[0].code()
    return res[0].error.code() if res[0].error else None


def committed(consumer):
    return consumer.committed([TopicPartition(TOPIC, 0)], timeout=10)[0].offset


def create_compacted(bootstrap, name):
    """CreateTopics of a compacted topic: None, or the error code."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(name, 1, 1, config={"cleanup.policy": "compact"})])[name]
    try:
        fut.result(timeout=15)
    except KafkaException as e:
        return e.args[0].code()
    return None


def cleanup_policy(bootstrap, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    return admin.describe_configs([res])[res].result(timeout=15)["cleanup.policy"].value


def storage_failures(b):
    return b.stderr_tail(100000).count("append failed")


def test_disk_full_refuses_writes_keeps_reads_and_recovers(small_disk, tmp_path, run_java):
    mnt, brokers = small_disk
    b = start_on(mnt, brokers, tmp_path)
    create_topics(b.bootstrap, TOPIC)
    group = Consumer({"bootstrap.servers": b.bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    # An idempotent producer (with retries) that is running when the disk fills: it has its
    # producer id (a new one needs a write too), and record 0 is its.
    idem = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "enable.idempotence": True,
                     "linger.ms": 5, "retry.backoff.ms": 50, "message.timeout.ms": 60000})
    idem_reports = []

    def on_idem(e, m):
        idem_reports.append((e, m.offset(), m.value()))
    try:
        idem.produce(TOPIC, value(0), on_delivery=on_idem)
        assert idem.flush(30) == 0 and idem_reports == [(None, 0, value(0))]
        idem_reports.clear()
        # __consumer_offsets exists before the disk fills.
        assert commit(group, 0) is None

        filler = mnt / "filler"
        fill(filler, leave=600 * 1024)
        more, err = produce_until_full(b.bootstrap, 1)
        assert err.code() == KafkaError.KAFKA_STORAGE_ERROR, err
        acked = [(0, value(0))] + more
        assert len(acked) > 100, len(acked)
        assert acked == [(i, value(i)) for i in range(len(acked))], "acknowledged at contiguous offsets"
        assert log_end(b.port) == len(acked)

        # Still full: refused again, and by kafka-python too (single records: a few may still
        # fit in the last page the segment has); nothing half-written shows.
        more, err = produce_until_full(b.bootstrap, len(acked))
        assert err.code() == KafkaError.KAFKA_STORAGE_ERROR
        acked += more
        kp = KafkaProducer(bootstrap_servers=b.bootstrap, retries=0, acks="all")
        try:
            with pytest.raises(KafkaStorageError):
                for i in range(len(acked), len(acked) + 100):
                    assert kp.send(TOPIC, value(i)).get(timeout=30).offset == i
                    acked.append((i, value(i)))
        finally:
            kp.close()
        # The Java client: a KafkaStorageException.
        out = run_java("DiskFull", b.bootstrap, TOPIC, len(acked)).split()
        assert out[-2:] == ["ERROR", "KafkaStorageException"], out
        for i, off in enumerate(out[1:-2:2], start=len(acked)):
            assert int(off) == i
            acked.append((i, value(i)))
        n = len(acked)
        assert acked == [(i, value(i)) for i in range(n)]
        assert log_end(b.port) == n

        # A topic that does not fit is not created (and leaves nothing a restart would load).
        assert create_compacted(b.bootstrap, "later") == KafkaError.KAFKA_STORAGE_ERROR
        assert not (mnt / "data" / "later-0").exists()

        # Reads keep working: every acknowledged record, exactly.
        assert read_all(b.bootstrap, n) == acked

        # Offset commits: those that still fit go through, then COORDINATOR_NOT_AVAILABLE, and a
        # refused commit changes nothing.
        last_ok, code = 0, None
        for off in range(1, 500):
            code = commit(group, off)
            if code is not None:
                break
            last_ok = off
        assert code == KafkaError.COORDINATOR_NOT_AVAILABLE, code
        assert commit(group, n) == KafkaError.COORDINATOR_NOT_AVAILABLE
        assert committed(group) == last_ok

        # The idempotent producer keeps retrying while the disk is full...
        failures = storage_failures(b)
        for i in range(n, n + 50):
            idem.produce(TOPIC, value(i), on_delivery=on_idem)

        def refused():
            idem.poll(0.05)
            return storage_failures(b) > failures + 1
        wait_until(refused, timeout=30, what="refused produces of the idempotent producer")
        assert idem_reports == [] and log_end(b.port) == n

        # ... and once space is freed its records go in, without a restart, right after the
        # last acknowledged one: no gap, no duplicate.
        filler.unlink()
        assert idem.flush(60) == 0
        assert sorted(idem_reports) == [(None, i, value(i)) for i in range(n, n + 50)]
        acked += [(i, value(i)) for i in range(n, n + 50)]
        offs = produce_all(b.bootstrap, [value(i) for i in range(n + 50, n + 100)], retries=0)
        assert offs == list(range(n + 50, n + 100))
        acked += [(i, value(i)) for i in range(n + 50, n + 100)]
        assert commit(group, n + 100) is None
        assert committed(group) == n + 100
        assert create_compacted(b.bootstrap, "later") is None
        assert read_all(b.bootstrap, len(acked)) == acked
    finally:
        group.close()
        idem.flush(0)

    # A crash: what comes back is exactly what was acknowledged.
    b.restart(kill=True)
    assert read_all(b.bootstrap, len(acked)) == acked
    assert log_end(b.port) == len(acked)
    assert cleanup_policy(b.bootstrap, "later") == "compact"

    # A crash and a start on a full disk: fjord starts and serves reads; writes are refused
    # until there is space, then go on at the next offset.
    fill(filler)
    b.restart(kill=True)
    assert read_all(b.bootstrap, len(acked)) == acked
    more, err = produce_until_full(b.bootstrap, len(acked))
    assert err.code() == KafkaError.KAFKA_STORAGE_ERROR
    acked += more
    group = Consumer({"bootstrap.servers": b.bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    try:
        assert committed(group) == n + 100
    finally:
        group.close()
    filler.unlink()
    m = len(acked)
    assert produce_all(b.bootstrap, [value(i) for i in range(m, m + 10)]) == list(range(m, m + 10))
    acked += [(i, value(i)) for i in range(m, m + 10)]
    b.restart(kill=True)
    assert read_all(b.bootstrap, len(acked)) == acked
    assert log_end(b.port) == len(acked)
    # No restart found garbage to cut off: every refused write was undone at once.
    assert "truncating torn or corrupt segment tail" not in b.stderr_tail(100000)
    assert not [f for f in (mnt / "data").rglob("*.tmp")]
