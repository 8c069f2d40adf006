//! The top level of a workflow file.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::diag::{did_you_mean, Diag};
use crate::load::yaml::{Yaml, YamlKind};
use crate::model::*;
use crate::source::Source;

use super::keys::{self, quoted_or};
use super::step::{self, StepDefaults};
use super::Ctx;

pub(crate) fn workflow(
    src: &Arc<Source>,
    y: &Yaml,
    config: &Config,
) -> Result<Workflow, Vec<Diag>> {
    let mut cx = Ctx::new(src);
    let Some(f) = cx.keys(y, &keys::WORKFLOW) else {
        return Err(cx.diags);
    };
    let name = match f.get("name") {
        Some(v) => {
            let n = cx.string(v, "name").unwrap_or_default();
            if !n.is_empty()
                && !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            {
                cx.push(
                    Diag::new("name", format!("invalid workflow name `{n}`"))
                        .label(v.span, "not a valid name")
                        .help("use letters, digits, `_`, `.` and `-`"),
                );
            }
            n
        }
        None => {
            cx.push(
                Diag::new("missing-key", "the workflow has no `name`")
                    .label(crate::source::Span::new(0, 1), "add `name:` at the top")
                    .help("e.g. `name: build`"),
            );
            String::new()
        }
    };
    let description = f
        .get("description")
        .and_then(|v| cx.string(v, "description"));
    let version = f.get("version").and_then(|v| cx.int(v, "version"));
    let inputs = f
        .get("inputs")
        .map(|v| inputs(&mut cx, v))
        .unwrap_or_default();
    let env = f
        .get("env")
        .map(|v| cx.val_map(v, "env"))
        .unwrap_or_default();
    let concurrency = f
        .get("concurrency")
        .and_then(|v| cx.count(v, "concurrency", 1))
        .map(|n| n as usize);
    let timeout = f.get("timeout").and_then(|v| cx.duration(v, "timeout"));

    let mut d_timeout = None;
    let mut d_retry = None;
    let mut d_shell = Shell::Sh;
    let mut d_wd = None;
    if let Some(d) = f.get("defaults") {
        if let Some(df) = cx.keys(d, &keys::DEFAULTS) {
            d_timeout = df.get("timeout").and_then(|v| cx.duration(v, "timeout"));
            d_retry = df.get("retry").and_then(|v| step::retry(&mut cx, v));
            if let Some(s) = df.get("shell") {
                match s.as_str() {
                    Some("sh") => d_shell = Shell::Sh,
                    Some("bash") => d_shell = Shell::Bash,
                    _ => cx.error(
                        "shell",
                        s.span,
                        format!("`shell` must be {}", quoted_or(keys::SHELLS)),
                        "unknown shell",
                    ),
                }
            }
            d_wd = df.get("working_dir").and_then(|v| cx.val(v, "working_dir"));
        }
    }
    let defaults = StepDefaults {
        timeout: d_timeout,
        retry: d_retry.as_ref(),
        shell: d_shell,
        working_dir: d_wd.as_ref(),
    };

    // Sized once: a Step is large, and a doubled Vec of 100,000 of them
    // would hold 20 MB for nothing all run long.
    let declared: usize = ["steps", "on_failure", "finally"]
        .iter()
        .filter_map(|k| f.get(k).and_then(Yaml::as_seq))
        .map(<[Yaml]>::len)
        .sum();
    let mut steps = Vec::with_capacity(declared);
    match f.get("steps") {
        Some(v) => match v.as_seq() {
            Some([]) => cx.error("steps", v.span, "`steps` is empty", "add at least one step"),
            Some(items) => steps.extend(
                items
                    .iter()
                    .filter_map(|s| step::step(&mut cx, s, Phase::Main, &defaults)),
            ),
            None => cx.expected(v, "steps", "a list of steps"),
        },
        None => cx.push(
            Diag::new("missing-key", "the workflow has no `steps`")
                .label(f.span, "add a `steps:` list")
                .help("e.g. `steps: [{ id: hello, run: echo hello }]`"),
        ),
    }
    for (key, phase) in [
        ("on_failure", Phase::OnFailure),
        ("finally", Phase::Finally),
    ] {
        if let Some(v) = f.get(key) {
            match v.as_seq() {
                Some(items) => steps.extend(
                    items
                        .iter()
                        .filter_map(|s| step::step(&mut cx, s, phase, &defaults)),
                ),
                None => cx.expected(v, key, "a list of steps"),
            }
        }
    }
    let outputs = f
        .get("outputs")
        .map(|v| cx.val_map(v, "outputs"))
        .unwrap_or_default();
    // Diagnostics inside the dotenv files come after the workflow's own
    // (their offsets are in other files).
    let (dotenv, dotenv_diags) = match f.get("dotenv") {
        Some(v) => {
            let names = cx.string_list(v, "dotenv");
            // `x.yaml` has the parent "": names stay as written (`.env`).
            let base = src.path.parent().unwrap_or(std::path::Path::new(""));
            match crate::load::dotenv::read(src, base, &names) {
                Ok(d) => (d, Vec::new()),
                Err(diags) => (Dotenv::default(), diags),
            }
        }
        None => (Dotenv::default(), Vec::new()),
    };

    let mut wf = Workflow {
        name,
        description,
        version,
        inputs,
        env,
        concurrency,
        timeout,
        steps,
        outputs,
        dotenv,
        source: src.clone(),
    };
    super::refs::check(&mut cx, &wf, config);
    if cx.diags.is_empty() && dotenv_diags.is_empty() {
        wf.mark_stdout_readers();
        Ok(wf)
    } else {
        // Report in file order, so a user fixes them top to bottom.
        cx.diags.sort_by_key(|d| {
            d.labels
                .first()
                .map(|l| l.span.offset)
                .unwrap_or(usize::MAX)
        });
        cx.diags.extend(dotenv_diags);
        Err(cx.diags)
    }
}

