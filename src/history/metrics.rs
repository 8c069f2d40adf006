//! What `orch metrics` and the Pushgateway push count, read from the
//! history as plain rows: runs, top-level steps, attempts, HTTP answers and
//! breakers. Formatting (and aggregation into series) is the report's job.

use rusqlite::params;

use super::error::HistoryError;
use super::store::{now_ms, Store};

/// Which runs count: all of them, one workflow's, those created since a
/// time, or a single run (what a push sends).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MetricsFilter<'a> {
    pub(crate) workflow: Option<&'a str>,
    /// Unix ms; runs created at or after it.
    pub(crate) since_ms: Option<i64>,
    pub(crate) run_id: Option<&'a str>,
}

/// One run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRow {
    pub(crate) workflow: String,
    pub(crate) status: String,
    pub(crate) duration_ms: Option<i64>,
}

/// One top-level step of a run (a `for_each` step counts once).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepRow {
    pub(crate) workflow: String,
    pub(crate) step: String,
    pub(crate) status: String,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) cached: bool,
}

/// Attempts of one step (items included) in one run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttemptCount {
    pub(crate) workflow: String,
    pub(crate) step: String,
    pub(crate) attempts: u64,
}

/// The final answer of one `http`/`call` step or item that made a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpRow {
    /// The service a `call` step's route picked; `None` for `http` steps.
    pub(crate) service: Option<String>,
    pub(crate) code: i64,
}

/// One service's breaker: open now or not (any of its base URLs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BreakerRow {
    pub(crate) service: String,
    pub(crate) open: bool,
}

/// The `WHERE` over `runs r` for a filter; parameters ?1..?3.
const RUNS_WHERE: &str = "(?1 IS NULL OR r.workflow = ?1) \
     AND (?2 IS NULL OR r.created_at >= ?2) AND (?3 IS NULL OR r.id = ?3)";

impl Store {
    pub(crate) fn metric_runs(&self, f: &MetricsFilter<'_>) -> Result<Vec<RunRow>, HistoryError> {
        let run = || -> rusqlite::Result<Vec<RunRow>> {
            let mut st = self.conn.prepare(&format!(
                "SELECT r.workflow, r.status, r.duration_ms FROM runs r WHERE {RUNS_WHERE}"
            ))?;
            let rows = st.query_map(params![f.workflow, f.since_ms, f.run_id], |r| {
                Ok(RunRow {
                    workflow: r.get(0)?,
                    status: r.get(1)?,
                    duration_ms: r.get(2)?,
                })
            })?;
            rows.collect()
        };
        run().map_err(|e| self.err(e))
    }

    pub(crate) fn metric_steps(&self, f: &MetricsFilter<'_>) -> Result<Vec<StepRow>, HistoryError> {
        let run = || -> rusqlite::Result<Vec<StepRow>> {
            let mut st = self.conn.prepare(&format!(
                "SELECT r.workflow, s.step_id, s.status, s.duration_ms, s.cached \
                 FROM runs r JOIN steps s ON s.run_id = r.id \
                 WHERE s.parent IS NULL AND {RUNS_WHERE}"
            ))?;
            let rows = st.query_map(params![f.workflow, f.since_ms, f.run_id], |r| {
                Ok(StepRow {
                    workflow: r.get(0)?,
                    step: r.get(1)?,
                    status: r.get(2)?,
                    duration_ms: r.get(3)?,
                    cached: r.get(4)?,
                })
            })?;
            rows.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Attempt rows by run and top-level step (an item `id[i]` counts for `id`).
    pub(crate) fn metric_attempts(
        &self,
        f: &MetricsFilter<'_>,
    ) -> Result<Vec<AttemptCount>, HistoryError> {
        let run = || -> rusqlite::Result<Vec<AttemptCount>> {
            let mut st = self.conn.prepare(&format!(
                "SELECT r.workflow, coalesce(s.parent, s.step_id), count(*) \
                 FROM runs r JOIN attempts a ON a.run_id = r.id \
                 JOIN steps s ON s.run_id = a.run_id AND s.step_id = a.step_id \
                 WHERE {RUNS_WHERE} GROUP BY r.id, coalesce(s.parent, s.step_id)"
            ))?;
            let rows = st.query_map(params![f.workflow, f.since_ms, f.run_id], |r| {
                Ok(AttemptCount {
                    workflow: r.get(0)?,
                    step: r.get(1)?,
                    attempts: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })?;
            rows.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Steps and items with an HTTP status that made their request (not
    /// cached); a `for_each` step's own row is left out when its items
    /// have rows, so that nothing counts twice. The service is the one the
    /// result records (`steps.<id>.service` of `call` steps).
    pub(crate) fn metric_http(&self, f: &MetricsFilter<'_>) -> Result<Vec<HttpRow>, HistoryError> {
        let run = || -> rusqlite::Result<Vec<HttpRow>> {
            let mut st = self.conn.prepare(&format!(
                "SELECT CASE WHEN json_valid(s.result) \
                        THEN json_extract(s.result, '$.service') END, s.http_status \
                 FROM runs r JOIN steps s ON s.run_id = r.id \
                 WHERE s.http_status IS NOT NULL AND s.cached = 0 \
                   AND NOT EXISTS (SELECT 1 FROM steps c \
                                   WHERE c.run_id = s.run_id AND c.parent = s.step_id) \
                   AND {RUNS_WHERE}"
            ))?;
            let rows = st.query_map(params![f.workflow, f.since_ms, f.run_id], |r| {
                let service: Option<rusqlite::types::Value> = r.get(0)?;
                Ok(HttpRow {
                    service: match service {
                        Some(rusqlite::types::Value::Text(s)) => Some(s),
                        _ => None,
                    },
                    code: r.get(1)?,
                })
            })?;
            rows.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Every service with a recorded breaker; open while its open period
    /// lasts (a half-open one belonged to a run that is gone).
    pub(crate) fn metric_breakers(&self) -> Result<Vec<BreakerRow>, HistoryError> {
        let run = || -> rusqlite::Result<Vec<BreakerRow>> {
            let mut st = self.conn.prepare(
                "SELECT service, max(state = 'open' AND coalesce(open_until, 0) > ?1) \
                 FROM breakers GROUP BY service ORDER BY service",
            )?;
            let rows = st.query_map(params![now_ms()], |r| {
                Ok(BreakerRow {
                    service: r.get(0)?,
                    open: r.get::<_, i64>(1)? != 0,
                })
            })?;
            rows.collect()
        };
        run().map_err(|e| self.err(e))
    }
}
