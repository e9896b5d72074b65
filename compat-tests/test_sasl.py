"""SASL with real clients: Java kafka-clients, confluent-kafka, kafka-python, kcat and aiokafka
authenticate on SASL_PLAINTEXT and SASL_SSL listeners (PLAIN from the listener's JAAS users,
SCRAM-SHA-256/512 from credentials set through the Admin API, OAUTHBEARER with unsecured
tokens) and produce, consume and commit in a group; wrong passwords are refused with Kafka's
error and nothing else is harmed; re-authentication, SASL principals under ACLs, and brokers
logging in to each other in a cluster."""
import base64
import json
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka.sasl.oauth import AbstractTokenProvider

from certs import make_pki
from conftest import (KCAT, Broker, _fail_on_panics, free_port, needs_kcat, produce_error,
                      wait_until)

PROTOCOLS = ["SASL_PLAINTEXT", "SASL_SSL"]

PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" '
              'user_admin="admin-secret" user_alice="alice-secret";')


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def sasl_broker(tmp_path, request, pki):
    """Factory: a fjord with a PLAINTEXT listener (its readiness port), a SASL_PLAINTEXT and a
    SASL_SSL listener whose PLAIN users are admin and alice. `b.sasl` / `b.sasl_ssl` are their
    bootstraps, `b.at(protocol)` either."""
    started = []
    request.node._fjord_brokers = started

    def _start(extra=None):
        plain_port, sasl_port, ssl_port = free_port(), free_port(), free_port()
        overrides = {
            "listeners": f"PLAINTEXT://127.0.0.1:{plain_port},SASL_PLAINTEXT://127.0.0.1:{sasl_port},"
                         f"SASL_SSL://127.0.0.1:{ssl_port}",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
            "listener.name.sasl_ssl.plain.sasl.jaas.config": PLAIN_JAAS,
            **pki.broker_keys(listener="SASL_SSL"),
            **(extra or {}),
        }
        b = Broker(tmp_path / f"data{len(started)}", port=plain_port, overrides=overrides,
                   name=f"fjord{len(started)}")
        started.append(b)
        b.start()
        b.sasl = f"127.0.0.1:{sasl_port}"
        b.sasl_ssl = f"127.0.0.1:{ssl_port}"
        b.at = lambda protocol: b.sasl_ssl if protocol == "SASL_SSL" else b.sasl
        return b

    yield _start
    for b in started:
        b.stop()
    _fail_on_panics(started)


def librdkafka_plain(user="alice", password="alice-secret"):
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
            "sasl.username": user, "sasl.password": password}


def librdkafka_sasl(pki, protocol, mechanism, user, password):
    conf = {"security.protocol": protocol, "sasl.mechanisms": mechanism,
            "sasl.username": user, "sasl.password": password}
    if protocol == "SASL_SSL":
        conf["ssl.ca.location"] = str(pki.ca)
    return conf


def kafka_python_sasl(pki, protocol, mechanism, user, password):
    conf = dict(security_protocol=protocol, sasl_mechanism=mechanism,
                sasl_plain_username=user, sasl_plain_password=password)
    if protocol == "SASL_SSL":
        conf["ssl_cafile"] = str(pki.ca)
    return conf


def java_sasl(pki, protocol, mechanism, jaas):
    settings = [f"security.protocol={protocol}", f"sasl.mechanism={mechanism}", f"sasl.jaas.config={jaas}"]
    if protocol == "SASL_SSL":
        settings += ["ssl.truststore.type=PEM", f"ssl.truststore.location={pki.ca}"]
    return settings


def kcat_sasl(pki, protocol, mechanism, user, password):
    return [arg for k, v in librdkafka_sasl(pki, protocol, mechanism, user, password).items()
            for arg in ("-X", f"{k}={v}")]


def first_authentication_error(bootstrap, conf):
    """A librdkafka producer's first _AUTHENTICATION error (its error_cb runs from poll())."""
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, **conf, "error_cb": errors.append})

    def found():
        p.poll(0.1)
        return next((e for e in errors if e.code() == KafkaError._AUTHENTICATION), None)

    return wait_until(found, 20, what="an authentication error")


