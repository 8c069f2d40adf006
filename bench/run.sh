#!/usr/bin/env bash
# Benchmark harness: orch vs GNU make (and go-task, if installed) vs the
# process-spawning floor, on generated workflows of a few shapes.
# See bench/README.md. Usage: bash bench/run.sh
#
# Environment:
#   ORCH_BIN     orch binary to measure (default: build target/release/orch)
#   ORCH_BASELINE another orch binary (say, a build of the previous commit),
#                measured in the same run beside it as `orch baseline`
#   BENCH_RUNS   timed repetitions per command (default 5; 30 for startup)
#   BENCH_TIMER  auto | hyperfine | python (default auto: hyperfine if on PATH)
#   BENCH_KEEP   set to 1 to keep the temp dir (generated workflows) for a look
#
# The report never fails on a missed target; the exit status is non-zero only
# when a benchmarked command itself fails (or the setup does).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=4
RUNS_BIG=${BENCH_RUNS:-5}
RUNS_STARTUP=${BENCH_RUNS:-30}
RUNS_RSS=2   # peak RSS barely varies between runs: a separate, short measurement

die() { echo "bench: $*" >&2; exit 2; }
note() { echo "bench: $*" >&2; }

command -v python3 >/dev/null || die "python3 is required (timing and report)"
command -v make >/dev/null || die "make is required (the baseline)"
command -v rustc >/dev/null || die "rustc is required (to build the floor)"
[[ $RUNS_BIG =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/orch-bench.XXXXXX")
if [[ ${BENCH_KEEP:-0} == 1 ]]; then
  trap 'echo "bench: kept $TMP" >&2' EXIT
else
  trap 'rm -rf "$TMP"' EXIT
fi
mkdir "$TMP/wf" "$TMP/cwd"

# A parent make's -j / jobserver must not leak into the make we measure.
unset MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS
# orch records every run in ORCH_HOME: keep that in the temp dir, not in the
# user's history (~/.local/share/orch), and start from an empty one. (What
# history costs is measured by bench/history.sh.)
export ORCH_HOME=$TMP/orch-home
unset ORCH_HISTORY

# --- tools -------------------------------------------------------------------

if [[ -n ${ORCH_BIN:-} ]]; then
  ORCH=$ORCH_BIN
else
  note "building orch (release)..."
  (cd "$ROOT" && cargo build --release --quiet)
  ORCH=$ROOT/target/release/orch
fi
[[ -x $ORCH ]] || die "orch binary not found or not executable: $ORCH"
ORCH=$(realpath "$ORCH")  # we cd away below
BASE=
if [[ -n ${ORCH_BASELINE:-} ]]; then
  [[ -x $ORCH_BASELINE ]] || die "ORCH_BASELINE is not an executable: $ORCH_BASELINE"
  BASE=$(realpath "$ORCH_BASELINE")
fi

rustc -O -o "$TMP/floor" "$ROOT/bench/floor.rs"
rustc -O -o "$TMP/peakrss" "$ROOT/bench/peakrss.rs"
FLOOR=$TMP/floor PEAKRSS=$TMP/peakrss

# go-task and Taskwarrior both install a `task`; only go-task says "Task version".
TASK=
# (Output goes through a variable, not a pipe: grep -q closing it early would
# SIGPIPE the writer and, under pipefail, fail the test.)
if command -v task >/dev/null && grep -q 'Task version' <<<"$(task --version 2>/dev/null)"; then
  TASK=$(command -v task)
fi

TIMER=${BENCH_TIMER:-auto}
if [[ $TIMER == auto ]]; then
  # --shell=none (hyperfine >= 1.13) keeps a wrapping shell out of the numbers.
  if command -v hyperfine >/dev/null && grep -q -- '--shell=none' <<<"$(hyperfine --help 2>/dev/null)"; then
    TIMER=hyperfine
  else
    TIMER=python
  fi
fi
case $TIMER in
  python) ;;
  hyperfine) command -v hyperfine >/dev/null || die "BENCH_TIMER=hyperfine but hyperfine is not on PATH" ;;
  *) die "BENCH_TIMER must be auto, hyperfine or python" ;;
esac

# --- measurement and report helper ---------------------------------------------
# Without hyperfine, Python does the timing: the clock is read around just
# spawn+wait, with no shell in between. Peak RSS comes from bench/peakrss.rs
# instead (see there for why not from Python).
HELPER=$TMP/bench.py
cat >"$HELPER" <<'PY'
import json, os, statistics, sys, time

def measure(runs, warmup, argv, errlog):
    """Run argv warmup+runs times; print the median wall time in ms."""
    walls = []
    fa = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, errlog, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    for i in range(warmup + runs):
        t0 = time.perf_counter_ns()
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=fa)
        _, status = os.waitpid(pid, 0)
        t1 = time.perf_counter_ns()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            with open(errlog, errors="replace") as f:
                tail = f.read()[-2000:]
            sys.stderr.write(f"\ncommand failed (exit {code}): {' '.join(argv)}\n{tail}")
            sys.exit(1)
        if i >= warmup:
            walls.append((t1 - t0) / 1e6)
    print(f"{statistics.median(walls):.3f}")

