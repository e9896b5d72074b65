"""Transactions and exactly-once (KIP-98) with Java kafka-clients 4.3 and confluent-kafka.

Apache Kafka's behaviour is the expectation: every COMMIT/ABORT marker takes an offset, a
read_committed consumer stops at the last stable offset and never sees aborted records, a
second producer with the same transactional.id fences the first, the coordinator aborts a
transaction left open past transaction.timeout.ms, and transaction state survives a broker
SIGKILL. Java scenarios live in java/TxnScenarios.java; they assert on their own and print
REC/END lines where this file asserts instead.
"""
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from conftest import GROUP_OVERRIDES, JavaProc, create_topics


def parse_dump(out):
    recs = [(int(l.split(" ", 2)[1]), l.split(" ", 2)[2]) for l in out.splitlines() if l.startswith("REC ")]
    ends = [int(l.split(" ")[1]) for l in out.splitlines() if l.startswith("END ")]
    assert len(ends) == 1, out
    return recs, ends[0]


def dump(run_java, bootstrap, topic, isolation, end, wait_ms=15000):
    """Records of partition 0 at the isolation level once its end offset is `end` (waits up to wait_ms)."""
    recs, got_end = parse_dump(run_java("TxnScenarios", "dump", bootstrap, topic, isolation, end, wait_ms))
    assert got_end == end
    return recs


def seq(prefix, n, first_offset):
    return [(first_offset + i, f"{prefix}{i}") for i in range(n)]


# --- Java kafka-clients 4.3 --------------------------------------------------------------------

def test_java_commit_10_abort_10_read_committed(broker, run_java):
    out = run_java("TxnScenarios", "commit-abort", broker.bootstrap, "txn-ca", "tx-ca")
    assert "SUMMARY committed=10 uncommitted=20 end=22" in out and "OK" in out
    # The same log read by a fresh JVM: exact records at both isolation levels.
    assert dump(run_java, broker.bootstrap, "txn-ca", "read_committed", 22) == seq("committed-", 10, 0)
    assert dump(run_java, broker.bootstrap, "txn-ca", "read_uncommitted", 22) == \
        seq("committed-", 10, 0) + seq("aborted-", 10, 11)


def test_java_consume_transform_produce_exactly_once(start_broker, run_java):
    b = start_broker(GROUP_OVERRIDES)
    out = run_java("TxnScenarios", "ctp", b.bootstrap, "ctp-in", "ctp-out", "ctp-group", "tx-ctp")
    assert "OK" in out
    lines = out.splitlines()
    assert any(l.startswith("RUN1 ") and l.endswith(" output=30") for l in lines), out
    assert any(l.startswith("RUN2 aborted=") for l in lines), out
    assert any(l.startswith("RUN3 ") and l.endswith(" output=40") for l in lines), out


def test_java_second_producer_fences_first(broker, run_java):
    out = run_java("TxnScenarios", "fence", broker.bootstrap, "txn-fence", "tx-fence")
    assert "OK" in out
    assert any(l.startswith("FENCED send ") for l in out.splitlines()), out
    assert any(l.startswith("FENCED commit ") for l in out.splitlines()), out


def test_java_open_transaction_aborted_after_timeout(broker, run_java):
    out = run_java("TxnScenarios", "timeout", broker.bootstrap, "txn-timeout", "tx-timeout")
    assert "OK" in out
    assert any(l.startswith("STALE commit ") for l in out.splitlines()), out


def test_broker_sigkill_mid_transaction_open_data_never_visible(broker, java_classes, run_java):
    # before-0..2 committed (marker at 3), open-0..4 at 4..8 flushed but never committed.
    p = JavaProc(java_classes, "TxnScenarios", "open", broker.bootstrap, "txn-crash", "tx-crash", 3000)
    try:
        p.wait_line("FLUSHED")
        broker.restart(kill=True)
        p.proc.stdin.write("die\n")
        p.proc.stdin.flush()
        assert p.proc.wait(10) == 0, "\n".join(p.lines)
    finally:
        p.stop()
    # The coordinator still knows the transaction after the restart and aborts it at its
    # timeout: ABORT marker at 9, last stable offset 10.
    assert dump(run_java, broker.bootstrap, "txn-crash", "read_committed", 10) == seq("before-", 3, 0)
    assert dump(run_java, broker.bootstrap, "txn-crash", "read_uncommitted", 10) == \
        seq("before-", 3, 0) + seq("open-", 5, 4)
    # A new incarnation of the transactional id carries on after it.
    assert "COMMITTED" in run_java("TxnScenarios", "commit-n", broker.bootstrap, "txn-crash", "tx-crash", "after-", 2, 10)
    assert dump(run_java, broker.bootstrap, "txn-crash", "read_committed", 13) == \
        seq("before-", 3, 0) + seq("after-", 2, 10)


def test_broker_sigkill_mid_transaction_producer_commits_after_restart(broker, java_classes, run_java):
    # The open transaction (and its partition) survives the crash in __transaction_state; within
    # transaction.timeout.ms the same producer commits it once the broker is back.
    p = JavaProc(java_classes, "TxnScenarios", "open", broker.bootstrap, "txn-crash-commit", "tx-crash-commit", 60000)
    try:
        p.wait_line("FLUSHED")
        broker.restart(kill=True)
        assert dump(run_java, broker.bootstrap, "txn-crash-commit", "read_committed", 4, wait_ms=5000) == \
            seq("before-", 3, 0)
        p.proc.stdin.write("commit\n")
        p.proc.stdin.flush()
        p.wait_line("COMMITTED")
        assert p.proc.wait(30) == 0, "\n".join(p.lines)
    finally:
        p.stop()
    # COMMIT marker at 9
    assert dump(run_java, broker.bootstrap, "txn-crash-commit", "read_committed", 10) == \
        seq("before-", 3, 0) + seq("open-", 5, 4)


