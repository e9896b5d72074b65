// Java kafka-clients against a cluster: keyed records over every partition of a topic.
//   produce <bootstrap> <topic> <n>   default producer (idempotent, acks=all), records "k<i>" -> "v<i>";
//                                     prints "SENT <partition> <offset> <key>" per record, then "OK"
//   consume <bootstrap> <topic> <n>   assign every partition (no group), from the beginning, read n records;
//                                     prints "REC <partition> <offset> <key> <value>" per record, then "OK"
//   describe <bootstrap>              Admin.describeCluster (DescribeCluster, as kafka-cluster.sh/kafka-topics.sh);
//                                     prints "CLUSTER <cluster id> <controller id>", "NODE <id> <host> <port>" each, "OK"
// The bootstrap may name one node only: the client finds the partitions' leaders from Metadata.
// Exits non-zero with "FAIL: ..." when something is off.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.*;

public class ClusterClients {
    public static void main(String[] a) {
        try {
            if (a[0].equals("produce")) produce(a[1], a[2], Integer.parseInt(a[3]));
            else if (a[0].equals("consume")) consume(a[1], a[2], Integer.parseInt(a[3]));
            else if (a[0].equals("describe")) describe(a[1]);
            else if (a[0].equals("quorum")) quorum(a[1]);
            else if (a[0].equals("topics")) topics(a[1], a[2]);
            else throw new IllegalArgumentException("unknown mode " + a[0]);
            System.out.println("OK");
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static void describe(String bs) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        try (Admin admin = Admin.create(p)) {
            DescribeClusterResult r = admin.describeCluster();
            System.out.println("CLUSTER " + r.clusterId().get(30, TimeUnit.SECONDS) + " "
                    + r.controller().get(30, TimeUnit.SECONDS).id());
            List<org.apache.kafka.common.Node> nodes = new ArrayList<>(r.nodes().get(30, TimeUnit.SECONDS));
            nodes.sort(Comparator.comparingInt(org.apache.kafka.common.Node::id));
            for (org.apache.kafka.common.Node n : nodes)
                System.out.println("NODE " + n.id() + " " + n.host() + " " + n.port());
        }
    }

    /**
     * Admin.describeTopics, printed in kafka-topics.sh --describe's partition line shape
     * (the tool itself is not on these machines; this is the call and the fields it prints).
     */
    static void topics(String bs, String topic) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        try (Admin admin = Admin.create(p)) {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(30, TimeUnit.SECONDS).get(topic);
            for (TopicPartitionInfo pi : d.partitions()) {
                StringJoiner replicas = new StringJoiner(",");
                for (org.apache.kafka.common.Node n : pi.replicas()) replicas.add(String.valueOf(n.id()));
                StringJoiner isr = new StringJoiner(",");
                for (org.apache.kafka.common.Node n : pi.isr()) isr.add(String.valueOf(n.id()));
                String leader = pi.leader() == null ? "none" : String.valueOf(pi.leader().id());
                System.out.println("\tTopic: " + topic + "\tPartition: " + pi.partition()
                        + "\tLeader: " + leader + "\tReplicas: " + replicas + "\tIsr: " + isr);
            }
        }
    }

    /** Admin.describeMetadataQuorum, what kafka-metadata-quorum.sh describe --status shows. */
    static void quorum(String bs) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        try (Admin admin = Admin.create(p)) {
            QuorumInfo q = admin.describeMetadataQuorum().quorumInfo().get(30, TimeUnit.SECONDS);
            System.out.println("LEADER " + q.leaderId() + " " + q.leaderEpoch() + " " + q.highWatermark());
            List<QuorumInfo.ReplicaState> voters = new ArrayList<>(q.voters());
            voters.sort(Comparator.comparingInt(QuorumInfo.ReplicaState::replicaId));
            for (QuorumInfo.ReplicaState v : voters)
                System.out.println("VOTER " + v.replicaId() + " " + v.logEndOffset());
            List<Integer> ids = new ArrayList<>(q.nodes().keySet());
            Collections.sort(ids);
            for (int id : ids)
                System.out.println("ENDPOINT " + id + " " + q.nodes().get(id).endpoints());
        }
    }

    static void produce(String bs, String topic, int n) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("linger.ms", "5");
        List<Future<RecordMetadata>> futs = new ArrayList<>();
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            for (int i = 0; i < n; i++) futs.add(prod.send(new ProducerRecord<>(topic, "k" + i, "v" + i)));
            prod.flush();
            for (int i = 0; i < n; i++) {
                RecordMetadata md = futs.get(i).get(30, TimeUnit.SECONDS);
                System.out.println("SENT " + md.partition() + " " + md.offset() + " k" + i);
            }
        }
    }

    static void consume(String bs, String topic, int n) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("enable.auto.commit", "false");
        int got = 0;
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30)))
                tps.add(new TopicPartition(topic, pi.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + 60_000;
            while (got < n && System.currentTimeMillis() < deadline)
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    got++;
                    System.out.println("REC " + r.partition() + " " + r.offset() + " " + r.key() + " " + r.value());
                }
            if (got != n) throw new AssertionError("read " + got + " records, expected " + n);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
            long total = 0;
            for (TopicPartition tp : tps) {
                total += end.get(tp);
                if (c.position(tp) != end.get(tp))
                    throw new AssertionError(tp + ": position " + c.position(tp) + " != end offset " + end.get(tp));
            }
            if (total != n) throw new AssertionError("end offsets add up to " + total + ", expected " + n);
        }
    }
}
