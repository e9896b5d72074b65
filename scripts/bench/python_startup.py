#!/usr/bin/env python3
"""Start-up of fjord through its Python API (python/fjord/, the fjord-broker wheel's package):
the time from entering `with fjord.Broker():` to the block running with the broker ready
(free ports picked, temporary directory made, process spawned, /ready answered 200), over many
runs; also fjord's own "started in" figure from its log, the time `stop()` takes (SIGTERM, exit,
directory removed), and the same for `cluster=3`.

    scripts/bench.sh --python-startup [RUNS]      # or: .venv/bin/python scripts/bench/python_startup.py
    BENCH_PY_STARTUP_RUNS=50, BENCH_PY_CLUSTER_RUNS=10

Runs from the source tree on target/release/fjord (FJORD_BIN overrides), as the wheel would.
"""
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "python"))
os.environ.setdefault("FJORD_BIN", str(ROOT / "target" / "release" / "fjord"))

import fjord  # noqa: E402 - from python/ through the sys.path entry above

STARTED_IN = re.compile(r"fjord started in ([0-9.]+) ms")


def p90(xs):
    """Nearest-rank 90th percentile."""
    s = sorted(xs)
    return s[math.ceil(0.9 * len(s)) - 1]


def run(runs, cluster):
    ready, own, stop = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        with fjord.Broker(cluster=cluster) as b:
            t1 = time.perf_counter()
            ready.append((t1 - t0) * 1000)
            m = [STARTED_IN.search(n.log_path.read_text()) for n in b.nodes]
            own.append(max(float(x.group(1)) for x in m if x) if all(m) else float("nan"))
            t2 = time.perf_counter()
        stop.append((time.perf_counter() - t2) * 1000)
    return ready, own, stop


def row(name, xs):
    return (f"| {name} | {statistics.median(xs):.1f} | {p90(xs):.1f} | {min(xs):.1f} | {max(xs):.1f} |")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("BENCH_PY_STARTUP_RUNS", 50))
    cluster_runs = int(os.environ.get("BENCH_PY_CLUSTER_RUNS", 10))
    print(f"fjord.Broker start-up, {fjord.find_fjord_bin()}, load average {os.getloadavg()[0]:.1f}")
    # One start not counted: the page cache holds the binary afterwards, as it does in a test run.
    run(1, 1)
    for n, nodes, what, labels in (
            (runs, 1, "`with fjord.Broker():`",
             ("enter → ready (Python API)", 'fjord\'s own "started in"',
              "stop (SIGTERM → exited, directory removed)")),
            (cluster_runs, 3, "`with fjord.Broker(cluster=3):`",
             ("enter → every node ready and listing the 3 brokers", 'slowest node\'s own "started in"',
              "stop"))):
        if not n:
            continue
        print(f"\n{n} runs of {what}, ms\n")
        print("| | median | p90 | min | max |\n| --- | --- | --- | --- | --- |")
        for label, figures in zip(labels, run(n, nodes)):
            print(row(label, figures))
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
