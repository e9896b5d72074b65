"""Java kafka-clients 4.3 (what kafka-console-*.sh and kafka-topics.sh run on).

Each scenario is a single-file program in compat-tests/java/ that asserts on
its own and exits non-zero with a FAIL message; this wrapper checks the exit.
"""


def test_default_producer_1000_records_and_assign_consumer(broker, run_java):
    out = run_java("ProduceConsume", broker.bootstrap, "java-pc")
    assert "OK" in out


def test_admin_topics_cluster_configs(broker, run_java):
    out = run_java("AdminApi", broker.bootstrap)
    assert "OK" in out


def test_compression_codecs(broker, run_java):
    out = run_java("Compression", broker.bootstrap, "gzip", "snappy", "lz4", "zstd")
    assert [l for l in out.splitlines() if l.startswith("OK")] == ["OK gzip", "OK snappy", "OK lz4", "OK zstd"]


def test_list_offsets_and_offsets_for_times(broker, run_java):
    out = run_java("Offsets", broker.bootstrap)
    assert "OK" in out


def test_long_poll_woken_by_append(broker, run_java):
    # generous functional bound, not a benchmark: a broker that only answers at
    # fetch.max.wait.ms (8 s) would deliver each record ~7 s late
    out = run_java("LongPoll", broker.bootstrap, 5, 4000)
    assert "OK" in out
