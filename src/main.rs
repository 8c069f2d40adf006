//! The `orch` binary: parse the command line, run it, exit with its code.

use clap::Parser;

fn main() {
    let cli = orch::cli::Cli::parse();
    std::process::exit(orch::run(cli));
}
