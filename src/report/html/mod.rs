//! `orch report`: one self-contained HTML page of a recorded run (inline
//! CSS, SVG and a few lines of JS; nothing fetched). Pure: the model in,
//! the page out. Everything that came from a workflow or a run is escaped.

mod css;
mod dag;
mod gantt;
mod table;

use std::fmt::Write as _;

use super::timeline::Timeline;

pub(crate) use dag::{Dag, DagNode};
pub(crate) use table::{first_failure as table_first_failure, StepLine};

/// Everything the page shows.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) meta: Meta,
    pub(crate) timeline: Timeline,
    pub(crate) dag: Dag,
    /// Steps and items (and child runs' steps), in file order.
    pub(crate) steps: Vec<StepLine>,
}

/// The run's header.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub(crate) run_id: String,
    pub(crate) workflow: String,
    pub(crate) file: String,
    pub(crate) status: String,
    /// The orch that recorded the run, and the one writing the page.
    pub(crate) recorded_by: String,
    pub(crate) orch_version: String,
    pub(crate) started: Option<String>,
    pub(crate) finished: Option<String>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) attempt: i64,
    pub(crate) parent_run: Option<String>,
    pub(crate) error: Option<String>,
    /// As recorded (secret values are masked when recorded).
    pub(crate) inputs: Vec<(String, String)>,
    /// `user@host` writing the report (history does not record who ran it).
    pub(crate) generated_by: String,
    pub(crate) generated_at: String,
}

/// `s` safe inside HTML text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than newline and tab are not
            // allowed in HTML text.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, `…` marking a cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The CSS class of a shown status.
pub(crate) fn status_class(status: &str) -> &'static str {
    match status {
        "succeeded" => "ok",
        "failed" | "cancelled" | "interrupted" => "bad",
        "compensated" => "comp",
        "cached" => "cached",
        "skipped" => "skip",
        "waiting" => "wait",
        "running" | "retrying" => "run",
        _ => "pend",
    }
}

pub(crate) fn duration_text(ms: Option<i64>) -> String {
    ms.and_then(|m| u64::try_from(m).ok()).map_or_else(
        || "-".to_string(),
        |ms| crate::duration::short(std::time::Duration::from_millis(ms)),
    )
}

/// The whole page.
pub(crate) fn render(r: &Report) -> String {
    let m = &r.meta;
    let mut out = String::with_capacity(64 * 1024 + r.steps.len() * 1024);
    let title = format!("orch run {} — {}", clip(&m.run_id, 12), m.workflow);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(&title),
        css::CSS
    );
    meta(&mut out, m);
    let _ = write!(
        out,
        "<section id=\"timeline\"><h2>Timeline</h2>\n{}</section>\n",
        gantt::render(&r.timeline)
    );
    let _ = write!(
        out,
        "<section id=\"graph\"><h2>Graph</h2>\n{}</section>\n",
        dag::render(&r.dag)
    );
    table::render(&mut out, &r.steps);
    let _ = write!(
        out,
        "<footer>Written by orch {} at {} for {}.</footer>\n<script>{}</script>\n</body>\n</html>\n",
        esc(&m.orch_version),
        esc(&m.generated_at),
        esc(&m.generated_by),
        css::JS
    );
    out
}

