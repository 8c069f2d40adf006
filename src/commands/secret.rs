//! `orch secret set|get|rm`.

use crate::cli::SecretCommand;
use crate::diag::Diag;
use crate::exit::{Exit, Invalid};

use super::Context;

pub fn run(_cx: &Context, _cmd: &SecretCommand) -> Result<Exit, Invalid> {
    Err(Diag::new("not-supported", "`orch secret` is not implemented yet").into())
}
