//! `orch cache clear`: the step cache and the HTTP answers kept across runs.

use crate::cli::CacheCommand;
use crate::error::Error;
use crate::exit::Exit;

use super::Context;

pub(crate) fn run(cx: &Context, cmd: &CacheCommand) -> Result<Exit, Error> {
    match cmd {
        CacheCommand::Clear => {
            let (n, h) = match crate::history::Store::open_existing(&cx.home()?)? {
                Some(store) => (
                    crate::history::cache::clear(&store)?,
                    crate::history::http_cache::clear(&store)?,
                ),
                None => (0, 0),
            };
            let s = |n: usize| if n == 1 { "" } else { "s" };
            if !cx.quiet {
                println!(
                    "removed {n} cached step result{} and {h} cached HTTP answer{}",
                    s(n),
                    s(h)
                );
            }
            Ok(Exit::Success)
        }
    }
}
