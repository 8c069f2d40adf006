//! `orch validate FILE…`: every problem in every file, at once.

use crate::cli::ValidateArgs;
use crate::exit::{Exit, Invalid};

use super::Context;

pub fn run(cx: &Context, args: &ValidateArgs) -> Result<Exit, Invalid> {
    let project = cx.project()?;
    let mut all = Vec::new();
    let mut ok = Vec::new();
    for f in &args.files {
        match cx.workflow(&project, f) {
            Ok(wf) => ok.push((f.clone(), wf.steps.len())),
            Err(Invalid(d)) => all.extend(d),
        }
    }
    if !cx.quiet {
        for (f, n) in &ok {
            eprintln!(
                "✓ {f} is valid ({n} step{})",
                if *n == 1 { "" } else { "s" }
            );
        }
    }
    if all.is_empty() {
        Ok(Exit::Success)
    } else {
        Err(Invalid(all))
    }
}
