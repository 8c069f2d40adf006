//! The functions an expression can call: CEL's standard library, the
//! extensions orch enables, and orch's own. One table: evaluation registers
//! orch's functions from it, and validation checks every call against it, so
//! that a misspelt function is reported before anything runs.

use std::sync::Arc;

use cel::common::ast::Expr as Ast;
use cel::{Context, ExecutionError, IdedExpr, Value};
use serde_json::Value as Json;

use super::value::json_to_cel;

/// Results of `success()`, `failure()`, `cancelled()` for the expression's step.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatusFns {
    pub(crate) success: bool,
    pub(crate) failure: bool,
    pub(crate) cancelled: bool,
}

/// How a function is called: `f(x)`, `x.f()`, or either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Global,
    Method,
    Both,
}

use Style::{Both, Global, Method};

/// CEL's functions, as the `cel` crate registers them in its standard
/// library and the `strings`, `lists`, `math` and `encoders` extensions
/// (see `env()`). A test checks that each one is known to the environment.
const CEL: &[(&str, Style)] = &[
    // Conversions and types.
    ("bool", Global),
    ("bytes", Global),
    ("double", Global),
    ("duration", Global),
    ("dyn", Global),
    ("int", Global),
    ("string", Global),
    ("timestamp", Global),
    ("type", Global),
    ("uint", Global),
    // Strings, lists, maps.
    ("size", Both),
    ("matches", Both),
    ("contains", Method),
    ("startsWith", Method),
    ("endsWith", Method),
    // Timestamps and durations.
    ("getDate", Method),
    ("getDayOfMonth", Method),
    ("getDayOfWeek", Method),
    ("getDayOfYear", Method),
    ("getFullYear", Method),
    ("getHours", Method),
    ("getMilliseconds", Method),
    ("getMinutes", Method),
    ("getMonth", Method),
    ("getSeconds", Method),
    // Optional values.
    ("optional.none", Global),
    ("optional.of", Global),
    ("optional.ofNonZeroValue", Global),
    ("hasValue", Method),
    ("or", Method),
    ("orValue", Method),
    ("value", Method),
    // The `strings` extension.
    ("charAt", Method),
    ("format", Method),
    ("indexOf", Method),
    ("join", Method),
    ("lastIndexOf", Method),
    ("lowerAscii", Method),
    ("replace", Method),
    ("reverse", Method),
    ("split", Method),
    ("substring", Method),
    ("trim", Method),
    ("upperAscii", Method),
    ("strings.quote", Global),
    // The `lists` extension.
    ("distinct", Method),
    ("flatten", Method),
    ("slice", Method),
    ("sort", Method),
    ("lists.range", Global),
    // The `math` extension.
    ("math.abs", Global),
    ("math.bitAnd", Global),
    ("math.bitNot", Global),
    ("math.bitOr", Global),
    ("math.bitShiftLeft", Global),
    ("math.bitShiftRight", Global),
    ("math.bitXor", Global),
    ("math.ceil", Global),
    ("math.floor", Global),
    ("math.isFinite", Global),
    ("math.isInf", Global),
    ("math.isNaN", Global),
    ("math.round", Global),
    ("math.sign", Global),
    ("math.sqrt", Global),
    ("math.trunc", Global),
    // The `encoders` extension.
    ("base64.decode", Global),
    ("base64.encode", Global),
];

/// Macros, expanded by the parser: a call still in the tree has the wrong
/// arguments. With how each is written.
const MACROS: &[(&str, Style, &str)] = &[
    ("has", Global, "has(x.field)"),
    ("all", Method, "list.all(x, x > 0)"),
    ("exists", Method, "list.exists(x, x > 0)"),
    ("exists_one", Method, "list.exists_one(x, x > 0)"),
    ("existsOne", Method, "list.existsOne(x, x > 0)"),
    ("map", Method, "list.map(x, x * 2)"),
    ("filter", Method, "list.filter(x, x > 0)"),
    ("sortBy", Method, "list.sortBy(x, x.name)"),
    ("optMap", Method, "opt.optMap(x, x + 1)"),
    ("optFlatMap", Method, "opt.optFlatMap(x, optional.of(x))"),
    ("math.greatest", Global, "math.greatest(a, b)"),
    ("math.least", Global, "math.least(a, b)"),
];

type Register = fn(&mut Context<'_, '_>, StatusFns);

