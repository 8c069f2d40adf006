//! `run:` steps: a script in its own process group, its output streamed to
//! the sinks (see [`super::pipes`]) while the last 1 MiB of stdout is kept, and the whole
//! group signalled on timeout or cancellation. The executor at the end adds
//! the `ORCH_*` environment of each attempt and reads its `ORCH_OUTPUT` and
//! `ORCH_ENV` files.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Map, Value as Json};
use tokio::time::Instant;

use crate::cancel::{CancelLevel, CancelWatch};
use crate::event::{ProcessStarted, Sink};
use crate::expr::eval::{resolve, to_text};
use crate::expr::Scope;
use crate::model::{Shell, Step, StepKind};

use super::direct::{direct_argv, which};
use super::{
    arg_limits, output_file, process, spawn, Attempt, AttemptCx, AttemptFuture, Body, ErrorKind,
    ResolveCx, StepError, StepExecutor,
};

/// `stdout` kept for `steps.<id>.stdout`.
pub(crate) const STDOUT_TAIL: usize = 1024 * 1024;
/// After the script exits, how long leftover processes may keep its pipes open.
const DRAIN: Duration = Duration::from_secs(1);

pub(crate) struct ShellJob {
    pub(crate) display_id: String,
    /// Which attempt this is, for the record of its process group.
    pub(crate) attempt: u32,
    pub(crate) shell: Shell,
    pub(crate) script: String,
    pub(crate) env: Vec<(String, String)>,
    /// Where commands are looked up when `env` sets no `PATH`: orch's own.
    pub(crate) path: Option<String>,
    pub(crate) cwd: PathBuf,
    pub(crate) timeout: Option<Duration>,
    pub(crate) grace: Duration,
    pub(crate) cancel: CancelWatch,
    pub(crate) sink: Arc<dyn Sink>,
    /// How much of the end of stdout to keep for `steps.<id>.stdout`:
    /// [`STDOUT_TAIL`], or 0 when nothing reads it.
    pub(crate) keep: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Exited(i32),
    Signalled(i32),
    TimedOut,
    Cancelled,
    SpawnFailed,
}

#[derive(Debug)]
pub(crate) struct ShellResult {
    pub(crate) ending: Ending,
    pub(crate) stdout_tail: String,
    pub(crate) spawn_error: Option<String>,
}

impl ShellResult {
    /// The exit code as a shell reports it (128 + signal when killed).
    pub(crate) fn exit_code(&self) -> Option<i32> {
        match self.ending {
            Ending::Exited(c) => Some(c),
            Ending::Signalled(s) => Some(128 + s),
            _ => None,
        }
    }
}

/// Where commands are looked up: the step's `PATH`, else orch's.
fn lookup_path(job: &ShellJob) -> &str {
    job.env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .or(job.path.as_deref())
        .unwrap_or_default()
}

/// The started process, or why it could not start; with the argv tried
/// (`argv[0]` as the program sees it).
type Started<'a> = Result<(spawn::Child, Vec<&'a str>), (std::io::Error, Vec<&'a str>)>;

/// Start the job's process: `direct` (a script of plain words) as its own
/// program, else through the shell. A program the kernel refuses (a script
/// without a `#!` line, a path that is not there, a file that is not
/// executable) goes to the shell too, as execvp would: the shell runs it or
/// says why as users know it (`not found`, exit 127; 126).
fn start<'a>(job: &'a ShellJob, direct: Option<Vec<&'a str>>) -> Started<'a> {
    let path = lookup_path(job);
    let launch = |prog: &Path, argv: &[&str]| {
        spawn::spawn(&spawn::Spec {
            program: prog,
            argv,
            env: &job.env,
            cwd: &job.cwd,
        })
    };
    if let Some(argv) = direct {
        if let Some(prog) = which(argv[0], path) {
            match launch(&prog, &argv) {
                Ok(child) => return Ok((child, argv)),
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(nix::libc::ENOEXEC | nix::libc::ENOENT | nix::libc::EACCES)
                    ) => {}
                Err(e) => return Err((e, argv)),
            }
        }
    }
    let shell = job.shell.program();
    let argv = vec![shell, "-e", "-c", job.script.as_str()];
    let Some(prog) = which(shell, path) else {
        return Err((std::io::Error::from(std::io::ErrorKind::NotFound), argv));
    };
    match launch(&prog, &argv) {
        Ok(child) => Ok((child, argv)),
        Err(e) => Err((e, argv)),
    }
}