fn meta(out: &mut String, m: &Meta) {
    let cls = status_class(&m.status);
    let _ = write!(
        out,
        "<header><h1>{} <span class=\"badge {cls}\">{}</span></h1>\n<dl id=\"meta\">\n",
        esc(&m.workflow),
        esc(&m.status)
    );
    let mut item = |k: &str, v: &str| {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    };
    item("run", &m.run_id);
    item("file", &m.file);
    if let Some(p) = &m.parent_run {
        item("started by run", p);
    }
    item("started", m.started.as_deref().unwrap_or("-"));
    item("finished", m.finished.as_deref().unwrap_or("-"));
    item("duration", &duration_text(m.duration_ms));
    if m.attempt > 1 {
        item("attempt", &format!("{} (resumed)", m.attempt));
    }
    item("recorded by", &format!("orch {}", m.recorded_by));
    item("report by", &m.generated_by);
    if let Some(e) = &m.error {
        item("error", e);
    }
    out.push_str("</dl>\n");
    if !m.inputs.is_empty() {
        out.push_str("<table id=\"inputs\"><caption>Inputs</caption>\n");
        for (k, v) in &m.inputs {
            let _ = writeln!(
                out,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                esc(k),
                esc(&clip(v, 2000))
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</header>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::timeline::{Kind, Mark, Row, Segment};

    pub(super) fn sample() -> Report {
        let row = |id: &str, mark, segs: Vec<(i64, i64, Kind)>| Row {
            id: id.into(),
            label: id.into(),
            parent: None,
            name: None,
            depth: 0,
            critical: id == "b<x>",
            mark,
            at: segs.first().map(|s| s.0),
            segments: segs
                .into_iter()
                .map(|(start, end, kind)| Segment { start, end, kind })
                .collect(),
            duration_ms: Some(100),
        };
        Report {
            meta: Meta {
                run_id: "01RUN".into(),
                workflow: "w<script>".into(),
                status: "failed".into(),
                inputs: vec![("who".into(), "\"a&b\"".into())],
                ..Meta::default()
            },
            timeline: Timeline {
                total_ms: 1000,
                rows: vec![
                    row("a", Mark::Succeeded, vec![(0, 300, Kind::Ran)]),
                    row(
                        "b<x>",
                        Mark::Failed,
                        vec![(300, 400, Kind::Failed), (600, 1000, Kind::Failed)],
                    ),
                ],
            },
            dag: Dag {
                nodes: vec![
                    DagNode {
                        id: "a".into(),
                        status: "succeeded".into(),
                        level: 0,
                        critical: false,
                    },
                    DagNode {
                        id: "b<x>".into(),
                        status: "failed".into(),
                        level: 1,
                        critical: true,
                    },
                ],
                edges: vec![(0, 1)],
                note: None,
            },
            steps: vec![
                StepLine {
                    id: "a".into(),
                    status: "succeeded".into(),
                    attempts: 1,
                    duration_ms: Some(300),
                    ..StepLine::default()
                },
                StepLine {
                    id: "b<x>".into(),
                    status: "failed".into(),
                    attempts: 2,
                    duration_ms: Some(700),
                    exit_code: Some(3),
                    error: Some("exit <3>".into()),
                    log_tail: Some("</pre><script>alert(1)</script>".into()),
                    finished_at: Some(10),
                    ..StepLine::default()
                },
            ],
        }
    }

    #[test]
    fn everything_from_the_run_is_escaped() {
        let page = render(&sample());
        // The only scripts are the page's own.
        assert_eq!(page.matches("<script>").count(), 1, "{page}");
        assert!(!page.contains("b<x>"));
        assert!(page.contains("b&lt;x&gt;"));
        assert!(page.contains("&quot;a&amp;b&quot;"));
        assert!(page.contains("w&lt;script&gt;"));
        // Nothing is fetched.
        for needle in ["http://", "https://", "src=\"", "@import", "url("] {
            assert!(!page.contains(needle), "{needle}");
        }
    }

    #[test]
    fn the_page_has_its_parts() {
        let page = render(&sample());
        for id in [
            "id=\"meta\"",
            "id=\"gantt\"",
            "id=\"dag\"",
            "id=\"steps\"",
            "id=\"first-failure\"",
        ] {
            assert!(page.contains(id), "{id}");
        }
        assert!(page.contains("class=\"row crit\""), "the critical row");
    }

    #[test]
    fn escape_and_clip() {
        assert_eq!(
            esc("<a href='x'>&\u{1b}"),
            "&lt;a href=&#39;x&#39;&gt;&amp;\u{fffd}"
        );
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
