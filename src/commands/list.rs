//! `orch list [--json]`: the workflows of the project, by the name
//! `orch run NAME` takes; an invalid file is listed, not skipped.

use serde::Serialize;

use crate::cli::ListArgs;
use crate::error::Error;
use crate::exit::Exit;
use crate::model::{InputDecl, Workflow};
use crate::settings::WorkflowFile;

use super::history::{emit, table, to_json};
use super::Context;

#[derive(Serialize)]
struct Entry {
    /// What `orch run NAME` takes.
    name: String,
    file: String,
    valid: bool,
    /// The file's `name:` (what the history records).
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    inputs: Vec<InputJson>,
    /// Why the file is not what `orch run NAME` runs, or not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Serialize)]
struct InputJson {
    name: String,
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<serde_json::Value>,
    required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

pub(crate) fn run(cx: &Context, args: &ListArgs) -> Result<Exit, Error> {
    let project = cx.project()?;
    let files = project.workflow_files(&cx.cwd);
    let entries: Vec<Entry> = files.iter().map(|f| entry(cx, &project, f)).collect();
    if args.json {
        emit(&format!("{}\n", to_json(&entries)?))?;
        return Ok(Exit::Success);
    }
    if entries.is_empty() {
        if !cx.quiet {
            eprintln!(
                "no workflows in {}",
                project.dir.join("workflows").display()
            );
        }
        return Ok(Exit::Success);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let about = match (&e.note, &e.description) {
                (Some(n), _) => n.clone(),
                (None, Some(d)) => d.clone(),
                (None, None) => String::new(),
            };
            let inputs: Vec<String> = e.inputs.iter().map(input_text).collect();
            vec![e.name.clone(), about, inputs.join(", ")]
        })
        .collect();
    emit(&table(&["NAME", "DESCRIPTION", "INPUTS"], &rows))?;
    Ok(Exit::Success)
}

fn entry(cx: &Context, project: &crate::settings::Project, f: &WorkflowFile) -> Entry {
    let file = f.path.display().to_string();
    let mut e = Entry {
        name: f.name.clone(),
        file: file.clone(),
        valid: false,
        workflow: None,
        description: None,
        inputs: Vec::new(),
        note: None,
    };
    if let Some(first) = &f.shadowed_by {
        e.note = Some(format!("not run by name: {} comes first", first.display()));
    }
    match super::load_workflow(&cx.cwd.join(&f.path), project) {
        Ok(wf) => fill(&mut e, &wf),
        Err(_) => {
            e.note
                .get_or_insert_with(|| format!("invalid: run orch validate {file}"));
        }
    }
    e
}

fn fill(e: &mut Entry, wf: &Workflow) {
    e.valid = true;
    e.workflow = Some(wf.name.clone());
    e.description = wf.description.clone();
    e.inputs = wf.inputs.iter().map(input_json).collect();
}

fn input_json(i: &InputDecl) -> InputJson {
    InputJson {
        name: i.name.clone(),
        ty: i.ty.name(),
        default: i.default.clone(),
        required: i.required && i.default.is_none(),
        description: i.description.clone(),
    }
}

/// `who: string = "world"`, `n: number (required)`.
fn input_text(i: &InputJson) -> String {
    match (&i.default, i.required) {
        (Some(d), _) => format!("{}: {} = {d}", i.name, i.ty),
        (None, true) => format!("{}: {} (required)", i.name, i.ty),
        (None, false) => format!("{}: {}", i.name, i.ty),
    }
}
