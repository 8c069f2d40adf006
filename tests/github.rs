//! Under GitHub Actions: the step summary appended to `$GITHUB_STEP_SUMMARY`,
//! the outputs to `$GITHUB_OUTPUT`, diagnostics as `::error` annotations.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{orch, project};

const CANARY: &str = "c4nary-Gh-Secret-5521";

/// `orch` as a GitHub runner starts it, its files in `dir`.
fn under_actions(p: &Path, dir: &Path) -> assert_cmd::Command {
    let mut c = orch(p);
    c.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("ORCH_SECRET_CANARY", CANARY);
    c
}

const FAILING: &str = r#"name: gh
outputs:
  notes: ${{ steps.notes.outputs.text }}
  token: ${{ steps.notes.outputs.token }}
steps:
  - id: notes
    env: { T: "${{ secrets.canary }}" }
    run: |
      printf 'text<<EOF\nfirst line\nsecond | line\nEOF\n' >> "$ORCH_OUTPUT"
      echo "token=$T" >> "$ORCH_OUTPUT"
  - id: deploy
    for_each: [eu, us]
    run: echo "deploying ${{ item }}"
  - id: flaky-lint
    run: echo lint says no; exit 1
    continue_on_error: true
  - id: build
    needs: notes
    env: { T: "${{ secrets.canary }}" }
    retry: { max_attempts: 2, base_delay: 10ms }
    run: |
      for i in $(seq 1 120); do echo "build line $i"; done
      echo "the secret is $T"
      echo "BUILD-LAST-LINE"
      exit 2
  - id: after
    needs: build
    run: echo never
"#;

/// The cells of a Markdown table row, `\|` kept inside its cell.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.iter().map(|c| c.trim().to_string()).collect()
}

/// The first table of a summary: its header and its rows by step id.
fn table(md: &str) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let mut lines = md.lines().skip_while(|l| !l.starts_with("| Step"));
    let header = cells(lines.next().expect("a table"));
    let sep = cells(lines.next().expect("a separator"));
    assert_eq!(sep.len(), header.len());
    assert!(sep
        .iter()
        .all(|c| c.trim_matches(':').chars().all(|x| x == '-')));
    let mut rows = BTreeMap::new();
    for l in lines.take_while(|l| l.starts_with('|')) {
        let c = cells(l);
        assert_eq!(c.len(), header.len(), "{l}");
        let id = c[0].trim_start_matches("↳ ").trim_matches('`').to_string();
        rows.insert(id, c);
    }
    (header, rows)
}

/// `$GITHUB_OUTPUT` read as the runner reads it: `name=value`, or
/// `name<<DELIM` and the lines up to `DELIM`.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                out.insert(line[..e].to_string(), line[e + 1..].to_string());
            }
            (_, Some(h)) => {
                let delim = &line[h + 2..];
                let mut value = Vec::new();
                loop {
                    let l = lines.next().expect("the delimiter closes the value");
                    if l == delim {
                        break;
                    }
                    value.push(l);
                }
                out.insert(line[..h].to_string(), value.join("\n"));
            }
            _ => panic!("not an output line: {line}"),
        }
    }
    out
}

#[test]
fn the_summary_has_a_table_and_the_first_failure_with_its_last_lines() {
    let p = project(&[("w.yaml", FAILING)]);
    let files = tempfile::tempdir().unwrap();
    under_actions(p.path(), files.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1);
    let md = std::fs::read_to_string(files.path().join("summary.md")).unwrap();
    assert!(md.starts_with("### ❌ `gh` failed in "), "{md}");

    let (header, rows) = table(&md);
    assert_eq!(header, ["Step", "Status", "Duration", "Attempts", "Cache"]);
    let ids: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "after",
            "build",
            "deploy",
            // Items by their values.
            "deploy (eu)",
            "deploy (us)",
            "flaky-lint",
            "notes"
        ]
    );
    assert_eq!(rows["build"][1], "❌ failed");
    assert_eq!(rows["build"][3], "2");
    assert!(rows["build"][2].ends_with('s'), "{:?}", rows["build"]);
    assert_eq!(rows["flaky-lint"][1], "⚠️ failed (allowed)");
    assert_eq!(rows["deploy (us)"][1], "✅ succeeded");
    assert_eq!(rows["after"][1], "⏭️ skipped");

    // The run's failure comes first, open, with its last lines.
    let build = md
        .find("<details open><summary>❌ <code>build</code> failed")
        .unwrap();
    assert!(build < md.find("| Step").unwrap(), "{md}");
    let block = &md[build..];
    let block = &block[..block.find("</details>").unwrap()];
    assert!(block.contains("exited with code 2"), "{block}");
    assert!(block.contains("BUILD-LAST-LINE"), "{block}");
    assert!(block.contains("build line 120"), "{block}");
    assert!(
        !block.contains("build line 1\n"),
        "only the last lines: {block}"
    );
    assert!(block.contains("earlier lines not shown"), "{block}");
    assert!(block.contains("the secret is ***"), "{block}");
    // The allowed failure is there too, closed, after it.
    let lint = md
        .find("<details><summary>⚠️ <code>flaky-lint</code>")
        .unwrap();
    assert!(lint > build);

    let outputs = std::fs::read_to_string(files.path().join("output")).unwrap();
    let parsed = parse_outputs(&outputs);
    assert_eq!(parsed["notes"], "first line\nsecond | line");
    assert_eq!(parsed["token"], "***");
    assert!(!md.contains(CANARY), "{md}");
    assert!(!outputs.contains(CANARY), "{outputs}");
}

