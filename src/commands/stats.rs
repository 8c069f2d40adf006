//! `orch stats [WORKFLOW]`: per top-level step, over the recorded runs of
//! its workflow: how often it ran (each `orch run` or `orch resume` that ran
//! it), how often it failed, how often it came from the cache, and its
//! duration p50/p95 (nearest rank). `--json` prints an array (a documented
//! format).

use crate::cli::StatsArgs;
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::history::query;
use crate::history::stats::{self, StepStats};
use crate::history::Store;

use super::history::{duration_text, emit, table, to_json};
use super::Context;

pub(crate) fn run(cx: &Context, args: &StatsArgs) -> Result<Exit, Error> {
    let home = cx.home()?;
    let stats = match Store::open_existing(&home)? {
        Some(store) => {
            let stats = stats::step_stats(&store, args.workflow.as_deref())?;
            if let Some(w) = args.workflow.as_deref().filter(|_| stats.is_empty()) {
                return Err(unknown_workflow(&store, w)?.into());
            }
            stats
        }
        None => Vec::new(),
    };
    if args.json {
        emit(&format!("{}\n", to_json(&stats)?))?;
        return Ok(Exit::Success);
    }
    if stats.is_empty() {
        if !cx.quiet {
            eprintln!("no runs recorded yet");
        }
        return Ok(Exit::Success);
    }
    emit(&render(&stats, args.workflow.is_none()))?;
    Ok(Exit::Success)
}

/// No runs of `workflow`: say which workflows do have some.
fn unknown_workflow(store: &Store, workflow: &str) -> Result<Diag, Error> {
    let known = query::workflows(store)?;
    let d = Diag::new(
        "history",
        format!("no runs of workflow `{workflow}` recorded"),
    );
    Ok(
        match crate::diag::did_you_mean(workflow, known.iter().map(String::as_str)) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None if known.is_empty() => d.help("runs are recorded by `orch run`"),
            None => d.help(format!("workflows with runs: {}", known.join(", "))),
        },
    )
}

fn render(stats: &[StepStats], with_workflow: bool) -> String {
    let rows: Vec<Vec<String>> = stats
        .iter()
        .map(|s| {
            let mut row = Vec::with_capacity(8);
            if with_workflow {
                row.push(s.workflow.clone());
            }
            row.extend([
                s.step.clone(),
                s.runs.to_string(),
                s.failures.to_string(),
                format!("{:.1}%", s.failure_rate * 100.0),
                s.cached.to_string(),
                duration_text(s.p50_ms),
                duration_text(s.p95_ms),
            ]);
            row
        })
        .collect();
    let mut headers = vec![
        "STEP",
        "RUNS",
        "FAILED",
        "FAILURE RATE",
        "CACHED",
        "P50",
        "P95",
    ];
    if with_workflow {
        headers.insert(0, "WORKFLOW");
    }
    table(&headers, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_table() {
        let s = StepStats {
            workflow: "w".into(),
            step: "build".into(),
            runs: 3,
            failures: 1,
            failure_rate: 1.0 / 3.0,
            cached: 2,
            p50_ms: Some(1200),
            p95_ms: None,
        };
        assert_eq!(
            render(std::slice::from_ref(&s), false),
            "STEP   RUNS  FAILED  FAILURE RATE  CACHED  P50   P95\n\
             build  3     1       33.3%         2       1.2s  -\n"
        );
        assert!(render(&[s], true).starts_with("WORKFLOW  STEP"));
    }
}
