// ListOffsets through the consumer (beginningOffsets, endOffsets, offsetsForTimes)
// and Admin.listOffsets (earliest, latest, maxTimestamp, forTimestamp).
// Usage: java -cp ".cache/jars/*" compat-tests/java/Offsets.java <bootstrap>
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public class Offsets {
    static void eq(Object expected, Object got, String what) {
        if (!Objects.equals(expected, got))
            throw new AssertionError(what + ": expected <" + expected + "> got <" + got + ">");
    }

    public static void main(String[] args) {
        try {
            run(args[0]);
            System.out.println("OK");
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static final long BASE = 1_700_000_000_000L;
    // out of order on purpose: the max timestamp (BASE+5000) is at offset 2
    static final long[] TS = {BASE + 1000, BASE + 2000, BASE + 5000, BASE + 3000, BASE + 4000};

    static void run(String bs) throws Exception {
        String topic = "jofs";
        TopicPartition tp = new TopicPartition(topic, 0);
        Properties ap = new Properties();
        ap.put("bootstrap.servers", bs);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            // empty partition
            eq(0L, admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get().offset(), "earliest (empty)");
            eq(0L, admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get().offset(), "latest (empty)");

            Properties pp = new Properties();
            pp.put("bootstrap.servers", bs);
            pp.put("key.serializer", StringSerializer.class.getName());
            pp.put("value.serializer", StringSerializer.class.getName());
            try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
                for (int i = 0; i < TS.length; i++) { // one batch per record
                    RecordMetadata md = p.send(new ProducerRecord<>(topic, 0, TS[i], "k" + i, "v" + i)).get(30, TimeUnit.SECONDS);
                    eq((long) i, md.offset(), "offset of record " + i);
                    eq(TS[i], md.timestamp(), "CreateTime timestamp echoed for record " + i);
                }
            }

            eq(0L, lo(admin, tp, OffsetSpec.earliest()).offset(), "Admin earliest");
            eq(5L, lo(admin, tp, OffsetSpec.latest()).offset(), "Admin latest");
            ListOffsetsResult.ListOffsetsResultInfo max = lo(admin, tp, OffsetSpec.maxTimestamp());
            eq(2L, max.offset(), "Admin maxTimestamp offset");
            eq(BASE + 5000, max.timestamp(), "Admin maxTimestamp timestamp");
            ListOffsetsResult.ListOffsetsResultInfo t = lo(admin, tp, OffsetSpec.forTimestamp(BASE + 1500));
            eq(1L, t.offset(), "Admin forTimestamp(BASE+1500) offset");
            eq(BASE + 2000, t.timestamp(), "Admin forTimestamp(BASE+1500) timestamp");
            eq(0L, lo(admin, tp, OffsetSpec.forTimestamp(BASE)).offset(), "Admin forTimestamp(BASE)");
            eq(0L, lo(admin, tp, OffsetSpec.forTimestamp(BASE + 1000)).offset(), "Admin forTimestamp(exact first)");
            eq(2L, lo(admin, tp, OffsetSpec.forTimestamp(BASE + 2500)).offset(), "Admin forTimestamp(BASE+2500)");
            eq(-1L, lo(admin, tp, OffsetSpec.forTimestamp(BASE + 9999)).offset(), "Admin forTimestamp(after all) offset");
        }

        Properties cp = new Properties();
        cp.put("bootstrap.servers", bs);
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
            eq(Map.of(tp, 0L), c.beginningOffsets(List.of(tp)), "beginningOffsets");
            eq(Map.of(tp, 5L), c.endOffsets(List.of(tp)), "endOffsets");
            Map<TopicPartition, OffsetAndTimestamp> ft = c.offsetsForTimes(Map.of(tp, BASE + 1500));
            eq("1@" + (BASE + 2000), oat(ft.get(tp)), "offsetsForTimes(BASE+1500)");
            ft = c.offsetsForTimes(Map.of(tp, BASE + 3500));
            eq("2@" + (BASE + 5000), oat(ft.get(tp)), "offsetsForTimes(BASE+3500)");
            ft = c.offsetsForTimes(Map.of(tp, BASE + 9999));
            eq(null, ft.get(tp), "offsetsForTimes(after all)");
            // seek to the looked-up offset and read the timestamps back
            c.assign(List.of(tp));
            c.seek(tp, 1);
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 30_000;
            while (got.size() < 4 && System.currentTimeMillis() < deadline)
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) got.add(r);
            eq(4, got.size(), "records read from offset 1");
            for (int i = 0; i < 4; i++) {
                eq((long) (i + 1), got.get(i).offset(), "offset");
                eq(TS[i + 1], got.get(i).timestamp(), "timestamp at offset " + (i + 1));
                eq(org.apache.kafka.common.record.TimestampType.CREATE_TIME, got.get(i).timestampType(), "timestamp type");
            }
        }
    }

    static String oat(OffsetAndTimestamp o) {
        return o == null ? null : o.offset() + "@" + o.timestamp();
    }

    static ListOffsetsResult.ListOffsetsResultInfo lo(Admin admin, TopicPartition tp, OffsetSpec spec) throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get(30, TimeUnit.SECONDS);
    }
}
