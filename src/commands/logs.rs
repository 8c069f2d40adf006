//! `orch logs`.

use crate::cli::LogsArgs;
use crate::diag::Diag;
use crate::exit::{Exit, Invalid};

use super::Context;

pub fn run(_cx: &Context, _args: &LogsArgs) -> Result<Exit, Invalid> {
    Err(Diag::new("not-supported", "`orch logs` is not implemented yet").into())
}
