"""kcat (Debian's, librdkafka 2.0.2): -L metadata, -P produce from stdin, -C consume."""
import json
import subprocess

import pytest

from conftest import KCAT, needs_kcat
import wire

pytestmark = needs_kcat


def kcat(broker, *args, stdin=None, timeout=30):
    r = subprocess.run([KCAT, "-b", broker.bootstrap, *args], input=stdin, capture_output=True,
                       timeout=timeout)
    assert r.returncode == 0, f"kcat {' '.join(args)} exited {r.returncode}: {r.stderr.decode(errors='replace')}"
    return r.stdout.decode()


def test_metadata_listing(broker):
    wire.create_topic(broker.port, "kc-meta", partitions=3)
    out = kcat(broker, "-L")
    assert "1 brokers:" in out
    assert f"at 127.0.0.1:{broker.port}" in out
    assert 'topic "kc-meta" with 3 partitions:' in out
    for p in range(3):
        assert f"partition {p}, leader" in out

    md = json.loads(kcat(broker, "-L", "-J", "-t", "kc-meta"))
    assert [b["name"] for b in md["brokers"]] == [f"127.0.0.1:{broker.port}"]
    (t,) = md["topics"]
    assert t["topic"] == "kc-meta"
    assert sorted(p["partition"] for p in t["partitions"]) == [0, 1, 2]
    assert all(p["leader"] == md["brokers"][0]["id"] for p in t["partitions"])


@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_produce_lines_then_consume_exactly(broker, codec):
    topic = f"kc-{codec or 'none'}"
    wire.create_topic(broker.port, topic)
    lines = [f"line {i} " + "abc" * (i % 13) for i in range(200)]
    zargs = ["-z", codec] if codec else []
    kcat(broker, "-P", "-t", topic, "-p", "0", *zargs, stdin=("\n".join(lines) + "\n").encode())
    out = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-q")
    assert out.splitlines() == lines
    out = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p %o %s\\n")
    assert out.splitlines() == [f"0 {i} {l}" for i, l in enumerate(lines)]


def test_produce_with_keys_and_consume_from_offset(broker):
    wire.create_topic(broker.port, "kc-keys")
    kcat(broker, "-P", "-t", "kc-keys", "-K", ":", stdin=b"".join(b"k%d:v%d\n" % (i, i) for i in range(10)))
    out = kcat(broker, "-C", "-t", "kc-keys", "-o", "7", "-e", "-q", "-f", "%o %k %s\\n")
    assert out.splitlines() == [f"{i} k{i} v{i}" for i in range(7, 10)]
    out = kcat(broker, "-C", "-t", "kc-keys", "-o", "-2", "-e", "-q", "-f", "%o %s\\n")
    assert out.splitlines() == ["8 v8", "9 v9"]
