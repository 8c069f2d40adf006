//! `orch stats`: per top-level step of a workflow, over its recorded runs.
//! What counts is an execution: the step (or all the items of a `for_each`
//! step) in one run attempt (`orch run`, then each `orch resume` that ran
//! it again), read from the `attempts` rows. A step cancelled or skipped
//! before it started has none; a cached step has none either and is
//! counted on its own; a failure that a later resume fixed still counts.

use std::collections::HashMap;

use rusqlite::Connection;

use super::error::HistoryError;
use super::store::Store;
use crate::event::Status;

/// One step's numbers over the recorded runs of its workflow.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct StepStats {
    pub(crate) workflow: String,
    pub(crate) step: String,
    /// Executions that ran to an end: succeeded, failed or cancelled while
    /// running (not cached, skipped, cancelled before starting, or still
    /// running).
    pub(crate) runs: u64,
    /// Executions that failed, fixed by a later resume or not.
    pub(crate) failures: u64,
    /// `failures / runs`, 0 when the step never ran.
    pub(crate) failure_rate: f64,
    /// Runs that took the step's result from the cache instead.
    pub(crate) cached: u64,
    /// Over executions that succeeded or failed (cached ones took no time,
    /// cancelled ones were cut short).
    pub(crate) p50_ms: Option<i64>,
    pub(crate) p95_ms: Option<i64>,
}

/// Nearest-rank percentile of ascending `sorted` values (`p` in 0..=100).
pub(crate) fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

#[derive(Default)]
struct Acc {
    /// (created_at, position) of the newest row seen.
    place: Option<(i64, i64)>,
    runs: u64,
    failures: u64,
    cached: u64,
    durations: Vec<i64>,
}

/// One execution being read: each item's last attempt, and its span.
#[derive(Default)]
struct Exec {
    /// Item (or the step itself) → (attempt number, status).
    last: HashMap<String, (i64, Status)>,
    started: Option<i64>,
    finished: Option<i64>,
}

impl Exec {
    /// How it ended: failed if any item failed, else cancelled if any was;
    /// `None` while an attempt has not ended (still running, or its orch
    /// was killed).
    fn outcome(&self) -> Option<Status> {
        let mut out = Status::Succeeded;
        for &(_, st) in self.last.values() {
            match st {
                Status::Failed => out = Status::Failed,
                Status::Cancelled if out != Status::Failed => out = Status::Cancelled,
                Status::Succeeded | Status::Cancelled => {}
                _ => return None,
            }
        }
        Some(out)
    }
}

/// The step of an attempt row: a `for_each` item `id[i]` counts for `id`
/// (step ids never hold `[`).
fn step_of(step_id: &str) -> &str {
    step_id.split_once('[').map_or(step_id, |(s, _)| s)
}

/// One `attempts` row.
pub(crate) struct AttemptRow<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) step_id: &'a str,
    pub(crate) run_attempt: i64,
    pub(crate) attempt: i64,
    pub(crate) status: Status,
    pub(crate) started_at: i64,
    pub(crate) finished_at: Option<i64>,
}

/// Per-step numbers built up one row at a time. Keyed by workflow, then
/// step, so that a row costs lookups, not allocations. Attempt rows come
/// run by run (both queries read them by primary key); a run's executions
/// are counted when the next run begins.
#[derive(Default)]
pub(crate) struct StatsBuilder {
    acc: HashMap<String, HashMap<String, Acc>>,
    /// The run being read: its id, workflow, and executions by (step, run attempt).
    run: Option<(String, String)>,
    execs: HashMap<(String, i64), Exec>,
}

impl StatsBuilder {
    fn acc(&mut self, workflow: &str, step: &str) -> &mut Acc {
        self.acc
            .entry(workflow.to_string())
            .or_default()
            .entry(step.to_string())
            .or_default()
    }

