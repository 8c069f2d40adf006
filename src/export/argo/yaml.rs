//! A small YAML writer for the manifest: keys in the order they are built
//! (Kubernetes readers expect `apiVersion`, `kind`, `metadata`, `spec` first),
//! scripts as literal blocks, every other string double-quoted (JSON escapes
//! are valid YAML), so no value is ever read back as another type.

use std::fmt::Write;

/// A manifest value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub(crate) fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    pub(crate) fn int(i: u64) -> Node {
        Node::Num(i.into())
    }

    pub(crate) fn map() -> Node {
        Node::Map(Vec::new())
    }

    /// Add a key to a map (a no-op on anything else).
    pub(crate) fn set(&mut self, key: &str, value: Node) {
        if let Node::Map(m) = self {
            match m.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => m.push((key.to_string(), value)),
            }
        }
    }

    pub(crate) fn with(mut self, key: &str, value: Node) -> Node {
        self.set(key, value);
        self
    }

    pub(crate) fn from_json(j: &serde_json::Value) -> Node {
        match j {
            serde_json::Value::Null => Node::Null,
            serde_json::Value::Bool(b) => Node::Bool(*b),
            serde_json::Value::Number(n) => Node::Num(n.clone()),
            serde_json::Value::String(s) => Node::Str(s.clone()),
            serde_json::Value::Array(a) => Node::Seq(a.iter().map(Node::from_json).collect()),
            serde_json::Value::Object(o) => Node::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// The document: `comments` first (one `# ` line each), then the value.
pub(crate) fn write(comments: &[String], root: &Node) -> String {
    let mut out = String::new();
    for c in comments {
        for line in c.lines() {
            let _ = writeln!(out, "# {line}");
        }
    }
    match root {
        Node::Map(m) if !m.is_empty() => map_body(&mut out, m, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn map_body(out: &mut String, m: &[(String, Node)], level: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            indent(out, level);
        }
        out.push_str(&key(k));
        out.push(':');
        value_after_key(out, v, level);
    }
}

/// A value after `key:`, on the same line when scalar, below when not.
fn value_after_key(out: &mut String, v: &Node, level: usize) {
    match v {
        Node::Map(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, level + 2);
            map_body(out, m, level + 2);
        }
        Node::Seq(s) if !s.is_empty() => {
            out.push('\n');
            seq_body(out, s, level);
        }
        Node::Str(s) if block_ok(s) => {
            out.push(' ');
            block(out, s, level + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

fn seq_body(out: &mut String, s: &[Node], level: usize) {
    for v in s {
        indent(out, level);
        out.push_str("- ");
        match v {
            Node::Map(m) if !m.is_empty() => map_body(out, m, level + 2),
            Node::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                seq_body(out, inner, level + 2);
            }
            Node::Str(s) if block_ok(s) => block(out, s, level + 2),
            other => {
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

/// A literal block keeps a script readable; only for text YAML reads back
/// byte for byte (printable, no tabs or carriage returns, no trailing
/// spaces that an editor would strip).
fn block_ok(s: &str) -> bool {
    s.contains('\n')
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
        && !s.lines().any(|l| l.ends_with(' '))
        && !s.starts_with(['\n', ' '])
}

fn block(out: &mut String, s: &str, level: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let _ = writeln!(out, "|{chomp}");
    let body = if trailing >= 1 { &s[..s.len() - 1] } else { s };
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !k.starts_with(['-', '.'])
        && !is_special_word(k);
    if plain {
        k.to_string()
    } else {
        quote(k)
    }
}

fn is_special_word(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
    ) || s.parse::<f64>().is_ok()
}

fn inline(v: &Node) -> String {
    match v {
        Node::Null => "null".into(),
        Node::Bool(b) => b.to_string(),
        Node::Num(n) => n.to_string(),
        Node::Str(s) => quote(s),
        Node::Seq(s) if s.is_empty() => "[]".into(),
        Node::Map(m) if m.is_empty() => "{}".into(),
        Node::Seq(s) => format!("[{}]", s.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Node::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", key(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_maps_lists_blocks_and_quoted_scalars() {
        let doc = Node::map()
            .with("apiVersion", Node::str("argoproj.io/v1alpha1"))
            .with(
                "list",
                Node::Seq(vec![
                    Node::map()
                        .with("name", Node::str("a"))
                        .with("count", Node::int(1)),
                    Node::str("true"),
                ]),
            )
            .with("script", Node::str("echo hi\n  indented\n"))
            .with("empty", Node::map());
        let text = write(&["dropped: x".into()], &doc);
        assert_eq!(
            text,
            "# dropped: x\napiVersion: \"argoproj.io/v1alpha1\"\nlist:\n- name: \"a\"\n  count: 1\n- \"true\"\nscript: |\n  echo hi\n    indented\nempty: {}\n"
        );
    }

    #[test]
    fn block_chomping_and_leading_space() {
        assert!(!block_ok(" a\nb"), "a leading space is quoted instead");
        let mut out = String::new();
        block(&mut out, "a\nb", 2);
        assert_eq!(out, "|-\n  a\n  b\n");
        let mut out = String::new();
        block(&mut out, "a\n\n", 2);
        assert_eq!(out, "|+\n  a\n\n");
    }
}
