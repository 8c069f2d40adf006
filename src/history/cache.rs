//! The step cache's read side: lookups during a run (entries are written by
//! the history writer), explanations for `orch plan`, `orch cache clear`.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{params, OptionalExtension};
use serde_json::Value as Json;

use super::store::{now_ms, Store};
use crate::exec::fingerprint::{self, Fingerprint, Parts};
use crate::exec::StepCache;

/// Looks up fingerprints on a connection of its own, opened at the first
/// lookup: most runs have no cached step, and opening costs a start-up.
pub(crate) struct CacheReader {
    path: PathBuf,
    store: Mutex<Option<Store>>,
}

impl CacheReader {
    /// `path` is a history database whose schema the run has checked.
    pub(crate) fn new(path: PathBuf) -> CacheReader {
        CacheReader {
            path,
            store: Mutex::new(None),
        }
    }
}

impl StepCache for CacheReader {
    fn lookup(&self, fp: &str) -> Option<Json> {
        let mut guard = self.store.lock().ok()?;
        if guard.is_none() {
            // A cache that cannot be opened is a miss, as one that cannot be read.
            *guard = Some(Store::open_path(&self.path, false).ok()?);
        }
        let store = guard.as_ref()?;
        let text: Option<String> = store
            .conn
            .query_row(
                "SELECT result FROM cache WHERE fingerprint = ?1 \
                 AND (expires_at IS NULL OR expires_at > ?2)",
                params![fp, now_ms()],
                |r| r.get(0),
            )
            .optional()
            // A cache that cannot be read is a miss, never a failure.
            .ok()
            .flatten();
        text.and_then(|t| serde_json::from_str(&t).ok())
    }
}

/// What `orch plan` says about one cached step.
pub(crate) fn explain(store: &Store, workflow: &str, step: &str, fp: &Fingerprint) -> String {
    let now = now_ms();
    let hit: Option<Option<i64>> = store
        .conn
        .query_row(
            "SELECT expires_at FROM cache WHERE fingerprint = ?1",
            [&fp.digest],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    match hit {
        Some(Some(exp)) if exp <= now => return "would run: expired".into(),
        Some(_) => return "would hit".into(),
        None => {}
    }
    let latest: Option<String> = store
        .conn
        .query_row(
            "SELECT parts FROM cache WHERE workflow = ?1 AND step_id = ?2 \
             ORDER BY created_at DESC LIMIT 1",
            params![workflow, step],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    match latest.and_then(|p| serde_json::from_str::<Parts>(&p).ok()) {
        None => "would run: never run".into(),
        Some(old) => format!("would run: {}", fingerprint::explain(&old, &fp.parts)),
    }
}

/// Empty the cache; returns how many entries went.
pub(crate) fn clear(store: &Store) -> Result<usize, super::HistoryError> {
    store
        .conn
        .execute("DELETE FROM cache", [])
        .map_err(|e| store.err(e))
}
