#!/usr/bin/env bash
# What step output costs: orch passing a lot of output through, beside make and
# the floor, and one step printing 1 GB beside `cat`. See bench/README.md.
# Usage: bash bench/output.sh [many] [big]     (default: both parts)
#
#   many  50 independent steps, each `seq -f %060g 20000` (20,000 lines of 61
#         bytes: 61 MB in all), 2 at a time. Every tool's stdout and stderr go
#         through one pipe and are discarded (hyperfine --output=pipe, 2>&1). Targets:
#         orch plain <= 1.3x make, json <= 1.5x make, peak RSS <= 30 MiB.
#   big   one step printing a 1 GB file (`cat FILE`) through orch, beside `cat
#         FILE` alone, both into a discarding pipe. Target: orch's throughput
#         >= 50 % of cat's, and flat memory.
#
# Environment:
#   ORCH_BIN       orch binary to measure (default: build target/release/orch)
#   ORCH_BASELINE  another orch binary, measured in the same run ("orch baseline")
#   BENCH_RUNS     timed runs per command (default 5 for many, 3 for big)
#   BENCH_STEPS    steps of the "many" workload (default 50); a second, smaller
#                  count (BENCH_STEPS / 5) is run too, to show that orch's peak
#                  RSS does not grow with the number of steps
#   BENCH_KEEP     1 keeps the temp dir
#
# A missed target is reported, not an error; the exit status is non-zero only
# when a measured command fails or the setup does.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=2
STEPS=${BENCH_STEPS:-50}
LINES=20000
BIG_BYTES=$((1000 * 1000 * 1000))

die() { echo "output-bench: $*" >&2; exit 2; }
note() { echo "output-bench: $*" >&2; }

