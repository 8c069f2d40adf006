//! `orch completions SHELL`: a script that asks orch itself what to
//! complete (clap_complete's dynamic completion), so `orch run NAME` is
//! offered the workflows of the project the shell is in, and flags never
//! drift from the clap definition (nor do the man pages, [`super::man`]).

use clap::CommandFactory;
use clap_complete::engine::{
    ArgValueCompleter, CompletionCandidate, PathCompleter, ValueCompleter,
};
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};

use crate::cli::Cli;
use crate::exit::Exit;

/// The variable the scripts set when they call `orch -- WORDS…`.
const VAR: &str = "COMPLETE";

pub(crate) fn completions(shell: clap_complete::Shell) -> Exit {
    print!("{}", completion_script(shell));
    Exit::Success
}

pub(crate) fn completion_script(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    let written = match adapter(shell) {
        Some(a) => a.write_registration(VAR, "orch", "orch", "orch", &mut buf),
        // A shell clap knows but has no dynamic adapter for: the static script.
        None => {
            clap_complete::generate(shell, &mut Cli::command(), "orch", &mut buf);
            Ok(())
        }
    };
    match written {
        Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
        // Writing into a Vec does not fail.
        Err(e) => format!("# cannot write the completion script: {e}\n"),
    }
}

fn adapter(shell: clap_complete::Shell) -> Option<&'static dyn EnvCompleter> {
    use clap_complete::Shell as S;
    Some(match shell {
        S::Bash => &Bash,
        S::Zsh => &Zsh,
        S::Fish => &Fish,
        S::PowerShell => &Powershell,
        S::Elvish => &Elvish,
        _ => return None,
    })
}

/// When a completion script called (`COMPLETE=SHELL orch -- WORDS…`):
/// print the candidates and exit. Otherwise return at once.
pub(crate) fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(command)
        .var(VAR)
        .completer("orch")
        .complete();
}

/// The clap definition with the completers of workflow arguments.
fn command() -> clap::Command {
    let names = || ArgValueCompleter::new(workflow_candidates);
    let mut cmd = Cli::command();
    // Subcommands' arguments are deferred (see `cli::Command`): build them
    // before adding completers to them.
    cmd.build();
    cmd.mut_subcommand("run", |c| c.mut_arg("file", |a| a.add(names())))
        .mut_subcommand("plan", |c| c.mut_arg("file", |a| a.add(names())))
        .mut_subcommand("validate", |c| c.mut_arg("files", |a| a.add(names())))
        .mut_subcommand("graph", |c| c.mut_arg("file", |a| a.add(names())))
}

/// The names `orch run NAME` takes here, then files.
fn workflow_candidates(current: &std::ffi::OsStr) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    let mut out: Vec<CompletionCandidate> = crate::settings::workflow_names_here()
        .into_iter()
        .filter(|n| n.starts_with(typed.as_ref()))
        .map(|n| CompletionCandidate::new(n).help(Some("workflows/".into())))
        .collect();
    out.extend(PathCompleter::any().complete(current));
    out
}