/// orch's functions beyond CEL (all called as `f(x)`), and how each is
/// added to an evaluation's context.
const ORCH: [(&str, Register); 6] = [
    ("success", |ctx, st| add_status(ctx, "success", st.success)),
    ("failure", |ctx, st| add_status(ctx, "failure", st.failure)),
    ("cancelled", |ctx, st| {
        add_status(ctx, "cancelled", st.cancelled)
    }),
    ("always", |ctx, _| add_status(ctx, "always", true)),
    ("toJSON", |ctx, _| {
        let _ = ctx.add_function("toJSON", |v: Value| -> Result<Value, ExecutionError> {
            let j = v
                .json()
                .map_err(|e| ExecutionError::function_error("toJSON", e.to_string()))?;
            Ok(Value::String(Arc::new(j.to_string())))
        });
    }),
    ("fromJSON", |ctx, _| {
        let _ = ctx.add_function(
            "fromJSON",
            |s: Arc<String>| -> Result<Value, ExecutionError> {
                serde_json::from_str::<Json>(&s)
                    .map(|j| json_to_cel(&j))
                    .map_err(|e| ExecutionError::function_error("fromJSON", e.to_string()))
            },
        );
    }),
];

fn add_status(ctx: &mut Context<'_, '_>, name: &str, value: bool) {
    let _ = ctx.add_function(name, move || value);
}

/// Add orch's functions to an evaluation's context.
pub(super) fn register(ctx: &mut Context<'_, '_>, status: StatusFns) {
    for (_, add) in ORCH {
        add(ctx, status);
    }
}

/// Every function callable as `f(x)` (`ns.f(x)` included).
fn globals() -> impl Iterator<Item = &'static str> {
    CEL.iter()
        .filter(|(_, s)| *s != Method)
        .map(|(n, _)| *n)
        .chain(ORCH.iter().map(|(n, _)| *n))
}

/// Every function callable as `x.f()`.
fn methods() -> impl Iterator<Item = &'static str> {
    CEL.iter().filter(|(_, s)| *s != Global).map(|(n, _)| *n)
}

/// `math` in `math.abs(x)`: a namespace of functions, not a variable.
pub(crate) fn is_namespace(name: &str) -> bool {
    CEL.iter()
        .map(|(n, _)| *n)
        .chain(MACROS.iter().map(|(n, ..)| *n))
        .any(|n| n.split_once('.').is_some_and(|(ns, _)| ns == name))
}

/// The namespaces of functions, for suggestions: `math`, `base64`, …
pub(crate) fn namespaces() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = CEL
        .iter()
        .map(|(n, _)| *n)
        .chain(MACROS.iter().map(|(n, ..)| *n))
        .filter_map(|n| n.split_once('.').map(|(ns, _)| ns))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A receiver macro that expands into a comprehension (`list.map(x, …)`).
pub(super) fn is_method_macro(name: &str) -> bool {
    MACROS.iter().any(|(n, s, _)| *n == name && *s == Method)
}

/// What is wrong with a call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Problem {
    /// No such function; maybe a close one.
    Unknown(Option<&'static str>),
    /// A method called as a function: `startsWith(s, 'a')`.
    OnlyMethod,
    /// A function called as a method: `x.toJSON()`.
    NotMethod,
    /// A macro with the wrong arguments, and how it is written.
    Macro(&'static str),
}

impl Problem {
    /// The message and help for a call of `name`.
    pub(crate) fn explain(&self, name: &str) -> (String, String) {
        match self {
            Problem::Unknown(hint) => (
                format!("unknown function `{name}`"),
                match hint {
                    Some(h) => format!("did you mean `{h}`?"),
                    None => "see CEL's functions (https://github.com/google/cel-spec/blob/master/doc/langdef.md#functions); orch adds success(), failure(), always(), cancelled(), toJSON(x), fromJSON(s)".into(),
                },
            ),
            Problem::OnlyMethod => (
                format!("`{name}` is called on a value"),
                format!("write `x.{name}(…)`"),
            ),
            Problem::NotMethod => (
                format!("`{name}` is not called on a value"),
                format!("write `{name}(x)`"),
            ),
            Problem::Macro(usage) => (
                format!("`{name}` has the wrong arguments"),
                format!("write it as `{usage}`"),
            ),
        }
    }
}

/// A call in a tree that would fail as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadCall {
    /// As written: `strtsWith`, `math.abz`.
    pub(crate) name: String,
    /// The last segment of the name, as it appears before its `(`.
    pub(crate) function: String,
    /// The id of the call node (its position is the `(`).
    pub(crate) id: u64,
    /// The variable it is called on, if it is one: `x` in `x.f()`.
    pub(crate) receiver: Option<String>,
    pub(crate) problem: Problem,
}

