//! `orch resume RUN [--from STEP]`: continue a recorded run in the same run
//! record. Finished steps keep their results; the rest run. Refuses runs
//! that are alive, succeeded (unless `--from` re-runs a part of one), or
//! whose finished steps changed in the file.
//! Which steps keep their results is [`crate::plan::resume`]'s call.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;

use crate::cli::ResumeArgs;
use crate::diag::{did_you_mean, Diag};
use crate::error::Error;
use crate::event::Status;
use crate::exit::Exit;
use crate::history::runs::{ResumeReset, RunRow, StepRow};
use crate::history::Store;
use crate::model::Workflow;
use crate::plan::resume::{self as plan, RecordedStep, ResumeError};
use crate::session::{take_lock, Recorded};
use crate::settings::Project;
use crate::steps::process::{self, Leftover};

use super::Context;

pub(crate) fn run(cx: &Context, args: &ResumeArgs) -> Result<Exit, Error> {
    let home = cx.home()?;
    let mut store =
        Store::open_existing(&home)?.ok_or_else(|| Diag::new("history", "no runs recorded yet"))?;
    let row = store.resolve_run(&args.run)?;
    // The lock is the proof that no live process runs it.
    let lock = take_lock(&home, &row.id)?;
    let succeeded = row.status == Status::Succeeded;
    if succeeded && args.from.is_none() {
        return Err(Diag::new(
            "resume",
            format!(
                "run {} already succeeded; there is nothing to resume",
                row.id
            ),
        )
        .help(format!(
            "re-run a step and what follows it with `orch resume {} --from STEP`, \
             or start a new run with `orch run {}`",
            row.id, row.file_path
        ))
        .into());
    }
    // With `--output json`, a file that no longer validates is the same
    // `validation.failed` event `orch run` prints.
    let (project, wf) = super::run::announce_invalid(
        args.exec.output,
        &row.file_path,
        Project::load(
            row.config_path.as_deref().map(Path::new),
            Path::new(&row.project_dir),
        )
        .map_err(Error::from)
        .and_then(|project| {
            let wf = super::load_workflow(Path::new(&row.file_path), &project)?;
            Ok((project, wf))
        }),
    )?;
    if wf.name != row.workflow {
        return Err(Diag::new(
            "resume",
            format!(
                "cannot resume run {}: {} now holds workflow `{}`, not `{}`",
                row.id, row.file_path, wf.name, row.workflow
            ),
        )
        .into());
    }
    let stored: Json = serde_json::from_str(&row.inputs).unwrap_or(Json::Null);
    let inputs = crate::inputs::recheck(&wf, &stored).map_err(|mut d| {
        d.insert(
            0,
            Diag::new(
                "resume",
                format!("the inputs of run {} no longer fit the workflow", row.id),
            ),
        );
        Error::from(d)
    });
    let inputs = super::run::announce_invalid(args.exec.output, &row.file_path, inputs)?;
    let steps = store.steps(&row.id)?;
    let definitions = row.definitions();
    let recorded: Vec<RecordedStep<'_>> = steps
        .iter()
        .filter(|s| s.parent.is_none())
        .map(StepRow::recorded)
        .collect();
    let rec = plan::Recorded {
        definitions: &definitions,
        steps: &recorded,
    };
    // A run whose compensations began is finished undoing, not re-run.
    let compensations = store.compensations(&row.id)?;
    let plan = if let (true, Some(from)) = (succeeded, args.from.as_deref()) {
        plan::rerun_succeeded(&wf, &rec, from)
    } else if compensations.is_empty() {
        plan::resume(&wf, &rec, args.from.as_deref())
    } else {
        let done: HashSet<&str> = compensations
            .iter()
            .filter(|c| c.finished())
            .map(|c| c.step_id.as_str())
            .collect();
        plan::resume_compensations(&wf, &rec, &done, args.from.as_deref())
    }
    .map_err(|e| refusal(e, &row, &wf))?;
    // Child runs of steps that run again are continued, not restarted; read
    // them before the reset clears those steps' results.
    let kept = plan.kept();
    let mut children = crate::history::runs::unfinished_children(&steps, &kept);
    let workflow_steps: Vec<(&str, &Path)> = wf
        .steps
        .iter()
        .filter(|s| !kept.contains(s.id.as_str()) && s.for_each.is_none())
        .filter_map(|s| match &s.body.kind {
            crate::model::StepKind::Workflow { path, .. } => Some((s.id.as_str(), path.as_path())),
            _ => None,
        })
        .collect();
    store.orphaned_children(&row.id, &workflow_steps, &mut children)?;
    let ids: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    // Items of fan-outs that run again keep what succeeded.
    let item_rows: Vec<RecordedStep<'_>> = steps
        .iter()
        .filter(|s| s.parent.is_some())
        .map(StepRow::recorded)
        .collect();
    let restore_items = plan::kept_items(&wf, &rec, &item_rows, &plan);
    let keep_items_of: HashSet<&str> = restore_items.keys().map(String::as_str).collect();
    store.reset_for_resume(&ResumeReset {
        run_id: &row.id,
        steps: &ids,
        kept: &plan.kept(),
        keep_items_of: &keep_items_of,
        rerun_from: &plan.rerun_from,
        definitions: &super::run::definitions(&wf),
        file_hash: &crate::digest::sha256_hex(wf.source.text.as_bytes()),
    })?;
    let approvals = store
        .approvals(&row.id)?
        .into_iter()
        .map(|a| (a.step_id.clone(), a))
        .collect();
    let settings = super::run::announce_invalid(
        args.exec.output,
        &row.file_path,
        cx.run_settings(&args.exec, args.jobs, &project, &wf),
    )?;
    stop_leftovers(&mut store, &row.id, settings.grace)?;
    if !cx.quiet {
        eprintln!(
            "{} run {} (attempt {}): {} finished step{} kept, {} to run",
            if succeeded { "re-running" } else { "resuming" },
            row.id,
            row.attempt + 1,
            plan.restore.len(),
            if plan.restore.len() == 1 { "" } else { "s" },
            wf.steps.len() - plan.restore.len()
        );
    }
    super::run::start(
        &settings,
        Recorded {
            children,
            items: restore_items,
            home,
            store,
            project,
            wf,
            inputs,
            run_id: row.id.clone(),
            attempt: row.attempt as u32 + 1,
            restore: plan.restore,
            approvals,
            lock,
        },
    )
}

