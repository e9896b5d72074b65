// One consumer-group member as its own JVM, so a test can SIGKILL it (no LeaveGroup, no
// more heartbeats) or restart it. Java kafka-clients 4.x, classic protocol.
//
// Usage: java -cp ".cache/jars/*" compat-tests/java/GroupMember.java <bootstrap> <topic> <group> [key=value ...]
// The key=value pairs are consumer configs (e.g. group.instance.id=b-1, session.timeout.ms=10000).
// Prints one line per event on stdout, flushed at once:
//   ASSIGNED <generation> <member id> <partitions, comma separated, sorted>   (whole assignment)
//   REVOKED <partitions>  /  LOST <partitions>
//   REC <partition> <offset> <value>
//   COMMITTED <partition>=<offset>,...        after commitSync() of everything polled returned
//   CLOSED                                   after "close" on stdin and consumer.close()
//   ERROR <exception>                        then exits 1
// Commits with commitSync() after every non-empty poll.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.stream.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class GroupMember {
    static volatile boolean stop;

    static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static String parts(Collection<TopicPartition> tps) {
        return tps.stream().map(TopicPartition::partition).sorted().map(String::valueOf).collect(Collectors.joining(","));
    }

    public static void main(String[] a) {
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("group.id", a[2]);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("session.timeout.ms", "6000");
        p.put("heartbeat.interval.ms", "1000");
        for (int i = 3; i < a.length; i++) {
            int eq = a[i].indexOf('=');
            p.put(a[i].substring(0, eq), a[i].substring(eq + 1));
        }
        Thread stdin = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; )
                    if (line.trim().equals("close")) break;
            } catch (IOException ignored) {
            }
            stop = true; // "close" or EOF on stdin
        });
        stdin.setDaemon(true);
        stdin.start();
        int rc = 0;
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(a[1]), new ConsumerRebalanceListener() {
                public void onPartitionsAssigned(Collection<TopicPartition> tps) {
                    ConsumerGroupMetadata md = c.groupMetadata();
                    out("ASSIGNED " + md.generationId() + " " + md.memberId() + " " + parts(c.assignment()));
                }

                public void onPartitionsRevoked(Collection<TopicPartition> tps) {
                    out("REVOKED " + parts(tps));
                }

                public void onPartitionsLost(Collection<TopicPartition> tps) {
                    out("LOST " + parts(tps));
                }
            });
            while (!stop) {
                ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(100));
                for (ConsumerRecord<String, String> r : recs) out("REC " + r.partition() + " " + r.offset() + " " + r.value());
                if (!recs.isEmpty()) {
                    c.commitSync();
                    List<String> pos = new ArrayList<>();
                    for (TopicPartition tp : recs.partitions()) pos.add(tp.partition() + "=" + c.position(tp));
                    Collections.sort(pos);
                    out("COMMITTED " + String.join(",", pos));
                }
            }
        } catch (Throwable t) {
            out("ERROR " + t);
            t.printStackTrace(System.out);
            rc = 1;
        }
        if (rc == 0) out("CLOSED");
        System.exit(rc);
    }
}
