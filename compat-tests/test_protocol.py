"""Connection-level protocol behaviour: pipelining, ordering, acks=0, concurrency."""
import struct
import threading

from confluent_kafka import Producer
from kafka.protocol.api_versions import ApiVersionsRequest_v0
from kafka.protocol.produce import ProduceRequest_v7

from conftest import consume_assigned, create_topics
import wire


def test_pipelined_requests_answered_in_order(broker):
    wire.create_topic(broker.port, "pipe")
    with wire.Conn(broker.port) as c:
        frames = b""
        for i in range(50):
            req = ProduceRequest_v7(transactional_id=None, required_acks=-1, timeout=10000,
                                    topics=[("pipe", [(0, wire.build_batch([b"p%d" % i]))])])
            payload = c.header(req.API_KEY, req.API_VERSION, corr=1000 + i) + req.encode()
            frames += struct.pack(">i", len(payload)) + payload
        c.send_raw(frames)  # all 50 in one write, no waiting
        for i in range(50):
            frame = c.recv_frame(timeout=10)
            assert struct.unpack(">i", frame[:4])[0] == 1000 + i, "responses out of request order"
            resp = ProduceRequest_v7.RESPONSE_TYPE.decode(__import__("io").BytesIO(frame[4:]))
            (_t, [(_p, err, offset, _ts, _lso)]), = resp.topics
            assert (err, offset) == (wire.NONE, i)


def test_acks0_gets_no_response_and_next_request_is_answered(broker):
    wire.create_topic(broker.port, "acks0")
    with wire.Conn(broker.port) as c:
        for i in range(3):
            assert c.produce("acks0", 0, wire.build_batch([b"z%d" % i]), acks=0) is None
        # the next frame on the wire must be the ApiVersions answer, not a produce response
        req = ApiVersionsRequest_v0()
        c.send_frame(c.header(req.API_KEY, req.API_VERSION, corr=31337) + req.encode())
        frame = c.recv_frame(timeout=10)
        assert struct.unpack(">i", frame[:4])[0] == 31337
        assert c.list_offset("acks0", 0) == (wire.NONE, 3)
        err, hw, recs = c.fetch("acks0", 0, 0)
        assert [(o, v) for o, _k, v in recs] == [(0, b"z0"), (1, b"z1"), (2, b"z2")]


def test_concurrent_producers_get_unique_contiguous_offsets(broker):
    create_topics(broker.bootstrap, "conc")
    results = {}

    def run(tid):
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 2})
        mine = []
        for i in range(500):
            p.produce("conc", value=b"t%d-%d" % (tid, i),
                      on_delivery=lambda e, m: mine.append((e, m.offset(), m.value())))
            p.poll(0)
        p.flush(30)
        results[tid] = mine

    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    reports = [r for t in range(4) for r in results[t]]
    assert len(reports) == 2000 and all(e is None for e, _, _ in reports)
    assert sorted(o for _, o, _ in reports) == list(range(2000))
    by_offset = {o: v for _, o, v in reports}
    got = consume_assigned(broker.bootstrap, "conc", 2000)
    assert [(o, v) for _p, o, _k, v in got] == sorted(by_offset.items())
    # each producer's own records kept their order
    for t in range(4):
        offs = [o for _, o, v in reports if v.startswith(b"t%d-" % t)]
        vals = [by_offset[o] for o in sorted(offs)]
        assert vals == [b"t%d-%d" % (t, i) for i in range(500)]


def test_confluent_message_too_large_is_reported(start_broker):
    b = start_broker({"message.max.bytes": "10000"})
    create_topics(b.bootstrap, "toolarge")
    reports = []
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    p.produce("toolarge", value=b"x" * 20000, on_delivery=lambda e, m: reports.append(e))
    p.flush(30)
    p.produce("toolarge", value=b"ok", on_delivery=lambda e, m: reports.append((e, m.offset())))
    p.flush(30)
    from confluent_kafka import KafkaError
    assert reports[0] is not None and reports[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, reports
    assert reports[1] == (None, 0)
