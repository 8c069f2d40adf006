//! Values from a file that may hold `${{ }}` expressions, compiled: literal
//! JSON, templates of text and expressions, lists and maps of those.

use std::sync::Arc;

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
