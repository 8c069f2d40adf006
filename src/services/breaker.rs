//! Circuit breakers, one per service: closed → open after
//! `failure_threshold` consecutive failures → half-open after
//! `reset_timeout` → one trial request decides. States are kept in a
//! [`BreakerStore`] (the history database) so that the next run does not
//! hammer a service that is known to be down.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::model::{CircuitBreaker, Config, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerState {
    Closed {
        failures: u32,
    },
    /// Requests are refused until then.
    Open {
        until: SystemTime,
    },
    /// One trial request is in flight; others are refused.
    HalfOpen,
}

impl BreakerState {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            BreakerState::Closed { .. } => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A service as the store knows it: its id and where it lives (two
/// projects may both call a service `api`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ServiceKey {
    pub(crate) id: String,
    pub(crate) base_url: String,
}

impl ServiceKey {
    pub(crate) fn of(s: &Service) -> ServiceKey {
        ServiceKey {
            id: s.id.clone(),
            base_url: s.base_url.clone(),
        }
    }
}

/// Where breaker states outlive the run. Calls block; they are made from a
/// thread of the breakers' own.
pub(crate) trait BreakerStore: Send + Sync {
    fn load(&self, services: &[ServiceKey]) -> HashMap<ServiceKey, BreakerState>;
    fn save(&self, service: &ServiceKey, state: &BreakerState);
}

/// Whether a request may go to a service now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    Yes,
    /// The breaker is half-open and this request is its one trial.
    Trial,
    No {
        until: Option<SystemTime>,
    },
}

struct Entry {
    spec: CircuitBreaker,
    key: ServiceKey,
    state: BreakerState,
}

