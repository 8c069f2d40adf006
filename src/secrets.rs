//! Secrets: `ORCH_SECRET_<NAME>`, then the OS keyring (service `orch`,
//! account `<name>`). See docs/secrets.md.
//!
//! Nothing here ever puts a secret's value into an error message or a
//! `Debug` output: messages name the secret and the environment variable
//! that can supply it instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The environment variable that supplies secret `name`:
/// `ORCH_SECRET_<NAME>`, upper-cased, `-` → `_`.
pub(crate) fn env_var_name(name: &str) -> String {
    format!("ORCH_SECRET_{}", name.to_uppercase().replace('-', "_"))
}

const ENV_PREFIX: &str = "ORCH_SECRET_";

/// Where a secret's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Env,
    Keyring,
}

/// Why a secret has no value. Every message names the secret and the
/// `ORCH_SECRET_…` variable that would supply it; none holds a value.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum SecretError {
    #[error(
        "secret `{name}` is not set: set {var} or store it with `orch secret set {name}`",
        var = env_var_name(.name)
    )]
    NotSet { name: String },

    #[error(
        "no OS keyring is reachable ({detail}) for secret `{name}`: set {var} instead",
        var = env_var_name(.name)
    )]
    Unreachable { name: String, detail: String },

    #[error(
        "the OS keyring is locked ({detail}) for secret `{name}`: unlock it, or set {var} instead",
        var = env_var_name(.name)
    )]
    Locked { name: String, detail: String },

    #[error(
        "{count} items in the OS keyring match secret `{name}` (service `orch`, account `{name}`): \
         remove all but one, or set {var} instead",
        var = env_var_name(.name)
    )]
    Ambiguous { name: String, count: usize },

    #[error(
        "the OS keyring did not answer within {secs} s for secret `{name}` \
         (is it waiting for an unlock prompt?): set {var} instead",
        var = env_var_name(.name)
    )]
    Timeout { name: String, secs: u64 },

    #[error(
        "the OS keyring failed for secret `{name}` ({detail}): set {var} instead",
        var = env_var_name(.name)
    )]
    Failed { name: String, detail: String },
}

impl SecretError {
    /// The secret this error is about.
    #[cfg(test)]
    pub(crate) fn name(&self) -> &str {
        match self {
            SecretError::NotSet { name }
            | SecretError::Unreachable { name, .. }
            | SecretError::Locked { name, .. }
            | SecretError::Ambiguous { name, .. }
            | SecretError::Timeout { name, .. }
            | SecretError::Failed { name, .. } => name,
        }
    }
}

type Lookup = dyn Fn(&str) -> Result<Option<String>, SecretError> + Send + Sync;
type Memo = Arc<OnceLock<Result<(String, Origin), SecretError>>>;

/// Where values come from: the environment first, then the OS keyring.
/// Memoizes lookups (each name is looked up at most once per process);
/// thread-safe.
pub(crate) struct Secrets {
    /// `ORCH_SECRET_*` variables with a non-empty value.
    env: HashMap<String, String>,
    /// The keyring (or a stand-in in tests); `None`: environment only.
    keyring: Option<Box<Lookup>>,
    memo: Mutex<HashMap<String, Memo>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut vars: Vec<&String> = self.env.keys().collect();
        vars.sort();
        f.debug_struct("Secrets")
            .field("env_vars", &vars)
            .field("keyring", &self.keyring.is_some())
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// `env` is the process environment (pass `std::env::vars()` collected);
    /// only `ORCH_SECRET_*` are kept.
    pub(crate) fn new(env: impl IntoIterator<Item = (String, String)>) -> Secrets {
        Secrets::with_lookup(env, Some(Box::new(keyring::get)))
    }

    /// A source that never asks the keyring (tests, and `--dry-run`-like uses).
    pub(crate) fn env_only(env: impl IntoIterator<Item = (String, String)>) -> Secrets {
        Secrets::with_lookup(env, None)
    }

    fn with_lookup(
        env: impl IntoIterator<Item = (String, String)>,
        keyring: Option<Box<Lookup>>,
    ) -> Secrets {
        let env = env
            .into_iter()
            .filter_map(|(k, v)| {
                // Windows' environment is case-insensitive.
                #[cfg(windows)]
                let k = k.to_uppercase();
                (k.starts_with(ENV_PREFIX) && !v.is_empty()).then_some((k, v))
            })
            .collect();
        Secrets {
            env,
            keyring,
            memo: Mutex::new(HashMap::new()),
        }
    }

