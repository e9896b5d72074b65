// Admin calls for fuzz/capture.py that the other clients it runs do not make (DescribeTransactions,
// DescribeProducers, DescribeQuorum, OffsetDelete). Only the requests matter: every
// answer, error or not, is ignored.
// Usage: java -cp "<classes>:.cache/jars/*" CaptureExtras <bootstrap> <topic> <group> <transactional id>
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartition;

public class CaptureExtras {
    interface Call {
        void run() throws Exception;
    }

    static void call(String what, Call c) {
        try {
            c.run();
            System.out.println("ok " + what);
        } catch (Exception e) {
            System.out.println("error " + what + ": " + e);
        }
    }

    public static void main(String[] args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        String topic = args[1], group = args[2], txid = args[3];
        TopicPartition tp = new TopicPartition(topic, 0);
        try (Admin admin = Admin.create(p)) {
            call("describeTransactions", () -> admin.describeTransactions(List.of(txid)).all().get(30, TimeUnit.SECONDS));
            call("describeProducers", () -> admin.describeProducers(List.of(tp)).all().get(30, TimeUnit.SECONDS));
            call("describeMetadataQuorum", () -> admin.describeMetadataQuorum().quorumInfo().get(30, TimeUnit.SECONDS));
            call("deleteConsumerGroupOffsets", () -> admin.deleteConsumerGroupOffsets(group, Set.of(tp)).all().get(30, TimeUnit.SECONDS));
        }
    }
}
