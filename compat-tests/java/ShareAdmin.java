// Share groups (KIP-932) through the Java Admin client, called the way kafka-share-groups.sh calls it:
// --list (listGroups forShareGroups), --describe --members / --state (describeShareGroups), --delete
// (listGroups, then deleteShareGroups). In these first two scenarios the members are raw
// ShareGroupHeartbeats sent by the Python test, so their membership is exact.
// Usage: java -cp ".cache/jars/*" compat-tests/java/ShareAdmin.java <scenario> <bootstrap> <group> <topic>
//   stable   the group has members m1 and m2 sharing <topic>'s one partition: listed Stable as a share
//            group (and not as a consumer group), described with both members, not deletable
//   empty    the group has no member left: listed and described Empty, deleted, then unknown
// Share-group offsets (kafka-share-groups.sh --describe --offsets / --reset-offsets / --delete-offsets), with
// real KafkaShareConsumers (ShareMember) started and stopped by the Python test between the scenarios:
//   offsets-busy <expected start>   START-OFFSET of partition 0 is <expected start>; with a member in the
//            group --reset-offsets, --delete-offsets and --delete are refused (GroupNotEmptyException)
//   reset-earliest|reset-latest <expected start>   once the group is Empty (waited for), START-OFFSET is
//            <expected start>; --reset-offsets --to-earliest/--to-latest --execute moves it there
//   delete-offsets <expected start>   once Empty: --delete-offsets forgets the topic's START-OFFSET, --delete
//            removes the group (no longer listed, its offsets GROUP_ID_NOT_FOUND)
// Lag (DescribeShareGroupOffsets v1, KIP-1226; kafka-share-groups.sh --describe --offsets prints it as LAG):
//   lag      creates <topic> and <topic>-idle, produces 100 records, one KafkaShareConsumer (explicit mode)
//            accepts offsets 0-29 and releases 30-39 (and the rest): LAG 70 = 100 - 30 - 0; after
//            --reset-offsets to 50 LAG 50 (the delivery-complete count starts again at 0); a partition
//            the group never read has no offsets (null), so no lag
// In a cluster (design share-groups.md §14.1 step 6; <bootstrap> a node leading none of the partitions):
//   cluster  <topic> exists with 3 partitions: 30 records produced to each, a KafkaShareConsumer accepts
//            offsets 0-9 of each and releases the rest: START-OFFSET 10, LAG 20 everywhere; --reset-offsets
//            of partition 0 to 20 and partition 1 to 0: a new consumer gets exactly 20-29, 0-29 and 10-29;
//            then START-OFFSET 30, LAG 0; --delete-offsets, --delete
// Printing modes, for a Python test that asserts (design share-groups.md §14.1 step 7 f):
//   topic-id     prints "TOPICID <id>" (Uuid.toString()) of <topic>
//   delete-topic deletes <topic> (Admin.deleteTopics) and prints "DELETED <id>"
//   offsets      --describe --offsets of every partition with state: "OFFSET <topic> <partition> <start> <lag|->"
//   state-log    every record of __share_group_state, in order per partition, of <group> (any topic when
//                <topic> is "-"): "STATE <state partition> <offset> <topic id> <partition> VALUE|TOMBSTONE"
// Every scenario asserts on its own, prints "ok <section>" / "FAIL <section>: ..." and finally OK, or exits 1.
import java.util.*;
import java.util.concurrent.*;
import java.util.stream.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.clients.admin.OffsetSpec;
import java.time.Duration;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.*;

public class ShareAdmin {
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

    static Throwable expectFailure(KafkaFuture<?> f, Class<? extends Throwable> cause, String what) throws Exception {
        try {
            f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            check(cause.isInstance(e.getCause()), what + ": expected " + cause.getSimpleName() + " got " + e.getCause());
            return e.getCause();
        }
        throw new AssertionError(what + ": expected " + cause.getSimpleName() + " but it succeeded");
    }

    interface Section {
        void run() throws Exception;
    }

    static final List<String> failures = new ArrayList<>();

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

    static Optional<GroupListing> listed(Admin a, ListGroupsOptions options, String group) throws Exception {
        return get(a.listGroups(options).all()).stream().filter(g -> g.groupId().equals(group)).findFirst();
    }

