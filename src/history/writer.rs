//! Recording a run: the run row is created before anything runs, then a
//! [`HistorySink`] turns engine events into rows on a thread of its own.
//!
//! Events queue up while the writer commits; each commit takes everything
//! queued (group commit), so steps never wait for one transaction per event.
//! The engine asks [`Sink::durable`] before starting the dependents of a
//! finished step, which is the one wait that durability needs. When the
//! engine has nothing else to do meanwhile ([`Sink::durable_now`]) and the
//! writer is not mid-commit, the engine's thread commits what is queued
//! itself: no hand-off to the writer's thread and back.
//!
//! Whoever commits holds the [`Core`] (connection, queue, writer state), so
//! messages are taken and written in the order they were sent, one batch
//! at a time, on either thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::watch;

use super::record::{Applied, Hot, Process, Rec, Stmts};
use super::step_logs::{self, Backlog, StepLogs};
use super::store::Store;
use crate::event::{Durable, Event, EventKind, Output, ProcessStarted, Sink, Status};

pub(crate) use super::runs::NewRun;

enum Msg {
    Event(Box<Event>),
    /// A batch of a step's output, as its log's text (counted in the backlog).
    Output {
        step: String,
        text: String,
    },
    Process(Process),
}

impl Msg {
    /// Whether the batch holding it is committed at once: what the engine
    /// or another process (`orch approve`) waits for.
    fn urgent(&self) -> bool {
        match self {
            Msg::Event(e) => matches!(
                e.kind,
                EventKind::RunStarted
                    | EventKind::RunFinished { .. }
                    | EventKind::ApprovalRequested { .. }
                    | EventKind::ApprovalDecided { .. }
            ),
            Msg::Output { .. } | Msg::Process(_) => false,
        }
    }
}

/// Settings the writer needs besides the events.
pub(crate) struct WriterConfig {
    pub(crate) run_id: String,
    /// `runs.attempt` of this attempt (attempt rows are keyed by it).
    pub(crate) run_attempt: i64,
    /// Step ids in file order (positions of item rows).
    pub(crate) steps: Vec<String>,
    /// Where `<step>.log` files go; `None` writes none.
    pub(crate) logs_dir: Option<PathBuf>,
    /// Cache entries kept (least recently used evicted).
    pub(crate) cache_max: usize,
    /// Whether the run's end keeps its step durations for ranking later
    /// runs: not where no ranking reads them (one step, a chain).
    pub(crate) durations: bool,
}

/// What went wrong while recording, reported by [`HistorySink::finish`].
#[derive(Debug, Default)]
pub(crate) struct WriterReport {
    /// The first database or file error; later writes were given up.
    pub(crate) error: Option<String>,
    /// Illegal status transitions: each one is a bug in orch.
    pub(crate) illegal: Vec<String>,
}

/// Messages queued for the writer at most (output is bounded in bytes too,
/// by its [`Backlog`]); a sender waits here rather than growing memory.
const QUEUE: usize = 16 * 1024;

/// The queue for a run of `steps` steps: std's bounded channel allocates
/// and initialises every slot up front (a megabyte at [`QUEUE`], a quarter
/// of a one-step run's page faults), so a small run gets a small queue.
/// Output is bounded in bytes apart from it ([`Backlog`]), so even the
/// smallest holds many batches.
fn queue_for(steps: usize) -> usize {
    steps.saturating_mul(64).clamp(128, QUEUE)
}

/// How long a batch that nobody waits for gathers more before its commit.
/// Steps that start and end together then share one transaction (a commit
/// is a dozen system calls and a few page writes); whoever needs a row on
/// disk asks [`Sink::durable`], which commits at once.
const LINGER: Duration = Duration::from_millis(2);

/// Messages in one transaction at most.
const BATCH: usize = 4096;

/// Commits between two WAL checkpoints (about what SQLite's default
/// 1000-page auto-checkpoint amounts to for orch's small transactions).
const CHECKPOINT_EVERY: u64 = 500;

/// A WAL larger than this is folded into the database (and emptied) when a
/// run's writer ends. Every process that opens the history first reads the
/// whole WAL to rebuild its index (about 2 µs a page); a fold costs three
/// fsyncs. 256 KiB (a few short runs) keeps both to a fraction of a
/// millisecond a run.
const WAL_FOLD_BYTES: u64 = 256 << 10;

