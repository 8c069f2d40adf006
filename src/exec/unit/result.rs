//! What a unit ends with: the attempt that ended it, a cache hit, or a
//! failure before any attempt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};

use crate::event::{CacheNote, Status};
use crate::steps::Attempt;

#[derive(Debug)]
pub(crate) struct UnitResult {
    pub(crate) status: Status,
    pub(crate) attempts: u32,
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: Option<String>,
    pub(crate) outputs: Map<String, Json>,
    pub(crate) error: Option<String>,
    pub(crate) duration: Duration,
    /// Results beside `outputs` in `steps.<id>` (`approved_by`, `comment`).
    pub(crate) extra: Map<String, Json>,
    /// The cache entry this result came from or should be stored under.
    pub(crate) cache: Option<Arc<CacheNote>>,
    /// The last HTTP status of an `http`/`call` step.
    pub(crate) http_status: Option<u16>,
}

impl UnitResult {
    pub(crate) fn failed(error: String, started: Instant) -> Self {
        UnitResult {
            status: Status::Failed,
            attempts: 1,
            exit_code: None,
            stdout: None,
            outputs: Map::new(),
            error: Some(error),
            duration: started.elapsed(),
            extra: Map::new(),
            cache: None,
            http_status: None,
        }
    }

    /// Stopped before it ran, waiting for an approval.
    pub(super) fn waiting(started: Instant) -> Self {
        UnitResult {
            status: Status::Waiting,
            attempts: 0,
            error: None,
            ..UnitResult::failed(String::new(), started)
        }
    }

    /// The result of the attempt that ended the unit; `error` is its failure.
    pub(super) fn of(a: Attempt, status: Status, attempts: u32, started: Instant) -> Self {
        UnitResult {
            status,
            attempts,
            exit_code: a.exit_code,
            stdout: a.stdout,
            outputs: a.outputs,
            error: a.result.err().map(|e| e.message),
            duration: started.elapsed(),
            extra: a.extra,
            cache: None,
            http_status: a.http_status,
        }
    }

    /// Cancelled while waiting to retry after failed attempt `a`.
    pub(super) fn cancelled_waiting(a: &Attempt, attempts: u32, started: Instant) -> Self {
        UnitResult {
            status: Status::Cancelled,
            attempts,
            exit_code: a.exit_code,
            stdout: a.stdout.clone(),
            outputs: a.outputs.clone(),
            error: Some("cancelled while waiting to retry".into()),
            duration: started.elapsed(),
            extra: a.extra.clone(),
            cache: None,
            http_status: a.http_status,
        }
    }

    /// A cache hit: the stored `steps.<id>` view, nothing run.
    pub(super) fn from_cache(view: Json, note: Arc<CacheNote>, started: Instant) -> Self {
        let mut view = match view {
            Json::Object(m) => m,
            _ => Map::new(),
        };
        let outputs = match view.remove("outputs") {
            Some(Json::Object(m)) => m,
            _ => Map::new(),
        };
        let exit_code = view
            .remove("exit_code")
            .and_then(|c| c.as_i64())
            .map(|c| c as i32);
        let stdout = match view.remove("stdout") {
            Some(Json::String(s)) => Some(s),
            _ => None,
        };
        for k in ["status", "error", "items"] {
            view.remove(k);
        }
        UnitResult {
            status: Status::Cached,
            attempts: 0,
            exit_code,
            stdout,
            outputs,
            error: None,
            duration: started.elapsed(),
            extra: view,
            cache: Some(note),
            http_status: None,
        }
    }
}
