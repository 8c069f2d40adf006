//! The live view (`--output tty`) on real pseudo-terminals: tmux for what
//! the screen shows (it is a terminal emulator), util-linux `script` for
//! what reaches the terminal and stdout. Each test skips itself, saying
//! so, when its tool is missing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{orch_in, project};

fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool).arg(arg).output().is_ok();
    if !ok {
        eprintln!("skipped: `{tool}` is not installed");
    }
    ok
}

/// The shell command that runs orch in `dir` with a clean environment.
fn orch_command(dir: &Path, home: &Path, args: &str) -> String {
    let orch = assert_cmd::cargo::cargo_bin("orch");
    format!(
        "cd '{}' && env -u CI -u GITHUB_ACTIONS -u ORCH_CONFIG NO_COLOR=1 ORCH_HOME='{}' '{}' {args}",
        dir.display(),
        home.display(),
        orch.display()
    )
}

/// A tmux server of our own (its own socket) with one `cols` × `rows`
/// window running orch; killed when dropped.
struct Tmux {
    socket: String,
}

const END: &str = "__orch_ended__";

impl Tmux {
    fn start(dir: &Path, home: &Path, args: &str, cols: u16, rows: u16) -> Option<Tmux> {
        if !have("tmux", "-V") {
            return None;
        }
        let socket = format!("orch-test-{}-{}", std::process::id(), fastrand::u64(..));
        // The trap keeps the shell alive through Ctrl-C (orch gets the
        // default disposition); the sleep keeps the last screen to read.
        let script = format!(
            "trap : INT; {}; echo {END} $?; sleep 120",
            orch_command(dir, home, args)
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string()])
            .args(["-s", "t", "sh", "-c", &script])
            .env_remove("TMUX")
            .status()
            .unwrap();
        assert!(status.success(), "tmux did not start");
        Some(Tmux { socket })
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// What the screen shows, line by line.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// Wait until the screen satisfies `done`; the screen then.
    fn wait(&self, what: &str, secs: u64, done: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < end, "no {what} in time:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ended(&self) -> String {
        self.wait("end of the run", 30, |s| s.contains(END))
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "t", keys]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// Run orch under `script` (a pseudo-terminal on stdin, stdout and stderr
/// unless `args` redirects them); what the terminal got and the exit code.
fn on_a_pty(dir: &Path, home: &Path, args: &str) -> Option<(String, i32)> {
    if !have("script", "--version") {
        return None;
    }
    let out = Command::new("script")
        .arg("-qfec")
        .arg(orch_command(dir, home, args))
        .arg("/dev/null")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Some((text, out.status.code().unwrap_or(-1)))
}

const SPINNER_FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

#[test]
fn a_running_step_shows_its_latest_output_before_it_ends() {
    let p = project(&[(
        "w.yaml",
        "name: live\nsteps:\n  - id: speak\n    run: echo hello-live; sleep 3\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(p.path(), home.path(), "run w.yaml", 80, 24) else {
        return;
    };
    let running = t.wait("live output line", 20, |s| s.contains("│ hello-live"));
    assert!(
        !running.contains("✓ speak"),
        "the step already ended:\n{running}"
    );
    assert!(running.contains(" speak "), "no spinner:\n{running}");
    let end = t.ended();
    assert!(end.contains("✓ speak"), "{end}");
    // A step that succeeded keeps only its ✓ line.
    assert!(!end.contains("hello-live"), "{end}");
}

#[test]
fn tail_zero_shows_no_output_under_the_spinner() {
    let p = project(&[(
        "w.yaml",
        "name: live\nsteps:\n  - id: speak\n    run: echo hello-live; sleep 2; echo hello-again; sleep 2\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(p.path(), home.path(), "run w.yaml --tail 0", 80, 24) else {
        return;
    };
    let running = t.wait("spinner", 20, |s| s.contains(" speak "));
    std::thread::sleep(Duration::from_millis(2500));
    let later = t.screen();
    assert!(
        !later.contains("✓ speak"),
        "the step already ended:\n{later}"
    );
    assert!(!running.contains("hello-"), "{running}");
    assert!(!later.contains("hello-"), "{later}");
    t.ended();
}

#[test]
fn a_50_column_terminal_does_not_wrap() {
    let wf = r#"
name: a-workflow-whose-name-is-much-too-long-for-this-terminal
steps:
  - id: a-step-whose-id-is-also-far-too-long-to-fit
    run: echo "$(printf 'x%.0s' $(seq 1 120))"; sleep 3
  - id: second-step
    run: echo "a line that is long enough to wrap a narrow terminal, twice over"; sleep 3
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(p.path(), home.path(), "run w.yaml -j 2", 50, 24) else {
        return;
    };
    let screen = t.wait("both spinners and their output", 20, |s| {
        s.contains("│ xxx") && s.contains("│ a line") && s.contains("steps")
    });
    // indicatif moves to the next line by filling this one, so every
    // line on screen must be one of ours, whole: a line that was too long
    // would show its rest at the start of the next.
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 5, "{screen}");
    let ours = |l: &str| {
        SPINNER_FRAMES
            .iter()
            .any(|f| l.starts_with(&format!("  {f} ")))
            || l.starts_with("    │ ")
            || l.starts_with("a-workflow-whose")
    };
    for line in &lines {
        assert!(ours(line), "not a whole line: {line:?}\n{screen}");
        assert!(line.chars().count() <= 48, "{line:?}");
    }
    // Each spinner line has its elapsed time, and the run bar its count.
    assert!(lines[0].trim_end().ends_with('s'), "{screen}");
    assert!(lines[4].contains("0/2 steps · "), "{screen}");
    t.ended();
}

#[test]
fn ctrl_c_shows_the_hint_and_leaves_no_stale_frames() {
    let wf = r#"
name: stop
steps:
  - id: one
    run: while true; do echo tick; sleep 0.1; done
  - id: two
    run: trap 'echo got TERM; sleep 0.5; exit 1' TERM; while true; do echo tock; sleep 0.1; done
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(p.path(), home.path(), "run w.yaml -j 2 --grace 10s", 80, 24) else {
        return;
    };
    t.wait("both spinners", 20, |s| {
        s.contains(" one ") && s.contains(" two ")
    });
    // Let a few frames go by, then the terminal's Ctrl-C.
    std::thread::sleep(Duration::from_millis(600));
    t.keys("C-c");
    let hint = "cancelling: stopping running steps (press Ctrl-C again to stop at once)";
    let during = t.wait("cancel hint", 10, |s| s.contains(hint));
    assert_eq!(during.matches(hint).count(), 1, "{during}");
    let end = t.ended();
    assert!(end.contains(&format!("{END} 130")), "{end}");
    assert_eq!(end.matches(hint).count(), 1, "{end}");
    // No spinner, output line or run bar is left behind.
    assert!(!end.contains(SPINNER_FRAMES), "{end}");
    assert!(!end.contains("│ t"), "{end}");
    assert!(!end.contains("steps ·"), "{end}");
    assert!(!end.contains("^C"), "{end}");
    for step in ["✗ one", "✗ two"] {
        assert_eq!(end.matches(step).count(), 1, "{step}:\n{end}");
    }
    assert!(end.contains("run cancelled"), "{end}");
}

#[test]
fn redirected_stdout_gets_the_prefixed_lines() {
    let wf = "name: log\nsteps:\n  - id: a\n    run: echo first; sleep 0.1; echo second >&2; sleep 0.1; echo third\n  - id: b\n    needs: a\n    run: echo after\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let Some((terminal, code)) = on_a_pty(p.path(), home.path(), "run w.yaml > out.log") else {
        return;
    };
    assert_eq!(code, 0, "{terminal}");
    let log = std::fs::read_to_string(p.path().join("out.log")).unwrap();
    assert_eq!(log, "[a] first\n[a] second\n[a] third\n[b] after\n");
    // The live view stayed on the terminal.
    assert!(terminal.contains("✓ a"), "{terminal}");
    assert!(terminal.contains("run succeeded"), "{terminal}");
}

#[test]
fn quiet_shows_only_failures_and_the_summary() {
    let wf = "name: q\nsteps:\n  - id: fine\n    run: echo all-good\n  - id: broken\n    needs: fine\n    run: echo the-cause; exit 4\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let Some((terminal, code)) = on_a_pty(p.path(), home.path(), "-q run w.yaml") else {
        return;
    };
    assert_eq!(code, 1, "{terminal}");
    assert!(!terminal.contains('✓'), "{terminal}");
    assert!(!terminal.contains("all-good"), "{terminal}");
    assert!(terminal.contains("✗ broken"), "{terminal}");
    assert!(terminal.contains("│ the-cause"), "{terminal}");
    assert!(terminal.contains("run failed"), "{terminal}");
    assert!(!terminal.contains(SPINNER_FRAMES), "{terminal}");
}

#[test]
fn an_allowed_failure_is_marked() {
    let wf = "name: a\nsteps:\n  - id: lint\n    continue_on_error: true\n    run: exit 3\n  - id: test\n    needs: lint\n    run: \"true\"\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let Some((terminal, code)) = on_a_pty(p.path(), home.path(), "run w.yaml") else {
        return;
    };
    assert_eq!(code, 0, "{terminal}");
    assert!(terminal.contains("✗ lint (allowed)"), "{terminal}");
    assert!(terminal.contains("✓ test"), "{terminal}");
}

#[test]
fn verbose_prints_every_line_above_the_bars() {
    let wf =
        "name: v\nsteps:\n  - id: chatty\n    run: for i in $(seq 1 40); do echo v-line-$i; done\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let Some((terminal, code)) = on_a_pty(p.path(), home.path(), "-v run w.yaml") else {
        return;
    };
    assert_eq!(code, 0, "{terminal}");
    for i in 1..=40 {
        let needle = format!("[chatty] v-line-{i}");
        // Not the start of a longer number.
        let whole = terminal.match_indices(&needle).any(|(at, _)| {
            !terminal[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit())
        });
        assert!(whole, "line {i}:\n{terminal}");
    }
    // -v still says what is about to run.
    assert!(terminal.contains("orch: run "), "{terminal}");
}

#[test]
fn tail_takes_a_small_number_of_lines() {
    let p = project(&[("w.yaml", "name: t\nsteps:\n  - id: a\n    run: \"true\"\n")]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--tail", "21"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("from 0 to 20"), "{err}");
}
