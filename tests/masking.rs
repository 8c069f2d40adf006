//! A canary secret goes through every path a secret can take (the
//! environment, the OS keyring, `env:`, an auth header, a URL, outputs,
//! errors, a line cut in two) and no byte orch writes may hold it or its
//! base64 or URL-encoded forms: files under ORCH_HOME, the telemetry log,
//! webhook bodies, the terminal.

use std::path::Path;

use base64::Engine;
use orch_testserver::TestServer;

use crate::common::{orch_in, project};

/// Letters that change under every encoding we mask.
const CANARY: &str = "Can4ry+Secret/Value=42 ?&x";
const KEYRING_CANARY: &str = "Keyr1ng~Can4ry/Value+7";

fn forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let b = secret.as_bytes();
    let mut v = vec![
        secret.to_string(),
        STANDARD.encode(b),
        STANDARD_NO_PAD.encode(b),
        URL_SAFE.encode(b),
        URL_SAFE_NO_PAD.encode(b),
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
        url_form(secret),
    ];
    v.sort();
    v.dedup();
    v
}

/// `application/x-www-form-urlencoded`, as in query strings.
fn url_form(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn hits(haystack: &[u8], secrets: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for s in secrets {
        for f in forms(s) {
            if haystack.windows(f.len()).any(|w| w == f.as_bytes()) {
                out.push(f);
            }
        }
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn workflow(srv: &TestServer, keyring: bool) -> String {
    let kr = if keyring {
        "\n  - id: from-keyring\n    env: { K: \"${{ secrets.orch-canary-keyring }}\" }\n    run: echo \"keyring value $K\"\n"
    } else {
        ""
    };
    format!(
        r#"name: canary
steps:
  - id: env-var
    env: {{ TOKEN: "${{{{ secrets.canary }}}}" }}
    run: |
      echo "plain $TOKEN"
      printf '%s' "$TOKEN" | base64 -w0; echo
      python3 -c 'import os, urllib.parse as u; print(u.quote(os.environ["TOKEN"], safe="")); print(u.quote_plus(os.environ["TOKEN"]))'
      echo "to stderr $TOKEN" >&2
      echo "token=$TOKEN" >> "$ORCH_OUTPUT"
  - id: env-file
    env: {{ TOKEN: "${{{{ secrets.canary }}}}" }}
    run: |
      echo "CARRIED=$TOKEN" >> "$ORCH_ENV"
      printf 'CARRIED_BLOCK<<EOF\nfirst %s\nEOF\n' "$TOKEN" >> "$ORCH_ENV"
  - id: env-reader
    needs: env-file
    run: echo "carried $CARRIED, $CARRIED_BLOCK"
  - id: cut-line
    env: {{ TOKEN: "${{{{ secrets.canary }}}}" }}
    run: python3 -c 'import os, sys; sys.stdout.write("x" * (65536 - 5) + os.environ["TOKEN"] + "\n")'
  - id: failing
    env: {{ TOKEN: "${{{{ secrets.canary }}}}" }}
    run: echo "failing with $TOKEN" >&2; exit 3
    continue_on_error: true
  - id: in-outputs
    transform: {{ value: "${{{{ secrets.canary }}}}" }}
  - id: in-url
    http: {{ url: "{echo}?t=${{{{ secrets.canary }}}}" }}
    cache: true
  - id: http-error
    http: {{ url: "{fail}?t=${{{{ secrets.canary }}}}", headers: {{ X-T: "${{{{ secrets.canary }}}}" }} }}
    retry: {{ max_attempts: 1 }}
    continue_on_error: true
  - id: auth
    call: {{ service: echo, endpoint: echo }}
    outputs:
      seen: ${{{{ steps.auth.json.headers.authorization }}}}
  - id: expr-error
    env: {{ T: "${{{{ secrets.canary + steps.in-outputs.outputs.nope }}}}" }}
    needs: in-outputs
    run: "true"
    continue_on_error: true
{kr}"#,
        echo = srv.url("/echo"),
        fail = srv.url("/status/500"),
    )
}

#[test]
fn a_canary_secret_never_reaches_a_byte_orch_writes() {
    let srv = TestServer::start();
    let keyring = crate::secrets::keyring_available();
    let kname = "orch-canary-keyring".to_string();
    if keyring {
        let mut set = crate::common::orch(Path::new("."));
        set.args(["secret", "set", &kname])
            .write_stdin(KEYRING_CANARY)
            .assert()
            .success();
    }
    let cfg = format!(
        r#"orchestration:
  telemetry: {{ log_to_file: true, log_file_path: logs/orchestration.log }}
  services:
    - id: echo
      base_url: {base}
      auth: {{ type: bearer, credential: canary }}
      endpoints: [ {{ id: echo, path: /echo/auth }} ]
"#,
        base = srv.base_url()
    );
    let p = project(&[
        ("orchestration.yaml", &cfg),
        ("w.yaml", &workflow(&srv, keyring)),
    ]);
    let home = tempfile::tempdir().unwrap();
    let mut terminal: Vec<u8> = Vec::new();
    for mode in ["plain", "json"] {
        let out = orch_in(p.path(), home.path())
            .args(["run", "w.yaml", "--output", mode])
            .env("ORCH_SECRET_CANARY", CANARY)
            .env("ORCHESTRATION_PROGRESS_WEBHOOK_URL", srv.url("/echo/hook"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        terminal.extend(&out.stdout);
        terminal.extend(&out.stderr);
    }
    for args in [
        vec!["show", "last"],
        vec!["show", "last", "--json"],
        vec!["logs", "last"],
        vec!["history", "--json"],
        vec!["report", "last", "-o", "-"],
        vec!["show", "last", "--timeline"],
    ] {
        let out = orch_in(p.path(), home.path()).args(&args).output().unwrap();
        terminal.extend(&out.stdout);
        terminal.extend(&out.stderr);
    }
    if keyring {
        crate::common::orch(Path::new("."))
            .args(["secret", "rm", &kname])
            .assert()
            .success();
    }

    let secrets: Vec<&str> = if keyring {
        vec![CANARY, KEYRING_CANARY]
    } else {
        vec![CANARY]
    };
    // The secret really went everywhere: masks show where.
    let text = String::from_utf8_lossy(&terminal);
    assert!(text.contains("plain ***"), "{text}");
    assert!(text.contains("failing with ***"), "{text}");
    // Through ORCH_ENV to a step that has no secret of its own.
    assert!(text.contains("carried ***, first ***"), "{text}");
    if keyring {
        assert!(text.contains("keyring value ***"), "{text}");
    }
    // The server saw the real values (that is the point of a secret).
    let auth = srv
        .requests()
        .into_iter()
        .find(|r| r.path == "/echo/auth")
        .expect("auth call made");
    assert_eq!(
        auth.header("authorization").map(str::to_string),
        Some(format!("Bearer {CANARY}"))
    );

    let mut leaks = Vec::new();
    let t = hits(&terminal, &secrets);
    if !t.is_empty() {
        leaks.push(format!("terminal: {t:?}"));
    }
    let mut files = Vec::new();
    files_under(home.path(), &mut files);
    files.push(p.path().join("logs/orchestration.log"));
    assert!(files.iter().any(|f| f.ends_with("history.db")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let h = hits(&bytes, &secrets);
        if !h.is_empty() {
            leaks.push(format!("{}: {h:?}", f.display()));
        }
    }
    let hooks: Vec<_> = srv
        .requests()
        .into_iter()
        .filter(|r| r.path == "/echo/hook")
        .collect();
    assert!(hooks.len() > 10, "webhook got {} events", hooks.len());
    for r in &hooks {
        let h = hits(&r.body, &secrets);
        if !h.is_empty() {
            leaks.push(format!("webhook body: {h:?}"));
        }
    }
    assert!(leaks.is_empty(), "the canary leaked:\n{}", leaks.join("\n"));
}

#[test]
fn a_password_in_a_url_is_never_printed() {
    let p = crate::common::project(&[(
        "w.yaml",
        "name: u\nsteps:\n  - id: get\n    http: { url: \"http://user:pw-s3cret-77@127.0.0.1:9/x?token=tk-s3cret-88\" }\n    retry: { max_attempts: 1 }\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    for mode in ["plain", "json"] {
        let out = crate::common::orch_in(p.path(), home.path())
            .args(["run", "w.yaml", "--output", mode])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.contains("http://user:***@127.0.0.1:9/x?token=***"),
            "{all}"
        );
        assert!(!all.contains("s3cret"), "{mode}: {all}");
    }
    let logs = crate::common::orch_in(p.path(), home.path())
        .args(["logs", "last", "get"])
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.contains("user:***@"), "{logs}");
    assert!(!logs.contains("s3cret"), "{logs}");
}

/// Longer than the part of a value an item's name shows: cut, it would
/// leave most of itself unmasked.
const LONG_CANARY: &str = "Long+Canary/Secret=0123456789-abcdefghij-0123456789-abcdefghij-end";

#[test]
fn a_matrix_or_for_each_value_equal_to_a_secret_is_masked_everywhere() {
    let wf = format!(
        r#"name: items
steps:
  - id: test
    matrix:
      os: [linux]
      token: ["{CANARY}"]
    run: echo "testing"
  - id: deploy
    for_each: ["eu", "{CANARY}", "{LONG_CANARY}"]
    run: echo "deploying"
  - id: pad
    matrix:
      # 47 characters before the token: a cut at 59 would keep 12 of it.
      first: ["a value long enough to push the next past"]
      token: ["{CANARY}"]
    run: "true"
  - id: failing
    for_each: ["{CANARY}"]
    run: exit 3
    continue_on_error: true
  - id: names
    needs: [test, deploy, pad]
    transform:
      names: ${{{{ steps.deploy.items.map(i, i.name) + steps.test.items.map(i, i.name) }}}}
outputs:
  names: ${{{{ steps.names.outputs.names }}}}
"#
    );
    let cfg = "orchestration:\n  telemetry: { log_to_file: true, log_file_path: logs/orchestration.log }\n";
    let p = project(&[("orchestration.yaml", cfg), ("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let mut terminal: Vec<u8> = Vec::new();
    let mut json_out = String::new();
    for (mode, junit) in [("plain", "junit-plain.xml"), ("json", "junit-json.xml")] {
        let out = orch_in(p.path(), home.path())
            .args(["run", "w.yaml", "--output", mode, "--junit", junit])
            .env("ORCH_SECRET_CANARY", CANARY)
            .env("ORCH_SECRET_LONG", LONG_CANARY)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if mode == "json" {
            json_out = String::from_utf8_lossy(&out.stdout).into_owned();
        }
        terminal.extend(&out.stdout);
        terminal.extend(&out.stderr);
    }
    let mut history_out = String::new();
    for args in [
        vec!["show", "last"],
        vec!["show", "last", "--json"],
        vec!["logs", "last"],
        vec!["history", "--json"],
        vec!["report", "last", "-o", "-"],
        vec!["show", "last", "--timeline"],
    ] {
        let out = orch_in(p.path(), home.path()).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        if args == ["show", "last"] {
            history_out = String::from_utf8_lossy(&out.stdout).into_owned();
        }
        terminal.extend(&out.stdout);
        terminal.extend(&out.stderr);
    }

    // The items really are shown by their values: masked.
    let text = String::from_utf8_lossy(&terminal);
    // `orch show` names an item by its index and its values.
    for (name, recorded) in [
        ("test (linux, ***)", "test[0] (linux, ***)"),
        ("deploy (eu)", "deploy[0] (eu)"),
        ("deploy (***)", "deploy[2] (***)"),
        (
            "pad (a value long enough to push the next past, ***)",
            "pad[0] (a value long enough to push the next past, ***)",
        ),
    ] {
        assert!(text.contains(name), "{name} not in:\n{text}");
        assert!(
            history_out.contains(recorded),
            "{recorded} not in `orch show`:\n{history_out}"
        );
    }
    assert!(
        json_out.contains(r#""step_name":"test (linux, ***)""#),
        "{json_out}"
    );
    assert!(
        json_out.contains(r#""step_name":"deploy (***)""#),
        "{json_out}"
    );
    assert!(
        json_out.contains(r#""step_name":"failing (***)""#),
        "{json_out}"
    );
    for f in ["junit-plain.xml", "junit-json.xml"] {
        let xml = std::fs::read_to_string(p.path().join(f)).unwrap();
        assert!(xml.contains("deploy (***)"), "{f}: {xml}");
        assert!(xml.contains("test (linux, ***)"), "{f}: {xml}");
    }

    let secrets = [CANARY, LONG_CANARY];
    let mut leaks = Vec::new();
    // A secret cut short is no longer the secret the masker looks for:
    // its beginning must not be there either.
    let beginnings = [&CANARY[..8], &LONG_CANARY[..16]];
    let mut check = |what: &str, bytes: &[u8]| {
        let mut h = hits(bytes, &secrets);
        for b in beginnings {
            if bytes.windows(b.len()).any(|w| w == b.as_bytes()) {
                h.push(format!("the beginning {b:?}"));
            }
        }
        if !h.is_empty() {
            leaks.push(format!("{what}: {h:?}"));
        }
    };
    check("terminal", &terminal);
    let mut files = Vec::new();
    files_under(home.path(), &mut files);
    files.push(p.path().join("logs/orchestration.log"));
    files.push(p.path().join("junit-plain.xml"));
    files.push(p.path().join("junit-json.xml"));
    assert!(files.iter().any(|f| f.ends_with("history.db")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        check(&f.display().to_string(), &bytes);
    }
    assert!(leaks.is_empty(), "the canary leaked:\n{}", leaks.join("\n"));
}
