//! `orch validate FILE…`: every problem in every file, at once.

use crate::cli::ValidateArgs;
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::render::JsonDiag;

use super::Context;

pub(crate) fn run(cx: &Context, args: &ValidateArgs) -> Result<Exit, Error> {
    let (ok, found) = check(cx, args)?;
    if args.json {
        let json: Vec<JsonDiag> = found
            .iter()
            .map(|(d, file)| crate::render::json(d, file.as_deref()))
            .collect();
        let text = serde_json::to_string_pretty(&json)
            .map_err(|e| Error::Internal(format!("diagnostics as JSON: {e}")))?;
        println!("{text}");
    }
    if !cx.quiet {
        for (f, n) in &ok {
            eprintln!(
                "✓ {f} is valid ({n} step{})",
                if *n == 1 { "" } else { "s" }
            );
        }
    }
    if found.is_empty() {
        Ok(Exit::Success)
    } else {
        // The human rendering still goes to stderr, with the usual exit code.
        Err(Error::Invalid(found.into_iter().map(|(d, _)| d).collect()))
    }
}

/// A diagnostic and the file it is about when it has no source of its own
/// (a file that is missing or cannot be read).
type Found = (Diag, Option<String>);

/// A valid file and its step count.
type Valid = (String, usize);

/// The valid files (with their step counts) and every problem found. A
/// problem in `orchestration.yaml` stops here: the workflows are checked
/// against it.
fn check(cx: &Context, args: &ValidateArgs) -> Result<(Vec<Valid>, Vec<Found>), Error> {
    let about = |e: Error, file: Option<String>| -> Result<Vec<Found>, Error> {
        match e {
            Error::Invalid(d) | Error::Environment(d) => {
                Ok(d.into_iter().map(|d| (d, file.clone())).collect())
            }
            other => Err(other),
        }
    };
    let project = match cx.project() {
        Ok(p) => p,
        Err(e) => {
            let config = cx.config.as_ref().map(|c| c.display().to_string());
            return Ok((Vec::new(), about(e, config)?));
        }
    };
    let mut found = Vec::new();
    let mut ok = Vec::new();
    for f in &args.files {
        let path = match project.find_workflow(f, &cx.cwd) {
            Ok(p) => p,
            Err(d) => {
                found.push((d, Some(f.clone())));
                continue;
            }
        };
        match super::load_workflow(&path, &project) {
            Ok(wf) => ok.push((f.clone(), wf.steps.len())),
            Err(e) => found.extend(about(e, Some(path.display().to_string()))?),
        }
    }
    Ok((ok, found))
}
