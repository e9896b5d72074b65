"""Admin surface and log management with real clients (Apache Kafka 4 is the spec).

The Java Admin scenarios in java/AdminSurface.java call the API the way kafka-topics.sh,
kafka-configs.sh, kafka-delete-records.sh, kafka-log-dirs.sh, kafka-leader-election.sh and
kafka-features.sh do; each prints "ok <section>" / "FAIL <section>: ..." and ends with OK.
kafka-python covers the legacy AlterConfigs API (removed from the Java 4.x Admin), and the
quickstart, DeleteRecords, retention and compaction run end to end.
"""
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

RETENTION_OVERRIDES = {"log.retention.check.interval.ms": "200"}

# DescribeConfigs config_source values
TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 4, 5
# error codes
NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG, INVALID_REQUEST = 0, 3, 40, 42


def java_ok(out):
    assert out.strip().splitlines()[-1] == "OK", out


# --- Java Admin -----------------------------------------------------------------------------------

def test_java_describe_and_alter_configs(start_broker, run_java):
    b = start_broker({"message.max.bytes": "2000000"})
    java_ok(run_java("AdminSurface", "configs", b.bootstrap))


def test_java_topics_reassignments_elections_log_dirs_features_delete(broker, run_java):
    java_ok(run_java("AdminSurface", "topics", broker.bootstrap, broker.log_dir))
    assert not [p.name for p in broker.log_dir.iterdir() if p.name.startswith("surf")]


def test_java_delete_topic_disabled(start_broker, run_java):
    b = start_broker({"delete.topic.enable": "false"})
    java_ok(run_java("AdminSurface", "delete-disabled", b.bootstrap, b.log_dir))


def test_java_client_quotas_survive_restart(broker, run_java):
    java_ok(run_java("AdminSurface", "quotas-set", broker.bootstrap))
    broker.restart()
    java_ok(run_java("AdminSurface", "quotas-check", broker.bootstrap))
    broker.restart(kill=True)
    java_ok(run_java("AdminSurface", "quotas-check", broker.bootstrap))


def test_java_group_configs_survive_restart(broker, run_java):
    """kafka-configs.sh --entity-type groups: incrementalAlterConfigs / describeConfigs on
    ConfigResource.Type.GROUP, Kafka's errors, and the configs after a clean and a hard restart."""
    java_ok(run_java("AdminSurface", "group-configs-set", broker.bootstrap))
    broker.restart()
    java_ok(run_java("AdminSurface", "group-configs-check", broker.bootstrap))
    broker.restart(kill=True)
    java_ok(run_java("AdminSurface", "group-configs-check", broker.bootstrap))


def test_java_quickstart(broker, run_java):
    java_ok(run_java("AdminSurface", "quickstart", broker.bootstrap))


# --- kafka-python KafkaAdminClient ------------------------------------------------------------------

def entries(admin, resource_type, name, keys=None, synonyms=True):
    """{name: (value, source, [(synonym, value, source), ...])} of one described resource."""
    configs = None if keys is None else {k: None for k in keys}
    (resp,) = admin.describe_configs([ConfigResource(resource_type, name, configs=configs)],
                                     include_synonyms=synonyms)
    (res,) = resp.resources
    error_code, error_message, rtype, rname, config_entries = res[:5]
    assert (error_code, rtype, rname) == (NONE, resource_type, name), res
    return {e[0]: (e[1], e[3], [tuple(s) for s in e[5]]) for e in config_entries}


def alter(admin, *resources):
    resp = admin.alter_configs(list(resources))
    return [(r[0], r[3]) for r in resp.resources]


