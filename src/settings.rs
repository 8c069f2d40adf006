//! Everything outside the workflow file that decides how a command behaves:
//! environment variables, `orchestration.yaml`, the project directory.
//! Read once here ([`EnvVars::capture`]); nothing after this reads `std::env`.
//! [`RunSettings::resolve`] turns flags, environment and config into the
//! settings of one run, each knob with its precedence in one place.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::cli::{ColorChoice, ExecArgs, OutputArg};
use crate::diag::Diag;
use crate::model::{Config, Workflow};
use crate::report::OutputMode;

/// The environment variables orch itself reads, captured once.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvVars {
    pub(crate) no_color: bool,
    pub(crate) ci: bool,
    pub(crate) github_actions: bool,
    /// `GITHUB_STEP_SUMMARY`: the Markdown file a run's summary is appended to.
    pub(crate) step_summary: Option<PathBuf>,
    /// `GITHUB_OUTPUT`: the file a workflow's outputs are appended to.
    pub(crate) github_output: Option<PathBuf>,
    pub(crate) default_max_parallel: Option<String>,
    pub(crate) max_concurrency: Option<String>,
    pub(crate) orch_home: Option<String>,
    /// `ORCH_HISTORY=memory`: keep history in memory (for benchmarks).
    pub(crate) history: Option<String>,
    pub(crate) cache_max: Option<String>,
    /// `ORCH_SCHEDULE=fifo`: ready steps start by priority, then file order.
    pub(crate) schedule: Option<String>,
    /// `ORCHESTRATION_PROGRESS_WEBHOOK_URL`.
    pub(crate) webhook_url: Option<String>,
    /// `USER`: who decides approvals, when the user database does not say.
    pub(crate) user: Option<String>,
    /// `COLUMNS`: the width `orch show --timeline` draws to.
    pub(crate) columns: Option<String>,
    /// `std::env::temp_dir()` (`TMPDIR`): where runs get scratch space.
    pub(crate) temp_dir: PathBuf,
    /// The working directory orch was started in.
    pub(crate) cwd: PathBuf,
    /// Not variables, but facts of the environment orch started in,
    /// captured with them: whether stdin, stderr and stdout are terminals.
    pub(crate) stdin_tty: bool,
    pub(crate) stderr_tty: bool,
    pub(crate) stdout_tty: bool,
    /// All of orch's environment, passed on to steps.
    pub(crate) all: Vec<(String, String)>,
}

/// Every variable orch reads, with what it does: the man page's
/// ENVIRONMENT (a test checks [`EnvVars::capture`] reads no other).
pub(crate) const VARIABLES: &[(&str, &str)] = &[
    (
        "ORCH_HOME",
        "where the history (history.db) and step logs (logs/) live; default: the platform data directory, ~/.local/share/orch on Linux",
    ),
    ("ORCH_CONFIG", "the orchestration.yaml to use, as --config"),
    (
        "ORCH_SECRET_<NAME>",
        "the value of secret NAME (upper-cased, - as _), before the OS keyring",
    ),
    ("NO_COLOR", "no colours with --color auto"),
    (
        "CI",
        "set (and not false or 0): plain output instead of the live view, and approvals are never asked for at a prompt",
    ),
    (
        "GITHUB_ACTIONS",
        "true: step output in ::group:: blocks, diagnostics as ::error annotations, and the files below written",
    ),
    (
        "GITHUB_STEP_SUMMARY",
        "with GITHUB_ACTIONS=true: a Markdown summary of each run is appended to this file",
    ),
    (
        "GITHUB_OUTPUT",
        "with GITHUB_ACTIONS=true: the workflow's outputs are appended to this file (name=value, heredoc for multi-line)",
    ),
    (
        "ORCHESTRATION_DEFAULT_MAX_PARALLEL",
        "how many steps run at once when neither -j, the workflow's concurrency nor policies.max_parallel_tasks says; default: the number of CPU cores",
    ),
    (
        "ORCHESTRATION_MAX_CONCURRENCY",
        "a hard cap on the steps running at once, over every other setting",
    ),
    (
        "ORCHESTRATION_PROGRESS_WEBHOOK_URL",
        "POST every event there as JSON (as telemetry.webhook_url)",
    ),
    (
        "ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS",
        "how many cache entries are kept, the most recently used (default 2000)",
    ),
    ("ORCH_HISTORY", "memory: keep the history in memory only (for benchmarks)"),
    (
        "ORCH_SCHEDULE",
        "fifo: ready steps start by priority, then file order (for benchmarks)",
    ),
    ("USER", "who approves or rejects, when the user database does not say"),
    (
        "COLUMNS",
        "the width `orch show --timeline` draws to; default: the terminal's, 80 when stdout is not one",
    ),
];

