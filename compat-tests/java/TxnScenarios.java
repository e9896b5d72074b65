// Transactions and exactly-once with Java kafka-clients 4.x (KIP-98). Apache Kafka's behaviour is
// the expectation throughout: control batches (COMMIT/ABORT markers) take one offset each, a
// read_committed consumer stops at the last stable offset and never sees aborted records.
//
// Usage: java -cp ".cache/jars/*" compat-tests/java/TxnScenarios.java <mode> <bootstrap> [args]
//   commit-abort <bs> <topic> <txid>             commit 10, abort 10: read_committed 10, read_uncommitted 20, end 22
//   ctp <bs> <in> <out> <group> <txid>           consume-transform-produce with sendOffsetsToTransaction;
//                                                an aborted run leaves offsets and output alone; a later run resumes
//   fence <bs> <topic> <txid>                    a second producer with the same transactional.id fences the first
//   timeout <bs> <topic> <txid>                  a transaction left open past transaction.timeout.ms is aborted
//   open <bs> <topic> <txid> <timeoutMs>         commit 3, begin, send 5, flush, print FLUSHED, wait for a line on
//                                                stdin: "commit" commits, anything else halts the JVM without
//                                                ending the transaction
//   commit-n <bs> <topic> <txid> <prefix> <n> <firstOffset>
//                                                one committed transaction of n records; checks their offsets
//   dump <bs> <topic> <isolation> <endOffset> <waitMs>
//                                                waits (up to waitMs) until endOffsets(isolation) == endOffset,
//                                                reads partition 0 from the beginning to it and prints
//                                                "REC <offset> <value>" lines, then "END <end>"
// Exits 0 printing "OK" on success; prints "FAIL: ..." and exits 1 otherwise.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.serialization.*;

