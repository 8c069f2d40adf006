//! Evaluating expressions against the state of a run. Only the parts of the
//! context an expression references are converted into CEL values.

use cel::{Context, ExecutionError, Value};
use serde_json::Value as Json;

pub(crate) use super::functions::StatusFns;
use super::value::json_to_cel;
use super::value::{Part, Template, Val};
use super::Expr;

/// What an expression can see.
pub(crate) struct Scope<'a> {
    pub(crate) inputs: &'a Json,
    pub(crate) env: &'a Json,
    pub(crate) run: &'a Json,
    /// `steps.<id>` as JSON, for the steps the expression names.
    pub(crate) steps: &'a dyn Fn(&str) -> Option<Json>,
    pub(crate) secrets: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) item: Option<&'a Json>,
    pub(crate) index: Option<usize>,
    pub(crate) error: Option<&'a Json>,
    pub(crate) step: Option<&'a Json>,
    pub(crate) status: StatusFns,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct EvalError {
    pub(crate) message: String,
}

impl EvalError {
    fn new(m: impl Into<String>) -> Self {
        EvalError { message: m.into() }
    }
}

fn cel_to_json(v: &Value) -> Result<Json, EvalError> {
    v.json()
        .map_err(|_| EvalError::new(format!("the result {v:?} cannot be represented as JSON")))
}

/// Evaluate one expression to a JSON value.
pub(crate) fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Json, EvalError> {
    // Compiling bounds the depth; this keeps evaluation bounded whatever
    // built the tree.
    let depth = super::limits::tree_depth(&expr.ast);
    if depth > super::limits::MAX_DEPTH {
        return Err(EvalError::new(
            super::limits::TooDeep { depth, offset: 0 }.message(),
        ));
    }
    let mut roots: Vec<&str> = expr.refs.iter().map(|r| r.root.as_str()).collect();
    roots.sort_unstable();
    roots.dedup();
    let mut step_json: Vec<(String, Json)> = Vec::new();
    let mut variables: Vec<(&str, Value)> = Vec::new();
    for root in roots {
        let value = match root {
            "inputs" => json_to_cel(scope.inputs),
            "env" => json_to_cel(scope.env),
            "run" => json_to_cel(scope.run),
            "item" => scope.item.map(json_to_cel).unwrap_or(Value::Null),
            "index" => scope
                .index
                .map(|i| Value::Int(i as i64))
                .unwrap_or(Value::Null),
            "error" => scope.error.map(json_to_cel).unwrap_or(Value::Null),
            "step" => scope.step.map(json_to_cel).unwrap_or(Value::Null),
            "steps" => {
                let mut m = serde_json::Map::new();
                for name in expr.steps() {
                    if let Some(j) = (scope.steps)(name) {
                        step_json.push((name.to_string(), j.clone()));
                        m.insert(name.to_string(), j);
                    }
                }
                json_to_cel(&Json::Object(m))
            }
            "secrets" => {
                let mut m = serde_json::Map::new();
                for r in expr.refs.iter().filter(|r| r.root == "secrets") {
                    if let Some(name) = &r.name {
                        match (scope.secrets)(name) {
                            Some(v) => m.insert(name.clone(), Json::String(v)),
                            None => {
                                return Err(EvalError::new(format!("secret `{name}` is not set")))
                            }
                        };
                    }
                }
                json_to_cel(&Json::Object(m))
            }
            _ => continue,
        };
        variables.push((root, value));
    }
    let status = scope.status;
    let step_json = &step_json;
    // The evaluator recurses once per level of the tree: a deep one runs
    // where the stack has room for it.
    super::limits::with_stack(depth, move || {
        let mut ctx = Context::with_env(super::env().clone());
        for (root, value) in variables {
            ctx.add_variable_from_value(root, value);
        }
        super::functions::register(&mut ctx, status);
        match ctx.resolve(&expr.ast) {
            Ok(v) => cel_to_json(&v),
            Err(e) => Err(explain(e, expr, step_json)),
        }
    })
    .map_err(|why| EvalError::new(format!("the expression failed: {why}")))?
}

