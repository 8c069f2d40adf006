//! The run summary in GitHub-flavoured Markdown: a status line, the failed
//! steps (the first first) with their last lines in `<details>`, a table of
//! every step and item, all within a byte budget under GitHub's limit.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::event::{RunSummary, Status, StepReport};
use crate::report::short_duration;
use crate::report::tail::Tail;

use super::Row;

/// GitHub shows no summary of a step whose file is larger than this.
pub(super) const GITHUB_LIMIT: u64 = 1024 * 1024;
/// Left free for whatever else the job step appends to the same file.
const MARGIN: u64 = 16 * 1024;
/// Failed steps shown with their last lines.
const DETAILED: usize = 5;
/// At most this much of one output line.
const LINE_MAX: usize = 1024;
/// At most this much of an error message.
const ERROR_MAX: usize = 2048;

/// What this run may add to a summary file that holds `existing` bytes.
pub(super) fn budget(existing: u64) -> usize {
    let free = GITHUB_LIMIT.saturating_sub(MARGIN).saturating_sub(existing);
    usize::try_from(free).unwrap_or(usize::MAX)
}

pub(super) struct Run<'a> {
    pub(super) run_id: &'a str,
    pub(super) workflow: &'a str,
    pub(super) summary: &'a RunSummary,
    pub(super) rows: &'a HashMap<String, Row>,
    pub(super) tails: &'a [(String, Tail)],
}

/// The summary, at most `budget` bytes (nothing when not even the status
/// line fits).
pub(super) fn render(run: &Run<'_>, budget: usize) -> String {
    let s = run.summary;
    let head = status_line(run);
    if head.len() > budget {
        return String::new();
    }
    // The table is what gives way: the failures are what a reader came for.
    let failures = failures(run, budget.saturating_sub(head.len()) / 2);
    // Room for the line that says rows were left out.
    let reserve = 400;
    let mut out = head;
    out.push_str(&failures);

    let mut flat: Vec<(&StepReport, bool)> = Vec::new();
    for step in &s.steps {
        flat.push((step, false));
        flat.extend(step.items.iter().map(|i| (i, true)));
    }
    out.push_str("| Step | Status | Duration | Attempts | Cache |\n");
    out.push_str("|:-----|:-------|-------:|-------:|:------|\n");
    let mut shown = 0;
    for (step, item) in &flat {
        let row = table_row(step, *item, run.rows.get(&step.id));
        if out.len() + row.len() + reserve > budget {
            break;
        }
        out.push_str(&row);
        shown += 1;
    }
    if shown < flat.len() {
        let _ = writeln!(
            out,
            "\n_… {} more steps not shown, to stay under GitHub's 1 MiB summary limit; \
             `orch show {}` lists them all._",
            flat.len() - shown,
            run.run_id
        );
    }
    out.push('\n');
    out
}

fn status_line(run: &Run<'_>) -> String {
    let s = run.summary;
    let (mark, what) = match s.status {
        Status::Succeeded => ("✅", "succeeded"),
        Status::Failed => ("❌", "failed"),
        Status::Cancelled => ("🚫", "was cancelled"),
        Status::Waiting => ("⏸️", "is waiting for an approval"),
        other => ("•", other.as_str()),
    };
    let mut text = format!(
        "### {mark} `{}` {what} in {}\n\n",
        cell(run.workflow),
        short_duration(s.duration)
    );
    let counts = crate::report::count_line(&s.steps);
    let _ = writeln!(text, "Run `{}` · {counts}\n", cell(run.run_id));
    if let Some(e) = s.event_error() {
        let _ = writeln!(text, "> {}\n", html(&cut(&e, ERROR_MAX)));
    }
    if !s.waiting.is_empty() {
        let ids: Vec<String> = s
            .waiting
            .iter()
            .take(20)
            .map(|w| format!("`{}`", cell(w)))
            .collect();
        let _ = writeln!(text, "Waiting for approval: {}\n", ids.join(", "));
    }
    text
}

