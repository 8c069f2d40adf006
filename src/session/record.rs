//! The run record made before anything runs: a new run id, the lock that
//! says the run is alive, and the row with everything `orch resume` and
//! `orch show` need later.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use crate::diag::Diag;
use crate::error::Error;
use crate::history::lock::{self, RunLock};
use crate::history::writer::NewRun;
use crate::history::{Home, Store};
use crate::model::Workflow;
use crate::settings::Project;

/// A fresh run id: a lower-case ULID, so ids sort by start time.
pub(crate) fn new_run_id() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

/// The run's lock, held until the run ends.
pub(crate) fn take_lock(home: &Home, run_id: &str) -> Result<RunLock, Error> {
    lock::acquire(home, run_id).map_err(|e| match e {
        lock::LockError::Held => Diag::new(
            "history",
            format!("run {run_id} is still running in another orch process"),
        )
        .help("wait for it to finish, or stop it (Ctrl-C) first")
        .into(),
        other => Error::environment(Diag::new("history", other.to_string())),
    })
}

/// What a new run row records besides its id.
pub(crate) struct NewRecord<'a> {
    pub(crate) project: &'a Project,
    pub(crate) wf: &'a Workflow,
    pub(crate) inputs: &'a Json,
    /// The run that started this one, for a child run.
    pub(crate) parent: Option<&'a str>,
    /// What relative paths are relative to.
    pub(crate) cwd: &'a Path,
}

/// Insert the run and its steps, all `pending`.
pub(crate) fn create(store: &mut Store, run_id: &str, rec: &NewRecord<'_>) -> Result<(), Error> {
    let wf = rec.wf;
    let steps: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    let file_path = absolute(&wf.source.path, rec.cwd);
    let config_path = rec
        .project
        .config_path
        .as_ref()
        .map(|p| absolute(p, rec.cwd).display().to_string());
    store
        .create_run(&NewRun {
            id: run_id,
            workflow: &wf.name,
            version: wf.version,
            file_path: &file_path.display().to_string(),
            file_hash: &crate::digest::sha256_hex(wf.source.text.as_bytes()),
            definitions: &definitions(wf),
            inputs: rec.inputs,
            parent_run_id: rec.parent,
            project_dir: &rec.project.dir.display().to_string(),
            config_path: config_path.as_deref(),
            steps: &steps,
        })
        .map_err(Error::environment)
}

/// `{step id: definition hash}`, what `orch resume` compares.
pub(crate) fn definitions(wf: &Workflow) -> Json {
    Json::Object(
        wf.steps
            .iter()
            .map(|s| (s.id.clone(), Json::String(s.definition.clone())))
            .collect::<Map<_, _>>(),
    )
}

pub(crate) fn absolute(p: &Path, cwd: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}
