//! One event → the rows it changes, inside the writer's transaction.

use std::collections::HashMap;
use std::sync::OnceLock;

use rusqlite::{params, CachedStatement, Connection, OptionalExtension, ToSql};
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

/// The statements every step runs through. Their text is built once per
/// process; the connection's statement cache keeps them prepared (the
/// writer's state moves between threads, and a prepared `Statement` cannot
/// outlive the lock that lends it the connection).
#[derive(Clone, Copy)]
pub(super) enum Hot {
    Begin,
    Commit,
    StepStart,
    AttemptStart,
    AttemptPgid,
    AttemptClose,
    RanStep,
    RanAttempt,
    /// A step's end with this status (each has its legal predecessors).
    StepEnd(Status),
}

/// [`Hot`] statements besides the ends, then one end per status.
const FIXED: usize = 8;
const SLOTS: usize = FIXED + 10;

/// Where a status's end statement is among the slots (exhaustive: a new
/// status gets a slot of its own or does not compile).
fn status_slot(to: Status) -> usize {
    FIXED
        + match to {
            Status::Pending => 0,
            Status::Running => 1,
            Status::Retrying => 2,
            Status::Waiting => 3,
            Status::Succeeded => 4,
            Status::Failed => 5,
            Status::Skipped => 6,
            Status::Cached => 7,
            Status::Cancelled => 8,
            Status::Compensated => 9,
        }
}

impl Hot {
    fn index(self) -> usize {
        match self {
            Hot::Begin => 0,
            Hot::Commit => 1,
            Hot::StepStart => 2,
            Hot::AttemptStart => 3,
            Hot::AttemptPgid => 4,
            Hot::AttemptClose => 5,
            Hot::RanStep => 6,
            Hot::RanAttempt => 7,
            Hot::StepEnd(to) => status_slot(to),
        }
    }

    fn sql(self) -> String {
        match self {
            Hot::Begin => "BEGIN IMMEDIATE".into(),
            Hot::Commit => "COMMIT".into(),
            Hot::StepStart => format!(
                "UPDATE steps SET status = 'running', attempts = 1, started_at = ?3, \
                 finished_at = NULL, duration_ms = NULL, exit_code = NULL, error = NULL, \
                 result = NULL, cached = 0 \
                 WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
                sql_list(step_from(Status::Running))
            ),
            Hot::AttemptStart => "INSERT OR REPLACE INTO attempts \
                 (run_id, step_id, run_attempt, attempt, status, started_at, pgid, \
                 pgid_start) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7)"
                .into(),
            Hot::AttemptPgid => "UPDATE attempts SET pgid = ?5, pgid_start = ?6 WHERE run_id = ?1 \
                 AND step_id = ?2 AND run_attempt = ?3 AND attempt = ?4"
                .into(),
            // ?9: the attempt's process group when it came in the same batch.
            Hot::AttemptClose => "UPDATE attempts SET status = ?5, finished_at = ?6, \
                 exit_code = ?7, error = ?8, pgid = coalesce(?9, pgid), \
                 pgid_start = CASE WHEN ?9 IS NULL THEN pgid_start ELSE ?10 END \
                 WHERE run_id = ?1 AND step_id = ?2 AND run_attempt = ?3 AND attempt = ?4 \
                 AND status = 'running'"
                .into(),
            Hot::RanStep => format!(
                "UPDATE steps SET status = ?3, attempts = coalesce(?4, 1), started_at = ?12, \
                 finished_at = ?5, duration_ms = ?6, exit_code = ?7, error = ?8, result = ?9, \
                 cached = ?10, http_status = ?11 \
                 WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
                sql_list(step_from(Status::Running))
            ),
            Hot::RanAttempt => "INSERT OR REPLACE INTO attempts (run_id, step_id, run_attempt, \
                 attempt, status, started_at, finished_at, exit_code, error, pgid, pgid_start) \
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                .into(),
            Hot::StepEnd(to) => format!(
                "UPDATE steps SET status = ?3, attempts = coalesce(?4, attempts), \
                 finished_at = ?5, duration_ms = ?6, exit_code = ?7, error = ?8, \
                 result = ?9, cached = ?10, http_status = ?11, \
                 started_at = coalesce(?12, started_at) \
                 WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
                sql_list(step_from(to))
            ),
        }
    }
}

/// The text of each [`Hot`] statement, built when first used.
static TEXT: [OnceLock<String>; SLOTS] = [const { OnceLock::new() }; SLOTS];

/// The writer's [`Hot`] statements on its connection, for one batch: each
/// taken from the connection's cache when first used and reused for every
/// row of the batch.
pub(super) struct Stmts<'c> {
    conn: &'c Connection,
    /// `?1` of every statement that has parameters, bound once a batch.
    run_id: &'c str,
    slots: Vec<Option<CachedStatement<'c>>>,
}

