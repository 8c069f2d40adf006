//! `$GITHUB_OUTPUT` lines, as the Actions toolkit writes them: `name=value`,
//! or `name<<DELIM`, the value, `DELIM` for a value of several lines, with a
//! random delimiter the value does not contain.

use serde_json::Value as Json;

/// `ghadelimiter_` and 32 random hex digits, the toolkit's form.
pub(super) fn random_delimiter() -> String {
    format!(
        "ghadelimiter_{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

/// Every output of an object, strings as they are, other values as JSON.
/// Names the file format cannot carry (empty, or with `=`, `<`, CR, LF)
/// are left out.
pub(super) fn render(outputs: &Json, delimiter: &mut dyn FnMut() -> String) -> String {
    let Some(map) = outputs.as_object() else {
        return String::new();
    };
    let mut text = String::new();
    for (name, value) in map {
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

    #[test]
    fn single_and_multi_line_values() {
        let mut n = 0;
        let mut d = || {
            n += 1;
            format!("D{n}")
        };
        let out = render(
            &serde_json::json!({"a": "x", "b": "one\nD1\ntwo", "c": 3, "bad=": "y"}),
            &mut d,
        );
        // `D1` is in the value: the next delimiter is used.
        assert_eq!(out, "a=x\nb<<D2\none\nD1\ntwo\nD2\nc=3\n");
        assert!(random_delimiter().starts_with("ghadelimiter_"));
        assert_ne!(random_delimiter(), random_delimiter());
    }
}
