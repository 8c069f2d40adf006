//! The scheduling loop: which step may start, in what order, under which
//! caps; what happens after a failure, a timeout or a cancellation.

use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt;
use serde_json::{json, Value as Json};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;

mod compensate;
mod transitions;

use super::state::{env_writes, report, restored, Ready, StepEnv, StepState};
use super::unit::{self, UnitCtx, UnitResult};
use super::RunOptions;
use crate::cancel::{self, CancelLevel, Canceller};
use crate::event::{
    Event, EventKind, Gate, Labeled, Labels, Outputs, RunSummary, Sink, Status, StepReport,
};
use crate::model::{Config, Phase, StepKind, Workflow};
use crate::plan::Plan;

pub(crate) struct Engine {
    wf: Arc<Workflow>,
    cfg: Arc<Config>,
    opts: RunOptions,
    sink: Arc<dyn Sink>,
    /// Items' labels, which `sink` gives to their events.
    labels: Arc<Labels>,
    /// Deps, dependents, needs and reads of every step, built before the run.
    plan: Arc<Plan>,
    waiting_on: Vec<usize>,
    state: Vec<StepState>,
    ready: BinaryHeap<Ready>,
    running: usize,
    pools: HashMap<String, u32>,
    failing: bool,
    cancelled: bool,
    run_error: Option<String>,
    failures: Vec<String>,
    tasks: JoinSet<(usize, Option<usize>, UnitResult)>,
    inputs: Arc<Json>,
    env_ctx: Arc<Json>,
    run_ctx: Arc<Json>,
    base_env: Arc<Vec<(String, String)>>,
    run_id: Arc<str>,
    workflow: Arc<str>,
    phase_cancel: Canceller,
    /// Approval steps nobody has decided yet.
    waiting: Vec<usize>,
    /// Steps whose end the sink may not have made durable yet.
    unsynced: Vec<bool>,
    /// A queued step needs one of those: a new [`Gate`] before starting it.
    sync_needed: bool,
    /// The last durability wait, while it has not ended: every unit started
    /// meanwhile awaits it (a later wait covers all that an earlier one did,
    /// so holding a unit at the latest one is never too early).
    gate: Option<Gate>,
    /// A ready step found every slot of the run tree taken.
    starved: bool,
    /// A slot of the tree acquired while starved, for the next step.
    held: Option<OwnedSemaphorePermit>,
    /// Main steps (or items) with `compensate:` that succeeded, in the order
    /// they finished: the saga undoes them in reverse.
    completed: Vec<(usize, Option<usize>)>,
    /// `compensation of `id` failed: …`, in the order they ran.
    compensation_failures: Vec<String>,
    /// What each finished step wrote to `ORCH_ENV`, for the steps that
    /// need it; only steps that wrote something.
    env_writes: HashMap<usize, Vec<(String, String)>>,
}

impl Engine {
    pub(crate) fn new(
        wf: Arc<Workflow>,
        plan: Arc<Plan>,
        cfg: Arc<Config>,
        opts: RunOptions,
        sink: Arc<dyn Sink>,
    ) -> Self {
        let n = wf.steps.len();
        let labels = Arc::new(Labels::default());
        let sink: Arc<dyn Sink> = Arc::new(Labeled {
            inner: sink,
            labels: labels.clone(),
        });
        let waiting_on = plan.deps.iter().map(Vec::len).collect();
        let state = (0..n).map(|_| StepState::pending()).collect();
        let run_id = opts.run_id.clone();
        let workflow: Arc<str> = Arc::from(wf.name.as_str());
        let run_ctx = Arc::new(json!({
            "id": &*run_id,
            "workflow": &*workflow,
            "attempt": opts.attempt,
            "started_at": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        }));
        let inputs = Arc::new(opts.inputs.clone());
        let (base_env, env_ctx, env_error) =
            super::prepare::workflow_env(&wf, &opts.process_env, &inputs, &run_ctx);
        let (phase_cancel, _) = cancel::channel();
        let failing = env_error.is_some();
        let mut engine = Engine {
            pools: cfg.pools.iter().cloned().collect(),
            cfg: cfg.clone(),
            wf,
            plan,
            sink,
            labels,
            waiting_on,
            state,
            ready: BinaryHeap::new(),
            running: 0,
            failing,
            cancelled: false,
            run_error: env_error,
            failures: Vec::new(),
            tasks: JoinSet::new(),
            inputs,
            env_ctx: Arc::new(env_ctx),
            run_ctx,
            base_env: Arc::new(base_env),
            run_id,
            workflow,
            phase_cancel,
            opts,
            waiting: Vec::new(),
            unsynced: vec![false; n],
            sync_needed: false,
            gate: None,
            starved: false,
            held: None,
            completed: Vec::new(),
            compensation_failures: Vec::new(),
            env_writes: HashMap::new(),
        };
        engine.restore();
        engine
    }

