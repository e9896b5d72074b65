"""Every client writes to one partition (each with its own codec); every client reads all of it."""
import asyncio
import subprocess

from aiokafka import AIOKafkaProducer
from confluent_kafka import Producer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conftest import KCAT, consume_assigned, java_cmd
import wire

TOPIC = "interop"


def test_all_clients_write_and_read_one_partition(broker, java_classes, tmp_path):
    wire.create_topic(broker.port, TOPIC)
    expected = []  # (key, value) in offset order

    # kafka-python, gzip
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type="gzip")
    for i in range(20):
        p.send(TOPIC, key=b"kp%d" % i, value=b"kafka-python %d" % i)
        expected.append((b"kp%d" % i, b"kafka-python %d" % i))
    p.flush(10)
    p.close()

    # confluent-kafka, zstd
    c = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "zstd"})
    for i in range(20):
        c.produce(TOPIC, key=b"ck%d" % i, value=b"confluent %d" % i)
        expected.append((b"ck%d" % i, b"confluent %d" % i))
    assert c.flush(30) == 0

    # kcat, snappy
    lines = b"".join(b"kc%d:kcat %d\n" % (i, i) for i in range(20))
    subprocess.run([KCAT, "-b", broker.bootstrap, "-P", "-t", TOPIC, "-p", "0", "-K", ":", "-z", "snappy"],
                   input=lines, check=True, timeout=30)
    expected += [(b"kc%d" % i, b"kcat %d" % i) for i in range(20)]

    # aiokafka, lz4
    async def aio():
        ap = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, compression_type="lz4")
        await ap.start()
        try:
            for i in range(20):
                await ap.send_and_wait(TOPIC, key=b"ai%d" % i, value=b"aiokafka %d" % i)
        finally:
            await ap.stop()
    asyncio.run(asyncio.wait_for(aio(), 60))
    expected += [(b"ai%d" % i, b"aiokafka %d" % i) for i in range(20)]

    # Java (what kafka-console-producer.sh runs), lz4, idempotent by default
    java = java_cmd(java_classes, "Console")
    r = subprocess.run(java + ["produce", broker.bootstrap, TOPIC, "lz4"], capture_output=True, timeout=120,
                       input="".join(f"jv{i}\tjava {i}\n" for i in range(20)).encode())
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    assert [int(x) for x in r.stdout.split()] == list(range(80, 100))
    expected += [(b"jv%d" % i, b"java %d" % i) for i in range(20)]

    n = len(expected)
    want = [(o, k, v) for o, (k, v) in enumerate(expected)]

    # --- everyone reads everything back
    got = consume_assigned(broker.bootstrap, TOPIC, n)
    assert [(o, k, v) for _p, o, k, v in got] == want, "confluent-kafka"

    kc = KafkaConsumer(bootstrap_servers=broker.bootstrap, consumer_timeout_ms=10000)
    tp = TopicPartition(TOPIC, 0)
    kc.assign([tp])
    kc.seek_to_beginning(tp)
    got = []
    for m in kc:
        got.append((m.offset, m.key, m.value))
        if len(got) == n:
            break
    kc.close()
    assert got == want, "kafka-python"

    out = subprocess.run([KCAT, "-b", broker.bootstrap, "-C", "-t", TOPIC, "-o", "beginning", "-e", "-q",
                          "-f", "%o\t%k\t%s\n"], capture_output=True, check=True, timeout=30).stdout
    assert out.decode().splitlines() == [f"{o}\t{k.decode()}\t{v.decode()}" for o, k, v in want], "kcat"

    r = subprocess.run(java + ["consume", broker.bootstrap, TOPIC, str(n)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    assert r.stdout.decode().splitlines() == [f"{o}\t{k.decode()}\t{v.decode()}" for o, k, v in want], "java"
