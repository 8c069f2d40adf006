//! Where history lives: `ORCH_HOME` with `history.db`, `logs/` and `locks/`,
//! created owner-only. A leaf: the store and the run locks both build on it.

use std::path::{Path, PathBuf};

use super::error::HistoryError;

/// `ORCH_HOME`: `history.db`, `logs/`, `locks/`.
#[derive(Debug, Clone)]
pub(crate) struct Home {
    pub(crate) dir: PathBuf,
    /// `ORCH_HISTORY=memory`: an in-memory database and no log files, for
    /// measuring what history costs.
    pub(crate) in_memory: bool,
}

impl Home {
    /// `ORCH_HOME`, else the platform data dir (`~/.local/share/orch`).
    pub(crate) fn locate(
        orch_home: Option<&str>,
        history: Option<&str>,
    ) -> Result<Home, HistoryError> {
        let in_memory = history == Some("memory");
        let dir = match orch_home.filter(|s| !s.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => directories::ProjectDirs::from("", "", "orch")
                .map(|p| p.data_dir().to_path_buf())
                .ok_or(HistoryError::NoHome)?,
        };
        Ok(Home { dir, in_memory })
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.dir.join("history.db")
    }

    pub(crate) fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub(crate) fn run_logs(&self, run_id: &str) -> PathBuf {
        self.logs_dir().join(run_id)
    }

    pub(crate) fn lock_path(&self, run_id: &str) -> PathBuf {
        self.locks_dir().join(run_id)
    }

    fn locks_dir(&self) -> PathBuf {
        self.dir.join("locks")
    }

    /// Create `ORCH_HOME`, `logs/` and `locks/`, owner-only.
    pub(crate) fn create_dirs(&self) -> Result<(), HistoryError> {
        for d in [self.dir.clone(), self.logs_dir(), self.locks_dir()] {
            create_private_dir(&d).map_err(|source| HistoryError::CreateDir { path: d, source })?;
        }
        Ok(())
    }
}

/// A directory only its owner may enter (`0700`), with its parents.
pub(crate) fn create_private_dir(d: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if d.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(d)?;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
}
