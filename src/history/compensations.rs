//! Reads of the `compensations` table: one row per step (or `for_each`
//! item) that the saga undid, or began to undo, after the run failed.

use rusqlite::Row;

use super::{HistoryError, Store};

/// One compensation as recorded.
#[derive(Debug, Clone)]
pub(crate) struct CompensationRow {
    /// `id`, or `id[i]` for one item.
    pub(crate) step_id: String,
    /// `running` (still, or when its process died), `succeeded`, `failed`
    /// or `cancelled`.
    pub(crate) status: String,
    pub(crate) attempts: i64,
    pub(crate) started_at: i64,
    pub(crate) finished_at: Option<i64>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) error: Option<String>,
}

impl CompensationRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(CompensationRow {
            step_id: r.get(0)?,
            status: r.get(1)?,
            attempts: r.get(2)?,
            started_at: r.get(3)?,
            finished_at: r.get(4)?,
            duration_ms: r.get(5)?,
            error: r.get(6)?,
        })
    }

    /// Ran to its end (successfully or not): resume does not repeat it.
    pub(crate) fn finished(&self) -> bool {
        self.status != "running"
    }
}

impl Store {
    /// The run's compensations, in the order they started.
    pub(crate) fn compensations(&self, run_id: &str) -> Result<Vec<CompensationRow>, HistoryError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT step_id, status, attempts, started_at, finished_at, duration_ms, error \
                 FROM compensations WHERE run_id = ?1 ORDER BY started_at, rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], CompensationRow::from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}
