//! `workflow:` steps: the child workflow compiled once into a DAG template
//! whose inputs are the child's inputs and whose outputs are its outputs,
//! inlined into the manifest (`<child>--orch-main`, `<child>--<step>`) or,
//! with `--templates`, as a `WorkflowTemplate` the task names by
//! `templateRef`. Template names of children hold `--`, which a step id
//! never maps to, so they cannot collide with the parent's.

use std::path::PathBuf;
use std::sync::Arc;

use super::expr::{tag_text, Piece, Tag, Tr};
use super::names::dns_label;
use super::steps::{input_param, json_text, workflow_label, Compiler};
use super::yaml::Node;
use super::Problem;
use crate::model::{Phase, Step, StepKind, Val, Workflow};
use crate::plan::Plan;

/// What the task of a `workflow:` step calls.
#[derive(Debug, Clone)]
enum Callee {
    /// A template of this manifest.
    Inline(String),
    /// The entry template of a WorkflowTemplate of this name.
    Ref(String),
}

/// The children compiled so far, across the whole tree of workflows.
#[derive(Default)]
pub(crate) struct Shared {
    compiled: Vec<(PathBuf, Callee)>,
    /// Names given to children (a prefix, or a WorkflowTemplate's name).
    names: Vec<(String, PathBuf)>,
    /// Templates of inlined children.
    pub(super) templates: Vec<Node>,
    /// WorkflowTemplate documents (`--templates`).
    pub(super) documents: Vec<Node>,
}

