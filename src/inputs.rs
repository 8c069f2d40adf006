//! Inputs from `-i key=value` and `--input-file`, checked against the
//! workflow's declarations before anything runs.

use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::diag::{did_you_mean, Diag};
use crate::model::{InputType, Workflow};

/// Resolve every declared input: given values (type-checked), then defaults.
/// All problems are reported together.
pub(crate) fn resolve(
    wf: &Workflow,
    pairs: &[String],
    file: Option<&Path>,
) -> Result<Json, Vec<Diag>> {
    let mut errors = Vec::new();
    let mut given: Vec<(String, Json, &'static str)> = Vec::new();
    // Given but unusable: reported once, not again as missing.
    let mut invalid: Vec<String> = Vec::new();
    if let Some(path) = file {
        // An input file that cannot be used is the one problem to report:
        // the inputs it would have given are not missing, just unread.
        match read_file(path) {
            Ok(Json::Object(m)) => given.extend(m.into_iter().map(|(k, v)| (k, v, "--input-file"))),
            Ok(_) => {
                return Err(vec![Diag::new(
                    "input",
                    format!("{} must hold an object of inputs", path.display()),
                )])
            }
            Err(d) => return Err(vec![d]),
        }
    }
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            errors.push(
                Diag::new("input", format!("`-i {p}` is not key=value")).help("e.g. -i env=prod"),
            );
            continue;
        };
        let k = k.trim();
        match wf.inputs.iter().find(|d| d.name == k) {
            Some(decl) => match parse_cli_value(decl.ty, v) {
                Ok(j) => given.push((k.to_string(), j, "-i")),
                Err(e) => {
                    errors.push(Diag::new("input", format!("input `{k}`: {e}")));
                    invalid.push(k.to_string());
                }
            },
            None => given.push((k.to_string(), Json::String(v.to_string()), "-i")),
        }
    }
    check(wf, given, errors, invalid)
}

/// The inputs a run was recorded with, checked again against the workflow
/// as it is now (for `orch resume`); newly declared inputs get defaults.
pub(crate) fn recheck(wf: &Workflow, stored: &Json) -> Result<Json, Vec<Diag>> {
    let given = stored
        .as_object()
        .map(|m| {
            m.iter()
                // Nulls are unset optional inputs: let defaults apply again.
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone(), "the recorded run"))
                .collect()
        })
        .unwrap_or_default();
    check(wf, given, Vec::new(), Vec::new())
}

fn check(
    wf: &Workflow,
    given: Vec<(String, Json, &'static str)>,
    mut errors: Vec<Diag>,
    mut invalid: Vec<String>,
) -> Result<Json, Vec<Diag>> {
    let mut out = Map::new();
    for (k, v, from) in given {
        let Some(decl) = wf.inputs.iter().find(|d| d.name == k) else {
            let hint = did_you_mean(&k, wf.inputs.iter().map(|d| d.name.as_str()));
            let d = Diag::new("input", format!("unknown input `{k}` (from {from})"));
            errors.push(match hint {
                Some(h) => d.help(format!("did you mean `{h}`?")),
                None if wf.inputs.is_empty() => {
                    d.help(format!("workflow `{}` declares no inputs", wf.name))
                }
                None => d.help(format!(
                    "declared inputs: {}",
                    wf.inputs
                        .iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            });
            continue;
        };
        if let Err(e) = crate::validate::check_type(decl.ty, &v) {
            errors.push(Diag::new("input", format!("input `{k}`: {e}")));
            invalid.push(k);
            continue;
        }
        out.insert(k, v);
    }
    for decl in &wf.inputs {
        if !out.contains_key(&decl.name) && !invalid.contains(&decl.name) {
            match &decl.default {
                Some(d) => {
                    out.insert(decl.name.clone(), d.clone());
                }
                None if decl.required => errors.push(
                    Diag::new("input", format!("input `{}` is required", decl.name))
                        .help(format!("pass it with -i {}=…", decl.name)),
                ),
                None => {
                    out.insert(decl.name.clone(), Json::Null);
                }
            }
        }
        if let (Some(choices), Some(v)) = (&decl.choices, out.get(&decl.name)) {
            if !v.is_null() && !choices.contains(v) {
                let list: Vec<String> = choices.iter().map(crate::expr::eval::to_text).collect();
                errors.push(Diag::new(
                    "input",
                    format!(
                        "input `{}` must be one of: {} (got {})",
                        decl.name,
                        list.join(", "),
                        crate::expr::eval::to_text(v)
                    ),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(Json::Object(out))
    } else {
        Err(errors)
    }
}

fn read_file(path: &Path) -> Result<Json, Diag> {
    let src = crate::load::read_source(path)?;
    if let Ok(j) = serde_json::from_str::<Json>(&src.text) {
        return Ok(j);
    }
    let y = crate::load::yaml::parse(&src)?;
    Ok(y.to_json())
}

/// A command-line value for a declared type: `-i n=3`, `-i flag=true`,
/// `-i regions=eu,us` or `-i regions='["eu","us"]'`, `-i cfg='{"a":1}'`.
pub(crate) fn parse_cli_value(ty: InputType, v: &str) -> Result<Json, String> {
    match ty {
        InputType::String => Ok(Json::String(v.to_string())),
        InputType::Number => {
            if let Ok(i) = v.trim().parse::<i64>() {
                return Ok(Json::from(i));
            }
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number)
                .ok_or_else(|| format!("expected a number, got `{v}`"))
        }
        InputType::Boolean => match v.trim() {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            _ => Err(format!("expected true or false, got `{v}`")),
        },
        InputType::List => {
            let t = v.trim();
            if t.starts_with('[') {
                serde_json::from_str::<Json>(t)
                    .ok()
                    .filter(Json::is_array)
                    .ok_or_else(|| format!("expected a JSON list, got `{v}`"))
            } else if t.is_empty() {
                Ok(Json::Array(vec![]))
            } else {
                Ok(Json::Array(
                    t.split(',')
                        .map(|s| Json::String(s.trim().to_string()))
                        .collect(),
                ))
            }
        }
        InputType::Object => serde_json::from_str::<Json>(v.trim())
            .ok()
            .filter(Json::is_object)
            .ok_or_else(|| format!("expected a JSON object, got `{v}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cli_values_by_type() {
        assert_eq!(parse_cli_value(InputType::Number, "42").unwrap(), json!(42));
        assert_eq!(
            parse_cli_value(InputType::Number, "1.5").unwrap(),
            json!(1.5)
        );
        assert!(parse_cli_value(InputType::Number, "x").is_err());
        assert_eq!(
            parse_cli_value(InputType::Boolean, "true").unwrap(),
            json!(true)
        );
        assert!(parse_cli_value(InputType::Boolean, "yes").is_err());
        assert_eq!(
            parse_cli_value(InputType::List, "eu, us").unwrap(),
            json!(["eu", "us"])
        );
        assert_eq!(
            parse_cli_value(InputType::List, "[1,2]").unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            parse_cli_value(InputType::Object, "{\"a\":1}").unwrap(),
            json!({"a": 1})
        );
        assert!(parse_cli_value(InputType::Object, "[1]").is_err());
    }
}
