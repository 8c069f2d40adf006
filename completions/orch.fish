# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_orch_global_optspecs
    string join \n config= color= q/quiet v/verbose h/help V/version
end

function __fish_orch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_orch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_orch_using_subcommand
    set -l cmd (__fish_orch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c orch -n "__fish_orch_needs_command" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_needs_command" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_needs_command" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_needs_command" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c orch -n "__fish_orch_needs_command" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_needs_command" -f -a "run" -d 'Validate a workflow, then run it'
complete -c orch -n "__fish_orch_needs_command" -f -a "validate" -d 'Check workflow files and report every problem at once'
complete -c orch -n "__fish_orch_needs_command" -f -a "plan" -d 'Show the order in which steps would run, without running anything'
complete -c orch -n "__fish_orch_needs_command" -f -a "graph" -d 'Draw the DAG of a workflow'
complete -c orch -n "__fish_orch_needs_command" -f -a "history" -d 'List past runs, newest first'
complete -c orch -n "__fish_orch_needs_command" -f -a "show" -d 'Show one run: every step with status, attempts, duration, exit code, error'
complete -c orch -n "__fish_orch_needs_command" -f -a "logs" -d 'Print a run\'s step output as recorded'
complete -c orch -n "__fish_orch_needs_command" -f -a "resume" -d 'Continue a failed, cancelled, interrupted or waiting run'
complete -c orch -n "__fish_orch_needs_command" -f -a "approve" -d 'Approve a waiting approval step'
complete -c orch -n "__fish_orch_needs_command" -f -a "reject" -d 'Reject a waiting approval step (the step fails when the run resumes)'
complete -c orch -n "__fish_orch_needs_command" -f -a "stats" -d 'Per-step statistics over past runs: runs, failure rate, duration p50/p95'
complete -c orch -n "__fish_orch_needs_command" -f -a "metrics" -d 'Prometheus metrics computed from the history, printed or served'
complete -c orch -n "__fish_orch_needs_command" -f -a "export" -d 'Compile a workflow for another engine (Argo Workflows)'
complete -c orch -n "__fish_orch_needs_command" -f -a "cache" -d 'Manage the step cache'
complete -c orch -n "__fish_orch_needs_command" -f -a "services" -d 'List the services of orchestration.yaml, or check their health'
complete -c orch -n "__fish_orch_needs_command" -f -a "secret" -d 'Store, look up or remove a secret in the OS keyring'
complete -c orch -n "__fish_orch_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c orch -n "__fish_orch_needs_command" -f -a "man" -d 'Print the man page orch(1), or write it and a page per subcommand into a directory'
complete -c orch -n "__fish_orch_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand run" -s i -l input -d 'Set an input: -i key=value (repeatable)' -r
complete -c orch -n "__fish_orch_using_subcommand run" -l input-file -d 'Read inputs from a JSON (or YAML) object' -r -F
complete -c orch -n "__fish_orch_using_subcommand run" -s j -l jobs -d 'Maximum steps running at once' -r
complete -c orch -n "__fish_orch_using_subcommand run" -l output -d 'How to show progress' -r -f -a "auto\t'Live view on a terminal outside CI, plain lines otherwise'
tty\t'Live progress bars'
plain\t'One line per event, step output prefixed by the step id'
json\t'One JSON object per event on stdout'"
complete -c orch -n "__fish_orch_using_subcommand run" -l tail -d 'Latest output lines shown under each running step in the live view (0: none)' -r
complete -c orch -n "__fish_orch_using_subcommand run" -l grace -d 'Time between SIGTERM and SIGKILL when stopping steps' -r
complete -c orch -n "__fish_orch_using_subcommand run" -l approve -d 'Approve an approval step in advance (repeatable; `all` for every one)' -r
complete -c orch -n "__fish_orch_using_subcommand run" -l junit -d 'Write the run as JUnit XML to FILE when it ends (steps as test cases)' -r -F
complete -c orch -n "__fish_orch_using_subcommand run" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand run" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand run" -l no-cache -d 'Ignore the step cache: run every step'
complete -c orch -n "__fish_orch_using_subcommand run" -l dry-run -d 'Validate and print the plan, but run nothing'
complete -c orch -n "__fish_orch_using_subcommand run" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand run" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c orch -n "__fish_orch_using_subcommand run" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand validate" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand validate" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand validate" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand validate" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand validate" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand validate" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand plan" -s i -l input -d 'Set an input: -i key=value (repeatable)' -r
complete -c orch -n "__fish_orch_using_subcommand plan" -l input-file -d 'Read inputs from a JSON (or YAML) object' -r -F
complete -c orch -n "__fish_orch_using_subcommand plan" -s j -l jobs -d 'Maximum steps running at once' -r
complete -c orch -n "__fish_orch_using_subcommand plan" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand plan" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand plan" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand plan" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand plan" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand plan" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand graph" -l format -r -f -a "text\t''
mermaid\t''
dot\t''"
complete -c orch -n "__fish_orch_using_subcommand graph" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand graph" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand graph" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand graph" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand graph" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand graph" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -l workflow -d 'Only runs of this workflow (its `name`)' -r
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -l status -d 'Only runs with this status' -r -f -a "pending\t''
running\t''
waiting\t''
succeeded\t''
failed\t''
cancelled\t''
interrupted\t''"
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -l since -d 'Only runs started within this long (e.g. 7d, 12h)' -r
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -l limit -d 'At most this many runs' -r
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -l no-children -d 'Leave out child runs (those of `workflow:` steps)'
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -l json -d 'Print a JSON array instead of a table'
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -f -a "prune" -d 'Delete old runs and their logs'
complete -c orch -n "__fish_orch_using_subcommand history; and not __fish_seen_subcommand_from prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from prune" -l older-than -d 'Delete runs created longer ago than this (e.g. 30d)' -r
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from prune" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from prune" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from prune" -l dry-run -d 'Say what would be deleted, delete nothing'
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from prune" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from prune" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Delete old runs and their logs'
complete -c orch -n "__fish_orch_using_subcommand history; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand show" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand show" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand show" -l json -d 'Print JSON instead of a table'
complete -c orch -n "__fish_orch_using_subcommand show" -l timeline -d 'Draw the steps and their attempts as bars on one time axis'
complete -c orch -n "__fish_orch_using_subcommand show" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand show" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand show" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand show" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand logs" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand logs" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand logs" -s f -l follow -d 'Keep printing new output until the run ends'
complete -c orch -n "__fish_orch_using_subcommand logs" -l compensation -d 'The output of STEP\'s compensation (`compensate:`) instead of the step\'s'
complete -c orch -n "__fish_orch_using_subcommand logs" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand logs" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand logs" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand logs" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand resume" -l from -d 'Also re-run this step and everything downstream of it' -r
complete -c orch -n "__fish_orch_using_subcommand resume" -s j -l jobs -d 'Maximum steps running at once' -r
complete -c orch -n "__fish_orch_using_subcommand resume" -l output -d 'How to show progress' -r -f -a "auto\t'Live view on a terminal outside CI, plain lines otherwise'
tty\t'Live progress bars'
plain\t'One line per event, step output prefixed by the step id'
json\t'One JSON object per event on stdout'"
complete -c orch -n "__fish_orch_using_subcommand resume" -l tail -d 'Latest output lines shown under each running step in the live view (0: none)' -r
complete -c orch -n "__fish_orch_using_subcommand resume" -l grace -d 'Time between SIGTERM and SIGKILL when stopping steps' -r
complete -c orch -n "__fish_orch_using_subcommand resume" -l approve -d 'Approve an approval step in advance (repeatable; `all` for every one)' -r
complete -c orch -n "__fish_orch_using_subcommand resume" -l junit -d 'Write the run as JUnit XML to FILE when it ends (steps as test cases)' -r -F
complete -c orch -n "__fish_orch_using_subcommand resume" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand resume" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand resume" -l no-cache -d 'Ignore the step cache: run every step'
complete -c orch -n "__fish_orch_using_subcommand resume" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand resume" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c orch -n "__fish_orch_using_subcommand resume" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand approve" -s m -l comment -d 'Recorded with the decision' -r
complete -c orch -n "__fish_orch_using_subcommand approve" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand approve" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand approve" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand approve" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand approve" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand approve" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand reject" -s m -l comment -d 'Recorded with the decision' -r
complete -c orch -n "__fish_orch_using_subcommand reject" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand reject" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand reject" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand reject" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand reject" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand reject" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand stats" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand stats" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand stats" -l json -d 'Print JSON instead of a table'
complete -c orch -n "__fish_orch_using_subcommand stats" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand stats" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand stats" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand stats" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand metrics" -l workflow -d 'Only runs of this workflow (its `name`)' -r
complete -c orch -n "__fish_orch_using_subcommand metrics" -l since -d 'Only runs started within this long (e.g. 7d, 12h)' -r
complete -c orch -n "__fish_orch_using_subcommand metrics" -l serve -d 'Answer `GET /metrics` on this address instead of printing (port 0: any free port)' -r
complete -c orch -n "__fish_orch_using_subcommand metrics" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand metrics" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand metrics" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand metrics" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand metrics" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand metrics" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand export; and not __fish_seen_subcommand_from argo help" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand export; and not __fish_seen_subcommand_from argo help" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand export; and not __fish_seen_subcommand_from argo help" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand export; and not __fish_seen_subcommand_from argo help" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand export; and not __fish_seen_subcommand_from argo help" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand export; and not __fish_seen_subcommand_from argo help" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand export; and not __fish_seen_subcommand_from argo help" -f -a "argo" -d 'The workflow as an Argo Workflows manifest (kind: Workflow)'
complete -c orch -n "__fish_orch_using_subcommand export; and not __fish_seen_subcommand_from argo help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -l image -d 'Container image of run and transform steps [default: alpine:3.20, bash:5.2 for shell: bash]' -r
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -s o -l output -d 'Write the manifest to this file instead of stdout' -r -F
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -l secret-name -d 'The Kubernetes Secret that holds secrets.* and service credentials' -r
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -l lenient -d 'Export anyway, dropping what Argo cannot express (a comment and a warning each)'
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from argo" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "argo" -d 'The workflow as an Argo Workflows manifest (kind: Workflow)'
complete -c orch -n "__fish_orch_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand cache; and not __fish_seen_subcommand_from clear help" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand cache; and not __fish_seen_subcommand_from clear help" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand cache; and not __fish_seen_subcommand_from clear help" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand cache; and not __fish_seen_subcommand_from clear help" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand cache; and not __fish_seen_subcommand_from clear help" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand cache; and not __fish_seen_subcommand_from clear help" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand cache; and not __fish_seen_subcommand_from clear help" -f -a "clear" -d 'Delete every cached step result'
complete -c orch -n "__fish_orch_using_subcommand cache; and not __fish_seen_subcommand_from clear help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand cache; and __fish_seen_subcommand_from clear" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand cache; and __fish_seen_subcommand_from clear" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand cache; and __fish_seen_subcommand_from clear" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand cache; and __fish_seen_subcommand_from clear" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand cache; and __fish_seen_subcommand_from clear" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand cache; and __fish_seen_subcommand_from clear" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "clear" -d 'Delete every cached step result'
complete -c orch -n "__fish_orch_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -l json -d 'Print JSON instead of a table'
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Run every health check at once; print status and latency'
complete -c orch -n "__fish_orch_using_subcommand services; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from check" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from check" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from check" -l json -d 'Print JSON instead of a table'
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from help" -f -a "check" -d 'Run every health check at once; print status and latency'
complete -c orch -n "__fish_orch_using_subcommand services; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -f -a "set" -d 'Store a secret; the value is read from stdin, never from arguments'
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -f -a "get" -d 'Say whether a secret exists (and where); print it only with --reveal'
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -f -a "rm" -d 'Remove a secret from the OS keyring'
complete -c orch -n "__fish_orch_using_subcommand secret; and not __fish_seen_subcommand_from set get rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from set" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from set" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from set" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from get" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from get" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from get" -l reveal -d 'Print the value to stdout'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from get" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from get" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from rm" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from rm" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "set" -d 'Store a secret; the value is read from stdin, never from arguments'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "get" -d 'Say whether a secret exists (and where); print it only with --reveal'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove a secret from the OS keyring'
complete -c orch -n "__fish_orch_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand completions" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand completions" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand completions" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand completions" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand completions" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand completions" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand man" -l dir -d 'Write orch.1 and orch-COMMAND.1 for every subcommand into DIR' -r -F
complete -c orch -n "__fish_orch_using_subcommand man" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand man" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand man" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand man" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand man" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand man" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "run" -d 'Validate a workflow, then run it'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "validate" -d 'Check workflow files and report every problem at once'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "plan" -d 'Show the order in which steps would run, without running anything'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "graph" -d 'Draw the DAG of a workflow'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "history" -d 'List past runs, newest first'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "show" -d 'Show one run: every step with status, attempts, duration, exit code, error'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "logs" -d 'Print a run\'s step output as recorded'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "resume" -d 'Continue a failed, cancelled, interrupted or waiting run'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "approve" -d 'Approve a waiting approval step'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "reject" -d 'Reject a waiting approval step (the step fails when the run resumes)'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "stats" -d 'Per-step statistics over past runs: runs, failure rate, duration p50/p95'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "metrics" -d 'Prometheus metrics computed from the history, printed or served'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "export" -d 'Compile a workflow for another engine (Argo Workflows)'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "cache" -d 'Manage the step cache'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "services" -d 'List the services of orchestration.yaml, or check their health'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "secret" -d 'Store, look up or remove a secret in the OS keyring'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "man" -d 'Print the man page orch(1), or write it and a page per subcommand into a directory'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph history show logs resume approve reject stats metrics export cache services secret completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand help; and __fish_seen_subcommand_from history" -f -a "prune" -d 'Delete old runs and their logs'
complete -c orch -n "__fish_orch_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "argo" -d 'The workflow as an Argo Workflows manifest (kind: Workflow)'
complete -c orch -n "__fish_orch_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "clear" -d 'Delete every cached step result'
complete -c orch -n "__fish_orch_using_subcommand help; and __fish_seen_subcommand_from services" -f -a "check" -d 'Run every health check at once; print status and latency'
complete -c orch -n "__fish_orch_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "set" -d 'Store a secret; the value is read from stdin, never from arguments'
complete -c orch -n "__fish_orch_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "get" -d 'Say whether a secret exists (and where); print it only with --reveal'
complete -c orch -n "__fish_orch_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "rm" -d 'Remove a secret from the OS keyring'