impl EnvVars {
    pub(crate) fn capture() -> Self {
        let all: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let get = |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        EnvVars {
            no_color: get("NO_COLOR").is_some_and(|v| !v.is_empty()),
            ci: get("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0"),
            github_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            step_summary: get("GITHUB_STEP_SUMMARY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            github_output: get("GITHUB_OUTPUT")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            default_max_parallel: get("ORCHESTRATION_DEFAULT_MAX_PARALLEL"),
            max_concurrency: get("ORCHESTRATION_MAX_CONCURRENCY"),
            orch_home: get("ORCH_HOME"),
            history: get("ORCH_HISTORY"),
            cache_max: get("ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS"),
            schedule: get("ORCH_SCHEDULE"),
            webhook_url: get("ORCHESTRATION_PROGRESS_WEBHOOK_URL").filter(|v| !v.is_empty()),
            user: get("USER"),
            columns: get("COLUMNS"),
            temp_dir: std::env::temp_dir(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            stdout_tty: std::io::stdout().is_terminal(),
            all,
        }
    }
}

/// `--color`: `auto` colours a terminal unless `NO_COLOR` is set.
pub(crate) fn color(choice: ColorChoice, env: &EnvVars) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !env.no_color && env.stderr_tty,
    }
}

/// `--color` for what is written to stdout (plain output): `auto` colours
/// it only where stdout is a terminal, so a log file or a pipe gets no
/// escapes unless `always` asks for them (CI logs that render ANSI).
pub(crate) fn color_stdout(choice: ColorChoice, env: &EnvVars) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !env.no_color && env.stdout_tty,
    }
}

/// The OS user deciding approvals, for the record: the user database,
/// then `USER`, then the bare uid.
pub(crate) fn user_name(env: &EnvVars) -> String {
    lookup_user(env.user.as_deref())
}

fn lookup_user(fallback: Option<&str>) -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| fallback.map(str::to_string))
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()))
}

/// Who approvals decided in a run are recorded as ([`user_name`]), looked
/// up at the first decision: most runs decide none, and the user database
/// is a trip through NSS (nscd's socket, `/etc/nsswitch.conf`,
/// `/etc/passwd`) that a start-up should not pay for. Clones share the
/// answer.
#[derive(Debug, Clone)]
pub(crate) struct UserName {
    fallback: Option<String>,
    name: Arc<OnceLock<String>>,
}

impl UserName {
    pub(crate) fn of(env: &EnvVars) -> UserName {
        UserName {
            fallback: env.user.clone(),
            name: Arc::default(),
        }
    }

    /// A name known already (tests).
    #[cfg(test)]
    pub(crate) fn known(name: &str) -> UserName {
        let u = UserName {
            fallback: None,
            name: Arc::default(),
        };
        let _ = u.name.set(name.to_string());
        u
    }

    pub(crate) fn get(&self) -> String {
        self.name
            .get_or_init(|| lookup_user(self.fallback.as_deref()))
            .clone()
    }
}

/// `--approve STEP|all`.
#[derive(Debug, Clone, Default)]
pub(crate) enum PreApproved {
    #[default]
    None,
    All,
    Steps(Vec<String>),
}

