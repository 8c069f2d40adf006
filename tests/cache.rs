//! The step cache: hits, misses on source changes, `--no-cache`, expiry,
//! the LRU bound, and what `orch plan` says.

use std::path::Path;

use crate::common::{orch_in, project};

const CACHED: &str = r#"
name: cached
steps:
  - id: build
    cache:
      sources: ["src/*.txt"]
      key: "${{ inputs.flavour }}"
    run: |
      echo build >> runs.txt
      echo "digest=$(cat src/*.txt | cksum | cut -d' ' -f1)" >> $ORCH_OUTPUT
  - id: use
    needs: [build]
    run: echo "use ${{ steps.build.outputs.digest }}" >> runs.txt
inputs:
  flavour: { type: string, default: plain }
"#;

fn builds(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == "build")
        .count()
}

fn uses(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("use "))
        .map(str::to_string)
        .collect()
}

fn plan(dir: &Path, home: &Path, extra: &[&str]) -> String {
    let out = orch_in(dir, home)
        .args(["plan", "w.yaml"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn run(dir: &Path, home: &Path, extra: &[&str]) -> String {
    let out = orch_in(dir, home)
        .args(["run", "w.yaml", "--output", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn hit_miss_on_source_change_key_and_no_cache() {
    let p = project(&[("w.yaml", CACHED), ("src/a.txt", "one")]);
    let home = tempfile::tempdir().unwrap();
    assert!(plan(p.path(), home.path(), &[]).contains("build: would run: never run"));

    run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 1);
    assert!(plan(p.path(), home.path(), &[]).contains("build: would hit"));

    let events = run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 1, "a hit runs nothing");
    assert!(events.contains("orchestration.step.cached"), "{events}");
    let u = uses(p.path());
    assert_eq!(u[0], u[1], "the hit restores the outputs");

    std::fs::write(p.path().join("src/a.txt"), "two").unwrap();
    assert!(
        plan(p.path(), home.path(), &[]).contains("build: would run: source src/a.txt changed"),
        "{}",
        plan(p.path(), home.path(), &[])
    );
    run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 2);
    let u = uses(p.path());
    assert_ne!(u[1], u[2], "a changed source gives a new result");

    std::fs::write(p.path().join("src/b.txt"), "new").unwrap();
    assert!(plan(p.path(), home.path(), &[]).contains("build: would run: source src/b.txt is new"));
    assert!(plan(p.path(), home.path(), &["-i", "flavour=spicy"]).contains("would run"));

    run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 3);
    run(p.path(), home.path(), &["--no-cache"]);
    assert_eq!(builds(p.path()), 4, "--no-cache runs the step");
    run(p.path(), home.path(), &["-i", "flavour=spicy"]);
    assert_eq!(builds(p.path()), 5, "another key misses");
    run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 5, "the first key still hits");

    let out = orch_in(p.path(), home.path())
        .args(["cache", "clear"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 4 cached step results"));
    run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 6, "a cleared cache misses");
}

/// Nothing but the key reads `steps.a`: the step must still see it.
const KEY_READS_A_STEP: &str = r#"
name: keyed
inputs:
  v: { type: string, default: one }
steps:
  - id: a
    run: echo "v=${{ inputs.v }}" >> $ORCH_OUTPUT
  - id: build
    needs: [a]
    cache:
      key: "${{ steps.a.outputs.v }}"
    run: echo build >> runs.txt
"#;

#[test]
fn a_key_that_alone_reads_a_step_sees_it() {
    let p = project(&[("w.yaml", KEY_READS_A_STEP)]);
    let home = tempfile::tempdir().unwrap();
    run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 1);
    let events = run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 1, "the same key hits");
    assert!(events.contains("orchestration.step.cached"), "{events}");
    run(p.path(), home.path(), &["-i", "v=two"]);
    assert_eq!(
        builds(p.path()),
        2,
        "another value of steps.a is another key"
    );
}

#[test]
fn entries_expire_after_their_ttl() {
    let p = project(&[(
        "w.yaml",
        "name: t\nsteps:\n  - id: s\n    cache: { ttl: 1s }\n    run: echo build >> runs.txt\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    run(p.path(), home.path(), &[]);
    run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(plan(p.path(), home.path(), &[]).contains("s: would run: expired"));
    run(p.path(), home.path(), &[]);
    assert_eq!(builds(p.path()), 2);
}

#[test]
fn the_cache_keeps_at_most_the_configured_number_of_entries() {
    let p = project(&[(
        "w.yaml",
        "name: lru\ninputs:\n  n: { type: number }\nsteps:\n  - id: s\n    cache: true\n    run: echo build-${{ inputs.n }} >> runs.txt\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    for n in 1..=3 {
        orch_in(p.path(), home.path())
            .env("ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS", "2")
            .args(["run", "w.yaml", "-i", &format!("n={n}")])
            .assert()
            .success();
    }
    let c = crate::history_store::db(home.path());
    let n: i64 = c
        .query_row("SELECT count(*) FROM cache", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    // n=1 was the least recently used: evicted, so it runs again.
    orch_in(p.path(), home.path())
        .env("ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS", "2")
        .args(["run", "w.yaml", "-i", "n=1"])
        .assert()
        .success();
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    assert_eq!(runs.matches("build-1").count(), 2, "{runs}");
}

#[test]
fn a_sources_glob_matching_nothing_fails_the_step() {
    let p = project(&[(
        "w.yaml",
        "name: g\nsteps:\n  - id: s\n    cache: { sources: [\"nope/*.c\"] }\n    run: echo hi\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("matches no file"), "{stdout}");
    // It names the directory the glob was resolved against.
    let dir = std::path::absolute(p.path()).unwrap();
    assert!(
        stdout.contains(&format!("matches no file in {}", dir.display())),
        "{stdout}"
    );
}

#[test]
fn dry_run_shows_the_cache_section_of_plan() {
    let p = project(&[("w.yaml", CACHED), ("src/a.txt", "one")]);
    let home = tempfile::tempdir().unwrap();
    let dry = |extra: &[&str]| {
        let out = orch_in(p.path(), home.path())
            .args(["run", "w.yaml", "--dry-run"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let before = dry(&[]);
    assert!(before.contains("build: would run: never run"), "{before}");
    assert_eq!(
        before,
        plan(p.path(), home.path(), &[])
            .split("critical path")
            .next()
            .unwrap()
    );
    assert_eq!(builds(p.path()), 0, "a dry run runs nothing");
    run(p.path(), home.path(), &[]);
    assert!(dry(&[]).contains("build: would hit"));
    assert!(dry(&["--no-cache"]).contains("build: would run: --no-cache"));
}
