//! `--junit FILE`: the run as JUnit XML, checked by real consumers: the
//! common JUnit schema through `xmllint --schema`, and the parsed tree.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{orch_in, project, repo_root};

/// Validate `file` against the JUnit schema with xmllint. Without xmllint
/// the check fails in CI (`CI=true`, where `.ci/run` installs it) and is
/// skipped with a reason elsewhere.
fn validate(file: &Path) {
    let xsd = repo_root().join("tests/fixtures/junit/junit.xsd");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(file)
        .output();
    match out {
        Ok(out) => assert!(
            out.status.success(),
            "xmllint rejects {}:\n{}\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(file).unwrap_or_default()
        ),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("xmllint is required in CI (libxml2-utils): {e}")
        }
        Err(e) => eprintln!("skipping the schema check: no xmllint ({e}); install libxml2-utils"),
    }
}

/// The report, validated, as text.
fn report(file: &Path) -> String {
    validate(file);
    std::fs::read_to_string(file).unwrap()
}

fn case<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> roxmltree::Node<'a, 'a> {
    doc.descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
        .unwrap_or_else(|| panic!("no testcase {name}"))
}

fn child<'a>(n: roxmltree::Node<'a, 'a>, tag: &str) -> Option<roxmltree::Node<'a, 'a>> {
    n.children().find(|c| c.has_tag_name(tag))
}

fn property<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    child(n, "properties")?
        .children()
        .find(|p| p.attribute("name") == Some(name))
        .and_then(|p| p.attribute("value"))
}

fn suites<'a>(doc: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.root_element()
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect()
}

// A chain, so that no failure stops a step before it ran: warm, lint
// (failing, allowed), the items of deploy, build (failing), ship (skipped).
const WF: &str = r#"name: demo
steps:
  - id: warm
    cache: true
    run: 'echo warm'
  - id: lint
    needs: warm
    continue_on_error: true
    run: 'echo lint says no; exit 3'
  - id: deploy
    needs: lint
    for_each: ["a", "b"]
    run: 'echo deploying ${{ item }}'
  - id: build
    needs: deploy
    env: { TOKEN: "${{ secrets.canary }}" }
    run: 'printf "compiling\n\033[31mred & <b>\033[0m\n"; echo "token $TOKEN"; exit 4'
  - id: ship
    needs: build
    run: 'echo never'
"#;

const CANARY: &str = "c4nary-junit-9f2e";

#[test]
fn a_failed_run_is_a_valid_junit_report_with_failures_skips_items_and_cache() {
    let p = project(&[("w.yaml", WF)]);
    let home = tempfile::tempdir().unwrap();
    let run = |file: &str| {
        orch_in(p.path(), home.path())
            .args(["run", "w.yaml", "--output", "plain", "--junit", file])
            .env("ORCH_SECRET_CANARY", CANARY)
            .assert()
            .code(1);
    };
    run("first.xml");
    // The second run takes `warm` from the cache; a nested path is made.
    run("reports/second.xml");
    let first = report(&p.path().join("first.xml"));
    let text = report(&p.path().join("reports/second.xml"));
    for t in [&first, &text] {
        assert!(!t.contains(CANARY), "the secret reached the report:\n{t}");
        assert!(!t.contains('\u{1b}'), "a terminal escape in the report");
    }
    let doc = roxmltree::Document::parse(&text).unwrap();
    let all = suites(&doc);
    assert_eq!(all.len(), 1);
    let suite = all[0];
    assert_eq!(suite.attribute("name"), Some("demo"));
    // build, deploy (a), deploy (b), lint, ship, warm: the items, not `deploy`.
    assert_eq!(suite.attribute("tests"), Some("6"));
    assert_eq!(suite.attribute("failures"), Some("2"), "{text}");
    assert_eq!(suite.attribute("errors"), Some("0"));
    assert_eq!(suite.attribute("skipped"), Some("1"));
    let stamp = suite.attribute("timestamp").unwrap();
    assert_eq!(stamp.len(), 19, "{stamp}");
    suite.attribute("time").unwrap().parse::<f64>().unwrap();
    assert!(!doc
        .descendants()
        .any(|n| n.attribute("name") == Some("deploy")));

    let build = case(&doc, "build");
    assert_eq!(build.attribute("classname"), Some("demo"));
    let failure = child(build, "failure").expect("build failed");
    assert_eq!(failure.attribute("message"), Some("exited with code 4"));
    let tail = failure.text().unwrap();
    assert!(tail.contains("compiling\nred & <b>\ntoken ***"), "{tail}");
    assert_eq!(property(build, "exit_code"), Some("4"));

    // Items are named with their values.
    for item in ["deploy (a)", "deploy (b)"] {
        let item = case(&doc, item);
        assert_eq!(item.children().filter(|n| n.is_element()).count(), 0);
    }

    let lint = case(&doc, "lint");
    assert!(child(lint, "failure").is_some());
    assert_eq!(property(lint, "allowed"), Some("true"));
    assert_eq!(property(build, "allowed"), None);

    assert!(child(case(&doc, "ship"), "skipped").is_some());

    let warm = case(&doc, "warm");
    assert_eq!(property(warm, "cached"), Some("true"));
    assert_eq!(warm.children().filter(|n| n.is_element()).count(), 1);
    let cold = roxmltree::Document::parse(&first).unwrap();
    assert_eq!(property(case(&cold, "warm"), "cached"), None);
}

