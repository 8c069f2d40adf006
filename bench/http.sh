#!/usr/bin/env bash
# HTTP benchmark: 1,000 independent `http` steps at concurrency 50 against a
# loopback server (orch-testserver --no-record, GET /ok), and a load tool
# (oha, else wrk) against the same server in the same run: requests/s and p99.
# See bench/README.md. Usage: bash bench/http.sh
#
# Environment:
#   ORCH_BIN        orch binary to measure (default: build target/release/orch)
#   TESTSERVER_BIN  server binary (default: build target/release/orch-testserver)
#   BENCH_RUNS      timed orch runs (default 5, after 1 warm-up); the median is reported
#   BENCH_STEPS     http steps in the workflow (default 1000)
#   BENCH_JOBS      orch -j and the load tool's connections (default 50)
#   BENCH_TOOL      auto | oha | wrk | none (default auto: oha if on PATH, else wrk,
#                   installed with apt-get when missing and running as root)
#   BENCH_KEEP      1 keeps the temp dir (workflow, events, tool output)
#
# A missed target is reported, not an error; the exit status is non-zero only
# when orch or the load tool fails (or the setup does).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-5}
STEPS=${BENCH_STEPS:-1000}
JOBS=${BENCH_JOBS:-50}
TOOL=${BENCH_TOOL:-auto}
REPORT=$ROOT/bench/http_report.py

die() { echo "bench: $*" >&2; exit 2; }
note() { echo "bench: $*" >&2; }

command -v python3 >/dev/null || die "python3 is required (timing and report)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
[[ $STEPS =~ ^[1-9][0-9]*$ ]] || die "BENCH_STEPS must be a positive integer"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS must be a positive integer"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/orch-bench-http.XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "bench: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# orch records every run: keep that in the temp dir, never the user's history.
export ORCH_HOME=$TMP/orch-home
unset ORCH_HISTORY ORCH_CONFIG ORCHESTRATION_MAX_CONCURRENCY ORCHESTRATION_DEFAULT_MAX_PARALLEL \
  ORCHESTRATION_PROGRESS_WEBHOOK_URL
# A proxy must not sit between the client and the loopback server.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# --- binaries ------------------------------------------------------------------

if [[ -z ${ORCH_BIN:-} || -z ${TESTSERVER_BIN:-} ]]; then
  note "building orch and orch-testserver (release)..."
  (cd "$ROOT" && cargo build --release --quiet -p orch -p orch-testserver)
fi
ORCH=$(realpath "${ORCH_BIN:-$ROOT/target/release/orch}")
SERVER=$(realpath "${TESTSERVER_BIN:-$ROOT/target/release/orch-testserver}")
[[ -x $ORCH ]] || die "orch binary not found or not executable: $ORCH"
[[ -x $SERVER ]] || die "orch-testserver binary not found or not executable: $SERVER"

if [[ $TOOL == auto ]]; then
  if command -v oha >/dev/null; then
    TOOL=oha
  elif command -v wrk >/dev/null; then
    TOOL=wrk
  elif [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    note "installing wrk (apt-get)..."
    if apt-get install -y -qq wrk >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; }; then
      TOOL=wrk
    else
      note "could not install wrk; measuring orch only"
      TOOL=none
    fi
  else
    note "neither oha nor wrk on PATH; measuring orch only"
    TOOL=none
  fi
fi
case $TOOL in
  oha | wrk) command -v "$TOOL" >/dev/null || die "BENCH_TOOL=$TOOL but $TOOL is not on PATH" ;;
  none) ;;
  *) die "BENCH_TOOL must be auto, oha, wrk or none" ;;
esac

# --- server ----------------------------------------------------------------------

