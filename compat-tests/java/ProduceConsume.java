// Java kafka-clients 4.x producer (default settings: idempotence on, acks=all)
// and consumer (assign + seekToBeginning, no group).
// Usage: java -cp ".cache/jars/*" compat-tests/java/ProduceConsume.java <bootstrap> <topic>
// Exits 0 on success; prints "FAIL: ..." and exits 1 otherwise.
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.*;

public class ProduceConsume {
    static void check(boolean ok, String msg) {
        if (!ok) throw new AssertionError(msg);
    }

    static void eq(Object expected, Object got, String what) {
        if (!Objects.equals(expected, got))
            throw new AssertionError(what + ": expected <" + expected + "> got <" + got + ">");
    }

    public static void main(String[] args) {
        try {
            run(args[0], args[1]);
            System.out.println("OK");
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static Properties base(String bs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        return p;
    }

    static KafkaProducer<String, String> producer(String bs) {
        Properties p = base(bs); // everything else default: enable.idempotence=true, acks=all
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static List<ConsumerRecord<String, String>> readAll(String bs, TopicPartition tp, int n, Properties extra) {
        Properties p = base(bs);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.putAll(extra);
        int maxPoll = Integer.parseInt(p.getProperty("max.poll.records", "500"));
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 60_000;
            while (got.size() < n && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(500));
                check(recs.count() <= maxPoll, "poll returned " + recs.count() + " > max.poll.records " + maxPoll);
                for (ConsumerRecord<String, String> r : recs) got.add(r);
            }
            eq((long) n, c.position(tp), "position after reading everything");
            eq(Map.of(tp, (long) n), c.endOffsets(List.of(tp)), "endOffsets");
        }
        return got;
    }

    static void verify(List<ConsumerRecord<String, String>> got, int n, String topic) {
        eq(n, got.size(), "records read");
        for (int i = 0; i < n; i++) {
            ConsumerRecord<String, String> r = got.get(i);
            eq(topic, r.topic(), "topic of record " + i);
            eq(0, r.partition(), "partition of record " + i);
            eq((long) i, r.offset(), "offset of record " + i);
            eq("key-" + i, r.key(), "key at offset " + i);
            eq("value-" + i + "-" + "x".repeat(i % 50), r.value(), "value at offset " + i);
            Header h = r.headers().lastHeader("h");
            check(h != null, "header h missing at offset " + i);
            eq("hv" + i, new String(h.value(), StandardCharsets.UTF_8), "header at offset " + i);
            check(r.timestamp() > 0, "timestamp at offset " + i + " = " + r.timestamp());
        }
    }

    static void run(String bs, String topic) throws Exception {
        try (Admin admin = Admin.create(base(bs))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        final int n = 1000;
        List<Future<RecordMetadata>> futs = new ArrayList<>();
        try (KafkaProducer<String, String> p = producer(bs)) {
            for (int i = 0; i < n; i++) {
                futs.add(p.send(new ProducerRecord<>(topic, null, null, "key-" + i,
                        "value-" + i + "-" + "x".repeat(i % 50),
                        List.<Header>of(new RecordHeader("h", ("hv" + i).getBytes(StandardCharsets.UTF_8))))));
            }
            p.flush();
            for (int i = 0; i < n; i++) {
                RecordMetadata md = futs.get(i).get(30, TimeUnit.SECONDS);
                eq(0, md.partition(), "partition of send " + i);
                eq((long) i, md.offset(), "offset of send " + i);
            }
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        verify(readAll(bs, tp, n, new Properties()), n, topic);

        // A consumer with tiny limits still makes progress: the broker returns at least one
        // whole batch even when it is larger than fetch.max.bytes (KIP-74).
        Properties small = new Properties();
        small.put("max.poll.records", "7");
        small.put("fetch.max.bytes", "1024");
        small.put("max.partition.fetch.bytes", "512");
        verify(readAll(bs, tp, n, small), n, topic);

        // A second idempotent producer (new producer id) continues at the log end.
        try (KafkaProducer<String, String> p = producer(bs)) {
            for (int i = 0; i < 10; i++) {
                RecordMetadata md = p.send(new ProducerRecord<>(topic, "k2", "second-" + i)).get(30, TimeUnit.SECONDS);
                eq((long) (n + i), md.offset(), "offset of second producer's send " + i);
            }
        }
    }
}
