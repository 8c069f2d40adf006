//! Turning a step definition into what will actually run: expressions
//! evaluated, environment assembled. Shared by the engine and by `orch plan`
//! (which must compute the same cache fingerprints without running). What
//! each kind resolves to is its executor's (`steps/`); the workflow's
//! environment and the fingerprint's assembly are kind-independent and here.

use std::path::Path;

use serde_json::{json, Map, Value as Json};

use crate::expr::eval::{resolve, to_text};
use crate::expr::{Scope, StatusFns};
use crate::model::{Step, Workflow};
use crate::steps::{self, Body, ResolveCx};

use super::fingerprint::{self, Fingerprint};

/// A step body with its expressions evaluated.
pub(crate) type Resolved = Box<dyn Body>;

/// What the cache fingerprint covers besides the environment.
fn definition(step: &Step, body: &dyn Body, item: Option<&Json>, project_dir: &Path) -> Json {
    let mut def = Map::new();
    def.insert("definition".into(), json!(step.definition));
    def.insert(
        "timeout_ms".into(),
        json!(step.body.timeout.map(|t| t.as_millis() as u64)),
    );
    def.insert("item".into(), json!(item));
    body.definition(&mut def, project_dir);
    Json::Object(def)
}

/// A scope with no finished steps, for values resolved before any step runs.
pub(crate) fn with_scope_no_steps<T>(
    inputs: &Json,
    env: &Json,
    run: &Json,
    f: impl FnOnce(&Scope<'_>) -> T,
) -> T {
    let no_steps = |_: &str| None;
    let no_secrets = |_: &str| None;
    f(&Scope {
        inputs,
        env,
        run,
        steps: &no_steps,
        secrets: &no_secrets,
        item: None,
        index: None,
        error: None,
        step: None,
        status: StatusFns::default(),
    })
}

/// The workflow's `dotenv:` values (those orch's own environment does not
/// set: it wins, as dotenv tools do), then its `env:`, in file order (later
/// values may read earlier ones). Returns the resolved pairs and the `env`
/// context (process env plus these), or the first error.
pub(crate) fn workflow_env(
    wf: &Workflow,
    process_env: &[(String, String)],
    inputs: &Json,
    run: &Json,
) -> (Vec<(String, String)>, Json, Option<String>) {
    let mut env_map: Map<String, Json> = process_env
        .iter()
        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
        .collect();
    let mut pairs = Vec::new();
    for (k, v) in &wf.dotenv.vars {
        if !env_map.contains_key(k) {
            env_map.insert(k.clone(), Json::String(v.clone()));
            pairs.push((k.clone(), v.clone()));
        }
    }
    for (k, v) in &wf.env {
        let env_json = Json::Object(env_map.clone());
        match with_scope_no_steps(inputs, &env_json, run, |scope| resolve(v, scope)) {
            Ok(j) => {
                let text = to_text(&j);
                env_map.insert(k.clone(), Json::String(text.clone()));
                pairs.push((k.clone(), text));
            }
            Err(e) => {
                return (
                    pairs,
                    Json::Object(env_map),
                    Some(format!("workflow env `{k}`: {}", e.message)),
                )
            }
        }
    }
    (pairs, Json::Object(env_map), None)
}

/// Evaluate a step's body in `scope`. Errors name the field that failed.
pub(crate) fn resolve_body(
    step: &Step,
    scope: &Scope<'_>,
    base_env: &[(String, String)],
    project_dir: &Path,
) -> Result<Resolved, String> {
    let cx = ResolveCx {
        base_env,
        project_dir,
    };
    steps::resolve(step, scope, &cx).map_err(|e| e.message)
}

/// The cache fingerprint of a resolved step, or why it cannot be computed.
pub(crate) fn fingerprint(
    wf: &Workflow,
    step: &Step,
    resolved: &Resolved,
    item: Option<&Json>,
    scope: &Scope<'_>,
    project_dir: &Path,
) -> Result<Option<Fingerprint>, String> {
    let Some(spec) = &step.cache else {
        return Ok(None);
    };
    let key = match &spec.key {
        Some(k) => Some(to_text(
            &resolve(k, scope).map_err(|e| format!("cache key: {}", e.message))?,
        )),
        None => None,
    };
    let base = match wf.source.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let sources = fingerprint::hash_sources(base, &spec.sources)?;
    Ok(Some(fingerprint::compute(
        &wf.name,
        &step.id,
        &definition(step, &**resolved, item, project_dir),
        resolved.env(),
        key.as_deref(),
        sources,
    )))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::source::Source;

    const CONFIG: &str = "orchestration:
  services:
    - id: api
      base_url: http://127.0.0.1:9
      capabilities: [sum]
      endpoints: [ { id: add, method: POST, path: /add } ]
";

    const WORKFLOW: &str = r#"name: fp
env: { A: "1" }
steps:
  - id: run
    cache: { key: "k-${{ inputs.n }}" }
    env: { B: "${{ inputs.n }}" }
    working_dir: sub
    run: echo ${{ inputs.n }}
  - id: get
    cache: {}
    timeout: 5s
    http:
      url: "http://127.0.0.1:9/x/${{ inputs.n }}"
      method: POST
      headers: { X-A: "a" }
      query: { q: "${{ inputs.n }}" }
      json: { n: "${{ inputs.n }}" }
  - id: svc
    cache: {}
    call: { capability: sum, endpoint: add, with: { n: "${{ inputs.n }}" } }
  - id: calc
    cache: {}
    transform: { twice: "${{ inputs.n * 2 }}" }
inputs:
  n: { type: number }
"#;

    /// The fingerprints of each kind, pinned: entries written by earlier
    /// versions must still be found.
    #[test]
    fn fingerprints_are_stable() {
        let cfg_src = Arc::new(Source::new("o.yaml", "o.yaml", CONFIG));
        let cfg = crate::validate::config::config(&cfg_src).expect("config");
        let src = Arc::new(Source::new("t.yaml", "t.yaml", WORKFLOW));
        let wf = crate::validate::workflow_source(&src, &cfg).expect("valid");
        let inputs = json!({"n": 3});
        let run = json!({"id": "", "workflow": "fp", "attempt": 1, "started_at": ""});
        let (base_env, env_ctx, err) = workflow_env(&wf, &[], &inputs, &run);
        assert!(err.is_none());
        let dir = Path::new("/p");
        let digests: Vec<(String, String)> = wf
            .steps
            .iter()
            .map(|s| {
                let fp = with_scope_no_steps(&inputs, &env_ctx, &run, |scope| {
                    let r = resolve_body(s, scope, &base_env, dir)?;
                    fingerprint(&wf, s, &r, Some(&json!("it")), scope, dir)
                });
                let fp = fp.expect("fingerprint").expect("cached");
                (s.id.clone(), fp.digest)
            })
            .collect();
        let want: Vec<(String, String)> = [
            (
                "run",
                "e5c99925afd9bc77dc8ae83d0178e3ea21f8555ad5450f7ef927ce74a6213c46",
            ),
            (
                "get",
                "284c8e444977d8eea57ae9f111c7c04c4a966737d4a56cbfa994a1d045cbb4d3",
            ),
            (
                "svc",
                "284bb38d10546cd9c07b32ff27492bcb6bcf36bafdce992e58a6eca820a6a37b",
            ),
            (
                "calc",
                "9f2d5f09fcf1e19af536a76067ea3bacb2f04bf45a91a1cf50954bb11aca09f7",
            ),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(digests, want);
    }
}