impl PreApproved {
    pub(crate) fn from_args(args: &[String]) -> PreApproved {
        if args.iter().any(|a| a == "all") {
            PreApproved::All
        } else if args.is_empty() {
            PreApproved::None
        } else {
            PreApproved::Steps(args.to_vec())
        }
    }

    /// `--approve` as given, checked against the workflow: every name is an
    /// approval step of it (or any step, when a policy may require approval).
    pub(crate) fn checked(args: &[String], wf: &Workflow, config: &Config) -> Result<Self, Diag> {
        let policies_ask = config
            .policies
            .rules
            .iter()
            .any(|r| r.action == crate::model::PolicyAction::RequireApproval);
        for name in args.iter().filter(|a| *a != "all") {
            let id = name.split('[').next().unwrap_or(name);
            let Some(step) = wf.steps.iter().find(|s| s.id == id) else {
                let d = Diag::new(
                    "usage",
                    format!(
                        "--approve {name}: workflow `{}` has no step `{id}`",
                        wf.name
                    ),
                );
                let approvals = wf
                    .steps
                    .iter()
                    .filter(|s| matches!(s.body.kind, crate::model::StepKind::Approval { .. }));
                return Err(
                    match crate::diag::did_you_mean(id, wf.steps.iter().map(|s| s.id.as_str())) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(format!(
                            "its approval steps: {}",
                            approvals
                                .map(|s| s.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    },
                );
            };
            let asks = matches!(step.body.kind, crate::model::StepKind::Approval { .. });
            if !asks && !policies_ask {
                return Err(Diag::new(
                    "usage",
                    format!("--approve {name}: step `{id}` is not an approval step"),
                )
                .help("only `approval` steps (and steps a `require_approval` policy stops) ask"));
            }
        }
        Ok(Self::from_args(args))
    }

    pub(crate) fn covers(&self, step: &str) -> bool {
        match self {
            PreApproved::None => false,
            PreApproved::All => true,
            PreApproved::Steps(s) => s.iter().any(|x| x == step),
        }
    }
}

/// The flags of `orch run` / `orch resume` that shape a run.
pub(crate) struct RunFlags<'a> {
    pub(crate) exec: &'a ExecArgs,
    /// `-j`.
    pub(crate) jobs: Option<u32>,
    /// `--color`, already resolved.
    pub(crate) color: bool,
    /// `--color`, resolved for stdout.
    pub(crate) color_stdout: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: u8,
}

/// Everything about how one run executes, resolved before it starts.
pub(crate) struct RunSettings {
    pub(crate) output: OutputMode,
    pub(crate) color: bool,
    /// Colours in plain output (on stdout).
    pub(crate) color_stdout: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: u8,
    /// `--tail`: output lines under each running step in the live view.
    pub(crate) tail: usize,
    /// Plain output adds GitHub annotations.
    pub(crate) github_actions: bool,
    /// Under GitHub Actions: where the run's summary and outputs go.
    pub(crate) github_files: crate::report::github::Files,
    pub(crate) concurrency: usize,
    /// The concurrency rule itself, for child runs of other workflows.
    pub(crate) parallelism: Parallelism,
    /// Cache entries kept (`ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS`).
    pub(crate) cache_max: usize,
    /// `--no-cache`.
    pub(crate) no_cache: bool,
    /// The order ready steps start in (`ORCH_SCHEDULE`).
    pub(crate) schedule: Schedule,
    /// `ORCHESTRATION_PROGRESS_WEBHOOK_URL`, else `telemetry.webhook_url`.
    pub(crate) webhook_url: Option<String>,
    /// `telemetry.log_to_file`: where the JSON lines go.
    pub(crate) telemetry_log: Option<PathBuf>,
    /// `--junit`: where the JUnit XML report goes.
    pub(crate) junit: Option<PathBuf>,
    /// `telemetry.metrics_endpoint`, unless the `metrics` middleware is off.
    pub(crate) metrics_push: Option<String>,
    /// `--grace`.
    pub(crate) grace: Duration,
    /// `--approve`.
    pub(crate) pre_approved: PreApproved,
    /// Approvals may be asked on the terminal: stdin and stderr are one, outside CI.
    pub(crate) interactive: bool,
    /// Who approvals decided here are recorded as.
    pub(crate) user: UserName,
    /// Where each run's scratch directory goes (`std::env::temp_dir()`).
    pub(crate) scratch_base: PathBuf,
    /// Orch's environment without `ORCH_SECRET_*`: the base of every step's
    /// environment, and the `PATH` that `run:` commands are looked up on.
    pub(crate) step_env: Vec<(String, String)>,
    /// Orch's whole environment: where `secrets.*` are looked up first.
    pub(crate) secret_env: Vec<(String, String)>,
}

impl RunSettings {
    pub(crate) fn resolve(
        flags: RunFlags<'_>,
        env: &EnvVars,
        project: &Project,
        wf: &Workflow,
    ) -> Result<RunSettings, Diag> {
        let args = flags.exec;
        let output = match args.output {
            OutputArg::Auto => OutputMode::resolve_auto(env.stderr_tty, env.ci),
            OutputArg::Tty => OutputMode::Tty,
            OutputArg::Plain => OutputMode::Plain,
            OutputArg::Json => OutputMode::Json,
        };
        let parallelism = Parallelism::from_env(env)?;
        let cfg = &project.config;
        let telemetry = &cfg.telemetry;
        let telemetry_log = telemetry.log_to_file.then(|| {
            project.dir.join(
                telemetry
                    .log_file_path
                    .as_deref()
                    .unwrap_or("logs/orchestration.log"),
            )
        });
        Ok(RunSettings {
            output,
            color: flags.color,
            color_stdout: flags.color_stdout,
            quiet: flags.quiet,
            verbose: flags.verbose,
            tail: args.tail,
            github_actions: env.github_actions,
            github_files: crate::report::github::Files {
                summary: env.step_summary.clone().filter(|_| env.github_actions),
                output: env.github_output.clone().filter(|_| env.github_actions),
            },
            concurrency: parallelism.of(flags.jobs, wf, cfg),
            parallelism,
            cache_max: cache_max(env)?,
            no_cache: args.no_cache,
            schedule: schedule(env)?,
            webhook_url: env
                .webhook_url
                .clone()
                .or_else(|| telemetry.webhook_url.clone()),
            telemetry_log,
            junit: args.junit.clone(),
            metrics_push: telemetry
                .metrics_endpoint
                .clone()
                .filter(|_| !telemetry.metrics_off),
            grace: args.grace,
            pre_approved: PreApproved::checked(&args.approve, wf, &project.config)?,
            interactive: !env.ci && env.stdin_tty && env.stderr_tty,
            user: UserName::of(env),
            scratch_base: env.temp_dir.clone(),
            // Secrets reach steps only through `env:` (and are masked there).
            step_env: env
                .all
                .iter()
                .filter(|(k, _)| !k.starts_with("ORCH_SECRET_"))
                .cloned()
                .collect(),
            secret_env: env.all.clone(),
        })
    }
}

/// The loaded `orchestration.yaml` (or defaults) and where steps run.
pub(crate) struct Project {
    pub(crate) config: Arc<Config>,
    /// The config's directory, or the working directory when there is none.
    pub(crate) dir: PathBuf,
    pub(crate) config_path: Option<PathBuf>,
}

impl Project {
    /// `--config`/`ORCH_CONFIG`, else `orchestration.yaml` found upward from `cwd`.
    pub(crate) fn load(explicit: Option<&Path>, cwd: &Path) -> Result<Project, Vec<Diag>> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => crate::load::discover_config(cwd),
        };
        let Some(path) = path else {
            return Ok(Project {
                config: Arc::new(Config::default()),
                dir: cwd.to_path_buf(),
                config_path: None,
            });
        };
        let src = crate::load::read_source(&display_path(&path, cwd)).map_err(|d| vec![d])?;
        let config = crate::validate::config::config(&src)?;
        let dir = absolute(path.parent().unwrap_or(Path::new(".")), cwd);
        Ok(Project {
            config: Arc::new(config),
            dir,
            config_path: Some(path),
        })
    }

    /// A path, or a NAME for `workflows/NAME.yaml` beside `orchestration.yaml`.
    pub(crate) fn find_workflow(&self, arg: &str, cwd: &Path) -> Result<PathBuf, Diag> {
        let direct = Path::new(arg);
        if direct.exists() {
            return Ok(direct.to_path_buf());
        }
        let looks_like_name =
            !arg.contains('/') && !arg.ends_with(".yaml") && !arg.ends_with(".yml");
        if looks_like_name {
            for ext in ["yaml", "yml"] {
                let candidate = self.dir.join("workflows").join(format!("{arg}.{ext}"));
                if candidate.is_file() {
                    return Ok(relative_to(&candidate, cwd));
                }
            }
            let mut d = Diag::new("io", format!("no workflow file or name `{arg}`"));
            let listed = self.workflow_names();
            d = match crate::diag::did_you_mean(arg, listed.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None if listed.is_empty() => d.help(format!(
                    "looked for {}/workflows/{arg}.yaml",
                    self.dir.display()
                )),
                None => d.help(format!("workflows here: {}", listed.join(", "))),
            };
            return Err(d);
        }
        Ok(direct.to_path_buf())
    }

    fn workflow_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .workflow_files(Path::new(""))
            .into_iter()
            .map(|f| f.name)
            .collect();
        names.dedup();
        names
    }

    /// The files of `workflows/` beside `orchestration.yaml`, by name, with
    /// the rule of [`Project::find_workflow`]: `NAME.yaml` before `NAME.yml`.
    /// Paths are relative to `cwd` where they are inside it.
    pub(crate) fn workflow_files(&self, cwd: &Path) -> Vec<WorkflowFile> {
        workflow_files_in(&self.dir, cwd)
    }
}

