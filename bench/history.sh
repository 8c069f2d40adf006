#!/usr/bin/env bash
# What durable run history costs, and how fast it reads back. See bench/README.md.
# Usage: bash bench/history.sh [overhead] [query]     (default: both parts)
#
#   overhead  `orch run` on the wide/chain/diamond workflows of run.sh with
#             ORCH_HOME on a disk directory vs ORCH_HISTORY=memory, side by
#             side in one hyperfine invocation per workload. Target: <= 10 %.
#   query     a generated history of 100,000 runs / 1,000,000 steps, then
#             `orch history`, `orch show`, `orch stats` (table and --json).
#             Targets: history < 100 ms, show < 50 ms, stats W < 300 ms
#             (`orch stats` over all workflows is timed too, with no target).
#
# Environment:
#   ORCH_BIN           orch binary to measure (default: build target/release/orch)
#   BENCH_RUNS         timed runs per variant, overhead part (default 12; >= 5),
#                      spread over BENCH_BLOCKS blocks (default 4) in ABBA order
#   BENCH_QUERY_RUNS   timed runs per command, query part (default 10; >= 5)
#   BENCH_CMD          the step command of the overhead workflows (default `true`)
#   BENCH_SHM          1: also time ORCH_HOME on /dev/shm (tmpfs), to split the
#                      cost of the disk from the cost of the work orch does
#   BENCH_DIR          where the temp dir goes (default: the repo's target/);
#                      must not be tmpfs, or the "disk" column measures RAM
#   BENCH_QUERY_HOME   use this ORCH_HOME for the query part instead of
#                      generating one (it must hold a generated history)
#   BENCH_KEEP         1 keeps the temp dir (databases, workflows)
#   GEN_WORKFLOWS, GEN_RUNS_PER_WORKFLOW, GEN_STEPS_PER_RUN
#                      size of the generated history (default 10, 10000, 10)
#
# Exits non-zero when a measured command fails (its stderr is shown) or the
# setup does; a missed target is reported, not an error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=4
RUNS=${BENCH_RUNS:-12}
BLOCKS=${BENCH_BLOCKS:-4}
QRUNS=${BENCH_QUERY_RUNS:-10}
CMD=${BENCH_CMD:-true}
GEN_WORKFLOWS=${GEN_WORKFLOWS:-10}
GEN_RUNS_PER_WORKFLOW=${GEN_RUNS_PER_WORKFLOW:-10000}
GEN_STEPS_PER_RUN=${GEN_STEPS_PER_RUN:-10}

die() { echo "history-bench: $*" >&2; exit 2; }
note() { echo "history-bench: $*" >&2; }

PARTS=("$@")
((${#PARTS[@]})) || PARTS=(overhead query)
for p in "${PARTS[@]}"; do
  [[ $p == overhead || $p == query ]] || die "unknown part '$p' (overhead, query)"
done
want() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }

for n in "$RUNS" "$QRUNS"; do
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 5)) || die "BENCH_RUNS and BENCH_QUERY_RUNS must be integers >= 5"
done
[[ $BLOCKS =~ ^[0-9]+$ ]] && ((BLOCKS >= 1)) || die "BENCH_BLOCKS must be a positive integer"
command -v python3 >/dev/null || die "python3 is required (report, history generator)"

# --- hyperfine ---------------------------------------------------------------------
hyperfine_ok() {
  command -v hyperfine >/dev/null && grep -q -- '--shell' <<<"$(hyperfine --help 2>/dev/null)"
}
if ! hyperfine_ok; then
  note "hyperfine not found; installing it with apt-get..."
  SUDO=
  ((EUID == 0)) || SUDO=sudo
  command -v apt-get >/dev/null || die "hyperfine is required: install it (https://github.com/sharkdp/hyperfine)"
  $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq hyperfine >&2 ||
    die "could not install hyperfine with apt-get; install it yourself"
  hyperfine_ok || die "this hyperfine is too old (needs --shell=none, hyperfine >= 1.13)"
fi

# --- orch ------------------------------------------------------------------------------
if [[ -n ${ORCH_BIN:-} ]]; then
  ORCH=$ORCH_BIN
