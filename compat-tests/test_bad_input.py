"""Hostile or broken input on raw sockets: one bad connection never hurts another."""
import struct

import pytest

import wire
from kafka.protocol.metadata import MetadataRequest_v4


def assert_serving(broker):
    """A fresh connection still gets a valid ApiVersions answer and the process is alive."""
    assert broker.alive(), "fjord exited:\n" + broker.stderr_tail()
    with wire.Conn(broker.port) as c:
        versions = c.api_versions()
    assert 18 in versions and 0 in versions and 1 in versions and 3 in versions


def test_frame_larger_than_socket_request_max_bytes(start_broker):
    b = start_broker({"socket.request.max.bytes": str(1024 * 1024)})
    bystander = wire.Conn(b.port)
    with wire.Conn(b.port) as c:
        c.send_raw(struct.pack(">i", 64 * 1024 * 1024) + b"\x00\x12\x00\x00" + b"\x00" * 100)
        assert c.wait_closed(5), "connection with an oversized frame was not closed"
    assert bystander.api_versions()[18]
    bystander.close()
    assert_serving(b)


def test_negative_frame_length(broker):
    with wire.Conn(broker.port) as c:
        c.send_raw(struct.pack(">i", -5) + b"\x00" * 16)
        assert c.wait_closed(5), "connection with a negative frame length was not closed"
    assert_serving(broker)


def test_garbage_bytes_close_only_that_connection(broker):
    bystander = wire.Conn(broker.port)
    assert bystander.api_versions()
    with wire.Conn(broker.port) as c:
        c.send_frame(b"\xff" * 37)
        assert c.wait_closed(5), "connection sending garbage was not closed"
    assert bystander.api_versions(), "an unrelated connection was hurt"
    bystander.close()
    assert_serving(broker)


def test_truncated_request_body(broker):
    with wire.Conn(broker.port) as c:
        req = MetadataRequest_v4(topics=["aaaa", "bbbb"], allow_auto_topic_creation=False)
        full = c.header(3, 4) + req.encode()
        c.send_frame(full[:-7])  # a complete frame whose body ends mid-field
        assert c.wait_closed(5), "connection with a truncated request body was not closed"
    assert_serving(broker)


def test_partial_frame_then_disconnect(broker):
    with wire.Conn(broker.port) as c:
        c.send_raw(struct.pack(">i", 100) + b"\x00\x12\x00\x00\x00\x00")
    assert_serving(broker)


def test_unknown_api_key(broker):
    other = wire.Conn(broker.port)
    assert other.api_versions()
    with wire.Conn(broker.port) as c:
        c.send_frame(c.header(9999, 0, corr=77))
        # Kafka closes the connection; an error answer with our correlation id is tolerated
        try:
            frame = c.recv_frame(timeout=5)
        except wire.Closed:
            frame = None
        if frame is not None:
            assert struct.unpack(">i", frame[:4])[0] == 77
        # meanwhile the parallel connection keeps working
        assert other.api_versions()
    other.close()
    assert_serving(broker)


def test_api_versions_unsupported_version_kip511(broker):
    with wire.Conn(broker.port) as c:
        # what a future client would send: header v2 and a v3+ style body
        body = b"\x0bfjord-test" + b"\x041.0" + b"\x00"
        c.send_frame(c.header(18, 99, corr=4242, flexible=True) + body)
        frame = c.recv_frame(timeout=5)
    corr, err, n = struct.unpack(">ihi", frame[:10])
    assert corr == 4242
    assert err == wire.UNSUPPORTED_VERSION
    assert n > 0, "KIP-511: the v0 error response must still list the supported versions"
    entries = [struct.unpack(">hhh", frame[10 + 6 * i:16 + 6 * i]) for i in range(n)]
    assert len(frame) >= 10 + 6 * n
    api = {k: (lo, hi) for k, lo, hi in entries}
    assert 18 in api and api[18][0] == 0 and api[18][1] >= 3, api
    assert_serving(broker)


