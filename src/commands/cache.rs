//! `orch cache clear`.

use crate::cli::CacheCommand;
use crate::error::Error;
use crate::exit::Exit;

use super::Context;

pub(crate) fn run(cx: &Context, cmd: &CacheCommand) -> Result<Exit, Error> {
    match cmd {
        CacheCommand::Clear => {
            let n = match crate::history::Store::open_existing(&cx.home()?)? {
                Some(store) => crate::history::cache::clear(&store)?,
                None => 0,
            };
            if !cx.quiet {
                println!(
                    "removed {n} cached step result{}",
                    if n == 1 { "" } else { "s" }
                );
            }
            Ok(Exit::Success)
        }
    }
}