/// The workflow files of the project around `cwd`, without validating its
/// `orchestration.yaml`: what shell completion offers for `orch run NAME`.
pub(crate) fn workflow_names_here() -> Vec<String> {
    let cwd = EnvVars::capture().cwd;
    let dir = crate::load::discover_config(&cwd)
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| cwd.clone());
    let mut names: Vec<String> = workflow_files_in(&dir, &cwd)
        .into_iter()
        .map(|f| f.name)
        .collect();
    names.dedup();
    names
}

fn workflow_files_in(dir: &Path, cwd: &Path) -> Vec<WorkflowFile> {
    let mut found: Vec<(String, u8, PathBuf)> = std::fs::read_dir(dir.join("workflows"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let rank = match p.extension()?.to_str()? {
                "yaml" => 0,
                "yml" => 1,
                _ => return None,
            };
            let name = p.file_stem()?.to_str()?.to_string();
            p.is_file().then_some((name, rank, p))
        })
        .collect();
    found.sort();
    let mut out: Vec<WorkflowFile> = Vec::new();
    for (name, _, p) in found {
        let shadowed_by = out.iter().find(|f| f.name == name).map(|f| f.path.clone());
        out.push(WorkflowFile {
            name,
            path: relative_to(&p, cwd),
            shadowed_by,
        });
    }
    out
}

