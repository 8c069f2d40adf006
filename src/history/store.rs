//! The connection to the history database: opening with the right pragmas
//! and permissions, and errors that name the path. The connection stays
//! inside `history`; commands call the methods of [`Store`] (see `runs.rs`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::error::HistoryError;
use super::schema;
use super::status::UnknownStatus;
use crate::diag::Diag;

pub(crate) use super::home::{create_private_dir, Home};

/// Longest time a writer waits for another orch process holding the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A database error in words a user can act on, naming the file.
pub(crate) fn sqlite_error(path: &Path, e: &rusqlite::Error) -> HistoryError {
    if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = e {
        if let Some(UnknownStatus(text)) = inner.downcast_ref::<UnknownStatus>() {
            return HistoryError::UnknownStatus {
                path: path.to_path_buf(),
                text: text.clone(),
            };
        }
    }
    let what = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            "is not an SQLite database (it may be corrupt, or another program's file)".to_string()
        }
        Some(ErrorCode::DatabaseCorrupt) => "is corrupt".to_string(),
        Some(ErrorCode::DiskFull) => "cannot be written: the disk is full".to_string(),
        Some(ErrorCode::ReadOnly) => "is read-only".to_string(),
        Some(ErrorCode::CannotOpen) => match std::fs::OpenOptions::new().write(true).open(path) {
            // SQLite does not say why; the OS does.
            Err(io) => format!("cannot be opened for writing: {io}"),
            Ok(_) => "cannot be opened (its directory must be writable too)".to_string(),
        },
        Some(ErrorCode::PermissionDenied) => "cannot be accessed: permission denied".to_string(),
        // How long SQLite waited is not known here (it does not wait at
        // all in some cases): say only what happened.
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            format!("is locked by another process ({e})")
        }
        _ => format!("cannot be used: {e}"),
    };
    HistoryError::Db {
        path: path.to_path_buf(),
        what,
    }
}

/// [`sqlite_error`] as a diagnostic, for the writer's report.
pub(crate) fn db_error(path: &Path, e: &rusqlite::Error) -> Diag {
    sqlite_error(path, e).into()
}

pub(crate) struct Store {
    /// Private to `history`: every statement is a method here.
    pub(super) conn: Connection,
    pub(crate) path: PathBuf,
}

impl Store {
    /// Open (creating if needed) and migrate. Never rewrites a file that is
    /// not an orch database.
    pub(crate) fn open(home: &Home) -> Result<Store, HistoryError> {
        if home.in_memory {
            let memory = Path::new(":memory:");
            let mut conn = Connection::open_in_memory().map_err(|e| sqlite_error(memory, &e))?;
            schema::migrate(&mut conn).map_err(|e| schema_error(memory, e))?;
            return Ok(Store {
                conn,
                path: PathBuf::from(":memory:"),
            });
        }
        home.create_dirs()?;
        let path = home.db_path();
        if !path.exists() {
            create_private_file(&path).map_err(|source| HistoryError::CreateFile {
                path: path.clone(),
                source,
            })?;
        }
        Self::open_path(&path, true)
    }

    /// Start opening the database on a thread of its own, for a caller
    /// with other work to do first (`orch run` reads and checks the
    /// workflow meanwhile: SQLite's first read of the schema and of the
    /// WAL is most of what opening costs). Only a database that exists
    /// is opened ahead, and not migrated there: a run that never starts
    /// (its workflow does not validate) creates and changes nothing.
    pub(crate) fn open_ahead(home: &Home) -> Opening {
        let path = home.db_path();
        let thread = (!home.in_memory && path.is_file())
            .then(|| {
                std::thread::Builder::new()
                    .name("orch-open".into())
                    .spawn(move || Self::open_checked(&path, false))
                    .ok()
            })
            .flatten();
        Opening {
            home: home.clone(),
            thread,
        }
    }

    /// Open an existing database for reading commands; `None` when there
    /// is none yet (nothing has run).
    pub(crate) fn open_existing(home: &Home) -> Result<Option<Store>, HistoryError> {
        if home.in_memory {
            return Ok(None);
        }
        let path = home.db_path();
        if !path.exists() {
            return Ok(None);
        }
        Self::open_path(&path, true).map(Some)
    }

