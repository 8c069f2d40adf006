//! Help for what users of other tools write: a Dagu or go-task key gets
//! orch's name for it, and a common wrong shape gets an example of the
//! right one. Kept apart from the key tables, which say what orch reads.

use crate::load::yaml::Yaml;

/// `(their key, orch's key, whose key it is, what else to know)`.
const ALIASES: &[(&str, &str, &str, &str)] = &[
    ("command", "run", "Dagu", ""),
    ("script", "run", "Dagu", ""),
    ("cmd", "run", "go-task", ""),
    (
        "cmds",
        "run",
        "go-task",
        "; several commands go in one `run: |` block, one per line",
    ),
    ("depends", "needs", "Dagu", ""),
    ("deps", "needs", "go-task", ""),
    ("dependencies", "needs", "other tools", ""),
    (
        "retryPolicy",
        "retry",
        "Dagu",
        "; e.g. `retry: {max_attempts: 3, delay: 10s}`",
    ),
    ("dir", "working_dir", "Dagu and go-task", ""),
    ("workingDir", "working_dir", "Dagu", ""),
    (
        "preconditions",
        "if",
        "Dagu",
        "; a condition is an expression, e.g. `if: ${{ inputs.env == 'prod' }}`",
    ),
    ("precondition", "if", "Dagu", ""),
    ("continueOn", "continue_on_error", "Dagu", ""),
    ("timeoutSec", "timeout", "Dagu", "; e.g. `timeout: 30s`"),
    ("desc", "description", "go-task", ""),
    ("params", "inputs", "Dagu", ""),
    ("tasks", "steps", "go-task", ""),
];

/// The help for an unknown `key` that another tool uses for one of
/// `allowed`.
pub(crate) fn alias(key: &str, allowed: &[&str]) -> Option<String> {
    ALIASES
        .iter()
        .find(|(k, to, _, _)| *k == key && allowed.contains(to))
        .map(|(_, to, who, more)| {
            let s = if who.contains(" and ") || who.ends_with('s') {
                ""
            } else {
                "s"
            };
            format!("did you mean `{to}`? (`{key}` is what {who} call{s} it){more}")
        })
}

/// An example of the right form for `what` when `y` has a common wrong one.
pub(crate) fn example(what: &str, y: &Yaml) -> Option<String> {
    match what {
        "retry" if y.as_scalar().is_some() && !y.is_null() => {
            let n = y.as_i64().filter(|n| *n > 0).unwrap_or(3);
            Some(format!(
                "`retry` is a mapping: write `retry: {{max_attempts: {n}}}` (with `delay:`, `delay_strategy:` if needed)"
            ))
        }
        "run" if y.as_seq().is_some() => {
            let lines: Vec<&str> = y
                .as_seq()
                .unwrap_or_default()
                .iter()
                .filter_map(Yaml::as_str)
                .collect();
            let body = if lines.is_empty() {
                "  first-command\n  second-command".to_string()
            } else {
                lines
                    .iter()
                    .map(|l| format!("  {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Some(format!(
                "`run` is one script; write the commands as a block, one per line:\nrun: |\n{body}"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_name_orchs_key_only_where_it_is_allowed() {
        let step = ["id", "run", "needs", "retry"];
        let help = alias("command", &step).unwrap_or_default();
        assert!(help.starts_with("did you mean `run`?"), "{help}");
        assert!(alias("deps", &step).is_some_and(|h| h.contains("`needs`")));
        assert!(alias("retryPolicy", &step).is_some_and(|h| h.contains("max_attempts")));
        // `steps` is not a step key: no hint that names it.
        assert_eq!(alias("tasks", &step), None);
        assert_eq!(alias("nothing", &step), None);
    }
}