pub(crate) struct Breakers {
    entries: Mutex<HashMap<String, Entry>>,
    saver: Mutex<Option<mpsc::Sender<(ServiceKey, BreakerState)>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Breakers {
    /// Breakers for every service that declares one, in the states the
    /// store remembers.
    pub(crate) fn new(config: &Config, store: Option<Arc<dyn BreakerStore>>) -> Breakers {
        let with: Vec<&Service> = config
            .services
            .iter()
            .filter(|s| s.circuit_breaker.is_some())
            .collect();
        let keys: Vec<ServiceKey> = with.iter().map(|s| ServiceKey::of(s)).collect();
        let mut known = match (&store, keys.is_empty()) {
            (Some(st), false) => st.load(&keys),
            _ => HashMap::new(),
        };
        let entries = with
            .iter()
            .filter_map(|s| {
                let spec = s.circuit_breaker.clone()?;
                let key = ServiceKey::of(s);
                let state = known
                    .remove(&key)
                    .unwrap_or(BreakerState::Closed { failures: 0 });
                Some((s.id.clone(), Entry { spec, key, state }))
            })
            .collect();
        let (saver, thread) = match store {
            Some(st) if !keys.is_empty() => {
                let (tx, rx) = mpsc::channel::<(ServiceKey, BreakerState)>();
                // One writer keeps saves in order; the engine never waits on disk.
                let h = std::thread::Builder::new()
                    .name("orch-breakers".into())
                    .spawn(move || {
                        for (k, s) in rx {
                            st.save(&k, &s);
                        }
                    })
                    .ok();
                (h.as_ref().map(|_| tx), h)
            }
            _ => (None, None),
        };
        Breakers {
            entries: Mutex::new(entries),
            saver: Mutex::new(saver),
            thread: Mutex::new(thread),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, e: &Entry) {
        if let Some(tx) = self
            .saver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = tx.send((e.key.clone(), e.state));
        }
    }

    /// Ask to send a request to `service` (services without a breaker
    /// always may). May move an expired open breaker to half-open.
    pub(crate) fn admit(&self, service: &str, now: SystemTime) -> Admit {
        let mut all = self.lock();
        let Some(e) = all.get_mut(service) else {
            return Admit::Yes;
        };
        match e.state {
            BreakerState::Closed { .. } => Admit::Yes,
            BreakerState::Open { until } if now < until => Admit::No { until: Some(until) },
            BreakerState::Open { .. } => {
                e.state = BreakerState::HalfOpen;
                self.save(e);
                Admit::Trial
            }
            BreakerState::HalfOpen => Admit::No { until: None },
        }
    }

    /// Whether `service` would refuse a request now (without changing state).
    pub(crate) fn is_open(&self, service: &str, now: SystemTime) -> bool {
        match self.lock().get(service).map(|e| e.state) {
            Some(BreakerState::Open { until }) => now < until,
            Some(BreakerState::HalfOpen) => true,
            _ => false,
        }
    }

    /// How a request went. `ok` is false only for failures that are the
    /// service's (connect errors, timeouts, 5xx).
    pub(crate) fn record(&self, service: &str, ok: bool, now: SystemTime) {
        let mut all = self.lock();
        let Some(e) = all.get_mut(service) else {
            return;
        };
        let reset: Duration = e.spec.reset_timeout;
        let next = match (e.state, ok) {
            (BreakerState::Closed { failures: 0 }, true) => return,
            (_, true) => BreakerState::Closed { failures: 0 },
            (BreakerState::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= e.spec.failure_threshold {
                    BreakerState::Open { until: now + reset }
                } else {
                    BreakerState::Closed { failures }
                }
            }
            // A failed trial, or a late failure of a request sent before
            // the breaker opened: (re)open for a full period.
            (BreakerState::HalfOpen, false) => BreakerState::Open { until: now + reset },
            (BreakerState::Open { until }, false) => BreakerState::Open { until },
        };
        if next != e.state {
            e.state = next;
            self.save(e);
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self, service: &str) -> Option<BreakerState> {
        self.lock().get(service).map(|e| e.state)
    }

    /// Wait until every state change is stored (end of run).
    pub(crate) fn flush(&self) {
        self.saver.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

/// Why a call was not sent: the breakers of `ids` are open.
pub(crate) fn open_message(ids: &[String]) -> String {
    let list = ids
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() == 1 {
        format!("the circuit breaker of service {list} is open: not calling it")
    } else {
        format!("the circuit breakers of services {list} are open: not calling them")
    }
}

impl Drop for Breakers {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Auth, Service};

    fn config(threshold: u32, reset: Duration) -> Config {
        Config {
            services: vec![Service {
                id: "api".into(),
                name: None,
                base_url: "http://127.0.0.1:1".into(),
                auth: Auth::None,
                capabilities: vec![],
                priority: 0,
                timeout: None,
                rate_limit: None,
                circuit_breaker: Some(CircuitBreaker {
                    failure_threshold: threshold,
                    reset_timeout: reset,
                }),
                health_check: None,
                endpoints: vec![],
            }],
            ..Config::default()
        }
    }

    #[derive(Default)]
    struct MemStore(Mutex<HashMap<ServiceKey, BreakerState>>);

    impl BreakerStore for MemStore {
        fn load(&self, _: &[ServiceKey]) -> HashMap<ServiceKey, BreakerState> {
            self.0.lock().unwrap().clone()
        }
        fn save(&self, k: &ServiceKey, s: &BreakerState) {
            self.0.lock().unwrap().insert(k.clone(), *s);
        }
    }

    #[test]
    fn opens_after_threshold_then_one_trial() {
        let b = Breakers::new(&config(3, Duration::from_secs(30)), None);
        let t0 = SystemTime::now();
        for _ in 0..2 {
            assert_eq!(b.admit("api", t0), Admit::Yes);
            b.record("api", false, t0);
        }
        // A success resets the count.
        b.record("api", true, t0);
        for _ in 0..3 {
            assert_eq!(b.admit("api", t0), Admit::Yes);
            b.record("api", false, t0);
        }
        assert!(matches!(b.admit("api", t0), Admit::No { .. }));
        let later = t0 + Duration::from_secs(31);
        assert_eq!(b.admit("api", later), Admit::Trial);
        // Only one trial at a time.
        assert!(matches!(b.admit("api", later), Admit::No { .. }));
        b.record("api", false, later);
        assert!(matches!(b.admit("api", later), Admit::No { .. }));
        let much_later = later + Duration::from_secs(31);
        assert_eq!(b.admit("api", much_later), Admit::Trial);
        b.record("api", true, much_later);
        assert_eq!(b.state("api"), Some(BreakerState::Closed { failures: 0 }));
        // Services without a breaker are always admitted.
        assert_eq!(b.admit("other", t0), Admit::Yes);
    }

    #[test]
    fn state_survives_through_the_store() {
        let store = Arc::new(MemStore::default());
        let cfg = config(1, Duration::from_secs(60));
        let t0 = SystemTime::now();
        {
            let b = Breakers::new(&cfg, Some(store.clone()));
            b.record("api", false, t0);
            b.flush();
        }
        let b = Breakers::new(&cfg, Some(store));
        assert!(b.is_open("api", t0 + Duration::from_secs(1)));
        assert!(!b.is_open("api", t0 + Duration::from_secs(61)));
    }
}
