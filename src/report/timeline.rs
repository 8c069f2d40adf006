//! `orch show RUN --timeline`: a run's steps and attempts as text bars on
//! one time axis, scaled to the terminal's width. Pure: data in, text out.

use console::{measure_text_width, truncate_str};

use super::palette::{paint, Palette};
use crate::duration::short;

/// What a row ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Succeeded,
    Failed,
    Skipped,
    Cached,
    Cancelled,
    Running,
    Waiting,
    Pending,
}

impl Mark {
    fn glyph(self) -> &'static str {
        match self {
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
}

/// What a stretch of a bar was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An attempt that succeeded (or is running).
    Ran,
    /// An attempt that failed or was cancelled.
    Failed,
    /// Waiting for an approval.
    Wait,
}

impl Kind {
    fn glyph(self) -> char {
        match self {
            Kind::Ran => '█',
            Kind::Failed => '▒',
            Kind::Wait => '░',
        }
    }
}

/// A stretch of a row, in ms since the run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) kind: Kind,
}

/// A step, or a for_each item or a child run's step (`parent` set) drawn
/// under its step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// Unique among the rows: a child run's steps are `step/child-step`.
    pub(crate) id: String,
    /// What is shown: the step id (of its own run).
    pub(crate) label: String,
    pub(crate) parent: Option<String>,
    /// An item's name, `test (linux, 20)`: its values follow its id.
    pub(crate) name: Option<String>,
    /// How many rows it is nested under.
    pub(crate) depth: usize,
    /// On the chain of steps that decided the run's length.
    pub(crate) critical: bool,
    pub(crate) mark: Mark,
    pub(crate) segments: Vec<Segment>,
    /// When it started or, for a step that never ran, ended (ms since the
    /// run started): the rows' order.
    pub(crate) at: Option<i64>,
    pub(crate) duration_ms: Option<i64>,
}

/// A run on the time axis: rows in file order and the run's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timeline {
    pub(crate) total_ms: i64,
    pub(crate) rows: Vec<Row>,
}

/// The mark of a row on the critical path.
pub(crate) const CRITICAL: &str = "◆";

/// Narrowest bar drawn; a narrower terminal gets longer lines.
const MIN_BAR: usize = 8;

/// Rows in start order, each nested row (for_each item, child run step)
/// under its parent (in start order too); rows that never started keep
/// their place after those that did.
pub(crate) fn ordered(rows: &[Row]) -> Vec<&Row> {
    let key = |r: &&Row| r.at.unwrap_or(i64::MAX);
    let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut under: std::collections::HashMap<&str, Vec<&Row>> = Default::default();
    let mut top: Vec<&Row> = Vec::new();
    for r in rows {
        match r
            .parent
            .as_deref()
            .filter(|p| ids.contains(p) && *p != r.id)
        {
            Some(p) => under.entry(p).or_default().push(r),
            None => top.push(r),
        }
    }
    top.sort_by_key(key);
    for v in under.values_mut() {
        v.sort_by_key(key);
    }
    let mut out = Vec::with_capacity(rows.len());
    // Depth first, with an explicit stack; `seen` guards against a loop
    // of parents.
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<&Row> = top.into_iter().rev().collect();
    while let Some(r) = stack.pop() {
        if !seen.insert(r.id.as_str()) {
            continue;
        }
        out.push(r);
        if let Some(kids) = under.get(r.id.as_str()) {
            stack.extend(kids.iter().rev());
        }
    }
    out
}

fn duration_text(ms: Option<i64>) -> String {
    ms.map_or_else(
        || "-".to_string(),
        |ms| short(std::time::Duration::from_millis(ms.max(0) as u64)),
    )
}

/// The cells `[from, to)` of a `width`-cell bar a segment covers: at least one.
fn cells(s: &Segment, total: i64, width: usize) -> (usize, usize) {
    let w = width as i64;
    let at = |t: i64| t.clamp(0, total) * w;
    let from = (at(s.start) / total).min(w - 1);
    let to = (at(s.end.max(s.start)) + total - 1) / total;
    (from as usize, to.clamp(from + 1, w) as usize)
}

fn pad_to(text: &str, width: usize) -> String {
    let t = truncate_str(text, width, "…");
    let pad = width.saturating_sub(measure_text_width(&t));
    format!("{t}{}", " ".repeat(pad))
}

