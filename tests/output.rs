//! Step output on its way out: the order of stdout and stderr lines in
//! every place they are shown, attempts told apart in a step's log, memory
//! that does not grow with output, and masking across reads; a workflow's
//! outputs in the order they are declared, in every output mode.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{orch_in, project};
use crate::history_store::only_run;

/// Lines on both streams, apart: stdout and stderr alternate. (30 ms, not
/// the 1 ms that keeps order on a quiet machine: tests run many at once.)
const INTERLEAVED: &str = r#"name: interleaved
steps:
  - id: talk
    run: |
      for i in 1 2 3 4 5; do
        echo "out $i"; sleep 0.03
        echo "err $i" >&2; sleep 0.03
      done
"#;

fn expected() -> Vec<String> {
    (1..=5)
        .flat_map(|i| [format!("out {i}"), format!("err {i}")])
        .collect()
}

fn log_lines(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn stdout_and_stderr_keep_the_order_they_were_written_in() {
    let p = project(&[("w.yaml", INTERLEAVED)]);
    for round in 0..10 {
        let home = tempfile::tempdir().unwrap();
        let out = orch_in(p.path(), home.path())
            .args(["run", "w.yaml", "--output", "plain"])
            .output()
            .unwrap();
        assert!(out.status.success(), "round {round}");
        let shown = log_lines(&String::from_utf8_lossy(&out.stdout), "[talk] ");
        assert_eq!(shown, expected(), "terminal, round {round}");

        let (run, _) = only_run(home.path());
        let file = home.path().join("logs").join(&run).join("talk.log");
        let logged = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            log_lines(&logged, ""),
            expected(),
            "log file, round {round}"
        );

        let logs = orch_in(p.path(), home.path())
            .args(["logs", &run, "talk"])
            .output()
            .unwrap();
        assert!(logs.status.success());
        assert_eq!(
            log_lines(&String::from_utf8_lossy(&logs.stdout), ""),
            expected(),
            "orch logs, round {round}"
        );
    }
}

#[test]
fn a_steps_log_separates_its_attempts_and_a_resume() {
    let wf = r#"name: flaky
steps:
  - id: flaky
    retry: { max_attempts: 2, base_delay: 10ms }
    run: |
      echo "try" >> tries.txt
      echo "attempt output $(wc -l < tries.txt)"
      test -f fixed || exit 1
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1);
    let (run, _) = only_run(home.path());
    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", &run, "--output", "plain"])
        .assert()
        .success();
    let logs = orch_in(p.path(), home.path())
        .args(["logs", &run, "flaky"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&logs.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[0], "attempt output 1");
    assert_eq!(lines[1], "── attempt 2 ──");
    assert_eq!(lines[2], "attempt output 2");
    assert!(
        lines[3].starts_with("── attempt 3 (resumed ") && lines[3].ends_with("Z) ──"),
        "{text}"
    );
    assert_eq!(lines[4], "attempt output 3");
}

/// The peak resident memory of `cmd` (VmHWM, read while it runs), in KiB.
fn peak_rss_kib(mut cmd: Command) -> u64 {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Drain stdout so the run is not held up by a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drain.join().unwrap().unwrap();
    peak
}

fn noisy(steps: usize) -> String {
    let mut wf = String::from("name: noisy\nsteps:\n");
    for i in 0..steps {
        wf.push_str(&format!("  - id: s{i}\n    run: seq -f %060g 40000\n"));
    }
    wf
}

#[test]
fn memory_does_not_grow_with_the_output_of_noisy_steps() {
    let p = project(&[("few.yaml", &noisy(2)), ("many.yaml", &noisy(20))]);
    let home = tempfile::tempdir().unwrap();
    let run = |file: &str| {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("orch"));
        cmd.args(["run", file, "-j", "4", "--output", "plain"])
            .current_dir(p.path())
            .env("ORCH_HOME", home.path())
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .env_remove("ORCH_HISTORY");
        peak_rss_kib(cmd)
    };
    let few = run("few.yaml");
    let many = run("many.yaml");
    eprintln!("peak RSS: {few} KiB with 2 steps, {many} KiB with 20");
    // 20 steps of 2.4 MB each: 49 MB of output. A generous bound (a debug
    // build); the precise figures are bench/output.sh's.
    assert!(many < 64 * 1024, "peak RSS {many} KiB");
    assert!(
        many < few + 16 * 1024,
        "10x the steps and output, {few} KiB -> {many} KiB"
    );
}

#[test]
fn memory_stays_flat_while_one_step_prints_a_lot() {
    // 1.7 million lines, 104 MB, all in the step's log, little in memory.
    // (How fast a release build takes a gigabyte, and its memory meanwhile,
    // is bench/output.sh's.)
    let wf = "name: big\nsteps:\n  - id: big\n    run: seq -f %060g 1700000\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("orch"));
    cmd.args(["run", "w.yaml", "--output", "plain"])
        .current_dir(p.path())
        .env("ORCH_HOME", home.path())
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("ORCH_HISTORY");
    let peak = peak_rss_kib(cmd);
    eprintln!("peak RSS: {peak} KiB");
    assert!(peak < 48 * 1024, "peak RSS {peak} KiB");
    let (run, _) = only_run(home.path());
    let log = home.path().join("logs").join(&run).join("big.log");
    assert_eq!(std::fs::metadata(log).unwrap().len(), 1_700_000 * 61);
}

