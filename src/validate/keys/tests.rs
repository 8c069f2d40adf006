//! Checks of the key tables against themselves and the validator.

use std::collections::HashSet;
use std::sync::Arc;

use super::*;
use crate::diag::Diag;
use crate::load::yaml::{Yaml, YamlKind};
use crate::model::Config;
use crate::source::Source;

/// Every key of orchestration.yaml, each at least once.
const FULL_CONFIG: &str = r#"
orchestration:
  retry: { max_attempts: 3, delay_strategy: exponential, base_delay_ms: 200, max_delay: 5s, factor: 2, jitter: true, condition: "error.kind == 'connect'" }
  policies:
    fallback_on_error: true
    allow_cross_agent: false
    max_parallel_tasks: 4
    rules:
      - { id: no-prod, when: "step.service == 'prod'", action: deny, message: no }
  credential_injection: { allow_external_vault: false, auto_load_from_prompt_vault: false }
  middleware:
    - { id: metrics, enabled: false, priority: 5 }
  telemetry:
    log_to_file: false
    log_file_path: logs/x.log
    emit_events: true
    metrics_endpoint: http://localhost:9090/metrics
    webhook_url: http://localhost:1/hook
  pools: { gpu: 2 }
  services:
    - id: svc
      name: A service
      base_url: http://localhost:1
      auth: { type: api_key, credential: svc-token, header: X-Key }
      capabilities: [summarize]
      priority: 1
      timeout: 5s
      rate_limit: { requests: 10, per: 1s }
      circuit_breaker: { failure_threshold: 3, reset_timeout: 10s }
      health_check: { path: /health, interval: 1m, timeout: 2s }
      endpoints:
        - id: ep
          method: post
          path: /v1/{text}
          parameters: [ { name: text, in: path, required: true } ]
"#;

/// Every key of a workflow, each at least once. Only the keys that are not
/// supported yet make it invalid.
const FULL_WORKFLOW: &str = r#"
name: every-key
description: uses every key
version: 2
inputs:
  env: { type: string, default: dev, enum: [dev, prod], required: false, description: where }
env: { A: "1" }
dotenv: [no-such.env]
concurrency: 2
timeout: 1h
defaults:
  timeout: 10m
  retry: { max_attempts: 2, base_delay: 1s }
  shell: bash
  working_dir: .
steps:
  - id: a
    name: First
    run: echo hi
    env: { B: "${{ inputs.env }}" }
    working_dir: .
    timeout: 30s
    retry: { max_attempts: 2, delay_strategy: linear, base_delay_ms: 10, max_delay: 1s, factor: 1.5, jitter: false, condition: "error.exit_code == 75" }
    continue_on_error: true
    priority: 3
    resources: { gpu: 1 }
    shell: sh
    outputs: { x: "${{ steps.a.stdout }}" }
    cache: { ttl: 1h, key: k, sources: ["*.rs"] }
    watch: ["*.md"]
  - id: b
    needs: a
    if: "steps.a.status == 'succeeded'"
    for_each: [1, 2]
    max_parallel: 1
    http: { url: "http://localhost:1/${{ item }}", method: put, headers: { H: v }, query: { q: "1" }, json: { a: 1 }, expect_status: [200, 201] }
  - id: c
    cache: true
    http: { url: http://localhost:1, body: text }
  - id: d
    http: { url: http://localhost:1, form: { f: v }, expect_status: 200, follow_redirects: false }
  - id: e
    call: { service: svc, endpoint: ep, with: { text: hi } }
  - id: f
    call: { capability: summarize, endpoint: ep, with: { text: hi } }
  - id: g
    matrix: { os: [linux, mac], n: [1, 2], include: [{ os: mac, extra: x }], exclude: [{ n: 2 }] }
    transform: { n: "${{ item.os }}" }
  - id: h
    approval: { message: "Go?", timeout: 1h }
  - id: i
    workflow: child.yaml
    with: { x: 1 }
  - id: j
    run: echo j
    compensate: { run: echo undo, env: { U: "1" }, timeout: 5s, retry: { max_attempts: 1 }, shell: sh }
outputs: { out: "${{ steps.g.outputs.n }}" }
on_failure:
  - { id: k, run: echo failed }
finally:
  - { id: l, run: echo done }
"#;

fn source(name: &str, text: &str) -> Arc<Source> {
    Arc::new(Source::new(name, name, text))
}

fn config(text: &str) -> Result<Config, Vec<Diag>> {
    crate::validate::config::config(&source("orchestration.yaml", text))
}

fn full_config() -> Config {
    config(FULL_CONFIG).unwrap_or_else(|d| panic!("{:#?}", d))
}

/// Validate `text` as `w.yaml` in a folder that also holds the `child.yaml`
/// its `workflow:` step names.
fn workflow(text: &str) -> Result<crate::model::Workflow, Vec<Diag>> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("child.yaml"),
        "name: child\ninputs: { x: { type: number } }\nsteps: [ { id: s, run: 'true' } ]\n",
    )
    .expect("write child.yaml");
    let path = dir.path().join("w.yaml");
    let src = Arc::new(Source::new(path.display().to_string(), &path, text));
    crate::validate::workflow_source(&src, &full_config())
}

