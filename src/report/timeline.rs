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

/// A step, or a for_each item (`parent` set) drawn under its step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) parent: Option<String>,
    /// An item's name, `test (linux, 20)`: its values follow its id.
    pub(crate) name: Option<String>,
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

/// Narrowest bar drawn; a narrower terminal gets longer lines.
const MIN_BAR: usize = 8;

/// Rows in start order, each for_each item under its step (in start
/// order too); rows that never started keep their place after those that did.
fn ordered(rows: &[Row]) -> Vec<&Row> {
    let key = |r: &&Row| r.at.unwrap_or(i64::MAX);
    let mut top: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.parent
                .as_ref()
                .is_none_or(|p| !rows.iter().any(|t| &t.id == p))
        })
        .collect();
    top.sort_by_key(key);
    let mut out = Vec::with_capacity(rows.len());
    for t in top {
        out.push(t);
        let mut items: Vec<&Row> = rows
            .iter()
            .filter(|r| r.parent.as_deref() == Some(t.id.as_str()))
            .collect();
        items.sort_by_key(key);
        out.extend(items);
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
        if r.parent.is_some() {
            match r
                .name
                .as_deref()
                .and_then(|n| n.find(" (").map(|at| &n[at + 1..]))
            {
                Some(values) => format!("  {} {values}", r.id),
                None => format!("  {}", r.id),
            }
        } else {
            r.id.clone()
        }
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
    // label, space, mark (2 columns: ⚡ is wide), space, bar, space, duration
    let fixed = 5 + dur_w;
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
        " ".repeat(label_w + 3),
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
        out.push_str(&format!(
            "{} {} {drawn} {dur:>dur_w$}\n",
            pad_to(&label(r), label_w),
            paint(style, &mark),
        ));
    }
    let legend = "█ attempt  ▒ failed attempt  ░ awaiting approval";
    out.push_str(&paint(&p.dim, &truncate_str(legend, width, "…")));
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
            parent: None,
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
        // 40 columns: label 8, mark 2, duration 5 and four spaces → a
        // 22-cell bar, starting at column 12, for 2 s.
        let text = render(&sample(), 40, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("{}0s{}2.0s", " ".repeat(12), "─".repeat(16))
        );
        let bar = |id: &str| -> String {
            let l = lines.iter().find(|l| l.starts_with(id)).unwrap();
            l.chars().skip(12).take(22).collect()
        };
        // The failed attempt, the retry delay as a gap, then the success.
        assert_eq!(
            bar("flaky"),
            format!("▒▒▒{}█████{}", " ".repeat(3), " ".repeat(11))
        );
        assert_eq!(bar("boom"), format!("{}{}", " ".repeat(11), "▒".repeat(11)));
        assert_eq!(bar("gate"), format!(" {}{}", "░".repeat(16), " ".repeat(5)));
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
