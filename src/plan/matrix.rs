//! A `matrix:` expanded into its combinations, as GitHub Actions'
//! `strategy.matrix`: the cross product (first axis outermost), minus
//! `exclude`, plus `include`. Pure: the engine expands a matrix when the
//! step starts, `orch export argo` when it writes the manifest.

use serde_json::Value as Json;

/// One matrix combination, keys in the order they are shown.
pub(crate) type Combo = Vec<(String, Json)>;

/// The combinations of `axes`, minus those matching an `exclude` entry on
/// all its keys, plus `include`: an entry that matches a combination on
/// every axis key it names extends it with its other keys (values that
/// `include` added may be overwritten, the axes' never are); an entry that
/// extends none is a combination of its own.
pub(crate) fn expand(
    axes: &[(String, Vec<Json>)],
    include: &[Combo],
    exclude: &[Combo],
) -> Vec<Combo> {
    let mut combos: Vec<Combo> = vec![Vec::new()];
    for (name, values) in axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((name.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    if axes.is_empty() {
        combos.clear();
    }
    let get = |c: &Combo, k: &str| c.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    combos.retain(|c| {
        !exclude
            .iter()
            .any(|e| e.iter().all(|(k, v)| get(c, k).as_ref() == Some(v)))
    });
    let is_axis = |k: &str| axes.iter().any(|(n, _)| n == k);
    let original = combos.len();
    for entry in include {
        let mut extended = false;
        for c in combos.iter_mut().take(original) {
            let fits = entry
                .iter()
                .filter(|(k, _)| is_axis(k))
                .all(|(k, v)| get(c, k).as_ref() == Some(v));
            if !fits {
                continue;
            }
            extended = true;
            for (k, v) in entry.iter().filter(|(k, _)| !is_axis(k)) {
                match c.iter_mut().find(|(n, _)| n == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => c.push((k.clone(), v.clone())),
                }
            }
        }
        if !extended {
            combos.push(entry.clone());
        }
    }
    combos
}

/// Matrices written as JSON, for tests here and in the engine.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::Combo;
    use serde_json::Value as Json;

    pub(crate) fn axis(name: &str, v: Json) -> (String, Vec<Json>) {
        (name.into(), v.as_array().cloned().unwrap_or_default())
    }

    pub(crate) fn entry(v: Json) -> Combo {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(crate) fn shown(cs: &[Combo]) -> Vec<Json> {
        cs.iter()
            .map(|c| Json::Object(c.iter().cloned().collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{axis, entry, shown};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_partial_exclude_removes_every_match() {
        let cs = expand(
            &[
                axis("os", json!(["linux", "mac"])),
                axis("node", json!([18, 20])),
                axis("arch", json!(["x64", "arm"])),
            ],
            &[],
            &[entry(json!({"os": "mac", "node": 18}))],
        );
        assert_eq!(cs.len(), 6);
        assert!(shown(&cs)
            .iter()
            .all(|c| !(c["os"] == "mac" && c["node"] == 18)));
    }

    #[test]
    fn an_include_matching_an_excluded_combination_adds_it_back() {
        let cs = expand(
            &[axis("os", json!(["linux", "mac"]))],
            &[entry(json!({"os": "mac", "xcode": 15}))],
            &[entry(json!({"os": "mac"}))],
        );
        assert_eq!(
            shown(&cs),
            [json!({"os": "linux"}), json!({"os": "mac", "xcode": 15})]
        );
    }
}