/// Every call of an unknown function, or of a known one in the wrong way,
/// in `ast` (walked without recursion).
pub(super) fn bad_calls(ast: &IdedExpr) -> Vec<BadCall> {
    let mut out = Vec::new();
    let mut todo = vec![ast];
    while let Some(e) = todo.pop() {
        todo.extend(super::children(e));
        let Ast::Call(c) = &e.expr else { continue };
        let f = c.func_name.as_str();
        // Operators (`_+_`, `!_`, `@in`) and names the parser makes up.
        if !f.starts_with(|ch: char| ch.is_ascii_alphabetic()) || f.contains('@') {
            continue;
        }
        let namespace = match c.target.as_deref().map(|t| &t.expr) {
            Some(Ast::Ident(ns)) if is_namespace(ns) => Some(ns.as_str()),
            _ => None,
        };
        let (name, as_method) = match (namespace, &c.target) {
            (Some(ns), _) => (format!("{ns}.{f}"), false),
            (None, Some(_)) => (f.to_string(), true),
            (None, None) => (f.to_string(), false),
        };
        let problem = match problem(&name, as_method) {
            Some(p) => p,
            None => continue,
        };
        let receiver = match c.target.as_deref().map(|t| &t.expr) {
            Some(Ast::Ident(v)) if namespace.is_none() => Some(v.clone()),
            _ => None,
        };
        out.push(BadCall {
            name,
            function: f.to_string(),
            id: e.id,
            receiver,
            problem,
        });
    }
    out
}

fn problem(name: &str, as_method: bool) -> Option<Problem> {
    if as_method && methods().any(|n| n == name) || !as_method && globals().any(|n| n == name) {
        return None;
    }
    if let Some((_, _, usage)) = MACROS.iter().find(|(n, ..)| *n == name) {
        return Some(Problem::Macro(usage));
    }
    if as_method && globals().any(|n| n == name) {
        return Some(Problem::NotMethod);
    }
    if !as_method && methods().any(|n| n == name) {
        return Some(Problem::OnlyMethod);
    }
    let macros = MACROS
        .iter()
        .filter(move |(_, s, _)| (*s == Method) == as_method)
        .map(|(n, ..)| *n);
    let hint = if as_method {
        crate::diag::did_you_mean(name, methods().chain(macros))
    } else {
        crate::diag::did_you_mean(name, globals().chain(macros))
    };
    Some(Problem::Unknown(hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(src: &str) -> Vec<(String, Problem)> {
        let (ast, ..) = crate::expr::compile(src).unwrap();
        let mut v: Vec<_> = bad_calls(&ast)
            .into_iter()
            .map(|b| (b.name, b.problem))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn every_function_in_the_table_is_known_to_the_evaluator() {
        // Called with no arguments, a known function fails on its arguments;
        // only an unknown one is an undeclared reference.
        for (name, style) in CEL {
            let calls: Vec<String> = match (style, name.split_once('.')) {
                (_, Some((ns, f))) => vec![format!("{ns}.{f}()")],
                (Global, None) => vec![format!("{name}()")],
                (Method, None) => vec![format!("null.{name}()")],
                (Both, None) => vec![format!("{name}()"), format!("null.{name}()")],
            };
            for call in calls {
                let program = crate::expr::env()
                    .parser()
                    .parse(&call)
                    .unwrap_or_else(|e| panic!("{call}: {e:?}"));
                let ctx = Context::with_env(crate::expr::env().clone());
                if let Err(ExecutionError::UndeclaredReference(n)) = ctx.resolve(&program) {
                    panic!("{call}: `{n}` is not known to the evaluator")
                }
            }
        }
        // And orch's own are registered from the table.
        let mut ctx = Context::with_env(crate::expr::env().clone());
        register(&mut ctx, StatusFns::default());
        for (name, _) in ORCH {
            let program = crate::expr::env()
                .parser()
                .parse(&format!("{name}('1')"))
                .unwrap();
            assert!(
                !matches!(
                    ctx.resolve(&program),
                    Err(ExecutionError::UndeclaredReference(_))
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn known_calls_pass() {
        let src = "size('a') + 'a'.size() + [1].map(x, x).size() + math.abs(-1) \
                   + lists.range(2).size() + int(toJSON(fromJSON('1'))) \
                   + 'a,b'.split(',').size() + (success() ? 1 : 0) \
                   + (has({'a': 1}.a) ? 1 : 0) + math.greatest(1, 2) \
                   + size(base64.encode(b'x')) + optional.of(1).value() \
                   + ('abc'.startsWith('a') && 'a'.matches('a') ? 1 : 0)";
        assert_eq!(problems(src), vec![]);
    }

    #[test]
    fn unknown_and_misused_calls() {
        assert_eq!(
            problems("'a'.strtsWith('a') || fromJSOn('1') || math.abz(1) || nosuch(1)"),
            vec![
                ("fromJSOn".into(), Problem::Unknown(Some("fromJSON"))),
                ("math.abz".into(), Problem::Unknown(Some("math.abs"))),
                ("nosuch".into(), Problem::Unknown(None)),
                ("strtsWith".into(), Problem::Unknown(Some("startsWith"))),
            ]
        );
        assert_eq!(
            problems("startsWith('a', 'b') || inputs.toJSON() || [1].map(x)"),
            vec![
                ("map".into(), Problem::Macro("list.map(x, x * 2)")),
                ("startsWith".into(), Problem::OnlyMethod),
                ("toJSON".into(), Problem::NotMethod),
            ]
        );
        assert_eq!(
            problems("[1].mapp(x, x)")[0].1,
            Problem::Unknown(Some("map"))
        );
    }
}
