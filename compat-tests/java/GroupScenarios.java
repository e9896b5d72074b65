// Consumer groups with Java kafka-clients 4.x (the library under kafka-console-consumer.sh and
// kafka-consumer-groups.sh). Several consumers run in threads of this one JVM; each owns its
// KafkaConsumer. Apache Kafka's behaviour is the expectation throughout.
//
// Usage: java -cp ".cache/jars/*" compat-tests/java/GroupScenarios.java <mode> <bootstrap> [args]
//   split <bs> <topic> <group> range|cooperative-sticky   3 members share 6 partitions, one leaves
//   resume <bs> <topic> <group>                           consume 100 of 200, commit, close; next resumes
//   commit <bs> <topic> <group>                           commit 10/20/30 on 3 partitions (before a broker kill)
//   resume-after-restart <bs> <topic> <group>             offsets 10/20/30 still there; consumer starts there
//   admin <bs> <topic> <group>                            what kafka-consumer-groups.sh does
//   console <bs> <topic> <group>                          console-consumer style: auto commit, earliest
//   kip848 <bs> <topic> <group>                           group.protocol=consumer, 2 members
//   describe <bs> <group>                                 prints the group as "key value" lines
// Exits 0 printing "OK" on success; prints "FAIL: ..." and exits 1 otherwise.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.BooleanSupplier;
import java.util.stream.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.serialization.*;

public class GroupScenarios {
    static void check(boolean ok, String msg) {
        if (!ok) throw new AssertionError(msg);
    }

    static void eq(Object expected, Object got, String what) {
        if (!Objects.equals(expected, got))
            throw new AssertionError(what + ": expected <" + expected + "> got <" + got + ">");
    }

