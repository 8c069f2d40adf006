//! `orch show RUN --timeline` and `orch report`: the recorded spans of a
//! run (and of its child runs) turned into the rows
//! [`crate::report::timeline`] and [`crate::report::html`] draw, with the
//! critical path marked.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::event::Status;
use crate::history::report::RunRecord;
use crate::history::runs::RunRow;
use crate::history::timeline::RunSpans;
use crate::history::{Home, ShownStatus};
use crate::model::Workflow;
use crate::plan::Plan;
use crate::report::timeline::{Kind, Mark, Row, Segment, Timeline};
use crate::settings::EnvVars;
use crate::settings::Project;

/// The width to draw to: `COLUMNS`, else the terminal's, else 80.
pub(super) fn width(env: &EnvVars) -> usize {
    if let Some(c) = env
        .columns
        .as_deref()
        .and_then(|c| c.trim().parse::<usize>().ok())
    {
        if c > 0 {
            return c;
        }
    }
    if env.stdout_tty {
        let (_, cols) = console::Term::stdout().size();
        if cols > 0 {
            return usize::from(cols);
        }
    }
    80
}

fn mark(shown: &str) -> Mark {
    match shown {
        "succeeded" => Mark::Succeeded,
        "failed" => Mark::Failed,
        "skipped" => Mark::Skipped,
        "cached" => Mark::Cached,
        "cancelled" | "interrupted" | "compensated" => Mark::Cancelled,
        "running" | "retrying" => Mark::Running,
        "waiting" => Mark::Waiting,
        _ => Mark::Pending,
    }
}

/// What a run's workflow file says now, when it can be read: the DAG and
/// the critical path need its `needs:`, which history does not record.
pub(super) struct Graph {
    pub(super) wf: Arc<Workflow>,
    pub(super) plan: Plan,
}

/// The workflow of `run` as its file is now, or why it cannot be read.
pub(super) fn graph_of(run: &RunRow) -> Result<Graph, String> {
    let project = Project::load(
        run.config_path.as_deref().map(Path::new),
        Path::new(&run.project_dir),
    )
    .map_err(|_| format!("the project of {} cannot be read", run.file_path))?;
    let wf = super::load_workflow(Path::new(&run.file_path), &project)
        .map_err(|_| format!("{} cannot be read as a valid workflow", run.file_path))?;
    if wf.name != run.workflow {
        return Err(format!(
            "{} is now workflow `{}`, not `{}`",
            run.file_path, wf.name, run.workflow
        ));
    }
    let plan = Plan::new(&wf);
    Ok(Graph { wf, plan })
}

/// The steps on the chain that decided the run's length (see
/// [`crate::plan::critical::observed_path`]).
pub(super) fn critical(graph: &Graph, spans: &RunSpans) -> HashSet<String> {
    let ended: Vec<Option<i64>> = graph
        .wf
        .steps
        .iter()
        .map(|st| {
            spans
                .steps
                .iter()
                .find(|s| s.parent.is_none() && s.step_id == st.id)
                .filter(|s| s.started_at.is_some())
                .and_then(|s| s.finished_at)
        })
        .collect();
    crate::plan::critical::observed_path(&graph.plan, &ended)
        .into_iter()
        .map(|i| graph.wf.steps[i].id.clone())
        .collect()
}

/// What each step and item of a run shows (as in `orch show`).
pub(super) fn shown_of(rec: &RunRecord, home: &Home) -> HashMap<String, &'static str> {
    let run_status = rec.run.shown_status(home);
    rec.steps
        .iter()
        .map(|s| {
            let open = rec
                .approvals
                .iter()
                .any(|a| a.step_id == s.step_id && a.decision.is_none());
            let shown = ShownStatus::of_step(s.status, s.cached, open, run_status);
            (s.step_id.clone(), shown.as_str())
        })
        .collect()
}

/// Whether a process still runs the run: then what has not ended ends now.
pub(super) fn goes_on(rec: &RunRecord, home: &Home) -> bool {
    matches!(
        rec.run.shown_status(home).as_str(),
        "running" | "waiting" | "pending"
    )
}

/// The rows of a recorded run and, nested under the steps that started
/// them, of its child runs, on one time axis; the critical path marked
/// (in a child run too, when its step is on the parent's).
pub(super) fn nested(
    rec: &RunRecord,
    home: &Home,
    graph: Option<&Graph>,
    now: Option<i64>,
) -> Timeline {
    let (origin, end) = bounds(&rec.run, &rec.spans, now);
    let shown = shown_of(rec, home);
    let shown: HashMap<&str, &str> = shown.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut rows = rows(&rec.spans, &shown, origin, end);
    let critical = graph.map(|g| critical(g, &rec.spans)).unwrap_or_default();
    for r in &mut rows {
        r.critical = r.parent.is_none() && critical.contains(&r.id);
    }
    add_children(&mut rows, rec, home, origin, end, 0);
    Timeline {
        total_ms: rec
            .run
            .duration_ms
            .unwrap_or(end - origin)
            .max(end - origin),
        rows,
    }
}