/// Turn a CEL error into a message a user can act on; a missing key names the
/// keys that exist.
fn explain(e: ExecutionError, expr: &Expr, steps: &[(String, Json)]) -> EvalError {
    match &e {
        ExecutionError::NoSuchKey(k) => {
            let key = k.as_str();
            // Find the object the key was looked up in, following the references.
            for r in &expr.refs {
                if let Some(pos) = r.path.iter().position(|p| p == key) {
                    if r.root == "steps" {
                        if let Some((_, j)) = steps.iter().find(|(n, _)| Some(n) == r.name.as_ref())
                        {
                            let mut cur = j;
                            for p in &r.path[..pos] {
                                match cur.get(p) {
                                    Some(n) => cur = n,
                                    None => break,
                                }
                            }
                            if let Some(obj) = cur.as_object() {
                                let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                                keys.sort_unstable();
                                let where_ = std::iter::once(r.name.clone().unwrap_or_default())
                                    .chain(r.path[..pos].iter().cloned())
                                    .collect::<Vec<_>>()
                                    .join(".");
                                return EvalError::new(format!(
                                    "steps.{where_} has no key `{key}`; it has: {}",
                                    if keys.is_empty() {
                                        "(none)".to_string()
                                    } else {
                                        keys.join(", ")
                                    }
                                ));
                            }
                        }
                    }
                }
            }
            EvalError::new(format!("no such key `{key}`"))
        }
        ExecutionError::UndeclaredReference(name) => {
            if expr.ast.references().has_function(name.as_str()) {
                EvalError::new(format!("unknown function `{name}`"))
            } else {
                EvalError::new(format!("`{name}` is not available here"))
            }
        }
        ExecutionError::UnsupportedBinaryOperator(op, a, b) => EvalError::new(format!(
            "cannot {op} {} and {}{}",
            describe(a),
            describe(b),
            if is_number(a) && is_number(b) {
                "; CEL does not mix number types: convert with double(…) or int(…)".to_string()
            } else {
                convert_hint([type_name(a), type_name(b)])
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default()
            }
        )),
        ExecutionError::IndexOutOfBounds(i) => {
            EvalError::new(format!("index {} is out of range", describe_plain(i)))
        }
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::UnexpectedType { .. } => {
            let types: Vec<String> = match &e {
                ExecutionError::NoSuchOverload(o) => o.argument_types().to_vec(),
                ExecutionError::ValuesNotComparable(a, b) => {
                    vec![type_name(a).into(), type_name(b).into()]
                }
                _ => Vec::new(),
            };
            let message = format!("{e}")
                .replace("Int(", "int(")
                .replace("Float(", "double(")
                .replace("String(", "string(");
            EvalError::new(match convert_hint(types.iter().map(String::as_str)) {
                Some(hint) => format!("{message}; {hint}"),
                None => message,
            })
        }
        _ => EvalError::new(e.to_string()),
    }
}

/// The CEL name of a value's type, as CEL's own messages spell it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Float(_) => "double",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::List(_) => "list",
        Value::Map(_) => "map",
        Value::Null => "null",
        _ => "value",
    }
}

/// A string meeting a number is the usual mistake (an output or an input
/// read as text): say how to convert. Given at run time only: `orch
/// validate` checks what expressions refer to, not their types.
pub(crate) fn convert_hint<'a>(types: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let (mut text, mut number) = (false, false);
    for t in types {
        match t {
            "string" => text = true,
            "int" | "uint" | "double" => number = true,
            _ => {}
        }
    }
    (text && number).then_some(
        "convert one side: int(x) or double(x) reads a string as a number, string(x) writes a number as a string",
    )
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::UInt(_) | Value::Float(_))
}

/// A value with its CEL type, for messages: `the int 1`, `the double 2.5`.
fn describe(v: &Value) -> String {
    let ty = match v {
        Value::Int(_) => "the int",
        Value::UInt(_) => "the uint",
        Value::Float(_) => "the double",
        Value::String(_) => "the string",
        Value::Bool(_) => "the bool",
        Value::List(_) => "the list",
        Value::Map(_) => "the map",
        Value::Null => return "null".into(),
        _ => "the value",
    };
    format!("{ty} {}", describe_plain(v))
}

