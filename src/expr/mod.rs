//! `${{ }}` expressions in CEL: compiling (with the hyphenated-name rule),
//! static references for validation, and evaluation against run state.

pub(crate) mod eval;
pub(crate) mod functions;
mod lex;
pub(crate) mod limits;
pub(crate) mod template;
mod value;

use std::sync::OnceLock;

use cel::common::ast::{CallExpr, Expr as Ast, LiteralValue};
use cel::parser::Parser;

use cel::IdedExpr;

pub(crate) use eval::{eval, render, Scope, StatusFns};
pub(crate) use value::{Part, Template, Val};

/// Roots after which a hyphenated name is one name, as in GitHub Actions.
const NAMED_ROOTS: [&str; 4] = ["steps", "inputs", "secrets", "env"];

/// Variables an expression may use at all; which are in scope depends on where
/// the expression is written (checked by the validator).
pub(crate) const ROOTS: [&str; 9] = [
    "inputs", "env", "steps", "run", "secrets", "item", "index", "error", "step",
];

/// CEL's type names, values of `type(x)`: `type(x) == int`.
const CEL_TYPES: [&str; 10] = [
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
];

/// A compiled expression.
#[derive(Debug)]
pub(crate) struct Expr {
    /// The text as the user wrote it (inside `${{ }}`).
    pub(crate) text: String,
    pub(crate) ast: IdedExpr,
    /// Every `root.name` reference, for static checks and for building only
    /// the part of the context the expression reads.
    pub(crate) refs: Vec<Ref>,
    /// Identifiers that are not a known root nor a comprehension variable,
    /// and calls of unknown functions.
    pub(crate) unknown_idents: Vec<Unknown>,
    /// Byte offset of `text` in the file, when it could be located exactly.
    pub(crate) file_offset: Option<usize>,
    /// Where each byte of `text` is written, when escapes (`''`, `\"`) or
    /// folded lines put them elsewhere than `file_offset` + their offset.
    pub(crate) file_map: Option<std::sync::Arc<crate::source::OffsetMap>>,
    /// The span of the whole YAML value, the fallback for labels.
    pub(crate) value_span: crate::source::Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ref {
    pub(crate) root: String,
    /// The name after the root (`build` in `steps.build.outputs`), if any.
    pub(crate) name: Option<String>,
    /// Further segments (`outputs`, `digest`).
    pub(crate) path: Vec<String>,
    /// Character offset inside [`Expr::text`].
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

/// A name an expression uses that nothing defines.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unknown {
    pub(crate) name: String,
    /// Character offset and length inside [`Expr::text`].
    pub(crate) offset: usize,
    pub(crate) len: usize,
    /// `None` for a variable; for a call, what is wrong with it.
    pub(crate) call: Option<functions::Problem>,
}

#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    /// Character offset inside the original text.
    pub(crate) offset: usize,
    /// Refused for its depth ([`limits::MAX_DEPTH`]), not its syntax.
    pub(crate) too_deep: bool,
}

impl Expr {
    pub(crate) fn steps(&self) -> impl Iterator<Item = &str> {
        self.refs
            .iter()
            .filter(|r| r.root == "steps")
            .filter_map(|r| r.name.as_deref())
    }

    /// File span of a character range inside the expression (exact when the
    /// expression could be located in the file, else the whole value).
    pub(crate) fn span_of(&self, char_offset: usize, char_len: usize) -> crate::source::Span {
        match self.file_offset {
            Some(base) => {
                let start: usize = self
                    .text
                    .chars()
                    .take(char_offset)
                    .map(char::len_utf8)
                    .sum();
                let len: usize = self
                    .text
                    .chars()
                    .skip(char_offset)
                    .take(char_len.max(1))
                    .map(char::len_utf8)
                    .sum();
                match &self.file_map {
                    Some(m) => {
                        let last = self.text[..(start + len).min(self.text.len())]
                            .chars()
                            .next_back()
                            .map_or(1, char::len_utf8);
                        m.span(start, len.max(1), last)
                    }
                    None => crate::source::Span::new(base + start, len.max(1)),
                }
            }
            None => self.value_span,
        }
    }
}

