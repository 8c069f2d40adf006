//! The rows of runs, steps and approvals, and one [`Store`] method per
//! group of statements on them: creating a run, finding it, putting it
//! back for `orch resume`, deciding an approval, listing a run's children.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use serde_json::Value as Json;

use super::error::HistoryError;
use super::home::Home;
use super::status::ShownStatus;
use super::store::{now_ms, Store};
use super::transition::{sql_list, RESUMABLE_STEP};
use crate::event::Status;

pub(crate) const RUN_COLUMNS: &str =
    "id, workflow, version, file_path, definitions, inputs, parent_run_id, project_dir, \
     config_path, status, attempt, started_at, finished_at, duration_ms, error, outputs";

#[derive(Debug, Clone)]
pub(crate) struct RunRow {
    pub(crate) id: String,
    pub(crate) workflow: String,
    pub(crate) version: Option<i64>,
    pub(crate) file_path: String,
    pub(crate) definitions: String,
    pub(crate) inputs: String,
    pub(crate) parent_run_id: Option<String>,
    pub(crate) project_dir: String,
    pub(crate) config_path: Option<String>,
    /// As recorded; see [`RunRow::shown_status`].
    pub(crate) status: Status,
    pub(crate) attempt: i64,
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) outputs: Option<String>,
}

impl RunRow {
    pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RunRow {
            id: r.get(0)?,
            workflow: r.get(1)?,
            version: r.get(2)?,
            file_path: r.get(3)?,
            definitions: r.get(4)?,
            inputs: r.get(5)?,
            parent_run_id: r.get(6)?,
            project_dir: r.get(7)?,
            config_path: r.get(8)?,
            status: r.get(9)?,
            attempt: r.get(10)?,
            started_at: r.get(11)?,
            finished_at: r.get(12)?,
            duration_ms: r.get(13)?,
            error: r.get(14)?,
            outputs: r.get(15)?,
        })
    }

    /// `running`/`pending` runs whose process is gone show as `interrupted`.
    pub(crate) fn shown_status(&self, home: &Home) -> ShownStatus {
        ShownStatus::of_run(self.status, || super::lock::is_live(home, &self.id))
    }

    /// `{step id: definition hash}` as recorded; empty when unreadable.
    pub(crate) fn definitions(&self) -> HashMap<String, String> {
        serde_json::from_str::<Json>(&self.definitions)
            .ok()
            .and_then(|j| {
                j.as_object().map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
            })
            .unwrap_or_default()
    }
}

pub(crate) const STEP_COLUMNS: &str =
    "step_id, parent, status, attempts, duration_ms, exit_code, http_status, cached, \
     error, result, finished_at";

#[derive(Debug, Clone)]
pub(crate) struct StepRow {
    pub(crate) step_id: String,
    pub(crate) parent: Option<String>,
    pub(crate) status: Status,
    pub(crate) attempts: i64,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) exit_code: Option<i64>,
    pub(crate) http_status: Option<i64>,
    pub(crate) cached: bool,
    pub(crate) error: Option<String>,
    pub(crate) result: Option<String>,
    /// When it ended (unix ms).
    pub(crate) finished_at: Option<i64>,
}

impl StepRow {
    pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(StepRow {
            step_id: r.get(0)?,
            parent: r.get(1)?,
            status: r.get(2)?,
            attempts: r.get(3)?,
            duration_ms: r.get(4)?,
            exit_code: r.get(5)?,
            http_status: r.get(6)?,
            cached: r.get(7)?,
            error: r.get(8)?,
            result: r.get(9)?,
            finished_at: r.get(10)?,
        })
    }

    /// What `plan::resume` needs of this row.
    pub(crate) fn recorded(&self) -> crate::plan::resume::RecordedStep<'_> {
        crate::plan::resume::RecordedStep {
            finished_at: self.finished_at,
            id: &self.step_id,
            status: self.status,
            result: self.result.as_deref(),
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            duration_ms: self.duration_ms.and_then(|d| u64::try_from(d).ok()),
        }
    }

    /// The child run a `workflow:` step (or item) started, from its result.
    pub(crate) fn child_run(&self) -> Option<String> {
        let r: serde_json::Value = serde_json::from_str(self.result.as_deref()?).ok()?;
        r.get("run_id")?.as_str().map(str::to_string)
    }

    /// How a `for_each`/`matrix` item is shown, `test (linux, 20)`, from
    /// the stored result (`None` for steps, and items not finished).
    pub(crate) fn name(&self) -> Option<String> {
        self.parent.as_ref()?;
        let r: serde_json::Value = serde_json::from_str(self.result.as_deref()?).ok()?;
        r.get("name")?.as_str().map(str::to_string)
    }

    /// `outputs` from the stored result, `{}` when there is none.
    pub(crate) fn outputs(&self) -> serde_json::Value {
        self.result
            .as_deref()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|mut v| v.get_mut("outputs").map(serde_json::Value::take))
            .unwrap_or_else(|| serde_json::json!({}))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ApprovalRow {
    pub(crate) step_id: String,
    pub(crate) expires_at: Option<i64>,
    pub(crate) decision: Option<String>,
    pub(crate) decided_by: Option<String>,
    pub(crate) comment: Option<String>,
}

