#!/usr/bin/env bash
# THE test command: installs what it needs, builds, runs the Rust tests and the
# real-client compat suite (compat-tests/), prints a summary, exits non-zero on
# any failure. Extra arguments are passed to pytest (e.g. -k kcat).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

step() { printf '\n=== %s\n' "$*"; }
status=0

step "install-deps"
scripts/install-deps.sh || { echo "install-deps failed"; exit 1; }

step "cargo build --release"
cargo build --release || { echo "cargo build --release failed"; exit 1; }

step "module structure (scripts/module-deps.py)"
python3 scripts/module-deps.py || status=1

step "cargo test"
cargo test --no-fail-fast 2>&1 | tee "$OUT/cargo-test.log"
cargo_rc=${PIPESTATUS[0]}
[ "$cargo_rc" -eq 0 ] || status=1

step "compat-tests (real clients against target/release/fjord)"
FJORD_BIN="$ROOT/target/release/fjord" .venv/bin/python -m pytest compat-tests \
  -p no:cacheprovider --timeout="${COMPAT_TEST_TIMEOUT:-300}" -ra -v \
  --junitxml="$OUT/compat.xml" "$@" 2>&1 | tee "$OUT/compat.log"
py_rc=${PIPESTATUS[0]}
[ "$py_rc" -eq 0 ] || status=1

# --- summary --------------------------------------------------------------------
read -r rp rf ri < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i }
  } END { print p+0, f+0, g+0 }' "$OUT/cargo-test.log")
read -r cp cf cs < <(python3 - "$OUT/compat.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    r = ET.parse(sys.argv[1]).getroot()
    s = r if r.tag == "testsuite" else r.find("testsuite")
    t, f, e, k = (int(s.get(x, 0)) for x in ("tests", "failures", "errors", "skipped"))
    print(t - f - e - k, f + e, k)
except Exception:
    print(0, 0, 0)
PY
)
[ "$cargo_rc" -ne 0 ] && [ "$rf" -eq 0 ] && rf=1   # cargo test failed without a parsable count (e.g. compile error)
[ "$py_rc" -ne 0 ] && [ "$cf" -eq 0 ] && cf=1      # pytest failed before producing results
echo
echo "=== summary"
printf '  cargo test:    %s passed, %s failed, %s ignored (exit %s)\n' "$rp" "$rf" "$ri" "$cargo_rc"
printf '  compat-tests:  %s passed, %s failed, %s skipped (exit %s)\n' "$cp" "$cf" "$cs" "$py_rc"
echo "summary: $((rp + cp)) passed, $((rf + cf)) failed, $((ri + cs)) skipped"
exit $status
