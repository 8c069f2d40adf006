//! `orch run --watch`: which files a workflow's runs depend on, and a
//! watcher (`notify`, debounced) that reports their changes and Ctrl-C.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use crate::diag::Diag;
use crate::error::Error;
use crate::exec::{CancelLevel, Canceller};
use crate::model::Workflow;

/// How long the files must be quiet before a change counts.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The files whose changes start a new run.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchSet {
    /// Directories handed to the OS watcher, with whether recursively. One
    /// entry per directory: the OS watches a path once, so one directory
    /// named twice (the workflow's, and a glob's root) must not be
    /// unwatched when one of the two goes away.
    roots: BTreeMap<PathBuf, bool>,
    /// `cache.sources` and `watch:` globs, made absolute.
    patterns: Vec<glob::Pattern>,
    /// The workflow file and `orchestration.yaml`.
    files: BTreeSet<PathBuf>,
}

impl WatchSet {
    /// The workflow file, the config file, and (for a valid workflow) every
    /// step's `cache.sources` and `watch:` globs, relative to the workflow
    /// file's directory.
    pub(crate) fn of(workflow_file: &Path, config: Option<&Path>, wf: Option<&Workflow>) -> Self {
        let mut set = WatchSet::default();
        for f in [Some(workflow_file), config].into_iter().flatten() {
            let f = absolute(f);
            if let Some(dir) = f.parent() {
                set.add_root(dir.to_path_buf(), false);
            }
            set.files.insert(f);
        }
        let base = absolute(workflow_file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        for step in wf.map(|w| w.steps.as_slice()).unwrap_or_default() {
            let sources = step.cache.iter().flat_map(|c| c.sources.iter());
            for g in sources.chain(step.watch.iter()) {
                set.add_glob(&base, g);
            }
        }
        set
    }

    fn add_root(&mut self, dir: PathBuf, recursive: bool) {
        let r = self.roots.entry(dir).or_insert(false);
        *r |= recursive;
    }

    fn add_glob(&mut self, base: &Path, glob: &str) {
        let full = base.join(glob);
        // The part before the first wildcard is watched, recursively; the
        // nearest directory that exists, when it does not (yet).
        let mut prefix = PathBuf::new();
        let mut rest = PathBuf::new();
        for c in full.components() {
            let wild = c
                .as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '[', '{']);
            if wild || !rest.as_os_str().is_empty() {
                rest.push(c);
            } else {
                prefix.push(c);
            }
        }
        // Resolved as the OS reports changes: `../src/*.txt` is the
        // directory `src`, not `workflows/../src`.
        let prefix = absolute(&prefix);
        // (`join("")` would add a `/` to a glob without wildcards.)
        let pattern = if rest.as_os_str().is_empty() {
            prefix.clone()
        } else {
            prefix.join(&rest)
        };
        if let Ok(p) = glob::Pattern::new(&pattern.to_string_lossy()) {
            self.patterns.push(p);
        }
        let mut root = prefix;
        while !root.is_dir() {
            if !root.pop() {
                return;
            }
        }
        self.add_root(root, true);
    }

    /// Whether a change to `path` matters.
    pub(crate) fn matches(&self, path: &Path) -> bool {
        let opts = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        self.files.contains(path)
            || self
                .patterns
                .iter()
                .any(|p| p.matches_path_with(path, opts))
    }

    /// The files it names that exist now.
    fn existing(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.files.iter().filter(|f| f.is_file()).cloned().collect();
        for p in &self.patterns {
            if let Ok(paths) = glob::glob(p.as_str()) {
                out.extend(paths.flatten().filter(|f| f.is_file()));
            }
        }
        out
    }

    /// How many globs and files are watched, for the notice.
    pub(crate) fn size(&self) -> usize {
        self.files.len() + self.patterns.len()
    }
}

/// Absolute and with symbolic links resolved (as the OS reports changes);
/// a file that does not exist keeps its directory's resolution.
fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(d), Some(n)) if !d.as_os_str().is_empty() => absolute(d).join(n),
        _ => p.to_path_buf(),
    }
}

