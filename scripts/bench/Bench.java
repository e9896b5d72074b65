// Load generator for scripts/bench.sh, on the Java kafka-clients (the fastest stock client).
// Prints one "RESULT key=value ..." line per mode.
//   java -cp ".cache/jars/*" scripts/bench/Bench.java produce <bootstrap> <topic> <partitions> <records> <bytes>
//   java -cp ".cache/jars/*" scripts/bench/Bench.java consume <bootstrap> <topic> <partitions> <records>
//   java -cp ".cache/jars/*" scripts/bench/Bench.java share   <bootstrap> <topic> <group> <consumers> <records>
//   java -cp ".cache/jars/*" scripts/bench/Bench.java e2e     <bootstrap> <topic> <rounds>
//   java -cp ".cache/jars/*" scripts/bench/Bench.java group-first <bootstrap> <topic> <runs>
//   java -cp ".cache/jars/*" scripts/bench/Bench.java many-clients <bootstrap> <topic> <producers> <consumers>
//        <records/s per producer> <warm-up s> <measured s>
// -Dclient.config=<file>: client properties added to every client (security.protocol=SSL, ...).
// produce and consume also print the client's system CPU in their timed window (client_sys_s: the
// thread doing the socket I/O; client_process_sys_s: the whole JVM), for bench.py's floor ratio.
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.*;

