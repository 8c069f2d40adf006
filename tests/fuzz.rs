//! The fuzz targets' entry points (`orch::fuzz`) on stable Rust: bounded
//! property tests over mutated repository files and generated expressions,
//! and a replay of every crash reproducer kept in tests/fixtures/fuzz/.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use crate::common::repo_root;

const TARGETS: [&str; 6] = [
    "workflow",
    "config",
    "expr",
    "template",
    "output_file",
    "dotenv",
];

/// Few enough cases to keep `cargo test` fast; `PROPTEST_CASES` raises it.
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        // Tests write only to temporary directories, never into the checkout.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// The same seeds as fuzz/seed.sh: every workflow and config file of the
/// repository (not the crash reproducers: those are replayed on their own).
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = repo_root();
        let mut files = Vec::new();
        for d in [
            "examples",
            "workflows",
            "tests/fixtures/invalid",
            "tests/fixtures/config",
        ] {
            yaml_files(&root.join(d), &mut files);
        }
        let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        assert!(seeds.len() > 20, "the seed files were not found");
        seeds
    })
}

/// Fragments a mutation splices in: YAML structure, orch keys, expressions.
const TOKENS: &[&str] = &[
    "\n",
    "\n  ",
    ": ",
    "- ",
    "'",
    "\"",
    "''",
    "\\",
    "${{",
    "}}",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "!!str ",
    "<<: *a",
    "\t",
    "#",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "~",
    "null",
    "0",
    "-1",
    "1e309",
    "0s",
    "10m",
    "steps:",
    "needs: [",
    "run: ",
    "http: ",
    "workflow: ",
    "for_each: ",
    "if: ",
    "retry:",
    "max_attempts: ",
    "timeout: ",
    "inputs.",
    "steps.",
    ".outputs.",
    "é",
    "\u{feff}",
    "\r\n",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, &'static str),
    Byte(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), proptest::sample::select(TOKENS)).prop_map(|(p, t)| Edit::Insert(p, t)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Byte(p, b)),
        (any::<usize>(), 0usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), 0usize..256).prop_map(|(p, n)| Edit::Duplicate(p, n)),
    ]
}

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
        match *e {
            Edit::Insert(p, t) => {
                let i = at(p, b.len());
                b.splice(i..i, t.bytes());
            }
            Edit::Byte(p, v) => {
                if !b.is_empty() {
                    let i = p % b.len();
                    b[i] = v;
                }
            }
            Edit::Delete(p, n) => {
                let i = at(p, b.len());
                let j = (i + n).min(b.len());
                b.drain(i..j);
            }
            Edit::Duplicate(p, n) => {
                let i = at(p, b.len());
                let j = (i + n).min(b.len());
                let part = b[i..j].to_vec();
                b.splice(j..j, part);
            }
        }
    }
    b
}

