"""Share groups (KIP-932, "Queues for Kafka") with Java kafka-clients 4.3's KafkaShareConsumer.

In-process scenarios live in java/ShareScenarios.java (members as threads of one JVM);
scenarios where a member dies or freezes run java/ShareMember.java as separate JVMs that this
file SIGKILLs or SIGSTOPs. Apache Kafka 4.2's behaviour is the expectation.
"""
import signal
import time

import pytest

from conftest import GROUP_OVERRIDES, JavaProc

LOCK_MS = 3000
# Kafka's lower bound for the acquisition lock is 15 s; the tests lower it to see expiries.
SHARE_OVERRIDES = {**GROUP_OVERRIDES, "group.share.min.record.lock.duration.ms": "1000",
                   "group.share.record.lock.duration.ms": str(LOCK_MS)}


@pytest.fixture
def sbroker(start_broker):
    return start_broker(SHARE_OVERRIDES)


@pytest.mark.parametrize("mode", ["three-share", "release", "reject", "delivery-limit", "mixed", "console"])
def test_share_consumer_scenarios(sbroker, run_java, mode):
    out = run_java("ShareScenarios", mode, sbroker.bootstrap, f"sh-{mode}", f"sg-{mode}")
    assert "OK" in out


def test_lock_expiry_hands_a_stalled_members_records_on(sbroker, run_java):
    out = run_java("ShareScenarios", "lock-expiry", sbroker.bootstrap, "sh-lock", "sg-lock", str(LOCK_MS))
    assert "OK" in out


def recs(member):
    """{key: [deliveryCount, ...]} from a ShareMember's REC lines."""
    got = {}
    for line in member.lines:
        if line.startswith("REC "):
            _, key, count = line.split()
            got.setdefault(int(key), []).append(int(count))
    return got


def acked(member):
    return {int(l.split()[1]) for l in member.lines if l.startswith("ACKED ")}


def wait_acked(member, keys, timeout):
    deadline = time.monotonic() + timeout
    while not keys <= acked(member):
        assert time.monotonic() < deadline and member.proc.poll() is None, \
            f"acknowledged {sorted(acked(member))}, want {sorted(keys)}:\n" + "\n".join(member.lines[-40:])
        time.sleep(0.05)


def test_killed_members_records_come_back_at_once(start_broker, java_classes):
    """A member holding acquired records is SIGKILLed: its connection closes and, as in Kafka 4.2,
    its share session is closed and the records released at once (well before the 15 s lock),
    with the undelivered attempt taken back (deliveryCount 1 again)."""
    b = start_broker(GROUP_OVERRIDES)  # the default 30 s acquisition lock
    holder = JavaProc(java_classes, "ShareMember", b.bootstrap, "sh-kill", "sg-kill", "hold", "produce", "20")
    survivor = None
    try:
        holder.wait_line("HELD", timeout=60)
        assert recs(holder) == {k: [1] for k in range(20)}
        survivor = JavaProc(java_classes, "ShareMember", b.bootstrap, "sh-kill", "sg-kill", "accept")
        survivor.wait_line("JOINED", timeout=60)
        holder.sigkill()
        killed = time.monotonic()
        wait_acked(survivor, set(range(20)), timeout=20)
        took = time.monotonic() - killed
        assert took < 15, f"records came back {took:.1f}s after the kill"
        assert recs(survivor) == {k: [1] for k in range(20)}
        print(f"\nrecords of the killed member accepted by the survivor {took * 1000:.0f} ms after the kill")
    finally:
        holder.stop()
        if survivor:
            survivor.stop()


def test_stopped_members_records_come_back_after_the_lock(sbroker, java_classes):
    """A SIGSTOPped member keeps its connection open, so its records come back only when their
    acquisition locks expire, with deliveryCount 2."""
    holder = JavaProc(java_classes, "ShareMember", sbroker.bootstrap, "sh-stop", "sg-stop", "hold", "produce", "20")
    survivor = None
    try:
        holder.wait_line("HELD", timeout=60)
        held_at = holder.events("HELD")[0][0]
        holder.proc.send_signal(signal.SIGSTOP)
        survivor = JavaProc(java_classes, "ShareMember", sbroker.bootstrap, "sh-stop", "sg-stop", "accept")
        wait_acked(survivor, set(range(20)), timeout=60)
        first = min(t for t, _ in survivor.events("REC "))
        assert first - held_at >= LOCK_MS / 1000 - 0.5, f"redelivered {first - held_at:.2f}s after the hold"
        assert recs(survivor) == {k: [2] for k in range(20)}
    finally:
        holder.proc.send_signal(signal.SIGCONT)
        holder.stop()
        if survivor:
            survivor.stop()
