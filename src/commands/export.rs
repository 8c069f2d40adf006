//! `orch export argo FILE`: the workflow as an Argo Workflows manifest.

use crate::cli::{ArgoArgs, ExportCommand};
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::export::argo;

use super::Context;

pub(crate) fn run(cx: &Context, cmd: &ExportCommand) -> Result<Exit, Error> {
    match cmd {
        ExportCommand::Argo(a) => argo_cmd(cx, a),
    }
}

fn argo_cmd(cx: &Context, args: &ArgoArgs) -> Result<Exit, Error> {
    let project = cx.project()?;
    let wf = cx.workflow(&project, &args.file)?;
    let plan = crate::plan::Plan::new(&wf);
    let opts = argo::Options {
        image: args.image.clone(),
        secret_name: args.secret_name.clone(),
        lenient: args.lenient,
        templates: args.templates,
    };
    let out = argo::export(&wf, &plan, &project.config, &opts)?;
    for d in &out.dropped {
        eprintln!(
            "warning: dropped from the Argo manifest: {}",
            argo::describe(d)
        );
    }
    match &args.output {
        // Never half a manifest where an older one was.
        Some(path) => crate::report::write_atomically(path, &out.yaml).map_err(|e| {
            Error::environment(Diag::new(
                "export::write",
                format!("cannot write {}: {e}", path.display()),
            ))
        })?,
        None => print!("{}", out.yaml),
    }
    Ok(Exit::Success)
}
