// A consumer parked in a long poll (fetch.max.wait.ms=8000) must receive a record
// produced while it waits well before the wait expires.
// Usage: java -cp ".cache/jars/*" compat-tests/java/LongPoll.java <bootstrap> <rounds> <bound-ms>
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public class LongPoll {
    public static void main(String[] args) {
        try {
            run(args[0], Integer.parseInt(args[1]), Long.parseLong(args[2]));
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static void run(String bs, int rounds, long boundMs) throws Exception {
        String topic = "jlongpoll";
        TopicPartition tp = new TopicPartition(topic, 0);
        Properties ap = new Properties();
        ap.put("bootstrap.servers", bs);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        Map<String, Long> received = new ConcurrentHashMap<>();
        CountDownLatch positioned = new CountDownLatch(1);
        AtomicReferenceHolder err = new AtomicReferenceHolder();
        Thread consumer = new Thread(() -> {
            Properties cp = new Properties();
            cp.put("bootstrap.servers", bs);
            cp.put("fetch.max.wait.ms", "8000");
            cp.put("fetch.min.bytes", "1");
            cp.put("key.deserializer", StringDeserializer.class.getName());
            cp.put("value.deserializer", StringDeserializer.class.getName());
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
                c.assign(List.of(tp));
                c.seekToEnd(List.of(tp));
                if (c.position(tp) != 0) throw new AssertionError("position " + c.position(tp));
                c.poll(Duration.ofMillis(100)); // sends the first fetch
                positioned.countDown();
                while (received.size() < rounds && !Thread.currentThread().isInterrupted())
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100)))
                        received.put(r.value(), System.nanoTime());
            } catch (Throwable t) {
                err.t = t;
                positioned.countDown();
            }
        });
        consumer.setDaemon(true);
        consumer.start();
        if (!positioned.await(30, TimeUnit.SECONDS)) throw new AssertionError("consumer never positioned");
        if (err.t != null) throw new AssertionError("consumer failed", err.t);

        Properties pp = new Properties();
        pp.put("bootstrap.servers", bs);
        pp.put("linger.ms", "0");
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        List<Long> lat = new ArrayList<>();
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            p.partitionsFor(topic); // metadata fetched before timing
            for (int i = 0; i < rounds; i++) {
                // Let the consumer's fetch park on the broker; a broker that only answers at
                // fetch.max.wait.ms would then deliver ~7 s late.
                Thread.sleep(1000);
                String v = "lp-" + i;
                long t0 = System.nanoTime();
                p.send(new ProducerRecord<>(topic, v)).get(30, TimeUnit.SECONDS);
                long deadline = System.currentTimeMillis() + 15_000;
                while (!received.containsKey(v)) {
                    if (err.t != null) throw new AssertionError("consumer failed", err.t);
                    if (System.currentTimeMillis() > deadline) throw new AssertionError(v + " not received within 15 s");
                    Thread.sleep(1);
                }
                lat.add((received.get(v) - t0) / 1_000_000);
            }
        }
        System.out.println("produce->consume latencies (ms): " + lat);
        for (int i = 0; i < lat.size(); i++)
            if (lat.get(i) >= boundMs)
                throw new AssertionError("record " + i + " arrived after " + lat.get(i) + " ms (bound " + boundMs
                        + " ms, fetch.max.wait.ms 8000): the long poll was not woken by the append");
        System.out.println("OK");
    }

    static class AtomicReferenceHolder {
        volatile Throwable t;
    }
}