fn signal_group(pgid: i32, sig: Signal) {
    // ESRCH (group already gone) is the normal case after a clean exit.
    let _ = killpg(Pid::from_raw(pgid), sig);
}

fn spawn_failed(what: String) -> ShellResult {
    ShellResult {
        ending: Ending::SpawnFailed,
        stdout_tail: String::new(),
        spawn_error: Some(what),
    }
}

pub(crate) async fn run(mut job: ShellJob) -> ShellResult {
    let direct = direct_argv(&job.script);
    let script_arg = direct.is_none().then_some(job.script.as_str());
    if let Some(what) = arg_limits::check(&job.env, script_arg) {
        return spawn_failed(what);
    }
    let (mut child, argv) = match start(&job, direct) {
        Ok(c) => c,
        Err((e, argv)) => {
            let program = argv[0];
            let what = if e.kind() == std::io::ErrorKind::NotFound && !job.cwd.is_dir() {
                format!("working directory {} does not exist", job.cwd.display())
            } else if e.raw_os_error() == Some(nix::libc::E2BIG) {
                format!(
                    "could not start {}: {}",
                    program,
                    arg_limits::too_big(&job.env, &argv)
                )
            } else {
                format!("could not start {program}: {e}")
            };
            return spawn_failed(what);
        }
    };
    drop(argv);
    let pgid = child.id();
    // Recorded so that `orch resume` can stop the group if orch dies.
    if pgid > 0 {
        let start = process::start_stamp(pgid, child.forked());
        job.sink.process(&ProcessStarted {
            step_id: &job.display_id,
            attempt: job.attempt,
            pgid,
            start: start.as_deref(),
        });
    }
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let sink = job.sink.clone();
    let id = job.display_id.clone();
    let keep = job.keep;
    let reader =
        tokio::spawn(
            async move { super::pipes::read_both(stdout, stderr, &id, &*sink, keep).await },
        );

    let mut timed_out = false;
    let mut cancelled = false;
    let deadline = job.timeout.map(|t| Instant::now() + t);
    let mut kill_at: Option<Instant> = None;
    let far = Instant::now() + Duration::from_secs(86400 * 365);
    if job.cancel.level() >= CancelLevel::Graceful {
        cancelled = true;
        signal_group(pgid, Signal::SIGTERM);
        kill_at = Some(Instant::now() + job.grace);
    }
    let status: std::io::Result<ExitStatus> = loop {
        tokio::select! {
            st = child.wait() => break st,
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() && !timed_out && !cancelled => {
                timed_out = true;
                signal_group(pgid, Signal::SIGTERM);
                kill_at = Some(Instant::now() + job.grace);
            }
            _ = tokio::time::sleep_until(kill_at.unwrap_or(far)), if kill_at.is_some() => {
                signal_group(pgid, Signal::SIGKILL);
                kill_at = None;
            }
            level = job.cancel.changed() => {
                match level {
                    CancelLevel::Immediate => {
                        cancelled = true;
                        signal_group(pgid, Signal::SIGKILL);
                    }
                    CancelLevel::Graceful if !cancelled => {
                        cancelled = true;
                        signal_group(pgid, Signal::SIGTERM);
                        kill_at = Some(Instant::now() + job.grace);
                    }
                    _ => {}
                }
            }
        }
    };
    // Processes the script left behind in its group end with it.
    signal_group(pgid, Signal::SIGTERM);
    let mut reader = reader;
    let tail = match tokio::time::timeout(DRAIN, &mut reader).await {
        Ok(r) => r.unwrap_or_default(),
        Err(_) => {
            signal_group(pgid, Signal::SIGKILL);
            match tokio::time::timeout(DRAIN, &mut reader).await {
                Ok(r) => r.unwrap_or_default(),
                Err(_) => {
                    // Something left the group but holds our pipe: stop listening.
                    reader.abort();
                    VecDeque::new()
                }
            }
        }
    };
    let stdout_tail = tail_to_string(tail);
    let ending = if cancelled {
        Ending::Cancelled
    } else if timed_out {
        Ending::TimedOut
    } else {
        match status {
            Ok(st) => {
                use std::os::unix::process::ExitStatusExt;
                match (st.code(), st.signal()) {
                    (Some(c), _) => Ending::Exited(c),
                    (None, Some(s)) => Ending::Signalled(s),
                    _ => Ending::Exited(-1),
                }
            }
            Err(_) => Ending::Exited(-1),
        }
    };
    ShellResult {
        ending,
        stdout_tail,
        spawn_error: None,
    }
}

