//! The port every consumer of a run implements, and the fan-out to several.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use super::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// A line a step printed (not part of the JSON event stream).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputLine<'a> {
    pub(crate) stream: Stream,
    /// Without its line ending.
    pub(crate) line: &'a str,
    /// True when this piece was cut at the maximum line length and its line
    /// continues in the next piece; false for a complete line.
    pub(crate) partial: bool,
}

/// What one step printed since the last batch, in the order it arrived:
/// usually one read of a pipe, split into lines. Kept apart from [`Event`]
/// because it is the hot path: sinks get lines in batches (one call, one
/// write, one lock per batch, not per line), borrowed, never copied per sink.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output<'a> {
    pub(crate) step_id: &'a str,
    pub(crate) lines: &'a [OutputLine<'a>],
}

impl<'a> Output<'a> {
    /// A batch of one line.
    pub(crate) fn one(step_id: &'a str, line: &'a OutputLine<'a>) -> Output<'a> {
        Output {
            step_id,
            lines: std::slice::from_ref(line),
        }
    }
}

/// A step's process started, in a process group of its own: where a later
/// `orch resume` looks for what a killed orch left running. Not part of the
/// JSON event stream (nobody outside orch can act on a process group id).
#[derive(Debug, Clone)]
pub(crate) struct ProcessStarted<'a> {
    /// `id`, `id[i]`, or `id.compensate` / `id[i].compensate` for an
    /// attempt of a step's `compensate:` body.
    pub(crate) step_id: &'a str,
    pub(crate) attempt: u32,
    /// The group's id: the pid of its leader, the step's direct child.
    pub(crate) pgid: i32,
    /// When the leader started (see `steps::process::start_of`), to tell this
    /// group from a later one that reuses its id; `None` where unknown.
    pub(crate) start: Option<&'a str>,
}

/// Resolves once what a sink was given is safely stored.
pub(crate) type Durable = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A [`Durable`] that several waiters await: the steps it holds back.
pub(crate) type Gate = futures_util::future::Shared<Durable>;

/// Where events go. Called from engine tasks; implementations must be cheap
/// or hand work to a thread of their own.
pub(crate) trait Sink: Send + Sync {
    fn event(&self, ev: &Event);
    fn output(&self, _out: &Output<'_>) {}
    /// Sinks that store state record it; the others ignore it.
    fn process(&self, _p: &ProcessStarted<'_>) {}
    /// For sinks that store state: a future that resolves when every event
    /// given so far is durable. The engine awaits it before acting on a
    /// state change (starting the dependents of a finished step).
    fn durable(&self) -> Option<Durable> {
        None
    }
    /// [`Sink::durable`] for a caller that has nothing else to do until it
    /// resolves: a sink may store what it holds on the caller's thread,
    /// now, rather than hand it to a thread of its own and wait for it
    /// back; `None` when nothing is left to wait for.
    fn durable_now(&self) -> Option<Durable> {
        self.durable()
    }
}

/// Sends every event to several sinks, in order.
pub(crate) struct Fanout(pub Vec<Arc<dyn Sink>>);

impl Sink for Fanout {
    fn event(&self, ev: &Event) {
        for s in &self.0 {
            s.event(ev);
        }
    }

    fn output(&self, out: &Output<'_>) {
        for s in &self.0 {
            s.output(out);
        }
    }

    fn process(&self, p: &ProcessStarted<'_>) {
        for s in &self.0 {
            s.process(p);
        }
    }

    fn durable(&self) -> Option<Durable> {
        all(self.0.iter().filter_map(|s| s.durable()).collect())
    }

    fn durable_now(&self) -> Option<Durable> {
        all(self.0.iter().filter_map(|s| s.durable_now()).collect())
    }
}

/// One wait for all of `waits`; `None` for none.
fn all(waits: Vec<Durable>) -> Option<Durable> {
    if waits.is_empty() {
        return None;
    }
    Some(Box::pin(async move {
        for w in waits {
            w.await;
        }
    }))
}

/// The labels of a run's items (`test[0]` → `test (linux, 20)`), filled
/// by the engine as it resolves `for_each`/`matrix` steps.
#[derive(Default)]
pub(crate) struct Labels(Mutex<HashMap<String, Arc<str>>>);

impl Labels {
    pub(crate) fn set(&self, id: String, label: String) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id, Arc::from(label));
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<str>> {
        self.0.lock().ok()?.get(id).cloned()
    }
}

/// Gives each event about a labelled item its label, whoever emitted it
/// (the scheduler, a unit, an approval).
pub(crate) struct Labeled {
    pub(crate) inner: Arc<dyn Sink>,
    pub(crate) labels: Arc<Labels>,
}

impl Sink for Labeled {
    fn event(&self, ev: &Event) {
        let label = match (&ev.label, ev.step_id()) {
            (None, Some(id)) => self.labels.get(id),
            _ => None,
        };
        match label {
            Some(l) => {
                let mut ev = ev.clone();
                ev.label = Some(l);
                self.inner.event(&ev);
            }
            None => self.inner.event(ev),
        }
    }

    fn output(&self, out: &Output<'_>) {
        self.inner.output(out);
    }

    fn process(&self, p: &ProcessStarted<'_>) {
        self.inner.process(p);
    }

    fn durable(&self) -> Option<Durable> {
        self.inner.durable()
    }

    fn durable_now(&self) -> Option<Durable> {
        self.inner.durable_now()
    }
}