/// Rewrite `steps.build-image` to ``steps.`build-image` `` so CEL reads one
/// name. Returns the text and, for each char of it, the char offset in the input.
fn rewrite_hyphens(src: &str) -> (String, Vec<usize>) {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 8);
    let mut map = Vec::with_capacity(chars.len() + 8);
    // String literals and comments are copied as they are: the end (a char
    // index) of the one starting at each char.
    let mut char_of_byte = vec![chars.len(); src.len() + 1];
    for (ci, (bi, _)) in src.char_indices().enumerate() {
        char_of_byte[bi] = ci;
    }
    let mut literal_end = vec![0usize; chars.len()];
    for t in lex::tokens(src).filter(|t| t.is_literal()) {
        if let Some(slot) = literal_end.get_mut(char_of_byte[t.start]) {
            *slot = char_of_byte[t.end];
        }
    }
    let mut i = 0;
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let end = literal_end[i];
        if end > i {
            for (k, ch) in chars[i..end].iter().enumerate() {
                out.push(*ch);
                map.push(i + k);
            }
            i = end;
            continue;
        }
        // A root word not preceded by `.` or an identifier character.
        let at_word_start = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == '.');
        if at_word_start && is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            for (k, ch) in word.chars().enumerate() {
                out.push(ch);
                map.push(start + k);
            }
            if NAMED_ROOTS.contains(&word.as_str()) && chars.get(i) == Some(&'.') {
                let name_start = i + 1;
                let mut j = name_start;
                if j < chars.len() && (chars[j].is_ascii_alphabetic() || chars[j] == '_') {
                    while j < chars.len() && (is_ident(chars[j]) || chars[j] == '-') {
                        j += 1;
                    }
                    // A trailing `-` belongs to an operator, not the name.
                    while j > name_start && chars[j - 1] == '-' {
                        j -= 1;
                    }
                    let name: String = chars[name_start..j].iter().collect();
                    out.push('.');
                    map.push(i);
                    if name.contains('-') {
                        out.push('`');
                        map.push(name_start);
                        for (k, ch) in name.chars().enumerate() {
                            out.push(ch);
                            map.push(name_start + k);
                        }
                        out.push('`');
                        map.push(j.saturating_sub(1));
                    } else {
                        for (k, ch) in name.chars().enumerate() {
                            out.push(ch);
                            map.push(name_start + k);
                        }
                    }
                    i = j;
                }
            }
            continue;
        }
        out.push(c);
        map.push(i);
        i += 1;
    }
    map.push(chars.len());
    (out, map)
}

fn parser() -> Parser {
    env()
        .parser()
        .enable_ident_escape_syntax(true)
        // A backstop: [`limits::estimate`] refuses deeper input first.
        .max_recursion_depth(limits::MAX_DEPTH as u16)
}

/// A compiled expression's tree, its references and its unknown names.
pub(crate) type Compiled = (IdedExpr, Vec<Ref>, Vec<Unknown>);

/// Compile the inside of `${{ }}`.
pub(crate) fn compile(text: &str) -> Result<Compiled, SyntaxError> {
    if text.trim().is_empty() {
        return Err(SyntaxError {
            message: "empty expression".into(),
            offset: 0,
            too_deep: false,
        });
    }
    // Bounded before parsing: the parser recurses once per level.
    let depth = limits::estimate(text).map_err(|e| SyntaxError {
        message: e.message(),
        offset: text.get(..e.offset).map_or(0, |t| t.chars().count()),
        too_deep: true,
    })?;
    limits::with_stack(depth, || parse(text)).unwrap_or_else(|why| {
        Err(SyntaxError {
            message: format!("expression could not be parsed: {why}"),
            offset: 0,
            too_deep: false,
        })
    })
}

