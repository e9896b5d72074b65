// Share groups (KIP-932, "Queues for Kafka") with Java kafka-clients 4.3's KafkaShareConsumer,
// the library under kafka-console-share-consumer.sh. Members run as threads of this one JVM,
// each with its own KafkaShareConsumer. Apache Kafka 4.2's behaviour is the expectation.
//
// Usage: java -cp ".cache/jars/*" compat-tests/java/ShareScenarios.java <mode> <bootstrap> <topic> <group> [args]
//   three-share     3 consumers on a 1-partition topic share 3,000 records: each accepted exactly once
//   release         RELEASEd records come back with deliveryCount 2, then never a third time
//   reject          REJECTed records never come back, even past the lock duration
//   delivery-limit  a record RELEASEd on every delivery is delivered 5 times, then archived
//   lock-expiry <lockMs>  a member that stops polling keeps its records for the lock duration only
//   mixed           a classic group and a share group read the same topic independently
//   console         what kafka-console-share-consumer.sh does: each record printed and accepted once
//   read-committed  share.isolation.level=read_committed: aborted and open transactions' records
//                   are never delivered, committed ones are once committed; read_uncommitted gets all
//   record-limit    share.acquire.mode=record_limit (KIP-1206, ShareFetch v2), max.poll.records=7:
//                   the broker hands each fetch at most 7 records, cutting 20-record batches
//   renew           acknowledge(record, RENEW) (KIP-1222, v2): a member keeps its records for three
//                   lock durations by renewing them; another member gets none; accepted once
//   renew-disabled  share.renew.acknowledge.enable=false (KIP-1240): a RENEW fails the partition's
//                   commitSync with InvalidRecordStateException; the lock then expires as usual
//   group-limits    the group configs share.delivery.count.limit=2 and
//                   share.partition.max.record.locks=100 (KIP-1240) over the broker's 5 and 2000
// Records carry their index as key ("0", "1", ...). Exits 0 printing "OK" on success; prints
// "FAIL: ..." and exits 1 otherwise.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.*;

public class ShareScenarios {
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
            String bs = a[1], topic = a[2], group = a[3];
            switch (a[0]) {
                case "three-share" -> threeShare(bs, topic, group);
                case "release" -> release(bs, topic, group);
                case "reject" -> reject(bs, topic, group);
                case "delivery-limit" -> deliveryLimit(bs, topic, group);
                case "lock-expiry" -> lockExpiry(bs, topic, group, Long.parseLong(a[4]));
                case "mixed" -> mixed(bs, topic, group);
                case "console" -> console(bs, topic, group);
                case "read-committed" -> readCommitted(bs, topic, group);
                case "record-limit" -> recordLimit(bs, topic, group);
                case "renew" -> renew(bs, topic, group);
                case "renew-disabled" -> renewDisabled(bs, topic, group);
                case "group-limits" -> groupLimits(bs, topic, group);
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

    static Admin admin(String bs) {
        return Admin.create(Map.of("bootstrap.servers", bs));
    }

    static void createTopic(Admin admin, String topic, int partitions) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }

    /** The group reads from the log start (kafka-configs.sh --entity-type groups
     *  --alter --add-config share.auto.offset.reset=earliest). */
    static void fromEarliest(Admin admin, String group) throws Exception {
        ConfigResource res = new ConfigResource(ConfigResource.Type.GROUP, group);
        AlterConfigOp op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
        admin.incrementalAlterConfigs(Map.of(res, List.of(op))).all().get(30, TimeUnit.SECONDS);
    }

    /** One group config (kafka-configs.sh --entity-type groups --alter --add-config name=value). */
    static void groupConfig(Admin admin, String group, String name, String value) throws Exception {
        ConfigResource res = new ConfigResource(ConfigResource.Type.GROUP, group);
        AlterConfigOp op = new AlterConfigOp(new ConfigEntry(name, value), AlterConfigOp.OpType.SET);
        admin.incrementalAlterConfigs(Map.of(res, List.of(op))).all().get(30, TimeUnit.SECONDS);
    }

