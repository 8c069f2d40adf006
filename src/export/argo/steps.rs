//! Steps to DAG tasks and templates: `run`/`transform` as script
//! templates, `http`/`call` as http templates, `approval` as suspend; the
//! main steps as the entry DAG, `on_failure`/`finally` as the exit handler.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::Value as Json;

use super::children::Shared;
use super::expr::{global_name, tag_text, whole_span, Cond, Piece, Status, Tag, Tr, Ty};
use super::locate::Locator;
use super::names::{dns_label, Names};
use super::yaml::Node;
use super::{Options, Problem};
use crate::model::{
    Auth, CallTarget, Config, DelayStrategy, HttpBody, ParamIn, Phase, RetrySpec, Step, StepKind,
    Template, Val, Workflow,
};
use crate::plan::Plan;

const OUT_DIR: &str = "/tmp/orch/outputs";

pub(crate) struct Compiler<'a> {
    pub(super) wf: &'a Workflow,
    plan: &'a Plan,
    pub(super) cfg: &'a Config,
    pub(super) opts: &'a Options,
    pub(crate) problems: Vec<Problem>,
    pub(super) notes: Vec<String>,
    pub(super) loc: Locator,
    tasks: HashMap<String, String>,
    outputs: BTreeSet<(String, String)>,
    exported: BTreeSet<(String, String)>,
    /// `Some(prefix)` when this is a child workflow: its template names
    /// start with the prefix (empty in a WorkflowTemplate of its own).
    pub(super) child: Option<String>,
    /// The children compiled so far, shared down the tree.
    pub(super) shared: Shared,
}

/// A workflow's DAG tasks and templates, wherever it is placed.
pub(super) struct Built {
    pub(super) main_tasks: Vec<Node>,
    pub(super) exit_tasks: Vec<Node>,
    pub(super) templates: Vec<Node>,
    /// Each workflow output: its name, the task and the key it is.
    pub(super) outputs: Vec<(String, String, String)>,
}

/// An input declaration as a parameter: `value` (a workflow argument) or
/// `default` (a template input) holds its default.
pub(super) fn input_param(d: &crate::model::InputDecl, default_key: &str) -> Node {
    let mut p = Node::map().with("name", Node::str(&d.name));
    if let Some(v) = &d.default {
        p.set(default_key, Node::str(json_text(v)));
    }
    if let Some(c) = &d.choices {
        p.set(
            "enum",
            Node::Seq(c.iter().map(|v| Node::str(json_text(v))).collect()),
        );
    }
    p
}

/// The label naming the workflow a document was exported from.
pub(super) fn workflow_label(wf: &Workflow) -> Node {
    Node::map().with(
        "workflows.orch.dev/workflow",
        Node::str(dns_label(&wf.name)),
    )
}

/// Input parameters of one template: the task-scoped tags it reads.
#[derive(Default)]
pub(super) struct Params {
    pub(super) list: Vec<(String, Vec<String>)>,
}

impl Params {
    pub(super) fn name_for(&mut self, path: &[String]) -> String {
        if let Some((n, _)) = self.list.iter().find(|(_, p)| p == path) {
            return n.clone();
        }
        let base = match path
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["tasks", t, "outputs", "parameters", k] => format!("{t}-{k}"),
            ["tasks", t, "outputs", "result"] => format!("{t}-result"),
            ["tasks", t, "exitCode"] => format!("{t}-exit-code"),
            ["inputs", "parameters", n] => n.to_string(),
            other => other.join("-"),
        };
        let mut name = base.clone();
        let mut n = 2;
        while self.list.iter().any(|(x, _)| *x == name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        self.list.push((name.clone(), path.to_vec()));
        name
    }
}

pub(super) fn seconds(d: Duration) -> (u64, bool) {
    let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    (whole, d.subsec_nanos() == 0)
}

/// A Go duration string (`50ms`, `2s`), as Argo's backoff reads it.
fn go_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

