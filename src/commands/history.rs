//! `orch history`.

use crate::cli::HistoryArgs;
use crate::diag::Diag;
use crate::exit::{Exit, Invalid};

use super::Context;

pub fn run(_cx: &Context, _args: &HistoryArgs) -> Result<Exit, Invalid> {
    Err(Diag::new("not-supported", "`orch history` is not implemented yet").into())
}
