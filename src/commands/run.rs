//! `orch run FILE`: validate, resolve inputs and settings, run the engine
//! with the chosen reporters, map the outcome to an exit code.

use std::sync::Arc;

use crate::cli::{OutputArg, RunArgs};
use crate::event::{Fanout, Sink, Status};
use crate::exec::{self, CancelLevel, RunOptions};
use crate::exit::{Exit, Invalid};
use crate::report::{self, OutputMode, Reporter};

use super::Context;

pub fn run(cx: &Context, args: &RunArgs) -> Result<Exit, Invalid> {
    let super::Prepared {
        project,
        wf,
        inputs,
        concurrency,
    } = cx.prepare(&args.target)?;
    if args.dry_run {
        print!("{}", super::plan::render(&wf, &inputs, concurrency));
        return Ok(Exit::Success);
    }

    let mode = match args.output {
        OutputArg::Auto => OutputMode::resolve_auto(console::Term::stderr().is_term(), cx.env.ci),
        OutputArg::Tty => OutputMode::Tty,
        OutputArg::Plain => OutputMode::Plain,
        OutputArg::Json => OutputMode::Json,
    };
    let top_level = wf.steps.len();
    let reporter: Arc<dyn Reporter> = match mode {
        OutputMode::Tty => Arc::new(report::tty::TtyReporter::new(top_level, cx.color)),
        OutputMode::Plain => Arc::new(report::plain::PlainReporter::new(
            cx.env.github_actions,
            cx.quiet,
        )),
        OutputMode::Json => Arc::new(report::json::JsonReporter),
    };
    let mut sinks: Vec<Arc<dyn Sink>> = vec![reporter.clone()];
    let telemetry = &project.config.telemetry;
    if telemetry.log_to_file {
        let rel = telemetry
            .log_file_path
            .as_deref()
            .unwrap_or("logs/orchestration.log");
        let path = project.dir.join(rel);
        match report::logfile::LogFile::open(&path) {
            Ok(f) => sinks.push(Arc::new(f)),
            Err(e) => {
                return Err(crate::diag::Diag::new(
                    "io",
                    format!("cannot open the telemetry log {}: {e}", path.display()),
                )
                .into())
            }
        }
    }
    let sink: Arc<dyn Sink> = Arc::new(Fanout(sinks));

    let run_id: Arc<str> = Arc::from(ulid::Ulid::new().to_string().to_lowercase());
    if cx.verbose > 0 {
        eprintln!(
            "orch: run {run_id}, workflow {} ({}), config {}, project dir {}, concurrency {concurrency}",
            wf.name,
            wf.source.name,
            project
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
            project.dir.display()
        );
    }
    let scratch = std::env::temp_dir().join(format!("orch-{run_id}"));
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        return Err(crate::diag::Diag::new(
            "io",
            format!("cannot create {}: {e}", scratch.display()),
        )
        .into());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return Err(
                crate::diag::Diag::new("io", format!("cannot start the runtime: {e}")).into(),
            )
        }
    };
    let (canceller, cancel_watch) = exec::cancel::channel();
    let opts = RunOptions {
        run_id,
        inputs,
        concurrency,
        grace: args.grace,
        project_dir: project.dir.clone(),
        scratch_dir: scratch.clone(),
        process_env: cx.env.all.clone(),
        cancel: cancel_watch,
    };
    let config = project.config.clone();
    let show_hint = mode != OutputMode::Json && !cx.quiet;
    let outcome = runtime.block_on(async move {
        tokio::spawn(watch_signals(canceller, show_hint));
        exec::run(wf, config, opts, sink).await
    });
    // Steps may still hold the scratch files open in leftover processes; best effort.
    let _ = std::fs::remove_dir_all(&scratch);
    reporter.summary(&outcome);
    Ok(match outcome.status {
        Status::Succeeded => Exit::Success,
        Status::Cancelled => Exit::Cancelled,
        Status::Waiting => Exit::Waiting,
        _ => Exit::RunFailed,
    })
}

/// First Ctrl-C or SIGTERM: stop gracefully; a second one: stop at once.
async fn watch_signals(canceller: exec::Canceller, hint: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if canceller.level() == CancelLevel::None {
            canceller.raise(CancelLevel::Graceful);
            if hint {
                eprintln!(
                    "cancelling: stopping running steps (press Ctrl-C again to stop at once)"
                );
            }
        } else {
            canceller.raise(CancelLevel::Immediate);
        }
    }
}
