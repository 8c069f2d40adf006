//! The timeline as SVG: one row per step, item and child run step, every
//! attempt a bar on one time axis, approval waits and retry delays drawn,
//! the critical path marked.

use std::fmt::Write as _;

use super::{clip, duration_text, esc};
use crate::report::timeline::{ordered, Kind, Mark, Timeline, CRITICAL};

const WIDTH: i64 = 1200;
const LABEL_W: i64 = 260;
const DUR_W: i64 = 70;
const ROW_H: i64 = 18;
const TOP: i64 = 22;
const BAR: i64 = WIDTH - LABEL_W - DUR_W - 10;

fn mark_class(m: Mark) -> &'static str {
    match m {
        Mark::Succeeded => "ok",
        Mark::Failed | Mark::Cancelled => "bad",
        Mark::Skipped => "skip",
        Mark::Cached => "cached",
        Mark::Running => "run",
        Mark::Waiting => "wait",
        Mark::Pending => "pend",
    }
}

fn mark_glyph(m: Mark) -> &'static str {
    match m {
        Mark::Succeeded => "✓",
        Mark::Failed => "✗",
        Mark::Skipped => "↷",
        Mark::Cached => "⚡",
        Mark::Cancelled => "⊘",
        Mark::Running => "…",
        Mark::Waiting => "⏸",
        Mark::Pending => "·",
    }
}

/// A round step between axis ticks: about 8 ticks over `total` ms.
fn tick_step(total: i64) -> i64 {
    let raw = (total / 8).max(1);
    let steps = [
        1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000,
        120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000,
        43_200_000, 86_400_000,
    ];
    steps
        .into_iter()
        .find(|&s| s >= raw)
        .unwrap_or(86_400_000 * (raw / 86_400_000 + 1))
}

pub(super) fn render(t: &Timeline) -> String {
    let total = t.total_ms.max(1);
    let rows = ordered(&t.rows);
    let height = TOP + ROW_H * rows.len() as i64 + 6;
    let x = |ms: i64| LABEL_W + ms.clamp(0, total) * BAR / total;
    let mut out = String::with_capacity(256 * rows.len() + 4096);
    let _ = writeln!(
        out,
        "<svg id=\"gantt\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"timeline\">"
    );
    // The axis: ticks and their lines down through the rows.
    let step = tick_step(total);
    let mut at = 0;
    while at <= total {
        let tx = x(at);
        let _ = writeln!(
            out,
            "<line class=\"tick\" x1=\"{tx}\" y1=\"{}\" x2=\"{tx}\" y2=\"{height}\"/>\
             <text class=\"axis\" x=\"{tx}\" y=\"12\">{}</text>",
            TOP - 6,
            duration_text(Some(at))
        );
        at += step;
    }
    for (n, r) in rows.iter().enumerate() {
        let y = TOP + ROW_H * n as i64;
        let cls = if r.critical { "row crit" } else { "row" };
        let _ = write!(
            out,
            "<g class=\"{cls}\" data-step=\"{}\"><rect class=\"bg\" x=\"0\" y=\"{y}\" width=\"{WIDTH}\" height=\"{ROW_H}\"/>",
            esc(&r.id)
        );
        let indent = 14 + 12 * r.depth as i64;
        let label = clip(&r.label, 34 - 2 * r.depth.min(10));
        let _ = write!(
            out,
            "<text class=\"m {}\" x=\"2\" y=\"{}\">{}</text><text class=\"lbl\" x=\"{indent}\" y=\"{}\">{}<title>{}</title></text>",
            mark_class(r.mark),
            y + 13,
            mark_glyph(r.mark),
            y + 13,
            esc(&label),
            esc(&r.id)
        );
        if r.critical {
            let _ = write!(
                out,
                "<text class=\"critm\" x=\"{}\" y=\"{}\">{CRITICAL}</text>",
                LABEL_W - 14,
                y + 13
            );
        }
        // Retry delays: the gaps between one attempt and the next.
        let mut attempts: Vec<_> = r.segments.iter().filter(|s| s.kind != Kind::Wait).collect();
        attempts.sort_by_key(|s| s.start);
        for pair in attempts.windows(2) {
            if pair[1].start > pair[0].end {
                let _ = write!(
                    out,
                    "<line class=\"delay\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"><title>retry delay {}</title></line>",
                    x(pair[0].end),
                    y + 9,
                    x(pair[1].start),
                    y + 9,
                    duration_text(Some(pair[1].start - pair[0].end))
                );
            }
        }
        let mut attempt = 0;
        for s in &r.segments {
            let (sx, ex) = (x(s.start), x(s.end.max(s.start)));
            let w = (ex - sx).max(2);
            let (cls, what) = match s.kind {
                Kind::Ran => ("a ok", "attempt"),
                Kind::Failed => ("a bad", "failed attempt"),
                Kind::Wait => ("a wait", "awaiting approval"),
            };
            let what = if s.kind == Kind::Wait {
                what.to_string()
            } else {
                attempt += 1;
                format!("{what} {attempt}")
            };
            let _ = write!(
                out,
                "<rect class=\"{cls}\" x=\"{sx}\" y=\"{}\" width=\"{w}\" height=\"{}\"><title>{}: {what}, {} at +{}</title></rect>",
                y + 3,
                ROW_H - 6,
                esc(&r.id),
                duration_text(Some(s.end - s.start)),
                duration_text(Some(s.start))
            );
        }
        let _ = writeln!(
            out,
            "<text class=\"dur\" x=\"{}\" y=\"{}\">{}</text></g>",
            WIDTH - 4,
            y + 13,
            duration_text(r.duration_ms)
        );
    }
    out.push_str("</svg>\n<p class=\"legend\"><span class=\"sw ok\"></span>attempt \
                  <span class=\"sw bad\"></span>failed attempt <span class=\"sw wait\"></span>awaiting approval \
                  <span class=\"sw delay\"></span>retry delay <span class=\"critm\">◆</span> critical path</p>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(1000), 200);
        assert_eq!(tick_step(0), 1);
        assert_eq!(tick_step(90_000), 15_000);
    }

    #[test]
    fn bars_retry_delays_and_the_critical_mark() {
        let svg = render(&super::super::tests::sample().timeline);
        // a: one bar; b<x>: two failed attempts with a delay between.
        assert_eq!(svg.matches("<rect class=\"a ok\"").count(), 1);
        assert_eq!(svg.matches("<rect class=\"a bad\"").count(), 2);
        assert_eq!(svg.matches("<line class=\"delay\"").count(), 1);
        assert!(svg.contains("retry delay 200ms"), "{svg}");
        assert_eq!(svg.matches("class=\"critm\"").count(), 2, "row and legend");
    }
}
