//! The documented exit codes, in one place.

use crate::diag::Diag;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    RunFailed = 1,
    Invalid = 2,
    Waiting = 3,
    Cancelled = 130,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Why a command could not do its job before anything ran: always exit 2.
#[derive(Debug)]
pub struct Invalid(pub Vec<Diag>);

impl From<Diag> for Invalid {
    fn from(d: Diag) -> Self {
        Invalid(vec![d])
    }
}

impl From<Vec<Diag>> for Invalid {
    fn from(d: Vec<Diag>) -> Self {
        Invalid(d)
    }
}
