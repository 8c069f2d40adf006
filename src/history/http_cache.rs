//! The `caching` middleware's answers kept across runs (the services'
//! [`HttpCacheStore`] port), on a connection of their own; and emptying
//! them for `orch cache clear`.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value as Json};

use super::store::{now_ms, to_ms, Store};
use crate::services::http_cache::{HttpCacheStore, Stored};

/// Bytes (bodies and headers) kept in all; beyond it the oldest answers
/// go. As much as one run keeps in memory: a cache of API answers, not of
/// downloads, and small beside the history it lives in.
pub(crate) const MAX_BYTES: i64 = 64 * 1024 * 1024;

pub(crate) struct HttpCacheTable {
    store: Mutex<Store>,
    max_bytes: i64,
}

impl HttpCacheTable {
    pub(crate) fn new(store: Store) -> HttpCacheTable {
        HttpCacheTable::with_cap(store, MAX_BYTES)
    }

    fn with_cap(store: Store, max_bytes: i64) -> HttpCacheTable {
        HttpCacheTable {
            store: Mutex::new(store),
            max_bytes,
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // Every change is one transaction: a panic leaves no half of one.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save_now(&self, key: &str, a: &Stored) -> rusqlite::Result<()> {
        let headers = Json::Object(a.headers.clone()).to_string();
        let bytes = (a.body.len() + headers.len()) as i64;
        if bytes > self.max_bytes {
            return Ok(());
        }
        let mut store = self.store();
        // The answer and the eviction it makes room with: both or neither.
        let tx = store.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO http_cache \
             (key, url, status, headers, body, received_at, bytes, stored_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                key,
                a.url,
                a.status,
                headers,
                a.body,
                to_ms(a.received),
                bytes,
                now_ms()
            ],
        )?;
        tx.execute(
            "DELETE FROM http_cache WHERE key IN (SELECT key FROM \
             (SELECT key, SUM(bytes) OVER (ORDER BY stored_at DESC, rowid DESC) AS total \
              FROM http_cache) WHERE total > ?1)",
            [self.max_bytes],
        )?;
        tx.commit()
    }
}

impl HttpCacheStore for HttpCacheTable {
    fn load(&self, key: &str) -> Option<Stored> {
        let store = self.store();
        let row = store
            .conn
            .query_row(
                "SELECT url, status, headers, body, received_at FROM http_cache WHERE key = ?1",
                [key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u16>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()
            // A cache that cannot be read is a miss, never a failure.
            .ok()
            .flatten()?;
        let (url, status, headers, body, received) = row;
        let headers: Map<String, Json> = serde_json::from_str(&headers).ok()?;
        Some(Stored {
            url,
            status,
            headers,
            body,
            received: UNIX_EPOCH + Duration::from_millis(received.max(0) as u64),
        })
    }

    fn save(&self, key: &str, answer: &Stored) {
        // Best effort: an answer not saved is asked for again next time.
        let _ = self.save_now(key, answer);
    }

    fn remove(&self, key: &str) {
        let _ = self
            .store()
            .conn
            .execute("DELETE FROM http_cache WHERE key = ?1", [key]);
    }
}

/// Empty it; returns how many answers went.
pub(crate) fn clear(store: &Store) -> Result<usize, super::HistoryError> {
    store
        .conn
        .execute("DELETE FROM http_cache", [])
        .map_err(|e| store.err(e))
}

/// How many answers are kept, and their bytes.
#[cfg(test)]
fn totals(store: &Store) -> (i64, i64) {
    store
        .conn
        .query_row(
            "SELECT count(*), COALESCE(SUM(bytes), 0) FROM http_cache",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Home;

    fn answer(body: &str) -> Stored {
        let mut headers = Map::new();
        headers.insert("etag".into(), Json::from("\"v\""));
        Stored {
            url: "http://h/a".into(),
            status: 200,
            headers,
            body: body.into(),
            received: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        }
    }

    fn table(dir: &std::path::Path, cap: i64) -> HttpCacheTable {
        let home = Home {
            dir: dir.to_path_buf(),
            in_memory: false,
        };
        let _ = Store::open(&home).unwrap();
        HttpCacheTable::with_cap(Store::open_path(&home.db_path(), false).unwrap(), cap)
    }

    #[test]
    fn saved_answers_come_back_whole_and_the_oldest_go_beyond_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(dir.path(), 100);
        let a = answer("body");
        t.save("k1", &a);
        assert_eq!(t.load("k1"), Some(a.clone()));
        assert_eq!(t.load("nope"), None);
        // 16 bytes of headers each: 20 + 46 + 46 is more than 100.
        let big = "x".repeat(30);
        t.save("k2", &answer(&big));
        t.save("k3", &answer(&big));
        assert_eq!(t.load("k1"), None, "the oldest went");
        assert!(t.load("k2").is_some() && t.load("k3").is_some());
        let (n, bytes) = totals(&t.store());
        assert_eq!((n, bytes), (2, 92));
        // Too big alone: not kept, nothing evicted for it.
        t.save("k4", &answer(&"y".repeat(200)));
        assert_eq!(totals(&t.store()).0, 2);
        t.remove("k2");
        assert_eq!(clear(&t.store()).unwrap(), 1);
    }
}
