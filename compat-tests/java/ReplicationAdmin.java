// Java Admin calls on replicas, made the way Kafka's tools make them:
//   describe <bootstrap> <topic> <all|under-replicated|unavailable>
//       Admin.describeTopics, filtered as kafka-topics.sh --describe [--under-replicated-partitions |
//       --unavailable-partitions] filters (isr smaller than replicas; leader none or not a live broker
//       of describeCluster); prints "PARTITION <topic> <p> <leader id|none> <replicas a,b> <isr a,b>"
//   elect <bootstrap> <preferred|unclean> <topic:p,topic:p...|all>
//       Admin.electLeaders (kafka-leader-election.sh); prints "RESULT <topic> <p> OK|<exception class>"
//       per partition in the answer, then "ALL OK|<exception class>" for all()
//   logdirs <bootstrap> <broker,broker...>
//       Admin.describeLogDirs (kafka-log-dirs.sh --describe); prints "DIR <broker> <path> <error|none>
//       <total bytes> <usable bytes>" per log dir and "REPLICA <broker> <path> <topic> <p> <size>
//       <offset lag> <future>" per replica
//   replicadirs <bootstrap> <topic> <p> <broker,broker...>
//       Admin.describeReplicaLogDirs; prints "REPLICADIR <broker> <current dir|null> <future dir|null>"
// Then "OK"; exits non-zero with "FAIL: ..." when a call fails.
import java.util.*;
import java.util.concurrent.*;
import java.util.stream.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.TopicPartitionReplica;

public class ReplicationAdmin {
    public static void main(String[] a) {
        try (Admin admin = admin(a[1])) {
            switch (a[0]) {
                case "describe" -> describe(admin, a[2], a[3]);
                case "elect" -> elect(admin, a[2], a[3]);
                case "logdirs" -> logDirs(admin, ids(a[2]));
                case "replicadirs" -> replicaDirs(admin, a[2], Integer.parseInt(a[3]), ids(a[4]));
                default -> throw new IllegalArgumentException("unknown mode " + a[0]);
            }
            System.out.println("OK");
            System.out.flush();
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
        System.exit(0);
    }

    static Admin admin(String bs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        return Admin.create(p);
    }

    static <T> T get(KafkaFuture<T> f) throws Exception {
        return f.get(60, TimeUnit.SECONDS);
    }

    static List<Integer> ids(String csv) {
        return Arrays.stream(csv.split(",")).map(Integer::parseInt).collect(Collectors.toList());
    }

    static String nodes(List<Node> ns) {
        return ns.stream().map(n -> String.valueOf(n.id())).collect(Collectors.joining(","));
    }

    static void describe(Admin admin, String topic, String filter) throws Exception {
        TopicDescription d = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
        Set<Integer> live = get(admin.describeCluster().nodes()).stream().map(Node::id).collect(Collectors.toSet());
        for (TopicPartitionInfo pi : d.partitions()) {
            boolean under = pi.isr().size() < pi.replicas().size();
            boolean unavailable = pi.leader() == null || !live.contains(pi.leader().id());
            if (filter.equals("under-replicated") && !under) continue;
            if (filter.equals("unavailable") && !unavailable) continue;
            String leader = pi.leader() == null ? "none" : String.valueOf(pi.leader().id());
            System.out.println("PARTITION " + topic + " " + pi.partition() + " " + leader + " "
                    + nodes(pi.replicas()) + " " + nodes(pi.isr()));
        }
    }

    static void elect(Admin admin, String type, String which) throws Exception {
        ElectionType t = type.equals("preferred") ? ElectionType.PREFERRED : ElectionType.UNCLEAN;
        Set<TopicPartition> tps = null;
        if (!which.equals("all")) {
            tps = new HashSet<>();
            for (String tp : which.split(",")) {
                int colon = tp.lastIndexOf(':');
                tps.add(new TopicPartition(tp.substring(0, colon), Integer.parseInt(tp.substring(colon + 1))));
            }
        }
        ElectLeadersResult r = admin.electLeaders(t, tps);
        Map<TopicPartition, Optional<Throwable>> results = new TreeMap<>(
                Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        results.putAll(get(r.partitions()));
        for (Map.Entry<TopicPartition, Optional<Throwable>> e : results.entrySet())
            System.out.println("RESULT " + e.getKey().topic() + " " + e.getKey().partition() + " "
                    + e.getValue().map(x -> x.getClass().getSimpleName()).orElse("OK"));
        try {
            get(r.all());
            System.out.println("ALL OK");
        } catch (ExecutionException e) {
            System.out.println("ALL " + e.getCause().getClass().getSimpleName());
        }
    }

    static void logDirs(Admin admin, List<Integer> brokers) throws Exception {
        Map<Integer, Map<String, LogDirDescription>> all = get(admin.describeLogDirs(brokers).allDescriptions());
        for (int broker : new TreeSet<>(all.keySet())) {
            for (Map.Entry<String, LogDirDescription> dir : new TreeMap<>(all.get(broker)).entrySet()) {
                LogDirDescription d = dir.getValue();
                System.out.println("DIR " + broker + " " + dir.getKey() + " "
                        + (d.error() == null ? "none" : d.error().getClass().getSimpleName()) + " "
                        + d.totalBytes().orElse(-1) + " " + d.usableBytes().orElse(-1));
                for (Map.Entry<TopicPartition, ReplicaInfo> e : d.replicaInfos().entrySet())
                    System.out.println("REPLICA " + broker + " " + dir.getKey() + " " + e.getKey().topic() + " "
                            + e.getKey().partition() + " " + e.getValue().size() + " " + e.getValue().offsetLag()
                            + " " + e.getValue().isFuture());
            }
        }
    }

    static void replicaDirs(Admin admin, String topic, int partition, List<Integer> brokers) throws Exception {
        List<TopicPartitionReplica> replicas = brokers.stream()
                .map(b -> new TopicPartitionReplica(topic, partition, b)).collect(Collectors.toList());
        Map<TopicPartitionReplica, DescribeReplicaLogDirsResult.ReplicaLogDirInfo> all =
                get(admin.describeReplicaLogDirs(replicas).all());
        for (TopicPartitionReplica r : replicas) {
            DescribeReplicaLogDirsResult.ReplicaLogDirInfo info = all.get(r);
            System.out.println("REPLICADIR " + r.brokerId() + " " + info.getCurrentReplicaLogDir() + " "
                    + info.getFutureReplicaLogDir());
        }
    }
}