/// A workflow file of a project and the name `orch run NAME` takes.
#[derive(Debug, Clone)]
pub(crate) struct WorkflowFile {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    /// The file of the same name that `orch run NAME` runs instead.
    pub(crate) shadowed_by: Option<PathBuf>,
}

/// `ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS`, default 2000.
pub(crate) fn cache_max(env: &EnvVars) -> Result<usize, Diag> {
    match env.cache_max.as_deref() {
        None => Ok(2000),
        Some(s) => s.trim().parse::<usize>().map_err(|_| {
            Diag::new(
                "env",
                format!("ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS must be a whole number, got `{s}`"),
            )
        }),
    }
}

/// The order in which ready steps take free slots, after `priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Schedule {
    /// The longest expected remaining path first, from past durations.
    #[default]
    CriticalPath,
    /// File order (`ORCH_SCHEDULE=fifo`), e.g. to measure the difference.
    Fifo,
}

/// `ORCH_SCHEDULE`: `fifo`, or `critical-path` (the default).
pub(crate) fn schedule(env: &EnvVars) -> Result<Schedule, Diag> {
    match env.schedule.as_deref().map(str::trim) {
        None | Some("") | Some("critical-path") => Ok(Schedule::CriticalPath),
        Some("fifo") => Ok(Schedule::Fifo),
        Some(s) => Err(Diag::new(
            "env",
            format!("ORCH_SCHEDULE must be `fifo` or `critical-path`, got `{s}`"),
        )),
    }
}

