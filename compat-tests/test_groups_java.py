"""Consumer groups with Java kafka-clients 4.3 (kafka-console-consumer.sh, kafka-consumer-groups.sh).

In-process scenarios live in java/GroupScenarios.java (several members as threads of one JVM);
scenarios that need a member to die without leaving run java/GroupMember.java as separate JVMs
that this file SIGKILLs and restarts. Apache Kafka's behaviour is the expectation.
"""
import signal
import time

import pytest

from conftest import KIP848_OVERRIDES, JavaProc, produce_per_partition, require_kip848, wait_until
import wire


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_three_members_split_six_partitions_then_one_leaves(gbroker, run_java, assignor):
    out = run_java("GroupScenarios", "split", gbroker.bootstrap, f"split-{assignor}", f"g-split-{assignor}", assignor)
    assert "OK" in out


def test_restarted_consumer_resumes_at_committed_offset(gbroker, run_java):
    assert "OK" in run_java("GroupScenarios", "resume", gbroker.bootstrap, "resume", "g-resume")


def test_committed_offsets_survive_broker_sigkill(gbroker, run_java):
    assert "OK" in run_java("GroupScenarios", "commit", gbroker.bootstrap, "restart-offsets", "g-restart")
    gbroker.restart(kill=True)
    assert "OK" in run_java("GroupScenarios", "resume-after-restart", gbroker.bootstrap, "restart-offsets", "g-restart")


def test_admin_as_kafka_consumer_groups_sh(gbroker, run_java):
    assert "OK" in run_java("GroupScenarios", "admin", gbroker.bootstrap, "adm", "g-admin")


def test_console_consumer_group_auto_commit(gbroker, run_java):
    assert "OK" in run_java("GroupScenarios", "console", gbroker.bootstrap, "console-topic", "console-consumer-12345")


def test_kip848_consumer_protocol_two_members(start_broker, run_java):
    b = start_broker(KIP848_OVERRIDES)
    require_kip848(b)
    assert "OK" in run_java("GroupScenarios", "kip848", b.bootstrap, "kip848", "g-kip848")


# --- members as separate JVMs -----------------------------------------------------------------

class JavaMember(JavaProc):
    """A GroupMember JVM; reads the group events it prints (ASSIGNED, REVOKED, LOST, REC, COMMITTED)."""

    def __init__(self, java_classes, bootstrap, topic, group, name, **configs):
        self.name = name
        super().__init__(java_classes, "GroupMember", bootstrap, topic, group,
                         *[f"{k.replace('_', '.')}={v}" for k, v in configs.items()])

    def check_alive(self):
        errs = [l for _, l in self.events("ERROR")]
        assert not errs, f"{self.name}: {errs}\n" + self.output()
        assert self.proc.poll() is None, f"{self.name} exited {self.proc.returncode}:\n" + self.output()

    def assignments(self):
        """[(time, generation, member id, [partitions])] from ASSIGNED lines."""
        out = []
        for t, l in self.events("ASSIGNED "):
            parts = l.split(" ")
            ps = [int(x) for x in parts[3].split(",")] if len(parts) > 3 and parts[3] else []
            out.append((t, int(parts[1]), parts[2], ps))
        return out

    def current(self):
        """Current partitions from the event stream (ASSIGNED is the whole assignment)."""
        cur = []
        for _, l in self.events():
            if l.startswith("ASSIGNED "):
                p = l.split(" ")
                cur = [int(x) for x in p[3].split(",")] if len(p) > 3 and p[3] else []
            elif l.startswith("REVOKED ") or l.startswith("LOST "):
                gone = {int(x) for x in l.split(" ", 1)[1].split(",") if x}
                cur = [x for x in cur if x not in gone]
        return sorted(cur)

    def records(self):
        return [(int(l.split(" ")[1]), int(l.split(" ")[2]), l.split(" ", 3)[3]) for _, l in self.events("REC ")]

    def committed(self):
        """Latest committed position per partition from COMMITTED lines."""
        out = {}
        for _, l in self.events("COMMITTED "):
            for kv in l.split(" ", 1)[1].split(","):
                p, o = kv.split("=")
                out[int(p)] = int(o)
        return out


@pytest.fixture
def java_member(java_classes):
    started = []

    def _start(*args, **kw):
        m = JavaMember(java_classes, *args, **kw)
        started.append(m)
        return m

    yield _start
    for m in started:
        if m.proc.poll() is None:
            m.proc.kill()
            m.proc.wait(10)


def describe(run_java, bootstrap, group):
    out = run_java("GroupScenarios", "describe", bootstrap, group)
    d = {"members": []}
    for line in out.splitlines():
        k, _, v = line.partition(" ")
        if k == "member":
            mid, inst, client, ps = (v.split(" ") + [""])[:4]
            d["members"].append((mid, inst, client, ps))
        elif k in ("state", "type", "assignor"):
            d[k] = v
    return d


SESSION_MS = 6000