impl ApprovalRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ApprovalRow {
            step_id: r.get(0)?,
            expires_at: r.get(1)?,
            decision: r.get(2)?,
            decided_by: r.get(3)?,
            comment: r.get(4)?,
        })
    }
}

const APPROVAL_COLUMNS: &str = "step_id, expires_at, decision, decided_by, comment";

/// What a run row records about where it came from.
pub(crate) struct NewRun<'a> {
    pub(crate) id: &'a str,
    pub(crate) workflow: &'a str,
    pub(crate) version: Option<i64>,
    pub(crate) file_path: &'a str,
    pub(crate) file_hash: &'a str,
    /// `{step id: definition hash}`.
    pub(crate) definitions: &'a Json,
    pub(crate) inputs: &'a Json,
    pub(crate) parent_run_id: Option<&'a str>,
    pub(crate) project_dir: &'a str,
    pub(crate) config_path: Option<&'a str>,
    /// Step ids in file order.
    pub(crate) steps: &'a [&'a str],
}

/// A decision on an approval, as `approvals.decision` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Approved,
    Rejected,
}

impl Verdict {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Rejected => "rejected",
        }
    }
}

/// What one step did in one attempt of a run (`runs.attempt`): for
/// `orch show`, which lists the earlier attempts of a resumed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunAttemptStep {
    pub(crate) run_attempt: i64,
    pub(crate) step_id: String,
    /// The status of its last attempt in that run attempt.
    pub(crate) status: String,
    /// How many attempts it made in that run attempt.
    pub(crate) tries: i64,
    /// When its first attempt started and its last ended (unix ms).
    pub(crate) started_at: i64,
    pub(crate) finished_at: Option<i64>,
}

/// What `orch resume` changes in a run before it runs again.
pub(crate) struct ResumeReset<'a> {
    pub(crate) run_id: &'a str,
    /// The workflow's step ids, in file order, as it is now.
    pub(crate) steps: &'a [&'a str],
    /// Steps that keep their results (their rows are left as they are).
    pub(crate) kept: &'a HashSet<&'a str>,
    /// Steps whose approvals are asked again (`--from` and downstream).
    pub(crate) rerun_from: &'a HashSet<String>,
    /// `for_each` steps that run again but keep their succeeded items.
    pub(crate) keep_items_of: &'a HashSet<&'a str>,
    /// `{step id: definition hash}` of the workflow as it is now.
    pub(crate) definitions: &'a Json,
    pub(crate) file_hash: &'a str,
}

/// Step statuses kept as history when a step leaves the workflow file.
const FINISHED: &[Status] = &[Status::Succeeded, Status::Cached];