/// The timeline as lines of at most `width` columns (when `width` leaves
/// room for a bar of [`MIN_BAR`] cells).
pub(crate) fn render(t: &Timeline, width: usize, color: bool) -> String {
    let p = Palette::new(color);
    let total = t.total_ms.max(1);
    let rows = ordered(&t.rows);
    let label = |r: &Row| {
        // An item's values follow its id: `test[0] (linux, 20)`.
        let values = match (&r.parent, r.name.as_deref()) {
            (Some(_), Some(n)) => n.find(" (").map(|at| &n[at..]).unwrap_or(""),
            _ => "",
        };
        format!("{}{}{values}", "  ".repeat(r.depth), r.label)
    };
    let durations: Vec<String> = rows.iter().map(|r| duration_text(r.duration_ms)).collect();
    let total_text = duration_text(Some(t.total_ms));
    let dur_w = durations
        .iter()
        .map(|d| d.len())
        .chain([total_text.len()])
        .max()
        .unwrap_or(2);
    let longest = rows
        .iter()
        .map(|r| measure_text_width(&label(r)))
        .max()
        .unwrap_or(4);
    // label, space, mark (2 columns: ⚡ is wide), critical mark, space,
    // bar, space, duration
    let fixed = 6 + dur_w;
    let label_w = longest
        .min((width / 3).max(6))
        .min(width.saturating_sub(fixed + MIN_BAR).max(3));
    let bar_w = width.saturating_sub(label_w + fixed).max(MIN_BAR);

    let mut out = String::new();
    // The axis: 0s under the bar's first cell, the total under its last.
    let axis_w = bar_w.max(2 + 1 + total_text.len());
    let gap = axis_w - 2 - total_text.len();
    let axis = format!("0s{}{total_text}", "─".repeat(gap));
    out.push_str(&format!(
        "{} {}\n",
        " ".repeat(label_w + 4),
        paint(&p.dim, &axis)
    ));
    for (r, dur) in rows.iter().zip(&durations) {
        let mut bar = vec![' '; bar_w];
        let mut kinds = vec![None; bar_w];
        for s in &r.segments {
            let (from, to) = cells(s, total, bar_w);
            for c in from..to {
                // A failed attempt or a wait stays visible under a later one.
                if kinds[c].is_none() || s.kind == Kind::Ran && kinds[c] == Some(Kind::Ran) {
                    bar[c] = s.kind.glyph();
                    kinds[c] = Some(s.kind);
                }
            }
        }
        let mut drawn = String::new();
        let mut i = 0;
        while i < bar_w {
            let k = kinds[i];
            let mut j = i;
            while j < bar_w && kinds[j] == k {
                j += 1;
            }
            let run: String = bar[i..j].iter().collect();
            drawn.push_str(&match k {
                Some(Kind::Ran) => paint(&p.ok, &run),
                Some(Kind::Failed) => paint(&p.bad, &run),
                Some(Kind::Wait) => paint(&p.warn, &run),
                None => run,
            });
            i = j;
        }
        let style = match r.mark {
            Mark::Succeeded => &p.ok,
            Mark::Failed | Mark::Cancelled => &p.bad,
            Mark::Cached => &p.cached,
            Mark::Waiting | Mark::Running => &p.warn,
            Mark::Skipped | Mark::Pending => &p.dim,
        };
        let mark = pad_to(r.mark.glyph(), 2);
        let crit = if r.critical {
            paint(&p.warn, CRITICAL)
        } else {
            " ".to_string()
        };
        out.push_str(&format!(
            "{} {}{crit} {drawn} {dur:>dur_w$}\n",
            pad_to(&label(r), label_w),
            paint(style, &mark),
        ));
    }
    let mut legend = "█ attempt  ▒ failed attempt  ░ awaiting approval".to_string();
    if t.rows.iter().any(|r| r.critical) {
        legend.push_str(&format!("  {CRITICAL} critical path"));
    }
    out.push_str(&paint(&p.dim, &truncate_str(&legend, width, "…")));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: i64, end: i64, kind: Kind) -> Segment {
        Segment { start, end, kind }
    }

    fn row(id: &str, mark: Mark, segments: Vec<Segment>, dur: Option<i64>) -> Row {
        Row {
            id: id.into(),
            name: None,
            label: id.into(),
            parent: None,
            depth: 0,
            critical: false,
            mark,
            at: segments.first().map(|s| s.start),
            segments,
            duration_ms: dur,
        }
    }

    fn sample() -> Timeline {
        let mut item = row(
            "fan[0]",
            Mark::Succeeded,
            vec![seg(500, 900, Kind::Ran)],
            Some(400),
        );
        item.parent = Some("fan".into());
        item.depth = 1;
        Timeline {
            total_ms: 2000,
            rows: vec![
                row(
                    "flaky",
                    Mark::Succeeded,
                    vec![seg(0, 200, Kind::Failed), seg(600, 1000, Kind::Ran)],
                    Some(1000),
                ),
                row(
                    "fan",
                    Mark::Succeeded,
                    vec![seg(400, 1000, Kind::Ran)],
                    Some(600),
                ),
                item,
                row(
                    "boom",
                    Mark::Failed,
                    vec![seg(1000, 2000, Kind::Failed)],
                    Some(1000),
                ),
                row(
                    "gate",
                    Mark::Succeeded,
                    vec![seg(100, 1500, Kind::Wait)],
                    Some(1400),
                ),
                row("never", Mark::Skipped, vec![], None),
                row(
                    "instant",
                    Mark::Cached,
                    vec![seg(1200, 1200, Kind::Ran)],
                    Some(0),
                ),
            ],
        }
    }

    #[test]
    fn fits_the_width() {
        for width in [40, 80, 200] {
            let text = render(&sample(), width, false);
            for line in text.lines() {
                assert!(
                    measure_text_width(line) <= width,
                    "{width}: {line:?} is {} wide",
                    measure_text_width(line)
                );
            }
            // The bar takes the room there is.
            let flaky = text.lines().find(|l| l.starts_with("flaky")).unwrap();
            assert!(measure_text_width(flaky) == width, "{width}: {flaky:?}");
        }
    }

    #[test]
    fn rows_in_start_order_items_under_their_step() {
        let text = render(&sample(), 80, false);
        let ids: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            ids,
            ["flaky", "gate", "fan", "fan[0]", "boom", "instant", "never", "█"]
        );
        assert!(text.lines().any(|l| l.starts_with("  fan[0]")));
    }

    #[test]
    fn bars_are_placed_and_scaled() {
        // 40 columns: label 8, mark 2, critical mark 1, duration 5 and
        // four spaces → a 21-cell bar, starting at column 13, for 2 s.
        let text = render(&sample(), 40, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("{}0s{}2.0s", " ".repeat(13), "─".repeat(15))
        );
        let bar = |id: &str| -> String {
            let l = lines.iter().find(|l| l.starts_with(id)).unwrap();
            l.chars().skip(13).take(21).collect()
        };
        // The failed attempt, the retry delay as a gap, then the success.
        assert_eq!(
            bar("flaky"),
            format!("▒▒▒{}█████{}", " ".repeat(3), " ".repeat(10))
        );
        assert_eq!(bar("boom"), format!("{}{}", " ".repeat(10), "▒".repeat(11)));
        assert_eq!(bar("gate"), format!(" {}{}", "░".repeat(15), " ".repeat(5)));
        // A zero-length step still gets a cell.
        assert_eq!(bar("instant").trim(), "█");
        assert_eq!(bar("never").trim(), "");
        assert!(lines
            .iter()
            .any(|l| l.starts_with("boom     ✗ ") && l.ends_with(" 1.0s")));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("instant  ⚡ ") && l.ends_with("0ms")));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("never    ↷ ") && l.ends_with("    -")));
    }

    #[test]
    fn child_runs_nest_under_their_step_and_the_critical_path_is_marked() {
        let mut t = sample();
        let mut sub = row(
            "fan[0]/build",
            Mark::Succeeded,
            vec![seg(550, 800, Kind::Ran)],
            Some(250),
        );
        sub.label = "build".into();
        sub.parent = Some("fan[0]".into());
        sub.depth = 2;
        t.rows.push(sub);
        t.rows[0].critical = true;
        let text = render(&t, 80, false);
        let lines: Vec<&str> = text.lines().collect();
        let at = |p: &str| lines.iter().position(|l| l.starts_with(p)).unwrap();
        assert_eq!(at("    build "), at("  fan[0]") + 1, "{text}");
        assert!(lines[at("flaky")].starts_with("flaky     ✓ ◆ "), "{text}");
        assert!(lines[at("boom")].starts_with("boom      ✗   "), "{text}");
        assert!(text.ends_with("◆ critical path\n"), "{text}");
    }

    #[test]
    fn zero_length_run_and_long_names() {
        let t = Timeline {
            total_ms: 0,
            rows: vec![row(
                "a-very-long-step-name-that-does-not-fit",
                Mark::Succeeded,
                vec![seg(0, 0, Kind::Ran)],
                Some(0),
            )],
        };
        let text = render(&t, 40, false);
        for line in text.lines() {
            assert!(measure_text_width(line) <= 40, "{line:?}");
        }
        assert!(text.contains("a-very-long-…"), "{text}");
        assert!(text.contains('█'));
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!render(&sample(), 80, false).contains('\u{1b}'));
        assert!(render(&sample(), 80, true).contains('\u{1b}'));
    }
}
