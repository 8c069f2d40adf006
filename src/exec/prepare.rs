//! Turning a step definition into what will actually run: expressions
//! evaluated, environment assembled. Shared by the engine and by `orch plan`
//! (which must compute the same cache fingerprints without running).

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value as Json};

use crate::expr::eval::{resolve, to_text};
use crate::expr::{Scope, StatusFns};
use crate::model::{CallTarget, HttpBody, Step, StepKind, Workflow};
use crate::steps::http;

use super::fingerprint::{self, Fingerprint};

/// A step body with its expressions evaluated.
#[derive(Debug, Clone)]
pub enum Resolved {
    Run {
        script: String,
        /// Workflow env, then the step's env (no `ORCH_*` yet).
        env: Vec<(String, String)>,
        cwd: PathBuf,
    },
    Transform(Map<String, Json>),
    Approval {
        message: String,
    },
    Http(http::Request),
    /// A call before routing: which service answers is decided per attempt.
    Call {
        target: CallTarget,
        endpoint: String,
        with: Map<String, Json>,
    },
    /// A kind this engine does not execute yet.
    Unsupported(&'static str),
}

impl Resolved {
    /// What the cache fingerprint covers besides the environment.
    fn definition(&self, step: &Step, item: Option<&Json>, project_dir: &Path) -> Json {
        let mut j = json!({
            "definition": step.definition,
            "timeout_ms": step.body.timeout.map(|t| t.as_millis() as u64),
            "item": item,
        });
        match self {
            Resolved::Run { script, cwd, .. } => {
                j["script"] = json!(script);
                j["cwd"] = json!(cwd.strip_prefix(project_dir).unwrap_or(cwd));
                if let StepKind::Run { shell, .. } = &step.body.kind {
                    j["shell"] = json!(format!("{shell:?}"));
                }
            }
            Resolved::Transform(values) => j["values"] = Json::Object(values.clone()),
            Resolved::Approval { message } => j["message"] = json!(message),
            Resolved::Http(r) => {
                j["request"] = json!({
                    "method": r.method,
                    "url": r.url,
                    "headers": r.headers,
                    "query": r.query,
                    "body": match &r.body {
                        http::Body::None => Json::Null,
                        http::Body::Json(b) => json!({ "json": b }),
                        http::Body::Text(t) => json!({ "text": t }),
                        http::Body::Form(f) => json!({ "form": f }),
                    },
                    "expect_status": r.expect_status,
                });
            }
            // Auth is added per attempt and never enters the fingerprint.
            Resolved::Call {
                target,
                endpoint,
                with,
            } => {
                j["call"] = json!({
                    "target": match target {
                        CallTarget::Service(s) => json!({ "service": s }),
                        CallTarget::Capability(c) => json!({ "capability": c }),
                    },
                    "endpoint": endpoint,
                    "with": with,
                });
            }
            Resolved::Unsupported(_) => {}
        }
        j
    }

    pub fn env(&self) -> &[(String, String)] {
        match self {
            Resolved::Run { env, .. } => env,
            _ => &[],
        }
    }
}

/// A scope with no finished steps, for values resolved before any step runs.
pub fn with_scope_no_steps<T>(
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

/// The workflow's `env:`, in file order (later values may read earlier
/// ones). Returns the resolved pairs and the `env` context (process env plus
/// these), or the first error.
pub fn workflow_env(
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
pub fn resolve_body(
    step: &Step,
    scope: &Scope<'_>,
    base_env: &[(String, String)],
    project_dir: &Path,
) -> Result<Resolved, String> {
    Ok(match &step.body.kind {
        StepKind::Run { script, .. } => {
            let script =
                crate::expr::render(script, scope).map_err(|e| format!("run: {}", e.message))?;
            let mut env = base_env.to_vec();
            for (k, v) in &step.body.env {
                let j = resolve(v, scope).map_err(|e| format!("env `{k}`: {}", e.message))?;
                env.push((k.clone(), to_text(&j)));
            }
            let cwd = match &step.working_dir {
                Some(w) => {
                    let j = resolve(w, scope).map_err(|e| format!("working_dir: {}", e.message))?;
                    project_dir.join(to_text(&j))
                }
                None => project_dir.to_path_buf(),
            };
            Resolved::Run { script, env, cwd }
        }
        StepKind::Transform(fields) => {
            let mut out = Map::new();
            for (name, v) in fields {
                let j =
                    resolve(v, scope).map_err(|e| format!("transform `{name}`: {}", e.message))?;
                out.insert(name.clone(), j);
            }
            Resolved::Transform(out)
        }
        StepKind::Approval { message, .. } => {
            let message = match message {
                Some(m) => to_text(
                    &resolve(m, scope).map_err(|e| format!("approval message: {}", e.message))?,
                ),
                None => format!("Approve step `{}`?", step.id),
            };
            Resolved::Approval { message }
        }
        StepKind::Http(h) => {
            let text = |v: &crate::model::Val, what: &str| -> Result<String, String> {
                resolve(v, scope)
                    .map(|j| to_text(&j))
                    .map_err(|e| format!("{what}: {}", e.message))
            };
            let pairs = |kv: &[(String, crate::model::Val)], what: &str| {
                kv.iter()
                    .map(|(k, v)| Ok((k.clone(), text(v, &format!("{what} `{k}`"))?)))
                    .collect::<Result<Vec<_>, String>>()
            };
            let body = match &h.body {
                None => http::Body::None,
                Some(HttpBody::Json(v)) => {
                    http::Body::Json(resolve(v, scope).map_err(|e| format!("json: {}", e.message))?)
                }
                Some(HttpBody::Text(v)) => http::Body::Text(text(v, "body")?),
                Some(HttpBody::Form(kv)) => http::Body::Form(pairs(kv, "form")?),
            };
            Resolved::Http(http::Request {
                method: h.method.clone(),
                url: text(&h.url, "url")?,
                headers: pairs(&h.headers, "header")?,
                query: pairs(&h.query, "query")?,
                body,
                expect_status: h.expect_status.clone(),
                timeout: step.body.timeout.unwrap_or(http::DEFAULT_TIMEOUT),
            })
        }
        StepKind::Call {
            target,
            endpoint,
            with,
            ..
        } => {
            let mut m = Map::new();
            for (k, v) in with {
                let j = resolve(v, scope).map_err(|e| format!("with `{k}`: {}", e.message))?;
                m.insert(k.clone(), j);
            }
            Resolved::Call {
                target: target.clone(),
                endpoint: endpoint.clone(),
                with: m,
            }
        }
        other => Resolved::Unsupported(other.name()),
    })
}

/// The cache fingerprint of a resolved step, or why it cannot be computed.
pub fn fingerprint(
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
        &resolved.definition(step, item, project_dir),
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
