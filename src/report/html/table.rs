//! The step table: status, duration, attempts, exit or HTTP status, cache
//! and error of every step, sortable by duration; the first failure first,
//! with the tail of its log, above it.

use std::fmt::Write as _;

use super::{clip, duration_text, esc, status_class};

/// One step, item or child run step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StepLine {
    /// Unique: a child run's steps are `step/child-step`.
    pub(crate) id: String,
    pub(crate) depth: usize,
    pub(crate) status: String,
    pub(crate) attempts: i64,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) exit_code: Option<i64>,
    pub(crate) http_status: Option<i64>,
    pub(crate) cached: bool,
    pub(crate) error: Option<String>,
    /// The last lines of its log (masked when written); for failures.
    pub(crate) log_tail: Option<String>,
    /// When it ended (unix ms): which failure came first.
    pub(crate) finished_at: Option<i64>,
}

fn failed(s: &StepLine) -> bool {
    status_class(&s.status) == "bad"
}

/// The failure that ended first (file order among equals).
pub(crate) fn first_failure(steps: &[StepLine]) -> Option<usize> {
    steps
        .iter()
        .enumerate()
        .filter(|(_, s)| failed(s))
        .min_by_key(|(i, s)| (s.finished_at.unwrap_or(i64::MAX), *i))
        .map(|(i, _)| i)
}

pub(super) fn render(out: &mut String, steps: &[StepLine]) {
    let first = first_failure(steps);
    if let Some(f) = first.map(|i| &steps[i]) {
        let _ = writeln!(
            out,
            "<section id=\"first-failure\"><h2>First failure: <code>{}</code></h2>",
            esc(&f.id)
        );
        if let Some(e) = &f.error {
            let _ = writeln!(out, "<p class=\"err\">{}</p>", esc(&clip(e, 4000)));
        }
        match &f.log_tail {
            Some(t) => {
                let _ = writeln!(
                    out,
                    "<p>The end of its log:</p>\n<pre class=\"log\">{}</pre>",
                    esc(t)
                );
            }
            None => out.push_str("<p>It wrote no log.</p>\n"),
        }
        out.push_str("</section>\n");
    }
    let _ = write!(
        out,
        "<section id=\"table\"><h2>Steps</h2>\n<table id=\"steps\">\n<thead><tr>\
         <th>step</th><th>status</th>\
         <th class=\"sort num\" data-sort=\"ms\" title=\"sort by duration\">duration ⇅</th>\
         <th class=\"num\">attempts</th><th class=\"num\">exit / HTTP</th><th>cache</th><th>error</th>\
         </tr></thead>\n<tbody>\n"
    );
    // The first failure first, then the file's order.
    let order = first
        .into_iter()
        .chain((0..steps.len()).filter(|&i| Some(i) != first));
    for i in order {
        let s = &steps[i];
        let code = match (s.exit_code, s.http_status) {
            (Some(e), _) => e.to_string(),
            (None, Some(h)) => format!("HTTP {h}"),
            (None, None) => String::new(),
        };
        let cls = status_class(&s.status);
        let first_cls = if Some(i) == first { " first" } else { "" };
        let _ = write!(
            out,
            "<tr class=\"{cls}{first_cls}\" data-ms=\"{}\" data-i=\"{i}\"><td style=\"padding-left:{}px\"><code>{}</code></td>\
             <td><span class=\"badge {cls}\">{}</span></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>",
            s.duration_ms.unwrap_or(-1),
            6 + 14 * s.depth.min(10),
            esc(&s.id),
            esc(&s.status),
            duration_text(s.duration_ms),
            s.attempts,
            esc(&code),
            if s.cached { "hit" } else { "" },
        );
        if let Some(e) = &s.error {
            let _ = write!(out, "{}", esc(&clip(e, 300)));
        }
        if let (Some(t), false) = (&s.log_tail, Some(i) == first) {
            let _ = write!(
                out,
                "<details><summary>log tail</summary><pre class=\"log\">{}</pre></details>",
                esc(t)
            );
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_comes_first_with_its_log() {
        let mut steps = super::super::tests::sample().steps;
        steps.push(StepLine {
            id: "later".into(),
            status: "failed".into(),
            finished_at: Some(99),
            log_tail: Some("late tail".into()),
            ..StepLine::default()
        });
        assert_eq!(first_failure(&steps), Some(1));
        let mut out = String::new();
        render(&mut out, &steps);
        let tbody = &out[out.find("<tbody>").unwrap()..];
        let first_row = tbody.find("b&lt;x&gt;").unwrap();
        assert!(first_row < tbody.find("<code>a</code>").unwrap(), "{out}");
        assert!(out.contains("&lt;/pre&gt;&lt;script&gt;"), "{out}");
        assert!(out.contains("<details><summary>log tail</summary><pre class=\"log\">late tail"));
        assert!(out.contains("data-ms=\"700\""));
    }
}
