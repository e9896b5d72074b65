"""The HTTP listener (fjord.http.listener): /metrics read by Prometheus' own Python parser, with
exact figures after real clients produced and consumed; /health and /ready, single-node and in a
cluster that has no quorum yet; a taken port, a disabled listener and a bad value."""
import glob
import os
import socket
import time
import urllib.error
import urllib.request

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from conftest import Broker, free_port, wait_until


def get(url, method="GET"):
    """(status, body) of one HTTP request."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(broker):
    """{(sample name, frozenset of labels): value}, parsed by prometheus_client."""
    status, text = get(broker.http + "/metrics")
    assert status == 200, text
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate sample {key}"
            out[key] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0)


def create_topic(broker, name, partitions):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def test_health_and_ready(start_broker):
    b = start_broker()
    assert get(b.http + "/health") == (200, "ok\n")
    assert get(b.http + "/ready") == (200, "ready\n")
    assert get(b.http + "/nothing-here")[0] == 404
    assert get(b.http + "/metrics", method="POST")[0] == 405


def test_traffic_per_topic_is_exact(start_broker):
    b = start_broker()
    create_topic(b, "traffic", 3)
    other = KafkaProducer(bootstrap_servers=b.bootstrap)
    other.send("elsewhere", b"x" * 10).get(30)
    other.close()
    before = scrape(b)
    assert value(before, "kafka_server_brokertopicmetrics_messagesin_total", topic="traffic") == 0

    n = 250
    p = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=5)
    for i in range(n):
        p.send("traffic", key=b"k%d" % i, value=b"value-%05d" % i, partition=i % 3)
    p.flush(30)
    p.close()
    after = scrape(b)
    # Every byte the topic's segment files hold came from this producer.
    on_disk = sum(os.path.getsize(f) for f in glob.glob(str(b.log_dir / "traffic-*" / "*.log")))
    assert on_disk > n * 10
    assert value(after, "kafka_server_brokertopicmetrics_messagesin_total", topic="traffic") == n
    assert value(after, "kafka_server_brokertopicmetrics_bytesin_total", topic="traffic") == on_disk
    assert sum(value(after, "kafka_log_log_size", topic="traffic", partition=p) for p in range(3)) == on_disk
    for name in ("kafka_server_brokertopicmetrics_messagesin_total", "kafka_server_brokertopicmetrics_bytesin_total"):
        assert value(after, name) - value(before, name) == value(after, name, topic="traffic")
    assert [value(after, "kafka_log_log_logendoffset", topic="traffic", partition=p) for p in range(3)] == [84, 83, 83]

    c = KafkaConsumer(bootstrap_servers=b.bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000)
    c.assign([TopicPartition("traffic", p) for p in range(3)])
    got = [m.value for m in c]
    c.close()
    assert sorted(got) == [b"value-%05d" % i for i in range(n)]
    read = scrape(b)
    assert value(read, "kafka_server_brokertopicmetrics_bytesout_total", topic="traffic") == on_disk
    assert value(read, "kafka_server_brokertopicmetrics_bytesout_total", topic="elsewhere") == 0

    # Requests: every Produce counted once per version, and timed.
    produced = sum(v for (name, labels), v in read.items()
                   if name == "kafka_network_requestmetrics_requests_total" and ("request", "Produce") in labels)
    assert produced >= 2
    assert value(read, "fjord_request_duration_seconds_count", request="Produce") == produced
    assert value(read, "fjord_request_duration_seconds_bucket", request="Produce", le="+Inf") == produced

    # A deleted topic's series go away.
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    admin.delete_topics(["traffic"])
    admin.close()
    wait_until(lambda: value(scrape(b), "kafka_server_brokertopicmetrics_messagesin_total", topic="traffic") == 0,
               timeout=10, what="the deleted topic's series to go")
    gone = scrape(b)
    assert not [k for k in gone if ("topic", "traffic") in k[1]]
    assert value(gone, "kafka_server_brokertopicmetrics_messagesin_total") == value(read, "kafka_server_brokertopicmetrics_messagesin_total")


def test_group_lag_is_end_minus_committed(start_broker):
    b = start_broker()
    create_topic(b, "lagged", 2)
    p = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all")
    for i in range(300):
        p.send("lagged", b"r%d" % i, partition=i % 2)
    p.flush(30)
    p.close()
    c = KafkaConsumer("lagged", bootstrap_servers=b.bootstrap, group_id="lag-group", auto_offset_reset="earliest",
                      enable_auto_commit=False, max_poll_records=40, consumer_timeout_ms=10000)
    seen = 0
    while seen < 100:
        seen += sum(len(v) for v in c.poll(timeout_ms=2000).values())
    c.commit()
    tps = [TopicPartition("lagged", p) for p in range(2)]
    committed = {tp.partition: c.committed(tp) for tp in tps}
    ends = {tp.partition: o for tp, o in c.end_offsets(tps).items()}
    assert ends == {0: 150, 1: 150}
    assert sum(committed.values()) == seen and 0 < seen < 300

    s = scrape(b)
    for part in range(2):
        assert value(s, "kafka_consumergroup_current_offset", consumergroup="lag-group", topic="lagged",
                     partition=part) == committed[part]
        assert value(s, "kafka_consumergroup_lag", consumergroup="lag-group", topic="lagged",
                     partition=part) == 150 - committed[part]
    assert value(s, "kafka_consumergroup_members", consumergroup="lag-group") == 1
    assert value(s, "kafka_coordinator_group_groupmetadatamanager_numgroups") == 1

    # The rest read and committed: no lag.
    while sum(c.committed(tp) or 0 for tp in tps) < 300:
        c.poll(timeout_ms=1000)
        c.commit()
    s = scrape(b)
    assert [value(s, "kafka_consumergroup_lag", consumergroup="lag-group", topic="lagged", partition=p)
            for p in range(2)] == [0, 0]
    c.close()


def test_connections_partitions_and_process(start_broker):
    b = start_broker()
    create_topic(b, "counted", 4)
    # The admin client's connections close asynchronously: counted as a base, one that closes
    # later would leave the count at base + 4 for good. Wait until they are gone.
    wait_until(lambda: value(scrape(b), "kafka_server_socketservermetrics_connection_count",
                             listener="PLAINTEXT") == 0, timeout=10, what="the admin client's connections to be gone")
    base = 0
    socks = [socket.create_connection(("127.0.0.1", b.port)) for _ in range(5)]
    try:
        wait_until(lambda: value(scrape(b), "kafka_server_socketservermetrics_connection_count",
                                 listener="PLAINTEXT") == base + 5, timeout=10, what="5 more connections counted")
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: value(scrape(b), "kafka_server_socketservermetrics_connection_count",
                             listener="PLAINTEXT") == base, timeout=10, what="the 5 connections to be gone")
    s = scrape(b)
    assert value(s, "kafka_server_socketservermetrics_connection_creation_total", listener="PLAINTEXT") >= 5
    assert value(s, "kafka_server_replicamanager_partitioncount") == 4
    assert value(s, "kafka_server_replicamanager_leadercount") == 4
    assert value(s, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    fds = len(os.listdir(f"/proc/{b.pid}/fd"))
    assert abs(value(s, "process_open_fds") - fds) <= 3
    with open(f"/proc/{b.pid}/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    assert 0.5 * rss < value(s, "process_resident_memory_bytes") < 2 * rss
    with open(f"/proc/{b.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    assert ("process_cpu_seconds_total", frozenset()) in s
    assert 0 <= value(s, "process_cpu_seconds_total") <= cpu
    assert abs(value(s, "process_start_time_seconds") - time.time()) < 120


def test_a_taken_port_is_skipped_and_an_empty_value_serves_none(start_broker, tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    try:
        b = start_broker(overrides={"fjord.http.listener": f"127.0.0.1:{taken}"})
        p = KafkaProducer(bootstrap_servers=b.bootstrap)
        p.send("still-served", b"x").get(30)
        p.close()
        assert "cannot bind the HTTP listener" in b.stderr_tail(200)
    finally:
        holder.close()
    none = start_broker(overrides={"fjord.http.listener": ""})
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", none.http_port), timeout=2).close()
    assert "HTTP listening" not in none.stderr_tail(200)

    bad = Broker(tmp_path / "bad", overrides={"fjord.http.listener": "no-port-here"})
    with pytest.raises(AssertionError) as e:
        bad.start()
    assert "fjord.http.listener" in str(e.value) and "host:port" in str(e.value)


def test_ready_waits_for_the_cluster(start_cluster):
    cluster = start_cluster(3, start=False)
    first = cluster.nodes[0]
    first.launch()
    wait_until(lambda: get_or_none(first.http + "/health") == (200, "ok\n"), timeout=30,
               what="node 1's /health")
    # Alone, it has no quorum: up, not ready.
    assert get(first.http + "/ready") == (503, "starting\n")
    for n in cluster.nodes[1:]:
        n.launch()
    for n in cluster.nodes:
        wait_until(lambda n=n: get_or_none(n.http + "/ready") == (200, "ready\n"), timeout=60,
                   what=f"node {n.node_id}'s /ready")


def get_or_none(url):
    try:
        return get(url)
    except OSError:
        return None