fn parse(text: &str) -> Result<Compiled, SyntaxError> {
    let (rewritten, map) = rewrite_hyphens(text);
    let to_orig = |rw_char: usize| map.get(rw_char).copied().unwrap_or(text.chars().count());
    // The CEL parser is generated code; never let a panic in it take orch down.
    let parsed = std::panic::catch_unwind(|| parser().parse_with_source_info(&rewritten));
    let (ast, info) = match parsed {
        Ok(Ok(v)) => v,
        Ok(Err(errs)) => {
            let first = errs.errors.into_iter().next();
            let (message, pos) = first
                .map(|e| (e.msg, e.pos))
                .unwrap_or_else(|| ("invalid expression".into(), (1, 1)));
            let rw_off = line_col_to_char(&rewritten, pos.0, pos.1);
            return Err(SyntaxError {
                message: tidy_parse_message(&message),
                offset: to_orig(rw_off),
                too_deep: false,
            });
        }
        Err(_) => {
            return Err(SyntaxError {
                message: "expression could not be parsed".into(),
                offset: 0,
                too_deep: false,
            })
        }
    };
    let mut refs = Vec::new();
    let mut unknown = Vec::new();
    let mut bound: Vec<String> = Vec::new();
    let offset_of = |id: u64| -> (usize, usize) {
        match info.offset_for(id) {
            Some((s, e)) => {
                let so = to_orig(s as usize);
                let eo = to_orig((e as usize).max(s as usize));
                (so, eo.saturating_sub(so) + 1)
            }
            None => (0, 1),
        }
    };
    walk(&ast, &mut bound, &mut refs, &mut unknown, &offset_of);
    let chars: Vec<char> = text.chars().collect();
    for bad in functions::bad_calls(&ast) {
        // `foo.bar()` with `foo` unknown: that is the one problem to report.
        if bad
            .receiver
            .as_ref()
            .is_some_and(|r| unknown.iter().any(|u| u.call.is_none() && &u.name == r))
        {
            continue;
        }
        let paren = info.offset_for(bad.id).map(|(s, _)| to_orig(s as usize));
        let (offset, len) = name_before(&chars, paren, &bad.function);
        unknown.push(Unknown {
            name: bad.name,
            offset,
            len,
            call: Some(bad.problem),
        });
    }
    unknown.sort_by_key(|u| u.offset);
    Ok((ast, refs, unknown))
}

/// Where `name` is written before the `(` at char offset `paren`: its offset
/// and length (the `(` itself when it cannot be found).
fn name_before(chars: &[char], paren: Option<usize>, name: &str) -> (usize, usize) {
    let Some(p) = paren else { return (0, 1) };
    let mut end = p.min(chars.len());
    while end > 0 && chars[end - 1].is_whitespace() {
        end -= 1;
    }
    let n = name.chars().count();
    match end.checked_sub(n) {
        Some(start) if chars[start..end].iter().copied().eq(name.chars()) => (start, n),
        _ => (p, 1),
    }
}

fn tidy_parse_message(m: &str) -> String {
    m.replace("<EOF>", "end of expression")
}

fn line_col_to_char(s: &str, line: isize, col: isize) -> usize {
    let mut off = 0usize;
    for (i, l) in s.split_inclusive('\n').enumerate() {
        if (i as isize) + 1 == line {
            return off + (col.max(1) as usize - 1).min(l.chars().count());
        }
        off += l.chars().count();
    }
    off
}

/// `a.b.c` (or `a['b'].c`) as segments, root first.
pub(crate) fn segments(e: &IdedExpr) -> Option<Vec<String>> {
    match &e.expr {
        Ast::Ident(n) => Some(vec![n.clone()]),
        Ast::Select(s) if !s.test => {
            let mut v = segments(&s.operand)?;
            v.push(s.field.clone());
            Some(v)
        }
        Ast::Call(CallExpr {
            func_name,
            target: None,
            args,
        }) if func_name == "_[_]" && args.len() == 2 => {
            let mut v = segments(&args[0])?;
            match &args[1].expr {
                Ast::Literal(LiteralValue::String(s)) => {
                    v.push(s.inner().to_string());
                    Some(v)
                }
                _ => Some(v),
            }
        }
        _ => None,
    }
}

