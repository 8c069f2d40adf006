//! `orch plan FILE`: levels, resolved inputs and concurrency, the expected
//! critical path and makespan; runs nothing.

use std::fmt::Write;
use std::time::Duration;

use crate::cli::PlanArgs;
use crate::error::Error;
use crate::exit::Exit;
use crate::model::Site;
use crate::model::{Phase, Workflow};
use crate::plan::critical::{self, Basis, Expected};
use crate::plan::Plan;
use crate::settings::Schedule;

use super::Context;

pub(crate) fn run(cx: &Context, args: &PlanArgs) -> Result<Exit, Error> {
    let p = cx.prepare(&args.target)?;
    let concurrency =
        crate::settings::concurrency(args.target.jobs, &p.wf, &p.project.config, &cx.env)?;
    let notes = cache_notes(cx, &p)?;
    print!("{}", render(&p.wf, &p.inputs, concurrency, Some(&notes)));
    let schedule = crate::settings::schedule(&cx.env)?;
    let (expected, unread) = match expected(cx, &p.wf) {
        Ok(e) => (e, None),
        Err(e) => (Expected::unknown(p.wf.steps.len()), Some(e)),
    };
    let estimate = Estimate {
        expected: &expected,
        schedule,
        concurrency,
        verbose: cx.verbose > 0,
    };
    print!("{}", estimate.render(&p.wf));
    if let (Some(e), true) = (unread, estimate.verbose) {
        let why: Vec<&str> = e.diags().iter().map(|d| d.message.as_str()).collect();
        println!("  (history not read: {})", why.join("; "));
    }
    Ok(Exit::Success)
}

/// Expected durations from the history, if there is one; defaults if not.
fn expected(cx: &Context, wf: &Workflow) -> Result<Expected, Error> {
    let store = crate::history::Store::open_existing(&cx.home()?)?;
    Ok(match store {
        Some(store) => crate::history::query::expected(&store, wf)?,
        None => Expected::unknown(wf.steps.len()),
    })
}

/// What `orch plan` expects of a run: the critical path and the makespan.
pub(crate) struct Estimate<'a> {
    pub(crate) expected: &'a Expected,
    pub(crate) schedule: Schedule,
    pub(crate) concurrency: usize,
    /// `-v`: each step's expected duration and where it comes from.
    pub(crate) verbose: bool,
}

impl Estimate<'_> {
    /// Lines after the plan: main steps, then `finally` (which always runs).
    pub(crate) fn render(&self, wf: &Workflow) -> String {
        let e = &self.expected.durations;
        let mut plan = Plan::new(wf);
        match self.schedule {
            Schedule::CriticalPath => plan.rank_by(e),
            Schedule::Fifo => plan.fifo(),
        }
        let remaining = critical::remaining(&plan, e);
        let priority: Vec<i64> = wf.steps.iter().map(|s| s.priority).collect();
        let phases = [Phase::Main, Phase::Finally];
        let path: Vec<usize> = phases
            .iter()
            .flat_map(|&ph| critical::critical_path(&plan, &remaining, ph))
            .collect();
        let mut out = String::new();
        if path.is_empty() {
            return out;
        }
        let along: Duration = path.iter().map(|&i| e[i]).sum();
        let makespan: Duration = phases
            .iter()
            .map(|&ph| critical::makespan(&plan, e, &priority, self.concurrency, ph))
            .sum();
        let ids: Vec<&str> = path.iter().map(|&i| wf.steps[i].id.as_str()).collect();
        let _ = writeln!(
            out,
            "critical path: {} (expected {})",
            ids.join(" -> "),
            crate::duration::short(along)
        );
        let order = match self.schedule {
            Schedule::CriticalPath => String::new(),
            Schedule::Fifo => " (ORCH_SCHEDULE=fifo: priority, then file order)".to_string(),
        };
        let _ = writeln!(
            out,
            "expected makespan at concurrency {}: {}{order}",
            self.concurrency,
            crate::duration::short(makespan)
        );
        if self.verbose {
            let _ = writeln!(out, "expected durations:");
            for (i, s) in wf.steps.iter().enumerate() {
                let basis = match self.expected.basis[i] {
                    Basis::History { runs: 1 } => "median of 1 run".to_string(),
                    Basis::History { runs } => format!("median of {runs} runs"),
                    Basis::WorkflowMedian => "not in history: the workflow's median".to_string(),
                    Basis::Default => "nothing in history: default".to_string(),
                };
                let _ = writeln!(
                    out,
                    "  {}: {} ({basis})",
                    s.id,
                    crate::duration::short(e[i])
                );
            }
        }
        out
    }
}

/// For each `cache:` step: would it hit, or why not.
pub(super) fn cache_notes(
    cx: &Context,
    p: &super::Prepared,
) -> Result<Vec<(String, String)>, Error> {
    use crate::exec::prepare;
    let wf = &p.wf;
    if !wf.steps.iter().any(|s| s.cache.is_some()) {
        return Ok(Vec::new());
    }
    let store = crate::history::Store::open_existing(&cx.home()?)?;
    let run = serde_json::json!({"id": "", "workflow": wf.name, "attempt": 1, "started_at": ""});
    let (base_env, env_ctx, env_err) = prepare::workflow_env(wf, &cx.env.all, &p.inputs, &run);
    let mut out = Vec::new();
    // `run` steps that may write ORCH_ENV (their script names it): what
    // they write is part of their dependents' fingerprints.
    let graph = Plan::new(wf);
    let env_writers: Vec<usize> = wf
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| match &s.body.kind {
            crate::model::StepKind::Run { script, .. } => script
                .parts
                .iter()
                .any(|p| matches!(p, crate::expr::Part::Text(t) if t.contains("ORCH_ENV"))),
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    for (i, s) in wf
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.cache.is_some())
    {
        // What the fingerprint is made of: the body, `working_dir`, the key.
        let reads = s.reads(|site| matches!(site, Site::Body | Site::WorkingDir | Site::CacheKey));
        let writer = graph.ancestors_among(i, &env_writers).pop();
        let note = if let Some(e) = &env_err {
            format!("unknown: {e}")
        } else if let Some(dep) = reads.first() {
            format!("decided when it runs (it reads steps.{dep})")
        } else if let Some(w) = writer {
            format!(
                "decided when it runs (`{}` may set ORCH_ENV)",
                wf.steps[w].id
            )
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
        // Declaration order, as the file lists them (the JSON map sorts).
        let declared = wf.inputs.iter().map(|d| d.name.as_str());
        let rest = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !wf.inputs.iter().any(|d| d.name == *k));
        for k in declared.chain(rest) {
            if let Some(v) = obj.get(k) {
                let _ = writeln!(out, "  {k} = {v}");
            }
        }
    }
    let _ = writeln!(out, "concurrency: {jobs}");
    if !wf.dotenv.files.is_empty() {
        let _ = writeln!(out, "dotenv:");
        for f in &wf.dotenv.files {
            let what = if f.found { "read" } else { "missing, skipped" };
            let _ = writeln!(out, "  {} ({what})", f.path.display());
        }
    }
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
                    if let Some(f) = &s.for_each {
                        notes.push(f.key().to_string());
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