/// The failed steps in the order they failed, the first with its lines
/// open, within `budget` bytes.
fn failures(run: &Run<'_>, budget: usize) -> String {
    let s = run.summary;
    let mut ids: Vec<&str> = s.failures.iter().map(String::as_str).collect();
    // Allowed failures are not the run's, but their lines may still help.
    for (id, _) in run.tails {
        if !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    let mut out = String::new();
    let mut listed = 0;
    for (n, id) in ids.iter().take(DETAILED).enumerate() {
        let block = failure_block(run, id, n == 0);
        if out.len() + block.len() > budget {
            break;
        }
        out.push_str(&block);
        listed += 1;
    }
    if ids.len() > listed {
        let mut rest = String::from("Also failed:");
        let mut named = 0;
        for id in &ids[listed..] {
            let part = format!(" `{}`", cell(id));
            if out.len() + rest.len() + part.len() + 64 > budget {
                break;
            }
            rest.push_str(&part);
            named += 1;
        }
        if named < ids.len() - listed {
            let _ = write!(rest, " and {} more", ids.len() - listed - named);
        }
        rest.push_str("\n\n");
        if out.len() + rest.len() <= budget {
            out.push_str(&rest);
        }
    }
    out
}

fn failure_block(run: &Run<'_>, id: &str, open: bool) -> String {
    let row = run.rows.get(id);
    let allowed = row.is_some_and(|r| r.allowed);
    let error = row
        .and_then(|r| r.error.clone())
        .or_else(|| find(&run.summary.steps, id).and_then(|s| s.error.clone()))
        .map(|e| format!(": {}", html(&cut(&e, ERROR_MAX))))
        .unwrap_or_default();
    let mut out = format!(
        "<details{}><summary>{} <code>{}</code> failed{}{error}</summary>\n\n",
        if open { " open" } else { "" },
        if allowed { "⚠️" } else { "❌" },
        html(find(&run.summary.steps, id).map_or(id, |s| s.shown())),
        if allowed { " (allowed)" } else { "" },
    );
    match run.tails.iter().find(|(t, _)| t == id) {
        Some((_, tail)) if !tail.is_empty() => {
            let mut body = String::new();
            if tail.dropped > 0 {
                let _ = writeln!(body, "… {} earlier lines not shown", tail.dropped);
            }
            for l in tail.lines() {
                body.push_str(&cut(l, LINE_MAX));
                body.push('\n');
            }
            let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
            let _ = write!(out, "{fence}text\n{body}{fence}\n");
        }
        _ => out.push_str("_No output._\n"),
    }
    out.push_str("\n</details>\n\n");
    out
}

fn find<'a>(steps: &'a [StepReport], id: &str) -> Option<&'a StepReport> {
    steps.iter().find_map(|s| {
        if s.id == id {
            Some(s)
        } else {
            s.items.iter().find(|i| i.id == id)
        }
    })
}

fn table_row(step: &StepReport, item: bool, row: Option<&Row>) -> String {
    let status = row.map_or(step.status, |r| r.status);
    let allowed = row.map_or(step.allowed, |r| r.allowed);
    let mark = match status {
        Status::Succeeded => "✅ succeeded",
        Status::Failed if allowed => "⚠️ failed (allowed)",
        Status::Failed => "❌ failed",
        Status::Skipped => "⏭️ skipped",
        Status::Cached => "⚡ cached",
        Status::Cancelled => "🚫 cancelled",
        Status::Compensated => "↩️ compensated",
        Status::Waiting => "⏸️ waiting",
        Status::Pending | Status::Running | Status::Retrying => "• not finished",
    };
    let duration = row
        .and_then(|r| r.duration)
        .map_or_else(|| "—".to_string(), short_duration);
    let attempts = row
        .and_then(|r| r.attempts)
        .map_or_else(|| "—".to_string(), |a| a.to_string());
    let cache = match (status, row.is_some_and(|r| r.stored)) {
        (Status::Cached, _) => "hit",
        (_, true) => "stored",
        _ => "",
    };
    let indent = if item { "↳ " } else { "" };
    format!(
        "| {indent}`{}` | {mark} | {duration} | {attempts} | {cache} |\n",
        cell(step.shown())
    )
}

/// Text for a table cell or a code span: no line breaks, no `|`, no HTML.
fn cell(s: &str) -> String {
    html(s)
        .replace('|', "\\|")
        .replace('`', "'")
        .replace(['\r', '\n'], " ")
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\r', '\n'], " ")
}

/// At most `max` bytes of `s`, cut at a character, `…` said when cut.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn longest_backtick_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::sample;

    use crate::event::sample::report as step;

    #[test]
    fn a_huge_run_stays_within_the_budget_and_says_so() {
        let mut s = sample::summary(Status::Failed);
        s.steps = (0..40_000)
            .map(|i| step(&format!("step-{i}"), Status::Succeeded))
            .collect();
        s.steps[7].status = Status::Failed;
        s.failures = vec!["step-7".into()];
        let mut tail = Tail::new(50, 1 << 20);
        for _ in 0..50 {
            tail.push(&"x```y".repeat(5000));
        }
        let tails = vec![("step-7".to_string(), tail)];
        let rows = HashMap::new();
        let run = Run {
            run_id: "r1",
            workflow: "big",
            summary: &s,
            rows: &rows,
            tails: &tails,
        };
        let md = render(&run, budget(0));
        assert!(md.len() <= budget(0), "{}", md.len());
        assert!(md.contains("more steps not shown"));
        assert!(md.contains("````text"), "a fence longer than the output's");
        assert!(md.find("step-7").unwrap() < md.find("| Step |").unwrap());
        // A file nearly full gets nothing rather than too much.
        assert!(render(&run, budget(GITHUB_LIMIT)).is_empty());
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\n<x>`"), "a\\|b &lt;x&gt;'");
        assert_eq!(cut("héllo", 2), "h…");
    }
}