/// Every table of both files, each once, with the prefix of its keys.
fn all_walked() -> Walk {
    let mut out = walk(&WORKFLOW);
    for w in walk(&CONFIG_FILE) {
        if !out.iter().any(|(_, t, _)| std::ptr::eq(*t, w.1)) {
            out.push(w);
        }
    }
    out
}

fn all_tables() -> Vec<&'static Table> {
    all_walked().into_iter().map(|(_, t, _)| t).collect()
}

#[test]
fn no_table_repeats_a_key() {
    for t in all_tables() {
        let mut seen = HashSet::new();
        for k in t.keys {
            assert!(seen.insert(k.name), "`{}` twice in {}", k.name, t.id);
        }
    }
}

#[test]
fn table_ids_are_unique() {
    let mut seen = HashSet::new();
    for t in all_tables() {
        assert!(seen.insert(t.id), "table id {} twice", t.id);
    }
}

#[test]
fn groups_name_keys_of_their_table() {
    for t in all_tables() {
        for g in t.groups {
            assert!(g.keys.len() > 1, "a group of one in {}", t.id);
            for k in g.keys {
                let key = t
                    .key(k)
                    .unwrap_or_else(|| panic!("{} has no key {k}", t.id));
                assert!(!key.required, "{}.{k} is in a group and required", t.id);
            }
        }
    }
}

#[test]
fn only_steps_have_kinds_and_bodies() {
    for t in all_tables() {
        let roles = t.keys.iter().any(|k| k.role != Role::Plain);
        assert_eq!(roles, std::ptr::eq(t, &STEP), "{}", t.id);
    }
    assert!(STEP.with_role(Role::Kind).all(|k| !k.required));
}

#[test]
fn enums_are_non_empty_and_unique() {
    for t in all_tables() {
        for k in t.keys {
            if let Ty::Enum(values) = k.ty {
                let set: HashSet<_> = values.iter().collect();
                assert!(
                    !values.is_empty() && set.len() == values.len(),
                    "{}",
                    k.name
                );
            }
        }
    }
}

/// Marks the keys of `t` that `y` uses, recursively.
fn cover(t: &'static Table, y: &Yaml, seen: &mut Seen) {
    let Some(entries) = y.as_map() else { return };
    for (name, v) in entries {
        if let Some(k) = t.key(&name.name) {
            seen.insert((t, k.name));
            cover_ty(&k.ty, v, seen);
        }
    }
}

fn cover_ty(ty: &Ty, y: &Yaml, seen: &mut Seen) {
    match (ty, &y.kind) {
        (Ty::Object(t), _) => cover(t, y, seen),
        (Ty::StepBody, _) => cover(&STEP, y, seen),
        (Ty::List { of, .. } | Ty::OneOrList(of), YamlKind::Seq(items)) => {
            items.iter().for_each(|i| cover_ty(of, i, seen))
        }
        (Ty::OneOrList(of), _) => cover_ty(of, y, seen),
        (Ty::Map { of, .. }, YamlKind::Map(m)) => m.iter().for_each(|(_, v)| cover_ty(of, v, seen)),
        (Ty::Either(tys), _) => tys.iter().for_each(|t| cover_ty(t, y, seen)),
        _ => {}
    }
}

