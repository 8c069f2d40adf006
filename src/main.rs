//! The `orch` binary: parse the command line, run it, exit with its code.

use clap::Parser;

fn main() {
    orch::answer_completion_request();
    let cli = orch::cli::Cli::parse();
    std::process::exit(orch::run(cli));
}
