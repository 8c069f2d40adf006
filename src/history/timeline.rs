//! The read side of `orch show RUN --timeline`: when each step, each of
//! its attempts and each approval wait began and ended.

use rusqlite::Row;

use super::error::HistoryError;
use super::store::Store;
use crate::event::Status;

/// A step (or for_each item) on the time axis, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepSpan {
    pub(crate) step_id: String,
    pub(crate) parent: Option<String>,
    pub(crate) status: Status,
    pub(crate) cached: bool,
    /// Unix ms.
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) duration_ms: Option<i64>,
    /// How an item is shown, `test (linux, 20)` (`None` for steps).
    pub(crate) name: Option<String>,
}

/// One attempt of a step, in the order they ran (resumes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttemptSpan {
    pub(crate) step_id: String,
    pub(crate) status: Status,
    pub(crate) started_at: i64,
    pub(crate) finished_at: Option<i64>,
}

/// An approval step's wait for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WaitSpan {
    pub(crate) step_id: String,
    pub(crate) requested_at: i64,
    pub(crate) decided_at: Option<i64>,
}

/// Everything the timeline of one run draws.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RunSpans {
    pub(crate) steps: Vec<StepSpan>,
    pub(crate) attempts: Vec<AttemptSpan>,
    pub(crate) waits: Vec<WaitSpan>,
}

fn step_span(r: &Row<'_>) -> rusqlite::Result<StepSpan> {
    Ok(StepSpan {
        step_id: r.get(0)?,
        parent: r.get(1)?,
        status: r.get(2)?,
        cached: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        duration_ms: r.get(6)?,
        name: r.get(7)?,
    })
}

fn attempt_span(r: &Row<'_>) -> rusqlite::Result<AttemptSpan> {
    Ok(AttemptSpan {
        step_id: r.get(0)?,
        status: r.get(1)?,
        started_at: r.get(2)?,
        finished_at: r.get(3)?,
    })
}

fn wait_span(r: &Row<'_>) -> rusqlite::Result<WaitSpan> {
    Ok(WaitSpan {
        step_id: r.get(0)?,
        requested_at: r.get(1)?,
        decided_at: r.get(2)?,
    })
}

impl Store {
    /// The spans of `run_id`'s steps, attempts and approval waits.
    pub(crate) fn run_spans(&self, run_id: &str) -> Result<RunSpans, HistoryError> {
        let read = || -> rusqlite::Result<RunSpans> {
            let steps = self
                .conn
                .prepare_cached(
                    "SELECT step_id, parent, status, cached, started_at, finished_at, duration_ms, \
                     CASE WHEN parent IS NOT NULL AND json_valid(result) \
                     THEN json_extract(result, '$.name') END \
                     FROM steps WHERE run_id = ?1 ORDER BY position, item IS NOT NULL, item",
                )?
                .query_map([run_id], step_span)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let attempts = self
                .conn
                .prepare_cached(
                    "SELECT step_id, status, started_at, finished_at FROM attempts \
                     WHERE run_id = ?1 ORDER BY run_attempt, attempt, started_at",
                )?
                .query_map([run_id], attempt_span)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let waits = self
                .conn
                .prepare_cached(
                    "SELECT step_id, requested_at, decided_at FROM approvals \
                     WHERE run_id = ?1 ORDER BY requested_at",
                )?
                .query_map([run_id], wait_span)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(RunSpans {
                steps,
                attempts,
                waits,
            })
        };
        read().map_err(|e| self.err(e))
    }
}
