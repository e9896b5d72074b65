"""Raw Kafka protocol over a plain socket, for tests that must control the bytes.

Request/response bodies use kafka-python's protocol classes (non-flexible
versions only); framing and headers are built here with struct so a test can
also send deliberately broken frames.
"""
import io
import socket
import struct
import time

from kafka.protocol.api_versions import ApiVersionsRequest_v0
from kafka.protocol.fetch import FetchRequest_v4
from kafka.protocol.init_producer_id import InitProducerIdRequest_v1
from kafka.protocol.list_offsets import ListOffsetsRequest_v2
from kafka.protocol.metadata import MetadataRequest_v4
from kafka.protocol.produce import ProduceRequest_v7
from kafka.record import MemoryRecords
from kafka.record.default_records import DefaultRecordBatchBuilder

# Error codes (Kafka protocol guide)
NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
DUPLICATE_SEQUENCE_NUMBER = 46

EARLIEST = -2
LATEST = -1


class Closed(Exception):
    pass


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=10.0, client_id="fjord-compat"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_id = client_id.encode()
        self.corr = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # --- framing -------------------------------------------------------------
    def header(self, api_key, api_version, corr=None, flexible=False):
        if corr is None:
            self.corr += 1
            corr = self.corr
        h = struct.pack(">hhih", api_key, api_version, corr, len(self.client_id)) + self.client_id
        if flexible:
            h += b"\x00"  # empty tagged fields
        return h

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed(f"connection closed after {len(buf)}/{n} bytes")
            buf += chunk
        return bytes(buf)

    def recv_frame(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            size, = struct.unpack(">i", self._recv_exact(4))
            return self._recv_exact(size)
        except ConnectionResetError as e:
            raise Closed(str(e))

    def wait_closed(self, timeout=5.0):
        """True if the peer closes (EOF or reset) within timeout; bytes received are discarded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
        return False

    # --- typed requests (kafka-python classes) ----------------------------------
    def request(self, req, timeout=10.0):
        corr = self.corr + 1
        self.send_frame(self.header(req.API_KEY, req.API_VERSION) + req.encode())
        if hasattr(req, "expect_response") and not req.expect_response():
            return None
        frame = self.recv_frame(timeout)
        got_corr, = struct.unpack(">i", frame[:4])
        assert got_corr == corr, f"correlation id {got_corr} != {corr}"
        return req.RESPONSE_TYPE.decode(io.BytesIO(frame[4:]))

    def api_versions(self):
        r = self.request(ApiVersionsRequest_v0())
        assert r.error_code == 0, r
        return {k: (lo, hi) for k, lo, hi in r.api_versions}

    def metadata(self, topics, allow_auto_create=False):
        return self.request(MetadataRequest_v4(topics=topics,
                                               allow_auto_topic_creation=allow_auto_create))

    def produce(self, topic, partition, records, acks=-1, timeout_ms=10000, transactional_id=None):
        """Returns (error_code, base_offset) for the single partition."""
        r = self.request(ProduceRequest_v7(transactional_id=transactional_id, required_acks=acks,
                                           timeout=timeout_ms,
                                           topics=[(topic, [(partition, bytes(records))])]))
        if r is None:
            return None
        (t, parts), = r.topics
        (p, err, offset, _ts, _lso), = parts
        assert t == topic and p == partition
        return err, offset

    def fetch(self, topic, partition, offset, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20, timeout=None):
        """Returns (error_code, high_watermark, [records...])."""
        req = FetchRequest_v4(replica_id=-1, max_wait_time=max_wait_ms, min_bytes=min_bytes,
                              max_bytes=max_bytes, isolation_level=0,
                              topics=[(topic, [(partition, offset, max_bytes)])])
        r = self.request(req, timeout=timeout or (max_wait_ms / 1000 + 10))
        (t, parts), = r.topics
        (p, err, hw, _lso, _aborted, data), = parts
        return err, hw, decode_records(data)

    def list_offset(self, topic, partition, ts=LATEST):
        """Returns (error_code, offset)."""
        r = self.request(ListOffsetsRequest_v2(replica_id=-1, isolation_level=0,
                                               topics=[(topic, [(partition, ts)])]))
        (t, parts), = r.topics
        (p, err, _ts, offset), = parts
        return err, offset

    def init_producer_id(self):
        r = self.request(InitProducerIdRequest_v1(transactional_id=None, transaction_timeout_ms=60000))
        assert r.error_code == 0, r
        return r.producer_id, r.producer_epoch


def build_batch(values, key=None, producer_id=-1, producer_epoch=-1, base_sequence=-1,
                timestamp=None, compression=0):
    """A v2 record batch (magic 2) with one record per value; offsets relative 0..n-1."""
    b = DefaultRecordBatchBuilder(magic=2, compression_type=compression, is_transactional=False,
                                  producer_id=producer_id, producer_epoch=producer_epoch,
                                  base_sequence=base_sequence, batch_size=1 << 30)
    ts = int(time.time() * 1000) if timestamp is None else timestamp
    for i, v in enumerate(values):
        meta = b.append(i, timestamp=ts, key=key, value=v, headers=[])
        assert meta is not None
    return bytes(b.build())


def decode_records(data):
    """[(offset, key, value)] from fetched record-batch bytes (partial trailing batch ignored)."""
    out = []
    if not data:
        return out
    mr = MemoryRecords(bytes(data))
    while mr.has_next():
        batch = mr.next_batch()
        if batch is None:
            break
        for rec in batch:
            out.append((rec.offset, rec.key, rec.value))
    return out


def create_topic(port, name, partitions=1, **configs):
    """Create a topic with kafka-python's admin client and wait until it has a leader."""
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1, topic_configs={k.replace("_", "."): str(v) for k, v in configs.items()})])
    finally:
        admin.close()
    deadline = time.monotonic() + 10
    with Conn(port) as c:
        while True:
            md = c.metadata([name])
            (err, tname, _internal, parts), = [(t[0], t[1], t[2], t[3]) for t in md.topics]
            if err == 0 and len(parts) == partitions and all(p[2] >= 0 for p in parts):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {name} not ready: {md}")
            time.sleep(0.05)