/// What ended a wait.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// These watched files changed.
    Changed(Vec<PathBuf>),
    /// Ctrl-C or SIGTERM: the watch ends.
    Stop,
}

/// What a file was when last seen: reading a file is an event too (the
/// run itself reads its sources), so only a new stamp is a change.
type Stamp = Option<(std::time::SystemTime, u64)>;

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

#[derive(Default)]
struct State {
    set: WatchSet,
    stamps: std::collections::HashMap<PathBuf, Stamp>,
    changed: BTreeSet<PathBuf>,
    stop: bool,
    /// The run in progress, cancelled when a change arrives.
    running: Option<Canceller>,
}

#[derive(Default)]
struct Hub {
    state: Mutex<State>,
    wake: Condvar,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn changed(&self, paths: impl IntoIterator<Item = PathBuf>) {
        let mut st = self.lock();
        let mut hits = Vec::new();
        for p in paths {
            if !st.set.matches(&p) {
                continue;
            }
            let now = stamp(&p);
            let before = st.stamps.insert(p.clone(), now);
            // Unchanged, or a file that came and went unseen.
            if before == Some(now) || (before.is_none() && now.is_none()) {
                continue;
            }
            hits.push(p);
        }
        if hits.is_empty() {
            return;
        }
        st.changed.extend(hits);
        if let Some(c) = &st.running {
            c.raise(CancelLevel::Graceful);
        }
        self.wake.notify_all();
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_all();
    }
}

/// Watches a [`WatchSet`] and the signals that end the watch.
pub(crate) struct Watcher {
    hub: Arc<Hub>,
    debouncer: Debouncer<RecommendedWatcher>,
    roots: BTreeMap<PathBuf, bool>,
}

