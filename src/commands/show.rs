//! `orch show RUN`: one recorded run. A header (id, workflow, status, times,
//! error, inputs), then every step and for_each item with its status,
//! attempts, duration, exit code, HTTP status and error (or who approved
//! it), then the workflow's outputs, then, for a resumed run, what each
//! attempt of it ran.
//! `--json` prints the same as one object (a documented format);
//! `--timeline` draws the steps on a time axis instead.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value as Json;

use crate::cli::ShowArgs;
use crate::error::Error;
use crate::event::Outputs;
use crate::exit::Exit;
use crate::history::compensations::CompensationRow;
use crate::history::runs::{ApprovalRow, RunAttemptStep, RunRow, StepRow};
use crate::history::{ShownStatus, Store};

use super::history::{duration_text, emit, one_line, rfc3339, table, time_text, to_json};
use super::Context;

pub(crate) fn run(cx: &Context, args: &ShowArgs) -> Result<Exit, Error> {
    let home = cx.home()?;
    let store = open_store(&home)?;
    let run = store.resolve_run(&args.run)?;
    let steps = store.steps(&run.id)?;
    let approvals: HashMap<String, ApprovalRow> = store
        .approvals(&run.id)?
        .into_iter()
        .map(|a| (a.step_id.clone(), a))
        .collect();
    let open_approvals: HashSet<String> = approvals
        .values()
        .filter(|a| a.decision.is_none())
        .map(|a| a.step_id.clone())
        .collect();
    let children: Vec<(String, String, String)> = store
        .children(&run.id)?
        .into_iter()
        .map(|c| {
            let status = c.shown_status(&home).as_str().to_string();
            (c.id, c.workflow, status)
        })
        .collect();
    let shown_status = run.shown_status(&home);
    let status = shown_status.as_str();
    let shown: Vec<(&StepRow, &str)> = steps
        .iter()
        .map(|s| (s, step_status(s, &open_approvals, shown_status)))
        .collect();
    let comps: HashMap<String, CompensationRow> = store
        .compensations(&run.id)?
        .into_iter()
        .map(|c| (c.step_id.clone(), c))
        .collect();
    if args.timeline {
        let rec = store.run_record(run.clone())?;
        let graph = super::timeline::graph_of(&run).ok();
        let now = super::timeline::goes_on(&rec, &home).then(crate::history::store::now_ms);
        let t = super::timeline::nested(&rec, &home, graph.as_ref(), now);
        let width = super::timeline::width(&cx.env);
        emit(&crate::report::timeline::render(&t, width, cx.color_stdout))?;
        return Ok(Exit::Success);
    }
    let tries = store.run_attempts(&run.id)?;
    let attempts = attempt_list(&run, &tries);
    if args.json {
        let mut json = run_json(&run, status, &shown, &comps, &approvals);
        json.run_attempts = attempts.iter().map(attempt_json).collect();
        emit(&format!("{}\n", to_json(&json)?))?;
    } else {
        let mut out = render(&run, status, &shown, &comps, &approvals, &children);
        push_attempts(&mut out, &attempts);
        emit(&out)?;
    }
    Ok(Exit::Success)
}

/// The store for a command that needs a recorded run.
pub(super) fn open_store(home: &crate::history::Home) -> Result<Store, Error> {
    Store::open_existing(home)?.ok_or_else(|| {
        crate::diag::Diag::new("history", "no runs recorded yet")
            .help("runs are recorded by `orch run`")
            .into()
    })
}

/// What a step shows (see [`ShownStatus::of_step`]).
fn step_status(
    s: &StepRow,
    open_approvals: &HashSet<String>,
    run_status: ShownStatus,
) -> &'static str {
    ShownStatus::of_step(
        s.status,
        s.cached,
        open_approvals.contains(&s.step_id),
        run_status,
    )
    .as_str()
}

/// A stored JSON object; `{}` when there is none (or it is unreadable).
fn object(text: Option<&str>) -> Json {
    text.and_then(|t| serde_json::from_str::<Json>(t).ok())
        .filter(Json::is_object)
        .unwrap_or_else(|| Json::Object(Default::default()))
}

#[derive(Serialize)]
struct RunJson<'a> {
    id: &'a str,
    workflow: &'a str,
    version: Option<i64>,
    status: &'a str,
    started_at: Option<String>,
    finished_at: Option<String>,
    duration_ms: Option<i64>,
    parent_run_id: Option<&'a str>,
    file: &'a str,
    inputs: Json,
    /// In the order the workflow declares them.
    outputs: Outputs,
    error: Option<&'a str>,
    attempt: i64,
    steps: Vec<StepJson<'a>>,
    /// Each attempt of the run (1, then one per `orch resume`) with the
    /// steps it ran; the steps it kept from earlier attempts are not listed.
    run_attempts: Vec<AttemptJson<'a>>,
}

