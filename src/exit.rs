//! The exit codes of commands that did their job: a run's outcome. Why a
//! command could not do it, and that code, is [`crate::error::Error`].

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Success = 0,
    RunFailed = 1,
    Waiting = 3,
    Cancelled = 130,
}

impl Exit {
    /// Every outcome, for the man page's EXIT STATUS.
    pub(crate) const ALL: [Exit; 4] = [
        Exit::Success,
        Exit::RunFailed,
        Exit::Waiting,
        Exit::Cancelled,
    ];

    pub(crate) fn code(self) -> i32 {
        self as i32
    }

    /// What the code tells a script (the man page's EXIT STATUS).
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Exit::Success => {
                "the run succeeded (or the files are valid, or the command did its job)"
            }
            Exit::RunFailed => {
                "the run failed, or it ran but could not be recorded (the history is incomplete)"
            }
            Exit::Waiting => "the run is waiting for an approval (orch approve, then orch resume)",
            Exit::Cancelled => "cancelled (Ctrl-C or SIGTERM)",
        }
    }
}
