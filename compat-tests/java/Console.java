// What kafka-console-producer.sh / kafka-console-consumer.sh do, minus the group:
//   produce <bootstrap> <topic> [compression]   stdin lines "key<TAB>value" -> records; prints offsets
//   consume <bootstrap> <topic> <n>             partition 0 from the beginning; prints "offset<TAB>key<TAB>value"
//   consume-ts <bootstrap> <topic> <n>          the same, with "<TAB>timestamp<TAB>timestamp type" appended
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public class Console {
    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", a[1]);
        if (a[0].equals("produce")) {
            if (a.length > 3) p.put("compression.type", a[3]);
            p.put("key.serializer", StringSerializer.class.getName());
            p.put("value.serializer", StringSerializer.class.getName());
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            List<Future<RecordMetadata>> futs = new ArrayList<>();
            try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
                for (String line; (line = in.readLine()) != null; ) {
                    int tab = line.indexOf('\t');
                    futs.add(prod.send(new ProducerRecord<>(a[2], tab < 0 ? null : line.substring(0, tab),
                            tab < 0 ? line : line.substring(tab + 1))));
                }
                prod.flush();
                for (Future<RecordMetadata> f : futs) System.out.println(f.get(30, TimeUnit.SECONDS).offset());
            }
        } else {
            int n = Integer.parseInt(a[3]);
            p.put("key.deserializer", StringDeserializer.class.getName());
            p.put("value.deserializer", StringDeserializer.class.getName());
            TopicPartition tp = new TopicPartition(a[2], 0);
            int got = 0;
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                long deadline = System.currentTimeMillis() + 30_000;
                while (got < n && System.currentTimeMillis() < deadline)
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                        if (got++ < n) System.out.println(r.offset() + "\t" + r.key() + "\t" + r.value()
                                + (a[0].equals("consume-ts") ? "\t" + r.timestamp() + "\t" + r.timestampType() : ""));
                    }
            }
            if (got < n) {
                System.err.println("only " + got + " of " + n + " records within 30 s");
                System.exit(1);
            }
        }
        System.exit(0);
    }
}
