#!/usr/bin/env bash
# Fill fuzz/corpus/<target>/ with seeds from the repository: every workflow
# and config file in examples/, workflows/ and the diagnostic fixtures
# (tests/fixtures/{invalid,config}; not the crash reproducers), the
# `${{ }}` expressions and templated lines found in them, a few
# ORCH_OUTPUT files, and the dotenv files of examples/ with a few more. Safe to re-run: seeds are named by their content.
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus
mkdir -p "$out"/{workflow,config,expr,template,output_file,dotenv}

# One seed file named by the hash of its content.
seed() { # target, content on stdin
    local tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if [ -s "$tmp" ]; then
        mv "$tmp" "$out/$1/seed-$(sha1sum "$tmp" | cut -c1-16)"
    else
        rm -f "$tmp"
    fi
}

mapfile -t files < <(find examples workflows tests/fixtures/invalid tests/fixtures/config -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
for f in "${files[@]}"; do
    seed workflow <"$f"
    # The config parser sees workflow files too: their structure is close.
    seed config <"$f"
    # Every `${{ … }}` (non-greedy, one line), inside only, for the expression target.
    grep -oP '\$\{\{.*?\}\}' "$f" | while IFS= read -r e; do
        e=${e#'${{'}
        printf '%s' "${e%'}}'}" | seed expr
    done || true
    # Lines holding a template, as the splitter sees a value.
    grep -F '${{' "$f" | while IFS= read -r line; do
        printf '%s' "${line#*: }" | seed template
    done || true
done

printf 'a=1\nb=x=y\nmsg<<EOF\nline 1\nline 2\nEOF\n\na=2\nempty=\n' | seed output_file
printf 'digest=sha256:abc\n' | seed output_file
printf 'json<<END_OF_JSON\n{"a": [1, 2]}\nEND_OF_JSON\n' | seed output_file
printf 'x<<END\nabc\n' | seed output_file
printf 'bad key=1\n' | seed output_file
printf 'k=v\r\nk2<<D\r\nbody\r\nD\r\n' | seed output_file

mapfile -t envs < <(find examples workflows -type f -name '*.env' | sort)
for f in "${envs[@]}"; do
    seed dotenv <"$f"
done
printf 'A=1\nexport B="two words" # comment\nC='"'"'single $A'"'"'\nD="line\\nbreak"\nE=${A}-x\n' | seed dotenv
printf 'MULTI="first\nsecond"\nEMPTY=\n  SPACED = v \n' | seed dotenv
printf 'A=1\nnot a line\n' | seed dotenv
printf 'Q="never closed\n' | seed dotenv
printf 'k=v\r\nexport\tX=1\r\n' | seed dotenv

for t in workflow config expr template output_file dotenv; do
    printf '%-12s %4d seeds\n' "$t" "$(find "$out/$t" -type f | wc -l)"
done