    public static void main(String[] args) {
        String scenario = args[0], bs = args[1], group = args[2], topic = args[3];
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        try (Admin a = Admin.create(p)) {
            switch (scenario) {
                case "stable": stable(a, group, topic); break;
                case "empty": empty(a, group); break;
                case "offsets-busy": offsetsBusy(a, group, topic, Long.parseLong(args[4])); break;
                case "reset-earliest": reset(a, group, topic, Long.parseLong(args[4]), OffsetSpec.earliest()); break;
                case "reset-latest": reset(a, group, topic, Long.parseLong(args[4]), OffsetSpec.latest()); break;
                case "delete-offsets": deleteOffsets(a, group, topic, Long.parseLong(args[4])); break;
                case "lag": lag(a, bs, group, topic); break;
                case "cluster": cluster(a, bs, group, topic); break;
                case "topic-id": section("topic id", () -> System.out.println("TOPICID " + topicId(a, topic))); break;
                case "delete-topic": section("delete " + topic, () -> {
                    Uuid id = topicId(a, topic);
                    get(a.deleteTopics(List.of(topic)).all());
                    System.out.println("DELETED " + id);
                }); break;
                case "offsets": section("--describe --offsets", () -> {
                    TreeMap<String, SharePartitionOffsetInfo> sorted = new TreeMap<>();
                    offsets(a, group).forEach((tp, info) -> sorted.put(tp.topic() + " " + tp.partition(), info));
                    sorted.forEach((tp, info) -> System.out.println("OFFSET " + tp + " " + info.startOffset() + " "
                        + info.lag().map(String::valueOf).orElse("-")));
                }); break;
                case "state-log": section("__share_group_state", () -> stateLog(bs, group)); break;
                default: throw new IllegalArgumentException("unknown scenario " + scenario);
            }
        }
        if (!failures.isEmpty()) {
            System.out.println("FAILED: " + failures);
            System.exit(1);
        }
        System.out.println("OK");
    }

    static void stable(Admin a, String group, String topic) {
        section("list (kafka-share-groups.sh --list)", () -> {
            GroupListing l = listed(a, ListGroupsOptions.forShareGroups(), group)
                .orElseThrow(() -> new AssertionError(group + " not listed as a share group"));
            eq(Optional.of(GroupType.SHARE), l.type(), "type");
            eq(Optional.of(GroupState.STABLE), l.groupState(), "state");
            eq("share", l.protocol(), "protocol type");
            check(listed(a, ListGroupsOptions.forShareGroups().inGroupStates(Set.of(GroupState.STABLE)), group).isPresent(),
                "state filter Stable");
            check(listed(a, ListGroupsOptions.forShareGroups().inGroupStates(Set.of(GroupState.EMPTY)), group).isEmpty(),
                "state filter Empty");
            check(listed(a, ListGroupsOptions.forConsumerGroups(), group).isEmpty(), "not a consumer group");
        });
        section("describe (--describe --members --verbose)", () -> {
            ShareGroupDescription d = get(a.describeShareGroups(List.of(group)).all()).get(group);
            eq(GroupState.STABLE, d.groupState(), "state");
            eq(2, d.groupEpoch(), "group epoch");
            eq(2, d.targetAssignmentEpoch(), "assignment epoch");
            check(d.coordinator() != null && d.coordinator().id() >= 0, "coordinator " + d.coordinator());
            List<String> ids = d.members().stream().map(ShareMemberDescription::consumerId).sorted().collect(Collectors.toList());
            eq(List.of("m1", "m2"), ids, "members");
            for (ShareMemberDescription m : d.members()) {
                eq(Set.of(new TopicPartition(topic, 0)), m.assignment().topicPartitions(), m.consumerId() + " assignment");
                eq("share-compat", m.clientId(), "client id");
                check(m.host().contains("127.0.0.1"), "host " + m.host());
            }
        });
        section("delete refused while members are in (--delete)", () -> {
            expectFailure(a.deleteShareGroups(List.of(group)).all(), GroupNotEmptyException.class, "delete");
        });
        section("an unknown group is GROUP_ID_NOT_FOUND", () -> {
            expectFailure(a.describeShareGroups(List.of("no-such-share-group")).all(),
                GroupIdNotFoundException.class, "describe unknown");
        });
    }