PARTS=("$@")
((${#PARTS[@]})) || PARTS=(many big)
for p in "${PARTS[@]}"; do
  [[ $p == many || $p == big ]] || die "unknown part '$p' (many, big)"
done
want() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }
[[ $STEPS =~ ^[0-9]+$ ]] && ((STEPS >= 5)) || die "BENCH_STEPS must be an integer >= 5"

command -v python3 >/dev/null || die "python3 is required (report)"
command -v make >/dev/null || die "make is required (the baseline)"
command -v rustc >/dev/null || die "rustc is required (to build the floor)"
command -v hyperfine >/dev/null && hyperfine --help 2>/dev/null | grep -q -- '--output' ||
  die "hyperfine >= 1.15 is required (--output=pipe): apt-get install hyperfine"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/orch-output-bench.XXXXXX")
if [[ ${BENCH_KEEP:-0} == 1 ]]; then
  trap 'echo "output-bench: kept $TMP" >&2' EXIT
else
  trap 'rm -rf "$TMP"' EXIT
fi
mkdir "$TMP/wf" "$TMP/cwd"
unset MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS ORCH_HISTORY
export ORCH_HOME=$TMP/orch-home

if [[ -n ${ORCH_BIN:-} ]]; then
  ORCH=$ORCH_BIN
else
  note "building orch (release)..."
  (cd "$ROOT" && cargo build --release --quiet)
  ORCH=$ROOT/target/release/orch
fi
[[ -x $ORCH ]] || die "orch binary not found or not executable: $ORCH"
ORCH=$(realpath "$ORCH")
BASE=
if [[ -n ${ORCH_BASELINE:-} ]]; then
  [[ -x $ORCH_BASELINE ]] || die "ORCH_BASELINE is not an executable: $ORCH_BASELINE"
  BASE=$(realpath "$ORCH_BASELINE")
fi
rustc -O -o "$TMP/floor" "$ROOT/bench/floor.rs"
rustc -O -o "$TMP/peakrss" "$ROOT/bench/peakrss.rs"

RESULTS=$TMP/results.tsv
: >"$RESULTS"
FAILED=()

# measure PART VARIANT TOOL RUNS CMD...: median wall (hyperfine, output piped
# and discarded) and peak RSS (bench/peakrss.rs); one row of the report.
measure() {
  local part=$1 variant=$2 tool=$3 runs=$4 ms rss
  shift 4
  printf '  %-6s %-10s %-16s' "$part" "$variant" "$tool" >&2
  # hyperfine pipes stdout only (stderr goes to /dev/null): `2>&1` sends
  # both through the pipe, for every tool alike.
  # Step logs are cleared before each run: the 1 GB part would fill the disk.
  if hyperfine --style none --shell=none --output=pipe --warmup 1 --runs "$runs" \
      --prepare "rm -rf $ORCH_HOME/logs $ORCH_HOME-baseline/logs" \
      --export-json "$TMP/hf.json" -- "$(printf '%q ' sh -c 'exec "$@" 2>&1' sh "$@")" \
      >/dev/null 2>"$TMP/hf.log" &&
    ms=$(python3 "$ROOT/bench/output_report.py" median "$TMP/hf.json") &&
    rss=$("$TMP/peakrss" 1 "$@" 2>"$TMP/stderr.log"); then
    printf '%s\t%s\t%s\t%s\t%s\n' "$part" "$variant" "$tool" "$ms" "$rss" >>"$RESULTS"
    awk -v ms="$ms" -v kb="$rss" 'BEGIN { printf "%10.1f ms %7.1f MiB\n", ms, kb / 1024 }' >&2
  else
    echo " FAILED" >&2
    tail -n 3 "$TMP/hf.log" >&2
    "$@" </dev/null >/dev/null 2>"$TMP/stderr.log" || true
    tail -c 2000 "$TMP/stderr.log" >&2
    FAILED+=("$part/$variant/$tool")
  fi
}

# orch_rows PART VARIANT RUNS WORKFLOW: every output mode of orch (and of the baseline)
orch_rows() {
  local part=$1 variant=$2 runs=$3 wf=$4 bin name home
  for bin in "$ORCH" ${BASE:+"$BASE"}; do
    # Each binary its own history: an older one refuses a newer schema.
    name=orch home=$ORCH_HOME
    [[ $bin == "$BASE" ]] && name="orch baseline" home=$ORCH_HOME-baseline
    local run=(env ORCH_HOME="$home" "$bin" run "$wf" -j "$JOBS")
    measure "$part" "$variant" "$name plain" "$runs" "${run[@]}" --output plain
    measure "$part" "$variant" "$name json" "$runs" "${run[@]}" --output json
    measure "$part" "$variant" "$name -q" "$runs" "${run[@]}" --output plain -q
  done
}

echo "orch output benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host:   $(uname -srm), $(nproc) CPUs; load $(cut -d' ' -f1 /proc/loadavg) at start"
echo "orch:   $ORCH"
if [[ -n $BASE ]]; then echo "base:   $BASE"; fi
echo "make:   $(make --version | head -n1)"
echo "timer:  $(hyperfine --version), --output=pipe, median after 1 warm-up; -j $JOBS"
echo
cd "$TMP/cwd"

if want many; then
  runs=${BENCH_RUNS:-5}
  for n in $((STEPS / 5)) "$STEPS"; do
    cmd="seq -f %060g $LINES"
    {
      echo "name: output-$n"
      echo "steps:"
      for i in $(seq "$n"); do printf '  - id: s%d\n    run: %s\n' "$i" "$cmd"; done
    } >"$TMP/wf/many-$n.yaml"
    {
      printf '.PHONY: all'
      for i in $(seq "$n"); do printf ' s%d' "$i"; done
      printf '\nall:'
      for i in $(seq "$n"); do printf ' s%d' "$i"; done
      echo
      for i in $(seq "$n"); do printf 's%d:\n\t%s\n' "$i" "$cmd"; done
    } >"$TMP/wf/many-$n.mk"
    measure many "$n steps" floor "$runs" "$TMP/floor" "$n" "$JOBS" wide "$cmd"
    measure many "$n steps" "make -j$JOBS" "$runs" make -s -j"$JOBS" -f "$TMP/wf/many-$n.mk" all
    orch_rows many "$n steps" "$runs" "$TMP/wf/many-$n.yaml"
  done
fi

if want big; then
  runs=${BENCH_RUNS:-3}
  note "writing a 1 GB file of lines..."
  # 61-byte lines, as in the "many" part.
  seq -f %060g $((BIG_BYTES / 61)) >"$TMP/big.txt"
  printf 'name: big\nsteps:\n  - id: big\n    run: cat %s\n' "$TMP/big.txt" >"$TMP/wf/big.yaml"
  measure big 1GB cat "$runs" cat "$TMP/big.txt"
  orch_rows big 1GB "$runs" "$TMP/wf/big.yaml"
  rm -f "$TMP/big.txt"
fi

echo >&2
python3 "$ROOT/bench/output_report.py" report "$RESULTS" "$((LINES * 61))" "$BIG_BYTES"

if ((${#FAILED[@]})); then
  note "${#FAILED[@]} command(s) failed: ${FAILED[*]}"
  exit 1
fi
