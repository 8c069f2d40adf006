//! The saga: after a failed or cancelled main phase (and `on_failure`),
//! every main step that succeeded and has `compensate:` is undone, one at a
//! time, in the reverse of the order in which the steps finished. A
//! `for_each` step is undone item by item: each item that succeeded, in
//! reverse order of the items' completion.
//!
//! A compensation is a step body run through the same attempt loop as a
//! step (`unit::execute`): it sees `steps.*` (its own step's results
//! included), `run.*`, `inputs.*`, and `item`/`index` for an item. A
//! failing compensation is recorded and the others still run. A graceful
//! cancellation does not stop them (as for `finally`); an immediate one
//! stops the one running and skips the rest.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;

use super::Engine;
use crate::cancel::{self, CancelLevel};
use crate::event::{EventKind, Status, StepOutcome};
use crate::exec::fanout::resolve_items;
use crate::exec::state::step_view;
use crate::exec::unit::{self, UnitResult};
use crate::model::{Phase, Step, Workflow};

impl Engine {
    /// Unit `i` (item `item`) succeeded: remember it for the saga.
    pub(super) fn completed_unit(&mut self, i: usize, item: Option<usize>) {
        let step = &self.wf.steps[i];
        if step.phase == Phase::Main && step.undoable() {
            self.completed.push((i, item));
        }
    }

    /// Undo, last finished first, every unit remembered by
    /// [`Engine::completed_unit`].
    pub(super) async fn compensate(&mut self) {
        let order: Vec<(usize, Option<usize>)> = std::mem::take(&mut self.completed)
            .into_iter()
            .rev()
            .collect();
        if order.is_empty() {
            return;
        }
        // How many item compensations of each step are still to come; a
        // step is compensated once all of its items were.
        let mut items_left: HashMap<usize, usize> = HashMap::new();
        for (i, item) in &order {
            if item.is_some() {
                *items_left.entry(*i).or_default() += 1;
            }
        }
        let mut item_failed: HashMap<usize, bool> = HashMap::new();
        for (i, item) in order {
            if self.opts.cancel.level() == CancelLevel::Immediate {
                // The second Ctrl-C: nothing more is undone.
                break;
            }
            let id = match item {
                Some(k) => format!("{}[{k}]", self.wf.steps[i].id),
                None => self.wf.steps[i].id.clone(),
            };
            let r = self.run_compensation(i, item).await;
            let ok = r.status == Status::Succeeded;
            self.emit(EventKind::CompensationFinished {
                step: id.clone(),
                outcome: StepOutcome {
                    status: r.status,
                    started: true,
                    attempts: Some(r.attempts),
                    duration: Some(r.duration),
                    error: r.error.clone(),
                    exit_code: r.exit_code,
                    http_status: r.http_status,
                    result: None,
                    cache: None,
                    allowed: false,
                },
            });
            if !ok {
                let why = r.error.as_deref().unwrap_or(r.status.as_str());
                self.compensation_failures
                    .push(format!("compensation of `{id}` failed: {why}"));
            }
            match item {
                None if ok => self.mark_compensated(i, None),
                None => {}
                Some(k) => {
                    if ok {
                        self.mark_compensated(i, Some(k));
                    } else {
                        item_failed.insert(i, true);
                    }
                    let left = items_left.entry(i).or_default();
                    *left = left.saturating_sub(1);
                    if *left == 0
                        && !item_failed.get(&i).copied().unwrap_or(false)
                        && self.state[i].status == Status::Succeeded
                    {
                        self.mark_compensated(i, None);
                    }
                }
            }
            // On disk before the next one starts: a resume after a crash
            // must not undo this one again.
            if let Some(durable) = self.sink.durable() {
                durable.await;
            }
        }
    }

    /// The step (or item) is undone: `succeeded → compensated`.
    fn mark_compensated(&mut self, i: usize, item: Option<usize>) {
        let id = match item {
            Some(k) => {
                if let Some(Some(r)) = self.state[i]
                    .items
                    .as_mut()
                    .and_then(|items| items.results.get_mut(k))
                {
                    r.status = Status::Compensated;
                }
                format!("{}[{k}]", self.wf.steps[i].id)
            }
            None => {
                self.state[i].status = Status::Compensated;
                self.wf.steps[i].id.clone()
            }
        };
        // `finally` sees what was undone.
        let view = step_view(&self.state[i], self.wf.steps[i].for_each.is_some());
        self.state[i].view = Some(Arc::new(view));
        self.emit(EventKind::StepFinished {
            step: id,
            outcome: StepOutcome {
                status: Status::Compensated,
                started: true,
                attempts: None,
                duration: None,
                error: None,
                exit_code: None,
                http_status: None,
                result: None,
                cache: None,
                allowed: false,
            },
        });
    }

