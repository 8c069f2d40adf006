//! JSON Schemas (draft-07) for editors, generated from the key tables so
//! that validation, the reference and the schema are one definition.
//!
//! The schema says what `orch validate` says about shapes: where the two
//! disagree, the validator is right and this translation is the bug.

use serde_json::{json, Map, Value};

use super::{walk, Key, Role, Support, Table, Ty, CONFIG_FILE, STEP, WORKFLOW};

/// The draft: the one yaml-language-server supports best.
pub(crate) const DRAFT: &str = "http://json-schema.org/draft-07/schema#";

/// The definition of a `compensate:` body: the kind and body keys of a step.
const STEP_BODY: &str = "step-body";

/// The schema of workflow files.
pub(crate) fn workflow() -> Value {
    schema(
        &WORKFLOW,
        "orch workflow",
        "A workflow file of orch: a DAG of steps.",
    )
}

/// The schema of `orchestration.yaml`.
pub(crate) fn config() -> Value {
    schema(
        &CONFIG_FILE,
        "orch orchestration.yaml",
        "The project settings of orch: retry defaults, policies, telemetry, pools and services.",
    )
}

/// Pretty JSON with a final newline, as committed under `schema/`.
pub(crate) fn render(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}

fn schema(root: &'static Table, title: &str, description: &str) -> Value {
    let mut defs = Map::new();
    let mut body = false;
    for (_, t, _) in walk(root) {
        body |= t.keys.iter().any(|k| matches!(k.ty, Ty::StepBody));
        if !std::ptr::eq(t, root) {
            defs.insert(t.id.to_string(), table(t, t.keys.iter().collect()));
        }
    }
    if body {
        let keys = STEP.keys.iter().filter(|k| k.role != Role::Plain).collect();
        defs.insert(STEP_BODY.to_string(), table(&STEP, keys));
    }
    // The root is inlined: in draft-07 the siblings of a `$ref` are ignored.
    let mut out = Map::new();
    out.insert("$schema".into(), json!(DRAFT));
    out.insert("title".into(), json!(title));
    out.insert("description".into(), json!(description));
    if let Value::Object(r) = table(root, root.keys.iter().collect()) {
        out.extend(r);
    }
    out.insert("definitions".into(), Value::Object(defs));
    Value::Object(out)
}

/// A mapping with exactly `keys` of `t`: unknown keys are flagged.
fn table(t: &'static Table, keys: Vec<&'static Key>) -> Value {
    let mut props = Map::new();
    for k in &keys {
        props.insert(k.name.to_string(), key(k));
    }
    let required: Vec<&str> = keys.iter().filter(|k| k.required).map(|k| k.name).collect();
    let mut out = Map::new();
    out.insert("type".into(), json!("object"));
    out.insert("properties".into(), Value::Object(props));
    out.insert("additionalProperties".into(), json!(false));
    if !required.is_empty() {
        out.insert("required".into(), json!(required));
    }
    let mut all: Vec<Value> = Vec::new();
    for g in t.groups {
        all.extend(group(g.keys, g.required));
    }
    // A step (and a `compensate:` body) has exactly one kind.
    let kinds: Vec<&str> = keys
        .iter()
        .filter(|k| k.role == Role::Kind)
        .map(|k| k.name)
        .collect();
    if !kinds.is_empty() {
        all.extend(group(&kinds, true));
    }
    match all.len() {
        0 => {}
        1 => {
            if let Some(Value::Object(one)) = all.pop() {
                out.extend(one);
            }
        }
        _ => {
            out.insert("allOf".into(), Value::Array(all));
        }
    }
    Value::Object(out)
}

/// At most one of the group's keys (exactly one when required).
fn group(keys: &[&str], required: bool) -> Vec<Value> {
    if required {
        let one: Vec<Value> = keys.iter().map(|k| json!({ "required": [k] })).collect();
        return vec![json!({ "oneOf": one })];
    }
    let mut out = Vec::new();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            out.push(json!({ "not": { "required": [a, b] } }));
        }
    }
    out
}

fn key(k: &Key) -> Value {
    let mut s = match k.support {
        // Refused with a diagnostic, so no value is valid.
        Support::NotYet => json!({ "not": {} }),
        _ => ty(&k.ty),
    };
    if let Value::Object(m) = &mut s {
        m.insert("description".into(), json!(description(k)));
    }
    s
}

/// The key's doc as plain text, with its default.
fn description(k: &Key) -> String {
    let mut d = plain(k.doc);
    match k.support {
        Support::Supported => {}
        Support::NoEffect => d = format!("No effect yet: {d}"),
        Support::NotYet => d = format!("Not supported yet: {d}"),
    }
    if let Some(def) = k.default {
        d = format!("{d}. Default: {}", plain(def));
    }
    d
}

