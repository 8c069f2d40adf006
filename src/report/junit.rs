//! `--junit FILE`: the run as JUnit XML, for CI systems that show test
//! reports. One `testsuite` per run (the run's own first, then one per
//! child run), one `testcase` per step or `for_each` item; written once,
//! atomically, when the run ends, however it ends.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::event::{Event, EventKind, Output, RunSummary, Sink, Status, StepOutcome, StepReport};
use crate::report::tail::{Tail, QUIET_BYTES, QUIET_LINES};

/// The JUnit sink; it writes its file when the run it saw first finishes
/// (or, failing that, when it is dropped).
pub(crate) struct JUnit {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The run whose end writes the file: the first one seen.
    root: Option<Arc<str>>,
    suites: Vec<Suite>,
    tails: HashMap<(Arc<str>, String), Tail>,
    /// Per step id, the runs in which a step of that id is running, latest
    /// last: output carries no run id, and a child's step ids may be its
    /// parent's too.
    running: HashMap<String, Vec<Arc<str>>>,
    written: bool,
}

struct Suite {
    run_id: Arc<str>,
    workflow: Arc<str>,
    started: SystemTime,
    duration: Option<Duration>,
    cases: Vec<Case>,
}

struct Case {
    /// The step id (`test[0]`), which events name it by.
    name: String,
    /// How an item is shown, `test (linux, 20)`: the testcase's name.
    label: Option<String>,
    status: Status,
    /// Whether any of it ran: a step cancelled before it started is skipped.
    started: bool,
    allowed: bool,
    cached: bool,
    compensated: bool,
    restored: bool,
    time: Option<Duration>,
    error: Option<String>,
    exit_code: Option<i32>,
    http_status: Option<u16>,
    attempts: Option<u32>,
    tail: Option<Tail>,
}

