//! Entry points for the fuzz targets (`fuzz/`) and the property tests: each
//! takes raw input, runs one front-end stage the way orch does, and panics only
//! when an invariant of that stage is broken. Errors on bad input are the
//! expected outcome, not a failure.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value as Json};

use crate::diag::Diag;
use crate::expr::{template, Expr, Scope, StatusFns};
use crate::model::Config;
use crate::render::{diagnostic, Style};
use crate::source::Span;

/// A directory that does not exist, so that relative `workflow:` paths in a
/// fuzzed file name nothing on this machine.
const FUZZ_DIR: &str = "/nonexistent/orch-fuzz";

/// Render diagnostics as `orch validate` would (plain and with GitHub
/// annotations), so that panics in rendering long or odd spans surface too.
fn render_all(diags: &[Diag]) {
    let style = Style {
        color: false,
        width: 100,
        github: true,
    };
    for d in diags {
        let out = diagnostic(d, &style);
        assert!(!out.is_empty(), "a diagnostic rendered as nothing");
    }
}

fn source(bytes: &[u8], file: &str) -> Result<Arc<crate::source::Source>, Diag> {
    let path = Path::new(FUZZ_DIR).join(file);
    crate::load::source_from_bytes(file.to_string(), &path, bytes.to_vec())
}

/// Bytes as a workflow file: load, validate (children included), render
/// every diagnostic. Returns whether the file was valid.
pub fn workflow(bytes: &[u8]) -> bool {
    let src = match source(bytes, "workflow.yaml") {
        Ok(s) => s,
        Err(d) => {
            render_all(&[d]);
            return false;
        }
    };
    match crate::validate::workflow_source(&src, &Config::default()) {
        Ok(_) => true,
        Err(diags) => {
            assert!(!diags.is_empty(), "validation failed without a diagnostic");
            render_all(&diags);
            false
        }
    }
}

/// Bytes as `orchestration.yaml`: load, validate, render every diagnostic.
/// Returns whether the file was valid.
pub fn config(bytes: &[u8]) -> bool {
    let src = match source(bytes, crate::load::CONFIG_FILE) {
        Ok(s) => s,
        Err(d) => {
            render_all(&[d]);
            return false;
        }
    };
    match crate::validate::config::config(&src) {
        Ok(_) => true,
        Err(diags) => {
            assert!(!diags.is_empty(), "validation failed without a diagnostic");
            render_all(&diags);
            false
        }
    }
}

/// The inside of `${{ }}`: compile, then evaluate against a small scope
/// (inputs, env, two steps, a secret, a `for_each` item). Returns the value,
/// or `None` on a syntax or evaluation error.
pub fn expr(text: &str) -> Option<Json> {
    let (ast, refs, unknown_idents) = crate::expr::compile(text).ok()?;
    let e = Expr {
        text: text.to_string(),
        ast,
        refs,
        unknown_idents,
        file_offset: None,
        file_map: None,
        value_span: Span::default(),
    };
    let inputs = json!({
        "env": "prod", "dry_run": false, "n": 3, "ratio": 0.5,
        "regions": ["eu", "us"], "tags": {"a": "1", "b-c": "2"},
    });
    let env = json!({"HOME": "/root", "PATH": "/usr/bin"});
    let run = json!({"id": "01J0000000000000000000000", "workflow": "w", "attempt": 1});
    let error = json!({"message": "boom", "kind": "exit"});
    let step = json!({"id": "s", "attempt": 2});
    let steps = |id: &str| match id {
        "build" => Some(json!({
            "status": "succeeded", "exit_code": 0, "stdout": "ok\n",
            "outputs": {"digest": "sha256:1", "n": "42"},
        })),
        "build-image" => Some(json!({
            "status": "failed", "http_status": 503, "headers": {"content-type": "application/json"},
            "body": "{\"a\":[1,2]}", "json": {"a": [1, 2]},
        })),
        _ => None,
    };
    let secrets = |name: &str| (name == "token").then(|| "s3cr3t".to_string());
    let scope = Scope {
        inputs: &inputs,
        env: &env,
        run: &run,
        steps: &steps,
        secrets: &secrets,
        item: Some(&inputs["regions"][0]),
        index: Some(0),
        error: Some(&error),
        step: Some(&step),
        status: StatusFns {
            success: true,
            failure: false,
            cancelled: false,
        },
    };
    let value = crate::expr::eval(&e, &scope).ok()?;
    // What a template does with the value.
    let _ = crate::expr::eval::to_text(&value);
    Some(value)
}