def confluent_round_trip(bootstrap, topic, settings, n=10):
    """Create, produce n, consume them in a group and commit; returns [(offset, value)]."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **settings})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, **settings})
    delivered = []
    for i in range(n):
        p.produce(topic, f"v{i}".encode(), on_delivery=lambda e, m: delivered.append((e, m.offset())))
    assert p.flush(30) == 0
    assert [d for d in delivered if d[0] is not None] == []
    assert sorted(o for _, o in delivered) == list(range(n))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-g",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, **settings})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append((m.offset(), m.value().decode()))
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition(topic, 0)], 10)
    c.close()
    assert committed[0].offset == n
    return got


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_confluent_plain_produce_consume_group(sasl_broker, pki, protocol):
    b = sasl_broker()
    conf = librdkafka_sasl(pki, protocol, "PLAIN", "alice", "alice-secret")
    got = confluent_round_trip(b.at(protocol), "sasl-confluent", conf)
    assert got == [(i, f"v{i}") for i in range(10)]


def test_confluent_wrong_password_is_refused_and_others_carry_on(sasl_broker):
    b = sasl_broker({"connection.failed.authentication.delay.ms": "0"})
    msg = first_authentication_error(b.sasl, librdkafka_plain(password="wrong")).str()
    assert "Authentication failed: Invalid username or password" in msg, msg
    # A good client on the same listener is not affected.
    got = confluent_round_trip(b.sasl, "sasl-after-bad", librdkafka_plain("admin", "admin-secret"), n=3)
    assert got == [(0, "v0"), (1, "v1"), (2, "v2")]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_kafka_python_plain(sasl_broker, pki, protocol):
    b = sasl_broker()
    conf = kafka_python_sasl(pki, protocol, "PLAIN", "alice", "alice-secret")
    p = KafkaProducer(bootstrap_servers=b.at(protocol), **conf)
    offsets = [p.send("sasl-kp", f"m{i}".encode()).get(30).offset for i in range(5)]
    p.close()
    assert offsets == [0, 1, 2, 3, 4]
    c = KafkaConsumer("sasl-kp", bootstrap_servers=b.at(protocol), group_id="sasl-kp-g",
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=15000, **conf)
    got = []
    for m in c:
        got.append((m.offset, m.value.decode()))
        if len(got) == 5:
            break
    c.commit()
    c.close()
    assert got == [(i, f"m{i}") for i in range(5)]


def test_kafka_python_wrong_password(sasl_broker, caplog):
    from kafka.errors import KafkaError as KPError
    b = sasl_broker()
    with pytest.raises(KPError):
        p = KafkaProducer(bootstrap_servers=b.sasl, security_protocol="SASL_PLAINTEXT",
                          sasl_mechanism="PLAIN", sasl_plain_username="alice",
                          sasl_plain_password="wrong", api_version_auto_timeout_ms=5000,
                          max_block_ms=5000)
        p.send("x", b"v").get(10)
    # kafka-python reports the broker's SASL_AUTHENTICATION_FAILED (58) and its message.
    assert "[Error 58] SaslAuthenticationFailedError: Authentication failed: Invalid username or password" \
        in caplog.text, caplog.text[-2000:]


@needs_kcat
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_kcat_plain(sasl_broker, pki, protocol):
    b = sasl_broker()
    sasl = kcat_sasl(pki, protocol, "PLAIN", "alice", "alice-secret")
    lines = [f"line-{i}" for i in range(7)]
    r = subprocess.run([KCAT, "-b", b.at(protocol), *sasl, "-P", "-t", "sasl-kcat", "-p", "0"],
                       input=("\n".join(lines) + "\n").encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([KCAT, "-b", b.at(protocol), *sasl, "-C", "-t", "sasl-kcat", "-o", "beginning",
                        "-e", "-q", "-f", "%o %s\\n"], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [f"{i} line-{i}" for i in range(7)]
    # Wrong password: kcat fails with the broker's message.
    bad = kcat_sasl(pki, protocol, "PLAIN", "alice", "nope")
    r = subprocess.run([KCAT, "-b", b.at(protocol), *bad, "-L", "-m", "5"], capture_output=True, timeout=30)
    assert r.returncode != 0
    assert b"Invalid username or password" in r.stderr, r.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_java_plain_produce_consume_group(sasl_broker, pki, run_java, protocol):
    b = sasl_broker()
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
            'username="alice" password="alice-secret";')
    out = run_java("SecureClients", b.at(protocol), "sasl-java", 6, "sasl-java-g",
                   *java_sasl(pki, protocol, "PLAIN", jaas))
    lines = out.splitlines()
    assert [l for l in lines if l.startswith("consumed")] == [f"consumed {i} v{i}" for i in range(6)]
    assert "committed 6" in lines
    bad = jaas.replace("alice-secret", "nope")
    out = run_java("SecureClients", "--expect-auth-failure", b.at(protocol),
                   *java_sasl(pki, protocol, "PLAIN", bad))
    assert "AUTH FAILED: Authentication failed: Invalid username or password" in out, out


def test_plaintext_client_on_a_sasl_port_is_closed_and_harms_nobody(sasl_broker):
    b = sasl_broker()
    errors = []
    p = Producer({"bootstrap.servers": b.sasl, "error_cb": errors.append,
                  "socket.timeout.ms": 5000, "message.timeout.ms": 5000})
    p.produce("nope", b"x")
    p.flush(8)
    assert errors, "a client that skips SASL gets no service"
    got = confluent_round_trip(b.sasl, "sasl-still-fine", librdkafka_plain(), n=2)
    assert got == [(0, "v0"), (1, "v1")]
    assert "before SASL authentication" in b.stderr_tail(500)


# --- OAUTHBEARER (unsecured tokens, for local development) ------------------------------

def unsecured_jwt(sub, lifetime_s=3600):
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    now = time.time()
    return f"{b64({'alg': 'none'})}.{b64({'sub': sub, 'iat': now, 'exp': now + lifetime_s})}."


def test_java_oauthbearer_unsecured_login(sasl_broker, run_java):
    b = sasl_broker()
    jaas = ('org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required '
            'unsecuredLoginStringClaim_sub="carol";')
    out = run_java("SecureClients", b.sasl, "oauth-java", 4, "oauth-java-g",
                   "security.protocol=SASL_PLAINTEXT", "sasl.mechanism=OAUTHBEARER",
                   f"sasl.jaas.config={jaas}")
    lines = out.splitlines()
    assert [l for l in lines if l.startswith("consumed")] == [f"consumed {i} v{i}" for i in range(4)]


def test_confluent_oauthbearer_unsecured_jwt(sasl_broker):
    b = sasl_broker()
    conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "OAUTHBEARER",
            "enable.sasl.oauthbearer.unsecure.jwt": True,
            "sasl.oauthbearer.config": "principal=dave"}
    got = confluent_round_trip(b.sasl, "oauth-confluent", conf, n=3)
    assert got == [(0, "v0"), (1, "v1"), (2, "v2")]


def test_kafka_python_oauthbearer_and_an_expired_token(sasl_broker):
    b = sasl_broker()

    class Provider(AbstractTokenProvider):
        def __init__(self, lifetime):
            self.lifetime = lifetime

        def token(self):
            return unsecured_jwt("erin", self.lifetime)

    conf = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="OAUTHBEARER")
    p = KafkaProducer(bootstrap_servers=b.sasl, sasl_oauth_token_provider=Provider(3600), **conf)
    assert [p.send("oauth-kp", b"x").get(30).offset for _ in range(3)] == [0, 1, 2]
    p.close()
    from kafka.errors import KafkaError as KPError
    with pytest.raises(KPError):
        KafkaProducer(bootstrap_servers=b.sasl, sasl_oauth_token_provider=Provider(-60),
                      api_version_auto_timeout_ms=10000, max_block_ms=10000,
                      **conf).send("oauth-kp", b"y").get(10)


def test_secrets_are_never_shown(sasl_broker):
    """DescribeConfigs reports the JAAS config (and every password key) as sensitive with no
    value, as Kafka does; the broker's own log never carries a password."""
    from confluent_kafka.admin import ConfigResource, ResourceType
    b = sasl_broker({"ssl.key.password": "key-secret"})
    admin = AdminClient({"bootstrap.servers": b.sasl, **librdkafka_plain("admin", "admin-secret")})
    res = ConfigResource(ResourceType.BROKER, "1")
    configs = admin.describe_configs([res])[res].result(30)
    jaas = configs["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
    assert (jaas.is_sensitive, jaas.value) == (True, None)
    key_pw = configs["ssl.key.password"]
    assert (key_pw.is_sensitive, key_pw.value) == (True, None)
    assert configs["sasl.enabled.mechanisms"].is_sensitive is False
    assert configs["sasl.enabled.mechanisms"].value == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
    # A failed login too: the log names the user's failure, not what was typed.
    bad = Producer({"bootstrap.servers": b.sasl, **librdkafka_plain("alice", "typed-secret")})
    bad.poll(1)
    wait_until(lambda: "authentication failed" in b.stderr_tail(500), 10, what="the failure logged")
    log = [l for l in b.stderr_tail(5000).splitlines() if not l.startswith("=====")]
    for secret in ("admin-secret", "alice-secret", "key-secret", "typed-secret"):
        assert not [l for l in log if secret in l], secret


# --- SCRAM (credentials in the metadata, set through the Admin API) ---------------------

def add_scram_users(bootstrap, users):
    """As kafka-configs.sh --entity-type users --alter --add-config 'SCRAM-SHA-256=[...]' does:
    AlterUserScramCredentials through the Admin API. users: [(name, mechanism, password)]."""
    from confluent_kafka.admin import (ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)
    mechs = {"SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256,
             "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    upserts = [UserScramCredentialUpsertion(u, ScramCredentialInfo(mechs[m], 4096), pw.encode())
               for u, m, pw in users]
    for f in admin.alter_user_scram_credentials(upserts).values():
        f.result(30)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_with_every_client(sasl_broker, pki, run_java, mechanism, protocol):
    b = sasl_broker()
    at = b.at(protocol)
    add_scram_users(b.bootstrap, [("sam", mechanism, "sam-pw"), ("sue", mechanism, "sue-pw")])
    tag = mechanism[-3:]
    # confluent-kafka (librdkafka)
    conf = librdkafka_sasl(pki, protocol, mechanism, "sam", "sam-pw")
    assert confluent_round_trip(at, f"scram-c-{tag}", conf, n=3) == [(0, "v0"), (1, "v1"), (2, "v2")]
    # kafka-python
    kp = kafka_python_sasl(pki, protocol, mechanism, "sue", "sue-pw")
    p = KafkaProducer(bootstrap_servers=at, **kp)
    assert [p.send(f"scram-kp-{tag}", f"m{i}".encode()).get(30).offset for i in range(3)] == [0, 1, 2]
    p.close()
    c = KafkaConsumer(f"scram-kp-{tag}", bootstrap_servers=at, group_id=f"scram-kp-{tag}",
                      auto_offset_reset="earliest", consumer_timeout_ms=15000, **kp)
    got = []
    for m in c:
        got.append(m.value.decode())
        if len(got) == 3:
            break
    c.close()
    assert got == ["m0", "m1", "m2"]
    # kcat
    if KCAT:
        sasl = kcat_sasl(pki, protocol, mechanism, "sam", "sam-pw")
        r = subprocess.run([KCAT, "-b", at, *sasl, "-C", "-t", f"scram-c-{tag}", "-o",
                            "beginning", "-e", "-q", "-f", "%o %s\\n"], capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().splitlines() == ["0 v0", "1 v1", "2 v2"]
        bad = kcat_sasl(pki, protocol, mechanism, "sam", "wrong")
        r = subprocess.run([KCAT, "-b", at, *bad, "-L", "-m", "5"], capture_output=True, timeout=30)
        assert r.returncode != 0
    # Java
    jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            'username="sam" password="sam-pw";')
    out = run_java("SecureClients", at, f"scram-java-{tag}", 4, f"scram-java-{tag}",
                   *java_sasl(pki, protocol, mechanism, jaas))
    assert [l for l in out.splitlines() if l.startswith("consumed")] == \
        [f"consumed {i} v{i}" for i in range(4)]
    out = run_java("SecureClients", "--expect-auth-failure", at,
                   *java_sasl(pki, protocol, mechanism, jaas.replace("sam-pw", "wrong")))
    assert f"invalid credentials with SASL mechanism {mechanism}" in out, out


def test_scram_credentials_survive_a_restart_and_other_mechanisms_do_not_log_in(sasl_broker):
    b = sasl_broker()
    add_scram_users(b.bootstrap, [("ron", "SCRAM-SHA-512", "ron-pw")])
    b.restart()
    conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": "ron", "sasl.password": "ron-pw"}
    assert confluent_round_trip(b.sasl, "scram-restart", conf, n=2) == [(0, "v0"), (1, "v1")]
    # Only a SHA-512 credential exists: SHA-256 fails.
    first_authentication_error(b.sasl, {**conf, "sasl.mechanisms": "SCRAM-SHA-256"})


def sasl_cluster(start_cluster, **keys):
    """A started 3-node cluster with a SASL_PLAINTEXT listener on every node (PLAIN users of
    PLAIN_JAAS unless keys say otherwise); returns it and the SASL bootstrap, {node id: port}."""
    cluster = start_cluster(start=False)
    sasl_ports = {}
    for node in cluster.nodes:
        sasl_ports[node.node_id] = free_port()
        node.overrides.update({
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port},"
                         f"SASL_PLAINTEXT://127.0.0.1:{sasl_ports[node.node_id]}",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
            **keys,
        })
    cluster.start()
    return cluster, ",".join(f"127.0.0.1:{p}" for p in sasl_ports.values()), sasl_ports


