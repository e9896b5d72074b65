// Java kafka-clients 4.x over a secured listener: the client settings come as key=value
// arguments (security.protocol, sasl.mechanism, sasl.jaas.config, ssl.*), exactly as an
// application's properties would carry them.
// Usage: SecureClients <bootstrap> <topic> <n> <group> [key=value ...]
//   creates <topic> (1 partition) through the Admin API, produces n records "v0".."v{n-1}"
//   (idempotent, acks=all), reads them back in consumer group <group>, commits, and prints
//   "consumed <offset> <value>" per record, then the group's committed offset.
// Usage: SecureClients --expect-auth-failure <bootstrap> [key=value ...]
//   an Admin call must fail with SaslAuthenticationException; prints "AUTH FAILED: <message>".
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.serialization.*;

public class SecureClients {
    public static void main(String[] args) {
        try {
            if (args[0].equals("--expect-auth-failure")) {
                expectFailure(args[1], Arrays.copyOfRange(args, 2, args.length));
            } else {
                run(args[0], args[1], Integer.parseInt(args[2]), args[3],
                    Arrays.copyOfRange(args, 4, args.length));
            }
            System.out.println("OK");
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static Properties props(String bs, String[] settings) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        for (String kv : settings) {
            int eq = kv.indexOf('=');
            p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return p;
    }

    static void expectFailure(String bs, String[] settings) throws Exception {
        Properties p = props(bs, settings);
        p.put("default.api.timeout.ms", "15000");
        p.put("request.timeout.ms", "10000");
        try (Admin admin = Admin.create(p)) {
            admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS);
            throw new AssertionError("describeCluster succeeded with bad credentials");
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof SaslAuthenticationException))
                throw new AssertionError("expected SaslAuthenticationException, got " + e.getCause());
            System.out.println("AUTH FAILED: " + e.getCause().getMessage());
        }
    }

    static void run(String bs, String topic, int n, String group, String[] settings) throws Exception {
        Properties base = props(bs, settings);
        try (Admin admin = Admin.create(base)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        Properties pp = (Properties) base.clone();
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            for (int i = 0; i < n; i++) {
                RecordMetadata md = producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get(30, TimeUnit.SECONDS);
                if (md.offset() != i) throw new AssertionError("record " + i + " got offset " + md.offset());
            }
        }
        System.out.println("produced " + n);
        Properties cp = (Properties) base.clone();
        cp.put("group.id", group);
        cp.put("auto.offset.reset", "earliest");
        cp.put("enable.auto.commit", "false");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            consumer.subscribe(List.of(topic));
            int got = 0;
            long deadline = System.currentTimeMillis() + 60_000;
            while (got < n && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    System.out.println("consumed " + r.offset() + " " + r.value());
                    got++;
                }
            }
            consumer.commitSync();
            OffsetAndMetadata committed = consumer.committed(Set.of(tp)).get(tp);
            System.out.println("committed " + (committed == null ? -1 : committed.offset()));
        }
    }
}
