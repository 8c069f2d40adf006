//! The `orch` binary: parse the command line, run it, exit with its code.

use clap::{CommandFactory, FromArgMatches};

fn main() {
    orch::answer_completion_request();
    // `Cli::parse()`, but the command tree (every subcommand and argument)
    // is left to the process's exit: freeing it cost a fifth as much as
    // parsing did.
    let mut cmd = orch::cli::Cli::command();
    let cli = cmd
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut m| orch::cli::Cli::from_arg_matches_mut(&mut m))
        .unwrap_or_else(|e| e.format(&mut cmd).exit());
    std::mem::forget(cmd);
    std::process::exit(orch::run(cli));
}

/// The binary's only: the library and its tests keep the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
