//! `orch show RUN --timeline`: the recorded spans of a run turned into the
//! rows [`crate::report::timeline`] draws, at the terminal's width.

use std::collections::HashMap;

use crate::event::Status;
use crate::history::runs::RunRow;
use crate::history::timeline::RunSpans;
use crate::report::timeline::{Kind, Mark, Row, Segment, Timeline};
use crate::settings::EnvVars;

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

/// The rows of `run`; `shown` is what each step shows (see `orch show`),
/// `now` ends what has not ended yet.
pub(super) fn timeline(
    run: &RunRow,
    spans: &RunSpans,
    shown: &HashMap<&str, &str>,
    now: i64,
) -> Timeline {
    let starts = spans
        .steps
        .iter()
        .filter_map(|s| s.started_at)
        .chain(spans.attempts.iter().map(|a| a.started_at))
        .chain(spans.waits.iter().map(|w| w.requested_at));
    let origin = run.started_at.or_else(|| starts.min()).unwrap_or(now);
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
    // A run that has not finished is drawn up to now.
    let end = if run.finished_at.is_none() {
        last.max(now)
    } else {
        last
    };
    let rel = |t: i64| t - origin;
    let rows = spans
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
                parent: s.parent.clone(),
                mark: mark(status),
                segments,
                at,
                duration_ms: s.duration_ms,
            }
        })
        .collect();
    Timeline {
        total_ms: run.duration_ms.unwrap_or(end - origin).max(end - origin),
        rows,
    }
}
