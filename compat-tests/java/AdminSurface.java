// The admin surface and log management with the Java Admin client, called the way the Kafka tools call it:
// kafka-topics.sh, kafka-configs.sh, kafka-delete-records.sh, kafka-log-dirs.sh, kafka-leader-election.sh,
// kafka-features.sh, kafka-reassign-partitions.sh --list, plus the quickstart, retention and compaction.
// Usage: java -cp ".cache/jars/*" compat-tests/java/AdminSurface.java <scenario> <bootstrap> [log dir]
//   configs            describeConfigs (topic, broker, synonyms, sources), incrementalAlterConfigs
//                      (broker must run with message.max.bytes=2000000)
//   topics <logdir>    describeTopics (paged), reassignments, electLeaders, describeLogDirs, features,
//                      OffsetForLeaderEpoch through the consumer, deleteTopics removes directories
//   delete-disabled <logdir>   (broker with delete.topic.enable=false)
//   quotas-set / quotas-check  client quotas (check runs again after a broker restart)
//   group-configs-set / group-configs-check   kafka-configs.sh --entity-type groups (check runs again
//                      after a broker restart)
//   quickstart         the Kafka quickstart
//   delete-records / delete-records-check
//   retention <logdir> (broker with log.retention.check.interval.ms=200)
//   compaction         (broker with log.retention.check.interval.ms=200)
// Every scenario asserts on its own, prints "ok <section>" / "FAIL <section>: ..." and finally OK, or exits 1.
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.stream.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.quota.*;
import org.apache.kafka.common.serialization.*;

public class AdminSurface {
    // ---------------------------------------------------------------- helpers

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

    interface Cond {
        boolean test() throws Exception;
    }

