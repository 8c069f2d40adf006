//! Step cache fingerprints (SPEC §1.5): SHA-256 over the workflow name, the
//! step id, the resolved definition, the resolved environment, `key`, and
//! the contents of every file matched by `sources`. Each part is hashed on
//! its own and kept, so a miss can say which part changed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::digest::{sha256_file, sha256_hex};

/// The hashed parts of a fingerprint. Values are never stored in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Parts {
    pub(crate) definition: String,
    pub(crate) env: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    /// Path (relative to the workflow file) → SHA-256 of its contents.
    #[serde(default)]
    pub(crate) sources: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Fingerprint {
    pub(crate) digest: String,
    pub(crate) parts: Parts,
}

pub(crate) fn compute(
    workflow: &str,
    step_id: &str,
    resolved: &Json,
    env: &[(String, String)],
    key: Option<&str>,
    sources: BTreeMap<String, String>,
) -> Fingerprint {
    // Sorted, so that env order in the file does not matter.
    let env: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let parts = Parts {
        definition: sha256_hex(resolved.to_string().as_bytes()),
        env: sha256_hex(serde_json::to_string(&env).unwrap_or_default().as_bytes()),
        key: key.map(|k| sha256_hex(k.as_bytes())),
        sources,
    };
    let all = serde_json::json!({
        "workflow": workflow,
        "step": step_id,
        "parts": &parts,
    });
    Fingerprint {
        digest: sha256_hex(all.to_string().as_bytes()),
        parts,
    }
}

/// Hash every file matched by `globs`, relative to `base` (the workflow
/// file's directory). A pattern that matches nothing is an error: a typo
/// there would otherwise make the cache ignore the files it was meant for.
pub(crate) fn hash_sources(
    base: &Path,
    globs: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for g in globs {
        let pattern = base.join(g);
        let pattern = pattern.to_string_lossy();
        let paths = glob::glob(&pattern)
            .map_err(|e| format!("cache source `{g}` is not a valid glob: {e}"))?;
        let mut matched = false;
        for entry in paths {
            let path = entry.map_err(|e| format!("cache source `{g}`: {e}"))?;
            if !path.is_file() {
                continue;
            }
            matched = true;
            let hash =
                sha256_file(&path).map_err(|e| format!("cache source {}: {e}", path.display()))?;
            let rel = path.strip_prefix(base).unwrap_or(&path);
            out.insert(rel.to_string_lossy().into_owned(), hash);
        }
        if !matched {
            // Say where it looked: sources are relative to the workflow
            // file, not to where orch was started.
            let dir = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
            return Err(format!(
                "cache source `{g}` matches no file in {} (sources are relative to the workflow file's directory)",
                dir.display()
            ));
        }
    }
    Ok(out)
}

/// Why `new` misses an entry made from `old`, in a few words.
pub(crate) fn explain(old: &Parts, new: &Parts) -> String {
    for (path, hash) in &new.sources {
        match old.sources.get(path) {
            None => return format!("source {path} is new"),
            Some(h) if h != hash => return format!("source {path} changed"),
            _ => {}
        }
    }
    if let Some(path) = old.sources.keys().find(|p| !new.sources.contains_key(*p)) {
        return format!("source {path} is gone");
    }
    if old.key != new.key {
        return "key changed".into();
    }
    if old.definition != new.definition {
        return "definition changed".into();
    }
    if old.env != new.env {
        return "environment changed".into();
    }
    "fingerprint changed".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fp(def: &Json, env: &[(&str, &str)], key: Option<&str>) -> Fingerprint {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        compute("w", "s", def, &env, key, BTreeMap::new())
    }

    #[test]
    fn stable_and_sensitive() {
        let a = fp(&json!({"script": "make"}), &[("A", "1"), ("B", "2")], None);
        let b = fp(&json!({"script": "make"}), &[("B", "2"), ("A", "1")], None);
        assert_eq!(a.digest, b.digest, "env order must not matter");
        let c = fp(
            &json!({"script": "make all"}),
            &[("A", "1"), ("B", "2")],
            None,
        );
        assert_ne!(a.digest, c.digest);
        assert_eq!(explain(&a.parts, &c.parts), "definition changed");
        let d = fp(&json!({"script": "make"}), &[("A", "2"), ("B", "2")], None);
        assert_eq!(explain(&a.parts, &d.parts), "environment changed");
        let e = fp(
            &json!({"script": "make"}),
            &[("A", "1"), ("B", "2")],
            Some("v2"),
        );
        assert_eq!(explain(&a.parts, &e.parts), "key changed");
        assert_eq!(a.digest.len(), 64);
    }

    #[test]
    fn values_are_not_stored_in_clear() {
        let a = fp(
            &json!({"script": "echo hunter2"}),
            &[("PASS", "hunter2")],
            Some("hunter2"),
        );
        let text = serde_json::to_string(&a.parts).unwrap();
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn sources_are_hashed_and_explained() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.rs"), "fn a() {}").unwrap();
        std::fs::write(dir.path().join("src/b.rs"), "fn b() {}").unwrap();
        let globs = vec!["src/*.rs".to_string()];
        let one = hash_sources(dir.path(), &globs).unwrap();
        assert_eq!(one.len(), 2);
        std::fs::write(dir.path().join("src/b.rs"), "fn b() { 1 }").unwrap();
        let two = hash_sources(dir.path(), &globs).unwrap();
        let p = |s| Parts {
            definition: "d".into(),
            env: "e".into(),
            key: None,
            sources: s,
        };
        assert_eq!(
            explain(&p(one.clone()), &p(two.clone())),
            "source src/b.rs changed"
        );
        std::fs::remove_file(dir.path().join("src/a.rs")).unwrap();
        let three = hash_sources(dir.path(), &globs).unwrap();
        assert_eq!(explain(&p(two), &p(three)), "source src/a.rs is gone");
        let err = hash_sources(dir.path(), &["nothing/*.c".to_string()]).unwrap_err();
        assert!(err.contains("matches no file"), "{err}");
        let dir = std::path::absolute(dir.path()).unwrap();
        assert!(err.contains(&format!("in {} (", dir.display())), "{err}");
    }
}
