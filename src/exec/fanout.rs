//! The items of a `for_each` or `matrix` step, and how each is shown:
//! `test (linux, 20)`. A matrix is expanded as GitHub Actions'
//! `strategy.matrix`: the cross product (first axis outermost), minus
//! `exclude`, plus `include`.

use serde_json::Value as Json;

use crate::expr::eval::resolve;
use crate::expr::Scope;
use crate::mask::Masker;
use crate::model::{FanOut, Matrix, Val};
use crate::plan::matrix::{expand, Combo};

/// How many characters of values a label shows before it is cut.
const LABEL_MAX: usize = 60;

/// A step's items, each with its label.
#[derive(Debug, Default)]
pub(crate) struct Fanned {
    pub(crate) values: Vec<Json>,
    pub(crate) labels: Vec<String>,
}

/// Evaluate `for_each`/`matrix` of step `id`; the error is the step's.
/// Labels are masked with `masker` before they are cut (see [`label`]).
pub(crate) fn resolve_items(
    id: &str,
    f: &FanOut,
    scope: &Scope<'_>,
    masker: &Masker,
) -> Result<Fanned, String> {
    match f {
        FanOut::List(v) => match resolve(v, scope) {
            Ok(Json::Array(values)) => Ok(Fanned {
                labels: values
                    .iter()
                    .map(|v| label(id, &parts_of(v), masker))
                    .collect(),
                values,
            }),
            Ok(other) => Err(format!(
                "for_each must give a list, got {}",
                crate::validate::json_kind_of(&other)
            )),
            Err(e) => Err(format!("for_each: {}", e.message)),
        },
        FanOut::Matrix(m) => {
            let combos = matrix(m, scope).map_err(|e| format!("matrix: {e}"))?;
            Ok(Fanned {
                labels: combos
                    .iter()
                    .map(|c| {
                        let parts: Vec<&Json> = c.iter().map(|(_, v)| v).collect();
                        label(id, &parts, masker)
                    })
                    .collect(),
                values: combos
                    .into_iter()
                    .map(|c| Json::Object(c.into_iter().collect()))
                    .collect(),
            })
        }
    }
}

fn matrix(m: &Matrix, scope: &Scope<'_>) -> Result<Vec<Combo>, String> {
    let mut axes = Vec::new();
    for (name, v) in &m.axes {
        match resolve(v, scope) {
            Ok(Json::Array(values)) if values.is_empty() => {
                return Err(format!("axis `{name}` is an empty list"))
            }
            Ok(Json::Array(values)) => axes.push((name.clone(), values)),
            Ok(other) => {
                return Err(format!(
                    "axis `{name}` must give a list, got {}",
                    crate::validate::json_kind_of(&other)
                ))
            }
            Err(e) => return Err(format!("axis `{name}`: {}", e.message)),
        }
    }
    let entries = |list: &[Vec<(String, Val)>]| -> Result<Vec<Combo>, String> {
        list.iter()
            .map(|entry| {
                entry
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), resolve(v, scope).map_err(|e| e.message)?)))
                    .collect()
            })
            .collect()
    };
    Ok(expand(&axes, &entries(&m.include)?, &entries(&m.exclude)?))
}

/// The values an item is shown by: a list's elements, a mapping's values
/// in key order, or the value itself.
fn parts_of(v: &Json) -> Vec<&Json> {
    match v {
        Json::Array(l) => l.iter().collect(),
        Json::Object(m) => m.values().collect(),
        other => vec![other],
    }
}

/// `id (v1, v2, …)`, the values cut at [`LABEL_MAX`] characters. Secrets
/// are masked first: a secret cut in two is no longer one the masker in
/// front of the sinks can find, and its beginning would be shown.
pub(crate) fn label(id: &str, parts: &[&Json], masker: &Masker) -> String {
    let text = parts
        .iter()
        .map(|v| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let text = masker.mask_str(&text);
    // One line, whatever the values hold.
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = if text.chars().count() > LABEL_MAX {
        let cut: String = text.chars().take(LABEL_MAX - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        text
    };
    format!("{id} ({text})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::matrix::fixtures::{axis, entry, shown};
    use serde_json::json;

    #[test]
    fn the_first_axis_is_outermost() {
        let cs = expand(
            &[
                axis("os", json!(["linux", "mac"])),
                axis("node", json!([18, 20])),
            ],
            &[],
            &[],
        );
        let labels: Vec<String> = cs
            .iter()
            .map(|c| {
                label(
                    "t",
                    &c.iter().map(|(_, v)| v).collect::<Vec<_>>(),
                    &Masker::new(),
                )
            })
            .collect();
        assert_eq!(
            labels,
            [
                "t (linux, 18)",
                "t (linux, 20)",
                "t (mac, 18)",
                "t (mac, 20)"
            ]
        );
    }

    #[test]
    fn include_extends_matches_or_adds_a_combination() {
        let axes = [
            axis("fruit", json!(["apple", "pear"])),
            axis("animal", json!(["cat", "dog"])),
        ];
        let cs = expand(
            &axes,
            &[
                entry(json!({"color": "green"})),
                entry(json!({"color": "pink", "animal": "cat"})),
                entry(json!({"fruit": "apple", "shape": "circle"})),
                entry(json!({"fruit": "banana"})),
                entry(json!({"fruit": "banana", "animal": "cat"})),
            ],
            &[],
        );
        // GitHub Actions' documented example.
        assert_eq!(
            shown(&cs),
            [
                json!({"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"}),
                json!({"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"}),
                json!({"fruit": "pear", "animal": "cat", "color": "pink"}),
                json!({"fruit": "pear", "animal": "dog", "color": "green"}),
                json!({"fruit": "banana"}),
                json!({"fruit": "banana", "animal": "cat"}),
            ]
        );
        // Added keys are shown after the axes, in the order they came.
        assert_eq!(
            label(
                "t",
                &cs[0].iter().map(|(_, v)| v).collect::<Vec<_>>(),
                &Masker::new()
            ),
            "t (apple, cat, pink, circle)"
        );
    }

    #[test]
    fn labels_show_scalars_lists_and_maps_cut_to_one_short_line() {
        let m = Masker::new();
        assert_eq!(label("deploy", &parts_of(&json!("eu")), &m), "deploy (eu)");
        assert_eq!(
            label("d", &parts_of(&json!([1, true, null])), &m),
            "d (1, true, null)"
        );
        assert_eq!(
            label("d", &parts_of(&json!({"b": 2, "a": "x\ny"})), &m),
            "d (x y, 2)"
        );
        let long = label("d", &parts_of(&json!("x".repeat(200))), &m);
        assert_eq!(long.chars().count(), "d ()".len() + LABEL_MAX);
        assert!(long.ends_with("…)"));
    }

    #[test]
    fn a_secret_is_masked_before_the_label_is_cut() {
        let secret = format!("S3cret-{}", "k".repeat(80));
        let m = Masker::new();
        assert!(m.add(&secret));
        let pad = json!("a value that takes up most of the room a label has");
        let shown = label("d", &[&pad, &json!(secret)], &m);
        assert_eq!(
            shown,
            "d (a value that takes up most of the room a label has, ***)"
        );
        assert!(!shown.contains("S3cret"), "{shown}");
        assert_eq!(label("d", &parts_of(&json!(secret)), &m), "d (***)");
    }
}