else
  note "building orch (release)..."
  (cd "$ROOT" && cargo build --release --quiet)
  ORCH=$ROOT/target/release/orch
fi
[[ -x $ORCH ]] || die "orch binary not found or not executable: $ORCH"
ORCH=$(realpath "$ORCH")

# --- where the data goes: a real disk, not tmpfs ------------------------------------
BASE=${BENCH_DIR:-$ROOT/target}
mkdir -p "$BASE"
# (stat -f says "ext2/ext3" for ext4; findmnt names it.)
fstype=$(findmnt -no FSTYPE --target "$BASE" 2>/dev/null || stat -f -c %T "$BASE")
case $fstype in
  tmpfs | ramfs) die "$BASE is $fstype: set BENCH_DIR to a directory on disk (e.g. /var/tmp)" ;;
esac
TMP=$(mktemp -d "$BASE/orch-history-bench.XXXXXX")
if [[ ${BENCH_KEEP:-0} == 1 ]]; then
  trap 'echo "history-bench: kept $TMP" >&2' EXIT
else
  trap 'rm -rf "$TMP"; [[ -z ${SHM_HOME:-} ]] || rm -rf "$SHM_HOME"' EXIT
fi
mkdir "$TMP/wf" "$TMP/cwd"
# Measure a copy: a `cargo build` elsewhere must not swap the binary mid-run.
cp "$ORCH" "$TMP/orch"
ORCH_SRC=$ORCH ORCH=$TMP/orch
# orch puts each run's scratch dir in TMPDIR: keep it next to the data, not in
# a tmpfs /tmp, and the same for every variant.
export TMPDIR=$TMP/scratch
mkdir "$TMPDIR"
unset ORCH_HISTORY ORCH_HOME

HELPER=$ROOT/bench/history_report.py
[[ -f $HELPER ]] || die "missing $HELPER"

