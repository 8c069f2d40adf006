
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
            cand completions 'Print a shell completion script'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'orch;run'= {
            cand -i 'Set an input: -i key=value (repeatable)'
            cand --input 'Set an input: -i key=value (repeatable)'
            cand --input-file 'Read inputs from a JSON (or YAML) object'
            cand -j 'Maximum steps running at once'
            cand --jobs 'Maximum steps running at once'
            cand --output 'How to show progress'
            cand --grace 'Time between SIGTERM and SIGKILL when stopping steps'
            cand --config 'orchestration.yaml to use (default: found in this directory or a parent)'
            cand --color 'When to use colours (NO_COLOR is honoured by `auto`)'
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
            cand completions 'Print a shell completion script'
            cand man 'Print the man page (roff)'
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
        &'orch;help;completions'= {
        }
        &'orch;help;man'= {
        }
        &'orch;help;help'= {
        }
    ]
    $completions[$command]
}
