//! Kubernetes names: task, template and parameter names made DNS-1123 safe
//! (`build_image` → `build-image`), and two steps that would get the same
//! name refused rather than merged.

use std::collections::HashMap;

/// Templates orch adds itself; a step may not take these names.
pub(crate) const RESERVED: [&str; 2] = ["orch-main", "orch-exit"];

/// A DNS-1123 label: lower-case letters, digits and `-`, starting and
/// ending with a letter or digit, at most 63 characters.
pub(crate) fn dns_label(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let mut s = s.trim_matches('-').to_string();
    if s.len() > 63 {
        s.truncate(63);
        s = s.trim_end_matches('-').to_string();
    }
    if s.is_empty() {
        s.push('x');
    }
    s
}

/// Names given so far, to refuse a second step mapping to the same one.
#[derive(Default)]
pub(crate) struct Names {
    taken: HashMap<String, String>,
}

impl Names {
    pub(crate) fn new() -> Names {
        let mut n = Names::default();
        for r in RESERVED {
            n.taken
                .insert(r.to_string(), format!("orch's own `{r}` template"));
        }
        n
    }

    /// The name for `what` (a step id, maybe prefixed), or who has it already.
    pub(crate) fn claim(&mut self, raw: &str, what: &str) -> Result<String, String> {
        let name = dns_label(raw);
        match self.taken.get(&name) {
            Some(other) => Err(other.clone()),
            None => {
                self.taken.insert(name.clone(), what.to_string());
                Ok(name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_dns_safe() {
        assert_eq!(dns_label("build_image"), "build-image");
        assert_eq!(dns_label("_Build__Image-"), "build-image");
        assert_eq!(dns_label(&"a".repeat(70)).len(), 63);
        assert_eq!(dns_label("___"), "x");
    }

    #[test]
    fn collisions_are_refused() {
        let mut n = Names::new();
        assert_eq!(
            n.claim("build_image", "step `build_image`").unwrap(),
            "build-image"
        );
        assert_eq!(
            n.claim("build-image", "step `build-image`").unwrap_err(),
            "step `build_image`"
        );
        assert!(n.claim("orch_main", "step `orch_main`").is_err());
    }
}
