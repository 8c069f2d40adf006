//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// One `ORCH_HOME` shared by every test that does not make its own, so
/// that no test writes into the real user's data directory.
pub(crate) fn shared_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// `orch` with a clean, predictable environment: no colour, not CI, no
/// inherited orch settings, history in a temporary `ORCH_HOME`.
pub(crate) fn orch(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("orch").expect("binary built");
    c.current_dir(dir)
        .env("ORCH_HOME", shared_home())
        .env_remove("ORCH_HISTORY")
        .env_remove("ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS")
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        // Under a real GitHub runner: never append to the job's own files.
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("ORCH_CONFIG")
        .env_remove("ORCHESTRATION_DEFAULT_MAX_PARALLEL")
        .env_remove("ORCHESTRATION_MAX_CONCURRENCY")
        .env_remove("ORCHESTRATION_PROGRESS_WEBHOOK_URL")
        .env_remove("ORCH_SCHEDULE")
        // With a display, a locked keyring waits for an unlock prompt.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ORCH_SECRET_") {
            c.env_remove(k);
        }
    }
    c
}

/// `orch` with its own `ORCH_HOME` (for tests that inspect history).
pub(crate) fn orch_in(dir: &Path, home: &Path) -> Command {
    let mut c = orch(dir);
    c.env("ORCH_HOME", home);
    c
}

/// A temporary directory with the given files written into it.
pub(crate) fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write fixture");
    }
    dir
}

pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parse `--output json` stdout into events.
pub(crate) fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}
