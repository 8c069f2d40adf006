//! The bound on how deeply an expression nests, so that neither the CEL
//! parser nor its evaluator (both recursive) can run out of stack: a depth
//! estimated from the tokens before anything is parsed, and a thread with a
//! large stack for the expressions that are deep but within the bound.

use cel::IdedExpr;

use super::lex::{self, Tok};

/// How many levels an expression may nest: operators in a chain, calls,
/// brackets. Generous for anything written by hand (GitHub Actions allows 50).
pub(crate) const MAX_DEPTH: usize = 256;

/// Up to this depth, parse and evaluate on the caller's stack; deeper, on a
/// thread of [`DEEP_STACK`] bytes. A level of the unoptimised evaluator takes
/// about 40 KiB of stack, so a deep expression would not fit the 2 MiB of a
/// spawned thread, or even the 8 MiB of the main one.
const SHALLOW: usize = 24;

/// Reserved, not committed: the pages a deep expression touches.
const DEEP_STACK: usize = 256 << 20;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TooDeep {
    /// The estimated depth.
    pub(crate) depth: usize,
    /// Byte offset of where the bound is first exceeded (or of the start).
    pub(crate) offset: usize,
}

impl TooDeep {
    pub(crate) fn message(&self) -> String {
        format!(
            "expression is nested too deeply ({} levels; the limit is {MAX_DEPTH})",
            self.depth
        )
    }
}

/// A bracket group (or the whole expression) being read.
struct Frame {
    /// Levels the group adds itself: 1, more for a macro's comprehension.
    cost: usize,
    ternaries: usize,
    logic: usize,
    /// Binary operators in the current operand of `&&`, `||`, `?:` or `,`.
    chain: usize,
    /// Unary and postfix operators (`-`, `.x`, `[i]`) on the current
    /// operand of that chain, and the deepest group inside it.
    postfix: usize,
    nested: usize,
    /// The deepest operand of the chain so far.
    operand: usize,
    /// The deepest chain so far.
    best: usize,
}

impl Frame {
    fn new(cost: usize) -> Self {
        Frame {
            cost,
            ternaries: 0,
            logic: 0,
            chain: 0,
            postfix: 0,
            nested: 0,
            operand: 0,
            best: 0,
        }
    }

    fn end_operand(&mut self) {
        self.operand = self.operand.max(self.postfix + self.nested);
        self.postfix = 0;
        self.nested = 0;
    }

    fn end_chain(&mut self) {
        self.best = self.best.max(self.chain_depth());
        self.chain = 0;
        self.operand = 0;
        self.postfix = 0;
        self.nested = 0;
    }

    /// A path down a chain passes each of its operators at most once, then
    /// goes into one operand.
    fn chain_depth(&self) -> usize {
        self.chain + self.operand.max(self.postfix + self.nested)
    }

