//! Where history lives (`ORCH_HOME`) and the connection to it: opening with
//! the right pragmas and permissions, clear errors naming the path, and the
//! rows the commands read.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};

use super::schema;
use crate::diag::Diag;

/// Longest time a writer waits for another orch process holding the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// `ORCH_HOME`: `history.db`, `logs/`, `locks/`.
#[derive(Debug, Clone)]
pub struct Home {
    pub dir: PathBuf,
    /// `ORCH_HISTORY=memory`: an in-memory database and no log files, for
    /// measuring what history costs.
    pub in_memory: bool,
}

impl Home {
    /// `ORCH_HOME`, else the platform data dir (`~/.local/share/orch`).
    pub fn locate(orch_home: Option<&str>, history: Option<&str>) -> Result<Home, Diag> {
        let in_memory = history == Some("memory");
        let dir = match orch_home.filter(|s| !s.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => directories::ProjectDirs::from("", "", "orch")
                .map(|p| p.data_dir().to_path_buf())
                .ok_or_else(|| {
                    Diag::new("history", "cannot find a home directory for orch's data")
                        .help("set ORCH_HOME to a directory orch may write")
                })?,
        };
        Ok(Home { dir, in_memory })
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.join("history.db")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub fn run_logs(&self, run_id: &str) -> PathBuf {
        self.logs_dir().join(run_id)
    }

    pub fn lock_path(&self, run_id: &str) -> PathBuf {
        self.dir.join("locks").join(run_id)
    }

    /// Create `ORCH_HOME`, `logs/` and `locks/`, owner-only.
    pub fn create_dirs(&self) -> Result<(), Diag> {
        for d in [self.dir.clone(), self.logs_dir(), self.dir.join("locks")] {
            create_private_dir(&d).map_err(|e| {
                Diag::new("history", format!("cannot create {}: {e}", d.display()))
                    .help("set ORCH_HOME to a directory orch may write, or fix the permissions")
            })?;
        }
        Ok(())
    }
}

pub fn create_private_dir(d: &Path) -> std::io::Result<()> {
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

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A database error in words a user can act on, naming the file.
pub fn db_error(path: &Path, e: &rusqlite::Error) -> Diag {
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
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => format!(
            "stayed locked by another process for more than {}s",
            BUSY_TIMEOUT.as_secs()
        ),
        _ => format!("cannot be used: {e}"),
    };
    Diag::new("history", format!("the history database {} {what}", path.display())).help(
        "orch leaves a database it cannot use untouched; move it aside or point ORCH_HOME elsewhere",
    )
}

pub struct Store {
    pub conn: Connection,
    pub path: PathBuf,
}

impl Store {
    /// Open (creating if needed) and migrate. Never rewrites a file that is
    /// not an orch database.
    pub fn open(home: &Home) -> Result<Store, Diag> {
        if home.in_memory {
            let mut conn =
                Connection::open_in_memory().map_err(|e| db_error(Path::new(":memory:"), &e))?;
            schema::migrate(&mut conn).map_err(|e| schema_error(Path::new(":memory:"), e))?;
            return Ok(Store {
                conn,
                path: PathBuf::from(":memory:"),
            });
        }
        home.create_dirs()?;
        let path = home.db_path();
        if !path.exists() {
            create_private_file(&path).map_err(|e| {
                Diag::new("history", format!("cannot create {}: {e}", path.display()))
                    .help("set ORCH_HOME to a directory orch may write")
            })?;
        }
        Self::open_path(&path, true)
    }

    /// Open an existing database for reading commands; `None` when there
    /// is none yet (nothing has run).
    pub fn open_existing(home: &Home) -> Result<Option<Store>, Diag> {
        if home.in_memory {
            return Ok(None);
        }
        let path = home.db_path();
        if !path.exists() {
            return Ok(None);
        }
        Self::open_path(&path, true).map(Some)
    }