def test_sasl_in_a_cluster(start_cluster):
    """Three nodes with a SASL_PLAINTEXT listener each: clients bootstrapped there are told
    every broker's SASL address, and produce (RF=3, acks=all), consume and commit as alice."""
    from confluent_kafka.admin import AdminClient as Admin
    cluster, bootstrap, sasl_ports = sasl_cluster(start_cluster)
    conf = librdkafka_plain()
    md = Admin({"bootstrap.servers": bootstrap, **conf}).list_topics(timeout=20)
    assert {b.id: b.port for b in md.brokers.values()} == sasl_ports
    admin = Admin({"bootstrap.servers": bootstrap, **conf})
    admin.create_topics([NewTopic("sasl-rf3", 1, 3)])["sasl-rf3"].result(30)
    cluster.wait_leaders("sasl-rf3", 1)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", **conf})
    delivered = []
    for i in range(20):
        p.produce("sasl-rf3", f"r{i}".encode(), on_delivery=lambda e, m: delivered.append((e, m.offset())))
    assert p.flush(30) == 0
    assert sorted(o for e, o in delivered if e is None) == list(range(20))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sasl-rf3-g",
                  "auto.offset.reset": "earliest", **conf})
    c.subscribe(["sasl-rf3"])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 20 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append((m.offset(), m.value().decode()))
    c.commit(asynchronous=False)
    c.close()
    assert got == [(i, f"r{i}") for i in range(20)]


