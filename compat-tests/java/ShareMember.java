// One member of a share group in its own JVM, for tests that SIGKILL or SIGSTOP it.
//
// Usage: java -cp ".cache/jars/*" compat-tests/java/ShareMember.java <bootstrap> <topic> <group> hold|accept|survive [produce N [small]]
//   The topic (1 partition) is created if missing and the group set to read from the earliest
//   offset (share.auto.offset.reset=earliest); with "produce N", records 0..N-1 (key i, value
//   "v-i") are produced first.
//   hold:   poll once it has records, print them, acknowledge nothing and keep running
//           (explicit mode: no further poll, heartbeats go on, the connection stays open)
//   accept: poll forever, printing and accepting every record; commitSync after each poll
//   survive: as accept, but a failed commitSync (the broker killed under it) prints "ACKFAIL <key>"
//           per record of the poll and the member goes on polling (through the broker's restart)
//   "small" after "produce N": the records go in many small batches (batch.size 512, no linger)
//           and the consumer polls at most 10 records, so a run of N takes many acknowledgements
// Output lines: "JOINED", "REC <key> <deliveryCount>" per record received, "HELD" after hold's
// poll, "ACKED <key>" per acceptance the broker confirmed, "FAIL: ..." on an error.
// (Each poll's lines are printed together, REC before ACKED, so line order is delivery order.)
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.*;

public class ShareMember {
    public static void main(String[] a) {
        try {
            String bs = a[0], topic = a[1], group = a[2], mode = a[3];
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", bs))) {
                try {
                    admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) throw e;
                }
                ConfigResource res = new ConfigResource(ConfigResource.Type.GROUP, group);
                AlterConfigOp op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
                admin.incrementalAlterConfigs(Map.of(res, List.of(op))).all().get(30, TimeUnit.SECONDS);
            }
            boolean small = a.length > 6 && a[6].equals("small");
            if (a.length > 5 && a[4].equals("produce")) {
                Properties p = new Properties();
                p.put("bootstrap.servers", bs);
                p.put("key.serializer", StringSerializer.class.getName());
                p.put("value.serializer", StringSerializer.class.getName());
                p.put("linger.ms", small ? "0" : "200"); // one batch: the holder's single poll gets them all
                if (small) p.put("batch.size", "512");
                try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
                    for (int i = 0; i < Integer.parseInt(a[5]); i++)
                        prod.send(new ProducerRecord<>(topic, 0, Integer.toString(i), "v-" + i));
                }
            }
            Properties p = new Properties();
            p.put("bootstrap.servers", bs);
            p.put("group.id", group);
            p.put("share.acknowledgement.mode", "explicit");
            p.put("key.deserializer", StringDeserializer.class.getName());
            p.put("value.deserializer", StringDeserializer.class.getName());
            if (small) p.put("max.poll.records", "10");
            KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(p);
            c.subscribe(List.of(topic));
            System.out.println("JOINED");
            System.out.flush();
            boolean survive = mode.equals("survive");
            while (true) {
                ConsumerRecords<String, String> rs;
                try {
                    rs = c.poll(Duration.ofMillis(200));
                } catch (KafkaException e) {
                    if (!survive) throw e;
                    System.out.println("POLLFAIL " + e);
                    continue;
                }
                if (rs.isEmpty()) continue;
                for (ConsumerRecord<String, String> r : rs)
                    System.out.println("REC " + r.key() + " " + r.deliveryCount().orElse((short) -1));
                if (mode.equals("hold")) {
                    System.out.println("HELD");
                    System.out.flush();
                    Thread.sleep(Long.MAX_VALUE);
                }
                for (ConsumerRecord<String, String> r : rs) c.acknowledge(r, AcknowledgeType.ACCEPT);
                Optional<Throwable> failed = Optional.empty();
                try {
                    Map<TopicIdPartition, Optional<KafkaException>> res = c.commitSync(Duration.ofSeconds(30));
                    for (var e : res.values())
                        if (e.isPresent()) failed = Optional.of(e.get());
                } catch (KafkaException e) {
                    failed = Optional.of(e);
                }
                if (failed.isPresent()) {
                    if (!survive) throw new AssertionError("acknowledgement failed: " + failed.get());
                    System.out.println("ACKFAIL-CAUSE " + failed.get());
                    for (ConsumerRecord<String, String> r : rs) System.out.println("ACKFAIL " + r.key());
                    System.out.flush();
                    continue;
                }
                for (ConsumerRecord<String, String> r : rs) System.out.println("ACKED " + r.key());
                System.out.flush();
            }
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }
}
