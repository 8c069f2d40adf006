//! `orch secret set|get|rm`: the OS keyring (service `orch`, account NAME).
//! Values are read from stdin (or a no-echo prompt), never from arguments.

use std::io::{IsTerminal, Read};

use crate::cli::SecretCommand;
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::secrets::{self, env_var_name, Origin, SecretError, Secrets};

use super::Context;

pub(crate) fn run(cx: &Context, cmd: &SecretCommand) -> Result<Exit, Error> {
    match cmd {
        SecretCommand::Set { name } => set(cx, name),
        SecretCommand::Get { name, reveal } => get(cx, name, *reveal),
        SecretCommand::Rm { name } => rm(cx, name),
    }
}

fn set(cx: &Context, name: &str) -> Result<Exit, Error> {
    check_name(name)?;
    let value = read_value(name)?;
    secrets::keyring::set(name, &value).map_err(keyring_diag)?;
    if !cx.quiet {
        eprintln!("stored secret `{name}` in the OS keyring");
        if env_has(cx, name) {
            eprintln!(
                "note: {} is set in this environment and takes precedence over the keyring",
                env_var_name(name)
            );
        }
    }
    Ok(Exit::Success)
}

fn get(cx: &Context, name: &str, reveal: bool) -> Result<Exit, Error> {
    check_name(name)?;
    let secrets = Secrets::new(cx.env.all.iter().cloned());
    let (value, origin) = match secrets.get(name) {
        Ok(found) => found,
        Err(e @ SecretError::NotSet { .. }) => {
            crate::render::report(&[Diag::new("secret-not-found", e.to_string())], &cx.style());
            return Ok(Exit::RunFailed);
        }
        Err(e) => return Err(keyring_diag(e).into()),
    };
    let status = match origin {
        Origin::Keyring => format!("`{name}` is set in the OS keyring"),
        Origin::Env => format!(
            "`{name}` is set from {} (the environment takes precedence over the OS keyring)",
            env_var_name(name)
        ),
    };
    if reveal {
        // stdout holds the value alone, so that `$(orch secret get x --reveal)` works.
        if !cx.quiet {
            eprintln!("{status}");
        }
        println!("{value}");
    } else if !cx.quiet {
        println!("{status}");
    }
    Ok(Exit::Success)
}

fn rm(cx: &Context, name: &str) -> Result<Exit, Error> {
    check_name(name)?;
    let removed = secrets::keyring::delete(name).map_err(keyring_diag)?;
    let note = env_has(cx, name).then(|| {
        format!(
            "{} is still set in this environment and still supplies `{name}`",
            env_var_name(name)
        )
    });
    if !removed {
        let d = Diag::new(
            "secret-not-found",
            format!("secret `{name}` is not in the OS keyring: nothing to remove"),
        )
        .maybe_help(note);
        crate::render::report(&[d], &cx.style());
        return Ok(Exit::RunFailed);
    }
    if !cx.quiet {
        eprintln!("removed secret `{name}` from the OS keyring");
        if let Some(n) = note {
            eprintln!("note: {n}");
        }
    }
    Ok(Exit::Success)
}

fn env_has(cx: &Context, name: &str) -> bool {
    Secrets::env_only(cx.env.all.iter().cloned())
        .get(name)
        .is_ok()
}

fn keyring_diag(e: SecretError) -> Diag {
    Diag::new("keyring", e.to_string())
}

/// `[A-Za-z_][A-Za-z0-9_-]*`: usable in `secrets.NAME` and as the tail of
/// an environment variable name.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn check_name(name: &str) -> Result<(), Diag> {
    if valid_name(name) {
        return Ok(());
    }
    Err(Diag::new(
        "secret-name",
        format!("`{name}` is not a valid secret name"),
    )
    .help(
        "a name starts with a letter or `_` and holds only letters, digits, `_` and `-` \
         (it becomes ORCH_SECRET_<NAME>)",
    ))
}

/// The value to store: a no-echo prompt when stdin is a terminal, else all
/// of stdin with one trailing newline removed. Never empty.
fn read_value(name: &str) -> Result<String, Diag> {
    let value = if std::io::stdin().is_terminal() {
        eprint!("value for secret `{name}` (input hidden): ");
        console::Term::stderr().read_secure_line().map_err(|e| {
            Diag::new(
                "io",
                format!("cannot read the value from the terminal: {e}"),
            )
        })?
    } else {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Diag::new("io", format!("cannot read the value from stdin: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Diag::new(
                "secret-value",
                format!("the value for secret `{name}` on stdin is not valid UTF-8"),
            )
        })?;
        strip_one_newline(text)
    };
    if value.is_empty() {
        return Err(Diag::new(
            "secret-value",
            format!("refusing to store an empty value for secret `{name}`"),
        )
        .help(format!(
            "pipe the value in: printf %s \"$VALUE\" | orch secret set {name}"
        )));
    }
    Ok(value)
}

/// Remove one trailing "\n" or "\r\n", so `echo tok | orch secret set x` stores `tok`.
fn strip_one_newline(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "api-token", "_x", "A_B-9", "x--"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "9a", "a b", "a.b", "é", "a=b", "a/b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn strips_one_newline_only() {
        assert_eq!(strip_one_newline("tok\n".into()), "tok");
        assert_eq!(strip_one_newline("tok\r\n".into()), "tok");
        assert_eq!(strip_one_newline("tok\n\n".into()), "tok\n");
        assert_eq!(strip_one_newline("tok".into()), "tok");
        assert_eq!(strip_one_newline("tok\r".into()), "tok\r");
        assert_eq!(strip_one_newline("\n".into()), "");
    }
}
