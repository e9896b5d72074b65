"""fjord.Broker (python/fjord/, the Python package of the fjord-broker wheel) from the source
tree, on target/release/fjord: start and clean stop, its errors, ports lost to another process,
SIGKILL for a process that ignores SIGTERM, and clean-up at interpreter exit. The wheel itself
and the pytest plugin are tested by test_wheel.py."""
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import FJORD_BIN, ROOT

sys.path.insert(0, str(ROOT / "python"))

import fjord  # noqa: E402 - from python/ through the sys.path entry above
from fjord import _broker  # noqa: E402


@pytest.fixture(autouse=True)
def fjord_bin(monkeypatch):
    monkeypatch.setenv("FJORD_BIN", str(FJORD_BIN))


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read()


def test_start_serve_and_clean_stop():
    b = fjord.Broker()
    with b:
        assert b.bootstrap_servers == f"127.0.0.1:{b.nodes[0].port}"
        assert b.http_url == f"http://127.0.0.1:{b.nodes[0].http_port}"
        assert get(b.http_url + "/ready") == (200, b"ready\n")
        assert b.running and 0 < b.startup_seconds < 30
        directory, node = b.directory, b.nodes[0]
        assert (node.data_dir / "meta.properties").is_file()
        assert b.create_topic("t1", partitions=2) == "t1"
        status, body = get(b.http_url + "/api/v1/topics/t1")
        assert [(p["partition"], p["leader"], p["end_offset"]) for p in json.loads(body)["partitions"]] == \
            [(0, 1, 0), (1, 1, 0)]
        with pytest.raises(fjord.ApiError) as e:
            b.create_topic("t1")
        assert (e.value.status, e.value.error) == (409, "TOPIC_ALREADY_EXISTS")
        with pytest.raises(RuntimeError, match="already started"):
            b.start()
    assert node.process.returncode == 0, "SIGTERM: a clean shutdown"
    assert not directory.exists()
    assert not b.running
    b.stop()  # again: nothing to do


def test_a_refused_configuration_raises_with_fjords_words():
    b = fjord.Broker({"num.partitions": "many"})
    with pytest.raises(fjord.BrokerError) as e:
        b.start()
    msg = str(e.value)
    assert "exited with 1 while starting" in msg
    assert "invalid configuration" in msg and "num.partitions" in msg
    assert b.directory is None and not b.running


def test_keys_the_broker_sets_itself_are_refused():
    for key in ("listeners", "log.dirs", "fjord.http.listener"):
        with pytest.raises(ValueError, match=key):
            fjord.Broker({key: "x"})
    with pytest.raises(ValueError, match="controller.quorum.voters"):
        fjord.Broker({"controller.quorum.voters": "x"}, cluster=3)
    assert fjord.Broker({"node.id": 7}).overrides == {"node.id": "7"}
    assert fjord.Broker({"auto.create.topics.enable": False}).overrides == {"auto.create.topics.enable": "false"}


@pytest.mark.parametrize("taken", ["kafka", "http"])
def test_a_port_taken_before_fjord_binds_it_is_given_up_for_another(monkeypatch, taken):
    # Another process listens on the port the Broker picked first (the race a free-port pick
    # can lose): fjord cannot bind it, and the Broker starts again on fresh ports.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    held = holder.getsockname()[1]
    picks = []
    real = _broker._free_port

    def pick():
        # Node() picks the Kafka port, then the HTTP port.
        p = held if len(picks) == ["kafka", "http"].index(taken) else real()
        picks.append(p)
        return p

    monkeypatch.setattr(_broker, "_free_port", pick)
    try:
        with fjord.Broker() as b:
            node = b.nodes[0]
            assert held not in (node.port, node.http_port)
            assert len(picks) == 4, picks
            assert get(b.http_url + "/ready") == (200, b"ready\n")
            with socket.create_connection(("127.0.0.1", node.port), timeout=5):
                pass
            assert node.data_dir.parent.name == "try1"
    finally:
        holder.close()


def test_a_process_deaf_to_sigterm_is_killed_after_stop_timeout():
    b = fjord.Broker(stop_timeout=0.5).start()
    proc = b.nodes[0].process
    os.kill(proc.pid, signal.SIGSTOP)  # a stopped process acts on SIGTERM only once continued
    b.stop()
    assert proc.returncode == -signal.SIGKILL


def test_brokers_left_running_are_stopped_at_interpreter_exit(tmp_path):
    script = ("import fjord; b = fjord.Broker().start(); "
              "print(b.nodes[0].pid, b.directory, flush=True)")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "python")))
    assert r.returncode == 0, r.stderr
    pid, directory = r.stdout.split()
    # The child reaped its fjord before exiting, so the pid is gone (or reused by an unrelated
    # process, which would not be fjord).
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except FileNotFoundError:
        exe = None
    assert exe != str(FJORD_BIN.resolve())
    assert not Path(directory).exists()


def test_find_fjord_bin(monkeypatch, tmp_path):
    assert fjord.find_fjord_bin() == FJORD_BIN
    monkeypatch.setenv("FJORD_BIN", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="FJORD_BIN="):
        fjord.find_fjord_bin()
