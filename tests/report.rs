//! `orch report RUN`: the HTML page of a real recorded run (a retry, a
//! child run, a failure with a secret in its log), its size for 1,000
//! steps, and the page in a real browser (headless Chromium).
//!
//! The browser test skips (printing "skipped: <why>") when no Chromium is
//! installed, unless `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use crate::common::{orch_in, project};

const CANARY: &str = "Rep0rt+Can4ry/Secret=9";

const PARENT: &str = r#"name: reported
inputs:
  who: { type: string, default: "<b>world</b>" }
steps:
  - id: setup
    run: echo setting up
  - id: flaky
    needs: setup
    retry: { max_attempts: 2, base_delay: 200ms }
    run: 'if [ -f marker ]; then echo ok; else touch marker; echo "first try fails"; exit 3; fi'
  - id: sub
    needs: setup
    workflow: child.yaml
  - id: boom
    needs: [flaky, sub]
    env: { TOKEN: "${{ secrets.canary }}" }
    run: 'echo "boom <b>&amp; $TOKEN"; echo "last words" >&2; exit 4'
  - id: never
    needs: boom
    run: echo never
"#;

const CHILD: &str = "name: child\nsteps:\n  - id: inner\n    run: sleep 0.3\n";

/// A project with a failed run of [`PARENT`] recorded in `home`.
fn failed_run() -> (tempfile::TempDir, tempfile::TempDir) {
    let p = project(&[("w.yaml", PARENT), ("child.yaml", CHILD)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .env("ORCH_SECRET_CANARY", CANARY)
        .timeout(Duration::from_secs(120))
        .assert()
        .code(1);
    (p, home)
}

fn report(dir: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    let out = orch_in(dir, home)
        .arg("report")
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run orch");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_report_of_a_failed_run() {
    let (p, home) = failed_run();
    // A directory that does not exist is an error, not a panic.
    let out = orch_in(p.path(), home.path())
        .args(["report", "last", "-o", "out/run.html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write"));
    std::fs::create_dir(p.path().join("out")).unwrap();
    let out = report(p.path(), home.path(), &["last", "-o", "out/run.html"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "out/run.html");
    let page = std::fs::read_to_string(p.path().join("out/run.html")).unwrap();

    assert!(!page.contains(CANARY), "the secret leaked");
    // Nothing is fetched: no URL, no external reference.
    for needle in [
        "http://", "https://", "src=\"", "href=\"", "@import", "url(",
    ] {
        assert!(!page.contains(needle), "{needle}");
    }
    assert_eq!(page.matches("<script>").count(), 1);
    // The timeline: every step, the child run's step under `sub`, the
    // retry's two attempts with the delay between, the critical path.
    for step in ["setup", "flaky", "sub", "sub/inner", "boom", "never"] {
        assert!(
            page.contains(&format!("data-step=\"{step}\"")),
            "no row {step}"
        );
    }
    let row = |step: &str| -> &str {
        let at = page
            .find(&format!("<g class=\"row crit\" data-step=\"{step}\""))
            .or_else(|| page.find(&format!("<g class=\"row\" data-step=\"{step}\"")))
            .unwrap_or_else(|| panic!("no row {step}"));
        let end = page[at..].find("</g>").unwrap();
        &page[at..at + end]
    };
    assert!(
        row("flaky").contains("failed attempt 1"),
        "{}",
        row("flaky")
    );
    assert!(row("flaky").contains("<line class=\"delay\""));
    assert!(row("boom").starts_with("<g class=\"row crit\""));
    assert!(row("setup").starts_with("<g class=\"row crit\""));
    assert!(row("never").starts_with("<g class=\"row\""));
    // The DAG: its five edges, `boom` failed, `never` skipped.
    let dag = &page[page.find("<svg id=\"dag\"").unwrap()..];
    let dag = &dag[..dag.find("</svg>").unwrap()];
    assert_eq!(dag.matches("<path class=\"e").count(), 5, "{dag}");
    assert!(dag.contains("<g class=\"node bad crit\" data-step=\"boom\""));
    assert!(dag.contains("<g class=\"node skip\" data-step=\"never\""));
    // The first failure, first, with its masked and escaped log tail.
    let first = &page[page.find("id=\"first-failure\"").unwrap()..];
    assert!(first.starts_with("id=\"first-failure\"><h2>First failure: <code>boom</code>"));
    assert!(first.contains("last words"), "{first}");
    assert!(first.contains("boom &lt;b&gt;&amp;amp; "), "{first}");
    let tbody = &page[page.find("<tbody>").unwrap()..];
    assert!(
        tbody.starts_with("<tbody>\n<tr class=\"bad first\""),
        "{tbody}"
    );
    // Metadata: the masked-as-recorded inputs, escaped.
    assert!(page.contains("&lt;b&gt;world&lt;/b&gt;"));
    assert!(page.contains("recorded by</dt><dd>orch "));

    // Without -o: ./orch-report-<id>.html, its path printed.
    let out = report(p.path(), home.path(), &["last"]);
    let printed = String::from_utf8(out.stdout).unwrap();
    let path = PathBuf::from(printed.trim());
    assert!(path.is_absolute(), "{printed}");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("orch-report-") && name.ends_with(".html"),
        "{name}"
    );
    assert_eq!(path.parent().unwrap(), p.path().canonicalize().unwrap());
    // `-o -`: the same page on stdout.
    let out = report(p.path(), home.path(), &["last", "-o", "-"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert!(!text.contains(CANARY));
}

#[test]
fn the_timeline_nests_child_runs_and_marks_the_critical_path() {
    let (p, home) = failed_run();
    let out = orch_in(p.path(), home.path())
        .env("COLUMNS", "80")
        .args(["show", "last", "--timeline"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = |p: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(p))
            .unwrap_or_else(|| panic!("no {p:?}:\n{text}"))
    };
    assert_eq!(at("  inner "), at("sub ") + 1, "{text}");
    assert!(lines[at("boom ")].contains("✗ ◆"), "{text}");
    assert!(!lines[at("never ")].contains('◆'), "{text}");
    assert!(text.contains("◆ critical path"), "{text}");
}

/// The 1,000-step shape of the benchmarks (independent steps), with a
/// tree of needs on top so that the graph has edges to cap.
fn thousand_steps() -> String {
    let mut w = String::from("name: thousand\nsteps:\n");
    for i in 0..1000 {
        w.push_str(&format!("  - id: s{i}\n    transform: {{ n: {i} }}\n"));
        if i > 0 {
            w.push_str(&format!("    needs: s{}\n", (i - 1) / 2));
        }
    }
    w
}

#[test]
fn the_report_of_a_thousand_steps_stays_small() {
    let p = project(&[("w.yaml", &thousand_steps())]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain", "-q"])
        .timeout(Duration::from_secs(300))
        .assert()
        .success();
    report(p.path(), home.path(), &["last", "-o", "r.html"]);
    let page = std::fs::read_to_string(p.path().join("r.html")).unwrap();
    eprintln!("1,000-step report: {} bytes", page.len());
    assert!(page.len() < 2_000_000, "{} bytes", page.len());
    assert_eq!(page.matches("<g class=\"row").count(), 1000);
    // The graph degrades and says so; the table lists every step.
    assert!(
        page.contains("steps drawn: a level shows at most"),
        "no note"
    );
    assert_eq!(page.matches("<tr class=\"ok\"").count(), 1000);
}

/// Chromium, when installed; else why not (a failure under `CI=true`).
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"]
        .iter()
        .map(|c| PathBuf::from("/usr/bin").join(c))
        .find(|p| p.exists());
    match found {
        Some(p) => Some(p),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but no Chromium is installed (apt-get install chromium)")
        }
        None => {
            eprintln!("skipped: no /usr/bin/chromium; install Debian's `chromium` to run it");
            None
        }
    }
}

/// Runs the browser with networking unavailable (no proxy answers, no
/// name resolves), killing it after a timeout.
fn browse(browser: &Path, args: &[String]) -> Vec<u8> {
    let profile = tempfile::tempdir().unwrap();
    let mut child = StdCommand::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium hung: killed after 240s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

#[test]
fn the_report_renders_in_a_real_browser() {
    let Some(browser) = chromium() else { return };
    let (p, home) = failed_run();
    report(p.path(), home.path(), &["last", "-o", "run.html"]);
    let url = format!("file://{}", p.path().join("run.html").display());

    let dom = String::from_utf8(browse(&browser, &["--dump-dom".into(), url.clone()])).unwrap();
    // The script ran, and counted the timeline's rows and the DAG's nodes.
    assert!(dom.contains("data-js=\"ready\""), "{dom}");
    assert!(dom.contains("data-rows=\"6\""), "{dom}");
    assert!(dom.contains("data-nodes=\"5\""), "{dom}");
    assert!(dom.contains("<svg id=\"gantt\""));
    assert!(dom.contains("<svg id=\"dag\""));

    let shot = p.path().join("shot.png");
    browse(
        &browser,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".into(),
            url,
        ],
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1400, 1000));
    let pixels = &buf[..info.buffer_size()];
    let n = pixels.len() as f64;
    let mean = pixels.iter().map(|&b| f64::from(b)).sum::<f64>() / n;
    let var = pixels
        .iter()
        .map(|&b| (f64::from(b) - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!(var > 100.0, "a blank screenshot (variance {var:.1})");
    // Colour: the green and red bars are there.
    let px = pixels.chunks(info.color_type.samples());
    assert!(
        px.clone().any(|c| c[0] < 80 && c[1] > 130 && c[2] < 120),
        "no green"
    );
    assert!(
        px.clone().any(|c| c[0] > 190 && c[1] < 90 && c[2] < 90),
        "no red"
    );
}
