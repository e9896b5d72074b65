// Several consumers of one group started back to back in one JVM, as a service with
// concurrency N does (Spring Kafka's ConcurrentMessageListenerContainer, a test that starts
// a few consumers): each thread creates its KafkaConsumer, subscribes and polls.
// Java kafka-clients 4.x, classic protocol, default assignors.
//
// Usage: JoinTogether <bootstrap> <topic> <group> <consumers> <dynamic|static> <records>
// Runs until the consumers together have read <records> records, then prints, flushed:
//   ASSIGNED <consumer> <generation> <partitions, comma separated, sorted>
//   REVOKED <consumer> <partitions>          (only non-empty revocations)
//   REC <consumer> <partition> <offset>
//   FIRST <consumer> <ms from creating the consumer to its first record>
//   DONE
// Callbacks after DONE (the revocations of close()) are not printed. Exits 1 on an error or
// if the records do not arrive within 60 s.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.util.stream.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class JoinTogether {
    static volatile boolean done;

    static synchronized void out(String line) {
        if (done) return;
        System.out.println(line);
        System.out.flush();
    }

    static String parts(Collection<TopicPartition> tps) {
        return tps.stream().map(TopicPartition::partition).sorted().map(String::valueOf).collect(Collectors.joining(","));
    }

    public static void main(String[] a) throws Exception {
        String bootstrap = a[0], topic = a[1], group = a[2];
        int n = Integer.parseInt(a[3]);
        boolean isStatic = a[4].equals("static");
        int want = Integer.parseInt(a[5]);
        AtomicInteger seen = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            final int id = i;
            Thread t = new Thread(() -> {
                Properties p = new Properties();
                p.put("bootstrap.servers", bootstrap);
                p.put("group.id", group);
                p.put("key.deserializer", StringDeserializer.class.getName());
                p.put("value.deserializer", StringDeserializer.class.getName());
                p.put("auto.offset.reset", "earliest");
                if (isStatic) p.put("group.instance.id", group + "-member-" + id);
                long t0 = System.nanoTime();
                boolean first = true;
                try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
                    c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                        public void onPartitionsAssigned(Collection<TopicPartition> tps) {
                            out("ASSIGNED " + id + " " + c.groupMetadata().generationId() + " " + parts(c.assignment()));
                        }

                        public void onPartitionsRevoked(Collection<TopicPartition> tps) {
                            if (!tps.isEmpty()) out("REVOKED " + id + " " + parts(tps));
                        }
                    });
                    while (!done) {
                        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(50))) {
                            if (first) {
                                out("FIRST " + id + " " + (System.nanoTime() - t0) / 1_000_000);
                                first = false;
                            }
                            out("REC " + id + " " + r.partition() + " " + r.offset());
                            if (seen.incrementAndGet() == want) all.countDown();
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                    all.countDown();
                }
            });
            threads.add(t);
            t.start();
        }
        boolean complete = all.await(60, TimeUnit.SECONDS);
        if (error.get() != null) {
            out("ERROR " + error.get());
            error.get().printStackTrace(System.out);
        } else if (!complete) {
            out("ERROR only " + seen.get() + " of " + want + " records within 60 s");
        } else {
            out("DONE");
        }
        done = true;
        for (Thread t : threads) t.join(30_000);
        System.exit(error.get() == null && complete ? 0 : 1);
    }
}