#[derive(Serialize)]
struct AttemptJson<'a> {
    attempt: i64,
    started_at: Option<String>,
    steps: Vec<AttemptStepJson<'a>>,
}

#[derive(Serialize)]
struct AttemptStepJson<'a> {
    id: &'a str,
    /// Of its last try in that attempt of the run.
    status: &'a str,
    attempts: i64,
}

/// One attempt of the run and the steps it ran.
struct RunAttempt<'a> {
    number: i64,
    started_at: Option<i64>,
    steps: Vec<&'a RunAttemptStep>,
}

/// Attempts 1..=run.attempt, each with what it ran (an attempt that ran
/// nothing, all its steps kept or cached, is listed too).
fn attempt_list<'a>(run: &RunRow, tries: &'a [RunAttemptStep]) -> Vec<RunAttempt<'a>> {
    (1..=run.attempt.max(1))
        .map(|n| {
            let steps: Vec<&RunAttemptStep> = tries.iter().filter(|t| t.run_attempt == n).collect();
            RunAttempt {
                number: n,
                started_at: steps.iter().map(|t| t.started_at).min(),
                steps,
            }
        })
        .collect()
}

fn attempt_json<'a>(a: &RunAttempt<'a>) -> AttemptJson<'a> {
    AttemptJson {
        attempt: a.number,
        started_at: rfc3339(a.started_at),
        steps: a
            .steps
            .iter()
            .map(|t| AttemptStepJson {
                id: &t.step_id,
                status: &t.status,
                attempts: t.tries,
            })
            .collect(),
    }
}

/// The attempts of a resumed run, after its steps: attempt 1 is the run
/// itself, each further one an `orch resume`.
fn push_attempts(out: &mut String, attempts: &[RunAttempt<'_>]) {
    if attempts.len() < 2 {
        return;
    }
    let rows: Vec<Vec<String>> = attempts
        .iter()
        .map(|a| {
            let steps: Vec<String> = a
                .steps
                .iter()
                .map(|t| match t.tries {
                    1 => format!("{} {}", t.step_id, t.status),
                    n => format!("{} {} ({n} tries)", t.step_id, t.status),
                })
                .collect();
            vec![
                if a.number == 1 {
                    "1".to_string()
                } else {
                    format!("{} (resume)", a.number)
                },
                match a.started_at {
                    Some(t) => format!("{} UTC", time_text(Some(t))),
                    None => "-".to_string(),
                },
                if steps.is_empty() {
                    "-".to_string()
                } else {
                    steps.join(", ")
                },
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&table(&["ATTEMPT", "STARTED", "RAN"], &rows));
}

#[derive(Serialize)]
struct StepJson<'a> {
    id: &'a str,
    /// A `for_each`/`matrix` item shown with its values: `test (linux, 20)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    status: &'a str,
    attempts: i64,
    duration_ms: Option<i64>,
    exit_code: Option<i64>,
    http_status: Option<i64>,
    cached: bool,
    error: Option<&'a str>,
    outputs: Json,
    /// The child run of a `workflow:` step.
    #[serde(skip_serializing_if = "Option::is_none")]
    child_run_id: Option<String>,
    /// Only for a step the saga undid (or began to undo).
    #[serde(skip_serializing_if = "Option::is_none")]
    compensation: Option<CompensationJson<'a>>,
    /// Only for a step that asked for an approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<ApprovalJson<'a>>,
}

/// An approval's decision: `null`s while it is open.
#[derive(Serialize)]
struct ApprovalJson<'a> {
    decision: Option<&'a str>,
    by: Option<&'a str>,
    comment: Option<&'a str>,
}

fn approval_json(a: &ApprovalRow) -> ApprovalJson<'_> {
    ApprovalJson {
        decision: a.decision.as_deref(),
        by: a.decided_by.as_deref(),
        comment: a.comment.as_deref(),
    }
}

/// "approved by alice: looks good", for a decision taken by someone.
fn approval_text(a: &ApprovalRow) -> Option<String> {
    let decision = a.decision.as_deref()?;
    let by = a.decided_by.as_deref().filter(|b| !b.is_empty())?;
    Some(match a.comment.as_deref().filter(|c| !c.is_empty()) {
        // A table cell holds one line: the comment's lines joined.
        Some(c) => format!(
            "{decision} by {by}: {}",
            c.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
        None => format!("{decision} by {by}"),
    })
}

/// The NOTE cell: the error if there is one, else who approved the step.
fn note(s: &StepRow, approval: Option<&ApprovalRow>) -> String {
    match s.error.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => one_line(e),
        None => approval.and_then(approval_text).unwrap_or_default(),
    }
}