def test_broker_sigkill_after_commit_everything_visible(broker, run_java):
    assert "COMMITTED" in run_java("TxnScenarios", "commit-n", broker.bootstrap, "txn-kc", "tx-kc", "c-", 5, 0)
    broker.restart(kill=True)
    assert dump(run_java, broker.bootstrap, "txn-kc", "read_committed", 6) == seq("c-", 5, 0)
    assert "COMMITTED" in run_java("TxnScenarios", "commit-n", broker.bootstrap, "txn-kc", "tx-kc", "d-", 2, 6)
    assert dump(run_java, broker.bootstrap, "txn-kc", "read_committed", 9) == seq("c-", 5, 0) + seq("d-", 2, 6)


# --- confluent-kafka (librdkafka 2.12) ---------------------------------------------------------

def ck_read_all(bootstrap, topic, isolation, end, timeout=20):
    """assign() from the beginning, read to partition EOF at `end`: [(offset, value)], position."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ck-txn-reader", "enable.auto.commit": False,
                  "isolation.level": isolation, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert time.monotonic() < deadline, f"no EOF at {end} within {timeout}s ({isolation}, read {out})"
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                if m.offset() == end:
                    break
                continue
            out.append((m.offset(), m.value().decode()))
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, end)
        assert c.position([TopicPartition(topic, 0)])[0].offset == end
        assert c.poll(0.5) is None
    finally:
        c.close()
    return out


def txn_producer(bootstrap, txid):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txid, "linger.ms": 5})
    p.init_transactions(30)
    return p


def produce_in_txn(p, topic, prefix, n):
    """Produce inside the current transaction and flush; return the delivered offsets."""
    reports = []
    for i in range(n):
        p.produce(topic, key=b"k%d" % i, value=f"{prefix}{i}".encode(),
                  on_delivery=lambda err, m: reports.append((err, m.offset())))
    assert p.flush(30) == 0
    assert [e for e, _ in reports] == [None] * n
    return [o for _, o in reports]


def test_confluent_commit_and_abort_read_committed(broker):
    create_topics(broker.bootstrap, "ck-txn")
    p = txn_producer(broker.bootstrap, "ck-tx")
    p.begin_transaction()
    assert produce_in_txn(p, "ck-txn", "committed-", 10) == list(range(10))
    p.commit_transaction(30)
    p.begin_transaction()
    assert produce_in_txn(p, "ck-txn", "aborted-", 10) == list(range(11, 21))
    p.abort_transaction(30)
    assert ck_read_all(broker.bootstrap, "ck-txn", "read_committed", 22) == seq("committed-", 10, 0)
    assert ck_read_all(broker.bootstrap, "ck-txn", "read_uncommitted", 22) == \
        seq("committed-", 10, 0) + seq("aborted-", 10, 11)


def test_confluent_send_offsets_to_transaction(start_broker):
    b = start_broker(GROUP_OVERRIDES)
    create_topics(b.bootstrap, "ck-eos-in", "ck-eos-out")
    plain = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(15):
        plain.produce("ck-eos-in", value=f"in-{i}".encode())
    assert plain.flush(30) == 0

    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "ck-eos-g", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    p = txn_producer(b.bootstrap, "ck-eos")
    tp = TopicPartition("ck-eos-in", 0)
    try:
        c.subscribe(["ck-eos-in"])

        def consume(n):
            got = []
            deadline = time.monotonic() + 30
            while len(got) < n:
                assert time.monotonic() < deadline, f"consumed only {got}"
                for m in c.consume(num_messages=n - len(got), timeout=0.5):
                    assert m.error() is None, m.error()
                    got.append((m.offset(), m.value().decode()))
            return got

        def committed():
            return c.committed([TopicPartition("ck-eos-in", 0)], timeout=15)[0].offset

        # Transform 12 inputs and commit their offsets with the output.
        got = consume(12)
        assert got == seq("in-", 12, 0)
        p.begin_transaction()
        assert produce_in_txn(p, "ck-eos-out", "T-in-", 12) == list(range(12))
        p.send_offsets_to_transaction(c.position([tp]), c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        assert c.position([tp])[0].offset == 12
        assert committed() == 12

        # Three more, aborted: neither the offsets nor the output become visible.
        got = consume(3)
        assert got == [(12 + i, f"in-{12 + i}") for i in range(3)]
        p.begin_transaction()
        assert produce_in_txn(p, "ck-eos-out", "X-in-", 3) == [13, 14, 15]
        p.send_offsets_to_transaction(c.position([tp]), c.consumer_group_metadata(), 30)
        p.abort_transaction(30)
        assert committed() == 12
    finally:
        c.close()
    # ABORT marker at 16
    assert ck_read_all(b.bootstrap, "ck-eos-out", "read_committed", 17) == seq("T-in-", 12, 0)
    assert ck_read_all(b.bootstrap, "ck-eos-out", "read_uncommitted", 17) == \
        seq("T-in-", 12, 0) + seq("X-in-", 3, 13)