/// A CEL expression from a small grammar, bounded in depth: orch's roots,
/// literals, operators, calls and macros.
fn cel() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        proptest::sample::select(
            &[
                "inputs.n",
                "inputs.env",
                "inputs.regions",
                "inputs.tags",
                "inputs.ratio",
                "inputs.missing",
                "steps.build.outputs.digest",
                "steps.build-image.json.a",
                "steps.build.exit_code",
                "steps.nope.outputs.x",
                "env.HOME",
                "run.id",
                "item",
                "index",
                "error.message",
                "step.attempt",
                "secrets.token",
                "true",
                "null",
                "[]",
                "{}",
                "b'x'",
                "1u",
                "-0.0",
                "9223372036854775807",
                "success()",
                "failure()",
            ][..]
        )
        .prop_map(str::to_string),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        "[a-z {}}'\"\\\\$]{0,8}".prop_map(|s| format!("{s:?}")),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                proptest::sample::select(
                    &[
                        "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
                        "in",
                    ][..]
                ),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            (
                proptest::sample::select(
                    &[
                        "size",
                        "string",
                        "int",
                        "double",
                        "uint",
                        "bool",
                        "type",
                        "toJSON",
                        "fromJSON",
                        "lowerAscii",
                        "has",
                        "dyn",
                        "bytes",
                    ][..]
                ),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{{k}: {v}}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, i)| format!("{a}[{i}]")),
            (
                inner.clone(),
                proptest::sample::select(&["map", "filter", "all", "exists", "exists_one"][..]),
                inner.clone()
            )
                .prop_map(|(l, m, b)| format!("{l}.{m}(x, {b})")),
            (inner.clone(), inner)
                .prop_map(|(a, b)| format!("{a}.split({b}).join(',').contains('a')")),
        ]
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// A mutated repository file never panics the loader, the validator or
    /// the diagnostic renderer.
    #[test]
    fn mutated_files_validate_without_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let seeds = seeds();
        let bytes = mutate(&seeds[seed.index(seeds.len())], &edits);
        orch::fuzz::workflow(&bytes);
        orch::fuzz::config(&bytes);
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// A generated expression compiles and evaluates (or fails) without a
    /// panic, and the `${{ }}` splitter finds exactly it inside a template.
    #[test]
    fn generated_expressions_evaluate_and_split(e in cel()) {
        orch::fuzz::expr(&e);
        let t = format!("a ${{{{ {e} }}}} b");
        prop_assert_eq!(orch::fuzz::template(&t), Some(1), "{}", t);
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Arbitrary text through the splitter and the ORCH_OUTPUT parser: their
    /// invariants (pieces rebuild the value, keys are valid) hold.
    #[test]
    fn text_splits_and_parses_without_panic(
        parts in prop::collection::vec(
            prop_oneof![
                proptest::sample::select(&[
                    "${{", "}}", "{", "}", "'", "\"", "\\", "=", "<<", "\n", "\r\n", "EOF", "a",
                    " ", "é", "$", "${", "'''", "r'",
                ][..]).prop_map(str::to_string),
                any::<String>(),
            ],
            0..24,
        ),
    ) {
        let text = parts.concat();
        orch::fuzz::template(&text);
        orch::fuzz::output_file(&text);
        orch::fuzz::expr(&text);
    }

    /// Outputs written as `key=value` lines and `key<<DELIM` blocks read back
    /// as written, a later write of a key winning.
    #[test]
    fn output_file_reads_back_what_was_written(
        outputs in prop::collection::vec(
            ("[a-z][a-z0-9_]{0,6}", "[^\r\n]{0,12}", prop::collection::vec("[^\r\n]{0,12}", 0..4), any::<bool>()),
            0..8,
        ),
    ) {
        let mut file = String::new();
        let mut want: Vec<(String, String)> = Vec::new();
        for (k, v, lines, heredoc) in &outputs {
            let value = if *heredoc {
                let delim = "ORCH_DELIM_7f3a";
                file.push_str(&format!("{k}<<{delim}\n"));
                for l in lines {
                    file.push_str(l);
                    file.push('\n');
                }
                file.push_str(delim);
                file.push('\n');
                lines.join("\n")
            } else {
                file.push_str(&format!("{k}={v}\n"));
                v.clone()
            };
            want.retain(|(w, _)| w != k);
            want.push((k.clone(), value));
        }
        prop_assert_eq!(orch::fuzz::output_file(&file), Some(want.len()), "{:?}", file);
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Dotenv syntax and arbitrary text through the loader and the dotenv
    /// parser: no panic; names non-empty and unique; a diagnostic inside
    /// the file.
    #[test]
    fn dotenv_files_parse_without_panic(
        parts in prop::collection::vec(
            prop_oneof![
                proptest::sample::select(&[
                    "=", "\"", "'", "\\", "#", " ", "\t", "\n", "\r\n", "\r", "export ",
                    "${", "}", "$", "A", "B_1", "é", "\\n", "\\\"", "`", "\u{feff}", "\0",
                ][..]).prop_map(str::to_string),
                any::<String>(),
            ],
            0..24,
        ),
    ) {
        orch::fuzz::dotenv(parts.concat().as_bytes());
    }

    /// `KEY=value` lines (bare, double- or single-quoted, with or without
    /// `export `) read back as written, a later line of a name winning.
    #[test]
    fn dotenv_reads_back_what_was_written(
        vars in prop::collection::vec(
            ("[A-Z_][A-Z0-9_]{0,6}", "[a-zA-Z0-9._/:@-]{0,12}", "[a-zA-Z0-9 ._/:@#-]{0,12}", 0u8..3, any::<bool>()),
            0..8,
        ),
    ) {
        let mut file = String::new();
        let mut want: Vec<(String, String)> = Vec::new();
        for (k, bare, spaced, quoting, export) in &vars {
            if *export {
                file.push_str("export ");
            }
            let value = match quoting {
                0 => {
                    file.push_str(&format!("{k}={bare} # a comment\n"));
                    bare.clone()
                }
                1 => {
                    file.push_str(&format!("{k}=\"{spaced}\"\n"));
                    spaced.clone()
                }
                _ => {
                    file.push_str(&format!("{k}='{spaced}'\n"));
                    spaced.clone()
                }
            };
            want.retain(|(w, _)| w != k);
            want.push((k.clone(), value));
        }
        prop_assert_eq!(orch::fuzz::dotenv(file.as_bytes()), Some(want), "{:?}", file);
    }
}

/// Every file under tests/fixtures/fuzz/<target>/ (crash reproducers found
/// by fuzzing) through the entry point it is named for.
fn replay(dir: &str) -> usize {
    let root = repo_root().join(dir);
    assert!(root.is_dir(), "{} is missing", root.display());
    let mut n = 0;
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            eprintln!("replaying {}", f.display());
            assert!(orch::fuzz::run_target(target, &bytes));
            n += 1;
        }
    }
    n
}

#[test]
fn fuzz_crash_reproducers_replay_without_panic() {
    let n = replay("tests/fixtures/fuzz");
    // A long key (miette's column overflow) and long operator chains (the
    // stack of the expression compiler, evaluator and validator).
    assert!(n >= 4, "only {n} reproducers under tests/fixtures/fuzz");
}

#[test]
fn unknown_fuzz_target_is_refused() {
    assert!(!orch::fuzz::run_target("nope", b""));
    for t in TARGETS {
        assert!(orch::fuzz::run_target(t, b"steps: {}"));
    }
}