# hf OUT.json NAME CMD [NAME CMD...]: hyperfine with no shell; on failure show why.
hf() {
  local out=$1 runs=$2; shift 2
  local args=() names=() cmds=()
  while (($#)); do
    args+=(-n "$1" "$2"); names+=("$1"); cmds+=("$2"); shift 2
  done
  if ! hyperfine --style none --shell=none --warmup 1 --runs "$runs" \
      --export-json "$out" "${args[@]}" >/dev/null 2>"$TMP/hf.log"; then
    echo >&2
    tail -n 5 "$TMP/hf.log" >&2
    local i
    for i in "${!cmds[@]}"; do
      # hyperfine swallows the command's own output: run it once more to show it.
      if ! eval "${cmds[$i]}" </dev/null >"$TMP/out.log" 2>"$TMP/err.log"; then
        note "'${names[$i]}' failed: ${cmds[$i]}"
        tail -c 2000 "$TMP/err.log" >&2
      fi
    done
    return 1
  fi
}

echo "orch history benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host:   $(uname -srm), $(nproc) CPUs"
echo "orch:   $ORCH_SRC ($(stat -c %y "$ORCH_SRC" | cut -d. -f1))"
echo "data:   $TMP ($fstype on $(df --output=source "$TMP" | tail -n1))"
echo "timer:  $(hyperfine --version), warm-up 1 per block"
read -r load1 _ </proc/loadavg
echo "load:   $load1 (1-min average at start)"
if python3 -c "import sys; sys.exit(0 if float('$load1') > 0.5 * $(nproc) else 1)"; then
  note "warning: load average $load1 on $(nproc) CPUs: something else is running; the numbers will be noisy"
fi

FAILED=0

# =====================================================================================
# Part A: overhead of durable history
# =====================================================================================
if want overhead; then
  # shellcheck source=bench/shapes.sh
  source "$ROOT/bench/shapes.sh"
  DISK_HOME=$TMP/home-disk MEM_HOME=$TMP/home-memory
  if [[ ${BENCH_SHM:-0} == 1 ]]; then
    [[ $(stat -f -c %T /dev/shm) == tmpfs ]] || die "/dev/shm is not a tmpfs"
    SHM_HOME=$(mktemp -d /dev/shm/orch-history-bench.XXXXXX)
  fi
  BLOCK=$(((RUNS + BLOCKS - 1) / BLOCKS))
  note "part A: overhead, $BLOCKS blocks x $BLOCK runs per variant (each +1 warm-up), step command '$CMD'"
  : >"$TMP/overhead.tsv"
  cd "$TMP/cwd"
  for shape in wide chain diamond; do
    gen_yaml "$shape" "$CMD" "$TMP/wf/$shape.yaml"
    case $shape in wide) label="wide-$WIDE_N" ;; chain) label="chain-$CHAIN_N" ;; diamond) label="diamond-$FANOUT_N" ;; esac
    run="$(printf '%q' "$ORCH") run $(printf '%q' "$TMP/wf/$shape.yaml") -j $JOBS --output plain -q"
    disk=(disk "env ORCH_HOME=$(printf '%q' "$DISK_HOME") $run")
    mem=(memory "env ORCH_HISTORY=memory ORCH_HOME=$(printf '%q' "$MEM_HOME") $run")
    shm=()
    if [[ -n ${SHM_HOME:-} ]]; then
      shm=(shm "env ORCH_HOME=$(printf '%q' "$SHM_HOME") $run")
    fi
    # hyperfine times one command after the other: time the variants in
    # BLOCKS blocks, in ABBA order, so a drift in machine load does not favour
    # one of them; the times of a variant's blocks are pooled.
    variants=()
    for ((b = 0; b < BLOCKS; b++)); do
      if ((b % 2 == 0)); then
        variants+=("${disk[@]}" "${mem[@]}" "${shm[@]}")
      else
        variants+=("${shm[@]}" "${mem[@]}" "${disk[@]}")
      fi
    done
    printf '  %-13s' "$label" >&2
    if hf "$TMP/hf-$shape.json" "$BLOCK" "${variants[@]}"; then
      printf '%s\t%s\t%s\n' "$label" "$(steps_of "$shape")" "$TMP/hf-$shape.json" >>"$TMP/overhead.tsv"
      python3 "$HELPER" medians "$TMP/hf-$shape.json" >&2
    else
      printf '%s\t%s\tFAILED\n' "$label" "$(steps_of "$shape")" >>"$TMP/overhead.tsv"
      FAILED=1
    fi
  done
  cd "$ROOT"
  echo
  echo "Part A: history overhead — orch run FILE -j $JOBS --output plain -q, step command '$CMD'"
  echo "median of $((BLOCKS * BLOCK)) runs per variant ($BLOCKS blocks of $BLOCK, ABBA order); disk = ORCH_HOME on $fstype, memory = ORCH_HISTORY=memory"
  echo
  python3 "$HELPER" overhead "$TMP/overhead.tsv"
  # The memory variant must have written nothing; the disk one every run.
  if [[ -e $MEM_HOME && -n $(ls -A "$MEM_HOME") ]]; then
    note "ORCH_HISTORY=memory wrote files to $MEM_HOME:"; ls -la "$MEM_HOME" >&2; FAILED=1
  fi
  if [[ -f $DISK_HOME/history.db ]]; then
    echo
    python3 "$HELPER" dbinfo "$DISK_HOME"
  fi
fi