#[derive(Serialize)]
struct CompensationJson<'a> {
    status: &'a str,
    attempts: i64,
    started_at: Option<String>,
    finished_at: Option<String>,
    duration_ms: Option<i64>,
    error: Option<&'a str>,
}

/// A compensation still `running` in a run that no process holds was
/// interrupted, as its step would be.
fn compensation_status<'a>(c: &'a CompensationRow, run_status: &str) -> &'a str {
    if c.status == "running" && run_status == "interrupted" {
        "interrupted"
    } else {
        &c.status
    }
}

fn compensation_json<'a>(c: &'a CompensationRow, run_status: &str) -> CompensationJson<'a> {
    CompensationJson {
        status: compensation_status(c, run_status),
        attempts: c.attempts,
        started_at: rfc3339(Some(c.started_at)),
        finished_at: rfc3339(c.finished_at),
        duration_ms: c.duration_ms,
        error: c.error.as_deref(),
    }
}

fn run_json<'a>(
    run: &'a RunRow,
    status: &'a str,
    steps: &[(&'a StepRow, &'a str)],
    comps: &'a HashMap<String, CompensationRow>,
    approvals: &'a HashMap<String, ApprovalRow>,
) -> RunJson<'a> {
    RunJson {
        id: &run.id,
        workflow: &run.workflow,
        version: run.version,
        status,
        started_at: rfc3339(run.started_at),
        finished_at: rfc3339(run.finished_at),
        duration_ms: run.duration_ms,
        parent_run_id: run.parent_run_id.as_deref(),
        file: &run.file_path,
        inputs: object(Some(&run.inputs)),
        outputs: Outputs::parse(run.outputs.as_deref()),
        error: run.error.as_deref(),
        attempt: run.attempt,
        run_attempts: Vec::new(),
        steps: steps
            .iter()
            .map(|(s, step_status)| StepJson {
                id: &s.step_id,
                name: s.name(),
                status: step_status,
                attempts: s.attempts,
                duration_ms: s.duration_ms,
                exit_code: s.exit_code,
                http_status: s.http_status,
                cached: s.cached,
                error: s.error.as_deref(),
                outputs: s.outputs(),
                child_run_id: s.child_run(),
                compensation: comps.get(&s.step_id).map(|c| compensation_json(c, status)),
                approval: approvals.get(&s.step_id).map(approval_json),
            })
            .collect(),
    }
}

/// `(linux, 20)` of an item's name `test (linux, 20)`.
fn item_values(name: &str) -> &str {
    name.find(" (").map_or(name, |at| &name[at + 1..])
}

/// A value as people read it: strings without quotes, the rest as JSON.
fn value_text(v: &Json) -> String {
    match v {
        Json::String(s) if !s.chars().any(char::is_control) => s.clone(),
        other => other.to_string(),
    }
}

fn push_values(out: &mut String, title: &str, values: &Json) {
    let Json::Object(map) = values else { return };
    if map.is_empty() {
        return;
    }
    push_pairs(out, title, map.iter().map(|(k, v)| (k.as_str(), v)));
}

/// `title`, then `  name = value` lines in the order given.
fn push_pairs<'a>(out: &mut String, title: &str, pairs: impl Iterator<Item = (&'a str, &'a Json)>) {
    out.push_str(title);
    out.push('\n');
    for (k, v) in pairs {
        out.push_str(&format!("  {k} = {}\n", value_text(v)));
    }
}

/// An exit code or HTTP status, `-` when there is none.
fn code_text(c: Option<i64>) -> String {
    c.map_or_else(|| "-".to_string(), |c| c.to_string())
}

/// `(id, workflow, status)` of each child run.
type Children = [(String, String, String)];

