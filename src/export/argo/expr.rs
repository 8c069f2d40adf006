//! `${{ }}` CEL translated to Argo, only where the meaning is the same:
//! plain references become `{{…}}` tags, simple `if:` conditions become a
//! `when` (govaluate) plus the task's `depends`; anything else is refused
//! with the place it is written.

use std::collections::BTreeSet;

use cel::common::ast::{CallExpr, Expr as Ast, LiteralValue};
use cel::IdedExpr;

use crate::expr::{segments, Expr, Part, Template};
use crate::model::{InputType, Phase, StepKind, Workflow};
use crate::source::Span;

use super::Problem;

/// The type of a value a tag stands for (Argo parameters are all text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Str,
    Num,
    Bool,
    /// A list or map: only whole, as the items of a fan-out.
    Structured,
}

/// What a reference becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tag {
    /// An Argo variable. `local` ones (`tasks.…`, `item`) exist only in
    /// the DAG's task fields, so a template gets them as input parameters.
    Var {
        path: Vec<String>,
        local: bool,
        ty: Ty,
    },
    /// Known when exporting (`run.workflow`).
    Lit(String),
}

impl Tag {
    fn var(path: &[&str], local: bool, ty: Ty) -> Tag {
        Tag::Var {
            path: path.iter().map(|s| s.to_string()).collect(),
            local,
            ty,
        }
    }
}

/// A piece of translated text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Text(String),
    Tag(Tag),
}

/// What an `if:` decides about the step's needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// The default `success()`: every need succeeded (or was skipped).
    Success,
    /// `always()`: whatever the needs did.
    Always,
    /// `failure()`: some need failed.
    Failure,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cond {
    pub(crate) status: Status,
    /// A govaluate condition for the task's `when`.
    pub(crate) when: Option<String>,
}

/// The translation context of one step.
pub(crate) struct Tr<'a> {
    pub(crate) wf: &'a Workflow,
    /// The phase of the step whose expressions are translated: main steps
    /// are tasks of the entry DAG, the others of the exit handler.
    pub(crate) phase: Phase,
    /// The task name of each step id.
    pub(crate) task: &'a dyn Fn(&str) -> String,
    /// Outputs (step id, key) read as `{{tasks.…}}` or exported globally.
    pub(crate) outputs: BTreeSet<(String, String)>,
    pub(crate) exported: BTreeSet<(String, String)>,
    /// A child workflow inlined into its parent's manifest: its inputs are
    /// its DAG template's input parameters, not the workflow's.
    pub(crate) child: bool,
}

fn exit_phase(p: Phase) -> bool {
    p != Phase::Main
}

pub(crate) fn whole_span(e: &Expr) -> Span {
    e.span_of(0, e.text.chars().count())
}

fn problem(e: &Expr, message: impl Into<String>, help: impl Into<String>) -> Problem {
    Problem::new(whole_span(e), message, help)
}

const SIMPLIFY: &str = "Argo has no faithful equivalent: compute the value in a `run` step, write it to $ORCH_OUTPUT, and read `steps.<id>.outputs.<key>`";

/// The global name an output of a main step is exported under, for the
/// exit handler and the workflow's outputs: task names have no `_`.
pub(crate) fn global_name(task: &str, key: &str) -> String {
    format!("{task}_{key}")
}