impl JUnit {
    /// Checks now that the file's directory can be written to, so a typo
    /// fails the run before it starts rather than after.
    pub(crate) fn new(path: &Path) -> std::io::Result<JUnit> {
        let dir = parent_of(path);
        std::fs::create_dir_all(dir)?;
        if !std::fs::metadata(dir)?.is_dir() {
            return Err(std::io::Error::other("not a directory"));
        }
        Ok(JUnit {
            path: path.to_path_buf(),
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write the file if it is not written yet.
    fn write(&self, st: &mut State) {
        if st.written {
            return;
        }
        st.written = true;
        if let Err(e) = super::write_atomically(&self.path, &render(&st.suites)) {
            #[allow(clippy::print_stderr)] // A sink has no one else to tell.
            {
                eprintln!(
                    "orch: cannot write the JUnit report {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}

impl Drop for JUnit {
    fn drop(&mut self) {
        let mut st = std::mem::take(&mut *self.lock());
        // Nothing ran (the run failed to start): an older report stays.
        if st.root.is_some() {
            self.write(&mut st);
        }
    }
}

impl Sink for JUnit {
    fn event(&self, ev: &Event) {
        let mut st = self.lock();
        let st = &mut *st;
        let root = st.root.get_or_insert_with(|| ev.run_id.clone()).clone();
        let idx = match st.suites.iter().position(|s| s.run_id == ev.run_id) {
            Some(i) => i,
            None => {
                st.suites.push(Suite {
                    run_id: ev.run_id.clone(),
                    workflow: ev.workflow.clone(),
                    started: ev.time,
                    duration: None,
                    cases: Vec::new(),
                });
                st.suites.len() - 1
            }
        };
        match &ev.kind {
            EventKind::StepStarted { step, .. } => {
                let runs = st.running.entry(step.clone()).or_default();
                if !runs.contains(&ev.run_id) {
                    runs.push(ev.run_id.clone());
                }
            }
            EventKind::StepFinished { step, outcome } => {
                if let Some(runs) = st.running.get_mut(step) {
                    runs.retain(|r| *r != ev.run_id);
                }
                let tail = st.tails.remove(&(ev.run_id.clone(), step.clone()));
                let label = ev.label.as_deref();
                finished(&mut st.suites[idx], step, label, outcome, tail);
            }
            EventKind::RunFinished { summary } => {
                let suite = &mut st.suites[idx];
                suite.duration = Some(summary.duration);
                add_unseen(suite, summary);
                if ev.run_id == root {
                    st.tails.clear();
                    self.write(st);
                }
            }
            _ => {}
        }
    }

    fn output(&self, out: &Output<'_>) {
        let mut st = self.lock();
        let Some(run) = current_run(&st, out.step_id) else {
            return;
        };
        let tail = st
            .tails
            .entry((run, out.step_id.to_string()))
            .or_insert_with(|| Tail::new(QUIET_LINES, QUIET_BYTES));
        for l in out.lines {
            tail.push(l.line);
        }
    }
}

/// Output carries no run id: it belongs to the latest run (a child starts
/// after its parent) running a step of that id, else to the run itself.
fn current_run(st: &State, step: &str) -> Option<Arc<str>> {
    st.running
        .get(step)
        .and_then(|runs| runs.last())
        .or(st.root.as_ref())
        .cloned()
}

fn finished(
    suite: &mut Suite,
    step: &str,
    label: Option<&str>,
    o: &StepOutcome,
    tail: Option<Tail>,
) {
    if let Some(c) = suite.cases.iter_mut().find(|c| c.name == step) {
        // The saga undid a step that had completed: it stays as it ran.
        if o.status == Status::Compensated {
            c.compensated = true;
        } else {
            c.status = o.status;
        }
        return;
    }
    suite.cases.push(Case {
        name: step.to_string(),
        label: label.map(str::to_string),
        status: o.status,
        started: o.started,
        allowed: o.allowed,
        cached: o.status == Status::Cached,
        compensated: o.status == Status::Compensated,
        restored: false,
        time: o.duration,
        error: o.error.clone(),
        exit_code: o.exit_code,
        http_status: o.http_status,
        attempts: o.attempts,
        tail,
    });
}

/// Steps a resumed run restored (no event says they finished) still belong
/// in the report, as the summary says they ended.
fn add_unseen(suite: &mut Suite, summary: &RunSummary) {
    let seen: HashSet<String> = suite.cases.iter().map(|c| c.name.clone()).collect();
    let mut add = |r: &StepReport| {
        if !seen.contains(&r.id) {
            suite.cases.push(Case {
                name: r.id.clone(),
                label: r.label.clone(),
                status: r.status,
                started: true,
                allowed: r.allowed,
                cached: r.status == Status::Cached,
                compensated: false,
                restored: true,
                time: None,
                error: r.error.clone(),
                exit_code: None,
                http_status: None,
                attempts: None,
                tail: None,
            });
        }
    };
    for r in &summary.steps {
        if r.items.is_empty() {
            add(r);
        } else {
            r.items.iter().for_each(&mut add);
        }
    }
}

/// What a case counts as.
#[derive(PartialEq, Eq)]
enum Kind {
    Passed,
    Failure,
    Error,
    Skipped,
}

fn kind(c: &Case) -> Kind {
    match c.status {
        Status::Failed => Kind::Failure,
        Status::Cancelled if !c.started => Kind::Skipped,
        Status::Cancelled => Kind::Error,
        Status::Skipped | Status::Waiting | Status::Pending => Kind::Skipped,
        Status::Running | Status::Retrying => Kind::Error,
        Status::Succeeded | Status::Cached | Status::Compensated => Kind::Passed,
    }
}

/// The cases a suite reports: a `for_each` step is reported by its items,
/// not once more as a whole.
fn reported(s: &Suite) -> Vec<&Case> {
    s.cases
        .iter()
        .filter(|c| {
            let prefix = format!("{}[", c.name);
            !s.cases.iter().any(|o| o.name.starts_with(&prefix))
        })
        .collect()
}

fn render(suites: &[Suite]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all: Vec<(&Suite, Vec<&Case>)> = suites.iter().map(|s| (s, reported(s))).collect();
    let count = |k: Kind| -> usize {
        all.iter()
            .map(|(_, cs)| cs.iter().filter(|c| kind(c) == k).count())
            .sum()
    };
    let tests: usize = all.iter().map(|(_, cs)| cs.len()).sum();
    let time = suites.first().and_then(|s| s.duration).unwrap_or_default();
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        attr(suites.first().map_or("", |s| &s.workflow)),
        count(Kind::Failure),
        count(Kind::Error),
        count(Kind::Skipped),
        secs(time),
    );
    for (s, cases) in &all {
        suite(&mut x, s, cases);
    }
    x.push_str("</testsuites>\n");
    x
}

fn suite(x: &mut String, s: &Suite, cases: &[&Case]) {
    let n = |k: Kind| cases.iter().filter(|c| kind(c) == k).count();
    let stamp = humantime::format_rfc3339_seconds(s.started).to_string();
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" id=\"{}\" timestamp=\"{}\" time=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        attr(&s.workflow),
        attr(&s.run_id),
        // Local-time-free ISO 8601, as the common JUnit schema wants it (UTC).
        stamp.trim_end_matches('Z'),
        secs(s.duration.unwrap_or_default()),
        cases.len(),
        n(Kind::Failure),
        n(Kind::Error),
        n(Kind::Skipped),
    );
    let _ = writeln!(
        x,
        "    <properties><property name=\"run_id\" value=\"{}\"/></properties>",
        attr(&s.run_id)
    );
    for c in cases {
        case(x, &s.workflow, c);
    }
    x.push_str("  </testsuite>\n");
}

fn case(x: &mut String, workflow: &str, c: &Case) {
    let _ = write!(
        x,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        attr(c.label.as_deref().unwrap_or(&c.name)),
        attr(workflow),
        secs(c.time.unwrap_or_default())
    );
    let start = x.len();
    let mut props: Vec<(&str, String)> = Vec::new();
    if c.cached {
        props.push(("cached", "true".into()));
    }
    if c.allowed {
        props.push(("allowed", "true".into()));
    }
    if c.compensated {
        props.push(("compensated", "true".into()));
    }
    if c.restored {
        props.push(("restored", "true".into()));
    }
    if let Some(a) = c.attempts.filter(|a| *a > 1) {
        props.push(("attempts", a.to_string()));
    }
    if let Some(e) = c.exit_code.filter(|e| *e != 0) {
        props.push(("exit_code", e.to_string()));
    }
    if let Some(h) = c.http_status {
        props.push(("http_status", h.to_string()));
    }
    if !props.is_empty() {
        x.push_str("\n      <properties>");
        for (k, v) in &props {
            let _ = write!(x, "<property name=\"{k}\" value=\"{}\"/>", attr(v));
        }
        x.push_str("</properties>");
    }
    let body = |x: &mut String, tag: &str, default: &str, ty: &str| {
        let msg = c.error.as_deref().unwrap_or(default);
        let _ = write!(x, "\n      <{tag} message=\"{}\" type=\"{ty}\">", attr(msg));
        if let Some(t) = &c.tail {
            x.push_str(&text(&crate::report::tail_text("", t)));
        }
        let _ = write!(x, "</{tag}>");
    };
    match kind(c) {
        Kind::Passed => {}
        Kind::Failure => body(x, "failure", "failed", "failed"),
        Kind::Error => body(x, "error", "cancelled", c.status.as_str()),
        Kind::Skipped => {
            let why = match c.status {
                Status::Waiting => "waiting for an approval",
                Status::Cancelled => "cancelled before it started",
                _ => "skipped",
            };
            let _ = write!(x, "\n      <skipped message=\"{}\"/>", attr(why));
        }
    }
    if x.len() == start {
        x.push_str("/>\n");
    } else {
        x.insert(start, '>');
        x.push_str("\n    </testcase>\n");
    }
}

/// Seconds with millisecond precision, as JUnit consumers read `time`.
fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Text content, escaped, with what XML 1.0 cannot hold left out.
pub(super) fn text(s: &str) -> String {
    escape(s, false)
}

/// An attribute value, escaped; line breaks and tabs as character
/// references, which attribute normalisation keeps.
pub(super) fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\n' if in_attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attr => out.push_str("&#9;"),
            // A terminal escape (colours, cursor moves) means nothing here:
            // `ESC [ params final` goes whole.
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
            }
            // XML 1.0 forbids these even as references.
            c if legal(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
    out
}

fn legal(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::sample;
    use crate::event::wire::Name;
    use crate::event::{OutputLine, Stream};

    #[test]
    fn escaping_keeps_xml_legal() {
        let s = "a<b>&\"c\"\n\t\u{1b}[31mred\u{1b}[0m \u{0}\u{7}\u{fffe} é";
        assert_eq!(
            attr(s),
            "a&lt;b&gt;&amp;&quot;c&quot;&#10;&#9;red \u{fffd}\u{fffd}\u{fffd} é"
        );
        assert_eq!(
            text(s),
            "a&lt;b&gt;&amp;\"c\"\n\tred \u{fffd}\u{fffd}\u{fffd} é"
        );
        let doc = format!("<a v=\"{}\">{}</a>", attr(s), text(s));
        let parsed = roxmltree::Document::parse(&doc).unwrap();
        let root = parsed.root_element();
        assert_eq!(
            root.attribute("v"),
            Some("a<b>&\"c\"\n\tred \u{fffd}\u{fffd}\u{fffd} é")
        );
        assert_eq!(
            root.text(),
            Some("a<b>&\"c\"\n\tred \u{fffd}\u{fffd}\u{fffd} é")
        );
    }

    #[test]
    fn a_for_each_step_is_reported_by_its_items_and_a_restored_step_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/junit.xml");
        let j = JUnit::new(&path).unwrap();
        j.event(&sample::of(Name::RunCreated, ""));
        let line = OutputLine {
            stream: Stream::Stdout,
            line: "boom\u{1b}[0m",
            partial: false,
        };
        j.output(&Output::one("d[1]", &line));
        j.event(&sample::of(Name::StepCompleted, "d[0]"));
        j.event(&sample::of(Name::StepFailed, "d[1]"));
        j.event(&sample::of(Name::StepFailed, "d"));
        let mut done = sample::summary(Status::Failed);
        done.steps.push(StepReport {
            id: "built".into(),
            label: None,
            status: Status::Succeeded,
            error: None,
            outputs: serde_json::Value::Null,
            items: Vec::new(),
            allowed: false,
        });
        j.event(&sample::event(EventKind::RunFinished {
            summary: Arc::new(done),
        }));
        let xml = std::fs::read_to_string(&path).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let names: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .filter_map(|n| n.attribute("name"))
            .collect();
        assert_eq!(names, ["d[0]", "d[1]", "built"]);
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("tests"), Some("3"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(failure.text(), Some("boom\n"));
        // Written once: later events change nothing on disk.
        std::fs::remove_file(&path).unwrap();
        drop(j);
        assert!(!path.exists());
    }

    #[test]
    fn output_goes_to_the_run_whose_step_is_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.xml");
        let j = JUnit::new(&path).unwrap();
        let in_run = |run: &str, wf: &str, name: Name, step: &str| {
            let mut e = sample::of(name, step);
            e.run_id = Arc::from(run);
            e.workflow = Arc::from(wf);
            e
        };
        let say = |step: &str, text: &str| {
            let line = OutputLine {
                stream: Stream::Stderr,
                line: text,
                partial: false,
            };
            j.output(&Output::one(step, &line));
        };
        j.event(&in_run("p", "parent", Name::RunCreated, ""));
        j.event(&in_run("p", "parent", Name::StepStarted, "build"));
        j.event(&in_run("c", "child", Name::RunCreated, ""));
        j.event(&in_run("c", "child", Name::StepStarted, "build"));
        say("build", "from the child");
        j.event(&in_run("c", "child", Name::StepFailed, "build"));
        say("build", "from the parent");
        j.event(&in_run("p", "parent", Name::StepFailed, "build"));
        j.event(&in_run("p", "parent", Name::RunFailed, ""));
        let xml = std::fs::read_to_string(&path).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let tails: Vec<(&str, &str)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .map(|n| {
                let case = n.parent().unwrap();
                (case.attribute("classname").unwrap(), n.text().unwrap())
            })
            .collect();
        assert_eq!(
            tails,
            [
                ("parent", "from the parent\n"),
                ("child", "from the child\n")
            ]
        );
    }

    #[test]
    fn a_run_that_never_started_leaves_an_older_report_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.xml");
        std::fs::write(&path, "older").unwrap();
        drop(JUnit::new(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "older");
    }

    #[test]
    fn dropped_before_the_run_ends_it_still_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.xml");
        let j = JUnit::new(&path).unwrap();
        j.event(&sample::of(Name::RunCreated, ""));
        j.event(&sample::of(Name::StepCompleted, "a"));
        drop(j);
        let xml = std::fs::read_to_string(&path).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert!(doc.descendants().any(|n| n.attribute("name") == Some("a")));
        // No temporary file is left beside it.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
