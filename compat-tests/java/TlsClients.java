// Java kafka-clients 4.x over TLS: Admin creates a topic, an idempotent producer (acks=all)
// writes n records, a consumer (assign + seekToBeginning) reads them back exactly, and a group
// consumer (subscribe, commitSync) reads them again and commits.
// Usage: TlsClients <bootstrap> <topic> <n> [client.key=value ...]
//   the key=value pairs are the security settings, e.g. security.protocol=SSL
//   ssl.truststore.type=PEM ssl.truststore.location=ca.pem [ssl.keystore.type=PEM
//   ssl.keystore.location=client.pem]
// Prints "OK" and exits 0 on success; prints "FAIL: ..." and exits 1 otherwise.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public class TlsClients {
    static void eq(Object expected, Object got, String what) {
        if (!Objects.equals(expected, got))
            throw new AssertionError(what + ": expected <" + expected + "> got <" + got + ">");
    }

    public static void main(String[] args) {
        try {
            Properties sec = new Properties();
            for (int i = 3; i < args.length; i++) {
                String[] kv = args[i].split("=", 2);
                sec.put(kv[0], kv[1]);
            }
            run(args[0], args[1], Integer.parseInt(args[2]), sec);
            System.out.println("OK");
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static Properties props(String bs, Properties sec) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.putAll(sec);
        return p;
    }

    static void run(String bs, String topic, int n, Properties sec) throws Exception {
        try (Admin admin = Admin.create(props(bs, sec))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        Properties pp = props(bs, sec); // default: enable.idempotence=true, acks=all
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        List<Future<RecordMetadata>> futs = new ArrayList<>();
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (int i = 0; i < n; i++)
                futs.add(p.send(new ProducerRecord<>(topic, "key-" + i, "value-" + i + "-" + "y".repeat(i % 40))));
            p.flush();
            for (int i = 0; i < n; i++) {
                RecordMetadata md = futs.get(i).get(30, TimeUnit.SECONDS);
                eq(0, md.partition(), "partition of send " + i);
                eq((long) i, md.offset(), "offset of send " + i);
            }
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        Properties cp = props(bs, sec);
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            verify(readN(c, n), n);
            eq((long) n, c.position(tp), "position after reading everything");
        }
        Properties gp = (Properties) cp.clone();
        gp.put("group.id", "tls-java-group");
        gp.put("auto.offset.reset", "earliest");
        gp.put("enable.auto.commit", "false");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(gp)) {
            c.subscribe(List.of(topic));
            verify(readN(c, n), n);
            c.commitSync();
            eq(new OffsetAndMetadata(n).offset(), c.committed(Set.of(tp)).get(tp).offset(), "committed offset");
        }
    }

    static List<ConsumerRecord<String, String>> readN(KafkaConsumer<String, String> c, int n) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 60_000;
        while (got.size() < n && System.currentTimeMillis() < deadline)
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) got.add(r);
        return got;
    }

    static void verify(List<ConsumerRecord<String, String>> got, int n) {
        eq(n, got.size(), "records read");
        for (int i = 0; i < n; i++) {
            ConsumerRecord<String, String> r = got.get(i);
            eq((long) i, r.offset(), "offset of record " + i);
            eq("key-" + i, r.key(), "key at offset " + i);
            eq("value-" + i + "-" + "y".repeat(i % 40), r.value(), "value at offset " + i);
        }
    }
}
