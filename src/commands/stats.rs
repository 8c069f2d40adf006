//! `orch stats`.

use crate::cli::StatsArgs;
use crate::diag::Diag;
use crate::exit::{Exit, Invalid};

use super::Context;

pub fn run(_cx: &Context, _args: &StatsArgs) -> Result<Exit, Invalid> {
    Err(Diag::new("not-supported", "`orch stats` is not implemented yet").into())
}
