"""Fetch data written with sendfile(2) (plain TCP, file ranges of 32 KiB and more) is byte for
byte what the copying path writes (TLS listeners copy every range through a buffer), at every
Fetch version fjord advertises from v4 on, and both carry exactly the bytes of the segment
files."""
import base64
import struct
import uuid

from test_tls import _recv_exact, pki, raw_tls, tls_broker  # noqa: F401 (fixtures)
from wire import Conn, build_batch, create_topic

FETCH = 1
TOPIC = "sendfile"


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def fetch_body(version, topic_id, partitions, max_bytes=64 << 20):
    """A Fetch request body: `partitions` is [(partition, offset, partition max bytes)] of TOPIC
    (by name before v13, by id from v13)."""
    flexible = version >= 12

    def array(items):
        return uvarint(len(items) + 1) if flexible else struct.pack(">i", len(items))

    def string(s):
        b = s.encode()
        return (uvarint(len(b) + 1) if flexible else struct.pack(">h", len(b))) + b

    tags = b"\x00" if flexible else b""
    body = b"" if version >= 15 else struct.pack(">i", -1)  # replica id
    body += struct.pack(">iiib", 0, 1, max_bytes, 0)  # max wait, min bytes, max bytes, isolation
    if version >= 7:
        body += struct.pack(">ii", 0, -1)  # sessionless
    body += array([1])
    body += topic_id.bytes if version >= 13 else string(TOPIC)
    body += array(partitions)
    for p, offset, part_max in partitions:
        body += struct.pack(">i", p)
        if version >= 9:
            body += struct.pack(">i", -1)  # current leader epoch
        body += struct.pack(">q", offset)
        if version >= 12:
            body += struct.pack(">i", -1)  # last fetched epoch
        if version >= 5:
            body += struct.pack(">q", -1)  # log start offset
        body += struct.pack(">i", part_max) + tags
    body += tags  # end of the topic
    if version >= 7:
        body += array([])  # forgotten topics
    if version >= 11:
        body += string("")  # rack id
    return body + tags


def exchange(sock, frame):
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    size, = struct.unpack(">i", _recv_exact(sock, 4))
    return _recv_exact(sock, size)


def segment_bytes(broker, partition):
    path = broker.log_dir / f"{TOPIC}-{partition}" / f"{0:020}.log"
    return path.read_bytes()


def topic_id(broker):
    text = (broker.log_dir / f"{TOPIC}-0" / "partition.metadata").read_text()
    b64 = dict(line.split(": ") for line in text.splitlines())["topic_id"]
    return uuid.UUID(bytes=base64.urlsafe_b64decode(b64 + "=="))


def test_sendfile_and_copied_fetch_data_are_byte_identical_at_every_version(tls_broker, pki):
    b = tls_broker()
    create_topic(b.port, TOPIC, partitions=3)
    with Conn(b.port) as c:
        # Partition 0: 80 batches of ~2 KiB (fetched as ranges far over the sendfile threshold);
        # partition 1: three small batches (copied even on plain TCP); partition 2: empty.
        for i in range(80):
            values = [f"p0-{i}-{j}-".encode() + bytes([65 + (i + j) % 26]) * 180 for j in range(10)]
            assert c.produce(TOPIC, 0, build_batch(values)) == (0, i * 10)
        for i in range(3):
            assert c.produce(TOPIC, 1, build_batch([f"p1-{i}".encode()])) == (0, i)
    p0, p1 = segment_bytes(b, 0), segment_bytes(b, 1)
    assert len(p0) > 150_000 and len(p1) < 1000
    tid = topic_id(b)

    requests = {
        # everything, three partitions in one response (sendfile, copy, nothing)
        "all": [(0, 0, 1 << 20), (1, 0, 1 << 20), (2, 0, 1 << 20)],
        # from the middle of partition 0, and a partition max bytes that cuts its data
        "part": [(0, 400, 50_000), (1, 2, 1 << 20)],
    }
    plain = Conn(b.port)
    tls = raw_tls(b.ssl_port, pki.ca)
    try:
        for version in range(4, 19):
            for name, partitions in requests.items():
                header = struct.pack(">hhih", FETCH, version, version, 4) + b"test"
                if version >= 12:
                    header += b"\x00"
                frame = header + fetch_body(version, tid, partitions)
                over_plain = exchange(plain.sock, frame)
                over_tls = exchange(tls, frame)
                assert over_plain == over_tls, f"v{version} {name}: responses differ"
                if name == "all":
                    # Whole segments fit, so each one appears in the response as it is on disk.
                    assert p0 in over_plain and p1 in over_plain, f"v{version}: data differs"
                else:
                    # Partition 0 from offset 400 (batch 40): whole batches, at least one.
                    tail = p0[batch_position(p0, 400):]
                    assert tail[:40_000] in over_plain, f"v{version}: partial data differs"
    finally:
        plain.close()
        tls.close()


def batch_position(log, offset):
    """Byte position of the batch with base offset `offset` in a segment's bytes."""
    pos = 0
    while pos < len(log):
        base, length = struct.unpack(">qi", log[pos:pos + 12])
        if base == offset:
            return pos
        pos += 12 + length
    raise AssertionError(f"no batch at offset {offset}")
