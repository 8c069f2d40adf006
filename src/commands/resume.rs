//! `orch resume RUN [--from STEP]`: continue a recorded run in the same run
//! record. Finished steps keep their results; the rest run. Refuses runs
//! that are alive, finished, or whose finished steps changed in the file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value as Json;

use crate::cli::ResumeArgs;
use crate::diag::{did_you_mean, Diag};
use crate::event::Status;
use crate::exec::Restored;
use crate::exit::{Exit, Invalid};
use crate::history::runs::{ResumeReset, RunRow, StepRow};
use crate::history::Store;
use crate::model::{Phase, Workflow};
use crate::settings::Project;

use super::run::{execute, take_lock, Execution};
use super::Context;

pub fn run(cx: &Context, args: &ResumeArgs) -> Result<Exit, Invalid> {
    let home = cx.home()?;
    let mut store =
        Store::open_existing(&home)?.ok_or_else(|| Diag::new("history", "no runs recorded yet"))?;
    let row = store.resolve_run(&args.run)?;
    // The lock is the proof that no live process runs it.
    let lock = take_lock(&home, &row.id)?;
    if row.status == Status::Succeeded {
        return Err(Diag::new(
            "resume",
            format!(
                "run {} already succeeded; there is nothing to resume",
                row.id
            ),
        )
        .help(format!("start a new run with `orch run {}`", row.file_path))
        .into());
    }
    let project = Project::load(
        row.config_path.as_deref().map(Path::new),
        Path::new(&row.project_dir),
    )?;
    let wf = super::load_workflow(Path::new(&row.file_path), &project)?;
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
        d
    })?;
    let steps = store.steps(&row.id)?;
    let plan = plan(&wf, &row, &steps, args.from.as_deref())?;
    let ids: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    store.reset_for_resume(&ResumeReset {
        run_id: &row.id,
        steps: &ids,
        kept: &plan.restore.keys().map(String::as_str).collect(),
        rerun_from: &plan.rerun_from,
        definitions: &super::run::definitions(&wf),
        file_hash: &crate::digest::sha256_hex(wf.source.text.as_bytes()),
    })?;
    let approvals = store
        .approvals(&row.id)?
        .into_iter()
        .map(|a| (a.step_id.clone(), a))
        .collect();
    let concurrency = crate::settings::concurrency(args.jobs, &wf, &project.config, &cx.env)?;
    if !cx.quiet {
        eprintln!(
            "resuming run {} (attempt {}): {} finished step{} kept, {} to run",
            row.id,
            row.attempt + 1,
            plan.restore.len(),
            if plan.restore.len() == 1 { "" } else { "s" },
            wf.steps.len() - plan.restore.len()
        );
    }
    execute(
        cx,
        Execution {
            home,
            store,
            project,
            wf,
            inputs,
            concurrency,
            run_id: row.id.clone(),
            attempt: row.attempt as u32 + 1,
            restore: plan.restore,
            approvals,
            exec: &args.exec,
            lock,
        },
    )
}

struct ResumePlan {
    restore: HashMap<String, Restored>,
    /// `--from` and everything downstream: their approvals are asked again.
    rerun_from: HashSet<String>,
}

/// Which steps keep their results, or why resuming is unsafe.
fn plan(
    wf: &Workflow,
    row: &RunRow,
    steps: &[StepRow],
    from: Option<&str>,
) -> Result<ResumePlan, Invalid> {
    let old_defs = row.definitions();
    let rerun_from = match from {
        None => HashSet::new(),
        Some(f) => {
            if wf.step_index(f).is_none() {
                let d = Diag::new("resume", format!("no step `{f}` in {}", row.file_path));
                return Err(
                    match did_you_mean(f, wf.steps.iter().map(|s| s.id.as_str())) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d,
                    }
                    .into(),
                );
            }
            downstream(wf, f)
        }
    };
    let by_id: HashMap<&str, &StepRow> = steps
        .iter()
        .filter(|s| s.parent.is_none())
        .map(|s| (s.step_id.as_str(), s))
        .collect();
    let finished = |id: &str| {
        by_id
            .get(id)
            .is_some_and(|s| matches!(s.status, Status::Succeeded | Status::Cached))
    };
    let mut keep: HashSet<&str> = wf
        .steps
        .iter()
        .filter(|s| s.phase == Phase::Main && finished(&s.id) && !rerun_from.contains(&s.id))
        .map(|s| s.id.as_str())
        .collect();

    let mut unsafe_changes = Vec::new();
    // The step to suggest for `--from`: the first one named.
    let mut first: Option<&str> = None;
    for s in wf.steps.iter().filter(|s| keep.contains(s.id.as_str())) {
        match old_defs.get(&s.id) {
            Some(old) if *old == s.definition => {}
            _ => {
                first.get_or_insert(&s.id);
                unsafe_changes.push(format!(
                    "step `{}` finished, but its definition changed since",
                    s.id
                ));
            }
        }
        for n in &s.needs {
            if !old_defs.contains_key(&n.id) {
                first.get_or_insert(&n.id);
                unsafe_changes.push(format!(
                    "step `{}` is new, and `{}`, which finished without it, needs it",
                    n.id, s.id
                ));
            }
        }
    }
    if !unsafe_changes.is_empty() {
        let first = first.unwrap_or("STEP");
        return Err(Diag::new(
            "resume",
            format!(
                "cannot resume run {}: {} changed in a way that makes resuming unsafe:\n  - {}",
                row.id,
                row.file_path,
                unsafe_changes.join("\n  - ")
            ),
        )
        .help(format!(
            "re-run the changed steps and what follows with `orch resume {} --from {first}`, \
             or start a new run",
            row.id
        ))
        .into());
    }
    // A kept step whose needs run again must run again too.
    loop {
        let dropped: Vec<&str> = wf
            .steps
            .iter()
            .filter(|s| keep.contains(s.id.as_str()))
            .filter(|s| s.needs.iter().any(|n| !keep.contains(n.id.as_str())))
            .map(|s| s.id.as_str())
            .collect();
        if dropped.is_empty() {
            break;
        }
        for d in dropped {
            keep.remove(d);
        }
    }
    let restore = keep
        .iter()
        .map(|id| {
            let s = by_id[id];
            let view = s
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or_else(|| serde_json::json!({"status": s.status, "outputs": {}}));
            let status = if s.status == Status::Cached {
                Status::Cached
            } else {
                Status::Succeeded
            };
            (
                id.to_string(),
                Restored {
                    status,
                    view,
                    attempts: s.attempts as u32,
                    duration: s
                        .duration_ms
                        .map(|d| std::time::Duration::from_millis(d as u64)),
                },
            )
        })
        .collect();
    Ok(ResumePlan {
        restore,
        rerun_from,
    })
}

/// `step` and every step that needs it, directly or not (all phases).
fn downstream(wf: &Workflow, step: &str) -> HashSet<String> {
    let mut out: HashSet<String> = HashSet::from([step.to_string()]);
    loop {
        let before = out.len();
        for s in &wf.steps {
            if s.needs.iter().any(|n| out.contains(&n.id)) {
                out.insert(s.id.clone());
            }
        }
        if out.len() == before {
            return out;
        }
    }
}
