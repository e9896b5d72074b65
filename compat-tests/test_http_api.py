"""The JSON API under /api/v1/ (issue 15; reference in docs/observability.md) against real
clients: what kafka-python and confluent-kafka produce, the API reads back exactly (contents,
counts, offsets); what the API writes, the clients see; Kafka's errors for bad input; and, with
an authorizer, HTTP Basic logins checked against SCRAM credentials and the same ACLs as Kafka
requests."""
import base64
import json
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka import TopicPartition as CTopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, ConfigResource, ResourcePatternType, ResourceType)
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from conftest import create_topics, free_port, produce, produce_error, wait_until


def call(broker, method, path, body=None, auth=None, raw=None):
    """(status, parsed JSON body) of one call to the JSON API."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(broker.http + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode()


def ok(broker, method, path, body=None, **kw):
    status, out = call(broker, method, path, body, **kw)
    assert status == 200, (status, out)
    return out


def error(broker, method, path, body=None, **kw):
    """(status, Kafka error name) of a call that must fail; every failure has a message."""
    status, out = call(broker, method, path, body, **kw)
    assert status >= 400, (status, out)
    assert isinstance(out, dict) and out.get("message"), out
    return status, out["error"]


def test_messages_written_by_clients_read_back_exactly(broker):
    create_topics(broker.bootstrap, "api-read", partitions=3)
    # confluent-kafka: keys, values, headers, a binary value, a null key, into partition 1.
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    sent = [(b"k0", b'{"n": 0, "s": "zero"}', [("h", b"v0")]),
            (None, b"plain text", []),
            (b"k2", b"\xff\xfe\x00binary", [("bin", b"\x00\x01"), ("h", b"dup")])]
    for key, value, headers in sent:
        p.produce("api-read", key=key, value=value, headers=headers, partition=1,
                  timestamp=1_700_000_000_000)
    assert p.flush(30) == 0
    # kafka-python: 10 records into partition 0.
    kp = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(10):
        kp.send("api-read", key=b"key-%d" % i, value=b"value-%d" % i, partition=0)
    kp.flush(30)
    kp.close()

    topics = {t["name"]: t for t in ok(broker, "GET", "/api/v1/topics")["topics"]}
    t = topics["api-read"]
    assert (t["partitions"], t["records"], t["internal"], t["replication_factor"]) == (3, 13, False, 1)
    assert t["size_bytes"] > 0

    detail = ok(broker, "GET", "/api/v1/topics/api-read")
    parts = {p["partition"]: p for p in detail["partitions"]}
    assert [(parts[i]["start_offset"], parts[i]["end_offset"]) for i in range(3)] == [(0, 10), (0, 3), (0, 0)]
    node = ok(broker, "GET", "/api/v1/cluster")["node_id"]
    assert parts[0]["leader"] == node and parts[0]["replicas"] == [node] and parts[0]["isr"] == [node]
    configs = {c["name"]: c for c in detail["configs"]}
    assert configs["cleanup.policy"]["value"] == "delete"

    got = ok(broker, "GET", "/api/v1/topics/api-read/partitions/1/messages?from=beginning")
    assert (got["start_offset"], got["end_offset"], got["next_offset"]) == (0, 3, 3)
    m = got["messages"]
    assert [x["offset"] for x in m] == [0, 1, 2]
    assert (m[0]["key"], m[0]["value"], m[0]["value_encoding"]) == ("k0", '{"n": 0, "s": "zero"}', "utf8")
    assert m[0]["headers"] == [{"key": "h", "value": "v0", "value_encoding": "utf8"}]
    assert m[0]["timestamp"] == 1_700_000_000_000 and m[0]["timestamp_type"] == "CREATE_TIME"
    assert (m[1]["key"], m[1]["key_encoding"], m[1]["value"]) == (None, "null", "plain text")
    assert m[2]["value_encoding"] == "base64"
    assert base64.b64decode(m[2]["value"]) == b"\xff\xfe\x00binary"
    assert m[2]["headers"] == [{"key": "bin", "value": "\u0000\u0001", "value_encoding": "utf8"},
                               {"key": "h", "value": "dup", "value_encoding": "utf8"}]

    # Partition 0: an offset and a limit, the end, pages that meet.
    page = ok(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?offset=4&limit=3")
    assert [(x["offset"], x["value"]) for x in page["messages"]] == [(4, "value-4"), (5, "value-5"), (6, "value-6")]
    assert page["next_offset"] == 7
    rest = ok(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?offset=7&limit=500")
    assert [x["offset"] for x in rest["messages"]] == [7, 8, 9] and rest["next_offset"] == 10
    end = ok(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?from=end&limit=2")
    assert [x["key"] for x in end["messages"]] == ["key-8", "key-9"]
    at_end = ok(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?offset=10")
    assert at_end["messages"] == [] and at_end["next_offset"] == 10
    empty = ok(broker, "GET", "/api/v1/topics/api-read/partitions/2/messages?from=end")
    assert empty["messages"] == []
    # By timestamp: the first record at or after it; past the last one, nothing.
    ts = ok(broker, "GET", "/api/v1/topics/api-read/partitions/1/messages?timestamp=1700000000000")
    assert [x["offset"] for x in ts["messages"]] == [0, 1, 2]
    late = ok(broker, "GET", "/api/v1/topics/api-read/partitions/1/messages?timestamp=1800000000000")
    assert late["messages"] == [] and late["next_offset"] == 3

    # Bad reads: Kafka's errors, never a crash.
    status, out = call(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?offset=11")
    assert (status, out["error"]) == (416, "OFFSET_OUT_OF_RANGE")
    assert out["message"] == "offset 11 is out of range for partition api-read-0: it holds offsets 0 to 10"
    assert error(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?offset=-3") == (416, "OFFSET_OUT_OF_RANGE")
    status, out = call(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?limit=501")
    assert status == 400 and out["error"] == "INVALID_REQUEST" and "500" in out["message"], out
    assert error(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?limit=0")[0] == 400
    assert error(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?limit=x")[0] == 400
    assert error(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?from=middle")[0] == 400
    assert error(broker, "GET", "/api/v1/topics/api-read/partitions/0/messages?offset=1&from=end")[0] == 400
    assert error(broker, "GET", "/api/v1/topics/api-read/partitions/zero/messages")[0] == 400
    assert error(broker, "GET", "/api/v1/topics/api-read/partitions/7/messages") == (404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert error(broker, "GET", "/api/v1/topics/no-such/partitions/0/messages") == (404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert error(broker, "GET", "/api/v1/topics/no-such") == (404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert error(broker, "GET", "/api/v1/nothing") == (404, "NOT_FOUND")
    # Reads create nothing (no auto-creation through the API).
    assert "no-such" not in {t["name"] for t in ok(broker, "GET", "/api/v1/topics")["topics"]}

    c = ok(broker, "GET", "/api/v1/cluster")
    assert c["controller_id"] == c["node_id"] and [b["node_id"] for b in c["brokers"]] == [c["node_id"]]
    assert c["cluster_id"] and c["version"] and c["uptime_seconds"] >= 0
    assert c["messages_in_total"] == 13 and c["bytes_in_total"] > 0


def test_messages_produced_through_the_api_read_by_clients(broker):
    create_topics(broker.bootstrap, "api-write", partitions=4)
    r = ok(broker, "POST", "/api/v1/topics/api-write/messages",
           {"partition": 2, "key": "order-1", "value": '{"total": 5}',
            "headers": [{"key": "source", "value": "http"}, {"key": "nil", "value": None}]})
    assert (r["partition"], r["offset"]) == (2, 0)
    r2 = ok(broker, "POST", "/api/v1/topics/api-write/messages",
            {"partition": 2, "value": base64.b64encode(b"\x00\xffbin").decode(), "encoding": "base64"})
    assert r2["offset"] == 1
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                      consumer_timeout_ms=10000)
    c.assign([TopicPartition("api-write", 2)])
    got = []
    for m in c:
        got.append(m)
        if len(got) == 2:
            break
    c.close()
    assert [(m.offset, m.key, m.value) for m in got] == [(0, b"order-1", b'{"total": 5}'), (1, None, b"\x00\xffbin")]
    assert got[0].headers == [("source", b"http"), ("nil", None)]
    assert got[0].timestamp == r["timestamp"]

    # A keyed message without a partition goes where Kafka's default partitioner (murmur2)
    # puts it: the same partition kafka-python's producer picks for the same key.
    kp = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for key in ["a", "user-42", "zzz", "\u00e9t\u00e9"]:
        md = kp.send("api-write", key=key.encode(), value=b"x").get(30)
        r = ok(broker, "POST", "/api/v1/topics/api-write/messages", {"key": key, "value": "y"})
        assert r["partition"] == md.partition, key
    kp.close()

    # Bad input: Kafka's errors, never a crash.
    assert error(broker, "POST", "/api/v1/topics/api-write/messages", {"partition": 9, "value": "x"}) == (404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert error(broker, "POST", "/api/v1/topics/nope/messages", {"value": "x"}) == (404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert error(broker, "POST", "/api/v1/topics/api-write/messages", {"value": "%%%", "encoding": "base64"})[0] == 400
    assert error(broker, "POST", "/api/v1/topics/api-write/messages", {"value": "x", "encoding": "rot13"})[0] == 400
    assert error(broker, "POST", "/api/v1/topics/api-write/messages", {"valu": "x"})[0] == 400
    assert error(broker, "POST", "/api/v1/topics/api-write/messages", raw=b"{not json")[0] == 400
    assert error(broker, "POST", "/api/v1/topics/api-write/messages", raw=b"\xff" * 100)[0] == 400
    # A message over max.message.bytes: Kafka's error for it.
    ok(broker, "PATCH", "/api/v1/topics/api-write/configs", {"configs": {"max.message.bytes": "1000"}})
    assert error(broker, "POST", "/api/v1/topics/api-write/messages", {"partition": 0, "value": "x" * 5000}) == (400, "MESSAGE_TOO_LARGE")


def test_topic_admin_through_the_api_seen_by_clients(broker):
    r = ok(broker, "POST", "/api/v1/topics", {"name": "api-admin", "partitions": 2, "configs": {"retention.ms": "3600000"}})
    assert (r["partitions"], r["replication_factor"]) == (2, 1)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        assert "api-admin" in admin.list_topics()
        desc = admin.describe_topics(["api-admin"])[0]
        assert len(desc["partitions"]) == 2
    finally:
        admin.close()
    cadmin = AdminClient({"bootstrap.servers": broker.bootstrap})

    def topic_config(name):
        res = ConfigResource(ResourceType.TOPIC, "api-admin")
        return cadmin.describe_configs([res])[res].result(15)[name].value

    assert topic_config("retention.ms") == "3600000"
    # Default partitions and replication factor: the broker's.
    assert ok(broker, "POST", "/api/v1/topics", {"name": "api-defaults"})["partitions"] == 1

    # Kafka's validation and errors.
    assert error(broker, "POST", "/api/v1/topics", {"name": "api-admin"}) == (409, "TOPIC_ALREADY_EXISTS")
    assert error(broker, "POST", "/api/v1/topics", {"name": "bad name!"}) == (400, "INVALID_TOPIC_EXCEPTION")
    assert error(broker, "POST", "/api/v1/topics", {"name": "x" * 250}) == (400, "INVALID_TOPIC_EXCEPTION")
    assert error(broker, "POST", "/api/v1/topics", {"name": "zero", "partitions": 0}) == (400, "INVALID_PARTITIONS")
    assert error(broker, "POST", "/api/v1/topics", {"name": "rf", "replication_factor": 3}) == (400, "INVALID_REPLICATION_FACTOR")
    assert error(broker, "POST", "/api/v1/topics", {"name": "cfg", "configs": {"retention.ms": "soon"}}) == (400, "INVALID_CONFIG")
    assert error(broker, "POST", "/api/v1/topics", {"name": "cfg", "configs": {"no.such.key": "1"}})[0] == 400
    assert error(broker, "POST", "/api/v1/topics", {"partitions": 1})[0] == 400
    assert error(broker, "POST", "/api/v1/topics", {"name": "p", "partitions": "many"})[0] == 400

    # Add partitions.
    ok(broker, "POST", "/api/v1/topics/api-admin/partitions", {"count": 5})
    wait_until(lambda: len(ok(broker, "GET", "/api/v1/topics/api-admin")["partitions"]) == 5, what="5 partitions")
    md = cadmin.list_topics("api-admin", timeout=10)
    assert len(md.topics["api-admin"].partitions) == 5
    assert error(broker, "POST", "/api/v1/topics/api-admin/partitions", {"count": 3}) == (400, "INVALID_PARTITIONS")
    assert error(broker, "POST", "/api/v1/topics/nope/partitions", {"count": 3}) == (404, "UNKNOWN_TOPIC_OR_PARTITION")

    # Alter configs: set, then remove the override (back to the default).
    ok(broker, "PATCH", "/api/v1/topics/api-admin/configs", {"configs": {"retention.ms": "7200000", "cleanup.policy": "compact"}})
    assert topic_config("retention.ms") == "7200000" and topic_config("cleanup.policy") == "compact"
    configs = {c["name"]: c for c in ok(broker, "GET", "/api/v1/topics/api-admin")["configs"]}
    assert configs["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    ok(broker, "PATCH", "/api/v1/topics/api-admin/configs", {"configs": {"retention.ms": None}})
    assert topic_config("retention.ms") == "604800000"
    assert error(broker, "PATCH", "/api/v1/topics/api-admin/configs", {"configs": {"retention.ms": "x"}}) == (400, "INVALID_CONFIG")
    assert error(broker, "PATCH", "/api/v1/topics/api-admin/configs", {"configs": {}})[0] == 400
    assert error(broker, "PATCH", "/api/v1/topics/nope/configs", {"configs": {"retention.ms": "1"}})[0] in (400, 404)

    # Delete.
    ok(broker, "DELETE", "/api/v1/topics/api-admin")
    wait_until(lambda: "api-admin" not in cadmin.list_topics(timeout=10).topics, what="topic gone")
    assert error(broker, "DELETE", "/api/v1/topics/api-admin") == (404, "UNKNOWN_TOPIC_OR_PARTITION")


def group_state(broker, group):
    return ok(broker, "GET", f"/api/v1/groups/{group}")


def test_groups_lag_reset_and_delete(broker):
    create_topics(broker.bootstrap, "api-grp", partitions=2)
    kp = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(6):
        kp.send("api-grp", value=b"a%d" % i, partition=0)
        kp.send("api-grp", value=b"b%d" % i, partition=1)
    kp.flush(30)
    kp.close()

    # A consumer reads 4 of partition 0's records and commits them.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "api-g",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.subscribe(["api-grp"])
    read = []
    deadline = time.monotonic() + 30
    while len(read) < 12 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            read.append(m)
    assert len(read) == 12
    c.commit(offsets=[CTopicPartition("api-grp", 0, 4), CTopicPartition("api-grp", 1, 6)], asynchronous=False)

    listed = {g["group_id"]: g for g in ok(broker, "GET", "/api/v1/groups")["groups"]}
    assert listed["api-g"]["state"] == "Stable" and listed["api-g"]["protocol_type"] == "consumer"
    g = group_state(broker, "api-g")
    assert g["state"] == "Stable" and len(g["members"]) == 1
    assert sorted(g["members"][0]["assignment"][0]["partitions"]) == [0, 1]
    assert g["members"][0]["assignment"][0]["topic"] == "api-grp"
    lag = {(o["topic"], o["partition"]): (o["committed_offset"], o["end_offset"], o["lag"]) for o in g["offsets"]}
    assert lag == {("api-grp", 0): (4, 6, 2), ("api-grp", 1): (6, 6, 0)}
    assert g["total_lag"] == 2

    # An active group's offsets cannot be reset, as kafka-consumer-groups.sh refuses it.
    status, out = call(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "earliest"})
    assert status == 409 and out["error"] == "NON_EMPTY_GROUP" and "Stable" in out["message"], out
    assert error(broker, "DELETE", "/api/v1/groups/api-g") == (409, "NON_EMPTY_GROUP")
    c.close()
    wait_until(lambda: group_state(broker, "api-g")["state"] == "Empty", what="group empty")

    # Reset: earliest, to an offset (clamped into the log), latest, by timestamp.
    def committed():
        kc = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="api-g", enable_auto_commit=False)
        try:
            return [kc.committed(TopicPartition("api-grp", p)) for p in (0, 1)]
        finally:
            kc.close()

    r = ok(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "earliest"})
    assert sorted((o["partition"], o["offset"]) for o in r["offsets"]) == [(0, 0), (1, 0)]
    assert committed() == [0, 0]
    assert group_state(broker, "api-g")["total_lag"] == 12
    ok(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "offset", "offset": 3})
    assert committed() == [3, 3]
    ok(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "offset", "offset": 100})
    assert committed() == [6, 6]
    ok(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "timestamp", "timestamp": 0})
    assert committed() == [0, 0]
    ok(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "latest", "topic": "api-grp"})
    assert committed() == [6, 6]
    assert group_state(broker, "api-g")["total_lag"] == 0
    # A consumer of the group starts where the reset put it.
    ok(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "offset", "offset": 5})
    c2 = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "api-g", "enable.auto.commit": False})
    c2.subscribe(["api-grp"])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 2 and time.monotonic() < deadline:
        m = c2.poll(0.5)
        if m is not None and not m.error():
            got.append((m.partition(), m.offset(), m.value()))
    c2.close()
    assert sorted(got) == [(0, 5, b"a5"), (1, 5, b"b5")]

    # Bad resets.
    assert error(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "sideways"})[0] == 400
    assert error(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "timestamp"})[0] == 400
    assert error(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "offset", "offset": -1})[0] == 400
    assert error(broker, "POST", "/api/v1/groups/api-g/offsets/reset", {"to": "earliest", "topic": "nope"}) == (404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert error(broker, "POST", "/api/v1/groups/fresh/offsets/reset", {"to": "earliest"})[0] == 400
    # A group that never existed, reset for a named topic: it gets offsets (Kafka's tool does so).
    ok(broker, "POST", "/api/v1/groups/fresh/offsets/reset", {"to": "latest", "topic": "api-grp"})
    assert {(o["partition"], o["committed_offset"]) for o in group_state(broker, "fresh")["offsets"]} == {(0, 6), (1, 6)}

    # Delete.
    wait_until(lambda: group_state(broker, "api-g")["state"] == "Empty", what="group empty again")
    ok(broker, "DELETE", "/api/v1/groups/api-g")
    assert error(broker, "GET", "/api/v1/groups/api-g") == (404, "GROUP_ID_NOT_FOUND")
    assert error(broker, "DELETE", "/api/v1/groups/api-g") == (404, "GROUP_ID_NOT_FOUND")
    assert "api-g" not in {g["group_id"] for g in ok(broker, "GET", "/api/v1/groups")["groups"]}


AUTHORIZER = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
              "super.users": "User:ANONYMOUS;User:admin"}


def add_scram_users(bootstrap, users):
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
    mechs = {"SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256, "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    ups = [UserScramCredentialUpsertion(u, ScramCredentialInfo(mechs[m], 4096), pw.encode()) for u, m, pw in users]
    for f in admin.alter_user_scram_credentials(ups).values():
        f.result(30)


def test_basic_login_against_scram_credentials_and_acls(start_broker):
    b = start_broker(AUTHORIZER)
    add_scram_users(b.bootstrap, [("admin", "SCRAM-SHA-512", "admin-pw"), ("alice", "SCRAM-SHA-256", "alice-pw")])
    create_topics(b.bootstrap, "seen", "hidden")
    produce(b.bootstrap, "seen", [b"s0", b"s1"])
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    acls = [AclBinding(ResourceType.TOPIC, "seen", ResourcePatternType.LITERAL, "User:alice", "*",
                       AclOperation.READ, AclPermissionType.ALLOW)]
    for f in admin.create_acls(acls).values():
        f.result(15)

    # No credentials, a wrong password, an unknown user, not Basic: 401 with a Basic challenge.
    for auth in [None, "alice:wrong", "nobody:x", "admin:alice-pw"]:
        status, out = call(b, "GET", "/api/v1/topics", auth=auth)
        assert status == 401 and out["error"] == "SASL_AUTHENTICATION_FAILED", (auth, status, out)
    req = urllib.request.Request(b.http + "/")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401 and e.value.headers["WWW-Authenticate"].startswith("Basic")
    req = urllib.request.Request(b.http + "/api/v1/cluster", headers={"Authorization": "Bearer abc"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401
    # /metrics, /health and /ready stay open.
    for path in ["/metrics", "/health", "/ready"]:
        with urllib.request.urlopen(b.http + path, timeout=10) as r:
            assert r.status == 200

    # The super user (SCRAM-SHA-512 credential) sees and does everything.
    assert ok(b, "GET", "/api/v1/cluster", auth="admin:admin-pw")["authenticated_as"] == "User:admin"
    assert {"seen", "hidden"} <= {t["name"] for t in ok(b, "GET", "/api/v1/topics", auth="admin:admin-pw")["topics"]}
    ok(b, "POST", "/api/v1/topics", {"name": "by-admin"}, auth="admin:admin-pw")

    # alice (SCRAM-SHA-256): READ on "seen" only, so the same answers as her Kafka requests get.
    alice = "alice:alice-pw"
    assert {t["name"] for t in ok(b, "GET", "/api/v1/topics", auth=alice)["topics"]} == {"seen"}
    assert [m["value"] for m in ok(b, "GET", "/api/v1/topics/seen/partitions/0/messages", auth=alice)["messages"]] == ["s0", "s1"]
    assert error(b, "GET", "/api/v1/topics/hidden", auth=alice) == (403, "TOPIC_AUTHORIZATION_FAILED")
    assert error(b, "GET", "/api/v1/topics/hidden/partitions/0/messages", auth=alice) == (403, "TOPIC_AUTHORIZATION_FAILED")
    assert error(b, "POST", "/api/v1/topics/seen/messages", {"partition": 0, "value": "x"}, auth=alice) == (403, "TOPIC_AUTHORIZATION_FAILED")
    assert error(b, "POST", "/api/v1/topics", {"name": "by-alice"}, auth=alice) == (403, "TOPIC_AUTHORIZATION_FAILED")
    assert error(b, "DELETE", "/api/v1/topics/seen", auth=alice) == (403, "TOPIC_AUTHORIZATION_FAILED")
    assert error(b, "PATCH", "/api/v1/topics/seen/configs", {"configs": {"retention.ms": "1"}}, auth=alice) == (403, "TOPIC_AUTHORIZATION_FAILED")
    assert error(b, "GET", "/api/v1/groups/g1", auth=alice) == (403, "GROUP_AUTHORIZATION_FAILED")
    assert ok(b, "GET", "/api/v1/groups", auth=alice)["groups"] == []
    # An ACL added later applies to the next call.
    acl = [AclBinding(ResourceType.TOPIC, "seen", ResourcePatternType.LITERAL, "User:alice", "*",
                      AclOperation.WRITE, AclPermissionType.ALLOW)]
    for f in admin.create_acls(acl).values():
        f.result(15)
    wait_until(lambda: call(b, "POST", "/api/v1/topics/seen/messages", {"partition": 0, "value": "s2"}, auth=alice)[0] == 200,
               what="alice may write")
    assert [m["value"] for m in ok(b, "GET", "/api/v1/topics/seen/partitions/0/messages", auth=alice)["messages"]] == ["s0", "s1", "s2"]


def test_without_an_authorizer_no_login_is_needed(broker):
    assert ok(broker, "GET", "/api/v1/cluster")["authenticated_as"] == "User:ANONYMOUS"
    # Credentials are ignored: there is nothing to check them against.
    assert ok(broker, "GET", "/api/v1/cluster", auth="x:y")["authenticated_as"] == "User:ANONYMOUS"


def test_a_kip848_consumer_group_is_described_too(start_broker):
    from conftest import KIP848_OVERRIDES
    b = start_broker(KIP848_OVERRIDES)
    create_topics(b.bootstrap, "api-848", partitions=2)
    produce(b.bootstrap, "api-848", [b"x%d" % i for i in range(4)])
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "api-848-g", "group.protocol": "consumer",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest", "client.id": "ck848"})
    c.subscribe(["api-848"])
    try:
        def assigned():
            c.poll(0.2)
            return len(c.assignment()) == 2

        wait_until(assigned, timeout=30, what="2 partitions assigned")

        def described():
            g = ok(b, "GET", "/api/v1/groups/api-848-g")
            parts = sorted(p for m in g["members"] for a in m["assignment"] for p in a["partitions"])
            return g if g["state"] == "Stable" and parts == [0, 1] else None

        g = wait_until(described, timeout=30, what="the group described with its assignment")
        assert g["protocol_type"] == "consumer" and g["members"][0]["client_id"] == "ck848"
        listed = {x["group_id"]: x for x in ok(b, "GET", "/api/v1/groups")["groups"]}
        assert listed["api-848-g"]["type"] == "consumer"
        status, out = call(b, "POST", "/api/v1/groups/api-848-g/offsets/reset", {"to": "earliest"})
        assert status == 409 and out["error"] == "NON_EMPTY_GROUP", out
    finally:
        c.close()


def test_in_a_cluster_each_node_answers_for_what_it_holds(start_cluster):
    """Every node's API sees the whole cluster's metadata; a partition's messages are read and
    written on the node that leads it, and another node answers Kafka's NOT_LEADER_OR_FOLLOWER
    (docs/observability.md, Not yet)."""
    c = start_cluster(3)
    n1 = c.node(1)
    ok(n1, "POST", "/api/v1/topics", {"name": "api-cl", "partitions": 3, "replication_factor": 3})
    leaders = {p: m.leader for p, m in c.wait_leaders("api-cl", 3).items()}
    controllers = set()
    for n in c.nodes:
        cl = ok(n, "GET", "/api/v1/cluster")
        assert sorted(b["node_id"] for b in cl["brokers"]) == [1, 2, 3] and cl["node_id"] == n.node_id
        controllers.add(cl["controller_id"])
        t = ok(n, "GET", "/api/v1/topics/api-cl")
        assert sorted(p["partition"] for p in t["partitions"]) == [0, 1, 2]
        assert all(sorted(p["replicas"]) == [1, 2, 3] for p in t["partitions"])
    assert len(controllers) == 1
    leader = c.node(leaders[0])
    other = next(n for n in c.nodes if n.node_id != leaders[0])
    r = ok(leader, "POST", "/api/v1/topics/api-cl/messages", {"partition": 0, "value": "hello"})
    assert r["offset"] == 0
    got = ok(leader, "GET", "/api/v1/topics/api-cl/partitions/0/messages")
    assert [m["value"] for m in got["messages"]] == ["hello"]
    status, out = call(other, "GET", "/api/v1/topics/api-cl/partitions/0/messages")
    assert (status, out["error"]) == (503, "NOT_LEADER_OR_FOLLOWER")
    assert out["message"] == f"node {other.node_id} does not lead partition api-cl-0: node {leaders[0]} does; use its HTTP listener"
    assert error(other, "POST", "/api/v1/topics/api-cl/messages", {"partition": 0, "value": "x"}) == (503, "NOT_LEADER_OR_FOLLOWER")
    # A Kafka client reads what the API wrote.
    from conftest import consume_assigned
    assert consume_assigned(c.bootstrap, "api-cl", 1) == [(0, 0, None, b"hello")]


# --- ACLs and transactions ------------------------------------------------------------------

def start_scram_broker(start_broker, users):
    """A broker with the authorizer: a PLAINTEXT listener where User:ANONYMOUS is a super user
    (the test's admin door) and a SASL_PLAINTEXT one where the SCRAM users log in (b.sasl)."""
    plain, sasl = free_port(), free_port()
    b = start_broker({**AUTHORIZER, "listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}"},
                     port=plain)
    b.sasl = f"127.0.0.1:{sasl}"
    add_scram_users(b.bootstrap, users)
    return b


def scram_conf(user, password, mechanism="SCRAM-SHA-256"):
    """confluent-kafka's settings to log in as a SCRAM user."""
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": mechanism,
            "sasl.username": user, "sasl.password": password}