def test_api_versions_v0_lists_core_apis(broker):
    with wire.Conn(broker.port) as c:
        v = c.api_versions()
    for key in (0, 1, 2, 3, 18, 19, 20, 22):  # produce fetch list_offsets metadata api_versions create/delete topics init_pid
        assert key in v, f"api key {key} not advertised: {sorted(v)}"
        assert v[key][0] <= v[key][1]
    # KIP-896 baseline that clients rely on
    assert v[0][0] <= 3 and v[1][0] <= 4 and v[18][0] == 0


def _leo(c, topic):
    err, off = c.list_offset(topic, 0, wire.LATEST)
    assert err == wire.NONE
    return off


@pytest.mark.parametrize("where", ["records", "crc-field"])
def test_bad_crc_is_rejected_and_nothing_stored(broker, where):
    wire.create_topic(broker.port, "crc")
    with wire.Conn(broker.port) as c:
        assert c.produce("crc", 0, wire.build_batch([b"one", b"two", b"three"])) == (wire.NONE, 0)
        batch = bytearray(wire.build_batch([b"four", b"five"]))
        if where == "records":
            batch[-2] ^= 0x55
        else:
            batch[17] ^= 0xFF  # CRC field: offset 17..20
        err, _ = c.produce("crc", 0, bytes(batch))
        assert err == wire.CORRUPT_MESSAGE
        assert _leo(c, "crc") == 3
        err, hw, recs = c.fetch("crc", 0, 0)
        assert (err, hw, [r[2] for r in recs]) == (wire.NONE, 3, [b"one", b"two", b"three"])
        # the connection is still usable and the next good batch lands at offset 3
        assert c.produce("crc", 0, wire.build_batch([b"four"])) == (wire.NONE, 3)


def test_batch_larger_than_message_max_bytes(start_broker):
    b = start_broker({"message.max.bytes": "10000"})
    wire.create_topic(b.port, "big")
    with wire.Conn(b.port) as c:
        assert c.produce("big", 0, wire.build_batch([b"small"])) == (wire.NONE, 0)
        err, _ = c.produce("big", 0, wire.build_batch([b"x" * 20000]))
        assert err == wire.MESSAGE_TOO_LARGE
        assert _leo(c, "big") == 1
        assert c.produce("big", 0, wire.build_batch([b"y" * 5000])) == (wire.NONE, 1)


def test_fetch_past_end_is_offset_out_of_range(broker):
    wire.create_topic(broker.port, "oor")
    with wire.Conn(broker.port) as c:
        assert c.produce("oor", 0, wire.build_batch([b"a", b"b", b"c"])) == (wire.NONE, 0)
        err, _hw, recs = c.fetch("oor", 0, 10)
        assert (err, recs) == (wire.OFFSET_OUT_OF_RANGE, [])
        err, _hw, recs = c.fetch("oor", 0, -5)
        assert (err, recs) == (wire.OFFSET_OUT_OF_RANGE, [])
        # fetching exactly at the log end is not an error: it is an (empty) long poll
        assert c.fetch("oor", 0, 3) == (wire.NONE, 3, [])
        # a fetch inside a batch returns the whole batch (clients skip the records before)
        err, hw, recs = c.fetch("oor", 0, 1)
        assert (err, hw, [r for r in recs if r[0] >= 1]) == (wire.NONE, 3, [(1, None, b"b"), (2, None, b"c")])


def test_unknown_partition_and_topic(broker):
    wire.create_topic(broker.port, "onep")
    with wire.Conn(broker.port) as c:
        err, _ = c.produce("onep", 7, wire.build_batch([b"x"]))
        assert err == wire.UNKNOWN_TOPIC_OR_PARTITION
        err, _hw, _ = c.fetch("nosuchtopic", 0, 0)
        assert err == wire.UNKNOWN_TOPIC_OR_PARTITION
        assert c.list_offset("onep", 7)[0] == wire.UNKNOWN_TOPIC_OR_PARTITION
