//! How a step's state changes: whether it runs (`if:`, `for_each`), how it
//! ends, what its dependents learn, and the workflow's `outputs`. The loop
//! that drives these lives in the parent module.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value as Json;

use super::Engine;
use crate::event::{EventKind, Outputs, Status, StepOutcome};
use crate::exec::fanout::{resolve_items, Fanned};
use crate::exec::state::{item_view, step_view, unit_view, Items};
use crate::exec::unit::UnitResult;
use crate::expr::eval::resolve;
use crate::expr::{Scope, StatusFns};
use crate::model::Phase;

impl Engine {
    pub(super) fn status_fns(&self, i: usize) -> StatusFns {
        let phase = self.wf.steps[i].phase;
        let needs_ok = self.plan.all_needs[i].iter().all(|&d| {
            let st = &self.state[d];
            match st.status {
                Status::Succeeded | Status::Skipped | Status::Cached => true,
                Status::Failed => self.wf.steps[d].continue_on_error,
                _ => false,
            }
        });
        let need_failed = self.plan.all_needs[i]
            .iter()
            .any(|&d| self.state[d].status == Status::Failed);
        let run_ok = match phase {
            Phase::Main => !self.failing && !self.cancelled,
            // After the main steps, only the phase's own needs matter.
            _ => true,
        };
        StatusFns {
            success: run_ok && needs_ok,
            failure: self.failing || need_failed,
            cancelled: self.cancelled,
        }
    }

    pub(super) fn lookup_view(&self, id: &str) -> Option<Json> {
        let i = self.wf.step_index(id)?;
        self.view_of(i).map(Arc::unwrap_or_clone)
    }

    /// `steps.<id>` of finished step `i`: kept if a step reads it (see
    /// [`crate::plan::Plan::read`]), else built again from its state.
    pub(super) fn view_of(&self, i: usize) -> Option<Arc<Json>> {
        let st = &self.state[i];
        match &st.view {
            Some(v) => Some(v.clone()),
            None if st.status.is_terminal() => {
                Some(Arc::new(step_view(st, self.wf.steps[i].for_each.is_some())))
            }
            None => None,
        }
    }

