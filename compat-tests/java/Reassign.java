// Java Admin partition reassignment against a cluster, the calls kafka-reassign-partitions.sh makes:
//   create <bootstrap> <topic> <replicas>          createTopics with partition 0 on <replicas> ("1,2": 1 leads)
//   reassign <bootstrap> <topic> <p> <replicas>    alterPartitionReassignments to <replicas> (--execute);
//                                                  <replicas> "cancel": cancel the one in progress (--cancel);
//                                                  prints "RESULT ok" or "RESULT <exception class>"
//   list <bootstrap>                               listPartitionReassignments (--verify, --list);
//                                                  prints "REASSIGNING <topic> <p> <replicas> <adding> <removing>"
//                                                  for each (lists as "1,2", "-" when empty)
//   describe <bootstrap> <topic>                   describeTopics; "PARTITION <p> <leader> <replicas> <isr>"
// Each mode prints "OK" last. Exits non-zero with "FAIL: ..." when something is off.
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;

public class Reassign {
    public static void main(String[] a) {
        try {
            Properties p = new Properties();
            p.put("bootstrap.servers", a[1]);
            try (Admin admin = Admin.create(p)) {
                if (a[0].equals("create")) create(admin, a[2], ids(a[3]));
                else if (a[0].equals("reassign")) reassign(admin, a[2], Integer.parseInt(a[3]), a[4]);
                else if (a[0].equals("list")) list(admin);
                else if (a[0].equals("describe")) describe(admin, a[2]);
                else throw new IllegalArgumentException("unknown mode " + a[0]);
            }
            System.out.println("OK");
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static List<Integer> ids(String list) {
        List<Integer> out = new ArrayList<>();
        for (String s : list.split(",")) out.add(Integer.parseInt(s.trim()));
        return out;
    }

    static String show(List<Integer> ids) {
        if (ids.isEmpty()) return "-";
        StringJoiner j = new StringJoiner(",");
        for (int id : ids) j.add(String.valueOf(id));
        return j.toString();
    }

    static void create(Admin admin, String topic, List<Integer> replicas) throws Exception {
        NewTopic t = new NewTopic(topic, Map.of(0, replicas));
        admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
    }

    static void reassign(Admin admin, String topic, int partition, String target) throws Exception {
        Optional<NewPartitionReassignment> to = target.equals("cancel")
                ? Optional.empty()
                : Optional.of(new NewPartitionReassignment(ids(target)));
        TopicPartition tp = new TopicPartition(topic, partition);
        try {
            admin.alterPartitionReassignments(Map.of(tp, to)).values().get(tp).get(30, TimeUnit.SECONDS);
            System.out.println("RESULT ok");
        } catch (ExecutionException e) {
            System.out.println("RESULT " + e.getCause().getClass().getSimpleName() + " " + e.getCause().getMessage());
        }
    }

    static void list(Admin admin) throws Exception {
        Map<TopicPartition, PartitionReassignment> all =
                admin.listPartitionReassignments().reassignments().get(30, TimeUnit.SECONDS);
        List<TopicPartition> tps = new ArrayList<>(all.keySet());
        tps.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        for (TopicPartition tp : tps) {
            PartitionReassignment r = all.get(tp);
            System.out.println("REASSIGNING " + tp.topic() + " " + tp.partition() + " " + show(r.replicas())
                    + " " + show(r.addingReplicas()) + " " + show(r.removingReplicas()));
        }
    }

    static void describe(Admin admin, String topic) throws Exception {
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                .get(30, TimeUnit.SECONDS).get(topic);
        for (TopicPartitionInfo pi : d.partitions()) {
            List<Integer> replicas = new ArrayList<>();
            for (org.apache.kafka.common.Node n : pi.replicas()) replicas.add(n.id());
            List<Integer> isr = new ArrayList<>();
            for (org.apache.kafka.common.Node n : pi.isr()) isr.add(n.id());
            String leader = pi.leader() == null ? "none" : String.valueOf(pi.leader().id());
            System.out.println("PARTITION " + pi.partition() + " " + leader + " " + show(replicas) + " " + show(isr));
        }
    }
}
