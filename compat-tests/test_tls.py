"""TLS listeners (SSL): real clients over a TLS port of a real fjord, mutual TLS and the
principal of a client certificate, keystore formats, start-up errors, and bad input on the TLS
port. Each broker has a PLAINTEXT listener (the readiness check and a witness that other
connections keep working) and an SSL one; certificates come from certs.py (openssl CLI).

Until ACLs land, the principal of a connection is checked through the broker's debug line
"TLS connection established, principal User:...".
"""
import re
import socket
import ssl
import subprocess
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition

import wire
from certs import make_pki
from conftest import (FJORD_BIN, GROUP_OVERRIDES, KCAT, Broker, _fail_on_panics, consume_assigned,
                      free_port, needs_kcat, produce, produce_error, wait_until)

DEBUG_SERVER_LOG = "info,fjord::server=debug"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_broker(tmp_path, request, pki, monkeypatch):
    """Factory: tls_broker(extra_keys) -> a started Broker with PLAINTEXT on .port and SSL on
    .ssl_port (.ssl_bootstrap), the broker certificate as a PEM keystore, and fjord::server at
    debug level (the principal line)."""
    monkeypatch.setenv("FJORD_LOG", DEBUG_SERVER_LOG)
    brokers = []
    request.node._fjord_brokers = brokers

    def _start(extra=None, keys=None):
        port, ssl_port = free_port(), free_port()
        overrides = {"listeners": f"PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port}",
                     **(pki.broker_keys() if keys is None else keys), **(extra or {})}
        b = Broker(tmp_path / f"data{len(brokers)}", port=port, overrides=overrides,
                   name=f"fjord{len(brokers)}")
        b.ssl_port = ssl_port
        b.ssl_bootstrap = f"127.0.0.1:{ssl_port}"
        brokers.append(b)
        b.start()
        # Every listener is bound before any accepts, but be sure (the probe's close is a
        # debug line, not a failed handshake).
        wait_until(lambda: socket.create_connection(("127.0.0.1", ssl_port), timeout=1).close() or True,
                   what="the SSL port to accept")
        return b

    yield _start
    for b in brokers:
        b.stop()
    _fail_on_panics(brokers)


def principal_logged(broker, principal):
    line = f"TLS connection established, principal {principal} "
    return wait_until(lambda: line in broker.stderr_tail(100000), timeout=10,
                      what=f"the broker to log {line!r}")


def log_lines(broker):
    """The broker's own log lines (conftest's start line shows the command line, secrets too)."""
    return [l for l in broker.stderr_tail(100000).splitlines() if re.match(r"\d{4}-\d\d-\d\dT", l)]


def ssl_admin(broker, conf):
    return AdminClient({"bootstrap.servers": broker.ssl_bootstrap, **conf})


def create_topic_ssl(broker, conf, name, partitions=1):
    admin = ssl_admin(broker, conf)  # kept alive until the futures complete
    futs = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                               operation_timeout=10)
    for f in futs.values():
        f.result(timeout=15)


def tls_refused(broker, conf, timeout=4):
    """True if a librdkafka client with conf gets no metadata over the SSL port."""
    try:
        ssl_admin(broker, {**conf, "socket.timeout.ms": 2000}).list_topics(timeout=timeout)
    except KafkaException:
        return True
    return False


