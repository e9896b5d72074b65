// A consumer of assigned partitions (no group), read from the beginning, as its own JVM: for
// tests where the broker's side changes under a running consumer (its fetch session evicted,
// the broker restarted). Java kafka-clients 4.x, which uses incremental fetch sessions.
//
// Usage: java -cp ".cache/jars/*" compat-tests/java/AssignedConsumer.java <bootstrap> <topic> <first partition> <last partition> [key=value ...]
// The key=value pairs are consumer configs (e.g. client.id=a).
// Prints one line per event on stdout, flushed at once:
//   READY                                   after the first poll (fetching has begun)
//   REC <partition> <offset> <value>
//   CLOSED                                  after "close" on stdin and consumer.close()
//   ERROR <exception>                       then exits 1
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class AssignedConsumer {
    static volatile boolean stop;

    static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    public static void main(String[] a) {
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        for (int i = 4; i < a.length; i++) {
            int eq = a[i].indexOf('=');
            p.put(a[i].substring(0, eq), a[i].substring(eq + 1));
        }
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = Integer.parseInt(a[2]); i <= Integer.parseInt(a[3]); i++) tps.add(new TopicPartition(a[1], i));
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
            c.assign(tps);
            c.seekToBeginning(tps);
            boolean ready = false;
            while (!stop) {
                ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(100));
                for (ConsumerRecord<String, String> r : recs) out("REC " + r.partition() + " " + r.offset() + " " + r.value());
                if (!ready) {
                    out("READY");
                    ready = true;
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
