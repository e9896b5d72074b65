// Java producer with compression.type gzip/snappy/lz4/zstd; each codec round-trips.
// Usage: java -cp ".cache/jars/*" compat-tests/java/Compression.java <bootstrap> [codec...]
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public class Compression {
    static void eq(Object expected, Object got, String what) {
        if (!Objects.equals(expected, got))
            throw new AssertionError(what + ": expected <" + expected + "> got <" + got + ">");
    }

    public static void main(String[] args) {
        try {
            String bs = args[0];
            List<String> codecs = args.length > 1 ? Arrays.asList(args).subList(1, args.length)
                    : List.of("gzip", "snappy", "lz4", "zstd");
            for (String codec : codecs) {
                run(bs, codec);
                System.out.println("OK " + codec);
            }
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static void run(String bs, String codec) throws Exception {
        String topic = "jcomp-" + codec;
        Properties ap = new Properties();
        ap.put("bootstrap.servers", bs);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        Properties pp = new Properties();
        pp.put("bootstrap.servers", bs);
        pp.put("compression.type", codec);
        pp.put("linger.ms", "20");
        pp.put("batch.size", "65536");
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        final int n = 500;
        List<Future<RecordMetadata>> futs = new ArrayList<>();
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (int i = 0; i < n; i++)
                futs.add(p.send(new ProducerRecord<>(topic, "k" + i, value(codec, i))));
            p.flush();
            for (int i = 0; i < n; i++)
                eq((long) i, futs.get(i).get(30, TimeUnit.SECONDS).offset(), codec + " offset of send " + i);
        }
        Properties cp = new Properties();
        cp.put("bootstrap.servers", bs);
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 30_000;
            while (got.size() < n && System.currentTimeMillis() < deadline)
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) got.add(r);
        }
        eq(n, got.size(), codec + " records read");
        for (int i = 0; i < n; i++) {
            eq((long) i, got.get(i).offset(), codec + " offset");
            eq("k" + i, got.get(i).key(), codec + " key at " + i);
            eq(value(codec, i), got.get(i).value(), codec + " value at " + i);
        }
    }

    static String value(String codec, int i) {
        return (codec + " compressible payload " + i + " ").repeat(1 + i % 40);
    }
}
