//! `orch show RUN --timeline` on a real recorded run: a retried step, a
//! failed one, a skipped one and a for_each step, drawn to `COLUMNS`.

use std::time::Duration;

use console::measure_text_width;

use crate::common::{orch_in, project};

const MIXED: &str = r#"name: mixed
steps:
  - id: setup
    run: sleep 0.2
  - id: flaky
    needs: setup
    retry: { max_attempts: 2, base_delay: 300ms }
    run: 'if [ -f marker ]; then sleep 0.2; else touch marker; exit 3; fi'
  - id: fan
    needs: flaky
    for_each: [a, b]
    run: sleep 0.1
  - id: boom
    needs: fan
    run: sleep 0.1; exit 4
  - id: never
    needs: boom
    run: echo never
"#;

fn show(dir: &std::path::Path, home: &std::path::Path, columns: &str) -> String {
    let out = orch_in(dir, home)
        .env("COLUMNS", columns)
        .args(["show", "last", "--timeline"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run orch");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn timeline_of_a_retried_a_failed_and_a_skipped_step() {
    let p = project(&[("w.yaml", MIXED)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1);

    let text = show(p.path(), home.path(), "60");
    // Not a terminal: no colour.
    assert!(!text.contains('\u{1b}'), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines {
        assert!(
            measure_text_width(l) <= 60,
            "{} wide: {l:?}\n{text}",
            measure_text_width(l)
        );
    }
    // The axis first, from 0s to the run's length.
    assert!(lines[0].trim_start().starts_with("0s─"), "{text}");
    let row = |id: &str| -> &str {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row {id}:\n{text}"))
    };
    let ids: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        ids,
        ["setup", "flaky", "fan", "fan[0]", "fan[1]", "boom", "never"],
        "{text}"
    );
    assert!(row("fan[0]").starts_with("  fan[0]"), "{text}");
    assert!(row("setup").contains(" ✓ "), "{text}");
    assert!(row("boom").contains(" ✗ "), "{text}");
    assert!(row("never").contains(" ↷ "), "{text}");
    // The retry: the failed attempt, the delay as a gap, the one that
    // succeeded, left to right.
    let flaky = row("flaky");
    assert!(flaky.contains(" ✓ "), "{text}");
    let failed = flaky
        .find('▒')
        .unwrap_or_else(|| panic!("no failed attempt:\n{text}"));
    let ran = flaky
        .find('█')
        .unwrap_or_else(|| panic!("no attempt:\n{text}"));
    assert!(failed < ran, "{text}");
    assert!(
        flaky[failed..ran].contains(' '),
        "no gap for the delay:\n{text}"
    );
    // Bars start where the step started: each after the one it needs.
    let start = |id: &str| {
        let l = row(id);
        l.find(['█', '▒'])
            .unwrap_or_else(|| panic!("no bar for {id}:\n{text}"))
    };
    assert!(start("setup") < start("flaky"), "{text}");
    assert!(start("flaky") < start("fan"), "{text}");
    assert!(start("fan") <= start("boom"), "{text}");
    assert!(!row("never").contains(['█', '▒']), "{text}");
    // Durations end the rows.
    assert!(row("setup").trim_end().ends_with("ms"), "{text}");

    // `--color always` colours the bars even off a terminal.
    let out = orch_in(p.path(), home.path())
        .env("COLUMNS", "60")
        .args(["--color", "always", "show", "last", "--timeline"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\u{1b}["));

    // Wider and narrower terminals.
    for columns in ["40", "200"] {
        let text = show(p.path(), home.path(), columns);
        let width: usize = columns.parse().unwrap();
        assert!(
            text.lines().all(|l| measure_text_width(l) <= width),
            "{columns}:\n{text}"
        );
        assert!(
            text.lines().any(|l| measure_text_width(l) == width),
            "{columns}:\n{text}"
        );
    }
}

const WAITS: &str = r#"name: waits
steps:
  - id: first
    run: echo one
  - id: gate
    needs: first
    approval: { message: "go?" }
  - id: after
    needs: gate
    run: echo after
"#;

#[test]
fn timeline_shows_an_approval_wait() {
    let p = project(&[("w.yaml", WAITS)]);
    let home = tempfile::tempdir().unwrap();
    let (dir, h) = (p.path(), home.path());
    orch_in(dir, h)
        .args(["run", "w.yaml", "--output", "plain"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(3);
    let text = show(dir, h, "60");
    let gate = text
        .lines()
        .find(|l| l.starts_with("gate"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(gate.contains('░') && gate.contains('⏸'), "{text}");

    orch_in(dir, h)
        .args(["approve", "last", "gate"])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    orch_in(dir, h)
        .args(["resume", "last", "--output", "plain"])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let text = show(dir, h, "60");
    assert!(text.lines().all(|l| measure_text_width(l) <= 60), "{text}");
    let row = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no {id}:\n{text}"))
            .to_string()
    };
    assert!(
        row("gate").contains('░') && row("gate").contains(" ✓ "),
        "{text}"
    );
    // `after` ran once the approval was given: right of the wait.
    let after = row("after");
    assert!(after.contains('█') && after.contains(" ✓ "), "{text}");
    assert!(
        after.chars().position(|c| c == '█') >= row("gate").chars().position(|c| c == '░'),
        "{text}"
    );
}
