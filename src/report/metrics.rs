//! The Prometheus text exposition (format 0.0.4) of what the history
//! recorded: `orch metrics`, its `--serve` scrape target and the
//! Pushgateway push all print these bytes. Labels are bounded: workflow and
//! step ids, statuses, services and HTTP codes; never a run id.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::history::metrics::{AttemptCount, BreakerRow, HttpRow, MetricsFilter, RunRow, StepRow};
use crate::history::{HistoryError, Store};

/// The `Content-Type` of the exposition.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the duration histograms' buckets, for runs
/// and steps alike: from a quick command to an hour-long job.
pub(crate) const BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Everything one exposition is made of.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) runs: Vec<RunRow>,
    pub(crate) steps: Vec<StepRow>,
    pub(crate) attempts: Vec<AttemptCount>,
    pub(crate) http: Vec<HttpRow>,
    pub(crate) breakers: Vec<BreakerRow>,
}

impl Snapshot {
    pub(crate) fn read(store: &Store, f: &MetricsFilter<'_>) -> Result<Snapshot, HistoryError> {
        Ok(Snapshot {
            runs: store.metric_runs(f)?,
            steps: store.metric_steps(f)?,
            attempts: store.metric_attempts(f)?,
            http: store.metric_http(f)?,
            breakers: store.metric_breakers()?,
        })
    }
}

/// The exposition of what `store` holds for `f`.
pub(crate) fn exposition(store: &Store, f: &MetricsFilter<'_>) -> Result<String, HistoryError> {
    Ok(render(&Snapshot::read(store, f)?))
}

#[derive(Default)]
struct Histogram {
    /// Observations per bucket (not cumulative), plus `+Inf` last.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS.len() + 1];
        }
        let i = BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

type Labels = Vec<(&'static str, String)>;

pub(crate) fn render(s: &Snapshot) -> String {
    let mut runs: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut run_durations: BTreeMap<String, Histogram> = BTreeMap::new();
    for r in &s.runs {
        *runs
            .entry((r.workflow.clone(), r.status.clone()))
            .or_default() += 1;
        if let Some(ms) = r.duration_ms {
            run_durations
                .entry(r.workflow.clone())
                .or_default()
                .observe(ms.max(0) as f64 / 1000.0);
        }
    }
    let mut steps: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut step_durations: BTreeMap<(String, String), Histogram> = BTreeMap::new();
    let mut cache_hits: BTreeMap<(String, String), u64> = BTreeMap::new();
    for st in &s.steps {
        let key = (st.workflow.clone(), st.step.clone());
        *steps
            .entry((st.workflow.clone(), st.step.clone(), st.status.clone()))
            .or_default() += 1;
        if st.cached {
            *cache_hits.entry(key.clone()).or_default() += 1;
        } else if let Some(ms) = st.duration_ms {
            // A cached step took no time: only steps that ran are observed.
            step_durations
                .entry(key)
                .or_default()
                .observe(ms.max(0) as f64 / 1000.0);
        }
    }
    let mut attempts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for a in &s.attempts {
        *attempts
            .entry((a.workflow.clone(), a.step.clone()))
            .or_default() += a.attempts;
    }
    let mut http: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for h in &s.http {
        *http
            .entry((h.service.clone().unwrap_or_default(), h.code))
            .or_default() += 1;
    }

    let mut out = String::new();
    family(
        &mut out,
        "orchestration_runs_total",
        "Runs recorded, by workflow and final status.",
        "counter",
        runs.iter().map(|((w, st), n)| {
            (
                vec![("workflow", w.clone()), ("status", st.clone())],
                *n as f64,
            )
        }),
    );
    histogram(
        &mut out,
        "orchestration_run_duration_seconds",
        "Duration of finished runs.",
        run_durations
            .iter()
            .map(|(w, h)| (vec![("workflow", w.clone())], h)),
    );
    family(
        &mut out,
        "orchestration_steps_total",
        "Top-level steps of recorded runs, by final status.",
        "counter",
        steps.iter().map(|((w, step, st), n)| {
            (
                vec![
                    ("workflow", w.clone()),
                    ("step", step.clone()),
                    ("status", st.clone()),
                ],
                *n as f64,
            )
        }),
    );
    histogram(
        &mut out,
        "orchestration_step_duration_seconds",
        "Duration of steps that ran (not cached).",
        step_durations
            .iter()
            .map(|((w, step), h)| (vec![("workflow", w.clone()), ("step", step.clone())], h)),
    );
    family(
        &mut out,
        "orchestration_step_attempts_total",
        "Attempts of steps (for_each items included), retries and resumes included.",
        "counter",
        attempts.iter().map(|((w, step), n)| {
            (
                vec![("workflow", w.clone()), ("step", step.clone())],
                *n as f64,
            )
        }),
    );
    family(
        &mut out,
        "orchestration_cache_hits_total",
        "Steps whose result came from the step cache.",
        "counter",
        cache_hits.iter().map(|((w, step), n)| {
            (
                vec![("workflow", w.clone()), ("step", step.clone())],
                *n as f64,
            )
        }),
    );
    family(
        &mut out,
        "orchestration_http_requests_total",
        "Final HTTP answers of http and call steps, by service (empty for http steps) and status code.",
        "counter",
        http.iter().map(|((svc, code), n)| {
            (
                vec![("service", svc.clone()), ("code", code.to_string())],
                *n as f64,
            )
        }),
    );
    family(
        &mut out,
        "orchestration_circuit_breaker_open",
        "1 while the service's circuit breaker is open.",
        "gauge",
        s.breakers.iter().map(|b| {
            (
                vec![("service", b.service.clone())],
                if b.open { 1.0 } else { 0.0 },
            )
        }),
    );
    out
}

/// `# HELP`, `# TYPE` and one line per series.
fn family(
    out: &mut String,
    name: &str,
    help: &str,
    kind: &str,
    series: impl Iterator<Item = (Labels, f64)>,
) {
    // A family without series is left out: the Pushgateway refuses those.
    let mut series = series.peekable();
    if series.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, v) in series {
        let _ = writeln!(out, "{name}{} {}", labels_text(&labels), number(v));
    }
}