impl<'a> Tr<'a> {
    /// A reference (`inputs.x`, `steps.x.outputs.k`, `item`, `run.id`).
    pub(crate) fn reference(&mut self, e: &Expr, ast: &IdedExpr) -> Result<Tag, Problem> {
        let Some(seg) = segments(ast) else {
            return Err(problem(
                e,
                format!("`{}` cannot be translated to Argo", e.text.trim()),
                SIMPLIFY,
            ));
        };
        let s: Vec<&str> = seg.iter().map(String::as_str).collect();
        match s.as_slice() {
            ["inputs", name] => {
                let ty = match self
                    .wf
                    .inputs
                    .iter()
                    .find(|d| d.name == *name)
                    .map(|d| d.ty)
                {
                    Some(InputType::String) | None => Ty::Str,
                    Some(InputType::Number) => Ty::Num,
                    Some(InputType::Boolean) => Ty::Bool,
                    Some(InputType::List | InputType::Object) => Ty::Structured,
                };
                if self.child {
                    Ok(Tag::var(&["inputs", "parameters", name], true, ty))
                } else {
                    Ok(Tag::var(&["workflow", "parameters", name], false, ty))
                }
            }
            ["steps", id, rest @ ..] => self.step_ref(e, id, rest),
            ["item"] => Ok(Tag::var(&["item"], true, Ty::Str)),
            ["item", key] => Ok(Tag::var(&["item", key], true, Ty::Str)),
            ["run", "id"] => Ok(Tag::var(&["workflow", "name"], false, Ty::Str)),
            ["run", "workflow"] => Ok(Tag::Lit(self.wf.name.clone())),
            ["secrets", ..] => Err(problem(
                e,
                "a secret can only be the whole value of an `env:` variable on Argo",
                "write `env: { NAME: \"${{ secrets.<name> }}\" }`: it becomes a `secretKeyRef`",
            )),
            _ => Err(problem(
                e,
                format!("`{}` has no Argo equivalent", e.text.trim()),
                SIMPLIFY,
            )),
        }
    }

    fn step_ref(&mut self, e: &Expr, id: &str, rest: &[&str]) -> Result<Tag, Problem> {
        let Some(step) = self.wf.steps.iter().find(|s| s.id == id) else {
            return Err(problem(
                e,
                format!("no step `{id}`"),
                "validate the file first",
            ));
        };
        let task = (self.task)(id);
        // Tasks of the entry DAG are out of the exit handler's sight.
        let across = exit_phase(self.phase) && step.phase == Phase::Main;
        match rest {
            ["outputs", key] => {
                if across && matches!(step.body.kind, StepKind::Workflow { .. }) {
                    return Err(problem(
                        e,
                        "outputs of a `workflow:` step are outputs of its child's DAG template, which Argo's exit handler cannot see",
                        "copy the value to $ORCH_OUTPUT of a `run` step after it, and read that",
                    ));
                }
                if across {
                    self.exported.insert((id.to_string(), key.to_string()));
                    self.outputs.insert((id.to_string(), key.to_string()));
                    let g = global_name(&task, key);
                    return Ok(Tag::var(&["workflow", "outputs", "parameters", &g], false, Ty::Str));
                }
                self.outputs.insert((id.to_string(), key.to_string()));
                Ok(Tag::var(&["tasks", &task, "outputs", "parameters", key], true, Ty::Str))
            }
            ["stdout"] | ["body"] if !across => {
                let ok = matches!(
                    (&step.body.kind, rest),
                    (StepKind::Run { .. }, ["stdout"])
                        | (StepKind::Http(_) | StepKind::Call { .. }, ["body"])
                );
                if !ok {
                    return Err(problem(
                        e,
                        format!("`{}` has no Argo equivalent for a `{}` step", e.text.trim(), step.body.kind.name()),
                        SIMPLIFY,
                    ));
                }
                Ok(Tag::var(&["tasks", &task, "outputs", "result"], true, Ty::Str))
            }
            ["exit_code"] if !across && matches!(step.body.kind, StepKind::Run { .. }) => {
                Ok(Tag::var(&["tasks", &task, "exitCode"], true, Ty::Num))
            }
            _ if across => Err(problem(
                e,
                format!(
                    "`{}`: Argo's exit handler (on_failure/finally) cannot see the results of main steps, only their exported outputs",
                    e.text.trim()
                ),
                "read only `steps.<id>.outputs.<key>` of main steps in on_failure/finally steps",
            )),
            _ => Err(problem(
                e,
                format!("`{}` has no Argo equivalent", e.text.trim()),
                SIMPLIFY,
            )),
        }
    }

    /// A string value: literal text and tags.
    pub(crate) fn template(&mut self, t: &Template) -> Result<Vec<Piece>, Problem> {
        let mut out = Vec::new();
        for p in &t.parts {
            match p {
                Part::Text(s) => out.push(Piece::Text(s.clone())),
                Part::Expr(e) => {
                    let tag = self.reference(e, &e.ast)?;
                    if let Tag::Var {
                        ty: Ty::Structured, ..
                    } = tag
                    {
                        return Err(problem(
                            e,
                            "a list or object input rendered into text has no faithful Argo form (orch writes JSON)",
                            "pass it whole as `for_each:`, or serialise it in a `run` step",
                        ));
                    }
                    out.push(Piece::Tag(tag));
                }
            }
        }
        Ok(out)
    }

