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

/// A unit waiting for a slot: higher priority first, then file order.
#[derive(PartialEq, Eq)]
pub(super) struct Ready {
    pub priority: i64,
    pub step: usize,
}

impl Ord for Ready {
    fn cmp(&self, o: &Self) -> Ordering {
        self.priority
            .cmp(&o.priority)
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
    pub values: Vec<Json>,
    pub next: usize,
    pub running: usize,
    pub done: usize,
    pub results: Vec<Option<UnitResult>>,
}

/// Where one step is in its run.
pub(super) struct StepState {
    pub status: Status,
    pub started: Option<Instant>,
    /// Time the step went terminal.
    pub duration: Option<Duration>,
    pub result: Option<UnitResult>,
    pub items: Option<Items>,
    pub error: Option<String>,
    /// The `steps.<id>` view, once terminal.
    pub view: Option<Arc<Json>>,
    pub queued: bool,
}

impl StepState {
    pub fn pending() -> Self {
        StepState {
            status: Status::Pending,
            started: None,
            duration: None,
            result: None,
            items: None,
            error: None,
            view: None,
            queued: false,
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

/// How a step (and each of its items) ended, for the run's summary.
pub(super) fn report(id: &str, st: &StepState, cancelled: bool) -> StepReport {
    let r = st.result.as_ref();
    let items = st
        .items
        .as_ref()
        .map(|items| {
            items
                .results
                .iter()
                .enumerate()
                .map(|(k, r)| match r {
                    Some(r) => StepReport {
                        id: format!("{id}[{k}]"),
                        status: r.status,
                        attempts: r.attempts,
                        duration: Some(r.duration),
                        exit_code: r.exit_code,
                        error: r.error.clone(),
                        outputs: Json::Object(r.outputs.clone()),
                        items: Vec::new(),
                    },
                    None => StepReport {
                        id: format!("{id}[{k}]"),
                        status: if cancelled {
                            Status::Cancelled
                        } else {
                            Status::Skipped
                        },
                        attempts: 0,
                        duration: None,
                        exit_code: None,
                        error: None,
                        outputs: Json::Object(Map::new()),
                        items: Vec::new(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    StepReport {
        id: id.to_string(),
        status: st.status,
        attempts: r.map(|r| r.attempts).unwrap_or(0),
        duration: st.duration,
        exit_code: r.and_then(|r| r.exit_code),
        error: st.error.clone(),
        outputs: r
            .map(|r| Json::Object(r.outputs.clone()))
            .unwrap_or_else(|| json!({})),
        items,
    }
}

/// `steps.<id>` as expressions see it.
pub(super) fn step_view(st: &StepState) -> Json {
    let mut view = unit_view(st.status, st.result.as_ref(), st.error.as_deref());
    if let (Some(items), Json::Object(m)) = (&st.items, &mut view) {
        let list = items
            .results
            .iter()
            .map(|r| match r {
                Some(r) => unit_view(r.status, Some(r), r.error.as_deref()),
                None => json!({"status": "skipped", "outputs": {}}),
            })
            .collect();
        m.insert("items".into(), Json::Array(list));
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