#[test]
fn a_cancelled_run_still_writes_its_report_with_errors() {
    let wf = "name: stop\nsteps:\n  - id: long\n    run: 'echo working; touch started; sleep 30'\n  - id: after\n    needs: long\n    run: 'true'\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let mut run = std::process::Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "w.yaml", "--output", "plain", "--grace", "2s"])
        .args(["--junit", "out.xml"])
        .current_dir(p.path())
        .env("ORCH_HOME", home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.path().join("started").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(st) = run.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("orch did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(130));
    let text = report(&p.path().join("out.xml"));
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suite = suites(&doc)[0];
    assert_eq!(suite.attribute("errors"), Some("1"));
    let long = case(&doc, "long");
    let error = child(long, "error").expect("the cancelled step is an error");
    assert!(error.text().unwrap_or("").contains("working"), "{text}");
    // Never started: skipped.
    assert!(child(case(&doc, "after"), "skipped").is_some(), "{text}");
    // Only the report is left in the directory: no temporary file.
    let mut names: Vec<String> = std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["out.xml", "started", "w.yaml"]);
}

#[test]
fn child_runs_are_suites_of_their_own_and_resume_reports_restored_steps() {
    let p = project(&[
        (
            "w.yaml",
            "name: parent\nsteps:\n  - { id: sub, workflow: child.yaml }\n  - { id: gate, run: 'test -f fixed' }\n",
        ),
        (
            "child.yaml",
            "name: kid\nsteps:\n  - { id: inner, run: 'echo from the kid' }\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain", "--junit", "j.xml"])
        .assert()
        .code(1);
    let text = report(&p.path().join("j.xml"));
    let doc = roxmltree::Document::parse(&text).unwrap();
    let all = suites(&doc);
    assert_eq!(all.len(), 2, "{text}");
    assert_eq!(all[0].attribute("name"), Some("parent"));
    assert_eq!(all[1].attribute("name"), Some("kid"));
    assert_eq!(case(&doc, "inner").attribute("classname"), Some("kid"));
    assert_eq!(doc.root_element().attribute("tests"), Some("3"));

    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "plain", "--junit", "j.xml"])
        .assert()
        .code(0);
    let text = report(&p.path().join("j.xml"));
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suite = suites(&doc)[0];
    assert_eq!(suite.attribute("failures"), Some("0"), "{text}");
    assert_eq!(property(case(&doc, "sub"), "restored"), Some("true"));
    assert!(child(case(&doc, "gate"), "failure").is_none());
}

#[test]
fn a_report_that_cannot_be_written_stops_the_run_before_it_starts() {
    let p = project(&[("w.yaml", "name: w\nsteps:\n  - { id: a, run: touch ran }\n")]);
    std::fs::write(p.path().join("file"), "").unwrap();
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--junit", "file/j.xml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot write the JUnit report"));
    assert!(!p.path().join("ran").exists());
}
