//! `for_each` and `matrix` as a task's `withItems`/`withParam`, and
//! `max_parallel` as a DAG template of its own around the fanned task:
//! Argo caps parallelism per template, not per task.

use serde_json::Value as Json;

use super::expr::{tag_text, whole_span, Tag, Tr, Ty};
use super::steps::{Compiler, Params};
use super::yaml::Node;
use super::Problem;
use crate::model::{FanOut, Matrix, Step, Val};

/// A value written out in the file, with no expression in it.
pub(super) fn literal(v: &Val) -> Option<Json> {
    match v {
        Val::Lit(j) => Some(j.clone()),
        Val::List(l) => l
            .iter()
            .map(literal)
            .collect::<Option<Vec<_>>>()
            .map(Json::Array),
        Val::Map(m) => m
            .iter()
            .map(|(k, v)| literal(v).map(|j| (k.clone(), j)))
            .collect::<Option<serde_json::Map<_, _>>>()
            .map(Json::Object),
        Val::Str(_) => None,
    }
}

/// The keys a step reads of its item (`item.os`).
fn item_keys(s: &Step) -> Vec<String> {
    let mut keys = Vec::new();
    for (_, e) in s.exprs() {
        if let Some(seg) = crate::expr::segments(&e.ast) {
            if seg.len() >= 2 && seg[0] == "item" && !keys.contains(&seg[1]) {
                keys.push(seg[1].clone());
            }
        }
    }
    keys
}

impl Compiler<'_> {
    /// `for_each`/`matrix` of step `s` on its task.
    pub(super) fn fan_out(
        &mut self,
        s: &Step,
        fe: &FanOut,
        tr: &mut Tr<'_>,
        task: &mut Node,
        problems: &mut Vec<Problem>,
    ) {
        match fe {
            FanOut::List(v) => match v {
                Val::Str(t) => match t.whole().map(|e| (e, tr.reference(e, &e.ast))) {
                    Some((_, Ok(Tag::Var { path, ty: Ty::Structured, .. }))) => {
                        task.set("withParam", Node::str(tag_text(&path)))
                    }
                    Some((_, Err(p))) => problems.push(p),
                    Some((e, Ok(_))) => problems.push(Problem::new(
                        whole_span(e),
                        "a fan-out over a step output has no faithful Argo form (orch outputs are text)",
                        "fan out over a list input or a literal list",
                    )),
                    None => problems.push(Problem::new(
                        self.loc.step_key(&s.id, "for_each", s.span),
                        "`for_each:` must be a list or one list input to export",
                        "write the list, or `${{ inputs.<list> }}`",
                    )),
                },
                other => match literal(other) {
                    Some(Json::Array(items)) => task.set(
                        "withItems",
                        Node::Seq(items.iter().map(Node::from_json).collect()),
                    ),
                    _ => problems.push(Problem::new(
                        self.loc.step_key(&s.id, "for_each", s.span),
                        "`for_each:` with expressions inside a list has no Argo form",
                        "write the list literally, or `${{ inputs.<list> }}`",
                    )),
                },
            },
            FanOut::Matrix(m) => match self.combinations(s, m) {
                Ok(items) => task.set(
                    "withItems",
                    Node::Seq(items.iter().map(Node::from_json).collect()),
                ),
                Err(p) => problems.push(p),
            },
        }
    }

    /// A matrix expanded when exporting, as orch expands it when running:
    /// only a matrix written out in the file can be.
    fn combinations(&self, s: &Step, m: &Matrix) -> Result<Vec<Json>, Problem> {
        let at = self.loc.step_key(&s.id, "matrix", s.span);
        let mut axes = Vec::new();
        for (name, v) in &m.axes {
            match literal(v) {
                Some(Json::Array(values)) if !values.is_empty() => {
                    axes.push((name.clone(), values))
                }
                _ => {
                    return Err(Problem::new(
                        at,
                        format!("matrix axis `{name}` is computed when the run starts; Argo's items are fixed in the manifest"),
                        "write the axis's values out as a list",
                    ))
                }
            }
        }
        let entries = |list: &[Vec<(String, Val)>]| -> Option<Vec<Vec<(String, Json)>>> {
            list.iter()
                .map(|e| {
                    e.iter()
                        .map(|(k, v)| Some((k.clone(), literal(v)?)))
                        .collect()
                })
                .collect()
        };
        let (Some(include), Some(exclude)) = (entries(&m.include), entries(&m.exclude)) else {
            return Err(Problem::new(
                at,
                "a matrix `include`/`exclude` value with an expression cannot be expanded when exporting",
                "write the values out",
            ));
        };
        let combos = crate::plan::matrix::expand(&axes, &include, &exclude);
        // Argo cannot resolve `{{item.k}}` for an item without `k`.
        for key in item_keys(s) {
            if let Some(c) = combos.iter().find(|c| c.iter().all(|(k, _)| *k != key)) {
                let shown: Vec<String> = c.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                return Err(Problem::new(
                    at,
                    format!(
                        "the step reads `item.{key}`, which the combination {{{}}} has not; Argo would fail to resolve it",
                        shown.join(", ")
                    ),
                    format!("give every combination `{key}` (an `include:` entry per axis value)"),
                ));
            }
        }
        Ok(combos
            .into_iter()
            .map(|c| Json::Object(c.into_iter().collect()))
            .collect())
    }

    /// `max_parallel: n`: the fanned task moves into a DAG template
    /// `<template>--items` with `parallelism: n`; the task that calls it
    /// keeps the dependencies. What the moved task reads of its old DAG
    /// (`tasks.*`, the DAG's inputs) is passed in as input parameters.
    pub(super) fn cap(&mut self, tpl_name: &str, n: usize, task: Node) -> (Node, Node) {
        let Node::Map(fields) = task else {
            return (task, Node::map());
        };
        let wrapper = format!("{tpl_name}--items");
        let mut outer = Node::map();
        let mut inner = Node::map();
        let mut passed = Params::default();
        for (k, v) in fields {
            match k.as_str() {
                "name" => {
                    outer.set("name", v.clone());
                    outer.set("template", Node::str(&wrapper));
                    inner.set("name", v);
                }
                "dependencies" | "depends" | "continueOn" => outer.set(&k, v),
                "when" if !mentions_item(&v) => outer.set(&k, v),
                _ => inner.set(&k, pass_through(v, &mut passed)),
            }
        }
        let mut tpl = Node::map().with("name", Node::str(&wrapper));
        if !passed.list.is_empty() {
            let (args, inputs): (Vec<Node>, Vec<Node>) = passed
                .list
                .iter()
                .map(|(name, path)| {
                    (
                        Node::map()
                            .with("name", Node::str(name))
                            .with("value", Node::str(tag_text(path))),
                        Node::map().with("name", Node::str(name)),
                    )
                })
                .unzip();
            outer.set("arguments", Node::map().with("parameters", Node::Seq(args)));
            tpl.set("inputs", Node::map().with("parameters", Node::Seq(inputs)));
        }
        tpl.set("parallelism", Node::int(n as u64));
        tpl.set("dag", Node::map().with("tasks", Node::Seq(vec![inner])));
        (outer, tpl)
    }
}

