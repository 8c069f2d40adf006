//! Recording a run: the run row is created before anything runs, then a
//! [`HistorySink`] turns engine events into rows on a thread of its own.
//!
//! Events queue up while the writer commits; each commit takes everything
//! queued (group commit), so steps never wait for one transaction per event.
//! The engine asks [`Sink::durable`] before starting the dependents of a
//! finished step, which is the one wait that durability needs.

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
    /// Somebody waits for what was sent so far: commit without lingering.
    Flush,
}

impl Msg {
    /// Whether the batch holding it is committed at once: what the engine
    /// or another process (`orch approve`) waits for.
    fn urgent(&self) -> bool {
        match self {
            Msg::Flush => true,
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

pub(crate) struct HistorySink {
    /// Whether step output is kept (not with an in-memory history).
    logs: bool,
    backlog: Arc<Backlog>,
    alive: Arc<AtomicBool>,
    tx: Mutex<Option<mpsc::SyncSender<Msg>>>,
    sent: AtomicU64,
    committed: watch::Receiver<u64>,
    thread: Mutex<Option<std::thread::JoinHandle<WriterReport>>>,
    /// The writer thread, to unpark when something must be written now.
    waker: Option<std::thread::Thread>,
}

impl HistorySink {
    /// Start the writer thread on `store`'s connection.
    pub(crate) fn start(store: Store, cfg: WriterConfig) -> Arc<HistorySink> {
        let before = if cfg.run_attempt > 1 {
            earlier_attempts(&store, &cfg.run_id, cfg.run_attempt)
        } else {
            HashMap::new()
        };
        let logs = StepLogs::new(cfg.logs_dir.clone(), cfg.run_attempt, before);
        let (tx, rx) = mpsc::sync_channel(queue_for(cfg.steps.len()));
        let (done_tx, done_rx) = watch::channel(0u64);
        let backlog = Arc::new(Backlog::new());
        let alive = Arc::new(AtomicBool::new(true));
        let keep_logs = cfg.logs_dir.is_some();
        let (b, a) = (backlog.clone(), alive.clone());
        let thread = std::thread::Builder::new()
            .name("orch-history".into())
            .spawn(move || {
                let (writer, conn) = Writer::new(store, cfg, logs, b);
                let report = writer.run(&conn, rx, done_tx);
                a.store(false, Ordering::SeqCst);
                report
            })
            .ok();
        if thread.is_none() {
            alive.store(false, Ordering::SeqCst);
        }
        Arc::new(HistorySink {
            logs: keep_logs,
            backlog,
            alive,
            tx: Mutex::new(Some(tx)),
            sent: AtomicU64::new(0),
            committed: done_rx,
            waker: thread.as_ref().map(|t| t.thread().clone()),
            thread: Mutex::new(thread),
        })
    }

    fn send(&self, msg: Msg) {
        if let Ok(guard) = self.tx.lock() {
            if let Some(tx) = guard.as_ref() {
                if tx.send(msg).is_ok() {
                    self.sent.fetch_add(1, Ordering::SeqCst);
                }
            }
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
        let msg = Msg::Event(Box::new(ev.clone()));
        // The writer may be parked (see `next`): what must be written at
        // once wakes it; the rest waits for its next look.
        let urgent = msg.urgent();
        self.send(msg);
        if urgent {
            self.wake();
        }
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
        let target = self.sent.load(Ordering::SeqCst);
        let mut rx = self.committed.clone();
        if *rx.borrow() < target {
            // The writer may be gathering a batch: have it commit now.
            if let Ok(guard) = self.tx.lock() {
                if let Some(tx) = guard.as_ref() {
                    let _ = tx.send(Msg::Flush);
                }
            }
            self.wake();
        }
        Some(Box::pin(async move {
            // An error means the writer is gone; there is nothing to wait for.
            let _ = rx.wait_for(|&done| done >= target).await;
        }))
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
        // The per-step statements are kept prepared (`Stmts`); the cache
        // holds the rare ones.
        conn.set_prepared_statement_cache_capacity(64);
        // Checkpoints are run by the writer between commits (see `run`),
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

    fn run(
        mut self,
        conn: &Connection,
        rx: mpsc::Receiver<Msg>,
        done: watch::Sender<u64>,
    ) -> WriterReport {
        let run_id = self.cfg.run_id.clone();
        let mut st = Stmts::new(conn, &run_id);
        let mut count = 0u64;
        let mut since_checkpoint = 0u64;
        while let Some(first) = next(&rx) {
            let batch = gather(&rx, first);
            count += batch.iter().filter(|m| !matches!(m, Msg::Flush)).count() as u64;
            if self.report.error.is_none() {
                if let Err(e) = self.apply(&mut st, batch) {
                    self.report.error = Some(e);
                }
            } else {
                // Given up: output is dropped, and must not hold its writer up.
                for m in batch {
                    if let Msg::Output { text, .. } = m {
                        self.backlog.release(text.len());
                    }
                }
            }
            let _ = done.send(count);
            since_checkpoint += 1;
            if since_checkpoint >= CHECKPOINT_EVERY {
                since_checkpoint = 0;
                // PASSIVE: never waits for readers or other writers.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        }
        // Connections do not checkpoint when they close (see `store.rs`),
        // so a WAL that many short runs have grown is folded back here,
        // after the run's last commit. TRUNCATE, not PASSIVE: a process
        // that opens the history rebuilds the WAL index from every frame
        // and cannot tell which were folded, so only a short process that
        // writes again after a checkpoint of its own would start the WAL
        // over; short runs never do, and the WAL grew by every run. With
        // no busy wait: another process at work makes it give up (having
        // folded what it could), never wait.
        drop(st);
        if wal_bytes(&self.path) > WAL_FOLD_BYTES {
            let _ = conn.busy_timeout(Duration::ZERO);
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        if self.report.error.is_none() {
            self.report.error = self.logs.error();
        }
        self.report
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
                Msg::Flush => {}
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

/// The next message, or `None` once every sender is gone. While steps come
/// and go the writer parks between looks rather than waiting on the
/// channel, so that a message sent to an idle writer costs its sender no
/// wake-up (a system call, and a context switch on the writer's side);
/// what must be written at once unparks it. Idle for longer, it waits on
/// the channel, and the next message wakes it.
fn next(rx: &mpsc::Receiver<Msg>) -> Option<Msg> {
    for _ in 0..IDLE_LOOKS {
        match rx.try_recv() {
            Ok(m) => return Some(m),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => std::thread::park_timeout(LINGER),
        }
    }
    rx.recv().ok()
}

/// `first` and what follows it: everything queued, and, unless something
/// in it is urgent, what arrives within [`LINGER`] (until the batch is full,
/// somebody flushes, or the run's sinks are done).
///
/// The writer parks rather than waiting on the channel, so that senders
/// queue without waking it (a wake-up is a system call on each side and a
/// context switch); [`HistorySink::durable`] and [`HistorySink::finish`]
/// unpark it.
fn gather(rx: &mpsc::Receiver<Msg>, first: Msg) -> Vec<Msg> {
    let mut urgent = first.urgent();
    let mut batch = vec![first];
    let until = Instant::now() + LINGER;
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(m) => {
                urgent |= m.urgent();
                batch.push(m);
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) if urgent => break,
            Err(mpsc::TryRecvError::Empty) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::park_timeout(left);
            }
        }
    }
    batch
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

    fn sink(home: &Home) -> Arc<HistorySink> {
        let store = Store::open(home).unwrap();
        HistorySink::start(
            store,
            WriterConfig {
                run_id: "r1".into(),
                run_attempt: 1,
                steps: vec!["a".into(), "b".into(), "c".into()],
                logs_dir: Some(home.run_logs("r1")),
                cache_max: 10,
            },
        )
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
