//! `workflow:` steps against the files they name: each child file is read
//! and validated too (its diagnostics point into it), `with:` is checked
//! against the child's declared `inputs`, and files that include each other
//! or nest too deep are refused, naming the chain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{did_you_mean, Diag};
use crate::model::{Config, StepKind, Val, Workflow};

/// How deep `workflow:` steps may nest (the top file is level 1).
pub(crate) const MAX_DEPTH: usize = 16;

/// Check every `workflow:` step of `wf` (whose file is the last of `stack`)
/// and fill in its child. Returns the problems, of `wf` and of its children.
pub(super) fn check(wf: &mut Workflow, config: &Config, stack: &mut Vec<PathBuf>) -> Vec<Diag> {
    let src = wf.source.clone();
    let mut diags = Vec::new();
    for step in &mut wf.steps {
        let StepKind::Workflow {
            path,
            with,
            spans,
            child,
        } = &mut step.body.kind
        else {
            continue;
        };
        let here = |d: Diag| d.with_source(&src);
        let canon = match std::fs::canonicalize(&*path) {
            Ok(p) => p,
            Err(e) => {
                diags.push(here(
                    Diag::new("workflow", format!("cannot read {}: {e}", path.display()))
                        .label(spans.path, "the child workflow")
                        .help("the path is relative to the file it is written in"),
                ));
                continue;
            }
        };
        if let Some(at) = stack.iter().position(|p| *p == canon) {
            let root = stack[0].parent().unwrap_or(Path::new("/"));
            let chain: Vec<String> = stack[at..]
                .iter()
                .chain(std::iter::once(&canon))
                .map(|p| shown(p, root))
                .collect();
            diags.push(here(
                Diag::new(
                    "workflow",
                    format!("workflow files include each other: {}", chain.join(" → ")),
                )
                .label(spans.path, "this closes the cycle")
                .help("a child run cannot run its own parent"),
            ));
            continue;
        }
        if stack.len() >= MAX_DEPTH {
            diags.push(here(
                Diag::new(
                    "workflow",
                    format!("`workflow:` steps nest deeper than {MAX_DEPTH} files"),
                )
                .label(spans.path, "one level too deep")
                .help("flatten the chain of child workflows"),
            ));
            continue;
        }
        // Read under the path as written, so diagnostics name it that way.
        let child_src = match crate::load::read_source(path) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        stack.push(canon.clone());
        let checked = super::workflow_in(&child_src, config, stack);
        stack.pop();
        let c = match checked {
            Ok(c) => c,
            Err(d) => {
                // The child's own diagnostics point into the child's file.
                diags.extend(d);
                continue;
            }
        };
        let before = diags.len();
        for ((name, v), span) in with.iter().zip(&spans.with) {
            let Some(input) = c.inputs.iter().find(|i| i.name == *name) else {
                let names = c.inputs.iter().map(|i| i.name.as_str());
                diags.push(here(
                    Diag::new(
                        "workflow",
                        format!("workflow `{}` has no input `{name}`", c.name),
                    )
                    .label(*span, "not an input of the child")
                    .maybe_help(did_you_mean(name, names).map(|s| format!("did you mean `{s}`?"))),
                ));
                continue;
            };
            if let Val::Lit(j) = v {
                if let Err(e) = super::check_type(input.ty, j) {
                    diags.push(here(
                        Diag::new(
                            "workflow",
                            format!("input `{name}` of workflow `{}`: {e}", c.name),
                        )
                        .label(*span, format!("`{name}` is a {}", input.ty.name())),
                    ));
                }
            }
        }
        for input in &c.inputs {
            let given = with.iter().any(|(n, _)| *n == input.name);
            if input.required && input.default.is_none() && !given {
                diags.push(here(
                    Diag::new(
                        "workflow",
                        format!(
                            "workflow `{}` needs input `{}`, and `with:` does not give it",
                            c.name, input.name
                        ),
                    )
                    .label(spans.path, format!("add `with: {{ {}: … }}`", input.name)),
                ));
            }
        }
        if diags.len() == before {
            *path = canon;
            *child = Some(Arc::new(c));
        }
    }
    diags
}

/// A path as short as it can be shown: relative to the top file's folder.
fn shown(p: &Path, root: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}
