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


@pytest.mark.parametrize("mode", ["three-share", "release", "reject", "delivery-limit", "mixed", "console",
                                  "read-committed",
                                  # ShareFetch/ShareAcknowledge v2 (Kafka 4.2): KIP-1206, KIP-1222
                                  "record-limit", "renew",
                                  # per-group configs of Kafka 4.3 (KIP-1240)
                                  "renew-disabled", "group-limits"])
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


# Durable share-partition state (design §8): __share_group_state survives the broker's restart.

def accepted_once(members):
    """{key: (member index, time)} of every confirmed acceptance; no key confirmed twice."""
    seen = {}
    for i, m in enumerate(members):
        for t, line in m.events("ACKED "):
            key = int(line.split()[1])
            assert key not in seen, f"key {key} accepted twice (members {seen[key][0]} and {i})"
            seen[key] = (i, t)
    return seen


def test_accepted_records_are_never_redelivered_across_a_broker_sigkill(start_broker, java_classes):
    """The issue's proof: a share consumer accepts 3,000 records with commitSync in explicit mode,
    ten at a time; the broker is SIGKILLed after about half and restarted; the consumer goes on
    (or a new one does). Every key is accepted exactly once as confirmed by a successful commit, no
    key is delivered after its acceptance was confirmed, and all 3,000 end up accepted: a fresh
    member afterwards is given only the one record produced after them."""
    b = start_broker(SHARE_OVERRIDES)
    accept_all_across(java_classes, b.bootstrap, "sh-dur", "sg-dur", 3000, lambda: b.restart(kill=True))


def accept_all_across(java_classes, bootstrap, topic, group, n, disrupt, after=None):
    """ShareMembers in survive mode accept records 0..n-1 ten at a time; `disrupt()` runs once
    about half are accepted (a SIGKILL and restart), `after()` (if given) once more than three
    quarters are. Asserts: every key accepted exactly once as confirmed by a successful commit,
    none delivered after its acceptance was confirmed, and nothing left: a fresh member is given
    only the one record produced after them. Returns the members' output lines."""
    members = [JavaProc(java_classes, "ShareMember", bootstrap, topic, group, "survive",
                        "produce", str(n), "small")]
    try:
        deadline = time.monotonic() + 120
        while len(acked(members[0])) < n // 2:
            assert time.monotonic() < deadline and members[0].proc.poll() is None, members[0].output()
            time.sleep(0.01)
        disrupt()
        before = len(acked(members[0]))
        restarted = time.monotonic()
        deadline = restarted + 120
        while True:
            done = set().union(*(acked(m) for m in members))
            if after and len(done) > 3 * n // 4:
                after()
                after = None
            if done | unconfirmed(members) >= set(range(n)):
                break
            assert time.monotonic() < deadline, f"{len(done)} accepted:\n" + members[-1].output()
            if all(m.proc.poll() is not None for m in members):
                members.append(JavaProc(java_classes, "ShareMember", bootstrap, topic, group, "survive"))
            time.sleep(0.05)
        if after:
            after()
        confirmed = accepted_once(members)
        for m in members:
            for t, line in m.events("REC "):
                key = int(line.split()[1])
                assert key not in confirmed or t <= confirmed[key][1], \
                    f"key {key} delivered again after its acceptance was confirmed"
        # Keys never confirmed are those whose commit the disruption cut (accepted by the
        # broker, the answer lost): at most the records of one failed commit (a poll may return
        # more than max.poll.records: whole batches are acquired).
        lost = set(range(n)) - set(confirmed)
        groups = failed_commits(members)
        assert any(lost <= g for g in groups + [set()]), \
            f"never confirmed: {sorted(lost)}; failed commits: {[sorted(g) for g in groups]}\n" + \
            "\n".join(l for m in members for l in m.lines if l.startswith(("ACKFAIL-CAUSE", "POLLFAIL")))
        causes = [l for m in members for l in m.lines if l.startswith("ACKFAIL-CAUSE")]
        if causes:
            print("\n" + "\n".join(causes))
        first = members[0].events("REC ")[0][0]
        pre = [t for t, _ in members[0].events("ACKED ") if t < restarted]
        if pre:
            print(f"\nbefore the kill: {len(pre)} accepted in {pre[-1] - first:.2f} s "
                  f"({(pre[-1] - first) / (len(pre) / 10) * 1000:.1f} ms per poll + commitSync of 10)")
        print(f"\n{before} accepted before the SIGKILL, {len(confirmed) - before} after; "
              f"{len(lost)} accepted by the broker but not confirmed to the client; members {len(members)}")
    finally:
        for m in members:
            m.stop()
    # Nothing of the n is left to deliver: a new member gets only the record produced now.
    fresh = JavaProc(java_classes, "ShareMember", bootstrap, topic, group, "accept", "produce", "1")
    try:
        wait_acked(fresh, {0}, timeout=60)
        assert recs(fresh) == {0: [1]}
    finally:
        fresh.stop()


def failed_commits(members):
    """The keys of each failed commit: the ACKFAIL lines after one ACKFAIL-CAUSE."""
    groups = []
    for m in members:
        for line in m.lines:
            if line.startswith("ACKFAIL-CAUSE"):
                groups.append(set())
            elif line.startswith("ACKFAIL "):
                groups[-1].add(int(line.split()[1]))
    return groups


def unconfirmed(members):
    return {int(l.split()[1]) for m in members for l in m.lines if l.startswith("ACKFAIL ")}



def test_unacknowledged_records_come_back_after_a_broker_sigkill(start_broker, java_classes):
    """Ten records are accepted; twenty more are acquired and held (30 s lock) when the broker is
    SIGKILLed. After the restart a new member is given exactly the twenty held ones, once each
    with deliveryCount 1 (acquisitions are not persisted, as in Kafka), and none of the ten."""
    b = start_broker(GROUP_OVERRIDES)
    first = JavaProc(java_classes, "ShareMember", b.bootstrap, "sh-held", "sg-held", "accept", "produce", "10")
    try:
        wait_acked(first, set(range(10)), timeout=60)
    finally:
        first.stop()
    # keys 0..19 again, at offsets 10..29
    holder = JavaProc(java_classes, "ShareMember", b.bootstrap, "sh-held", "sg-held", "hold", "produce", "20")
    try:
        holder.wait_line("HELD", timeout=60)
        assert recs(holder) == {k: [1] for k in range(20)}
        b.kill()
        holder.stop()
    finally:
        holder.stop()
    b.start()
    after = JavaProc(java_classes, "ShareMember", b.bootstrap, "sh-held", "sg-held", "accept")
    try:
        wait_acked(after, set(range(20)), timeout=60)
        assert recs(after) == {k: [1] for k in range(20)}
    finally:
        after.stop()


def test_an_idle_groups_start_offset_survives_a_clean_restart(start_broker, java_classes):
    """Ten records accepted, the member gone, the broker restarted (SIGTERM): the group starts
    again at offset 10 (SPSO), not at the earliest offset its share.auto.offset.reset says."""
    b = start_broker(GROUP_OVERRIDES)
    first = JavaProc(java_classes, "ShareMember", b.bootstrap, "sh-idle", "sg-idle", "accept", "produce", "10")
    try:
        wait_acked(first, set(range(10)), timeout=60)
    finally:
        first.stop()
    b.restart()
    # keys 0..4 again, at offsets 10..14
    after = JavaProc(java_classes, "ShareMember", b.bootstrap, "sh-idle", "sg-idle", "accept", "produce", "5")
    try:
        wait_acked(after, set(range(5)), timeout=60)
        assert recs(after) == {k: [1] for k in range(5)}
    finally:
        after.stop()
