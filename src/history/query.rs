//! Read-side queries behind `orch history` and `history prune`:
//! the SQL, and the filtering and aggregation done in Rust after it.
//!
//! Whether a `running`/`pending` run is alive is not in the database (it is
//! a lock held by a process), so these functions take it as a function of
//! the run id: [`super::lock::is_live`] in the commands, a fake in tests;
//! [`ShownStatus::of_run`] turns it into what a run shows.

use std::collections::HashMap;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, Row, TransactionBehavior};

use super::error::HistoryError;
use super::status::{ShownStatus, MAY_BE_LIVE};
use super::store::Store;
use super::transition::sql_list;
use crate::event::Status;
use crate::model::Workflow;
use crate::plan::critical::{median, Expected, Observed};

/// What `orch history` shows of a run: the run row without its large
/// columns (definitions, inputs, outputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunSummary {
    pub(crate) id: String,
    pub(crate) workflow: String,
    /// As recorded; see [`ShownStatus::of_run`].
    pub(crate) status: Status,
    pub(crate) created_at: i64,
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) parent_run_id: Option<String>,
}

const SUMMARY_COLUMNS: &str =
    "id, workflow, status, created_at, started_at, finished_at, duration_ms, parent_run_id";

impl RunSummary {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RunSummary {
            id: r.get(0)?,
            workflow: r.get(1)?,
            status: r.get(2)?,
            created_at: r.get(3)?,
            started_at: r.get(4)?,
            finished_at: r.get(5)?,
            duration_ms: r.get(6)?,
            parent_run_id: r.get(7)?,
        })
    }
}

/// Which runs `orch history` lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunFilter<'a> {
    /// Only runs of this workflow (its `name`).
    pub(crate) workflow: Option<&'a str>,
    /// Only runs showing this status (`interrupted` included).
    pub(crate) status: Option<ShownStatus>,
    /// Only runs created at or after this time (unix ms).
    pub(crate) created_since: Option<i64>,
    /// At most this many runs.
    pub(crate) limit: usize,
    /// Leave out child runs (of `workflow:` steps).
    pub(crate) top_level: bool,
}

/// A listed run and the status it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedRun {
    pub(crate) run: RunSummary,
    pub(crate) shown_status: ShownStatus,
}

/// The SQL for a filter and its parameters. Statuses that depend on
/// liveness are filtered again in Rust, so the LIMIT is applied there.
fn list_sql(f: &RunFilter<'_>) -> (String, Vec<Value>) {
    let mut cond = Vec::new();
    let mut params = Vec::new();
    if let Some(w) = f.workflow {
        params.push(Value::Text(w.to_string()));
        cond.push(format!("workflow = ?{}", params.len()));
    }
    let mut post_filter = false;
    match f.status {
        Some(ShownStatus::Interrupted) => {
            cond.push(format!("status IN {}", sql_list(MAY_BE_LIVE)));
            post_filter = true;
        }
        Some(ShownStatus::Recorded(s)) => {
            post_filter = MAY_BE_LIVE.contains(&s);
            params.push(Value::Text(s.as_str().to_string()));
            cond.push(format!("status = ?{}", params.len()));
        }
        None => {}
    }
    if let Some(t) = f.created_since {
        params.push(Value::Integer(t));
        cond.push(format!("created_at >= ?{}", params.len()));
    }
    if f.top_level {
        cond.push("parent_run_id IS NULL".to_string());
    }
    // Named, not left to the planner: without ANALYZE statistics SQLite
    // 3.53 sorts the whole table for a small LIMIT instead of walking the
    // index (60 ms rather than 0.1 ms on 100,000 runs).
    let index = if f.workflow.is_some() {
        "runs_by_workflow"
    } else {
        "runs_by_time"
    };
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM runs INDEXED BY {index}");
    if !cond.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&cond.join(" AND "));
    }
    // runs_by_workflow / runs_by_time give the order; `id` only breaks ties.
    sql.push_str(" ORDER BY created_at DESC, id DESC");
    if !post_filter {
        params.push(Value::Integer(i64::try_from(f.limit).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" LIMIT ?{}", params.len()));
    }
    (sql, params)
}