def test_kafka_python_describe_and_alter_configs(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        admin.create_topics([NewTopic("kp-cfg", num_partitions=1, replication_factor=1,
                                      topic_configs={"retention.ms": "3600000", "max.message.bytes": "500000"})])
        T = ConfigResourceType.TOPIC
        cfg = entries(admin, T, "kp-cfg")
        assert cfg["retention.ms"][:2] == ("3600000", TOPIC_CONFIG)
        assert cfg["max.message.bytes"] == ("500000", TOPIC_CONFIG, [
            ("max.message.bytes", "500000", TOPIC_CONFIG), ("message.max.bytes", "1048588", DEFAULT_CONFIG)])
        assert cfg["segment.bytes"] == ("1073741824", DEFAULT_CONFIG, [("log.segment.bytes", "1073741824", DEFAULT_CONFIG)])
        assert cfg["cleanup.policy"] == ("delete", DEFAULT_CONFIG, [("log.cleanup.policy", "delete", DEFAULT_CONFIG)])

        # a key filter returns exactly those keys
        only = entries(admin, T, "kp-cfg", keys=["retention.ms", "cleanup.policy"], synonyms=False)
        assert only == {"retention.ms": ("3600000", TOPIC_CONFIG, []), "cleanup.policy": ("delete", DEFAULT_CONFIG, [])}

        # legacy AlterConfigs replaces the whole set of overrides: retention.ms goes back to its default
        assert alter(admin, ConfigResource(T, "kp-cfg", configs={"cleanup.policy": "compact",
                                                                 "max.message.bytes": "200000"})) == [(NONE, "kp-cfg")]
        after = entries(admin, T, "kp-cfg", keys=["cleanup.policy", "max.message.bytes", "retention.ms"], synonyms=False)
        assert after == {"cleanup.policy": ("compact", TOPIC_CONFIG, []),
                         "max.message.bytes": ("200000", TOPIC_CONFIG, []),
                         "retention.ms": ("604800000", DEFAULT_CONFIG, [])}

        # per-resource errors; a failed resource changes nothing
        results = alter(admin, ConfigResource(T, "kp-cfg", configs={"cleanup.policy": "bogus"}),
                        ConfigResource(T, "kp-nope", configs={"retention.ms": "1000"}))
        assert sorted(results) == [(UNKNOWN_TOPIC_OR_PARTITION, "kp-nope"), (INVALID_CONFIG, "kp-cfg")]
        assert alter(admin, ConfigResource(T, "kp-cfg", configs={"no.such.config": "1"})) == [(INVALID_CONFIG, "kp-cfg")]
        assert entries(admin, T, "kp-cfg", keys=["cleanup.policy"], synonyms=False) == {
            "cleanup.policy": ("compact", TOPIC_CONFIG, [])}

        # broker configs: described; a static one cannot be altered
        B = ConfigResourceType.BROKER
        bc = entries(admin, B, "1")
        assert bc["num.partitions"] == ("1", DEFAULT_CONFIG, [("num.partitions", "1", DEFAULT_CONFIG)])
        assert bc["log.dirs"] == (str(broker.log_dir), STATIC_BROKER_CONFIG,
                                  [("log.dirs", str(broker.log_dir), STATIC_BROKER_CONFIG)])
        assert alter(admin, ConfigResource(B, "1", configs={"num.partitions": "3"})) == [(INVALID_REQUEST, "1")]
        assert entries(admin, B, "1", keys=["num.partitions"])["num.partitions"][:2] == ("1", DEFAULT_CONFIG)
    finally:
        admin.close()


# --- log management ---------------------------------------------------------------------------------

def test_delete_records_moves_log_start_and_survives_restart(broker, run_java):
    java_ok(run_java("AdminSurface", "delete-records", broker.bootstrap))
    broker.restart()
    java_ok(run_java("AdminSurface", "delete-records-check", broker.bootstrap))


def test_time_retention_deletes_expired_segments(start_broker, run_java):
    b = start_broker(RETENTION_OVERRIDES)
    java_ok(run_java("AdminSurface", "retention", b.bootstrap, b.log_dir))


def test_compaction_keeps_newest_value_per_key(start_broker, run_java):
    b = start_broker(RETENTION_OVERRIDES)
    java_ok(run_java("AdminSurface", "compaction", b.bootstrap))
    # the cleaned log survives a restart unchanged
    b.restart()
    out = run_java("Console", "consume", b.bootstrap, "cmp", 7)
    assert out.splitlines() == ["4\tk4\ta4", "5\tk0\tb0", "6\tk1\tb1", "7\tk2\tb2", "9\tk5\tc5",
                                "10\tk6\td6", "11\tk7\te7"]
