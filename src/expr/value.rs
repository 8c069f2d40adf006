//! Values from a file that may hold `${{ }}` expressions, compiled: literal
//! JSON, templates of text and expressions, lists and maps of those.

use std::sync::Arc;

use serde_json::Value as Json;

use super::Expr;
use crate::source::Span;

/// A value from the file that may hold `${{ }}` expressions.
#[derive(Debug, Clone)]
pub enum Val {
    /// No expression anywhere inside.
    Lit(Json),
    /// A string with expressions; exactly one whole expression keeps its type.
    Str(Template),
    List(Vec<Val>),
    Map(Vec<(String, Val)>),
}

#[derive(Debug, Clone)]
pub struct Template {
    pub parts: Vec<Part>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Expr(Arc<Expr>),
}

impl Template {
    /// The single expression when the whole value is `${{ … }}` (typed result).
    pub fn whole(&self) -> Option<&Arc<Expr>> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    pub fn exprs(&self) -> impl Iterator<Item = &Arc<Expr>> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Text(_) => None,
        })
    }

    /// The text when there is no expression in it.
    pub fn literal(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => s.push_str(t),
                Part::Expr(_) => return None,
            }
        }
        Some(s)
    }
}

impl Val {
    /// Every expression inside, depth first.
    pub fn exprs(&self) -> Vec<&Arc<Expr>> {
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