/// Runs matching `f`, newest first.
pub(crate) fn list_runs(
    store: &Store,
    f: &RunFilter<'_>,
    is_live: impl Fn(&str) -> bool,
) -> Result<Vec<ListedRun>, HistoryError> {
    list_runs_on(&store.conn, f, is_live).map_err(|e| store.err(e))
}

fn list_runs_on(
    conn: &Connection,
    f: &RunFilter<'_>,
    is_live: impl Fn(&str) -> bool,
) -> rusqlite::Result<Vec<ListedRun>> {
    let mut out = Vec::new();
    if f.limit == 0 {
        return Ok(out);
    }
    let (sql, params) = list_sql(f);
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let run = RunSummary::from_row(row)?;
        let shown = ShownStatus::of_run(run.status, || is_live(&run.id));
        if f.status.is_some_and(|want| want != shown) {
            continue;
        }
        out.push(ListedRun {
            run,
            shown_status: shown,
        });
        if out.len() >= f.limit {
            break;
        }
    }
    Ok(out)
}

/// Names of the workflows with recorded runs, sorted.
pub(crate) fn workflows(store: &Store) -> Result<Vec<String>, HistoryError> {
    let run = || -> rusqlite::Result<Vec<String>> {
        let mut st = store
            .conn
            .prepare("SELECT DISTINCT workflow FROM runs ORDER BY workflow")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect()
    };
    run().map_err(|e| store.err(e))
}

// ------------------------------------------------------- expected durations

/// Successful runs of a step its expected duration is the median of.
pub(crate) const EXPECTED_RUNS: usize = 20;

/// Runs of a workflow looked at, newest first: a step that has not
/// succeeded in these is not known.
const EXPECTED_WINDOW: usize = 200;

/// How long each step of `wf` is expected to take: the median duration of
/// its last [`EXPECTED_RUNS`] successful top-level rows (not `for_each`
/// items, not cache hits) in the newest [`EXPECTED_WINDOW`] runs of the
/// workflow; see [`Expected::from_observed`] for the steps not seen.
pub(crate) fn expected(store: &Store, wf: &Workflow) -> Result<Expected, HistoryError> {
    let observed = observed(
        &store.conn,
        &wf.name,
        wf.steps.iter().map(|s| s.id.as_str()),
    )
    .map_err(|e| store.err(e))?;
    Ok(Expected::from_observed(wf, &observed))
}

/// Step rows read at most (whole runs): a very large workflow gets its
/// medians from fewer runs rather than a planning pause of seconds.
const EXPECTED_ROWS: usize = 500_000;

/// The workflow's runs newest first (`runs_by_workflow`, bounded to the
/// window), until every step has [`EXPECTED_RUNS`] durations. An ended
/// run's durations are one `run_durations` row; a run without one (still
/// running, resumed, or recorded before that table) has its step rows read
/// in one range of the primary key. Either way the lines come in the order
/// the steps were written, so the next step is tried before the hash map.
fn observed<'a>(
    conn: &Connection,
    workflow: &str,
    steps: impl Iterator<Item = &'a str>,
) -> rusqlite::Result<HashMap<String, Observed>> {
    let mut seen = Seen::new(steps.collect());
    let mut runs = conn.prepare(&window_sql())?;
    let mut rows = conn.prepare(RUN_STEPS)?;
    // Row by row: the window's later runs (and their summaries) are
    // never read once every step has enough.
    let mut window = runs.query([workflow])?;
    while let Some(run) = window.next()? {
        if seen.enough() {
            break;
        }
        let mut next = 0usize;
        match run.get_ref(1)?.as_str_or_null()? {
            Some(text) => {
                for line in text.lines() {
                    let Some((step, ms)) = line.rsplit_once(' ') else {
                        continue;
                    };
                    if let Ok(ms) = ms.parse() {
                        seen.add(&mut next, step, ms);
                    }
                }
            }
            None => {
                let mut q = rows.query([run.get_ref(0)?.as_str()?])?;
                while let Some(r) = q.next()? {
                    let step = r.get_ref(0)?.as_str().unwrap_or_default();
                    seen.add(&mut next, step, r.get(1)?);
                }
            }
        }
    }
    Ok(seen.medians())
}

