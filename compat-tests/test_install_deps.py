"""scripts/apt-get-wait.sh, which install-deps.sh uses for every apt-get: while another
process holds the package lock it waits (saying so once) instead of failing at once, and gives
up with a clear message when the lock outlives FJORD_APT_LOCK_WAIT. Real apt-get, pointed at a
private lists directory so the machine's own package state is never touched."""
import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "apt-get-wait.sh"

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None or os.geteuid() != 0,
                                reason="needs apt-get and root (as CI has)")


def update_argv(lists):
    # `update` with no sources: no network, but it takes the lists lock like any update.
    return [str(SCRIPT), "-o", f"Dir::State::Lists={lists}", "-o", "Dir::Etc::sourcelist=/dev/null",
            "-o", "Dir::Etc::sourceparts=/nonexistent", "update", "-qq"]


def hold_lock(lists):
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    fd = os.open(lists / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_waits_for_a_held_lock_then_runs(tmp_path):
    lists = tmp_path / "lists"
    fd = hold_lock(lists)
    proc = subprocess.Popen(update_argv(lists), stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, FJORD_APT_LOCK_WAIT="60"))
    try:
        # The lock is released only once the script says it is waiting for it.
        first = proc.stderr.readline()
        assert first.startswith(f"apt-get-wait: the package lock is held by process {os.getpid()}"), first
        assert "waiting up to" in first
        assert proc.poll() is None, "still waiting while the lock is held"
    finally:
        os.close(fd)
    rest = proc.stderr.read()
    assert proc.wait(60) == 0, rest
    assert "apt-get-wait" not in rest, "said once"


def test_gives_up_with_a_clear_message(tmp_path):
    lists = tmp_path / "lists"
    fd = hold_lock(lists)
    try:
        r = subprocess.run(update_argv(lists), capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, FJORD_APT_LOCK_WAIT="2"))
    finally:
        os.close(fd)
    assert r.returncode != 0
    assert f"apt-get-wait: gave up after 2s: the package lock is still held by process {os.getpid()}" in r.stderr, r.stderr


def test_other_failures_are_not_retried(tmp_path):
    r = subprocess.run([str(SCRIPT), "install", "-y", "-qq", "no-such-package-fjord"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, FJORD_APT_LOCK_WAIT="30"))
    assert r.returncode != 0
    assert "Unable to locate package" in r.stderr
    assert "apt-get-wait" not in r.stderr, "a missing package is not a lock to wait for"