fn describe_plain(v: &Value) -> String {
    match cel_to_json(v) {
        Ok(j) => {
            let t = j.to_string();
            if t.len() > 60 {
                format!(
                    "{}…",
                    &t[..t.char_indices().nth(57).map(|(i, _)| i).unwrap_or(t.len())]
                )
            } else {
                t
            }
        }
        Err(_) => format!("{v:?}"),
    }
}

/// Render a value into text, the way it appears inside a string.
pub(crate) fn to_text(j: &Json) -> String {
    match j {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Evaluate a template into text.
pub(crate) fn render(t: &Template, scope: &Scope<'_>) -> Result<String, EvalError> {
    let mut out = String::new();
    for p in &t.parts {
        match p {
            Part::Text(s) => out.push_str(s),
            Part::Expr(e) => out.push_str(&to_text(&eval(e, scope)?)),
        }
    }
    Ok(out)
}

/// Evaluate a value tree; a string that is exactly one expression keeps its type.
pub(crate) fn resolve(v: &Val, scope: &Scope<'_>) -> Result<Json, EvalError> {
    Ok(match v {
        Val::Lit(j) => j.clone(),
        Val::Str(t) => match t.whole() {
            Some(e) => eval(e, scope)?,
            None => Json::String(render(t, scope)?),
        },
        Val::List(l) => Json::Array(
            l.iter()
                .map(|x| resolve(x, scope))
                .collect::<Result<_, _>>()?,
        ),
        Val::Map(m) => Json::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), resolve(x, scope)?)))
                .collect::<Result<_, EvalError>>()?,
        ),
    })
}

