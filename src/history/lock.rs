//! Which runs are alive: the process running a run holds an exclusive
//! `flock` on `locks/<run-id>`. The kernel drops it when the process dies,
//! however it dies, so a `running` run whose lock is free was interrupted.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::home::Home;

/// Held for as long as this process runs the run.
pub(crate) struct RunLock {
    _lock: Option<Flock<File>>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("another orch process is running it")]
    Held,
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn open(home: &Home, run_id: &str) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(home.lock_path(run_id))
}

/// Take the run's lock, or say that a live process holds it.
pub(crate) fn acquire(home: &Home, run_id: &str) -> Result<RunLock, LockError> {
    if home.in_memory {
        return Ok(RunLock { _lock: None });
    }
    let io = |source| LockError::Io {
        path: home.lock_path(run_id).display().to_string(),
        source,
    };
    let mut file = open(home, run_id).map_err(io)?;
    // A reader checking liveness holds a shared lock for an instant; only
    // a lock that stays taken means a live run.
    for _ in 0..20 {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(RunLock { _lock: Some(lock) }),
            Err((f, Errno::EWOULDBLOCK)) => {
                file = f;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err((_, e)) => return Err(io(std::io::Error::from(e))),
        }
    }
    Err(LockError::Held)
}

/// Whether a live process holds the run's lock.
pub(crate) fn is_live(home: &Home, run_id: &str) -> bool {
    let Ok(file) = File::open(home.lock_path(run_id)) else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_released_on_drop) => false,
        Err((_, e)) => e == Errno::EWOULDBLOCK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_live_and_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            dir: dir.path().to_path_buf(),
            in_memory: false,
        };
        home.create_dirs().unwrap();
        assert!(!is_live(&home, "r1"));
        let held = acquire(&home, "r1").unwrap();
        assert!(is_live(&home, "r1"));
        // flock is per open file description: a second open in this same
        // process conflicts just as another process would.
        assert!(matches!(acquire(&home, "r1"), Err(LockError::Held)));
        drop(held);
        assert!(!is_live(&home, "r1"));
        assert!(acquire(&home, "r1").is_ok());
    }
}
