//! `orch plan FILE`: levels, resolved inputs and concurrency; runs nothing.

use std::fmt::Write;

use crate::cli::PlanArgs;
use crate::error::Error;
use crate::exit::Exit;
use crate::model::Site;
use crate::model::{Phase, Workflow};
use crate::plan::Plan;

use super::Context;

pub(crate) fn run(cx: &Context, args: &PlanArgs) -> Result<Exit, Error> {
    let p = cx.prepare(&args.target)?;
    let concurrency =
        crate::settings::concurrency(args.target.jobs, &p.wf, &p.project.config, &cx.env)?;
    let notes = cache_notes(cx, &p)?;
    print!("{}", render(&p.wf, &p.inputs, concurrency, Some(&notes)));
    Ok(Exit::Success)
}

/// For each `cache:` step: would it hit, or why not.
fn cache_notes(cx: &Context, p: &super::Prepared) -> Result<Vec<(String, String)>, Error> {
    use crate::exec::prepare;
    let wf = &p.wf;
    if !wf.steps.iter().any(|s| s.cache.is_some()) {
        return Ok(Vec::new());
    }
    let store = crate::history::Store::open_existing(&cx.home()?)?;
    let run = serde_json::json!({"id": "", "workflow": wf.name, "attempt": 1, "started_at": ""});
    let (base_env, env_ctx, env_err) = prepare::workflow_env(wf, &cx.env.all, &p.inputs, &run);
    let mut out = Vec::new();
    for s in wf.steps.iter().filter(|s| s.cache.is_some()) {
        // What the fingerprint is made of: the body, `working_dir`, the key.
        let reads = s.reads(|site| matches!(site, Site::Body | Site::WorkingDir | Site::CacheKey));
        let note = if let Some(e) = &env_err {
            format!("unknown: {e}")
        } else if let Some(dep) = reads.first() {
            format!("decided when it runs (it reads steps.{dep})")
        } else if s.for_each.is_some() {
            "decided per item when it runs".to_string()
        } else {
            let fp = prepare::with_scope_no_steps(&p.inputs, &env_ctx, &run, |scope| {
                let resolved = prepare::resolve_body(s, scope, &base_env, &p.project.dir)?;
                prepare::fingerprint(wf, s, &resolved, None, scope, &p.project.dir)
            });
            match (fp, &store) {
                (Err(e), _) => format!("would fail: {e}"),
                (Ok(None), _) => continue,
                (Ok(Some(_)), None) => "would run: never run".to_string(),
                (Ok(Some(fp)), Some(store)) => {
                    crate::history::cache::explain(store, &wf.name, &s.id, &fp)
                }
            }
        };
        out.push((s.id.clone(), note));
    }
    Ok(out)
}

pub(crate) fn render(
    wf: &Workflow,
    inputs: &serde_json::Value,
    jobs: usize,
    cache: Option<&[(String, String)]>,
) -> String {
    let plan = Plan::new(wf);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "workflow {}{}",
        wf.name,
        wf.version
            .map(|v| format!(" (version {v})"))
            .unwrap_or_default()
    );
    if let Some(obj) = inputs.as_object().filter(|o| !o.is_empty()) {
        let _ = writeln!(out, "inputs:");
        for (k, v) in obj {
            let _ = writeln!(out, "  {k} = {v}");
        }
    }
    let _ = writeln!(out, "concurrency: {jobs}");
    for phase in [Phase::Main, Phase::OnFailure, Phase::Finally] {
        let levels = plan.levels(phase);
        if levels.is_empty() {
            continue;
        }
        let title = match phase {
            Phase::Main => "steps",
            Phase::OnFailure => "on_failure (only if the run fails)",
            Phase::Finally => "finally (always)",
        };
        let _ = writeln!(out, "{title}:");
        for (n, level) in levels.iter().enumerate() {
            let names: Vec<String> = level
                .iter()
                .map(|&i| {
                    let s = &wf.steps[i];
                    let mut d = s.id.clone();
                    let mut notes = Vec::new();
                    if s.cond.is_some() {
                        notes.push("if".to_string());
                    }
                    if s.for_each.is_some() {
                        notes.push("for_each".to_string());
                    }
                    if s.priority != 0 {
                        notes.push(format!("priority {}", s.priority));
                    }
                    if !notes.is_empty() {
                        d.push_str(&format!(" ({})", notes.join(", ")));
                    }
                    d
                })
                .collect();
            let _ = writeln!(out, "  {}. {}", n + 1, names.join(", "));
        }
    }
    if let Some(notes) = cache.filter(|n| !n.is_empty()) {
        let _ = writeln!(out, "cache:");
        for (id, note) in notes {
            let _ = writeln!(out, "  {id}: {note}");
        }
    }
    out
}
