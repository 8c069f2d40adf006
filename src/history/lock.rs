//! Which runs are alive: the process running a run holds an exclusive
//! `flock` on `locks/<run-id>`. The kernel drops it when the process dies,
//! however it dies, so a `running` run whose lock is free was interrupted.
//! `history.db.lock` serializes opening the database (see [`opening`]).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Held while one connection checks, switches to WAL and migrates.
pub(crate) struct OpenLock {
    _lock: Option<Flock<File>>,
}

/// Outcome of waiting for [`opening`] past its deadline.
#[derive(Debug)]
pub(crate) struct OpenLockTimeout;

/// The lock beside the database that openers take in turn.
pub(crate) fn open_lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Take the opening lock of database `db`, waiting until `deadline`.
/// Switching a new file to WAL upgrades a read lock to a write lock, which
/// SQLite refuses at once (no busy wait) when another connection does the
/// same; one opener at a time avoids that. Where the lock file cannot be
/// made (a read-only home) opening goes on without it: nothing can be
/// created or migrated there anyway.
pub(crate) fn opening(db: &Path, deadline: Instant) -> Result<OpenLock, OpenLockTimeout> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(open_lock_path(db));
    let Ok(mut file) = file else {
        return Ok(OpenLock { _lock: None });
    };
    let mut pause = Duration::from_micros(100);
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(OpenLock { _lock: Some(lock) }),
            Err((f, Errno::EWOULDBLOCK | Errno::EINTR)) => {
                if Instant::now() >= deadline {
                    return Err(OpenLockTimeout);
                }
                file = f;
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(2));
            }
            // A file system without flock: SQLite's own locking and the
            // busy retries still apply.
            Err(_) => return Ok(OpenLock { _lock: None }),
        }
    }
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

    #[test]
    fn openers_take_turns_until_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.db");
        let held = opening(&db, Instant::now()).unwrap();
        let start = Instant::now();
        let waited = opening(&db, start + Duration::from_millis(50));
        assert!(waited.is_err());
        assert!(start.elapsed() >= Duration::from_millis(50));
        drop(held);
        assert!(opening(&db, Instant::now()).is_ok());
    }
}