    /// An `if:`: the status function it uses and the rest as a `when`.
    pub(crate) fn cond(&mut self, e: &Expr) -> Result<Cond, Problem> {
        let mut conj = Vec::new();
        flatten_and(&e.ast, &mut conj);
        let mut status = None;
        let mut whens = Vec::new();
        for c in conj {
            match status_call(c) {
                Some(Err(name)) => {
                    return Err(problem(
                        e,
                        format!("`{name}()` has no Argo equivalent"),
                        "Argo cannot tell a cancelled workflow apart in a task condition",
                    ))
                }
                Some(Ok(s)) => {
                    if status.is_some_and(|p| p != s) {
                        return Err(problem(
                            e,
                            "two different status functions in one `if:`",
                            SIMPLIFY,
                        ));
                    }
                    status = Some(s);
                }
                None => whens.push(self.boolean(e, c)?),
            }
        }
        let when = match whens.len() {
            0 => None,
            1 => whens.pop(),
            _ => Some(
                whens
                    .iter()
                    .map(|w| format!("({w})"))
                    .collect::<Vec<_>>()
                    .join(" && "),
            ),
        };
        Ok(Cond {
            status: status.unwrap_or(Status::Success),
            when,
        })
    }

    fn boolean(&mut self, e: &Expr, ast: &IdedExpr) -> Result<String, Problem> {
        if let Ast::Call(CallExpr {
            func_name,
            target: None,
            args,
        }) = &ast.expr
        {
            match (func_name.as_str(), args.as_slice()) {
                ("_&&_", [a, b]) => {
                    return Ok(format!(
                        "({}) && ({})",
                        self.boolean(e, a)?,
                        self.boolean(e, b)?
                    ))
                }
                ("_||_", [a, b]) => {
                    return Ok(format!(
                        "({}) || ({})",
                        self.boolean(e, a)?,
                        self.boolean(e, b)?
                    ))
                }
                ("!_", [a]) => return Ok(format!("!({})", self.boolean(e, a)?)),
                (op @ ("_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_"), [a, b]) => {
                    return self.compare(e, op, a, b)
                }
                _ => {}
            }
        }
        if let Ast::Literal(LiteralValue::Boolean(b)) = &ast.expr {
            return Ok(b.inner().to_string());
        }
        match self.reference(e, ast)? {
            Tag::Var {
                path, ty: Ty::Bool, ..
            } => Ok(format!("{{{{{}}}}} == true", path.join("."))),
            _ => Err(problem(
                e,
                format!("`{}` is not a condition Argo can evaluate", e.text.trim()),
                "compare it with a value (`== 'x'`), or use a boolean input",
            )),
        }
    }

    fn compare(
        &mut self,
        e: &Expr,
        op: &str,
        a: &IdedExpr,
        b: &IdedExpr,
    ) -> Result<String, Problem> {
        let sym = &op[1..op.len() - 1];
        // `steps.x.status == 'succeeded'`: Argo's phases are capitalised.
        if let Some(s) = self.status_side(e, a, b)? {
            return Ok(s.replace("==", sym));
        }
        let left = self.operand(e, a)?;
        let right = self.operand(e, b)?;
        let numeric = matches!(sym, "<" | "<=" | ">" | ">=");
        match (left.1, right.1) {
            (x, y) if x == y && (!numeric || x == Ty::Num) => Ok(format!("{} {sym} {}", left.0, right.0)),
            _ => Err(problem(
                e,
                format!("`{}` compares values of different types (or orders non-numbers); Argo would not compare them as orch does", e.text.trim()),
                "compare a string with a string, a number with a number",
            )),
        }
    }