    /// Put back the results of steps that finished in an earlier attempt
    /// of this run; they count as done for their dependents.
    fn restore(&mut self) {
        let restore = std::mem::take(&mut self.opts.restore);
        // What the saga undoes of them, if it comes to that: they finished
        // before any of this attempt's steps, in the order they finished.
        let mut undo: Vec<(i64, usize, Option<usize>)> = Vec::new();
        for (id, r) in restore {
            let Some(i) = self.wf.step_index(&id) else {
                continue;
            };
            let step = &self.wf.steps[i];
            // Only the resume of a run being undone keeps failed and
            // cancelled steps: the run stays failed (or cancelled).
            if step.phase == Phase::Main {
                if r.status == Status::Failed && !step.continue_on_error {
                    self.failing = true;
                    self.failures.push(id.clone());
                }
                if r.status == Status::Cancelled {
                    self.cancelled = true;
                }
            }
            undo.extend(r.undo.iter().map(|&(at, item)| (at, i, item)));
            let st = &mut self.state[i];
            st.status = r.status;
            st.duration = r.duration;
            st.result = Some(restored(&r));
            let view = Arc::new(r.view);
            st.view = Some(view.clone());
            self.note_env_writes(i, &view);
            for &d in &self.plan.dependents[i] {
                self.waiting_on[d] -= 1;
            }
        }
        undo.sort_by_key(|&(at, i, item)| (at, i, item));
        self.completed = undo.into_iter().map(|(_, i, item)| (i, item)).collect();
    }

    fn emit(&self, kind: EventKind) {
        self.sink
            .event(&Event::new(kind, &self.run_id, &self.workflow));
    }

    /// The run to its end. The summary is shared with the sinks that were
    /// told of it: the caller unwraps it once they are done, with no copy.
    pub(crate) async fn run(mut self) -> Arc<RunSummary> {
        let started = Instant::now();
        if self.opts.compensate_only {
            self.compensate().await;
            let failed = !self.compensation_failures.is_empty();
            return Arc::new(RunSummary {
                status: if failed {
                    Status::Failed
                } else {
                    Status::Succeeded
                },
                steps: self.reports(),
                failures: Vec::new(),
                outputs: Outputs::default(),
                error: failed.then(|| self.compensation_failures.join("; ")),
                duration: started.elapsed(),
                waiting: Vec::new(),
                compensation_failures: std::mem::take(&mut self.compensation_failures),
            });
        }
        self.emit(EventKind::RunCreated);
        self.emit(EventKind::RunStarted);
        // The run is recorded as running before its first step acts; the
        // first steps resolve meanwhile (see `gate`).
        self.gate = self.sink.durable().map(FutureExt::shared);

        let deadline = self.wf.timeout.map(|t| tokio::time::Instant::now() + t);
        if self.failing {
            // The workflow env could not be evaluated: nothing in main runs.
            self.resolve_unrun(Phase::Main, Status::Skipped);
        } else {
            self.run_phase(Phase::Main, deadline).await;
        }
        if !self.waiting.is_empty() && !self.failing && !self.cancelled {
            // Stopped at an approval: the rest runs on `orch resume`.
            return self.end(Status::Waiting, started, Outputs::default());
        }
        // A failed or cancelled run does not wait for anyone.
        for i in std::mem::take(&mut self.waiting) {
            self.set_terminal(i, Status::Cancelled, None);
        }
        // Outputs read main steps; evaluated now so that a failing output
        // fails the run in time for `on_failure` to see it.
        let outputs = self.workflow_outputs();
        let immediate = self.opts.cancel.level() == CancelLevel::Immediate;
        if self.failing && !self.cancelled && !immediate {
            self.run_phase(Phase::OnFailure, None).await;
        } else {
            self.resolve_unrun(
                Phase::OnFailure,
                if immediate {
                    Status::Cancelled
                } else {
                    Status::Skipped
                },
            );
        }
        if (self.failing || self.cancelled) && !immediate {
            self.compensate().await;
        }
        let immediate = self.opts.cancel.level() == CancelLevel::Immediate;
        if immediate {
            self.resolve_unrun(Phase::Finally, Status::Cancelled);
        } else {
            self.run_phase(Phase::Finally, None).await;
        }

        let status = if self.cancelled {
            Status::Cancelled
        } else if self.failing {
            Status::Failed
        } else {
            Status::Succeeded
        };
        self.end(status, started, outputs)
    }