def test_clients_reauthenticate_on_the_same_connection(sasl_broker, monkeypatch):
    """KIP-368: with connections.max.reauth.ms, librdkafka and Java re-authenticate before
    their session ends and keep working; nothing is lost or duplicated meanwhile."""
    monkeypatch.setenv("FJORD_LOG", "info,fjord::api::sasl=debug")
    b = sasl_broker({"connections.max.reauth.ms": "1500"})
    conf = librdkafka_plain()
    admin = AdminClient({"bootstrap.servers": b.sasl, **conf})
    admin.create_topics([NewTopic("reauth", 1, 1)])["reauth"].result(30)
    p = Producer({"bootstrap.servers": b.sasl, "linger.ms": 0, **conf})
    delivered = []
    sent = 0

    def reauths():
        return b.stderr_tail(100000).count("SASL re-authenticated")

    # Keep producing until the broker has seen re-authentications of the client's connections
    # over more than one session length.
    deadline = time.monotonic() + 30
    while reauths() < 4 and time.monotonic() < deadline:
        p.produce("reauth", f"r{sent}".encode(), on_delivery=lambda e, m: delivered.append(e))
        sent += 1
        p.poll(0.05)
    assert p.flush(30) == 0
    assert reauths() >= 4, b.stderr_tail(40)
    assert delivered == [None] * sent
    got = consume_values(b.sasl, "reauth", sent, conf)
    assert got == [f"r{i}" for i in range(sent)]
    assert "session expired" not in b.stderr_tail(100000)