fn tail_to_string(tail: VecDeque<u8>) -> String {
    let (a, b) = tail.as_slices();
    let mut v = Vec::with_capacity(a.len() + b.len());
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    // A cut at the 1 MiB boundary may split a character; drop the fragment.
    let text = String::from_utf8_lossy(&v);
    text.trim_start_matches('\u{FFFD}').trim().to_string()
}

/// The `run` kind.
pub(crate) struct Run;

impl StepExecutor for Run {
    fn kind(&self) -> &'static str {
        "run"
    }

    fn resolve(
        &self,
        step: &Step,
        scope: &Scope<'_>,
        cx: &ResolveCx<'_>,
    ) -> Result<Box<dyn Body>, StepError> {
        let StepKind::Run { script, shell } = &step.body.kind else {
            return Err(StepError::wrong_kind(step, self.kind()));
        };
        let failed = |what: &str, e: crate::expr::eval::EvalError| {
            StepError::expression(format!("{what}: {}", e.message))
        };
        let script = crate::expr::render(script, scope).map_err(|e| failed("run", e))?;
        let mut env = cx.base_env.to_vec();
        for (k, v) in &step.body.env {
            let j = resolve(v, scope).map_err(|e| failed(&format!("env `{k}`"), e))?;
            env.push((k.clone(), to_text(&j)));
        }
        let cwd = match &step.working_dir {
            Some(w) => {
                let j = resolve(w, scope).map_err(|e| failed("working_dir", e))?;
                cx.project_dir.join(to_text(&j))
            }
            None => cx.project_dir.to_path_buf(),
        };
        Ok(Box::new(Script {
            shell: *shell,
            script,
            env,
            cwd,
            path: scope.env["PATH"].as_str().map(str::to_string),
        }))
    }
}

/// A script with its expressions rendered.
#[derive(Debug)]
struct Script {
    shell: Shell,
    script: String,
    /// Workflow env, then the step's env (no `ORCH_*` yet).
    env: Vec<(String, String)>,
    cwd: PathBuf,
    /// orch's own `PATH` (from the `env` context), to find a command run
    /// without a shell when the step's env does not set one.
    path: Option<String>,
}

impl Body for Script {
    fn definition(&self, def: &mut Map<String, Json>, project_dir: &Path) {
        def.insert("script".into(), json!(self.script));
        let cwd = self.cwd.strip_prefix(project_dir).unwrap_or(&self.cwd);
        def.insert("cwd".into(), json!(cwd));
        def.insert("shell".into(), json!(format!("{:?}", self.shell)));
    }

    fn env(&self) -> &[(String, String)] {
        &self.env
    }

    fn attempt<'a>(&'a self, cx: &'a AttemptCx<'a>) -> AttemptFuture<'a> {
        Box::pin(self.run(cx))
    }
}

