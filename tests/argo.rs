//! `orch export argo`: every shipped workflow exports or is refused with a
//! located diagnostic; each manifest validates against Argo's `Workflow`
//! schema with unknown fields refused; the semantics (dependencies, retry
//! limits, outputs wiring) are checked on the parsed manifest; no secret
//! value ever reaches it.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::common::{orch, project, repo_root};

fn compile_schema(file: &str) -> jsonschema::Validator {
    let path = repo_root().join("tests/fixtures/argo").join(file);
    let schema: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// Argo Workflows v4.0.5 `Workflow`, strict (see the fixture's README).
fn validator() -> &'static jsonschema::Validator {
    static V: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    V.get_or_init(|| compile_schema("workflow.schema.json"))
}

/// Argo Workflows v4.0.5 `WorkflowTemplate`, strict.
fn template_validator() -> &'static jsonschema::Validator {
    static V: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    V.get_or_init(|| compile_schema("workflow-template.schema.json"))
}

/// The manifest as JSON, through a YAML reader of its own (not orch's): plain
/// scalars typed as YAML's core schema reads them, quoted ones strings.
fn typed(text: &str) -> Json {
    let opts = marked_yaml::LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    let node = marked_yaml::parse_yaml_with_options(0, text, opts)
        .unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"));
    fn conv(n: &marked_yaml::Node) -> Json {
        match n {
            marked_yaml::Node::Scalar(s) => {
                let t = s.as_str();
                if s.may_coerce() {
                    if let Ok(i) = t.parse::<i64>() {
                        return Json::from(i);
                    }
                    match t {
                        "true" | "false" => return Json::Bool(t == "true"),
                        "null" | "~" => return Json::Null,
                        _ => {}
                    }
                }
                Json::String(t.to_string())
            }
            marked_yaml::Node::Sequence(s) => Json::Array(s.iter().map(conv).collect()),
            marked_yaml::Node::Mapping(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| (k.as_str().to_string(), conv(v)))
                    .collect(),
            ),
        }
    }
    conv(&node)
}

fn schema_errors(manifest: &Json) -> Vec<String> {
    validator()
        .iter_errors(manifest)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Every document of an export (`---` between them), each valid against
/// the schema of its kind: WorkflowTemplates first, the Workflow last.
fn documents(text: &str, what: &str) -> Vec<Json> {
    let docs: Vec<Json> = text.split("\n---\n").map(typed).collect();
    let (last, templates) = docs.split_last().expect("one document at least");
    assert_valid(last, what);
    for t in templates {
        assert_valid_as(template_validator(), "WorkflowTemplate", t, what);
    }
    docs
}

fn assert_valid(manifest: &Json, what: &str) {
    assert_valid_as(validator(), "Workflow", manifest, what);
}

fn assert_valid_as(v: &jsonschema::Validator, kind: &str, doc: &Json, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: not a valid Argo {kind}:\n{}",
        errors.join("\n")
    );
    assert_eq!(doc["apiVersion"], "argoproj.io/v1alpha1", "{what}");
    assert_eq!(doc["kind"], kind, "{what}");
}

fn export(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = orch(dir)
        .arg("export")
        .arg("argo")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn template<'a>(m: &'a Json, name: &str) -> &'a Json {
    m["spec"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no template {name}"))
}

fn task<'a>(m: &'a Json, dag: &str, name: &str) -> &'a Json {
    template(m, dag)["dag"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {dag}"))
}