def consume_values(bootstrap, topic, n, conf):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader",
                  "auto.offset.reset": "earliest", **conf})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value().decode())
    c.close()
    return got


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_aiokafka_sasl(sasl_broker, mechanism):
    import asyncio
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    b = sasl_broker()
    if mechanism.startswith("SCRAM"):
        add_scram_users(b.bootstrap, [("alice", mechanism, "alice-secret")])
    conf = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
                sasl_plain_username="alice", sasl_plain_password="alice-secret")
    topic = f"aio-sasl-{mechanism.lower()}"

    async def main():
        producer = AIOKafkaProducer(bootstrap_servers=b.sasl, **conf)
        await producer.start()
        try:
            metas = [await producer.send_and_wait(topic, b"a%d" % i) for i in range(5)]
        finally:
            await producer.stop()
        assert [m.offset for m in metas] == [0, 1, 2, 3, 4]
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=b.sasl, group_id=f"{topic}-g",
                                    auto_offset_reset="earliest", **conf)
        await consumer.start()
        got = []
        try:
            while len(got) < 5:
                for _tp, msgs in (await consumer.getmany(timeout_ms=1000)).items():
                    got += [(m.offset, m.value) for m in msgs]
            await consumer.commit()
        finally:
            await consumer.stop()
        assert got == [(i, b"a%d" % i) for i in range(5)]

    asyncio.run(asyncio.wait_for(main(), 60))