/// The size of `db`'s write-ahead log; 0 when there is none.
fn wal_bytes(db: &std::path::Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// What the sink and whoever commits share.
struct Shared {
    /// `None` until the writer's thread has set up, and once it has ended.
    core: Mutex<Option<Core>>,
    /// Messages sent; the ones taken are [`Core::count`].
    sent: AtomicU64,
    taken: AtomicU64,
    /// Somebody waits for what was sent so far: commit without lingering.
    urgent: AtomicBool,
    /// The writer's thread sleeps until a message wakes it (see [`wait`]).
    sleeping: AtomicBool,
    /// A checkpoint is due (the writer's thread runs it, see [`Core::step`]).
    checkpoint: AtomicBool,
    /// Every sender is gone: the writer commits what is left and ends.
    closed: AtomicBool,
    /// Queued messages that end the wait for more: a full batch, or a full
    /// queue (whose senders wait).
    full: usize,
}

impl Shared {
    fn pending(&self) -> bool {
        self.sent.load(Ordering::SeqCst) > self.taken.load(Ordering::SeqCst)
    }
}

/// The connection, the queue and the writer's state: held by whoever
/// commits.
struct Core {
    writer: Writer,
    conn: Connection,
    rx: mpsc::Receiver<Msg>,
    /// Messages taken so far, published once they are committed.
    count: u64,
    done: watch::Sender<u64>,
    since_checkpoint: u64,
}

pub(crate) struct HistorySink {
    /// Whether step output is kept (not with an in-memory history).
    logs: bool,
    backlog: Arc<Backlog>,
    alive: Arc<AtomicBool>,
    tx: Mutex<Option<mpsc::SyncSender<Msg>>>,
    shared: Arc<Shared>,
    committed: watch::Receiver<u64>,
    thread: Mutex<Option<std::thread::JoinHandle<WriterReport>>>,
    /// The writer thread, to unpark when something must be written now.
    waker: Option<std::thread::Thread>,
}

impl HistorySink {
    /// Start the writer thread on `store`'s connection.
    pub(crate) fn start(store: Store, cfg: WriterConfig) -> Arc<HistorySink> {
        Self::launch(store, cfg, true)
    }

    /// With `thread` false (tests), no writer thread: whoever asks
    /// [`Sink::durable_now`] commits.
    fn launch(store: Store, cfg: WriterConfig, thread: bool) -> Arc<HistorySink> {
        let before = if cfg.run_attempt > 1 {
            earlier_attempts(&store, &cfg.run_id, cfg.run_attempt)
        } else {
            HashMap::new()
        };
        let logs = StepLogs::new(cfg.logs_dir.clone(), cfg.run_attempt, before);
        let queue = queue_for(cfg.steps.len());
        let (tx, rx) = mpsc::sync_channel(queue);
        let (done_tx, done_rx) = watch::channel(0u64);
        let backlog = Arc::new(Backlog::new());
        let alive = Arc::new(AtomicBool::new(true));
        let keep_logs = cfg.logs_dir.is_some();
        let shared = Arc::new(Shared {
            core: Mutex::new(None),
            sent: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            urgent: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            checkpoint: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            full: queue.min(BATCH),
        });
        let (b, a, sh) = (backlog.clone(), alive.clone(), shared.clone());
        let core = move || {
            let (writer, conn) = Writer::new(store, cfg, logs, b);
            Core {
                writer,
                conn,
                rx,
                count: 0,
                done: done_tx,
                since_checkpoint: 0,
            }
        };
        let thread = if thread {
            let thread = std::thread::Builder::new()
                .name("orch-history".into())
                .spawn(move || {
                    let report = run(&sh, core());
                    a.store(false, Ordering::SeqCst);
                    report
                })
                .ok();
            if thread.is_none() {
                alive.store(false, Ordering::SeqCst);
            }
            thread
        } else {
            if let Ok(mut slot) = shared.core.lock() {
                *slot = Some(core());
            }
            None
        };
        Arc::new(HistorySink {
            logs: keep_logs,
            backlog,
            alive,
            tx: Mutex::new(Some(tx)),
            shared,
            committed: done_rx,
            waker: thread.as_ref().map(|t| t.thread().clone()),
            thread: Mutex::new(thread),
        })
    }

    fn send(&self, msg: Msg) {
        let urgent = msg.urgent();
        if let Ok(guard) = self.tx.lock() {
            if let Some(tx) = guard.as_ref() {
                if tx.send(msg).is_ok() {
                    self.shared.sent.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        // A writer between looks finds the message at its next one; only
        // what must be written at once, or a writer asleep, is woken.
        if urgent {
            self.shared.urgent.store(true, Ordering::SeqCst);
            self.wake();
        } else if self.shared.sleeping.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(t) = &self.waker {
            t.unpark();
        }
    }

    /// Wait until everything is written; report what went wrong.
    pub(crate) fn finish(&self) -> WriterReport {
        if let Ok(mut guard) = self.tx.lock() {
            guard.take();
        }
        self.shared.closed.store(true, Ordering::SeqCst);
        self.wake();
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        match handle.map(|h| h.join()) {
            Some(Ok(report)) => report,
            Some(Err(_)) => WriterReport {
                error: Some("the history writer stopped unexpectedly".into()),
                illegal: Vec::new(),
            },
            None => WriterReport {
                error: Some("the history writer could not start".into()),
                illegal: Vec::new(),
            },
        }
    }
}

impl Sink for HistorySink {
    fn event(&self, ev: &Event) {
        self.send(Msg::Event(Box::new(ev.clone())));
    }

    fn output(&self, out: &Output<'_>) {
        if !self.logs {
            return;
        }
        let text = step_logs::text_of(out);
        self.backlog
            .reserve(text.len(), || self.alive.load(Ordering::SeqCst));
        self.send(Msg::Output {
            step: out.step_id.to_string(),
            text,
        });
    }

    fn process(&self, p: &ProcessStarted<'_>) {
        self.send(Msg::Process(Process {
            step: p.step_id.to_string(),
            attempt: p.attempt,
            pgid: p.pgid,
            start: p.start.map(str::to_string),
        }));
    }

    fn durable(&self) -> Option<Durable> {
        let target = self.shared.sent.load(Ordering::SeqCst);
        let mut rx = self.committed.clone();
        if *rx.borrow() < target {
            // The writer may be gathering a batch: have it commit now.
            self.shared.urgent.store(true, Ordering::SeqCst);
            self.wake();
        }
        Some(Box::pin(async move {
            // An error means the writer is gone; there is nothing to wait for.
            let _ = rx.wait_for(|&done| done >= target).await;
        }))
    }

    fn durable_now(&self) -> Option<Durable> {
        let target = self.shared.sent.load(Ordering::SeqCst);
        if *self.committed.borrow() >= target {
            return None;
        }
        // Not while the writer commits (it has taken part of what is
        // waited for): then its commit is awaited as usual.
        if let Ok(mut guard) = self.shared.core.try_lock() {
            if let Some(core) = guard.as_mut() {
                while core.count < target && core.step(&self.shared) {}
                let done = core.count >= target;
                drop(guard);
                if self.shared.checkpoint.load(Ordering::SeqCst) {
                    self.wake();
                }
                if done {
                    return None;
                }
            }
        }
        self.durable()
    }
}

/// The writer's thread: commit what comes, batch by batch, until every
/// sender is gone; then fold a grown WAL into the database.
fn run(shared: &Shared, core: Core) -> WriterReport {
    match shared.core.lock() {
        Ok(mut slot) => *slot = Some(core),
        Err(_) => return gone(),
    }
    while wait(shared) {
        let Ok(mut guard) = shared.core.lock() else {
            break;
        };
        let Some(core) = guard.as_mut() else { break };
        core.step(shared);
        if shared.checkpoint.swap(false, Ordering::SeqCst) {
            core.since_checkpoint = 0;
            // PASSIVE: never waits for readers or other writers.
            let _ = core
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }
    // Whatever happened, the core leaves the lock here: its end wakes
    // anyone still awaiting a commit.
    let core = match shared.core.lock() {
        Ok(mut slot) => slot.take(),
        Err(poisoned) => {
            drop(poisoned.into_inner().take());
            None
        }
    };
    match core {
        Some(mut core) => {
            while core.step(shared) {}
            core.close()
        }
        None => gone(),
    }
}

fn gone() -> WriterReport {
    WriterReport {
        error: Some("the history writer stopped unexpectedly".into()),
        illegal: Vec::new(),
    }
}

impl Core {
    /// Take what is queued (a batch at most), write it in one transaction
    /// and publish it; false when nothing was queued.
    fn step(&mut self, shared: &Shared) -> bool {
        // Cleared before taking: an urgent message sent from now on is in
        // this batch or wakes the next.
        shared.urgent.store(false, Ordering::SeqCst);
        let mut batch = Vec::new();
        while batch.len() < BATCH {
            match self.rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            return false;
        }
        self.count += batch.len() as u64;
        shared.taken.store(self.count, Ordering::SeqCst);
        let w = &mut self.writer;
        if w.report.error.is_none() {
            let run_id = w.cfg.run_id.clone();
            let mut st = Stmts::new(&self.conn, &run_id);
            if let Err(e) = w.apply(&mut st, batch) {
                w.report.error = Some(e);
            }
        } else {
            // Given up: output is dropped, and must not hold its writer up.
            for m in batch {
                if let Msg::Output { text, .. } = m {
                    w.backlog.release(text.len());
                }
            }
        }
        let _ = self.done.send(self.count);
        self.since_checkpoint += 1;
        if self.since_checkpoint >= CHECKPOINT_EVERY {
            // Never inside a commit that the engine is waiting for.
            shared.checkpoint.store(true, Ordering::SeqCst);
        }
        true
    }

    /// After the run's last commit.
    fn close(self) -> WriterReport {
        let Core {
            mut writer, conn, ..
        } = self;
        // Connections do not checkpoint when they close (see `store.rs`),
        // so a WAL that many short runs have grown is folded back here,
        // after the run's last commit. TRUNCATE, not PASSIVE: a process
        // that opens the history rebuilds the WAL index from every frame
        // and cannot tell which were folded, so only a short process that
        // writes again after a checkpoint of its own would start the WAL
        // over; short runs never do, and the WAL grew by every run. With
        // no busy wait: another process at work makes it give up (having
        // folded what it could), never wait.
        if wal_bytes(&writer.path) > WAL_FOLD_BYTES {
            let _ = conn.busy_timeout(Duration::ZERO);
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        if writer.report.error.is_none() {
            writer.report.error = writer.logs.error();
        }
        writer.report
    }
}

struct Writer {
    path: PathBuf,
    cfg: WriterConfig,
    positions: HashMap<String, i64>,
    logs: StepLogs,
    backlog: Arc<Backlog>,
    report: WriterReport,
}

/// What a batch writes to the database, in the order it came.
enum Row {
    /// With the attempt's process group when it came in the same batch.
    Event(Box<Event>, Option<Process>),
    Process(Process),
    /// A step's first attempt started and ended within one batch.
    Ran {
        started: Box<Event>,
        process: Option<Process>,
        finished: Box<Event>,
    },
    /// Moved into a [`Row::Ran`].
    Joined,
}

/// One statement's worth of work, so a batch can be applied in one transaction.
type Res<T> = Result<T, String>;

impl Writer {
    fn new(
        store: Store,
        cfg: WriterConfig,
        logs: StepLogs,
        backlog: Arc<Backlog>,
    ) -> (Self, Connection) {
        let positions = cfg
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as i64))
            .collect();
        let conn = store.conn;
        // The cache keeps every statement prepared: `Stmts` takes the
        // per-step ones from it once a batch, the rare ones come and go.
        conn.set_prepared_statement_cache_capacity(64);
        // Checkpoints are run by the writer's thread between commits (see `run`),
        // never inside a commit that the engine is waiting for.
        let _ = conn.pragma_update(None, "wal_autocheckpoint", 0);
        // The writer keeps the references itself: an attempt row is written
        // only after its step's row changed in the same transaction, item
        // and compensation rows belong to this run's row, which exists
        // before the writer starts and is never pruned while live; and it
        // deletes only cache rows, which nothing references. The checks
        // would be a second lookup of the step for every attempt row.
        let _ = conn.pragma_update(None, "foreign_keys", false);
        let writer = Writer {
            path: store.path,
            cfg,
            positions,
            logs,
            backlog,
            report: WriterReport::default(),
        };
        (writer, conn)
    }

    fn apply(&mut self, st: &mut Stmts<'_>, batch: Vec<Msg>) -> Res<()> {
        let mut events = Vec::new();
        // Where each attempt's `step.started` is in `events`, so that its
        // process group, when it comes in the same batch, joins that row.
        let mut started: HashMap<(String, u32), usize> = HashMap::new();
        // Steps whose last event in `events` is their first attempt's
        // start: an end that follows joins it (one row each, not two).
        let mut open: HashMap<String, usize> = HashMap::new();
        // Where each process group that came without its start is, so
        // that its attempt's end in the same batch takes it along.
        let mut procs: HashMap<(String, u32), usize> = HashMap::new();
        for m in batch {
            match m {
                // Output reaches its file before the step's end is committed.
                Msg::Output { step, text } => {
                    self.logs.write(&step, &text);
                    self.backlog.release(text.len());
                }
                // In order with the events: after its attempt's row exists.
                Msg::Process(p) => match started.remove(&(p.step.clone(), p.attempt)) {
                    Some(at) => {
                        if let Row::Event(e, slot) = &mut events[at] {
                            debug_assert!(matches!(e.kind, EventKind::StepStarted { .. }));
                            *slot = Some(p);
                        }
                    }
                    None => {
                        procs.insert((p.step.clone(), p.attempt), events.len());
                        events.push(Row::Process(p));
                    }
                },
                Msg::Event(e) => {
                    self.logs.event(&e);
                    if let EventKind::StepFinished { step, outcome } = &e.kind {
                        if let Some(at) = open.remove(step.as_str()) {
                            if super::transition::step_from(outcome.status)
                                .contains(&Status::Running)
                                && outcome.attempts == Some(1)
                            {
                                if let Row::Event(s, process) =
                                    std::mem::replace(&mut events[at], Row::Joined)
                                {
                                    events[at] = Row::Ran {
                                        started: s,
                                        process,
                                        finished: e,
                                    };
                                }
                                continue;
                            }
                        }
                        // Its process group is written with its end.
                        if let (Some(a), false) =
                            (outcome.attempts, outcome.status == Status::Compensated)
                        {
                            if let Some(at) = procs.remove(&(step.clone(), a)) {
                                if let Row::Process(p) =
                                    std::mem::replace(&mut events[at], Row::Joined)
                                {
                                    events.push(Row::Event(e, Some(p)));
                                    continue;
                                }
                            }
                        }
                    } else if let Some(step) = e.step_id() {
                        open.remove(step);
                    }
                    if let EventKind::StepStarted {
                        step,
                        attempt: Some(a),
                        ..
                    } = &e.kind
                    {
                        started.insert((step.clone(), *a), events.len());
                        if *a == 1 {
                            open.insert(step.clone(), events.len());
                        }
                    }
                    events.push(Row::Event(e, None));
                }
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let db = |e: rusqlite::Error| super::store::db_error(&path, &e).message;
        st.run(Hot::Begin, &[]).map_err(db)?;
        let written = self.write(st, &events).and_then(|illegal| {
            st.run(Hot::Commit, &[])?;
            Ok(illegal)
        });
        match written {
            Ok(illegal) => {
                self.report.illegal.extend(illegal);
                Ok(())
            }
            Err(e) => {
                // Never left holding the write lock: other runs go on.
                if !st.conn().is_autocommit() {
                    let _ = st.conn().execute_batch("ROLLBACK");
                }
                Err(db(e))
            }
        }
    }

    /// A batch's rows, inside its transaction; the illegal transitions.
    fn write(&self, st: &mut Stmts<'_>, events: &[Row]) -> rusqlite::Result<Vec<String>> {
        let mut illegal = Vec::new();
        let mut cached_any = false;
        let mut rec = Rec {
            st,
            run_id: &self.cfg.run_id,
            run_attempt: self.cfg.run_attempt,
            positions: &self.positions,
            durations: self.cfg.durations,
        };
        for ev in events {
            let applied = match ev {
                Row::Event(ev, process) => rec.apply(ev, process.as_ref())?,
                Row::Process(p) => rec.process(p).map(|()| Applied::Ok)?,
                Row::Ran {
                    started,
                    process,
                    finished,
                } => rec.ran(started, process.as_ref(), finished)?,
                Row::Joined => Applied::Ok,
            };
            match applied {
                Applied::Ok => {}
                Applied::CacheStored => cached_any = true,
                Applied::Illegal(msg) => illegal.push(msg),
            }
        }
        if cached_any {
            rec.st
                .conn()
                .prepare_cached(
                    "DELETE FROM cache WHERE fingerprint IN \
                 (SELECT fingerprint FROM cache ORDER BY last_used_at DESC LIMIT -1 OFFSET ?1)",
                )?
                .execute([self.cfg.cache_max as i64])?;
        }
        Ok(illegal)
    }
}

/// How many times an idle writer looks at the queue, [`LINGER`] apart,
/// before it sleeps until a message comes.
const IDLE_LOOKS: u32 = 5;

/// Wait until there is something to commit; false once every sender is
/// gone and nothing is left. While steps come and go the writer parks
/// between looks rather than sleeping until woken, so that a message sent
/// to an idle writer costs its sender no wake-up (a system call, and a
/// context switch on the writer's side); what must be written at once
/// unparks it. Idle for longer, it sleeps, and the next message wakes it.
///
/// Then, unless something urgent came, it gives the batch [`LINGER`] to
/// gather more (until the batch is full or the run's sinks are done).
fn wait(shared: &Shared) -> bool {
    let mut looks = 0;
    while !shared.pending() && !shared.checkpoint.load(Ordering::SeqCst) {
        if shared.closed.load(Ordering::SeqCst) {
            // Every send happened before `closed` was set.
            return shared.pending();
        }
        if looks < IDLE_LOOKS {
            looks += 1;
            std::thread::park_timeout(LINGER);
        } else {
            // Announced before the last look: a sender that queues after
            // it sees the flag and wakes the writer.
            shared.sleeping.store(true, Ordering::SeqCst);
            if !shared.pending() && !shared.closed.load(Ordering::SeqCst) {
                std::thread::park();
            }
            shared.sleeping.store(false, Ordering::SeqCst);
        }
    }
    let until = Instant::now() + LINGER;
    while shared.pending()
        && !shared.urgent.load(Ordering::SeqCst)
        && !shared.closed.load(Ordering::SeqCst)
    {
        let queued = shared
            .sent
            .load(Ordering::SeqCst)
            .saturating_sub(shared.taken.load(Ordering::SeqCst));
        let left = until.saturating_duration_since(Instant::now());
        if queued as usize >= shared.full || left.is_zero() {
            break;
        }
        std::thread::park_timeout(left);
    }
    true
}

/// How many attempts each step made in earlier attempts of the run.
fn earlier_attempts(store: &Store, run_id: &str, run_attempt: i64) -> HashMap<String, i64> {
    let rows = store.conn.prepare(
        "SELECT step_id, count(*) FROM attempts WHERE run_id = ?1 AND run_attempt < ?2 GROUP BY step_id",
    ).and_then(|mut q| {
        q.query_map(rusqlite::params![run_id, run_attempt], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<HashMap<String, i64>, _>>()
    });
    rows.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::wire::Name;
    use crate::event::EventKind;
    use crate::history::store::Home;

    fn setup() -> (tempfile::TempDir, Home, Store) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            dir: dir.path().to_path_buf(),
            in_memory: false,
        };
        let mut store = Store::open(&home).unwrap();
        store
            .create_run(&NewRun {
                id: "r1",
                workflow: "w",
                version: None,
                file_path: "w.yaml",
                file_hash: "h",
                definitions: &serde_json::json!({}),
                inputs: &serde_json::json!({}),
                parent_run_id: None,
                project_dir: ".",
                config_path: None,
                steps: &["a", "b", "c"],
            })
            .unwrap();
        (dir, home, store)
    }

    fn ev(name: Name, step: Option<&str>) -> Event {
        crate::event::sample::of(name, step.unwrap_or(""))
    }

    /// A sink on `home`'s run `r1` (its attempt `attempt`); with `thread`
    /// false, no writer thread.
    fn sink_with(home: &Home, attempt: i64, thread: bool) -> Arc<HistorySink> {
        let store = Store::open(home).unwrap();
        HistorySink::launch(
            store,
            WriterConfig {
                run_id: "r1".into(),
                run_attempt: attempt,
                steps: vec!["a".into(), "b".into(), "c".into()],
                logs_dir: Some(home.run_logs("r1")),
                cache_max: 10,
                durations: true,
            },
            thread,
        )
    }

    fn sink(home: &Home) -> Arc<HistorySink> {
        sink_with(home, 1, true)
    }

    fn status_of(store: &Store, step: &str) -> String {
        store
            .conn
            .query_row(
                "SELECT status FROM steps WHERE run_id='r1' AND step_id=?1",
                [step],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn records_a_run_and_its_steps() {
        let (_d, home, store) = setup();
        let s = sink(&home);
        s.event(&ev(Name::RunStarted, None));
        s.event(&crate::event::sample::event(EventKind::StepStarted {
            step: "a".into(),
            attempt: Some(1),
            max_attempts: None,
        }));
        s.output(&Output::one(
            "a",
            &crate::event::OutputLine {
                stream: crate::event::Stream::Stdout,
                line: "hello",
                partial: false,
            },
        ));
        let mut done = ev(Name::StepCompleted, Some("a"));
        done.outcome_mut().attempts = Some(1);
        done.outcome_mut().result = Some(Arc::new(serde_json::json!({"outputs": {"x": "1"}})));
        s.event(&done);
        s.event(&ev(Name::StepSkipped, Some("b")));
        s.event(&ev(Name::RunCompleted, None));
        let report = s.finish();
        assert!(report.error.is_none(), "{:?}", report.error);
        assert!(report.illegal.is_empty(), "{:?}", report.illegal);
        assert_eq!(status_of(&store, "a"), "succeeded");
        assert_eq!(status_of(&store, "b"), "skipped");
        let run: String = store
            .conn
            .query_row("SELECT status FROM runs WHERE id='r1'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(run, "succeeded");
        let log = std::fs::read_to_string(home.run_logs("r1").join("a.log")).unwrap();
        assert_eq!(log, "hello\n");
        let rows = store.steps("r1").unwrap();
        assert_eq!(rows[0].outputs(), serde_json::json!({"x": "1"}));
    }

    fn attempt_row(store: &Store, step: &str) -> (String, Option<i64>, Option<i64>, Option<i32>) {
        store
            .conn
            .query_row(
                "SELECT status, started_at, finished_at, pgid FROM attempts \
                 WHERE run_id='r1' AND step_id=?1 AND attempt=1",
                [step],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap()
    }

    /// A start, its process group and its end in one batch are one row
    /// each; apart, the same rows come out of three writes; a process
    /// group that comes after its start's commit is written with its end.
    #[test]
    fn a_start_and_an_end_in_one_batch_or_apart_give_the_same_rows() {
        let (_d, home, store) = setup();
        let s = sink(&home);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        s.event(&ev(Name::RunStarted, None));
        for (step, apart) in [("a", false), ("b", true), ("c", false)] {
            s.event(&crate::event::sample::event(EventKind::StepStarted {
                step: step.into(),
                attempt: Some(1),
                max_attempts: None,
            }));
            if step == "c" {
                rt.block_on(s.durable().unwrap());
                assert_eq!(attempt_row(&store, step).3, None);
            }
            s.process(&ProcessStarted {
                step_id: step,
                attempt: 1,
                pgid: 4242,
                start: Some("boot:1"),
            });
            if apart {
                rt.block_on(s.durable().unwrap());
                assert_eq!(status_of(&store, step), "running");
                assert_eq!(attempt_row(&store, step).3, Some(4242));
            }
            let mut done = ev(Name::StepCompleted, Some(step));
            done.outcome_mut().attempts = Some(1);
            s.event(&done);
            rt.block_on(s.durable().unwrap());
        }
        let report = s.finish();
        assert!(
            report.error.is_none() && report.illegal.is_empty(),
            "{report:?}"
        );
        for step in ["a", "b", "c"] {
            assert_eq!(status_of(&store, step), "succeeded");
            let (status, started, finished, pgid) = attempt_row(&store, step);
            assert_eq!((status.as_str(), pgid), ("succeeded", Some(4242)), "{step}");
            assert!(started.is_some() && finished.is_some(), "{step}");
            let (st, at): (Option<i64>, i64) = store
                .conn
                .query_row(
                    "SELECT started_at, attempts FROM steps WHERE run_id='r1' AND step_id=?1",
                    [step],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((st, at), (started, 1), "{step}");
        }
    }

    #[test]
    fn an_illegal_transition_is_reported_not_written() {
        let (_d, home, store) = setup();
        let s = sink(&home);
        s.event(&ev(Name::RunStarted, None));
        s.event(&ev(Name::StepStarted, Some("a")));
        s.event(&ev(Name::StepCompleted, Some("a")));
        // A finished step cannot start again, nor fail afterwards.
        s.event(&ev(Name::StepStarted, Some("a")));
        s.event(&ev(Name::StepFailed, Some("a")));
        let report = s.finish();
        assert_eq!(report.illegal.len(), 2, "{:?}", report.illegal);
        assert!(report.illegal[0].contains("succeeded → running"));
        assert_eq!(status_of(&store, "a"), "succeeded");
    }

    #[test]
    fn durable_resolves_after_commit() {
        let (_d, home, store) = setup();
        let s = sink(&home);
        s.event(&ev(Name::RunStarted, None));
        s.event(&ev(Name::StepStarted, Some("a")));
        s.event(&ev(Name::StepCompleted, Some("a")));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(s.durable().unwrap());
        // Read through another connection, as another process would.
        assert_eq!(status_of(&store, "a"), "succeeded");
        s.finish();
    }

    /// With nothing else to do, the caller's thread commits what is
    /// queued, in order, and has nothing to wait for; while the writer
    /// holds the connection (mid-commit) the caller waits as usual. No
    /// writer thread here: only the caller can commit.
    #[test]
    fn durable_now_commits_on_the_callers_thread_unless_the_writer_is_at_it() {
        let (_d, home, store) = setup();
        let s = sink_with(&home, 1, false);
        s.event(&ev(Name::RunStarted, None));
        s.event(&ev(Name::StepStarted, Some("a")));
        s.event(&ev(Name::StepCompleted, Some("a")));
        assert!(
            s.durable_now().is_none(),
            "committed here, nothing to await"
        );
        assert_eq!(status_of(&store, "a"), "succeeded");

        let held = s.shared.core.lock().unwrap();
        s.event(&ev(Name::StepStarted, Some("b")));
        s.event(&ev(Name::StepFailed, Some("b")));
        let wait = s.durable_now();
        assert!(wait.is_some(), "the writer holds the connection: wait");
        assert_eq!(status_of(&store, "b"), "pending");
        drop(held);
        assert!(s.durable_now().is_none());
        assert_eq!(status_of(&store, "b"), "failed");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(wait.unwrap());
        let core = s.shared.core.lock().unwrap().take().unwrap();
        let report = core.close();
        assert!(
            report.error.is_none() && report.illegal.is_empty(),
            "{report:?}"
        );
    }

    /// The run's `run_durations` row, if it has one.
    fn durations(store: &Store) -> Option<String> {
        use rusqlite::OptionalExtension;
        store
            .conn
            .query_row(
                "SELECT steps FROM run_durations WHERE run_id='r1'",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap()
    }

    fn finished_in(name: Name, step: &str, ms: u64) -> Event {
        let mut e = ev(name, Some(step));
        e.outcome_mut().duration = Some(Duration::from_millis(ms));
        e
    }

    /// An ended run's durations are one row, gone while it is resumed
    /// (its steps may change) and written again when it ends.
    #[test]
    fn a_run_records_its_durations_when_it_ends_and_drops_them_when_resumed() {
        let (_d, home, store) = setup();
        let s = sink(&home);
        s.event(&ev(Name::RunStarted, None));
        s.event(&ev(Name::StepStarted, Some("a")));
        s.event(&finished_in(Name::StepCompleted, "a", 5));
        s.event(&ev(Name::StepStarted, Some("b")));
        s.event(&finished_in(Name::StepFailed, "b", 9));
        s.event(&ev(Name::StepSkipped, Some("c")));
        s.event(&ev(Name::RunFailed, None));
        let report = s.finish();
        assert!(report.illegal.is_empty(), "{:?}", report.illegal);
        assert_eq!(durations(&store).as_deref(), Some("a 5"));

        let mut resumer = Store::open(&home).unwrap();
        let kept: std::collections::HashSet<&str> = ["a"].into();
        resumer
            .reset_for_resume(&crate::history::runs::ResumeReset {
                run_id: "r1",
                steps: &["a", "b", "c"],
                kept: &kept,
                rerun_from: &Default::default(),
                keep_items_of: &Default::default(),
                definitions: &serde_json::json!({}),
                file_hash: "h",
            })
            .unwrap();
        assert_eq!(durations(&store), None, "resumed: read from its rows");
        let s = sink_with(&home, 2, false);
        s.event(&ev(Name::RunStarted, None));
        s.event(&ev(Name::StepStarted, Some("b")));
        s.event(&finished_in(Name::StepCompleted, "b", 7));
        s.event(&ev(Name::RunCompleted, None));
        assert!(s.durable_now().is_none());
        assert_eq!(durations(&store).as_deref(), Some("a 5\nb 7"));
        let core = s.shared.core.lock().unwrap().take().unwrap();
        let report = core.close();
        assert!(report.illegal.is_empty(), "{:?}", report.illegal);
    }

    fn db_bytes(home: &Home) -> u64 {
        std::fs::metadata(home.db_path()).unwrap().len()
    }

    #[test]
    fn a_closing_connection_leaves_the_wal_and_a_big_one_is_folded_when_a_run_ends() {
        let (_d, home, store) = setup();
        drop(store);
        let wal = {
            let mut p = home.db_path().into_os_string();
            p.push("-wal");
            std::path::PathBuf::from(p)
        };
        assert!(wal.exists(), "no checkpoint (and no delete) on close");
        // Grow the WAL past the bound through a connection of our own.
        let before = db_bytes(&home);
        {
            let pad = Store::open(&home).unwrap();
            // As the writer's own connection: no checkpoint at commit.
            pad.conn
                .execute_batch("PRAGMA wal_autocheckpoint=0; CREATE TABLE pad (x BLOB)")
                .unwrap();
            pad.conn
                .execute("INSERT INTO pad VALUES (zeroblob(?1))", [6 << 20])
                .unwrap();
        }
        assert!(wal_bytes(&home.db_path()) > WAL_FOLD_BYTES);
        assert_eq!(db_bytes(&home), before, "still only in the WAL");
        let s = sink(&home);
        s.event(&ev(Name::RunStarted, None));
        s.finish();
        assert!(
            db_bytes(&home) > 6 << 20,
            "the writer's end checkpointed the WAL into the database"
        );
        // And emptied it: the next process has nothing to read back.
        assert_eq!(wal_bytes(&home.db_path()), 0);
    }
}