    /** Polls cond until true or timeoutMs passes; fails with what + the last state described by state. */
    static void waitFor(long timeoutMs, String what, Cond cond, Callable<Object> state) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!cond.test()) {
            if (System.currentTimeMillis() > deadline)
                throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + what
                        + "; last state: " + state.call());
            Thread.sleep(50);
        }
    }

    static Admin admin(String bs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        return Admin.create(p);
    }

    static KafkaProducer<String, String> producer(String bs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("linger.ms", "0");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String bs, String reset) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("auto.offset.reset", reset);
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    static void create(Admin a, NewTopic... topics) throws Exception {
        get(a.createTopics(List.of(topics)).all());
    }

    /** "offset:key:value" of every record from the beginning of tp up to its end offset (assign consumer). */
    static List<String> readAll(String bs, TopicPartition tp) throws Exception {
        try (KafkaConsumer<String, String> c = consumer(bs, "earliest")) {
            return readAll(c, tp);
        }
    }

    static List<String> readAll(KafkaConsumer<String, String> c, TopicPartition tp) throws Exception {
        c.assign(List.of(tp));
        c.seekToBeginning(List.of(tp));
        long end = c.endOffsets(List.of(tp), Duration.ofSeconds(30)).get(tp);
        List<String> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 30_000;
        while (c.position(tp, Duration.ofSeconds(30)) < end) {
            check(System.currentTimeMillis() < deadline, "reading " + tp + " to end offset " + end + " took over 30 s; got " + out);
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200)))
                out.add(r.offset() + ":" + r.key() + ":" + r.value());
        }
        return out;
    }

    static long earliest(Admin a, TopicPartition tp) throws Exception {
        return get(a.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp)).offset();
    }

    static long latest(Admin a, TopicPartition tp) throws Exception {
        return get(a.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp)).offset();
    }

    static String syn(ConfigEntry e) {
        return e.synonyms().stream().map(s -> s.name() + "=" + s.value() + "@" + s.source())
                .collect(Collectors.joining(", ", "[", "]"));
    }

    /** Exact value, source and synonyms (name=value@SOURCE, most specific first) of one described config. */
    static void entry(Config c, String name, String value, ConfigEntry.ConfigSource source, String synonyms) {
        ConfigEntry e = c.get(name);
        check(e != null, "config " + name + " missing");
        eq(value, e.value(), name + " value");
        eq(source, e.source(), name + " source");
        eq(synonyms, syn(e), name + " synonyms");
    }

    static final ConfigEntry.ConfigSource TOPIC = ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG;
    static final ConfigEntry.ConfigSource STATIC = ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG;
    static final ConfigEntry.ConfigSource DEFAULT = ConfigEntry.ConfigSource.DEFAULT_CONFIG;

    static Config describe(Admin a, ConfigResource r) throws Exception {
        return get(a.describeConfigs(List.of(r), new DescribeConfigsOptions().includeSynonyms(true)).all()).get(r);
    }

    static AlterConfigOp op(String k, String v, AlterConfigOp.OpType t) {
        return new AlterConfigOp(new ConfigEntry(k, v), t);
    }

    static long dirLogBytes(File dir) {
        File[] logs = dir.listFiles((d, n) -> n.endsWith(".log"));
        check(logs != null, dir + " is not a directory");
        long n = 0;
        for (File f : logs) n += f.length();
        return n;
    }

    static List<String> logFiles(File dir) {
        String[] names = dir.list((d, n) -> n.endsWith(".log"));
        if (names == null) return List.of();
        return Arrays.stream(names).sorted().collect(Collectors.toList());
    }

    // ---------------------------------------------------------------- main

    public static void main(String[] args) {
        try {
            String bs = args[1];
            String dir = args.length > 2 ? args[2] : null;
            switch (args[0]) {
                case "configs": configs(bs); break;
                case "topics": topics(bs, dir); break;
                case "delete-disabled": deleteDisabled(bs, dir); break;
                case "quotas-set": quotasSet(bs); break;
                case "quotas-check": quotasCheck(bs); break;
                case "group-configs-set": groupConfigsSet(bs); break;
                case "group-configs-check": groupConfigsCheck(bs); break;
                case "quickstart": quickstart(bs); break;
                case "delete-records": deleteRecords(bs); break;
                case "delete-records-check": deleteRecordsCheck(bs); break;
                case "retention": retention(bs, dir); break;
                case "compaction": compaction(bs); break;
                default: throw new IllegalArgumentException("unknown scenario " + args[0]);
            }
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

    // ---------------------------------------------------------------- kafka-configs.sh

    static void configs(String bs) throws Exception {
        try (Admin a = admin(bs)) {
            create(a, new NewTopic("cfg", 2, (short) 1).configs(Map.of("retention.ms", "3600000", "max.message.bytes", "500000")),
                    new NewTopic("cfg-plain", 1, (short) 1));
            ConfigResource cfg = new ConfigResource(ConfigResource.Type.TOPIC, "cfg");
            ConfigResource plain = new ConfigResource(ConfigResource.Type.TOPIC, "cfg-plain");
            ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, "1");

            section("describeConfigs topic: overrides, defaults, static broker synonyms", () -> {
                Config c = describe(a, cfg);
                entry(c, "max.message.bytes", "500000", TOPIC,
                        "[max.message.bytes=500000@DYNAMIC_TOPIC_CONFIG, message.max.bytes=2000000@STATIC_BROKER_CONFIG, message.max.bytes=1048588@DEFAULT_CONFIG]");
                entry(c, "segment.bytes", "1073741824", DEFAULT, "[log.segment.bytes=1073741824@DEFAULT_CONFIG]");
                entry(c, "cleanup.policy", "delete", DEFAULT, "[log.cleanup.policy=delete@DEFAULT_CONFIG]");
                eq("3600000", c.get("retention.ms").value(), "retention.ms value");
                eq(TOPIC, c.get("retention.ms").source(), "retention.ms source");
                for (ConfigEntry e : c.entries()) {
                    check(!e.isSensitive(), e.name() + " is sensitive");
                    check(!e.isReadOnly(), "topic config " + e.name() + " is read-only");
                }
                Config p = describe(a, plain);
                entry(p, "max.message.bytes", "2000000", STATIC,
                        "[message.max.bytes=2000000@STATIC_BROKER_CONFIG, message.max.bytes=1048588@DEFAULT_CONFIG]");
                eq("604800000", p.get("retention.ms").value(), "retention.ms default value");
                eq(DEFAULT, p.get("retention.ms").source(), "retention.ms default source");
                // without includeSynonyms: same values and sources, no synonyms
                Config bare = get(a.describeConfigs(List.of(cfg)).all()).get(cfg);
                eq("500000", bare.get("max.message.bytes").value(), "max.message.bytes without synonyms");
                eq(TOPIC, bare.get("max.message.bytes").source(), "max.message.bytes source without synonyms");
                eq(DEFAULT, bare.get("segment.bytes").source(), "segment.bytes source without synonyms");
                eq(List.of(), bare.get("max.message.bytes").synonyms(), "synonyms when not asked for");
                expectFailure(a.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic"))).all(),
                        UnknownTopicOrPartitionException.class, "describeConfigs of an unknown topic");
            });

            // Kafka: a topic key's synonyms are the broker keys from its primary broker key on, so
            // retention.ms (primary log.retention.ms, unset) has none, and the 168 h default of
            // log.retention.hours is not listed; the same for segment.ms / log.roll.ms.
            section("describeConfigs topic: synonyms of time keys (log.retention.ms, log.roll.ms unset)", () -> {
                entry(describe(a, cfg), "retention.ms", "3600000", TOPIC, "[retention.ms=3600000@DYNAMIC_TOPIC_CONFIG]");
                Config p = describe(a, plain);
                entry(p, "retention.ms", "604800000", DEFAULT, "[]");
                entry(p, "segment.ms", "604800000", DEFAULT, "[]");
            });

            section("describeConfigs broker 1", () -> {
                Config c = describe(a, broker);
                entry(c, "message.max.bytes", "2000000", STATIC,
                        "[message.max.bytes=2000000@STATIC_BROKER_CONFIG, message.max.bytes=1048588@DEFAULT_CONFIG]");
                entry(c, "num.partitions", "1", DEFAULT, "[num.partitions=1@DEFAULT_CONFIG]");
                entry(c, "log.retention.hours", "168", DEFAULT, "[log.retention.hours=168@DEFAULT_CONFIG]");
                entry(c, "log.segment.bytes", "1073741824", DEFAULT, "[log.segment.bytes=1073741824@DEFAULT_CONFIG]");
                entry(c, "auto.create.topics.enable", "true", DEFAULT, "[auto.create.topics.enable=true@DEFAULT_CONFIG]");
            });

            // kafka-configs.sh --describe --entity-type brokers --entity-default: the cluster-wide
            // dynamic defaults, of which a broker without dynamic config has none
            section("describeConfigs broker default resource", () -> {
                ConfigResource dflt = new ConfigResource(ConfigResource.Type.BROKER, "");
                Config c = get(a.describeConfigs(List.of(dflt)).all()).get(dflt);
                eq(List.of(), c.entries().stream().map(e -> e.name() + "=" + e.value() + "@" + e.source()).limit(5)
                        .collect(Collectors.toList()), "entries of the broker default resource (first 5 shown)");
            });

            section("incrementalAlterConfigs SET / DELETE", () -> {
                get(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("retention.ms", "7200000", AlterConfigOp.OpType.SET),
                        op("segment.ms", "3600000", AlterConfigOp.OpType.SET)))).all());
                Config c = describe(a, cfg);
                eq("7200000", c.get("retention.ms").value(), "retention.ms after SET");
                eq(TOPIC, c.get("retention.ms").source(), "retention.ms source after SET");
                eq("3600000", c.get("segment.ms").value(), "segment.ms after SET");
                eq(TOPIC, c.get("segment.ms").source(), "segment.ms source after SET");
                eq("500000", c.get("max.message.bytes").value(), "untouched override kept by an incremental alter");
                get(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("retention.ms", null, AlterConfigOp.OpType.DELETE)))).all());
                c = describe(a, cfg);
                eq("604800000", c.get("retention.ms").value(), "retention.ms after DELETE");
                eq(DEFAULT, c.get("retention.ms").source(), "retention.ms source after DELETE");
                eq("3600000", c.get("segment.ms").value(), "segment.ms kept after deleting retention.ms");
                // DELETE of a key without override is a no-op
                get(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("retention.bytes", null, AlterConfigOp.OpType.DELETE)))).all());
                eq(DEFAULT, describe(a, cfg).get("retention.bytes").source(), "retention.bytes after no-op DELETE");
                // what createTopics reports agrees
                eq("500000", get(a.describeConfigs(List.of(cfg)).values().get(cfg)).get("max.message.bytes").value(),
                        "values() future");
            });

            section("incrementalAlterConfigs APPEND / SUBTRACT on a list key", () -> {
                get(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("cleanup.policy", "compact", AlterConfigOp.OpType.APPEND)))).all());
                entry(describe(a, cfg), "cleanup.policy", "delete,compact", TOPIC,
                        "[cleanup.policy=delete,compact@DYNAMIC_TOPIC_CONFIG, log.cleanup.policy=delete@DEFAULT_CONFIG]");
                // appending a present value changes nothing
                get(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("cleanup.policy", "compact", AlterConfigOp.OpType.APPEND)))).all());
                eq("delete,compact", describe(a, cfg).get("cleanup.policy").value(), "cleanup.policy after second APPEND");
                get(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("cleanup.policy", "delete", AlterConfigOp.OpType.SUBTRACT)))).all());
                entry(describe(a, cfg), "cleanup.policy", "compact", TOPIC,
                        "[cleanup.policy=compact@DYNAMIC_TOPIC_CONFIG, log.cleanup.policy=delete@DEFAULT_CONFIG]");
                expectFailure(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("retention.ms", "5", AlterConfigOp.OpType.APPEND)))).all(),
                        InvalidConfigurationException.class, "APPEND to a non-list key");
                expectFailure(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("max.message.bytes", "5", AlterConfigOp.OpType.SUBTRACT)))).all(),
                        InvalidConfigurationException.class, "SUBTRACT from a non-list key");
                eq("500000", describe(a, cfg).get("max.message.bytes").value(), "max.message.bytes after refused SUBTRACT");
            });

            section("incrementalAlterConfigs errors and validateOnly", () -> {
                expectFailure(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("no.such.config", "1", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "SET an unknown topic key");
                expectFailure(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("cleanup.policy", "bogus", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "SET cleanup.policy=bogus");
                expectFailure(a.incrementalAlterConfigs(Map.of(cfg, List.of(
                        op("retention.ms", "soon", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "SET retention.ms=soon");
                expectFailure(a.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic"),
                        List.of(op("retention.ms", "1000", AlterConfigOp.OpType.SET)))).all(),
                        UnknownTopicOrPartitionException.class, "alter an unknown topic");
                get(a.incrementalAlterConfigs(Map.of(cfg, List.of(op("retention.ms", "1", AlterConfigOp.OpType.SET))),
                        new AlterConfigsOptions().validateOnly(true)).all());
                eq("604800000", describe(a, cfg).get("retention.ms").value(), "retention.ms after validateOnly SET");
                // one request, two resources: each has its own outcome
                AlterConfigsResult r = a.incrementalAlterConfigs(Map.of(
                        plain, List.of(op("retention.ms", "123456", AlterConfigOp.OpType.SET)),
                        cfg, List.of(op("cleanup.policy", "bogus", AlterConfigOp.OpType.SET))));
                get(r.values().get(plain));
                expectFailure(r.values().get(cfg), InvalidConfigurationException.class, "bad resource in a two-resource alter");
                eq("123456", describe(a, plain).get("retention.ms").value(), "good resource of a two-resource alter applied");
                eq("compact", describe(a, cfg).get("cleanup.policy").value(), "bad resource of a two-resource alter unchanged");
            });

            // Kafka 4 (KIP-1030): segment.bytes must be at least 1 MiB
            section("segment.bytes below 1 MiB refused", () -> {
                expectFailure(a.incrementalAlterConfigs(Map.of(plain, List.of(
                        op("segment.bytes", "1024", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "SET segment.bytes=1024");
                expectFailure(a.createTopics(List.of(new NewTopic("cfg-small-seg", 1, (short) 1)
                        .configs(Map.of("segment.bytes", "1024")))).all(),
                        InvalidConfigurationException.class, "create with segment.bytes=1024");
                get(a.incrementalAlterConfigs(Map.of(plain, List.of(
                        op("segment.bytes", "1048576", AlterConfigOp.OpType.SET)))).all());
                eq("1048576", describe(a, plain).get("segment.bytes").value(), "segment.bytes=1048576 accepted");
            });

            // Kafka: dynamic broker keys (the primary broker synonyms of topic keys) can be set for the
            // cluster (resource "") and per broker; topics without an override follow them
            section("dynamic broker configs: cluster default and broker 1", () -> {
                ConfigResource dflt = new ConfigResource(ConfigResource.Type.BROKER, "");
                ConfigEntry.ConfigSource DYN_DEFAULT = ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG;
                ConfigEntry.ConfigSource DYN_BROKER = ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG;
                create(a, new NewTopic("cfg-dyn", 1, (short) 1));
                ConfigResource dyn = new ConfigResource(ConfigResource.Type.TOPIC, "cfg-dyn");
                get(a.incrementalAlterConfigs(Map.of(dflt, List.of(op("log.retention.ms", "86400000", AlterConfigOp.OpType.SET)))).all());
                eq("86400000", describe(a, broker).get("log.retention.ms").value(), "log.retention.ms" + " value on " + broker.name());
                eq(DYN_DEFAULT, describe(a, broker).get("log.retention.ms").source(), "log.retention.ms" + " source on " + broker.name());
                eq("86400000", describe(a, dyn).get("retention.ms").value(), "retention.ms" + " value on " + dyn.name());
                eq(DYN_DEFAULT, describe(a, dyn).get("retention.ms").source(), "retention.ms" + " source on " + dyn.name());
                get(a.incrementalAlterConfigs(Map.of(broker, List.of(op("log.retention.ms", "43200000", AlterConfigOp.OpType.SET)))).all());
                eq("43200000", describe(a, broker).get("log.retention.ms").value(), "log.retention.ms" + " value on " + broker.name());
                eq(DYN_BROKER, describe(a, broker).get("log.retention.ms").source(), "log.retention.ms" + " source on " + broker.name());
                eq("43200000", describe(a, dyn).get("retention.ms").value(), "topic retention.ms under a per-broker value");
                eq(DYN_BROKER, describe(a, dyn).get("retention.ms").source(), "topic retention.ms source under a per-broker value");
                eq("3600000", describe(a, cfg).get("segment.ms").value(), "a topic override is unaffected");
                get(a.incrementalAlterConfigs(Map.of(broker, List.of(op("log.retention.ms", null, AlterConfigOp.OpType.DELETE)))).all());
                get(a.incrementalAlterConfigs(Map.of(dflt, List.of(op("log.retention.ms", null, AlterConfigOp.OpType.DELETE)))).all());
                eq("604800000", describe(a, dyn).get("retention.ms").value(), "topic retention.ms after deleting both");
                eq(DEFAULT, describe(a, dyn).get("retention.ms").source(), "topic retention.ms source after deleting both");
                // the default resource lists only what was set for it
                get(a.incrementalAlterConfigs(Map.of(dflt, List.of(op("log.retention.ms", "86400000", AlterConfigOp.OpType.SET)))).all());
                eq(List.of("log.retention.ms=86400000@DYNAMIC_DEFAULT_BROKER_CONFIG"),
                        get(a.describeConfigs(List.of(dflt)).all()).get(dflt).entries().stream()
                                .map(e -> e.name() + "=" + e.value() + "@" + e.source()).limit(5).collect(Collectors.toList()),
                        "entries of the broker default resource (first 5 shown)");
                get(a.incrementalAlterConfigs(Map.of(dflt, List.of(op("log.retention.ms", null, AlterConfigOp.OpType.DELETE)))).all());
            });

            // static broker keys cannot be altered: Kafka refuses them with INVALID_REQUEST
            section("static broker configs cannot be altered", () -> {
                for (ConfigResource r : List.of(broker, new ConfigResource(ConfigResource.Type.BROKER, "")))
                    for (String k : List.of("num.partitions", "log.dirs", "auto.create.topics.enable"))
                        expectFailure(a.incrementalAlterConfigs(Map.of(r, List.of(op(k, "2", AlterConfigOp.OpType.SET)))).all(),
                                InvalidRequestException.class, "SET " + k + " on broker '" + r.name() + "'");
                entry(describe(a, broker), "num.partitions", "1", DEFAULT, "[num.partitions=1@DEFAULT_CONFIG]");
            });
            // Kafka: of a topic key's broker synonyms only the primary one is dynamic (log.retention.ms,
            // log.roll.ms); log.retention.hours / log.retention.minutes / log.roll.hours are static
            section("log.retention.hours and log.roll.hours are static broker configs", () -> {
                for (String k : List.of("log.retention.hours", "log.retention.minutes", "log.roll.hours"))
                    expectFailure(a.incrementalAlterConfigs(Map.of(broker, List.of(op(k, "1", AlterConfigOp.OpType.SET)))).all(),
                            InvalidRequestException.class, "SET " + k + " on broker 1");
                entry(describe(a, broker), "log.retention.hours", "168", DEFAULT, "[log.retention.hours=168@DEFAULT_CONFIG]");
            });
        }
    }

    // ---------------------------------------------------------------- topics, log dirs, elections, features

    static void topics(String bs, String logDir) throws Exception {
        try (Admin a = admin(bs)) {
            CreateTopicsResult cr = a.createTopics(List.of(new NewTopic("surf", 5, (short) 1),
                    new NewTopic("surf-b", 3, (short) 1).configs(Map.of("cleanup.policy", "compact"))));
            get(cr.all());
            Uuid surfId = get(cr.topicId("surf"));
            Uuid surfBId = get(cr.topicId("surf-b"));
            try (KafkaProducer<String, String> p = producer(bs)) {
                for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>("surf", 0, "k" + i, "value-" + i)).get();
                for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>("surf", 1, "k" + i, "v" + i)).get();
                p.send(new ProducerRecord<>("surf-b", 2, "k", "v")).get();
            }

            section("describeTopics (DescribeTopicPartitions, 2 partitions per response)", () -> {
                Map<String, TopicDescription> d = get(a.describeTopics(List.of("surf", "surf-b"),
                        new DescribeTopicsOptions().partitionSizeLimitPerResponse(2)).allTopicNames());
                eq(Set.of("surf", "surf-b"), d.keySet(), "described topics");
                eq(surfId, d.get("surf").topicId(), "surf topic id");
                eq(surfBId, d.get("surf-b").topicId(), "surf-b topic id");
                eq(List.of(0, 1, 2, 3, 4), d.get("surf").partitions().stream().map(TopicPartitionInfo::partition)
                        .collect(Collectors.toList()), "surf partitions");
                eq(List.of(0, 1, 2), d.get("surf-b").partitions().stream().map(TopicPartitionInfo::partition)
                        .collect(Collectors.toList()), "surf-b partitions");
                for (TopicDescription td : d.values()) {
                    eq(false, td.isInternal(), td.name() + " internal");
                    for (TopicPartitionInfo pi : td.partitions()) {
                        String w = td.name() + "-" + pi.partition();
                        eq(1, pi.leader().id(), w + " leader");
                        eq(List.of(1), pi.replicas().stream().map(Node::id).collect(Collectors.toList()), w + " replicas");
                        eq(List.of(1), pi.isr().stream().map(Node::id).collect(Collectors.toList()), w + " isr");
                        eq(List.of(), pi.elr(), w + " elr");
                        eq(List.of(), pi.lastKnownElr(), w + " last known elr");
                    }
                }
                // the default page size (2000) gives the same answer
                TopicDescription one = get(a.describeTopics(List.of("surf")).allTopicNames()).get("surf");
                eq(d.get("surf"), one, "describeTopics without paging");
                expectFailure(a.describeTopics(List.of("surf", "no-such-topic")).allTopicNames(),
                        UnknownTopicOrPartitionException.class, "describe an unknown topic");
            });

            section("listPartitionReassignments (kafka-reassign-partitions.sh --list)", () -> {
                eq(Map.of(), get(a.listPartitionReassignments().reassignments()), "all reassignments");
                eq(Map.of(), get(a.listPartitionReassignments(Set.of(new TopicPartition("surf", 0))).reassignments()),
                        "reassignments of surf-0");
            });

            section("electLeaders (kafka-leader-election.sh)", () -> {
                TopicPartition s0 = new TopicPartition("surf", 0), s1 = new TopicPartition("surf", 1);
                for (ElectionType type : List.of(ElectionType.PREFERRED, ElectionType.UNCLEAN)) {
                    ElectLeadersResult r = a.electLeaders(type, Set.of(s0, s1));
                    Map<TopicPartition, Optional<Throwable>> m = get(r.partitions());
                    eq(Set.of(s0, s1), m.keySet(), type + " election partitions");
                    for (TopicPartition tp : m.keySet())
                        check(m.get(tp).isPresent() && m.get(tp).get() instanceof ElectionNotNeededException,
                                type + " election of " + tp + ": expected ElectionNotNeededException, got " + m.get(tp));
                    expectFailure(r.all(), ElectionNotNeededException.class, type + " election all()");
                }
                Map<TopicPartition, Optional<Throwable>> unknown = get(a.electLeaders(ElectionType.PREFERRED,
                        Set.of(new TopicPartition("no-such-topic", 0), new TopicPartition("surf", 9))).partitions());
                for (Map.Entry<TopicPartition, Optional<Throwable>> e : unknown.entrySet())
                    check(e.getValue().isPresent() && e.getValue().get() instanceof UnknownTopicOrPartitionException,
                            "election of " + e.getKey() + ": expected UnknownTopicOrPartitionException, got " + e.getValue());
                eq(2, unknown.size(), "results for unknown partitions");
                // all partitions (null): partitions that already have their preferred leader are left out
                ElectLeadersResult all = a.electLeaders(ElectionType.PREFERRED, null);
                eq(Map.of(), get(all.partitions()), "election of all partitions");
                get(all.all());
            });

            section("describeLogDirs (kafka-log-dirs.sh --describe)", () -> {
                Map<Integer, Map<String, LogDirDescription>> all = get(a.describeLogDirs(List.of(1)).allDescriptions());
                eq(Set.of(1), all.keySet(), "brokers described");
                Map<String, LogDirDescription> dirs = all.get(1);
                eq(Set.of(logDir), dirs.keySet(), "log dirs of broker 1");
                LogDirDescription d = dirs.get(logDir);
                eq(null, d.error(), "log dir error");
                check(d.totalBytes().isPresent() && d.totalBytes().getAsLong() > 0, "totalBytes: " + d.totalBytes());
                check(d.usableBytes().isPresent() && d.usableBytes().getAsLong() > 0
                        && d.usableBytes().getAsLong() <= d.totalBytes().getAsLong(), "usableBytes: " + d.usableBytes());
                Map<TopicPartition, ReplicaInfo> mine = new TreeMap<>(Comparator.comparing(TopicPartition::toString));
                d.replicaInfos().forEach((tp, ri) -> { if (tp.topic().startsWith("surf")) mine.put(tp, ri); });
                eq(8, mine.size(), "surf/surf-b replicas in the log dir: " + mine.keySet());
                for (Map.Entry<TopicPartition, ReplicaInfo> e : mine.entrySet()) {
                    File pdir = new File(logDir, e.getKey().toString());
                    eq(dirLogBytes(pdir), e.getValue().size(), e.getKey() + " size vs its .log files");
                    eq(0L, e.getValue().offsetLag(), e.getKey() + " offset lag");
                    eq(false, e.getValue().isFuture(), e.getKey() + " isFuture");
                }
                check(mine.get(new TopicPartition("surf", 0)).size() > mine.get(new TopicPartition("surf", 1)).size(),
                        "surf-0 (10 records) not larger than surf-1 (3 records): " + mine);
                eq(0L, mine.get(new TopicPartition("surf", 2)).size(), "size of empty surf-2");
                // kafka-reassign-partitions.sh / kafka-log-dirs.sh --topic-list: replica log dirs
                TopicPartitionReplica rep = new TopicPartitionReplica("surf", 0, 1);
                DescribeReplicaLogDirsResult.ReplicaLogDirInfo info = get(a.describeReplicaLogDirs(List.of(rep)).all()).get(rep);
                eq(logDir, info.getCurrentReplicaLogDir(), "current replica log dir of surf-0");
                eq(null, info.getFutureReplicaLogDir(), "future replica log dir of surf-0");
            });

            section("describeFeatures (kafka-features.sh describe)", () -> {
                FeatureMetadata f = get(a.describeFeatures().featureMetadata());
                FinalizedVersionRange g = f.finalizedFeatures().get("group.version");
                check(g != null, "group.version not finalized: " + f);
                eq((short) 1, g.minVersionLevel(), "group.version finalized min");
                eq((short) 1, g.maxVersionLevel(), "group.version finalized max");
                SupportedVersionRange s = f.supportedFeatures().get("group.version");
                check(s != null && s.maxVersion() >= 1, "group.version supported: " + f.supportedFeatures());
                // Share groups (KIP-932) are on, as on a Kafka 4.2 cluster.
                FinalizedVersionRange sv = f.finalizedFeatures().get("share.version");
                check(sv != null, "share.version not finalized: " + f);
                eq((short) 1, sv.maxVersionLevel(), "share.version finalized max");
                SupportedVersionRange ss = f.supportedFeatures().get("share.version");
                check(ss != null && ss.minVersion() == 0 && ss.maxVersion() == 1,
                    "share.version supported: " + f.supportedFeatures());
                check(f.finalizedFeaturesEpoch().isPresent(), "finalized features epoch missing");
            });

            // The consumer validates a position that carries a leader epoch with OffsetsForLeaderEpoch
            // before fetching: a position past the end of that epoch is a log truncation.
            section("OffsetForLeaderEpoch via consumer position validation", () -> {
                TopicPartition tp = new TopicPartition("surf", 0);
                try (KafkaConsumer<String, String> c = consumer(bs, "none")) {
                    c.assign(List.of(tp));
                    c.seek(tp, new OffsetAndMetadata(5, Optional.of(0), ""));
                    List<ConsumerRecord<String, String>> got = new ArrayList<>();
                    long deadline = System.currentTimeMillis() + 20_000;
                    while (got.size() < 5 && System.currentTimeMillis() < deadline)
                        c.poll(Duration.ofMillis(200)).forEach(got::add);
                    eq(List.of("5:value-5", "6:value-6", "7:value-7", "8:value-8", "9:value-9"),
                            got.stream().map(r -> r.offset() + ":" + r.value()).collect(Collectors.toList()),
                            "records after seek(5, epoch 0)");
                }
                try (KafkaConsumer<String, String> c = consumer(bs, "none")) {
                    c.assign(List.of(tp));
                    c.seek(tp, new OffsetAndMetadata(20, Optional.of(0), ""));
                    LogTruncationException trunc = null;
                    long deadline = System.currentTimeMillis() + 20_000;
                    while (trunc == null && System.currentTimeMillis() < deadline) {
                        try {
                            ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(200));
                            check(rs.isEmpty(), "records at a position past the log end: " + rs.count());
                        } catch (LogTruncationException e) {
                            trunc = e;
                        }
                    }
                    check(trunc != null, "no LogTruncationException for position 20 in epoch 0 (log end 10)");
                    eq(10L, trunc.divergentOffsets().get(tp).offset(), "divergent offset");
                }
            });

            section("deleteTopics removes the partition directories", () -> {
                for (int p = 0; p < 3; p++)
                    check(new File(logDir, "surf-b-" + p).isDirectory(), "surf-b-" + p + " directory missing before delete");
                get(a.deleteTopics(List.of("surf-b")).all());
                waitFor(10_000, "surf-b gone from listTopics", () -> !get(a.listTopics().names()).contains("surf-b"),
                        () -> get(a.listTopics().names()));
                waitFor(10_000, "surf-b-0..2 directories removed", () -> IntStream.range(0, 3)
                        .noneMatch(p -> new File(logDir, "surf-b-" + p).exists()), () -> Arrays.toString(new File(logDir).list()));
                check(new File(logDir, "surf-0").isDirectory(), "surf-0 directory gone after deleting surf-b");
                expectFailure(a.describeTopics(List.of("surf-b")).allTopicNames(), UnknownTopicOrPartitionException.class,
                        "describe a deleted topic");
                expectFailure(a.describeTopics(TopicCollection.ofTopicIds(List.of(surfBId))).allTopicIds(),
                        UnknownTopicIdException.class, "describe a deleted topic by id");
                // deleting by topic id (kafka-topics.sh --delete --topic-id)
                get(a.deleteTopics(TopicCollection.ofTopicIds(List.of(surfId))).all());
                waitFor(10_000, "surf-0..4 directories removed after delete by id", () -> IntStream.range(0, 5)
                        .noneMatch(p -> new File(logDir, "surf-" + p).exists()), () -> Arrays.toString(new File(logDir).list()));
                check(!get(a.listTopics().names()).contains("surf"), "surf listed after delete by id");
            });
        }
    }

    static void deleteDisabled(String bs, String logDir) throws Exception {
        try (Admin a = admin(bs)) {
            create(a, new NewTopic("keep", 2, (short) 1));
            section("deleteTopics with delete.topic.enable=false", () -> {
                expectFailure(a.deleteTopics(List.of("keep")).all(), TopicDeletionDisabledException.class, "deleteTopics");
                check(get(a.listTopics().names()).contains("keep"), "keep not listed after refused delete");
                for (int p = 0; p < 2; p++)
                    check(new File(logDir, "keep-" + p).isDirectory(), "keep-" + p + " directory removed by refused delete");
                eq(2, get(a.describeTopics(List.of("keep")).allTopicNames()).get("keep").partitions().size(), "partitions");
            });
        }
    }

    // ---------------------------------------------------------------- kafka-configs.sh --entity-type clients/users

    static ClientQuotaEntity entity(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return new ClientQuotaEntity(m);
    }

    static final ClientQuotaEntity APP1 = entity("client-id", "app1");
    static final ClientQuotaEntity ALICE = entity("user", "alice");
    static final ClientQuotaEntity DEFAULT_CLIENT = entity("client-id", null);
    static final ClientQuotaEntity ALICE_APP1 = entity("user", "alice", "client-id", "app1");
    static final ClientQuotaEntity DEFAULT_USER = entity("user", null);

    static Map<ClientQuotaEntity, Map<String, Double>> expectedQuotas() {
        return Map.of(
                APP1, Map.of("producer_byte_rate", 1024.0),
                ALICE, Map.of("request_percentage", 50.0),
                DEFAULT_CLIENT, Map.of("producer_byte_rate", 4096.0),
                ALICE_APP1, Map.of("consumer_byte_rate", 512.0),
                DEFAULT_USER, Map.of("consumer_byte_rate", 8192.0, "producer_byte_rate", 16384.0));
    }

    static ClientQuotaAlteration alter(ClientQuotaEntity e, Object... kv) {
        List<ClientQuotaAlteration.Op> ops = new ArrayList<>();
        for (int i = 0; i < kv.length; i += 2) ops.add(new ClientQuotaAlteration.Op((String) kv[i], (Double) kv[i + 1]));
        return new ClientQuotaAlteration(e, ops);
    }

    static Map<ClientQuotaEntity, Map<String, Double>> quotas(Admin a, ClientQuotaFilter f) throws Exception {
        return get(a.describeClientQuotas(f).entities());
    }

    // ---------------------------------------------------------------- kafka-configs.sh --entity-type groups

    static final ConfigEntry.ConfigSource GROUP_CONFIG = ConfigEntry.ConfigSource.DYNAMIC_GROUP_CONFIG;

    /** Every group key of group g as kafka-configs.sh --describe lists it, after group-configs-set. */
    static void groupConfigsAsSet(Admin a) throws Exception {
        ConfigResource g = new ConfigResource(ConfigResource.Type.GROUP, "g");
        Config c = describe(a, g);
        entry(c, "share.auto.offset.reset", "earliest", GROUP_CONFIG, "[share.auto.offset.reset=earliest@DYNAMIC_GROUP_CONFIG]");
        entry(c, "share.record.lock.duration.ms", "20000", GROUP_CONFIG, "[share.record.lock.duration.ms=20000@DYNAMIC_GROUP_CONFIG]");
        entry(c, "share.isolation.level", "read_uncommitted", DEFAULT, "[]");
        entry(c, "share.session.timeout.ms", "45000", DEFAULT, "[]");
        entry(c, "share.heartbeat.interval.ms", "5000", DEFAULT, "[]");
        entry(c, "consumer.session.timeout.ms", "45000", DEFAULT, "[]");
        entry(c, "consumer.heartbeat.interval.ms", "5000", DEFAULT, "[]");
        entry(c, "share.renew.acknowledge.enable", "true", DEFAULT, "[]");
        entry(c, "share.delivery.count.limit", "5", DEFAULT, "[]");
        entry(c, "share.partition.max.record.locks", "2000", DEFAULT, "[]");
        eq(List.of("consumer.heartbeat.interval.ms", "consumer.session.timeout.ms", "share.auto.offset.reset",
                        "share.delivery.count.limit", "share.heartbeat.interval.ms", "share.isolation.level",
                        "share.partition.max.record.locks", "share.record.lock.duration.ms",
                        "share.renew.acknowledge.enable", "share.session.timeout.ms"),
                c.entries().stream().map(ConfigEntry::name).sorted().collect(Collectors.toList()), "group keys");
        for (ConfigEntry e : c.entries()) {
            check(!e.isReadOnly(), e.name() + " is read-only");
            check(!e.isSensitive(), e.name() + " is sensitive");
        }
        eq(ConfigEntry.ConfigType.INT, c.get("share.record.lock.duration.ms").type(), "lock duration type");
        eq(ConfigEntry.ConfigType.STRING, c.get("share.auto.offset.reset").type(), "auto offset reset type");
        eq(ConfigEntry.ConfigType.BOOLEAN, c.get("share.renew.acknowledge.enable").type(), "renew type");
    }

    static void groupConfigsSet(String bs) throws Exception {
        try (Admin a = admin(bs)) {
            ConfigResource g = new ConfigResource(ConfigResource.Type.GROUP, "g");
            section("describeConfigs of a group with no configs: every key at its default", () -> {
                Config c = describe(a, new ConfigResource(ConfigResource.Type.GROUP, "never-configured"));
                entry(c, "share.auto.offset.reset", "latest", DEFAULT, "[]");
                entry(c, "share.record.lock.duration.ms", "30000", DEFAULT, "[]");
                entry(c, "share.isolation.level", "read_uncommitted", DEFAULT, "[]");
                eq(10, c.entries().size(), "group keys");
            });
            section("incrementalAlterConfigs SET on a group (kafka-configs.sh --alter --add-config)", () -> {
                get(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.auto.offset.reset", "earliest", AlterConfigOp.OpType.SET),
                        op("share.record.lock.duration.ms", "20000", AlterConfigOp.OpType.SET),
                        op("share.isolation.level", "read_committed", AlterConfigOp.OpType.SET)))).all());
                entry(describe(a, g), "share.isolation.level", "read_committed", GROUP_CONFIG,
                        "[share.isolation.level=read_committed@DYNAMIC_GROUP_CONFIG]");
                // --delete-config
                get(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.isolation.level", null, AlterConfigOp.OpType.DELETE)))).all());
                groupConfigsAsSet(a);
                Config only = get(a.describeConfigs(List.of(g)).all()).get(g);
                eq("earliest", only.get("share.auto.offset.reset").value(), "value without synonyms");
                eq(List.of(), only.get("share.auto.offset.reset").synonyms(), "no synonyms when not asked for");
            });
            section("incrementalAlterConfigs on a group: invalid values refused with Kafka's errors", () -> {
                Throwable t = expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.auto.offset.reset", "middle", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "share.auto.offset.reset=middle");
                eq("Invalid value middle for configuration share.auto.offset.reset: Invalid value `middle` for configuration "
                        + "share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS.>'.",
                        t.getMessage(), "message");
                t = expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.record.lock.duration.ms", "10000", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "share.record.lock.duration.ms below the broker minimum");
                eq("share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms",
                        t.getMessage(), "message");
                t = expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.record.lock.duration.ms", "soon", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "share.record.lock.duration.ms=soon");
                eq("Invalid value soon for configuration share.record.lock.duration.ms: Not a number of type INT",
                        t.getMessage(), "message");
                t = expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.isolation.level", "serializable", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "share.isolation.level=serializable");
                eq("Invalid value serializable for configuration share.isolation.level: String must be one of: read_committed, read_uncommitted",
                        t.getMessage(), "message");
                t = expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.no.such.key", "1", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "an unknown group key");
                eq("Unknown group config name: share.no.such.key", t.getMessage(), "message");
                t = expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.session.timeout.ms", "70000", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "share.session.timeout.ms above the broker maximum");
                eq("share.session.timeout.ms must be less than or equal to group.share.max.session.timeout.ms",
                        t.getMessage(), "message");
                // Kafka 4.3's per-group limits (KIP-1240), held to the broker's bounds.
                t = expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.delivery.count.limit", "11", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "share.delivery.count.limit above the broker maximum");
                eq("share.delivery.count.limit must be less than or equal to group.share.max.delivery.count.limit",
                        t.getMessage(), "message");
                t = expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.partition.max.record.locks", "99", AlterConfigOp.OpType.SET)))).all(),
                        InvalidConfigurationException.class, "share.partition.max.record.locks=99");
                eq("Invalid value 99 for configuration share.partition.max.record.locks: Value must be at least 100",
                        t.getMessage(), "message");
                expectFailure(a.incrementalAlterConfigs(Map.of(g, List.of(
                        op("share.isolation.level", "read_committed", AlterConfigOp.OpType.APPEND)))).all(),
                        InvalidConfigurationException.class, "APPEND to a group key");
                // validateOnly stores nothing
                get(a.incrementalAlterConfigs(Map.of(g, List.of(op("share.auto.offset.reset", "latest", AlterConfigOp.OpType.SET))),
                        new AlterConfigsOptions().validateOnly(true)).all());
                groupConfigsAsSet(a);
            });
        }
    }

    static void groupConfigsCheck(String bs) throws Exception {
        try (Admin a = admin(bs)) {
            ConfigResource g = new ConfigResource(ConfigResource.Type.GROUP, "g");
            // A cluster node may describe the set a moment after the metadata log has it.
            waitFor(15_000, "group g's configs", () -> "earliest".equals(describe(a, g).get("share.auto.offset.reset").value()),
                    () -> describe(a, g));
            section("group configs as set (after a restart; on every node of a cluster)", () -> groupConfigsAsSet(a));
        }
    }

    static void quotasSet(String bs) throws Exception {
        try (Admin a = admin(bs)) {
            section("alterClientQuotas / describeClientQuotas", () -> {
                eq(Map.of(), quotas(a, ClientQuotaFilter.all()), "quotas of a fresh broker");
                get(a.alterClientQuotas(List.of(
                        alter(APP1, "producer_byte_rate", 1024.0, "consumer_byte_rate", 2048.0),
                        alter(ALICE, "request_percentage", 50.0),
                        alter(DEFAULT_CLIENT, "producer_byte_rate", 4096.0),
                        alter(ALICE_APP1, "consumer_byte_rate", 512.0),
                        alter(DEFAULT_USER, "consumer_byte_rate", 8192.0, "producer_byte_rate", 16384.0),
                        alter(entity("client-id", "tmp"), "producer_byte_rate", 1.0))).all());
                // remove one key of an entity, and every key of another (which removes the entity)
                get(a.alterClientQuotas(List.of(
                        alter(APP1, "consumer_byte_rate", null),
                        alter(entity("client-id", "tmp"), "producer_byte_rate", null))).all());
                eq(expectedQuotas(), quotas(a, ClientQuotaFilter.all()), "all quotas");
            });
            section("describeClientQuotas filters", () -> {
                eq(Map.of(APP1, Map.of("producer_byte_rate", 1024.0)),
                        quotas(a, ClientQuotaFilter.containsOnly(List.of(ClientQuotaFilterComponent.ofEntity("client-id", "app1")))),
                        "--entity-type clients --entity-name app1");
                eq(Map.of(DEFAULT_CLIENT, Map.of("producer_byte_rate", 4096.0)),
                        quotas(a, ClientQuotaFilter.containsOnly(List.of(ClientQuotaFilterComponent.ofDefaultEntity("client-id")))),
                        "--entity-type clients --entity-default");
                eq(Map.of(ALICE, Map.of("request_percentage", 50.0), ALICE_APP1, Map.of("consumer_byte_rate", 512.0)),
                        quotas(a, ClientQuotaFilter.contains(List.of(ClientQuotaFilterComponent.ofEntity("user", "alice")))),
                        "entities containing user alice");
                eq(Map.of(ALICE_APP1, Map.of("consumer_byte_rate", 512.0)),
                        quotas(a, ClientQuotaFilter.containsOnly(List.of(ClientQuotaFilterComponent.ofEntity("user", "alice"),
                                ClientQuotaFilterComponent.ofEntity("client-id", "app1")))),
                        "--entity-type users --entity-name alice --entity-type clients --entity-name app1");
                eq(Map.of(), quotas(a, ClientQuotaFilter.containsOnly(List.of(ClientQuotaFilterComponent.ofEntity("client-id", "nobody")))),
                        "unknown client id");
            });
            section("alterClientQuotas errors and validateOnly", () -> {
                expectFailure(a.alterClientQuotas(List.of(alter(APP1, "no_such_quota", 1.0))).all(),
                        InvalidRequestException.class, "unknown quota key");
                get(a.alterClientQuotas(List.of(alter(APP1, "producer_byte_rate", 1.0), alter(entity("client-id", "vo"),
                        "consumer_byte_rate", 1.0)), new AlterClientQuotasOptions().validateOnly(true)).all());
                eq(expectedQuotas(), quotas(a, ClientQuotaFilter.all()), "quotas after a validateOnly alter");
            });
        }
    }

    static void quotasCheck(String bs) throws Exception {
        try (Admin a = admin(bs)) {
            section("client quotas after a broker restart", () ->
                    eq(expectedQuotas(), quotas(a, ClientQuotaFilter.all()), "all quotas after restart"));
        }
    }

    // ---------------------------------------------------------------- the Kafka quickstart

    static void quickstart(String bs) throws Exception {
        String t = "quickstart-events";
        try (Admin a = admin(bs)) {
            // bin/kafka-topics.sh --create --topic quickstart-events --bootstrap-server localhost:9092
            get(a.createTopics(List.of(new NewTopic(t, Optional.empty(), Optional.empty()))).all());
            // bin/kafka-topics.sh --describe --topic quickstart-events --bootstrap-server localhost:9092
            section("kafka-topics.sh --describe", () -> {
                TopicDescription d = get(a.describeTopics(List.of(t)).allTopicNames()).get(t);
                check(d.topicId() != null && !d.topicId().equals(Uuid.ZERO_UUID), "topic id " + d.topicId());
                eq(1, d.partitions().size(), "PartitionCount");
                TopicPartitionInfo p0 = d.partitions().get(0);
                eq(0, p0.partition(), "Partition");
                eq(1, p0.leader().id(), "Leader");
                eq(List.of(1), p0.replicas().stream().map(Node::id).collect(Collectors.toList()), "Replicas");
                eq(List.of(1), p0.isr().stream().map(Node::id).collect(Collectors.toList()), "Isr");
                ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t);
                List<String> shown = get(a.describeConfigs(List.of(r)).all()).get(r).entries().stream()
                        .filter(e -> e.source() != ConfigEntry.ConfigSource.DEFAULT_CONFIG)
                        .map(e -> e.name() + "=" + e.value()).collect(Collectors.toList());
                eq(List.of(), shown, "Configs: (non-default)");
            });
        }
        // bin/kafka-console-producer.sh --topic quickstart-events (ByteArraySerializer, one line per record)
        section("kafka-console-producer.sh", () -> {
            Properties p = new Properties();
            p.put("bootstrap.servers", bs);
            p.put("client.id", "console-producer");
            p.put("key.serializer", ByteArraySerializer.class.getName());
            p.put("value.serializer", ByteArraySerializer.class.getName());
            List<Long> offsets = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p)) {
                for (String line : List.of("This is my first event", "This is my second event"))
                    offsets.add(prod.send(new ProducerRecord<>(t, null, line.getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS).offset());
            }
            eq(List.of(0L, 1L), offsets, "offsets of the two events");
        });
        // bin/kafka-console-consumer.sh --topic quickstart-events --from-beginning
        section("kafka-console-consumer.sh --from-beginning", () -> {
            Properties p = new Properties();
            p.put("bootstrap.servers", bs);
            p.put("group.id", "console-consumer-" + new Random().nextInt(100000));
            p.put("auto.offset.reset", "earliest");
            p.put("key.deserializer", ByteArrayDeserializer.class.getName());
            p.put("value.deserializer", ByteArrayDeserializer.class.getName());
            List<String> got = new ArrayList<>();
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
                c.subscribe(List.of(t));
                long deadline = System.currentTimeMillis() + 30_000;
                while (got.size() < 2 && System.currentTimeMillis() < deadline)
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200)))
                        got.add(r.partition() + "/" + r.offset() + ":" + (r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8))
                                + ":" + new String(r.value(), StandardCharsets.UTF_8));
                // nothing more arrives
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) got.add("extra " + r.offset());
            }
            eq(List.of("0/0:null:This is my first event", "0/1:null:This is my second event"), got, "consumed events");
        });
    }

    // ---------------------------------------------------------------- kafka-delete-records.sh

    static void deleteRecords(String bs) throws Exception {
        TopicPartition d0 = new TopicPartition("dr", 0), d1 = new TopicPartition("dr", 1);
        try (Admin a = admin(bs)) {
            create(a, new NewTopic("dr", 2, (short) 1));
            try (KafkaProducer<String, String> p = producer(bs)) {
                for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>("dr", 0, null, "r" + i)).get();
                for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>("dr", 1, null, "s" + i)).get();
            }
            section("deleteRecords before offset 4", () -> {
                DeletedRecords dr = get(a.deleteRecords(Map.of(d0, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(d0));
                eq(4L, dr.lowWatermark(), "low watermark");
                eq(4L, earliest(a, d0), "earliest offset of dr-0");
                eq(10L, latest(a, d0), "latest offset of dr-0");
                eq(0L, earliest(a, d1), "earliest offset of untouched dr-1");
                eq(List.of("4:null:r4", "5:null:r5", "6:null:r6", "7:null:r7", "8:null:r8", "9:null:r9"),
                        readAll(bs, d0), "dr-0 from the beginning");
            });
            section("fetch below the log start offset is out of range", () -> {
                try (KafkaConsumer<String, String> c = consumer(bs, "none")) {
                    c.assign(List.of(d0));
                    c.seek(d0, 2);
                    org.apache.kafka.clients.consumer.OffsetOutOfRangeException oor = null;
                    long deadline = System.currentTimeMillis() + 20_000;
                    while (oor == null && System.currentTimeMillis() < deadline) {
                        try {
                            ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(200));
                            check(rs.isEmpty(), "records below the log start offset: " + rs.count());
                        } catch (org.apache.kafka.clients.consumer.OffsetOutOfRangeException e) {
                            oor = e;
                        }
                    }
                    check(oor != null, "no OffsetOutOfRangeException fetching offset 2 below log start 4");
                    eq(Map.of(d0, 2L), oor.offsetOutOfRangePartitions(), "out-of-range partitions");
                }
                try (KafkaConsumer<String, String> c = consumer(bs, "earliest")) {
                    c.assign(List.of(d0));
                    c.seek(d0, 2);
                    List<String> got = new ArrayList<>();
                    long deadline = System.currentTimeMillis() + 20_000;
                    while (got.isEmpty() && System.currentTimeMillis() < deadline)
                        c.poll(Duration.ofMillis(200)).forEach(r -> got.add(r.offset() + ":" + r.value()));
                    check(!got.isEmpty() && got.get(0).equals("4:r4"), "auto.offset.reset=earliest from offset 2: " + got);
                }
            });
            section("deleteRecords edge cases", () -> {
                eq(4L, get(a.deleteRecords(Map.of(d0, RecordsToDelete.beforeOffset(2))).lowWatermarks().get(d0)).lowWatermark(),
                        "low watermark after deleting below it");
                expectFailure(a.deleteRecords(Map.of(d0, RecordsToDelete.beforeOffset(11))).lowWatermarks().get(d0),
                        org.apache.kafka.common.errors.OffsetOutOfRangeException.class, "delete beyond the high watermark");
                eq(4L, earliest(a, d0), "earliest after refused delete");
                // kafka-delete-records.sh offset -1: up to the high watermark
                eq(3L, get(a.deleteRecords(Map.of(d1, RecordsToDelete.beforeOffset(-1))).lowWatermarks().get(d1)).lowWatermark(),
                        "low watermark of dr-1 after delete to the high watermark");
                eq(3L, earliest(a, d1), "earliest of dr-1");
                eq(3L, latest(a, d1), "latest of dr-1");
                eq(List.of(), readAll(bs, d1), "dr-1 from the beginning");
            });
            section("produce after deleteRecords", () -> {
                try (KafkaProducer<String, String> p = producer(bs)) {
                    eq(3L, p.send(new ProducerRecord<>("dr", 1, null, "s3")).get().offset(), "offset of the next record in dr-1");
                }
                eq(List.of("3:null:s3"), readAll(bs, d1), "dr-1 after a new record");
            });
        }
    }

    static void deleteRecordsCheck(String bs) throws Exception {
        TopicPartition d0 = new TopicPartition("dr", 0), d1 = new TopicPartition("dr", 1);
        try (Admin a = admin(bs)) {
            section("log start offsets after a broker restart", () -> {
                eq(4L, earliest(a, d0), "earliest of dr-0");
                eq(10L, latest(a, d0), "latest of dr-0");
                eq(3L, earliest(a, d1), "earliest of dr-1");
                eq(4L, latest(a, d1), "latest of dr-1");
                eq(List.of("4:null:r4", "5:null:r5", "6:null:r6", "7:null:r7", "8:null:r8", "9:null:r9"),
                        readAll(bs, d0), "dr-0 from the beginning");
                eq(List.of("3:null:s3"), readAll(bs, d1), "dr-1 from the beginning");
            });
        }
    }

    // ---------------------------------------------------------------- retention

    static void sendAt(KafkaProducer<String, String> p, String topic, long ts, String... values) throws Exception {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (String v : values) fs.add(p.send(new ProducerRecord<>(topic, 0, ts, null, v)));
        p.flush();
        for (Future<RecordMetadata> f : fs) f.get();
    }

    /**
     * Time retention judges a segment by its largest record timestamp. Records are written with
     * CreateTime one hour and 50 minutes in the past (two closed segments, rolled by segment.ms) and
     * now (the active segment); with retention.ms one minute the two old segments go, the active one stays.
     */
    static void retention(String bs, String logDir) throws Exception {
        TopicPartition tp = new TopicPartition("ret", 0);
        TopicPartition all = new TopicPartition("ret-all", 0);
        try (Admin a = admin(bs); KafkaProducer<String, String> p = producer(bs)) {
            create(a, new NewTopic("ret", 1, (short) 1).configs(Map.of("retention.ms", "60000", "segment.ms", "100")),
                    new NewTopic("ret-all", 1, (short) 1).configs(Map.of("retention.ms", "60000", "segment.ms", "100")));
            long now = System.currentTimeMillis();
            sendAt(p, "ret", now - 3_600_000, "old-0", "old-1", "old-2", "old-3", "old-4");
            Thread.sleep(150); // segment.ms of real time as well, for a roll by wall clock
            sendAt(p, "ret", now - 3_000_000, "mid-5", "mid-6", "mid-7", "mid-8", "mid-9");
            Thread.sleep(150);
            long fresh = System.currentTimeMillis();
            sendAt(p, "ret", fresh, "new-10", "new-11", "new-12", "new-13", "new-14");
            sendAt(p, "ret-all", now - 3_600_000, "x0", "x1", "x2");

            section("expired closed segments deleted, active segment kept", () -> {
                File dir = new File(logDir, "ret-0");
                waitFor(15_000, "earliest offset of ret-0 to reach 10", () -> earliest(a, tp) >= 10,
                        () -> "earliest " + earliest(a, tp) + ", segments " + logFiles(dir));
                eq(10L, earliest(a, tp), "earliest offset");
                eq(15L, latest(a, tp), "latest offset");
                eq(List.of("00000000000000000010.log"), logFiles(dir), "segment files of ret-0");
                eq(List.of("10:null:new-10", "11:null:new-11", "12:null:new-12", "13:null:new-13", "14:null:new-14"),
                        readAll(bs, tp), "ret-0 from the beginning");
                try (KafkaProducer<String, String> p2 = producer(bs)) {
                    eq(15L, p2.send(new ProducerRecord<>("ret", 0, null, "after")).get().offset(), "next offset");
                }
            });
            // Kafka (UnifiedLog.deleteOldSegments): an expired active segment is rolled and then deleted,
            // leaving an empty segment at the log end offset
            section("expired active segment rolled and deleted", () -> {
                File dir = new File(logDir, "ret-all-0");
                waitFor(15_000, "earliest offset of ret-all-0 to reach 3", () -> earliest(a, all) >= 3,
                        () -> "earliest " + earliest(a, all) + ", segments " + logFiles(dir));
                eq(3L, earliest(a, all), "earliest offset");
                eq(3L, latest(a, all), "latest offset");
                eq(List.of("00000000000000000003.log"), logFiles(dir), "segment files of ret-all-0");
                eq(List.of(), readAll(bs, all), "ret-all-0 from the beginning");
            });
        }
    }

    // ---------------------------------------------------------------- compaction

    static void compaction(String bs) throws Exception {
        TopicPartition tp = new TopicPartition("cmp", 0);
        try (Admin a = admin(bs); KafkaProducer<String, String> p = producer(bs)) {
            create(a, new NewTopic("cmp", 1, (short) 1).configs(Map.of("cleanup.policy", "compact",
                    "segment.ms", "100", "min.cleanable.dirty.ratio", "0.01", "delete.retention.ms", "1000")));
            for (int i = 0; i < 5; i++) p.send(new ProducerRecord<>("cmp", 0, "k" + i, "a" + i));
            p.flush();
            Thread.sleep(150); // older than segment.ms: the next append rolls
            for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>("cmp", 0, "k" + i, "b" + i));
            p.send(new ProducerRecord<>("cmp", 0, "k3", null)); // tombstone
            p.flush();
            Thread.sleep(150);
            p.send(new ProducerRecord<>("cmp", 0, "k5", "c5")).get(); // rolls: offsets 0-8 are in closed segments

            List<String> original = List.of("0:k0:a0", "1:k1:a1", "2:k2:a2", "3:k3:a3", "4:k4:a4",
                    "5:k0:b0", "6:k1:b1", "7:k2:b2", "8:k3:null", "9:k5:c5");
            List<String> cleaned = List.of("4:k4:a4", "5:k0:b0", "6:k1:b1", "7:k2:b2", "8:k3:null", "9:k5:c5");
            List<String> done = List.of("4:k4:a4", "5:k0:b0", "6:k1:b1", "7:k2:b2", "9:k5:c5");
            List<String> more = List.of("10:k6:d6", "11:k7:e7");
            List<List<String>> seen = new ArrayList<>();
            section("compaction keeps the newest value per key at its offset", () -> {
                try (KafkaConsumer<String, String> c = consumer(bs, "earliest")) {
                    waitFor(20_000, "cmp-0 compacted", () -> {
                        List<String> now = readAll(c, tp);
                        if (seen.isEmpty() || !seen.get(seen.size() - 1).equals(now)) seen.add(now);
                        check(now.equals(original) || now.equals(cleaned),
                                "cmp-0 read in no valid state: " + now + " (states seen " + seen + ")");
                        return !now.equals(original);
                    }, () -> seen);
                }
                eq(0L, earliest(a, tp), "earliest offset (compaction keeps the log start)");
                eq(10L, latest(a, tp), "latest offset");
            });
            // Kafka (KIP-534): the first cleaning stamps the tombstone's batch with a delete horizon of
            // now + delete.retention.ms; a later cleaning (new dirty data) after the horizon drops it.
            section("tombstone removed by a cleaning after delete.retention.ms", () -> {
                Thread.sleep(1200); // delete.retention.ms (1000) passes after the first cleaning
                eq(10L, p.send(new ProducerRecord<>("cmp", 0, "k6", "d6")).get().offset(), "offset of k6");
                Thread.sleep(150); // segment.ms: the next append rolls, so offset 10 is in a closed (dirty) segment
                eq(11L, p.send(new ProducerRecord<>("cmp", 0, "k7", "e7")).get().offset(), "offset of k7");
                List<String> withTombstone = new ArrayList<>(cleaned), gone = new ArrayList<>(done);
                withTombstone.addAll(more);
                gone.addAll(more);
                try (KafkaConsumer<String, String> c = consumer(bs, "earliest")) {
                    waitFor(20_000, "tombstone of k3 removed", () -> {
                        List<String> now = readAll(c, tp);
                        if (seen.isEmpty() || !seen.get(seen.size() - 1).equals(now)) seen.add(now);
                        check(now.equals(withTombstone) || now.equals(gone),
                                "cmp-0 read in no valid state: " + now + " (states seen " + seen + ")");
                        return now.equals(gone);
                    }, () -> seen);
                }
                eq(0L, earliest(a, tp), "earliest offset");
                eq(12L, latest(a, tp), "latest offset");
            });
            System.out.println("states seen: " + seen);
        }
    }
}