def test_killed_member_is_evicted_after_session_timeout(gbroker, java_member):
    topic, group = "evict", "g-evict"
    wire.create_topic(gbroker.port, topic, partitions=4)
    a = java_member(gbroker.bootstrap, topic, group, "survivor", session_timeout_ms=SESSION_MS,
                    heartbeat_interval_ms=1000, client_id="survivor")
    wait_until(lambda: (a.check_alive(), a.current() == [0, 1, 2, 3])[1], timeout=30,
               what="survivor owns all 4 partitions")
    b = java_member(gbroker.bootstrap, topic, group, "victim", session_timeout_ms=SESSION_MS,
                    heartbeat_interval_ms=1000, client_id="victim")

    def split():
        a.check_alive(), b.check_alive()
        return len(a.current()) == 2 and len(b.current()) == 2 and sorted(a.current() + b.current()) == [0, 1, 2, 3]
    wait_until(split, timeout=30, what="2/2 split between survivor and victim")
    a_parts, b_parts = a.current(), b.current()

    produce_per_partition(gbroker.bootstrap, topic, 4, 0, 10)
    wait_until(lambda: (a.check_alive(), b.check_alive(),
                        a.committed() == {p: 10 for p in a_parts} and b.committed() == {p: 10 for p in b_parts})[-1],
               timeout=30, what="both members read and committed their 20 records")
    assert sorted((p, o) for p, o, _ in a.records()) == [(p, o) for p in a_parts for o in range(10)]
    assert sorted((p, o) for p, o, _ in b.records()) == [(p, o) for p in b_parts for o in range(10)]
    a_events_before = len(a.events())

    b.sigkill()
    t_kill = time.monotonic()
    produce_per_partition(gbroker.bootstrap, topic, 4, 10, 10)

    wait_until(lambda: (a.check_alive(), a.current() == [0, 1, 2, 3])[1], timeout=SESSION_MS / 1000 + 8,
               what="survivor takes over all 4 partitions within session.timeout.ms + margin")
    t_takeover = [t for t, _, _, ps in a.assignments() if ps == [0, 1, 2, 3]][-1]
    elapsed = t_takeover - t_kill
    # Kafka does not evict a classic member when its connection drops, only when its session
    # expires (last heartbeat at most heartbeat.interval.ms before the kill).
    print(f"victim evicted and partitions reassigned {elapsed:.1f}s after SIGKILL")
    assert elapsed >= 3.0, f"victim evicted {elapsed:.1f}s after SIGKILL, before its session ({SESSION_MS} ms) expired"
    new_events = [l for _, l in a.events()[a_events_before:] if not l.startswith(("REC", "COMMITTED"))]
    assert any(l.startswith("ASSIGNED") for l in new_events), new_events

    # the survivor continues at the victim's committed offsets: exactly offsets 10..19 everywhere
    wait_until(lambda: (a.check_alive(), len(a.records()) >= 60)[1], timeout=30, what="survivor reads 40 new records")
    recs = sorted((p, o) for p, o, _ in a.records())
    assert len(recs) == len(set(recs)), "duplicates"
    assert recs == sorted([(p, o) for p in a_parts for o in range(20)] + [(p, o) for p in b_parts for o in range(10, 20)])
    assert all(v == f"p{p}-{o}" for p, o, v in a.records())
    wait_until(lambda: a.committed() == {0: 20, 1: 20, 2: 20, 3: 20}, timeout=15, what="survivor commits 20 everywhere")
    assert a.close() == 0


