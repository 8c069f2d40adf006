//! `orch init [DIR] [--force]`: a project that runs as it is, with the
//! schemas its files name for editors.

use std::path::{Path, PathBuf};

use crate::cli::{InitArgs, SchemaKind};
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;

use super::Context;

/// Where `orch init` puts the schemas, relative to the project directory:
/// there is no public URL to point at, and a path inside the project keeps
/// working offline and matches the orch that wrote it.
pub(crate) const SCHEMA_DIR: &str = ".orch/schema";

const CONFIG: &str = "\
# yaml-language-server: $schema=.orch/schema/orchestration.schema.json
# The settings of this project. orch finds this file in the working
# directory or a parent, and runs `orch run NAME` from workflows/NAME.yaml
# beside it. Every key is optional: see `orch schema config`, or let your
# editor complete them from the schema named on the first line.
orchestration:
  # How `http` and `call` steps retry by default.
  retry:
    max_attempts: 3
    delay_strategy: exponential
    base_delay: 200ms
  # Services that `call:` steps use, for example:
  # services:
  #   - id: api
  #     base_url: http://localhost:8080
  #     endpoints:
  #       - { id: health, path: /health }
";

const HELLO: &str = "\
# yaml-language-server: $schema=../.orch/schema/workflow.schema.json
# Run it:  orch run hello            or  orch run hello -i who=you
name: hello
description: Say hello, then say how it went

inputs:
  who:
    type: string
    default: world
    description: whom to greet

steps:
  - id: greet
    run: |
      echo \"hello, ${{ inputs.who }}!\"
      echo \"greeting=hello, ${{ inputs.who }}\" >> \"$ORCH_OUTPUT\"

  - id: done
    needs: greet
    run: echo \"said '${{ steps.greet.outputs.greeting }}'\"
";

/// The files `orch init` writes: path in the project and contents.
fn files() -> Vec<(String, String)> {
    let schema = |k| {
        (
            format!("{SCHEMA_DIR}/{}", super::schema::file_name(k)),
            super::schema::text(k),
        )
    };
    vec![
        (crate::load::CONFIG_FILE.to_string(), CONFIG.to_string()),
        ("workflows/hello.yaml".to_string(), HELLO.to_string()),
        schema(SchemaKind::Config),
        schema(SchemaKind::Workflow),
    ]
}

pub(crate) fn run(cx: &Context, args: &InitArgs) -> Result<Exit, Error> {
    let dir = if args.dir.is_absolute() {
        args.dir.clone()
    } else {
        cx.cwd.join(&args.dir)
    };
    let shown = |rel: &str| -> PathBuf {
        if args.dir == Path::new(".") {
            PathBuf::from(rel)
        } else {
            args.dir.join(rel)
        }
    };
    let files = files();
    if !args.force {
        let existing: Vec<Diag> = files
            .iter()
            .filter(|(rel, _)| dir.join(rel).exists())
            .map(|(rel, _)| {
                Diag::new(
                    "exists",
                    format!("{} exists; not overwriting it", shown(rel).display()),
                )
                .help("move it away, or run `orch init --force` to overwrite it")
            })
            .collect();
        if !existing.is_empty() {
            return Err(Error::Invalid(existing));
        }
    }
    for (rel, text) in &files {
        let path = dir.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            return Err(Error::environment(Diag::new(
                "io",
                format!("cannot write {}: {e}", shown(rel).display()),
            )));
        }
        if !cx.quiet {
            println!("created {}", shown(rel).display());
        }
    }
    if cx.quiet {
        return Ok(Exit::Success);
    }
    println!("\nNext:");
    if args.dir != Path::new(".") {
        println!("  cd {}", args.dir.display());
    }
    println!("  orch run hello        run the example workflow");
    println!("  orch list             the workflows of this project");
    println!("  orch validate hello   check a workflow without running it");
    println!(
        "Editors with yaml-language-server check and complete both files from {SCHEMA_DIR}/;\n\
         add a workflow as workflows/NAME.yaml with the first line of hello.yaml."
    );
    Ok(Exit::Success)
}