impl<'c> Stmts<'c> {
    pub(super) fn new(conn: &'c Connection, run_id: &'c str) -> Self {
        Stmts {
            conn,
            run_id,
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }

    pub(super) fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// Execute `hot` with `rest` as `?2`, `?3`, … (every one of them, each
    /// time: bindings are kept from the last execution); the rows changed.
    pub(super) fn run(&mut self, hot: Hot, rest: &[&dyn ToSql]) -> rusqlite::Result<usize> {
        let st = self.get(hot)?;
        // A parameter left out would keep its last value: refuse.
        let given = rest.len() + usize::from(!rest.is_empty());
        if st.parameter_count() != given {
            return Err(rusqlite::Error::InvalidParameterCount(
                given,
                st.parameter_count(),
            ));
        }
        for (i, p) in rest.iter().enumerate() {
            st.raw_bind_parameter(i + 2, p)?;
        }
        st.raw_execute()
    }

    fn get(&mut self, hot: Hot) -> rusqlite::Result<&mut CachedStatement<'c>> {
        let i = hot.index();
        if self.slots[i].is_none() {
            let text = TEXT[i].get_or_init(|| hot.sql());
            let mut st = self.conn.prepare_cached(text)?;
            if st.parameter_count() > 0 {
                st.raw_bind_parameter(1, self.run_id)?;
            }
            self.slots[i] = Some(st);
        }
        match &mut self.slots[i] {
            Some(st) => Ok(st),
            None => unreachable!("prepared just above"),
        }
    }
}

/// How an attempt ended.
struct Close<'e> {
    status: &'static str,
    t: i64,
    exit_code: Option<i32>,
    error: Option<&'e str>,
}

/// Applies events inside one transaction.
pub(super) struct Rec<'a, 'c> {
    /// On the connection whose transaction is open.
    pub(super) st: &'a mut Stmts<'c>,
    /// The run the events are about, and which attempt of it.
    pub(super) run_id: &'a str,
    pub(super) run_attempt: i64,
    pub(super) positions: &'a HashMap<String, i64>,
    /// Whether the run's end records its step durations (`run_durations`).
    pub(super) durations: bool,
}

