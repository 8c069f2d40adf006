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
    pub(crate) fn code(self) -> i32 {
        self as i32
    }
}