/// Stop what the interrupted attempt left running before any step runs
/// again: steps run in process groups of their own, which outlive a killed
/// orch.
/// Stopped, not waited for: a step that runs again would run twice at once.
/// Said even with `-q`: orch signals processes it did not start this time.
fn stop_leftovers(store: &mut Store, run_id: &str, grace: Duration) -> Result<(), Error> {
    let rows = store.leftover_processes(run_id)?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut groups = Vec::new();
    for r in &rows {
        // No start stamp, nothing to tell the group from a later one: leave it.
        let Some(start) = r.start.as_deref() else {
            continue;
        };
        if process::leftover(r.pgid, start) != Leftover::Running {
            continue;
        }
        let mut what = format!("step `{}`", r.step_id);
        if r.compensation {
            what = format!("the compensation of {what}");
        }
        if r.run_id != run_id {
            what = format!("{what} of child run {}", r.run_id);
        }
        eprintln!(
            "stopping the leftover processes of {what} (process group {}) from the interrupted run",
            r.pgid
        );
        groups.push(r.pgid);
    }
    process::stop_groups(&groups, grace);
    store.forget_leftover_processes(run_id)?;
    Ok(())
}

/// Why the run cannot be resumed, in words.
fn refusal(e: ResumeError, row: &RunRow, wf: &Workflow) -> Diag {
    match e {
        ResumeError::UnknownStep(f) => {
            let d = Diag::new("resume", format!("no step `{f}` in {}", row.file_path));
            match did_you_mean(&f, wf.steps.iter().map(|s| s.id.as_str())) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d,
            }
        }
        ResumeError::Undone => Diag::new(
            "resume",
            format!(
                "run {} was undone: its compensations all ran; there is nothing to resume",
                row.id
            ),
        )
        .help(format!("start a new run with `orch run {}`", row.file_path)),
        ResumeError::FromWhileUndoing => Diag::new(
            "resume",
            format!(
                "run {} was interrupted while its compensations ran: `--from` cannot re-run its steps",
                row.id
            ),
        )
        .help(format!(
            "finish undoing it with `orch resume {}`, then start a new run",
            row.id
        )),
        ResumeError::Unsafe { changes, first } => {
            let changes: Vec<String> = changes.iter().map(ToString::to_string).collect();
            Diag::new(
                "resume",
                format!(
                    "cannot resume run {}: {} changed in a way that makes resuming unsafe:\n  - {}",
                    row.id,
                    row.file_path,
                    changes.join("\n  - ")
                ),
            )
            .help(format!(
                "re-run the changed steps and what follows with `orch resume {} --from {first}`, \
                 or start a new run",
                row.id
            ))
        }
    }
}