    /// An upper bound on the depth of the group's tree. A chain of `&&` or
    /// `||` is a balanced tree; other operators chain one level each.
    fn depth(&self) -> usize {
        let logic_levels = (usize::BITS - self.logic.leading_zeros()) as usize;
        self.ternaries + 2 * logic_levels + self.best.max(self.chain_depth()) + self.cost
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Operand,
    Open,
    Separator,
    Dot,
    Minus,
    Bang,
    Other,
}

/// An upper bound on the depth of the tree `src` parses into, read from its
/// tokens alone (no recursion); an error past [`MAX_DEPTH`].
pub(super) fn estimate(src: &str) -> Result<usize, TooDeep> {
    let b = src.as_bytes();
    let mut stack = vec![Frame::new(1)];
    let mut prev = Class::Other;
    let mut prev_ident = "";
    let mut at: Option<usize> = None;
    let mut first: Option<usize> = None;
    for t in lex::tokens(src) {
        if matches!(t.kind, Tok::Space | Tok::Comment) {
            continue;
        }
        first.get_or_insert(t.start);
        let text = src.get(t.start..t.end).unwrap_or_default();
        let class = match t.kind {
            Tok::Ident if text == "in" => Class::Other,
            Tok::Ident | Tok::Number | Tok::Str | Tok::Unclosed => Class::Operand,
            _ => match b[t.start] {
                b'(' | b'[' | b'{' => Class::Open,
                b')' | b']' | b'}' => Class::Operand,
                b',' | b':' => Class::Separator,
                b'.' => Class::Dot,
                // Unary (`-x`, `- -x`), not `a - b`.
                b'-' if prev != Class::Operand => Class::Minus,
                b'!' if text == "!" => Class::Bang,
                _ => Class::Other,
            },
        };
        let open_groups = stack.len() - 1;
        let Some(top) = stack.last_mut() else { break };
        match (t.kind, b[t.start]) {
            (Tok::Punct, b'(' | b'[' | b'{') => {
                let call = b[t.start] == b'(' && prev == Class::Operand;
                if b[t.start] == b'[' && prev == Class::Operand {
                    top.postfix += 1;
                }
                // A macro's comprehension is a few levels deeper than the call.
                let cost = if call && super::functions::is_method_macro(prev_ident) {
                    4
                } else {
                    1
                };
                stack.push(Frame::new(cost));
                if stack.len() > MAX_DEPTH {
                    at.get_or_insert(t.start);
                }
            }
            // An unmatched closer is the parser's to report.
            (Tok::Punct, b')' | b']' | b'}') if open_groups > 0 => close(&mut stack),
            (Tok::Punct, b',' | b':') => top.end_chain(),
            (Tok::Punct, b'&' | b'|') if text.len() == 2 => {
                top.end_chain();
                top.logic += 1;
            }
            // `a ? b : c`, not the optional syntax `a.?b`, `[?a]`, `{?k: v}`.
            (Tok::Punct, b'?') if !matches!(prev, Class::Dot | Class::Open | Class::Separator) => {
                top.end_chain();
                top.ternaries += 1;
            }
            // A run of unary operators is one level at most.
            (Tok::Punct, b'-') if prev == Class::Minus && class == Class::Minus => {}
            (Tok::Punct, b'!') if prev == Class::Bang && class == Class::Bang => {}
            (Tok::Punct, b'.' | b'-' | b'!') if class != Class::Other => top.postfix += 1,
            (Tok::Punct, b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' | b'=' | b'!') => {
                top.end_operand();
                top.chain += 1;
            }
            (Tok::Ident, _) if text == "in" => {
                top.end_operand();
                top.chain += 1;
            }
            _ => {}
        }
        if let Some(top) = stack.last() {
            if top.chain + top.ternaries > MAX_DEPTH || top.postfix > MAX_DEPTH {
                at.get_or_insert(t.start);
            }
        }
        prev = class;
        prev_ident = if t.kind == Tok::Ident { text } else { "" };
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    let depth = stack.last().map_or(1, Frame::depth);
    if depth > MAX_DEPTH {
        Err(TooDeep {
            depth,
            offset: at.or(first).unwrap_or(0),
        })
    } else {
        Ok(depth)
    }
}

/// End the innermost group: its depth counts in the one around it.
fn close(stack: &mut Vec<Frame>) {
    if let Some(inner) = stack.pop() {
        if let Some(outer) = stack.last_mut() {
            outer.nested = outer.nested.max(inner.depth());
        }
    }
}

/// The depth of a parsed tree, counted without recursion.
pub(super) fn tree_depth(e: &IdedExpr) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(e, 1usize)];
    while let Some((e, d)) = todo.pop() {
        deepest = deepest.max(d);
        todo.extend(super::children(e).into_iter().map(|c| (c, d + 1)));
    }
    deepest
}

