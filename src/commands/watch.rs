//! `orch run FILE --watch`: run, then run again whenever a watched file
//! changes (see [`crate::session::watch`]). Each run is a run of its own in
//! the history; cached steps hit, so only what the change touches re-runs.
//! A change during a run cancels it gracefully, then the next one starts
//! (watchexec's default "restart"). Ctrl-C ends the watch with the exit code
//! of the last run (2 when the workflow is invalid at that moment).

use std::path::{Path, PathBuf};

use crate::cli::RunArgs;
use crate::error::Error;
use crate::exit::Exit;
use crate::session::watch::{Wake, WatchSet, Watcher};

use super::Context;

pub(crate) fn run(cx: &Context, args: &RunArgs) -> Result<Exit, Error> {
    let mut watcher = Watcher::start()?;
    let mut set: Option<WatchSet> = None;
    loop {
        let (outcome, now) = once(cx, args, &mut watcher);
        // An invalid file keeps what the last valid one named watched.
        match (now, &set) {
            (Some(n), _) => set = Some(n),
            (None, Some(_)) => {}
            (None, None) => {
                let f = fallback(cx, &args.target.file);
                watcher.watch(f.clone());
                set = Some(f);
            }
        }
        let cancelled_by_change = watcher.pending() && !watcher.stopped();
        if watcher.stopped() {
            return outcome;
        }
        let code = match &outcome {
            Ok(e) => e.code(),
            Err(e) => e.exit_code(),
        };
        if !cx.quiet {
            let n = set.as_ref().map_or(0, WatchSet::size);
            if cancelled_by_change {
                eprintln!("orch: a watched file changed during the run: running again");
            } else {
                eprintln!(
                    "orch: watching {n} file{} and glob{} for changes (exit {code} so far; Ctrl-C to stop)",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "" } else { "s" },
                );
            }
        }
        match watcher.wait() {
            Wake::Stop => return outcome.map_err(|_| ended_invalid()),
            Wake::Changed(paths) => {
                if !cx.quiet && !cancelled_by_change {
                    let names: Vec<String> =
                        paths.iter().take(3).map(|p| shown(p, &cx.cwd)).collect();
                    let more = paths.len().saturating_sub(3);
                    let tail = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    eprintln!("orch: changed: {}{tail}: running again", names.join(", "));
                }
            }
        }
    }
}

/// One validation and run; the diagnostics are shown here, not returned
/// up (the watch goes on). The watch set of the file as it is now, when
/// it is valid.
fn once(
    cx: &Context,
    args: &RunArgs,
    watcher: &mut Watcher,
) -> (Result<Exit, Error>, Option<WatchSet>) {
    // With `--output json` an invalid file is one `validation.failed`
    // event in the stream, as `orch run` prints it.
    let prepared = super::run::announce_invalid(
        args.exec.output,
        &args.target.file,
        cx.prepare(&args.target),
    );
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            show(cx, &e);
            return (Err(e), None);
        }
    };
    let set = WatchSet::of(
        &prepared.wf.source.path,
        prepared.project.config_path.as_deref(),
        Some(&prepared.wf),
    );
    // Watched before the run starts: a change during it cancels it.
    watcher.watch(set.clone());
    let watcher = &*watcher;
    let started = |c| watcher.running(c);
    let result = super::run::record_and_start(cx, args, prepared, None, &started);
    if let Err(e) = &result {
        show(cx, e);
    }
    (result, Some(set))
}

/// What to watch when the file was never valid: it, and the config file.
fn fallback(cx: &Context, file: &str) -> WatchSet {
    let project = cx.project().ok();
    let path = project
        .as_ref()
        .and_then(|p| p.find_workflow(file, &cx.cwd).ok())
        .unwrap_or_else(|| cx.cwd.join(file));
    let config = project
        .and_then(|p| p.config_path)
        .unwrap_or_else(|| cx.cwd.join("orchestration.yaml"));
    WatchSet::of(&path, Some(&config), None)
}

fn show(cx: &Context, e: &Error) {
    match e {
        Error::Internal(what) => eprintln!("orch: internal error: {what}"),
        _ => crate::render::report(e.diags(), &cx.style()),
    }
}

/// The watch ended while the file was invalid (its diagnostics were shown).
fn ended_invalid() -> Error {
    Error::Invalid(vec![crate::diag::Diag::new(
        "watch",
        "the watch ended while the workflow was invalid",
    )])
}

fn shown(p: &Path, cwd: &Path) -> String {
    let cwd: PathBuf = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
}