    /// The value of secret `name` and where it came from.
    ///
    /// Blocking (may talk to D-Bus): call it from `spawn_blocking` or
    /// outside the runtime. A keyring call gives up after
    /// [`keyring::DEADLINE`].
    pub(crate) fn get(&self, name: &str) -> Result<(String, Origin), SecretError> {
        let cell = {
            let mut memo = match self.memo.lock() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            memo.entry(name.to_string()).or_default().clone()
        };
        // Other names are looked up meanwhile; callers asking for the same
        // name wait for this one lookup.
        cell.get_or_init(|| self.lookup(name)).clone()
    }

    fn lookup(&self, name: &str) -> Result<(String, Origin), SecretError> {
        if let Some(v) = self.env.get(&env_var_name(name)) {
            return Ok((v.clone(), Origin::Env));
        }
        let not_set = || SecretError::NotSet {
            name: name.to_string(),
        };
        match &self.keyring {
            None => Err(not_set()),
            Some(lookup) => match lookup(name)? {
                Some(v) if !v.is_empty() => Ok((v, Origin::Keyring)),
                _ => Err(not_set()),
            },
        }
    }

    /// Every `ORCH_SECRET_*` value in the environment (masked from the
    /// start of a run even if unused).
    pub(crate) fn env_values(&self) -> Vec<String> {
        let mut v: Vec<String> = self.env.values().cloned().collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Thin wrappers over keyring-core with the default store for this
/// platform: service `orch`, account = the secret's name. Every call runs
/// on a helper thread and gives up after [`DEADLINE`].
pub(crate) mod keyring {
    use std::sync::mpsc;
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::SecretError;

    /// The keyring service every orch secret is stored under.
    pub(crate) const SERVICE: &str = "orch";

    /// How long one keyring call may take before orch gives up on it.
    pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

    /// The secret's value, or `None` when the keyring has no such item.
    pub(crate) fn get(name: &str) -> Result<Option<String>, SecretError> {
        call(name, DEADLINE, |entry| match entry.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Store (or replace) the secret's value.
    pub(crate) fn set(name: &str, value: &str) -> Result<(), SecretError> {
        let value = value.to_string();
        call(name, DEADLINE, move |entry| entry.set_password(&value))
    }

    /// Remove the secret; `false` when there was nothing to remove.
    pub(crate) fn delete(name: &str) -> Result<bool, SecretError> {
        call(name, DEADLINE, |entry| match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }

    /// Start the default store (once), build the entry, run `op` on it —
    /// all on a helper thread, abandoned after `deadline`.
    fn call<T: Send + 'static>(
        name: &str,
        deadline: Duration,
        op: impl FnOnce(&keyring_core::Entry) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T, SecretError> {
        let owned = name.to_string();
        with_deadline(name, deadline, move || {
            if let Err(detail) = default_store() {
                return Err(SecretError::Unreachable {
                    name: owned,
                    detail,
                });
            }
            keyring_core::Entry::new(SERVICE, &owned)
                .and_then(|entry| op(&entry))
                .map_err(|e| map_error(&owned, e))
        })
    }

    /// Run `f` on a helper thread; give up waiting after `deadline` (the
    /// thread is left to finish or hang on its own).
    pub(super) fn with_deadline<T: Send + 'static>(
        name: &str,
        deadline: Duration,
        f: impl FnOnce() -> Result<T, SecretError> + Send + 'static,
    ) -> Result<T, SecretError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("orch-keyring".into())
            .spawn(move || {
                let _ = tx.send(f());
            });
        if let Err(e) = spawned {
            return Err(SecretError::Failed {
                name: name.to_string(),
                detail: format!("cannot start a thread: {e}"),
            });
        }
        match rx.recv_timeout(deadline) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(SecretError::Timeout {
                name: name.to_string(),
                secs: deadline.as_secs().max(1),
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(SecretError::Failed {
                name: name.to_string(),
                detail: "the keyring call panicked".to_string(),
            }),
        }
    }

    /// Set this platform's store as keyring-core's default, once per
    /// process. `Err` holds why it could not start (memoized too).
    fn default_store() -> Result<(), String> {
        static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
        STARTED.get_or_init(start_store).clone()
    }

    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    fn start_store() -> Result<(), String> {
        let store = zbus_secret_service_keyring_store::store::Store::new()
            .map_err(|e| format!("Secret Service over D-Bus: {}", detail(&e)))?;
        keyring_core::set_default_store(store);
        Ok(())
    }

    #[cfg(target_os = "macos")]
    fn start_store() -> Result<(), String> {
        let store = apple_native_keyring_store::keychain::Store::new()
            .map_err(|e| format!("macOS Keychain: {}", detail(&e)))?;
        keyring_core::set_default_store(store);
        Ok(())
    }

    #[cfg(target_os = "windows")]
    fn start_store() -> Result<(), String> {
        let store = windows_native_keyring_store::store::Store::new()
            .map_err(|e| format!("Windows Credential Manager: {}", detail(&e)))?;
        keyring_core::set_default_store(store);
        Ok(())
    }

    #[cfg(not(any(
        all(
            unix,
            not(any(target_os = "macos", target_os = "ios", target_os = "android"))
        ),
        target_os = "macos",
        target_os = "windows"
    )))]
    fn start_store() -> Result<(), String> {
        Err("orch supports no OS keyring on this platform".to_string())
    }