/// The run's concurrency: `-j`, then the workflow's `concurrency`, then
/// `policies.max_parallel_tasks`, then `ORCHESTRATION_DEFAULT_MAX_PARALLEL`,
/// else the CPU count; `ORCHESTRATION_MAX_CONCURRENCY` caps all of them.
pub(crate) fn concurrency(
    jobs: Option<u32>,
    wf: &Workflow,
    cfg: &Config,
    env: &EnvVars,
) -> Result<usize, Diag> {
    Ok(Parallelism::from_env(env)?.of(jobs, wf, cfg))
}

/// The environment's part of the concurrency rule, parsed once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parallelism {
    /// `ORCHESTRATION_DEFAULT_MAX_PARALLEL`.
    default: Option<usize>,
    /// `ORCHESTRATION_MAX_CONCURRENCY`.
    cap: Option<usize>,
}

impl Parallelism {
    pub(crate) fn from_env(env: &EnvVars) -> Result<Parallelism, Diag> {
        let parse = |name: &str, v: &Option<String>| -> Result<Option<usize>, Diag> {
            match v {
                None => Ok(None),
                Some(s) => match s.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(Some(n)),
                    _ => Err(Diag::new(
                        "env",
                        format!("{name} must be a positive integer, got `{s}`"),
                    )),
                },
            }
        };
        Ok(Parallelism {
            default: parse(
                "ORCHESTRATION_DEFAULT_MAX_PARALLEL",
                &env.default_max_parallel,
            )?,
            cap: parse("ORCHESTRATION_MAX_CONCURRENCY", &env.max_concurrency)?,
        })
    }

    /// The concurrency of `wf` (see [`concurrency`]).
    pub(crate) fn of(&self, jobs: Option<u32>, wf: &Workflow, cfg: &Config) -> usize {
        let n = jobs
            .map(|j| j as usize)
            .or(wf.concurrency)
            .or(cfg.policies.max_parallel_tasks)
            .or(self.default)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
        self.cap.map_or(n, |c| n.min(c)).max(1)
    }
}

