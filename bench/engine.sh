#!/usr/bin/env bash
# The engine's costs in one run, beside what a user would otherwise use:
# per-step cost against GNU make and the spawning floor, start-up, the
# in-process ceiling (transform and http steps, beside wrk, the same
# requests through reqwest alone and `xargs -P curl`), and the scaling curve at 1k, 10k and 100k steps.
# See bench/README.md ("Engine"). Usage: bash bench/engine.sh [--write]
#
# --write replaces the "Engine" section of bench/RESULTS.md with the report.
#
# Environment:
#   ORCH_BIN, TESTSERVER_BIN, HTTPFLOOR_BIN  binaries to measure (default:
#                  build release)
#   ORCH_BASELINE  another orch binary measured beside it (`orch baseline` rows)
#   BENCH_RUNS     timed runs per command (default 5; start-up: 6×)
#   BENCH_BIG      1 also runs the 100,000-step /bin/true shapes (minutes)
#   BENCH_KEEP     1 keeps the temp dir
#
# A missed target is reported, never an error; the exit status is non-zero
# only when a measured command fails or the setup does.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-5}
WRITE=0
[[ ${1:-} == --write ]] && WRITE=1

die() { echo "bench: $*" >&2; exit 2; }
note() { echo "bench: $*" >&2; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
for tool in python3 make rustc curl xargs; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v wrk >/dev/null || need+=(wrk)
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || die "please install: ${need[*]}"
  note "installing ${need[*]} (apt-get)..."
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; } ||
    die "could not install ${need[*]}"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/orch-bench-engine.XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "bench: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
mkdir "$TMP/wf" "$TMP/cwd"

unset MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS
unset ORCH_HISTORY ORCH_CONFIG ORCHESTRATION_MAX_CONCURRENCY ORCHESTRATION_DEFAULT_MAX_PARALLEL \
  ORCHESTRATION_PROGRESS_WEBHOOK_URL
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# Durable history on a real file system, as a user has it (not a tmpfs /tmp).
HOMES=$ROOT/target/bench-engine-homes
rm -rf "$HOMES"
mkdir -p "$HOMES"
export ORCH_HOME=$HOMES/orch
BENCH_FS=$(stat -f -c %T "$HOMES" 2>/dev/null || echo '?')
[[ $BENCH_FS == tmpfs ]] && die "$HOMES is on a tmpfs: history would not be on disk"
export BENCH_FS

if [[ -z ${ORCH_BIN:-} || -z ${TESTSERVER_BIN:-} || -z ${HTTPFLOOR_BIN:-} ]]; then
  note "building orch, orch-testserver and orch-http-floor (release)..."
  (cd "$ROOT" && cargo build --release --quiet -p orch -p orch-testserver -p orch-http-floor)
fi
ORCH=$(realpath "${ORCH_BIN:-$ROOT/target/release/orch}")
SERVER=$(realpath "${TESTSERVER_BIN:-$ROOT/target/release/orch-testserver}")
HTTPFLOOR=$(realpath "${HTTPFLOOR_BIN:-$ROOT/target/release/orch-http-floor}")
BASE=
if [[ -n ${ORCH_BASELINE:-} ]]; then
  [[ -x $ORCH_BASELINE ]] || die "ORCH_BASELINE is not an executable: $ORCH_BASELINE"
  BASE=$(realpath "$ORCH_BASELINE")
fi
rustc -O -o "$TMP/floor" "$ROOT/bench/floor.rs"
rustc -O -o "$TMP/peakrss" "$ROOT/bench/peakrss.rs"
FLOOR=$TMP/floor PEAKRSS=$TMP/peakrss
REPORT=$ROOT/bench/engine_report.py

# --- workflows -------------------------------------------------------------------
# shellcheck source=bench/shapes.sh
source "$ROOT/bench/shapes.sh"
# gen SHAPE N CMD BASE: BASE.yaml and BASE.mk with N steps (diamond: N-2 in the middle)
gen() {
  local shape=$1 n=$2
  WIDE_N=$n CHAIN_N=$n FANOUT_N=$((n - 2))
  gen_yaml "$shape" "$3" "$4.yaml"
  gen_make "$shape" "$3" "$4.mk"
}
# transform N OUT: N independent no-op transform steps
gen_transform() {
  python3 - "$1" "$2" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    f.write("name: transform\nsteps:\n")
    for i in range(n):
        f.write(f"  - id: s{i}\n    transform: {{ x: 1 }}\n")
PY
}

