//! Finding and reading the files the user points at: workflow files and
//! `orchestration.yaml`, with the guards that keep bad input from hanging or
//! crashing (size cap, binary detection, directories).

pub(crate) mod dotenv;
mod events;
pub(crate) mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Diag;
use crate::source::Source;

/// Workflow and config files beyond this are refused before parsing: a
/// 10,000-step workflow is well under 1 MiB.
pub(crate) const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

pub(crate) const CONFIG_FILE: &str = "orchestration.yaml";

/// Read a file as a [`Source`], refusing what cannot be a YAML document.
pub(crate) fn read_source(path: &Path) -> Result<Arc<Source>, Diag> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "no such file".to_string()
        } else {
            e.to_string()
        };
        Diag::new("io", format!("cannot read {name}: {what}"))
    })?;
    if meta.is_dir() {
        return Err(
            Diag::new("io", format!("cannot read {name}: it is a directory"))
                .help("give the path of a workflow file, e.g. workflows/build.yaml"),
        );
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(Diag::new(
            "io",
            format!(
                "{name} is too large ({} MiB; the limit is {} MiB)",
                meta.len() / (1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    // The size of a device or a pipe is not known beforehand (`/dev/zero`
    // says 0): read one byte past the limit, never more.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            use std::io::Read;
            f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)
        })
        .map_err(|e| Diag::new("io", format!("cannot read {name}: {e}")))?;
    source_from_bytes(name, path, bytes)
}

/// The checks on a file's bytes (size, binary, UTF-8, byte-order mark), apart
/// from reading it so they can be fuzzed.
pub(crate) fn source_from_bytes(
    name: String,
    path: &Path,
    bytes: Vec<u8>,
) -> Result<Arc<Source>, Diag> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Diag::new(
            "io",
            format!(
                "{name} is too large (more than {} MiB)",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    if bytes.contains(&0) {
        return Err(Diag::new(
            "io",
            format!("{name} is a binary file, not YAML"),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        Diag::new(
            "io",
            format!(
                "{name} is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    // A byte-order mark is legal in YAML but would shift every column.
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text);
    Ok(Arc::new(Source::new(name, path, text)))
}

/// `orchestration.yaml` in `start` or the nearest parent, like `.git`.
pub(crate) fn discover_config(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join(CONFIG_FILE))
        .find(|p| p.is_file())
}
