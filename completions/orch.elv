
use builtin;
use str;

set edit:completion:arg-completer[orch] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'orch'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'orch'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand run 'Validate a workflow, then run it'
            cand validate 'Check workflow files and report every problem at once'
            cand plan 'Show the order in which steps would run, without running anything'
            cand graph 'Draw the DAG of a workflow'
            cand history 'List past runs, newest first'
            cand show 'Show one run: every step with status, attempts, duration, exit code, error'
            cand logs 'Print a run''s step output as recorded'
            cand resume 'Continue a failed, cancelled, interrupted or waiting run'
            cand approve 'Approve a waiting approval step'
            cand reject 'Reject a waiting approval step (the step fails when the run resumes)'
            cand stats 'Per-step statistics over past runs: runs, failure rate, duration p50/p95'
            cand metrics 'Prometheus metrics computed from the history, printed or served'
            cand export 'Compile a workflow for another engine (Argo Workflows)'
            cand cache 'Manage the step cache'
            cand services 'List the services of orchestration.yaml, or check their health'
            cand secret 'Store, look up or remove a secret in the OS keyring'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page orch(1), or write it and a page per subcommand into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;run'= {
            cand -i 'Set an input: -i key=value (repeatable)'
            cand --input 'Set an input: -i key=value (repeatable)'
            cand --input-file 'Read inputs from a JSON (or YAML) object'
            cand -j 'Maximum steps running at once'
            cand --jobs 'Maximum steps running at once'
            cand --output 'How to show progress'
            cand --tail 'Latest output lines shown under each running step in the live view (0: none)'
            cand --grace 'Time between SIGTERM and SIGKILL when stopping steps'
            cand --approve 'Approve an approval step in advance (repeatable; `all` for every one)'
            cand --junit 'Write the run as JUnit XML to FILE when it ends (steps as test cases)'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --no-cache 'Ignore the step cache: run every step'
            cand --dry-run 'Validate and print the plan, but run nothing'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;validate'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;plan'= {
            cand -i 'Set an input: -i key=value (repeatable)'
            cand --input 'Set an input: -i key=value (repeatable)'
            cand --input-file 'Read inputs from a JSON (or YAML) object'
            cand -j 'Maximum steps running at once'
            cand --jobs 'Maximum steps running at once'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;graph'= {
            cand --format 'format'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;history'= {
            cand --workflow 'Only runs of this workflow (its `name`)'
            cand --status 'Only runs with this status'
            cand --since 'Only runs started within this long (e.g. 7d, 12h)'
            cand --limit 'At most this many runs'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --no-children 'Leave out child runs (those of `workflow:` steps)'
            cand --json 'Print a JSON array instead of a table'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand prune 'Delete old runs and their logs'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;history;prune'= {
            cand --older-than 'Delete runs created longer ago than this (e.g. 30d)'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --dry-run 'Say what would be deleted, delete nothing'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;history;help'= {
            cand prune 'Delete old runs and their logs'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;history;help;prune'= {
        }
        &'orch;history;help;help'= {
        }
        &'orch;show'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --json 'Print JSON instead of a table'
            cand --timeline 'Draw the steps and their attempts as bars on one time axis'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;logs'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -f 'Keep printing new output until the run ends'
            cand --follow 'Keep printing new output until the run ends'
            cand --compensation 'The output of STEP''s compensation (`compensate:`) instead of the step''s'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;resume'= {
            cand --from 'Also re-run this step and everything downstream of it'
            cand -j 'Maximum steps running at once'
            cand --jobs 'Maximum steps running at once'
            cand --output 'How to show progress'
            cand --tail 'Latest output lines shown under each running step in the live view (0: none)'
            cand --grace 'Time between SIGTERM and SIGKILL when stopping steps'
            cand --approve 'Approve an approval step in advance (repeatable; `all` for every one)'
            cand --junit 'Write the run as JUnit XML to FILE when it ends (steps as test cases)'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --no-cache 'Ignore the step cache: run every step'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;approve'= {
            cand -m 'Recorded with the decision'
            cand --comment 'Recorded with the decision'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;reject'= {
            cand -m 'Recorded with the decision'
            cand --comment 'Recorded with the decision'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;stats'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --json 'Print JSON instead of a table'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;metrics'= {
            cand --workflow 'Only runs of this workflow (its `name`)'
            cand --since 'Only runs started within this long (e.g. 7d, 12h)'
            cand --serve 'Answer `GET /metrics` on this address instead of printing (port 0: any free port)'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;export'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand argo 'The workflow as an Argo Workflows manifest (kind: Workflow)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;export;argo'= {
            cand --image 'Container image of run and transform steps [default: alpine:3.20, bash:5.2 for shell: bash]'
            cand -o 'Write the manifest to this file instead of stdout'
            cand --output 'Write the manifest to this file instead of stdout'
            cand --secret-name 'The Kubernetes Secret that holds secrets.* and service credentials'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --lenient 'Export anyway, dropping what Argo cannot express (a comment and a warning each)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;export;help'= {
            cand argo 'The workflow as an Argo Workflows manifest (kind: Workflow)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;export;help;argo'= {
        }
        &'orch;export;help;help'= {
        }
        &'orch;cache'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand clear 'Delete every cached step result'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;cache;clear'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;cache;help'= {
            cand clear 'Delete every cached step result'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;cache;help;clear'= {
        }
        &'orch;cache;help;help'= {
        }
        &'orch;services'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --json 'Print JSON instead of a table'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Run every health check at once; print status and latency'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;services;check'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --json 'Print JSON instead of a table'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;services;help'= {
            cand check 'Run every health check at once; print status and latency'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;services;help;check'= {
        }
        &'orch;services;help;help'= {
        }
        &'orch;secret'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand set 'Store a secret; the value is read from stdin, never from arguments'
            cand get 'Say whether a secret exists (and where); print it only with --reveal'
            cand rm 'Remove a secret from the OS keyring'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;secret;set'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;secret;get'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand --reveal 'Print the value to stdout'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;secret;rm'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;secret;help'= {
            cand set 'Store a secret; the value is read from stdin, never from arguments'
            cand get 'Say whether a secret exists (and where); print it only with --reveal'
            cand rm 'Remove a secret from the OS keyring'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;secret;help;set'= {
        }
        &'orch;secret;help;get'= {
        }
        &'orch;secret;help;rm'= {
        }
        &'orch;secret;help;help'= {
        }
        &'orch;completions'= {
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;man'= {
            cand --dir 'Write orch.1 and orch-COMMAND.1 for every subcommand into DIR'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
            cand -q 'Print less: only errors and the summary'
            cand --quiet 'Print less: only errors and the summary'
            cand -v 'Print more detail'
            cand --verbose 'Print more detail'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'orch;help'= {
            cand run 'Validate a workflow, then run it'
            cand validate 'Check workflow files and report every problem at once'
            cand plan 'Show the order in which steps would run, without running anything'
            cand graph 'Draw the DAG of a workflow'
            cand history 'List past runs, newest first'
            cand show 'Show one run: every step with status, attempts, duration, exit code, error'
            cand logs 'Print a run''s step output as recorded'
            cand resume 'Continue a failed, cancelled, interrupted or waiting run'
            cand approve 'Approve a waiting approval step'
            cand reject 'Reject a waiting approval step (the step fails when the run resumes)'
            cand stats 'Per-step statistics over past runs: runs, failure rate, duration p50/p95'
            cand metrics 'Prometheus metrics computed from the history, printed or served'
            cand export 'Compile a workflow for another engine (Argo Workflows)'
            cand cache 'Manage the step cache'
            cand services 'List the services of orchestration.yaml, or check their health'
            cand secret 'Store, look up or remove a secret in the OS keyring'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page orch(1), or write it and a page per subcommand into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;help;run'= {
        }
        &'orch;help;validate'= {
        }
        &'orch;help;plan'= {
        }
        &'orch;help;graph'= {
        }
        &'orch;help;history'= {
            cand prune 'Delete old runs and their logs'
        }
        &'orch;help;history;prune'= {
        }
        &'orch;help;show'= {
        }
        &'orch;help;logs'= {
        }
        &'orch;help;resume'= {
        }
        &'orch;help;approve'= {
        }
        &'orch;help;reject'= {
        }
        &'orch;help;stats'= {
        }
        &'orch;help;metrics'= {
        }
        &'orch;help;export'= {
            cand argo 'The workflow as an Argo Workflows manifest (kind: Workflow)'
        }
        &'orch;help;export;argo'= {
        }
        &'orch;help;cache'= {
            cand clear 'Delete every cached step result'
        }
        &'orch;help;cache;clear'= {
        }
        &'orch;help;services'= {
            cand check 'Run every health check at once; print status and latency'
        }
        &'orch;help;services;check'= {
        }
        &'orch;help;secret'= {
            cand set 'Store a secret; the value is read from stdin, never from arguments'
            cand get 'Say whether a secret exists (and where); print it only with --reveal'
            cand rm 'Remove a secret from the OS keyring'
        }
        &'orch;help;secret;set'= {
        }
        &'orch;help;secret;get'= {
        }
        &'orch;help;secret;rm'= {
        }
        &'orch;help;completions'= {
        }
        &'orch;help;man'= {
        }
        &'orch;help;help'= {
        }
    ]
    $completions[$command]
}
