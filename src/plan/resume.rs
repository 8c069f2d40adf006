//! Which steps of a recorded run `orch resume` keeps, and when resuming is
//! unsafe. Pure: the workflow as it is now and what the run recorded go
//! in, a [`ResumePlan`] (or why not) comes out. No SQL and no printing;
//! the caller reads the rows and says it in words.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value as Json;

use crate::event::Status;
use crate::model::{Phase, Workflow};

/// A step result carried over from an earlier attempt of the run.
#[derive(Debug, Clone)]
pub(crate) struct Restored {
    pub(crate) status: Status,
    /// `steps.<id>` as expressions saw it.
    pub(crate) view: Json,
    pub(crate) attempts: u32,
    pub(crate) duration: Option<Duration>,
    /// What of this step the saga undoes if the run fails: the step itself
    /// (`None`) or its succeeded `for_each` items, each with when it
    /// finished (unix ms) so that the engine can undo the last first.
    pub(crate) undo: Vec<(i64, Option<usize>)>,
}

/// What the plan needs of one recorded top-level step (not a for_each item).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordedStep<'a> {
    pub(crate) id: &'a str,
    pub(crate) status: Status,
    /// `steps.<id>` as expressions saw it (JSON), when stored.
    pub(crate) result: Option<&'a str>,
    pub(crate) attempts: u32,
    pub(crate) duration_ms: Option<u64>,
    /// When it finished (unix ms).
    pub(crate) finished_at: Option<i64>,
}

/// What a run recorded: its steps' definitions and its top-level steps.
pub(crate) struct Recorded<'a> {
    /// `{step id: definition hash}` of the workflow the run last ran.
    pub(crate) definitions: &'a HashMap<String, String>,
    pub(crate) steps: &'a [RecordedStep<'a>],
}

#[derive(Debug)]
pub(crate) struct ResumePlan {
    /// Steps that keep their results, as the engine restores them.
    pub(crate) restore: HashMap<String, Restored>,
    /// `--from` and everything downstream: their approvals are asked again.
    pub(crate) rerun_from: HashSet<String>,
}

impl ResumePlan {
    /// Ids of the steps that keep their results.
    pub(crate) fn kept(&self) -> HashSet<&str> {
        self.restore.keys().map(String::as_str).collect()
    }
}

