#!/usr/bin/env bash
# Benchmarks a release fjord with the Java kafka-clients and prints a table:
# startup time, idle RSS, producer throughput and latency (acks=all), consumer
# throughput, peak RSS, broker CPU per GiB, end-to-end long-poll latency, an old
# (message format v1) consumer's throughput and the broker CPU its down-conversion costs, and a
# lone group consumer's time to its first record; and the same produce and consume over an SSL
# listener (TLS rows: throughput and broker CPU per GiB next to plaintext's; certificates made
# with openssl by compat-tests/certs.py); and share groups (KIP-932): 1 and 3 KafkaShareConsumers
# in one share group (implicit acks, from earliest) reading the produced records, throughput and
# broker CPU per GiB beside the classic consumer's, valid only if exactly every produced record
# was accepted once. Beside the broker's CPU per GiB it measures the
# machine's floor in the same run (scripts/bench/tools/src/floor.rs: recv -> write into a file,
# and sendfile from a file, over loopback TCP) and prints fjord's ratio to it: broker plus the
# Java client's kernel time against both floor processes (the goal's yardstick), and the broker
# alone against the floor process alone (as before).
# Knobs: BENCH_RECORDS (1000000), BENCH_RECORD_BYTES (1024), BENCH_PARTITIONS (4),
#        BENCH_E2E_ROUNDS (200), BENCH_STARTUP_RUNS (5), BENCH_GROUP_FIRST_RUNS (11),
#        BENCH_OLD_RECORDS (200000), BENCH_TLS (1; 0 skips the TLS rows),
#        BENCH_SHARE (1; 0 skips the share-group rows), BENCH_SHARE_MAX_POLL_RECORDS (the share
#        consumers' max.poll.records; the client's default, 500, if unset),
#        BENCH_SHARE_FETCH_MAX_BYTES (their fetch.max.bytes; the client's default, 50 MiB, if unset),
#        BENCH_FLOOR_BYTES (2 GiB per floor run),
#        BENCH_FLOOR_RUNS (3 of each floor and peer socket buffer before the produce and 3 after
#        the consume; the median is used).
# `scripts/bench.sh --cluster` runs the 3-node figures instead (`fjord dev-cluster`, RF=3,
# min.insync.replicas=2, acks=all): throughput, latency, each node's CPU per GiB, idle CPU.
# `scripts/bench.sh --scale [partitions|connections|clients|metrics]` runs the scale figures of issue 13
# instead (100k partitions, 10k idle connections, 200 + 200 small clients; minutes; knobs in
# scripts/bench/scale.py); all three by default. Figures and the machine: docs/performance.md.
# `scripts/bench.sh --python-startup [RUNS]` times fjord.Broker (the Python API) from entering to
# ready instead (scripts/bench/python_startup.py; 50 runs, and 10 of a 3-node cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
cargo build --release
if [ "${1:-}" = "--python-startup" ]; then
  shift
  exec .venv/bin/python scripts/bench/python_startup.py "$@"
fi
# The floor and many-clients programs: their own small package (building it never rebuilds fjord).
cargo build --release --locked --manifest-path scripts/bench/tools/Cargo.toml --target-dir target/bench-tools
exec .venv/bin/python scripts/bench/bench.py "$@"
