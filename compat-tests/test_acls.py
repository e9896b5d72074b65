"""ACLs and SCRAM credentials with real clients (Apache Kafka 4's StandardAuthorizer is the spec).

java/Acls.java calls the Admin API the way kafka-acls.sh (createAcls, describeAcls, deleteAcls)
and kafka-configs.sh --entity-type users (alterUserScramCredentials,
describeUserScramCredentials) do, and runs producers and consumers whose requests the ACLs
allow or deny. Every client here is User:ANONYMOUS on PLAINTEXT (no SASL, no client
certificate), which is enough for the whole cycle: denied, allowed by an ACL, denied again
(test_sasl.py does the same with SASL users).

Bootstrapping, as Kafka users do it: the broker first runs with the admin principal (here
User:ANONYMOUS) in super.users, which creates the ACLs the admin needs (Describe/Alter/Create on
the cluster, and in a cluster ClusterAction for the brokers' own requests, which also come as
User:ANONYMOUS over PLAINTEXT), then restarts without super.users: the ACLs, kept in the
metadata, apply from then on.
"""
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import create_topics, produce, wait_until

AUTHORIZER = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer"}
ANON = "User:ANONYMOUS"
CLUSTER = "kafka-cluster"


def acl(resource, pattern, name, principal, op, perm="ALLOW", host="*"):
    return "|".join([resource, pattern, name, principal, host, op, perm])


def lines(out, prefix):
    return sorted(l[len(prefix) + 1:] for l in out.splitlines() if l.startswith(prefix + " "))


def error_or_none(out):
    errs = [l.split()[1] for l in out.splitlines() if l.startswith("error ")]
    return errs[0] if errs else None


def error_of(out):
    err = error_or_none(out)
    assert err, out
    return err


ADMIN_ACLS = [acl("CLUSTER", "LITERAL", CLUSTER, ANON, op) for op in ("DESCRIBE", "ALTER", "CREATE")]
ALICE_ACLS = [
    acl("TOPIC", "LITERAL", "orders", "User:alice", "READ"),
    acl("TOPIC", "PREFIXED", "logs-", "User:alice", "WRITE"),
    acl("GROUP", "PREFIXED", "app-", "User:alice", "READ"),
    acl("TRANSACTIONAL_ID", "PREFIXED", "tx-", "User:alice", "WRITE"),
    acl("CLUSTER", "LITERAL", CLUSTER, "User:alice", "IDEMPOTENT_WRITE"),
    acl("TOPIC", "LITERAL", "orders", "User:mallory", "READ", perm="DENY"),
]
ANY_ALICE = "ANY|ANY||User:alice||ANY|ANY"


def restart_without_super_users(node):
    del node.overrides["super.users"]
    node.restart()