# --- SASL principals and ACLs --------------------------------------------------------------

def test_sasl_users_are_the_principals_acls_name(sasl_broker, run_java):
    """User:alice (PLAIN) and User:sam (SCRAM) are what ACLs match: each is denied, allowed by
    an ACL created by the super user admin, and denied again once it is deleted."""
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,
                                       AclPermissionType, ResourcePatternType, ResourceType)
    b = sasl_broker({"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                     "super.users": "User:admin"})
    admin_conf = librdkafka_plain("admin", "admin-secret")
    admin = AdminClient({"bootstrap.servers": b.sasl, **admin_conf})
    admin.create_topics([NewTopic("secured", 1, 1), NewTopic("team-a.events", 1, 1)])["secured"].result(30)
    # The SCRAM user is created by the super user over SASL (ANONYMOUS on PLAINTEXT may not).
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
    for f in admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
            "sam", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"sam-pw")]).values():
        f.result(30)
    sam_conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
                "sasl.username": "sam", "sasl.password": "sam-pw"}

    def write_error(conf, topic):
        return produce_error(b.sasl, topic, conf)

    assert write_error(librdkafka_plain(), "secured") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert write_error(sam_conf, "team-a.events") == KafkaError.TOPIC_AUTHORIZATION_FAILED

    bindings = [
        AclBinding(ResourceType.TOPIC, "secured", ResourcePatternType.LITERAL, "User:alice", "*",
                   AclOperation.WRITE, AclPermissionType.ALLOW),
        AclBinding(ResourceType.TOPIC, "team-a.", ResourcePatternType.PREFIXED, "User:sam", "*",
                   AclOperation.WRITE, AclPermissionType.ALLOW),
    ]
    for f in admin.create_acls(bindings).values():
        f.result(30)
    assert write_error(librdkafka_plain(), "secured") is None
    assert write_error(sam_conf, "team-a.events") is None
    # alice's ACL is hers alone: sam still may not write "secured".
    assert write_error(sam_conf, "secured") == KafkaError.TOPIC_AUTHORIZATION_FAILED

    flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, "User:alice", None,
                           AclOperation.ANY, AclPermissionType.ANY)
    deleted = admin.delete_acls([flt])[flt].result(30)
    assert [(d.name, d.principal) for d in deleted] == [("secured", "User:alice")]
    assert write_error(librdkafka_plain(), "secured") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert write_error(sam_conf, "team-a.events") is None