public class TxnScenarios {
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
            Thread.sleep(50);
        }
    }

    public static void main(String[] a) {
        try {
            switch (a[0]) {
                case "commit-abort" -> commitAbort(a[1], a[2], a[3]);
                case "ctp" -> consumeTransformProduce(a[1], a[2], a[3], a[4], a[5]);
                case "fence" -> fence(a[1], a[2], a[3]);
                case "timeout" -> timeout(a[1], a[2], a[3]);
                case "open" -> open(a[1], a[2], a[3], Integer.parseInt(a[4]));
                case "commit-n" -> commitN(a[1], a[2], a[3], a[4], Integer.parseInt(a[5]), Long.parseLong(a[6]));
                case "dump" -> dump(a[1], a[2], a[3], Long.parseLong(a[4]), Long.parseLong(a[5]));
                default -> throw new IllegalArgumentException("unknown mode " + a[0]);
            }
            System.out.println("OK");
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("FAIL: " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    // --- helpers -------------------------------------------------------------------------

    static Properties base(String bs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        return p;
    }

    static void createTopic(String bs, String topic, int partitions) throws Exception {
        try (Admin admin = Admin.create(base(bs))) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
    }

    static KafkaProducer<String, String> txnProducer(String bs, String txid, Integer timeoutMs) {
        Properties p = base(bs);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("transactional.id", txid);
        p.put("linger.ms", "5");
        if (timeoutMs != null) p.put("transaction.timeout.ms", String.valueOf(timeoutMs));
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String bs, String isolation, Properties extra) {
        Properties p = base(bs);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("isolation.level", isolation);
        p.put("enable.auto.commit", "false");
        if (extra != null) p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    static long endOffset(String bs, TopicPartition tp, String isolation) {
        try (KafkaConsumer<String, String> c = consumer(bs, isolation, null)) {
            return c.endOffsets(List.of(tp), Duration.ofSeconds(30)).get(tp);
        }
    }

    static void waitEnd(String bs, TopicPartition tp, String isolation, long expected, long timeoutMs) throws Exception {
        long[] last = {-2};
        try (KafkaConsumer<String, String> c = consumer(bs, isolation, null)) {
            long deadline = System.currentTimeMillis() + timeoutMs;
            while (true) {
                try {
                    last[0] = c.endOffsets(List.of(tp), Duration.ofSeconds(5)).get(tp);
                } catch (org.apache.kafka.common.errors.TimeoutException e) {
                    last[0] = -1;
                }
                if (last[0] == expected) return;
                if (System.currentTimeMillis() > deadline)
                    throw new AssertionError("endOffsets(" + isolation + ") of " + tp + " did not reach " + expected
                            + " within " + timeoutMs + " ms: last " + last[0]);
                Thread.sleep(50);
            }
        }
    }

    /** "offset:value" for every record of tp from the beginning up to end; checks position == end. */
    static List<String> readAll(String bs, TopicPartition tp, String isolation, long end) {
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer(bs, isolation, null)) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 30_000;
            while (c.position(tp) < end && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r.offset() + ":" + r.value());
            }
            // One more poll: nothing beyond `end` is readable at this isolation level.
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) got.add(r.offset() + ":" + r.value());
            eq(end, c.position(tp), isolation + " position after reading " + tp + " (records " + got + ")");
            eq(Map.of(tp, end), c.endOffsets(List.of(tp)), isolation + " endOffsets of " + tp);
        }
        return got;
    }

    static List<String> expected(String prefix, int n, long firstOffset) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add((firstOffset + i) + ":" + prefix + i);
        return out;
    }

    @SafeVarargs
    static List<String> concat(List<String>... ls) {
        List<String> out = new ArrayList<>();
        for (List<String> l : ls) out.addAll(l);
        return out;
    }

    /** Sends prefix0..prefix(n-1) inside the current transaction, flushes, checks the offsets. */
    static void sendN(KafkaProducer<String, String> p, String topic, String prefix, int n, long firstOffset) throws Exception {
        List<Future<RecordMetadata>> futs = new ArrayList<>();
        for (int i = 0; i < n; i++) futs.add(p.send(new ProducerRecord<>(topic, 0, "k" + i, prefix + i)));
        p.flush();
        for (int i = 0; i < n; i++)
            eq(firstOffset + i, futs.get(i).get(30, TimeUnit.SECONDS).offset(), "offset of " + prefix + i);
    }

    static boolean chainHas(Throwable t, Class<?>... classes) {
        for (Throwable c = t; c != null; c = c.getCause())
            for (Class<?> cls : classes)
                if (cls.isInstance(c)) return true;
        return false;
    }

    static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (sb.length() > 0) sb.append(" <- ");
            sb.append(c.getClass().getSimpleName()).append("(").append(c.getMessage()).append(")");
        }
        return sb.toString();
    }

    // --- scenarios -----------------------------------------------------------------------

    /** Commit 10, abort 10 on one partition; the last stable offset holds back open data. */
    static void commitAbort(String bs, String topic, String txid) throws Exception {
        createTopic(bs, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = txnProducer(bs, txid, null)) {
            p.initTransactions();

            p.beginTransaction();
            sendN(p, topic, "committed-", 10, 0);
            // Open transaction: the LSO is its first offset, the high watermark is past it.
            eq(0L, endOffset(bs, tp, "read_committed"), "read_committed endOffsets while the first transaction is open");
            eq(10L, endOffset(bs, tp, "read_uncommitted"), "read_uncommitted endOffsets while the first transaction is open");
            eq(List.of(), readAll(bs, tp, "read_committed", 0), "read_committed records while the first transaction is open");
            p.commitTransaction();
            // COMMIT marker at offset 10
            eq(11L, endOffset(bs, tp, "read_committed"), "read_committed endOffsets after commit");
            eq(11L, endOffset(bs, tp, "read_uncommitted"), "read_uncommitted endOffsets after commit");

            p.beginTransaction();
            sendN(p, topic, "aborted-", 10, 11);
            eq(11L, endOffset(bs, tp, "read_committed"), "read_committed endOffsets while the second transaction is open");
            eq(21L, endOffset(bs, tp, "read_uncommitted"), "read_uncommitted endOffsets while the second transaction is open");
            eq(expected("committed-", 10, 0), readAll(bs, tp, "read_committed", 11),
                    "read_committed records while the second transaction is open");
            p.abortTransaction();
            // ABORT marker at offset 21
        }
        eq(22L, endOffset(bs, tp, "read_committed"), "read_committed endOffsets after abort");
        eq(22L, endOffset(bs, tp, "read_uncommitted"), "read_uncommitted endOffsets after abort");
        eq(expected("committed-", 10, 0), readAll(bs, tp, "read_committed", 22), "read_committed records");
        eq(concat(expected("committed-", 10, 0), expected("aborted-", 10, 11)),
                readAll(bs, tp, "read_uncommitted", 22), "read_uncommitted records");
        System.out.println("SUMMARY committed=10 uncommitted=20 end=22");
    }

    /**
     * One pass of consume-transform-produce. Processes until `target` input offset is reached
     * (commit=true) or handles one non-empty poll and aborts it (commit=false).
     * Returns the sizes of the transactions it ended.
     */
    static List<Integer> ctpRun(String bs, String in, String out, String group, String txid,
                                long target, boolean commit) throws Exception {
        Properties cp = new Properties();
        cp.put("group.id", group);
        cp.put("auto.offset.reset", "earliest");
        cp.put("max.poll.records", "7");
        List<Integer> sizes = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer(bs, "read_committed", cp);
             KafkaProducer<String, String> p = txnProducer(bs, txid, null)) {
            p.initTransactions();
            c.subscribe(List.of(in));
            long deadline = System.currentTimeMillis() + 60_000;
            long next = -1;
            while (System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(200));
                if (recs.isEmpty()) continue;
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> offs = new HashMap<>();
                for (ConsumerRecord<String, String> r : recs) {
                    check(next < 0 || r.offset() == next, "input offsets not contiguous: expected " + next + " got " + r.offset());
                    next = r.offset() + 1;
                    p.send(new ProducerRecord<>(out, 0, r.key(), "T(" + r.value() + ")"));
                    offs.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                p.sendOffsetsToTransaction(offs, c.groupMetadata());
                sizes.add(recs.count());
                if (!commit) {
                    p.flush();
                    p.abortTransaction();
                    System.out.println("ABORTED " + recs.count() + " next " + next);
                    return sizes;
                }
                p.commitTransaction();
                System.out.println("COMMITTED " + recs.count() + " next " + next);
                if (next >= target) return sizes;
            }
            throw new AssertionError("consume-transform-produce did not reach input offset " + target
                    + " within 60 s (at " + next + ", transactions " + sizes + ")");
        }
    }

    static Map<TopicPartition, Long> committedOffsets(String bs, String group) throws Exception {
        try (Admin admin = Admin.create(base(bs))) {
            Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(group,
                            new ListConsumerGroupOffsetsOptions().requireStable(true))
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            Map<TopicPartition, Long> out = new HashMap<>();
            m.forEach((k, v) -> out.put(k, v == null ? null : v.offset()));
            return out;
        }
    }

    /** Expected output "offset:T(in-i)" lines for inputs [from, to) given the transaction sizes. */
    static List<String> transformed(int from, List<Integer> sizes, long firstOffset) {
        List<String> out = new ArrayList<>();
        long off = firstOffset;
        int i = from;
        for (int s : sizes) {
            for (int k = 0; k < s; k++) out.add((off++) + ":T(in-" + (i++) + ")");
            off++; // the transaction's COMMIT marker
        }
        return out;
    }

    static void consumeTransformProduce(String bs, String in, String out, String group, String txid) throws Exception {
        createTopic(bs, in, 1);
        createTopic(bs, out, 1);
        TopicPartition inTp = new TopicPartition(in, 0);
        TopicPartition outTp = new TopicPartition(out, 0);
        Properties pp = base(bs);
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (int i = 0; i < 30; i++) p.send(new ProducerRecord<>(in, 0, "k" + i, "in-" + i));
            p.flush();
        }

        // 1. Process all 30 input records, one transaction per poll.
        List<Integer> sizes = ctpRun(bs, in, out, group, txid, 30, true);
        eq(30, sizes.stream().mapToInt(Integer::intValue).sum(), "records processed in run 1 " + sizes);
        check(sizes.size() >= 5, "max.poll.records=7 gives at least 5 transactions for 30 records, got " + sizes);
        long outEnd = 30 + sizes.size();
        eq(Map.of(inTp, 30L), committedOffsets(bs, group), "group offsets after run 1");
        List<String> run1 = transformed(0, sizes, 0);
        eq(run1, readAll(bs, outTp, "read_committed", outEnd), "read_committed output after run 1");
        System.out.println("RUN1 transactions=" + sizes.size() + " output=" + run1.size());

        // 2. Ten more inputs; a run that aborts after sending output and offsets.
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (int i = 30; i < 40; i++) p.send(new ProducerRecord<>(in, 0, "k" + i, "in-" + i));
            p.flush();
        }
        List<Integer> aborted = ctpRun(bs, in, out, group, txid, 40, false);
        int k = aborted.get(0);
        check(k >= 1 && k <= 7, "aborted transaction size " + k);
        eq(Map.of(inTp, 30L), committedOffsets(bs, group), "group offsets after the aborted run");
        long outEnd2 = outEnd + k + 1; // aborted records + ABORT marker
        eq(run1, readAll(bs, outTp, "read_committed", outEnd2), "read_committed output after the aborted run");
        List<String> uncommitted = new ArrayList<>(run1);
        for (int i = 0; i < k; i++) uncommitted.add((outEnd + i) + ":T(in-" + (30 + i) + ")");
        eq(uncommitted, readAll(bs, outTp, "read_uncommitted", outEnd2), "read_uncommitted output after the aborted run");
        System.out.println("RUN2 aborted=" + k);

        // 3. The next run resumes at the committed offset 30: in-30.. are processed again, once.
        List<Integer> sizes3 = ctpRun(bs, in, out, group, txid, 40, true);
        eq(10, sizes3.stream().mapToInt(Integer::intValue).sum(), "records processed in run 3 " + sizes3);
        eq(Map.of(inTp, 40L), committedOffsets(bs, group), "group offsets after run 3");
        List<String> run3 = transformed(30, sizes3, outEnd2);
        long outEnd3 = outEnd2 + 10 + sizes3.size();
        eq(concat(run1, run3), readAll(bs, outTp, "read_committed", outEnd3), "read_committed output after run 3");
        System.out.println("RUN3 transactions=" + sizes3.size() + " output=" + (run1.size() + run3.size()));
    }

    /** A second producer with the same transactional.id fences the first and aborts its transaction. */
    static void fence(String bs, String topic, String txid) throws Exception {
        createTopic(bs, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        KafkaProducer<String, String> p1 = txnProducer(bs, txid, null);
        try (KafkaProducer<String, String> p2 = txnProducer(bs, txid, null)) {
            p1.initTransactions();
            p1.beginTransaction();
            sendN(p1, topic, "p1-", 1, 0);

            p2.initTransactions(); // fences p1: its open transaction is aborted (ABORT marker at 1)
            eq(2L, endOffset(bs, tp, "read_committed"), "read_committed endOffsets after p2.initTransactions");

            Future<RecordMetadata> late = p1.send(new ProducerRecord<>(topic, 0, "k", "p1-late"));
            try {
                RecordMetadata md = late.get(30, TimeUnit.SECONDS);
                throw new AssertionError("fenced producer's send succeeded at offset " + md.offset());
            } catch (ExecutionException e) {
                check(chainHas(e, ProducerFencedException.class, InvalidProducerEpochException.class),
                        "fenced producer's send: expected ProducerFenced/InvalidProducerEpoch, got " + chain(e));
                System.out.println("FENCED send " + chain(e));
            } catch (KafkaException e) { // send() itself may throw once the producer knows it is fenced
                check(chainHas(e, ProducerFencedException.class, InvalidProducerEpochException.class),
                        "fenced producer's send: expected ProducerFenced/InvalidProducerEpoch, got " + chain(e));
                System.out.println("FENCED send " + chain(e));
            }
            try {
                p1.commitTransaction();
                throw new AssertionError("fenced producer's commitTransaction succeeded");
            } catch (KafkaException e) {
                check(chainHas(e, ProducerFencedException.class, InvalidProducerEpochException.class),
                        "fenced producer's commitTransaction: expected ProducerFenced/InvalidProducerEpoch, got " + chain(e));
                System.out.println("FENCED commit " + chain(e));
            }
            p1.close(Duration.ofSeconds(5));

            p2.beginTransaction();
            sendN(p2, topic, "p2-", 5, 2);
            p2.commitTransaction(); // COMMIT marker at 7
        }
        eq(expected("p2-", 5, 2), readAll(bs, tp, "read_committed", 8), "read_committed records");
        eq(concat(expected("p1-", 1, 0), expected("p2-", 5, 2)), readAll(bs, tp, "read_uncommitted", 8),
                "read_uncommitted records");
    }

    /** A transaction left open past transaction.timeout.ms is aborted by the coordinator. */
    static void timeout(String bs, String topic, String txid) throws Exception {
        createTopic(bs, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        final int timeoutMs = 3000;
        try (KafkaProducer<String, String> p = txnProducer(bs, txid, timeoutMs)) {
            p.initTransactions();
            p.beginTransaction();
            sendN(p, topic, "c-", 2, 0);
            p.commitTransaction(); // COMMIT marker at 2

            long t0 = System.currentTimeMillis();
            p.beginTransaction();
            sendN(p, topic, "open-", 5, 3);
            eq(3L, endOffset(bs, tp, "read_committed"), "read_committed endOffsets while the transaction is open");
            eq(8L, endOffset(bs, tp, "read_uncommitted"), "read_uncommitted endOffsets while the transaction is open");

            // The coordinator aborts it: ABORT marker at 8, LSO = high watermark = 9.
            waitEnd(bs, tp, "read_committed", 9, 15_000);
            long waited = System.currentTimeMillis() - t0;
            check(waited >= timeoutMs - 100, "transaction aborted after " + waited + " ms, before transaction.timeout.ms " + timeoutMs);
            System.out.println("ABORTED_AFTER_MS " + waited);
            eq(expected("c-", 2, 0), readAll(bs, tp, "read_committed", 9), "read_committed records after the timeout");
            eq(concat(expected("c-", 2, 0), expected("open-", 5, 3)), readAll(bs, tp, "read_uncommitted", 9),
                    "read_uncommitted records after the timeout");

            try {
                p.commitTransaction();
                throw new AssertionError("commitTransaction of a transaction aborted by its timeout succeeded");
            } catch (KafkaException e) {
                check(chainHas(e, ProducerFencedException.class, InvalidProducerEpochException.class, InvalidTxnStateException.class),
                        "stale commitTransaction: expected ProducerFenced/InvalidProducerEpoch/InvalidTxnState, got " + chain(e));
                System.out.println("STALE commit " + chain(e));
            }
            p.close(Duration.ofSeconds(5));
        }
        eq(9L, endOffset(bs, tp, "read_committed"), "read_committed endOffsets after the stale commit");
        eq(expected("c-", 2, 0), readAll(bs, tp, "read_committed", 9), "read_committed records after the stale commit");

        // A new incarnation of the transactional id works normally.
        try (KafkaProducer<String, String> p = txnProducer(bs, txid, timeoutMs)) {
            p.initTransactions();
            p.beginTransaction();
            sendN(p, topic, "n-", 1, 9);
            p.commitTransaction(); // COMMIT marker at 10
        }
        eq(concat(expected("c-", 2, 0), expected("n-", 1, 9)), readAll(bs, tp, "read_committed", 11),
                "read_committed records after a new incarnation commits");
    }

    /** Leaves a transaction open (flushed to the broker) and waits to be told to die. */
    static void open(String bs, String topic, String txid, int timeoutMs) throws Exception {
        createTopic(bs, topic, 1);
        KafkaProducer<String, String> p = txnProducer(bs, txid, timeoutMs);
        p.initTransactions();
        p.beginTransaction();
        sendN(p, topic, "before-", 3, 0);
        p.commitTransaction(); // COMMIT marker at 3
        p.beginTransaction();
        sendN(p, topic, "open-", 5, 4);
        System.out.println("FLUSHED");
        System.out.flush();
        String cmd = new BufferedReader(new InputStreamReader(System.in)).readLine();
        if ("commit".equals(cmd)) {
            // The broker restarted under us; the transaction is still ours to commit.
            p.commitTransaction();
            p.close();
            System.out.println("COMMITTED");
            return;
        }
        // Die like a crashed process: no close(), which would abort the transaction.
        Runtime.getRuntime().halt(0);
    }

    static void commitN(String bs, String topic, String txid, String prefix, int n, long firstOffset) throws Exception {
        if (firstOffset == 0) createTopic(bs, topic, 1);
        try (KafkaProducer<String, String> p = txnProducer(bs, txid, null)) {
            p.initTransactions();
            p.beginTransaction();
            sendN(p, topic, prefix, n, firstOffset);
            p.commitTransaction();
            System.out.println("COMMITTED");
        }
    }

    static void dump(String bs, String topic, String isolation, long end, long waitMs) throws Exception {
        TopicPartition tp = new TopicPartition(topic, 0);
        waitEnd(bs, tp, isolation, end, waitMs);
        for (String r : readAll(bs, tp, isolation, end)) {
            String[] parts = r.split(":", 2);
            System.out.println("REC " + parts[0] + " " + parts[1]);
        }
        System.out.println("END " + end);
    }
}