public class Bench {
    public static void main(String[] a) throws Exception {
        switch (a[0]) {
            case "produce" -> produce(a[1], a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4]), Integer.parseInt(a[5]));
            case "produce-rate" -> produceRate(a[1], a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4]), Integer.parseInt(a[5]));
            case "consume" -> consume(a[1], a[2], Integer.parseInt(a[3]), Long.parseLong(a[4]));
            case "share" -> share(a[1], a[2], a[3], Integer.parseInt(a[4]), Long.parseLong(a[5]));
            case "e2e" -> e2e(a[1], a[2], Integer.parseInt(a[3]));
            case "group-first" -> groupFirst(a[1], a[2], Integer.parseInt(a[3]));
            case "many-clients" -> manyClients(a[1], a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4]),
                    Integer.parseInt(a[5]), Integer.parseInt(a[6]), Integer.parseInt(a[7]));
            default -> throw new IllegalArgumentException(a[0]);
        }
        System.exit(0);
    }

    /** The clients' common settings: bootstrap servers, and the file -Dclient.config names
     *  (security settings for a TLS listener), if any. */
    static Properties base(String bs) {
        Properties p = new Properties();
        String file = System.getProperty("client.config");
        if (file != null) {
            try (var in = new java.io.FileInputStream(file)) {
                p.load(in);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        p.put("bootstrap.servers", bs);
        return p;
    }

    static void createTopic(String bs, String topic, int partitions) throws Exception {
        Properties p = base(bs);
        try (Admin admin = Admin.create(p)) {
            // -Drf=3 -Dmin.isr=2 for the 3-node run.
            short rf = Short.parseShort(System.getProperty("rf", "1"));
            NewTopic t = new NewTopic(topic, partitions, rf);
            if (rf > 1) t.configs(java.util.Map.of("min.insync.replicas", System.getProperty("min.isr", "2")));
            admin.createTopics(List.of(t)).all().get(60, TimeUnit.SECONDS);
        }
    }

    /** System (kernel) CPU seconds from a /proc stat file: stime, field 15, in USER_HZ (100). */
    static double systemSeconds(Path stat) throws java.io.IOException {
        String s = Files.readString(stat);
        return Long.parseLong(s.substring(s.lastIndexOf(')') + 2).split(" ")[12]) / 100.0;
    }

    /** The stat file of this JVM's thread whose name starts with `prefix` (Linux keeps the
     *  first 15 characters of a Java thread's name). */
    static Path threadStat(String prefix) throws java.io.IOException {
        try (var tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks)
                if (Files.readString(task.resolve("comm")).startsWith(prefix)) return task.resolve("stat");
        }
        throw new IllegalStateException("no thread named " + prefix + "...");
    }

    static final Path PROCESS_STAT = Path.of("/proc/self/stat");

    static double pct(long[] sortedNanos, double q) {
        if (sortedNanos.length == 0) return Double.NaN;
        int i = (int) Math.min(sortedNanos.length - 1, Math.ceil(q * sortedNanos.length) - 1);
        return sortedNanos[Math.max(0, i)] / 1e6;
    }

    static void produce(String bs, String topic, int partitions, int n, int size) throws Exception {
        createTopic(bs, topic, partitions);
        Properties p = base(bs);
        p.put("acks", "all");
        p.put("linger.ms", "5");
        p.put("batch.size", String.valueOf(256 * 1024));
        p.put("buffer.memory", String.valueOf(256L * 1024 * 1024));
        p.put("max.request.size", String.valueOf(8 * 1024 * 1024));
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        byte[] value = new byte[size];
        new Random(42).nextBytes(value);
        long[] lat = new long[n];
        AtomicLong errors = new AtomicLong();
        AtomicReference<Exception> firstError = new AtomicReference<>();
        try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p)) {
            prod.partitionsFor(topic);
            // The producer's socket I/O is all done by its network thread.
            Path io = threadStat("kafka-producer-");
            double ioSys0 = systemSeconds(io), processSys0 = systemSeconds(PROCESS_STAT);
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                final int idx = i;
                final long sent = System.nanoTime();
                prod.send(new ProducerRecord<>(topic, i % partitions, null, value), (md, e) -> {
                    lat[idx] = System.nanoTime() - sent;
                    if (e != null) { errors.incrementAndGet(); firstError.compareAndSet(null, e); }
                });
            }
            prod.flush();
            double secs = (System.nanoTime() - t0) / 1e9;
            double ioSys = systemSeconds(io) - ioSys0, processSys = systemSeconds(PROCESS_STAT) - processSys0;
            long[] s = lat.clone();
            Arrays.sort(s);
            double mb = (double) n * size / (1024 * 1024);
            System.out.printf(Locale.ROOT,
                    "RESULT mode=produce records=%d bytes=%d seconds=%.3f rec_s=%.0f mib_s=%.1f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f errors=%d"
                            + " client_sys_s=%.2f client_process_sys_s=%.2f%n",
                    n, (long) n * size, secs, n / secs, mb / secs, pct(s, .5), pct(s, .99), pct(s, .999), pct(s, 1.0), errors.get(),
                    ioSys, processSys);
            if (firstError.get() != null) System.out.println("first error: " + firstError.get());
        }
    }

    /** Open-loop producer at a fixed rate: send->ack latency without self-inflicted queueing. */
    static void produceRate(String bs, String topic, int n, int size, int ratePerSec) throws Exception {
        createTopic(bs, topic, 1);
        Properties p = base(bs);
        p.put("acks", "all");
        p.put("linger.ms", "0");
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        byte[] value = new byte[size];
        long[] lat = new long[n];
        AtomicLong errors = new AtomicLong();
        try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p)) {
            prod.partitionsFor(topic);
            long t0 = System.nanoTime();
            long interval = 1_000_000_000L / ratePerSec;
            for (int i = 0; i < n; i++) {
                long due = t0 + i * interval;
                while (System.nanoTime() < due) Thread.onSpinWait();
                final int idx = i;
                final long sent = System.nanoTime();
                prod.send(new ProducerRecord<>(topic, value), (md, e) -> {
                    lat[idx] = System.nanoTime() - sent;
                    if (e != null) errors.incrementAndGet();
                });
            }
            prod.flush();
        }
        long[] s = Arrays.copyOfRange(lat, n / 5, n); // first 20% is JVM/connection warm-up
        Arrays.sort(s);
        System.out.printf(Locale.ROOT, "RESULT mode=produce-rate records=%d rate=%d p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f errors=%d%n",
                n, ratePerSec, pct(s, .5), pct(s, .99), pct(s, .999), pct(s, 1.0), errors.get());
    }

    static void consume(String bs, String topic, int partitions, long n) throws java.io.IOException {
        Properties p = base(bs);
        p.put("max.partition.fetch.bytes", String.valueOf(8 * 1024 * 1024));
        p.put("fetch.max.bytes", String.valueOf(64 * 1024 * 1024));
        p.put("max.poll.records", "5000");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
        long count = 0, bytes = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.assign(tps);
            c.seekToBeginning(tps);
            // The consumer's socket I/O is done in poll(), by this thread.
            Path io = Path.of("/proc/thread-self/stat");
            double ioSys0 = systemSeconds(io), processSys0 = systemSeconds(PROCESS_STAT);
            long t0 = System.nanoTime();
            long deadline = System.currentTimeMillis() + 600_000;
            while (count < n && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    count++;
                    bytes += r.serializedValueSize();
                }
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            double ioSys = systemSeconds(io) - ioSys0, processSys = systemSeconds(PROCESS_STAT) - processSys0;
            System.out.printf(Locale.ROOT, "RESULT mode=consume records=%d bytes=%d seconds=%.3f rec_s=%.0f mib_s=%.1f"
                            + " client_sys_s=%.2f client_process_sys_s=%.2f%n",
                    count, bytes, secs, count / secs, bytes / secs / (1024 * 1024), ioSys, processSys);
        }
    }

    /** Share-group consume (KIP-932): `consumers` KafkaShareConsumers (implicit acknowledgement,
     *  the client's defaults otherwise: max.poll.records 500, batch_optimized acquisition), threads
     *  of this JVM, in one new share group set to share.auto.offset.reset=earliest, read the topic's
     *  `n` records. Each consumer counts what it is delivered (records, distinct offsets per
     *  partition, deliveries with deliveryCount > 1) and what the broker confirms accepted (the
     *  acknowledgement commit callback's offsets without an exception). Once every offset was
     *  delivered, each consumer commits its last poll's acknowledgements (commitSync) and polls
     *  on for `share.drain.ms` (1,000) more, so that a redelivery would show. The rate is over
     *  [first record delivered, n-th distinct record delivered]; subscribe -> first record is
     *  reported apart (it includes the group join). ok=1 only if exactly n distinct offsets were
     *  delivered, n were accepted, nothing was delivered twice and no acknowledgement failed.
     *  -Dshare.max.poll.records=N and -Dshare.fetch.max.bytes=N override the client's
     *  max.poll.records and fetch.max.bytes (a ShareFetch's MaxRecords and MaxBytes). */
    static void share(String bs, String topic, String group, int consumers, long n) throws Exception {
        try (Admin admin = Admin.create(base(bs))) {
            ConfigResource res = new ConfigResource(ConfigResource.Type.GROUP, group);
            AlterConfigOp op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
            admin.incrementalAlterConfigs(Map.of(res, List.of(op))).all().get(60, TimeUnit.SECONDS);
        }
        long drainMs = Long.getLong("share.drain.ms", 1000);
        String maxPoll = System.getProperty("share.max.poll.records");
        String fetchMaxBytes = System.getProperty("share.fetch.max.bytes");
        AtomicLong distinct = new AtomicLong(), delivered = new AtomicLong(), bytes = new AtomicLong(),
                accepted = new AtomicLong(), ackFailed = new AtomicLong(), redelivered = new AtomicLong(),
                duplicates = new AtomicLong();
        AtomicLong firstRecord = new AtomicLong(Long.MAX_VALUE), done = new AtomicLong(Long.MAX_VALUE);
        AtomicReference<String> firstError = new AtomicReference<>();
        ConcurrentHashMap<Integer, BitSet> seen = new ConcurrentHashMap<>();
        long[] perConsumer = new long[consumers];
        long deadline = System.currentTimeMillis() + 600_000;
        // Gives up when no consumer was delivered anything for this long (records lost or stuck).
        final long STALL_MS = 60_000;
        AtomicLong progress = new AtomicLong(System.currentTimeMillis());
        long t0 = System.nanoTime();
        double processSys0 = systemSeconds(PROCESS_STAT);
        List<Thread> threads = new ArrayList<>();
        for (int j = 0; j < consumers; j++) {
            final int me = j;
            Thread t = new Thread(() -> {
                Properties p = base(bs);
                p.put("group.id", group);
                p.put("client.id", "bench-share-" + me);
                p.put("share.acknowledgement.mode", "implicit");
                if (maxPoll != null) p.put("max.poll.records", maxPoll);
                if (fetchMaxBytes != null) p.put("fetch.max.bytes", fetchMaxBytes);
                p.put("key.deserializer", ByteArrayDeserializer.class.getName());
                p.put("value.deserializer", ByteArrayDeserializer.class.getName());
                try (KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(p)) {
                    c.setAcknowledgementCommitCallback((Map<TopicIdPartition, Set<Long>> offsets, Exception e) -> {
                        long k = 0;
                        for (Set<Long> s : offsets.values()) k += s.size();
                        if (e == null) accepted.addAndGet(k);
                        else {
                            ackFailed.addAndGet(k);
                            firstError.compareAndSet(null, "acknowledgement failed: " + e);
                        }
                    });
                    c.subscribe(List.of(topic));
                    long stopAt = Long.MAX_VALUE;
                    while (System.currentTimeMillis() < Math.min(stopAt, deadline)) {
                        if (System.currentTimeMillis() - progress.get() > STALL_MS) {
                            firstError.compareAndSet(null, "no new record for " + STALL_MS + " ms at " + distinct.get() + " of " + n);
                            break;
                        }
                        ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(100));
                        if (!rs.isEmpty()) progress.set(System.currentTimeMillis());
                        for (ConsumerRecord<byte[], byte[]> r : rs) {
                            firstRecord.compareAndSet(Long.MAX_VALUE, System.nanoTime());
                            delivered.incrementAndGet();
                            perConsumer[me]++;
                            if (r.deliveryCount().orElse((short) 1) > 1) redelivered.incrementAndGet();
                            BitSet b = seen.computeIfAbsent(r.partition(), x -> new BitSet());
                            boolean dup;
                            synchronized (b) {
                                dup = b.get((int) r.offset());
                                b.set((int) r.offset());
                            }
                            if (dup) duplicates.incrementAndGet();
                            else {
                                bytes.addAndGet(r.serializedValueSize());
                                if (distinct.incrementAndGet() == n) done.set(System.nanoTime());
                            }
                        }
                        if (stopAt == Long.MAX_VALUE && distinct.get() >= n) {
                            c.commitSync(Duration.ofSeconds(30));
                            stopAt = System.currentTimeMillis() + drainMs;
                        }
                    }
                    c.commitSync(Duration.ofSeconds(30));
                } catch (Exception e) {
                    firstError.compareAndSet(null, "consumer " + me + ": " + e);
                }
            }, "bench-share-" + j);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) t.join();
        double processSys = systemSeconds(PROCESS_STAT) - processSys0;
        long first = firstRecord.get(), end = done.get();
        double secs = end == Long.MAX_VALUE ? Double.NaN : (end - first) / 1e9;
        boolean ok = distinct.get() == n && accepted.get() == n && duplicates.get() == 0 && ackFailed.get() == 0
                && firstError.get() == null;
        StringBuilder per = new StringBuilder();
        for (long x : perConsumer) per.append(per.length() == 0 ? "" : ",").append(x);
        System.out.printf(Locale.ROOT,
                "RESULT mode=share consumers=%d ok=%d records=%d distinct=%d delivered=%d accepted=%d ack_failed=%d"
                        + " duplicates=%d redelivered=%d per_consumer=%s bytes=%d seconds=%.3f rec_s=%.0f mib_s=%.1f"
                        + " first_record_ms=%.0f client_process_sys_s=%.2f%n",
                consumers, ok ? 1 : 0, n, distinct.get(), delivered.get(), accepted.get(), ackFailed.get(),
                duplicates.get(), redelivered.get(), per, bytes.get(), secs, distinct.get() / secs,
                bytes.get() / secs / (1024 * 1024), first == Long.MAX_VALUE ? Double.NaN : (first - t0) / 1e6, processSys);
        if (firstError.get() != null) System.out.println("first error: " + firstError.get());
    }

    static void e2e(String bs, String topic, int rounds) throws Exception {
        createTopic(bs, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        // Arrivals (record number, nanoTime) are handed over through a blocking queue:
        // a spinning waiter would take one of the machine's two cores from the broker.
        LinkedBlockingQueue<long[]> arrivals = new LinkedBlockingQueue<>();
        CountDownLatch ready = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            Properties p = base(bs);
            p.put("fetch.max.wait.ms", "5000");
            p.put("key.deserializer", ByteArrayDeserializer.class.getName());
            p.put("value.deserializer", StringDeserializer.class.getName());
            try (KafkaConsumer<byte[], String> c = new KafkaConsumer<>(p)) {
                c.assign(List.of(tp));
                c.seekToEnd(List.of(tp));
                c.position(tp);
                c.poll(Duration.ofMillis(50));
                ready.countDown();
                int seen = 0;
                while (seen < rounds)
                    for (ConsumerRecord<byte[], String> r : c.poll(Duration.ofMillis(100))) {
                        arrivals.add(new long[] {Integer.parseInt(r.value()), System.nanoTime()});
                        seen++;
                    }
            }
        });
        t.setDaemon(true);
        t.start();
        ready.await(60, TimeUnit.SECONDS);
        Properties p = base(bs);
        p.put("linger.ms", "0");
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        long[] lat = new long[rounds];
        Random rnd = new Random(7);
        try (KafkaProducer<byte[], String> prod = new KafkaProducer<>(p)) {
            prod.partitionsFor(topic);
            for (int i = 0; i < rounds; i++) {
                Thread.sleep(20 + rnd.nextInt(30)); // consumer is parked in its long poll by now
                long t0 = System.nanoTime();
                prod.send(new ProducerRecord<>(topic, String.valueOf(i)));
                long[] a = arrivals.poll(30, TimeUnit.SECONDS);
                lat[i] = (a == null || a[0] != i) ? Long.MAX_VALUE : a[1] - t0;
            }
        }
        long[] s = Arrays.copyOfRange(lat, Math.min(10, rounds / 10), rounds); // skip warm-up rounds
        Arrays.sort(s);
        System.out.printf(Locale.ROOT, "RESULT mode=e2e rounds=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f%n",
                rounds, pct(s, .5), pct(s, .99), pct(s, 1.0));
    }

    /** A lone consumer of a new group: ms from creating it (subscribe) to its first record. The
     *  first run pays the JVM's class loading; the rest are what a warm service sees. */
    static void groupFirst(String bs, String topic, int runs) throws Exception {
        createTopic(bs, topic, 1);
        Properties pp = base(bs);
        pp.put("key.serializer", ByteArraySerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<byte[], String> prod = new KafkaProducer<>(pp)) {
            prod.send(new ProducerRecord<>(topic, "first")).get();
        }
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            Properties p = base(bs);
            p.put("group.id", topic + "-group-" + i);
            p.put("auto.offset.reset", "earliest");
            p.put("key.deserializer", ByteArrayDeserializer.class.getName());
            p.put("value.deserializer", StringDeserializer.class.getName());
            long t0 = System.nanoTime();
            try (KafkaConsumer<byte[], String> c = new KafkaConsumer<>(p)) {
                c.subscribe(List.of(topic));
                while (c.poll(Duration.ofMillis(10)).isEmpty()) {
                    if (System.nanoTime() - t0 > 30_000_000_000L) throw new IllegalStateException("no record in 30 s");
                }
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
        }
        double[] warm = Arrays.copyOfRange(ms, 1, runs);
        Arrays.sort(warm);
        System.out.printf(Locale.ROOT, "RESULT mode=group-first runs=%d cold_ms=%.0f warm_p50_ms=%.0f warm_max_ms=%.0f%n",
                runs, ms[0], warm[warm.length / 2], warm[warm.length - 1]);
    }

    /** Many small clients in one JVM (scripts/bench.sh --scale clients): `producers` KafkaProducers
     *  (linger 0, acks=all), each sending `rate` records/s of 100 bytes to its own partition of one
     *  topic, and `consumers` KafkaConsumers, each assigned its share of the partitions (no group:
     *  no heartbeat threads, no 200-member rebalance) and long-polling. A record carries its send
     *  time (System.nanoTime, one JVM's clock), so end-to-end latency is receive time minus that,
     *  for records sent in the measured window. Each producer has its I/O thread and each consumer
     *  its polling thread; two scheduler threads pace the sends. The JVM's own CPU in the window is
     *  reported, as the client's cost. */
    static void manyClients(String bs, String topic, int producers, int consumers, int rate, int warmupS,
                            int measureS) throws Exception {
        int partitions = Math.max(producers, consumers);
        createTopic(bs, topic, partitions);
        AtomicBoolean stop = new AtomicBoolean();
        // [start, end) of the send times measured (nanoTime); nothing is measured until it is set.
        AtomicLongArray window = new AtomicLongArray(new long[] {Long.MAX_VALUE, Long.MAX_VALUE});
        List<long[]> lats = Collections.synchronizedList(new ArrayList<>());
        AtomicLong received = new AtomicLong();
        CountDownLatch ready = new CountDownLatch(consumers);
        List<Thread> threads = new ArrayList<>();
        int capacity = (int) ((long) rate * measureS * partitions / consumers * 2 + 1024);
        for (int j = 0; j < consumers; j++) {
            final int id = j;
            Thread t = new Thread(() -> {
                Properties p = base(bs);
                p.put("client.id", "bench-consumer-" + id);
                p.put("fetch.max.wait.ms", "500");
                p.put("key.deserializer", ByteArrayDeserializer.class.getName());
                p.put("value.deserializer", ByteArrayDeserializer.class.getName());
                List<TopicPartition> tps = new ArrayList<>();
                for (int k = id; k < partitions; k += consumers) tps.add(new TopicPartition(topic, k));
                long[] mine = new long[capacity];
                int n = 0;
                try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
                    c.assign(tps);
                    c.seekToEnd(tps);
                    for (TopicPartition tp : tps) c.position(tp);
                    ready.countDown();
                    while (!stop.get()) {
                        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                            long now = System.nanoTime();
                            long sent = java.nio.ByteBuffer.wrap(r.value()).getLong();
                            if (sent >= window.get(0) && sent < window.get(1)) {
                                received.incrementAndGet();
                                if (n < mine.length) mine[n++] = now - sent;
                            }
                        }
                    }
                }
                lats.add(Arrays.copyOf(mine, n));
            }, "consumer-" + j);
            t.start();
            threads.add(t);
        }
        if (!ready.await(300, TimeUnit.SECONDS)) throw new IllegalStateException("consumers not ready in 300 s");
        List<KafkaProducer<byte[], byte[]>> prods = new ArrayList<>();
        for (int i = 0; i < producers; i++) {
            Properties p = base(bs);
            p.put("client.id", "bench-producer-" + i);
            p.put("acks", "all");
            p.put("linger.ms", "0");
            p.put("key.serializer", ByteArraySerializer.class.getName());
            p.put("value.serializer", ByteArraySerializer.class.getName());
            KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p);
            prod.partitionsFor(topic);
            prods.add(prod);
        }
        AtomicLong sentInWindow = new AtomicLong(), errors = new AtomicLong();
        ScheduledThreadPoolExecutor pacer = new ScheduledThreadPoolExecutor(2);
        long periodUs = 1_000_000L / rate;
        Random rnd = new Random(11);
        for (int i = 0; i < producers; i++) {
            final KafkaProducer<byte[], byte[]> prod = prods.get(i);
            final int partition = i % partitions;
            pacer.scheduleAtFixedRate(() -> {
                byte[] value = new byte[100];
                long now = System.nanoTime();
                java.nio.ByteBuffer.wrap(value).putLong(now);
                if (now >= window.get(0) && now < window.get(1)) sentInWindow.incrementAndGet();
                prod.send(new ProducerRecord<>(topic, partition, null, value), (md, e) -> {
                    if (e != null) errors.incrementAndGet();
                });
            }, rnd.nextInt((int) periodUs), periodUs, TimeUnit.MICROSECONDS);
        }
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        Thread.sleep(warmupS * 1000L);
        long cpu0 = os.getProcessCpuTime();
        long wall0 = System.currentTimeMillis();
        long start = System.nanoTime();
        window.set(1, start + measureS * 1_000_000_000L);
        window.set(0, start);
        Thread.sleep(measureS * 1000L);
        long cpu1 = os.getProcessCpuTime();
        long wall1 = System.currentTimeMillis();
        int jvmThreads = java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount();
        pacer.shutdown();
        pacer.awaitTermination(10, TimeUnit.SECONDS);
        for (KafkaProducer<byte[], byte[]> prod : prods) prod.flush();
        Thread.sleep(2000); // the window's last records arrive
        stop.set(true);
        for (Thread t : threads) t.join(30_000);
        for (KafkaProducer<byte[], byte[]> prod : prods) prod.close(Duration.ofSeconds(5));
        long total = 0;
        for (long[] l : lats) total += l.length;
        long[] s = new long[(int) total];
        int k = 0;
        for (long[] l : lats) { System.arraycopy(l, 0, s, k, l.length); k += l.length; }
        Arrays.sort(s);
        System.out.printf(Locale.ROOT,
                "RESULT mode=many-clients producers=%d consumers=%d sent=%d received=%d errors=%d p50_ms=%.2f p99_ms=%.2f "
                        + "p999_ms=%.2f max_ms=%.2f client_cpu_s=%.2f window_s=%.3f wall_start_ms=%d wall_end_ms=%d threads=%d%n",
                producers, consumers, sentInWindow.get(), received.get(), errors.get(), pct(s, .5), pct(s, .99), pct(s, .999),
                pct(s, 1.0), (cpu1 - cpu0) / 1e9, (wall1 - wall0) / 1e3, wall0, wall1, jvmThreads);
    }
}
