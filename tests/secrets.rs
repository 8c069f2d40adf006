//! `orch secret` against the REAL OS keyring (Secret Service on Linux),
//! checked both ways with `secret-tool`.
//!
//! Keyring tests skip (printing "skipped: <why>") when no keyring is
//! reachable, unless `ORCH_TEST_REQUIRE_KEYRING=1` (CI: `.ci/with-keyring`),
//! in which case they fail. Run them locally with
//! `bash .ci/with-keyring cargo test --test main secrets::`.

use std::io::Write;
use std::process::{Command as StdCommand, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{orch, project};

/// A name no other test (or other run) uses.
fn unique(test: &str) -> String {
    format!("orch-test-{test}-{}", std::process::id())
}

/// Whether a real keyring and `secret-tool` are reachable. When not: prints
/// "skipped: <why>" and returns false — or panics under
/// `ORCH_TEST_REQUIRE_KEYRING=1`.
pub(crate) fn keyring_available() -> bool {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    match PROBE.get_or_init(probe) {
        Ok(()) => true,
        Err(why) if std::env::var("ORCH_TEST_REQUIRE_KEYRING").as_deref() == Ok("1") => {
            panic!("ORCH_TEST_REQUIRE_KEYRING=1 but no keyring is usable: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

fn probe() -> Result<(), String> {
    if let Err(e) = StdCommand::new("secret-tool")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        return Err(format!(
            "`secret-tool` cannot run ({e}); install libsecret-tools"
        ));
    }
    let dir = project(&[]);
    let out = orch(dir.path())
        .args(["secret", "get", &unique("probe")])
        .timeout(Duration::from_secs(30))
        .output()
        .map_err(|e| format!("cannot run orch: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(1) if has(&stderr, "is not set") => Ok(()),
        _ if has(&stderr, "no OS keyring is reachable") => Err(format!(
            "no OS keyring is reachable; run under `bash .ci/with-keyring` (orch said: {})",
            flat(&stderr)
        )),
        _ => Err(format!(
            "the keyring probe failed ({}): {}",
            out.status,
            flat(&stderr)
        )),
    }
}

/// Removes every keyring item for `name` when dropped, even after a failure.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = StdCommand::new("secret-tool")
            .args(["clear", "service", "orch", "username", &self.0])
            .stdin(Stdio::null())
            .status();
    }
}

fn secret_tool_store(name: &str, value: &str, extra: &[&str]) {
    let mut child = StdCommand::new("secret-tool")
        .args([
            "store",
            "--label=orch test",
            "service",
            "orch",
            "username",
            name,
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .spawn()
        .expect("secret-tool runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(value.as_bytes())
        .expect("write");
    assert!(child.wait().expect("waits").success(), "secret-tool store");
}

fn secret_tool_lookup(name: &str) -> Option<String> {
    let out = StdCommand::new("secret-tool")
        .args(["lookup", "service", "orch", "username", name])
        .stdin(Stdio::null())
        .output()
        .expect("secret-tool runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn set(name: &str, stdin: &str) -> assert_cmd::assert::Assert {
    let dir = project(&[]);
    orch(dir.path())
        .args(["secret", "set", name])
        .write_stdin(stdin)
        .timeout(Duration::from_secs(30))
        .assert()
}

fn get(name: &str, reveal: bool) -> assert_cmd::assert::Assert {
    let dir = project(&[]);
    let mut c = orch(dir.path());
    c.args(["secret", "get", name]);
    if reveal {
        c.arg("--reveal");
    }
    c.timeout(Duration::from_secs(30)).assert()
}

/// Whether `needle` is in `haystack`, ignoring whitespace and miette's
/// line decorations (diagnostics are wrapped at 100 columns).
fn has(haystack: &str, needle: &str) -> bool {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect()
    };
    squash(haystack).contains(&squash(needle))
}

/// A diagnostic on one line, for messages.
fn flat(s: &str) -> String {
    s.lines()
        .map(|l| l.trim().trim_start_matches(['│', '×']).trim())
        .filter(|l| !l.is_empty() && !l.starts_with("orch::"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

#[test]
fn set_from_stdin_is_seen_by_secret_tool() {
    if !keyring_available() {
        return;
    }
    let name = unique("set-stdin");
    let _cleanup = Cleanup(name.clone());
    // As `echo tok | orch secret set NAME`: one trailing newline is dropped.
    set(&name, "tok-A1 with spaces\n").success();
    assert_eq!(
        secret_tool_lookup(&name).as_deref(),
        Some("tok-A1 with spaces")
    );
    // CRLF too, and only one newline.
    set(&name, "two\nlines\r\n").success();
    assert_eq!(secret_tool_lookup(&name).as_deref(), Some("two\nlines"));
    let a = get(&name, true).success();
    assert_eq!(stdout(&a), "two\nlines\n");
}

#[test]
fn secret_tool_items_are_read_by_orch() {
    if !keyring_available() {
        return;
    }
    let name = unique("from-secret-tool");
    let _cleanup = Cleanup(name.clone());
    let value = "s3cr3t-from-secret-tool";
    secret_tool_store(&name, value, &[]);

    let a = get(&name, true).success();
    assert_eq!(stdout(&a), format!("{value}\n"));

    // Without --reveal: where it is, never the value.
    let a = get(&name, false).success();
    assert!(
        stdout(&a).contains(&format!("`{name}` is set in the OS keyring")),
        "{}",
        stdout(&a)
    );
    assert!(!stdout(&a).contains(value) && !has(&stderr(&a), value));
}

#[test]
fn rm_then_get_is_not_found() {
    if !keyring_available() {
        return;
    }
    let name = unique("rm");
    let _cleanup = Cleanup(name.clone());
    set(&name, "to-be-removed").success();
    let dir = project(&[]);
    orch(dir.path())
        .args(["secret", "rm", &name])
        .assert()
        .success();
    assert_eq!(secret_tool_lookup(&name), None);

    let a = get(&name, false).code(1);
    let env = format!("ORCH_SECRET_{}", name.to_uppercase().replace('-', "_"));
    assert!(
        has(&stderr(&a), "is not set") && has(&stderr(&a), &env),
        "{}",
        stderr(&a)
    );

    // Nothing left to remove: exit 1 with a message.
    let a = orch(dir.path())
        .args(["secret", "rm", &name])
        .assert()
        .code(1);
    assert!(has(&stderr(&a), "not in the OS keyring"), "{}", stderr(&a));
}

#[test]
fn environment_takes_precedence_over_keyring() {
    if !keyring_available() {
        return;
    }
    let name = unique("precedence");
    let _cleanup = Cleanup(name.clone());
    set(&name, "from-keyring").success();
    let var = format!("ORCH_SECRET_{}", name.to_uppercase().replace('-', "_"));
    let dir = project(&[]);
    let a = orch(dir.path())
        .args(["secret", "get", &name, "--reveal"])
        .env(&var, "from-env")
        .assert()
        .success();
    assert_eq!(stdout(&a), "from-env\n");
    assert!(has(&stderr(&a), &var), "{}", stderr(&a));
    let a = orch(dir.path())
        .args(["secret", "get", &name])
        .env(&var, "from-env")
        .assert()
        .success();
    assert!(stdout(&a).contains(&var) && !stdout(&a).contains("from-env"));
}

#[test]
fn two_matching_items_are_ambiguous() {
    if !keyring_available() {
        return;
    }
    let name = unique("ambiguous");
    let _cleanup = Cleanup(name.clone());
    secret_tool_store(&name, "ambiguous-value-1", &["copy", "1"]);
    secret_tool_store(&name, "ambiguous-value-2", &["copy", "2"]);
    let a = get(&name, true).code(2);
    let err = stderr(&a);
    assert!(has(&err, "2 items") && has(&err, "ORCH_SECRET_"), "{err}");
    assert!(!has(&err, "ambiguous-value") && stdout(&a).is_empty());
}

// --- No keyring needed: these run everywhere. ---

#[test]
fn value_is_never_read_from_argv() {
    let dir = project(&[]);
    let a = orch(dir.path())
        .args(["secret", "set", "argv-name", "the-value"])
        .write_stdin("")
        .assert()
        .code(2);
    assert!(!has(&stderr(&a), "stored"));
}

#[test]
fn empty_value_and_bad_names_are_refused() {
    let dir = project(&[]);
    for stdin in ["", "\n", "\r\n"] {
        let a = orch(dir.path())
            .args(["secret", "set", "empty-value"])
            .write_stdin(stdin)
            .assert()
            .code(2);
        assert!(has(&stderr(&a), "empty value"), "{}", stderr(&a));
    }
    for bad in ["9lives", "a.b", "-x", "a b", "é"] {
        for cmd in ["set", "get", "rm"] {
            // `--`: so that clap passes `-x` on as a name.
            let a = orch(dir.path())
                .args(["secret", cmd, "--", bad])
                .write_stdin("v")
                .assert()
                .code(2);
            assert!(
                has(&stderr(&a), "not a valid secret name"),
                "{}",
                stderr(&a)
            );
        }
    }
}

/// An environment where no Secret Service can be reached.
#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios"))))]
fn no_keyring(c: &mut assert_cmd::Command) -> &mut assert_cmd::Command {
    c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("XDG_RUNTIME_DIR", "/nonexistent")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios"))))]
#[test]
fn no_keyring_fails_fast_naming_the_variable() {
    let dir = project(&[]);
    for args in [
        &["secret", "get", "x"][..],
        &["secret", "rm", "x"],
        &["secret", "set", "x"],
    ] {
        let t = std::time::Instant::now();
        let a = no_keyring(&mut orch(dir.path()))
            .args(args)
            .write_stdin("value-on-stdin")
            .timeout(Duration::from_secs(30))
            .assert()
            .code(2);
        let elapsed = t.elapsed();
        let err = stderr(&a);
        assert!(
            elapsed < Duration::from_secs(5),
            "{args:?} took {elapsed:?}"
        );
        assert!(has(&err, "no OS keyring is reachable"), "{err}");
        assert!(has(&err, "ORCH_SECRET_X"), "{err}");
        assert!(!has(&err, "value-on-stdin"), "{err}");
    }
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios"))))]
#[test]
fn environment_works_without_a_keyring() {
    let dir = project(&[]);
    let a = no_keyring(&mut orch(dir.path()))
        .args(["secret", "get", "api-token", "--reveal"])
        .env("ORCH_SECRET_API_TOKEN", "env-value")
        .assert()
        .success();
    assert_eq!(stdout(&a), "env-value\n");
    let a = no_keyring(&mut orch(dir.path()))
        .args(["secret", "get", "api-token"])
        .env("ORCH_SECRET_API_TOKEN", "env-value")
        .assert()
        .success();
    assert!(stdout(&a).contains("ORCH_SECRET_API_TOKEN") && !stdout(&a).contains("env-value"));
}

#[test]
fn every_missing_secret_of_a_step_is_named_at_once() {
    let p = crate::common::project(&[(
        "w.yaml",
        "name: s\nsteps:\n  - id: a\n    env: { A: \"${{ secrets.alpha-key }}\", B: \"${{ secrets.beta-key }}\" }\n    run: echo\n",
    )]);
    let out = crate::common::orch(p.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ORCH_SECRET_ALPHA_KEY") && text.contains("ORCH_SECRET_BETA_KEY"),
        "{text}"
    );
}
