//! `orch validate FILE…`: every problem in every file, at once.

use crate::cli::ValidateArgs;
use crate::error::Error;
use crate::exit::Exit;

use super::Context;

pub(crate) fn run(cx: &Context, args: &ValidateArgs) -> Result<Exit, Error> {
    let project = cx.project()?;
    let mut all = Vec::new();
    let mut ok = Vec::new();
    for f in &args.files {
        match cx.workflow(&project, f) {
            Ok(wf) => ok.push((f.clone(), wf.steps.len())),
            Err(Error::Invalid(d)) => all.extend(d),
            Err(other) => return Err(other),
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
        Err(Error::Invalid(all))
    }
}
