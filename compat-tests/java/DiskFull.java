// Java kafka-clients 4.x producer on a full disk (compat-tests/test_disk_full.py).
// Usage: DiskFull <bootstrap> <topic> <first record number>
// Sends records "rec-%06d-" + 1000 x "x" one at a time (no retries, no idempotence) until one
// fails; prints "ACK <offset>" for each stored record, then "ERROR <exception class>", and
// exits 0. Exits 1 ("FAIL: ...") if nothing fails within 1000 records.
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.serialization.StringSerializer;

public class DiskFull {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("acks", "all");
        p.put("retries", "0");
        p.put("enable.idempotence", "false");
        String topic = args[1];
        int first = Integer.parseInt(args[2]);
        String pad = "x".repeat(1000);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = first; i < first + 1000; i++) {
                String value = String.format("rec-%06d-", i) + pad;
                try {
                    RecordMetadata md = producer.send(new ProducerRecord<>(topic, value)).get();
                    System.out.println("ACK " + md.offset());
                } catch (ExecutionException e) {
                    System.out.println("ERROR " + e.getCause().getClass().getSimpleName());
                    System.exit(0);
                }
            }
        }
        System.out.println("FAIL: no record was refused");
        System.exit(1);
    }
}