def test_acl_cycle_and_scram_credentials_single_broker(start_broker, run_java):
    b = start_broker({**AUTHORIZER, "super.users": ANON})
    create_topics(b.bootstrap, "orders", "logs-app")

    # kafka-acls.sh --add: topic, group, transactional-id and cluster resources, literal and prefixed.
    out = run_java("Acls", "add", b.bootstrap, *ADMIN_ACLS, *ALICE_ACLS)
    assert lines(out, "created") == sorted(ADMIN_ACLS + ALICE_ACLS), out
    assert lines(run_java("Acls", "list", b.bootstrap), "acl") == sorted(ADMIN_ACLS + ALICE_ACLS)
    # kafka-acls.sh --list --topic logs-app --resource-pattern-type match: what applies to it.
    out = run_java("Acls", "list", b.bootstrap, "TOPIC|MATCH|logs-app|||ANY|ANY")
    assert lines(out, "acl") == [acl("TOPIC", "PREFIXED", "logs-", "User:alice", "WRITE")]
    # kafka-acls.sh --remove --group ... --principal User:alice
    out = run_java("Acls", "remove", b.bootstrap, "GROUP|ANY||User:alice||ANY|ANY")
    assert lines(out, "removed") == [acl("GROUP", "PREFIXED", "app-", "User:alice", "READ")]
    kept = sorted(a for a in ADMIN_ACLS + ALICE_ACLS if not a.startswith("GROUP"))

    # kafka-configs.sh --alter --add-config 'SCRAM-SHA-256=[iterations=8192,password=...]' --entity-type users
    assert "scram-set alice" in run_java("Acls", "scram-set", b.bootstrap, "alice", "SCRAM-SHA-256", "alice-secret", "8192")
    assert "scram-set bob" in run_java("Acls", "scram-set", b.bootstrap, "bob", "SCRAM-SHA-512", "bob-secret", "4096")
    out = run_java("Acls", "scram-set", b.bootstrap, "carol", "SCRAM-SHA-256", "pw", "100")
    assert error_of(out) == "UnacceptableCredentialException"
    scram = ["alice SCRAM-SHA-256 8192", "bob SCRAM-SHA-512 4096"]
    assert lines(run_java("Acls", "scram-list", b.bootstrap), "scram") == scram

    # From now on the ACLs decide, after a restart (kept in the log dir).
    restart_without_super_users(b)
    assert lines(run_java("Acls", "list", b.bootstrap), "acl") == kept
    assert lines(run_java("Acls", "scram-list", b.bootstrap), "scram") == scram
    out = run_java("Acls", "scram-list", b.bootstrap, "nobody")
    assert lines(out, "scram-error") == ["nobody ResourceNotFoundException"]
    assert lines(run_java("Acls", "cluster-ops", b.bootstrap), "ops") == ["ALTER,CREATE,DESCRIBE"]

    # Denied: no ACL lets ANONYMOUS at the topic or the group, and Metadata hides the topics.
    assert error_of(run_java("Acls", "produce", b.bootstrap, "orders", "v1")) == "TopicAuthorizationException"
    reports = produce(b.bootstrap, "orders", [b"v1"], **{"enable.idempotence": False, "message.timeout.ms": 10000})
    assert reports[0][0] is not None and reports[0][0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, reports
    assert lines(run_java("Acls", "topics", b.bootstrap), "topic") == []
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
    assert set(md.topics) == set(), md.topics
    assert error_of(run_java("Acls", "consume", b.bootstrap, "orders", "app-1", "1")) == "TopicAuthorizationException"

    # Allowed: Write and Read on the topic, Read on the group's prefix. An idempotent producer
    # needs IdempotentWrite on the cluster or Write on some topic (KIP-679): Write on orders.
    mine = [acl("TOPIC", "LITERAL", "orders", ANON, "WRITE"),
            acl("TOPIC", "LITERAL", "orders", ANON, "READ"),
            acl("GROUP", "PREFIXED", "app-", ANON, "READ")]
    assert lines(run_java("Acls", "add", b.bootstrap, *mine[:2]), "created") == sorted(mine[:2])
    # The topic may be read, the group not yet.
    assert error_of(run_java("Acls", "consume", b.bootstrap, "orders", "app-1", "1")) == "GroupAuthorizationException"
    assert lines(run_java("Acls", "add", b.bootstrap, mine[2]), "created") == [mine[2]]
    assert lines(run_java("Acls", "produce", b.bootstrap, "orders", "v1", "idempotent"), "produced") == ["0"]
    reports = produce(b.bootstrap, "orders", [b"v2"])
    assert reports[0][0] is None, reports
    assert lines(run_java("Acls", "topics", b.bootstrap), "topic") == ["orders"]
    out = run_java("Acls", "consume", b.bootstrap, "orders", "app-1", "2")
    assert lines(out, "consumed") == ["v1", "v2"] and "committed" in out, out

    # Denied again once the ACL is removed (kafka-acls.sh --remove --operation Write).
    out = run_java("Acls", "remove", b.bootstrap, f"TOPIC|LITERAL|orders|{ANON}||WRITE|ALLOW")
    assert lines(out, "removed") == [mine[0]]
    assert error_of(run_java("Acls", "produce", b.bootstrap, "orders", "v3")) == "TopicAuthorizationException"
    out = run_java("Acls", "remove", b.bootstrap, f"GROUP|PREFIXED|app-|{ANON}||READ|ALLOW")
    assert lines(out, "removed") == [mine[2]]
    assert error_of(run_java("Acls", "consume", b.bootstrap, "orders", "app-1", "1")) == "GroupAuthorizationException"

    # A transactional producer needs Write on its transactional id.
    assert lines(run_java("Acls", "add", b.bootstrap, mine[0]), "created") == [mine[0]]
    out = run_java("Acls", "txn", b.bootstrap, "orders", "tx-1", "t1")
    assert error_of(out) == "TransactionalIdAuthorizationException"
    tx = acl("TRANSACTIONAL_ID", "PREFIXED", "tx-", ANON, "WRITE")
    assert lines(run_java("Acls", "add", b.bootstrap, tx), "created") == [tx]
    out = run_java("Acls", "txn", b.bootstrap, "orders", "tx-1", "t1")
    assert "committed" in out.splitlines(), out

    # Deleting a credential; deleting it again is RESOURCE_NOT_FOUND.
    assert "scram-deleted bob" in run_java("Acls", "scram-delete", b.bootstrap, "bob", "SCRAM-SHA-512")
    out = run_java("Acls", "scram-delete", b.bootstrap, "bob", "SCRAM-SHA-512")
    assert error_of(out) == "ResourceNotFoundException"
    assert lines(run_java("Acls", "scram-list", b.bootstrap), "scram") == ["alice SCRAM-SHA-256 8192"]


def test_acls_without_an_authorizer_are_security_disabled(broker, run_java):
    out = run_java("Acls", "add", broker.bootstrap, acl("TOPIC", "LITERAL", "t", "User:alice", "READ"))
    assert error_of(out) == "SecurityDisabledException"
    assert error_of(run_java("Acls", "list", broker.bootstrap)) == "SecurityDisabledException"
    # SCRAM credentials need no authorizer.
    assert "scram-set alice" in run_java("Acls", "scram-set", broker.bootstrap, "alice", "SCRAM-SHA-512", "pw", "4096")


def test_acls_and_scram_credentials_in_a_cluster(start_cluster, run_java):
    c = start_cluster(overrides={**AUTHORIZER, "super.users": ANON})
    admin = AdminClient({"bootstrap.servers": c.bootstrap})
    for f in admin.create_topics([NewTopic("repl", num_partitions=1, replication_factor=3)],
                                 operation_timeout=10).values():
        f.result(timeout=15)
    c.wait_leaders("repl", 1)
    # The brokers' own requests (follower fetches, transaction markers) come as User:ANONYMOUS
    # over PLAINTEXT: ClusterAction on the cluster, as Kafka requires.
    brokers = acl("CLUSTER", "LITERAL", CLUSTER, ANON, "CLUSTER_ACTION")
    created = [*ADMIN_ACLS, brokers, *ALICE_ACLS]
    out = run_java("Acls", "add", c.nodes[0].bootstrap, *created)
    assert lines(out, "created") == sorted(created), out
    assert "scram-set alice" in run_java("Acls", "scram-set", c.nodes[1].bootstrap, "alice", "SCRAM-SHA-256", "pw", "4096")
    # The controller checks what it is asked, as Kafka's.
    out = run_java("Acls", "add", c.nodes[1].bootstrap, acl("CLUSTER", "LITERAL", "other", ANON, "ALTER"))
    assert error_of(out) == "InvalidRequestException"
    out = run_java("Acls", "scram-set", c.nodes[2].bootstrap, "bob", "SCRAM-SHA-512", "pw", "100")
    assert error_of(out) == "UnacceptableCredentialException"
    out = run_java("Acls", "scram-delete", c.nodes[2].bootstrap, "bob", "SCRAM-SHA-512")
    assert error_of(out) == "ResourceNotFoundException"

    def every_node_lists(want):
        return all(lines(run_java("Acls", "list", n.bootstrap), "acl") == want for n in c.nodes)

    wait_until(lambda: every_node_lists(sorted(created)), timeout=30, interval=0.5,
               what="every node to list the ACLs")

    for n in c.nodes:
        del n.overrides["super.users"]
    c.stop()
    c.start()
    # Kept in the metadata log, on every node after a restart of the whole cluster.
    assert every_node_lists(sorted(created))
    for n in c.nodes:
        assert lines(run_java("Acls", "scram-list", n.bootstrap), "scram") == ["alice SCRAM-SHA-256 4096"]

    # Denied, allowed (acks=all: the followers replicate with ClusterAction), denied again.
    assert error_of(run_java("Acls", "produce", c.bootstrap, "repl", "v1")) == "TopicAuthorizationException"
    write = acl("TOPIC", "LITERAL", "repl", ANON, "WRITE")
    assert lines(run_java("Acls", "add", c.nodes[2].bootstrap, write), "created") == [write]
    out = run_java("Acls", "produce", c.bootstrap, "repl", "v1", "idempotent")
    assert lines(out, "produced") == ["0"], out
    out = run_java("Acls", "remove", c.nodes[1].bootstrap, f"TOPIC|ANY|repl|{ANON}||ANY|ANY")
    assert lines(out, "removed") == [write]
    wait_until(lambda: error_or_none(run_java("Acls", "produce", c.bootstrap, "repl", "v2"))
               == "TopicAuthorizationException",
               timeout=30, interval=0.5, what="every node to refuse the write again")
    # Removing alice's ACLs from one node removes them everywhere.
    out = run_java("Acls", "remove", c.nodes[0].bootstrap, ANY_ALICE)
    assert lines(out, "removed") == sorted(a for a in ALICE_ACLS if "|User:alice|" in a)
    left = sorted([*ADMIN_ACLS, brokers, *(a for a in ALICE_ACLS if "|User:alice|" not in a)])
    wait_until(lambda: every_node_lists(left), timeout=30, interval=0.5,
               what="every node to drop alice's ACLs")
