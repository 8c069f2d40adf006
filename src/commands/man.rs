//! `orch man`: orch(1) and one page per subcommand, rendered from the clap
//! definition, with the EXIT STATUS, ENVIRONMENT and FILES that the code
//! defines (exit codes, the variables read), so none of it can drift.

use std::path::Path;

use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};

use crate::cli::Cli;
use crate::diag::Diag;
use crate::error::{Error, INVALID};
use crate::exit::Exit;

/// Every page: its file name (`orch.1`, `orch-run.1`, `orch-cache-clear.1`)
/// and its roff text. Hidden subcommands get none.
pub(crate) fn pages() -> Vec<(String, String)> {
    // `orch help` is clap's; it would be a page about nothing.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    collect(&cmd, true, &mut out);
    out
}

fn collect(cmd: &clap::Command, top: bool, out: &mut Vec<(String, String)>) {
    // Every page is from orch (clap_mangen would say `run 0.1.0`).
    let man =
        clap_mangen::Man::new(cmd.clone()).source(concat!("orch ", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render(&mut buf);
    let mut page = String::from_utf8_lossy(&buf).into_owned();
    let extra = if top { top_sections() } else { see_also() };
    // Before VERSION, which clap_mangen writes last.
    match page.find(".SH VERSION") {
        Some(at) => page.insert_str(at, &extra),
        None => page.push_str(&extra),
    }
    out.push((man.get_filename(), page));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, false, out);
    }
}

/// roff lines without the preamble that every rendering starts with.
fn body(roff: &Roff) -> String {
    let preamble = Roff::default().render();
    let text = roff.render();
    text.strip_prefix(&preamble).unwrap_or(&text).to_string()
}

fn top_sections() -> String {
    let mut r = Roff::default();
    r.control("SH", ["EXIT STATUS"]);
    let mut codes: Vec<(i32, &str)> = Exit::ALL.iter().map(|e| (e.code(), e.meaning())).collect();
    codes.push((
        INVALID,
        "invalid workflow, config, inputs or usage, or orch cannot use ORCH_HOME: nothing ran",
    ));
    codes.sort_by_key(|(c, _)| *c);
    for (code, meaning) in codes {
        r.control("TP", []);
        r.text([bold(code.to_string())]);
        r.text([roman(meaning)]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    for (name, what) in crate::settings::VARIABLES {
        r.control("TP", []);
        r.text([bold(*name)]);
        r.text([roman(*what)]);
    }
    r.control("SH", ["FILES"]);
    let config = crate::load::CONFIG_FILE;
    for (file, what) in [
        (
            config.to_string(),
            "services, policies and defaults: found in the working directory or the nearest parent (or --config, ORCH_CONFIG)".to_string(),
        ),
        (
            "workflows/NAME.yaml".to_string(),
            format!("what orch run NAME runs when NAME is not a file: beside {config}, or in the working directory"),
        ),
        (
            "$ORCH_HOME/history.db".to_string(),
            "the history of runs and the step cache (SQLite; several orch processes may share it)".to_string(),
        ),
        (
            "$ORCH_HOME/logs/RUN/STEP.log".to_string(),
            "each step's output, as orch logs prints it".to_string(),
        ),
    ] {
        r.control("TP", []);
        r.text([bold(file)]);
        r.text([roman(what)]);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "docs/reference.md in the source, for the workflow and orchestration.yaml formats",
    )]);
    body(&r)
}

fn see_also() -> String {
    let mut r = Roff::default();
    r.control("SH", ["SEE ALSO"]);
    r.text([bold("orch"), roman("(1)")]);
    body(&r)
}

/// `orch man`: orch(1) on stdout, or every page into `dir`.
pub(crate) fn run(dir: Option<&Path>) -> Result<Exit, Error> {
    let pages = pages();
    let Some(dir) = dir else {
        if let Some((_, page)) = pages.first() {
            print!("{page}");
        }
        return Ok(Exit::Success);
    };
    let fail = |e: std::io::Error| {
        Error::environment(Diag::new(
            "io",
            format!("cannot write the man pages into {}: {e}", dir.display()),
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    for (name, page) in &pages {
        std::fs::write(dir.join(name), page).map_err(fail)?;
    }
    Ok(Exit::Success)
}
