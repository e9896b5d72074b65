#!/usr/bin/env bash
# Run librdkafka's own transaction test (tests/0103-transactions.c) against a 3-node fjord
# dev-cluster. Manual, not run by CI.
#
# Usage: scripts/librdkafka-txn-test.sh LIBRDKAFKA_SRC_DIR
#
# LIBRDKAFKA_SRC_DIR is a librdkafka source tree (https://github.com/confluentinc/librdkafka),
# ideally the release matching the installed confluent-kafka's librdkafka
# (.venv/bin/python -c "import confluent_kafka; print(confluent_kafka.libversion())"), e.g.
#   git clone --branch v2.12.1 --depth 1 https://github.com/confluentinc/librdkafka /tmp/librdkafka
# It is configured (without SSL, SASL/GSSAPI, zstd, external lz4 or curl, so no extra -dev
# packages are needed) and built in place if it has not been already; only the test runner is
# used. The test creates its topics itself with replication factor 3 (and auto-creates one),
# so the cluster has 3 nodes.
#
# Environment: FJORD_BIN (default target/release/fjord), TEST_KAFKA_VERSION (default 3.9.0:
# the broker version the test assumes; below 2.5 it expects the pre-KIP-360 behaviour),
# SUBTESTS (librdkafka's sub-test filter), KEEP=1 keeps the cluster's data and logs.
set -euo pipefail

src=${1:?usage: $0 LIBRDKAFKA_SRC_DIR}
src=$(cd "$src" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
fjord=${FJORD_BIN:-$root/target/release/fjord}
[ -x "$fjord" ] || { echo "fjord binary not found at $fjord" >&2; exit 2; }
[ -f "$src/tests/0103-transactions.c" ] || { echo "$src is not a librdkafka source tree" >&2; exit 2; }

# --- build --------------------------------------------------------------------------------
jobs=${JOBS:-2}
if [ ! -f "$src/Makefile.config" ]; then
    (cd "$src" && ./configure --disable-ssl --disable-gssapi --disable-zstd --disable-lz4-ext \
        --disable-curl)
fi
make -C "$src" -j"$jobs" libs
make -C "$src/tests" -j"$jobs" build

# --- cluster on free ports ----------------------------------------------------------------
# Client ports P..P+2 and controller ports P+1000..P+1002 must all be free.
base=$(python3 - <<'EOF'
import random, socket
def free(p):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
            return True
        except OSError:
            return False
for _ in range(200):
    b = random.randint(20000, 29000)
    if all(free(b + i) and free(b + 1000 + i) for i in range(3)):
        print(b)
        break
EOF
)
[ -n "$base" ] || { echo "no free port range found" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-0103.XXXXXX")
"$fjord" dev-cluster --nodes 3 --dir "$dir" --base-port "$base" >"$dir/dev-cluster.out" 2>&1 &
cluster_pid=$!
stop_cluster() {
    # SIGINT is dev-cluster's Ctrl-C: it stops its three nodes and exits.
    if kill -0 "$cluster_pid" 2>/dev/null; then
        kill -INT "$cluster_pid"
        wait "$cluster_pid" || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "cluster data and node logs kept in $dir"
    else
        rm -rf "$dir"
    fi
}
trap stop_cluster EXIT

bootstrap=localhost:$base,localhost:$((base + 1)),localhost:$((base + 2))
for _ in $(seq 100); do
    if [ "$(grep -l 'listening on PLAINTEXT' "$dir"/node*.log 2>/dev/null | wc -l)" = 3 ]; then
        break
    fi
    sleep 0.2
done
echo "fjord dev-cluster: $bootstrap (logs in $dir/nodeN.log)"

# --- run 0103 -----------------------------------------------------------------------------
conf="$dir/test.conf"
echo "bootstrap.servers=$bootstrap" >"$conf"
set +e
(
    cd "$src/tests"
    export LD_LIBRARY_PATH="../src:../src-cpp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    RDKAFKA_TEST_CONF="$conf" TESTS=0103 TEST_KAFKA_VERSION=${TEST_KAFKA_VERSION:-3.9.0} \
        ./test-runner -p1
)
rc=$?
set -e
echo "0103 exit code: $rc"
exit $rc