def acl_json(resource_type, name, pattern, principal, operation, permission="ALLOW", host="*"):
    return {"resource_type": resource_type, "resource_name": name, "pattern_type": pattern,
            "principal": principal, "host": host, "operation": operation, "permission": permission}


NO_AUTHORIZER = {"error": "SECURITY_DISABLED",
                 "message": "No Authorizer is configured on the broker (authorizer.class.name is empty): "
                            "there are no ACLs and every request is allowed"}


def test_acl_calls_without_an_authorizer_say_there_is_none(broker):
    assert call(broker, "GET", "/api/v1/acls") == (400, NO_AUTHORIZER)
    assert call(broker, "POST", "/api/v1/acls", {"resource_type": "TOPIC", "resource_name": "t",
                                                 "principal": "User:alice", "operation": "READ"}) == (400, NO_AUTHORIZER)
    assert call(broker, "DELETE", "/api/v1/acls?principal=User:alice") == (400, NO_AUTHORIZER)


def test_acls_made_through_the_api_bind_kafka_clients(start_broker):
    b = start_scram_broker(start_broker, [("admin", "SCRAM-SHA-512", "admin-pw"), ("alice", "SCRAM-SHA-256", "alice-pw")])
    create_topics(b.bootstrap, "acl-orders")
    admin, alice = "admin:admin-pw", scram_conf("alice", "alice-pw")
    assert produce_error(b.sasl, "acl-orders", alice) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert ok(b, "GET", "/api/v1/acls", auth=admin) == {"acls": []}

    # Created through the API (names in any case, as kafka-acls.sh takes them): alice may write.
    write = acl_json("TOPIC", "acl-", "PREFIXED", "User:alice", "WRITE")
    assert ok(b, "POST", "/api/v1/acls", {"resource_type": "topic", "resource_name": "acl-", "pattern_type": "Prefixed",
                                          "principal": "User:alice", "operation": "Write"}, auth=admin) == {"created": write}
    assert produce_error(b.sasl, "acl-orders", alice) is None
    # Kafka's Admin API sees the same ACL, and the API sees the ones the Admin API makes.
    cadmin = AdminClient({"bootstrap.servers": b.bootstrap})
    every = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                             AclPermissionType.ANY)
    seen = cadmin.describe_acls(every).result(15)
    assert [(a.restype, a.name, a.resource_pattern_type, a.principal, a.host, a.operation, a.permission_type) for a in seen] == [
        (ResourceType.TOPIC, "acl-", ResourcePatternType.PREFIXED, "User:alice", "*", AclOperation.WRITE, AclPermissionType.ALLOW)]
    for f in cadmin.create_acls([AclBinding(ResourceType.TOPIC, "acl-orders", ResourcePatternType.LITERAL, "User:bob",
                                            "10.1.1.1", AclOperation.READ, AclPermissionType.DENY)]).values():
        f.result(15)
    deny = acl_json("TOPIC", "acl-orders", "LITERAL", "User:bob", "READ", "DENY", "10.1.1.1")
    assert ok(b, "GET", "/api/v1/acls", auth=admin) == {"acls": [write, deny]}
    # Kafka's filters.
    assert ok(b, "GET", "/api/v1/acls?principal=User:bob", auth=admin) == {"acls": [deny]}
    assert ok(b, "GET", "/api/v1/acls?resource_type=TOPIC&resource_name=acl-orders&pattern_type=MATCH", auth=admin) == {"acls": [write, deny]}
    assert ok(b, "GET", "/api/v1/acls?resource_type=TOPIC&resource_name=acl-orders", auth=admin) == {"acls": [deny]}
    assert ok(b, "GET", "/api/v1/acls?operation=read&permission=deny&host=10.1.1.1", auth=admin) == {"acls": [deny]}
    assert ok(b, "GET", "/api/v1/acls?resource_type=GROUP", auth=admin) == {"acls": []}
    # Creating an ACL that exists succeeds and changes nothing, as in Kafka.
    ok(b, "POST", "/api/v1/acls", write, auth=admin)
    assert ok(b, "GET", "/api/v1/acls", auth=admin) == {"acls": [write, deny]}

    # alice's own login has no DESCRIBE or ALTER on the cluster: Kafka's refusal.
    refused = (403, {"error": "CLUSTER_AUTHORIZATION_FAILED", "message": "Cluster authorization failed."})
    assert call(b, "GET", "/api/v1/acls", auth="alice:alice-pw") == refused
    assert call(b, "POST", "/api/v1/acls", write, auth="alice:alice-pw") == refused
    assert call(b, "DELETE", "/api/v1/acls?principal=User:alice", auth="alice:alice-pw") == refused

    # Deleted by a filter: alice is denied again; the Admin API sees only bob's.
    assert ok(b, "DELETE", "/api/v1/acls?principal=User:alice&resource_type=TOPIC", auth=admin) == {"deleted": [write]}
    assert produce_error(b.sasl, "acl-orders", alice) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert [a.principal for a in cadmin.describe_acls(every).result(15)] == ["User:bob"]
    assert ok(b, "DELETE", "/api/v1/acls?principal=User:alice", auth=admin) == {"deleted": []}

    # Transactions under ACLs: alice sees only the transactional ids she may describe.
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "secret-tx"})
    p.init_transactions(30)
    assert [t["transactional_id"] for t in ok(b, "GET", "/api/v1/transactions", auth=admin)["transactions"]] == ["secret-tx"]
    assert ok(b, "GET", "/api/v1/transactions", auth="alice:alice-pw") == {"transactions": [], "total": 0, "unknown_state_filters": []}
    assert call(b, "GET", "/api/v1/transactions/secret-tx", auth="alice:alice-pw") == (
        403, {"error": "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "message": "Transactional id authorization failed."})
    ok(b, "POST", "/api/v1/acls", {"resource_type": "TRANSACTIONAL_ID", "resource_name": "secret-", "pattern_type": "PREFIXED",
                                   "principal": "User:alice", "operation": "DESCRIBE"}, auth=admin)
    assert ok(b, "GET", "/api/v1/transactions/secret-tx", auth="alice:alice-pw")["state"] == "Empty"
    assert ok(b, "GET", "/api/v1/transactions", auth="alice:alice-pw")["total"] == 1

    # Bad input: the API's own check of Kafka's names, then Kafka's validation, word for word.
    def bad(message):
        return (400, {"error": "INVALID_REQUEST", "message": message})

    types = "ANY, TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, DELEGATION_TOKEN or USER"
    assert call(b, "GET", "/api/v1/acls?resource_type=TOPICS", auth=admin) == bad(f'resource_type="TOPICS": {types}')
    assert call(b, "DELETE", "/api/v1/acls?resource_type=queue", auth=admin) == bad(f'resource_type="queue": {types}')
    assert call(b, "GET", "/api/v1/acls?pattern_type=glob", auth=admin) == bad('pattern_type="glob": ANY, MATCH, LITERAL or PREFIXED')
    assert call(b, "GET", "/api/v1/acls?permission=maybe", auth=admin) == bad('permission="maybe": ANY, DENY or ALLOW')
    new = {"resource_type": "TOPIC", "resource_name": "acl-orders", "principal": "User:alice", "operation": "READ"}
    assert call(b, "POST", "/api/v1/acls", {**new, "resource_type": "QUEUE"}, auth=admin) == bad(f'resource_type="QUEUE": {types}')
    assert call(b, "POST", "/api/v1/acls", {**new, "resource_type": "ANY"}, auth=admin) == bad("Invalid resourceType ANY")
    assert call(b, "POST", "/api/v1/acls", {**new, "pattern_type": "MATCH"}, auth=admin) == bad("Invalid patternType MATCH")
    assert call(b, "POST", "/api/v1/acls", {**new, "operation": "ANY"}, auth=admin) == bad("Invalid operation ANY")
    assert call(b, "POST", "/api/v1/acls", {**new, "permission": "ANY"}, auth=admin) == bad("Invalid permissionType ANY")
    assert call(b, "POST", "/api/v1/acls", {**new, "resource_name": ""}, auth=admin) == bad("Invalid empty resource name")
    assert call(b, "POST", "/api/v1/acls", {**new, "resource_type": "CLUSTER"}, auth=admin) == bad(
        "The only valid name for the CLUSTER resource is kafka-cluster")
    assert call(b, "POST", "/api/v1/acls", {**new, "principal": "alice"}, auth=admin) == bad(
        "Could not parse principal from `alice` (no colon is found between principal type and principal name)")
    status, out = call(b, "POST", "/api/v1/acls", {k: v for k, v in new.items() if k != "operation"}, auth=admin)
    assert (status, out["error"]) == (400, "INVALID_REQUEST") and out["message"].startswith("bad JSON body: missing field `operation`"), out
    status, out = call(b, "POST", "/api/v1/acls", {**new, "colour": "red"}, auth=admin)
    assert (status, out["error"]) == (400, "INVALID_REQUEST") and out["message"].startswith("bad JSON body: unknown field `colour`"), out
    assert call(b, "DELETE", "/api/v1/acls", auth=admin) == bad(
        "name the ACLs to delete (resource_type, resource_name, pattern_type, principal, host, operation, permission); "
        "resource_type=ANY deletes every ACL")
    status, out = call(b, "GET", "/api/v1/acls?colour=red", auth=admin)
    assert (status, out["error"]) == (400, "INVALID_REQUEST") and "unknown field `colour`" in out["message"], out
    # None of it changed anything.
    assert [a["principal"] for a in ok(b, "GET", "/api/v1/acls", auth=admin)["acls"]] == ["User:bob", "User:alice"]


def test_transactions_seen_through_the_api(broker):
    create_topics(broker.bootstrap, "api-txn", partitions=3)
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "api-tx", "transaction.timeout.ms": 45000})
    p.init_transactions(30)
    t = ok(broker, "GET", "/api/v1/transactions/api-tx")
    pid = t["producer_id"]
    assert pid >= 0
    assert t == {"transactional_id": "api-tx", "state": "Empty", "producer_id": pid, "producer_epoch": 0,
                 "timeout_ms": 45000, "start_time_ms": None, "age_ms": None, "open": False, "hanging": False,
                 "topics": []}

    # An open transaction: Ongoing, with the partitions it wrote to.
    before = int(time.time() * 1000)
    p.begin_transaction()
    p.produce("api-txn", b"a", partition=0)
    p.produce("api-txn", b"b", partition=2)
    assert p.flush(30) == 0
    after = int(time.time() * 1000)
    t = ok(broker, "GET", "/api/v1/transactions/api-tx")
    assert before <= t["start_time_ms"] <= after, (before, t, after)
    assert 0 <= t["age_ms"] < 45000
    ongoing = {"transactional_id": "api-tx", "state": "Ongoing", "producer_id": pid, "producer_epoch": 0,
               "timeout_ms": 45000, "start_time_ms": t["start_time_ms"], "open": True, "hanging": False,
               "topics": [{"topic": "api-txn", "partitions": [0, 2]}]}
    assert {k: v for k, v in t.items() if k != "age_ms"} == ongoing

    # A second producer, whose transaction is aborted.
    p2 = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "api-tx-2"})
    p2.init_transactions(30)
    p2.begin_transaction()
    p2.produce("api-txn", b"c", partition=1)
    assert p2.flush(30) == 0
    p2.abort_transaction(30)
    aborted = ok(broker, "GET", "/api/v1/transactions/api-tx-2")
    assert (aborted["state"], aborted["open"], aborted["topics"]) == ("CompleteAbort", False, [])
    pid2 = aborted["producer_id"]
    assert pid2 != pid

    def listed(query=""):
        out = ok(broker, "GET", "/api/v1/transactions" + query)
        return [(x["transactional_id"], x["state"]) for x in out["transactions"]], out["total"], out["unknown_state_filters"]

    assert listed() == ([("api-tx", "Ongoing"), ("api-tx-2", "CompleteAbort")], 2, [])
    full = ok(broker, "GET", "/api/v1/transactions?state=Ongoing")["transactions"]
    assert [{k: v for k, v in x.items() if k != "age_ms"} for x in full] == [ongoing]
    assert listed("?state=CompleteAbort,Ongoing") == ([("api-tx", "Ongoing"), ("api-tx-2", "CompleteAbort")], 2, [])
    assert listed("?state=CompleteCommit") == ([], 0, [])
    # A state Kafka does not know is said back, as ListTransactions does.
    assert listed("?state=Ongoing,Hanging") == ([("api-tx", "Ongoing")], 1, ["Hanging"])
    assert listed(f"?producer_id={pid2}") == ([("api-tx-2", "CompleteAbort")], 1, [])
    assert listed(f"?producer_id={pid},{pid2}&state=Ongoing") == ([("api-tx", "Ongoing")], 1, [])
    assert listed("?transactional_id_pattern=api-tx-.*") == ([("api-tx-2", "CompleteAbort")], 1, [])
    assert listed("?transactional_id_pattern=api") == ([], 0, [])
    assert listed("?running_longer_than_ms=3600000") == ([], 0, [])
    # As Kafka's duration filter: started longer ago than that, whatever the state.
    wait_until(lambda: listed("?running_longer_than_ms=1")[0] == [("api-tx", "Ongoing"), ("api-tx-2", "CompleteAbort")],
               what="both started over 1 ms ago")

    # Committed: CompleteCommit, its partitions cleared (as Kafka's coordinator does).
    p.commit_transaction(30)
    t = ok(broker, "GET", "/api/v1/transactions/api-tx")
    assert {k: v for k, v in t.items() if k != "age_ms"} == {**ongoing, "state": "CompleteCommit", "open": False, "topics": []}
    assert listed("?state=Ongoing") == ([], 0, [])

    # Bad input: Kafka's errors, word for word.
    assert call(broker, "GET", "/api/v1/transactions/no-such-tx") == (404, {
        "error": "TRANSACTIONAL_ID_NOT_FOUND",
        "message": 'The transaction coordinator knows no transactional id "no-such-tx".'})
    assert call(broker, "GET", "/api/v1/transactions?producer_id=7,x") == (400, {
        "error": "INVALID_REQUEST", "message": 'producer_id="x": producer ids are numbers (comma-separated)'})
    assert call(broker, "GET", "/api/v1/transactions?transactional_id_pattern=(") == (400, {
        "error": "INVALID_REGULAR_EXPRESSION", "message": 'transactional_id_pattern="(" is not a regular expression'})
    assert call(broker, "GET", "/api/v1/transactions?running_longer_than_ms=-5") == (400, {
        "error": "INVALID_REQUEST", "message": "running_longer_than_ms is milliseconds (0 or more)"})
    status, out = call(broker, "GET", "/api/v1/transactions?running_longer_than_ms=soon")
    assert (status, out["error"]) == (400, "INVALID_REQUEST"), out
    status, out = call(broker, "GET", "/api/v1/transactions?colour=red")
    assert (status, out["error"]) == (400, "INVALID_REQUEST") and "unknown field `colour`" in out["message"], out