    /// One top-level `steps` row of a run of `workflow` created at
    /// `created_at`: where the step is listed, and whether it was cached.
    pub(crate) fn step(
        &mut self,
        workflow: &str,
        step: &str,
        position: i64,
        created_at: i64,
        status: Status,
    ) {
        let a = self.acc(workflow, step);
        if a.place.is_none_or(|(t, _)| created_at > t) {
            a.place = Some((created_at, position));
        }
        if status == Status::Cached {
            a.cached += 1;
        }
    }

    /// One `attempts` row of a run of `workflow`.
    pub(crate) fn attempt(&mut self, workflow: &str, row: &AttemptRow<'_>) {
        if self.run.as_ref().is_none_or(|(id, _)| id != row.run_id) {
            self.flush();
            self.run = Some((row.run_id.to_string(), workflow.to_string()));
        }
        let key = (step_of(row.step_id).to_string(), row.run_attempt);
        let e = self.execs.entry(key).or_default();
        let last = e
            .last
            .entry(row.step_id.to_string())
            .or_insert((row.attempt, row.status));
        if row.attempt >= last.0 {
            *last = (row.attempt, row.status);
        }
        e.started = Some(e.started.map_or(row.started_at, |s| s.min(row.started_at)));
        if let Some(f) = row.finished_at {
            e.finished = Some(e.finished.map_or(f, |g| g.max(f)));
        }
    }

    /// Count the executions of the run read so far.
    fn flush(&mut self) {
        let Some((_, workflow)) = self.run.take() else {
            return;
        };
        for ((step, _), e) in std::mem::take(&mut self.execs) {
            let Some(outcome) = e.outcome() else {
                continue;
            };
            let a = self.acc(&workflow, &step);
            a.runs += 1;
            if outcome == Status::Failed {
                a.failures += 1;
            }
            if let (Status::Succeeded | Status::Failed, Some(s), Some(f)) =
                (outcome, e.started, e.finished)
            {
                a.durations.push((f - s).max(0));
            }
        }
    }

    /// Grouped by workflow (by name), then step (in the order of the
    /// workflow's newest run).
    pub(crate) fn finish(mut self) -> Vec<StepStats> {
        self.flush();
        let mut out: Vec<(i64, StepStats)> = Vec::new();
        for (workflow, steps) in self.acc {
            for (step, mut a) in steps {
                a.durations.sort_unstable();
                let stats = StepStats {
                    workflow: workflow.clone(),
                    step,
                    runs: a.runs,
                    failures: a.failures,
                    failure_rate: if a.runs == 0 {
                        0.0
                    } else {
                        a.failures as f64 / a.runs as f64
                    },
                    cached: a.cached,
                    p50_ms: percentile(&a.durations, 50.0),
                    p95_ms: percentile(&a.durations, 95.0),
                };
                out.push((a.place.map_or(0, |(_, pos)| pos), stats));
            }
        }
        out.sort_by(|(pa, a), (pb, b)| {
            a.workflow
                .cmp(&b.workflow)
                .then(pa.cmp(pb))
                .then(a.step.cmp(&b.step))
        });
        out.into_iter().map(|(_, s)| s).collect()
    }
}

/// Per-step stats of top-level steps (a `for_each` step's items count for
/// it), for one workflow or all of them.
pub(crate) fn step_stats(
    store: &Store,
    workflow: Option<&str>,
) -> Result<Vec<StepStats>, HistoryError> {
    let res = match workflow {
        Some(w) => workflow_stats(&store.conn, w),
        None => all_stats(&store.conn),
    };
    res.map_err(|e| store.err(e))
}

const ATTEMPT_COLUMNS: &str =
    "a.run_id, a.step_id, a.run_attempt, a.attempt, a.status, a.started_at, a.finished_at";

fn attempt_row<'r>(r: &'r rusqlite::Row<'_>) -> rusqlite::Result<AttemptRow<'r>> {
    Ok(AttemptRow {
        run_id: r.get_ref(0)?.as_str()?,
        step_id: r.get_ref(1)?.as_str()?,
        run_attempt: r.get(2)?,
        attempt: r.get(3)?,
        status: r.get(4)?,
        started_at: r.get(5)?,
        finished_at: r.get(6)?,
    })
}