def hyperfine_median(path):
    with open(path) as f:
        times = json.load(f)["results"][0]["times"]
    print(f"{statistics.median(times) * 1000:.3f}")

def report(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
    res = {}  # (shape, cmd, tool) -> (steps, ms, rss_kb) or None if failed/skipped
    order = []
    for shape, cmd, tool, steps, ms, rss, status in rows:
        res[(shape, cmd, tool)] = (int(steps), float(ms), int(rss)) if status == "ok" else None
        order.append((shape, cmd, tool, status))

    hdr = ("shape", "cmd", "tool", "steps", "median ms", "µs/step over floor", "× make", "peak RSS MiB")
    fmt = "{:<12} {:<10} {:<14} {:>6} {:>10} {:>19} {:>7} {:>13}"
    print(fmt.format(*hdr))
    print("-" * 98)
    prev = None
    for shape, cmd, tool, status in order:
        if prev and prev != (shape, cmd):
            print()
        prev = (shape, cmd)
        r = res[(shape, cmd, tool)]
        if r is None:
            print(fmt.format(shape, cmd, tool, "", status, "", "", ""))
            continue
        steps, ms, rss = r
        floor = res.get((shape, cmd, "floor"))
        make = res.get((shape, cmd, "make"))
        over = "-" if tool == "floor" or not floor else f"{(ms - floor[1]) * 1000 / steps:.1f}"
        ratio = f"{ms / make[1]:.2f}" if make else "-"
        print(fmt.format(shape, cmd, tool, steps, f"{ms:.2f}", over, ratio, f"{rss / 1024:.1f}"))

    print("\nTargets")
    met = total = 0
    def target(name, value, ok):
        nonlocal met, total
        total += 1
        met += ok is True
        verdict = {True: "PASS", False: "MISS", None: "n/a "}[ok]
        print(f"  {verdict}  {name:<40} {value}")
    cmds = sorted({c for (_, c, _) in res if c != "-"}, key=lambda c: (c != "true", c))
    for shape in ("wide", "chain", "diamond"):
        for c in cmds:
            o, m = res.get((shape, c, "orch")), res.get((shape, c, "make"))
            if o and m:
                x = o[1] / m[1]
                target(f"{shape} ({c}): orch ≤ 1.2× make", f"{x:.2f}×", x <= 1.2)
            else:
                target(f"{shape} ({c}): orch ≤ 1.2× make", "no measurement", None)
    for c in cmds:
        o = res.get(("startup", c, "orch"))
        target(f"startup ({c}): ≤ 10 ms", f"{o[1]:.2f} ms" if o else "no measurement",
               o[1] <= 10 if o else None)
    for c in cmds:
        o = res.get(("wide", c, "orch"))
        target(f"wide-1000 ({c}): peak RSS < 30 MiB", f"{o[2] / 1024:.1f} MiB" if o else "no measurement",
               o[2] / 1024 < 30 if o else None)
    v = res.get(("validate-10k", "-", "orch validate"))
    target("validate 10k steps: < 0.5 s", f"{v[1]:.1f} ms" if v else "no measurement",
           v[1] < 500 if v else None)
    print(f"\n{met}/{total} targets met")

cmd = sys.argv[1]
if cmd == "measure":
    # measure RUNS WARMUP ERRLOG -- CMD...
    measure(int(sys.argv[2]), int(sys.argv[3]), sys.argv[6:], sys.argv[4])
elif cmd == "hyperfine-median":
    hyperfine_median(sys.argv[2])
elif cmd == "report":
    report(sys.argv[2])
else:
    sys.exit(f"bench.py: unknown subcommand {cmd}")
PY

# --- workflow generation -----------------------------------------------------
# The shapes (sizes, graphs, and the YAML/Makefile/Taskfile writers) live in
# bench/shapes.sh, shared with bench/history.sh.
# shellcheck source=bench/shapes.sh
source "$ROOT/bench/shapes.sh"

SHAPES=(startup wide chain diamond)
CMDS=(true /bin/true)
varname() { [[ $1 == true ]] && echo builtin || echo external; }  # file-name-safe

note "generating workflows in $TMP/wf..."
for shape in "${SHAPES[@]}"; do
  for c in "${CMDS[@]}"; do
    base=$TMP/wf/$shape-$(varname "$c")
    gen_yaml "$shape" "$c" "$base.yaml"
    gen_make "$shape" "$c" "$base.mk"
    if [[ -n $TASK ]]; then gen_task "$shape" "$c" "$base.Taskfile.yml"; fi
  done
done
gen_validate "$TMP/wf/validate-10k.yaml"

# --- measuring -----------------------------------------------------------------

RESULTS=$TMP/results.tsv
: >"$RESULTS"
FAILED=()

# time_cmd RUNS CMD... -> median wall ms on stdout
time_cmd() {
  local runs=$1; shift
  if [[ $TIMER == python ]]; then
    python3 "$HELPER" measure "$runs" 1 "$TMP/stderr.log" -- "$@"
    return
  fi
  if ! hyperfine --style none --shell=none --warmup 1 --runs "$runs" \
      --export-json "$TMP/hf.json" -- "$(printf '%q ' "$@")" >/dev/null 2>"$TMP/hf.log"; then
    # hyperfine swallows the command's own stderr: run it once more to show why.
    echo >&2; tail -n 3 "$TMP/hf.log" >&2
    "$@" </dev/null >/dev/null 2>"$TMP/stderr.log" || true
    tail -c 2000 "$TMP/stderr.log" >&2
    return 1
  fi
  python3 "$HELPER" hyperfine-median "$TMP/hf.json"
}

# rss_cmd CMD... -> peak RSS in KiB on stdout
rss_cmd() {
  "$PEAKRSS" "$RUNS_RSS" "$@" 2>"$TMP/stderr.log" || { echo >&2; cat "$TMP/stderr.log" >&2; return 1; }
}

# bench SHAPE CMD TOOL STEPS RUNS -- COMMAND... : measure one command, record a row
bench() {
  local shape=$1 c=$2 tool=$3 steps=$4 runs=$5 ms rss
  shift 6
  printf '  %-13s %-10s %-14s' "$shape" "$c" "$tool" >&2
  if ms=$(time_cmd "$runs" "$@") && rss=$(rss_cmd "$@"); then
    printf '%s\t%s\t%s\t%s\t%s\t%s\tok\n' "$shape" "$c" "$tool" "$steps" "$ms" "$rss" >>"$RESULTS"
    printf '%10.2f ms %6d.%d MiB\n' "$ms" $((rss / 1024)) $((rss % 1024 * 10 / 1024)) >&2
  else
    printf '%s\t%s\t%s\t%s\t0\t0\tFAILED\n' "$shape" "$c" "$tool" "$steps" >>"$RESULTS"
    FAILED+=("$shape/$c/$tool")
    echo "  -> FAILED" >&2
  fi
}

{
  echo "orch benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host:   $(uname -srm), $(nproc) CPUs"
  echo "orch:   $ORCH"
  if [[ -n $BASE ]]; then echo "base:   $BASE (the 'orch baseline' rows)"; fi
  echo "make:   $(make --version | head -n1)"
  if [[ -n $TASK ]]; then echo "task:   $("$TASK" --version | head -n1)"; else echo "task:   go-task not on PATH; skipped"; fi
  echo "timer:  $TIMER, median of $RUNS_BIG runs ($RUNS_STARTUP for startup) after 1 warm-up; -j $JOBS"
  echo
}
# Run every tool from an empty directory, so nothing in the caller's cwd
# (a file named like a make target, a .task/ dir) can change what they do.
cd "$TMP/cwd"

for shape in "${SHAPES[@]}"; do
  steps=$(steps_of "$shape")
  runs=$RUNS_BIG; [[ $shape == startup ]] && runs=$RUNS_STARTUP
  for c in "${CMDS[@]}"; do
    base=$TMP/wf/$shape-$(varname "$c")
    case $shape in
      chain) floor_shape=chain ;; diamond) floor_shape=diamond ;; *) floor_shape=wide ;;
    esac
    bench "$shape" "$c" floor "$steps" "$runs" -- "$FLOOR" "$steps" "$JOBS" "$floor_shape" "$c"
    bench "$shape" "$c" make "$steps" "$runs" -- make -s -j"$JOBS" -f "$base.mk" all
    if [[ -n $TASK ]]; then
      bench "$shape" "$c" task "$steps" "$runs" -- "$TASK" -s -C "$JOBS" -t "$base.Taskfile.yml" all
    fi
    bench "$shape" "$c" orch "$steps" "$runs" -- "$ORCH" run "$base.yaml" -j "$JOBS" --output plain
    if [[ -n $BASE ]]; then
      # Its own history: an older orch refuses a database of a newer schema.
      bench "$shape" "$c" "orch baseline" "$steps" "$runs" -- env ORCH_HOME="$ORCH_HOME-baseline" \
        "$BASE" run "$base.yaml" -j "$JOBS" --output plain
    fi
  done
done
bench validate-10k - "orch validate" "$VALIDATE_N" "$RUNS_BIG" -- "$ORCH" validate "$TMP/wf/validate-10k.yaml"
if [[ -n $BASE ]]; then
  bench validate-10k - "base validate" "$VALIDATE_N" "$RUNS_BIG" -- "$BASE" validate "$TMP/wf/validate-10k.yaml"
fi

echo >&2
python3 "$HELPER" report "$RESULTS"

if ((${#FAILED[@]})); then
  echo >&2
  note "${#FAILED[@]} command(s) failed: ${FAILED[*]}"
  exit 1
fi