/// Every `(file, dir to run in, refusal)`: `None` exports as it is; a
/// refusal lists what its diagnostics must say, with `file:line:col`.
fn expectations() -> Vec<(&'static str, &'static str, Option<&'static [&'static str]>)> {
    vec![
        (
            "examples/diamond.yaml",
            ".",
            Some(&[
                "examples/diamond.yaml:65:12",
                "cannot see the status of a main step",
            ]),
        ),
        (
            "examples/failing-saga.yaml",
            ".",
            Some(&[
                "examples/failing-saga.yaml:24:5",
                "`compensate:`",
                "examples/failing-saga.yaml:51:37",
            ]),
        ),
        (
            "examples/failing.yaml",
            ".",
            Some(&[
                "examples/failing.yaml:37:23",
                "exit handler",
                "examples/failing.yaml:47:12",
            ]),
        ),
        (
            "examples/failure-handlers.yaml",
            ".",
            Some(&["examples/failure-handlers.yaml:32:21", "steps.lint.status"]),
        ),
        (
            "examples/fan-out.yaml",
            ".",
            Some(&[
                "examples/fan-out.yaml:29:5",
                "`ORCH_INDEX`",
                "size(steps.deploy.items)",
            ]),
        ),
        (
            "examples/env-file.yaml",
            ".",
            Some(&[
                "examples/env-file.yaml:18:1",
                "`dotenv:` files are read where orch runs",
                "examples/env-file.yaml:24:5",
                "`ORCH_ENV`",
            ]),
        ),
        (
            "examples/matrix.yaml",
            ".",
            Some(&[
                "examples/matrix.yaml:27:5",
                "`ORCH_INDEX`",
                "examples/matrix.yaml:38:24",
                "size(steps.test.items)",
            ]),
        ),
        (
            "examples/inputs.yaml",
            ".",
            Some(&["examples/inputs.yaml:47:20", "toJSON(inputs.features)"]),
        ),
        (
            "examples/outputs-transforms.yaml",
            ".",
            Some(&["examples/outputs-transforms.yaml:30:5", "`outputs:`"]),
        ),
        (
            "examples/release-gate.yaml",
            ".",
            Some(&[
                "examples/release-gate.yaml:32:7",
                "cache.sources",
                "resumes (approves)",
            ]),
        ),
        (
            "examples/retry-backoff.yaml",
            ".",
            Some(&["examples/retry-backoff.yaml:23:21", "retry condition"]),
        ),
        (
            "examples/timeouts.yaml",
            ".",
            Some(&[
                "examples/timeouts.yaml:20:5",
                "whole seconds",
                "examples/timeouts.yaml:25:21",
            ]),
        ),
        ("examples/sub-workflows/deploy-region.yaml", ".", None),
        (
            "examples/sub-workflows/release.yaml",
            ".",
            Some(&[
                "examples/sub-workflows/release.yaml:33:20",
                "size(steps.deploy.items)",
                "examples/sub-workflows/release.yaml:34:21",
            ]),
        ),
        ("examples/sub-workflows/rollout.yaml", ".", None),
        (
            "workflows/summarize.yaml",
            "examples/services",
            Some(&[
                "workflows/summarize.yaml:15:19",
                "falls over to the next service",
                "circuit breaker",
                "orchestration.yaml:14:15",
                "policy rule",
            ]),
        ),
        ("workflows/hello.yaml", ".", None),
    ]
}

/// Every workflow file under examples/ and workflows/, recursively.
fn shipped() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml")
                && p.file_name().is_some_and(|n| n != "orchestration.yaml")
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for d in ["examples", "workflows"] {
        walk(&repo_root().join(d), &mut out);
    }
    out.sort();
    out
}

#[test]
fn every_shipped_workflow_is_listed() {
    let listed: Vec<PathBuf> = expectations()
        .iter()
        .map(|(f, d, _)| repo_root().join(d).join(f))
        .collect();
    for f in shipped() {
        assert!(
            listed.contains(&f),
            "{} has no expectation in tests/argo.rs",
            f.display()
        );
    }
}