note "generating workflows..."
gen startup 1 /bin/true "$TMP/wf/startup"
for n in 1000 10000; do
  gen wide "$n" /bin/true "$TMP/wf/wide-$n"
  gen chain "$n" /bin/true "$TMP/wf/chain-$n"
done
if [[ ${BENCH_BIG:-0} == 1 ]]; then
  gen wide 100000 /bin/true "$TMP/wf/wide-100000"
fi
gen chain 300 /bin/true "$TMP/wf/chain-300"
gen diamond 502 /bin/true "$TMP/wf/diamond-502"
for n in 1000 10000 100000; do gen_transform "$n" "$TMP/wf/transform-$n.yaml"; done

# --- measuring ---------------------------------------------------------------------
ROWS=$TMP/rows.tsv
: >"$ROWS"
FAILED=()

# row GROUP WORKLOAD TOOL STEPS RUNS -- CMD...: time CMD (median), peak RSS, one TSV row
row() {
  local group=$1 workload=$2 tool=$3 steps=$4 runs=$5 ms rss
  shift 6
  printf '  %-10s %-20s %-16s' "$group" "$workload" "$tool" >&2
  if hyperfine --style none --shell=none --warmup "${WARMUP:-1}" --runs "$runs" --export-json "$TMP/hf.json" \
      -- "$(printf '%q ' "$@")" >/dev/null 2>"$TMP/hf.log" &&
    ms=$(python3 "$REPORT" median "$TMP/hf.json") &&
    rss=$("$PEAKRSS" 1 "$@" 2>"$TMP/rss.log"); then
    printf '%s\t%s\t%s\t%s\t%s\t%s\tok\n' "$group" "$workload" "$tool" "$steps" "$ms" "$rss" >>"$ROWS"
    printf '%10.2f ms %6d MiB\n' "$ms" $((rss / 1024)) >&2
  else
    printf '%s\t%s\t%s\t%s\t0\t0\tFAILED\n' "$group" "$workload" "$tool" "$steps" >>"$ROWS"
    FAILED+=("$group/$workload/$tool")
    echo "  FAILED" >&2
    tail -n 5 "$TMP/hf.log" "$TMP/rss.log" >&2 2>/dev/null || true
  fi
}
# A fresh ORCH_HOME per orch binary and workload family: an older binary
# refuses a newer schema, and the history size stays comparable.
orch_row() { # GROUP WORKLOAD STEPS RUNS HOME -- ARGS...
  local group=$1 workload=$2 steps=$3 runs=$4 home=$5
  shift 6
  # ORCH_HOME is set in hyperfine's environment, not by `env`: an `env`
  # process in front would add its own exec (about a millisecond here) to
  # every orch row and to no make row.
  ORCH_HOME="$HOMES/$home" row "$group" "$workload" orch "$steps" "$runs" -- "$ORCH" "$@"
  if [[ -n $BASE ]]; then
    ORCH_HOME="$HOMES/$home-base" row "$group" "$workload" "orch baseline" "$steps" "$runs" -- "$BASE" "$@"
  fi
}

cd "$TMP/cwd"
WF=$TMP/wf

