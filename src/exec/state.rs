//! What the scheduler knows of each step while a run goes on, and the
//! views built from it: `steps.<id>` for expressions, the [`StepReport`]s
//! of the summary, results carried over by `orch resume`.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value as Json};

use super::unit::UnitResult;
use crate::event::{Status, StepReport};
use crate::plan::Restored;
use crate::steps::shell::ENV_KEY;

/// A unit waiting for a slot: higher priority first, then the longer
/// expected remaining path (`Plan::rank`), then file order.
#[derive(PartialEq, Eq)]
pub(super) struct Ready {
    pub(super) priority: i64,
    pub(super) rank: Duration,
    pub(super) step: usize,
}

impl Ord for Ready {
    fn cmp(&self, o: &Self) -> Ordering {
        self.priority
            .cmp(&o.priority)
            .then(self.rank.cmp(&o.rank))
            .then_with(|| o.step.cmp(&self.step))
    }
}

impl PartialOrd for Ready {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// The items of a running `for_each` step.
#[derive(Default)]
pub(super) struct Items {
    pub(super) values: Vec<Json>,
    /// How each item is shown: `test (linux, 20)`.
    pub(super) labels: Vec<String>,
    pub(super) next: usize,
    pub(super) running: usize,
    pub(super) done: usize,
    pub(super) results: Vec<Option<UnitResult>>,
}

impl Items {
    /// Move `next` past items that already have their result (kept from
    /// an earlier attempt of the run).
    pub(super) fn skip_done(&mut self) {
        while self.results.get(self.next).is_some_and(Option::is_some) {
            self.next += 1;
        }
    }
}

/// Where one step is in its run.
pub(super) struct StepState {
    pub(super) status: Status,
    pub(super) started: Option<Instant>,
    /// Time the step went terminal.
    pub(super) duration: Option<Duration>,
    pub(super) result: Option<UnitResult>,
    /// Boxed: only `for_each` steps have items, and every step has a state.
    pub(super) items: Option<Box<Items>>,
    pub(super) error: Option<String>,
    /// The `steps.<id>` view, once terminal.
    pub(super) view: Option<Arc<Json>>,
    pub(super) queued: bool,
    /// The environment its units run with (the workflow's, then what the
    /// steps it needs wrote to `ORCH_ENV`), fixed when it is decided.
    pub(super) env: Option<StepEnv>,
}

/// The `env:` pairs and the `env` context of a step's units.
#[derive(Clone)]
pub(super) struct StepEnv {
    pub(super) pairs: Arc<Vec<(String, String)>>,
    pub(super) context: Arc<Json>,
}

/// What a step's units wrote to `ORCH_ENV`, from its view: the step's own,
/// then each item's in index order; a later write of a name wins.
pub(super) fn env_writes(view: &Json) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |unit: &Json| {
        if let Some(Json::Object(vars)) = unit.get(ENV_KEY) {
            for (k, v) in vars {
                if let Some(v) = v.as_str() {
                    out.retain(|(x, _)| x != k);
                    out.push((k.clone(), v.to_string()));
                }
            }
        }
    };
    add(view);
    if let Some(Json::Array(items)) = view.get("items") {
        items.iter().for_each(&mut add);
    }
    out
}

impl StepState {
    pub(super) fn pending() -> Self {
        StepState {
            status: Status::Pending,
            started: None,
            duration: None,
            result: None,
            items: None,
            error: None,
            view: None,
            queued: false,
            env: None,
        }
    }
}