/// One workflow: its runs by the `runs_by_workflow` index, then each run's
/// steps and attempts by primary key. Never a scan of all steps.
fn workflow_stats(conn: &Connection, workflow: &str) -> rusqlite::Result<Vec<StepStats>> {
    let mut b = StatsBuilder::default();
    let mut st = conn.prepare(
        "SELECT s.step_id, s.position, r.created_at, s.status \
         FROM runs r JOIN steps s ON s.run_id = r.id \
         WHERE r.workflow = ?1 AND s.parent IS NULL",
    )?;
    let mut rows = st.query([workflow])?;
    while let Some(r) = rows.next()? {
        b.step(
            workflow,
            r.get_ref(0)?.as_str()?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
        );
    }
    let mut st = conn.prepare(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM runs r JOIN attempts a ON a.run_id = r.id \
         WHERE r.workflow = ?1"
    ))?;
    let mut rows = st.query([workflow])?;
    while let Some(r) = rows.next()? {
        b.attempt(workflow, &attempt_row(r)?);
    }
    Ok(b.finish())
}

/// Every workflow: one pass over `steps` and one over `attempts`, in
/// primary-key order, joined to the runs here. (SQLite's own join looks up
/// the run of every step: on 1,000,000 steps that made the whole command
/// take 0.9 s rather than 0.6 s.)
fn all_stats(conn: &Connection) -> rusqlite::Result<Vec<StepStats>> {
    let mut workflows: Vec<String> = Vec::new();
    let mut runs: HashMap<String, (usize, i64)> = HashMap::new();
    {
        let mut st = conn.prepare("SELECT id, workflow, created_at FROM runs")?;
        let mut rows = st.query([])?;
        let mut index: HashMap<String, usize> = HashMap::new();
        while let Some(r) = rows.next()? {
            let workflow = r.get_ref(1)?.as_str()?;
            let w = match index.get(workflow) {
                Some(&w) => w,
                None => {
                    workflows.push(workflow.to_string());
                    index.insert(workflow.to_string(), workflows.len() - 1);
                    workflows.len() - 1
                }
            };
            runs.insert(r.get(0)?, (w, r.get(2)?));
        }
    }
    let mut b = StatsBuilder::default();
    // Rows come by run: look each run up once.
    let mut current: Option<(String, Option<(usize, i64)>)> = None;
    let mut lookup = |run_id: &str| {
        if current.as_ref().is_none_or(|(id, _)| id != run_id) {
            current = Some((run_id.to_string(), runs.get(run_id).copied()));
        }
        current.as_ref().and_then(|(_, r)| *r)
    };
    let mut st =
        conn.prepare("SELECT run_id, step_id, position, status FROM steps WHERE parent IS NULL")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let Some((w, created_at)) = lookup(r.get_ref(0)?.as_str()?) else {
            continue;
        };
        b.step(
            &workflows[w],
            r.get_ref(1)?.as_str()?,
            r.get(2)?,
            created_at,
            r.get(3)?,
        );
    }
    let mut st = conn.prepare(&format!("SELECT {ATTEMPT_COLUMNS} FROM attempts a"))?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let row = attempt_row(r)?;
        let Some((w, _)) = lookup(row.run_id) else {
            continue;
        };
        b.attempt(&workflows[w], &row);
    }
    Ok(b.finish())
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

    fn add_run(s: &Store, id: &str, workflow: &str, created: i64) {
        s.conn
            .execute(
                "INSERT INTO runs (id, workflow, file_path, file_hash, definitions, inputs, \
                 orch_version, project_dir, status, created_at) \
                 VALUES (?1, ?2, 'f', 'h', '{}', '{}', 'v', '.', 'failed', ?3)",
                params![id, workflow, created],
            )
            .unwrap();
    }

    /// A steps row; `attempts`: (run attempt, attempt, status, ms taken).
    fn add_step(
        s: &Store,
        run: &str,
        step: &str,
        status: &str,
        attempts: &[(i64, i64, &str, i64)],
    ) {
        let parent = step.split_once('[').map(|(p, _)| p);
        s.conn
            .execute(
                "INSERT INTO steps (run_id, step_id, parent, position, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run, step, parent, i64::from(step.starts_with('b')), status],
            )
            .unwrap();
        for &(ra, at, st, ms) in attempts {
            let start = ra * 1_000_000 + at * 1000;
            let end = (st != "running").then_some(start + ms);
            s.conn
                .execute(
                    "INSERT INTO attempts (run_id, step_id, run_attempt, attempt, status, \
                     started_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![run, step, ra, at, st, start, end],
                )
                .unwrap();
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 50.0), Some(7));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50.0), Some(10));
        assert_eq!(percentile(&v, 95.0), Some(19));
        assert_eq!(percentile(&v, 100.0), Some(20));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 95.0), Some(4));
    }

    #[test]
    fn counts_executions_that_ran() {
        let (_d, s) = store();
        // r0: `a` ran; `b` failed, then a resume fixed it (both count).
        add_run(&s, "r0", "w", 0);
        add_step(&s, "r0", "a", "succeeded", &[(1, 1, "succeeded", 10)]);
        add_step(
            &s,
            "r0",
            "b",
            "succeeded",
            &[(1, 1, "failed", 100), (2, 1, "succeeded", 100)],
        );
        // r1: `a` cached; `b` cancelled before it started.
        add_run(&s, "r1", "w", 1);
        add_step(&s, "r1", "a", "cached", &[]);
        add_step(&s, "r1", "b", "cancelled", &[]);
        // r2: `a` failed once then succeeded on its retry: one execution,
        // not failed, 30 ms; `b`'s items: one failed, so `b` failed.
        add_run(&s, "r2", "w", 2);
        add_step(
            &s,
            "r2",
            "a",
            "succeeded",
            &[(1, 1, "failed", 5), (1, 2, "succeeded", 5)],
        );
        add_step(&s, "r2", "b", "failed", &[]);
        add_step(&s, "r2", "b[0]", "succeeded", &[(1, 1, "succeeded", 7)]);
        add_step(&s, "r2", "b[1]", "failed", &[(1, 1, "failed", 9)]);
        // r3: still running: not counted.
        add_run(&s, "r3", "w", 3);
        add_step(&s, "r3", "a", "running", &[(1, 1, "running", 0)]);
        add_run(&s, "x1", "other", 1);
        add_step(&s, "x1", "a", "skipped", &[]);

        for w in [
            step_stats(&s, Some("w")).unwrap(),
            step_stats(&s, None).unwrap(),
        ] {
            let w: Vec<&StepStats> = w.iter().filter(|s| s.workflow == "w").collect();
            assert_eq!(w.len(), 2, "{w:?}");
            let a = w[0];
            assert_eq!(
                (a.step.as_str(), a.runs, a.failures, a.cached),
                ("a", 2, 0, 1)
            );
            // The cached row is not a 0 ms run.
            assert_eq!((a.p50_ms, a.p95_ms), (Some(10), Some(1005)));
            let b = w[1];
            assert_eq!(
                (b.step.as_str(), b.runs, b.failures, b.cached),
                ("b", 3, 2, 0)
            );
            assert!((b.failure_rate - 2.0 / 3.0).abs() < 1e-9);
            assert_eq!((b.p50_ms, b.p95_ms), (Some(100), Some(100)));
        }
        let all = step_stats(&s, None).unwrap();
        // A step that was only ever skipped: no runs, no durations.
        assert_eq!(
            (
                all[0].workflow.as_str(),
                all[0].runs,
                all[0].failure_rate,
                all[0].p50_ms
            ),
            ("other", 0, 0.0, None)
        );
        assert!(step_stats(&s, Some("nope")).unwrap().is_empty());
    }
}
