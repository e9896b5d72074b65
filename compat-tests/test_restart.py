"""Durability across SIGKILL and restart, on Kafka's on-disk layout."""
import re
import struct
import time

import pytest
from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient, NewPartitions

from conftest import consume_assigned, create_topics, produce
import wire


def describe(bootstrap, *topics):
    """{topic: (topic_id, partition count)} via DescribeTopics (confluent-kafka)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futs = admin.describe_topics(TopicCollection(list(topics)))
    out = {}
    for name, f in futs.items():
        d = f.result(timeout=15)
        out[name] = (str(d.topic_id), len(d.partitions))
    return out


def test_acknowledged_records_survive_sigkill(start_broker):
    b = start_broker()
    create_topics(b.bootstrap, "dur")
    values = [b"durable-%05d" % i for i in range(2000)]
    reports = produce(b.bootstrap, "dur", values, acks="all")
    assert [(r[0], r[2]) for r in reports] == [(None, i) for i in range(2000)]

    b.restart(kill=True)

    assert consume_assigned(b.bootstrap, "dur", 2000) == [(0, i, None, v) for i, v in enumerate(values)]
    with wire.Conn(b.port) as c:
        assert c.list_offset("dur", 0, wire.LATEST) == (0, 2000)
        assert c.list_offset("dur", 0, wire.EARLIEST) == (0, 0)
    reports = produce(b.bootstrap, "dur", [b"after-restart"], acks="all")
    assert [(r[0], r[2]) for r in reports] == [(None, 2000)]
    assert consume_assigned(b.bootstrap, "dur", 1, start=2000) == [(0, 2000, None, b"after-restart")]


def test_graceful_restart_keeps_data(start_broker):
    b = start_broker()
    create_topics(b.bootstrap, "grace")
    produce(b.bootstrap, "grace", [b"g%d" % i for i in range(100)])
    rc = b.stop()
    assert rc != -9, "fjord did not stop within 10 s of SIGTERM and had to be killed"
    b.start()
    assert consume_assigned(b.bootstrap, "grace", 100) == [(0, i, None, b"g%d" % i) for i in range(100)]


def test_topic_ids_and_partition_counts_survive_restart(start_broker):
    b = start_broker()
    admin = create_topics(b.bootstrap, "ids-a", partitions=1)
    create_topics(b.bootstrap, "ids-b", partitions=4)
    for f in admin.create_partitions([NewPartitions("ids-a", 3)]).values():
        f.result(timeout=15)
    before = describe(b.bootstrap, "ids-a", "ids-b")
    assert before["ids-a"][1] == 3 and before["ids-b"][1] == 4
    assert before["ids-a"][0] != before["ids-b"][0]
    assert all(tid and tid != "AAAAAAAAAAAAAAAAAAAAAA" for tid, _ in before.values())

    b.restart(kill=True)
    assert describe(b.bootstrap, "ids-a", "ids-b") == before
    b.restart()
    assert describe(b.bootstrap, "ids-a", "ids-b") == before

    # deleted topics stay deleted
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for f in admin.delete_topics(["ids-b"], operation_timeout=10).values():
        f.result(timeout=15)
    b.restart(kill=True)
    assert "ids-b" not in AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10).topics


SEGMENT = 1024 * 1024  # Kafka's minimum log.segment.bytes


def test_many_segments_survive_restart(start_broker, tmp_path):
    b = start_broker({"log.segment.bytes": str(SEGMENT)})
    create_topics(b.bootstrap, "segs")
    values = [(b"%06d" % i) + bytes([65 + i % 26]) * 1018 for i in range(5000)]  # ~5 MB, 1 KiB each
    reports = produce(b.bootstrap, "segs", values, acks="all", **{"batch.size": 16384})
    assert [(r[0], r[2]) for r in reports] == [(None, i) for i in range(5000)]

    part_dir = b.log_dir / "segs-0"
    logs = sorted(part_dir.glob("*.log"))
    names = [p.name for p in logs]
    assert all(re.fullmatch(r"\d{20}\.log", n) for n in names), names
    assert len(logs) >= 4, f"expected several segments of <= {SEGMENT} bytes, got {names}"
    assert names[0] == "00000000000000000000.log"
    for p in logs:
        base = int(p.name[:20])
        assert p.stat().st_size <= SEGMENT, (p.name, p.stat().st_size)
        # the file starts with a batch whose baseOffset is the segment's base offset
        with open(p, "rb") as f:
            head = f.read(8)
        if head:
            assert struct.unpack(">q", head)[0] == base, p.name
        assert (part_dir / f"{p.name[:20]}.index").exists(), f"no offset index for {p.name}"
        assert (part_dir / f"{p.name[:20]}.timeindex").exists(), f"no time index for {p.name}"

    b.restart(kill=True)
    assert consume_assigned(b.bootstrap, "segs", 5000, timeout=60) == [(0, i, None, v) for i, v in enumerate(values)]
    # reading from the middle of a later segment
    mid = int(names[2][:20]) + 3
    assert consume_assigned(b.bootstrap, "segs", 5, start=mid) == [(0, i, None, values[i]) for i in range(mid, mid + 5)]
    reports = produce(b.bootstrap, "segs", [b"next"], acks="all")
    assert reports[0][0] is None and reports[0][2] == 5000


def test_java_idempotent_producer_survives_restart(start_broker, run_java):
    b = start_broker()
    run_java("ProduceConsume", b.bootstrap, "java-restart")
    b.restart(kill=True)
    # 1000 records from the first producer + 10 from the second
    got = consume_assigned(b.bootstrap, "java-restart", 1010)
    assert [g[1] for g in got] == list(range(1010))
    assert got[999][2:] == (b"key-999", b"value-999-" + b"x" * (999 % 50))
    assert got[1009][3] == b"second-9"


def _batch_positions(data):
    pos, out = 0, []
    while pos + 12 <= len(data):
        blen = struct.unpack(">i", data[pos + 8:pos + 12])[0]
        if blen <= 0:
            break
        out.append(pos)
        pos += 12 + blen
    return out


@pytest.mark.parametrize("damage", ["torn-last-batch", "garbage-tail", "zero-tail"])
def test_recovery_truncates_a_damaged_tail(start_broker, damage):
    """What a crash mid-write leaves behind: recovery keeps every complete batch before it."""
    b = start_broker()
    wire.create_topic(b.port, "torn")
    with wire.Conn(b.port) as c:
        for i in range(10):
            assert c.produce("torn", 0, wire.build_batch([b"b%d-%d" % (i, j) for j in range(10)])) == (0, i * 10)
    b.kill()
    log = b.log_dir / "torn-0" / "00000000000000000000.log"
    data = log.read_bytes()
    positions = _batch_positions(data)
    assert len(positions) == 10, f"expected 10 batches in {log.name}, found {len(positions)}"
    end = positions[-1] + 12 + struct.unpack(">i", data[positions[-1] + 8:positions[-1] + 12])[0]
    if damage == "torn-last-batch":
        with open(log, "r+b") as f:
            f.truncate(positions[-1] + (end - positions[-1]) // 2)
        survivors = 90
    elif damage == "garbage-tail":
        with open(log, "r+b") as f:
            f.truncate(end)
            f.seek(end)
            f.write(bytes(range(7, 250)) * 3)
        survivors = 100
    else:
        with open(log, "r+b") as f:
            f.truncate(end)
            f.seek(end)
            f.write(b"\x00" * 4096)
        survivors = 100
    b.start()
    with wire.Conn(b.port) as c:
        assert c.list_offset("torn", 0) == (wire.NONE, survivors)
        got = []
        while len(got) < survivors:
            err, hw, recs = c.fetch("torn", 0, len(got))
            assert (err, hw) == (wire.NONE, survivors)
            got += [r for r in recs if r[0] >= len(got)]
        assert [(o, v) for o, _k, v in got] == [(i * 10 + j, b"b%d-%d" % (i, j)) for i in range(survivors // 10)
                                                for j in range(10)]
        assert c.produce("torn", 0, wire.build_batch([b"after"])) == (wire.NONE, survivors)
        err, hw, recs = c.fetch("torn", 0, survivors)
        assert (err, hw, recs) == (wire.NONE, survivors + 1, [(survivors, None, b"after")])


def test_a_data_dir_has_one_owner(start_broker):
    """Two brokers on one log dir would both write it: the second refuses to start, as Kafka
    does (its .lock). A killed broker's lock goes with its process, so it restarts at once."""
    import subprocess
    from conftest import FJORD_BIN, free_port
    b = start_broker()
    produce(b.bootstrap, "owned", [b"a", b"b"])
    second = subprocess.run(
        [str(FJORD_BIN), "--override", f"listeners=PLAINTEXT://127.0.0.1:{free_port()}",
         "--override", f"log.dirs={b.log_dir}"],
        capture_output=True, text=True, timeout=30)
    assert second.returncode != 0
    assert f"failed to acquire lock on file .lock in {b.log_dir}" in second.stderr, second.stderr
    # The first broker is unharmed, and a kill -9 leaves no lock behind.
    b.restart(kill=True)
    got = consume_assigned(b.bootstrap, "owned", 2)
    assert [(o, v) for _p, o, _k, v in got] == [(0, b"a"), (1, b"b")]