type Seen = HashSet<(*const Table, &'static str)>;

fn cover_file(root: &'static Table, text: &str, seen: &mut Seen) {
    let tree = crate::load::yaml::parse(&source("x.yaml", text)).expect("YAML");
    cover(root, &tree, seen);
}

#[test]
fn the_fixtures_use_every_key() {
    let mut seen = Seen::new();
    cover_file(&WORKFLOW, FULL_WORKFLOW, &mut seen);
    cover_file(&CONFIG_FILE, FULL_CONFIG, &mut seen);
    let missing: Vec<String> = all_walked()
        .into_iter()
        .flat_map(|(prefix, t, _)| {
            let seen = &seen;
            t.keys
                .iter()
                .filter(move |k| !seen.contains(&(t as *const Table, k.name)))
                .map(move |k| format!("{prefix}{}", k.name))
        })
        .collect();
    assert!(missing.is_empty(), "the fixtures do not use {missing:?}");
}

#[test]
fn every_config_key_is_accepted() {
    let cfg = full_config();
    assert_eq!(cfg.services[0].endpoints[0].parameters.len(), 1);
    assert_eq!(
        cfg.telemetry.webhook_url.as_deref(),
        Some("http://localhost:1/hook")
    );
}

#[test]
fn every_workflow_key_is_accepted() {
    let wf = workflow(FULL_WORKFLOW).unwrap_or_else(|d| panic!("{d:#?}"));
    assert!(wf.steps.iter().any(|s| s.compensate.is_some()));
    let not_yet = walk(&WORKFLOW)
        .into_iter()
        .flat_map(|(_, t, _)| t.keys.iter())
        .filter(|k| k.support == Support::NotYet)
        .count();
    assert_eq!(not_yet, 0, "every workflow key runs");
}

#[test]
fn not_yet_keys_are_refused_wherever_they_are() {
    let refused = |yaml: &str| {
        let diags = workflow(yaml).err().unwrap_or_default();
        assert!(
            diags
                .iter()
                .any(|d| d.code == "not-supported" || d.code == "unknown-key"),
            "accepted: {yaml}"
        );
    };
    for k in STEP.keys.iter().filter(|k| k.support == Support::NotYet) {
        let step = match k.name {
            "workflow" => "workflow: child.yaml".to_string(),
            "compensate" => "run: x\n    compensate: { run: y }".into(),
            "with" => "run: x\n    with: { a: 1 }".into(),
            other => panic!("no check for `{other}`, which is not supported yet"),
        };
        refused(&format!("name: w\nsteps:\n  - id: s\n    {step}\n"));
    }
}

#[test]
fn every_allowed_value_is_accepted() {
    let wf = |extra: &str| workflow(&format!("name: w\n{extra}\nsteps: [{{ id: s, run: x }}]\n"));
    for s in SHELLS {
        wf(&format!("defaults: {{ shell: {s} }}")).unwrap_or_else(|d| panic!("{d:#?}"));
    }
    for t in INPUT_TYPES {
        wf(&format!("inputs: {{ x: {{ type: {t} }} }}")).unwrap_or_else(|d| panic!("{d:#?}"));
    }
    for s in DELAY_STRATEGIES {
        wf(&format!("defaults: {{ retry: {{ delay_strategy: {s} }} }}"))
            .unwrap_or_else(|d| panic!("{d:#?}"));
    }
    let cfg = |o: &str| config(&format!("orchestration:\n  {o}\n"));
    for a in POLICY_ACTIONS {
        cfg(&format!(
            "policies: {{ rules: [{{ id: r, when: 'true', action: {a} }}] }}"
        ))
        .unwrap_or_else(|d| panic!("{d:#?}"));
    }
    for m in MIDDLEWARE_IDS {
        cfg(&format!("middleware: [{{ id: {m} }}]")).unwrap_or_else(|d| panic!("{d:#?}"));
    }
    for a in AUTH_TYPES {
        cfg(&format!(
            "services: [{{ id: s, base_url: 'http://x', auth: {{ type: {a}, credential: c }} }}]"
        ))
        .unwrap_or_else(|d| panic!("{d:#?}"));
    }
    for p in PARAM_IN {
        cfg(&format!(
            "services: [{{ id: s, base_url: 'http://x', endpoints: [{{ id: e, parameters: [{{ name: n, in: {p} }}] }}] }}]"
        ))
        .unwrap_or_else(|d| panic!("{d:#?}"));
    }
}

#[test]
fn unknown_keys_list_the_table_in_order() {
    let diags =
        workflow("name: w\nsteps:\n  - id: s\n    run: x\n    compensate: { zzzzzzzz: 1 }\n")
            .err()
            .unwrap_or_default();
    let help = diags
        .iter()
        .find(|d| d.code == "unknown-key")
        .and_then(|d| d.help.clone());
    assert_eq!(
        help.as_deref(),
        Some("known keys: run, http, call, workflow, transform, approval, env, timeout, retry, shell, with")
    );
}

#[test]
fn word_lists() {
    assert_eq!(or_list(&["a"]), "a");
    assert_eq!(or_list(&["a", "b", "c"]), "a, b or c");
    assert_eq!(quoted_and(&["a", "b"]), "`a` and `b`");
    assert_eq!(quoted_or(SHELLS), "`sh` or `bash`");
}

#[test]
fn splicing_replaces_only_between_markers() {
    let mut text = String::from("intro\n");
    for id in [
        "workflow",
        "defaults",
        "input",
        "step-kinds",
        "step",
        "http",
        "call",
        "approval",
        "cache",
        "retry",
        "orchestration",
        "service",
        "not-supported",
        "no-effect",
    ] {
        text.push_str(&format!(
            "<!-- keys:{id} begin -->\nOLD TABLE\n<!-- keys:{id} end -->\nprose\n"
        ));
    }
    let once = splice_reference(&text).expect("splices");
    assert!(once.starts_with("intro\n<!-- keys:workflow begin -->\n| key | type |"));
    assert!(!once.contains("OLD TABLE"));
    assert_eq!(once.matches("prose\n").count(), 14);
    assert_eq!(splice_reference(&once).expect("splices"), once);

    let missing = text.replace("<!-- keys:retry end -->", "");
    assert!(matches!(
        splice_reference(&missing),
        Err(SpliceError::Missing("retry"))
    ));
    let unknown = format!("{text}<!-- keys:nothing begin -->\n");
    assert!(matches!(splice_reference(&unknown), Err(SpliceError::Unknown(id)) if id == "nothing"));
}

#[test]
fn durations_follow_their_pattern() {
    // Strings that match the pattern of `Ty::Duration`, and strings that do not.
    for ok in ["250ms", "30s", "10m", "2h", "1d", "1m30s", "1h30m", "0s"] {
        assert!(crate::validate::duration::parse(ok).is_ok(), "{ok}");
    }
    for bad in ["1.5s", "10", "s", "1 m", "3w", "m1"] {
        assert!(crate::validate::duration::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn middleware_toggles_reach_the_config() {
    let mw = |o: &str| {
        config(&format!("orchestration:\n  {o}\n"))
            .unwrap_or_else(|d| panic!("{d:#?}"))
            .middleware
    };
    let none = mw("pools: {}");
    assert!(none.authentication && !none.caching);
    let listed = mw("middleware: [ { id: caching }, { id: authentication, enabled: false } ]");
    assert!(!listed.authentication && listed.caching);
    // Any `enabled: false` entry wins, as for `metrics`.
    let off = mw("middleware: [ { id: caching }, { id: caching, enabled: false } ]");
    assert!(!off.caching);
}

/// The fixtures that use every key pass the generated schemas too, so no
/// key is stricter in the schema than in the validator.
#[test]
fn the_schemas_accept_every_key() {
    for (schema, text) in [
        (super::schema::workflow(), FULL_WORKFLOW),
        (super::schema::config(), FULL_CONFIG),
    ] {
        let v = jsonschema::draft7::new(&schema).expect("schema compiles");
        let doc: serde_json::Value = serde_yaml::from_str(text).expect("YAML");
        let errs: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errs.is_empty(), "{errs:#?}");
    }
}
