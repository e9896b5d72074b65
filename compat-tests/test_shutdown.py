"""Graceful shutdown (issue 14): SIGTERM stops accepting, lets requests in progress finish
(bounded by 5 s), flushes, writes Kafka's clean shutdown marker so the next start skips the
CRC checks of the active segments, and exits 0; a second SIGTERM stops at once (exit 1)."""
import socket
import threading
import time

from conftest import wait_until
import wire

MARKER = ".kafka_cleanshutdown"


def long_poll(port, topic, offset, max_wait_ms, out):
    """A fetch parked at the log end, from another thread: out gets its answer or the error."""
    try:
        with wire.Conn(port, timeout=60) as c:
            out["sent"] = time.monotonic()
            out["answer"] = c.fetch(topic, 0, offset, max_wait_ms=max_wait_ms)
            out["answered"] = time.monotonic()
    except Exception as e:  # noqa: BLE001 - the test reports it
        out["error"] = repr(e)


def refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_sigterm_answers_requests_in_progress_then_exits_cleanly(start_broker):
    b = start_broker()
    wire.create_topic(b.port, "gs")
    with wire.Conn(b.port) as c:
        for i in range(3):
            assert c.produce("gs", 0, wire.build_batch([b"r%d" % i])) == (wire.NONE, i)
    out = {}
    t = threading.Thread(target=long_poll, args=(b.port, "gs", 3, 2000, out))
    t.start()
    wait_until(lambda: "sent" in out, interval=0.01, what="the fetch to be sent")
    b.terminate()
    # Stops accepting at once, while the parked fetch is still being waited for.
    wait_until(lambda: refused(b.port), interval=0.01, what="the listener to close")
    assert b.proc.poll() is None or "answer" in out
    t.join(10)
    assert "error" not in out, f"the fetch in progress was not answered: {out['error']}"
    assert out["answer"] == (wire.NONE, 3, []), out
    assert b.proc.wait(10) == 0, b.stderr_tail()
    assert (b.log_dir / MARKER).exists(), "a clean shutdown leaves Kafka's marker"
    log = b.stderr_path.read_text()
    assert "shutting down" in log and "stopped" in log

    b.start()
    assert not (b.log_dir / MARKER).exists(), "the marker is taken at start"
    assert "the last shutdown was clean" in b.stderr_path.read_text().split("start #2")[1]
    with wire.Conn(b.port) as c:
        err, hw, recs = c.fetch("gs", 0, 0)
        assert (err, hw, [v for _o, _k, v in recs]) == (wire.NONE, 3, [b"r0", b"r1", b"r2"])
        assert c.produce("gs", 0, wire.build_batch([b"r3"])) == (wire.NONE, 3)
    b.kill()
    assert not (b.log_dir / MARKER).exists(), "a killed broker leaves no marker"
    b.start()
    assert "the last shutdown was clean" not in b.stderr_path.read_text().split("start #3")[1]
    with wire.Conn(b.port) as c:
        assert c.list_offset("gs", 0) == (wire.NONE, 4)


def test_a_second_sigterm_stops_at_once(start_broker):
    b = start_broker()
    wire.create_topic(b.port, "gs2")
    out = {}
    # A fetch that would hold the shutdown for its whole 5 s drain.
    t = threading.Thread(target=long_poll, args=(b.port, "gs2", 0, 30000, out))
    t.start()
    wait_until(lambda: "sent" in out, interval=0.01, what="the fetch to be sent")
    b.terminate()
    wait_until(lambda: refused(b.port), interval=0.01, what="the listener to close")
    assert b.proc.poll() is None, "still draining the parked fetch"
    b.terminate()
    assert b.proc.wait(4) == 1, "the second SIGTERM exits at once, before the 5 s drain ends"
    assert not (b.log_dir / MARKER).exists(), "not a clean shutdown"
    t.join(10)
    assert "second signal" in b.stderr_path.read_text()
