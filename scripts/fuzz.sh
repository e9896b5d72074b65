#!/usr/bin/env bash
# Fuzz fjord's request decoder and record-batch parser with AFL++ (cargo-afl, stable toolchain).
#
#   scripts/fuzz.sh [seconds per target, default 600] [target...]
#
# Installs cargo-afl (and builds its AFL++) if missing, builds fuzz/ with AFL instrumentation,
# then runs each target (request, records by default) for the given seconds, one after the
# other on one core, with a memory limit (an allocation past it is a crash). Prints executions,
# crashes and hangs per target from AFL's fuzzer_stats and exits 1 if any target crashed.
#
# A later run resumes from the queue of the previous one (fuzz/out/<target>); FUZZ_FRESH=1 starts
# again from the seed corpus (fuzz/corpus/<target>). Not part of scripts/test.sh; see
# docs/fuzzing.md.
#
# Environment: FUZZ_MEM_MB (AFL -m, default 200), FUZZ_TIMEOUT_MS (AFL -t, default 1000),
# FUZZ_FRESH=1, FUZZ_OUT (default fuzz/out).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_PER_TARGET="${1:-600}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(request records)
MEM_MB="${FUZZ_MEM_MB:-200}"
TIMEOUT_MS="${FUZZ_TIMEOUT_MS:-1000}"
OUT="${FUZZ_OUT:-$ROOT/fuzz/out}"

if ! cargo afl --version >/dev/null 2>&1; then
    echo "== installing cargo-afl"
    cargo install --locked cargo-afl
fi
# Builds AFL++ once per toolchain; says so (and fails) when it already is.
cargo afl config --build >/dev/null 2>&1 || true

echo "== building fuzz targets"
(cd "$ROOT/fuzz" && cargo afl build --release --bins)

export AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_WARN_INSTABILITY=1

stat_of() { awk -F' *: *' -v k="$2" '$1 == k { print $2 }' "$1"; }

crashed=0
summary=()
for target in "${TARGETS[@]}"; do
    corpus="$ROOT/fuzz/corpus/$target"
    out="$OUT/$target"
    [ -d "$corpus" ] || { echo "no seed corpus $corpus" >&2; exit 2; }
    input=(-i "$corpus")
    if [ -z "${FUZZ_FRESH:-}" ] && [ -d "$out/default/queue" ]; then
        input=(-i -)  # resume
    else
        rm -rf "$out"
    fi
    mkdir -p "$out"
    : >"$out/afl.log"
    echo "== fuzzing $target for ${SECONDS_PER_TARGET}s (-m $MEM_MB, -t $TIMEOUT_MS, log $out/afl.log)"
    # Without a terminal AFL prints a status line per queue entry (MBs per hour): keep the rest.
    (cd "$ROOT/fuzz" && cargo afl fuzz "${input[@]}" -o "$out" -m "$MEM_MB" -t "$TIMEOUT_MS" \
        -V "$SECONDS_PER_TARGET" "target/release/$target" 2>&1 |
        { grep -av 'Fuzzing test case' || true; }) >>"$out/afl.log" || {
        echo "afl-fuzz failed for $target, see $out/afl.log:" >&2
        tail -20 "$out/afl.log" >&2
        exit 2
    }
    stats="$out/default/fuzzer_stats"
    execs=$(stat_of "$stats" execs_done)
    speed=$(stat_of "$stats" execs_per_sec)
    crashes=$(stat_of "$stats" saved_crashes)
    hangs=$(stat_of "$stats" saved_hangs)
    corpus_count=$(stat_of "$stats" corpus_count)
    summary+=("$(printf '%-8s %12s execs  %9s exec/s  %4s crashes  %4s hangs  %5s in queue' \
        "$target" "$execs" "$speed" "$crashes" "$hangs" "$corpus_count")")
    [ "$crashes" = 0 ] || crashed=1
done

echo "== results (execs, crashes and hangs since fuzz/out/<target> was started: a resumed run adds to them)"
printf '%s\n' "${summary[@]}"
if [ "$crashed" != 0 ]; then
    echo "CRASHES: inputs in $OUT/<target>/default/crashes*/ (a resumed run moves earlier ones to crashes.<date>);" \
        "reproduce with fuzz/target/release/replay <target> <file>" >&2
    exit 1
fi