# The coordinator's own write (PrepareCommit) must not wait for the node the test kills: with
# __transaction_state replicated there, EndTxn would wait for that node to be fenced out of the
# ISR, past the transaction's timeout under load (and a retried EndTxn gets
# CONCURRENT_TRANSACTIONS until the marker is written).
STUCK_TXN_OVERRIDES = {"transaction.state.log.replication.factor": "1"}


def stuck_transaction(c, txid, timeout_ms=3000):
    """In cluster c (started with STUCK_TXN_OVERRIDES), a transaction committed while its only
    partition has no leader (an RF=1 topic on a killed node): it stays PrepareCommit, open past
    its timeout. Returns (the node coordinating it, the killed node, the producer)."""
    p = Producer({"bootstrap.servers": c.bootstrap, "transactional.id": txid, "transaction.timeout.ms": timeout_ms})
    p.init_transactions(30)
    # The coordinator's API describes it; the others say they do not coordinate it.
    coordinator = wait_until(lambda: next((n for n in c.nodes if call(n, "GET", f"/api/v1/transactions/{txid}")[0] == 200), None),
                             what=f"the coordinator of {txid}")
    for n in c.nodes:
        if n is not coordinator:
            assert call(n, "GET", f"/api/v1/transactions/{txid}") == (503, {"error": "NOT_COORDINATOR", "message": "Not coordinator."})
            assert ok(n, "GET", "/api/v1/transactions")["total"] == 0
    victim = next(n for n in c.nodes if n is not coordinator)
    from confluent_kafka.admin import NewTopic as CNewTopic
    topic = f"{txid}-topic"
    cadmin = AdminClient({"bootstrap.servers": c.bootstrap})
    cadmin.create_topics([CNewTopic(topic, num_partitions=1, replica_assignment=[[victim.node_id]])])[topic].result(30)
    c.wait_leaders(topic, 1)
    p.begin_transaction()
    p.produce(topic, b"x", partition=0)
    assert p.flush(30) == 0
    victim.kill()  # at once: the transaction must not outlive its timeout before the commit
    p.commit_transaction(30)  # answered once PrepareCommit is written; the marker waits for the node
    return coordinator, victim, p