impl Rec<'_, '_> {
    /// `process` is the group the started attempt runs as, when it came
    /// in the same batch: one row written instead of a row and an update.
    pub(super) fn apply(
        &mut self,
        ev: &Event,
        process: Option<&Process>,
    ) -> rusqlite::Result<Applied> {
        let t = to_ms(ev.time);
        let run = self.run_id;
        match &ev.kind {
            EventKind::RunCreated => Ok(Applied::Ok),
            EventKind::RunStarted => {
                let n = self.st.conn().prepare_cached(&format!(
                        "UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?2), \
                         attempt = ?3 WHERE id = ?1 AND status IN {}",
                        sql_list(run_from(Status::Running))
                    ))?.execute(params![run, t, self.run_attempt])?;
                self.check_run(n, Status::Running)
            }
            EventKind::RunFinished { summary } => {
                let to = summary.status;
                let n = self
                    .st
                    .conn()
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
                if n > 0 && self.durations {
                    self.st
                        .conn()
                        .prepare_cached(super::query::RECORD_DURATIONS)?
                        .execute([run])?;
                }
                self.check_run(n, to)
            }
            EventKind::StepStarted {
                step: id, attempt, ..
            } => {
                self.ensure_item_row(id)?;
                let n = self.st.run(Hot::StepStart, params![id, t])?;
                if n == 0 {
                    return self.illegal_step(id, Status::Running);
                }
                if let Some(a) = attempt {
                    let run_attempt = self.run_attempt;
                    self.st.run(
                        Hot::AttemptStart,
                        params![
                            id,
                            run_attempt,
                            a,
                            t,
                            process.map(|p| p.pgid),
                            process.and_then(|p| p.start.as_deref()),
                        ],
                    )?;
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
                    .st
                    .conn()
                    .prepare_cached(&format!(
                        "UPDATE steps SET status = 'retrying', attempts = ?3 \
                         WHERE run_id = ?1 AND step_id = ?2 AND status IN {}",
                        sql_list(step_from(Status::Retrying))
                    ))?
                    .execute(params![run, id, next])?;
                // From `retrying` the step goes on to its next attempt.
                let n2 = if n == 0 {
                    self.st
                        .conn()
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
                let close = Close {
                    status: "failed",
                    t,
                    exit_code: *exit_code,
                    error: Some(error),
                };
                self.close_attempt(id, next - 1, &close, None)?;
                let starts = t + millis(*delay) as i64;
                self.st
                    .conn()
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
                    .st
                    .conn()
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
                self.st.conn()
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
                    .st
                    .conn()
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
                    self.st.conn()
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
                let n = self.end_row(Hot::StepEnd(to), id, o, t, None)?;
                if n == 0 {
                    if let Some(p) = process {
                        self.process(p)?;
                    }
                    return self.illegal_step(id, to);
                }
                if let Some(a) = o.attempts.filter(|&a| a > 0) {
                    let close = Close {
                        status: to.as_str(),
                        t,
                        exit_code: o.exit_code,
                        error: o.error.as_deref(),
                    };
                    // The process group joins the attempt it ran.
                    let process = process.filter(|p| p.attempt == a);
                    self.close_attempt(id, a as i64, &close, process)?;
                }
                self.cache(&ev.workflow, Name::of(&ev.kind), o, id, t)
            }
            EventKind::ApprovalRequested {
                step: id,
                message,
                timeout,
            } => {
                self.st.conn().prepare_cached("INSERT INTO approvals (run_id, step_id, message, requested_at, expires_at) \
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
                self.st
                    .conn()
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
        &mut self,
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
        let to = o.status;
        self.ensure_item_row(id)?;
        let n = self.end_row(Hot::RanStep, id, o, t, Some(t0))?;
        if n == 0 {
            return self.illegal_step(id, Status::Running);
        }
        let run_attempt = self.run_attempt;
        self.st.run(
            Hot::RanAttempt,
            params![
                id,
                run_attempt,
                to.as_str(),
                t0,
                t,
                o.exit_code,
                o.error,
                process.map(|p| p.pgid),
                process.and_then(|p| p.start.as_deref()),
            ],
        )?;
        self.cache(&finished.workflow, Name::of(&finished.kind), o, id, t)
    }

    /// A step's row at its end (`hot` binds `?1`…`?12`, `?12` = its start
    /// when the same update records it); the rows changed.
    fn end_row(
        &mut self,
        hot: Hot,
        id: &str,
        o: &StepOutcome,
        t: i64,
        started: Option<i64>,
    ) -> rusqlite::Result<usize> {
        // `to_string` writes bytes straight into a buffer; `Display`
        // (`Value::to_string`) goes through the formatter token by token.
        let result = o.result.as_deref().map(json_text);
        self.st.run(
            hot,
            params![
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
            ],
        )
    }

    /// The running attempt's process group (a compensation's, for
    /// `id.compensate`: step ids hold no `.`).
    pub(super) fn process(&mut self, p: &Process) -> rusqlite::Result<()> {
        if let Some(step) = p.step.strip_suffix(".compensate") {
            self.st
                .conn()
                .prepare_cached(
                    "UPDATE compensations SET pgid = ?3, pgid_start = ?4 \
                     WHERE run_id = ?1 AND step_id = ?2 AND status = 'running'",
                )?
                .execute(params![self.run_id, step, p.pgid, p.start])?;
        } else {
            let run_attempt = self.run_attempt;
            self.st.run(
                Hot::AttemptPgid,
                params![p.step, run_attempt, p.attempt, p.pgid, p.start],
            )?;
        }
        Ok(())
    }

    fn cache(
        &mut self,
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
            self.st
                .conn()
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
        self.st.conn().prepare_cached("INSERT OR REPLACE INTO cache (fingerprint, workflow, step_id, parts, result, run_id, \
             created_at, expires_at, last_used_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7)")?.execute(params![
                note.fingerprint,
                workflow,
                step,
                note.parts,
                json_text(&result),
                self.run_id,
                t,
                note.ttl.map(|d| t + d.as_millis() as i64),
            ])?;
        Ok(Applied::CacheStored)
    }

    /// An attempt's end; `process` is its process group when that came
    /// in the same batch (one update instead of two).
    fn close_attempt(
        &mut self,
        id: &str,
        attempt: i64,
        close: &Close<'_>,
        process: Option<&Process>,
    ) -> rusqlite::Result<()> {
        let run_attempt = self.run_attempt;
        self.st.run(
            Hot::AttemptClose,
            params![
                id,
                run_attempt,
                attempt,
                close.status,
                close.t,
                close.exit_code,
                close.error,
                process.map(|p| p.pgid),
                process.and_then(|p| p.start.as_deref()),
            ],
        )?;
        Ok(())
    }

    /// `for_each` items get their row when they first appear.
    fn ensure_item_row(&mut self, id: &str) -> rusqlite::Result<()> {
        let Some((parent, rest)) = id.split_once('[') else {
            return Ok(());
        };
        let item: i64 = rest.trim_end_matches(']').parse().unwrap_or(0);
        let position = self.positions.get(parent).copied().unwrap_or(0);
        self.st
            .conn()
            .prepare_cached(
                "INSERT OR IGNORE INTO steps (run_id, step_id, parent, position, item, status) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
            )?
            .execute(params![self.run_id, id, parent, position, item])?;
        Ok(())
    }

    fn check_run(&mut self, n: usize, to: Status) -> rusqlite::Result<Applied> {
        if n > 0 {
            return Ok(Applied::Ok);
        }
        let from: Option<String> = self
            .st
            .conn()
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

    fn illegal_step(&mut self, id: &str, to: Status) -> rusqlite::Result<Applied> {
        let from: Option<String> = self
            .st
            .conn()
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

/// A value as JSON text, the way `result` columns hold it.
fn json_text(v: &Json) -> String {
    // A `Value` always serializes (its keys are strings); the fallback is
    // never used.
    serde_json::to_string(v).unwrap_or_else(|_| v.to_string())
}
