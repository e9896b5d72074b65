"""Connection limits, with Kafka's keys: max.connections.per.ip (and its overrides) closes a
connection past its address's limit as soon as it is accepted; max.connections makes the broker
stop accepting until a connection closes (issue 13, goal 3)."""
import socket
import struct
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conftest import wait_until
import wire



def connect_answered(port, deadline):
    """A connection that got its ApiVersions answer. The fixture's readiness probe may hold its
    place for a moment after it closed, until the broker reads its EOF: retry until then."""
    while True:
        c = wire.Conn(port)
        try:
            c.api_versions()
            return c
        except wire.Closed:
            c.close()
            assert time.monotonic() < deadline, "no place freed"
            time.sleep(0.01)


def test_max_connections_per_ip_closes_the_one_too_many(start_broker):
    # The override for 127.0.0.1 wins over the general limit of 1.
    b = start_broker({"max.connections.per.ip": "1",
                      "max.connections.per.ip.overrides": "127.0.0.1:3"})
    deadline = time.monotonic() + 10
    conns = []
    try:
        for _ in range(3):
            conns.append(connect_answered(b.port, deadline))
        extra = wire.Conn(b.port)
        assert extra.wait_closed(5), "the fourth connection from 127.0.0.1 is closed"
        extra.close()
        log = b.stderr_path.read_text()
        assert "rejected connection from 127.0.0.1" in log and "maximum of 3" in log
        for c in conns:  # the first three are unaffected
            assert 18 in c.api_versions()
    finally:
        for c in conns:
            c.close()
    # Their places are free again: a real client works.
    wire.create_topic(b.port, "limited")
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all")
    try:
        assert producer.send("limited", b"fits").get(10).offset == 0
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=b.bootstrap, auto_offset_reset="earliest")
    try:
        tp = TopicPartition("limited", 0)
        consumer.assign([tp])
        got = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=500).values():
                got += [r.value for r in recs]
        assert got == [b"fits"]
    finally:
        consumer.close()


def test_max_connections_waits_for_a_free_place(start_broker):
    b = start_broker({"max.connections": "3"})
    conns = [wire.Conn(b.port) for _ in range(3)]
    waiting = None
    try:
        for c in conns:
            assert 18 in c.api_versions()
        wait_until(lambda: "max.connections (3) reached" in b.stderr_path.read_text(),
                   interval=0.01, what="the broker to stop accepting")
        # The kernel completes the handshake from the backlog; the broker does not accept it.
        waiting = wire.Conn(b.port)
        waiting.send_frame(waiting.header(18, 0) + b"")
        waiting.sock.settimeout(0.5)
        try:
            got = waiting.sock.recv(4)
        except socket.timeout:
            got = None
        assert got is None, "not answered while the broker is full"
        conns.pop().close()
        frame = waiting.recv_frame(timeout=10)
        corr, err = struct.unpack(">ih", frame[:6])
        assert (corr, err) == (waiting.corr, 0), "answered once a place was free"
        assert "accepts connections again" in b.stderr_path.read_text()
    finally:
        for c in conns:
            c.close()
        if waiting:
            waiting.close()