/// A result carried over from an earlier attempt of the run.
pub(super) fn restored(r: &Restored) -> UnitResult {
    let view = match &r.view {
        Json::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let mut extra = view.clone();
    for k in ["status", "outputs", "exit_code", "stdout", "error", "items"] {
        extra.remove(k);
    }
    UnitResult {
        status: r.status,
        attempts: r.attempts,
        exit_code: view
            .get("exit_code")
            .and_then(Json::as_i64)
            .map(|c| c as i32),
        stdout: view
            .get("stdout")
            .and_then(Json::as_str)
            .map(str::to_string),
        outputs: match view.get("outputs") {
            Some(Json::Object(m)) => m.clone(),
            _ => Map::new(),
        },
        error: None,
        duration: r.duration.unwrap_or_default(),
        http_status: view
            .get("http_status")
            .and_then(Json::as_u64)
            .map(|c| c as u16),
        extra,
        cache: None,
    }
}

/// How a step (and each of its items) ended, for the run's summary;
/// `continue_on_error` marks its failures allowed. The outputs move into
/// the report: it is made when the run is over.
pub(super) fn report(id: &str, st: &mut StepState, cancelled: bool, may_fail: bool) -> StepReport {
    let items = st
        .items
        .as_mut()
        .map(|items| {
            items
                .results
                .iter_mut()
                .enumerate()
                .map(|(k, r)| match r {
                    Some(r) => StepReport {
                        id: format!("{id}[{k}]"),
                        label: items.labels.get(k).cloned(),
                        status: r.status,
                        error: r.error.clone(),
                        outputs: Json::Object(std::mem::take(&mut r.outputs)),
                        items: Vec::new(),
                        allowed: may_fail && r.status == Status::Failed,
                    },
                    None => StepReport {
                        id: format!("{id}[{k}]"),
                        label: items.labels.get(k).cloned(),
                        status: if cancelled {
                            Status::Cancelled
                        } else {
                            Status::Skipped
                        },
                        error: None,
                        outputs: Json::Object(Map::new()),
                        items: Vec::new(),
                        allowed: false,
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    StepReport {
        id: id.to_string(),
        label: None,
        status: st.status,
        error: st.error.clone(),
        outputs: st
            .result
            .as_mut()
            .map(|r| Json::Object(std::mem::take(&mut r.outputs)))
            .unwrap_or_else(|| json!({})),
        items,
        allowed: may_fail && st.status == Status::Failed,
    }
}

/// `steps.<id>` as expressions see it. A `for_each`/`matrix` step
/// (`fans_out`) always has `items`, empty when it never fanned out (skipped,
/// or failed before), so `size(steps.<id>.items)` works downstream.
pub(super) fn step_view(st: &StepState, fans_out: bool) -> Json {
    let mut view = unit_view(st.status, st.result.as_ref(), st.error.as_deref());
    if let Json::Object(m) = &mut view {
        match &st.items {
            Some(items) => {
                let list = (0..items.results.len())
                    .map(|k| item_view(items, k, None))
                    .collect();
                m.insert("items".into(), Json::Array(list));
            }
            None if fans_out => {
                m.insert("items".into(), Json::Array(Vec::new()));
            }
            None => {}
        }
    }
    view
}

/// `steps.<id>.items[k]`: the unit's view, with the item's value (`item`)
/// and how it is shown (`name`, `test (linux, 20)`).
/// `r` is the item's result when it is not in `items` yet.
pub(super) fn item_view(items: &Items, k: usize, r: Option<&UnitResult>) -> Json {
    let r = r.or_else(|| items.results.get(k).and_then(Option::as_ref));
    let mut view = match r {
        Some(r) => unit_view(r.status, Some(r), r.error.as_deref()),
        None => json!({"status": "skipped", "outputs": {}}),
    };
    if let Json::Object(m) = &mut view {
        if let Some(v) = items.values.get(k) {
            m.insert("item".into(), v.clone());
        }
        if let Some(l) = items.labels.get(k) {
            m.insert("name".into(), Json::String(l.clone()));
        }
    }
    view
}

/// The view of one unit (a step or a `for_each` item).
pub(super) fn unit_view(status: Status, r: Option<&UnitResult>, error: Option<&str>) -> Json {
    let mut m = Map::new();
    m.insert("status".into(), Json::String(status.as_str().into()));
    m.insert(
        "outputs".into(),
        Json::Object(r.map(|r| r.outputs.clone()).unwrap_or_default()),
    );
    m.insert("exit_code".into(), json!(r.and_then(|r| r.exit_code)));
    m.insert("stdout".into(), json!(r.and_then(|r| r.stdout.as_deref())));
    m.insert("error".into(), json!(error));
    if let Some(r) = r {
        for (k, v) in &r.extra {
            m.insert(k.clone(), v.clone());
        }
    }
    Json::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BinaryHeap;

    #[test]
    fn ready_units_pop_by_priority_then_rank_then_file_order() {
        let r = |priority, rank, step| Ready {
            priority,
            rank: Duration::from_millis(rank),
            step,
        };
        let mut q: BinaryHeap<Ready> = [
            r(0, 10, 0),
            r(0, 50, 1),
            r(1, 1, 2),
            r(0, 50, 3),
            r(0, 10, 4),
        ]
        .into_iter()
        .collect();
        let order: Vec<usize> = std::iter::from_fn(|| q.pop().map(|r| r.step)).collect();
        assert_eq!(order, [2, 1, 3, 0, 4]);
    }
}
