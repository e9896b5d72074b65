"""Share groups (KIP-932) with the Java Admin client (kafka-share-groups.sh's calls).

KafkaShareConsumer needs ShareFetch too, which fjord does not serve yet, so the members here are
raw ShareGroupHeartbeat v1 requests (flexible encoding, built below); java/ShareAdmin.java then
lists, describes and deletes the group as kafka-share-groups.sh does. Apache Kafka's behaviour
is the expectation.
"""
import struct

from conftest import create_topics
import wire

SHARE_GROUP_HEARTBEAT = 76


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def compact_str(s):
    if s is None:
        return b"\x00"
    data = s.encode()
    return uvarint(len(data) + 1) + data


def heartbeat(conn, group, member, epoch, topics=None):
    """One ShareGroupHeartbeat v1; returns (error_code, member_epoch)."""
    body = compact_str(group) + compact_str(member) + struct.pack(">i", epoch) + compact_str(None)
    if topics is None:
        body += b"\x00"
    else:
        body += uvarint(len(topics) + 1) + b"".join(compact_str(t) for t in topics)
    body += b"\x00"  # tagged fields
    corr = conn.corr + 1
    conn.send_frame(conn.header(SHARE_GROUP_HEARTBEAT, 1, flexible=True) + body)
    frame = conn.recv_frame(10)
    got, = struct.unpack(">i", frame[:4])
    assert got == corr
    # response header v1: correlation id, tagged fields (empty); then throttle, error code.
    assert frame[4] == 0
    _throttle, error = struct.unpack(">ih", frame[5:11])
    rest = frame[11:]
    # error message (compact nullable string), member id (compact nullable string), member epoch
    n = rest[0]
    rest = rest[1 + max(n - 1, 0):]
    n = rest[0]
    rest = rest[1 + max(n - 1, 0):]
    member_epoch, = struct.unpack(">i", rest[:4])
    return error, member_epoch


def java_ok(out):
    assert out.strip().splitlines()[-1] == "OK", out


def test_java_admin_lists_describes_and_deletes_a_share_group(broker, run_java):
    create_topics(broker.bootstrap, "share-t")
    with wire.Conn(broker.port, client_id="share-compat") as c:
        assert heartbeat(c, "sg-admin", "m1", 0, ["share-t"]) == (0, 1)
        assert heartbeat(c, "sg-admin", "m2", 0, ["share-t"]) == (0, 2)
        assert heartbeat(c, "sg-admin", "m1", 1) == (0, 2)
        java_ok(run_java("ShareAdmin", "stable", broker.bootstrap, "sg-admin", "share-t"))
        assert heartbeat(c, "sg-admin", "m1", -1) == (0, -1)
        assert heartbeat(c, "sg-admin", "m2", -1) == (0, -1)
    java_ok(run_java("ShareAdmin", "empty", broker.bootstrap, "sg-admin", "share-t"))


def test_an_empty_share_group_survives_a_hard_restart(broker, run_java):
    create_topics(broker.bootstrap, "share-r")
    with wire.Conn(broker.port, client_id="share-compat") as c:
        assert heartbeat(c, "sg-restart", "m1", 0, ["share-r"]) == (0, 1)
        assert heartbeat(c, "sg-restart", "m1", -1) == (0, -1)
    broker.restart(kill=True)
    java_ok(run_java("ShareAdmin", "empty", broker.bootstrap, "sg-restart", "share-r"))
