#!/usr/bin/env bash
# Soak test (issue 14): one release fjord under a mixed load for N minutes (default 10) —
# idempotent producers (confluent-kafka, kafka-python), two consumer groups whose members join
# and leave, transactions committed and aborted with a read_committed checker, a compacted and a
# size-retained topic, topic creation/deletion in a loop — while fjord's RSS, descriptors and CPU
# are sampled every SOAK_SAMPLE_S (5) seconds. Fails (exit 1) if an acknowledged record is lost,
# an aborted transaction shows through read_committed, fjord exits or panics, or RSS or
# descriptors keep growing after the warm-up. Writes soak.csv, soak.png, summary.json and
# fjord.stderr to SOAK_OUT (default: a new /tmp/fjord-soak-* directory).
# Knobs: SOAK_RATE (200 records/s per confluent-kafka producer), SOAK_KP_RATE (100),
#        SOAK_COMPACT_RATE (50), SOAK_RECYCLE_S (180), SOAK_SAMPLE_S (5), SOAK_KEEP_DATA (0).
# Not part of scripts/test.sh: it runs for minutes. See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
cargo build --release
# The driver stops fjord itself (and fjord gets SIGTERM if the driver dies); Ctrl-C or a
# SIGTERM here is passed on to the driver, which stops everything and keeps its output.
.venv/bin/python scripts/soak/soak.py "$@" &
driver=$!
trap 'kill -TERM "$driver" 2>/dev/null || true; wait "$driver"; exit 130' INT TERM
wait "$driver"