/// Run `f` on a stack deep enough for an expression `depth` levels deep:
/// the caller's for shallow ones, a thread's of [`DEEP_STACK`] bytes else.
/// A panic inside `f` is an error, never orch's end.
pub(super) fn with_stack<R: Send>(depth: usize, f: impl FnOnce() -> R + Send) -> Result<R, String> {
    if depth <= SHALLOW {
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .map_err(|_| "it could not be evaluated".to_string());
    }
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("orch-expr".into())
            .stack_size(DEEP_STACK)
            .spawn_scoped(s, f)
            .map_err(|e| format!("no thread to evaluate it on: {e}"))?;
        handle
            .join()
            .map_err(|_| "it could not be evaluated".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(s: &str) -> usize {
        match estimate(s) {
            Ok(d) => d,
            Err(e) => e.depth,
        }
    }

    #[test]
    fn estimates_bound_the_tree() {
        for src in [
            "1",
            "1 + 2 * 3",
            "inputs.a.b.c == 'x' && steps.b.outputs.y",
            "[1, 2, [3, [4]]].map(x, x * 2)",
            "a ? b : c ? d : e",
            "f(g(h(1)))[0].x",
            "{'a': {'b': [1, 2]}}.a.b[1]",
            "!!!!!true",
            "-1 - -2",
            "[1,2].all(x, [x].exists(y, y > 0))",
            "math.greatest(1, 2, 3)",
            "x.?y.orValue(1)",
            "a.b + c.d * e.f[0] - -g.h",
            "x in [1] && y.z in {'a': 1} || !w",
            "[1, 2].map(x, x).filter(y, y > 1).size() == 1 ? 'a' : 'b'",
            "{'k': [1].all(v, v > 0)}.k",
        ] {
            let tree = match crate::expr::compile(src) {
                Ok((ast, ..)) => tree_depth(&ast),
                Err(e) => panic!("{src}: {e:?}"),
            };
            assert!(
                depth(src) >= tree,
                "{src}: estimated {} < {tree}",
                depth(src)
            );
        }
    }

    #[test]
    fn long_chains_and_deep_nesting_are_refused_before_parsing() {
        let chain = vec!["1"; 6000].join(" + ");
        let e = estimate(&chain).unwrap_err();
        assert_eq!(e.depth, 6000);
        // Located at the operator that crosses the bound.
        assert_eq!(e.offset, 4 * MAX_DEPTH + 2);
        let parens = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        let e = estimate(&parens).unwrap_err();
        assert_eq!(e.offset, MAX_DEPTH - 1);
        assert!(e.depth > 100_000);
        assert!(estimate(&format!("x{}", ".a".repeat(300))).is_err());
        assert!(estimate(&format!("[{}]", "[".repeat(300))).is_err());
        assert!(estimate(&format!("x{}", "[0]".repeat(300))).is_err());
        assert!(estimate(&"true ? 1 : ".repeat(300)).is_err());
        // Flat or balanced: fine however long.
        assert!(estimate(&format!("!{}", "!".repeat(100_000))).is_ok());
        assert!(estimate(&"-".repeat(100_000)).is_ok());
        assert!(estimate(&vec!["true"; 30_000].join(" && ")).is_ok());
        assert!(estimate(&format!("[{}]", vec!["1"; 30_000].join(", "))).is_ok());
        let e = TooDeep {
            depth: 300,
            offset: 0,
        };
        assert_eq!(
            e.message(),
            "expression is nested too deeply (300 levels; the limit is 256)"
        );
    }

    #[test]
    fn deep_work_runs_on_a_large_stack() {
        // Would overflow a test thread's 2 MiB if run on it.
        fn recurse(n: usize) -> usize {
            let pad = std::hint::black_box([0u8; 16 << 10]);
            if n == 0 {
                usize::from(pad[0])
            } else {
                recurse(n - 1) + 1
            }
        }
        assert_eq!(with_stack(MAX_DEPTH, || recurse(1000)), Ok(1000));
        assert!(with_stack(1, || panic!("boom")).is_err());
        assert!(with_stack(MAX_DEPTH, || panic!("boom")).is_err());
    }
}