    /// What went wrong, without the crate's generic prefix and never with
    /// stored bytes.
    fn detail(e: &keyring_core::Error) -> String {
        use keyring_core::Error as E;
        match e {
            E::PlatformFailure(inner) | E::NoStorageAccess(inner) => inner.to_string(),
            E::BadEncoding(_) => "the stored value is not valid UTF-8".to_string(),
            E::BadDataFormat(_, inner) => format!("the stored value is malformed: {inner}"),
            E::Ambiguous(items) => format!("{} items match", items.len()),
            other => other.to_string(),
        }
    }

    pub(super) fn map_error(name: &str, e: keyring_core::Error) -> SecretError {
        use keyring_core::Error as E;
        let name = name.to_string();
        match e {
            E::PlatformFailure(_) | E::NoDefaultStore => SecretError::Unreachable {
                detail: detail(&e),
                name,
            },
            E::NoStorageAccess(_) => SecretError::Locked {
                detail: detail(&e),
                name,
            },
            E::Ambiguous(items) => SecretError::Ambiguous {
                count: items.len(),
                name,
            },
            other => SecretError::Failed {
                detail: detail(&other),
                name,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var_name("api-token"), "ORCH_SECRET_API_TOKEN");
        assert_eq!(env_var_name("db_pass"), "ORCH_SECRET_DB_PASS");
        assert_eq!(env_var_name("X"), "ORCH_SECRET_X");
        assert_eq!(env_var_name("a-b_c-9"), "ORCH_SECRET_A_B_C_9");
    }

    #[test]
    fn env_only_reads_orch_secret_vars_only() {
        let s = Secrets::env_only(env(&[
            ("ORCH_SECRET_API_TOKEN", "tok"),
            ("API_TOKEN", "other"),
            ("ORCH_SECRET_EMPTY", ""),
        ]));
        assert_eq!(s.get("api-token").unwrap(), ("tok".into(), Origin::Env));
        assert_eq!(s.get("API_TOKEN").unwrap(), ("tok".into(), Origin::Env));
        assert!(matches!(s.get("empty"), Err(SecretError::NotSet { .. })));
        assert!(matches!(s.get("nope"), Err(SecretError::NotSet { .. })));
        assert_eq!(s.env_values(), vec!["tok".to_string()]);
    }

    fn counting(answer: Result<Option<String>, SecretError>) -> (Arc<AtomicUsize>, Box<Lookup>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let f = move |_: &str| {
            c.fetch_add(1, Ordering::SeqCst);
            answer.clone()
        };
        (calls, Box::new(f))
    }

    #[test]
    fn environment_wins_over_keyring() {
        let (calls, f) = counting(Ok(Some("from-keyring".into())));
        let s = Secrets::with_lookup(env(&[("ORCH_SECRET_TOKEN", "from-env")]), Some(f));
        assert_eq!(s.get("token").unwrap(), ("from-env".into(), Origin::Env));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "keyring not asked");
        assert_eq!(
            s.get("other").unwrap(),
            ("from-keyring".into(), Origin::Keyring)
        );
    }

