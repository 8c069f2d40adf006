//! Why a command could not do its job, and the exit code each reason gets:
//! the one place that maps failures to codes (run outcomes are [`Exit`]).

use crate::diag::Diag;
use crate::exit::Exit;

/// Invalid input, or orch's own files unusable: nothing ran.
pub(crate) const INVALID: i32 = 2;

#[derive(Debug)]
pub(crate) enum Error {
    /// The workflow, config, inputs or arguments are wrong: nothing ran.
    Invalid(Vec<Diag>),
    /// orch cannot read or write what it needs before running (`ORCH_HOME`,
    /// the history database, the telemetry log, scratch space): nothing ran.
    Environment(Vec<Diag>),
    /// The run ran, but its record in the history is incomplete.
    Recording(Diag),
    /// A bug in orch, never the user's doing.
    Internal(String),
}

impl Error {
    pub(crate) fn environment(d: impl Into<Diag>) -> Error {
        Error::Environment(vec![d.into()])
    }

    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_) | Error::Environment(_) => INVALID,
            // Steps ran: 2 would claim nothing did. The run did not finish
            // its job (its record is incomplete), so it failed.
            Error::Recording(_) => Exit::RunFailed.code(),
            Error::Internal(_) => Exit::RunFailed.code(),
        }
    }

    /// The diagnostics to show (none for an internal error).
    pub(crate) fn diags(&self) -> &[Diag] {
        match self {
            Error::Invalid(d) | Error::Environment(d) => d,
            Error::Recording(d) => std::slice::from_ref(d),
            Error::Internal(_) => &[],
        }
    }
}

impl From<Diag> for Error {
    fn from(d: Diag) -> Self {
        Error::Invalid(vec![d])
    }
}

impl From<Vec<Diag>> for Error {
    fn from(d: Vec<Diag>) -> Self {
        Error::Invalid(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let d = || Diag::new("x", "y");
        assert_eq!(Error::from(d()).exit_code(), 2);
        assert_eq!(Error::environment(d()).exit_code(), 2);
        assert_eq!(Error::Recording(d()).exit_code(), 1);
        assert_eq!(Error::Internal("bug".into()).exit_code(), 1);
        assert_eq!(Error::Recording(d()).diags().len(), 1);
        assert!(Error::Internal("bug".into()).diags().is_empty());
    }
}