impl Script {
    /// One run of the script, with the `ORCH_*` contract:
    /// `ORCH_RUN_ID`, `ORCH_STEP_ID`, `ORCH_ATTEMPT`, `ORCH_WORKFLOW`,
    /// `ORCH_OUTPUT` (a fresh file per attempt, read back as outputs),
    /// `ORCH_ENV` (likewise, read back as [`ENV_KEY`] for the steps that
    /// need this one) and, for an item of a `for_each` step, `ORCH_ITEM`
    /// and `ORCH_INDEX`.
    async fn run(&self, cx: &AttemptCx<'_>) -> Attempt {
        let mut env = self.env.clone();
        let out_file = cx
            .scratch_dir
            .join(format!("{}.{}.out", cx.display_id, cx.attempt));
        let env_file = cx
            .scratch_dir
            .join(format!("{}.{}.env", cx.display_id, cx.attempt));
        env.push(("ORCH_RUN_ID".into(), cx.run_id.to_string()));
        env.push(("ORCH_STEP_ID".into(), cx.step.id.clone()));
        env.push(("ORCH_ATTEMPT".into(), cx.attempt.to_string()));
        env.push(("ORCH_WORKFLOW".into(), cx.workflow.to_string()));
        env.push(("ORCH_OUTPUT".into(), out_file.display().to_string()));
        env.push(("ORCH_ENV".into(), env_file.display().to_string()));
        if let Some((i, item)) = cx.item {
            env.push(("ORCH_ITEM".into(), to_text(item)));
            env.push(("ORCH_INDEX".into(), i.to_string()));
        }
        let timeout = cx.step.body.timeout;
        let res = run(ShellJob {
            display_id: cx.display_id.to_string(),
            attempt: cx.attempt,
            shell: self.shell,
            script: self.script.clone(),
            env,
            cwd: self.cwd.clone(),
            timeout,
            grace: cx.grace,
            cancel: cx.cancel.clone(),
            sink: cx.sink.clone(),
            path: self.path.clone(),
            keep: if cx.step.keep_stdout { STDOUT_TAIL } else { 0 },
        })
        .await;
        let mut extra = Map::new();
        match read_env_file(&env_file) {
            Ok(Some(vars)) => {
                extra.insert(ENV_KEY.into(), Json::Object(vars));
            }
            Ok(None) => {}
            Err(e) => {
                return Attempt {
                    exit_code: res.exit_code(),
                    stdout: cx.step.keep_stdout.then_some(res.stdout_tail),
                    ..Attempt::failed(ErrorKind::Exit, e.to_string())
                }
            }
        }
        let outputs = match std::fs::read_to_string(&out_file) {
            Ok(text) => {
                let _ = std::fs::remove_file(&out_file);
                match output_file::parse(&text) {
                    Ok(kv) => kv.into_iter().map(|(k, v)| (k, Json::String(v))).collect(),
                    Err(e) => {
                        return Attempt {
                            exit_code: res.exit_code(),
                            stdout: cx.step.keep_stdout.then_some(res.stdout_tail),
                            extra,
                            ..Attempt::failed(ErrorKind::Exit, e.to_string())
                        }
                    }
                }
            }
            Err(_) => Map::new(),
        };
        let result = match res.ending {
            Ending::Exited(0) => Ok(()),
            Ending::Exited(c) => Err((ErrorKind::Exit, format!("exited with code {c}"))),
            Ending::Signalled(s) => Err((
                ErrorKind::Exit,
                format!(
                    "killed by signal {}",
                    Signal::try_from(s).map(|s| s.as_str()).unwrap_or("?")
                ),
            )),
            Ending::TimedOut => Err((
                ErrorKind::Timeout,
                format!(
                    "timed out after {}",
                    humantime::format_duration(timeout.unwrap_or_default())
                ),
            )),
            Ending::Cancelled => Err((ErrorKind::Cancelled, "cancelled".into())),
            Ending::SpawnFailed => {
                Err((ErrorKind::Exit, res.spawn_error.clone().unwrap_or_default()))
            }
        };
        Attempt {
            result: result.map_err(|(kind, message)| StepError::new(kind, message)),
            exit_code: res.exit_code(),
            stdout: cx.step.keep_stdout.then_some(res.stdout_tail),
            outputs,
            extra,
            ..Attempt::ok()
        }
    }
}

/// Where a unit's `ORCH_ENV` writes are kept in its `steps.<id>` view (and
/// so in the history and the step cache): `{NAME: value}`. Expressions
/// cannot name it (`validate` knows no such field); the engine hands the
/// values to the steps that need this one.
pub(crate) const ENV_KEY: &str = "env";

/// The variables an attempt wrote to its `ORCH_ENV` file (removed after),
/// `None` when it wrote none.
fn read_env_file(path: &Path) -> Result<Option<Map<String, Json>>, output_file::OutputFileError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let _ = std::fs::remove_file(path);
    let vars = output_file::parse_file(&text, output_file::File::Env)?;
    Ok((!vars.is_empty()).then(|| {
        vars.into_iter()
            .map(|(k, v)| (k, Json::String(v)))
            .collect()
    }))
}