    /// Evaluate with the run's context: inputs, env (step `at`'s, with what
    /// the steps it needs wrote to `ORCH_ENV`), run, finished steps.
    pub(super) fn with_scope<T>(
        &self,
        at: Option<usize>,
        status: StatusFns,
        f: impl FnOnce(&Scope<'_>) -> T,
    ) -> T {
        let lookup = |id: &str| self.lookup_view(id);
        let no_secrets = |_: &str| None;
        let env = match at {
            Some(i) => self.step_env(i).context,
            None => self.env_ctx.clone(),
        };
        f(&Scope {
            inputs: &self.inputs,
            env: &env,
            run: &self.run_ctx,
            steps: &lookup,
            secrets: &no_secrets,
            item: None,
            index: None,
            error: None,
            step: None,
            status,
        })
    }

    /// A step whose needs are all terminal: evaluate `if`, then queue it or skip it.
    pub(super) fn decide(&mut self, i: usize) {
        // Every step it needs is terminal now: its environment is final.
        self.state[i].env = Some(self.step_env(i));
        let step = &self.wf.steps[i];
        let fns = self.status_fns(i);
        let (run, error) = match &step.cond {
            None => (fns.success, None),
            // Without a status function, `if: x` means `success() && x`.
            Some(c) if !c.uses_status_fn() && !fns.success => (false, None),
            Some(c) => self.with_scope(Some(i), fns, |scope| {
                match crate::expr::eval(c, scope).and_then(|j| crate::expr::eval::truthy(&j)) {
                    Ok(b) => (b, None),
                    Err(e) => (false, Some(format!("if: {}", e.message))),
                }
            }),
        };
        if let Some(e) = error {
            self.fail_now(i, e);
            return;
        }
        if !run {
            let explicit = step.cond.as_ref().is_some_and(|c| c.uses_status_fn());
            let status = if self.cancelled && !explicit {
                Status::Cancelled
            } else {
                Status::Skipped
            };
            self.set_terminal(i, status, None);
            return;
        }
        if let Some(fe) = &step.for_each {
            let id = step.id.clone();
            let masker = self.opts.masker.clone();
            let fanned =
                self.with_scope(Some(i), fns, |scope| resolve_items(&id, fe, scope, &masker));
            let Fanned { values, labels } = match fanned {
                Ok(f) => f,
                Err(e) => {
                    self.fail_now(i, e);
                    return;
                }
            };
            let n = values.len();
            for (k, l) in labels.iter().enumerate() {
                self.labels.set(format!("{id}[{k}]"), l.clone());
            }
            self.emit(EventKind::StepStarted {
                step: id.clone(),
                attempt: None,
                max_attempts: None,
            });
            self.state[i].started = Some(Instant::now());
            self.state[i].status = Status::Running;
            let mut items = Items {
                values,
                labels,
                results: (0..n).map(|_| None).collect(),
                ..Items::default()
            };
            // Items that succeeded in an earlier attempt keep their
            // results (`orch resume`); only the others run.
            let kept = self.opts.restore_items.remove(&id).unwrap_or_default();
            let mut undo = Vec::new();
            for (k, r) in kept {
                if let Some(slot) = items.results.get_mut(k) {
                    *slot = Some(crate::exec::state::restored(&r));
                    items.done += 1;
                    undo.push(k);
                }
            }
            items.skip_done();
            let all_kept = n > 0 && items.done == n;
            self.state[i].items = Some(Box::new(items));
            undo.sort_unstable();
            for k in undo {
                self.completed_unit(i, Some(k));
            }
            if n == 0 || all_kept {
                self.finish_items(i);
                return;
            }
        }
        self.enqueue(i);
    }

    /// The end of item `id` of step `i`.
    pub(super) fn emit_end(&mut self, i: usize, k: usize, r: &UnitResult) {
        let id = format!("{}[{k}]", self.wf.steps[i].id);
        let allowed = r.status == Status::Failed && self.wf.steps[i].continue_on_error;
        self.emit(EventKind::StepFinished {
            step: id.to_string(),
            outcome: StepOutcome {
                status: r.status,
                // Items only end after they were started.
                started: true,
                attempts: Some(r.attempts),
                duration: Some(r.duration),
                error: r.error.clone(),
                exit_code: r.exit_code,
                http_status: r.http_status,
                result: Some(Arc::new(match &self.state[i].items {
                    Some(items) => item_view(items, k, Some(r)),
                    None => unit_view(r.status, Some(r), r.error.as_deref()),
                })),
                cache: r.cache.clone(),
                allowed,
            },
        });
    }

    pub(super) fn finish_items(&mut self, i: usize) {
        let Some(items) = &self.state[i].items else {
            return;
        };
        let any_failed = items
            .results
            .iter()
            .flatten()
            .any(|r| r.status == Status::Failed);
        let any_cancelled = items
            .results
            .iter()
            .flatten()
            .any(|r| r.status == Status::Cancelled);
        let status = if any_failed {
            Status::Failed
        } else if any_cancelled {
            Status::Cancelled
        } else {
            Status::Succeeded
        };
        let error = any_failed.then(|| {
            let n = items
                .results
                .iter()
                .flatten()
                .filter(|r| r.status == Status::Failed)
                .count();
            format!("{n} of {} items failed", items.values.len())
        });
        self.set_terminal(i, status, error);
    }

    pub(super) fn fail_now(&mut self, i: usize, error: String) {
        self.emit(EventKind::StepStarted {
            step: self.wf.steps[i].id.clone(),
            attempt: None,
            max_attempts: None,
        });
        self.set_terminal(i, Status::Failed, Some(error));
    }

    /// Record a terminal status, tell the sinks, release dependents.
    pub(super) fn set_terminal(&mut self, i: usize, status: Status, error: Option<String>) {
        let step = &self.wf.steps[i];
        let st = &mut self.state[i];
        if st.status.is_terminal() {
            // Ending a step twice would count its dependents down twice.
            debug_assert!(false, "step {} ended twice", step.id);
            return;
        }
        st.status = status;
        st.error = error.clone();
        st.duration = st.started.map(|s| s.elapsed());
        let view = Arc::new(step_view(st, step.for_each.is_some()));
        // Built once for the event; kept only for the steps that read it.
        st.view = self.plan.read[i].then(|| view.clone());
        if status == Status::Succeeded && st.items.is_none() {
            self.completed_unit(i, None);
        }
        self.note_env_writes(i, &view);
        let step = &self.wf.steps[i];
        let st = &self.state[i];
        if status == Status::Failed && !step.continue_on_error {
            self.failing = true;
            if st.items.is_none() {
                self.failures.push(step.id.clone());
            }
        }
        let allowed = status == Status::Failed && step.continue_on_error;
        let st = &self.state[i];
        let r = st.result.as_ref();
        self.emit(EventKind::StepFinished {
            step: step.id.clone(),
            outcome: StepOutcome {
                status,
                started: st.started.is_some(),
                attempts: r.map(|r| r.attempts),
                duration: st.duration,
                error,
                exit_code: r.and_then(|r| r.exit_code),
                http_status: r.and_then(|r| r.http_status),
                result: Some(view),
                cache: r.and_then(|r| r.cache.clone()),
                allowed,
            },
        });
        self.unsynced[i] = true;
        let plan = self.plan.clone();
        for &d in &plan.dependents[i] {
            self.waiting_on[d] -= 1;
            if self.waiting_on[d] == 0 && self.state[d].status == Status::Pending {
                self.decide(d);
            }
        }
    }

    /// The workflow's `outputs:`, in the order they are declared.
    pub(super) fn workflow_outputs(&mut self) -> Outputs {
        let mut out = Outputs::default();
        if self.wf.outputs.is_empty() {
            return out;
        }
        let mut err = None;
        let (failing, cancelled) = (self.failing, self.cancelled);
        self.with_scope(None, StatusFns::default(), |scope| {
            for (k, v) in &self.wf.outputs {
                match resolve(v, scope) {
                    Ok(j) => {
                        out.insert(k.clone(), j);
                    }
                    // After a failure, outputs of steps that never ran are
                    // simply absent.
                    Err(e) if !failing && !cancelled => {
                        err = Some(format!("workflow output `{k}`: {}", e.message));
                    }
                    Err(_) => {}
                }
            }
        });
        if let Some(e) = err {
            self.failing = true;
            self.run_error = Some(e);
        }
        out
    }
}
