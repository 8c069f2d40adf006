#!/usr/bin/env bash
# Critical-path order against file order, on a DAG where file order is bad.
# See bench/README.md.
# Usage: bash bench/critical.sh
#
# The workflow (-j 2): 8 independent `sleep 0.1` steps, then two chains of
# three `sleep 0.1` steps, all listed first; last, a chain of two `sleep 0.8`
# steps. In file order the long chain starts only after the short work
# (~0.7 s), so the run takes ~2.3 s; started first, it decides the end alone
# (1.6 s) while the short work (1.4 s) runs beside it. Counting steps gets
# it wrong too: the short chains have more steps than the long one, so only
# the durations in history show which chain is long.
#
# One run fills the history; then hyperfine times, side by side (median of
# BENCH_RUNS, one warm-up each):
#   fifo                        ORCH_SCHEDULE=fifo: priority, then file order
#   critical-path               the default, with durations from the history
#   critical-path, no history   ORCH_HISTORY=memory: every step counts 1 s
# Target: critical-path's median makespan >= 25 % shorter than fifo's.
#
# Environment:
#   ORCH_BIN    orch binary to measure (default: build target/release/orch)
#   BENCH_RUNS  timed runs per variant (default 5; >= 3)
#   BENCH_DIR   where the temp dir goes (default: the repo's target/)
#   BENCH_KEEP  1 keeps the temp dir (workflow, history, hyperfine JSON)
#
# Exits non-zero when a measured command or the setup fails; a missed target
# is reported, not an error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-5}
JOBS=2

die() { echo "critical-bench: $*" >&2; exit 2; }
note() { echo "critical-bench: $*" >&2; }

[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 3)) || die "BENCH_RUNS must be an integer >= 3"
command -v python3 >/dev/null || die "python3 is required (report)"
command -v hyperfine >/dev/null && grep -q -- '--shell' <<<"$(hyperfine --help 2>/dev/null)" ||
  die "hyperfine >= 1.13 is required (apt-get install hyperfine)"

if [[ -n ${ORCH_BIN:-} ]]; then
  ORCH=$ORCH_BIN
else
  note "building orch (release)..."
  (cd "$ROOT" && cargo build --release --quiet)
  ORCH=$ROOT/target/release/orch
fi
[[ -x $ORCH ]] || die "no orch binary at $ORCH"

BASE=${BENCH_DIR:-$ROOT/target}
mkdir -p "$BASE"
TMP=$(mktemp -d "$BASE/critical-bench.XXXXXX")
cleanup() { [[ ${BENCH_KEEP:-} == 1 ]] && note "kept $TMP" || rm -rf "$TMP"; }
trap cleanup EXIT
# The binary measured is a copy: a build elsewhere cannot swap it mid-run.
cp "$ORCH" "$TMP/orch"
ORCH=$TMP/orch

WF=$TMP/skewed.yaml
{
  echo "name: critical-bench"
  echo "steps:"
  for i in 1 2 3 4 5 6 7 8; do
    echo "  - {id: q$i, run: sleep 0.1}"
  done
  for c in a b; do
    echo "  - {id: ${c}1, run: sleep 0.1}"
    echo "  - {id: ${c}2, needs: ${c}1, run: sleep 0.1}"
    echo "  - {id: ${c}3, needs: ${c}2, run: sleep 0.1}"
  done
  echo "  - {id: long1, run: sleep 0.8}"
  echo "  - {id: long2, needs: long1, run: sleep 0.8}"
} >"$WF"

export ORCH_HOME=$TMP/home
unset ORCH_SCHEDULE ORCH_HISTORY
RUN=("$ORCH" run "$WF" -j "$JOBS" --output plain -q)
note "filling the history with one run..."
"${RUN[@]}" >/dev/null || die "the first run failed"
note "what orch plan expects now:"
"$ORCH" plan "$WF" -j "$JOBS" -v >&2

# `env` sets each variant's variables without a shell in between.
hyperfine --shell=none --runs "$RUNS" --warmup 1 --style basic \
  --export-json "$TMP/hyperfine.json" \
  -n fifo "env ORCH_SCHEDULE=fifo ${RUN[*]}" \
  -n critical-path "${RUN[*]}" \
  -n "critical-path, no history" "env ORCH_HISTORY=memory ${RUN[*]}" >&2

python3 - "$TMP/hyperfine.json" "$RUNS" "$JOBS" <<'EOF'
import json, os, statistics, sys

path, runs, jobs = sys.argv[1], sys.argv[2], sys.argv[3]
results = {r["command"]: r for r in json.load(open(path))["results"]}
load = os.getloadavg()[0]
print(f"critical-path vs fifo: 16 steps (14 x 0.1 s, 2 x 0.8 s chained), -j {jobs}, "
      f"median of {runs} runs, load {load:.2f}")
print()
print(f"| {'variant':<26} | median s | min s | max s |")
print(f"|{'-' * 28}|---------:|------:|------:|")
med = {}
for name, r in results.items():
    times = r["times"]
    med[name] = statistics.median(times)
    print(f"| {name:<26} | {med[name]:8.3f} | {min(times):5.3f} | {max(times):5.3f} |")
print()
gain = 1 - med["critical-path"] / med["fifo"]
verdict = "PASS" if gain >= 0.25 else "MISS"
print(f"critical-path makespan {gain * 100:.1f} % shorter than fifo "
      f"(target >= 25 %): {verdict}")
EOF