fn walk(
    e: &IdedExpr,
    bound: &mut Vec<String>,
    refs: &mut Vec<Ref>,
    unknown: &mut Vec<Unknown>,
    offset_of: &dyn Fn(u64) -> (usize, usize),
) {
    // A selection chain on a root identifier is one reference.
    if matches!(&e.expr, Ast::Select(_) | Ast::Ident(_) | Ast::Call(_)) {
        if let Some(seg) = segments(e) {
            let root = &seg[0];
            if !bound.contains(root) {
                let (off, _) = offset_of(root_id(e));
                let (_, _) = offset_of(e.id);
                if ROOTS.contains(&root.as_str()) {
                    let len = seg.iter().take(2).map(|s| s.chars().count()).sum::<usize>()
                        + usize::from(seg.len() > 1);
                    refs.push(Ref {
                        root: root.clone(),
                        name: seg.get(1).cloned(),
                        path: seg.iter().skip(2).cloned().collect(),
                        offset: off,
                        len,
                    });
                } else if !CEL_TYPES.contains(&root.as_str()) {
                    unknown.push(Unknown {
                        name: root.clone(),
                        offset: off,
                        len: root.chars().count(),
                        call: None,
                    });
                }
            }
            // Still walk index arguments that are not literals (`a[b]`).
            if let Ast::Call(c) = &e.expr {
                for a in c.args.iter().skip(1) {
                    walk(a, bound, refs, unknown, offset_of);
                }
                if let Some(first) = c.args.first() {
                    if segments(first).is_none() {
                        walk(first, bound, refs, unknown, offset_of);
                    }
                }
            }
            return;
        }
    }
    match &e.expr {
        Ast::Call(c) => {
            match c.target.as_deref() {
                // `math.abs(x)`, `base64.encode(b)`: a namespace, not a variable.
                Some(IdedExpr {
                    expr: Ast::Ident(ns),
                    ..
                }) if functions::is_namespace(ns) && !bound.contains(ns) => {}
                Some(t) => walk(t, bound, refs, unknown, offset_of),
                None => {}
            }
            for a in &c.args {
                walk(a, bound, refs, unknown, offset_of);
            }
        }
        Ast::Comprehension(c) => {
            walk(&c.iter_range, bound, refs, unknown, offset_of);
            walk(&c.accu_init, bound, refs, unknown, offset_of);
            let n = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(v2) = &c.iter_var2 {
                bound.push(v2.clone());
            }
            bound.push(c.accu_var.clone());
            walk(&c.loop_cond, bound, refs, unknown, offset_of);
            walk(&c.loop_step, bound, refs, unknown, offset_of);
            walk(&c.result, bound, refs, unknown, offset_of);
            bound.truncate(n);
        }
        Ast::List(l) => {
            for x in &l.elements {
                walk(x, bound, refs, unknown, offset_of);
            }
        }
        Ast::Map(m) => {
            for entry in &m.entries {
                if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                    walk(&me.key, bound, refs, unknown, offset_of);
                    walk(&me.value, bound, refs, unknown, offset_of);
                }
            }
        }
        Ast::Select(s) => walk(&s.operand, bound, refs, unknown, offset_of),
        Ast::Struct(_) | Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => {}
    }
}

/// The nodes directly under `e`.
pub(super) fn children(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Ast::Call(c) => c.target.as_deref().into_iter().chain(&c.args).collect(),
        Ast::Select(s) => vec![&s.operand],
        Ast::List(l) => l.elements.iter().collect(),
        Ast::Map(m) => m
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                cel::common::ast::EntryExpr::MapEntry(me) => vec![&me.key, &me.value],
                cel::common::ast::EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Ast::Struct(s) => s
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                cel::common::ast::EntryExpr::MapEntry(me) => vec![&me.key, &me.value],
                cel::common::ast::EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Ast::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => Vec::new(),
    }
}