    pub fn open_path(path: &Path, migrate: bool) -> Result<Store, Diag> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| db_error(path, &e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| db_error(path, &e))?;
        // Before anything that writes (even switching to WAL rewrites the
        // header): is this our database?
        schema::check(&mut conn).map_err(|e| schema_error(path, e))?;
        // journal_mode answers with a row; WAL lets readers and one writer
        // work at once. synchronous=NORMAL: a commit survives kill -9 (it is
        // in the OS); only a power cut may lose the last ones.
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .map_err(|e| db_error(path, &e))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(|e| db_error(path, &e))?;
        if migrate {
            schema::migrate(&mut conn).map_err(|e| schema_error(path, e))?;
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn err(&self, e: rusqlite::Error) -> Diag {
        db_error(&self.path, &e)
    }

    /// A run by id, unique id prefix, or `last`.
    pub fn resolve_run(&self, reference: &str) -> Result<RunRow, Diag> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs");
        let mut found: Vec<RunRow> = if reference == "last" {
            let mut st = self
                .conn
                // Without ANALYZE statistics SQLite may sort the whole table
                // instead of walking the index backwards: name the index.
                .prepare_cached(&format!(
                    "{sql} INDEXED BY runs_by_time ORDER BY created_at DESC, id DESC LIMIT 1"
                ))
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map([], RunRow::from_row)
                .map_err(|e| self.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?;
            rows
        } else {
            let lower = reference.to_ascii_lowercase();
            let mut st = self
                .conn
                .prepare_cached(&format!(
                    "{sql} WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT 2"
                ))
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map([&lower], RunRow::from_row)
                .map_err(|e| self.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?;
            rows
        };
        if let Some(i) = found.iter().position(|r| r.id == reference) {
            return Ok(found.swap_remove(i));
        }
        if found.len() == 1 {
            if let Some(r) = found.pop() {
                return Ok(r);
            }
        }
        match found.len() {
            0 if reference == "last" => Err(Diag::new("history", "no runs recorded yet")
                .help("runs are recorded by `orch run`")),
            0 => Err(Diag::new("history", format!("no run `{reference}`"))
                .help("`orch history` lists runs; `last` is the newest")),
            _ => Err(Diag::new(
                "history",
                format!("`{reference}` matches more than one run"),
            )
            .help("give more characters of the id")),
        }
    }

    pub fn steps(&self, run_id: &str) -> Result<Vec<StepRow>, Diag> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ?1 \
                 ORDER BY position, item IS NOT NULL, item"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], StepRow::from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    pub fn approval(&self, run_id: &str, step_id: &str) -> Result<Option<ApprovalRow>, Diag> {
        self.conn
            .query_row(
                "SELECT step_id, message, requested_at, expires_at, decision, decided_by, \
                 decided_at, comment FROM approvals WHERE run_id = ?1 AND step_id = ?2",
                params![run_id, step_id],
                ApprovalRow::from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn approvals(&self, run_id: &str) -> Result<Vec<ApprovalRow>, Diag> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT step_id, message, requested_at, expires_at, decision, decided_by, \
                 decided_at, comment FROM approvals WHERE run_id = ?1 ORDER BY requested_at",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], ApprovalRow::from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}

fn schema_error(path: &Path, e: schema::SchemaError) -> Diag {
    match e {
        schema::SchemaError::Sqlite(e) => db_error(path, &e),
        other => Diag::new(
            "history",
            format!(
                "the history database {} cannot be used: {other}",
                path.display()
            ),
        )
        .help("orch leaves it untouched; move it aside or point ORCH_HOME elsewhere"),
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

pub const RUN_COLUMNS: &str = "id, workflow, version, file_path, file_hash, definitions, inputs, \
     orch_version, parent_run_id, project_dir, config_path, status, attempt, created_at, \
     started_at, finished_at, duration_ms, error, outputs";

#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: String,
    pub workflow: String,
    pub version: Option<i64>,
    pub file_path: String,
    pub file_hash: String,
    pub definitions: String,
    pub inputs: String,
    pub orch_version: String,
    pub parent_run_id: Option<String>,
    pub project_dir: String,
    pub config_path: Option<String>,
    pub status: String,
    pub attempt: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub outputs: Option<String>,
}

impl RunRow {
    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RunRow {
            id: r.get(0)?,
            workflow: r.get(1)?,
            version: r.get(2)?,
            file_path: r.get(3)?,
            file_hash: r.get(4)?,
            definitions: r.get(5)?,
            inputs: r.get(6)?,
            orch_version: r.get(7)?,
            parent_run_id: r.get(8)?,
            project_dir: r.get(9)?,
            config_path: r.get(10)?,
            status: r.get(11)?,
            attempt: r.get(12)?,
            created_at: r.get(13)?,
            started_at: r.get(14)?,
            finished_at: r.get(15)?,
            duration_ms: r.get(16)?,
            error: r.get(17)?,
            outputs: r.get(18)?,
        })
    }

    /// `running`/`pending` runs whose process is gone show as `interrupted`.
    pub fn shown_status(&self, home: &Home) -> &str {
        if matches!(self.status.as_str(), "running" | "pending")
            && !super::lock::is_live(home, &self.id)
        {
            "interrupted"
        } else {
            &self.status
        }
    }
}

pub const STEP_COLUMNS: &str = "step_id, parent, position, item, status, attempts, started_at, \
     finished_at, duration_ms, exit_code, http_status, cached, error, result";

#[derive(Debug, Clone)]
pub struct StepRow {
    pub step_id: String,
    pub parent: Option<String>,
    pub position: i64,
    pub item: Option<i64>,
    pub status: String,
    pub attempts: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i64>,
    pub http_status: Option<i64>,
    pub cached: bool,
    pub error: Option<String>,
    pub result: Option<String>,
}

impl StepRow {
    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(StepRow {
            step_id: r.get(0)?,
            parent: r.get(1)?,
            position: r.get(2)?,
            item: r.get(3)?,
            status: r.get(4)?,
            attempts: r.get(5)?,
            started_at: r.get(6)?,
            finished_at: r.get(7)?,
            duration_ms: r.get(8)?,
            exit_code: r.get(9)?,
            http_status: r.get(10)?,
            cached: r.get(11)?,
            error: r.get(12)?,
            result: r.get(13)?,
        })
    }

    /// `outputs` from the stored result, `{}` when there is none.
    pub fn outputs(&self) -> serde_json::Value {
        self.result
            .as_deref()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|mut v| v.get_mut("outputs").map(serde_json::Value::take))
            .unwrap_or_else(|| serde_json::json!({}))
    }
}

#[derive(Debug, Clone)]
pub struct ApprovalRow {
    pub step_id: String,
    pub message: Option<String>,
    pub requested_at: i64,
    pub expires_at: Option<i64>,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
}

impl ApprovalRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ApprovalRow {
            step_id: r.get(0)?,
            message: r.get(1)?,
            requested_at: r.get(2)?,
            expires_at: r.get(3)?,
            decision: r.get(4)?,
            decided_by: r.get(5)?,
            decided_at: r.get(6)?,
            comment: r.get(7)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let err = Store::open(&home).err().expect("must refuse");
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
        let e = store.resolve_run("01ab").err().unwrap();
        assert!(e.message.contains("more than one"), "{}", e.message);
        assert!(store.resolve_run("9").is_err());
    }
}