    pub(crate) fn open_path(path: &Path, migrate: bool) -> Result<Store, HistoryError> {
        Self::open_checked(path, migrate).map(|(store, _)| store)
    }

    /// [`Store::open_path`], and whether the schema is (now) current.
    fn open_checked(path: &Path, migrate: bool) -> Result<(Store, bool), HistoryError> {
        let start = Instant::now();
        let deadline = start + BUSY_TIMEOUT;
        let err = |e: rusqlite::Error| sqlite_error(path, &e);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = Connection::open_with_flags(path, flags).map_err(err)?;
        // One opener at a time: two connections switching a new file to
        // WAL at once make SQLite refuse one at once, without waiting.
        let _turn = super::lock::opening(path, deadline)
            .map_err(|_| busy_error(path, start.elapsed(), None))?;
        // And should anything else still answer busy (an older orch that
        // takes no turn), try again until the same deadline.
        let current = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            conn.busy_timeout(left).map_err(err)?;
            match prepare(&mut conn, migrate) {
                Ok(current) => break current,
                Err(schema::SchemaError::Sqlite(e)) if is_busy(&e) => {
                    if Instant::now() >= deadline {
                        return Err(busy_error(path, start.elapsed(), Some(&e)));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(schema_error(path, e)),
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        Ok((store, current))
    }

    /// An SQLite error on this database.
    pub(super) fn err(&self, e: rusqlite::Error) -> HistoryError {
        sqlite_error(&self.path, &e)
    }
}

/// A [`Store`] that [`Store::open_ahead`] is opening.
pub(crate) struct Opening {
    home: Home,
    thread: Option<std::thread::JoinHandle<Result<(Store, bool), HistoryError>>>,
}

impl Opening {
    /// The store, as [`Store::open`] gives it: opened (here, when it was
    /// not opened ahead), migrated, or why not.
    pub(crate) fn wait(mut self) -> Result<Store, HistoryError> {
        let Some(Ok(opened)) = self.thread.take().map(std::thread::JoinHandle::join) else {
            return Store::open(&self.home);
        };
        let (store, current) = opened?;
        if current {
            self.home.create_dirs()?;
            return Ok(store);
        }
        // An older schema (orch was upgraded): migrated the way every
        // other opening does, taking its turn.
        drop(store);
        Store::open(&self.home)
    }
}

impl Drop for Opening {
    /// A run that does not start still waits for the thread: the process
    /// must not end in the middle of SQLite's first read.
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Check, switch to WAL and migrate: what every connection does first.
/// Whether the schema is current after it.
fn prepare(conn: &mut Connection, migrate: bool) -> Result<bool, schema::SchemaError> {
    // Before anything that writes (even switching to WAL rewrites the
    // header): is this our database?
    let current = schema::check(conn)?;
    if !current && !migrate {
        // Opened ahead, and the caller will migrate it (or not): nothing
        // is written yet.
        return Ok(false);
    }
    // journal_mode answers with a row; WAL lets readers and one writer
    // work at once. synchronous=NORMAL: a commit survives kill -9 (it is
    // in the OS); only a power cut may lose the last ones.
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")?;
    // The last connection to close would checkpoint the WAL into the
    // database and delete it, and the next run create it again: four
    // fsyncs per run that durability does not need (a commit is durable
    // in the WAL). The writer checkpoints as it goes instead, so the WAL
    // stays small.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    // An up-to-date schema needs no exclusive transaction: the common case
    // costs one read transaction.
    if migrate && !current {
        schema::migrate(conn)?;
        return Ok(true);
    }
    Ok(current)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// A lock that did not come free, saying how long orch really waited.
fn busy_error(path: &Path, waited: Duration, e: Option<&rusqlite::Error>) -> HistoryError {
    let what = if waited >= BUSY_TIMEOUT {
        format!(
            "stayed locked by another process for more than {}s",
            BUSY_TIMEOUT.as_secs()
        )
    } else {
        let why = e.map(|e| format!(": {e}")).unwrap_or_default();
        format!(
            "was locked by another process; orch gave up after {} ms{why}",
            waited.as_millis()
        )
    };
    HistoryError::Db {
        path: path.to_path_buf(),
        what,
    }
}

fn schema_error(path: &Path, e: schema::SchemaError) -> HistoryError {
    match e {
        schema::SchemaError::Sqlite(e) => sqlite_error(path, &e),
        other => HistoryError::Schema {
            path: path.to_path_buf(),
            source: other,
        },
    }
}

fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    fn home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            dir: dir.path().join("orch"),
            in_memory: false,
        };
        (dir, home)
    }

    #[test]
    fn creates_private_files() {
        use std::os::unix::fs::PermissionsExt;
        let (_t, home) = home();
        let store = Store::open(&home).unwrap();
        drop(store);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&home.dir), 0o700);
        assert_eq!(mode(&home.logs_dir()), 0o700);
        assert_eq!(mode(&home.db_path()), 0o600);
    }

