//! orch: a local-first workflow orchestrator.
//!
//! Data flows one way: `cli` → `settings` → `load` (spanned YAML) → `validate`
//! → `plan` → `session` (sinks, runtime, signals) → `exec` (scheduler + `steps`
//! executors) → `event` → `report` sinks. Errors become exit codes in `error`.

pub(crate) mod cancel;
pub mod cli;
pub(crate) mod commands;
pub(crate) mod diag;
pub(crate) mod digest;
pub(crate) mod duration;
pub(crate) mod error;
pub(crate) mod event;
pub(crate) mod exec;
pub(crate) mod exit;
pub(crate) mod export;
pub(crate) mod expr;
pub(crate) mod history;
pub(crate) mod http_client;
pub(crate) mod inputs;
pub(crate) mod load;
pub(crate) mod mask;
pub(crate) mod model;
pub(crate) mod plan;
pub(crate) mod render;
pub(crate) mod report;
pub(crate) mod secrets;
pub(crate) mod services;
pub(crate) mod session;
pub(crate) mod settings;
pub(crate) mod source;
pub(crate) mod steps;
pub(crate) mod validate;

use cli::{Cli, Command};
use error::Error;

/// What the drift tests of generated files call (tests/generated.rs).
#[doc(hidden)]
pub mod generate {
    pub use crate::validate::keys::{splice_reference, SpliceError};
}

/// What the fuzz targets (fuzz/) and the property tests call.
#[doc(hidden)]
pub mod fuzz;

/// Answer a completion script's request and exit; a no-op otherwise. Call
/// it before parsing the command line.
pub fn answer_completion_request() {
    commands::completions::answer_if_asked();
}

/// Run one command; returns the process exit code. Every error is shown
/// and mapped to its code here.
#[allow(clippy::print_stderr, reason = "the one place errors are shown")]
pub fn run(cli: Cli) -> i32 {
    let cx = commands::Context::new(&cli);
    let result = match &cli.command {
        Command::Run(a) => commands::run::run(&cx, a),
        Command::Validate(a) => commands::validate::run(&cx, a),
        Command::Plan(a) => commands::plan::run(&cx, a),
        Command::Graph(a) => commands::graph::run(&cx, a),
        Command::History(a) => commands::history::run(&cx, a),
        Command::Show(a) => commands::show::run(&cx, a),
        Command::Logs(a) => commands::logs::run(&cx, a),
        Command::Report(a) => commands::report::run(&cx, a),
        Command::Resume(a) => commands::resume::run(&cx, a),
        Command::Approve(a) => commands::approve::run(&cx, a, true),
        Command::Reject(a) => commands::approve::run(&cx, a, false),
        Command::Stats(a) => commands::stats::run(&cx, a),
        Command::Metrics(a) => commands::metrics::run(&cx, a),
        Command::Export(c) => commands::export::run(&cx, c),
        Command::Cache(c) => commands::cache::run(&cx, c),
        Command::Services(a) => commands::services::run(&cx, a),
        Command::Secret(c) => commands::secret::run(&cx, c),
        Command::Init(a) => commands::init::run(&cx, a),
        Command::List(a) => commands::list::run(&cx, a),
        Command::Schema { kind } => Ok(commands::schema::run(*kind)),
        Command::Completions { shell } => Ok(commands::completions::completions(*shell)),
        Command::Man { dir } => commands::man::run(dir.as_deref()),
    };
    match result {
        Ok(exit) => exit.code(),
        Err(e) => {
            match &e {
                // A bug in orch, never a user error: say so loudly.
                Error::Internal(what) => eprintln!("orch: internal error: {what}"),
                _ => render::report(e.diags(), &cx.style()),
            }
            e.exit_code()
        }
    }
}