: >"$TMP/server.out"
"$SERVER" --no-record >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
URL=
for _ in $(seq 100); do
  if read -r line <"$TMP/server.out" 2>/dev/null && [[ $line == "listening on "* ]]; then
    URL=${line#listening on }/ok
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.err" >&2; die "orch-testserver exited"; }
  sleep 0.05
done
[[ -n $URL ]] || die "orch-testserver did not say where it listens"

# --- workflow ----------------------------------------------------------------------

WF=$TMP/http-$STEPS.yaml
{
  echo "name: http-bench"
  echo "steps:"
  for ((i = 0; i < STEPS; i++)); do
    printf '  - id: s%d\n    http: { url: "%s" }\n' "$i" "$URL"
  done
} >"$WF"
# The same graph with no-op `transform` steps: orch's own cost per step, no I/O.
WF_FLOOR=$TMP/transform-$STEPS.yaml
{
  echo "name: transform-bench"
  echo "steps:"
  for ((i = 0; i < STEPS; i++)); do
    printf '  - id: s%d\n    transform: { x: 1 }\n' "$i"
  done
} >"$WF_FLOOR"

{
  echo "orch HTTP benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host:   $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
  echo "orch:   $ORCH"
  echo "server: $SERVER --no-record ($URL)"
  case $TOOL in
    oha) echo "tool:   $(oha --version 2>/dev/null | head -n1): oha -n $STEPS -c $JOBS --no-tui --json" ;;
    wrk) echo "tool:   $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2): wrk -t2 -c$JOBS -d5s --latency" ;;
    none) echo "tool:   none" ;;
  esac
  echo "orch:   $STEPS http steps, orch run -j $JOBS --output json; median of $RUNS runs after 1 warm-up"
  echo
}

# --- orch ------------------------------------------------------------------------------

ORCH_RESULTS=$TMP/orch.jsonl FLOOR_RESULTS=$TMP/floor.jsonl
: >"$ORCH_RESULTS"
: >"$FLOOR_RESULTS"
FAILED=()
# orch_runs NAME WORKFLOW RESULTS: a warm-up and RUNS timed runs; one JSON line each
orch_runs() {
  local name=$1 wf=$2 results=$3 run label wall code
  for ((run = 0; run <= RUNS; run++)); do
    label="run $run"; ((run == 0)) && label="warm-up"
    printf '  %-9s %-8s' "$name" "$label" >&2
    read -r wall code < <(python3 "$REPORT" time "$TMP/events.jsonl" "$TMP/orch.err" -- \
      "$ORCH" run "$wf" -j "$JOBS" --output json)
    figures=$(python3 "$REPORT" orch "$TMP/events.jsonl" "$wall" "$code")
    if [[ $code != 0 ]]; then
      echo "  orch failed (exit $code):" >&2
      head -n 25 "$TMP/orch.err" | sed 's/^/    /' >&2
      FAILED+=("$name")
      echo "$figures" >>"$results"
      return
    fi
    ((run == 0)) || echo "$figures" >>"$results"
  done
}
orch_runs "orch" "$WF" "$ORCH_RESULTS"
orch_runs "transform" "$WF_FLOOR" "$FLOOR_RESULTS"

# --- load tool ---------------------------------------------------------------------------

TOOL_RESULT=$TMP/tool.json
: >"$TOOL_RESULT"
case $TOOL in
  oha)
    printf '  %-18s' oha >&2
    # A short warm-up, then the measured run.
    oha -n 200 -c "$JOBS" --no-tui "$URL" >/dev/null 2>&1 || true
    if oha -n "$STEPS" -c "$JOBS" --no-tui --json "$URL" >"$TMP/oha.json" 2>"$TMP/oha.err"; then
      python3 "$REPORT" oha "$TMP/oha.json" >"$TOOL_RESULT" || FAILED+=("oha")
    else
      cat "$TMP/oha.err" >&2; FAILED+=("oha")
    fi
    ;;
  wrk)
    printf '  %-18s' wrk >&2
    wrk -t2 -c"$JOBS" -d1s "$URL" >/dev/null 2>&1 || true
    if wrk -t2 -c"$JOBS" -d5s --latency "$URL" >"$TMP/wrk.txt" 2>"$TMP/wrk.err"; then
      python3 "$REPORT" wrk "$TMP/wrk.txt" >"$TOOL_RESULT" || FAILED+=("wrk")
    else
      cat "$TMP/wrk.err" >&2; FAILED+=("wrk")
    fi
    ;;
esac
if [[ ! -s $TOOL_RESULT && $TOOL != none ]]; then echo >&2; fi

echo >&2
python3 "$REPORT" report "$ORCH_RESULTS" "$( [[ -s $TOOL_RESULT ]] && echo "$TOOL_RESULT" || echo - )" "$STEPS" "$FLOOR_RESULTS"

if ((${#FAILED[@]})); then
  echo >&2
  note "failed: ${FAILED[*]}"
  exit 1
fi
