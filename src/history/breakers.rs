//! Circuit-breaker states of services, kept between runs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::params;

use super::store::{now_ms, Store};
use crate::services::breaker::{BreakerState, BreakerStore, ServiceKey};

/// Reads and writes breaker states on a connection of its own.
pub(crate) struct BreakerTable {
    store: Mutex<Store>,
}

impl BreakerTable {
    pub(crate) fn new(store: Store) -> BreakerTable {
        BreakerTable {
            store: Mutex::new(store),
        }
    }
}

fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A state as the table stores it. A half-open breaker belonged to a run
/// that is gone: the next request may be the trial.
fn stored(state: &str, failures: i64, until: Option<i64>) -> BreakerState {
    match state {
        "open" => BreakerState::Open {
            until: UNIX_EPOCH + Duration::from_millis(until.unwrap_or(0).max(0) as u64),
        },
        "half_open" => BreakerState::Open { until: UNIX_EPOCH },
        _ => BreakerState::Closed {
            failures: failures.clamp(0, u32::MAX as i64) as u32,
        },
    }
}

impl BreakerStore for BreakerTable {
    fn load(&self, services: &[ServiceKey]) -> HashMap<ServiceKey, BreakerState> {
        let mut out = HashMap::new();
        let Ok(store) = self.store.lock() else {
            return out;
        };
        for k in services {
            let row = store.conn.query_row(
                "SELECT state, failures, open_until FROM breakers \
                 WHERE service = ?1 AND base_url = ?2",
                params![k.id, k.base_url],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            );
            // A state that cannot be read is a closed breaker, never a failure.
            let Ok((state, failures, until)) = row else {
                continue;
            };
            out.insert(k.clone(), stored(&state, failures, until));
        }
        out
    }

    fn save(&self, k: &ServiceKey, state: &BreakerState) {
        let Ok(store) = self.store.lock() else {
            return;
        };
        let (failures, until) = match state {
            BreakerState::Closed { failures } => (*failures as i64, None),
            BreakerState::Open { until } => (0, Some(to_ms(*until))),
            BreakerState::HalfOpen => (0, None),
        };
        // Best effort: a breaker that could not be saved only means the
        // next run tries the service again.
        let _ = store.conn.execute(
            "INSERT INTO breakers (service, base_url, state, failures, open_until, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (service, base_url) DO UPDATE SET state = ?3, failures = ?4, \
             open_until = ?5, updated_at = ?6",
            params![k.id, k.base_url, state.name(), failures, until, now_ms()],
        );
    }
}