#[test]
fn runs_append_to_the_files_they_share() {
    let p = project(&[(
        "ok.yaml",
        "name: ok\noutputs:\n  v: ${{ steps.a.outputs.v }}\nsteps:\n  - id: a\n    run: echo v=1 >> \"$ORCH_OUTPUT\"\n",
    )]);
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("summary.md"), "# Earlier\n\n").unwrap();
    std::fs::write(files.path().join("output"), "earlier=yes\n").unwrap();
    for _ in 0..2 {
        under_actions(p.path(), files.path())
            .args(["run", "ok.yaml"])
            .assert()
            .success();
    }
    let md = std::fs::read_to_string(files.path().join("summary.md")).unwrap();
    assert!(md.starts_with("# Earlier\n\n"), "{md}");
    assert_eq!(md.matches("### ✅ `ok` succeeded in ").count(), 2, "{md}");
    assert_eq!(md.matches("| `a` | ✅ succeeded |").count(), 2, "{md}");
    let out = std::fs::read_to_string(files.path().join("output")).unwrap();
    assert_eq!(out, "earlier=yes\nv=1\nv=1\n");
}

#[test]
fn a_huge_run_keeps_the_summary_under_githubs_limit() {
    let mut wf = String::from("name: huge\nsteps:\n  - id: first-to-fail\n    run: 'for i in $(seq 1 20000); do printf \"%0300d\\n\" $i; done; exit 4'\n");
    for i in 0..5000 {
        wf.push_str(&format!(
            "  - id: a-step-with-a-rather-long-name-so-rows-are-wide-{i:05}\n    transform: {{ value: {i} }}\n"
        ));
    }
    let p = project(&[("w.yaml", &wf)]);
    let files = tempfile::tempdir().unwrap();
    // An earlier run in the same job step already wrote most of the file.
    let earlier = "x".repeat(700 * 1024) + "\n";
    std::fs::write(files.path().join("summary.md"), &earlier).unwrap();
    under_actions(p.path(), files.path())
        .args(["run", "w.yaml", "--output", "json", "-q"])
        .assert()
        .code(1);
    let md = std::fs::read_to_string(files.path().join("summary.md")).unwrap();
    assert!(md.len() <= 1024 * 1024, "{} bytes", md.len());
    assert!(md.starts_with(&earlier));
    let ours = &md[earlier.len()..];
    assert!(
        ours.contains("<code>first-to-fail</code> failed"),
        "{}",
        &ours[..500]
    );
    assert!(ours.contains("more steps not shown"), "the cut is said");
    let (_, rows) = table(ours);
    assert!(rows.len() > 100 && rows.len() < 5001, "{}", rows.len());
}

#[test]
fn diagnostics_are_annotations_with_file_line_and_column() {
    let bad = "name: b\nsteps:\n  - id: a\n    run: 'true'\n    neds: x\n";
    let p = project(&[("bad.yaml", bad)]);
    let files = tempfile::tempdir().unwrap();
    let want = "::error file=bad.yaml,line=5,col=5,title=orch%3A%3Aunknown-key::unknown key `neds` in a step";
    for args in [["validate", "bad.yaml"], ["run", "bad.yaml"]] {
        let out = under_actions(p.path(), files.path())
            .args(args)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.contains(want), "{stderr}");
        // Besides the usual rendering.
        assert!(stderr.contains("orch::unknown-key"), "{stderr}");
    }
    // Nothing ran: no summary.
    assert!(!files.path().join("summary.md").exists());
}