/// The durations [`observed`] has gathered so far, by step.
struct Seen<'a> {
    ids: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
    ms: Vec<Vec<i64>>,
    /// Steps with fewer than [`EXPECTED_RUNS`] durations.
    left: usize,
    read: usize,
}

impl<'a> Seen<'a> {
    fn new(ids: Vec<&'a str>) -> Self {
        Seen {
            index: ids.iter().enumerate().map(|(i, s)| (*s, i)).collect(),
            ms: vec![Vec::new(); ids.len()],
            left: ids.len(),
            read: 0,
            ids,
        }
    }

    fn enough(&self) -> bool {
        self.left == 0 || self.read >= EXPECTED_ROWS
    }

    /// One step's duration in one run; `next` is where the step after
    /// the last one found is in the file.
    fn add(&mut self, next: &mut usize, step: &str, ms: i64) {
        self.read += 1;
        let at = match self.ids.get(*next) {
            Some(s) if *s == step => Some(*next),
            _ => self.index.get(step).copied(),
        };
        let Some(i) = at else { return };
        *next = i + 1;
        let seen = &mut self.ms[i];
        if seen.len() < EXPECTED_RUNS {
            seen.push(ms);
            if seen.len() == EXPECTED_RUNS {
                self.left -= 1;
            }
        }
    }

    fn medians(self) -> HashMap<String, Observed> {
        let mut out = HashMap::new();
        for (step, mut ms) in self.ids.into_iter().zip(self.ms) {
            ms.sort_unstable();
            if let Some(m) = median(&ms) {
                let median = Duration::from_millis(m.max(0) as u64);
                let runs = ms.len();
                out.insert(step.to_string(), Observed { median, runs });
            }
        }
        out
    }
}

/// `?1` workflow: its newest [`EXPECTED_WINDOW`] runs, newest first, with
/// their `run_durations` when they have one. The `LIMIT` is written in,
/// not bound: SQLite plans a `LIMIT ?` with the bound value and prepares
/// the statement again when it changes.
fn window_sql() -> String {
    format!(
        "SELECT r.id, d.steps FROM runs r LEFT JOIN run_durations d ON d.run_id = r.id \
         WHERE r.workflow = ?1 ORDER BY r.created_at DESC LIMIT {EXPECTED_WINDOW}"
    )
}

/// The step rows whose durations count: succeeded top-level steps (not
/// items, not cache hits). One definition for both statements below.
macro_rules! counted {
    () => {
        "parent IS NULL AND status = 'succeeded' AND cached = 0 AND duration_ms IS NOT NULL"
    };
}

/// `?1` run: its counted steps' durations, in one range of the primary key.
const RUN_STEPS: &str = concat!(
    "SELECT step_id, duration_ms FROM steps WHERE run_id = ?1 AND ",
    counted!()
);

/// `?1` run, as it ends: its counted steps' durations into one
/// `run_durations` row, in file order (an empty one when none counts).
pub(super) const RECORD_DURATIONS: &str = concat!(
    "INSERT OR REPLACE INTO run_durations (run_id, steps) \
     SELECT ?1, coalesce(group_concat(step_id || ' ' || duration_ms, char(10)), '') \
     FROM (SELECT step_id, duration_ms FROM steps WHERE run_id = ?1 AND ",
    counted!(),
    " ORDER BY position)"
);

// ---------------------------------------------------------------- prune

/// What `history prune` found: the runs it deletes (or would), and the
/// old runs it left because their process is still running them.
#[derive(Debug, Default)]
pub(crate) struct Pruned {
    pub(crate) deleted: Vec<RunSummary>,
    pub(crate) live: Vec<RunSummary>,
}

