//! `orch resume RUN [--from STEP]`: continue a recorded run in the same run
//! record. Finished steps keep their results; the rest run. Refuses runs
//! that are alive, finished, or whose finished steps changed in the file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{params, TransactionBehavior};
use serde_json::Value as Json;

use crate::cli::ResumeArgs;
use crate::diag::{did_you_mean, Diag};
use crate::event::Status;
use crate::exec::Restored;
use crate::exit::{Exit, Invalid};
use crate::history::store::{RunRow, StepRow};
use crate::history::transition::{sql_list, RESUMABLE_STEP};
use crate::history::Store;
use crate::model::{Phase, Workflow};
use crate::session::{take_lock, Recorded};
use crate::settings::Project;

use super::Context;

pub fn run(cx: &Context, args: &ResumeArgs) -> Result<Exit, Invalid> {
    let home = cx.home()?;
    let mut store =
        Store::open_existing(&home)?.ok_or_else(|| Diag::new("history", "no runs recorded yet"))?;
    let row = store.resolve_run(&args.run)?;
    // The lock is the proof that no live process runs it.
    let lock = take_lock(&home, &row.id)?;
    if row.status == "succeeded" {
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
    reset(&mut store, &row, &wf, &plan)?;
    let approvals = store
        .approvals(&row.id)?
        .into_iter()
        .map(|a| (a.step_id.clone(), a))
        .collect();
    let settings = cx.run_settings(&args.exec, args.jobs, &project, &wf)?;
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
    super::run::start(
        &settings,
        Recorded {
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
    let old_defs: HashMap<String, String> = serde_json::from_str(&row.definitions)
        .ok()
        .and_then(|j: Json| {
            j.as_object().map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
        })
        .unwrap_or_default();
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
            .is_some_and(|s| s.status == "succeeded" || s.status == "cached")
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
            let status = if s.status == "cached" {
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

/// Put every step that will run back to `pending`, in one transaction;
/// bring the step rows in line with the workflow file as it is now.
fn reset(store: &mut Store, row: &RunRow, wf: &Workflow, plan: &ResumePlan) -> Result<(), Invalid> {
    let path = store.path.clone();
    let err = |e: rusqlite::Error| -> Invalid { crate::history::store::db_error(&path, &e).into() };
    let tx = store
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let reset_sql = format!(
        "UPDATE steps SET status = 'pending', attempts = 0, started_at = NULL, \
         finished_at = NULL, duration_ms = NULL, exit_code = NULL, http_status = NULL, \
         cached = 0, error = NULL, result = NULL \
         WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
        sql_list(RESUMABLE_STEP)
    );
    let ids: HashSet<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    for (i, s) in wf.steps.iter().enumerate() {
        if plan.restore.contains_key(&s.id) {
            tx.execute(
                "UPDATE steps SET position = ?3 WHERE run_id = ?1 AND step_id = ?2",
                params![row.id, s.id, i as i64],
            )
            .map_err(err)?;
            continue;
        }
        tx.execute(
            "INSERT OR IGNORE INTO steps (run_id, step_id, position, status) \
             VALUES (?1, ?2, ?3, 'pending')",
            params![row.id, s.id, i as i64],
        )
        .map_err(err)?;
        tx.execute(&reset_sql, params![row.id, s.id]).map_err(err)?;
        tx.execute(
            "UPDATE steps SET position = ?3 WHERE run_id = ?1 AND step_id = ?2",
            params![row.id, s.id, i as i64],
        )
        .map_err(err)?;
        tx.execute(
            "DELETE FROM steps WHERE run_id = ?1 AND parent = ?2",
            params![row.id, s.id],
        )
        .map_err(err)?;
        if plan.rerun_from.contains(&s.id) {
            tx.execute(
                "DELETE FROM approvals WHERE run_id = ?1 AND step_id = ?2",
                params![row.id, s.id],
            )
            .map_err(err)?;
        }
    }
    // Steps no longer in the file: keep finished ones as history, drop the rest.
    let stale: Vec<String> = {
        let mut st = tx
            .prepare("SELECT step_id, status FROM steps WHERE run_id = ?1 AND parent IS NULL")
            .map_err(err)?;
        let rows = st
            .query_map([&row.id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(err)?;
        rows.filter_map(Result::ok)
            .filter(|(id, status)| {
                !ids.contains(id.as_str()) && status != "succeeded" && status != "cached"
            })
            .map(|(id, _)| id)
            .collect()
    };
    for id in stale {
        tx.execute(
            "DELETE FROM steps WHERE run_id = ?1 AND (step_id = ?2 OR parent = ?2)",
            params![row.id, id],
        )
        .map_err(err)?;
    }
    tx.execute(
        "UPDATE runs SET definitions = ?2, file_hash = ?3, error = NULL WHERE id = ?1",
        params![
            row.id,
            super::run::definitions(wf).to_string(),
            crate::digest::sha256_hex(wf.source.text.as_bytes())
        ],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(())
}
