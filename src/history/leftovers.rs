//! The process groups of attempts that were still running when their run
//! was interrupted (orch killed), in the run and its child runs: what
//! `orch resume` stops before running those steps again.

use super::{HistoryError, Store};

/// One attempt's process group, as recorded when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeftoverRow {
    pub(crate) run_id: String,
    /// `id` or `id[i]`.
    pub(crate) step_id: String,
    /// The group of the step's `compensate:` body, not of the step.
    pub(crate) compensation: bool,
    pub(crate) pgid: i32,
    /// `boot_id:ticks` of the group's leader; `None` where unknown.
    pub(crate) start: Option<String>,
}

/// `run_id` and its descendants, as a CTE named `tree`.
const TREE: &str = "WITH RECURSIVE tree(id) AS (SELECT ?1 \
     UNION SELECT r.id FROM runs r JOIN tree t ON r.parent_run_id = t.id)";

impl Store {
    /// Groups of attempts (and compensations) left `running` in `run_id`
    /// and its child runs: the process that would have ended them died.
    pub(crate) fn leftover_processes(
        &self,
        run_id: &str,
    ) -> Result<Vec<LeftoverRow>, HistoryError> {
        let sql = format!(
            "{TREE} \
             SELECT a.run_id, a.step_id, 0, a.pgid, a.pgid_start FROM attempts a \
               JOIN tree t ON a.run_id = t.id WHERE a.status = 'running' AND a.pgid IS NOT NULL \
             UNION ALL \
             SELECT c.run_id, c.step_id, 1, c.pgid, c.pgid_start FROM compensations c \
               JOIN tree t ON c.run_id = t.id WHERE c.status = 'running' AND c.pgid IS NOT NULL \
             ORDER BY 1, 2"
        );
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                Ok(LeftoverRow {
                    run_id: r.get(0)?,
                    step_id: r.get(1)?,
                    compensation: r.get(2)?,
                    pgid: r.get(3)?,
                    start: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// The groups of [`Store::leftover_processes`] were dealt with: a later
    /// resume must not look for them again.
    pub(crate) fn forget_leftover_processes(&mut self, run_id: &str) -> Result<(), HistoryError> {
        for table in ["attempts", "compensations"] {
            self.conn
                .execute(
                    &format!(
                        "{TREE} UPDATE {table} SET pgid = NULL, pgid_start = NULL \
                         WHERE run_id IN (SELECT id FROM tree) AND status = 'running' \
                         AND pgid IS NOT NULL"
                    ),
                    [run_id],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}
