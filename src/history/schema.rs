//! The database schema as an append-only list of migrations, keyed on
//! `PRAGMA user_version`. Never edit a shipped migration: add one.

use rusqlite::{Connection, TransactionBehavior};

/// `PRAGMA application_id` of an orch history database ("orch").
pub(crate) const APPLICATION_ID: i64 = 0x6f72_6368;

/// Migration `n` (1-based) takes the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    // 1: runs, steps, attempts, approvals, the step cache.
    r#"
    CREATE TABLE runs (
        id             TEXT PRIMARY KEY,
        workflow       TEXT NOT NULL,
        version        INTEGER,
        file_path      TEXT NOT NULL,
        file_hash      TEXT NOT NULL,
        -- {step id: sha256 of its definition}: what `resume` compares
        definitions    TEXT NOT NULL,
        inputs         TEXT NOT NULL,
        orch_version   TEXT NOT NULL,
        parent_run_id  TEXT REFERENCES runs(id) ON DELETE SET NULL,
        project_dir    TEXT NOT NULL,
        config_path    TEXT,
        status         TEXT NOT NULL,
        -- 1 for the first run, +1 for each `orch resume`
        attempt        INTEGER NOT NULL DEFAULT 1,
        created_at     INTEGER NOT NULL,   -- unix ms
        started_at     INTEGER,
        finished_at    INTEGER,
        duration_ms    INTEGER,
        error          TEXT,
        outputs        TEXT
    );
    CREATE INDEX runs_by_time ON runs(created_at DESC);
    CREATE INDEX runs_by_workflow ON runs(workflow, created_at DESC);

    -- One row per step, and one per for_each item (`id[i]`, parent = `id`).
    CREATE TABLE steps (
        run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step_id      TEXT NOT NULL,
        parent       TEXT,
        position     INTEGER NOT NULL,     -- the step's index in the file
        item         INTEGER,              -- for_each item index
        status       TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        started_at   INTEGER,
        finished_at  INTEGER,
        duration_ms  INTEGER,
        exit_code    INTEGER,
        http_status  INTEGER,
        cached       INTEGER NOT NULL DEFAULT 0,
        error        TEXT,
        -- the `steps.<id>` view expressions saw, restored by `resume`
        result       TEXT,
        PRIMARY KEY (run_id, step_id)
    ) WITHOUT ROWID;

    CREATE TABLE attempts (
        run_id       TEXT NOT NULL,
        step_id      TEXT NOT NULL,
        run_attempt  INTEGER NOT NULL,     -- runs.attempt when it ran
        attempt      INTEGER NOT NULL,
        status       TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        exit_code    INTEGER,
        error        TEXT,
        PRIMARY KEY (run_id, step_id, run_attempt, attempt),
        FOREIGN KEY (run_id, step_id) REFERENCES steps(run_id, step_id) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE approvals (
        run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step_id       TEXT NOT NULL,
        message       TEXT,
        requested_at  INTEGER NOT NULL,
        expires_at    INTEGER,
        decision      TEXT,                -- NULL while open, 'approved' | 'rejected'
        decided_by    TEXT,
        decided_at    INTEGER,
        comment       TEXT,
        PRIMARY KEY (run_id, step_id)
    ) WITHOUT ROWID;

    CREATE TABLE cache (
        fingerprint   TEXT PRIMARY KEY,
        workflow      TEXT NOT NULL,
        step_id       TEXT NOT NULL,
        -- what went into the fingerprint, to explain a miss
        parts         TEXT NOT NULL,
        result        TEXT NOT NULL,
        run_id        TEXT,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER,
        last_used_at  INTEGER NOT NULL
    );
    CREATE INDEX cache_by_use ON cache(last_used_at);
    CREATE INDEX cache_by_step ON cache(workflow, step_id, created_at DESC);
    "#,
    // 2: deleting a run looks up its children (ON DELETE SET NULL); without
    // an index that is a scan of every run.
    r#"
    CREATE INDEX runs_by_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
    "#,
    // 3: circuit breakers of services, so that the next run remembers a
    // service that is down. A service is its id and where it lives.
    r#"
    CREATE TABLE breakers (
        service     TEXT NOT NULL,
        base_url    TEXT NOT NULL,
        state       TEXT NOT NULL,     -- closed | open | half_open
        failures    INTEGER NOT NULL,  -- consecutive, while closed
        open_until  INTEGER,           -- unix ms, while open
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (service, base_url)
    );
    "#,
    // 4: saga compensations: one row per compensated step (or for_each
    // item), written when it starts and again when it ends.
    r#"
    CREATE TABLE compensations (
        run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step_id      TEXT NOT NULL,
        status       TEXT NOT NULL,      -- running | succeeded | failed | cancelled
        attempts     INTEGER NOT NULL DEFAULT 0,
        started_at   INTEGER NOT NULL,   -- unix ms
        finished_at  INTEGER,
        duration_ms  INTEGER,
        error        TEXT,
        PRIMARY KEY (run_id, step_id)
    );  -- with a rowid: the order in which they first started
    "#,
    // 5: the process group of a running attempt (and when its leader
    // started, `boot_id:ticks`), so that `orch resume` can stop what a
    // killed orch left running before it runs the step again.
    r#"
    ALTER TABLE attempts ADD COLUMN pgid INTEGER;
    ALTER TABLE attempts ADD COLUMN pgid_start TEXT;
    ALTER TABLE compensations ADD COLUMN pgid INTEGER;
    ALTER TABLE compensations ADD COLUMN pgid_start TEXT;
    "#,
    // 6: the `caching` middleware's HTTP answers kept across runs, by a
    // hash of the request (credentials left out). Bounded in bytes: the
    // oldest go first (see `http_cache.rs`).
    r#"
    CREATE TABLE http_cache (
        key          TEXT PRIMARY KEY,
        url          TEXT NOT NULL,     -- as shown: no password, no token
        status       INTEGER NOT NULL,
        headers      TEXT NOT NULL,     -- JSON object, lower-cased names
        body         TEXT NOT NULL,
        received_at  INTEGER NOT NULL,  -- unix ms: when the answer (or its 304) came
        bytes        INTEGER NOT NULL,
        stored_at    INTEGER NOT NULL
    );
    CREATE INDEX http_cache_by_age ON http_cache(stored_at);
    "#,
    // 7: each ended run's step durations in one row, so that ranking the
    // ready steps of the next run reads a row per past run, not every step
    // row of it (20 runs of a 1,000-step workflow were 20,000 rows and a
    // tenth of the run). Written when the run ends, deleted when it is
    // resumed; a run without one (running, or recorded before this table)
    // is read from its step rows.
    r#"
    CREATE TABLE run_durations (
        run_id  TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        -- `step_id duration_ms` per line, in file order: the run's
        -- succeeded top-level steps (not for_each items, not cache hits)
        steps   TEXT NOT NULL
    ) WITHOUT ROWID;  -- one b-tree: one page more per run's end, not two
    "#,
];

