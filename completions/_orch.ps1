
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
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'List past runs, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one run: every step with status, attempts, duration, exit code, error')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a run''s step output as recorded')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Continue a failed, cancelled, interrupted or waiting run')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a waiting approval step')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Reject a waiting approval step (the step fails when the run resumes)')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Per-step statistics over past runs: runs, failure rate, duration p50/p95')
            [CompletionResult]::new('metrics', 'metrics', [CompletionResultType]::ParameterValue, 'Prometheus metrics computed from the history, printed or served')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Compile a workflow for another engine (Argo Workflows)')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'Manage the step cache')
            [CompletionResult]::new('services', 'services', [CompletionResultType]::ParameterValue, 'List the services of orchestration.yaml, or check their health')
            [CompletionResult]::new('secret', 'secret', [CompletionResultType]::ParameterValue, 'Store, look up or remove a secret in the OS keyring')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page orch(1), or write it and a page per subcommand into a directory')
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
            [CompletionResult]::new('--tail', '--tail', [CompletionResultType]::ParameterName, 'Latest output lines shown under each running step in the live view (0: none)')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Time between SIGTERM and SIGKILL when stopping steps')
            [CompletionResult]::new('--approve', '--approve', [CompletionResultType]::ParameterName, 'Approve an approval step in advance (repeatable; `all` for every one)')
            [CompletionResult]::new('--junit', '--junit', [CompletionResultType]::ParameterName, 'Write the run as JUnit XML to FILE when it ends (steps as test cases)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Ignore the step cache: run every step')
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
        'orch;history' {
            [CompletionResult]::new('--workflow', '--workflow', [CompletionResultType]::ParameterName, 'Only runs of this workflow (its `name`)')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only runs with this status')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only runs started within this long (e.g. 7d, 12h)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many runs')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--no-children', '--no-children', [CompletionResultType]::ParameterName, 'Leave out child runs (those of `workflow:` steps)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON array instead of a table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete old runs and their logs')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;history;prune' {
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Delete runs created longer ago than this (e.g. 30d)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Say what would be deleted, delete nothing')
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
        'orch;history;help' {
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete old runs and their logs')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;history;help;prune' {
            break
        }
        'orch;history;help;help' {
            break
        }
        'orch;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('--timeline', '--timeline', [CompletionResultType]::ParameterName, 'Draw the steps and their attempts as bars on one time axis')
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
        'orch;logs' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new output until the run ends')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new output until the run ends')
            [CompletionResult]::new('--compensation', '--compensation', [CompletionResultType]::ParameterName, 'The output of STEP''s compensation (`compensate:`) instead of the step''s')
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
        'orch;resume' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Also re-run this step and everything downstream of it')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Maximum steps running at once')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Maximum steps running at once')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to show progress')
            [CompletionResult]::new('--tail', '--tail', [CompletionResultType]::ParameterName, 'Latest output lines shown under each running step in the live view (0: none)')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Time between SIGTERM and SIGKILL when stopping steps')
            [CompletionResult]::new('--approve', '--approve', [CompletionResultType]::ParameterName, 'Approve an approval step in advance (repeatable; `all` for every one)')
            [CompletionResult]::new('--junit', '--junit', [CompletionResultType]::ParameterName, 'Write the run as JUnit XML to FILE when it ends (steps as test cases)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Ignore the step cache: run every step')
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
        'orch;approve' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Recorded with the decision')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Recorded with the decision')
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
        'orch;reject' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Recorded with the decision')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Recorded with the decision')
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
        'orch;stats' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
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
        'orch;metrics' {
            [CompletionResult]::new('--workflow', '--workflow', [CompletionResultType]::ParameterName, 'Only runs of this workflow (its `name`)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only runs started within this long (e.g. 7d, 12h)')
            [CompletionResult]::new('--serve', '--serve', [CompletionResultType]::ParameterName, 'Answer `GET /metrics` on this address instead of printing (port 0: any free port)')
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
        'orch;export' {
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
            [CompletionResult]::new('argo', 'argo', [CompletionResultType]::ParameterValue, 'The workflow as an Argo Workflows manifest (kind: Workflow)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;export;argo' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Container image of run and transform steps [default: alpine:3.20, bash:5.2 for shell: bash]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the manifest to this file instead of stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the manifest to this file instead of stdout')
            [CompletionResult]::new('--secret-name', '--secret-name', [CompletionResultType]::ParameterName, 'The Kubernetes Secret that holds secrets.* and service credentials')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--lenient', '--lenient', [CompletionResultType]::ParameterName, 'Export anyway, dropping what Argo cannot express (a comment and a warning each)')
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
        'orch;export;help' {
            [CompletionResult]::new('argo', 'argo', [CompletionResultType]::ParameterValue, 'The workflow as an Argo Workflows manifest (kind: Workflow)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;export;help;argo' {
            break
        }
        'orch;export;help;help' {
            break
        }
        'orch;cache' {
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
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Delete every cached step result')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;cache;clear' {
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
        'orch;cache;help' {
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Delete every cached step result')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;cache;help;clear' {
            break
        }
        'orch;cache;help;help' {
            break
        }
        'orch;services' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors and the summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Run every health check at once; print status and latency')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;services;check' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
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
        'orch;services;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Run every health check at once; print status and latency')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;services;help;check' {
            break
        }
        'orch;services;help;help' {
            break
        }
        'orch;secret' {
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
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret; the value is read from stdin, never from arguments')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Say whether a secret exists (and where); print it only with --reveal')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove a secret from the OS keyring')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;secret;set' {
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
        'orch;secret;get' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'orchestration.yaml to use (default: found in this directory or a parent)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR is honoured by `auto`)')
            [CompletionResult]::new('--reveal', '--reveal', [CompletionResultType]::ParameterName, 'Print the value to stdout')
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
        'orch;secret;rm' {
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
        'orch;secret;help' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret; the value is read from stdin, never from arguments')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Say whether a secret exists (and where); print it only with --reveal')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove a secret from the OS keyring')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'orch;secret;help;set' {
            break
        }
        'orch;secret;help;get' {
            break
        }
        'orch;secret;help;rm' {
            break
        }
        'orch;secret;help;help' {
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
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write orch.1 and orch-COMMAND.1 for every subcommand into DIR')
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
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'List past runs, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one run: every step with status, attempts, duration, exit code, error')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a run''s step output as recorded')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Continue a failed, cancelled, interrupted or waiting run')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a waiting approval step')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Reject a waiting approval step (the step fails when the run resumes)')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Per-step statistics over past runs: runs, failure rate, duration p50/p95')
            [CompletionResult]::new('metrics', 'metrics', [CompletionResultType]::ParameterValue, 'Prometheus metrics computed from the history, printed or served')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Compile a workflow for another engine (Argo Workflows)')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'Manage the step cache')
            [CompletionResult]::new('services', 'services', [CompletionResultType]::ParameterValue, 'List the services of orchestration.yaml, or check their health')
            [CompletionResult]::new('secret', 'secret', [CompletionResultType]::ParameterValue, 'Store, look up or remove a secret in the OS keyring')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page orch(1), or write it and a page per subcommand into a directory')
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
        'orch;help;history' {
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete old runs and their logs')
            break
        }
        'orch;help;history;prune' {
            break
        }
        'orch;help;show' {
            break
        }
        'orch;help;logs' {
            break
        }
        'orch;help;resume' {
            break
        }
        'orch;help;approve' {
            break
        }
        'orch;help;reject' {
            break
        }
        'orch;help;stats' {
            break
        }
        'orch;help;metrics' {
            break
        }
        'orch;help;export' {
            [CompletionResult]::new('argo', 'argo', [CompletionResultType]::ParameterValue, 'The workflow as an Argo Workflows manifest (kind: Workflow)')
            break
        }
        'orch;help;export;argo' {
            break
        }
        'orch;help;cache' {
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Delete every cached step result')
            break
        }
        'orch;help;cache;clear' {
            break
        }
        'orch;help;services' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Run every health check at once; print status and latency')
            break
        }
        'orch;help;services;check' {
            break
        }
        'orch;help;secret' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret; the value is read from stdin, never from arguments')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Say whether a secret exists (and where); print it only with --reveal')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove a secret from the OS keyring')
            break
        }
        'orch;help;secret;set' {
            break
        }
        'orch;help;secret;get' {
            break
        }
        'orch;help;secret;rm' {
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