    static void empty(Admin a, String group) {
        section("list and describe Empty", () -> {
            GroupListing l = listed(a, ListGroupsOptions.forShareGroups(), group)
                .orElseThrow(() -> new AssertionError(group + " not listed"));
            eq(Optional.of(GroupState.EMPTY), l.groupState(), "state");
            ShareGroupDescription d = get(a.describeShareGroups(List.of(group)).all()).get(group);
            eq(GroupState.EMPTY, d.groupState(), "state");
            check(d.members().isEmpty(), "members " + d.members());
        });
        section("delete (--delete)", () -> {
            get(a.deleteShareGroups(List.of(group)).all());
            check(listed(a, ListGroupsOptions.forShareGroups(), group).isEmpty(), "still listed");
            expectFailure(a.describeShareGroups(List.of(group)).all(), GroupIdNotFoundException.class, "describe deleted");
        });
    }

    static Uuid topicId(Admin a, String topic) throws Exception {
        return get(a.describeTopics(List.of(topic)).allTopicNames()).get(topic).topicId();
    }

    /** Every record of __share_group_state up to its end: fjord's snapshot key (int16 type, string group,
     *  uuid topic id, int32 partition) and whether the value is a tombstone, for <group>'s keys. */
    static void stateLog(String bs, String group) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        p.put("enable.auto.commit", "false");
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = c.partitionsFor("__share_group_state", Duration.ofSeconds(30)).stream()
                .map(i -> new TopicPartition(i.topic(), i.partition()))
                .sorted(Comparator.comparingInt(TopicPartition::partition))
                .collect(Collectors.toList());
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
            Map<Integer, List<String>> lines = new TreeMap<>();
            long deadline = System.currentTimeMillis() + 60_000;
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                check(System.currentTimeMillis() < deadline, "__share_group_state not read to its end " + end);
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    java.nio.ByteBuffer k = java.nio.ByteBuffer.wrap(r.key());
                    k.getShort(); // record type 0: a snapshot
                    byte[] g = new byte[k.getShort()];
                    k.get(g);
                    Uuid id = new Uuid(k.getLong(), k.getLong());
                    int partition = k.getInt();
                    if (!new String(g, java.nio.charset.StandardCharsets.UTF_8).equals(group)) continue;
                    lines.computeIfAbsent(r.partition(), x -> new ArrayList<>()).add("STATE " + r.partition() + " "
                        + r.offset() + " " + id + " " + partition + " " + (r.value() == null ? "TOMBSTONE" : "VALUE"));
                }
            }
            lines.values().forEach(l -> l.forEach(System.out::println));
        }
    }

    /** --describe --offsets: START-OFFSET per partition (Admin.listShareGroupOffsets, all partitions). */
    static Map<TopicPartition, SharePartitionOffsetInfo> offsets(Admin a, String group) throws Exception {
        return get(a.listShareGroupOffsets(Map.of(group, new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo(group));
    }

    static void expectStart(Admin a, String group, String topic, long start) throws Exception {
        TopicPartition tp = new TopicPartition(topic, 0);
        SharePartitionOffsetInfo info = offsets(a, group).get(tp);
        check(info != null, "no START-OFFSET for " + tp + ": " + offsets(a, group));
        eq(start, info.startOffset(), "START-OFFSET of " + tp);
        eq(Optional.of(0), info.leaderEpoch(), "leader epoch");
        // The same, asking for the partition by name; an unknown partition has none.
        Map<TopicPartition, SharePartitionOffsetInfo> named = get(a.listShareGroupOffsets(Map.of(group,
            new ListShareGroupOffsetsSpec().topicPartitions(List.of(tp)))).partitionsToOffsetInfo(group));
        eq(start, named.get(tp).startOffset(), "START-OFFSET asked by name");
    }

    /** Members leave by their session timing out: wait (on the condition) for the group to be Empty. */
    static void waitEmpty(Admin a, String group) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        while (get(a.describeShareGroups(List.of(group)).all()).get(group).groupState() != GroupState.EMPTY) {
            check(System.currentTimeMillis() < deadline, "group never Empty");
            Thread.sleep(100);
        }
    }

    static void offsetsBusy(Admin a, String group, String topic, long start) {
        TopicPartition tp = new TopicPartition(topic, 0);
        section("--describe --offsets with a member", () -> expectStart(a, group, topic, start));
        section("--reset-offsets refused with members", () -> {
            expectFailure(a.alterShareGroupOffsets(group, Map.of(tp, 0L)).all(), GroupNotEmptyException.class, "alter");
            expectStart(a, group, topic, start);
        });
        section("--delete-offsets refused with members", () -> {
            expectFailure(a.deleteShareGroupOffsets(group, Set.of(topic)).all(), GroupNotEmptyException.class, "delete offsets");
            expectStart(a, group, topic, start);
        });
        section("--delete refused with members", () -> {
            expectFailure(a.deleteShareGroups(List.of(group)).all(), GroupNotEmptyException.class, "delete");
        });
        section("an unknown group's offsets are GROUP_ID_NOT_FOUND", () -> {
            expectFailure(a.listShareGroupOffsets(Map.of("no-such-share-group", new ListShareGroupOffsetsSpec()))
                .partitionsToOffsetInfo("no-such-share-group"), GroupIdNotFoundException.class, "list offsets");
            expectFailure(a.deleteShareGroupOffsets("no-such-share-group", Set.of(topic)).all(),
                GroupIdNotFoundException.class, "delete offsets");
        });
    }

    static void reset(Admin a, String group, String topic, long start, OffsetSpec to) {
        TopicPartition tp = new TopicPartition(topic, 0);
        section("--describe --offsets once Empty", () -> {
            waitEmpty(a, group);
            expectStart(a, group, topic, start);
        });
        section("--reset-offsets " + (to instanceof OffsetSpec.EarliestSpec ? "--to-earliest" : "--to-latest") + " --execute", () -> {
            long target = get(a.listOffsets(Map.of(tp, to)).partitionResult(tp)).offset();
            get(a.alterShareGroupOffsets(group, Map.of(tp, target)).all());
            expectStart(a, group, topic, target);
            System.out.println("RESET " + target);
        });
        section("--reset-offsets of an unknown topic", () -> {
            TopicPartition unknown = new TopicPartition("no-such-topic", 0);
            expectFailure(a.alterShareGroupOffsets(group, Map.of(unknown, 0L)).partitionResult(unknown),
                UnknownTopicOrPartitionException.class, "alter unknown topic");
        });
    }

    static void deleteOffsets(Admin a, String group, String topic, long start) {
        section("--delete-offsets once Empty", () -> {
            waitEmpty(a, group);
            expectStart(a, group, topic, start);
            get(a.deleteShareGroupOffsets(group, Set.of(topic)).all());
            check(!offsets(a, group).containsKey(new TopicPartition(topic, 0)), "still has offsets: " + offsets(a, group));
            expectFailure(a.deleteShareGroupOffsets(group, Set.of("no-such-topic")).topicResult("no-such-topic"),
                UnknownTopicOrPartitionException.class, "delete offsets of an unknown topic");
        });
        section("--delete, then gone from --list", () -> {
            get(a.deleteShareGroups(List.of(group)).all());
            check(listed(a, ListGroupsOptions.forShareGroups(), group).isEmpty(), "still listed");
            expectFailure(a.listShareGroupOffsets(Map.of(group, new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo(group),
                GroupIdNotFoundException.class, "offsets of the deleted group");
        });
    }

    /** START-OFFSET and LAG of partition 0 of <topic>, all partitions and asked by name. */
    static void expectLag(Admin a, String group, String topic, long start, long lag) throws Exception {
        TopicPartition tp = new TopicPartition(topic, 0);
        SharePartitionOffsetInfo info = offsets(a, group).get(tp);
        check(info != null, "no offsets for " + tp + ": " + offsets(a, group));
        eq(start, info.startOffset(), "START-OFFSET of " + tp);
        eq(Optional.of(lag), info.lag(), "LAG of " + tp);
        Map<TopicPartition, SharePartitionOffsetInfo> named = get(a.listShareGroupOffsets(Map.of(group,
            new ListShareGroupOffsetsSpec().topicPartitions(List.of(tp)))).partitionsToOffsetInfo(group));
        eq(Optional.of(lag), named.get(tp).lag(), "LAG asked by name");
    }

    static void lag(Admin a, String bs, String group, String topic) {
        TopicPartition tp = new TopicPartition(topic, 0);
        TopicPartition idle = new TopicPartition(topic + "-idle", 0);
        section("setup: 100 records, share.auto.offset.reset=earliest", () -> {
            get(a.createTopics(List.of(new NewTopic(topic, 1, (short) 1), new NewTopic(idle.topic(), 1, (short) 1))).all());
            ConfigResource res = new ConfigResource(ConfigResource.Type.GROUP, group);
            AlterConfigOp op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
            get(a.incrementalAlterConfigs(Map.of(res, List.of(op))).all());
            Properties p = new Properties();
            p.put("bootstrap.servers", bs);
            p.put("key.serializer", StringSerializer.class.getName());
            p.put("value.serializer", StringSerializer.class.getName());
            p.put("linger.ms", "200"); // one batch, so one poll acquires all of it
            try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
                for (int i = 0; i < 100; i++)
                    prod.send(new ProducerRecord<>(topic, 0, Integer.toString(i), "v-" + i));
            }
        });
        section("accept 30, release the rest: LAG 70", () -> {
            Properties p = new Properties();
            p.put("bootstrap.servers", bs);
            p.put("group.id", group);
            p.put("share.acknowledgement.mode", "explicit");
            p.put("key.deserializer", StringDeserializer.class.getName());
            p.put("value.deserializer", StringDeserializer.class.getName());
            try (KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(p)) {
                c.subscribe(List.of(topic));
                ConsumerRecords<String, String> recs = ConsumerRecords.empty();
                long deadline = System.currentTimeMillis() + 60_000;
                while (recs.isEmpty()) {
                    check(System.currentTimeMillis() < deadline, "no records polled");
                    recs = c.poll(Duration.ofMillis(500));
                }
                eq(100, recs.count(), "records in the first poll");
                for (ConsumerRecord<String, String> r : recs)
                    c.acknowledge(r, r.offset() < 30 ? AcknowledgeType.ACCEPT : AcknowledgeType.RELEASE);
                Map<TopicIdPartition, Optional<KafkaException>> acked = c.commitSync();
                for (Optional<KafkaException> e : acked.values())
                    check(e.isEmpty(), "acknowledgement failed: " + e);
            }
            waitEmpty(a, group);
            // SPSO 30 (0-29 accepted), nothing delivered for good above it: 100 - 30 - 0.
            expectLag(a, group, topic, 30, 70);
        });
        section("a partition without state has no offsets (no LAG)", () -> {
            Map<TopicPartition, SharePartitionOffsetInfo> named = get(a.listShareGroupOffsets(Map.of(group,
                new ListShareGroupOffsetsSpec().topicPartitions(List.of(idle)))).partitionsToOffsetInfo(group));
            check(named.containsKey(idle), "idle partition not answered: " + named);
            eq(null, named.get(idle), "offsets of " + idle);
            check(!offsets(a, group).containsKey(idle), "idle partition listed: " + offsets(a, group));
        });
        section("--reset-offsets to 50: LAG 50", () -> {
            get(a.alterShareGroupOffsets(group, Map.of(tp, 50L)).all());
            expectLag(a, group, topic, 50, 50);
        });
    }

    static KafkaShareConsumer<String, String> shareConsumer(String bs, String group) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("group.id", group);
        p.put("share.acknowledgement.mode", "explicit");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        return new KafkaShareConsumer<>(p);
    }

    /** START-OFFSET and LAG of each partition of <topic> (index -> {start, lag}), all partitions and by name. */
    static void expectAll(Admin a, String group, String topic, long[][] expected) throws Exception {
        Map<TopicPartition, SharePartitionOffsetInfo> all = offsets(a, group);
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < expected.length; p++) tps.add(new TopicPartition(topic, p));
        Map<TopicPartition, SharePartitionOffsetInfo> named = get(a.listShareGroupOffsets(Map.of(group,
            new ListShareGroupOffsetsSpec().topicPartitions(tps))).partitionsToOffsetInfo(group));
        eq(new HashSet<>(tps), all.keySet(), "partitions with offsets");
        for (TopicPartition tp : tps) {
            long[] e = expected[tp.partition()];
            for (Map<TopicPartition, SharePartitionOffsetInfo> m : List.of(all, named)) {
                SharePartitionOffsetInfo info = m.get(tp);
                check(info != null, "no offsets for " + tp + ": " + m);
                eq(e[0], info.startOffset(), "START-OFFSET of " + tp);
                eq(Optional.of(e[1]), info.lag(), "LAG of " + tp);
                check(info.leaderEpoch().isPresent(), "no leader epoch for " + tp);
            }
        }
    }

    // Records from..to-1 (key "partition-i", value "v-i") into each partition, acks=all.
    static void produceEach(String bs, String topic, int partitions, int from, int to) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("acks", "all");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("linger.ms", "200");
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            for (int part = 0; part < partitions; part++)
                for (int i = from; i < to; i++)
                    prod.send(new ProducerRecord<>(topic, part, part + "-" + i, "v-" + i));
        }
    }

    static void cluster(Admin a, String bs, String group, String topic) {
        int partitions = 3;
        section("setup: 10 records in each of 3 partitions, share.auto.offset.reset=earliest", () -> {
            ConfigResource res = new ConfigResource(ConfigResource.Type.GROUP, group);
            AlterConfigOp op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
            get(a.incrementalAlterConfigs(Map.of(res, List.of(op))).all());
            produceEach(bs, topic, partitions, 0, 10);
        });
        // Not "release the rest": released records come straight back, and while one partition's
        // first fetch waits for its state to load, another's could reach the delivery limit.
        section("accept offsets 0-9 of each partition, then 20 more records each: START-OFFSET 10, LAG 20", () -> {
            try (KafkaShareConsumer<String, String> c = shareConsumer(bs, group)) {
                c.subscribe(List.of(topic));
                Set<String> accepted = new HashSet<>();
                long deadline = System.currentTimeMillis() + 60_000;
                while (accepted.size() < 10 * partitions) {
                    check(System.currentTimeMillis() < deadline, "not every partition polled: " + accepted);
                    ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(500));
                    if (recs.isEmpty()) continue;
                    for (ConsumerRecord<String, String> r : recs) {
                        check(r.offset() < 10, "record beyond offset 9: " + r);
                        c.acknowledge(r, AcknowledgeType.ACCEPT);
                        accepted.add(r.partition() + "@" + r.offset());
                    }
                    for (Optional<KafkaException> e : c.commitSync().values())
                        check(e.isEmpty(), "acknowledgement failed: " + e);
                }
            }
            waitEmpty(a, group);
            produceEach(bs, topic, partitions, 10, 30);
            expectAll(a, group, topic, new long[][] {{10, 20}, {10, 20}, {10, 20}});
        });
        section("--reset-offsets: partition 0 to 20, partition 1 to 0", () -> {
            TopicPartition tp0 = new TopicPartition(topic, 0), tp1 = new TopicPartition(topic, 1);
            get(a.alterShareGroupOffsets(group, Map.of(tp0, 20L, tp1, 0L)).all());
            expectAll(a, group, topic, new long[][] {{20, 10}, {0, 30}, {10, 20}});
        });
        section("a new consumer starts exactly where each partition's START-OFFSET is", () -> {
            Map<Integer, TreeSet<Long>> got = new TreeMap<>();
            try (KafkaShareConsumer<String, String> c = shareConsumer(bs, group)) {
                c.subscribe(List.of(topic));
                long deadline = System.currentTimeMillis() + 60_000;
                while (got.values().stream().mapToInt(Set::size).sum() < 60) {
                    check(System.currentTimeMillis() < deadline, "records missing: " + got);
                    ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(500));
                    if (recs.isEmpty()) continue;
                    for (ConsumerRecord<String, String> r : recs) {
                        c.acknowledge(r, AcknowledgeType.ACCEPT);
                        got.computeIfAbsent(r.partition(), k -> new TreeSet<>()).add(r.offset());
                    }
                    for (Optional<KafkaException> e : c.commitSync().values())
                        check(e.isEmpty(), "acknowledgement failed: " + e);
                }
            }
            eq(LongStream.range(20, 30).boxed().collect(Collectors.toCollection(TreeSet::new)), got.get(0), "offsets of partition 0");
            eq(LongStream.range(0, 30).boxed().collect(Collectors.toCollection(TreeSet::new)), got.get(1), "offsets of partition 1");
            eq(LongStream.range(10, 30).boxed().collect(Collectors.toCollection(TreeSet::new)), got.get(2), "offsets of partition 2");
            waitEmpty(a, group);
            expectAll(a, group, topic, new long[][] {{30, 0}, {30, 0}, {30, 0}});
        });
        section("--delete-offsets, then --delete", () -> {
            get(a.deleteShareGroupOffsets(group, Set.of(topic)).all());
            eq(Map.of(), offsets(a, group), "offsets after --delete-offsets");
            get(a.deleteShareGroups(List.of(group)).all());
            check(listed(a, ListGroupsOptions.forShareGroups(), group).isEmpty(), "still listed");
            expectFailure(a.listShareGroupOffsets(Map.of(group, new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo(group),
                GroupIdNotFoundException.class, "offsets of the deleted group");
        });
    }
}