#[test]
fn a_secret_written_in_two_pieces_is_masked() {
    let wf = r#"name: pieces
steps:
  - id: slow-print
    env: { TOKEN: "${{ secrets.canary }}" }
    run: |
      half=$(( ${#TOKEN} / 2 ))
      printf 'token: %s' "$(printf '%s' "$TOKEN" | cut -c1-$half)"
      sleep 0.2
      printf '%s\n' "$(printf '%s' "$TOKEN" | cut -c$(( half + 1 ))-)"
"#;
    let canary = "canary-7f3a9c2e51d8";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .env("ORCH_SECRET_CANARY", canary)
        .args(["run", "w.yaml", "--output", "plain"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[slow-print] token: ***"), "{text}");
    // Neither half is left: the line was masked whole.
    assert!(
        !text.contains("7f3a9c2e51d8") && !text.contains("canary-7f"),
        "{text}"
    );
    let (run, _) = only_run(home.path());
    let log = std::fs::read_to_string(home.path().join("logs").join(&run).join("slow-print.log"))
        .unwrap();
    assert_eq!(log, "token: ***\n");
    assert_no_canary(home.path(), canary);
}

fn assert_no_canary(dir: &Path, canary: &str) {
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains(canary),
            "{} holds the secret",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Outputs declared z, a, m: never sorted.
const DECLARED: &str = r#"name: declared
outputs:
  z: ${{ steps.t.outputs.z }}
  a: ${{ steps.t.outputs.a }}
  m: ${{ steps.t.outputs.m }}
steps:
  - id: t
    transform: { a: "first", m: "second", z: "third" }
"#;

const ZAM: [&str; 3] = ["z", "a", "m"];

/// Where each name first appears in `text` after `from`, in that order.
fn in_order(text: &str, from: &str, needles: &[String]) {
    let mut at = text
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} not in:\n{text}"));
    for n in needles {
        let next = text[at..]
            .find(n.as_str())
            .unwrap_or_else(|| panic!("{n:?} not after {from:?} in the right order:\n{text}"));
        at += next + n.len();
    }
}

#[test]
fn workflow_outputs_keep_their_declared_order_everywhere() {
    let p = project(&[("w.yaml", DECLARED)]);
    let home = tempfile::tempdir().unwrap();
    let gh = tempfile::tempdir().unwrap();
    let value = |k: &str| match k {
        "z" => "third",
        "a" => "first",
        _ => "second",
    };

    // Plain summary, and `$GITHUB_OUTPUT` in the same run.
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", gh.path().join("output"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let plain = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<String> = ZAM
        .iter()
        .map(|k| format!("output {k} = {}", value(k)))
        .collect();
    in_order(&plain, "succeeded", &lines);
    let file = std::fs::read_to_string(gh.path().join("output")).unwrap();
    assert_eq!(file, "z=third\na=first\nm=second\n");

    // The JSON event: the bytes, not a parsed (sorted) map.
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json = String::from_utf8_lossy(&out.stdout);
    let last = json.lines().last().unwrap();
    assert!(
        last.contains(r#""outputs":{"z":"third","a":"first","m":"second"}"#),
        "{last}"
    );

    // History: `orch show` and `orch show --json`.
    let show = orch_in(p.path(), home.path())
        .args(["show", "last"])
        .output()
        .unwrap();
    assert!(show.status.success(), "{show:?}");
    let show = String::from_utf8_lossy(&show.stdout);
    let lines: Vec<String> = ZAM
        .iter()
        .map(|k| format!("  {k} = {}", value(k)))
        .collect();
    in_order(&show, "outputs\n", &lines);
    let show = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    assert!(show.status.success(), "{show:?}");
    let show = String::from_utf8_lossy(&show.stdout);
    let compact: String = show.split_whitespace().collect();
    assert!(
        compact.contains(r#""outputs":{"z":"third","a":"first","m":"second"}"#),
        "{show}"
    );

    // The live view's summary, on a pseudo-terminal.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped the tty part: `script` is not installed");
        return;
    }
    let orch = assert_cmd::cargo::cargo_bin("orch");
    let cmd = format!(
        "cd '{}' && env -u CI -u GITHUB_ACTIONS NO_COLOR=1 ORCH_HOME='{}' '{}' run w.yaml --output tty",
        p.path().display(),
        home.path().display(),
        orch.display()
    );
    let out = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let tty = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<String> = ZAM.iter().map(|k| format!("{k} = {}", value(k))).collect();
    in_order(&tty, "Outputs:", &lines);
}
