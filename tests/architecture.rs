//! The shape of `src/`: arrows between top-level modules point down only.
//!
//! Reads every `use crate::…` and `crate::…` path in `src/` (test modules
//! excluded), builds the graph of top-level modules, and fails on a cycle
//! or on an import against the layer order below. The order is the
//! architecture in one table: a module may import modules of a lower layer
//! and of its own layer (without forming a cycle), never of a higher one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::repo_root;

/// Layers, highest first. Every top-level module of `src/` must be listed.
const LAYERS: &[(&str, &[&str])] = &[
    // Entry points for fuzzing the front end; nothing imports them.
    ("fuzz", &["fuzz"]),
    ("commands", &["commands"]),
    ("session", &["session"]),
    // Flags and the environment, resolved once into settings.
    ("settings", &["settings", "cli"]),
    ("engine and sinks", &["exec", "report", "history"]),
    ("executors", &["steps"]),
    ("services", &["services", "secrets", "mask"]),
    (
        "front end",
        &["validate", "inputs", "plan", "load", "export"],
    ),
    ("model", &["model", "expr", "event"]),
    (
        "leaves",
        &[
            "diag",
            "render",
            "source",
            "duration",
            "cancel",
            "digest",
            "http_client",
            "error",
            "exit",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`None` for lib.rs and main.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// The code of a file without its `#[cfg(test)]` modules (they sit at the
/// end of each file) and without comments.
fn code(text: &str) -> String {
    let cut = text.find("#[cfg(test)]\nmod ").unwrap_or(text.len());
    text[..cut]
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level modules named after `crate::`, including `use crate::{a, b::c}`.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        // `orch_crate::x` or `$crate::` are not ours.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if let Some(name) = ident(item.trim()) {
                            out.insert(name);
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || c != '{' {
                    item.push(c);
                }
            }
        } else if let Some(name) = ident(rest) {
            out.insert(name);
        }
    }
    out
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

fn ident(s: &str) -> Option<String> {
    let name: String = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

/// `module → {modules it imports}` over `src/`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let Some(m) = module_of(&src, &f) else {
            continue;
        };
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let refs = references(&code(&text));
        let entry = g.entry(m.clone()).or_default();
        entry.extend(refs.into_iter().filter(|r| *r != m));
    }
    // Names that are not modules (a macro, a re-exported item) are not edges.
    let modules: BTreeSet<String> = g.keys().cloned().collect();
    for deps in g.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn layer_of(m: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&m))
}

#[test]
fn reference_parser_reads_groups_and_paths() {
    let refs = references(
        "use crate::event::{Sink, Status};\nuse crate::{diag::Diag, model::{Step, Workflow}, source};\nlet x = crate::digest::sha256_hex(b);\nuse orch_crate::no;",
    );
    let want: BTreeSet<String> = ["event", "diag", "model", "source", "digest"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(refs, want);
}

#[test]
fn no_cycles_between_top_level_modules() {
    let g = graph();
    assert!(g.len() > 10, "src/ was not read: {g:?}");
    let found = cycles(&g);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    g[a].iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{a} → {b}"))
                })
                .collect();
            format!("{{{}}}: {}", c.join(", "), edges.join(", "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "cycles between top-level modules:\n  {}",
        shown.join("\n  ")
    );
}

#[test]
fn imports_point_down_the_layers() {
    let g = graph();
    let mut unlisted = Vec::new();
    let mut upward = Vec::new();
    for (m, deps) in &g {
        let Some(lm) = layer_of(m) else {
            unlisted.push(m.clone());
            continue;
        };
        for d in deps {
            if let Some(ld) = layer_of(d) {
                if ld < lm {
                    upward.push(format!("{m} ({}) → {d} ({})", LAYERS[lm].0, LAYERS[ld].0));
                }
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "modules missing from LAYERS in tests/architecture.rs: {unlisted:?}"
    );
    assert!(
        upward.is_empty(),
        "imports that point up:\n  {}",
        upward.join("\n  ")
    );
}
