//! `orch export argo`: a validated workflow compiled to an Argo Workflows
//! `Workflow` manifest. It reads the model, the plan and the services
//! registry, never the engine. A construct without a faithful Argo form is
//! a located diagnostic (or, with `--lenient`, a comment in the manifest).

mod children;
mod expr;
mod fanout;
mod locate;
mod names;
mod steps;
mod yaml;

use std::sync::Arc;

use crate::diag::Diag;
use crate::model::{Config, Workflow};
use crate::plan::Plan;
use crate::source::Span;

/// What the user chose on the command line.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `--image`; without it `alpine:3.20` (`bash:5.2` for `shell: bash`).
    pub(crate) image: Option<String>,
    /// The Kubernetes Secret holding `secrets.*` and service credentials.
    pub(crate) secret_name: String,
    /// Emit the manifest anyway, each dropped feature as a comment.
    pub(crate) lenient: bool,
    /// `--templates`: each child workflow as a `WorkflowTemplate` that the
    /// parent's task names with `templateRef`, instead of inlined.
    pub(crate) templates: bool,
}

pub(crate) const DEFAULT_IMAGE: &str = "alpine:3.20";
pub(crate) const DEFAULT_BASH_IMAGE: &str = "bash:5.2";
/// The ConfigMap of `memoize` caches and the one of pool semaphores.
pub(crate) const CACHE_CONFIGMAP: &str = "orch-cache";
pub(crate) const POOLS_CONFIGMAP: &str = "orch-pools";

/// A construct that cannot be exported as it is.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) span: Span,
    pub(crate) message: String,
    pub(crate) help: String,
    /// In `orchestration.yaml` rather than the workflow file.
    pub(crate) in_config: bool,
    /// In a child workflow's file (a `workflow:` step's).
    pub(crate) file: Option<Arc<Workflow>>,
}

impl Problem {
    pub(crate) fn new(span: Span, message: impl Into<String>, help: impl Into<String>) -> Problem {
        Problem {
            span,
            message: message.into(),
            help: help.into(),
            in_config: false,
            file: None,
        }
    }
}

/// The manifest, and what `--lenient` dropped from it.
#[derive(Debug)]
pub(crate) struct Exported {
    pub(crate) yaml: String,
    /// Each dropped feature (empty unless lenient).
    pub(crate) dropped: Vec<Diag>,
}

/// Compile `wf` (validated, with its plan) against the services of `cfg`.
pub(crate) fn export(
    wf: &Workflow,
    plan: &Plan,
    cfg: &Config,
    opts: &Options,
) -> Result<Exported, Vec<Diag>> {
    let mut c = steps::Compiler::new(wf, plan, cfg, opts);
    let (documents, notes) = c.compile();
    // In file order (the configuration's first, then the workflow's, then
    // each child's as it was reached), as `orch validate` reports.
    let mut files: Vec<*const Workflow> = Vec::new();
    for p in &c.problems {
        if let Some(f) = &p.file {
            if !files.contains(&Arc::as_ptr(f)) {
                files.push(Arc::as_ptr(f));
            }
        }
    }
    let rank = |p: &Problem| match &p.file {
        _ if p.in_config => 0,
        None => 1,
        Some(f) => 2 + files.iter().position(|x| *x == Arc::as_ptr(f)).unwrap_or(0),
    };
    c.problems.sort_by_key(|p| (rank(p), p.span.offset));
    let diags: Vec<Diag> = c.problems.iter().map(|p| to_diag(p, wf, cfg)).collect();
    if !diags.is_empty() && !opts.lenient {
        return Err(diags);
    }
    let mut comments = vec![format!(
        "Argo Workflows manifest of `{}`, written by `orch export argo`.",
        wf.name
    )];
    for d in &diags {
        comments.push(format!("dropped: {}", describe(d)));
    }
    for n in notes {
        comments.push(format!("note: {n}"));
    }
    // WorkflowTemplates first: `kubectl create -f` makes them in order.
    let yaml = documents
        .iter()
        .enumerate()
        .map(|(i, d)| yaml::write(if i == 0 { &comments } else { &[] }, d))
        .collect::<Vec<_>>()
        .join("---\n");
    Ok(Exported {
        yaml,
        dropped: diags,
    })
}

fn to_diag(p: &Problem, wf: &Workflow, cfg: &Config) -> Diag {
    let d = Diag::new("export::argo", p.message.clone())
        .label(p.span, "cannot be exported as written")
        .help(format!("{}; or `--lenient` to export without it", p.help));
    match (p.in_config, &cfg.source, &p.file) {
        (true, Some(src), _) => d.with_source(src),
        (_, _, Some(child)) => d.with_source(&child.source),
        _ => d.with_source(&wf.source),
    }
}

/// `file:line:col: message` for a comment or a warning.
pub(crate) fn describe(d: &Diag) -> String {
    match d.location() {
        Some((file, line, col)) => format!("{file}:{line}:{col}: {}", d.message),
        None => d.message.clone(),
    }
}