note "per-step cost (history on disk, --output plain, step /bin/true)"
for spec in "wide-1000 wide 4" "wide-1000 wide 1" "chain-300 chain 4" "diamond-502 diamond 4"; do
  read -r base shape jobs <<<"$spec"
  n=${base#*-}
  name="$shape $n P=$jobs"
  row step "$name" floor "$n" "$RUNS" -- "$FLOOR" "$n" "$jobs" "$shape" /bin/true
  row step "$name" make "$n" "$RUNS" -- make -s -j"$jobs" -f "$WF/$base.mk" all
  orch_row step "$name" "$n" "$RUNS" steps -- run "$WF/$base.yaml" -j "$jobs" --output plain
done

note "start-up (1 step)"
SR=$((RUNS * 6))
row startup "run 1 step" floor 1 "$SR" -- "$FLOOR" 1 1 wide /bin/true
row startup "run 1 step" make 1 "$SR" -- make -s -f "$WF/startup.mk" all
orch_row startup "run 1 step" 1 "$SR" startup -- run "$WF/startup.yaml" --output plain
ORCH_HISTORY=memory row startup "run 1 step (memory)" orch 1 "$SR" -- "$ORCH" run "$WF/startup.yaml" --output plain
orch_row startup "validate" 1 "$SR" startup -- validate "$WF/startup.yaml"
orch_row startup "--version" 1 "$SR" startup -- --version
python3 "$REPORT" faults "$TMP/faults.tsv" -- "$ORCH" run "$WF/startup.yaml" --output plain
python3 "$REPORT" faults "$TMP/faults.tsv" -- "$ORCH" validate "$WF/startup.yaml"
python3 "$REPORT" faults "$TMP/faults.tsv" -- make -s -f "$WF/startup.mk" all
size -A "$ORCH" 2>/dev/null | awk '$1 == ".text" { print $2 }' >"$TMP/text.txt" || echo 0 >"$TMP/text.txt"

note "in-process ceiling"
orch_row inproc "transform 10000" 10000 "$RUNS" transform -- run "$WF/transform-10000.yaml" --output plain -q
: >"$TMP/server.out"
"$SERVER" --no-record >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
URL=
for _ in $(seq 100); do
  if read -r line <"$TMP/server.out" 2>/dev/null && [[ $line == "listening on "* ]]; then
    URL=${line#listening on }/ok
    break
  fi
  sleep 0.05
done
[[ -n $URL ]] || die "orch-testserver did not say where it listens"
{
  echo "name: http"
  echo "steps:"
  for ((i = 0; i < 1000; i++)); do printf '  - id: s%d\n    http: { url: "%s" }\n' "$i" "$URL"; done
} >"$WF/http-1000.yaml"
for ((i = 0; i < 1000; i++)); do echo "$URL"; done >"$WF/urls.txt"
orch_row inproc "http 1000 -j 50" 1000 "$RUNS" http -- run "$WF/http-1000.yaml" -j 50 --output plain -q
# The same requests through orch's HTTP client alone: the most any orch
# built on it could reach.
row inproc "http 1000 -j 50" "reqwest alone" 1000 "$RUNS" -- "$HTTPFLOOR" "$URL" 1000 50
row inproc "http 1000 -j 50" "xargs -P 50 curl" 1000 "$RUNS" -- \
  sh -c "xargs -P 50 -n 1 curl -sf -o /dev/null <'$WF/urls.txt'"
wrk -t2 -c50 -d5s "$URL" >/dev/null 2>&1 || true  # warm-up
wrk -t2 -c50 -d5s "$URL" >"$TMP/wrk.txt" 2>&1 || FAILED+=(wrk)

note "scaling"
# Long rows are timed once, without a warm-up (orch's history is warm by then).
# The in-process rows at 1,000 steps take tens of milliseconds: as many runs
# as the per-step rows, since 3 of them were at the mercy of one slow run.
for n in 1000 10000 100000; do
  r=$RUNS; ((n > 1000)) && r=1
  WARMUP=$((r > 1)) orch_row scale "transform $n" "$n" $r "scale-t$n" -- run "$WF/transform-$n.yaml" --output plain -q
  WARMUP=$((r > 1)) row scale "validate $n" "orch validate" "$n" $r -- "$ORCH" validate "$WF/transform-$n.yaml"
  WARMUP=$((r > 1)) row scale "plan $n" "orch plan" "$n" $r -- "$ORCH" plan "$WF/transform-$n.yaml"
done
sizes=(1000 10000)
[[ ${BENCH_BIG:-0} == 1 ]] && sizes+=(100000)
for n in "${sizes[@]}"; do
  r=3; ((n > 1000)) && r=1
  WARMUP=$((r > 1)) row scale "wide $n P=4" make "$n" $r -- make -s -j4 -f "$WF/wide-$n.mk" all
  WARMUP=$((r > 1)) orch_row scale "wide $n P=4" "$n" $r "scale-w$n" -- run "$WF/wide-$n.yaml" -j 4 --output plain -q
done
for n in 1000 10000; do
  r=3; ((n > 1000)) && r=1
  WARMUP=$((r > 1)) row scale "chain $n" make "$n" $r -- make -s -f "$WF/chain-$n.mk" all
  WARMUP=$((r > 1)) orch_row scale "chain $n" "$n" $r "scale-c$n" -- run "$WF/chain-$n.yaml" --output plain -q
done

note "writing the report"
OUT=$TMP/report.md
python3 "$REPORT" report "$ROWS" "$TMP/faults.tsv" "$(cat "$TMP/text.txt")" "$TMP/wrk.txt" \
  "$ORCH" "${BASE:-}" "$RUNS" >"$OUT"
cat "$OUT"
if ((WRITE)); then
  python3 "$REPORT" splice "$ROOT/bench/RESULTS.md" "$OUT"
  note "bench/RESULTS.md updated (section \"Engine\")"
fi
rm -rf "$HOMES"
if ((${#FAILED[@]})); then
  note "${#FAILED[@]} command(s) failed: ${FAILED[*]}"
  exit 1
fi