def test_static_member_restart_does_not_rebalance(gbroker, java_member, run_java):
    topic, group = "static", "g-static"
    session = 10000
    wire.create_topic(gbroker.port, topic, partitions=4)
    a = java_member(gbroker.bootstrap, topic, group, "a", session_timeout_ms=session, heartbeat_interval_ms=1000,
                    client_id="static-a", group_instance_id="inst-a")
    wait_until(lambda: (a.check_alive(), a.current() == [0, 1, 2, 3])[1], timeout=30, what="a owns all 4")
    b = java_member(gbroker.bootstrap, topic, group, "b", session_timeout_ms=session, heartbeat_interval_ms=1000,
                    client_id="static-b", group_instance_id="inst-b")
    wait_until(lambda: (a.check_alive(), b.check_alive(),
                        len(a.current()) == 2 and len(b.current()) == 2
                        and sorted(a.current() + b.current()) == [0, 1, 2, 3])[-1],
               timeout=30, what="2/2 split between static members a and b")
    a_parts, b_parts = a.current(), b.current()
    (_, a_gen, a_id, _), = a.assignments()[-1:]
    (_, b_gen, b_id, _), = b.assignments()[-1:]
    assert a_gen == b_gen
    d = describe(run_java, gbroker.bootstrap, group)
    assert d["state"] == "Stable"
    assert sorted(d["members"]) == sorted([(a_id, "inst-a", "static-a", ",".join(map(str, a_parts))),
                                           (b_id, "inst-b", "static-b", ",".join(map(str, b_parts)))])
    a_events_before = len(a.events())

    # b dies without a LeaveGroup and comes back with the same group.instance.id well within its session
    b.sigkill()
    t_kill = time.monotonic()
    b2 = java_member(gbroker.bootstrap, topic, group, "b2", session_timeout_ms=session, heartbeat_interval_ms=1000,
                     client_id="static-b", group_instance_id="inst-b")
    wait_until(lambda: (b2.check_alive(), b2.assignments())[1], timeout=session / 1000 - 1,
               what="restarted static member gets its assignment")
    assert time.monotonic() - t_kill < session / 1000, "restart took longer than the session timeout; test invalid"
    (_, b2_gen, b2_id, b2_parts), = b2.assignments()
    assert b2_parts == b_parts, "static member must get its previous partitions back"
    assert b2_gen == b_gen, f"generation bumped from {b_gen} to {b2_gen}: the static rejoin caused a rebalance"
    assert b2_id != b_id, "the rejoining static member gets a new member id"

    # Nothing happens to a, not even once the old incarnation's session would have expired.
    deadline = t_kill + session / 1000 + 3
    while time.monotonic() < deadline:
        a.check_alive(), b2.check_alive()
        time.sleep(0.2)
    a_new = [l for _, l in a.events()[a_events_before:] if not l.startswith(("REC", "COMMITTED"))]
    assert a_new == [], f"member a saw a rebalance: {a_new}"
    assert [x[1:] for x in b2.assignments()] == [(b_gen, b2_id, b_parts)], b2.output()
    d = describe(run_java, gbroker.bootstrap, group)
    assert d["state"] == "Stable"
    assert sorted(d["members"]) == sorted([(a_id, "inst-a", "static-a", ",".join(map(str, a_parts))),
                                           (b2_id, "inst-b", "static-b", ",".join(map(str, b_parts)))])

    # the group still works: records on every partition reach their owner exactly once
    produce_per_partition(gbroker.bootstrap, topic, 4, 0, 5)
    wait_until(lambda: len(a.records()) + len(b2.records()) >= 20, timeout=30, what="20 records")
    assert sorted((p, o) for p, o, _ in a.records()) == [(p, o) for p in a_parts for o in range(5)]
    assert sorted((p, o) for p, o, _ in b2.records()) == [(p, o) for p in b_parts for o in range(5)]
    assert a.close() == 0
    assert b2.close() == 0


def test_frozen_member_is_fenced_then_rejoins(gbroker, java_member):
    """SIGSTOP a member past its session: it is evicted; on SIGCONT it learns so (UNKNOWN_MEMBER_ID),
    loses its partitions, rejoins with a new member id and the group splits again."""
    topic, group = "frozen", "g-frozen"
    wire.create_topic(gbroker.port, topic, partitions=4)
    a = java_member(gbroker.bootstrap, topic, group, "a", session_timeout_ms=SESSION_MS, heartbeat_interval_ms=1000)
    wait_until(lambda: (a.check_alive(), a.current() == [0, 1, 2, 3])[1], timeout=30, what="a owns all 4")
    b = java_member(gbroker.bootstrap, topic, group, "b", session_timeout_ms=SESSION_MS, heartbeat_interval_ms=1000)
    wait_until(lambda: (a.check_alive(), b.check_alive(), len(a.current()) == 2 and len(b.current()) == 2
                        and sorted(a.current() + b.current()) == [0, 1, 2, 3])[-1], timeout=30, what="2/2 split")
    (_, gen, b_id, b_parts), = b.assignments()[-1:]

    b.proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: (a.check_alive(), a.current() == [0, 1, 2, 3])[1], timeout=SESSION_MS / 1000 + 8,
                   what="a takes all 4 partitions from the frozen member")
        (_, a_gen, _, _), = a.assignments()[-1:]
        assert a_gen > gen
        b_events_before = len(b.events())
    finally:
        b.proc.send_signal(signal.SIGCONT)

    def resplit():
        a.check_alive(), b.check_alive()
        return len(a.current()) == 2 and len(b.current()) == 2 and sorted(a.current() + b.current()) == [0, 1, 2, 3]
    wait_until(resplit, timeout=30, what="2/2 split again after the frozen member wakes up")
    b_new = [l for _, l in b.events()[b_events_before:] if not l.startswith(("REC", "COMMITTED"))]
    assert b_new and b_new[0] == "LOST " + ",".join(map(str, b_parts)), \
        f"the evicted member must find its partitions lost (UNKNOWN_MEMBER_ID), got {b_new}"
    (_, b_gen2, b_id2, _), = b.assignments()[-1:]
    assert b_id2 != b_id, "an evicted member rejoins with a new member id"
    assert b_gen2 > a_gen

    produce_per_partition(gbroker.bootstrap, topic, 4, 0, 10)
    wait_until(lambda: len(a.records()) + len(b.records()) >= 40, timeout=30, what="40 records")
    assert sorted((p, o) for p, o, _ in a.records()) == [(p, o) for p in a.current() for o in range(10)]
    assert sorted((p, o) for p, o, _ in b.records()) == [(p, o) for p in b.current() for o in range(10)]
    assert a.close() == 0
    assert b.close() == 0
