//! `orch report RUN [-o FILE]`: the run as one self-contained HTML page
//! (timeline, DAG, step table, first failure with its log tail, metadata).
//! Without `-o` the page is written to `orch-report-<run id>.html` in the
//! current directory and its path printed; `-o -` prints it to stdout.
//! Written atomically: a reader sees the old file or the whole new one.

use std::collections::HashSet;
use std::path::Path;

use crate::cli::ReportArgs;
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::history::report::{log_tail, RunRecord};
use crate::history::Home;
use crate::model::Phase;
use crate::report::html::{self, Dag, DagNode, Meta, Report, StepLine};

use super::history::{emit, time_text};
use super::show::open_store;
use super::timeline::{graph_of, shown_of, Graph};
use super::Context;

/// How much of a failed step's log the page keeps.
const TAIL_LINES: usize = 40;
const TAIL_BYTES: u64 = 16 * 1024;
/// Failed steps whose log tails are kept (the first failure always is).
const MAX_TAILS: usize = 20;

pub(crate) fn run(cx: &Context, args: &ReportArgs) -> Result<Exit, Error> {
    let home = cx.home()?;
    let store = open_store(&home)?;
    let run = store.resolve_run(&args.run)?;
    let rec = store.run_record(run)?;
    let graph = graph_of(&rec.run);
    let now = super::timeline::goes_on(&rec, &home).then(crate::history::store::now_ms);
    let timeline = super::timeline::nested(&rec, &home, graph.as_ref().ok(), now);
    let critical: HashSet<String> = timeline
        .rows
        .iter()
        .filter(|r| r.critical && r.parent.is_none())
        .map(|r| r.id.clone())
        .collect();
    let shown = shown_of(&rec, &home);
    let status = |id: &str| shown.get(id).copied().unwrap_or("pending").to_string();
    let dag = match &graph {
        Ok(g) => dag_of(g, &status, &critical),
        Err(why) => Dag {
            nodes: rec
                .steps
                .iter()
                .filter(|s| s.parent.is_none())
                .map(|s| DagNode {
                    id: s.step_id.clone(),
                    status: status(&s.step_id),
                    level: 0,
                    critical: false,
                })
                .collect(),
            edges: Vec::new(),
            note: Some(format!(
                "{why}: its needs are not known, so the steps are drawn without edges \
                 and the critical path is not marked."
            )),
        },
    };
    let mut steps = Vec::new();
    step_lines(&mut steps, &rec, &home, "", 0);
    keep_tails(&mut steps);
    let report = Report {
        meta: meta(&rec, &home, &cx.env),
        timeline,
        dag,
        steps,
    };
    let page = html::render(&report);
    match args.output.as_deref() {
        Some(p) if p == Path::new("-") => emit(&page)?,
        out => {
            let path = out.map_or_else(
                || cx.cwd.join(format!("orch-report-{}.html", rec.run.id)),
                |p| cx.cwd.join(p),
            );
            crate::report::write_atomically(&path, &page).map_err(|e| {
                Error::from(Diag::new(
                    "report",
                    format!("cannot write {}: {e}", path.display()),
                ))
            })?;
            let shown = match out {
                Some(given) => given.display().to_string(),
                None => shown_path(&path),
            };
            emit(&format!("{shown}\n"))?;
        }
    }
    Ok(Exit::Success)
}

/// The full path of the page written by default.
fn shown_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// The graph of the workflow's top-level steps, phase after phase.
fn dag_of(g: &Graph, status: &dyn Fn(&str) -> String, critical: &HashSet<String>) -> Dag {
    let mut level = vec![0; g.wf.steps.len()];
    let mut base = 0;
    for phase in [Phase::Main, Phase::OnFailure, Phase::Finally] {
        let levels = g.plan.levels(phase);
        for (l, members) in levels.iter().enumerate() {
            for &i in members {
                level[i] = base + l;
            }
        }
        base += levels.len();
    }
    let nodes =
        g.wf.steps
            .iter()
            .zip(&level)
            .map(|(s, &level)| DagNode {
                id: s.id.clone(),
                status: status(&s.id),
                level,
                critical: critical.contains(&s.id),
            })
            .collect();
    let edges = g
        .plan
        .all_needs
        .iter()
        .enumerate()
        .flat_map(|(i, needs)| needs.iter().map(move |&n| (n, i)))
        .collect();
    Dag {
        nodes,
        edges,
        note: None,
    }
}

/// The table's lines: the run's steps and items, each child run's steps
/// after the step that started it.
fn step_lines(out: &mut Vec<StepLine>, rec: &RunRecord, home: &Home, prefix: &str, depth: usize) {
    let shown = shown_of(rec, home);
    for s in &rec.steps {
        let status = shown
            .get(&s.step_id)
            .copied()
            .unwrap_or("pending")
            .to_string();
        let bad = html::status_class(&status) == "bad";
        let tail = if bad {
            log_tail(home, &rec.run.id, &s.step_id, TAIL_LINES, TAIL_BYTES)
                .ok()
                .flatten()
        } else {
            None
        };
        let d = depth + usize::from(s.parent.is_some());
        out.push(StepLine {
            id: format!("{prefix}{}", s.step_id),
            depth: d,
            status,
            attempts: s.attempts,
            duration_ms: s.duration_ms,
            exit_code: s.exit_code,
            http_status: s.http_status,
            cached: s.cached,
            error: s.error.clone().filter(|e| !e.is_empty()),
            log_tail: tail,
            finished_at: s.finished_at,
        });
        for (step, child) in rec.children.iter().filter(|(st, _)| st == &s.step_id) {
            step_lines(out, child, home, &format!("{prefix}{step}/"), d + 1);
        }
    }
}

/// Log tails for the first failure and a few more: a run of a thousand
/// failures keeps the page small.
fn keep_tails(steps: &mut [StepLine]) {
    let first = html::table_first_failure(steps);
    let mut kept = 0;
    for (i, s) in steps.iter_mut().enumerate() {
        if s.log_tail.is_some() && Some(i) != first {
            kept += 1;
            if kept >= MAX_TAILS {
                s.log_tail = None;
            }
        }
    }
}

fn meta(rec: &RunRecord, home: &Home, env: &crate::settings::EnvVars) -> Meta {
    let r = &rec.run;
    let inputs = serde_json::from_str::<serde_json::Value>(&r.inputs)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, text)
                })
                .collect()
        })
        .unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let user = crate::settings::user_name(env);
    let at = |ms: Option<i64>| ms.map(|m| format!("{} UTC", time_text(Some(m))));
    Meta {
        run_id: r.id.clone(),
        workflow: r.workflow.clone(),
        file: r.file_path.clone(),
        status: r.shown_status(home).as_str().to_string(),
        recorded_by: rec.orch_version.clone(),
        orch_version: env!("CARGO_PKG_VERSION").to_string(),
        started: at(r.started_at),
        finished: at(r.finished_at),
        duration_ms: r.duration_ms,
        attempt: r.attempt,
        parent_run: r.parent_run_id.clone(),
        error: r.error.clone().filter(|e| !e.is_empty()),
        inputs,
        generated_by: if host.is_empty() {
            user
        } else {
            format!("{user}@{host}")
        },
        generated_at: format!("{} UTC", time_text(Some(crate::history::store::now_ms()))),
    }
}
