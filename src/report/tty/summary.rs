//! The end-of-run summary of the live view: the headline, the failed steps
//! in the order they failed (the root cause first), run-level errors and
//! the workflow's outputs.

use super::lines::{paint, Palette};
use crate::event::{RunSummary, Status, StepReport};
use crate::report::short_duration;

/// `✓ run succeeded in 3.2s — 5 succeeded, 1 skipped` (no styling).
pub(super) fn summary_line(o: &RunSummary) -> String {
    let head = match o.status {
        Status::Succeeded => "✓ run succeeded".to_string(),
        Status::Failed => "✗ run failed".to_string(),
        other => format!("run {}", other.as_str()),
    };
    let counts = crate::report::count_line(&o.steps);
    let counts = if counts.is_empty() {
        "no steps".to_string()
    } else {
        counts
    };
    format!("{head} in {} — {counts}", short_duration(o.duration))
}

/// The summary: headline, failed steps in failure order, run-level error.
pub(super) fn summary_lines(p: &Palette, o: &RunSummary) -> Vec<String> {
    let head = summary_line(o);
    let head_style = match o.status {
        Status::Succeeded => p.ok.clone().bold(),
        Status::Failed => p.bad.clone().bold(),
        _ => p.warn.clone().bold(),
    };
    let mut lines = vec![paint(&head_style, &head)];
    if !o.failures.is_empty() {
        lines.push(String::new());
        lines.push(paint(&p.bold, "Failed steps (in the order they failed):"));
        // Items by their values: `test (linux, 20)`.
        let shown: Vec<&str> = o
            .failures
            .iter()
            .map(|id| find_step(&o.steps, id).map_or(id.as_str(), |s| s.shown()))
            .collect();
        let width = shown
            .iter()
            .map(|id| console::measure_text_width(id))
            .max()
            .unwrap_or(0);
        for (n, (id, name)) in o.failures.iter().zip(&shown).enumerate() {
            let error = find_step(&o.steps, id)
                .and_then(|s| s.error.as_deref())
                .unwrap_or("failed")
                .trim_end();
            // Pad before styling: escape codes would upset the widths.
            let padded = format!("{name:<width$}");
            let num = format!("{:>3}.", n + 1);
            let indent = " ".repeat(num.len() + 1 + width + 2);
            let error = error.replace('\n', &format!("\n{indent}"));
            let id_style = if n == 0 {
                p.bad.clone().bold()
            } else {
                p.bold.clone()
            };
            let first = if n == 0 {
                paint(&p.dim, "  (first failure)")
            } else {
                String::new()
            };
            lines.push(format!(
                "{num} {}  {}{first}",
                paint(&id_style, &padded),
                error
            ));
        }
    }
    if let Some(e) = &o.error {
        lines.push(String::new());
        lines.push(format!(
            "{} {}",
            paint(&p.bad.clone().bold(), "error:"),
            e.trim_end()
        ));
    }
    for c in &o.compensation_failures {
        lines.push(format!(
            "{} {}",
            paint(&p.bad.clone().bold(), "error:"),
            c.trim_end()
        ));
    }
    if !o.outputs.is_empty() {
        lines.push(paint(&p.bold, "Outputs:"));
        // In the order `outputs:` declares them.
        for (k, v) in o.outputs.iter() {
            lines.push(format!("  {k} = {}", crate::expr::eval::to_text(v)));
        }
    }
    lines
}

/// A step or `for_each` item report by id, at any depth.
fn find_step<'a>(steps: &'a [StepReport], id: &str) -> Option<&'a StepReport> {
    steps.iter().find_map(|s| {
        if s.id == id {
            Some(s)
        } else {
            find_step(&s.items, id)
        }
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::time::Duration;

    pub(crate) fn report(id: &str, status: Status, error: Option<&str>) -> StepReport {
        StepReport {
            id: id.into(),
            label: None,
            status,
            error: error.map(Into::into),
            outputs: serde_json::Value::Null,
            items: vec![],
            allowed: false,
        }
    }

    pub(crate) fn outcome(status: Status, steps: Vec<StepReport>, failures: &[&str]) -> RunSummary {
        RunSummary {
            status,
            steps,
            failures: failures.iter().map(|s| s.to_string()).collect(),
            outputs: Default::default(),
            error: None,
            duration: Duration::from_millis(3240),
            waiting: vec![],
            compensation_failures: Vec::new(),
        }
    }

    #[test]
    fn summary_line_counts_top_level_steps() {
        let mut steps: Vec<_> = (0..5)
            .map(|i| report(&format!("s{i}"), Status::Succeeded, None))
            .collect();
        steps.push(report("x", Status::Skipped, None));
        let o = outcome(Status::Succeeded, steps, &[]);
        assert_eq!(
            summary_line(&o),
            "✓ run succeeded in 3.2s — 5 succeeded, 1 skipped"
        );

        let mut steps: Vec<_> = (0..3)
            .map(|i| report(&format!("s{i}"), Status::Succeeded, None))
            .collect();
        let mut parent = report("b", Status::Failed, Some("1 of 2 items failed"));
        parent.items = vec![report("b[0]", Status::Failed, Some("boom"))];
        steps.push(parent);
        steps.push(report("c", Status::Skipped, None));
        steps.push(report("d", Status::Skipped, None));
        let o = outcome(Status::Failed, steps, &["b[0]"]);
        assert_eq!(
            summary_line(&o),
            "✗ run failed in 3.2s — 3 succeeded, 1 failed, 2 skipped"
        );

        let o = outcome(
            Status::Cancelled,
            vec![report("a", Status::Cancelled, None)],
            &[],
        );
        assert_eq!(summary_line(&o), "run cancelled in 3.2s — 1 cancelled");

        let o = outcome(Status::Succeeded, vec![], &[]);
        assert_eq!(summary_line(&o), "✓ run succeeded in 3.2s — no steps");
    }

    #[test]
    fn failures_listed_first_failure_first() {
        let mut deploy = report("deploy", Status::Failed, Some("1 of 3 items failed"));
        deploy.items = vec![report(
            "deploy[2]",
            Status::Failed,
            Some("timed out after 30s"),
        )];
        let steps = vec![report("build", Status::Failed, Some("exit code 2")), deploy];
        let mut o = outcome(Status::Failed, steps, &["build", "deploy[2]"]);
        o.error = Some("workflow timed out".into());
        let lines = summary_lines(&Palette::new(false), &o);
        assert_eq!(
            lines,
            [
                "✗ run failed in 3.2s — 2 failed",
                "",
                "Failed steps (in the order they failed):",
                "  1. build      exit code 2  (first failure)",
                "  2. deploy[2]  timed out after 30s",
                "",
                "error: workflow timed out",
            ]
        );
    }
}
