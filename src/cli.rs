//! Command-line definitions (clap). Only parsing lives here; completions and
//! the man page are generated from this same definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  orch run examples/diamond.yaml          Run a workflow file
  orch run build -i env=prod              Run workflows/build.yaml with an input
  orch validate workflows/*.yaml          Check files without running anything
  orch plan deploy.yaml                   Show the order steps would run in
  orch graph deploy.yaml --format mermaid Draw the DAG";

#[derive(Debug, Parser)]
#[command(
    name = "orch",
    version,
    about = "Run workflows written in YAML: a DAG of steps, on this machine",
    long_about = "orch runs workflows written in YAML: a DAG of steps (shell scripts, HTTP calls to \
                  services, child workflows, transforms, approvals, fan-outs) with retries, timeouts, \
                  failure handlers and saga compensation, on this machine, with live progress. Every \
                  run is recorded in SQLite (history, resume, stats); secrets come from the OS keyring.",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    /// orchestration.yaml to use (default: found in this directory or a parent)
    #[arg(long, global = true, env = "ORCH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// When to use colours (NO_COLOR is honoured by `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Print less: only errors and the summary
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Print more detail
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    /// Live view on a terminal outside CI, plain lines otherwise
    Auto,
    /// Live progress bars
    Tty,
    /// One line per event, step output prefixed by the step id
    Plain,
    /// One JSON object per event on stdout
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Mermaid,
    Dot,
}

// Deferred: a subcommand's arguments are built only when it is the one
// given (or for help, completions and man pages), not the whole tree at
// every start (half of what parsing the command line cost).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Validate a workflow, then run it
    #[command(after_help = "\
Examples:
  orch run examples/diamond.yaml
  orch run release -i env=prod -i build_id=42     (workflows/release.yaml)
  orch run deploy.yaml --input-file inputs.json -j 8
  orch run ci.yaml --output json | jq .event

Exit codes: 0 success, 1 the run failed, 2 invalid workflow or usage,
3 waiting for an approval, 130 cancelled.")]
    Run(RunArgs),

    /// Check workflow files and report every problem at once
    #[command(after_help = "\
Examples:
  orch validate release.yaml
  orch validate workflows/*.yaml
  orch validate --json ci.yaml | jq '.[].message'

Exit codes: 0 all files are valid, 2 at least one problem.")]
    Validate(ValidateArgs),

    /// Show the order in which steps would run, without running anything
    #[command(after_help = "\
Examples:
  orch plan release.yaml
  orch plan release.yaml -i env=prod")]
    Plan(PlanArgs),

    /// Draw the DAG of a workflow
    #[command(after_help = "\
Examples:
  orch graph release.yaml
  orch graph release.yaml --format mermaid > dag.mmd
  orch graph release.yaml --format dot | dot -Tsvg > dag.svg")]
    Graph(GraphArgs),

    /// Create a project: orchestration.yaml and workflows/hello.yaml, ready to run
    #[command(after_help = "\
Writes DIR/orchestration.yaml, DIR/workflows/hello.yaml and the JSON Schemas
they name on their first line (DIR/.orch/schema/), for editors with
yaml-language-server. Nothing is overwritten without --force.

Examples:
  orch init
  orch init my-project && cd my-project && orch run hello

Exit codes: 0 written, 2 a file exists (without --force) or cannot be written.")]
    Init(InitArgs),

    /// List the workflows under workflows/ beside orchestration.yaml
    #[command(after_help = "\
Each NAME is what `orch run NAME` runs (workflows/NAME.yaml). A file that is not
a valid workflow is listed too, with the command that shows its problems.

Examples:
  orch list
  orch list --json | jq '.[].name'")]
    List(ListArgs),

    /// List past runs, newest first
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Examples:
  orch history
  orch history --workflow release --status failed --since 7d
  orch history --json --limit 100 | jq '.[].id'
  orch history prune --older-than 30d --dry-run

Status `interrupted` marks a run whose orch process died; `orch resume` continues it."
    )]
    History(HistoryArgs),

    /// Show one run: every step with status, attempts, duration, exit code, error
    #[command(after_help = "\
Examples:
  orch show last
  orch show 01jh3k            (a unique prefix of the run id)
  orch show last --json | jq '.steps[] | select(.status == \"failed\")'")]
    Show(ShowArgs),

    /// Write a run as one self-contained HTML page: timeline, DAG, steps, first failure
    #[command(after_help = "\
Examples:
  orch report last                    (writes ./orch-report-<run id>.html)
  orch report 01jh3k -o run.html
  orch report last -o - > run.html    (`-` prints the page to stdout)

The page needs no network: CSS, SVG and a few lines of script are inline.
Secrets are masked as everywhere else.")]
    Report(ReportArgs),

    /// Print a run's step output as recorded
    #[command(after_help = "\
Examples:
  orch logs last              (every step, each line prefixed by its step)
  orch logs last build
  orch logs 01jh3k deploy --follow")]
    Logs(LogsArgs),

    /// Continue a failed, cancelled, interrupted or waiting run
    #[command(after_help = "\
Finished steps keep their results and outputs; the others run. The workflow file
may have changed in the steps that will run again, not in the finished ones.

Examples:
  orch resume last
  orch resume 01jh3k --from build   (re-run build and everything after it)

Exit codes: as for `orch run`; 2 when the run cannot be resumed.")]
    Resume(ResumeArgs),

    /// Approve a waiting approval step
    #[command(after_help = "\
Examples:
  orch approve last deploy --comment \"change ticket 4711\"
  orch resume last")]
    Approve(DecideArgs),

    /// Reject a waiting approval step (the step fails when the run resumes)
    #[command(after_help = "\
Examples:
  orch reject last deploy --comment \"not during the freeze\"
  orch resume last")]
    Reject(DecideArgs),

    /// Per-step statistics over past runs: runs, failure rate, duration p50/p95
    #[command(after_help = "\
Examples:
  orch stats
  orch stats release
  orch stats release --json")]
    Stats(StatsArgs),

    /// Prometheus metrics computed from the history, printed or served
    #[command(after_help = "\
Examples:
  orch metrics
  orch metrics --workflow release --since 7d
  orch metrics --serve 127.0.0.1:9464

The text exposition format 0.0.4. With --serve, GET /metrics answers it, read
afresh from the history on each scrape, until Ctrl-C.")]
    Metrics(MetricsArgs),

    /// Compile a workflow for another engine (Argo Workflows)
    #[command(subcommand)]
    Export(ExportCommand),

    /// Manage the step cache
    #[command(
        subcommand,
        after_help = "\
Examples:
  orch cache clear"
    )]
    Cache(CacheCommand),

    /// List the services of orchestration.yaml, or check their health
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Examples:
  orch services
  orch services --json
  orch services check
  orch services check --json | jq '.[] | select(.healthy | not)'

`check` sends GET base_url + health_check.path to every service at once, with
the check's timeout (default 5s) and no credentials; 2xx is healthy.

Exit codes: 0 listed, or every service is healthy; 1 at least one is unhealthy;
2 invalid orchestration.yaml."
    )]
    Services(ServicesArgs),

    /// Store, look up or remove a secret in the OS keyring
    #[command(
        subcommand,
        after_help = "\
Secrets live in the OS keyring under service `orch`, account NAME (Secret
Service on Linux, Keychain on macOS, Credential Manager on Windows). The
environment variable ORCH_SECRET_<NAME> takes precedence over the keyring.

Examples:
  printf %s \"$TOKEN\" | orch secret set summarizer-token
  orch secret get summarizer-token            (says whether it exists)
  orch secret get summarizer-token --reveal
  orch secret rm summarizer-token"
    )]
    Secret(SecretCommand),

    /// Print the JSON Schema of workflow files or of orchestration.yaml, for editors
    #[command(after_help = "\
The schemas are generated from the same key tables `orch validate` checks.
Point yaml-language-server at one with a first line such as
  # yaml-language-server: $schema=../.orch/schema/workflow.schema.json

Examples:
  orch schema > workflow.schema.json
  orch schema config > orchestration.schema.json")]
    Schema {
        /// Which file's schema
        #[arg(value_enum, default_value_t = SchemaKind::Workflow)]
        kind: SchemaKind,
    },

    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  orch completions bash > ~/.local/share/bash-completion/completions/orch
  orch completions zsh > ~/.zfunc/_orch
  orch completions fish > ~/.config/fish/completions/orch.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page orch(1), or write it and a page per subcommand into a directory
    #[command(after_help = "\
Examples:
  orch man | man -l -
  orch man --dir ~/.local/share/man/man1     orch(1), orch-run(1), orch-validate(1), …")]
    Man {
        /// Write orch.1 and orch-COMMAND.1 for every subcommand into DIR
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// Workflow files (workflows/*.yaml)
    Workflow,
    /// orchestration.yaml
    Config,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project directory (created if missing)
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// Overwrite files that exist
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InputArgs {
    /// Set an input: -i key=value (repeatable)
    #[arg(short = 'i', long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,

    /// Read inputs from a JSON (or YAML) object
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
}

// What `run` and `plan` share: the workflow, its inputs, the concurrency.
// Not a doc comment: clap would make it the about text of the deferred
// subcommands that flatten it.
#[derive(Debug, Args)]
pub struct Target {
    /// Workflow file, or NAME for workflows/NAME.yaml beside orchestration.yaml
    #[arg(value_name = "FILE")]
    pub file: String,

    #[command(flatten)]
    pub inputs: InputArgs,

    /// Maximum steps running at once
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
}

// How a run executes; shared by `run` and `resume`. Not a doc comment,
// as above.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// How to show progress
    #[arg(long, value_enum, default_value_t = OutputArg::Auto)]
    pub output: OutputArg,

    /// Latest output lines shown under each running step in the live view (0: none)
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = parse_tail)]
    pub tail: usize,

    /// Time between SIGTERM and SIGKILL when stopping steps
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub grace: std::time::Duration,

    /// Ignore the step cache: run every step
    #[arg(long)]
    pub no_cache: bool,

    /// Approve an approval step in advance (repeatable; `all` for every one)
    #[arg(long, value_name = "STEP|all")]
    pub approve: Vec<String>,
    /// Write the run as JUnit XML to FILE when it ends (steps as test cases)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: Target,

    #[command(flatten)]
    pub exec: ExecArgs,

    /// Validate and print the plan, but run nothing
    #[arg(long)]
    pub dry_run: bool,

    /// After the run, run again whenever a file that steps' `cache.sources`
    /// or `watch:` globs match (or the workflow or config file) changes; a
    /// change during a run cancels it first. Ctrl-C ends the watch
    #[arg(long, conflicts_with = "dry_run")]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Workflow files (or names in workflows/)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// Also print the diagnostics as a JSON array on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[arg(value_name = "FILE")]
    pub file: String,

    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,

    /// Only runs of this workflow (its `name`)
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,

    /// Only runs with this status
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Option<RunStatusArg>,

    /// Only runs started within this long (e.g. 7d, 12h)
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub since: Option<std::time::Duration>,

    /// At most this many runs
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,

    /// Leave out child runs (those of `workflow:` steps)
    #[arg(long)]
    pub no_children: bool,

    /// Print a JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunStatusArg {
    Pending,
    Running,
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Delete old runs and their logs
    Prune {
        /// Delete runs created longer ago than this (e.g. 30d)
        #[arg(long, value_parser = parse_duration, value_name = "DURATION", required = true)]
        older_than: std::time::Duration,

        /// Say what would be deleted, delete nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Run id, a unique prefix of one, or `last`
    #[arg(value_name = "RUN")]
    pub run: String,

    /// Print JSON instead of a table
    #[arg(long, conflicts_with = "timeline")]
    pub json: bool,

    /// Draw the steps and their attempts as bars on one time axis
    #[arg(long)]
    pub timeline: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run id, a unique prefix of one, or `last`
    #[arg(value_name = "RUN")]
    pub run: String,

    /// Write the page here (`-`: stdout) instead of ./orch-report-<run id>.html
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Run id, a unique prefix of one, or `last`
    #[arg(value_name = "RUN")]
    pub run: String,

    /// Only this step (or `step[i]` for one for_each item)
    #[arg(value_name = "STEP")]
    pub step: Option<String>,

    /// Keep printing new output until the run ends
    #[arg(short, long)]
    pub follow: bool,

    /// The output of STEP's compensation (`compensate:`) instead of the step's
    #[arg(long, requires = "step")]
    pub compensation: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Run id, a unique prefix of one, or `last`
    #[arg(value_name = "RUN")]
    pub run: String,

    /// Also re-run this step and everything downstream of it
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,

    /// Maximum steps running at once
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,

    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// Run id, a unique prefix of one, or `last`
    #[arg(value_name = "RUN")]
    pub run: String,

    /// The approval step
    #[arg(value_name = "STEP")]
    pub step: String,

    /// Recorded with the decision
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this workflow (its `name`)
    #[arg(value_name = "WORKFLOW")]
    pub workflow: Option<String>,

    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Only runs of this workflow (its `name`)
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,

    /// Only runs started within this long (e.g. 7d, 12h)
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub since: Option<std::time::Duration>,

    /// Answer `GET /metrics` on this address instead of printing (port 0: any free port)
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The workflow as an Argo Workflows manifest (kind: Workflow)
    #[command(after_help = "\
Examples:
  orch export argo release.yaml > release.argo.yaml
  orch export argo release.yaml --image ghcr.io/acme/ci:1 -o release.argo.yaml
  orch export argo release.yaml --templates | kubectl create -f -
  argo submit release.argo.yaml -p env=prod

A construct with no faithful Argo form is an error at its line:column (exit 2);
--lenient writes the manifest without it, a comment and a warning for each.
secrets.* and service credentials become secretKeyRef entries of the
Kubernetes Secret named by --secret-name; no secret value is written.")]
    Argo(ArgoArgs),
}

#[derive(Debug, Args)]
pub struct ArgoArgs {
    /// Workflow file (or a name in workflows/)
    #[arg(value_name = "FILE")]
    pub file: String,

    /// Container image of run and transform steps [default: alpine:3.20, bash:5.2 for shell: bash]
    #[arg(long, value_name = "IMG")]
    pub image: Option<String>,

    /// Write the manifest to this file instead of stdout
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,

    /// The Kubernetes Secret that holds secrets.* and service credentials
    #[arg(long, value_name = "NAME", default_value = "orch-secrets")]
    pub secret_name: String,

    /// Export anyway, dropping what Argo cannot express (a comment and a warning each)
    #[arg(long)]
    pub lenient: bool,

    /// Each child workflow as a WorkflowTemplate (named by templateRef) instead of inlined
    #[arg(long)]
    pub templates: bool,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Delete every cached step result and HTTP answer
    Clear,
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    #[command(subcommand)]
    pub command: Option<ServicesCommand>,

    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// Run every health check at once; print status and latency
    Check {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a secret; the value is read from stdin, never from arguments
    Set {
        /// The secret's name (`secrets.NAME`, `credential: NAME`)
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Say whether a secret exists (and where); print it only with --reveal
    Get {
        #[arg(value_name = "NAME")]
        name: String,

        /// Print the value to stdout
        #[arg(long)]
        reveal: bool,
    },
    /// Remove a secret from the OS keyring
    Rm {
        #[arg(value_name = "NAME")]
        name: String,
    },
}

fn parse_tail(s: &str) -> Result<usize, String> {
    const MAX: usize = 20;
    match s.parse::<usize>() {
        Ok(n) if n <= MAX => Ok(n),
        _ => Err(format!("expected a number of lines from 0 to {MAX}")),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::validate::duration::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
