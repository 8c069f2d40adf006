//! `orch completions SHELL`, generated from the clap definition so it never
//! drifts (as are the man pages, in [`super::man`]).

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Exit;

pub(crate) fn completions(shell: clap_complete::Shell) -> Exit {
    print!("{}", completion_script(shell));
    Exit::Success
}

pub(crate) fn completion_script(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "orch", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