impl Compiler<'_> {
    /// The task of `workflow:` step `s`: `template` or `templateRef`, and
    /// its `with:` as arguments.
    pub(super) fn child_call(
        &mut self,
        s: &Step,
        tr: &mut Tr<'_>,
        task: &mut Node,
        problems: &mut Vec<Problem>,
    ) {
        let StepKind::Workflow { with, child, .. } = &s.body.kind else {
            return;
        };
        let Some(child) = child else {
            problems.push(Problem::new(
                self.loc.step_key(&s.id, "workflow", s.span),
                "the child workflow was not read",
                "run `orch validate` on the file",
            ));
            return;
        };
        for (key, what) in [
            ("retry", "a retried `workflow:` step"),
            ("timeout", "a `workflow:` step's timeout"),
            ("cache", "a cached `workflow:` step"),
            ("resources", "pool `resources` of a `workflow:` step"),
        ] {
            let set = match key {
                "retry" => s.body.retry.as_ref().is_some_and(|r| r.max_attempts > 1),
                "timeout" => s.body.timeout.is_some(),
                "cache" => s.cache.is_some(),
                _ => !s.resources.is_empty(),
            };
            if set {
                problems.push(Problem::new(
                    self.loc.step_key(&s.id, key, s.span),
                    format!("{what} has no Argo form: Argo applies it to pods, and a child is a DAG of them"),
                    format!("move `{key}:` onto the child's steps"),
                ));
            }
        }
        match self.compile_child(child) {
            Callee::Inline(name) => task.set("template", Node::str(name)),
            Callee::Ref(name) => task.set(
                "templateRef",
                Node::map()
                    .with("name", Node::str(name))
                    .with("template", Node::str("orch-main")),
            ),
        }
        let mut args = Vec::new();
        for (k, v) in with {
            let value = self.argument(v, tr, problems, s);
            args.push(
                Node::map()
                    .with("name", Node::str(k))
                    .with("value", Node::str(value)),
            );
        }
        for d in &child.inputs {
            if d.default.is_none() && !d.required && !with.iter().any(|(k, _)| *k == d.name) {
                problems.push(Problem::new(
                    self.loc.step_key(&s.id, "workflow", s.span),
                    format!(
                        "input `{}` of `{}` has no default and is not given; Argo would refuse to start the child",
                        d.name, child.name
                    ),
                    format!("give it under `with:`, or a `default:` in {}", child.source.name),
                ));
            }
        }
        if !args.is_empty() {
            task.set("arguments", Node::map().with("parameters", Node::Seq(args)));
        }
    }

    /// A `with:` value as the text of a task argument (a DAG task may name
    /// `tasks.*` and `item` itself); a whole list or map reference is its
    /// JSON text, as Argo passes it.
    fn argument(
        &mut self,
        v: &Val,
        tr: &mut Tr<'_>,
        problems: &mut Vec<Problem>,
        s: &Step,
    ) -> String {
        if let Val::Str(t) = v {
            if let Some(e) = t.whole() {
                return match tr.reference(e, &e.ast) {
                    Ok(Tag::Lit(x)) => x,
                    Ok(Tag::Var { path, .. }) => tag_text(&path),
                    Err(p) => {
                        problems.push(p);
                        String::new()
                    }
                };
            }
            return match tr.template(t) {
                Ok(pieces) => pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(x) => {
                            if x.contains("{{") {
                                problems.push(Problem::new(
                                    t.exprs().next().map_or(s.span, |e| e.value_span),
                                    "`{{` in text would be read by Argo as one of its own variables",
                                    "avoid `{{` in values exported to Argo",
                                ));
                            }
                            x.clone()
                        }
                        Piece::Tag(Tag::Lit(x)) => x.clone(),
                        Piece::Tag(Tag::Var { path, .. }) => tag_text(path),
                    })
                    .collect(),
                Err(p) => {
                    problems.push(p);
                    String::new()
                }
            };
        }
        match super::fanout::literal(v) {
            Some(j) => json_text(&j),
            None => {
                problems.push(Problem::new(
                    self.loc.step_key(&s.id, "with", s.span),
                    "a list or map with expressions inside has no Argo text form",
                    "pass a list input whole, or write the value out",
                ));
                String::new()
            }
        }
    }

    /// Compile `child` once; what its callers' tasks name.
    fn compile_child(&mut self, child: &Arc<Workflow>) -> Callee {
        let path = child.source.path.clone();
        if let Some((_, c)) = self.shared.compiled.iter().find(|(p, _)| *p == path) {
            return c.clone();
        }
        // Two files with one `name:` get `-2`, `-3`….
        let base = dns_label(&child.name);
        let mut name = base.clone();
        let mut n = 2;
        while self
            .shared
            .names
            .iter()
            .any(|(x, p)| *x == name && *p != path)
        {
            name = format!("{base}-{n}");
            n += 1;
        }
        self.shared.names.push((name.clone(), path.clone()));
        let own_document = self.opts.templates;
        let prefix = if own_document {
            String::new()
        } else {
            format!("{name}--")
        };
        let callee = if own_document {
            Callee::Ref(name.clone())
        } else {
            Callee::Inline(format!("{prefix}orch-main"))
        };
        // Recorded before compiling: validation refuses cycles, and this
        // keeps a second caller deeper down from compiling it again.
        self.shared.compiled.push((path, callee.clone()));

        let plan = Plan::new(child);
        let mut c = Compiler::new(child, &plan, self.cfg, self.opts);
        c.child = Some(prefix.clone());
        c.shared = std::mem::take(&mut self.shared);
        let templates = c.child_templates(&prefix);
        self.shared = std::mem::take(&mut c.shared);
        for mut p in c.problems {
            if p.file.is_none() && !p.in_config {
                p.file = Some(child.clone());
            }
            self.problems.push(p);
        }
        self.notes.extend(
            c.notes
                .into_iter()
                .map(|n| format!("workflow `{}`: {n}", child.name)),
        );
        if own_document {
            self.shared.documents.push(
                Node::map()
                    .with("apiVersion", Node::str("argoproj.io/v1alpha1"))
                    .with("kind", Node::str("WorkflowTemplate"))
                    .with(
                        "metadata",
                        Node::map()
                            .with("name", Node::str(&name))
                            .with("labels", workflow_label(child)),
                    )
                    .with(
                        "spec",
                        Node::map()
                            .with("entrypoint", Node::str("orch-main"))
                            .with("templates", Node::Seq(templates)),
                    ),
            );
        } else {
            self.shared.templates.extend(templates);
        }
        callee
    }

    /// This (child) workflow's templates: its DAG first, with the child's
    /// inputs as input parameters and its outputs as output parameters.
    fn child_templates(&mut self, prefix: &str) -> Vec<Node> {
        let wf = self.wf;
        let built = self.build();
        for phase in [Phase::OnFailure, Phase::Finally] {
            if let Some(s) = wf.steps.iter().find(|s| s.phase == phase) {
                let key = if phase == Phase::OnFailure {
                    "on_failure"
                } else {
                    "finally"
                };
                let span = self.loc.top_key(key, s.span);
                self.problems.push(Problem::new(
                    span,
                    format!("`{key}:` of a child workflow has no Argo form: Argo's exit handler belongs to the whole workflow"),
                    "move the steps into the parent's `on_failure:`/`finally:`, or run the child on its own",
                ));
            }
        }
        if wf.timeout.is_some() {
            let span = self.loc.top_key("timeout", Default::default());
            self.problems.push(Problem::new(
                span,
                "a child workflow's `timeout` has no Argo form: Argo's deadlines are per pod or per workflow",
                "put timeouts on the child's steps",
            ));
        }
        let mut dag = Node::map().with("name", Node::str(format!("{prefix}orch-main")));
        if !wf.inputs.is_empty() {
            let params = wf
                .inputs
                .iter()
                .map(|d| input_param(d, "default"))
                .collect();
            dag.set("inputs", Node::map().with("parameters", Node::Seq(params)));
        }
        if !built.outputs.is_empty() {
            let params = built
                .outputs
                .iter()
                .map(|(name, task, key)| {
                    Node::map().with("name", Node::str(name)).with(
                        "valueFrom",
                        Node::map().with(
                            "parameter",
                            Node::str(format!("{{{{tasks.{task}.outputs.parameters.{key}}}}}")),
                        ),
                    )
                })
                .collect();
            dag.set("outputs", Node::map().with("parameters", Node::Seq(params)));
        }
        if let Some(n) = wf.concurrency {
            dag.set("parallelism", Node::int(n as u64));
        }
        dag.set(
            "dag",
            Node::map().with("tasks", Node::Seq(built.main_tasks)),
        );
        let mut all = vec![dag];
        all.extend(built.templates);
        all
    }
}
