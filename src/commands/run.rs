//! `orch run FILE`: validate, resolve inputs and settings, record the run,
//! hand it to the run session, report how it ended. [`start`] is shared
//! with `orch resume`.

use std::collections::HashMap;

use crate::cli::RunArgs;
use crate::error::Error;
use crate::event::Status;
use crate::exit::Exit;
use crate::history::Store;
use crate::session::{self, NewRecord, Recorded, RunSession};
use crate::settings::RunSettings;

use super::Context;

pub(crate) use crate::session::definitions;

pub(crate) fn run(cx: &Context, args: &RunArgs) -> Result<Exit, Error> {
    let super::Prepared {
        project,
        wf,
        inputs,
    } = cx.prepare(&args.target)?;
    if args.dry_run {
        let jobs = args.target.jobs;
        let concurrency = crate::settings::concurrency(jobs, &wf, &project.config, &cx.env)?;
        print!("{}", super::plan::render(&wf, &inputs, concurrency, None));
        return Ok(Exit::Success);
    }
    let settings = cx.run_settings(&args.exec, args.target.jobs, &project, &wf)?;
    let home = cx.home()?;
    let mut store = Store::open(&home).map_err(Error::environment)?;
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
    start(&settings, recorded)
}

/// Run a recorded run to the end; say how it went.
pub(super) fn start(settings: &RunSettings, recorded: Recorded) -> Result<Exit, Error> {
    let session = RunSession::start(settings, recorded)?;
    if settings.verbose > 0 {
        eprintln!("{}", session.describe());
    }
    let mut end = session.run()?;
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
