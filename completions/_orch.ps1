
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'orch' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'orch'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'orch' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Validate a workflow, then run it')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check workflow files and report every problem at once')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show the order in which steps would run, without running anything')
            [CompletionResult]::new('graph', 'graph', [CompletionResultType]::ParameterValue, 'Draw the DAG of a workflow')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;run' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Set an input: -i key=value (repeatable)')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'Set an input: -i key=value (repeatable)')
            [CompletionResult]::new('--input-file', '--input-file', [CompletionResultType]::ParameterName, 'Read inputs from a JSON (or YAML) object')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Maximum steps running at once')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Maximum steps running at once')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to show progress')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Time between SIGTERM and SIGKILL when stopping steps')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate and print the plan, but run nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'orch;validate' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'orch;plan' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Set an input: -i key=value (repeatable)')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'Set an input: -i key=value (repeatable)')
            [CompletionResult]::new('--input-file', '--input-file', [CompletionResultType]::ParameterName, 'Read inputs from a JSON (or YAML) object')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Maximum steps running at once')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Maximum steps running at once')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'orch;graph' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'format')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'orch;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'orch;man' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'orch;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Validate a workflow, then run it')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check workflow files and report every problem at once')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show the order in which steps would run, without running anything')
            [CompletionResult]::new('graph', 'graph', [CompletionResultType]::ParameterValue, 'Draw the DAG of a workflow')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;help;run' {
            break
        }
        'orch;help;validate' {
            break
        }
        'orch;help;plan' {
            break
        }
        'orch;help;graph' {
            break
        }
        'orch;help;completions' {
            break
        }
        'orch;help;man' {
            break
        }
        'orch;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
