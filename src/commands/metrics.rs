//! `orch metrics [--workflow W] [--since D] [--serve ADDR]`: the history as
//! Prometheus text exposition, printed once or served on each scrape.

use std::sync::Arc;

use crate::cli::MetricsArgs;
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::history::metrics::MetricsFilter;
use crate::history::store::now_ms;
use crate::history::{Home, Store};
use crate::report::metrics::{exposition, render, Snapshot};
use crate::report::scrape;

use super::history::emit;
use super::Context;

pub(crate) fn run(cx: &Context, args: &MetricsArgs) -> Result<Exit, Error> {
    let home = cx.home()?;
    let since_ms = args
        .since
        .map(|d| now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    let Some(addr) = args.serve else {
        let text = read(&home, args.workflow.as_deref(), since_ms).map_err(Error::environment)?;
        emit(&text)?;
        return Ok(Exit::Success);
    };
    let workflow = args.workflow.clone();
    let since = args.since;
    let render_fn: scrape::Render = Arc::new(move || {
        // `--since` is a window that moves with each scrape.
        let since_ms = since
            .map(|d| now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
        read(&home, workflow.as_deref(), since_ms).map_err(|d| d.to_string())
    });
    let quiet = cx.quiet;
    scrape::serve(
        addr,
        render_fn,
        |bound| {
            if !quiet {
                eprintln!("orch: serving metrics on http://{bound}/metrics (Ctrl-C stops)");
            }
        },
        || async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .map_err(|e| {
        Error::environment(Diag::new(
            "metrics",
            format!("cannot serve metrics on {addr}: {e}"),
        ))
    })?;
    Ok(Exit::Success)
}

/// The exposition; an absent history is one without runs.
fn read(home: &Home, workflow: Option<&str>, since_ms: Option<i64>) -> Result<String, Diag> {
    let filter = MetricsFilter {
        workflow,
        since_ms,
        run_id: None,
    };
    match Store::open_existing(home)? {
        Some(store) => Ok(exposition(&store, &filter)?),
        None => Ok(render(&Snapshot::default())),
    }
}