impl Watcher {
    pub(crate) fn start() -> Result<Watcher, Error> {
        let hub = Arc::new(Hub::default());
        let h = hub.clone();
        let debouncer = new_debouncer(DEBOUNCE, move |res: DebounceEventResult| {
            if let Ok(events) = res {
                h.changed(events.into_iter().map(|e| e.path));
            }
        })
        .map_err(|e| Error::environment(Diag::new("watch", format!("cannot watch files: {e}"))))?;
        // Ctrl-C between runs ends the watch; during a run the run's own
        // handler cancels it too, and the watch ends after it.
        let h = hub.clone();
        std::thread::Builder::new()
            .name("orch-watch-signals".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    use tokio::signal::unix::{signal, SignalKind};
                    let (Ok(mut int), Ok(mut term)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                    ) else {
                        return;
                    };
                    loop {
                        tokio::select! {
                            _ = int.recv() => {}
                            _ = term.recv() => {}
                        }
                        h.stop();
                    }
                });
            })
            .map_err(|e| {
                Error::environment(Diag::new("watch", format!("cannot start a thread: {e}")))
            })?;
        Ok(Watcher {
            hub,
            debouncer,
            roots: BTreeMap::new(),
        })
    }

    /// Watch `set` from now on (what the last valid workflow names).
    pub(crate) fn watch(&mut self, set: WatchSet) {
        let w = self.debouncer.watcher();
        // A directory watched the other way is unwatched, then watched again.
        for (dir, recursive) in &self.roots {
            if set.roots.get(dir) != Some(recursive) {
                let _ = w.unwatch(dir);
            }
        }
        for (dir, recursive) in &set.roots {
            if self.roots.get(dir) == Some(recursive) {
                continue;
            }
            let mode = if *recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            // A directory that vanished meanwhile is watched no more.
            let _ = w.watch(dir, mode);
        }
        self.roots = set.roots.clone();
        let mut st = self.hub.lock();
        // Files seen before keep their stamps: a change that was reported
        // is not forgotten by watching again.
        for f in set.existing() {
            let s = stamp(&f);
            st.stamps.entry(f).or_insert(s);
        }
        st.set = set;
    }

    /// The run in progress (`None` once it ended): a change cancels it.
    pub(crate) fn running(&self, canceller: Option<Canceller>) {
        let mut st = self.hub.lock();
        if let (Some(c), false) = (&canceller, st.changed.is_empty()) {
            c.raise(CancelLevel::Graceful);
        }
        st.running = canceller;
    }

    /// Whether a change arrived since the last [`Watcher::wait`] (and
    /// cancelled the run that was in progress).
    pub(crate) fn pending(&self) -> bool {
        !self.hub.lock().changed.is_empty()
    }

    /// Block until a watched file changes or Ctrl-C.
    pub(crate) fn wait(&self) -> Wake {
        let mut st = self.hub.lock();
        loop {
            if st.stop {
                return Wake::Stop;
            }
            if !st.changed.is_empty() {
                return Wake::Changed(std::mem::take(&mut st.changed).into_iter().collect());
            }
            st = self
                .hub
                .wake
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Whether Ctrl-C arrived.
    pub(crate) fn stopped(&self) -> bool {
        self.hub.lock().stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_holds_the_files_and_the_globs_relative_to_the_workflow() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        let wf_path = root.join("w.yaml");
        let yaml = "name: w\nsteps:\n\
            - {id: a, run: echo, cache: {sources: ['src/**/*.rs']}}\n\
            - {id: b, run: echo, watch: ['docs/*.md', 'README']}\n";
        std::fs::write(&wf_path, yaml).unwrap();
        let src = Arc::new(crate::source::Source::new("w.yaml", &wf_path, yaml));
        let wf = crate::validate::workflow_source(&src, &crate::model::Config::default()).unwrap();
        let set = WatchSet::of(&wf_path, None, Some(&wf));
        assert!(set.matches(&root.join("w.yaml")));
        assert!(set.matches(&root.join("src/deep/x.rs")));
        assert!(set.matches(&root.join("src/x.rs")));
        assert!(!set.matches(&root.join("src/x.txt")));
        assert!(set.matches(&root.join("docs/a.md")));
        assert!(!set.matches(&root.join("docs/sub/a.md")));
        assert!(set.matches(&root.join("README")));
        assert!(!set.matches(&root.join("README/x")));
        assert!(!set.matches(&root.join("other.yaml")));
        // `docs/` does not exist: its parent is watched, recursively.
        assert_eq!(set.roots.get(&root.join("src")), Some(&true));
        // The workflow's directory once, recursively: a glob's root too.
        assert_eq!(set.roots.get(&root), Some(&true));
        assert_eq!(set.roots.len(), 2);
        assert_eq!(set.size(), 4);
    }

    #[test]
    fn a_glob_out_of_the_workflows_directory_is_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("flows")).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        let wf_path = root.join("flows/w.yaml");
        let yaml = "name: w\nsteps:\n- {id: a, run: echo, watch: ['../src/*.txt']}\n";
        std::fs::write(&wf_path, yaml).unwrap();
        let src = Arc::new(crate::source::Source::new("w.yaml", &wf_path, yaml));
        let wf = crate::validate::workflow_source(&src, &crate::model::Config::default()).unwrap();
        let set = WatchSet::of(&wf_path, None, Some(&wf));
        // As the OS reports a change there: no `flows/..`.
        assert!(set.matches(&root.join("src/a.txt")));
        assert_eq!(set.roots.get(&root.join("src")), Some(&true));
        assert_eq!(set.roots.get(&root.join("flows")), Some(&false));
    }

    #[test]
    fn a_change_cancels_the_run_in_progress_and_wakes_the_wait() {
        let hub = Hub::default();
        let wf = PathBuf::from("/p/w.yaml");
        hub.lock().set = WatchSet::of(&wf, None, None);
        let (canceller, watch) = crate::exec::cancel::channel();
        hub.lock().running = Some(canceller);
        hub.changed([PathBuf::from("/p/unrelated")]);
        assert_eq!(watch.level(), CancelLevel::None);
        // Read, not changed: the same stamp.
        hub.lock().stamps.insert(wf.clone(), None);
        hub.changed([wf.clone()]);
        assert_eq!(watch.level(), CancelLevel::None);
        hub.lock()
            .stamps
            .insert(wf.clone(), Some((std::time::UNIX_EPOCH, 1)));
        hub.changed([wf.clone()]);
        assert_eq!(watch.level(), CancelLevel::Graceful);
        assert_eq!(hub.lock().changed.len(), 1);
    }
}