fn old_runs(conn: &Connection, before_ms: i64) -> rusqlite::Result<Vec<RunSummary>> {
    let mut st = conn.prepare(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM runs WHERE created_at < ?1 ORDER BY created_at, id"
    ))?;
    let rows = st.query_map([before_ms], RunSummary::from_row)?;
    rows.collect()
}

fn split_live(runs: Vec<RunSummary>, is_live: impl Fn(&str) -> bool) -> Pruned {
    let (live, deleted) = runs.into_iter().partition(|r| is_live(&r.id));
    Pruned { deleted, live }
}

/// Delete runs created before `before_ms` that no process is running, with
/// their steps, attempts and approvals, in one transaction. Only the rows:
/// the caller removes log directories and lock files after this returns.
/// With `dry_run` nothing is deleted.
pub(crate) fn prune(
    store: &mut Store,
    before_ms: i64,
    dry_run: bool,
    is_live: impl Fn(&str) -> bool,
) -> Result<Pruned, HistoryError> {
    let path = store.path.clone();
    let err = |e: rusqlite::Error| super::store::sqlite_error(&path, &e);
    if dry_run {
        return Ok(split_live(
            old_runs(&store.conn, before_ms).map_err(err)?,
            is_live,
        ));
    }
    // Deleting a run makes SQLite look for runs naming it as their parent
    // (`parent_run_id ... ON DELETE SET NULL`), and no index covers that
    // column: a full scan of `runs` for every deleted run. So the cascade
    // is done here by hand, with foreign keys off for this connection
    // (the pragma cannot change inside a transaction).
    store
        .conn
        .execute_batch("PRAGMA foreign_keys=OFF")
        .map_err(err)?;
    let res = delete_old(&mut store.conn, before_ms, is_live);
    let on = store.conn.execute_batch("PRAGMA foreign_keys=ON");
    let pruned = res.map_err(err)?;
    on.map_err(err)?;
    Ok(pruned)
}

