//! One event → the rows it changes, inside the writer's transaction.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
use serde_json::Value as Json;

use super::store::to_ms;
use super::transition::{run_from, sql_list, step_from};
use crate::duration::millis;
use crate::event::wire::Name;
use crate::event::{Event, EventKind, Status, StepOutcome};

pub(super) enum Applied {
    Ok,
    CacheStored,
    Illegal(String),
}

/// A step's process group, from [`crate::event::ProcessStarted`].
pub(super) struct Process {
    pub(super) step: String,
    pub(super) attempt: u32,
    pub(super) pgid: i32,
    pub(super) start: Option<String>,
}

/// Applies events inside one transaction.
pub(super) struct Rec<'a> {
    pub(super) tx: &'a rusqlite::Transaction<'a>,
    /// The run the events are about, and which attempt of it.
    pub(super) run_id: &'a str,
    pub(super) run_attempt: i64,
    pub(super) positions: &'a HashMap<String, i64>,
}

impl Rec<'_> {
    /// `process` is the group the started attempt runs as, when it came
    /// in the same batch: one row written instead of a row and an update.
    pub(super) fn apply(&self, ev: &Event, process: Option<&Process>) -> rusqlite::Result<Applied> {
        let t = to_ms(ev.time);
        let run = self.run_id;
        match &ev.kind {
            EventKind::RunCreated => Ok(Applied::Ok),
            EventKind::RunStarted => {
                let n = self.tx.prepare_cached(&format!(
                        "UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?2), \
                         attempt = ?3 WHERE id = ?1 AND status IN {}",
                        sql_list(run_from(Status::Running))
                    ))?.execute(params![run, t, self.run_attempt])?;
                self.check_run(n, Status::Running)
            }
            EventKind::RunFinished { summary } => {
                let to = summary.status;
                let n = self
                    .tx
                    .prepare_cached(&format!(
                        "UPDATE runs SET status = ?2, finished_at = ?3, \
                         duration_ms = coalesce(duration_ms, 0) + ?4, error = ?5, outputs = ?6 \
                         WHERE id = ?1 AND status IN {}",
                        sql_list(run_from(to))
                    ))?
                    .execute(params![
                        run,
                        to.as_str(),
                        t,
                        millis(summary.duration) as i64,
                        summary.event_error(),
                        summary.event_outputs().map(outputs_text),
                    ])?;
                self.check_run(n, to)
            }
            EventKind::StepStarted {
                step: id, attempt, ..
            } => {
                self.ensure_item_row(id)?;
                let n = self
                    .tx
                    .prepare_cached(&format!(
                        "UPDATE steps SET status = 'running', attempts = 1, started_at = ?3, \
                         finished_at = NULL, duration_ms = NULL, exit_code = NULL, error = NULL, \
                         result = NULL, cached = 0 \
                         WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
                        sql_list(step_from(Status::Running))
                    ))?
                    .execute(params![run, id, t])?;
                if n == 0 {
                    return self.illegal_step(id, Status::Running);
                }
                if let Some(a) = attempt {
                    self.tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO attempts \
                         (run_id, step_id, run_attempt, attempt, status, started_at, pgid, \
                          pgid_start) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7)",
                        )?
                        .execute(params![
                            run,
                            id,
                            self.run_attempt,
                            a,
                            t,
                            process.map(|p| p.pgid),
                            process.and_then(|p| p.start.as_deref()),
                        ])?;
                }
                Ok(Applied::Ok)
            }
            EventKind::StepRetrying {
                step: id,
                attempt,
                error,
                exit_code,
                delay,
                ..
            } => {
                let next = *attempt as i64;
                let n = self
                    .tx
                    .prepare_cached(&format!(
                        "UPDATE steps SET status = 'retrying', attempts = ?3 \
                         WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
                        sql_list(step_from(Status::Retrying))
                    ))?
                    .execute(params![run, id, next])?;
                // From `retrying` the step goes on to its next attempt.
                let n2 = if n == 0 {
                    self.tx
                        .prepare_cached(
                            "UPDATE steps SET attempts = ?3 \
                         WHERE run_id = ?1 AND step_id = ?2 AND status = 'retrying'",
                        )?
                        .execute(params![run, id, next])?
                } else {
                    n
                };
                if n2 == 0 {
                    return self.illegal_step(id, Status::Retrying);
                }
                self.close_attempt(id, next - 1, "failed", t, *exit_code, Some(error))?;
                let starts = t + millis(*delay) as i64;
                self.tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO attempts \
                     (run_id, step_id, run_attempt, attempt, status, started_at) \
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
                    )?
                    .execute(params![run, id, self.run_attempt, next, starts])?;
                Ok(Applied::Ok)
            }
            EventKind::StepFinished {
                step: id,
                outcome: o,
            } if o.status == Status::Compensated => {
                // Undone, not re-run: the step keeps what it did and saw.
                let n = self
                    .tx
                    .prepare_cached(&format!(
                        "UPDATE steps SET status = 'compensated' \
                         WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
                        sql_list(step_from(Status::Compensated))
                    ))?
                    .execute(params![run, id])?;
                if n == 0 {
                    return self.illegal_step(id, Status::Compensated);
                }
                Ok(Applied::Ok)
            }
            EventKind::CompensationStarted {
                step: id, attempt, ..
            } => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO compensations (run_id, step_id, status, attempts, started_at) \
                         VALUES (?1, ?2, 'running', ?3, ?4) \
                         ON CONFLICT (run_id, step_id) DO UPDATE SET status = 'running', \
                         attempts = excluded.attempts, \
                         started_at = CASE WHEN compensations.status = 'running' \
                           THEN compensations.started_at ELSE excluded.started_at END, \
                         finished_at = NULL, duration_ms = NULL, error = NULL",
                    )?
                    .execute(params![run, id, attempt, t])?;
                Ok(Applied::Ok)
            }
            EventKind::CompensationFinished {
                step: id,
                outcome: o,
            } => {
                let n = self
                    .tx
                    .prepare_cached(
                        "UPDATE compensations SET status = ?3, attempts = coalesce(?4, attempts), \
                         finished_at = ?5, duration_ms = ?6, error = ?7 \
                         WHERE run_id = ?1 AND step_id = ?2 AND status = 'running'",
                    )?
                    .execute(params![
                        run,
                        id,
                        o.status.as_str(),
                        o.attempts,
                        t,
                        o.duration.map(|d| millis(d) as i64),
                        o.error,
                    ])?;
                if n == 0 {
                    // Failed before any attempt (e.g. an expression): no row yet.
                    self.tx
                        .prepare_cached(
                            "INSERT OR IGNORE INTO compensations \
                             (run_id, step_id, status, attempts, started_at, finished_at, \
                              duration_ms, error) VALUES (?1, ?2, ?3, coalesce(?4, 0), ?5, ?5, ?6, ?7)",
                        )?
                        .execute(params![
                            run,
                            id,
                            o.status.as_str(),
                            o.attempts,
                            t,
                            o.duration.map(|d| millis(d) as i64),
                            o.error,
                        ])?;
                }
                Ok(Applied::Ok)
            }
            EventKind::StepFinished {
                step: id,
                outcome: o,
            } => {
                let to = o.status;
                self.ensure_item_row(id)?;
                let n = self.end_row(
                    &format!(
                        "UPDATE steps SET status = ?3, attempts = coalesce(?4, attempts), \
                         finished_at = ?5, duration_ms = ?6, exit_code = ?7, error = ?8, \
                         result = ?9, cached = ?10, http_status = ?11, \
                         started_at = coalesce(?12, started_at) \
                         WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
                        sql_list(step_from(to))
                    ),
                    id,
                    o,
                    t,
                    None,
                )?;
                if n == 0 {
                    return self.illegal_step(id, to);
                }
                if let Some(a) = o.attempts.filter(|&a| a > 0) {
                    self.close_attempt(
                        id,
                        a as i64,
                        to.as_str(),
                        t,
                        o.exit_code,
                        o.error.as_deref(),
                    )?;
                }
                self.cache(&ev.workflow, Name::of(&ev.kind), o, id, t)
            }
            EventKind::ApprovalRequested {
                step: id,
                message,
                timeout,
            } => {
                self.tx.prepare_cached("INSERT INTO approvals (run_id, step_id, message, requested_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING")?.execute(params![
                        run,
                        id,
                        message,
                        t,
                        timeout.map(|d| t + millis(d) as i64),
                    ])?;
                Ok(Applied::Ok)
            }
            EventKind::ApprovalDecided { step: id, verdict } => {
                self.tx
                    .prepare_cached(
                        "UPDATE approvals SET decision = ?3, decided_by = ?4, decided_at = ?5, \
                     comment = ?6 WHERE run_id = ?1 AND step_id = ?2 AND decision IS NULL",
                    )?
                    .execute(params![
                        run,
                        id,
                        verdict.name(),
                        verdict.by(),
                        t,
                        verdict.comment()
                    ])?;
                Ok(Applied::Ok)
            }
        }
    }

    /// A step's first attempt, started and ended in one batch: its step
    /// row goes from `pending` (or `retrying`) to its end in one update,
    /// and its attempt row is written once. The caller checked that
    /// `running` → the end is legal, so only the start's check is left.
    pub(super) fn ran(
        &self,
        started: &Event,
        process: Option<&Process>,
        finished: &Event,
    ) -> rusqlite::Result<Applied> {
        let (EventKind::StepStarted { step: id, .. }, EventKind::StepFinished { outcome: o, .. }) =
            (&started.kind, &finished.kind)
        else {
            // Not a start and an end: apply them one by one.
            self.apply(started, process)?;
            return self.apply(finished, None);
        };
        let (t0, t) = (to_ms(started.time), to_ms(finished.time));
        let run = self.run_id;
        let to = o.status;
        self.ensure_item_row(id)?;
        let n = self.end_row(ran_sql(), id, o, t, Some(t0))?;
        if n == 0 {
            return self.illegal_step(id, Status::Running);
        }
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO attempts (run_id, step_id, run_attempt, attempt, status, \
                 started_at, finished_at, exit_code, error, pgid, pgid_start) \
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                run,
                id,
                self.run_attempt,
                to.as_str(),
                t0,
                t,
                o.exit_code,
                o.error,
                process.map(|p| p.pgid),
                process.and_then(|p| p.start.as_deref()),
            ])?;
        self.cache(&finished.workflow, Name::of(&finished.kind), o, id, t)
    }

    /// A step's row at its end (`sql` binds `?1`…`?12`, `?12` = its start
    /// when the same update records it); the rows changed.
    fn end_row(
        &self,
        sql: &str,
        id: &str,
        o: &StepOutcome,
        t: i64,
        started: Option<i64>,
    ) -> rusqlite::Result<usize> {
        let result = o.result.as_ref().map(|r| r.to_string());
        self.tx.prepare_cached(sql)?.execute(params![
            self.run_id,
            id,
            o.status.as_str(),
            o.attempts,
            t,
            o.duration.map(|d| millis(d) as i64),
            o.exit_code,
            o.error,
            result,
            o.status == Status::Cached,
            o.http_status,
            started,
        ])
    }

    /// The running attempt's process group (a compensation's, for
    /// `id.compensate`: step ids hold no `.`).
    pub(super) fn process(&self, p: &Process) -> rusqlite::Result<()> {
        if let Some(step) = p.step.strip_suffix(".compensate") {
            self.tx
                .prepare_cached(
                    "UPDATE compensations SET pgid = ?3, pgid_start = ?4 \
                     WHERE run_id = ?1 AND step_id = ?2 AND status = 'running'",
                )?
                .execute(params![self.run_id, step, p.pgid, p.start])?;
        } else {
            self.tx
                .prepare_cached(
                    "UPDATE attempts SET pgid = ?5, pgid_start = ?6 WHERE run_id = ?1 \
                     AND step_id = ?2 AND run_attempt = ?3 AND attempt = ?4",
                )?
                .execute(params![
                    self.run_id,
                    p.step,
                    self.run_attempt,
                    p.attempt,
                    p.pgid,
                    p.start
                ])?;
        }
        Ok(())
    }

    fn cache(
        &self,
        workflow: &str,
        name: Name,
        o: &StepOutcome,
        id: &str,
        t: i64,
    ) -> rusqlite::Result<Applied> {
        let Some(note) = &o.cache else {
            return Ok(Applied::Ok);
        };
        if name == Name::StepCached {
            self.tx
                .prepare_cached("UPDATE cache SET last_used_at = ?2 WHERE fingerprint = ?1")?
                .execute(params![note.fingerprint, t])?;
            return Ok(Applied::Ok);
        }
        if name != Name::StepCompleted {
            return Ok(Applied::Ok);
        }
        let mut result = o.result.as_deref().cloned().unwrap_or(Json::Null);
        if let Json::Object(m) = &mut result {
            m.remove("status");
            m.remove("error");
        }
        let step = id.split('[').next().unwrap_or(id);
        self.tx.prepare_cached("INSERT OR REPLACE INTO cache (fingerprint, workflow, step_id, parts, result, run_id, \
             created_at, expires_at, last_used_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7)")?.execute(params![
                note.fingerprint,
                workflow,
                step,
                note.parts,
                result.to_string(),
                self.run_id,
                t,
                note.ttl.map(|d| t + d.as_millis() as i64),
            ])?;
        Ok(Applied::CacheStored)
    }

    fn close_attempt(
        &self,
        id: &str,
        attempt: i64,
        status: &str,
        t: i64,
        exit_code: Option<i32>,
        error: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE attempts SET status = ?5, finished_at = ?6, exit_code = ?7, error = ?8 \
             WHERE run_id = ?1 AND step_id = ?2 AND run_attempt = ?3 AND attempt = ?4 \
             AND status = 'running'",
            )?
            .execute(params![
                self.run_id,
                id,
                self.run_attempt,
                attempt,
                status,
                t,
                exit_code,
                error
            ])?;
        Ok(())
    }

    /// `for_each` items get their row when they first appear.
    fn ensure_item_row(&self, id: &str) -> rusqlite::Result<()> {
        let Some((parent, rest)) = id.split_once('[') else {
            return Ok(());
        };
        let item: i64 = rest.trim_end_matches(']').parse().unwrap_or(0);
        let position = self.positions.get(parent).copied().unwrap_or(0);
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO steps (run_id, step_id, parent, position, item, status) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
            )?
            .execute(params![self.run_id, id, parent, position, item])?;
        Ok(())
    }

    fn check_run(&self, n: usize, to: Status) -> rusqlite::Result<Applied> {
        if n > 0 {
            return Ok(Applied::Ok);
        }
        let from: Option<String> = self
            .tx
            .query_row(
                "SELECT status FROM runs WHERE id = ?1",
                [self.run_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(Applied::Illegal(format!(
            "run {}: {} → {}",
            self.run_id,
            from.as_deref().unwrap_or("(no row)"),
            to.as_str()
        )))
    }

    fn illegal_step(&self, id: &str, to: Status) -> rusqlite::Result<Applied> {
        let from: Option<String> = self
            .tx
            .query_row(
                "SELECT status FROM steps WHERE run_id = ?1 AND step_id = ?2",
                params![self.run_id, id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(Applied::Illegal(format!(
            "step `{id}`: {} → {}",
            from.as_deref().unwrap_or("(no row)"),
            to.as_str()
        )))
    }
}

/// The workflow's outputs as stored: a JSON object in declaration order.
fn outputs_text(o: &crate::event::Outputs) -> String {
    // Strings and JSON values always serialize; the fallback is never used.
    serde_json::to_string(o).unwrap_or_else(|_| "{}".into())
}

/// [`Rec::ran`]'s step update: the start's `WHERE`, the end's values.
fn ran_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "UPDATE steps SET status = ?3, attempts = coalesce(?4, 1), started_at = ?12, \
             finished_at = ?5, duration_ms = ?6, exit_code = ?7, error = ?8, result = ?9, \
             cached = ?10, http_status = ?11 \
             WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
            sql_list(step_from(Status::Running))
        )
    })
}