/// The needs of each step of a workflow file, with Argo names.
fn needs_of(m: &Json, dag: &str) -> Vec<(String, Vec<String>)> {
    template(m, dag)["dag"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let mut deps: Vec<String> = match (&t["dependencies"], &t["depends"]) {
                (Json::Array(a), _) => a.iter().map(|d| d.as_str().unwrap().to_string()).collect(),
                (_, Json::String(s)) => s
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                    .filter(|w| !w.is_empty())
                    .map(|w| w.split('.').next().unwrap().to_string())
                    .collect(),
                _ => Vec::new(),
            };
            deps.sort();
            deps.dedup();
            (t["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn every_shipped_workflow_exports_or_is_refused_where_it_says() {
    for (file, dir, refusal) in expectations() {
        let dir = repo_root().join(dir);
        let (code, stdout, stderr) = export(&dir, &[file]);
        match refusal {
            None => {
                assert_eq!(code, 0, "{file}: {stderr}");
                assert_eq!(documents(&stdout, file).len(), 1, "{file}: one document");
                let (code, stdout, stderr) = export(&dir, &[file, "--templates"]);
                assert_eq!(code, 0, "{file} --templates: {stderr}");
                documents(&stdout, &format!("{file} --templates"));
            }
            Some(says) => {
                assert_eq!(code, 2, "{file} should be refused:\n{stdout}{stderr}");
                assert!(
                    stdout.is_empty(),
                    "{file}: a refused export writes no manifest"
                );
                for s in says {
                    assert!(
                        flat(&stderr).contains(s),
                        "{file}: expected `{s}` in:\n{stderr}"
                    );
                }
                // Lenient: the manifest, valid, a comment and a warning per drop.
                let (code, stdout, stderr) = export(&dir, &[file, "--lenient"]);
                assert_eq!(code, 0, "{file} --lenient: {stderr}");
                documents(&stdout, &format!("{file} --lenient"));
                let drops = stdout
                    .lines()
                    .filter(|l| l.starts_with("# dropped: "))
                    .count();
                let warnings = stderr
                    .lines()
                    .filter(|l| l.starts_with("warning: dropped"))
                    .count();
                assert!(
                    drops > 0 && drops == warnings,
                    "{file}: {drops} comments, {warnings} warnings:\n{stderr}"
                );
            }
        }
    }
}

/// Rendered diagnostics as one line: miette wraps long messages.
fn flat(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| l.trim_start_matches([' ', '│']))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_schema_refuses_unknown_fields_and_wrong_types() {
    let (code, stdout, stderr) = export(&repo_root(), &["workflows/hello.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    let good = typed(&stdout);
    assert!(schema_errors(&good).is_empty());
    let mut extra = good.clone();
    extra["spec"]["templates"][1]["script"]["shell"] = Json::from("sh");
    assert!(!schema_errors(&extra).is_empty(), "an unknown field passed");
    let mut wrong = good.clone();
    wrong["spec"]["templates"][0]["dag"]["tasks"] = Json::from("greet");
    assert!(!schema_errors(&wrong).is_empty(), "a wrong type passed");
}

#[test]
fn dependencies_are_the_needs() {
    let dir = repo_root();
    let (code, stdout, stderr) = export(&dir, &["examples/diamond.yaml", "--lenient"]);
    assert_eq!(code, 0, "{stderr}");
    let m = typed(&stdout);
    let needs = needs_of(&m, "orch-main");
    assert_eq!(
        needs,
        vec![
            ("prepare".to_string(), vec![]),
            ("compile-a".to_string(), vec!["prepare".to_string()]),
            ("compile-b".to_string(), vec!["prepare".to_string()]),
            (
                "link".to_string(),
                vec!["compile-a".to_string(), "compile-b".to_string()]
            ),
        ]
    );
    assert_eq!(m["spec"]["onExit"], "orch-exit");
    assert_eq!(task(&m, "orch-exit", "cleanup")["template"], "cleanup");
}

const RICH: &str = r#"name: rich_flow
inputs:
  env: { type: string, default: staging, enum: [staging, prod] }
  dry_run: { type: boolean, default: false }
  regions: { type: list, default: [eu, us] }
concurrency: 3
timeout: 1h
env:
  STAGE: ${{ inputs.env }}
steps:
  - id: build_image
    retry: { max_attempts: 4, delay_strategy: exponential, base_delay: 2s, factor: 3, max_delay: 1m, condition: "${{ error.exit_code == 75 }}" }
    timeout: 10m
    run: |
      echo "digest=sha256:abc" >> "$ORCH_OUTPUT"
      {
        echo "notes<<EOF"
        echo "line one"
        echo "line two"
        echo "EOF"
      } >> "$ORCH_OUTPUT"
  - id: deploy
    needs: build_image
    if: ${{ inputs.env == 'prod' && !inputs.dry_run }}
    for_each: ${{ inputs.regions }}
    env:
      DIGEST: ${{ steps.build_image.outputs.digest }}
      TOKEN: ${{ secrets.api_token }}
    run: echo "deploy $DIGEST to $ORCH_ITEM in run ${{ run.id }}"
  - id: notify
    needs: [deploy]
    if: ${{ always() }}
    http:
      url: https://hooks.example/notify
      method: POST
      json: { env: "${{ inputs.env }}", notes: "${{ steps.build_image.outputs.notes }}" }
      expect_status: [200, 202]
    retry: { max_attempts: 1 }
    timeout: 5s
  - id: approve
    needs: build_image
    approval: { message: ship it? }
outputs:
  digest: ${{ steps.build_image.outputs.digest }}
finally:
  - id: report
    run: echo "built ${{ steps.build_image.outputs.digest }}"
"#;

#[test]
fn the_manifest_means_what_the_workflow_says() {
    let dir = project(&[("rich.yaml", RICH)]);
    let (code, stdout, stderr) = export(dir.path(), &["rich.yaml", "--image", "ghcr.io/acme/ci:1"]);
    assert_eq!(code, 0, "{stderr}");
    let m = typed(&stdout);
    assert_valid(&m, "rich.yaml");
    let spec = &m["spec"];
    assert_eq!(m["metadata"]["generateName"], "rich-flow-");
    assert_eq!(spec["parallelism"], 3);
    assert_eq!(spec["activeDeadlineSeconds"], 3600);
    let params = spec["arguments"]["parameters"].as_array().unwrap();
    assert_eq!(params[0]["name"], "env");
    assert_eq!(params[0]["value"], "staging");
    assert_eq!(params[0]["enum"], serde_json::json!(["staging", "prod"]));
    assert_eq!(params[2]["value"], r#"["eu","us"]"#);

    // Names are DNS-1123; retries count retries (max_attempts − 1).
    let build = template(&m, "build-image");
    assert_eq!(build["retryStrategy"]["limit"], 3);
    assert_eq!(build["retryStrategy"]["backoff"]["duration"], "2s");
    assert_eq!(build["retryStrategy"]["backoff"]["factor"], 3);
    assert_eq!(build["retryStrategy"]["backoff"]["cap"], "60s");
    assert_eq!(
        build["retryStrategy"]["expression"],
        "asInt(lastRetry.exitCode) == 75"
    );
    assert_eq!(build["activeDeadlineSeconds"], 600);
    assert_eq!(build["script"]["image"], "ghcr.io/acme/ci:1");

    // Outputs: declared on the producer, passed to the consumer by its task.
    let outs = build["outputs"]["parameters"].as_array().unwrap();
    let digest = outs.iter().find(|p| p["name"] == "digest").unwrap();
    assert_eq!(digest["valueFrom"]["path"], "/tmp/orch/outputs/digest");
    assert_eq!(
        digest["globalName"], "build-image_digest",
        "read by the exit handler"
    );
    assert!(
        outs.iter().any(|p| p["globalName"] == "digest"),
        "the workflow output"
    );
    let deploy = task(&m, "orch-main", "deploy");
    assert_eq!(deploy["dependencies"], serde_json::json!(["build-image"]));
    assert_eq!(
        deploy["when"],
        "('{{workflow.parameters.env}}' == 'prod') && (!({{workflow.parameters.dry_run}} == true))"
    );
    assert_eq!(deploy["withParam"], "{{workflow.parameters.regions}}");
    let args = deploy["arguments"]["parameters"].as_array().unwrap();
    let arg = args
        .iter()
        .find(|a| a["value"] == "{{tasks.build-image.outputs.parameters.digest}}")
        .unwrap();
    let env = template(&m, "deploy")["script"]["env"].as_array().unwrap();
    let var = env.iter().find(|e| e["name"] == "DIGEST").unwrap();
    assert_eq!(
        var["value"],
        format!(
            "{{{{inputs.parameters.{}}}}}",
            arg["name"].as_str().unwrap()
        )
    );

    // always() → depends on every need in any state; http as an http template.
    let notify = task(&m, "orch-main", "notify");
    assert!(
        notify["depends"]
            .as_str()
            .unwrap()
            .contains("deploy.Failed"),
        "{notify}"
    );
    let http = &template(&m, "notify")["http"];
    assert_eq!(
        http["successCondition"],
        "response.statusCode == 200 || response.statusCode == 202"
    );
    assert_eq!(http["timeoutSeconds"], 5);
    assert!(http["body"]
        .as_str()
        .unwrap()
        .contains("sprig.toJson(workflow.parameters['env'])"));
    assert!(template(&m, "approve").get("suspend").is_some());

    // The secret is a secretKeyRef of the configured Secret.
    let token = env.iter().find(|e| e["name"] == "TOKEN").unwrap();
    assert_eq!(
        token["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "orch-secrets", "key": "api_token"})
    );
    // The exit handler reads main outputs through their global names.
    let report = template(&m, "report");
    assert!(report["script"]["source"]
        .as_str()
        .unwrap()
        .contains("{{workflow.outputs.parameters.build-image_digest}}"));
}

#[test]
fn the_output_wrapper_runs_and_writes_one_file_per_key() {
    let dir = project(&[("rich.yaml", RICH)]);
    let (code, stdout, stderr) = export(dir.path(), &["rich.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    let m = typed(&stdout);
    let source = template(&m, "build-image")["script"]["source"]
        .as_str()
        .unwrap()
        .to_string();
    // Run the script Argo would run, with its scratch directory moved here.
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("orch");
    let script = source
        .replace("/tmp/orch", root.to_str().unwrap())
        .replace("{{retries}}", "0");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |k: &str| std::fs::read_to_string(root.join("outputs").join(k)).unwrap();
    assert_eq!(read("digest"), "sha256:abc");
    assert_eq!(read("notes"), "line one\nline two");
    // A failing script fails the wrapper with its exit code.
    let failing = script.replace("echo \"digest=sha256:abc\"", "exit 75; echo");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&failing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75));
}

#[test]
fn no_secret_value_reaches_the_manifest() {
    let canary = "canary-7f3a9-do-not-leak";
    let config = r#"orchestration:
  services:
    - id: api
      base_url: http://localhost:9
      auth: { type: bearer, credential: api_token }
      endpoints:
        - { id: ping, method: GET, path: /ping }
"#;
    let wf = r#"name: canary
steps:
  - id: use
    env: { TOKEN: "${{ secrets.api_token }}" }
    run: echo "$TOKEN" | wc -c
  - id: call_api
    retry: { max_attempts: 1 }
    call: { service: api, endpoint: ping }
"#;
    let dir = project(&[("orchestration.yaml", config), ("canary.yaml", wf)]);
    let out_file = dir.path().join("out.yaml");
    let out = orch(dir.path())
        .env("ORCH_SECRET_API_TOKEN", canary)
        .args(["export", "argo", "canary.yaml", "-o"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&out_file).unwrap();
    for bytes in [&out.stdout, &out.stderr, written.as_bytes()] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(canary),
            "the secret value leaked"
        );
    }
    let m = typed(&written);
    assert_valid(&m, "canary.yaml");
    let headers = template(&m, "call-api")["http"]["headers"]
        .as_array()
        .unwrap();
    assert_eq!(headers[0]["name"], "Authorization");
    assert_eq!(headers[0]["valueFrom"]["secretKeyRef"]["key"], "api_token");
    assert_eq!(
        template(&m, "call-api")["http"]["url"],
        "http://localhost:9/ping"
    );
    let secret = orch(dir.path())
        .args([
            "export",
            "argo",
            "canary.yaml",
            "--secret-name",
            "team-keys",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&secret.stdout).contains("\"team-keys\""));
}

#[test]
fn names_that_collide_are_refused() {
    let wf =
        "name: c\nsteps:\n  - {id: build_image, run: 'true'}\n  - {id: build-image, run: 'true'}\n";
    let dir = project(&[("c.yaml", wf)]);
    let (code, _, stderr) = export(dir.path(), &["c.yaml"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!("argo_name_collision", stderr.clone());
}

#[test]
fn an_untranslatable_expression_is_located() {
    let wf = "name: e\nsteps:\n  - id: a\n    run: echo ${{ size('abc') }}\n";
    let dir = project(&[("e.yaml", wf)]);
    let (code, _, stderr) = export(dir.path(), &["e.yaml"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!("argo_untranslatable_expression", stderr.clone());
}

#[test]
fn orch_env_is_refused() {
    let wf = "name: e\nsteps:\n  - id: a\n    run: echo X=1 >> \"$ORCH_ENV\"\n";
    let dir = project(&[("e.yaml", wf)]);
    let (code, _, stderr) = export(dir.path(), &["e.yaml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("e.yaml:4:5") && stderr.contains("ORCH_ENV"),
        "{stderr}"
    );
}

#[test]
fn golden_manifests() {
    for (name, dir, args) in [
        ("argo_hello", ".", vec!["workflows/hello.yaml"]),
        (
            "argo_deploy_region",
            ".",
            vec!["examples/sub-workflows/deploy-region.yaml"],
        ),
        (
            "argo_diamond_lenient",
            ".",
            vec!["examples/diamond.yaml", "--lenient"],
        ),
        (
            "argo_rollout",
            ".",
            vec!["examples/sub-workflows/rollout.yaml"],
        ),
        (
            "argo_rollout_templates",
            ".",
            vec!["examples/sub-workflows/rollout.yaml", "--templates"],
        ),
    ] {
        let (code, stdout, stderr) = export(&repo_root().join(dir), &args);
        assert_eq!(code, 0, "{name}: {stderr}");
        insta::assert_snapshot!(name, stdout);
    }
}

fn templates_named(m: &Json, name: &str) -> usize {
    m["spec"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == name)
        .count()
}

#[test]
fn a_child_workflow_becomes_a_dag_template_with_its_inputs_and_outputs() {
    let file = "examples/sub-workflows/rollout.yaml";
    let (code, stdout, stderr) = export(&repo_root(), &[file]);
    assert_eq!(code, 0, "{stderr}");
    let docs = documents(&stdout, file);
    let m = docs.last().unwrap();

    // The child, once, though two steps call it; its DAG is the child's needs.
    let child = template(m, "deploy-region--orch-main");
    assert_eq!(templates_named(m, "deploy-region--orch-main"), 1);
    let inputs: Vec<&str> = child["inputs"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["region", "version"]);
    assert_eq!(
        child["outputs"]["parameters"][0],
        serde_json::json!({"name": "url", "valueFrom": {"parameter": "{{tasks.address.outputs.parameters.url}}"}})
    );
    assert_eq!(
        needs_of(m, "deploy-region--orch-main"),
        [
            ("upload".to_string(), vec![]),
            ("smoke-test".to_string(), vec!["upload".to_string()]),
            ("address".to_string(), vec!["smoke-test".to_string()]),
        ]
    );
    // Inside the child, an input is the DAG's input, passed to each pod.
    let upload = task(m, "deploy-region--orch-main", "upload");
    assert_eq!(upload["template"], "deploy-region--upload");
    assert!(upload["arguments"]["parameters"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"name": "region", "value": "{{inputs.parameters.region}}"})));
    assert!(template(m, "deploy-region--upload")["script"]["source"]
        .as_str()
        .unwrap()
        .contains("uploading {{inputs.parameters.version}} to {{inputs.parameters.region}}"));

    // The caller: `with:` as arguments; the child's output read back.
    let canary = task(m, "orch-main", "canary");
    assert_eq!(canary["template"], "deploy-region--orch-main");
    assert_eq!(
        canary["arguments"]["parameters"],
        serde_json::json!([
            {"name": "region", "value": "canary"},
            {"name": "version", "value": "{{tasks.build.outputs.parameters.version}}"},
        ])
    );
    let announce = task(m, "orch-main", "announce");
    assert!(announce["arguments"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["value"] == "{{tasks.canary.outputs.parameters.url}}"));
    assert_eq!(
        needs_of(m, "orch-main"),
        [
            ("build".to_string(), vec![]),
            ("test".to_string(), vec!["build".to_string()]),
            ("canary".to_string(), vec!["test".to_string()]),
            ("deploy".to_string(), vec!["canary".to_string()]),
            ("announce".to_string(), vec!["deploy".to_string()]),
        ]
    );
}

#[test]
fn max_parallel_is_the_parallelism_of_a_template_around_the_fan_out() {
    let file = "examples/sub-workflows/rollout.yaml";
    let (code, stdout, stderr) = export(&repo_root(), &[file]);
    assert_eq!(code, 0, "{stderr}");
    let m = documents(&stdout, file).pop().unwrap();
    let deploy = task(&m, "orch-main", "deploy");
    assert_eq!(deploy["template"], "deploy--items");
    assert!(
        deploy.get("withParam").is_none(),
        "the fan-out moved inside"
    );
    assert_eq!(
        deploy["arguments"]["parameters"],
        serde_json::json!([{"name": "build-version", "value": "{{tasks.build.outputs.parameters.version}}"}])
    );
    let wrapper = template(&m, "deploy--items");
    assert_eq!(wrapper["parallelism"], 1);
    let inner = task(&m, "deploy--items", "deploy");
    assert_eq!(inner["template"], "deploy-region--orch-main");
    assert_eq!(inner["withParam"], "{{workflow.parameters.regions}}");
    assert_eq!(
        inner["arguments"]["parameters"],
        serde_json::json!([
            {"name": "region", "value": "{{item}}"},
            {"name": "version", "value": "{{inputs.parameters.build-version}}"},
        ])
    );
    assert_eq!(template(&m, "test--items")["parallelism"], 2);
}

#[test]
fn a_matrix_exports_the_combinations_orch_runs() {
    let file = "examples/sub-workflows/rollout.yaml";
    let (code, stdout, stderr) = export(&repo_root(), &[file]);
    assert_eq!(code, 0, "{stderr}");
    let m = documents(&stdout, file).pop().unwrap();
    let items = task(&m, "test--items", "test")["withItems"].clone();
    let exported: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "test ({}, {})",
                i["os"].as_str().unwrap(),
                i["arch"].as_str().unwrap()
            )
        })
        .collect();
    // What orch itself runs, in its order.
    let out = orch(&repo_root())
        .args(["run", file, "--output", "plain"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut ran: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once(" test (").map(|(_, r)| r))
        .filter_map(|r| {
            r.split_once(") started")
                .map(|(c, _)| format!("test ({c})"))
        })
        .collect();
    ran.sort();
    let mut sorted = exported.clone();
    sorted.sort();
    assert_eq!(sorted, ran, "orch ran:\n{text}");
    assert_eq!(
        exported,
        [
            "test (linux, amd64)",
            "test (linux, arm64)",
            "test (mac, arm64)"
        ]
    );
}

#[test]
fn with_templates_a_child_is_a_workflow_template_named_by_template_ref() {
    let file = "examples/sub-workflows/rollout.yaml";
    let (code, stdout, stderr) = export(&repo_root(), &[file, "--templates"]);
    assert_eq!(code, 0, "{stderr}");
    let docs = documents(&stdout, file);
    assert_eq!(docs.len(), 2, "one WorkflowTemplate, then the Workflow");
    let wt = &docs[0];
    assert_eq!(wt["metadata"]["name"], "deploy-region");
    assert_eq!(wt["spec"]["entrypoint"], "orch-main");
    assert_eq!(
        wt["spec"]["templates"][0]["inputs"]["parameters"][0]["name"],
        "region"
    );
    let m = &docs[1];
    assert_eq!(templates_named(m, "deploy-region--orch-main"), 0);
    assert_eq!(
        task(m, "orch-main", "canary")["templateRef"],
        serde_json::json!({"name": "deploy-region", "template": "orch-main"})
    );
    assert_eq!(
        task(m, "deploy--items", "deploy")["templateRef"],
        serde_json::json!({"name": "deploy-region", "template": "orch-main"})
    );
}

#[test]
fn what_a_child_cannot_take_to_argo_is_refused_where_it_is_written() {
    let child = "name: child\ninputs:\n  who: { type: string, required: true }\nsteps:\n  - id: hi\n    run: echo hi ${{ inputs.who }}\noutputs:\n  greeting: ${{ steps.hi.outputs.g }}\nfinally:\n  - id: bye\n    run: echo bye\n";
    let parent = "name: parent\nsteps:\n  - id: call\n    workflow: child.yaml\n    retry: { max_attempts: 2 }\n    with:\n      who: me\n  - id: grid\n    matrix:\n      os: [linux, mac]\n      include:\n        - { os: mac, xcode: '15' }\n    run: echo ${{ item.xcode }}\noutputs:\n  direct: ${{ steps.call.outputs.greeting }}\n";
    let dir = project(&[("child.yaml", child), ("parent.yaml", parent)]);
    let (code, stdout, stderr) = export(dir.path(), &["parent.yaml"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let said = flat(&stderr);
    for s in [
        "parent.yaml:5:5",
        "a retried `workflow:` step",
        "parent.yaml:9:5",
        "`item.xcode`, which the combination {os: \"linux\"} has not",
        "parent.yaml:14:1",
        "an output of the `workflow:` step `call`",
        "child.yaml:9:1",
        "`finally:` of a child workflow",
    ] {
        assert!(said.contains(s), "expected `{s}` in:\n{stderr}");
    }
    // The parent's problems first, then the child's, each in file order.
    let at = |s: &str| stderr.find(s).unwrap();
    assert!(at("parent.yaml:5:5") < at("parent.yaml:9:5"));
    assert!(at("parent.yaml:9:5") < at("child.yaml:9:1"));
}

#[test]
fn grandchildren_are_compiled_once_and_children_of_one_name_kept_apart() {
    let leaf = "name: leaf\ninputs:\n  n: { type: string, default: '1' }\nsteps:\n  - id: say\n    run: echo \"n=${{ inputs.n }}\" >> \"$ORCH_OUTPUT\"\noutputs:\n  n: ${{ steps.say.outputs.n }}\n";
    let mid = "name: mid\ninputs:\n  n: { type: string, required: true }\nsteps:\n  - id: inner\n    workflow: leaf.yaml\n    with: { n: \"${{ inputs.n }}\" }\noutputs:\n  n: ${{ steps.inner.outputs.n }}\n";
    let other = "name: leaf\nsteps:\n  - id: other\n    run: echo other\n";
    let top = "name: top\nsteps:\n  - id: m\n    workflow: mid.yaml\n    with: { n: '7' }\n  - id: direct\n    workflow: leaf.yaml\n  - id: other\n    workflow: a/leaf.yaml\n  - id: show\n    needs: [m, direct]\n    run: echo ${{ steps.m.outputs.n }} ${{ steps.direct.outputs.n }}\n";
    let dir = project(&[
        ("leaf.yaml", leaf),
        ("mid.yaml", mid),
        ("a/leaf.yaml", other),
        ("top.yaml", top),
    ]);
    let (code, stdout, stderr) = export(dir.path(), &["top.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    let m = documents(&stdout, "top.yaml").pop().unwrap();
    assert_eq!(
        templates_named(&m, "leaf--orch-main"),
        1,
        "called twice, compiled once"
    );
    assert_eq!(task(&m, "orch-main", "m")["template"], "mid--orch-main");
    assert_eq!(
        task(&m, "mid--orch-main", "inner")["template"],
        "leaf--orch-main"
    );
    assert_eq!(
        task(&m, "mid--orch-main", "inner")["arguments"]["parameters"][0]["value"],
        "{{inputs.parameters.n}}"
    );
    // The middle child's output is its grandchild's, wired through.
    assert_eq!(
        template(&m, "mid--orch-main")["outputs"]["parameters"][0]["valueFrom"]["parameter"],
        "{{tasks.inner.outputs.parameters.n}}"
    );
    assert_eq!(
        task(&m, "orch-main", "other")["template"],
        "leaf-2--orch-main"
    );
    assert_eq!(template(&m, "leaf-2--other")["name"], "leaf-2--other");
    // An input with a default that `with:` leaves out keeps its default.
    assert_eq!(
        template(&m, "leaf--orch-main")["inputs"]["parameters"][0],
        serde_json::json!({"name": "n", "default": "1"})
    );

    let (code, stdout, stderr) = export(dir.path(), &["top.yaml", "--templates"]);
    assert_eq!(code, 0, "{stderr}");
    let docs = documents(&stdout, "top.yaml --templates");
    let names: Vec<&str> = docs[..docs.len() - 1]
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["leaf", "mid", "leaf-2"]);
    assert_eq!(
        docs[1]["spec"]["templates"][0]["dag"]["tasks"][0]["templateRef"],
        serde_json::json!({"name": "leaf", "template": "orch-main"})
    );
}
