//! `orch plan FILE`: levels, resolved inputs and concurrency; runs nothing.

use std::fmt::Write;

use crate::cli::PlanArgs;
use crate::exit::{Exit, Invalid};
use crate::model::{Phase, Workflow};
use crate::plan::Plan;

use super::Context;

pub fn run(cx: &Context, args: &PlanArgs) -> Result<Exit, Invalid> {
    let p = cx.prepare(&args.target)?;
    print!("{}", render(&p.wf, &p.inputs, p.concurrency));
    Ok(Exit::Success)
}

pub fn render(wf: &Workflow, inputs: &serde_json::Value, jobs: usize) -> String {
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
    out
}