fn delete_old(
    conn: &mut Connection,
    before_ms: i64,
    is_live: impl Fn(&str) -> bool,
) -> rusqlite::Result<Pruned> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let pruned = split_live(old_runs(&tx, before_ms)?, is_live);
    if pruned.deleted.is_empty() {
        return Ok(pruned);
    }
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS pruned_runs (id TEXT PRIMARY KEY) WITHOUT ROWID; \
         DELETE FROM temp.pruned_runs;",
    )?;
    {
        let mut ins = tx.prepare("INSERT INTO temp.pruned_runs (id) VALUES (?1)")?;
        for r in &pruned.deleted {
            ins.execute([&r.id])?;
        }
    }
    tx.execute_batch(
        "DELETE FROM attempts WHERE run_id IN (SELECT id FROM temp.pruned_runs); \
         DELETE FROM approvals WHERE run_id IN (SELECT id FROM temp.pruned_runs); \
         DELETE FROM steps WHERE run_id IN (SELECT id FROM temp.pruned_runs); \
         UPDATE runs SET parent_run_id = NULL \
           WHERE parent_run_id IN (SELECT id FROM temp.pruned_runs); \
         DELETE FROM runs WHERE id IN (SELECT id FROM temp.pruned_runs); \
         DROP TABLE temp.pruned_runs;",
    )?;
    tx.commit()?;
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::home::Home;
    use rusqlite::params;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            dir: dir.path().to_path_buf(),
            in_memory: false,
        };
        (dir, Store::open(&home).unwrap())
    }

    fn add_run(s: &Store, id: &str, workflow: &str, status: &str, created: i64) {
        s.conn
            .execute(
                "INSERT INTO runs (id, workflow, file_path, file_hash, definitions, inputs, \
                 orch_version, project_dir, status, created_at) \
                 VALUES (?1, ?2, 'f', 'h', '{}', '{}', 'v', '.', ?3, ?4)",
                params![id, workflow, status, created],
            )
            .unwrap();
    }

    fn add_step(s: &Store, run: &str, step: &str, status: &str, duration: Option<i64>) {
        let (parent, item) = match step.split_once('[') {
            Some((p, i)) => (Some(p), i.trim_end_matches(']').parse::<i64>().ok()),
            None => (None, None),
        };
        s.conn
            .execute(
                "INSERT INTO steps (run_id, step_id, parent, position, item, status, duration_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    run,
                    step,
                    parent,
                    i64::from(step.starts_with('b')),
                    item,
                    status,
                    duration
                ],
            )
            .unwrap();
    }

    fn ids(v: &[ListedRun]) -> Vec<&str> {
        v.iter().map(|r| r.run.id.as_str()).collect()
    }

    #[test]
    fn lists_newest_first_with_filters() {
        let (_d, s) = store();
        add_run(&s, "r1", "a", "succeeded", 1_000);
        add_run(&s, "r2", "b", "failed", 2_000);
        add_run(&s, "r3", "a", "running", 3_000);
        add_run(&s, "r4", "a", "running", 4_000);
        add_run(&s, "r5", "a", "failed", 4_000);
        let live = |id: &str| id == "r4";
        let all = |f: RunFilter<'_>| list_runs(&s, &f, live).unwrap();
        let base = RunFilter {
            limit: 20,
            ..Default::default()
        };
        // Same time: the larger id first.
        assert_eq!(ids(&all(base.clone())), ["r5", "r4", "r3", "r2", "r1"]);
        let listed = all(base.clone());
        let shown: Vec<&str> = listed.iter().map(|r| r.shown_status.as_str()).collect();
        assert_eq!(
            shown,
            ["failed", "running", "interrupted", "failed", "succeeded"]
        );
        let f = |workflow, status: Option<&str>, since, limit| RunFilter {
            workflow,
            status: status.map(|s| ShownStatus::parse(s).unwrap()),
            created_since: since,
            limit,
            top_level: false,
        };
        assert_eq!(
            ids(&all(f(Some("a"), None, None, 20))),
            ["r5", "r4", "r3", "r1"]
        );
        assert_eq!(ids(&all(f(None, Some("interrupted"), None, 20))), ["r3"]);
        assert_eq!(ids(&all(f(None, Some("running"), None, 20))), ["r4"]);
        assert_eq!(ids(&all(f(None, Some("failed"), None, 20))), ["r5", "r2"]);
        assert_eq!(
            ids(&all(f(None, None, Some(3_000), 20))),
            ["r5", "r4", "r3"]
        );
        assert_eq!(ids(&all(f(None, None, None, 2))), ["r5", "r4"]);
        assert!(all(f(None, None, None, 0)).is_empty());
        assert_eq!(
            ids(&all(f(Some("a"), Some("failed"), Some(1_500), 1))),
            ["r5"]
        );
        assert!(all(f(Some("zzz"), None, None, 20)).is_empty());
        assert_eq!(s.resolve_run("last").unwrap().id, "r5");
        assert_eq!(s.resolve_run("r2").unwrap().id, "r2");
        // The limit counts rows after the liveness filter.
        add_run(&s, "r6", "a", "running", 5_000);
        assert_eq!(
            ids(&all(f(None, Some("interrupted"), None, 2))),
            ["r6", "r3"]
        );
    }

    #[test]
    fn filters_use_the_indexes() {
        let (_d, s) = store();
        let plan = |f: &RunFilter<'_>| {
            let (sql, params) = list_sql(f);
            let mut st = s
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let rows = st
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let p = plan(&RunFilter {
            limit: 20,
            ..Default::default()
        });
        assert!(p.contains("runs_by_time"), "{p}");
        let p = plan(&RunFilter {
            status: Some(ShownStatus::Interrupted),
            created_since: Some(5),
            limit: 1,
            ..Default::default()
        });
        assert!(p.contains("runs_by_time"), "{p}");
        let p = plan(&RunFilter {
            workflow: Some("w"),
            status: Some(ShownStatus::Recorded(Status::Failed)),
            limit: 20,
            ..Default::default()
        });
        assert!(p.contains("runs_by_workflow"), "{p}");
    }

    #[test]
    fn expected_durations_are_medians_of_recent_successes() {
        let (_d, s) = store();
        for i in 0..30i64 {
            let id = format!("r{i:02}");
            add_run(&s, &id, "w", "succeeded", i);
            // The newest 20 of `a` are 110..=300 ms.
            add_step(&s, &id, "a", "succeeded", Some(10 * (i + 1)));
            add_step(
                &s,
                &id,
                "b",
                if i % 2 == 0 { "failed" } else { "cached" },
                Some(1),
            );
            add_step(&s, &id, "a[0]", "succeeded", Some(99_999));
        }
        add_run(&s, "x", "other", "succeeded", 99);
        add_step(&s, "x", "b", "succeeded", Some(5));
        add_step(&s, "r29", "c", "succeeded", Some(40));
        let steps = ["a", "b", "c", "new"];
        let o = observed(&s.conn, "w", steps.into_iter()).unwrap();
        let a = o["a"];
        assert_eq!((a.median, a.runs), (Duration::from_millis(200), 20));
        assert!(!o.contains_key("b"), "failed and cached rows do not count");
        assert_eq!(o["c"].runs, 1);
        assert!(!o.contains_key("new"));

        let src = std::sync::Arc::new(crate::source::Source::new(
            "w.yaml",
            "w.yaml",
            "name: w\nsteps:\n  - {id: a, run: 'true'}\n  - {id: new, run: 'true'}\n",
        ));
        let wf = crate::validate::workflow_source(&src, &crate::model::Config::default()).unwrap();
        let e = expected(&s, &wf).unwrap();
        assert_eq!(e.durations, [Duration::from_millis(200); 2]);
        assert_eq!(e.basis[1], crate::plan::critical::Basis::WorkflowMedian);
    }

    #[test]
    fn an_ended_runs_durations_are_one_row_read_instead_of_its_steps() {
        let (_d, s) = store();
        let steps = ["a", "b", "c"];
        for i in 0..25i64 {
            let id = format!("r{i:02}");
            add_run(&s, &id, "w", "succeeded", i);
            add_step(&s, &id, "a", "succeeded", Some(i));
            add_step(&s, &id, "b", "failed", Some(1));
            add_step(&s, &id, "b[0]", "succeeded", Some(7));
            if i % 3 == 0 {
                add_step(&s, &id, "c", "succeeded", Some(100 + i));
            }
        }
        let from_rows = observed(&s.conn, "w", steps.into_iter()).unwrap();
        for i in 0..25i64 {
            s.conn
                .execute(RECORD_DURATIONS, [format!("r{i:02}")])
                .unwrap();
        }
        let summary = |run: &str| -> String {
            s.conn
                .query_row(
                    "SELECT steps FROM run_durations WHERE run_id = ?1",
                    [run],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let text = summary("r24");
        // `b` is at position 1, `a` and `c` at 0: file order, then the key.
        assert_eq!(text, "a 24\nc 124", "only what counts, in file order");
        add_run(&s, "f", "other", "failed", 99);
        add_step(&s, "f", "a", "failed", Some(3));
        s.conn.execute(RECORD_DURATIONS, ["f"]).unwrap();
        assert_eq!(summary("f"), "", "nothing counts: an empty row, not none");
        assert_eq!(
            observed(&s.conn, "w", steps.into_iter()).unwrap(),
            from_rows,
            "the same medians from the rows and from the summaries"
        );
        // The summary is what is read: step rows changed after it are not.
        s.conn
            .execute(
                "UPDATE steps SET status = 'failed' WHERE run_id = 'r24'",
                [],
            )
            .unwrap();
        assert_eq!(
            observed(&s.conn, "w", steps.into_iter()).unwrap(),
            from_rows
        );
        // A run without one (resumed, running) is read from its rows.
        s.conn
            .execute("DELETE FROM run_durations WHERE run_id = 'r24'", [])
            .unwrap();
        let o = observed(&s.conn, "w", steps.into_iter()).unwrap();
        assert_eq!(from_rows["a"].median, Duration::from_millis(14));
        assert_eq!(
            (o["a"].median, o["a"].runs),
            (Duration::from_millis(13), 20),
            "r24's `a` failed now: r04 is the 20th run"
        );
        // Deleting a run deletes its durations.
        s.conn
            .execute("DELETE FROM runs WHERE id = 'r23'", [])
            .unwrap();
        let left: i64 = s
            .conn
            .query_row("SELECT count(*) FROM run_durations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 26 - 2, "r00..r24 and f, less r24's and r23's");
    }

    fn plan_of(s: &Store, sql: &str, params: &[&str]) -> String {
        let mut st = s
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = st
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn expected_durations_use_the_indexes() {
        let (_d, s) = store();
        let p = plan_of(&s, &window_sql(), &["w"]);
        assert!(p.contains("runs_by_workflow"), "{p}");
        assert!(
            !p.contains("TEMP B-TREE"),
            "no sort: the index is in order: {p}"
        );
        assert!(
            p.contains("SEARCH d USING PRIMARY KEY (run_id=?)"),
            "a run's durations by its key: {p}"
        );
        let p = plan_of(&s, RUN_STEPS, &["r1"]);
        assert!(p.contains("PRIMARY KEY") || p.contains("INDEX"), "{p}");
        assert!(
            !p.contains("SCAN"),
            "one range of the key, not the table: {p}"
        );
    }

    #[test]
    fn the_expected_durations_queries_are_prepared_once() {
        let (_d, s) = store();
        let mut st = s.conn.prepare(RUN_STEPS).unwrap();
        for run in ["a", "b", "c", "d"] {
            let n = st.query_map([run], |r| r.get::<_, i64>(1)).unwrap().count();
            assert_eq!(n, 0);
        }
        assert_eq!(
            st.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "binding another run id must not make SQLite prepare it again"
        );
    }

    #[test]
    fn prune_deletes_old_idle_runs_with_their_rows() {
        let (_d, mut s) = store();
        add_run(&s, "old", "w", "succeeded", 1_000);
        add_run(&s, "old-live", "w", "running", 1_000);
        add_run(&s, "new", "w", "succeeded", 9_000);
        s.conn
            .execute("UPDATE runs SET parent_run_id = 'old' WHERE id = 'new'", [])
            .unwrap();
        for run in ["old", "old-live", "new"] {
            add_step(&s, run, "a", "succeeded", Some(1));
            s.conn
                .execute(
                    "INSERT INTO attempts (run_id, step_id, run_attempt, attempt, status, \
                     started_at) VALUES (?1, 'a', 1, 1, 'succeeded', 0)",
                    [run],
                )
                .unwrap();
            s.conn
                .execute(
                    "INSERT INTO approvals (run_id, step_id, requested_at) VALUES (?1, 'a', 0)",
                    [run],
                )
                .unwrap();
        }
        let live = |id: &str| id == "old-live";
        let count = |s: &Store, table: &str| -> i64 {
            s.conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };

        let dry = prune(&mut s, 5_000, true, live).unwrap();
        assert_eq!(dry.deleted.len(), 1);
        assert_eq!(dry.live.len(), 1);
        assert_eq!(count(&s, "runs"), 3);

        let done = prune(&mut s, 5_000, false, live).unwrap();
        assert_eq!(done.deleted[0].id, "old");
        assert_eq!(done.live[0].id, "old-live");
        for (table, left) in [("runs", 2), ("steps", 2), ("attempts", 2), ("approvals", 2)] {
            assert_eq!(count(&s, table), left, "{table}");
        }
        let parent: Option<String> = s
            .conn
            .query_row("SELECT parent_run_id FROM runs WHERE id = 'new'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(parent, None);
        // Foreign keys are back on for this connection.
        let fk: i64 = s
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let fk_problems: i64 = s
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk_problems, 0);
        // Nothing left to prune is fine.
        assert!(prune(&mut s, 5_000, false, live)
            .unwrap()
            .deleted
            .is_empty());
    }
}
