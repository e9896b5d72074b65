"""Log lines are coloured only for a person at a terminal: a real fjord process with stderr
sent to a file (as a supervisor or `2> log` captures it) writes no ANSI escape codes; on a
pseudo-terminal it colours them unless NO_COLOR is set."""
import os
import pty
import select
import signal
import subprocess
import time

from conftest import FJORD_BIN, free_port

ESC = b"\x1b["


def argv(tmp_path, port):
    return [str(FJORD_BIN), "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}",
            "--override", f"log.dirs={tmp_path / 'data'}"]


def env_without_no_color(**extra):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(extra)
    return env


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


def test_no_colour_when_stderr_is_a_file(tmp_path):
    log = tmp_path / "fjord.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(argv(tmp_path, free_port()), stdin=subprocess.DEVNULL,
                                stdout=f, stderr=f, env=env_without_no_color())
    try:
        deadline = time.monotonic() + 10
        while b"listening on" not in log.read_bytes():
            assert proc.poll() is None, log.read_bytes().decode(errors="replace")
            assert time.monotonic() < deadline, "no 'listening on' line"
            time.sleep(0.02)
    finally:
        stop(proc)
    text = log.read_bytes()
    assert b"INFO" in text and b"stopped" in text
    assert ESC not in text, text[:400]


def read_pty_until(fd, proc, needle, timeout=10.0):
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        assert time.monotonic() < deadline, f"no {needle!r} in {out!r}"
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
        elif proc.poll() is not None:
            break
    return out


def run_on_pty(tmp_path, env):
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv(tmp_path, free_port()), stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, env=env)
    os.close(slave)
    try:
        return read_pty_until(master, proc, b"listening on")
    finally:
        stop(proc)
        os.close(master)


def test_colour_on_a_terminal(tmp_path):
    out = run_on_pty(tmp_path, env_without_no_color())
    assert b"listening on" in out
    assert ESC in out, out


def test_no_colour_on_a_terminal_with_no_color(tmp_path):
    out = run_on_pty(tmp_path, env_without_no_color(NO_COLOR="1"))
    assert b"listening on" in out
    assert ESC not in out, out