fn render(
    run: &RunRow,
    status: &str,
    steps: &[(&StepRow, &str)],
    comps: &HashMap<String, CompensationRow>,
    approvals: &HashMap<String, ApprovalRow>,
    children: &Children,
) -> String {
    let mut head: Vec<(&str, String)> = vec![
        ("run", run.id.clone()),
        (
            "workflow",
            match run.version {
                Some(v) => format!("{} (version {v})", run.workflow),
                None => run.workflow.clone(),
            },
        ),
        ("status", status.to_string()),
        (
            "started",
            match run.started_at {
                Some(t) => format!("{} UTC", time_text(Some(t))),
                None => "-".to_string(),
            },
        ),
        ("duration", duration_text(run.duration_ms)),
    ];
    if run.attempt > 1 {
        head.push(("attempts", run.attempt.to_string()));
    }
    if let Some(p) = &run.parent_run_id {
        head.push(("parent", p.clone()));
    }
    if let Some(e) = run.error.as_deref().filter(|e| !e.is_empty()) {
        head.push(("error", one_line(e)));
    }
    let mut out = String::new();
    for (k, v) in head {
        out.push_str(&format!("{k:<9} {v}\n"));
    }
    push_values(&mut out, "inputs", &object(Some(&run.inputs)));

    let mut rows: Vec<Vec<String>> = Vec::new();
    for (s, step_status) in steps {
        rows.push(vec![
            if s.parent.is_some() {
                // `test[0] (linux, 20)`: the item's values after its id.
                match s.name() {
                    Some(n) => format!("  {} {}", s.step_id, item_values(&n)),
                    None => format!("  {}", s.step_id),
                }
            } else {
                s.step_id.clone()
            },
            step_status.to_string(),
            if s.attempts > 0 {
                s.attempts.to_string()
            } else {
                "-".to_string()
            },
            duration_text(s.duration_ms),
            code_text(s.exit_code),
            code_text(s.http_status),
            note(s, approvals.get(&s.step_id)),
        ]);
        // The compensation sits under its step.
        if let Some(c) = comps.get(&s.step_id) {
            let indent = if s.parent.is_some() { "    " } else { "  " };
            rows.push(vec![
                format!("{indent}↶ compensate"),
                compensation_status(c, status).to_string(),
                if c.attempts > 0 {
                    c.attempts.to_string()
                } else {
                    "-".to_string()
                },
                duration_text(c.duration_ms),
                "-".to_string(),
                "-".to_string(),
                c.error.as_deref().map(one_line).unwrap_or_default(),
            ]);
        }
    }
    out.push('\n');
    out.push_str(&table(
        &[
            "STEP", "STATUS", "ATTEMPTS", "DURATION", "EXIT", "HTTP", "NOTE",
        ],
        &rows,
    ));
    // Each child run under the step that started it.
    let started: Vec<Vec<String>> = steps
        .iter()
        .filter_map(|(s, _)| {
            let id = s.child_run()?;
            let (workflow, status) = children
                .iter()
                .find(|c| c.0 == id)
                .map(|c| (c.1.clone(), c.2.clone()))
                .unwrap_or_else(|| ("?".into(), "?".into()));
            Some(vec![s.step_id.clone(), id, workflow, status])
        })
        .collect();
    if !started.is_empty() {
        out.push('\n');
        out.push_str(&table(
            &["STEP", "CHILD RUN", "WORKFLOW", "STATUS"],
            &started,
        ));
    }
    let outputs = Outputs::parse(run.outputs.as_deref());
    if !outputs.is_empty() {
        out.push('\n');
        push_pairs(&mut out, "outputs", outputs.iter());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, status: &str, cached: bool) -> StepRow {
        let status = crate::history::status::parse(status).unwrap();
        StepRow {
            step_id: id.into(),
            parent: None,
            status,
            attempts: 0,
            duration_ms: None,
            exit_code: None,
            http_status: None,
            cached,
            error: None,
            result: None,
            finished_at: None,
        }
    }

    #[test]
    fn step_statuses() {
        let open: HashSet<String> = ["gate".to_string()].into();
        let run = |s| ShownStatus::parse(s).unwrap();
        assert_eq!(
            step_status(&step("gate", "pending", false), &open, run("waiting")),
            "waiting"
        );
        assert_eq!(
            step_status(&step("other", "pending", false), &open, run("waiting")),
            "pending"
        );
        assert_eq!(
            step_status(&step("a", "cached", true), &open, run("succeeded")),
            "cached"
        );
        assert_eq!(
            step_status(&step("a", "running", false), &open, run("interrupted")),
            "interrupted"
        );
        assert_eq!(
            step_status(&step("a", "running", false), &open, run("running")),
            "running"
        );
    }

    #[test]
    fn approval_notes() {
        let mut a = ApprovalRow {
            step_id: "gate".into(),
            expires_at: None,
            decision: None,
            decided_by: None,
            comment: None,
        };
        let s = step("gate", "succeeded", false);
        assert_eq!(note(&s, Some(&a)), "");
        a.decision = Some("approved".into());
        a.decided_by = Some("alice".into());
        assert_eq!(note(&s, Some(&a)), "approved by alice");
        a.comment = Some("looks\ngood".into());
        assert_eq!(note(&s, Some(&a)), "approved by alice: looks good");
        let mut failed = step("gate", "failed", false);
        failed.error = Some("rejected by bob".into());
        assert_eq!(note(&failed, Some(&a)), "rejected by bob");
    }

    #[test]
    fn stored_objects() {
        assert_eq!(object(Some(r#"{"a":1}"#)), serde_json::json!({"a": 1}));
        assert_eq!(object(None), serde_json::json!({}));
        assert_eq!(object(Some("not json")), serde_json::json!({}));
        assert_eq!(value_text(&serde_json::json!("x y")), "x y");
        assert_eq!(value_text(&serde_json::json!("a\nb")), r#""a\nb""#);
        assert_eq!(value_text(&serde_json::json!([1, 2])), "[1,2]");
    }
}
