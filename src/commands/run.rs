//! `orch run FILE`: validate, resolve inputs and settings, record the run,
//! hand it to the run session, report how it ended. [`start`] is shared
//! with `orch resume`.

use std::collections::HashMap;

use crate::cli::{OutputArg, RunArgs};
use crate::error::Error;
use crate::event::wire::ValidationFailed;
use crate::event::Status;
use crate::exit::Exit;
use crate::history::store::Opening;
use crate::history::Store;
use crate::session::{self, NewRecord, Recorded, RunSession};
use crate::settings::RunSettings;

use super::Context;

pub(crate) use crate::session::definitions;

pub(crate) fn run(cx: &Context, args: &RunArgs) -> Result<Exit, Error> {
    if args.watch {
        return super::watch::run(cx, args);
    }
    if args.dry_run {
        let prepared = announced(args, cx.prepare(&args.target))?;
        return dry_run(cx, args, &prepared);
    }
    // The history opens while the workflow is read and checked.
    let opening = cx.home().ok().map(|home| Store::open_ahead(&home));
    let prepared = announced(args, cx.prepare(&args.target))?;
    record_and_start(cx, args, prepared, opening, &|_| {})
}

/// Record the prepared run and run it, in the history `opening` (when it
/// was opened ahead); `started` gets what cancels it.
pub(super) fn record_and_start(
    cx: &Context,
    args: &RunArgs,
    prepared: super::Prepared,
    opening: Option<Opening>,
    started: &dyn Fn(Option<crate::exec::Canceller>),
) -> Result<Exit, Error> {
    let super::Prepared {
        project,
        wf,
        inputs,
    } = prepared;
    let settings = announced(
        args,
        cx.run_settings(&args.exec, args.target.jobs, &project, &wf),
    )?;
    let home = cx.home()?;
    let store = match opening {
        Some(opening) => opening.wait(),
        None => Store::open(&home),
    };
    let mut store = store.map_err(Error::environment)?;
    let run_id = session::new_run_id();
    let lock = session::take_lock(&home, &run_id)?;
    let record = NewRecord {
        project: &project,
        wf: &wf,
        inputs: &inputs,
        parent: None,
        cwd: &cx.cwd,
    };
    session::create_record(&mut store, &run_id, &record)?;
    let recorded = Recorded {
        children: Default::default(),
        items: Default::default(),
        home,
        store,
        project,
        wf,
        inputs,
        run_id,
        attempt: 1,
        restore: HashMap::new(),
        approvals: HashMap::new(),
        lock,
    };
    start_with(&settings, recorded, started)
}

/// `--dry-run`: the plan with its cache section, as `orch plan` shows them.
fn dry_run(cx: &Context, args: &RunArgs, p: &super::Prepared) -> Result<Exit, Error> {
    let jobs = args.target.jobs;
    let concurrency = crate::settings::concurrency(jobs, &p.wf, &p.project.config, &cx.env)?;
    let mut notes = super::plan::cache_notes(cx, p)?;
    if args.exec.no_cache {
        for (_, note) in &mut notes {
            *note = "would run: --no-cache".to_string();
        }
    }
    print!(
        "{}",
        super::plan::render(&p.wf, &p.inputs, concurrency, Some(&notes))
    );
    Ok(Exit::Success)
}

/// With `--output json`, a workflow, config or inputs that do not validate
/// are one `orchestration.validation.failed` event on stdout (a consumer of
/// the event stream sees why nothing ran); stderr shows them as usual.
fn announced<T>(args: &RunArgs, r: Result<T, Error>) -> Result<T, Error> {
    announce_invalid(args.exec.output, &args.target.file, r)
}

/// [`announced`] for any command that starts a run (`orch resume` too):
/// `file` is the workflow as the event names it.
pub(super) fn announce_invalid<T>(
    output: OutputArg,
    file: &str,
    r: Result<T, Error>,
) -> Result<T, Error> {
    if let (Err(Error::Invalid(diags)), OutputArg::Json) = (&r, output) {
        let json: Vec<_> = diags
            .iter()
            .map(|d| crate::render::json(d, Some(file)))
            .collect();
        let event = ValidationFailed::new(file, &json);
        match serde_json::to_string(&event) {
            Ok(line) => println!("{line}"),
            Err(e) => return Err(Error::Internal(format!("diagnostics as JSON: {e}"))),
        }
    }
    r
}

/// Run a recorded run to the end; say how it went.
pub(super) fn start(settings: &RunSettings, recorded: Recorded) -> Result<Exit, Error> {
    start_with(settings, recorded, &|_| {})
}

fn start_with(
    settings: &RunSettings,
    recorded: Recorded,
    started: &dyn Fn(Option<crate::exec::Canceller>),
) -> Result<Exit, Error> {
    let session = RunSession::start(settings, recorded)?;
    if settings.verbose > 0 {
        eprintln!("{}", session.describe());
    }
    started(Some(session.canceller()));
    let end = session.run();
    started(None);
    let mut end = end?;
    if let Some(u) = &end.undelivered {
        eprintln!(
            "orch: {} of {} progress events could not be delivered to the webhook at {}",
            u.undelivered, u.total, u.endpoint
        );
    }
    // The summary first: the metrics push goes on meanwhile.
    end.summary();
    if let Some(why) = end.metrics_pushed() {
        eprintln!("orch: warning: {why}");
    }
    if end.outcome.status == Status::Waiting {
        let run_id = &end.run_id;
        let step = end
            .outcome
            .waiting
            .first()
            .map(String::as_str)
            .unwrap_or("?");
        eprintln!(
            "run {run_id} is waiting for an approval of `{step}`\n  \
             approve: orch approve {run_id} {step} [--comment TEXT]\n  \
             reject:  orch reject {run_id} {step}\n  \
             then:    orch resume {run_id}"
        );
    }
    end.exit()
}
