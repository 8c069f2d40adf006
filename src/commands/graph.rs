//! `orch graph FILE --format text|mermaid|dot`.

use std::fmt::Write;

use crate::cli::{GraphArgs, GraphFormat};
use crate::error::Error;
use crate::exit::Exit;
use crate::model::{Phase, Workflow};

use super::Context;

pub(crate) fn run(cx: &Context, args: &GraphArgs) -> Result<Exit, Error> {
    let project = cx.project()?;
    let wf = cx.workflow(&project, &args.file)?;
    print!("{}", render(&wf, args.format));
    Ok(Exit::Success)
}

fn edges(wf: &Workflow) -> Vec<(&str, &str)> {
    wf.steps
        .iter()
        .flat_map(|s| s.needs.iter().map(move |n| (n.id.as_str(), s.id.as_str())))
        .collect()
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub(crate) fn render(wf: &Workflow, format: GraphFormat) -> String {
    let mut out = String::new();
    match format {
        GraphFormat::Text => {
            let plan = crate::plan::Plan::new(wf);
            for phase in [Phase::Main, Phase::OnFailure, Phase::Finally] {
                for level in plan.levels(phase) {
                    for i in level {
                        let s = &wf.steps[i];
                        let tag = match phase {
                            Phase::Main => "",
                            Phase::OnFailure => " [on_failure]",
                            Phase::Finally => " [finally]",
                        };
                        if s.needs.is_empty() {
                            let _ = writeln!(out, "{}{tag}", s.id);
                        } else {
                            let needs: Vec<&str> = s.needs.iter().map(|n| n.id.as_str()).collect();
                            let _ = writeln!(out, "{}{tag} ← {}", s.id, needs.join(", "));
                        }
                    }
                }
            }
        }
        GraphFormat::Mermaid => {
            let _ = writeln!(out, "graph TD");
            for s in &wf.steps {
                let shape = match s.phase {
                    Phase::Main => format!("[{}]", quote(s.display_name())),
                    _ => format!("([{}])", quote(s.display_name())),
                };
                let _ = writeln!(out, "    {}{shape}", mermaid_id(&s.id));
            }
            for (from, to) in edges(wf) {
                let _ = writeln!(out, "    {} --> {}", mermaid_id(from), mermaid_id(to));
            }
        }
        GraphFormat::Dot => {
            let _ = writeln!(out, "digraph {} {{", quote(&wf.name));
            let _ = writeln!(out, "    rankdir=LR;");
            for s in &wf.steps {
                let style = match s.phase {
                    Phase::Main => "",
                    _ => ", style=dashed",
                };
                let _ = writeln!(
                    out,
                    "    {} [label={}{style}];",
                    quote(&s.id),
                    quote(s.display_name())
                );
            }
            for (from, to) in edges(wf) {
                let _ = writeln!(out, "    {} -> {};", quote(from), quote(to));
            }
            let _ = writeln!(out, "}}");
        }
    }
    out
}

/// Mermaid ids cannot hold `-`; keep them readable and unique.
fn mermaid_id(id: &str) -> String {
    id.replace('-', "_h_")
}