fn add_children(
    out: &mut Vec<Row>,
    rec: &RunRecord,
    home: &Home,
    origin: i64,
    end: i64,
    depth: usize,
) {
    // Guard against a history that names a child in a loop.
    if depth > 8 {
        return;
    }
    for (step, child) in &rec.children {
        let Some(at) = out.iter().find(|r| &r.id == step) else {
            continue;
        };
        let (prefix, base, on_path) = (format!("{step}/"), at.depth + 1, at.critical);
        let shown = shown_of(child, home);
        let shown: HashMap<&str, &str> = shown.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let mut own = rows(&child.spans, &shown, origin, end);
        let critical = if on_path {
            graph_of(&child.run)
                .map(|g| critical(&g, &child.spans))
                .unwrap_or_default()
        } else {
            HashSet::new()
        };
        for r in &mut own {
            r.critical = r.parent.is_none() && critical.contains(&r.id);
        }
        // Grandchildren first, while the ids are the child's own.
        add_children(&mut own, child, home, origin, end, depth + 1);
        for mut r in own {
            r.parent = Some(match &r.parent {
                Some(p) => format!("{prefix}{p}"),
                None => step.clone(),
            });
            r.id = format!("{prefix}{}", r.id);
            r.depth += base;
            out.push(r);
        }
    }
}

/// The rows of `run`; `shown` is what each step shows (see `orch show`).
/// What has not ended ends `now` while a process still runs the run
/// (`Some`), else where the record stops (an interrupted run).
#[cfg(test)]
pub(super) fn timeline(
    run: &RunRow,
    spans: &RunSpans,
    shown: &HashMap<&str, &str>,
    now: Option<i64>,
) -> Timeline {
    let (origin, end) = bounds(run, spans, now);
    Timeline {
        total_ms: run.duration_ms.unwrap_or(end - origin).max(end - origin),
        rows: rows(spans, shown, origin, end),
    }
}

/// Where the run's time axis starts and ends (unix ms).
fn bounds(run: &RunRow, spans: &RunSpans, now: Option<i64>) -> (i64, i64) {
    let starts = spans
        .steps
        .iter()
        .filter_map(|s| s.started_at)
        .chain(spans.attempts.iter().map(|a| a.started_at))
        .chain(spans.waits.iter().map(|w| w.requested_at));
    let origin = run
        .started_at
        .or_else(|| starts.min())
        .or(now)
        .unwrap_or_default();
    let ends = spans
        .steps
        .iter()
        .filter_map(|s| s.finished_at)
        .chain(spans.attempts.iter().filter_map(|a| a.finished_at))
        .chain(spans.waits.iter().filter_map(|w| w.decided_at));
    let last = run
        .finished_at
        .into_iter()
        .chain(ends)
        .max()
        .unwrap_or(origin);
    // A run that goes on is drawn up to now.
    let end = match now {
        Some(now) if run.finished_at.is_none() => last.max(now),
        _ => last,
    };
    (origin, end)
}

