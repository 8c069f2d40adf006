//! `orch completions SHELL` and the hidden `orch man`, both generated from
//! the clap definition so they never drift.

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

pub(crate) fn man_page() -> String {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = clap_mangen::Man::new(Cli::command()).render(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

pub(crate) fn man() -> Exit {
    print!("{}", man_page());
    Exit::Success
}
