//! One executor per step kind. Each runs one attempt and reports what happened;
//! retries, events and state live in `exec`.

pub mod http;
pub mod output_file;
pub mod shell;
