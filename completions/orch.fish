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
complete -c orch -n "__fish_orch_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c orch -n "__fish_orch_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c orch -n "__fish_orch_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orch -n "__fish_orch_using_subcommand run" -s i -l input -d 'Set an input: -i key=value (repeatable)' -r
complete -c orch -n "__fish_orch_using_subcommand run" -l input-file -d 'Read inputs from a JSON (or YAML) object' -r -F
complete -c orch -n "__fish_orch_using_subcommand run" -s j -l jobs -d 'Maximum steps running at once' -r
complete -c orch -n "__fish_orch_using_subcommand run" -l output -d 'How to show progress' -r -f -a "auto\t'Live view on a terminal outside CI, plain lines otherwise'
tty\t'Live progress bars'
plain\t'One line per event, step output prefixed by the step id'
json\t'One JSON object per event on stdout'"
complete -c orch -n "__fish_orch_using_subcommand run" -l grace -d 'Time between SIGTERM and SIGKILL when stopping steps' -r
complete -c orch -n "__fish_orch_using_subcommand run" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand run" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
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
complete -c orch -n "__fish_orch_using_subcommand completions" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand completions" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand completions" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand completions" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand completions" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand completions" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand man" -l config -d 'orchestration.yaml to use (default: found in this directory or a parent)' -r -F
complete -c orch -n "__fish_orch_using_subcommand man" -l color -d 'When to use colours (NO_COLOR is honoured by `auto`)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c orch -n "__fish_orch_using_subcommand man" -s q -l quiet -d 'Print less: only errors and the summary'
complete -c orch -n "__fish_orch_using_subcommand man" -s v -l verbose -d 'Print more detail'
complete -c orch -n "__fish_orch_using_subcommand man" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand man" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph completions man help" -f -a "run" -d 'Validate a workflow, then run it'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph completions man help" -f -a "validate" -d 'Check workflow files and report every problem at once'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph completions man help" -f -a "plan" -d 'Show the order in which steps would run, without running anything'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph completions man help" -f -a "graph" -d 'Draw the DAG of a workflow'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c orch -n "__fish_orch_using_subcommand help; and not __fish_seen_subcommand_from run validate plan graph completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
