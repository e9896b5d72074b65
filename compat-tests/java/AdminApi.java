// Java Admin client: describeCluster, createTopics, listTopics, describeTopics,
// createPartitions, describeConfigs (topic and broker), deleteTopics, error cases.
// Usage: java -cp ".cache/jars/*" compat-tests/java/AdminApi.java <bootstrap>
import java.util.*;
import java.util.concurrent.*;
import java.util.stream.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.*;

public class AdminApi {
    static void check(boolean ok, String msg) {
        if (!ok) throw new AssertionError(msg);
    }

    static void eq(Object expected, Object got, String what) {
        if (!Objects.equals(expected, got))
            throw new AssertionError(what + ": expected <" + expected + "> got <" + got + ">");
    }

    static <T> T get(KafkaFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    static void expectFailure(KafkaFuture<?> f, Class<? extends Throwable> cause, String what) throws Exception {
        try {
            f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            check(cause.isInstance(e.getCause()), what + ": expected " + cause.getSimpleName() + " got " + e.getCause());
            return;
        }
        throw new AssertionError(what + ": expected " + cause.getSimpleName() + " but it succeeded");
    }

    interface Section {
        void run() throws Exception;
    }

    static final List<String> failures = new ArrayList<>();

    /** Runs one group of checks; a failure is recorded and the remaining sections still run. */
    static void section(String name, Section body) {
        try {
            body.run();
            System.out.println("ok   " + name);
        } catch (Throwable t) {
            System.out.println("FAIL " + name + ": " + t);
            t.printStackTrace(System.out);
            failures.add(name + ": " + t);
        }
    }

    public static void main(String[] args) {
        try {
            run(args[0]);
        } catch (Throwable t) {
            failures.add("setup: " + t);
            t.printStackTrace(System.out);
        }
        if (failures.isEmpty()) {
            System.out.println("OK");
            System.exit(0);
        }
        System.out.println("FAIL: " + failures.size() + " section(s) failed:");
        failures.forEach(f -> System.out.println("  " + f));
        System.exit(1);
    }

    static void run(String bs) throws Exception {
        String[] hp = bs.split(":");
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        try (Admin admin = Admin.create(p)) {
            // --- cluster
            DescribeClusterResult cluster = admin.describeCluster();
            Collection<Node> nodes = get(cluster.nodes());
            eq(1, nodes.size(), "number of nodes");
            final Node node = nodes.iterator().next();
            section("describeCluster", () -> {
                eq(hp[0], node.host(), "node host");
                eq(Integer.parseInt(hp[1]), node.port(), "node port");
                String clusterId = get(cluster.clusterId());
                check(clusterId != null && !clusterId.isEmpty(), "cluster id empty: " + clusterId);
                Node controller = get(cluster.controller());
                check(controller != null && !controller.isEmpty(), "no controller: " + controller);
                eq(node.id(), controller.id(), "controller id");
                System.out.println("cluster " + clusterId + " node " + node);
            });

            // --- create
            CreateTopicsResult created = admin.createTopics(List.of(
                    new NewTopic("jadm", 3, (short) 1).configs(Map.of("retention.ms", "3600000")),
                    new NewTopic("jadm-default", Optional.empty(), Optional.empty())));
            get(created.all());
            final Uuid id = get(created.topicId("jadm"));
            section("createTopics result", () -> {
                check(id != null && !id.equals(Uuid.ZERO_UUID), "topic id from createTopics: " + id);
                eq(3, get(created.numPartitions("jadm")), "numPartitions from createTopics");
                eq(1, get(created.numPartitions("jadm-default")), "numPartitions of default topic (num.partitions=1)");
                Config createdCfg = get(created.config("jadm"));
                check(createdCfg.get("retention.ms") != null, "retention.ms missing from createTopics result configs");
                eq("3600000", createdCfg.get("retention.ms").value(), "retention.ms in createTopics result");
            });
            section("createTopics errors", () -> {
                expectFailure(admin.createTopics(List.of(new NewTopic("jadm", 1, (short) 1))).all(),
                        TopicExistsException.class, "create existing topic");
                expectFailure(admin.createTopics(List.of(new NewTopic("bad topic!", 1, (short) 1))).all(),
                        InvalidTopicException.class, "create topic with invalid name");
            });

            section("createTopics validation", () -> {
                expectFailure(admin.createTopics(List.of(new NewTopic("jbad-rf", 1, (short) 3))).all(),
                        InvalidReplicationFactorException.class, "replication factor 3 on one broker");
                expectFailure(admin.createTopics(List.of(new NewTopic("jbad-parts", 0, (short) 1))).all(),
                        InvalidPartitionsException.class, "zero partitions");
                expectFailure(admin.createTopics(List.of(new NewTopic("jbad-cfg", 1, (short) 1)
                        .configs(Map.of("cleanup.policy", "bogus")))).all(),
                        InvalidConfigurationException.class, "invalid cleanup.policy value");
                expectFailure(admin.createTopics(List.of(new NewTopic("jbad-key", 1, (short) 1)
                        .configs(Map.of("no.such.config", "1")))).all(),
                        InvalidConfigurationException.class, "unknown topic config key");
                get(admin.createTopics(List.of(new NewTopic("jvalidate", 2, (short) 1)),
                        new CreateTopicsOptions().validateOnly(true)).all());
                Set<String> names = get(admin.listTopics().names());
                for (String t : List.of("jbad-rf", "jbad-parts", "jbad-cfg", "jbad-key", "jvalidate"))
                    check(!names.contains(t), t + " exists after a failed or validate-only create: " + names);
            });

            section("listTopics", () -> {
                Set<String> names = get(admin.listTopics().names());
                check(names.containsAll(Set.of("jadm", "jadm-default")), "listTopics: " + names);
                check(!names.contains("bad topic!"), "invalid topic was created: " + names);
            });

            section("describeTopics by name", () -> {
                TopicDescription d = get(admin.describeTopics(List.of("jadm")).allTopicNames()).get("jadm");
                eq("jadm", d.name(), "describe name");
                eq(id, d.topicId(), "describe topic id");
                eq(false, d.isInternal(), "internal");
                eq(List.of(0, 1, 2), d.partitions().stream().map(TopicPartitionInfo::partition).collect(Collectors.toList()),
                        "partition indexes");
                for (TopicPartitionInfo pi : d.partitions()) {
                    eq(node.id(), pi.leader().id(), "leader of partition " + pi.partition());
                    eq(List.of(node.id()), pi.replicas().stream().map(Node::id).collect(Collectors.toList()), "replicas");
                    eq(List.of(node.id()), pi.isr().stream().map(Node::id).collect(Collectors.toList()), "isr");
                }
                expectFailure(admin.describeTopics(List.of("does-not-exist")).allTopicNames(),
                        UnknownTopicOrPartitionException.class, "describe unknown topic");
            });
            section("describeTopics by topic id", () -> {
                TopicDescription byId = get(admin.describeTopics(TopicCollection.ofTopicIds(List.of(id))).allTopicIds()).get(id);
                eq("jadm", byId.name(), "describe by topic id");
                eq(3, byId.partitions().size(), "partitions described by topic id");
            });

            section("createPartitions", () -> {
                get(admin.createPartitions(Map.of("jadm", NewPartitions.increaseTo(5))).all());
                TopicDescription d = get(admin.describeTopics(List.of("jadm")).allTopicNames()).get("jadm");
                eq(5, d.partitions().size(), "partitions after createPartitions");
                eq(id, d.topicId(), "topic id unchanged by createPartitions");
                expectFailure(admin.createPartitions(Map.of("jadm", NewPartitions.increaseTo(2))).all(),
                        InvalidPartitionsException.class, "decrease partitions");
            });

            section("describeConfigs", () -> {
                ConfigResource topicRes = new ConfigResource(ConfigResource.Type.TOPIC, "jadm");
                ConfigResource brokerRes = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(node.id()));
                Map<ConfigResource, Config> cfgs = get(admin.describeConfigs(List.of(topicRes, brokerRes)).all());
                Config tc = cfgs.get(topicRes);
                for (String k : List.of("cleanup.policy", "retention.ms", "segment.bytes", "max.message.bytes",
                        "retention.bytes", "min.insync.replicas"))
                    check(tc.get(k) != null, "topic config " + k + " missing; got " + keys(tc));
                eq("delete", tc.get("cleanup.policy").value(), "cleanup.policy");
                eq("3600000", tc.get("retention.ms").value(), "retention.ms (set at creation)");
                eq(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, tc.get("retention.ms").source(), "retention.ms source");
                eq("1073741824", tc.get("segment.bytes").value(), "segment.bytes default");
                Config bc = cfgs.get(brokerRes);
                for (String k : List.of("log.retention.hours", "num.partitions", "log.segment.bytes", "message.max.bytes",
                        "auto.create.topics.enable"))
                    check(bc.get(k) != null, "broker config " + k + " missing; got " + keys(bc));
                eq("168", bc.get("log.retention.hours").value(), "log.retention.hours");
                eq("1", bc.get("num.partitions").value(), "num.partitions");
            });

            section("deleteTopics", () -> {
                get(admin.deleteTopics(List.of("jadm")).all());
                long deadline = System.currentTimeMillis() + 10_000;
                while (get(admin.listTopics().names()).contains("jadm")) {
                    check(System.currentTimeMillis() < deadline, "jadm still listed 10 s after deleteTopics");
                    Thread.sleep(50);
                }
                check(get(admin.listTopics().names()).contains("jadm-default"), "other topic survived delete");
                expectFailure(admin.deleteTopics(List.of("jadm")).all(), UnknownTopicOrPartitionException.class,
                        "delete unknown topic");
                // re-creating a deleted topic gives a fresh topic id
                CreateTopicsResult again = admin.createTopics(List.of(new NewTopic("jadm", 1, (short) 1)));
                get(again.all());
                check(!id.equals(get(again.topicId("jadm"))), "re-created topic reused the old topic id");
            });
        }
    }

    static String keys(Config c) {
        return c.entries().stream().map(ConfigEntry::name).sorted().collect(Collectors.joining(","));
    }
}