def raw_tls(port, ca, cert=None, key=None):
    """A Python ssl connection to the SSL port (handshake done), verifying the broker."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname="localhost")


def api_versions_over(sock):
    """ApiVersions v0 over an open socket (TLS or not); the error code of the answer."""
    req = b"\x00\x12\x00\x00\x00\x00\x00\x07\x00\x04test"
    sock.sendall(len(req).to_bytes(4, "big") + req)
    size = int.from_bytes(_recv_exact(sock, 4), "big")
    body = _recv_exact(sock, size)
    assert body[:4] == b"\x00\x00\x00\x07", body[:4]
    return int.from_bytes(body[4:6], "big")


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)}/{n} bytes")
        buf += chunk
    return buf


# --- clients over SSL --------------------------------------------------------------------------

def test_confluent_kafka_produce_consume_over_ssl(tls_broker, pki):
    b = tls_broker()
    conf = pki.librdkafka()
    md = ssl_admin(b, conf).list_topics(timeout=10)
    # The SSL listener advertises itself, not the PLAINTEXT one.
    assert [(x.host, x.port) for x in md.brokers.values()] == [("127.0.0.1", b.ssl_port)]
    create_topic_ssl(b, conf, "tls-ck")
    n = 500
    values = [b"value-%d-" % i + b"z" * (i % 70) for i in range(n)]
    keys = [b"k%d" % i for i in range(n)]
    reports = produce(b.ssl_bootstrap, "tls-ck", values, keys, **conf)
    assert [(e, p, o) for e, p, o, _, _ in reports] == [(None, 0, i) for i in range(n)]
    got = consume_assigned(b.ssl_bootstrap, "tls-ck", n, **conf)
    assert got == [(0, i, keys[i], values[i]) for i in range(n)]
    # The same records over PLAINTEXT: one log behind both listeners.
    assert consume_assigned(b.bootstrap, "tls-ck", n) == got
    principal_logged(b, "User:ANONYMOUS")


def test_kafka_python_over_ssl_with_per_listener_keys(tls_broker, pki):
    # The keystore keys only as listener.name.ssl.* overrides.
    b = tls_broker(keys=pki.broker_keys(listener="SSL"))
    conf = pki.kafka_python()
    prod = KafkaProducer(bootstrap_servers=b.ssl_bootstrap, linger_ms=5, acks="all", **conf)
    n = 300
    futs = [prod.send("tls-kp", key=b"k%d" % i, value=b"v%d" % i, partition=0) for i in range(n)]
    prod.flush(30)
    assert [(f.get(timeout=30).partition, f.get(timeout=30).offset) for f in futs] == [(0, i) for i in range(n)]
    prod.close()
    cons = KafkaConsumer(bootstrap_servers=b.ssl_bootstrap, enable_auto_commit=False,
                         consumer_timeout_ms=10000, **conf)
    tp = KTopicPartition("tls-kp", 0)
    cons.assign([tp])
    cons.seek_to_beginning(tp)
    got = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        for recs in cons.poll(timeout_ms=500).values():
            got += [(r.offset, r.key, r.value) for r in recs]
    cons.close()
    assert got == [(i, b"k%d" % i, b"v%d" % i) for i in range(n)]


@needs_kcat
def test_kcat_over_ssl(tls_broker, pki):
    b = tls_broker()
    x = [a for k, v in pki.librdkafka().items() for a in ("-X", f"{k}={v}")]

    def kcat(*args, stdin=None):
        r = subprocess.run([KCAT, "-b", b.ssl_bootstrap, *x, *args], input=stdin, capture_output=True, timeout=30)
        assert r.returncode == 0, f"kcat {args} exited {r.returncode}: {r.stderr.decode(errors='replace')}"
        return r.stdout.decode()

    wire.create_topic(b.port, "tls-kc")
    assert f"at 127.0.0.1:{b.ssl_port}" in kcat("-L")
    lines = [f"line {i} " + "q" * (i % 17) for i in range(200)]
    kcat("-P", "-t", "tls-kc", "-p", "0", stdin=("\n".join(lines) + "\n").encode())
    out = kcat("-C", "-t", "tls-kc", "-o", "beginning", "-e", "-q", "-f", "%p %o %s\\n")
    assert out.splitlines() == [f"0 {i} {l}" for i, l in enumerate(lines)]


def test_java_client_over_ssl_with_pem_truststore(tls_broker, pki, run_java):
    b = tls_broker(GROUP_OVERRIDES)
    sec = [f"{k}={v}" for k, v in pki.java().items()]
    out = run_java("TlsClients", b.ssl_bootstrap, "tls-java", 1000, *sec)
    assert out.strip().splitlines()[-1] == "OK"
    # Everything the Java clients wrote is there, seen over PLAINTEXT.
    got = consume_assigned(b.bootstrap, "tls-java", 1000)
    assert [(o, k) for _, o, k, _ in got] == [(i, b"key-%d" % i) for i in range(1000)]


def test_consumer_group_over_ssl(tls_broker, pki):
    b = tls_broker(GROUP_OVERRIDES)
    conf = pki.librdkafka()
    create_topic_ssl(b, conf, "tls-group", partitions=4)
    members = [Consumer({"bootstrap.servers": b.ssl_bootstrap, "group.id": "tls-g", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, **conf}) for _ in range(2)]
    for c in members:
        c.subscribe(["tls-group"])

    early = []

    def both_assigned():
        for c in members:
            early.extend(c.consume(num_messages=1, timeout=0.1))
        parts = [{tp.partition for tp in c.assignment()} for c in members]
        return all(parts) and set().union(*parts) == {0, 1, 2, 3} and not parts[0] & parts[1]

    wait_until(both_assigned, timeout=30, what="the two members to share the 4 partitions")
    assert not early, [m.error() or m.value() for m in early]
    n = 400
    values = [b"g%d" % i for i in range(n)]
    produce(b.ssl_bootstrap, "tls-group", values, keys=[b"key%d" % (i % 29) for i in range(n)], **conf)
    seen = {}
    try:
        deadline = time.monotonic() + 60
        while len(seen) < n and time.monotonic() < deadline:
            for i, c in enumerate(members):
                for m in c.consume(num_messages=100, timeout=0.2):
                    assert not m.error(), m.error()
                    assert (m.partition(), m.offset()) not in seen, "record delivered twice"
                    seen[(m.partition(), m.offset())] = (i, m.value())
        assert sorted(v for _, v in seen.values()) == sorted(values)
        # Both members got partitions.
        assert {i for i, _ in seen.values()} == {0, 1}
        for c in members:
            c.commit(asynchronous=False)
        ends = {p: 1 + max(o for (pp, o) in seen if pp == p) for p in {p for p, _ in seen}}
    finally:
        for c in members:
            c.close()
    check = Consumer({"bootstrap.servers": b.ssl_bootstrap, "group.id": "tls-g", **conf})
    committed = check.committed([TopicPartition("tls-group", p) for p in range(4)], timeout=10)
    check.close()
    assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == ends


# --- mutual TLS and principals -----------------------------------------------------------------

def test_client_auth_required_refuses_clients_without_a_certificate(tls_broker, pki, tmp_path):
    b = tls_broker(keys=pki.broker_keys(client_auth="required"))
    alice = pki.client("alice", ou="dev")
    # A client with a certificate signed by the CA works.
    conf = pki.librdkafka(alice)
    create_topic_ssl(b, conf, "mtls")
    assert [o for _, _, o, _, _ in produce(b.ssl_bootstrap, "mtls", [b"a", b"b"], **conf)] == [0, 1]
    principal_logged(b, f"User:{alice.dn}")
    assert alice.dn == "CN=alice,OU=dev,O=fjord,C=NO"

    # Without a certificate: the broker refuses the handshake.
    assert tls_refused(b, pki.librdkafka())
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        with raw_tls(b.ssl_port, pki.ca) as s:
            api_versions_over(s)
    # A certificate from another CA is refused too.
    stranger = make_pki(tmp_path / "other-ca", ca_name="other CA").client("mallory")
    assert tls_refused(b, pki.librdkafka(stranger))
    wait_until(lambda: "closing connection: TLS handshake failed: peer sent no certificates" in b.stderr_tail(100000),
               what="the failed handshakes to be logged")
    # So is an X.509 v1 client certificate (which Java would accept), with a hint in the log.
    assert tls_refused(b, pki.librdkafka(pki.client("old", v1=True)))
    wait_until(lambda: "the client certificate is X.509 v1" in b.stderr_tail(100000),
               what="the v1 hint in the log")

    # The certified client and PLAINTEXT clients keep working.
    assert consume_assigned(b.ssl_bootstrap, "mtls", 2, **conf) == [(0, 0, None, b"a"), (0, 1, None, b"b")]
    with wire.Conn(b.port) as c:
        c.api_versions()
    # kafka-python with a client certificate.
    kp = KafkaProducer(bootstrap_servers=b.ssl_bootstrap, **pki.kafka_python(alice))
    assert kp.send("mtls", b"c", partition=0).get(timeout=30).offset == 2
    kp.close()


def test_client_auth_requested_and_principal_mapping_rules(tls_broker, pki):
    b = tls_broker(extra={"ssl.principal.mapping.rules": "RULE:^CN=(.*?),OU=(.*?),.*$/$1@$2/L, DEFAULT"},
                   keys=pki.broker_keys(client_auth="requested"))
    carol = pki.client("Carol", ou="Ops")
    dave = pki.client("dave")
    for who in (carol, dave, None):
        with raw_tls(b.ssl_port, pki.ca, *((who.cert, who.key) if who else ())) as s:
            assert api_versions_over(s) == 0
    principal_logged(b, "User:carol@ops")  # the rule, lower-cased
    principal_logged(b, "User:CN=dave,O=fjord,C=NO")  # no OU: DEFAULT
    principal_logged(b, "User:ANONYMOUS")  # no certificate, which "requested" allows


def test_java_client_with_a_pem_keystore_under_required_client_auth(tls_broker, pki, run_java):
    b = tls_broker(GROUP_OVERRIDES, keys=pki.broker_keys(client_auth="required"))
    erin = pki.client("erin", ou="java")
    sec = [f"{k}={v}" for k, v in pki.java(erin).items()]
    out = run_java("TlsClients", b.ssl_bootstrap, "tls-java-mtls", 200, *sec)
    assert out.strip().splitlines()[-1] == "OK"
    principal_logged(b, "User:CN=erin,OU=java,O=fjord,C=NO")


# --- keystore formats and start-up errors ------------------------------------------------------

@pytest.mark.parametrize("form", ["inline", "encrypted-key", "pkcs12"])
def test_keystore_formats(tls_broker, pki, form):
    if form == "inline":
        # As a properties file holds them: continued lines (joined without breaks), or
        # literal \n's.
        keys = {"ssl.keystore.type": "PEM",
                "ssl.keystore.certificate.chain": "".join(pki.broker.cert.read_text().splitlines()),
                "ssl.keystore.key": pki.broker.key.read_text().replace("\n", "\\n")}
    elif form == "encrypted-key":
        enc = pki.encrypted_key(pki.broker, "k3y-pw")
        keys = {"ssl.keystore.type": "PEM",
                "ssl.keystore.certificate.chain": pki.broker.cert.read_text(),
                "ssl.keystore.key": enc.read_text(),
                "ssl.key.password": "k3y-pw"}
    else:
        keys = {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(pki.pkcs12(pki.broker, "st0re-pw")),
                "ssl.keystore.password": "st0re-pw"}
    b = tls_broker(keys=keys)
    with raw_tls(b.ssl_port, pki.ca) as s:
        assert api_versions_over(s) == 0
    principal_logged(b, "User:ANONYMOUS")
    assert not [l for l in log_lines(b) if "k3y-pw" in l or "st0re-pw" in l]


def start_fails(tmp_path, keys):
    """Run fjord with an SSL listener and keys; it must exit non-zero. Returns its stderr."""
    argv = [str(FJORD_BIN), "--override", f"listeners=PLAINTEXT://127.0.0.1:{free_port()},SSL://127.0.0.1:{free_port()}",
            "--override", f"log.dirs={tmp_path / 'data'}"]
    for k, v in keys.items():
        argv += ["--override", f"{k}={v}"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode != 0, f"fjord started with {keys}:\n{r.stderr}"
    assert "panicked" not in r.stderr
    return r.stderr


def test_startup_errors_name_the_key_and_hide_secrets(tmp_path, pki):
    err = start_fails(tmp_path, {})
    assert "ssl.keystore.location" in err and "needs a keystore" in err, err
    err = start_fails(tmp_path, {"listener.name.ssl.ssl.keystore.location": str(tmp_path / "missing.pem")})
    assert "listener.name.ssl.ssl.keystore.location: cannot read" in err, err
    jks = tmp_path / "broker.jks"
    jks.write_bytes(bytes.fromhex("feedfeed00000002") + b"\0" * 64)
    err = start_fails(tmp_path, {"ssl.keystore.location": str(jks), "ssl.keystore.password": "jks-secret"})
    assert "keytool -importkeystore" in err and "jks-secret" not in err, err
    p12 = pki.pkcs12(pki.broker, "right-pw")
    err = start_fails(tmp_path, {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(p12),
                                 "ssl.keystore.password": "Wr0ng-pw"})
    assert "ssl.keystore.password" in err and "Wr0ng-pw" not in err, err
    enc = pki.encrypted_key(pki.broker, "right-pw")
    err = start_fails(tmp_path, {"ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": pki.broker.cert.read_text(),
                                 "ssl.keystore.key": enc.read_text(), "ssl.key.password": "Wr0ng-pw"})
    assert "ssl.key.password" in err and "Wr0ng-pw" not in err and "PRIVATE KEY" not in err, err
    err = start_fails(tmp_path, {**pki.broker_keys(), "ssl.client.auth": "required"})
    assert "ssl.client.auth requires a truststore" in err, err
    err = start_fails(tmp_path, {**pki.broker_keys(), "ssl.enabled.protocols": "TLSv1.1"})
    assert "ssl.enabled.protocols" in err, err


# --- bad input on the TLS port -----------------------------------------------------------------

def test_plaintext_kafka_bytes_on_the_tls_port_close_only_that_connection(tls_broker, pki):
    b = tls_broker()
    conf = pki.librdkafka()
    create_topic_ssl(b, conf, "tls-bad")
    # A PLAINTEXT Kafka client pointed at the TLS port: ApiVersions in clear.
    with wire.Conn(b.ssl_port) as c:
        c.send_frame(c.header(18, 0))
        assert c.wait_closed(10), "the broker kept a non-TLS connection open"
    wait_until(lambda: "closing connection: TLS handshake failed: received corrupt message" in b.stderr_tail(100000),
               what="the failed handshake to be logged")
    # A PLAINTEXT client on the PLAINTEXT port and new SSL clients work.
    with wire.Conn(b.port) as c:
        c.api_versions()
    assert [o for _, _, o, _, _ in produce(b.ssl_bootstrap, "tls-bad", [b"x"], **conf)] == [0]
    assert consume_assigned(b.ssl_bootstrap, "tls-bad", 1, **conf) == [(0, 0, None, b"x")]


def test_clients_that_never_handshake_block_no_one(tls_broker, pki):
    b = tls_broker()
    conf = pki.librdkafka()
    idle = [socket.create_connection(("127.0.0.1", b.ssl_port)) for _ in range(20)]
    # And some that stop half-way through a ClientHello.
    half = []
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", b.ssl_port))
        s.sendall(bytes.fromhex("160301020001"))  # a handshake record header and one byte
        half.append(s)
    try:
        create_topic_ssl(b, conf, "tls-idle")
        assert [o for _, _, o, _, _ in produce(b.ssl_bootstrap, "tls-idle", [b"a", b"b", b"c"], **conf)] == [0, 1, 2]
        assert len(consume_assigned(b.ssl_bootstrap, "tls-idle", 3, **conf)) == 3
        with raw_tls(b.ssl_port, pki.ca) as s:
            assert api_versions_over(s) == 0
        with wire.Conn(b.port) as c:
            c.api_versions()
    finally:
        for s in idle + half:
            s.close()
    assert b.alive()


def test_mutual_tls_principal_is_what_acls_match(tls_broker, pki):
    """A client certificate's subject is the principal an ACL names: alice's certificate may
    write the topic, bob's may not, until the ACL is removed and alice is denied too."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,
                                       AclPermissionType, ResourcePatternType, ResourceType)
    alice, bob = pki.client("alice", ou="dev"), pki.client("bob", ou="dev")
    b = tls_broker({"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                    "super.users": "User:ANONYMOUS"},
                   keys=pki.broker_keys(client_auth="required"))
    # The admin is ANONYMOUS on the PLAINTEXT port (a super user here).
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("mtls", 1, 1)])["mtls"].result(30)
    alice_principal = f"User:{alice.dn}"
    assert alice_principal == "User:CN=alice,OU=dev,O=fjord,C=NO"
    binding = AclBinding(ResourceType.TOPIC, "mtls", ResourcePatternType.LITERAL, alice_principal,
                         "*", AclOperation.WRITE, AclPermissionType.ALLOW)
    admin.create_acls([binding])[binding].result(30)

    def write_error(identity):
        return produce_error(b.ssl_bootstrap, "mtls", pki.librdkafka(identity))

    assert write_error(alice) is None
    assert write_error(bob) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    flt = AclBindingFilter(ResourceType.TOPIC, "mtls", ResourcePatternType.LITERAL, None, None,
                           AclOperation.ANY, AclPermissionType.ANY)
    assert len(admin.delete_acls([flt])[flt].result(30)) == 1
    assert write_error(alice) == KafkaError.TOPIC_AUTHORIZATION_FAILED