    #[test]
    fn lookups_are_memoized_including_failures() {
        let (calls, f) = counting(Ok(Some("v".into())));
        let s = Arc::new(Secrets::with_lookup(Vec::new(), Some(f)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || s.get("a").unwrap())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), ("v".into(), Origin::Keyring));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        s.get("b").unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let (calls, f) = counting(Err(SecretError::Unreachable {
            name: "a".into(),
            detail: "no bus".into(),
        }));
        let s = Secrets::with_lookup(Vec::new(), Some(f));
        assert!(s.get("a").is_err());
        assert!(s.get("a").is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn missing_in_keyring_is_not_set() {
        let (_, f) = counting(Ok(None));
        let s = Secrets::with_lookup(Vec::new(), Some(f));
        let e = s.get("api-token").unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret `api-token` is not set: set ORCH_SECRET_API_TOKEN \
             or store it with `orch secret set api-token`"
        );
    }

    #[test]
    fn messages_name_the_variable_and_never_a_value() {
        let secret = "hunter2-very-secret";
        let errors = [
            SecretError::NotSet { name: "x".into() },
            SecretError::Unreachable {
                name: "x".into(),
                detail: "zbus error: no bus".into(),
            },
            SecretError::Locked {
                name: "x".into(),
                detail: "prompt".into(),
            },
            SecretError::Ambiguous {
                name: "x".into(),
                count: 2,
            },
            SecretError::Timeout {
                name: "x".into(),
                secs: 10,
            },
            keyring::map_error(
                "x",
                keyring_core::Error::BadEncoding(secret.as_bytes().into()),
            ),
            keyring::map_error(
                "x",
                keyring_core::Error::BadDataFormat(
                    secret.as_bytes().into(),
                    Box::new(std::io::Error::other("bad")),
                ),
            ),
            keyring::map_error("x", keyring_core::Error::Ambiguous(Vec::new())),
            keyring::map_error(
                "x",
                keyring_core::Error::NoStorageAccess(Box::new(std::io::Error::other("locked"))),
            ),
            keyring::map_error(
                "x",
                keyring_core::Error::PlatformFailure(Box::new(std::io::Error::other("no bus"))),
            ),
        ];
        for e in &errors {
            let m = e.to_string();
            assert!(m.contains("ORCH_SECRET_X"), "{m}");
            assert!(m.contains("`x`"), "{m}");
            assert!(!m.contains(secret), "{m}");
            assert!(!format!("{e:?}").contains(secret));
            assert_eq!(e.name(), "x");
        }
        assert!(matches!(errors[7], SecretError::Ambiguous { count: 0, .. }));
        assert!(matches!(errors[8], SecretError::Locked { .. }));
        assert!(matches!(errors[9], SecretError::Unreachable { .. }));
        assert!(errors[1]
            .to_string()
            .starts_with("no OS keyring is reachable (zbus"));
    }

    #[test]
    fn debug_shows_no_values() {
        let s = Secrets::env_only(env(&[("ORCH_SECRET_A", "sekrit")]));
        let d = format!("{s:?}");
        assert!(d.contains("ORCH_SECRET_A") && !d.contains("sekrit"), "{d}");
    }

    #[test]
    fn a_call_that_hangs_times_out() {
        let t = Instant::now();
        let r: Result<(), _> = keyring::with_deadline("slow", Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        });
        assert!(t.elapsed() < Duration::from_secs(2));
        let e = r.unwrap_err();
        assert!(matches!(e, SecretError::Timeout { .. }));
        let m = e.to_string();
        assert!(
            m.contains("did not answer") && m.contains("ORCH_SECRET_SLOW"),
            "{m}"
        );
    }

    #[test]
    fn a_call_that_panics_is_an_error() {
        let r: Result<(), _> = keyring::with_deadline("p", Duration::from_secs(5), || {
            panic!("boom");
        });
        assert!(matches!(r, Err(SecretError::Failed { .. })));
    }
}