def test_a_transaction_stuck_past_its_timeout_is_flagged_hanging(start_cluster):
    """In a 3-node cluster, a committed transaction whose only partition lost its leader stays
    PrepareCommit: open past its timeout, the API flags it hanging; once the node is back its
    marker is written and the transaction completes."""
    c = start_cluster(3, STUCK_TXN_OVERRIDES)
    coordinator, victim, _ = stuck_transaction(c, "hang-tx")

    def described():
        return ok(coordinator, "GET", "/api/v1/transactions/hang-tx")

    t = described()
    assert (t["state"], t["open"], t["topics"]) == ("PrepareCommit", True, [{"topic": "hang-tx-topic", "partitions": [0]}])
    t = wait_until(lambda: (t := described())["hanging"] and t, timeout=15, what="hang-tx flagged hanging")
    assert t["state"] == "PrepareCommit" and t["age_ms"] > 3000
    assert [(x["transactional_id"], x["hanging"]) for x in ok(coordinator, "GET", "/api/v1/transactions?state=PrepareCommit")["transactions"]] == [
        ("hang-tx", True)]

    victim.start()
    t = wait_until(lambda: (t := described())["state"] == "CompleteCommit" and t, timeout=30, what="hang-tx completed")
    assert (t["open"], t["hanging"], t["topics"]) == (False, False, [])