fn histogram<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    series: impl Iterator<Item = (Labels, &'a Histogram)>,
) {
    let mut series = series.peekable();
    if series.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (labels, h) in series {
        let mut cumulative = 0;
        for (i, n) in h.buckets.iter().enumerate() {
            cumulative += n;
            let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| number(*b));
            let mut l = labels.clone();
            l.push(("le", le));
            let _ = writeln!(out, "{name}_bucket{} {cumulative}", labels_text(&l));
        }
        let l = labels_text(&labels);
        let _ = writeln!(out, "{name}_sum{l} {}", number(h.sum));
        let _ = writeln!(out, "{name}_count{l} {}", h.count);
    }
}

fn labels_text(labels: &[(&str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Label values escape `\`, `"` and newlines.
fn escape_label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// HELP text escapes `\` and newlines.
fn escape_help(v: &str) -> String {
    v.replace('\\', r"\\").replace('\n', r"\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_labels_escaped() {
        let s = Snapshot {
            runs: vec![
                RunRow {
                    workflow: "a\"b".into(),
                    status: "succeeded".into(),
                    duration_ms: Some(700),
                },
                RunRow {
                    workflow: "a\"b".into(),
                    status: "failed".into(),
                    duration_ms: Some(4000),
                },
            ],
            ..Snapshot::default()
        };
        let text = render(&s);
        assert!(
            text.contains("orchestration_runs_total{workflow=\"a\\\"b\",status=\"failed\"} 1\n")
        );
        assert!(text.contains(
            "orchestration_run_duration_seconds_bucket{workflow=\"a\\\"b\",le=\"0.5\"} 0\n"
        ));
        assert!(text.contains(
            "orchestration_run_duration_seconds_bucket{workflow=\"a\\\"b\",le=\"1\"} 1\n"
        ));
        assert!(text.contains(
            "orchestration_run_duration_seconds_bucket{workflow=\"a\\\"b\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains("orchestration_run_duration_seconds_sum{workflow=\"a\\\"b\"} 4.7\n"));
        // No breakers recorded: no family.
        assert!(!text.contains("orchestration_circuit_breaker_open"));
    }
}