    fn status_side(
        &mut self,
        e: &Expr,
        a: &IdedExpr,
        b: &IdedExpr,
    ) -> Result<Option<String>, Problem> {
        let is_status = |x: &IdedExpr| {
            segments(x).filter(|s| s.len() == 3 && s[0] == "steps" && s[2] == "status")
        };
        let (seg, lit) = match (is_status(a), is_status(b)) {
            (Some(s), None) => (s, b),
            (None, Some(s)) => (s, a),
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => return Err(problem(e, "two step statuses compared", SIMPLIFY)),
        };
        let id = &seg[1];
        let phase = self.wf.steps.iter().find(|s| &s.id == id).map(|s| s.phase);
        if exit_phase(self.phase) && phase == Some(Phase::Main) {
            return Err(problem(
                e,
                format!("`steps.{id}.status`: Argo's exit handler (on_failure/finally) cannot see the status of a main step"),
                "drop the condition, or move the check into the step's script",
            ));
        }
        let phase_name = match &lit.expr {
            Ast::Literal(LiteralValue::String(s)) => match s.inner() {
                "succeeded" => "Succeeded",
                "failed" => "Failed",
                "skipped" => "Skipped",
                other => {
                    return Err(problem(
                        e,
                        format!("status `{other}` has no Argo phase"),
                        "compare with 'succeeded', 'failed' or 'skipped'",
                    ))
                }
            },
            _ => {
                return Err(problem(
                    e,
                    "a step status compared with something else than a string",
                    SIMPLIFY,
                ))
            }
        };
        let task = (self.task)(id);
        Ok(Some(format!(
            "'{{{{tasks.{task}.status}}}}' == '{phase_name}'"
        )))
    }

    fn operand(&mut self, e: &Expr, ast: &IdedExpr) -> Result<(String, Ty), Problem> {
        match &ast.expr {
            Ast::Literal(LiteralValue::String(s)) => {
                let s = s.inner();
                if s.contains(['\'', '\\']) || s.contains("{{") {
                    return Err(problem(e, "a string with quotes, backslashes or `{{` cannot be written in an Argo condition", SIMPLIFY));
                }
                Ok((format!("'{s}'"), Ty::Str))
            }
            Ast::Literal(LiteralValue::Int(i)) => Ok((i.inner().to_string(), Ty::Num)),
            Ast::Literal(LiteralValue::UInt(u)) => Ok((u.inner().to_string(), Ty::Num)),
            Ast::Literal(LiteralValue::Double(d)) => Ok((d.inner().to_string(), Ty::Num)),
            Ast::Literal(LiteralValue::Boolean(b)) => Ok((b.inner().to_string(), Ty::Bool)),
            _ => match self.reference(e, ast)? {
                Tag::Lit(s) => Ok((format!("'{s}'"), Ty::Str)),
                Tag::Var {
                    path, ty: Ty::Str, ..
                } => Ok((format!("'{{{{{}}}}}'", path.join(".")), Ty::Str)),
                Tag::Var { path, ty, .. } if ty != Ty::Structured => {
                    Ok((format!("{{{{{}}}}}", path.join(".")), ty))
                }
                Tag::Var { .. } => Err(problem(
                    e,
                    "a list or object in a condition has no Argo equivalent",
                    SIMPLIFY,
                )),
            },
        }
    }
}

fn flatten_and<'e>(ast: &'e IdedExpr, out: &mut Vec<&'e IdedExpr>) {
    match &ast.expr {
        Ast::Call(CallExpr {
            func_name,
            target: None,
            args,
        }) if func_name == "_&&_" && args.len() == 2 => {
            flatten_and(&args[0], out);
            flatten_and(&args[1], out);
        }
        _ => out.push(ast),
    }
}

/// `success()`, `always()`, `failure()`; `Err(name)` for `cancelled()`.
fn status_call(ast: &IdedExpr) -> Option<Result<Status, &str>> {
    match &ast.expr {
        Ast::Call(CallExpr {
            func_name,
            target: None,
            args,
        }) if args.is_empty() => match func_name.as_str() {
            "success" => Some(Ok(Status::Success)),
            "always" => Some(Ok(Status::Always)),
            "failure" => Some(Ok(Status::Failure)),
            "cancelled" => Some(Err("cancelled")),
            _ => None,
        },
        _ => None,
    }
}

/// The `{{…}}` text of a tag.
pub(crate) fn tag_text(path: &[String]) -> String {
    format!("{{{{{}}}}}", path.join("."))
}
