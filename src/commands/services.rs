//! `orch services [check]`.

use crate::cli::ServicesArgs;
use crate::diag::Diag;
use crate::exit::{Exit, Invalid};

use super::Context;

pub fn run(_cx: &Context, _args: &ServicesArgs) -> Result<Exit, Invalid> {
    Err(Diag::new("not-supported", "`orch services` is not implemented yet").into())
}
