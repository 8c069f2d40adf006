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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::runs::NewRun;
    use crate::history::Home;

    fn run<'a>(id: &'a str, parent: Option<&'a str>, json: &'a serde_json::Value) -> NewRun<'a> {
        NewRun {
            id,
            workflow: "w",
            version: None,
            file_path: "w.yaml",
            file_hash: "h",
            definitions: json,
            inputs: json,
            parent_run_id: parent,
            project_dir: ".",
            config_path: None,
            steps: &["a", "b"],
        }
    }

    fn attempt(s: &Store, run: &str, step: &str, status: &str, pgid: Option<i32>) {
        s.conn
            .execute(
                "INSERT INTO attempts (run_id, step_id, run_attempt, attempt, status, started_at, \
                 pgid, pgid_start) VALUES (?1, ?2, 1, 1, ?3, 0, ?4, 'boot:7')",
                rusqlite::params![run, step, status, pgid],
            )
            .unwrap();
    }

    #[test]
    fn the_running_groups_of_a_run_and_its_children_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            dir: dir.path().to_path_buf(),
            in_memory: false,
        };
        let mut s = Store::open(&home).unwrap();
        let j = serde_json::json!({});
        s.create_run(&run("r1", None, &j)).unwrap();
        s.create_run(&run("c1", Some("r1"), &j)).unwrap();
        s.create_run(&run("other", None, &j)).unwrap();
        attempt(&s, "r1", "a", "running", Some(100));
        attempt(&s, "r1", "b", "succeeded", Some(101));
        attempt(&s, "c1", "a", "running", Some(102));
        attempt(&s, "c1", "b", "running", None);
        attempt(&s, "other", "a", "running", Some(103));
        s.conn
            .execute(
                "INSERT INTO compensations (run_id, step_id, status, started_at, pgid, pgid_start) \
                 VALUES ('r1', 'b', 'running', 0, 104, NULL)",
                [],
            )
            .unwrap();
        let got: Vec<(String, String, bool, i32, Option<String>)> = s
            .leftover_processes("r1")
            .unwrap()
            .into_iter()
            .map(|r| (r.run_id, r.step_id, r.compensation, r.pgid, r.start))
            .collect();
        let row = |run: &str, step: &str, comp, pgid, start: Option<&str>| {
            (run.into(), step.into(), comp, pgid, start.map(Into::into))
        };
        assert_eq!(
            got,
            [
                row("c1", "a", false, 102, Some("boot:7")),
                row("r1", "a", false, 100, Some("boot:7")),
                row("r1", "b", true, 104, None),
            ]
        );
        s.forget_leftover_processes("r1").unwrap();
        assert!(s.leftover_processes("r1").unwrap().is_empty());
        // Another run's are not this run's to forget.
        assert_eq!(s.leftover_processes("other").unwrap().len(), 1);
    }
}