/// Truthiness for `if:`: booleans as they are; anything else is an error so a
/// typo never silently skips a step.
pub(crate) fn truthy(j: &Json) -> Result<bool, EvalError> {
    match j {
        Json::Bool(b) => Ok(*b),
        other => Err(EvalError::new(format!(
            "`if` must give true or false, got {}",
            other
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;
    use serde_json::json;

    fn expr(s: &str) -> Expr {
        let (ast, refs, unknown_idents) = super::super::compile(s).unwrap();
        Expr {
            text: s.into(),
            ast,
            refs,
            unknown_idents,
            file_offset: None,
            file_map: None,
            value_span: Span::default(),
        }
    }

    fn run(s: &str) -> Result<Json, EvalError> {
        with_scope(|scope| eval(&expr(s), scope))
    }

    fn with_scope<R>(f: impl FnOnce(&Scope<'_>) -> R) -> R {
        let inputs = json!({"env": "prod", "dry_run": false, "n": 3, "regions": ["eu", "us"]});
        let env = json!({"HOME": "/root"});
        let runj = json!({"id": "r1", "workflow": "w", "attempt": 1});
        let steps = |id: &str| match id {
            "build-image" => {
                Some(json!({"status": "succeeded", "outputs": {"digest": "sha256:1"}}))
            }
            _ => None,
        };
        let secrets = |_: &str| None;
        let scope = Scope {
            inputs: &inputs,
            env: &env,
            run: &runj,
            steps: &steps,
            secrets: &secrets,
            item: Some(&json!("eu")),
            index: Some(0),
            error: None,
            step: None,
            status: StatusFns {
                success: true,
                failure: false,
                cancelled: false,
            },
        };
        f(&scope)
    }

    #[test]
    fn contexts_and_types() {
        assert_eq!(
            run("inputs.env == 'prod' && !inputs.dry_run").unwrap(),
            json!(true)
        );
        assert_eq!(run("inputs.regions").unwrap(), json!(["eu", "us"]));
        assert_eq!(run("inputs.n + 1").unwrap(), json!(4));
        assert_eq!(
            run("steps.build-image.outputs.digest").unwrap(),
            json!("sha256:1")
        );
        assert_eq!(run("item + '-' + string(index)").unwrap(), json!("eu-0"));
        assert_eq!(run("run.id").unwrap(), json!("r1"));
        assert_eq!(run("env.HOME").unwrap(), json!("/root"));
    }

    #[test]
    fn extra_functions() {
        assert_eq!(
            run("success() && !failure() && always() && !cancelled()").unwrap(),
            json!(true)
        );
        assert_eq!(
            run("toJSON(inputs.regions)").unwrap(),
            json!("[\"eu\",\"us\"]")
        );
        assert_eq!(run("fromJSON('{\"a\": [1]}').a[0]").unwrap(), json!(1));
        assert!(run("fromJSON('nope')").is_err());
        // Namespaced functions of CEL's libraries.
        assert_eq!(
            run("optional.of(2).value() + math.abs(-1)").unwrap(),
            json!(3)
        );
    }

    #[test]
    fn cel_string_literals() {
        assert_eq!(run(r"r'\d'").unwrap(), json!(r"\d"));
        assert_eq!(run(r"size(R'\d')").unwrap(), json!(2));
        assert_eq!(run(r"r'\'").unwrap(), json!(r"\"));
        assert_eq!(run("'''it's'''").unwrap(), json!("it's"));
        assert_eq!(
            run(r#""""a "quoted" word""""#).unwrap(),
            json!(r#"a "quoted" word"#)
        );
        assert_eq!(run(r#"'}}' + "}}""#).unwrap(), json!("}}}}"));
        assert_eq!(run(r"'a\tb'").unwrap(), json!("a\tb"));
        assert_eq!(run(r"size(b'\x41')").unwrap(), json!(1));
        assert_eq!(run(r"string(br'\x')").unwrap(), json!(r"\x"));
        assert_eq!(run("1 // one }}\n + 1").unwrap(), json!(2));
        assert_eq!(
            run("'''multi\nline'''.split('\\n')").unwrap(),
            json!(["multi", "line"])
        );
    }

    /// At the bound, on a test thread's 2 MiB stack (which one level of the
    /// unoptimised evaluator per 40 KiB would overflow).
    #[test]
    fn deep_expressions_evaluate() {
        let chain = vec!["inputs.n"; 255].join(" + ");
        assert_eq!(run(&chain).unwrap(), json!(765));
        let nested = format!("{}1{}", "[".repeat(250), "]".repeat(250));
        assert!(run(&format!("size({nested})")).is_ok());
        // A tree deeper than the bound, however it was built, is refused.
        let mut deep = expr("1");
        for _ in 0..300 {
            let inner = std::mem::take(&mut deep.ast);
            deep.ast = cel::IdedExpr {
                id: 0,
                expr: cel::common::ast::Expr::Call(cel::common::ast::CallExpr {
                    func_name: "!_".into(),
                    target: None,
                    args: vec![inner],
                }),
            };
        }
        let e = with_scope(|scope| eval(&deep, scope)).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{}", e.message);
    }

    #[test]
    fn readable_errors() {
        let e = run("inputs.n + 1.5").unwrap_err();
        assert!(
            e.message.contains("the int 3") && e.message.contains("double("),
            "{}",
            e.message
        );
        let e = run("inputs.regions[5]").unwrap_err();
        assert!(
            e.message.contains("index 5 is out of range"),
            "{}",
            e.message
        );
        // A string against a number says how to convert.
        for bad in ["'5' > inputs.n", "inputs.n < '2'", "'a' + 1"] {
            let e = run(bad).unwrap_err();
            assert!(
                e.message.contains("int(x)") && e.message.contains("string(x)"),
                "{bad}: {}",
                e.message
            );
        }
        let e = run("[1] + 1").unwrap_err();
        assert!(!e.message.contains("int(x)"), "{}", e.message);
        let e = run("nosuchfn(1)").unwrap_err();
        assert_eq!(e.message, "unknown function `nosuchfn`");
    }

    #[test]
    fn missing_output_names_existing_keys() {
        let e = run("steps.build-image.outputs.digst").unwrap_err();
        assert!(e.message.contains("digst"), "{}", e.message);
        assert!(e.message.contains("digest"), "{}", e.message);
    }
}