fn inputs(cx: &mut Ctx, y: &Yaml) -> Vec<InputDecl> {
    let Some(m) = y.as_map() else {
        cx.expected(y, "inputs", "a mapping of input names to declarations");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in m {
        if !super::is_name(&k.name) {
            cx.error(
                "input",
                k.span,
                format!("invalid input name `{}`", k.name),
                "not a valid name",
            );
            continue;
        }
        let Some(f) = cx.keys(v, &keys::INPUT) else {
            cx.broken_inputs.push(k.name.clone());
            continue;
        };
        let ty = match f.get("type") {
            None => InputType::String,
            Some(t) => match t.as_str() {
                Some("string") => InputType::String,
                Some("number") => InputType::Number,
                Some("boolean") => InputType::Boolean,
                Some("list") => InputType::List,
                Some("object") => InputType::Object,
                other => {
                    let known = keys::INPUT_TYPES.iter().copied();
                    let hint = other
                        .and_then(|o| did_you_mean(o, known))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| format!("use one of: {}", keys::INPUT_TYPES.join(", ")));
                    cx.push(
                        Diag::new("input", format!("unknown type for input `{}`", k.name))
                            .label(t.span, "not a type")
                            .help(hint),
                    );
                    cx.broken_inputs.push(k.name.clone());
                    continue;
                }
            },
        };
        let required = f
            .get("required")
            .and_then(|r| cx.bool(r, "required"))
            .unwrap_or(false);
        let description = f
            .get("description")
            .and_then(|d| cx.string(d, "description"));
        let mut ok = true;
        let choices = f.get("enum").and_then(|e| match &e.kind {
            YamlKind::Seq(items) if !items.is_empty() => {
                for i in items {
                    if let Err(msg) = check_type(ty, &i.to_json()) {
                        cx.error(
                            "input",
                            i.span,
                            format!("`enum` value does not match type {}", ty.name()),
                            msg,
                        );
                        ok = false;
                    }
                }
                Some(items.iter().map(Yaml::to_json).collect::<Vec<_>>())
            }
            _ => {
                cx.expected(e, "enum", "a non-empty list of allowed values");
                ok = false;
                None
            }
        });
        let default = f.get("default").map(|d| (d, d.to_json()));
        if let Some((dy, dv)) = &default {
            if let Err(msg) = check_type(ty, dv) {
                cx.error(
                    "input",
                    dy.span,
                    format!("default of input `{}` is not a {}", k.name, ty.name()),
                    msg,
                );
                ok = false;
            } else if let Some(c) = &choices {
                if !c.contains(dv) {
                    cx.error(
                        "input",
                        dy.span,
                        format!(
                            "default of input `{}` is not one of its `enum` values",
                            k.name
                        ),
                        "not in enum",
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            cx.broken_inputs.push(k.name.clone());
        } else {
            out.push(InputDecl {
                name: k.name.clone(),
                ty,
                default: default.map(|(_, v)| v),
                required,
                choices,
                description,
            });
        }
    }
    out
}

/// Does a value fit an input type? The error is a label-sized reason.
pub(crate) fn check_type(ty: InputType, v: &Json) -> Result<(), String> {
    let ok = match ty {
        InputType::String => v.is_string(),
        InputType::Number => v.is_number(),
        InputType::Boolean => v.is_boolean(),
        InputType::List => v.is_array(),
        InputType::Object => v.is_object(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected a {}, found {}", ty.name(), json_kind(v)))
    }
}

pub(crate) fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}