impl Store {
    /// Insert the run (`pending`) and all its steps (`pending`) at once.
    pub(crate) fn create_run(&mut self, run: &NewRun<'_>) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| super::store::sqlite_error(&path, &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT INTO runs (id, workflow, version, file_path, file_hash, definitions, inputs, \
             orch_version, parent_run_id, project_dir, config_path, status, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                run.id,
                run.workflow,
                run.version,
                run.file_path,
                run.file_hash,
                run.definitions.to_string(),
                run.inputs.to_string(),
                env!("CARGO_PKG_VERSION"),
                run.parent_run_id,
                run.project_dir,
                run.config_path,
                Status::Pending,
                now_ms(),
            ],
        )
        .map_err(err)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO steps (run_id, step_id, position, status) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for (i, s) in run.steps.iter().enumerate() {
                st.execute(params![run.id, s, i as i64, Status::Pending])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// A run by id, unique id prefix, or `last`.
    pub(crate) fn resolve_run(&self, reference: &str) -> Result<RunRow, HistoryError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs");
        let mut found: Vec<RunRow> = if reference == "last" {
            // Without ANALYZE statistics SQLite may sort the whole table
            // instead of walking the index backwards: name the index.
            // `last` is the last run someone started: not a child run.
            self.run_rows(
                &format!(
                    "{sql} INDEXED BY runs_by_time WHERE parent_run_id IS NULL \
                     ORDER BY created_at DESC, id DESC LIMIT 1"
                ),
                [],
            )?
        } else {
            let lower = reference.to_ascii_lowercase();
            self.run_rows(
                &format!("{sql} WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT 2"),
                [&lower],
            )?
        };
        if let Some(i) = found.iter().position(|r| r.id == reference) {
            return Ok(found.swap_remove(i));
        }
        if found.len() == 1 {
            if let Some(r) = found.pop() {
                return Ok(r);
            }
        }
        match found.len() {
            0 if reference == "last" => Err(HistoryError::NoRuns),
            0 => Err(HistoryError::NoRun(reference.to_string())),
            _ => Err(HistoryError::AmbiguousRun(reference.to_string())),
        }
    }

    /// Runs started by `run_id` (`parent_run_id`), oldest first.
    pub(crate) fn children(&self, run_id: &str) -> Result<Vec<RunRow>, HistoryError> {
        self.run_rows(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE parent_run_id = ?1 ORDER BY created_at, id"
            ),
            [run_id],
        )
    }

    fn run_rows<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<Vec<RunRow>, HistoryError> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params, RunRow::from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// A run's steps and for_each items, in file order.
    pub(crate) fn steps(&self, run_id: &str) -> Result<Vec<StepRow>, HistoryError> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ?1 \
                 ORDER BY position, item IS NOT NULL, item"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], StepRow::from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Every step that ran in each attempt of the run (top-level steps and
    /// for_each items), by run attempt, then in the order they started.
    pub(crate) fn run_attempts(&self, run_id: &str) -> Result<Vec<RunAttemptStep>, HistoryError> {
        // The last attempt's status: SQLite takes the bare column from the
        // row that holds max(attempt).
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT run_attempt, step_id, status, max(attempt), count(*), min(started_at), \
                 max(finished_at) FROM attempts WHERE run_id = ?1 \
                 GROUP BY run_attempt, step_id ORDER BY run_attempt, min(started_at), step_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                Ok(RunAttemptStep {
                    run_attempt: r.get(0)?,
                    step_id: r.get(1)?,
                    status: r.get(2)?,
                    tries: r.get(4)?,
                    started_at: r.get(5)?,
                    finished_at: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    pub(crate) fn approval(
        &self,
        run_id: &str,
        step_id: &str,
    ) -> Result<Option<ApprovalRow>, HistoryError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE run_id = ?1 AND step_id = ?2"
                ),
                params![run_id, step_id],
                ApprovalRow::from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub(crate) fn approvals(&self, run_id: &str) -> Result<Vec<ApprovalRow>, HistoryError> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE run_id = ?1 ORDER BY requested_at"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], ApprovalRow::from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Record a decision on an open approval. `false` when it was no
    /// longer open (someone decided it at the same moment).
    pub(crate) fn decide_approval(
        &self,
        run_id: &str,
        step_id: &str,
        verdict: Verdict,
        by: &str,
        comment: Option<&str>,
    ) -> Result<bool, HistoryError> {
        let n = self
            .conn
            .execute(
                "UPDATE approvals SET decision = ?3, decided_by = ?4, decided_at = ?5, \
                 comment = ?6 WHERE run_id = ?1 AND step_id = ?2 AND decision IS NULL",
                params![run_id, step_id, verdict.as_str(), by, now_ms(), comment],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Put every step that will run back to `pending`, in one transaction;
    /// bring the step rows in line with the workflow file as it is now.
    pub(crate) fn reset_for_resume(&mut self, r: &ResumeReset<'_>) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| super::store::sqlite_error(&path, &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let reset_sql = format!(
            "UPDATE steps SET status = ?3, attempts = 0, started_at = NULL, \
             finished_at = NULL, duration_ms = NULL, exit_code = NULL, http_status = NULL, \
             cached = 0, error = NULL, result = NULL \
             WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
            sql_list(RESUMABLE_STEP)
        );
        let run = r.run_id;
        for (i, &s) in r.steps.iter().enumerate() {
            let position = "UPDATE steps SET position = ?3 WHERE run_id = ?1 AND step_id = ?2";
            if r.kept.contains(s) {
                tx.execute(position, params![run, s, i as i64])
                    .map_err(err)?;
                continue;
            }
            tx.execute(
                "INSERT OR IGNORE INTO steps (run_id, step_id, position, status) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![run, s, i as i64, Status::Pending],
            )
            .map_err(err)?;
            tx.execute(&reset_sql, params![run, s, Status::Pending])
                .map_err(err)?;
            tx.execute(position, params![run, s, i as i64])
                .map_err(err)?;
            if r.keep_items_of.contains(s) {
                // Its items that succeeded keep their rows and results.
                tx.execute(
                    &format!(
                        "DELETE FROM steps WHERE run_id = ?1 AND parent = ?2 \
                         AND status NOT IN {}",
                        sql_list(FINISHED)
                    ),
                    params![run, s],
                )
                .map_err(err)?;
            } else {
                tx.execute(
                    "DELETE FROM steps WHERE run_id = ?1 AND parent = ?2",
                    params![run, s],
                )
                .map_err(err)?;
            }
            if r.rerun_from.contains(s) {
                tx.execute(
                    "DELETE FROM approvals WHERE run_id = ?1 AND step_id = ?2",
                    params![run, s],
                )
                .map_err(err)?;
            }
        }
        // Steps no longer in the file: keep finished ones as history, drop the rest.
        let ids: HashSet<&str> = r.steps.iter().copied().collect();
        let stale: Vec<String> = {
            let mut st = tx
                .prepare("SELECT step_id, status FROM steps WHERE run_id = ?1 AND parent IS NULL")
                .map_err(err)?;
            let rows = st
                .query_map([run], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Status>(1)?))
                })
                .map_err(err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            rows.into_iter()
                .filter(|(id, status)| !ids.contains(id.as_str()) && !FINISHED.contains(status))
                .map(|(id, _)| id)
                .collect()
        };
        for id in stale {
            tx.execute(
                "DELETE FROM steps WHERE run_id = ?1 AND (step_id = ?2 OR parent = ?2)",
                params![run, id],
            )
            .map_err(err)?;
        }
        tx.execute(
            "UPDATE runs SET definitions = ?2, file_hash = ?3, error = NULL WHERE id = ?1",
            params![run, r.definitions.to_string(), r.file_hash],
        )
        .map_err(err)?;
        // Its steps' durations change until it ends again (and are read
        // from its step rows meanwhile).
        tx.execute("DELETE FROM run_durations WHERE run_id = ?1", [run])
            .map_err(err)?;
        tx.commit().map_err(err)
    }
}

