//! `orch show`.

use crate::cli::ShowArgs;
use crate::diag::Diag;
use crate::exit::{Exit, Invalid};

use super::Context;

pub fn run(_cx: &Context, _args: &ShowArgs) -> Result<Exit, Invalid> {
    Err(Diag::new("not-supported", "`orch show` is not implemented yet").into())
}
