//! Commands without shell syntax skip the shell: a one-line script of
//! plain words is executed directly, as `make` does, saving a shell start
//! per step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Shell builtins that have no program of the same name, or whose program
/// would act differently outside a shell: these always go through the shell.
const SHELL_ONLY: &[&str] = &[
    ".",
    ":",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "cd",
    "command",
    "compgen",
    "complete",
    "continue",
    "declare",
    "dirs",
    "disown",
    "enable",
    "eval",
    "exec",
    "exit",
    "export",
    "fc",
    "fg",
    "getopts",
    "hash",
    "help",
    "history",
    "jobs",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "pushd",
    "read",
    "readarray",
    "readonly",
    "return",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "times",
    "trap",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
    "if",
    "then",
    "else",
    "fi",
    "for",
    "while",
    "until",
    "do",
    "done",
    "case",
    "esac",
    "function",
    "select",
    "time",
];

/// A one-line script made only of plain words (no quoting, expansion,
/// redirection or operators) runs without a shell, as `make` does.
pub(crate) fn direct_argv(script: &str) -> Option<Vec<&str>> {
    let s = script.trim();
    if s.is_empty() || s.contains('\n') {
        return None;
    }
    let plain =
        |c: char| c.is_ascii_alphanumeric() || "_./:=,+@%-".contains(c) || c == ' ' || c == '\t';
    if !s.chars().all(plain) {
        return None;
    }
    let argv: Vec<&str> = s.split_ascii_whitespace().collect();
    let first = argv.first()?;
    if first.contains('=') || SHELL_ONLY.contains(first) {
        return None;
    }
    Some(argv)
}

/// `cmd` looked up on `path` like execvp, cached per (PATH, cmd).
pub(super) fn which(cmd: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if cmd.contains('/') {
        return Some(PathBuf::from(cmd));
    }
    type Cache = Mutex<HashMap<(String, String), Option<PathBuf>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (path.to_string(), cmd.to_string());
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return hit;
    }
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(cmd))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        });
    if let Ok(mut c) = cache.lock() {
        c.insert(key, found.clone());
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_only_for_plain_words() {
        assert_eq!(direct_argv("true"), Some(vec!["true"]));
        assert_eq!(
            direct_argv("/bin/echo a b"),
            Some(vec!["/bin/echo", "a", "b"])
        );
        assert_eq!(direct_argv("echo $HOME"), None);
        assert_eq!(direct_argv("echo a > f"), None);
        assert_eq!(direct_argv("cd /tmp"), None);
        assert_eq!(direct_argv("exit 3"), None);
        assert_eq!(direct_argv("A=1 env"), None);
        assert_eq!(direct_argv("echo 'q'"), None);
        assert_eq!(direct_argv("a\nb"), None);
        assert_eq!(direct_argv("echo *"), None);
    }
}
