//! `orch schema [workflow|config]`: the JSON Schema of a file, for editors.

use crate::cli::SchemaKind;
use crate::exit::Exit;
use crate::validate::keys::schema;

pub(crate) fn run(kind: SchemaKind) -> Exit {
    print!("{}", text(kind));
    Exit::Success
}

/// The schema as committed under `schema/` and written by `orch init`.
pub(crate) fn text(kind: SchemaKind) -> String {
    schema::render(&match kind {
        SchemaKind::Workflow => schema::workflow(),
        SchemaKind::Config => schema::config(),
    })
}

/// The file name of a schema, in `schema/` and `.orch/schema/`.
pub(crate) fn file_name(kind: SchemaKind) -> &'static str {
    match kind {
        SchemaKind::Workflow => "workflow.schema.json",
        SchemaKind::Config => "orchestration.schema.json",
    }
}