@pytest.mark.parametrize("shutdown", ["clean", "kill"])
def test_a_flipped_byte_in_an_older_segment_is_caught_on_read(start_broker, shutdown):
    """Bit rot in the middle of the log (not a torn tail): the batches before it are served,
    a read of the damaged batch gets CORRUPT_MESSAGE and an error line naming the partition and
    offset, the batches after it are still served, and the broker keeps working."""
    from kafka import KafkaConsumer, TopicPartition

    b = start_broker()
    wire.create_topic(b.port, "rot", segment_bytes=1 << 20)
    value = lambda i: b"%03d" % i + b"." * 100_000  # noqa: E731
    with wire.Conn(b.port) as c:
        for i in range(25):  # ~2.5 MB: segments 0..9, 10..19, 20..24 (the active one)
            assert c.produce("rot", 0, wire.build_batch([value(i)])) == (wire.NONE, i)
    if shutdown == "clean":
        assert b.stop() == 0
    else:
        b.kill()
    segments = sorted((b.log_dir / "rot-0").glob("*.log"))
    assert len(segments) >= 3, segments
    first = segments[0]
    data = bytearray(first.read_bytes())
    positions = _batch_positions(bytes(data))
    assert len(positions) >= 5
    damaged = 4  # offset 4: one record per batch
    data[positions[damaged] + 5000] ^= 0x01  # inside the record's value, under the CRC
    first.write_bytes(bytes(data))
    b.start()
    with wire.Conn(b.port) as c:
        assert c.list_offset("rot", 0) == (wire.NONE, 25), "nothing was truncated"
        got, err = [], wire.NONE
        while len(got) < 25:
            err, hw, recs = c.fetch("rot", 0, len(got), max_bytes=50 << 20)
            if err != wire.NONE:
                break
            got += recs
        assert (err, len(got)) == (wire.CORRUPT_MESSAGE, damaged)
        assert [v for _o, _k, v in got] == [value(i) for i in range(damaged)]
        err, hw, recs = c.fetch("rot", 0, damaged + 1, max_bytes=50 << 20)
        assert (err, hw, recs[0][0]) == (wire.NONE, 25, damaged + 1)
        assert c.produce("rot", 0, wire.build_batch([b"after"])) == (wire.NONE, 25)
    log = b.stderr_path.read_text().split("start #2")[1]
    assert "damaged batch on disk" in log and "topic=rot" in log and "offset=4" in log, log[-2000:]
    # A real client reads up to the damage and then fails, as with Kafka and check.crcs.
    consumer = KafkaConsumer(bootstrap_servers=b.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        tp = TopicPartition("rot", 0)
        consumer.assign([tp])
        seen, error = [], None
        deadline = time.monotonic() + 15
        while len(seen) < damaged and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=500).values():
                seen += [r.offset for r in recs]
        assert seen == list(range(damaged))
        try:
            while time.monotonic() < deadline:
                for recs in consumer.poll(timeout_ms=500).values():
                    seen += [r.offset for r in recs]
        except Exception as e:  # noqa: BLE001 - checked below
            error = e
        assert seen == list(range(damaged)), "nothing past the damage without a seek"
        # error code 2 (CORRUPT_MESSAGE), raised by kafka-python's poll
        assert type(error).__name__ == "CorruptRecordError", repr(error)
    finally:
        consumer.close()
