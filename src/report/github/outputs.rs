//! `$GITHUB_OUTPUT` lines, as the Actions toolkit writes them: `name=value`,
//! or `name<<DELIM`, the value, `DELIM` for a value of several lines, with a
//! random delimiter the value does not contain.

use serde_json::Value as Json;

use crate::event::Outputs;

/// `ghadelimiter_` and 32 random hex digits, the toolkit's form.
pub(super) fn random_delimiter() -> String {
    format!(
        "ghadelimiter_{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

/// Every output in declaration order, strings as they are, other values as
/// JSON. Names the file format cannot carry (empty, or with `=`, `<`, CR,
/// LF) are left out.
pub(super) fn render(outputs: &Outputs, delimiter: &mut dyn FnMut() -> String) -> String {
    let mut text = String::new();
    for (name, value) in outputs.iter() {
        if name.is_empty() || name.contains(['=', '<', '\r', '\n']) {
            continue;
        }
        let value = match value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        if value.contains(['\r', '\n']) {
            let mut d = delimiter();
            while value.contains(&d) {
                d = delimiter();
            }
            text.push_str(&format!("{name}<<{d}\n{value}\n{d}\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_and_multi_line_values() {
        let mut n = 0;
        let mut d = || {
            n += 1;
            format!("D{n}")
        };
        let outputs: Outputs = [
            ("c", json!(3)),
            ("a", json!("x")),
            ("bad=", json!("y")),
            ("b", json!("one\nD1\ntwo")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let out = render(&outputs, &mut d);
        // `D1` is in the value: the next delimiter is used. Declaration
        // order, not sorted.
        assert_eq!(out, "c=3\na=x\nb<<D2\none\nD1\ntwo\nD2\n");
        assert!(random_delimiter().starts_with("ghadelimiter_"));
        assert_ne!(random_delimiter(), random_delimiter());
    }
}
