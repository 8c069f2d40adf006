//! Values from a file that may hold `${{ }}` expressions, compiled: literal
//! JSON, templates of text and expressions, lists and maps of those; and JSON
//! as the CEL values evaluation reads.

use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::Value;

use serde_json::Value as Json;

use super::Expr;

/// A value from the file that may hold `${{ }}` expressions.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// No expression anywhere inside.
    Lit(Json),
    /// A string with expressions; exactly one whole expression keeps its type.
    Str(Template),
    List(Vec<Val>),
    Map(Vec<(String, Val)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) parts: Vec<Part>,
}

#[derive(Debug, Clone)]
pub(crate) enum Part {
    Text(String),
    Expr(Arc<Expr>),
}

impl Template {
    /// The single expression when the whole value is `${{ … }}` (typed result).
    pub(crate) fn whole(&self) -> Option<&Arc<Expr>> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    pub(crate) fn exprs(&self) -> impl Iterator<Item = &Arc<Expr>> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Text(_) => None,
        })
    }
}

impl Val {
    /// Every expression inside, depth first.
    pub(crate) fn exprs(&self) -> Vec<&Arc<Expr>> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Arc<Expr>>) {
        match self {
            Val::Lit(_) => {}
            Val::Str(t) => out.extend(t.exprs()),
            Val::List(l) => l.iter().for_each(|v| v.collect(out)),
            Val::Map(m) => m.iter().for_each(|(_, v)| v.collect(out)),
        }
    }
}

/// A JSON value as a CEL value.
pub(crate) fn json_to_cel(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(a) => Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Json::Object(o) => Value::Map(Map {
            map: Arc::new(
                o.iter()
                    .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                    .collect::<HashMap<_, _>>(),
            ),
        }),
    }
}