pub(super) fn json_text(j: &Json) -> String {
    match j {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(
        wf: &'a Workflow,
        plan: &'a Plan,
        cfg: &'a Config,
        opts: &'a Options,
    ) -> Self {
        Compiler {
            wf,
            plan,
            cfg,
            opts,
            problems: Vec::new(),
            notes: Vec::new(),
            loc: Locator::new(wf),
            tasks: HashMap::new(),
            outputs: BTreeSet::new(),
            exported: BTreeSet::new(),
            child: None,
            shared: Shared::default(),
        }
    }

    fn bad(&mut self, p: Problem) {
        self.problems.push(p);
    }

    fn bad_at(
        &mut self,
        step: &Step,
        key: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let span = self.loc.step_key(&step.id, key, step.span);
        self.bad(Problem::new(span, message, help));
    }

    /// The documents (the WorkflowTemplates of `--templates`, then the
    /// Workflow) and the notes (timing-only differences) about them.
    pub(crate) fn compile(&mut self) -> (Vec<Node>, Vec<String>) {
        let wf = self.wf;
        for rule in &self.cfg.policies.rules {
            let mut p = Problem::new(
                rule.when.value_span,
                format!(
                    "policy rule `{}` is checked by orch before each step; Argo has no such hook",
                    rule.id
                ),
                "export with a configuration without `policies.rules`",
            );
            p.in_config = true;
            self.bad(p);
        }
        let built = self.build();
        let mut spec = Node::map().with("entrypoint", Node::str("orch-main"));
        if !wf.inputs.is_empty() {
            let params = wf.inputs.iter().map(|d| input_param(d, "value")).collect();
            spec.set(
                "arguments",
                Node::map().with("parameters", Node::Seq(params)),
            );
        }
        if let Some(n) = wf.concurrency.or(self.cfg.policies.max_parallel_tasks) {
            spec.set("parallelism", Node::int(n as u64));
        }
        if let Some(t) = wf.timeout {
            let (secs, exact) = seconds(t);
            if !exact {
                let span = self.loc.top_key("timeout", Default::default());
                self.bad(Problem::new(
                    span,
                    "Argo deadlines are whole seconds",
                    "use a whole number of seconds",
                ));
            }
            spec.set("activeDeadlineSeconds", Node::int(secs));
        }
        if !built.exit_tasks.is_empty() {
            spec.set("onExit", Node::str("orch-exit"));
        }
        let mut all = vec![Node::map().with("name", Node::str("orch-main")).with(
            "dag",
            Node::map().with("tasks", Node::Seq(built.main_tasks)),
        )];
        if !built.exit_tasks.is_empty() {
            all.push(Node::map().with("name", Node::str("orch-exit")).with(
                "dag",
                Node::map().with("tasks", Node::Seq(built.exit_tasks)),
            ));
        }
        all.extend(built.templates);
        all.append(&mut self.shared.templates);
        spec.set("templates", Node::Seq(all));
        let manifest = Node::map()
            .with("apiVersion", Node::str("argoproj.io/v1alpha1"))
            .with("kind", Node::str("Workflow"))
            .with(
                "metadata",
                Node::map()
                    .with(
                        "generateName",
                        Node::str(format!("{}-", dns_label(&wf.name))),
                    )
                    .with("labels", workflow_label(wf)),
            )
            .with("spec", spec);
        let mut docs = std::mem::take(&mut self.shared.documents);
        docs.push(manifest);
        (docs, std::mem::take(&mut self.notes))
    }

    /// What a workflow compiles to wherever it is: the tasks of its main DAG
    /// and of its exit handler, and the templates its steps need.
    pub(super) fn build(&mut self) -> Built {
        let wf = self.wf;
        let mut names = Names::new();
        for s in &wf.steps {
            match names.claim(&s.id, &format!("step `{}`", s.id)) {
                Ok(n) => {
                    self.tasks.insert(s.id.clone(), n);
                }
                Err(other) => {
                    let n = dns_label(&s.id);
                    self.bad(Problem::new(
                        s.span,
                        format!(
                            "step `{}` would get the Argo name `{n}`, which {other} already has",
                            s.id
                        ),
                        "rename one of them: Argo names are lower-case letters, digits and `-`",
                    ));
                    self.tasks
                        .insert(s.id.clone(), format!("{n}-{}", self.tasks.len()));
                }
            }
        }
        let mut main_tasks = Vec::new();
        let mut exit_tasks = Vec::new();
        let mut templates: Vec<(String, Node)> = Vec::new();
        for (i, s) in wf.steps.iter().enumerate() {
            let (task, tpls) = self.step(i);
            if s.phase == Phase::Main {
                main_tasks.push(task);
            } else {
                exit_tasks.push(task);
            }
            for t in tpls {
                templates.push((s.id.clone(), t));
            }
        }
        // Outputs are declared once every reader is known.
        let mut wf_outputs: Vec<(String, String, String)> = Vec::new();
        for (name, v) in &wf.outputs {
            let whole = match v {
                Val::Str(t) => t.whole().and_then(|e| {
                    crate::expr::segments(&e.ast)
                        .filter(|s| s.len() == 4 && s[0] == "steps" && s[2] == "outputs")
                }),
                _ => None,
            };
            match whole {
                Some(seg)
                    if self.child.is_none()
                        && wf.steps.iter().any(|s| {
                            s.id == seg[1] && matches!(s.body.kind, StepKind::Workflow { .. })
                        }) =>
                {
                    let span = self.loc.top_key("outputs", Default::default());
                    self.bad(Problem::new(
                        span,
                        format!("workflow output `{name}` is an output of the `workflow:` step `{}`; Argo exports only outputs of pods", seg[1]),
                        "copy it in a `transform` step after the child, and output that",
                    ));
                }
                Some(seg) => {
                    self.outputs.insert((seg[1].clone(), seg[3].clone()));
                    wf_outputs.push((seg[1].clone(), seg[3].clone(), name.clone()));
                }
                None => {
                    let span = self.loc.top_key(
                        "outputs",
                        wf.steps.first().map_or_else(Default::default, |s| s.span),
                    );
                    self.bad(Problem::new(
                        span,
                        format!("workflow output `{name}` is not one step output; Argo exports only output parameters"),
                        "make it exactly `${{ steps.<id>.outputs.<key> }}`",
                    ));
                }
            }
        }
        let outputs = self.outputs.clone();
        let mut by_step: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, key) in &outputs {
            by_step.entry(id.as_str()).or_default().push(key.as_str());
        }
        for (id, keys) in by_step {
            let Some(step) = wf.steps.iter().find(|s| s.id == id) else {
                continue;
            };
            match step.body.kind {
                StepKind::Run { .. } | StepKind::Transform(_) => {}
                // The child's DAG template declares every output it has.
                StepKind::Workflow { .. } => continue,
                _ => {
                    self.bad_at(
                        step,
                        "id",
                        format!(
                            "outputs of the `{}` step `{id}` are computed by orch; Argo has none",
                            step.body.kind.name()
                        ),
                        "read `steps.<id>.body` of an http step, or compute the value in a `run` step",
                    );
                    continue;
                }
            }
            let task = self.tasks[id].clone();
            let mut params = Vec::new();
            for k in keys {
                let mut p = Node::map().with("name", Node::str(k)).with(
                    "valueFrom",
                    Node::map().with("path", Node::str(format!("{OUT_DIR}/{k}"))),
                );
                if self.exported.contains(&(id.to_string(), k.to_string())) {
                    p.set("globalName", Node::str(global_name(&task, k)));
                }
                params.push(p);
                // A child's outputs are its DAG template's, not global.
                if self.child.is_some() {
                    continue;
                }
                for (_, _, out) in wf_outputs.iter().filter(|(s, key, _)| s == id && key == k) {
                    params.push(
                        Node::map()
                            .with("name", Node::str(format!("orch-output-{}", dns_label(out))))
                            .with("globalName", Node::str(out.clone()))
                            .with(
                                "valueFrom",
                                Node::map().with("path", Node::str(format!("{OUT_DIR}/{k}"))),
                            ),
                    );
                }
            }
            if let Some((_, t)) = templates.iter_mut().find(|(sid, _)| sid == id) {
                t.set("outputs", Node::map().with("parameters", Node::Seq(params)));
            }
        }
        if !wf.dotenv.files.is_empty() {
            // Read on the machine orch runs on; a pod would not see them.
            let span = self.loc.top_key("dotenv", Default::default());
            self.bad(Problem::new(
                span,
                "`dotenv:` files are read where orch runs; the manifest would not have their values",
                "write the values under the workflow's `env:` (a secret as `${{ secrets.NAME }}`)",
            ));
        }
        Built {
            main_tasks,
            exit_tasks,
            templates: templates.into_iter().map(|(_, t)| t).collect(),
            outputs: wf_outputs
                .into_iter()
                .map(|(id, key, name)| {
                    let task = self.tasks[&id].clone();
                    (name, task, key)
                })
                .collect(),
        }
    }

    /// The name of the template of task `task` of this workflow.
    pub(super) fn template_name(&self, task: &str) -> String {
        match &self.child {
            Some(prefix) => format!("{prefix}{task}"),
            None => task.to_string(),
        }
    }

    /// One step: its DAG task and its template(s).
    fn step(&mut self, i: usize) -> (Node, Vec<Node>) {
        let wf = self.wf;
        let s = &wf.steps[i];
        let name = self.tasks[&s.id].clone();
        let tpl_name = self.template_name(&name);
        let tasks = self.tasks.clone();
        let task_of = move |id: &str| tasks.get(id).cloned().unwrap_or_else(|| dns_label(id));
        let mut tr = Tr {
            wf,
            phase: s.phase,
            task: &task_of,
            outputs: BTreeSet::new(),
            exported: BTreeSet::new(),
            child: self.child.is_some(),
        };
        let mut params = Params::default();
        let mut task = Node::map().with("name", Node::str(&name));
        let mut problems: Vec<Problem> = Vec::new();
        let mut templates = Vec::new();
        if matches!(s.body.kind, StepKind::Workflow { .. }) {
            self.checks(s, &mut problems);
            self.child_call(s, &mut tr, &mut task, &mut problems);
        } else {
            let mut tpl = Node::map().with("name", Node::str(&tpl_name));
            self.body(s, &mut tr, &mut params, &mut tpl, &mut problems);
            task.set("template", Node::str(&tpl_name));
            templates.push(tpl);
        }
        self.deps(i, &mut tr, &mut task, &mut problems);
        if let Some(fe) = &s.for_each {
            self.fan_out(s, fe, &mut tr, &mut task, &mut problems);
        }
        if s.continue_on_error {
            task.set("continueOn", Node::map().with("failed", Node::Bool(true)));
        }
        if !params.list.is_empty() {
            let args: Vec<Node> = params
                .list
                .iter()
                .map(|(n, p)| {
                    Node::map()
                        .with("name", Node::str(n))
                        .with("value", Node::str(tag_text(p)))
                })
                .collect();
            task.set("arguments", Node::map().with("parameters", Node::Seq(args)));
            let inputs: Vec<Node> = params
                .list
                .iter()
                .map(|(n, _)| Node::map().with("name", Node::str(n)))
                .collect();
            // Inputs go right after the name, where Argo's own examples have them.
            if let Some(Node::Map(m)) = templates.first_mut() {
                m.insert(
                    1,
                    (
                        "inputs".into(),
                        Node::map().with("parameters", Node::Seq(inputs)),
                    ),
                );
            }
        }
        if let (Some(n), Some(_)) = (s.max_parallel, &s.for_each) {
            let (outer, wrapper) = self.cap(&tpl_name, n, task);
            task = outer;
            templates.push(wrapper);
        }
        self.outputs.extend(tr.outputs);
        self.exported.extend(tr.exported);
        self.problems.extend(problems);
        (task, templates)
    }

    /// `needs` and `if:` as `dependencies`, or `depends` plus `when`.
    fn deps(&mut self, i: usize, tr: &mut Tr<'_>, task: &mut Node, problems: &mut Vec<Problem>) {
        let wf = self.wf;
        let s = &wf.steps[i];
        let cond = match &s.cond {
            Some(e) => match tr.cond(e) {
                Ok(c) => c,
                Err(p) => {
                    problems.push(p);
                    Cond {
                        status: Status::Success,
                        when: None,
                    }
                }
            },
            None => Cond {
                status: Status::Success,
                when: None,
            },
        };
        let same: Vec<usize> = self.plan.deps[i].clone();
        for n in &s.needs {
            let Some(j) = wf.step_index(&n.id) else {
                continue;
            };
            if wf.steps[j].phase != s.phase && cond.status != Status::Always {
                problems.push(Problem::new(
                    n.span,
                    format!("`{}` needs main step `{}`, whose status Argo's exit handler cannot see", s.id, n.id),
                    "use `if: always()` (the exit handler runs after every main step anyway), or drop the need",
                ));
            }
        }
        let name = |j: usize| self.tasks[&wf.steps[j].id].clone();
        let any = |t: &str| {
            format!("({t}.Succeeded || {t}.Skipped || {t}.Failed || {t}.Errored || {t}.Omitted)")
        };
        // `finally` comes after `on_failure`, whatever that did.
        let after: Vec<usize> = if s.phase == Phase::Finally {
            self.plan.members(Phase::OnFailure).collect()
        } else {
            Vec::new()
        };
        let mut when = cond.when.clone();
        if s.phase == Phase::OnFailure {
            let failed = "'{{workflow.status}}' != 'Succeeded'".to_string();
            when = Some(match when {
                Some(w) => format!("({failed}) && ({w})"),
                None => failed,
            });
        }
        match cond.status {
            Status::Success
                if after.is_empty() && !same.iter().any(|&j| wf.steps[j].continue_on_error) =>
            {
                if !same.is_empty() {
                    task.set(
                        "dependencies",
                        Node::Seq(same.iter().map(|&j| Node::str(name(j))).collect()),
                    );
                }
            }
            status => {
                let mut clauses: Vec<String> = Vec::new();
                match status {
                    Status::Success => {
                        for &j in &same {
                            let t = name(j);
                            clauses.push(if wf.steps[j].continue_on_error {
                                format!("({t}.Succeeded || {t}.Skipped || {t}.Failed)")
                            } else {
                                t
                            });
                        }
                    }
                    Status::Always => clauses.extend(same.iter().map(|&j| any(&name(j)))),
                    Status::Failure => {
                        if same.is_empty() {
                            problems.push(Problem::new(
                                s.cond.as_ref().map_or(s.span, |e| whole_span(e)),
                                "`failure()` without needs in the same section has no Argo equivalent",
                                "add the steps it watches to `needs:`",
                            ));
                        } else {
                            let f: Vec<String> = same
                                .iter()
                                .map(|&j| {
                                    let t = name(j);
                                    format!("{t}.Failed || {t}.Errored")
                                })
                                .collect();
                            clauses.push(format!("({})", f.join(" || ")));
                        }
                    }
                }
                clauses.extend(after.iter().map(|&j| any(&name(j))));
                if !clauses.is_empty() {
                    task.set("depends", Node::str(clauses.join(" && ")));
                }
            }
        }
        if let Some(w) = when {
            task.set("when", Node::str(w));
        }
    }

    /// Text for a template body: local tags become input parameters.
    fn render(
        &mut self,
        pieces: &[Piece],
        params: &mut Params,
        span: crate::source::Span,
        problems: &mut Vec<Problem>,
    ) -> String {
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => {
                    if t.contains("{{") {
                        problems.push(Problem::new(
                            span,
                            "`{{` in text would be read by Argo as one of its own variables",
                            "avoid `{{` in scripts and values exported to Argo",
                        ));
                    }
                    out.push_str(t);
                }
                Piece::Tag(Tag::Lit(s)) => out.push_str(s),
                Piece::Tag(Tag::Var {
                    path, local: true, ..
                }) => {
                    let n = params.name_for(path);
                    out.push_str(&format!("{{{{inputs.parameters.{n}}}}}"));
                }
                Piece::Tag(Tag::Var { path, .. }) => out.push_str(&tag_text(path)),
            }
        }
        out
    }

    /// A string value as template text; the original `${{ }}` text when it
    /// cannot be translated (the problem is recorded).
    fn text(
        &mut self,
        t: &Template,
        tr: &mut Tr<'_>,
        params: &mut Params,
        problems: &mut Vec<Problem>,
    ) -> String {
        let span = t
            .exprs()
            .next()
            .map_or_else(Default::default, |e| e.value_span);
        match tr.template(t) {
            Ok(pieces) => self.render(&pieces, params, span, problems),
            Err(p) => {
                problems.push(p);
                original(t)
            }
        }
    }

    fn val_text(
        &mut self,
        v: &Val,
        tr: &mut Tr<'_>,
        params: &mut Params,
        problems: &mut Vec<Problem>,
        step: &Step,
        key: &str,
    ) -> String {
        match v {
            Val::Lit(Json::Array(_) | Json::Object(_)) | Val::List(_) | Val::Map(_) => {
                problems.push(Problem::new(
                    self.loc.step_key(&step.id, key, step.span),
                    "a list or map value has no faithful text form on Argo (orch keeps its type)",
                    "write it as a JSON string",
                ));
                String::new()
            }
            Val::Lit(j) => json_text(j),
            Val::Str(t) => self.text(t, tr, params, problems),
        }
    }

    /// What no kind of step can take to Argo.
    fn checks(&mut self, s: &Step, problems: &mut Vec<Problem>) {
        if s.compensate.is_some() {
            problems.push(Problem::new(
                self.loc.step_key(&s.id, "compensate", s.span),
                "`compensate:` needs to know which steps completed; Argo's exit handler cannot see that",
                "undo in an `on_failure:` step that checks what exists, or drop `compensate:`",
            ));
        }
        if !s.outputs.is_empty() {
            problems.push(Problem::new(
                self.loc.step_key(&s.id, "outputs", s.span),
                "a step's `outputs:` are computed by orch after the step; Argo has no such stage",
                "write the values to $ORCH_OUTPUT in the script instead",
            ));
        }
        if s.priority != 0 {
            self.notes.push(format!(
                "step `{}`: `priority` orders ready steps in orch; Argo has no task priority",
                s.id
            ));
        }
        if s.working_dir.is_some() {
            problems.push(Problem::new(
                self.loc.step_key(&s.id, "working_dir", s.span),
                "`working_dir` is a directory of this machine; the container has other files",
                "drop it (set the image's working directory instead)",
            ));
        }
    }

    fn body(
        &mut self,
        s: &Step,
        tr: &mut Tr<'_>,
        params: &mut Params,
        tpl: &mut Node,
        problems: &mut Vec<Problem>,
    ) {
        self.checks(s, problems);
        match &s.body.kind {
            StepKind::Run { script, shell } => {
                let text = self.text(script, tr, params, problems);
                for (var, what) in [
                    (
                        "ORCH_ENV",
                        "`ORCH_ENV` passes variables to later steps; Argo has no such channel",
                    ),
                    (
                        "ORCH_INDEX",
                        "`ORCH_INDEX` (the item's position) has no Argo variable",
                    ),
                ] {
                    if text.contains(var) {
                        problems.push(Problem::new(
                            self.loc.step_key(&s.id, "run", s.span),
                            what,
                            "pass values with $ORCH_OUTPUT and `steps.<id>.outputs.<key>` instead",
                        ));
                    }
                }
                let image = self.opts.image.clone().unwrap_or_else(|| {
                    match shell {
                        crate::model::Shell::Bash => super::DEFAULT_BASH_IMAGE,
                        crate::model::Shell::Sh => super::DEFAULT_IMAGE,
                    }
                    .to_string()
                });
                let retried = self.retry(s, tr, tpl, problems);
                let source = wrapper(&text, shell.program(), retried);
                let mut script_node = Node::map()
                    .with("image", Node::str(image))
                    .with("command", Node::Seq(vec![Node::str("sh")]));
                let env = self.env(s, tr, params, problems);
                if !env.is_empty() {
                    script_node.set("env", Node::Seq(env));
                }
                script_node.set("source", Node::str(source));
                tpl.set("script", script_node);
                self.timeout(s, tpl, problems);
            }
            StepKind::Transform(values) => {
                let mut env = Vec::new();
                let mut src = format!("mkdir -p {OUT_DIR}\n");
                for (n, (k, v)) in values.iter().enumerate() {
                    if !k
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                    {
                        problems.push(Problem::new(
                            s.span,
                            format!("transform key `{k}` is not a file name"),
                            "use letters, digits, `_`, `-`",
                        ));
                        continue;
                    }
                    let value = self.val_text(v, tr, params, problems, s, "transform");
                    env.push(
                        Node::map()
                            .with("name", Node::str(format!("ORCH_VALUE_{n}")))
                            .with("value", Node::str(value)),
                    );
                    src.push_str(&format!(
                        "printf '%s' \"$ORCH_VALUE_{n}\" > {OUT_DIR}/{k}\n"
                    ));
                }
                let mut script_node = Node::map()
                    .with(
                        "image",
                        Node::str(
                            self.opts
                                .image
                                .clone()
                                .unwrap_or_else(|| super::DEFAULT_IMAGE.into()),
                        ),
                    )
                    .with("command", Node::Seq(vec![Node::str("sh")]));
                if !env.is_empty() {
                    script_node.set("env", Node::Seq(env));
                }
                script_node.set("source", Node::str(src));
                tpl.set("script", script_node);
            }
            StepKind::Http(h) => {
                let url = self.text_val(&h.url, tr, params, problems, s, "http");
                let mut query = Vec::new();
                for (k, v) in &h.query {
                    match v {
                        Val::Lit(j) => query.push((k.clone(), json_text(j))),
                        _ => problems.push(Problem::new(
                            self.loc.step_key(&s.id, "http", s.span),
                            "a query value with expressions cannot be URL-encoded on Argo",
                            "put the value in the URL yourself, already encoded",
                        )),
                    }
                }
                let url = with_query(url, &query);
                let mut headers = Vec::new();
                for (k, v) in &h.headers {
                    let value = self.text_val(v, tr, params, problems, s, "http");
                    headers.push(
                        Node::map()
                            .with("name", Node::str(k))
                            .with("value", Node::str(value)),
                    );
                }
                let body = match &h.body {
                    None => None,
                    Some(HttpBody::Text(v)) => {
                        Some(self.text_val(v, tr, params, problems, s, "http"))
                    }
                    Some(HttpBody::Json(v)) => {
                        if !h
                            .headers
                            .iter()
                            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                        {
                            headers.push(
                                Node::map()
                                    .with("name", Node::str("Content-Type"))
                                    .with("value", Node::str("application/json")),
                            );
                        }
                        Some(self.json_body(v, tr, params, problems, s))
                    }
                    Some(HttpBody::Form(_)) => {
                        problems.push(Problem::new(
                            self.loc.step_key(&s.id, "http", s.span),
                            "form bodies have no Argo http equivalent",
                            "send `json:` or `body:`",
                        ));
                        None
                    }
                };
                if !h.follow_redirects {
                    problems.push(Problem::new(
                        self.loc.step_key(&s.id, "http", s.span),
                        "`follow_redirects: false` has no Argo http equivalent",
                        "drop it",
                    ));
                }
                self.http_retry(s, tr, tpl, problems);
                let timeout = s.body.timeout.unwrap_or(Duration::from_secs(30));
                let node = self.http_node(
                    &h.method,
                    url,
                    headers,
                    body,
                    &h.expect_status,
                    timeout,
                    s,
                    problems,
                );
                tpl.set("http", node);
            }
            StepKind::Call {
                target,
                endpoint,
                with,
                spans,
            } => {
                let candidates = self.cfg.candidates(target);
                let Some(svc) = candidates.first().copied() else {
                    problems.push(Problem::new(
                        spans.target,
                        "no service answers this call",
                        "declare it in orchestration.yaml",
                    ));
                    return;
                };
                if candidates.len() > 1 && self.cfg.policies.fallback_on_error {
                    let what = match target {
                        CallTarget::Capability(c) => format!("capability `{c}`"),
                        CallTarget::Service(s) => format!("service `{s}`"),
                    };
                    problems.push(Problem::new(
                        spans.target,
                        format!(
                            "{what} falls over to the next service on failure; Argo calls one URL"
                        ),
                        format!(
                            "call `service: {}` directly, or turn `fallback_on_error` off",
                            svc.id
                        ),
                    ));
                }
                if svc.circuit_breaker.is_some() {
                    problems.push(Problem::new(
                        spans.target,
                        format!("service `{}` has a circuit breaker; Argo has none", svc.id),
                        "export with a configuration without `circuit_breaker`",
                    ));
                }
                if svc.rate_limit.is_some() {
                    problems.push(Problem::new(
                        spans.target,
                        format!("service `{}` has a rate limit; Argo has none", svc.id),
                        "export with a configuration without `rate_limit`",
                    ));
                }
                let Some(ep) = svc.endpoint(endpoint) else {
                    problems.push(Problem::new(
                        spans.endpoint,
                        format!("service `{}` has no endpoint `{endpoint}`", svc.id),
                        "validate the file first",
                    ));
                    return;
                };
                let mut path = ep.path.clone();
                let mut query = Vec::new();
                let mut headers = Vec::new();
                let mut body: Vec<(String, Val)> = Vec::new();
                for (k, v) in with {
                    let location = ep.parameter(k).map_or(ParamIn::Body, |p| p.location);
                    match (location, v) {
                        (ParamIn::Body, _) => body.push((k.clone(), v.clone())),
                        (ParamIn::Header, _) => {
                            let value = self.text_val(v, tr, params, problems, s, "call");
                            headers.push(Node::map().with("name", Node::str(k)).with("value", Node::str(value)));
                        }
                        (ParamIn::Path, Val::Lit(j)) => {
                            let seg = percent_encoding::utf8_percent_encode(&json_text(j), percent_encoding::NON_ALPHANUMERIC).to_string();
                            path = path.replace(&format!("{{{k}}}"), &seg);
                        }
                        (ParamIn::Query, Val::Lit(j)) => query.push((k.clone(), json_text(j))),
                        _ => problems.push(Problem::new(
                            self.loc.step_key(&s.id, "call", s.span),
                            format!("`{k}` goes into the URL, and a value with expressions cannot be URL-encoded on Argo"),
                            "pass a literal value",
                        )),
                    }
                }
                if self.cfg.middleware.authentication {
                    let secret = |key: &str| {
                        Node::map().with(
                            "secretKeyRef",
                            Node::map()
                                .with("name", Node::str(&self.opts.secret_name))
                                .with("key", Node::str(key)),
                        )
                    };
                    match &svc.auth {
                        Auth::None => {}
                        Auth::Bearer { credential } | Auth::Basic { credential } => {
                            headers.push(
                                Node::map()
                                    .with("name", Node::str("Authorization"))
                                    .with("valueFrom", secret(credential)),
                            );
                            self.notes.push(format!(
                                "service `{}`: key `{credential}` of Secret `{}` must hold the whole Authorization header value (`{} …`)",
                                svc.id,
                                self.opts.secret_name,
                                if matches!(svc.auth, Auth::Bearer { .. }) { "Bearer" } else { "Basic" }
                            ));
                        }
                        Auth::ApiKey { header, credential } => {
                            headers.push(
                                Node::map()
                                    .with("name", Node::str(header))
                                    .with("valueFrom", secret(credential)),
                            );
                        }
                    }
                }
                let body_text = if body.is_empty() {
                    None
                } else {
                    headers.push(
                        Node::map()
                            .with("name", Node::str("Content-Type"))
                            .with("value", Node::str("application/json")),
                    );
                    Some(self.json_body(&Val::Map(body), tr, params, problems, s))
                };
                let url = with_query(join_url(&svc.base_url, &path), &query);
                self.http_retry(s, tr, tpl, problems);
                let timeout = s
                    .body
                    .timeout
                    .or(svc.timeout)
                    .unwrap_or(Duration::from_secs(30));
                let node = self.http_node(
                    &ep.method,
                    url,
                    headers,
                    body_text,
                    &[],
                    timeout,
                    s,
                    problems,
                );
                tpl.set("http", node);
            }
            StepKind::Approval { message, timeout } => {
                if timeout.is_some() {
                    problems.push(Problem::new(
                        self.loc.step_subkey(&s.id, "approval", "timeout", s.span),
                        "an approval that times out is rejected in orch; Argo's suspend resumes (approves) after its duration",
                        "drop the timeout (`argo resume` approves, `argo stop` rejects)",
                    ));
                }
                if message.is_some() {
                    self.notes.push(format!(
                        "step `{}`: the approval message is not shown by Argo's suspend",
                        s.id
                    ));
                }
                tpl.set("suspend", Node::map());
            }
            // Compiled by `child_call` (children.rs), never as a template.
            StepKind::Workflow { .. } => {}
        }
        if let Some(c) = &s.cache {
            self.cache(s, c, tr, params, tpl, problems);
        }
        if !s.resources.is_empty() {
            let mut sems = Vec::new();
            for (pool, amount) in &s.resources {
                if *amount != 1 {
                    problems.push(Problem::new(
                        self.loc.step_key(&s.id, "resources", s.span),
                        format!("`{pool}: {amount}`: an Argo semaphore is held once per step"),
                        "ask for 1 of the pool",
                    ));
                }
                sems.push(
                    Node::map().with(
                        "configMapKeyRef",
                        Node::map()
                            .with("name", Node::str(super::POOLS_CONFIGMAP))
                            .with("key", Node::str(pool)),
                    ),
                );
            }
            tpl.set(
                "synchronization",
                Node::map().with("semaphores", Node::Seq(sems)),
            );
        }
    }

    fn text_val(
        &mut self,
        v: &Val,
        tr: &mut Tr<'_>,
        params: &mut Params,
        problems: &mut Vec<Problem>,
        s: &Step,
        key: &str,
    ) -> String {
        self.val_text(v, tr, params, problems, s, key)
    }

    /// A JSON body with tags: a string that is one whole expression of a
    /// text value becomes `{{=sprig.toJson(…)}}`, so quotes are escaped.
    fn json_body(
        &mut self,
        v: &Val,
        tr: &mut Tr<'_>,
        params: &mut Params,
        problems: &mut Vec<Problem>,
        s: &Step,
    ) -> String {
        match v {
            Val::Lit(j) => j.to_string(),
            Val::List(l) => format!(
                "[{}]",
                l.iter()
                    .map(|x| self.json_body(x, tr, params, problems, s))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Val::Map(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, x)| format!(
                        "{}:{}",
                        Json::String(k.clone()),
                        self.json_body(x, tr, params, problems, s)
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Val::Str(t) => {
                let Some(e) = t.whole() else {
                    problems.push(Problem::new(
                        t.exprs().next().map_or(s.span, |e| e.value_span),
                        "text mixed with expressions inside a JSON body cannot be escaped on Argo",
                        "make the value exactly one `${{ }}`",
                    ));
                    return "null".into();
                };
                match tr.reference(e, &e.ast) {
                    Ok(Tag::Lit(x)) => Json::String(x).to_string(),
                    Ok(Tag::Var { path, local, ty }) => {
                        let var = if local {
                            format!("inputs.parameters['{}']", params.name_for(&path))
                        } else {
                            // `workflow.parameters['x']`: names may hold `-`.
                            let cut = path.len().min(2);
                            let head = path[..cut].join(".");
                            path[cut..]
                                .iter()
                                .fold(head, |acc, p| format!("{acc}['{p}']"))
                        };
                        match ty {
                            Ty::Str => format!("{{{{=sprig.toJson({var})}}}}"),
                            Ty::Num | Ty::Bool => format!("{{{{={var}}}}}"),
                            Ty::Structured => format!("{{{{={var}}}}}"),
                        }
                    }
                    Err(p) => {
                        problems.push(p);
                        "null".into()
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn http_node(
        &mut self,
        method: &str,
        url: String,
        headers: Vec<Node>,
        body: Option<String>,
        expect: &[u16],
        timeout: Duration,
        s: &Step,
        problems: &mut Vec<Problem>,
    ) -> Node {
        let cond = if expect.is_empty() {
            "response.statusCode >= 200 && response.statusCode < 300".to_string()
        } else {
            expect
                .iter()
                .map(|c| format!("response.statusCode == {c}"))
                .collect::<Vec<_>>()
                .join(" || ")
        };
        let (secs, exact) = seconds(timeout);
        if !exact {
            problems.push(Problem::new(
                self.loc.step_key(&s.id, "timeout", s.span),
                "Argo http timeouts are whole seconds",
                "use a whole number of seconds",
            ));
        }
        let mut n = Node::map()
            .with("method", Node::str(method.to_ascii_uppercase()))
            .with("url", Node::str(url));
        if !headers.is_empty() {
            n.set("headers", Node::Seq(headers));
        }
        if let Some(b) = body {
            n.set("body", Node::str(b));
        }
        n.set("successCondition", Node::str(cond));
        n.set("timeoutSeconds", Node::int(secs));
        n
    }

    fn env(
        &mut self,
        s: &Step,
        tr: &mut Tr<'_>,
        params: &mut Params,
        problems: &mut Vec<Problem>,
    ) -> Vec<Node> {
        let wf = self.wf;
        let mut vars: Vec<(String, &Val)> = Vec::new();
        for (k, v) in wf.env.iter().chain(&s.body.env) {
            match vars.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v,
                None => vars.push((k.clone(), v)),
            }
        }
        let mut out = vec![
            Node::map()
                .with("name", Node::str("ORCH_RUN_ID"))
                .with("value", Node::str("{{workflow.name}}")),
            Node::map()
                .with("name", Node::str("ORCH_WORKFLOW"))
                .with("value", Node::str(&wf.name)),
            Node::map()
                .with("name", Node::str("ORCH_STEP_ID"))
                .with("value", Node::str(&s.id)),
        ];
        if s.for_each.is_some() {
            let n = params.name_for(&["item".to_string()]);
            out.push(
                Node::map()
                    .with("name", Node::str("ORCH_ITEM"))
                    .with("value", Node::str(format!("{{{{inputs.parameters.{n}}}}}"))),
            );
        }
        for (k, v) in vars {
            let secret = match v {
                Val::Str(t) => t.whole().and_then(|e| {
                    crate::expr::segments(&e.ast)
                        .filter(|seg| seg.len() == 2 && seg[0] == "secrets")
                        .map(|seg| seg[1].clone())
                }),
                _ => None,
            };
            let node = match secret {
                Some(name) => Node::map().with("name", Node::str(&k)).with(
                    "valueFrom",
                    Node::map().with(
                        "secretKeyRef",
                        Node::map()
                            .with("name", Node::str(&self.opts.secret_name))
                            .with("key", Node::str(name)),
                    ),
                ),
                None => {
                    let value = self.val_text(v, tr, params, problems, s, "env");
                    Node::map()
                        .with("name", Node::str(&k))
                        .with("value", Node::str(value))
                }
            };
            out.push(node);
        }
        out
    }

    fn timeout(&mut self, s: &Step, tpl: &mut Node, problems: &mut Vec<Problem>) {
        if let Some(t) = s.body.timeout {
            let (secs, exact) = seconds(t);
            if !exact {
                problems.push(Problem::new(
                    self.loc.step_key(&s.id, "timeout", s.span),
                    format!(
                        "Argo deadlines are whole seconds; {} would become {secs}s",
                        crate::duration::short(t)
                    ),
                    "use a whole number of seconds",
                ));
            }
            tpl.set("activeDeadlineSeconds", Node::int(secs));
        }
    }

    /// http/call steps retry only some failures in orch; Argo retries all.
    fn http_retry(
        &mut self,
        s: &Step,
        tr: &mut Tr<'_>,
        tpl: &mut Node,
        problems: &mut Vec<Problem>,
    ) {
        let spec = s
            .body
            .retry
            .clone()
            .or_else(|| self.cfg.retry.clone())
            .unwrap_or_else(RetrySpec::http_default);
        if spec.max_attempts > 1 {
            problems.push(Problem::new(
                self.loc.step_key(&s.id, "retry", s.span),
                format!(
                    "orch retries this request ({} attempts) only on connect errors, timeouts, 408, 429 and 5xx; Argo would retry every failure, 4xx included",
                    spec.max_attempts
                ),
                "set `retry: { max_attempts: 1 }` on the step",
            ));
            self.retry_spec(s, &spec, tr, tpl, problems);
        }
    }

    /// `retry:` of a `run` step; whether it retries.
    fn retry(
        &mut self,
        s: &Step,
        tr: &mut Tr<'_>,
        tpl: &mut Node,
        problems: &mut Vec<Problem>,
    ) -> bool {
        match s.body.retry.clone() {
            Some(spec) if spec.max_attempts > 1 => {
                self.retry_spec(s, &spec, tr, tpl, problems);
                true
            }
            _ => false,
        }
    }

    fn retry_spec(
        &mut self,
        s: &Step,
        spec: &RetrySpec,
        _tr: &mut Tr<'_>,
        tpl: &mut Node,
        problems: &mut Vec<Problem>,
    ) {
        let mut r = Node::map()
            .with("limit", Node::int(u64::from(spec.max_attempts - 1)))
            .with("retryPolicy", Node::str("Always"));
        let mut backoff = Node::map().with("duration", Node::str(go_duration(spec.base_delay)));
        match spec.strategy {
            DelayStrategy::Fixed => {}
            DelayStrategy::Linear => problems.push(Problem::new(
                self.loc
                    .step_subkey(&s.id, "retry", "delay_strategy", s.span),
                "a linear backoff has no Argo equivalent (Argo multiplies by a factor)",
                "use `delay_strategy: fixed` or `exponential`",
            )),
            DelayStrategy::Exponential => {
                if spec.factor.fract() != 0.0 || spec.factor < 1.0 {
                    problems.push(Problem::new(
                        self.loc.step_subkey(&s.id, "retry", "factor", s.span),
                        "Argo's backoff factor is a whole number",
                        "use a whole `factor`",
                    ));
                }
                backoff.set("factor", Node::int(spec.factor.max(1.0) as u64));
            }
        }
        if let Some(m) = spec.max_delay {
            backoff.set("cap", Node::str(go_duration(m)));
        }
        r.set("backoff", backoff);
        if spec.jitter {
            self.notes.push(format!(
                "step `{}`: retry jitter is not representable on Argo; delays are exact",
                s.id
            ));
        }
        if let Some(c) = &spec.condition {
            match retry_condition(&c.ast) {
                Some(expr) => r.set("expression", Node::str(expr)),
                None => problems.push(Problem::new(
                    whole_span(c),
                    format!("retry condition `{}` has no Argo equivalent", c.text.trim()),
                    "Argo's retry expression sees only the exit code: use `error.exit_code == N`, or drop the condition",
                )),
            }
        }
        tpl.set("retryStrategy", r);
    }

    fn cache(
        &mut self,
        s: &Step,
        c: &crate::model::CacheSpec,
        tr: &mut Tr<'_>,
        params: &mut Params,
        tpl: &mut Node,
        problems: &mut Vec<Problem>,
    ) {
        if !c.sources.is_empty() {
            problems.push(Problem::new(
                self.loc.step_subkey(&s.id, "cache", "sources", s.span),
                "`cache.sources` hashes files of this machine; an Argo memoize key cannot read them",
                "drop `sources` and put what changes into `cache.key`",
            ));
        }
        // The definition as written, then every value the step reads.
        let mut key = format!(
            "{}-{}",
            self.tasks[&s.id],
            &s.definition[..s.definition.len().min(16)]
        );
        let mut exprs: Vec<&std::sync::Arc<crate::expr::Expr>> = s.body.exprs();
        if let Some(k) = &c.key {
            exprs.extend(k.exprs());
        }
        for e in exprs {
            if crate::expr::segments(&e.ast)
                .is_some_and(|seg| seg.first().is_some_and(|r| r == "secrets"))
            {
                continue;
            }
            match tr.reference(e, &e.ast) {
                Ok(tag) => {
                    let pieces = [Piece::Tag(tag)];
                    key.push('-');
                    key.push_str(&self.render(&pieces, params, e.value_span, problems));
                }
                Err(p) => problems.push(p),
            }
        }
        let mut m = Node::map().with("key", Node::str(key)).with(
            "cache",
            Node::map().with(
                "configMap",
                Node::map().with("name", Node::str(super::CACHE_CONFIGMAP)),
            ),
        );
        if let Some(ttl) = c.ttl {
            m.set("maxAge", Node::str(go_duration(ttl)));
        }
        self.notes.push(format!(
            "step `{}`: memoized in ConfigMap `{}` (1 MiB in all; values of secrets are not part of the key)",
            s.id,
            super::CACHE_CONFIGMAP
        ));
        tpl.set("memoize", m);
    }
}

/// The step's text as written, for a lenient export of what failed.
fn original(t: &Template) -> String {
    t.parts
        .iter()
        .map(|p| match p {
            crate::model::Part::Text(s) => s.clone(),
            crate::model::Part::Expr(e) => format!("${{{{{}}}}}", e.text),
        })
        .collect()
}

fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if path.is_empty() {
        base.to_string()
    } else if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

fn with_query(mut url: String, q: &[(String, String)]) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    for (i, (k, v)) in q.iter().enumerate() {
        url.push(if i == 0 && !url.contains('?') {
            '?'
        } else {
            '&'
        });
        url.push_str(&format!("{}={}", enc(k), enc(v)));
    }
    url
}

/// `error.exit_code == N` (`!=`, `&&`, `||` of those) as Argo's retry
/// expression over `lastRetry`.
fn retry_condition(ast: &cel::IdedExpr) -> Option<String> {
    use cel::common::ast::{CallExpr, Expr as Ast, LiteralValue};
    let Ast::Call(CallExpr {
        func_name,
        target: None,
        args,
    }) = &ast.expr
    else {
        return None;
    };
    match (func_name.as_str(), args.as_slice()) {
        ("_&&_" | "_||_", [a, b]) => {
            let op = &func_name[1..3];
            Some(format!(
                "({}) {op} ({})",
                retry_condition(a)?,
                retry_condition(b)?
            ))
        }
        (op @ ("_==_" | "_!=_"), [a, b]) => {
            let seg = crate::expr::segments(a)?;
            if seg != ["error", "exit_code"] {
                return None;
            }
            let Ast::Literal(LiteralValue::Int(n)) = &b.expr else {
                return None;
            };
            Some(format!(
                "asInt(lastRetry.exitCode) {} {}",
                &op[1..3],
                n.inner()
            ))
        }
        _ => None,
    }
}

/// The script Argo runs: the step's own script under `<shell> -e`, with
/// `ORCH_OUTPUT` read back into one file per key for output parameters.
fn wrapper(script: &str, shell: &str, retried: bool) -> String {
    let mut delim = "ORCH_SCRIPT_END".to_string();
    while script.lines().any(|l| l == delim) {
        delim.push('_');
    }
    let attempt = if retried { "$(({{retries}} + 1))" } else { "1" };
    let mut s = String::new();
    s.push_str("set -e\n");
    s.push_str(&format!("mkdir -p {OUT_DIR}\n"));
    s.push_str("export ORCH_OUTPUT=/tmp/orch/output\n: > \"$ORCH_OUTPUT\"\n");
    s.push_str(&format!("export ORCH_ATTEMPT={attempt}\n"));
    s.push_str(&format!("cat > /tmp/orch/script <<'{delim}'\n"));
    s.push_str(script);
    if !script.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(&format!("{delim}\n"));
    s.push_str(&format!("{shell} -e /tmp/orch/script\n"));
    s.push_str(concat!(
        "# key=value and key<<DELIM lines of $ORCH_OUTPUT, one file per key\n",
        "awk -v dir=/tmp/orch/outputs '\n",
        "  d != \"\" { if ($0 == d) { printf \"%s\", v > (dir \"/\" k); close(dir \"/\" k); d = \"\" } else { v = (n++ ? v \"\\n\" : \"\") $0 }; next }\n",
        "  /^[A-Za-z_][A-Za-z0-9_-]*<</ { i = index($0, \"<<\"); k = substr($0, 1, i - 1); d = substr($0, i + 2); v = \"\"; n = 0; next }\n",
        "  /^[A-Za-z_][A-Za-z0-9_-]*=/ { i = index($0, \"=\"); f = dir \"/\" substr($0, 1, i - 1); printf \"%s\", substr($0, i + 1) > f; close(f) }\n",
        "' \"$ORCH_OUTPUT\"\n",
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_queries() {
        assert_eq!(go_duration(Duration::from_millis(50)), "50ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "90s");
        assert_eq!(seconds(Duration::from_millis(300)), (1, false));
        assert_eq!(
            with_query("http://h/p".into(), &[("a b".into(), "c&d".into())]),
            "http://h/p?a%20b=c%26d"
        );
    }

    #[test]
    fn the_wrapper_keeps_the_script_and_reads_outputs() {
        let w = wrapper("echo hi\nORCH_SCRIPT_END\n", "bash", true);
        assert!(w.contains("<<'ORCH_SCRIPT_END_'\necho hi\nORCH_SCRIPT_END\nORCH_SCRIPT_END_\n"));
        assert!(w.contains("bash -e /tmp/orch/script"));
        assert!(w.contains("ORCH_ATTEMPT=$(({{retries}} + 1))"));
    }
}
