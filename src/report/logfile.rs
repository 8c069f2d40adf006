//! `telemetry.log_to_file`: every event appended as a JSON line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::event::{Event, Sink};

pub(crate) struct LogFile {
    file: Mutex<File>,
}

impl LogFile {
    pub(crate) fn open(path: &Path) -> std::io::Result<LogFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LogFile {
            file: Mutex::new(file),
        })
    }
}

impl Sink for LogFile {
    fn event(&self, ev: &Event) {
        if let Ok(mut line) = serde_json::to_string(ev) {
            line.push('\n');
            // One write per line: with O_APPEND, lines of concurrent runs never mix.
            let _ = self
                .file
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .write_all(line.as_bytes());
        }
    }
}