/// The schema version this orch writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SchemaError {
    #[error(
        "it was written by a newer orch (schema version {found}; this orch knows up to {VERSION})"
    )]
    Newer { found: i64 },
    #[error("it is not an orch history database (it holds other tables)")]
    Foreign,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Refuse a database that is not ours or is newer, without writing to it.
/// `Ok(true)`: it is ours and at [`VERSION`], so [`migrate`] has nothing to do.
pub(crate) fn check(conn: &mut Connection) -> Result<bool, SchemaError> {
    // One read transaction: another process may be migrating right now,
    // and the three reads must see the same state.
    let tx = conn.transaction()?;
    let current = identify(&tx)?;
    tx.commit()?;
    Ok(current)
}

/// Whether the database is ours and at [`VERSION`]; an error when it is
/// not ours or is newer.
fn identify(conn: &Connection) -> Result<bool, SchemaError> {
    // Reading the schema first takes the read lock for the whole snapshot.
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if app != APPLICATION_ID && (app != 0 || tables > 0 || version != 0) {
        return Err(SchemaError::Foreign);
    }
    if version > VERSION {
        return Err(SchemaError::Newer { found: version });
    }
    Ok(app == APPLICATION_ID && version == VERSION)
}

/// Bring the schema up to [`VERSION`] in one exclusive transaction.
/// Refuses databases that are not ours or that are newer than us.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    identify(&tx)?;
    let app: i64 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if app != APPLICATION_ID {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<String> {
        let mut st = conn
            .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut c = Connection::open(&path).unwrap();
        migrate(&mut c).unwrap();
        let first = schema_of(&c);
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, VERSION);
        migrate(&mut c).unwrap();
        drop(c);
        let mut c = Connection::open(&path).unwrap();
        migrate(&mut c).unwrap();
        assert_eq!(schema_of(&c), first);
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, VERSION);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c.pragma_update(None, "user_version", VERSION + 1).unwrap();
        assert!(matches!(migrate(&mut c), Err(SchemaError::Newer { .. })));
    }

    #[test]
    fn refuses_a_foreign_database_and_leaves_it_alone() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE notes(x)").unwrap();
        assert!(matches!(migrate(&mut c), Err(SchemaError::Foreign)));
        let app: i64 = c
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(app, 0);
    }
}
