# shellcheck shell=bash
# Workflow generators shared by bench/run.sh and bench/history.sh (sourced,
# not run). Each shape is written three ways (orch YAML, Makefile, Taskfile)
# with the same dependency graph. Step names: s<i> for wide/chain; root, m<i>,
# sink for diamond. The make/task "all" target has no recipe, so spawns only
# the steps.

WIDE_N=1000 CHAIN_N=300 FANOUT_N=500 VALIDATE_N=10000

# steps_of SHAPE -> number of commands a run of that shape spawns
steps_of() {
  case $1 in
    startup) echo 1 ;; wide) echo $WIDE_N ;; chain) echo $CHAIN_N ;;
    diamond) echo $((FANOUT_N + 2)) ;;
  esac
}

# edges SHAPE -> lines "step dep1 dep2 ..." in a valid topological order
edges() {
  local i deps
  case $1 in
    startup) echo s0 ;;
    wide) for ((i = 0; i < WIDE_N; i++)); do echo "s$i"; done ;;
    chain)
      echo s0
      for ((i = 1; i < CHAIN_N; i++)); do echo "s$i s$((i - 1))"; done ;;
    diamond)
      echo root
      for ((i = 0; i < FANOUT_N; i++)); do echo "m$i root"; done
      deps=$(for ((i = 0; i < FANOUT_N; i++)); do printf 'm%d ' "$i"; done)
      echo "sink ${deps% }" ;;
  esac
}

# sinks SHAPE -> the steps nothing depends on (what "all" must build)
sinks() {
  local i
  case $1 in
    startup) echo s0 ;;
    wide) for ((i = 0; i < WIDE_N; i++)); do printf 's%d ' "$i"; done; echo ;;
    chain) echo "s$((CHAIN_N - 1))" ;;
    diamond) echo sink ;;
  esac
}

# gen_yaml SHAPE CMD OUT
gen_yaml() {
  local step deps
  {
    echo "name: $1"
    echo "steps:"
    while read -r step deps; do
      echo "  - id: $step"
      if [[ -n $deps ]]; then echo "    needs: [${deps// /, }]"; fi
      echo "    run: \"$2\""
    done < <(edges "$1")
  } >"$3"
}

# gen_make SHAPE CMD OUT. Every target is .PHONY: no stat()s, no implicit-rule search.
gen_make() {
  local step deps
  {
    printf '.PHONY: all'
    edges "$1" | while read -r step deps; do printf ' %s' "$step"; done
    printf '\nall: %s\n' "$(sinks "$1")"
    while read -r step deps; do
      printf '%s: %s\n\t%s\n' "$step" "$deps" "$2"
    done < <(edges "$1")
  } >"$3"
}

# gen_task SHAPE CMD OUT. `run: once`, or go-task re-runs a shared dep (diamond's
# root) once per dependent.
gen_task() {
  local step deps s
  {
    echo "version: '3'"
    echo "run: once"
    echo "tasks:"
    printf '  all:\n    deps: ['
    s=$(sinks "$1"); s=${s% }; printf '%s]\n' "${s// /, }"
    while read -r step deps; do
      echo "  $step:"
      if [[ -n $deps ]]; then echo "    deps: [${deps// /, }]"; fi
      echo "    cmds: [\"$2\"]"
    done < <(edges "$1")
  } >"$3"
}

# 10k steps for `orch validate`: a binary tree (every step but the first needs
# its parent), so dependency resolution is exercised without a 10k-deep chain.
gen_validate() {
  local i
  {
    echo "name: validate-10k"
    echo "steps:"
    echo "  - id: s0"
    echo "    run: \"true\""
    for ((i = 1; i < VALIDATE_N; i++)); do
      printf '  - id: s%d\n    needs: [s%d]\n    run: "true"\n' "$i" $(((i - 1) / 2))
    done
  } >"$1"
}
