//! What can go wrong with history, as data; turned into a [`Diag`] (with
//! the help a user can act on) only where it leaves this module.

use std::path::PathBuf;

use super::schema::SchemaError;
use crate::diag::Diag;
use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub(crate) enum HistoryError {
    #[error("cannot find a home directory for orch's data")]
    NoHome,
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create {}: {source}", path.display())]
    CreateFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An SQLite error; `what` says it in words naming no path.
    #[error("the history database {} {what}", path.display())]
    Db { path: PathBuf, what: String },
    /// Not ours, or newer than this orch.
    #[error("the history database {} cannot be used: {source}", path.display())]
    Schema { path: PathBuf, source: SchemaError },
    /// A status column holds text no orch status has.
    #[error(
        "the history database {} holds a status orch does not know: `{text}`",
        path.display()
    )]
    UnknownStatus { path: PathBuf, text: String },
    #[error("no runs recorded yet")]
    NoRuns,
    #[error("no run `{0}`")]
    NoRun(String),
    #[error("`{0}` matches more than one run")]
    AmbiguousRun(String),
}

impl HistoryError {
    fn help(&self) -> &'static str {
        match self {
            HistoryError::NoHome | HistoryError::CreateFile { .. } => {
                "set ORCH_HOME to a directory orch may write"
            }
            HistoryError::CreateDir { .. } => {
                "set ORCH_HOME to a directory orch may write, or fix the permissions"
            }
            HistoryError::Db { .. } => {
                "orch leaves a database it cannot use untouched; move it aside or point \
                 ORCH_HOME elsewhere"
            }
            HistoryError::Schema { .. } => {
                "orch leaves it untouched; move it aside or point ORCH_HOME elsewhere"
            }
            HistoryError::UnknownStatus { .. } => {
                "it may have been written by a newer orch; orch leaves it untouched"
            }
            HistoryError::NoRuns => "runs are recorded by `orch run`",
            HistoryError::NoRun(_) => "`orch history` lists runs; `last` is the newest",
            HistoryError::AmbiguousRun(_) => "give more characters of the id",
        }
    }
}

impl From<HistoryError> for Diag {
    fn from(e: HistoryError) -> Diag {
        let help = e.help();
        Diag::new("history", e.to_string()).help(help)
    }
}

impl From<HistoryError> for Error {
    /// Naming a run that is not there is the user's mistake; the rest is
    /// orch's own files being unusable.
    fn from(e: HistoryError) -> Error {
        let user = matches!(
            e,
            HistoryError::NoRuns | HistoryError::NoRun(_) | HistoryError::AmbiguousRun(_)
        );
        let d = Diag::from(e);
        if user {
            Error::from(d)
        } else {
            Error::environment(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_keep_their_words() {
        let d = Diag::from(HistoryError::NoRun("zzzz".into()));
        assert_eq!(d.code, "history");
        assert_eq!(d.message, "no run `zzzz`");
        assert_eq!(
            d.help.as_deref(),
            Some("`orch history` lists runs; `last` is the newest")
        );
        let d = Diag::from(HistoryError::Db {
            path: "/h/history.db".into(),
            what: "is corrupt".into(),
        });
        assert_eq!(d.message, "the history database /h/history.db is corrupt");
        assert_eq!(
            d.help.as_deref(),
            Some(
                "orch leaves a database it cannot use untouched; move it aside or point \
                 ORCH_HOME elsewhere"
            )
        );
    }
}
