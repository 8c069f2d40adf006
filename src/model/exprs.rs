//! The one walk over a step's expressions. Validation, the scheduler (what
//! a step reads), secrets (what a step fetches) and `orch plan` all go
//! through [`Step::exprs`], so a new key with expressions is added once.

use std::sync::Arc;

use super::{HttpBody, Step, StepBody, StepKind, Workflow};
use crate::expr::Expr;

/// Where in a step an expression is written: it decides what the
/// expression may read and when it is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// `if:`, decided before the step starts.
    If,
    /// `for_each:`, resolved before the step starts.
    ForEach,
    WorkingDir,
    /// `outputs:`, evaluated after the step succeeded (sees its own results).
    Output,
    /// `cache.key`, part of the fingerprint.
    CacheKey,
    /// The step's `env:` and the fields of its kind.
    Body,
    /// `retry.condition`, which sees `error`.
    RetryCondition,
    /// The `compensate:` body (sees the step's own results).
    Compensate,
    /// `retry.condition` of the `compensate:` body.
    CompensateRetryCondition,
}

impl Step {
    /// Every expression of the step with its site, in the order of the keys
    /// above (which is the order diagnostics about them come in).
    pub(crate) fn exprs<'a>(&'a self) -> Vec<(Site, &'a Arc<Expr>)> {
        let mut out: Vec<(Site, &Arc<Expr>)> = Vec::new();
        if let Some(c) = &self.cond {
            out.push((Site::If, c));
        }
        fn extend<'a>(out: &mut Vec<(Site, &'a Arc<Expr>)>, site: Site, exprs: Vec<&'a Arc<Expr>>) {
            out.extend(exprs.into_iter().map(|e| (site, e)));
        }
        let mut add = |site: Site, exprs: Vec<&'a Arc<Expr>>| extend(&mut out, site, exprs);
        if let Some(fe) = &self.for_each {
            add(Site::ForEach, fe.exprs());
        }
        if let Some(w) = &self.working_dir {
            add(Site::WorkingDir, w.exprs());
        }
        for (_, v) in &self.outputs {
            add(Site::Output, v.exprs());
        }
        if let Some(k) = self.cache.as_ref().and_then(|c| c.key.as_ref()) {
            add(Site::CacheKey, k.exprs());
        }
        add(Site::Body, self.body.exprs());
        if let Some(c) = self.body.retry.as_ref().and_then(|r| r.condition.as_ref()) {
            add(Site::RetryCondition, vec![c]);
        }
        if let Some(comp) = &self.compensate {
            add(Site::Compensate, comp.exprs());
            if let Some(c) = comp.retry.as_ref().and_then(|r| r.condition.as_ref()) {
                add(Site::CompensateRetryCondition, vec![c]);
            }
        }
        out
    }

    /// The ids of the steps the expressions at `sites` read, each once, in
    /// the order they first appear.
    pub(crate) fn reads(&self, sites: impl Fn(Site) -> bool) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for (site, e) in self.exprs() {
            if !sites(site) {
                continue;
            }
            for name in e.steps() {
                if !ids.contains(&name) {
                    ids.push(name);
                }
            }
        }
        ids
    }
}

impl Workflow {
    /// Keep the end of a step's stdout only where something may read it:
    /// an expression naming `steps.<id>.stdout` (or `steps.<id>` whole, or
    /// its `items`), one reading `steps` as a whole, or a cache entry that a
    /// later run may read. A noisy step nobody reads then costs no memory
    /// after it ends, and no megabyte in the history.
    pub(crate) fn mark_stdout_readers(&mut self) {
        let mut every = false;
        let mut read: Vec<String> = Vec::new();
        let exprs = self
            .steps
            .iter()
            .flat_map(|s| s.exprs().into_iter().map(|(_, e)| e))
            .chain(self.outputs.iter().flat_map(|(_, v)| v.exprs()))
            .chain(self.env.iter().flat_map(|(_, v)| v.exprs()));
        for r in exprs.flat_map(|e| &e.refs).filter(|r| r.root == "steps") {
            match &r.name {
                None => every = true,
                Some(id) => {
                    let field = r.path.first().map(String::as_str);
                    if matches!(field, None | Some("stdout" | "items")) && !read.contains(id) {
                        read.push(id.clone());
                    }
                }
            }
        }
        for s in &mut self.steps {
            s.keep_stdout = every || s.cache.is_some() || read.contains(&s.id);
        }
    }
}

impl StepBody {
    /// The expressions of `env:` and of the kind's fields (not `retry`).
    pub(crate) fn exprs(&self) -> Vec<&Arc<Expr>> {
        let mut out: Vec<&Arc<Expr>> = Vec::new();
        for (_, v) in &self.env {
            out.extend(v.exprs());
        }
        match &self.kind {
            StepKind::Run { script, .. } => out.extend(script.exprs()),
            StepKind::Transform(m) => m.iter().for_each(|(_, v)| out.extend(v.exprs())),
            StepKind::Http(h) => {
                out.extend(h.url.exprs());
                for (_, v) in h.headers.iter().chain(&h.query) {
                    out.extend(v.exprs());
                }
                match &h.body {
                    Some(HttpBody::Json(v) | HttpBody::Text(v)) => out.extend(v.exprs()),
                    Some(HttpBody::Form(m)) => m.iter().for_each(|(_, v)| out.extend(v.exprs())),
                    None => {}
                }
            }
            StepKind::Call { with, .. } | StepKind::Workflow { with, .. } => {
                with.iter().for_each(|(_, v)| out.extend(v.exprs()))
            }
            StepKind::Approval { message, .. } => {
                if let Some(m) = message {
                    out.extend(m.exprs());
                }
            }
        }
        out
    }
}