/// Markdown links (`[text](#anchor)`) as their text: an editor cannot follow
/// an anchor of the reference.
fn plain(md: &str) -> String {
    let mut out = String::new();
    let mut rest = md;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let end = after[close..].find(')')? + close;
            Some((close, end))
        });
        match link {
            Some((close, end)) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `^(?:p)$`: the tables' patterns are unanchored, JSON Schema's search.
fn anchored(p: &str) -> String {
    format!("^(?:{p})$")
}

/// Does a pattern admit what YAML reads as a number (`2`, `1.5`)? Then the
/// validator, which takes a plain scalar's text, accepts one too.
fn admits_numbers(p: &str) -> bool {
    p.strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .is_some_and(|first| first.contains("0-9"))
}

/// What `Ctx::string` takes: any scalar but null (`3` is the text "3").
fn scalar() -> Value {
    json!({ "type": ["string", "number", "boolean"] })
}

fn ty(t: &Ty) -> Value {
    match t {
        Ty::Str | Ty::Template | Ty::Expr | Ty::Name { pattern: None, .. } => scalar(),
        Ty::Name {
            pattern: Some(p), ..
        } => {
            if admits_numbers(p) {
                json!({ "type": ["string", "number"], "pattern": anchored(p) })
            } else {
                json!({ "type": "string", "pattern": anchored(p) })
            }
        }
        Ty::Int { min } => {
            let mut m = json!({ "type": "integer" });
            if let (Some(min), Value::Object(o)) = (min, &mut m) {
                o.insert("minimum".into(), json!(min));
            }
            m
        }
        Ty::Number { min } => json!({ "type": "number", "minimum": min }),
        Ty::Bool => json!({ "type": "boolean" }),
        Ty::Duration => json!({
            "type": "string",
            "pattern": "^\\s*([0-9]+(ms|s|m|h|d))+\\s*$",
        }),
        Ty::Any => json!({}),
        Ty::Enum(values) => json!({ "enum": values }),
        Ty::List { of, non_empty } => {
            let mut m = json!({ "type": "array", "items": ty(of) });
            if let (true, Value::Object(o)) = (non_empty, &mut m) {
                o.insert("minItems".into(), json!(1));
            }
            m
        }
        Ty::OneOrList(of) => json!({
            "anyOf": [ty(of), { "type": "array", "items": ty(of) }],
        }),
        Ty::Map { key, of, non_empty } => {
            let mut o = Map::new();
            o.insert("type".into(), json!("object"));
            if let Ty::Name {
                pattern: Some(p), ..
            } = key
            {
                o.insert("propertyNames".into(), json!({ "pattern": anchored(p) }));
            }
            o.insert("additionalProperties".into(), ty(of));
            if *non_empty {
                o.insert("minProperties".into(), json!(1));
            }
            Value::Object(o)
        }
        Ty::Object(t) => json!({ "$ref": format!("#/definitions/{}", t.id) }),
        // In a choice of shapes, a template is the expression that gives the
        // value (`for_each: ${{ inputs.regions }}`): plain text is refused.
        Ty::Either(tys) => json!({
            "anyOf": tys.iter().map(|t| match t {
                Ty::Template | Ty::Expr => json!({ "type": "string", "pattern": "\\$\\{\\{" }),
                other => ty(other),
            }).collect::<Vec<_>>(),
        }),
        Ty::StepBody => json!({ "$ref": format!("#/definitions/{STEP_BODY}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_their_text() {
        assert_eq!(
            plain("see [Retries](#retries) and [x](#y)."),
            "see Retries and x."
        );
        assert_eq!(plain("a [b] c"), "a [b] c");
    }

    #[test]
    fn numbers_are_names_only_where_the_pattern_starts_with_a_digit() {
        assert!(admits_numbers("[A-Za-z0-9_.-]+"));
        assert!(!admits_numbers(super::super::ID_PATTERN));
    }

    #[test]
    fn every_key_has_a_description() {
        fn walk_defs(v: &Value, path: &str) {
            if let Some(props) = v.get("properties").and_then(Value::as_object) {
                for (k, s) in props {
                    assert!(
                        s.get("description").and_then(Value::as_str).is_some(),
                        "{path}.{k} has no description"
                    );
                }
            }
        }
        for s in [workflow(), config()] {
            walk_defs(&s, "root");
            for (id, d) in s["definitions"].as_object().into_iter().flatten() {
                walk_defs(d, id);
                assert_eq!(d["additionalProperties"], json!(false), "{id}");
            }
        }
    }

    #[test]
    fn a_step_has_exactly_one_kind() {
        let s = workflow();
        let step = &s["definitions"]["step"];
        // Beside other groups (`for_each` or `matrix`) it is one of `allOf`.
        let one = std::iter::once(step)
            .chain(step["allOf"].as_array().into_iter().flatten())
            .find_map(|s| s["oneOf"].as_array())
            .expect("oneOf of kinds");
        assert_eq!(one.len(), super::super::supported_kinds().len());
    }
}