fn mentions_item(v: &Node) -> bool {
    matches!(v, Node::Str(s) if s.contains("{{item"))
}

/// `v` with each `{{tasks.…}}` and `{{inputs.…}}` tag replaced by an input
/// parameter of the wrapper (recorded in `passed`).
fn pass_through(v: Node, passed: &mut Params) -> Node {
    match v {
        Node::Str(s) => Node::Str(replace_tags(&s, passed)),
        Node::Seq(items) => Node::Seq(items.into_iter().map(|i| pass_through(i, passed)).collect()),
        Node::Map(m) => Node::Map(
            m.into_iter()
                .map(|(k, v)| (k, pass_through(v, passed)))
                .collect(),
        ),
        other => other,
    }
}

fn replace_tags(s: &str, passed: &mut Params) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = &rest[start + 2..start + len];
        out.push_str(&rest[..start]);
        if inner.starts_with("tasks.") || inner.starts_with("inputs.") {
            let path: Vec<String> = inner.split('.').map(str::to_string).collect();
            let name = passed.name_for(&path);
            out.push_str(&format!("{{{{inputs.parameters.{name}}}}}"));
        } else {
            out.push_str(&rest[start..start + len + 2]);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_the_outer_dag_become_parameters_and_items_stay() {
        let mut p = Params::default();
        let s = replace_tags(
            "{{item}}-{{tasks.build.outputs.parameters.version}}-{{inputs.parameters.region}}-{{workflow.name}}",
            &mut p,
        );
        assert_eq!(
            s,
            "{{item}}-{{inputs.parameters.build-version}}-{{inputs.parameters.region}}-{{workflow.name}}"
        );
        let names: Vec<&str> = p.list.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["build-version", "region"]);
        // The same tag twice is one parameter.
        replace_tags("{{tasks.build.outputs.parameters.version}}", &mut p);
        assert_eq!(p.list.len(), 2);
    }
}