    static void waitUntil(BooleanSupplier cond, long timeoutMs, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline)
                throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + what);
            Thread.sleep(20);
        }
    }

    public static void main(String[] a) {
        try {
            switch (a[0]) {
                case "split" -> split(a[1], a[2], a[3], a[4]);
                case "resume" -> resume(a[1], a[2], a[3]);
                case "commit" -> commitBeforeRestart(a[1], a[2], a[3]);
                case "resume-after-restart" -> resumeAfterRestart(a[1], a[2], a[3]);
                case "admin" -> admin(a[1], a[2], a[3]);
                case "console" -> console(a[1], a[2], a[3]);
                case "kip848" -> kip848(a[1], a[2], a[3]);
                case "describe" -> describe(a[1], a[2]);
                default -> throw new IllegalArgumentException("unknown mode " + a[0]);
            }
            System.out.println("OK");
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    // --- helpers -------------------------------------------------------------------------

    static Properties base(String bs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        return p;
    }

    static Properties consumerProps(String bs, String group) {
        Properties p = base(bs);
        p.put("group.id", group);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("session.timeout.ms", "6000");
        p.put("heartbeat.interval.ms", "1000");
        return p;
    }

    static void createTopic(Admin admin, String topic, int partitions) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }

    /** Produces perPartition records "p<p>-<i>" to every partition, i from `from`; checks the offsets. */
    static void produce(String bs, String topic, int partitions, int from, int perPartition) throws Exception {
        Properties p = base(bs);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("linger.ms", "5");
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> futs = new ArrayList<>();
            for (int i = from; i < from + perPartition; i++)
                for (int part = 0; part < partitions; part++)
                    futs.add(prod.send(new ProducerRecord<>(topic, part, "k" + i, value(part, i))));
            prod.flush();
            int n = 0;
            for (int i = from; i < from + perPartition; i++)
                for (int part = 0; part < partitions; part++) {
                    RecordMetadata md = futs.get(n++).get(30, TimeUnit.SECONDS);
                    eq((long) i, md.offset(), "offset of record " + i + " on partition " + part);
                }
        }
    }

    static String value(int partition, long offset) {
        return "p" + partition + "-" + offset;
    }

    static TopicPartition tp(String topic, int p) {
        return new TopicPartition(topic, p);
    }

    static Set<TopicPartition> tps(String topic, int... ps) {
        Set<TopicPartition> s = new HashSet<>();
        for (int p : ps) s.add(tp(topic, p));
        return s;
    }

    static Set<TopicPartition> allTps(String topic, int n) {
        return IntStream.range(0, n).mapToObj(p -> tp(topic, p)).collect(Collectors.toSet());
    }

    /** "p:offset" keys expected for the given partitions and offset range [from, to). */
    static List<String> expectedKeys(Collection<TopicPartition> parts, long from, long to) {
        List<String> out = new ArrayList<>();
        for (TopicPartition t : parts)
            for (long o = from; o < to; o++) out.add(t.partition() + ":" + o);
        Collections.sort(out);
        return out;
    }

    static List<String> sorted(Collection<String> c) {
        List<String> l = new ArrayList<>(c);
        Collections.sort(l);
        return l;
    }

    static Map<TopicPartition, Long> committedOffsets(Admin admin, String group) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, Long> out = new HashMap<>();
        m.forEach((k, v) -> out.put(k, v == null ? null : v.offset()));
        return out;
    }

    static Map<TopicPartition, Long> constOffsets(String topic, int partitions, long offset) {
        Map<TopicPartition, Long> m = new HashMap<>();
        for (int p = 0; p < partitions; p++) m.put(tp(topic, p), offset);
        return m;
    }

    static ConsumerGroupDescription describeGroup(Admin admin, String group) throws Exception {
        return admin.describeConsumerGroups(List.of(group)).describedGroups().get(group).get(30, TimeUnit.SECONDS);
    }

    static Map<String, Set<TopicPartition>> assignmentsById(ConsumerGroupDescription d) {
        Map<String, Set<TopicPartition>> m = new HashMap<>();
        for (MemberDescription md : d.members()) m.put(md.consumerId(), new HashSet<>(md.assignment().topicPartitions()));
        return m;
    }

    static Throwable rootCause(Throwable t) {
        while (t instanceof ExecutionException && t.getCause() != null) t = t.getCause();
        return t;
    }

    static <T extends Throwable> void expectFailure(Callable<?> call, Class<T> cls, String what) throws Exception {
        try {
            Object r = call.call();
            throw new AssertionError(what + ": expected " + cls.getSimpleName() + ", got success " + r);
        } catch (ExecutionException e) {
            Throwable c = rootCause(e);
            check(cls.isInstance(c), what + ": expected " + cls.getSimpleName() + ", got " + c);
        }
    }

    /**
     * One group member on its own thread. Records every (partition, offset) it is handed, and
     * commitSync()s after every non-empty poll, before the next poll. While `hold` is set it keeps
     * its partitions paused (paused already in onPartitionsAssigned, so nothing is fetched).
     */
    static class Member implements Runnable, ConsumerRebalanceListener {
        final String name;
        final KafkaConsumer<String, String> c;
        final List<String> topics;
        final List<String> records = Collections.synchronizedList(new ArrayList<>());
        final List<String> events = Collections.synchronizedList(new ArrayList<>());
        volatile Set<TopicPartition> assignment = Set.of();
        volatile boolean hold;
        volatile boolean stop;
        volatile boolean closed;
        volatile Throwable error;
        volatile String memberId = "";
        volatile int generation = -1;
        final Thread thread;

        Member(String name, Properties props, List<String> topics, boolean hold) {
            this.name = name;
            this.topics = topics;
            this.hold = hold;
            this.c = new KafkaConsumer<>(props);
            this.thread = new Thread(this, name);
            thread.setDaemon(true);
            thread.start();
        }

        public void run() {
            try {
                c.subscribe(topics, this);
                while (!stop) {
                    ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(100));
                    for (ConsumerRecord<String, String> r : recs) {
                        eq(value(r.partition(), r.offset()), r.value(), name + ": value at " + r.partition() + ":" + r.offset());
                        records.add(r.partition() + ":" + r.offset());
                    }
                    if (!recs.isEmpty()) c.commitSync();
                    if (hold) c.pause(c.assignment());
                    else if (!c.paused().isEmpty()) c.resume(c.paused());
                }
            } catch (Throwable t) {
                error = t;
            } finally {
                try {
                    c.close(Duration.ofSeconds(20));
                } catch (Throwable t) {
                    if (error == null) error = t;
                }
                closed = true;
            }
        }

        public void onPartitionsAssigned(Collection<TopicPartition> parts) {
            if (hold) c.pause(parts);
            assignment = Set.copyOf(c.assignment());
            ConsumerGroupMetadata md = c.groupMetadata();
            memberId = md.memberId();
            generation = md.generationId();
            events.add("assigned " + parts + " gen " + generation);
        }

        public void onPartitionsRevoked(Collection<TopicPartition> parts) {
            Set<TopicPartition> s = new HashSet<>(c.assignment());
            s.removeAll(parts);
            assignment = Set.copyOf(s);
            events.add("revoked " + parts);
        }

        public void onPartitionsLost(Collection<TopicPartition> parts) {
            Set<TopicPartition> s = new HashSet<>(c.assignment());
            s.removeAll(parts);
            assignment = Set.copyOf(s);
            events.add("lost " + parts);
        }

        void ok() {
            if (error != null) throw new AssertionError(name + " failed: " + error, error);
        }

        void close() throws InterruptedException {
            stop = true;
            thread.join(30_000);
            check(closed, name + " did not close within 30 s");
            ok();
        }

        Set<Integer> partitions() {
            return assignment.stream().map(TopicPartition::partition).collect(Collectors.toCollection(TreeSet::new));
        }

        public String toString() {
            return name + "{partitions=" + partitions() + ", records=" + records.size() + ", events=" + events + "}";
        }
    }

    static List<String> allRecords(List<Member> ms) {
        List<String> all = new ArrayList<>();
        for (Member m : ms) synchronized (m.records) { all.addAll(m.records); }
        return all;
    }

    static void noDuplicates(List<String> keys, String what) {
        Set<String> seen = new HashSet<>();
        List<String> dups = new ArrayList<>();
        for (String k : keys) if (!seen.add(k)) dups.add(k);
        check(dups.isEmpty(), what + ": records delivered more than once: " + dups.subList(0, Math.min(20, dups.size())));
    }

    // --- 1 + 2: three members share six partitions; one leaves ------------------------------

    static void split(String bs, String topic, String group, String assignor) throws Exception {
        final int parts = 6;
        try (Admin admin = Admin.create(base(bs))) {
            createTopic(admin, topic, parts);
            produce(bs, topic, parts, 0, 100); // 600 records, 100 per partition
            Properties props = consumerProps(bs, group);
            String expectedAssignor;
            if (assignor.equals("range")) {
                expectedAssignor = "range"; // the default list is [range, cooperative-sticky]; range wins
            } else {
                props.put("partition.assignment.strategy", CooperativeStickyAssignor.class.getName());
                expectedAssignor = "cooperative-sticky";
            }
            List<Member> ms = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Properties pi = (Properties) props.clone();
                pi.put("client.id", "member-" + i);
                ms.add(new Member("member-" + i, pi, List.of(topic), true));
            }
            try {
                // Everyone holds (partitions paused) until the group has settled on 2 partitions each.
                waitUntil(() -> {
                    ms.forEach(Member::ok);
                    Set<TopicPartition> union = new HashSet<>();
                    for (Member m : ms) {
                        if (m.assignment.size() != 2) return false;
                        union.addAll(m.assignment);
                    }
                    return union.size() == parts;
                }, 60_000, "3 members with 2 partitions each: " + ms);
                for (Member m : ms) check(m.records.isEmpty(), m.name + " read records while paused: " + m.records);
                ms.forEach(m -> m.hold = false);

                waitUntil(() -> { ms.forEach(Member::ok); return allRecords(ms).size() >= 600; }, 60_000,
                        "600 records read: " + ms);
                List<String> all = allRecords(ms);
                noDuplicates(all, "first 600");
                eq(expectedKeys(allTps(topic, parts), 0, 100), sorted(all), "union of records read");
                for (Member m : ms)
                    eq(expectedKeys(m.assignment, 0, 100), sorted(m.records), m.name + " reads exactly its partitions");
                waitUntil(() -> {
                    try { return committedOffsets(admin, group).equals(constOffsets(topic, parts, 100)); }
                    catch (Exception e) { return false; }
                }, 15_000, "committed offsets 100 on all partitions");
                eq(constOffsets(topic, parts, 100), committedOffsets(admin, group), "committed after 600");

                ConsumerGroupDescription d = describeGroup(admin, group);
                eq(GroupState.STABLE, d.groupState(), "group state");
                eq(GroupType.CLASSIC, d.type(), "group type");
                eq(expectedAssignor, d.partitionAssignor(), "partition assignor");
                eq(3, d.members().size(), "members");
                Map<String, Set<TopicPartition>> byId = assignmentsById(d);
                for (Member m : ms) eq(m.assignment, byId.get(m.memberId), "described assignment of " + m.name);
                int gen = ms.get(0).generation;
                for (Member m : ms) eq(gen, m.generation, "generation seen by " + m.name);

                // --- 2: member-2 closes (LeaveGroup); its partitions move to the other two ---
                Member leaver = ms.get(2);
                Set<TopicPartition> leaverParts = leaver.assignment;
                List<String> leaverRecords = new ArrayList<>(leaver.records);
                leaver.close();
                List<Member> rest = ms.subList(0, 2);
                waitUntil(() -> {
                    rest.forEach(Member::ok);
                    Set<TopicPartition> union = new HashSet<>();
                    for (Member m : rest) {
                        if (m.assignment.size() != 3) return false;
                        union.addAll(m.assignment);
                    }
                    return union.size() == parts;
                }, 20_000, "the 2 remaining members with 3 partitions each (a LeaveGroup rebalances at once): " + rest);
                for (Member m : rest) check(m.generation > gen, m.name + " generation " + m.generation + " not above " + gen);
                Set<TopicPartition> moved = new HashSet<>();
                for (Member m : rest) moved.addAll(m.assignment);
                check(moved.containsAll(leaverParts), "leaver's partitions " + leaverParts + " reassigned: " + rest);
                d = describeGroup(admin, group);
                eq(GroupState.STABLE, d.groupState(), "group state after leave");
                eq(2, d.members().size(), "members after leave");

                produce(bs, topic, parts, 100, 50); // 300 more
                waitUntil(() -> { rest.forEach(Member::ok); return allRecords(ms).size() >= 900; }, 60_000,
                        "900 records read in all: " + ms);
                all = allRecords(ms);
                noDuplicates(all, "all 900");
                eq(expectedKeys(allTps(topic, parts), 0, 150), sorted(all), "union of all records read");
                eq(leaverRecords, leaver.records, "records of the member that left");
                for (Member m : rest) {
                    List<String> fresh = m.records.stream().filter(k -> Long.parseLong(k.split(":")[1]) >= 100)
                            .collect(Collectors.toList());
                    eq(expectedKeys(m.assignment, 100, 150), sorted(fresh), m.name + " reads the new records of its partitions");
                }
                waitUntil(() -> {
                    try { return committedOffsets(admin, group).equals(constOffsets(topic, parts, 150)); }
                    catch (Exception e) { return false; }
                }, 15_000, "committed offsets at the log end (150) on all partitions");
                Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                for (TopicPartition t : allTps(topic, parts)) latest.put(t, OffsetSpec.latest());
                Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends =
                        admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS);
                for (TopicPartition t : allTps(topic, parts)) eq(150L, ends.get(t).offset(), "log end of " + t);
            } finally {
                for (Member m : ms) if (!m.closed) m.close();
            }
            for (Member m : ms) m.ok();
            waitUntil(() -> {
                try { return describeGroup(admin, group).groupState() == GroupState.EMPTY; }
                catch (Exception e) { return false; }
            }, 15_000, "group Empty after every member left");
        }
    }

    // --- 4: a restarted consumer resumes at the committed offset ----------------------------

    static void resume(String bs, String topic, String group) throws Exception {
        TopicPartition t0 = tp(topic, 0);
        try (Admin admin = Admin.create(base(bs))) {
            createTopic(admin, topic, 1);
            produce(bs, topic, 1, 0, 200);
            Properties props = consumerProps(bs, group);
            props.put("max.poll.records", "30");
            List<Long> first = new ArrayList<>();
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(props)) {
                c.subscribe(List.of(topic));
                long deadline = System.currentTimeMillis() + 30_000;
                while (first.size() < 100) {
                    check(System.currentTimeMillis() < deadline, "only " + first.size() + " records within 30 s");
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                        if (first.size() == 100) break; // process exactly 100, the rest of the batch is dropped
                        eq(value(0, r.offset()), r.value(), "value at " + r.offset());
                        first.add(r.offset());
                    }
                }
                c.commitSync(Map.of(t0, new OffsetAndMetadata(100)));
                eq(100L, c.committed(Set.of(t0)).get(t0).offset(), "committed() after commitSync");
            }
            eq(LongStream.range(0, 100).boxed().collect(Collectors.toList()), first, "first consumer's offsets");
            eq(Map.of(t0, 100L), committedOffsets(admin, group), "Admin committed offsets");

            List<Long> second = new ArrayList<>();
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(props)) {
                eq(100L, c.committed(Set.of(t0)).get(t0).offset(), "committed() seen by the restarted consumer");
                c.subscribe(List.of(topic));
                long deadline = System.currentTimeMillis() + 30_000;
                while (second.size() < 100 && System.currentTimeMillis() < deadline)
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                        eq(value(0, r.offset()), r.value(), "value at " + r.offset());
                        second.add(r.offset());
                    }
                // nothing beyond the log end turns up
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) second.add(r.offset());
                eq(LongStream.range(100, 200).boxed().collect(Collectors.toList()), second, "restarted consumer's offsets");
                eq(200L, c.position(t0), "position at the log end");
                c.commitSync();
            }
            eq(Map.of(t0, 200L), committedOffsets(admin, group), "Admin committed offsets at the end");
        }
    }

    // --- 5: committed offsets survive a broker SIGKILL ----------------------------------------

    static final long[] RESTART_OFFSETS = {10, 20, 30};

    static void commitBeforeRestart(String bs, String topic, String group) throws Exception {
        try (Admin admin = Admin.create(base(bs))) {
            createTopic(admin, topic, 3);
            produce(bs, topic, 3, 0, 30);
            Properties props = consumerProps(bs, group);
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(props)) {
                c.subscribe(List.of(topic));
                long deadline = System.currentTimeMillis() + 30_000;
                int n = 0;
                while (n < 90 && System.currentTimeMillis() < deadline) n += c.poll(Duration.ofMillis(200)).count();
                eq(90, n, "records read before committing");
                Map<TopicPartition, OffsetAndMetadata> offs = new HashMap<>();
                for (int p = 0; p < 3; p++) offs.put(tp(topic, p), new OffsetAndMetadata(RESTART_OFFSETS[p], "meta-" + p));
                c.commitSync(offs);
            }
            Map<TopicPartition, OffsetAndMetadata> got = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            for (int p = 0; p < 3; p++) {
                eq(RESTART_OFFSETS[p], got.get(tp(topic, p)).offset(), "committed offset of partition " + p);
                eq("meta-" + p, got.get(tp(topic, p)).metadata(), "committed metadata of partition " + p);
            }
            eq(3, got.size(), "committed partitions");
        }
    }

    static void resumeAfterRestart(String bs, String topic, String group) throws Exception {
        try (Admin admin = Admin.create(base(bs))) {
            Map<TopicPartition, OffsetAndMetadata> got = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            eq(3, got.size(), "committed partitions after restart: " + got);
            for (int p = 0; p < 3; p++) {
                eq(RESTART_OFFSETS[p], got.get(tp(topic, p)).offset(), "committed offset of partition " + p + " after restart");
                eq("meta-" + p, got.get(tp(topic, p)).metadata(), "committed metadata of partition " + p + " after restart");
            }
            List<String> all = new ArrayList<>();
            Map<Integer, Long> firstOffset = new HashMap<>();
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(bs, group))) {
                c.subscribe(List.of(topic));
                long deadline = System.currentTimeMillis() + 30_000;
                while (all.size() < 30 && System.currentTimeMillis() < deadline)
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                        eq(value(r.partition(), r.offset()), r.value(), "value");
                        firstOffset.putIfAbsent(r.partition(), r.offset());
                        all.add(r.partition() + ":" + r.offset());
                    }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) all.add(r.partition() + ":" + r.offset());
                eq(Map.of(0, 10L, 1, 20L), firstOffset, "first offset read per partition");
                List<String> exp = new ArrayList<>(expectedKeys(tps(topic, 0), 10, 30));
                exp.addAll(expectedKeys(tps(topic, 1), 20, 30));
                Collections.sort(exp);
                noDuplicates(all, "after restart");
                eq(exp, sorted(all), "records read after the broker restart");
                for (int p = 0; p < 3; p++) eq(30L, c.position(tp(topic, p)), "position of partition " + p);
            }
        }
    }

    // --- 6: Admin, as kafka-consumer-groups.sh uses it ------------------------------------------

    static void admin(String bs, String topic, String group) throws Exception {
        final int parts = 3;
        try (Admin admin = Admin.create(base(bs))) {
            createTopic(admin, topic, parts);
            produce(bs, topic, parts, 0, 10);
            Properties props = consumerProps(bs, group);
            props.put("client.id", "groups-admin-client");
            Member m = new Member("admin-member", props, List.of(topic), false);
            try {
                waitUntil(() -> { m.ok(); return m.records.size() >= 30 && m.assignment.size() == parts; }, 30_000,
                        "member reads 30 records: " + m);
                waitUntil(() -> {
                    try { return committedOffsets(admin, group).equals(constOffsets(topic, parts, 10)); }
                    catch (Exception e) { return false; }
                }, 15_000, "committed offsets 10");

                // --list (kafka-consumer-groups.sh 4.x: listGroups for consumer groups)
                Collection<GroupListing> listed = admin.listGroups(ListGroupsOptions.forConsumerGroups())
                        .all().get(30, TimeUnit.SECONDS);
                List<GroupListing> mine = listed.stream().filter(g -> g.groupId().equals(group)).collect(Collectors.toList());
                eq(1, mine.size(), "listGroups entries for " + group + " in " + listed);
                eq(Optional.of(GroupState.STABLE), mine.get(0).groupState(), "listed state");
                eq(Optional.of(GroupType.CLASSIC), mine.get(0).type(), "listed type");
                eq("consumer", mine.get(0).protocol(), "listed protocol type");
                check(!mine.get(0).isSimpleConsumerGroup(), "a subscribing group is not a simple group");
                Collection<GroupListing> stable = admin.listGroups(ListGroupsOptions.forConsumerGroups()
                        .inGroupStates(Set.of(GroupState.STABLE))).all().get(30, TimeUnit.SECONDS);
                check(stable.stream().anyMatch(g -> g.groupId().equals(group)), "state filter Stable lists the group: " + stable);
                Collection<GroupListing> empty = admin.listGroups(ListGroupsOptions.forConsumerGroups()
                        .inGroupStates(Set.of(GroupState.EMPTY))).all().get(30, TimeUnit.SECONDS);
                check(empty.stream().noneMatch(g -> g.groupId().equals(group)), "state filter Empty omits the group: " + empty);
                @SuppressWarnings("deprecation")
                Collection<ConsumerGroupListing> legacy = admin.listConsumerGroups().all().get(30, TimeUnit.SECONDS);
                check(legacy.stream().anyMatch(g -> g.groupId().equals(group)), "listConsumerGroups lists the group: " + legacy);

                // --describe --members / --state
                ConsumerGroupDescription d = describeGroup(admin, group);
                eq(group, d.groupId(), "described group id");
                eq(GroupState.STABLE, d.groupState(), "described state");
                eq(GroupType.CLASSIC, d.type(), "described type");
                eq("range", d.partitionAssignor(), "described assignor");
                check(!d.isSimpleConsumerGroup(), "described as simple group");
                check(d.coordinator() != null && d.coordinator().port() == Integer.parseInt(bs.split(":")[1]),
                        "coordinator " + d.coordinator());
                eq(1, d.members().size(), "described members");
                MemberDescription md = d.members().iterator().next();
                eq(m.memberId, md.consumerId(), "member id");
                eq("groups-admin-client", md.clientId(), "member client id");
                check(md.host().contains("127.0.0.1"), "member host " + md.host());
                eq(Optional.empty(), md.groupInstanceId(), "member instance id");
                eq(allTps(topic, parts), md.assignment().topicPartitions(), "member assignment");

                // --describe --offsets: lag = log end - committed
                Map<TopicPartition, Long> committed = committedOffsets(admin, group);
                Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                for (TopicPartition t : allTps(topic, parts)) latest.put(t, OffsetSpec.latest());
                Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS);
                for (TopicPartition t : allTps(topic, parts)) eq(0L, ends.get(t).offset() - committed.get(t), "lag of " + t);

                // --delete while the member is active: GROUP_NOT_EMPTY
                expectFailure(() -> admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS),
                        GroupNotEmptyException.class, "deleteConsumerGroups of an active group");
                // --delete-offsets of a subscribed topic while active: GROUP_SUBSCRIBED_TO_TOPIC
                expectFailure(() -> admin.deleteConsumerGroupOffsets(group, tps(topic, 0)).all().get(30, TimeUnit.SECONDS),
                        GroupSubscribedToTopicException.class, "deleteConsumerGroupOffsets of a subscribed topic");
                // --reset-offsets needs an inactive group: the commit (no member id) is refused
                expectFailure(() -> admin.alterConsumerGroupOffsets(group, Map.of(tp(topic, 0), new OffsetAndMetadata(0)))
                        .all().get(30, TimeUnit.SECONDS), UnknownMemberIdException.class, "alterConsumerGroupOffsets of an active group");
                eq(constOffsets(topic, parts, 10), committedOffsets(admin, group), "offsets untouched by the refused calls");
            } finally {
                m.close();
            }
            waitUntil(() -> {
                try {
                    ConsumerGroupDescription d = describeGroup(admin, group);
                    return d.groupState() == GroupState.EMPTY && d.members().isEmpty();
                } catch (Exception e) { return false; }
            }, 15_000, "group Empty after the member closed");
            Collection<GroupListing> listed = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get(30, TimeUnit.SECONDS);
            eq(List.of(Optional.of(GroupState.EMPTY)), listed.stream().filter(g -> g.groupId().equals(group))
                    .map(GroupListing::groupState).collect(Collectors.toList()), "listed state after close");

            // lag after more records arrive
            produce(bs, topic, parts, 10, 5);
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>(), earliest = new HashMap<>();
            for (TopicPartition t : allTps(topic, parts)) { latest.put(t, OffsetSpec.latest()); earliest.put(t, OffsetSpec.earliest()); }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS);
            Map<TopicPartition, Long> committed = committedOffsets(admin, group);
            for (TopicPartition t : allTps(topic, parts)) eq(5L, ends.get(t).offset() - committed.get(t), "lag of " + t);

            // --reset-offsets --to-earliest on partitions 0 and 2, --to-offset 7 on partition 1
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> starts = admin.listOffsets(earliest).all().get(30, TimeUnit.SECONDS);
            Map<TopicPartition, OffsetAndMetadata> reset = new HashMap<>();
            reset.put(tp(topic, 0), new OffsetAndMetadata(starts.get(tp(topic, 0)).offset()));
            reset.put(tp(topic, 1), new OffsetAndMetadata(7));
            reset.put(tp(topic, 2), new OffsetAndMetadata(starts.get(tp(topic, 2)).offset()));
            admin.alterConsumerGroupOffsets(group, reset).all().get(30, TimeUnit.SECONDS);
            eq(Map.of(tp(topic, 0), 0L, tp(topic, 1), 7L, tp(topic, 2), 0L), committedOffsets(admin, group), "offsets after reset");

            // a consumer then starts exactly there
            Member m2 = new Member("after-reset", consumerProps(bs, group), List.of(topic), false);
            List<String> exp = new ArrayList<>(expectedKeys(tps(topic, 0, 2), 0, 15));
            exp.addAll(expectedKeys(tps(topic, 1), 7, 15));
            Collections.sort(exp);
            try {
                waitUntil(() -> { m2.ok(); return m2.records.size() >= exp.size(); }, 30_000, exp.size() + " records after reset: " + m2);
                waitUntil(() -> {
                    try { return committedOffsets(admin, group).equals(constOffsets(topic, parts, 15)); }
                    catch (Exception e) { return false; }
                }, 15_000, "committed offsets 15 after reading from the reset positions");
            } finally {
                m2.close();
            }
            eq(exp, sorted(m2.records), "records read after the reset");
            noDuplicates(m2.records, "after reset");
            waitUntil(() -> {
                try { return describeGroup(admin, group).groupState() == GroupState.EMPTY; }
                catch (Exception e) { return false; }
            }, 15_000, "group Empty again");

            // --delete-offsets on the empty group
            admin.deleteConsumerGroupOffsets(group, tps(topic, 2)).all().get(30, TimeUnit.SECONDS);
            eq(Map.of(tp(topic, 0), 15L, tp(topic, 1), 15L), committedOffsets(admin, group), "offsets after deleting partition 2");

            // --delete on the empty group
            admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS);
            Collection<GroupListing> after = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get(30, TimeUnit.SECONDS);
            check(after.stream().noneMatch(g -> g.groupId().equals(group)), "deleted group still listed: " + after);
            eq(Map.of(), committedOffsets(admin, group), "offsets of the deleted group");
            expectFailure(() -> admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS),
                    GroupIdNotFoundException.class, "deleting the group a second time");
        }
    }

    // --- console consumer habit ------------------------------------------------------------

    static void console(String bs, String topic, String group) throws Exception {
        TopicPartition t0 = tp(topic, 0);
        try (Admin admin = Admin.create(base(bs))) {
            createTopic(admin, topic, 1);
            produce(bs, topic, 1, 0, 10);
            Properties p = base(bs);
            p.put("group.id", group);
            p.put("enable.auto.commit", "true");
            p.put("auto.offset.reset", "earliest");
            p.put("key.deserializer", StringDeserializer.class.getName());
            p.put("value.deserializer", StringDeserializer.class.getName());
            List<String> got = new ArrayList<>();
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
                c.subscribe(List.of(topic));
                long deadline = System.currentTimeMillis() + 30_000;
                while (got.size() < 10 && System.currentTimeMillis() < deadline)
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r.offset() + "\t" + r.value());
            } // close() commits the consumed position (auto commit)
            eq(IntStream.range(0, 10).mapToObj(i -> i + "\t" + value(0, i)).collect(Collectors.toList()), got, "records");
            eq(Map.of(t0, 10L), committedOffsets(admin, group), "auto-committed offsets after close");
            ConsumerGroupDescription d = describeGroup(admin, group);
            eq(GroupState.EMPTY, d.groupState(), "state after the console consumer exits");
        }
    }

    // --- 8: KIP-848 (group.protocol=consumer) -----------------------------------------------

    static void kip848(String bs, String topic, String group) throws Exception {
        final int parts = 4;
        try (Admin admin = Admin.create(base(bs))) {
            createTopic(admin, topic, parts);
            produce(bs, topic, parts, 0, 10);
            List<Member> ms = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Properties p = base(bs);
                p.put("group.id", group);
                p.put("group.protocol", "consumer");
                p.put("client.id", "kip848-" + i);
                p.put("key.deserializer", StringDeserializer.class.getName());
                p.put("value.deserializer", StringDeserializer.class.getName());
                p.put("auto.offset.reset", "earliest");
                p.put("enable.auto.commit", "false");
                ms.add(new Member("kip848-" + i, p, List.of(topic), true));
            }
            try {
                waitUntil(() -> {
                    ms.forEach(Member::ok);
                    Set<TopicPartition> union = new HashSet<>();
                    for (Member m : ms) {
                        if (m.assignment.size() != 2) return false;
                        union.addAll(m.assignment);
                    }
                    return union.size() == parts;
                }, 60_000, "2 members with 2 partitions each: " + ms);
                ms.forEach(m -> m.hold = false);
                waitUntil(() -> { ms.forEach(Member::ok); return allRecords(ms).size() >= 40; }, 60_000, "40 records: " + ms);
                List<String> all = allRecords(ms);
                noDuplicates(all, "kip848");
                eq(expectedKeys(allTps(topic, parts), 0, 10), sorted(all), "records read");
                for (Member m : ms) eq(expectedKeys(m.assignment, 0, 10), sorted(m.records), m.name + " reads its partitions");
                waitUntil(() -> {
                    try { return committedOffsets(admin, group).equals(constOffsets(topic, parts, 10)); }
                    catch (Exception e) { return false; }
                }, 15_000, "committed offsets 10");
                ConsumerGroupDescription d = describeGroup(admin, group);
                eq(GroupType.CONSUMER, d.type(), "group type");
                eq(GroupState.STABLE, d.groupState(), "group state");
                eq(2, d.members().size(), "members");
                Map<String, Set<TopicPartition>> byId = assignmentsById(d);
                for (Member m : ms) eq(m.assignment, byId.get(m.memberId), "described assignment of " + m.name);
                int epoch = d.groupEpoch().orElseThrow();

                // member 1 leaves (heartbeat with epoch -1); member 0 is given all four partitions
                Member leaver = ms.get(1), stay = ms.get(0);
                List<String> leaverRecords = new ArrayList<>(leaver.records);
                leaver.close();
                waitUntil(() -> { stay.ok(); return stay.assignment.size() == parts; }, 30_000,
                        "the remaining member owns all partitions: " + stay);
                produce(bs, topic, parts, 10, 10);
                waitUntil(() -> { stay.ok(); return allRecords(ms).size() >= 80; }, 60_000, "80 records: " + ms);
                all = allRecords(ms);
                noDuplicates(all, "kip848 after leave");
                eq(expectedKeys(allTps(topic, parts), 0, 20), sorted(all), "all records read");
                eq(leaverRecords, leaver.records, "records of the member that left");
                waitUntil(() -> {
                    try { return committedOffsets(admin, group).equals(constOffsets(topic, parts, 20)); }
                    catch (Exception e) { return false; }
                }, 15_000, "committed offsets 20");
                d = describeGroup(admin, group);
                eq(GroupState.STABLE, d.groupState(), "group state after leave");
                eq(1, d.members().size(), "members after leave");
                eq(allTps(topic, parts), d.members().iterator().next().assignment().topicPartitions(), "described assignment after leave");
                check(d.groupEpoch().orElseThrow() > epoch, "group epoch " + d.groupEpoch() + " not above " + epoch);
            } finally {
                for (Member m : ms) m.close();
            }
        }
    }

    // --- a description for the Python side -------------------------------------------------

    static void describe(String bs, String group) throws Exception {
        try (Admin admin = Admin.create(base(bs))) {
            ConsumerGroupDescription d = describeGroup(admin, group);
            System.out.println("state " + d.groupState());
            System.out.println("type " + d.type());
            System.out.println("assignor " + d.partitionAssignor());
            List<String> lines = new ArrayList<>();
            for (MemberDescription md : d.members()) {
                String ps = md.assignment().topicPartitions().stream().map(TopicPartition::partition).sorted()
                        .map(String::valueOf).collect(Collectors.joining(","));
                lines.add("member " + md.consumerId() + " " + md.groupInstanceId().orElse("-") + " " + md.clientId() + " " + ps);
            }
            Collections.sort(lines);
            lines.forEach(System.out::println);
        }
    }
}