    #[test]
    fn garbage_is_refused_and_left_alone() {
        let (_t, home) = home();
        std::fs::create_dir_all(&home.dir).unwrap();
        let junk = vec![0x42u8; 8192];
        std::fs::write(home.db_path(), &junk).unwrap();
        let err = Diag::from(Store::open(&home).err().expect("must refuse"));
        assert!(
            err.message.contains("not an SQLite database"),
            "{}",
            err.message
        );
        assert!(err.message.contains("history.db"));
        assert_eq!(std::fs::read(home.db_path()).unwrap(), junk);
    }

    #[test]
    fn run_prefixes() {
        let (_t, home) = home();
        let store = Store::open(&home).unwrap();
        for id in ["01abc", "01abd", "02xyz"] {
            store
                .conn
                .execute(
                    "INSERT INTO runs (id, workflow, file_path, file_hash, definitions, inputs, \
                     orch_version, project_dir, status, created_at) \
                     VALUES (?1, 'w', 'f', 'h', '{}', '{}', 'v', '.', 'succeeded', ?2)",
                    params![id, id.len() as i64 + if id == "02xyz" { 10 } else { 0 }],
                )
                .unwrap();
        }
        assert_eq!(store.resolve_run("02").unwrap().id, "02xyz");
        assert_eq!(store.resolve_run("01abd").unwrap().id, "01abd");
        assert_eq!(store.resolve_run("last").unwrap().id, "02xyz");
        let e = Diag::from(store.resolve_run("01ab").err().unwrap());
        assert!(e.message.contains("more than one"), "{}", e.message);
        assert!(store.resolve_run("9").is_err());
    }

    /// A database opened ahead of a run that never starts is left as it
    /// was, even one the run would have migrated; a run that starts gets
    /// it migrated.
    #[test]
    fn opening_ahead_changes_nothing_until_waited_for() {
        let (_t, home) = home();
        drop(Store::open_ahead(&home));
        assert!(!home.dir.exists(), "no database: nothing opened ahead");
        std::fs::create_dir_all(&home.dir).unwrap();
        std::fs::write(home.db_path(), b"").unwrap();
        drop(Store::open_ahead(&home));
        assert_eq!(std::fs::read(home.db_path()).unwrap(), b"");
        assert!(!home.dir.join("history.db-wal").exists());
        let mut store = Store::open_ahead(&home).wait().unwrap();
        assert!(schema::check(&mut store.conn).unwrap(), "migrated");
        drop(store);
        let mut again = Store::open_ahead(&home).wait().unwrap();
        assert!(schema::check(&mut again.conn).unwrap());
        assert!(home.logs_dir().is_dir());
    }

    /// Opening a brand-new database from many connections at once (threads
    /// released together, tighter than processes can be): the switch to WAL
    /// and the migration must wait for each other, never fail as busy.
    #[test]
    fn simultaneous_first_opens_all_succeed() {
        const OPENERS: usize = 4;
        for _ in 0..250 {
            let (_t, home) = home();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(OPENERS));
            let threads: Vec<_> = (0..OPENERS)
                .map(|_| {
                    let (home, barrier) = (home.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        Store::open(&home).map(drop).map_err(|e| e.to_string())
                    })
                })
                .collect();
            for t in threads {
                if let Err(e) = t.join().unwrap() {
                    panic!("{e}");
                }
            }
        }
    }
}