def test_brokers_log_in_to_each_other_over_sasl(start_cluster):
    """inter.broker.listener.name=SASL_PLAINTEXT: followers fetch and coordinators send
    markers as User:broker (PLAIN or SCRAM-SHA-256, the JAAS username/password); with an
    authorizer, super.users names that user and no ACL for ANONYMOUS is needed. acks=all with
    min.insync.replicas=3 succeeds only if both followers replicate over their SASL login."""
    from confluent_kafka.admin import AdminClient as Admin
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
            'username="broker" password="broker-pw" user_broker="broker-pw" '
            'user_admin="admin-secret" user_alice="alice-secret";')
    cluster, bootstrap, _ = sasl_cluster(start_cluster, **{
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:broker;User:admin",
    })
    admin = Admin({"bootstrap.servers": bootstrap, **librdkafka_plain("admin", "admin-secret")})
    admin.create_topics([NewTopic("isr3", 1, 3, config={"min.insync.replicas": "3"})])["isr3"].result(30)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                  **librdkafka_plain("admin", "admin-secret")})
    delivered = []
    for i in range(10):
        p.produce("isr3", f"x{i}".encode(), on_delivery=lambda e, m: delivered.append((e, m.offset())))
    assert p.flush(60) == 0
    assert delivered == [(None, i) for i in range(10)], delivered
    logs = "\n".join(n.stderr_tail(100000) for n in cluster.nodes)
    assert "login to" not in logs, "an inter-broker SASL login failed"


def test_the_security_quick_start(tmp_path, pki):
    """docs/security.md's "In a few lines", as written: PLAINTEXT for tools, SASL_SSL for the
    application, a SCRAM user made as kafka-configs.sh does, a prefixed ACL as kafka-acls.sh
    does; alice writes orders* and nothing else."""
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType,
                                       ResourcePatternType, ResourceType)
    plain_port, ssl_port = free_port(), free_port()
    b = Broker(tmp_path / "data", port=plain_port, overrides={
        "listeners": f"PLAINTEXT://127.0.0.1:{plain_port},SASL_SSL://127.0.0.1:{ssl_port}",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.broker.pem),
        "listener.name.sasl_ssl.plain.sasl.jaas.config":
            'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";',
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin;User:ANONYMOUS",
    })
    try:
        b.start()
        add_scram_users(b.bootstrap, [("alice", "SCRAM-SHA-512", "alice-secret")])
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        binding = AclBinding(ResourceType.TOPIC, "orders", ResourcePatternType.PREFIXED, "User:alice",
                             "*", AclOperation.WRITE, AclPermissionType.ALLOW)
        admin.create_acls([binding])[binding].result(30)
        for f in admin.create_topics([NewTopic("orders-eu", 1, 1), NewTopic("payments", 1, 1)]).values():
            f.result(30)
        conf = librdkafka_sasl(pki, "SASL_SSL", "SCRAM-SHA-512", "alice", "alice-secret")

        app = f"127.0.0.1:{ssl_port}"
        assert produce_error(app, "orders-eu", conf) is None
        assert produce_error(app, "payments", conf) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        b.stop()
        _fail_on_panics([b])
