//! Every YAML key orch reads, defined once: its type, one-line doc and
//! support level. Validation takes its key lists from these tables, and the
//! key tables of `docs/reference.md` are generated from them.
//!
//! The data is meant to be complete enough for a JSON Schema: types with
//! their patterns and bounds, enum values, nested objects, required keys and
//! the groups of keys that exclude each other.

mod markdown;
mod orchestration;
pub(crate) mod schema;
mod workflow;

// Public for the drift test of the reference (tests/generated.rs).
pub use markdown::{splice_reference, SpliceError};
pub(crate) use orchestration::*;
pub(crate) use workflow::*;

/// Step ids, input names, secret names: what `validate::is_name` accepts.
pub(crate) const ID_PATTERN: &str = "[A-Za-z_][A-Za-z0-9_-]*";

/// One YAML mapping (an object): its keys in the order diagnostics list them.
#[derive(Debug)]
pub(crate) struct Table {
    /// A stable name: the reference's markers and a schema's definitions.
    pub(crate) id: &'static str,
    /// How diagnostics name the mapping: "unknown key `x` in {what}".
    pub(crate) what: &'static str,
    /// How the reference names a value of this table, and several of them.
    pub(crate) noun: &'static str,
    pub(crate) plural: &'static str,
    /// The anchor of the reference section that documents this table; a
    /// table without one is documented inside its parent's, as `parent.key`.
    pub(crate) section: Option<&'static str>,
    pub(crate) keys: &'static [Key],
    /// Keys that exclude each other.
    pub(crate) groups: &'static [Group],
}

/// At most one of `keys`; exactly one when `required`.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) keys: &'static [&'static str],
    pub(crate) required: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub(crate) name: &'static str,
    pub(crate) ty: Ty,
    /// One line of Markdown.
    pub(crate) doc: &'static str,
    /// Markdown for the reference's default column; `None` is "—".
    pub(crate) default: Option<&'static str>,
    pub(crate) required: bool,
    pub(crate) support: Support,
    pub(crate) role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    Supported,
    /// Validated, but nothing reads it yet.
    NoEffect,
    /// Validated so files written for later versions check, then refused
    /// with a "not supported yet" diagnostic.
    NotYet,
}

/// What a step key is to the step: only steps have kinds and bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Plain,
    /// A step kind: a step has exactly one.
    Kind,
    /// Belongs to the step's body, so `compensate:` may give it too.
    Body,
}

/// The value a key takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    Str,
    /// A string that names something; `pattern` (unanchored) when checked.
    Name {
        noun: &'static str,
        pattern: Option<&'static str>,
    },
    /// A string that may hold `${{ }}` expressions.
    Template,
    /// One expression, with or without `${{ }}`.
    Expr,
    Int {
        min: Option<i64>,
    },
    Number {
        min: f64,
    },
    Bool,
    /// What `validate::duration::parse` accepts, `250ms` or `1m30s`: after
    /// trimming, the pattern `([0-9]+(ms|s|m|h|d))+`.
    Duration,
    /// Any YAML value; strings in it may hold expressions.
    Any,
    Enum(&'static [&'static str]),
    List {
        of: &'static Ty,
        non_empty: bool,
    },
    /// One value, or a list of them.
    OneOrList(&'static Ty),
    Map {
        key: &'static Ty,
        of: &'static Ty,
        non_empty: bool,
    },
    Object(&'static Table),
    /// Any one of these shapes.
    Either(&'static [Ty]),
    /// The kind and body keys of a step (`compensate:`).
    StepBody,
}

impl Key {
    /// A supported, optional key of no particular role.
    pub(crate) const fn new(name: &'static str, ty: Ty, doc: &'static str) -> Key {
        Key {
            name,
            ty,
            doc,
            default: None,
            required: false,
            support: Support::Supported,
            role: Role::Plain,
        }
    }

    pub(crate) const fn default(mut self, text: &'static str) -> Key {
        self.default = Some(text);
        self
    }

    pub(crate) const fn required(mut self) -> Key {
        self.required = true;
        self
    }

    pub(crate) const fn no_effect(mut self) -> Key {
        self.support = Support::NoEffect;
        self
    }

    #[allow(
        dead_code,
        reason = "for a key that parses before it runs; none is like that today"
    )]
    pub(crate) const fn not_yet(mut self) -> Key {
        self.support = Support::NotYet;
        self
    }

    pub(crate) const fn role(mut self, role: Role) -> Key {
        self.role = role;
        self
    }
}

impl Table {
    /// The key names, in table order: what unknown-key diagnostics suggest
    /// and list.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.keys.iter().map(|k| k.name).collect()
    }

    pub(crate) fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    pub(crate) fn with_role(&self, role: Role) -> impl Iterator<Item = &'static Key> {
        self.keys.iter().filter(move |k| k.role == role)
    }

    /// Is `name` a key that is refused as not supported yet?
    pub(crate) fn is_not_yet(&self, name: &str) -> bool {
        self.key(name).is_some_and(|k| k.support == Support::NotYet)
    }
}

impl Ty {
    /// The tables a value of this type may hold, directly or in a list or
    /// mapping.
    pub(crate) fn tables(&self) -> Vec<&'static Table> {
        match self {
            Ty::Object(t) => vec![t],
            Ty::List { of, .. } | Ty::OneOrList(of) | Ty::Map { of, .. } => of.tables(),
            Ty::Either(tys) => tys.iter().flat_map(Ty::tables).collect(),
            _ => Vec::new(),
        }
    }
}

/// The step kinds this version runs, in table order.
pub(crate) fn supported_kinds() -> Vec<&'static str> {
    STEP.with_role(Role::Kind)
        .filter(|k| k.support == Support::Supported)
        .map(|k| k.name)
        .collect()
}

/// `a, b or c`, as the diagnostics list allowed values.
pub(crate) fn or_list(words: &[&str]) -> String {
    words_list(words, "or")
}

/// `` `a`, `b` or `c` ``.
pub(crate) fn quoted_or(words: &[&str]) -> String {
    words_list(&quoted(words), "or")
}

/// `` `a`, `b` and `c` ``.
pub(crate) fn quoted_and(words: &[&str]) -> String {
    words_list(&quoted(words), "and")
}

fn quoted(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| format!("`{w}`")).collect()
}

fn words_list<S: AsRef<str>>(words: &[S], conj: &str) -> String {
    match words {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} {conj} {}", init.join(", "), last.as_ref())
        }
    }
}

/// Every table reachable from `root`, each once: the prefix of its keys'
/// paths where it first appears (`services[].auth.`) and the key holding it.
pub(crate) type Walk = Vec<(String, &'static Table, Option<&'static Key>)>;

pub(crate) fn walk(root: &'static Table) -> Walk {
    let mut out: Walk = vec![(String::new(), root, None)];
    let mut i = 0;
    while i < out.len() {
        let (prefix, table) = (out[i].0.clone(), out[i].1);
        for k in table.keys {
            let sep = match k.ty {
                Ty::List { .. } => "[]",
                Ty::Map { .. } => ".<name>",
                _ => "",
            };
            for t in k.ty.tables() {
                if !out.iter().any(|(_, seen, _)| std::ptr::eq(*seen, t)) {
                    out.push((format!("{prefix}{}{sep}.", k.name), t, Some(k)));
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