fn root_id(e: &IdedExpr) -> u64 {
    match &e.expr {
        Ast::Select(s) => root_id(&s.operand),
        Ast::Call(c) if c.func_name == "_[_]" && c.target.is_none() && !c.args.is_empty() => {
            root_id(&c.args[0])
        }
        _ => e.id,
    }
}

/// The shared CEL environment (standard library); built once.
pub(crate) fn env() -> &'static std::sync::Arc<cel::Env> {
    static ENV: OnceLock<std::sync::Arc<cel::Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = cel::Env::stdlib();
        // The common extensions users of CEL elsewhere expect: `split`,
        // `join`, `lowerAscii`, `math.greatest`, `base64.encode`, …
        for ext in [
            cel::extensions::strings as fn(&mut cel::Env) -> Result<(), cel::DeclarationError>,
            cel::extensions::lists,
            cel::extensions::math,
            cel::extensions::encoders,
        ] {
            // Declaring a standard extension on a fresh environment cannot
            // conflict; if it ever did, the functions would be missing and
            // expressions using them would say so.
            let _ = env.add_extension(ext);
        }
        std::sync::Arc::new(env)
    })
}

impl Expr {
    /// Does the expression call `success()`, `failure()`, `always()` or
    /// `cancelled()`? Without one, an `if:` means `success() && (…)`.
    pub(crate) fn uses_status_fn(&self) -> bool {
        let r = self.ast.references();
        ["success", "failure", "always", "cancelled"]
            .iter()
            .any(|f| r.has_function(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphenated_names_after_roots() {
        let (rw, map) = rewrite_hyphens("steps.build-image.outputs.x - inputs.a-b");
        assert_eq!(rw, "steps.`build-image`.outputs.x - inputs.`a-b`");
        assert_eq!(map.len(), rw.chars().count() + 1);
        let (rw, _) = rewrite_hyphens("'steps.a-b' + x.steps.a-b");
        assert_eq!(rw, "'steps.a-b' + x.steps.a-b");
        // CEL's other literals and comments are left alone too.
        let (rw, _) = rewrite_hyphens(r"r'\' + '''it's steps.a-b''' + steps.a-b // steps.c-d");
        assert_eq!(
            rw,
            r"r'\' + '''it's steps.a-b''' + steps.`a-b` // steps.c-d"
        );
    }

    #[test]
    fn references_are_collected() {
        let (_, refs, unknown) = compile(
            "steps.build-image.outputs.digest == inputs.env && foo && [1].all(x, x > index)",
        )
        .unwrap();
        let names: Vec<_> = refs
            .iter()
            .map(|r| (r.root.as_str(), r.name.as_deref()))
            .collect();
        assert!(names.contains(&("steps", Some("build-image"))));
        assert!(names.contains(&("inputs", Some("env"))));
        assert!(names.contains(&("index", None)));
        assert_eq!(
            unknown.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            vec!["foo"]
        );
        let r = refs.iter().find(|r| r.root == "inputs").unwrap();
        assert_eq!(r.offset, 36);
    }

    #[test]
    fn extension_namespaces_are_not_variables() {
        let (_, _, unknown) = compile("math.abs(-1) + size(base64.encode(b'x'))").unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn index_form_counts_as_reference() {
        let (_, refs, _) = compile("steps['a'].outputs.x").unwrap();
        assert_eq!(refs[0].name.as_deref(), Some("a"));
        assert_eq!(refs[0].path, vec!["outputs", "x"]);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = compile("inputs.a == ").unwrap_err();
        assert!(e.offset >= 9, "{e:?}");
        let e = compile("steps.a-b.x +* 2").unwrap_err();
        assert!(e.offset >= 12 && e.offset <= 14, "{e:?}");
        assert!(compile("  ").is_err());
    }
}