/// A string value split into text and `${{ }}` pieces; the pieces must put
/// the value back together exactly. Returns the number of expressions, or
/// `None` when a `${{` is never closed.
pub fn template(text: &str) -> Option<usize> {
    let pieces = match template::split(text) {
        Ok(p) => p,
        Err(u) => {
            assert!(
                text.get(u.offset..).is_some_and(|t| t.starts_with("${{")),
                "unterminated offset {} is not at a `${{{{`",
                u.offset
            );
            return None;
        }
    };
    let mut rebuilt = String::with_capacity(text.len());
    let mut exprs = 0;
    for p in &pieces {
        match p {
            template::Piece::Text(t) => rebuilt.push_str(t),
            template::Piece::Expr { text: e, offset } => {
                assert_eq!(
                    text.get(*offset..offset + e.len()),
                    Some(*e),
                    "expression offset is wrong"
                );
                rebuilt.push_str("${{");
                rebuilt.push_str(e);
                rebuilt.push_str("}}");
                exprs += 1;
            }
        }
    }
    assert_eq!(rebuilt, text, "the pieces do not rebuild the value");
    Some(exprs)
}

/// An `ORCH_OUTPUT` file: parse; every key must be a valid, unique output
/// name. Returns the number of outputs, or `None` on a malformed file.
pub fn output_file(text: &str) -> Option<usize> {
    let outputs = crate::steps::output_file::parse(text).ok()?;
    let mut seen = std::collections::HashSet::new();
    for (k, v) in &outputs {
        assert!(crate::validate::is_name(k), "invalid output name {k:?}");
        assert!(seen.insert(k.as_str()), "output {k:?} returned twice");
        assert!(v.len() <= text.len(), "an output is longer than the file");
    }
    Some(outputs.len())
}

/// Bytes as a `dotenv:` file: the loader's byte checks, then the dotenv
/// parser, its diagnostic rendered. Every name is non-empty and comes back
/// once; a diagnostic points inside the file. Returns the their values in the order they are set, or `None` when the
/// file does not load or parse.
pub fn dotenv(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let src = match source(bytes, ".env") {
        Ok(s) => s,
        Err(d) => {
            render_all(&[d]);
            return None;
        }
    };
    match crate::load::dotenv::parse(&src) {
        Ok(vars) => {
            let mut seen = std::collections::HashSet::new();
            for (k, _) in &vars {
                assert!(!k.is_empty(), "an empty variable name");
                assert!(seen.insert(k.as_str()), "variable {k:?} returned twice");
            }
            Some(vars)
        }
        Err(d) => {
            let label = d.labels.first().expect("a dotenv diagnostic has a label");
            assert!(
                label.span.offset <= src.text.len(),
                "the diagnostic points past the end of the file"
            );
            assert!(
                src.text.is_char_boundary(label.span.offset),
                "the diagnostic points inside a character"
            );
            render_all(&[d]);
            None
        }
    }
}

/// Run `bytes` through the entry point a fuzz target or fixture is named for
/// (`workflow`, `config`, `expr`, `template`, `output_file`, `dotenv`). A text target
/// ignores input that is not UTF-8 (orch reads none such). `false` for an
/// unknown name.
pub fn run_target(target: &str, bytes: &[u8]) -> bool {
    let text = std::str::from_utf8(bytes).ok();
    match target {
        "workflow" => {
            workflow(bytes);
        }
        "config" => {
            config(bytes);
        }
        "expr" => {
            text.map(expr);
        }
        "template" => {
            text.map(template);
        }
        "output_file" => {
            text.map(output_file);
        }
        "dotenv" => {
            dotenv(bytes);
        }
        _ => return false,
    }
    true
}