/// `{step or item id: child run id}` of the `workflow:` steps that run again.
pub(crate) fn unfinished_children(
    steps: &[StepRow],
    kept: &std::collections::HashSet<&str>,
) -> std::collections::HashMap<String, String> {
    steps
        .iter()
        .filter(|s| !kept.contains(s.parent.as_deref().unwrap_or(&s.step_id)))
        .filter_map(|s| Some((s.step_id.clone(), s.child_run()?)))
        .collect()
}

impl Store {
    /// Add to `found` the child runs of steps that never recorded their end
    /// (the process died): a `workflow:` step of file `path` whose run has
    /// exactly one unfinished child of that file is taken to have started it.
    pub(crate) fn orphaned_children(
        &self,
        run_id: &str,
        steps: &[(&str, &Path)],
        found: &mut std::collections::HashMap<String, String>,
    ) -> Result<(), HistoryError> {
        let children = self.children(run_id)?;
        for (step, path) in steps {
            if found.contains_key(*step) {
                continue;
            }
            let mut open = children
                .iter()
                .filter(|c| c.status != Status::Succeeded && Path::new(&c.file_path) == *path);
            if let (Some(c), None) = (open.next(), open.next()) {
                found.insert(step.to_string(), c.id.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where a step of run `r1` sits in the file (not part of `StepRow`).
    fn position(s: &Store, step: &str) -> i64 {
        s.conn
            .query_row(
                "SELECT position FROM steps WHERE run_id = 'r1' AND step_id = ?1",
                [step],
                |r| r.get(0),
            )
            .unwrap()
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            dir: dir.path().to_path_buf(),
            in_memory: false,
        };
        (dir, Store::open(&home).unwrap())
    }

    fn new_run<'a>(id: &'a str, parent: Option<&'a str>, steps: &'a [&'a str]) -> NewRun<'a> {
        static EMPTY: std::sync::OnceLock<Json> = std::sync::OnceLock::new();
        let empty = EMPTY.get_or_init(|| serde_json::json!({}));
        NewRun {
            id,
            workflow: "w",
            version: None,
            file_path: "w.yaml",
            file_hash: "h",
            definitions: empty,
            inputs: empty,
            parent_run_id: parent,
            project_dir: ".",
            config_path: None,
            steps,
        }
    }

    fn set_status(s: &Store, step: &str, status: &str) {
        s.conn
            .execute(
                "UPDATE steps SET status = ?2, result = '{}' WHERE run_id = 'r1' AND step_id = ?1",
                params![step, status],
            )
            .unwrap();
    }

    #[test]
    fn creates_a_pending_run_with_its_steps() {
        let (_d, mut s) = store();
        s.create_run(&new_run("r1", None, &["a", "b"])).unwrap();
        let run = s.resolve_run("r1").unwrap();
        assert_eq!(run.status, Status::Pending);
        assert_eq!(run.attempt, 1);
        let steps = s.steps("r1").unwrap();
        let got: Vec<(&str, Status, i64)> = steps
            .iter()
            .map(|r| (r.step_id.as_str(), r.status, position(&s, &r.step_id)))
            .collect();
        assert_eq!(got, [("a", Status::Pending, 0), ("b", Status::Pending, 1)]);
    }

    #[test]
    fn children_are_the_runs_naming_their_parent() {
        let (_d, mut s) = store();
        s.create_run(&new_run("p", None, &[])).unwrap();
        s.create_run(&new_run("other", None, &[])).unwrap();
        s.create_run(&new_run("c2", Some("p"), &[])).unwrap();
        s.create_run(&new_run("c1", Some("p"), &[])).unwrap();
        s.create_run(&new_run("g", Some("c1"), &[])).unwrap();
        s.conn
            .execute("UPDATE runs SET created_at = 5 WHERE id = 'c1'", [])
            .unwrap();
        s.conn
            .execute("UPDATE runs SET created_at = 9 WHERE id = 'c2'", [])
            .unwrap();
        let ids = |v: Vec<RunRow>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(s.children("p").unwrap()), ["c1", "c2"]);
        assert_eq!(ids(s.children("c1").unwrap()), ["g"]);
        assert!(s.children("other").unwrap().is_empty());
        assert!(s.children("nope").unwrap().is_empty());
        assert_eq!(
            s.children("p").unwrap()[0].parent_run_id.as_deref(),
            Some("p")
        );
    }

    #[test]
    fn an_approval_is_decided_once() {
        let (_d, mut s) = store();
        s.create_run(&new_run("r1", None, &["gate"])).unwrap();
        s.conn
            .execute(
                "INSERT INTO approvals (run_id, step_id, requested_at) VALUES ('r1', 'gate', 0)",
                [],
            )
            .unwrap();
        assert!(s
            .decide_approval("r1", "gate", Verdict::Rejected, "ann", Some("freeze"))
            .unwrap());
        assert!(!s
            .decide_approval("r1", "gate", Verdict::Approved, "bob", None)
            .unwrap());
        let a = s.approval("r1", "gate").unwrap().unwrap();
        assert_eq!(a.decision.as_deref(), Some("rejected"));
        assert_eq!(a.decided_by.as_deref(), Some("ann"));
        assert_eq!(a.comment.as_deref(), Some("freeze"));
        assert!(s.approval("r1", "other").unwrap().is_none());
    }

    #[test]
    fn reset_for_resume_puts_back_what_runs_again() {
        let (_d, mut s) = store();
        s.create_run(&new_run("r1", None, &["a", "b", "gone", "old"]))
            .unwrap();
        set_status(&s, "a", "succeeded");
        set_status(&s, "b", "failed");
        set_status(&s, "gone", "failed");
        set_status(&s, "old", "succeeded");
        s.conn
            .execute(
                "INSERT INTO steps (run_id, step_id, parent, position, item, status) \
                 VALUES ('r1', 'b[0]', 'b', 1, 0, 'failed')",
                [],
            )
            .unwrap();
        s.conn
            .execute(
                "INSERT INTO approvals (run_id, step_id, requested_at, decision) \
                 VALUES ('r1', 'b', 0, 'approved')",
                [],
            )
            .unwrap();
        let kept: HashSet<&str> = ["a"].into();
        let rerun: HashSet<String> = ["b".to_string()].into();
        let defs = serde_json::json!({"a": "1", "new": "2", "b": "3"});
        s.reset_for_resume(&ResumeReset {
            run_id: "r1",
            steps: &["a", "new", "b"],
            kept: &kept,
            keep_items_of: &HashSet::new(),
            rerun_from: &rerun,
            definitions: &defs,
            file_hash: "h2",
        })
        .unwrap();
        let steps = s.steps("r1").unwrap();
        let got: Vec<(&str, Status, i64, bool)> = steps
            .iter()
            .map(|r| {
                (
                    r.step_id.as_str(),
                    r.status,
                    position(&s, &r.step_id),
                    r.result.is_some(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a", Status::Succeeded, 0, true),
                ("new", Status::Pending, 1, false),
                ("b", Status::Pending, 2, false),
                // Left the file after finishing: kept as history.
                ("old", Status::Succeeded, 3, true),
            ]
        );
        assert!(s.approvals("r1").unwrap().is_empty());
        let run = s.resolve_run("r1").unwrap();
        let hash: String = s
            .conn
            .query_row("SELECT file_hash FROM runs WHERE id = 'r1'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(hash, "h2");
        assert_eq!(run.definitions().get("new").map(String::as_str), Some("2"));
    }

    #[test]
    fn run_attempts_group_each_steps_tries_by_attempt_of_the_run() {
        let (_d, mut s) = store();
        s.create_run(&new_run("r1", None, &["a", "b"])).unwrap();
        for (step, run_attempt, attempt, status, at) in [
            ("a", 1, 1, "succeeded", 10),
            ("b", 1, 1, "failed", 20),
            ("b", 1, 2, "succeeded", 30),
            ("b", 2, 1, "succeeded", 50),
        ] {
            s.conn
                .execute(
                    "INSERT INTO attempts (run_id, step_id, run_attempt, attempt, status, \
                     started_at, finished_at) VALUES ('r1', ?1, ?2, ?3, ?4, ?5, ?5 + 1)",
                    params![step, run_attempt, attempt, status, at],
                )
                .unwrap();
        }
        let got: Vec<(i64, String, String, i64, i64, Option<i64>)> = s
            .run_attempts("r1")
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.run_attempt,
                    r.step_id,
                    r.status,
                    r.tries,
                    r.started_at,
                    r.finished_at,
                )
            })
            .collect();
        let row = |n, id: &str, st: &str, tries, a, b| (n, id.into(), st.into(), tries, a, Some(b));
        assert_eq!(
            got,
            [
                row(1, "a", "succeeded", 1, 10, 11),
                row(1, "b", "succeeded", 2, 20, 31),
                row(2, "b", "succeeded", 1, 50, 51),
            ]
        );
        assert!(s.run_attempts("nope").unwrap().is_empty());
    }

    #[test]
    fn unknown_status_text_is_a_diagnostic() {
        let (_d, mut s) = store();
        s.create_run(&new_run("r1", None, &["a"])).unwrap();
        s.conn
            .execute("UPDATE runs SET status = 'exploded'", [])
            .unwrap();
        let e = s.resolve_run("r1").unwrap_err();
        let d = crate::diag::Diag::from(e);
        assert!(
            d.message
                .ends_with("holds a status orch does not know: `exploded`"),
            "{}",
            d.message
        );
        assert!(d.message.contains("history.db"), "{}", d.message);
    }
}