/// One row per recorded step and item, times relative to `origin`.
fn rows(spans: &RunSpans, shown: &HashMap<&str, &str>, origin: i64, end: i64) -> Vec<Row> {
    let rel = |t: i64| t - origin;
    spans
        .steps
        .iter()
        .map(|s| {
            let mut segments: Vec<Segment> = spans
                .attempts
                .iter()
                .filter(|a| a.step_id == s.step_id)
                .map(|a| Segment {
                    start: rel(a.started_at),
                    end: rel(a.finished_at.unwrap_or(end)),
                    kind: if matches!(a.status, Status::Succeeded | Status::Running) {
                        Kind::Ran
                    } else {
                        Kind::Failed
                    },
                })
                .collect();
            segments.extend(
                spans
                    .waits
                    .iter()
                    .filter(|w| w.step_id == s.step_id)
                    .map(|w| Segment {
                        start: rel(w.requested_at),
                        end: rel(w.decided_at.unwrap_or(end)),
                        kind: Kind::Wait,
                    }),
            );
            let status = shown.get(s.step_id.as_str()).copied().unwrap_or("pending");
            // A step without attempts of its own (a for_each step, a cache
            // hit, a child workflow) spans its row's own times.
            if segments.is_empty() && status != "skipped" {
                if let Some(start) = s.started_at {
                    segments.push(Segment {
                        start: rel(start),
                        end: rel(s.finished_at.unwrap_or(end)),
                        kind: if matches!(s.status, Status::Failed | Status::Cancelled) {
                            Kind::Failed
                        } else {
                            Kind::Ran
                        },
                    });
                }
            }
            let at = s
                .started_at
                .map(rel)
                .or_else(|| segments.iter().map(|g| g.start).min())
                .or_else(|| s.finished_at.map(rel));
            Row {
                id: s.step_id.clone(),
                label: s.step_id.clone(),
                parent: s.parent.clone(),
                name: s.name.clone(),
                depth: usize::from(s.parent.is_some()),
                critical: false,
                mark: mark(status),
                segments,
                at,
                duration_ms: s.duration_ms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::timeline::{AttemptSpan, StepSpan, WaitSpan};

    fn run_row(started: i64, finished: Option<i64>) -> RunRow {
        RunRow {
            id: "r".into(),
            workflow: "w".into(),
            version: None,
            file_path: "w.yaml".into(),
            definitions: "{}".into(),
            inputs: "{}".into(),
            parent_run_id: None,
            project_dir: ".".into(),
            config_path: None,
            status: Status::Succeeded,
            attempt: 1,
            started_at: Some(started),
            finished_at: finished,
            duration_ms: finished.map(|f| f - started),
            error: None,
            outputs: None,
        }
    }

    fn step(id: &str, status: Status, start: Option<i64>, end: Option<i64>) -> StepSpan {
        StepSpan {
            step_id: id.into(),
            parent: None,
            status,
            cached: status == Status::Cached,
            started_at: start,
            finished_at: end,
            duration_ms: start.zip(end).map(|(s, e)| e - s),
            name: None,
        }
    }

    fn attempt(id: &str, status: Status, start: i64, end: Option<i64>) -> AttemptSpan {
        AttemptSpan {
            step_id: id.into(),
            status,
            started_at: start,
            finished_at: end,
        }
    }

    #[test]
    fn attempts_waits_and_steps_without_attempts() {
        let spans = RunSpans {
            steps: vec![
                step("flaky", Status::Succeeded, Some(1_010), Some(1_500)),
                step("gate", Status::Succeeded, Some(1_500), Some(1_900)),
                step("hit", Status::Cached, Some(1_200), Some(1_200)),
                step("never", Status::Skipped, None, Some(1_900)),
            ],
            attempts: vec![
                attempt("flaky", Status::Failed, 1_010, Some(1_100)),
                attempt("flaky", Status::Succeeded, 1_300, Some(1_500)),
            ],
            waits: vec![WaitSpan {
                step_id: "gate".into(),
                requested_at: 1_500,
                decided_at: Some(1_900),
            }],
        };
        let shown: HashMap<&str, &str> = [
            ("flaky", "succeeded"),
            ("gate", "succeeded"),
            ("hit", "cached"),
            ("never", "skipped"),
        ]
        .into();
        let t = timeline(&run_row(1_000, Some(2_000)), &spans, &shown, None);
        assert_eq!(t.total_ms, 1_000);
        let seg = |start, end, kind| Segment { start, end, kind };
        assert_eq!(
            t.rows[0].segments,
            [seg(10, 100, Kind::Failed), seg(300, 500, Kind::Ran)]
        );
        assert_eq!(t.rows[0].at, Some(10));
        assert_eq!(t.rows[1].segments, [seg(500, 900, Kind::Wait)]);
        assert_eq!(t.rows[2].segments, [seg(200, 200, Kind::Ran)]);
        assert_eq!(t.rows[2].mark, Mark::Cached);
        assert!(t.rows[3].segments.is_empty());
        assert_eq!(t.rows[3].mark, Mark::Skipped);
        assert_eq!(t.rows[3].at, Some(900));
    }

    #[test]
    fn an_unfinished_run_is_drawn_up_to_now() {
        let spans = RunSpans {
            steps: vec![step("slow", Status::Running, Some(1_000), None)],
            attempts: vec![attempt("slow", Status::Running, 1_000, None)],
            waits: vec![],
        };
        let shown: HashMap<&str, &str> = [("slow", "running")].into();
        let t = timeline(&run_row(1_000, None), &spans, &shown, Some(4_000));
        assert_eq!(t.total_ms, 3_000);
        assert_eq!(
            t.rows[0].segments,
            [Segment {
                start: 0,
                end: 3_000,
                kind: Kind::Ran
            }]
        );
        assert_eq!(t.rows[0].mark, Mark::Running);
        // Interrupted: up to the last thing recorded.
        let t = timeline(&run_row(1_000, None), &spans, &shown, None);
        assert_eq!(t.total_ms, 0);
    }

    #[test]
    fn width_from_columns_then_the_terminal_then_80() {
        let mut env = EnvVars {
            columns: Some("60".into()),
            ..EnvVars::default()
        };
        assert_eq!(width(&env), 60);
        env.columns = Some("wide".into());
        assert_eq!(width(&env), 80);
        env.columns = Some("0".into());
        assert_eq!(width(&env), 80);
        env.columns = None;
        assert_eq!(width(&env), 80);
    }
}