    fn end(&mut self, status: Status, started: Instant, outputs: Outputs) -> Arc<RunSummary> {
        let duration = started.elapsed();
        let summary = Arc::new(RunSummary {
            status,
            steps: self.reports(),
            failures: self.failures.clone(),
            outputs,
            error: self.run_error.clone(),
            duration,
            waiting: self
                .waiting
                .iter()
                .map(|&i| self.wf.steps[i].id.clone())
                .collect(),
            compensation_failures: self.compensation_failures.clone(),
        });
        self.emit(EventKind::RunFinished {
            summary: summary.clone(),
        });
        summary
    }

    fn phase_steps(&self, phase: Phase) -> impl Iterator<Item = usize> + '_ {
        self.wf
            .steps
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.phase == phase)
            .map(|(i, _)| i)
    }

    fn resolve_unrun(&mut self, phase: Phase, status: Status) {
        let ids: Vec<usize> = self
            .phase_steps(phase)
            .filter(|&i| self.state[i].status == Status::Pending)
            .collect();
        for i in ids {
            self.set_terminal(i, status, None);
        }
    }

    async fn run_phase(&mut self, phase: Phase, deadline: Option<tokio::time::Instant>) {
        // Each phase has its own cancellation: a cancelled main phase must not
        // stop `finally` from running.
        let (canceller, _) = cancel::channel();
        self.phase_cancel = canceller;
        if phase != Phase::Finally && self.opts.cancel.level() >= CancelLevel::Graceful {
            self.cancelled = true;
            self.phase_cancel.raise(CancelLevel::Graceful);
        }
        if self.opts.cancel.level() == CancelLevel::Immediate {
            self.phase_cancel.raise(CancelLevel::Immediate);
        }
        let roots: Vec<usize> = self
            .phase_steps(phase)
            .filter(|&i| self.waiting_on[i] == 0 && self.state[i].status == Status::Pending)
            .collect();
        for i in roots {
            self.decide(i);
        }
        let mut external = self.opts.cancel.clone();
        let mut timed_out = false;
        let far = tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
        loop {
            if self.sync_needed {
                // A step acts only once the steps it needs are on disk as
                // finished: the units started from now on hold at this gate
                // (see `gate`) while the commit runs beside their start.
                // Unrelated steps do not wait.
                // With nothing running, the engine would only wait: the
                // sink may commit on this thread (no hand-off and back).
                self.sync_needed = false;
                let wait = if self.running == 0 {
                    self.sink.durable_now()
                } else {
                    self.sink.durable()
                };
                self.gate = wait.map(FutureExt::shared);
                self.unsynced.iter_mut().for_each(|u| *u = false);
            }
            self.starved = false;
            self.fill();
            if self.running == 0 && !self.starved {
                break;
            }
            let slots = self.opts.slots.clone().filter(|_| self.starved);
            tokio::select! {
                permit = async move {
                    match slots {
                        Some(s) => s.acquire_owned().await.ok(),
                        None => std::future::pending().await,
                    }
                }, if self.starved => {
                    self.held = permit;
                }
                // Nothing of this run may be running while it waits for a slot.
                joined = self.tasks.join_next(), if self.running > 0 => {
                    match joined {
                        Some(Ok((step, item, result))) => self.on_done(step, item, result),
                        Some(Err(e)) => {
                            // A panicking step task is a bug; record it rather than hang.
                            self.running = self.running.saturating_sub(1);
                            self.failing = true;
                            self.run_error = Some(format!("internal error in a step task: {e}"));
                        }
                        None => break,
                    }
                }
                level = external.changed() => {
                    match level {
                        CancelLevel::Immediate => {
                            self.cancelled = true;
                            self.phase_cancel.raise(CancelLevel::Immediate);
                        }
                        CancelLevel::Graceful if phase != Phase::Finally => {
                            self.cancelled = true;
                            self.phase_cancel.raise(CancelLevel::Graceful);
                        }
                        _ => {}
                    }
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() && !timed_out => {
                    timed_out = true;
                    self.failing = true;
                    self.run_error = Some(format!(
                        "the workflow timed out after {}",
                        humantime::format_duration(self.wf.timeout.unwrap_or_default())
                    ));
                    self.phase_cancel.raise(CancelLevel::Graceful);
                }
            }
        }
        // A cancel that came with the last step's end (the select took the
        // end first) still counts for approvals: a prompt ended by Ctrl-C
        // leaves its approval waiting, and a cancelled run does not wait.
        if !self.waiting.is_empty()
            && phase != Phase::Finally
            && external.level() >= CancelLevel::Graceful
        {
            self.cancelled = true;
        }
        if !self.waiting.is_empty() && !self.failing && !self.cancelled {
            // Steps behind an approval stay pending until `orch resume`.
            return;
        }
        // Anything still pending could never start (e.g. the run was cancelled
        // while it waited).
        // Waiting approvals are the caller's to end (they are cancelled).
        let left: Vec<usize> = self
            .phase_steps(phase)
            .filter(|&i| {
                !self.state[i].status.is_terminal() && self.state[i].status != Status::Waiting
            })
            .collect();
        for i in left {
            // Ending one step may already have skipped its dependents.
            if self.state[i].status.is_terminal() {
                continue;
            }
            self.set_terminal(
                i,
                if self.cancelled {
                    Status::Cancelled
                } else {
                    Status::Skipped
                },
                None,
            );
        }
    }

    fn enqueue(&mut self, i: usize) {
        if self.plan.all_needs[i].iter().any(|&d| self.unsynced[d]) {
            self.sync_needed = true;
        }
        if !self.state[i].queued {
            self.state[i].queued = true;
            self.ready.push(Ready {
                priority: self.wf.steps[i].priority,
                rank: self.plan.rank[i],
                step: i,
            });
        }
    }

    /// Start units while there are slots.
    fn fill(&mut self) {
        let mut blocked = Vec::new();
        while self.running < self.opts.concurrency {
            let Some(r) = self.ready.pop() else { break };
            let i = r.step;
            self.state[i].queued = false;
            if self.state[i].status.is_terminal() {
                // Queued, then ended without running: a phase that does not
                // run skips its steps after one of them released another.
                continue;
            }
            if !self.fits(i) {
                blocked.push(r);
                continue;
            }
            if self.cancelled && self.wf.steps[i].phase != Phase::Finally {
                // Cancelled between queueing and a free slot.
                if self.state[i].items.is_none() {
                    self.set_terminal(i, Status::Cancelled, None);
                }
                continue;
            }
            let explicit = self.wf.steps[i]
                .cond
                .as_ref()
                .is_some_and(|c| c.uses_status_fn());
            if self.failing
                && self.wf.steps[i].phase == Phase::Main
                && !explicit
                && self.state[i].items.is_none()
            {
                // The run failed while this step waited for a slot: after a
                // failure nothing new starts unless it asks to.
                self.set_terminal(i, Status::Skipped, None);
                continue;
            }
            let Ok(permit) = self.slot(i) else {
                // The run tree's slots are all taken (by a child run's
                // steps): wait for one (see `run_phase`).
                self.starved = true;
                blocked.push(r);
                break;
            };
            self.take(i);
            let item = match &mut self.state[i].items {
                Some(items) => {
                    let k = items.next;
                    items.next += 1;
                    items.skip_done();
                    items.running += 1;
                    let cap = self.wf.steps[i].max_parallel.unwrap_or(usize::MAX);
                    let more = items.next < items.values.len() && items.running < cap;
                    let v = items.values[k].clone();
                    if more {
                        self.enqueue(i);
                    }
                    Some((k, v))
                }
                None => {
                    self.state[i].status = Status::Running;
                    self.state[i].started = Some(Instant::now());
                    None
                }
            };
            self.spawn(i, item, permit);
        }
        for b in blocked {
            self.state[b.step].queued = true;
            self.ready.push(b);
        }
    }

    fn fits(&self, i: usize) -> bool {
        self.wf.steps[i]
            .resources
            .iter()
            .all(|(p, n)| self.pools.get(p).is_some_and(|free| free >= n))
    }

    fn take(&mut self, i: usize) {
        for (p, n) in &self.wf.steps[i].resources {
            if let Some(free) = self.pools.get_mut(p) {
                *free -= n;
            }
        }
    }

    fn give_back(&mut self, i: usize) {
        for (p, n) in &self.wf.steps[i].resources {
            if let Some(free) = self.pools.get_mut(p) {
                *free += n;
            }
        }
    }

    /// A slot of the run tree for step `i`: `Ok(None)` when the tree shares
    /// none, or for a `workflow:` step (it only waits for its child, whose
    /// steps take the slots; holding one would deadlock a tree at `-j 1`).
    fn slot(&mut self, i: usize) -> Result<Option<OwnedSemaphorePermit>, ()> {
        let Some(slots) = &self.opts.slots else {
            return Ok(None);
        };
        if matches!(self.wf.steps[i].body.kind, StepKind::Workflow { .. }) {
            return Ok(None);
        }
        match self.held.take() {
            Some(p) => Ok(Some(p)),
            None => slots.clone().try_acquire_owned().map(Some).map_err(|_| ()),
        }
    }

    fn spawn(
        &mut self,
        i: usize,
        item: Option<(usize, Json)>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        self.running += 1;
        let views = self.plan.reads[i]
            .iter()
            .filter_map(|&j| {
                let v = self.state[j].view.clone()?;
                Some((self.wf.steps[j].id.clone(), v))
            })
            .collect();
        let mut ctx = self.unit_ctx(self.wf.clone(), i, item.clone(), views);
        ctx.gate = self.gate();
        let k = item.map(|(k, _)| k);
        self.tasks.spawn(async move {
            // The tree's slot is given back when the unit ends.
            let _slot = permit;
            (i, k, unit::execute(ctx).await)
        });
    }

    /// The gate a unit started now must pass: the last durability wait,
    /// unless it has ended.
    fn gate(&mut self) -> Option<Gate> {
        if self.gate.as_ref().is_some_and(|g| g.peek().is_some()) {
            self.gate = None;
        }
        self.gate.clone()
    }

    /// Keep what step `i`, now terminal with `view`, wrote to `ORCH_ENV`.
    fn note_env_writes(&mut self, i: usize, view: &Json) {
        let writes = env_writes(view);
        if !writes.is_empty() {
            self.env_writes.insert(i, writes);
        }
    }

    /// The environment of step `i`: the workflow's `env:`, then the
    /// `ORCH_ENV` writes of every step it needs, directly or not, deepest
    /// last (so a step's write overrides those of the steps it needs; among
    /// steps that do not need each other, the deeper, then the later in
    /// the file, wins). Its own `env:` is added over it when it resolves.
    pub(super) fn step_env(&self, i: usize) -> StepEnv {
        if let Some(e) = &self.state[i].env {
            return e.clone();
        }
        let writers: Vec<usize> = self.env_writes.keys().copied().collect();
        let above = self.plan.ancestors_among(i, &writers);
        if above.is_empty() {
            return StepEnv {
                pairs: self.base_env.clone(),
                context: self.env_ctx.clone(),
            };
        }
        let mut pairs = (*self.base_env).clone();
        let mut context = (*self.env_ctx).clone();
        for w in above {
            for (k, v) in self.env_writes.get(&w).into_iter().flatten() {
                pairs.retain(|(x, _)| x != k);
                pairs.push((k.clone(), v.clone()));
                if let Json::Object(m) = &mut context {
                    m.insert(k.clone(), Json::String(v.clone()));
                }
            }
        }
        StepEnv {
            pairs: Arc::new(pairs),
            context: Arc::new(context),
        }
    }

    /// What unit `i` (item `item`) of `wf` runs with.
    fn unit_ctx(
        &self,
        wf: Arc<Workflow>,
        i: usize,
        item: Option<(usize, Json)>,
        views: HashMap<String, Arc<Json>>,
    ) -> UnitCtx {
        let resume_child = {
            let id = &wf.steps[i].id;
            let shown = match &item {
                Some((k, _)) => format!("{id}[{k}]"),
                None => id.clone(),
            };
            self.opts.resume_children.get(&shown).cloned()
        };
        let env = self.step_env(i);
        UnitCtx {
            wf,
            step: i,
            item,
            views,
            inputs: self.inputs.clone(),
            env_ctx: env.context,
            run_ctx: self.run_ctx.clone(),
            base_env: env.pairs,
            project_dir: self.opts.project_dir.clone(),
            scratch_dir: self.opts.scratch_dir.clone(),
            grace: self.opts.grace,
            cancel: self.phase_cancel.watch(),
            sink: self.sink.clone(),
            run_id: self.run_id.clone(),
            workflow: self.workflow.clone(),
            cache: self.opts.cache.clone(),
            approver: self.opts.approver.clone(),
            cfg: self.cfg.clone(),
            services: self.opts.services.clone(),
            secrets: self.opts.secrets.clone(),
            masker: self.opts.masker.clone(),
            secret_values: HashMap::new(),
            missing_credentials: HashMap::new(),
            children: self.opts.children.clone(),
            resume_child,
            compensation: false,
            gate: None,
        }
    }

    fn on_done(&mut self, i: usize, item: Option<usize>, result: UnitResult) {
        self.running -= 1;
        self.give_back(i);
        match item {
            None if result.status == Status::Waiting => {
                self.state[i].status = Status::Waiting;
                self.waiting.push(i);
            }
            None => {
                let status = result.status;
                let error = result.error.clone();
                self.state[i].result = Some(result);
                self.set_terminal(i, status, error);
            }
            Some(k) => {
                self.emit_end(i, k, &result);
                if result.status == Status::Failed && !self.wf.steps[i].continue_on_error {
                    self.failures.push(format!("{}[{k}]", self.wf.steps[i].id));
                }
                let cap = self.wf.steps[i].max_parallel.unwrap_or(usize::MAX);
                let Some(items) = self.state[i].items.as_mut() else {
                    return;
                };
                items.running -= 1;
                items.done += 1;
                let succeeded = result.status == Status::Succeeded;
                items.results[k] = Some(result);
                if succeeded {
                    self.completed_unit(i, Some(k));
                }
                let Some(items) = self.state[i].items.as_mut() else {
                    return;
                };
                let all_done = items.done == items.values.len();
                let more = items.next < items.values.len() && items.running < cap;
                if all_done {
                    self.finish_items(i);
                } else if more {
                    self.enqueue(i);
                }
            }
        }
    }

    /// Every step's report, once the run is over (the outputs move).
    fn reports(&mut self) -> Vec<StepReport> {
        let cancelled = self.cancelled;
        self.wf
            .steps
            .iter()
            .zip(&mut self.state)
            .map(|(s, st)| report(&s.id, st, cancelled, s.continue_on_error))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Event>>);

    impl Sink for Recorder {
        fn event(&self, ev: &Event) {
            self.0.lock().unwrap().push(ev.clone());
        }
    }

    fn run(yaml: &str, concurrency: usize) -> (RunSummary, Vec<Event>) {
        let rec = Arc::new(Recorder::default());
        let summary = run_into(yaml, concurrency, rec.clone());
        let events = rec.0.lock().unwrap().clone();
        (summary, events)
    }

    fn run_into(yaml: &str, concurrency: usize, sink: Arc<dyn Sink>) -> RunSummary {
        let src = Arc::new(crate::source::Source::new("t.yaml", "t.yaml", yaml));
        let cfg = Config::default();
        let wf = Arc::new(crate::validate::workflow_source(&src, &cfg).expect("valid"));
        let (_canceller, watch) = cancel::channel();
        let opts = RunOptions {
            run_id: Arc::from("r"),
            inputs: json!({}),
            concurrency,
            grace: Duration::from_secs(1),
            project_dir: std::env::temp_dir(),
            scratch_dir: std::env::temp_dir(),
            process_env: vec![],
            cancel: watch,
            attempt: 1,
            restore: HashMap::new(),
            cache: None,
            approver: Arc::new(super::super::NoApprover),
            services: None,
            secrets: Arc::new(crate::secrets::Secrets::env_only(Vec::new())),
            masker: Arc::new(crate::mask::Masker::new()),
            slots: None,
            resume_children: HashMap::new(),
            compensate_only: false,
            restore_items: HashMap::new(),
            children: None,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let plan = Arc::new(Plan::new(&wf));
        let outcome = rt.block_on(super::super::run(wf, plan, Arc::new(cfg), opts, sink));
        Arc::unwrap_or_clone(outcome)
    }

    /// A sink whose writes take 20 ms to become durable; it notes, in order
    /// with the events, each point up to which they became so.
    #[derive(Default)]
    struct SlowDisk(Arc<Mutex<Vec<Noted>>>);

    #[derive(Debug)]
    enum Noted {
        Event(Event),
        /// Every event before this index is durable.
        DurableUpTo(usize),
    }

    impl Sink for SlowDisk {
        fn event(&self, ev: &Event) {
            self.0.lock().unwrap().push(Noted::Event(ev.clone()));
        }

        fn durable(&self) -> Option<crate::event::Durable> {
            let log = self.0.clone();
            let upto = log.lock().unwrap().len();
            Some(Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                log.lock().unwrap().push(Noted::DurableUpTo(upto));
            }))
        }
    }

    fn started(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::StepStarted { .. }))
            .filter_map(|e| e.step_id().map(str::to_string))
            .collect()
    }

    #[test]
    fn priority_then_file_order_when_slots_are_scarce() {
        let (o, ev) = run(
            "name: p\nsteps:\n  - {id: low, transform: {x: '${{ 1 }}'}}\n  - {id: high, priority: 5, transform: {x: '${{ 1 }}'}}\n  - {id: mid, priority: 1, transform: {x: '${{ 1 }}'}}\n  - {id: low2, transform: {x: '${{ 1 }}'}}\n",
            1,
        );
        assert_eq!(o.status, Status::Succeeded);
        assert_eq!(started(&ev), ["high", "mid", "low", "low2"]);
    }

    #[test]
    fn dependents_start_after_their_needs_and_see_outputs() {
        let (o, ev) = run(
            "name: d\nsteps:\n  - {id: c, needs: [a, b], transform: {sum: '${{ steps.a.outputs.v + steps.b.outputs.v }}'}}\n  - {id: a, transform: {v: '${{ 1 }}'}}\n  - {id: b, needs: a, transform: {v: '${{ 2 }}'}}\n",
            4,
        );
        assert_eq!(started(&ev), ["a", "b", "c"]);
        let c = o.steps.iter().find(|s| s.id == "c").unwrap();
        assert_eq!(c.outputs, json!({"sum": 3}));
    }

    #[test]
    fn a_dependent_acts_only_once_the_end_of_what_it_needs_is_durable() {
        // `b` starts while `a`'s end is being committed (its body resolves
        // meanwhile) but acts only after; the same for `c` and `b`, and for
        // `a` and the run's start.
        let disk = Arc::new(SlowDisk::default());
        let o = run_into(
            "name: g\nsteps:\n  - {id: a, transform: {v: '${{ 1 }}'}}\n  - {id: b, needs: a, transform: {v: '${{ steps.a.outputs.v + 1 }}'}}\n  - {id: c, needs: [a, b], transform: {v: '${{ steps.b.outputs.v + 1 }}'}}\n",
            4,
            disk.clone(),
        );
        assert_eq!(o.status, Status::Succeeded);
        let log = disk.0.lock().unwrap();
        let at = |kind: &str, id: &str| {
            log.iter()
                .position(|n| match n {
                    Noted::Event(e) => {
                        e.step_id() == Some(id)
                            && matches!(
                                (&e.kind, kind),
                                (EventKind::StepStarted { .. }, "started")
                                    | (EventKind::StepFinished { .. }, "finished")
                            )
                    }
                    Noted::DurableUpTo(_) => false,
                })
                .unwrap_or_else(|| panic!("no {kind} of {id} in {log:?}"))
        };
        // The run's start is durable before its first step acts.
        let run_started = log
            .iter()
            .position(|n| matches!(n, Noted::Event(e) if matches!(e.kind, EventKind::RunStarted)))
            .unwrap();
        assert!(
            log[..at("started", "a")]
                .iter()
                .any(|n| matches!(n, Noted::DurableUpTo(u) if *u > run_started)),
            "a started before run.started was durable: {log:?}"
        );
        for (need, dependent) in [("a", "b"), ("b", "c")] {
            let ended = at("finished", need);
            let started = at("started", dependent);
            let durable_before = log[..started]
                .iter()
                .any(|n| matches!(n, Noted::DurableUpTo(u) if *u > ended));
            assert!(
                durable_before,
                "{dependent} started before {need}'s end was durable: {log:?}"
            );
        }
        let c = o.steps.iter().find(|s| s.id == "c").unwrap();
        assert_eq!(c.outputs, json!({"v": 3}));
    }

    #[test]
    fn failure_skips_dependents_and_runs_handlers() {
        let (o, _) = run(
            "name: f\nsteps:\n  - {id: bad, transform: {x: '${{ fromJSON(\"nope\") }}'}}\n  - {id: after, needs: bad, transform: {x: '${{ 1 }}'}}\n  - {id: rescue, needs: bad, if: failure(), transform: {x: '${{ 1 }}'}}\non_failure:\n  - {id: alert, transform: {x: '${{ 1 }}'}}\nfinally:\n  - {id: fin, transform: {x: '${{ 1 }}'}}\n",
            2,
        );
        let status = |id: &str| o.steps.iter().find(|s| s.id == id).unwrap().status;
        assert_eq!(o.status, Status::Failed);
        assert_eq!(o.failures, ["bad"]);
        assert_eq!(status("after"), Status::Skipped);
        assert_eq!(status("rescue"), Status::Succeeded);
        assert_eq!(status("alert"), Status::Succeeded);
        assert_eq!(status("fin"), Status::Succeeded);
    }

    #[test]
    fn handlers_of_a_run_that_succeeded_stay_skipped() {
        // `s` needs `r`: skipping `r` releases `s`, which is skipped too and
        // must not start later (in `finally`) from the ready queue.
        let (o, ev) = run(
            "name: s\nsteps:\n  - {id: a, transform: {x: '${{ 1 }}'}}\non_failure:\n  - {id: r, transform: {x: '${{ 1 }}'}}\n  - {id: s, needs: r, transform: {x: '${{ 1 }}'}}\nfinally:\n  - {id: f, transform: {x: '${{ 1 }}'}}\n",
            2,
        );
        assert_eq!(o.status, Status::Succeeded);
        let status = |id: &str| o.steps.iter().find(|s| s.id == id).unwrap().status;
        assert_eq!(status("r"), Status::Skipped);
        assert_eq!(status("s"), Status::Skipped);
        assert_eq!(status("f"), Status::Succeeded);
        assert_eq!(started(&ev), ["a", "f"]);
    }

    #[test]
    fn skipped_need_counts_as_success() {
        let (o, _) = run(
            "name: s\nsteps:\n  - {id: a, if: 'false', transform: {x: '${{ 1 }}'}}\n  - {id: b, needs: a, transform: {x: '${{ 1 }}'}}\n",
            2,
        );
        assert_eq!(o.status, Status::Succeeded);
        assert_eq!(o.steps[0].status, Status::Skipped);
        assert_eq!(o.steps[1].status, Status::Succeeded);
    }

    #[test]
    fn for_each_items_are_reported_in_order() {
        let (o, _) = run(
            "name: fe\nsteps:\n  - {id: sq, for_each: [1, 2, 3], max_parallel: 2, transform: {y: '${{ item * item }}'}}\n  - {id: total, needs: sq, transform: {t: '${{ steps.sq.items[0].outputs.y + steps.sq.items[1].outputs.y + steps.sq.items[2].outputs.y }}'}}\n",
            4,
        );
        assert_eq!(o.status, Status::Succeeded, "{:?}", o.steps);
        let sq = &o.steps[0];
        assert_eq!(sq.items.len(), 3);
        assert_eq!(sq.items[2].outputs, json!({"y": 9}));
        assert_eq!(o.steps[1].outputs, json!({"t": 14}));
    }
}