/// A change to the file that a kept step's result does not reflect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// A finished step's definition is not the one that ran.
    Definition { step: String },
    /// A finished step needs a step the run did not have.
    NewNeed { need: String, step: String },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Definition { step } => write!(
                f,
                "step `{step}` finished, but its definition changed since"
            ),
            Change::NewNeed { need, step } => write!(
                f,
                "step `{need}` is new, and `{step}`, which finished without it, needs it"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ResumeError {
    /// `--from` names no step of the workflow.
    #[error("no step `{0}`")]
    UnknownStep(String),
    /// Keeping results would be wrong; `first` is the step to name in
    /// `--from`.
    #[error("the workflow changed in a way that makes resuming unsafe")]
    Unsafe { changes: Vec<Change>, first: String },
    /// The run was already undone: every compensation ran.
    #[error("the run's compensations all ran")]
    Undone,
    /// `--from` would re-run steps whose compensations ran or are running.
    #[error("--from cannot re-run steps of a run that is being undone")]
    FromWhileUndoing,
}

/// Finished steps that keep their results.
const KEEPS: &[Status] = &[Status::Succeeded, Status::Cached];

/// Which steps keep their results, or why resuming is unsafe. With
/// `from`, that step and everything downstream of it run again.
pub(crate) fn resume(
    wf: &Workflow,
    recorded: &Recorded<'_>,
    from: Option<&str>,
) -> Result<ResumePlan, ResumeError> {
    plan(wf, recorded, from, KEEPS)
}

/// "Re-run from here" on a run that succeeded: `from` and everything
/// downstream of it run again as a new attempt; every other step keeps
/// what it recorded, a step that was skipped included (its condition saw
/// what it sees now, so it would be skipped again).
pub(crate) fn rerun_succeeded(
    wf: &Workflow,
    recorded: &Recorded<'_>,
    from: &str,
) -> Result<ResumePlan, ResumeError> {
    plan(
        wf,
        recorded,
        Some(from),
        &[Status::Succeeded, Status::Cached, Status::Skipped],
    )
}

fn plan(
    wf: &Workflow,
    recorded: &Recorded<'_>,
    from: Option<&str>,
    keeps: &[Status],
) -> Result<ResumePlan, ResumeError> {
    let rerun_from = match from {
        None => HashSet::new(),
        Some(f) if wf.step_index(f).is_none() => {
            return Err(ResumeError::UnknownStep(f.to_string()))
        }
        Some(f) => downstream(wf, f),
    };
    let by_id: HashMap<&str, &RecordedStep<'_>> =
        recorded.steps.iter().map(|s| (s.id, s)).collect();
    let finished = |id: &str| by_id.get(id).is_some_and(|s| keeps.contains(&s.status));
    let mut keep: HashSet<&str> = wf
        .steps
        .iter()
        .filter(|s| s.phase == Phase::Main && finished(&s.id) && !rerun_from.contains(&s.id))
        .map(|s| s.id.as_str())
        .collect();

    let old = recorded.definitions;
    let mut changes = Vec::new();
    // The step to suggest for `--from`: the first one named.
    let mut first: Option<&str> = None;
    for s in wf.steps.iter().filter(|s| keep.contains(s.id.as_str())) {
        if old.get(&s.id) != Some(&s.definition) {
            first.get_or_insert(&s.id);
            changes.push(Change::Definition { step: s.id.clone() });
        }
        for n in s.needs.iter().filter(|n| !old.contains_key(&n.id)) {
            first.get_or_insert(&n.id);
            changes.push(Change::NewNeed {
                need: n.id.clone(),
                step: s.id.clone(),
            });
        }
    }
    if !changes.is_empty() {
        return Err(ResumeError::Unsafe {
            changes,
            first: first.unwrap_or("STEP").to_string(),
        });
    }
    // A step's stdout is kept only when something read it (see
    // `Workflow::mark_stdout_readers`): if the file now reads a stdout the
    // run did not keep, its step runs again to have it.
    keep.retain(|id| {
        let step = wf.step_index(id).map(|i| &wf.steps[i]);
        !(step.is_some_and(needs_stdout) && by_id.get(id).is_some_and(|r| lacks_stdout(r)))
    });
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
        .filter_map(|id| {
            let s = by_id.get(id)?;
            let status = match s.status {
                Status::Cached | Status::Skipped => s.status,
                _ => Status::Succeeded,
            };
            Some((id.to_string(), restored(wf, s, status, &HashSet::new())))
        })
        .collect();
    Ok(ResumePlan {
        restore,
        rerun_from,
    })
}

/// A `run` step whose `steps.<id>.stdout` something reads.
fn needs_stdout(s: &crate::model::Step) -> bool {
    s.keep_stdout && matches!(s.body.kind, crate::model::StepKind::Run { .. })
}

/// The recorded result has no stdout (for a `for_each` step: one of its
/// items has none): nothing read it when it ran.
fn lacks_stdout(r: &RecordedStep<'_>) -> bool {
    let no_stdout = |v: &Json| v.get("stdout").is_some_and(Json::is_null);
    let Some(v) = r.result.and_then(|t| serde_json::from_str::<Json>(t).ok()) else {
        return false;
    };
    match v.get("items").and_then(Json::as_array) {
        Some(items) => items
            .iter()
            .any(|i| no_stdout(i) && i.get("status").and_then(Json::as_str) != Some("skipped")),
        None => no_stdout(&v),
    }
}

/// The items of `for_each` steps that run again which keep their results:
/// each item that succeeded (or was cached), when its step is unchanged,
/// is not re-run by `--from`, and nothing it needs runs again. `items` are
/// the recorded item rows (`id[i]`). By step id, then index.
pub(crate) fn kept_items(
    wf: &Workflow,
    recorded: &Recorded<'_>,
    items: &[RecordedStep<'_>],
    plan: &ResumePlan,
) -> HashMap<String, HashMap<usize, Restored>> {
    let mut out: HashMap<String, HashMap<usize, Restored>> = HashMap::new();
    for step in wf.steps.iter().filter(|s| {
        s.for_each.is_some()
            && s.phase == Phase::Main
            && !plan.restore.contains_key(&s.id)
            && !plan.rerun_from.contains(&s.id)
            && recorded.definitions.get(&s.id) == Some(&s.definition)
            && s.needs.iter().all(|n| plan.restore.contains_key(&n.id))
    }) {
        let prefix = format!("{}[", step.id);
        let usable = |it: &&RecordedStep<'_>| !(needs_stdout(step) && lacks_stdout(it));
        for it in items
            .iter()
            .filter(|it| KEEPS.contains(&it.status))
            .filter(usable)
        {
            let Some(k) = it
                .id
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|k| k.parse::<usize>().ok())
            else {
                continue;
            };
            out.entry(step.id.clone())
                .or_default()
                .insert(k, restored(wf, it, it.status, &HashSet::new()));
        }
    }
    out
}

/// The resume of a run that was being undone (its process died, or was
/// stopped, during its compensations): every main and `on_failure` step
/// keeps what it recorded, nothing of them runs again, and the engine
/// undoes what is left: the units whose compensation did not finish
/// (`done` holds the ids, `id` or `id[i]`, of those that did), then
/// `finally` runs.
pub(crate) fn resume_compensations(
    wf: &Workflow,
    recorded: &Recorded<'_>,
    done: &HashSet<&str>,
    from: Option<&str>,
) -> Result<ResumePlan, ResumeError> {
    if from.is_some() {
        return Err(ResumeError::FromWhileUndoing);
    }
    let by_id: HashMap<&str, &RecordedStep<'_>> =
        recorded.steps.iter().map(|s| (s.id, s)).collect();
    let mut restore = HashMap::new();
    for step in wf.steps.iter().filter(|s| s.phase != Phase::Finally) {
        let Some(s) = by_id.get(step.id.as_str()) else {
            continue;
        };
        if !s.status.is_terminal() {
            continue;
        }
        restore.insert(step.id.clone(), restored(wf, s, s.status, done));
    }
    if restore.values().all(|r| r.undo.is_empty()) {
        return Err(ResumeError::Undone);
    }
    Ok(ResumePlan {
        restore,
        rerun_from: HashSet::new(),
    })
}

/// A kept step as the engine takes it back, with `status`. Units in `done`
/// were already undone.
fn restored(wf: &Workflow, s: &RecordedStep<'_>, status: Status, done: &HashSet<&str>) -> Restored {
    let view = s
        .result
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_else(|| serde_json::json!({"status": s.status, "outputs": {}}));
    let undo = match wf.step_index(s.id).map(|i| &wf.steps[i]) {
        Some(step)
            if status == Status::Succeeded && step.phase == Phase::Main && step.undoable() =>
        {
            let at = s.finished_at.unwrap_or(0);
            if step.for_each.is_some() {
                let items = view.get("items").and_then(Json::as_array);
                items
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .filter(|(_, v)| v.get("status").and_then(Json::as_str) == Some("succeeded"))
                    .filter(|(k, _)| !done.contains(format!("{}[{k}]", s.id).as_str()))
                    .map(|(k, _)| (at, Some(k)))
                    .collect()
            } else if done.contains(s.id) {
                Vec::new()
            } else {
                vec![(at, None)]
            }
        }
        _ => Vec::new(),
    };
    Restored {
        status,
        view,
        attempts: s.attempts,
        duration: s.duration_ms.map(Duration::from_millis),
        undo,
    }
}

/// `step` and every step that needs it, directly or not (all phases).
pub(crate) fn downstream(wf: &Workflow, step: &str) -> HashSet<String> {
    let Some(i) = wf.step_index(step) else {
        return HashSet::from([step.to_string()]);
    };
    super::Plan::new(wf)
        .downstream(i)
        .into_iter()
        .map(|j| wf.steps[j].id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn wf(yaml: &str) -> Workflow {
        let src = Arc::new(crate::source::Source::new("w.yaml", "w.yaml", yaml));
        crate::validate::workflow_source(&src, &crate::model::Config::default()).unwrap()
    }

    /// a → b → c, and d on its own.
    const CHAIN: &str = "name: w\nsteps:\n\
        - {id: a, run: echo a}\n\
        - {id: b, run: echo b, needs: [a]}\n\
        - {id: c, run: echo c, needs: [b]}\n\
        - {id: d, run: echo d}\n";

    fn definitions(w: &Workflow) -> HashMap<String, String> {
        w.steps
            .iter()
            .map(|s| (s.id.clone(), s.definition.clone()))
            .collect()
    }

    fn step(id: &str, status: Status) -> RecordedStep<'_> {
        RecordedStep {
            id,
            status,
            result: None,
            attempts: 1,
            duration_ms: Some(5),
            finished_at: None,
        }
    }

    fn kept(p: &ResumePlan) -> Vec<&str> {
        let mut v: Vec<&str> = p.kept().into_iter().collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn finished_steps_keep_their_results() {
        let w = wf(CHAIN);
        let defs = definitions(&w);
        let steps = [
            step("a", Status::Succeeded),
            RecordedStep {
                result: Some(r#"{"outputs":{"x":"1"}}"#),
                ..step("b", Status::Cached)
            },
            step("c", Status::Failed),
            step("d", Status::Skipped),
        ];
        let rec = Recorded {
            definitions: &defs,
            steps: &steps,
        };
        let p = resume(&w, &rec, None).unwrap();
        assert_eq!(kept(&p), ["a", "b"]);
        assert!(p.rerun_from.is_empty());
        let a = &p.restore["a"];
        assert_eq!(a.status, Status::Succeeded);
        assert_eq!(
            a.view,
            serde_json::json!({"status": "succeeded", "outputs": {}})
        );
        assert_eq!(a.duration, Some(Duration::from_millis(5)));
        let b = &p.restore["b"];
        assert_eq!(b.status, Status::Cached);
        assert_eq!(b.view, serde_json::json!({"outputs": {"x": "1"}}));
    }

    #[test]
    fn a_changed_definition_is_refused() {
        let w = wf(CHAIN);
        let mut defs = definitions(&w);
        defs.insert("b".into(), "something else".into());
        let steps = [step("a", Status::Succeeded), step("b", Status::Succeeded)];
        let rec = Recorded {
            definitions: &defs,
            steps: &steps,
        };
        let e = resume(&w, &rec, None).unwrap_err();
        assert_eq!(
            e,
            ResumeError::Unsafe {
                changes: vec![Change::Definition { step: "b".into() }],
                first: "b".into(),
            }
        );
        // Running the changed step again is fine.
        let p = resume(&w, &rec, Some("b")).unwrap();
        assert_eq!(kept(&p), ["a"]);
    }

    #[test]
    fn a_new_need_is_refused() {
        let w = wf(CHAIN);
        let mut defs = definitions(&w);
        defs.remove("a");
        let steps = [step("b", Status::Succeeded)];
        let rec = Recorded {
            definitions: &defs,
            steps: &steps,
        };
        let ResumeError::Unsafe { changes, first } = resume(&w, &rec, None).unwrap_err() else {
            panic!("must refuse");
        };
        assert_eq!(first, "a");
        assert_eq!(
            changes,
            [Change::NewNeed {
                need: "a".into(),
                step: "b".into()
            }]
        );
        assert_eq!(
            changes[0].to_string(),
            "step `a` is new, and `b`, which finished without it, needs it"
        );
    }

    #[test]
    fn from_reruns_downstream() {
        let w = wf(CHAIN);
        assert_eq!(
            downstream(&w, "a"),
            HashSet::from(["a", "b", "c"].map(String::from))
        );
        assert_eq!(downstream(&w, "d"), HashSet::from(["d".to_string()]));
        let defs = definitions(&w);
        let steps = ["a", "b", "c", "d"].map(|id| step(id, Status::Succeeded));
        let rec = Recorded {
            definitions: &defs,
            steps: &steps,
        };
        let p = resume(&w, &rec, Some("b")).unwrap();
        assert_eq!(kept(&p), ["a", "d"]);
        assert_eq!(p.rerun_from, HashSet::from(["b", "c"].map(String::from)));
        assert_eq!(
            resume(&w, &rec, Some("zz")).unwrap_err(),
            ResumeError::UnknownStep("zz".into())
        );
    }

    #[test]
    fn rerun_of_a_succeeded_run_keeps_everything_outside_downstream() {
        let w = wf(CHAIN);
        let defs = definitions(&w);
        let steps = [
            step("a", Status::Succeeded),
            step("b", Status::Cached),
            step("c", Status::Succeeded),
            step("d", Status::Skipped),
        ];
        let rec = Recorded {
            definitions: &defs,
            steps: &steps,
        };
        let p = rerun_succeeded(&w, &rec, "b").unwrap();
        assert_eq!(kept(&p), ["a", "d"]);
        assert_eq!(p.restore["d"].status, Status::Skipped);
        assert_eq!(p.rerun_from, HashSet::from(["b", "c"].map(String::from)));
        let p = rerun_succeeded(&w, &rec, "a").unwrap();
        assert_eq!(kept(&p), ["d"]);
        assert_eq!(
            rerun_succeeded(&w, &rec, "zz").unwrap_err(),
            ResumeError::UnknownStep("zz".into())
        );
        // An ordinary resume does not keep a skipped step.
        assert_eq!(kept(&resume(&w, &rec, None).unwrap()), ["a", "b", "c"]);
    }

    /// a → b → c with compensations, d fails; fan is a for_each.
    const SAGA: &str = "name: w\nsteps:\n\
        - {id: a, run: echo a, compensate: {run: undo a}}\n\
        - {id: b, run: echo b, needs: [a], compensate: {run: undo b}}\n\
        - {id: fan, for_each: [1, 2], run: echo, compensate: {run: undo}}\n\
        - {id: c, run: echo c, needs: [b], compensate: {run: undo c}}\n\
        - {id: d, run: exit 1, needs: [c, fan]}\n\
        finally:\n  - {id: f, run: echo f}\n";

    #[test]
    fn a_run_being_undone_keeps_every_step_and_undoes_what_is_left() {
        let w = wf(SAGA);
        let defs = definitions(&w);
        let items =
            r#"{"status":"succeeded","items":[{"status":"succeeded"},{"status":"succeeded"}]}"#;
        let steps = [
            RecordedStep {
                finished_at: Some(1),
                ..step("a", Status::Succeeded)
            },
            RecordedStep {
                finished_at: Some(2),
                ..step("b", Status::Succeeded)
            },
            RecordedStep {
                finished_at: Some(3),
                result: Some(items),
                ..step("fan", Status::Succeeded)
            },
            step("c", Status::Compensated),
            step("d", Status::Failed),
            step("f", Status::Pending),
        ];
        let rec = Recorded {
            definitions: &defs,
            steps: &steps,
        };
        let done = HashSet::from(["c", "fan[1]"]);
        let p = resume_compensations(&w, &rec, &done, None).unwrap();
        // Nothing runs again but `finally`.
        assert_eq!(kept(&p), ["a", "b", "c", "d", "fan"]);
        assert_eq!(p.restore["d"].status, Status::Failed);
        assert_eq!(p.restore["c"].status, Status::Compensated);
        assert!(p.restore["c"].undo.is_empty());
        assert_eq!(p.restore["a"].undo, [(1, None)]);
        assert_eq!(p.restore["b"].undo, [(2, None)]);
        assert_eq!(p.restore["fan"].undo, [(3, Some(0))]);
        assert_eq!(
            resume_compensations(&w, &rec, &done, Some("a")).unwrap_err(),
            ResumeError::FromWhileUndoing
        );
        let all = HashSet::from(["a", "b", "c", "fan[0]", "fan[1]"]);
        assert_eq!(
            resume_compensations(&w, &rec, &all, None).unwrap_err(),
            ResumeError::Undone
        );
        // An ordinary resume keeps what the saga would undo of kept steps.
        let p = resume(&w, &rec, None).unwrap();
        assert_eq!(p.restore["a"].undo, [(1, None)]);
    }

    #[test]
    fn a_kept_step_whose_need_reruns_is_dropped() {
        let w = wf(CHAIN);
        let defs = definitions(&w);
        // `a` failed but `b` and `c` finished (an earlier attempt's order,
        // or `continue_on_error`): both follow `a` into the rerun.
        let steps = [
            step("a", Status::Failed),
            step("b", Status::Succeeded),
            step("c", Status::Succeeded),
            step("d", Status::Succeeded),
        ];
        let rec = Recorded {
            definitions: &defs,
            steps: &steps,
        };
        let p = resume(&w, &rec, None).unwrap();
        assert_eq!(kept(&p), ["d"]);
    }
}
