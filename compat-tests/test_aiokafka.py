"""aiokafka 0.12: send_and_wait offsets, group-less consumer reads everything back."""
import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.mark.parametrize("codec", [None, "gzip"])
def test_send_and_wait_then_consume(broker, codec):
    topic = f"aio-{codec or 'none'}"

    async def main():
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec)
        await producer.start()
        try:
            metas = [await producer.send_and_wait(topic, b"aio %d" % i, key=b"k%d" % i) for i in range(50)]
        finally:
            await producer.stop()
        assert [(m.topic, m.partition, m.offset) for m in metas] == [(topic, 0, i) for i in range(50)]

        consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        got = []
        try:
            while len(got) < 50:
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, msgs in batches.items():
                    got += [(tp.partition, m.offset, m.key, m.value) for m in msgs]
        finally:
            await consumer.stop()
        assert got == [(0, i, b"k%d" % i, b"aio %d" % i) for i in range(50)]

    run(main())


def test_batched_send_and_seek(broker):
    async def main():
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=10)
        await producer.start()
        try:
            futs = [await producer.send("aio-batch", b"b%d" % i) for i in range(300)]
            metas = await asyncio.gather(*futs)
        finally:
            await producer.stop()
        assert [m.offset for m in metas] == list(range(300))

        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        tp = TopicPartition("aio-batch", 0)
        try:
            consumer.assign([tp])
            consumer.seek(tp, 295)
            got = []
            while len(got) < 5:
                msg = await consumer.getone()
                got.append((msg.offset, msg.value))
            assert got == [(i, b"b%d" % i) for i in range(295, 300)]
            assert await consumer.end_offsets([tp]) == {tp: 300}
            assert await consumer.beginning_offsets([tp]) == {tp: 0}
        finally:
            await consumer.stop()

    run(main())