# =====================================================================================
# Part B: query speed on a large history
# =====================================================================================
if want query; then
  echo
  echo "Part B: query speed — ORCH_HOME holding a large history, median of $QRUNS runs"
  echo
  if [[ -n ${BENCH_QUERY_HOME:-} ]]; then
    QHOME=$(realpath "$BENCH_QUERY_HOME")
    [[ -f $QHOME/history.db ]] || die "BENCH_QUERY_HOME has no history.db: $QHOME"
    note "part B: using the history in $QHOME"
    echo "history: the existing $QHOME (BENCH_QUERY_HOME)"
    GEN_INFO=$(python3 "$HELPER" pick "$QHOME/history.db")
  else
    QHOME=$TMP/home-query
    note "part B: generating $((GEN_WORKFLOWS * GEN_RUNS_PER_WORKFLOW)) runs x $GEN_STEPS_PER_RUN steps in $QHOME..."
    # orch creates the database itself: its migrations, application_id, user_version.
    printf 'name: bench-init\nsteps:\n  - id: init\n    run: "true"\n' >"$TMP/wf/init.yaml"
    ORCH_HOME=$QHOME "$ORCH" run "$TMP/wf/init.yaml" --output plain -q >/dev/null ||
      die "orch could not create the history database in $QHOME"
    GEN_INFO=$(python3 "$ROOT/bench/gen_history.py" "$QHOME/history.db" --replace \
      --workflows "$GEN_WORKFLOWS" --runs-per-workflow "$GEN_RUNS_PER_WORKFLOW" \
      --steps-per-run "$GEN_STEPS_PER_RUN") || die "generating the history failed"
    echo "history: generated by bench/gen_history.py ($GEN_WORKFLOWS workflows x $GEN_RUNS_PER_WORKFLOW runs x $GEN_STEPS_PER_RUN steps)"
    grep -E '^(runs=|generated in)' <<<"$GEN_INFO" | sed 's/^/  /'
  fi
  RUN_ID=$(sed -n 's/^show_run=//p' <<<"$GEN_INFO")
  WF=$(sed -n 's/^workflow=//p' <<<"$GEN_INFO")
  [[ -n $RUN_ID && -n $WF ]] || die "no run id / workflow to query: $GEN_INFO"
  python3 "$HELPER" dbinfo "$QHOME"
  echo
  # The database must open and answer with plain sqlite3 before orch reads it.
  python3 "$HELPER" verify "$QHOME/history.db" "$RUN_ID" "$WF" || die "the generated database does not read back"
  echo

  export ORCH_HOME=$QHOME
  o=$(printf '%q' "$ORCH")
  QUERIES=(
    "history"             "$o history"                      100
    "history --json"      "$o history --json --limit 20"    100
    "show ID"             "$o show $RUN_ID"                 50
    "show ID --json"      "$o show $RUN_ID --json"          50
    "stats W"             "$o stats $WF"                    300
    "stats W --json"      "$o stats $WF --json"             300
    "stats (all)"         "$o stats"                        -
  )
  : >"$TMP/query.tsv"
  note "part B: $QRUNS runs each (+1 warm-up); run $RUN_ID, workflow $WF"
  for ((i = 0; i < ${#QUERIES[@]}; i += 3)); do
    name=${QUERIES[i]} cmd=${QUERIES[i + 1]} target=${QUERIES[i + 2]}
    shown="orch ${cmd#* }"
    printf '  %-16s' "$name" >&2
    # Once by hand first: it must succeed and print something.
    rc=0
    eval "$cmd" </dev/null >"$TMP/q.out" 2>"$TMP/q.err" || rc=$?
    if ((rc != 0)) || [[ ! -s $TMP/q.out ]]; then
      echo "FAILED (exit $rc$( ((rc)) || echo ', no output')): $shown" >&2
      tail -c 2000 "$TMP/q.err" >&2
      printf '%s\t%s\t%s\tFAILED\n' "$name" "$shown" "$target" >>"$TMP/query.tsv"
      FAILED=1
      continue
    fi
    cp "$TMP/q.out" "$TMP/q-$i.out"
    if hf "$TMP/q-$i.json" "$QRUNS" "$name" "$cmd"; then
      printf '%s\t%s\t%s\t%s\n' "$name" "$shown" "$target" "$TMP/q-$i.json" >>"$TMP/query.tsv"
      python3 "$HELPER" medians "$TMP/q-$i.json" >&2
    else
      printf '%s\t%s\t%s\tFAILED\n' "$name" "$shown" "$target" >>"$TMP/query.tsv"
      FAILED=1
    fi
  done
  unset ORCH_HOME
  python3 "$HELPER" queries "$TMP/query.tsv"
  echo
  echo "first lines of each output:"
  for ((i = 0; i < ${#QUERIES[@]}; i += 3)); do
    [[ -f $TMP/q-$i.out ]] || continue
    echo "  \$ orch ${QUERIES[i + 1]#* }"
    head -n 4 "$TMP/q-$i.out" | cut -c1-150 | sed 's/^/    /'
  done
fi

if ((FAILED)); then
  note "some commands failed (see above)"
  exit 1
fi