    /// Run the `compensate:` body of step `i` (item `item`) to its end.
    async fn run_compensation(&mut self, i: usize, item: Option<usize>) -> UnitResult {
        let started = std::time::Instant::now();
        let Some(step) = compensation_step(&self.wf.steps[i]) else {
            return self.compensate_child_run(i, item, started).await;
        };
        let mut wf: Workflow = (*self.wf).clone();
        wf.steps[i] = step;
        let value = item.map(|k| (k, self.item_value(i, k)));
        // Every finished step's view, the step's own included.
        let views = (0..self.wf.steps.len())
            .filter_map(|j| Some((self.wf.steps[j].id.clone(), self.view_of(j)?)))
            .collect();
        // Its own cancellation: a graceful Ctrl-C does not stop it.
        let (canceller, _) = cancel::channel();
        let mut ctx = self.unit_ctx(Arc::new(wf), i, value, views);
        ctx.cancel = canceller.watch();
        ctx.cache = None;
        ctx.compensation = true;
        if self.opts.cancel.level() == CancelLevel::Immediate {
            canceller.raise(CancelLevel::Immediate);
        }
        let run = unit::execute(ctx);
        tokio::pin!(run);
        let mut external = self.opts.cancel.clone();
        let mut r = loop {
            tokio::select! {
                r = &mut run => break r,
                level = external.changed() => {
                    if level == CancelLevel::Immediate {
                        canceller.raise(CancelLevel::Immediate);
                    }
                }
            }
        };
        if r.status == Status::Waiting {
            // Nobody is asked in the middle of undoing a run.
            r.status = Status::Failed;
            r.error = Some("a compensation cannot wait for an approval".into());
        }
        r
    }
}

impl Engine {
    /// A `workflow:` step without `compensate:` is undone by undoing its
    /// child run (a nested saga), at the step's place in the reverse order.
    async fn compensate_child_run(
        &self,
        i: usize,
        item: Option<usize>,
        started: std::time::Instant,
    ) -> UnitResult {
        let st = &self.state[i];
        let result = match item {
            Some(k) => st
                .items
                .as_ref()
                .and_then(|items| items.results.get(k))
                .and_then(Option::as_ref),
            None => st.result.as_ref(),
        };
        let view = self.view_of(i);
        let view = view.as_deref();
        let run_id = result
            .and_then(|r| r.extra.get("run_id"))
            .or_else(|| match item {
                Some(k) => view.and_then(|v| v.get("items")?.get(k)?.get("run_id")),
                None => view.and_then(|v| v.get("run_id")),
            })
            .and_then(Json::as_str)
            .map(str::to_string);
        let (Some(run_id), Some(children)) = (run_id, self.opts.children.clone()) else {
            return UnitResult::failed("no child run to undo".into(), started);
        };
        let shown = match item {
            Some(k) => format!("{}[{k}]", self.wf.steps[i].id),
            None => self.wf.steps[i].id.clone(),
        };
        self.emit(EventKind::CompensationStarted {
            step: shown.clone(),
            attempt: 1,
            max_attempts: 1,
        });
        // Written ahead, as every undo is (see `unit::attempts`).
        if let Some(durable) = self.sink.durable() {
            durable.await;
        }
        let mut r = match children.compensate_child(run_id.clone(), shown).await {
            Ok(o) if o.status == Status::Succeeded => UnitResult::failed(String::new(), started),
            Ok(o) => UnitResult::failed(
                format!(
                    "undoing child run {run_id}: {}",
                    o.error.unwrap_or_else(|| o.status.as_str().into())
                ),
                started,
            ),
            Err(e) => UnitResult::failed(e.to_string(), started),
        };
        if r.error.as_deref() == Some("") {
            r.status = Status::Succeeded;
            r.error = None;
        }
        r
    }

    /// Item `k` of `for_each` step `i`; for a step kept from an earlier
    /// attempt of the run (`orch resume`), its `for_each` evaluated again.
    fn item_value(&self, i: usize, k: usize) -> Json {
        if let Some(items) = &self.state[i].items {
            return items.values.get(k).cloned().unwrap_or(Json::Null);
        }
        let Some(fe) = &self.wf.steps[i].for_each else {
            return Json::Null;
        };
        let fns = self.status_fns(i);
        let id = &self.wf.steps[i].id;
        let masker = self.opts.masker.clone();
        match self.with_scope(Some(i), fns, |scope| resolve_items(id, fe, scope, &masker)) {
            Ok(f) => f.values.get(k).cloned().unwrap_or(Json::Null),
            Err(_) => Json::Null,
        }
    }
}

/// Step `s` with its `compensate:` body as its body and nothing else that
/// belongs to the step's own run (`if`, `for_each`, `outputs`, `cache`).
fn compensation_step(s: &Step) -> Option<Step> {
    let body = s.compensate.as_deref()?.clone();
    let mut c = s.clone();
    c.body = body;
    c.cond = None;
    c.for_each = None;
    c.outputs = Vec::new();
    c.cache = None;
    c.compensate = None;
    Some(c)
}