fn absolute(p: &Path, cwd: &Path) -> PathBuf {
    if p.as_os_str().is_empty() {
        cwd.to_path_buf()
    } else if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// Show paths under the working directory relative to it.
fn relative_to(p: &Path, cwd: &Path) -> PathBuf {
    p.strip_prefix(cwd)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

fn display_path(p: &Path, cwd: &Path) -> PathBuf {
    relative_to(p, cwd)
}

#[cfg(test)]
mod tests {
    /// The man page lists what `capture` reads: every `get("NAME")` there,
    /// and the variables clap reads itself (`env = "…"` in cli.rs).
    #[test]
    fn every_variable_read_is_documented() {
        let documented = |n: &str| super::VARIABLES.iter().any(|(v, _)| *v == n);
        let code = include_str!("settings.rs");
        let capture = code
            .split("fn capture()")
            .nth(1)
            .and_then(|c| c.split("\n    }\n").next())
            .expect("capture()");
        let read: Vec<&str> = capture
            .split("get(\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .collect();
        assert!(read.len() >= 10, "{read:?}");
        for name in read {
            assert!(documented(name), "{name} is read but not in VARIABLES");
        }
        for name in include_str!("cli.rs")
            .split("env = \"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
        {
            assert!(documented(name), "{name} is read but not in VARIABLES");
        }
        assert!(documented("ORCH_SECRET_<NAME>"));
    }

    use super::*;

    fn wf(concurrency: Option<usize>) -> Workflow {
        let src = Arc::new(crate::source::Source::new(
            "w",
            "w",
            "name: w\nsteps: [{id: a, run: x}, {id: gate, approval: {}}]\n",
        ));
        let mut w = crate::validate::workflow_source(&src, &Config::default()).unwrap();
        w.concurrency = concurrency;
        w
    }

    #[test]
    fn concurrency_precedence() {
        let mut cfg = Config::default();
        let mut env = EnvVars::default();
        assert_eq!(concurrency(Some(3), &wf(Some(5)), &cfg, &env).unwrap(), 3);
        assert_eq!(concurrency(None, &wf(Some(5)), &cfg, &env).unwrap(), 5);
        cfg.policies.max_parallel_tasks = Some(7);
        assert_eq!(concurrency(None, &wf(None), &cfg, &env).unwrap(), 7);
        cfg.policies.max_parallel_tasks = None;
        env.default_max_parallel = Some("9".into());
        assert_eq!(concurrency(None, &wf(None), &cfg, &env).unwrap(), 9);
        env.max_concurrency = Some("2".into());
        assert_eq!(concurrency(Some(8), &wf(None), &cfg, &env).unwrap(), 2);
        env.max_concurrency = Some("zero".into());
        assert!(concurrency(None, &wf(None), &cfg, &env).is_err());
    }

    fn exec_args(args: &[&str]) -> ExecArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cmd {
            #[command(flatten)]
            exec: ExecArgs,
        }
        let argv = std::iter::once("orch").chain(args.iter().copied());
        Cmd::parse_from(argv).exec
    }

    fn settings(
        args: &ExecArgs,
        jobs: Option<u32>,
        env: &EnvVars,
        cfg: Config,
    ) -> Result<RunSettings, Diag> {
        let project = Project {
            config: Arc::new(cfg),
            dir: PathBuf::from("/project"),
            config_path: None,
        };
        let flags = RunFlags {
            exec: args,
            jobs,
            color: false,
            color_stdout: false,
            quiet: false,
            verbose: 0,
        };
        RunSettings::resolve(flags, env, &project, &wf(None))
    }

    #[test]
    fn run_settings_precedence() {
        let args = exec_args(&[]);
        let mut env = EnvVars::default();
        let mut cfg = Config::default();
        cfg.telemetry.webhook_url = Some("http://config/hook".into());
        cfg.policies.max_parallel_tasks = Some(4);
        let s = settings(&args, None, &env, cfg.clone()).unwrap();
        assert_eq!(s.webhook_url.as_deref(), Some("http://config/hook"));
        assert_eq!(s.concurrency, 4);
        assert_eq!(s.cache_max, 2000);
        assert!(s.telemetry_log.is_none());
        assert_eq!(s.schedule, Schedule::CriticalPath);
        env.schedule = Some("fifo".into());
        assert_eq!(
            settings(&args, None, &env, cfg.clone()).unwrap().schedule,
            Schedule::Fifo
        );
        env.schedule = Some("lifo".into());
        let e = settings(&args, None, &env, cfg.clone()).err().unwrap();
        assert!(e.message.contains("ORCH_SCHEDULE"), "{e:?}");
        env.schedule = None;

        // The environment beats the config...
        env.webhook_url = Some("http://env/hook".into());
        env.max_concurrency = Some("3".into());
        env.cache_max = Some("7".into());
        let s = settings(&args, None, &env, cfg.clone()).unwrap();
        assert_eq!(s.webhook_url.as_deref(), Some("http://env/hook"));
        assert_eq!(s.concurrency, 3);
        assert_eq!(s.cache_max, 7);

        // ...and -j beats both, under the environment's cap.
        env.max_concurrency = None;
        env.default_max_parallel = Some("9".into());
        assert_eq!(
            settings(&args, Some(2), &env, cfg.clone())
                .unwrap()
                .concurrency,
            2
        );
        cfg.policies.max_parallel_tasks = None;
        assert_eq!(
            settings(&args, None, &env, cfg.clone())
                .unwrap()
                .concurrency,
            9
        );

        env.cache_max = Some("lots".into());
        assert!(settings(&args, None, &env, cfg).is_err());
    }

    #[test]
    fn run_settings_from_flags_and_terminal() {
        let mut env = EnvVars {
            stdin_tty: true,
            stderr_tty: true,
            temp_dir: PathBuf::from("/tmp/x"),
            cwd: PathBuf::from("/tmp"),
            all: vec![
                ("PATH".into(), "/bin".into()),
                ("ORCH_SECRET_TOKEN".into(), "s3cret".into()),
            ],
            ..EnvVars::default()
        };
        let mut cfg = Config::default();
        cfg.telemetry.log_to_file = true;
        let args = exec_args(&["--approve", "gate", "--no-cache", "--grace", "3s"]);
        let s = settings(&args, None, &env, cfg.clone()).unwrap();
        assert_eq!(s.output, OutputMode::Tty);
        assert!(s.interactive);
        assert!(s.no_cache);
        assert_eq!(s.grace, Duration::from_secs(3));
        assert!(s.pre_approved.covers("gate") && !s.pre_approved.covers("other"));
        // A name that is not an approval step of the workflow is refused.
        let wrong = settings(&exec_args(&["--approve", "gaet"]), None, &env, cfg.clone());
        assert!(wrong.is_err_and(|d| d.help.unwrap_or_default().contains("`gate`")));
        let not_one = settings(&exec_args(&["--approve", "a"]), None, &env, cfg.clone());
        assert!(not_one.is_err_and(|d| d.message.contains("not an approval step")));
        assert_eq!(s.scratch_base, PathBuf::from("/tmp/x"));
        assert_eq!(
            s.telemetry_log,
            Some(PathBuf::from("/project/logs/orchestration.log"))
        );
        // Secrets stay out of steps' environment, not out of secret lookup.
        assert_eq!(s.step_env, vec![("PATH".to_string(), "/bin".to_string())]);
        assert_eq!(s.secret_env.len(), 2);

        env.ci = true;
        let s = settings(&args, None, &env, cfg.clone()).unwrap();
        assert_eq!(s.output, OutputMode::Plain);
        assert!(!s.interactive);
        let s = settings(&exec_args(&["--output", "json"]), None, &env, cfg).unwrap();
        assert_eq!(s.output, OutputMode::Json);
    }

    #[test]
    fn colour() {
        let mut env = EnvVars {
            stderr_tty: true,
            ..EnvVars::default()
        };
        assert!(color(ColorChoice::Auto, &env));
        env.no_color = true;
        assert!(!color(ColorChoice::Auto, &env));
        assert!(color(ColorChoice::Always, &env));
        env.stderr_tty = false;
        env.no_color = false;
        assert!(!color(ColorChoice::Auto, &env));
        // Stdout goes by stdout.
        assert!(!color_stdout(ColorChoice::Auto, &env));
        assert!(color_stdout(ColorChoice::Always, &env));
        env.stdout_tty = true;
        assert!(color_stdout(ColorChoice::Auto, &env));
        env.no_color = true;
        assert!(!color_stdout(ColorChoice::Auto, &env));
        assert!(!color_stdout(ColorChoice::Never, &env));
    }
}