    /** Records from..to-1 with key i and value "v-i", `perBatch` records per flushed batch. */
    static void produce(String bs, String topic, int from, int to, int perBatch) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("linger.ms", "0");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            for (int i = from; i < to; i++) {
                prod.send(new ProducerRecord<>(topic, 0, Integer.toString(i), "v-" + i));
                if ((i - from + 1) % perBatch == 0) prod.flush();
            }
            prod.flush();
        }
    }

    static KafkaShareConsumer<String, String> consumer(String bs, String group, boolean explicit, String clientId) {
        return consumer(bs, group, explicit, clientId, Map.of());
    }

    static KafkaShareConsumer<String, String> consumer(String bs, String group, boolean explicit, String clientId,
                                                       Map<String, String> extra) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("group.id", group);
        p.put("client.id", clientId);
        p.put("share.acknowledgement.mode", explicit ? "explicit" : "implicit");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.putAll(extra);
        return new KafkaShareConsumer<>(p);
    }

    static short deliveries(ConsumerRecord<String, String> r) {
        return r.deliveryCount().orElseThrow(() -> new AssertionError("no deliveryCount on " + r.key()));
    }

    /** commitSync and insist every partition's acknowledgements succeeded. */
    static void commitOk(KafkaShareConsumer<String, String> c, String what) {
        Map<TopicIdPartition, Optional<KafkaException>> res = c.commitSync(Duration.ofSeconds(30));
        for (var e : res.entrySet())
            if (e.getValue().isPresent())
                throw new AssertionError(what + ": acknowledgement of " + e.getKey() + " failed: " + e.getValue().get());
    }

    /** Polls until `want` records arrived in total (or the timeout), returning them in order. */
    static List<ConsumerRecord<String, String>> pollFor(KafkaShareConsumer<String, String> c, int want, long timeoutMs) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (got.size() < want && System.currentTimeMillis() < deadline)
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r);
        return got;
    }

    static List<String> keys(List<ConsumerRecord<String, String>> rs) {
        List<String> k = new ArrayList<>();
        for (ConsumerRecord<String, String> r : rs) k.add(r.key());
        return k;
    }

    static List<String> range(int from, int to) {
        List<String> k = new ArrayList<>();
        for (int i = from; i < to; i++) k.add(Integer.toString(i));
        return k;
    }

    /** Record "0" is delivered `limit` times with deliveryCount 1..limit, RELEASEd each time,
     *  and then never again (archived at the delivery limit). */
    static void releaseUntilArchived(KafkaShareConsumer<String, String> c, int limit) {
        for (int n = 1; n <= limit; n++) {
            List<ConsumerRecord<String, String>> rs = pollFor(c, 1, 30_000);
            eq(List.of("0"), keys(rs), "delivery " + n);
            eq((short) n, deliveries(rs.get(0)), "deliveryCount at delivery " + n);
            c.acknowledge(rs.get(0), AcknowledgeType.RELEASE);
            commitOk(c, "release at delivery " + n);
        }
        eq(List.of(), keys(pollFor(c, 1, 2_000)), "deliveries after delivery " + limit);
    }

    static ShareGroupDescription describe(Admin admin, String group) throws Exception {
        return admin.describeShareGroups(List.of(group)).describedGroups().get(group).get(30, TimeUnit.SECONDS);
    }

    // --- scenarios -----------------------------------------------------------------------

    /** The first proof: 3 members of one share group on a 1-partition topic (the simple
     *  assignor gives all three partition 0) share 3,000 records; every record is accepted
     *  exactly once in total, as the brokers' answers to commitSync confirm, and every member
     *  got some. The members join before the records exist, so none of them drains the
     *  partition before the others are there. */
    static void threeShare(String bs, String topic, String group) throws Exception {
        final int total = 3000;
        try (Admin admin = admin(bs)) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            ConcurrentHashMap<String, AtomicInteger> accepted = new ConcurrentHashMap<>();
            AtomicIntegerArray perMember = new AtomicIntegerArray(3);
            AtomicIntegerArray polled = new AtomicIntegerArray(3);
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService pool = Executors.newFixedThreadPool(3);
            List<Future<?>> members = new ArrayList<>();
            for (int m = 0; m < 3; m++) {
                final int me = m;
                members.add(pool.submit(() -> {
                    try (KafkaShareConsumer<String, String> c = consumer(bs, group, false, "share-" + me)) {
                        c.subscribe(List.of(topic));
                        while (!stop.get()) {
                            ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(100));
                            polled.incrementAndGet(me);
                            if (rs.isEmpty()) continue;
                            // implicit mode: commitSync accepts what the last poll returned
                            commitOk(c, "member " + me);
                            for (ConsumerRecord<String, String> r : rs) {
                                accepted.computeIfAbsent(r.key(), k -> new AtomicInteger()).incrementAndGet();
                                perMember.incrementAndGet(me);
                            }
                        }
                    }
                    return null;
                }));
            }
            waitUntil(() -> {
                try {
                    ShareGroupDescription d = describe(admin, group);
                    if (d.members().size() != 3) return false;
                    for (ShareMemberDescription md : d.members())
                        if (md.assignment().topicPartitions().size() != 1) return false;
                    return polled.get(0) > 1 && polled.get(1) > 1 && polled.get(2) > 1;
                } catch (Exception e) {
                    return false;
                }
            }, 60_000, "3 members, each assigned " + topic + "-0 and polling");
            ShareGroupDescription d = describe(admin, group);
            eq(GroupState.STABLE, d.groupState(), "group state with 3 members");
            for (ShareMemberDescription md : d.members())
                eq(Set.of(new TopicPartition(topic, 0)), md.assignment().topicPartitions(), "assignment of " + md.clientId());

            produce(bs, topic, 0, total, 10);
            waitUntil(() -> accepted.size() >= total, 120_000, total + " distinct records accepted");
            Thread.sleep(1000); // a redelivery of an accepted record would show up here
            stop.set(true);
            for (Future<?> f : members) f.get(60, TimeUnit.SECONDS);
            pool.shutdown();
            eq(total, accepted.size(), "distinct records accepted");
            eq(new HashSet<>(range(0, total)), new HashSet<>(accepted.keySet()), "keys accepted");
            for (var e : accepted.entrySet()) eq(1, e.getValue().get(), "acceptances of record " + e.getKey());
            for (int m = 0; m < 3; m++)
                check(perMember.get(m) > 0, "member " + m + " got no record: " + perMember);
            System.out.println("per member: " + perMember);
        }
    }

    /** Explicit mode: records 0-9 RELEASEd are delivered again with deliveryCount 2, accepted,
     *  and not delivered a third time; records 10-19 are accepted at their first delivery. */
    static void release(String bs, String topic, String group) throws Exception {
        try (Admin admin = admin(bs); KafkaShareConsumer<String, String> c = consumer(bs, group, true, "releaser")) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            produce(bs, topic, 0, 20, 20);
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> first = pollFor(c, 20, 30_000);
            eq(range(0, 20), keys(first), "first deliveries");
            for (ConsumerRecord<String, String> r : first) {
                eq((short) 1, deliveries(r), "deliveryCount of " + r.key() + " at its first delivery");
                c.acknowledge(r, Integer.parseInt(r.key()) < 10 ? AcknowledgeType.RELEASE : AcknowledgeType.ACCEPT);
            }
            commitOk(c, "release 0-9, accept 10-19");
            List<ConsumerRecord<String, String>> again = pollFor(c, 10, 30_000);
            eq(range(0, 10), keys(again), "records delivered again after RELEASE");
            for (ConsumerRecord<String, String> r : again) {
                eq((short) 2, deliveries(r), "deliveryCount of " + r.key() + " after one RELEASE");
                c.acknowledge(r, AcknowledgeType.ACCEPT);
            }
            commitOk(c, "accept 0-9");
            List<ConsumerRecord<String, String>> more = pollFor(c, 1, 2_000);
            eq(List.of(), keys(more), "records delivered after everything was accepted");
        }
    }

    /** Explicit mode: records 0-9 REJECTed are archived; polling past the lock duration brings
     *  none of them back, while records produced later still arrive. */
    static void reject(String bs, String topic, String group) throws Exception {
        try (Admin admin = admin(bs); KafkaShareConsumer<String, String> c = consumer(bs, group, true, "rejecter")) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            produce(bs, topic, 0, 20, 20);
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> first = pollFor(c, 20, 30_000);
            eq(range(0, 20), keys(first), "first deliveries");
            for (ConsumerRecord<String, String> r : first)
                c.acknowledge(r, Integer.parseInt(r.key()) < 10 ? AcknowledgeType.REJECT : AcknowledgeType.ACCEPT);
            commitOk(c, "reject 0-9, accept 10-19");
            long lockMs = c.acquisitionLockTimeoutMs().orElseThrow(() -> new AssertionError("no acquisition lock timeout"));
            List<ConsumerRecord<String, String>> after = pollFor(c, 1, lockMs + 1_000);
            eq(List.of(), keys(after), "records delivered within " + (lockMs + 1000) + " ms after the rejects");
            produce(bs, topic, 20, 25, 5);
            List<ConsumerRecord<String, String>> later = pollFor(c, 5, 30_000);
            eq(range(20, 25), keys(later), "records produced after the rejects");
            for (ConsumerRecord<String, String> r : later) eq((short) 1, deliveries(r), "deliveryCount of " + r.key());
            later.forEach(r -> c.acknowledge(r, AcknowledgeType.ACCEPT));
            commitOk(c, "accept 20-24");
        }
    }

    /** group.share.delivery.count.limit (5): a record RELEASEd at every delivery is delivered with
     *  deliveryCount 1..5 and then archived; a record produced afterwards arrives once. */
    static void deliveryLimit(String bs, String topic, String group) throws Exception {
        try (Admin admin = admin(bs); KafkaShareConsumer<String, String> c = consumer(bs, group, true, "limit")) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            produce(bs, topic, 0, 1, 1);
            c.subscribe(List.of(topic));
            releaseUntilArchived(c, 5);
            produce(bs, topic, 1, 2, 1);
            List<ConsumerRecord<String, String>> next = pollFor(c, 1, 30_000);
            eq(List.of("1"), keys(next), "the record produced after the archived one");
            eq((short) 1, deliveries(next.get(0)), "its deliveryCount");
            c.acknowledge(next.get(0), AcknowledgeType.ACCEPT);
            commitOk(c, "accept 1");
        }
    }

    /** Member A takes records 0-9 and then stops polling without acknowledging (explicit mode;
     *  its heartbeats and connection go on, so no session closes). Member B gets nothing until
     *  A's acquisition locks expire, then all ten with deliveryCount 2. */
    static void lockExpiry(String bs, String topic, String group, long lockMs) throws Exception {
        try (Admin admin = admin(bs);
             KafkaShareConsumer<String, String> a = consumer(bs, group, true, "stalled");
             KafkaShareConsumer<String, String> b = consumer(bs, group, true, "survivor")) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            produce(bs, topic, 0, 10, 10);
            a.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> held = pollFor(a, 10, 30_000);
            long acquired = System.currentTimeMillis();
            eq(range(0, 10), keys(held), "records A acquired");
            eq(Optional.of((int) lockMs), a.acquisitionLockTimeoutMs(), "acquisition lock timeout A was told");
            b.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> got = pollFor(b, 10, lockMs + 30_000);
            long elapsed = System.currentTimeMillis() - acquired;
            eq(range(0, 10), keys(got), "records B got after A's locks expired");
            check(elapsed >= lockMs - 250, "B got A's records " + elapsed + " ms after A acquired them (lock " + lockMs + " ms)");
            for (ConsumerRecord<String, String> r : got) {
                eq((short) 2, deliveries(r), "deliveryCount of " + r.key() + " after a lock expiry");
                b.acknowledge(r, AcknowledgeType.ACCEPT);
            }
            commitOk(b, "B accepts 0-9");
            System.out.println("redelivered " + elapsed + " ms after acquisition (lock " + lockMs + " ms)");
        }
    }

    /** A classic consumer group and a share group on the same topic each read every record. */
    static void mixed(String bs, String topic, String group) throws Exception {
        final int total = 100;
        String classic = group + "-classic";
        try (Admin admin = admin(bs)) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            produce(bs, topic, 0, total, 25);
            Properties p = new Properties();
            p.put("bootstrap.servers", bs);
            p.put("group.id", classic);
            p.put("auto.offset.reset", "earliest");
            p.put("enable.auto.commit", "false");
            p.put("key.deserializer", StringDeserializer.class.getName());
            p.put("value.deserializer", StringDeserializer.class.getName());
            List<String> classicKeys = new ArrayList<>();
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
                c.subscribe(List.of(topic));
                long deadline = System.currentTimeMillis() + 30_000;
                while (classicKeys.size() < total && System.currentTimeMillis() < deadline)
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) classicKeys.add(r.key());
                c.commitSync();
            }
            eq(range(0, total), classicKeys, "classic group's records");
            try (KafkaShareConsumer<String, String> s = consumer(bs, group, false, "mixed-share")) {
                s.subscribe(List.of(topic));
                List<ConsumerRecord<String, String>> got = pollFor(s, total, 30_000);
                eq(range(0, total), keys(got), "share group's records");
                commitOk(s, "share group accepts all");
            }
            Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets(classic).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            eq(Map.of(new TopicPartition(topic, 0), (long) total),
                    Map.of(new TopicPartition(topic, 0), committed.get(new TopicPartition(topic, 0)).offset()),
                    "classic group's committed offset");
            ShareGroupDescription d = describe(admin, group);
            eq(GroupState.EMPTY, d.groupState(), "share group after its member closed");
        }
    }

    /** kafka-console-share-consumer.sh: explicit mode, each printed record accepted. */
    static void console(String bs, String topic, String group) throws Exception {
        final int total = 50;
        try (Admin admin = admin(bs)) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            produce(bs, topic, 0, total, 10);
        }
        List<String> printed = new ArrayList<>();
        try (KafkaShareConsumer<String, String> c = consumer(bs, group, true, "console-share-consumer")) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 30_000;
            while (printed.size() < total && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    printed.add(r.value());
                    c.acknowledge(r, AcknowledgeType.ACCEPT);
                }
            }
            commitOk(c, "console accepts");
        }
        List<String> want = new ArrayList<>();
        for (int i = 0; i < total; i++) want.add("v-" + i);
        eq(want, printed, "printed values");
        // a second run of the same group prints nothing: everything was accepted
        try (KafkaShareConsumer<String, String> c = consumer(bs, group, true, "console-share-consumer")) {
            c.subscribe(List.of(topic));
            eq(List.of(), keys(pollFor(c, 1, 2_000)), "records for a second console run");
        }
    }
    /** A transactional producer commits 0-4, aborts 5-9, commits 10-14, and leaves 15-19 in an
     *  open transaction. A read_committed share group gets exactly 0-4 and 10-14 (the aborted
     *  records and the transaction markers are never delivered), nothing of the open
     *  transaction until it commits, then 15-19. A read_uncommitted group gets all 20, aborted
     *  ones included, as from Kafka (only read_committed filters). */
    static void readCommitted(String bs, String topic, String group) throws Exception {
        String rcGroup = group + "-rc";
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("transactional.id", "tx-" + topic);
        p.put("linger.ms", "0");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (Admin admin = admin(bs);
             KafkaProducer<String, String> prod = new KafkaProducer<>(p);
             KafkaShareConsumer<String, String> rc = consumer(bs, rcGroup, false, "committed-reader")) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, rcGroup);
            groupConfig(admin, rcGroup, "share.isolation.level", "read_committed");
            fromEarliest(admin, group);
            prod.initTransactions();
            int[][] txns = {{0, 5}, {5, 10}, {10, 15}, {15, 20}};
            for (int t = 0; t < txns.length; t++) {
                prod.beginTransaction();
                for (int i = txns[t][0]; i < txns[t][1]; i++)
                    prod.send(new ProducerRecord<>(topic, 0, Integer.toString(i), "v-" + i));
                prod.flush();
                if (t == 1) prod.abortTransaction();
                else if (t != 3) prod.commitTransaction();
            }
            rc.subscribe(List.of(topic));
            List<String> want = new ArrayList<>(range(0, 5));
            want.addAll(range(10, 15));
            eq(want, keys(pollFor(rc, 10, 30_000)), "read_committed deliveries");
            eq(List.of(), keys(pollFor(rc, 1, 2_000)), "read_committed deliveries while a transaction is open");
            prod.commitTransaction();
            eq(range(15, 20), keys(pollFor(rc, 5, 30_000)), "read_committed deliveries after the commit");
            eq(List.of(), keys(pollFor(rc, 1, 1_000)), "read_committed deliveries after everything");
        }
        try (KafkaShareConsumer<String, String> ru = consumer(bs, group, false, "uncommitted-reader")) {
            ru.subscribe(List.of(topic));
            eq(range(0, 20), keys(pollFor(ru, 20, 30_000)), "read_uncommitted deliveries");
            eq(List.of(), keys(pollFor(ru, 1, 1_000)), "read_uncommitted deliveries after everything");
        }
    }

    static List<Long> offsets(List<ConsumerRecord<String, String>> rs) {
        List<Long> o = new ArrayList<>();
        for (ConsumerRecord<String, String> r : rs) o.add(r.offset());
        return o;
    }

    static List<Long> offsetRange(long from, long to) {
        List<Long> o = new ArrayList<>();
        for (long i = from; i < to; i++) o.add(i);
        return o;
    }

    /** One poll's records (up to `timeoutMs` for a non-empty one). */
    static List<ConsumerRecord<String, String>> onePoll(KafkaShareConsumer<String, String> c, long timeoutMs) {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (System.currentTimeMillis() < deadline) {
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r);
            if (!got.isEmpty()) return got;
        }
        return List.of();
    }

    /** share.acquire.mode=record_limit with max.poll.records=7 over 50 records in batches of 20,
     *  20 and 10. Member A's first fetch acquires exactly offsets 0-6 (batch_optimized would
     *  take the whole first batch, 0-19), so member B's first fetch gets 7-13 while A holds its
     *  records; then A drains the rest 7 at a time, cutting batches at 20 and 40. Every poll has
     *  exactly the expected offsets; all 50 are accepted once, each at its first delivery. */
    static void recordLimit(String bs, String topic, String group) throws Exception {
        Map<String, String> limit = Map.of("share.acquire.mode", "record_limit", "max.poll.records", "7");
        try (Admin admin = admin(bs);
             KafkaShareConsumer<String, String> a = consumer(bs, group, true, "limited-a", limit);
             KafkaShareConsumer<String, String> b = consumer(bs, group, true, "limited-b", limit)) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            produce(bs, topic, 0, 50, 20);
            Map<Long, Integer> accepted = new TreeMap<>();
            a.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> first = onePoll(a, 30_000);
            eq(offsetRange(0, 7), offsets(first), "A's first poll");
            b.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> second = onePoll(b, 30_000);
            eq(offsetRange(7, 14), offsets(second), "B's first poll, while A holds 0-6");
            for (var rs : List.of(first, second))
                for (ConsumerRecord<String, String> r : rs) {
                    eq((short) 1, deliveries(r), "deliveryCount of " + r.offset());
                    (rs == first ? a : b).acknowledge(r, AcknowledgeType.ACCEPT);
                    accepted.merge(r.offset(), 1, Integer::sum);
                }
            commitOk(a, "A accepts 0-6");
            commitOk(b, "B accepts 7-13");
            for (long from = 14; from < 50; from += 7) {
                List<ConsumerRecord<String, String>> rs = onePoll(a, 30_000);
                eq(offsetRange(from, Math.min(from + 7, 50)), offsets(rs), "A's poll from " + from);
                for (ConsumerRecord<String, String> r : rs) {
                    eq((short) 1, deliveries(r), "deliveryCount of " + r.offset());
                    eq("v-" + r.offset(), r.value(), "value at " + r.offset());
                    a.acknowledge(r, AcknowledgeType.ACCEPT);
                    accepted.merge(r.offset(), 1, Integer::sum);
                }
                commitOk(a, "A accepts from " + from);
            }
            eq(List.of(), keys(pollFor(a, 1, 2_000)), "records after all 50 were accepted");
            eq(new ArrayList<>(offsetRange(0, 50)), new ArrayList<>(accepted.keySet()), "offsets accepted");
            for (var e : accepted.entrySet()) eq(1, e.getValue(), "acceptances of offset " + e.getKey());
        }
    }

    /** Explicit mode, acknowledge(record, RENEW): member A acquires records 0-4 and keeps them
     *  for three lock durations by renewing them every third of one, alternately through
     *  commitSync (ShareAcknowledge v2) and through the next poll (a renewing ShareFetch v2);
     *  each renewal gives the records back to A on a later poll, deliveryCount still 1. Member
     *  B polls all along and gets none of them. Then A accepts them: once, at delivery 1, and
     *  nobody gets them again. */
    static void renew(String bs, String topic, String group) throws Exception {
        try (Admin admin = admin(bs);
             KafkaShareConsumer<String, String> a = consumer(bs, group, true, "renewer");
             KafkaShareConsumer<String, String> b = consumer(bs, group, true, "waiter")) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            produce(bs, topic, 0, 5, 5);
            a.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> held = pollFor(a, 5, 30_000);
            long acquired = System.currentTimeMillis();
            eq(range(0, 5), keys(held), "records A acquired");
            long lockMs = a.acquisitionLockTimeoutMs().orElseThrow(() -> new AssertionError("no lock timeout")).longValue();
            b.subscribe(List.of(topic));
            List<String> bGot = new ArrayList<>();
            int renewals = 0;
            while (System.currentTimeMillis() - acquired < 3 * lockMs) {
                long until = System.currentTimeMillis() + lockMs / 3;
                while (System.currentTimeMillis() < until)
                    for (ConsumerRecord<String, String> r : b.poll(Duration.ofMillis(100))) bGot.add(r.key());
                for (ConsumerRecord<String, String> r : held) a.acknowledge(r, AcknowledgeType.RENEW);
                if (renewals % 2 == 0) commitOk(a, "renewal " + renewals);
                renewals++;
                held = pollFor(a, 5, lockMs / 2);
                eq(range(0, 5), keys(held), "records A has back after renewal " + renewals);
                for (ConsumerRecord<String, String> r : held)
                    eq((short) 1, deliveries(r), "deliveryCount of " + r.key() + " after renewal " + renewals);
            }
            long heldFor = System.currentTimeMillis() - acquired;
            eq(List.of(), bGot, "records B got while A renewed them");
            eq(Optional.of((int) lockMs), a.acquisitionLockTimeoutMs(), "lock timeout after the renewals");
            for (ConsumerRecord<String, String> r : held) a.acknowledge(r, AcknowledgeType.ACCEPT);
            commitOk(a, "A accepts 0-4");
            eq(List.of(), keys(pollFor(b, 1, lockMs + 1_000)), "records B got after A accepted");
            eq(List.of(), keys(pollFor(a, 1, 1_000)), "records A got after accepting");
            System.out.println("held " + heldFor + " ms with " + renewals + " renewals (lock " + lockMs + " ms)");
        }
    }

    /** share.renew.acknowledge.enable=false (kafka-configs.sh --entity-type groups): the group
     *  refuses RENEW. commitSync reports InvalidRecordStateException for the partition (what
     *  Kafka 4.3's own integration test expects) and the record stays acquired until its lock
     *  expires; then it is delivered again (deliveryCount 2) and accepted once. */
    static void renewDisabled(String bs, String topic, String group) throws Exception {
        try (Admin admin = admin(bs); KafkaShareConsumer<String, String> c = consumer(bs, group, true, "no-renew")) {
            createTopic(admin, topic, 1);
            fromEarliest(admin, group);
            groupConfig(admin, group, "share.renew.acknowledge.enable", "false");
            produce(bs, topic, 0, 1, 1);
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> rs = pollFor(c, 1, 30_000);
            eq(List.of("0"), keys(rs), "first delivery");
            c.acknowledge(rs.get(0), AcknowledgeType.RENEW);
            Map<TopicIdPartition, Optional<KafkaException>> res = c.commitSync(Duration.ofSeconds(30));
            eq(1, res.size(), "partitions in the commit result");
            Optional<KafkaException> error = res.values().iterator().next();
            check(error.isPresent() && error.get() instanceof org.apache.kafka.common.errors.InvalidRecordStateException,
                "a refused renewal fails with InvalidRecordStateException, got " + error);
            List<ConsumerRecord<String, String>> again = pollFor(c, 1, 30_000);
            eq(List.of("0"), keys(again), "the record once its lock expired");
            eq((short) 2, deliveries(again.get(0)), "its deliveryCount");
            c.acknowledge(again.get(0), AcknowledgeType.ACCEPT);
            commitOk(c, "accept 0");
            eq(List.of(), keys(pollFor(c, 1, 2_000)), "records after the accept");
        }
    }

    /** Per-group limits (KIP-1240) over the broker's defaults: with share.delivery.count.limit=2
     *  a record RELEASEd on every delivery is delivered twice and archived (the broker's limit is
     *  5); with share.partition.max.record.locks=100 a member gets at most 100 records in flight
     *  (the broker's limit is 2000): 150 records in batches of 10 on a second topic arrive as
     *  0-99, and 100-149 only once those are accepted. */
    static void groupLimits(String bs, String topic, String group) throws Exception {
        String windowed = topic + "-window";
        try (Admin admin = admin(bs); KafkaShareConsumer<String, String> c = consumer(bs, group, true, "limits")) {
            createTopic(admin, topic, 1);
            createTopic(admin, windowed, 1);
            fromEarliest(admin, group);
            groupConfig(admin, group, "share.delivery.count.limit", "2");
            groupConfig(admin, group, "share.partition.max.record.locks", "100");
            produce(bs, topic, 0, 1, 1);
            c.subscribe(List.of(topic));
            releaseUntilArchived(c, 2);
            // All 150 exist before anyone reads the second topic, so the first fetch sees them all.
            produce(bs, windowed, 0, 150, 10);
            try (KafkaShareConsumer<String, String> w = consumer(bs, group, true, "window")) {
                w.subscribe(List.of(windowed));
                List<ConsumerRecord<String, String>> window = onePoll(w, 30_000);
                eq(offsetRange(0, 100), offsets(window), "the first poll under 100 record locks");
                for (ConsumerRecord<String, String> r : window) w.acknowledge(r, AcknowledgeType.ACCEPT);
                commitOk(w, "accept 0-99");
                List<ConsumerRecord<String, String>> rest = pollFor(w, 50, 30_000);
                eq(offsetRange(100, 150), offsets(rest), "the rest once the window was accepted");
                for (ConsumerRecord<String, String> r : rest) w.acknowledge(r, AcknowledgeType.ACCEPT);
                commitOk(w, "accept 100-149");
            }
            ConfigResource res = new ConfigResource(ConfigResource.Type.GROUP, group);
            Config cfg = admin.describeConfigs(List.of(res)).all().get(30, TimeUnit.SECONDS).get(res);
            eq("2", cfg.get("share.delivery.count.limit").value(), "described share.delivery.count.limit");
            eq("100", cfg.get("share.partition.max.record.locks").value(), "described share.partition.max.record.locks");
        }
    }
}
