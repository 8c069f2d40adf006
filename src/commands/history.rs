//! `orch history`: recorded runs, newest first, as a table or JSON; and
//! `orch history prune`: delete old runs with their logs.
//!
//! Also the small formatting helpers `show` and `stats` share: times,
//! durations, aligned tables, writing to stdout.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use crate::cli::{HistoryArgs, HistoryCommand, RunStatusArg};
use crate::diag::Diag;
use crate::error::Error;
use crate::event::Status;
use crate::exit::Exit;
use crate::history::query::{self, ListedRun, RunFilter};
use crate::history::store::now_ms;
use crate::history::{lock, Home, ShownStatus, Store};

use super::Context;

pub(crate) fn run(cx: &Context, args: &HistoryArgs) -> Result<Exit, Error> {
    if let Some(HistoryCommand::Prune {
        older_than,
        dry_run,
    }) = &args.command
    {
        return prune(cx, *older_than, *dry_run);
    }
    let home = cx.home()?;
    let Some(store) = Store::open_existing(&home)? else {
        if args.json {
            emit("[]\n")?;
        } else if !cx.quiet {
            eprintln!("no runs recorded yet");
        }
        return Ok(Exit::Success);
    };
    let filter = RunFilter {
        workflow: args.workflow.as_deref(),
        status: args.status.map(status_filter),
        created_since: args.since.map(ago),
        limit: args.limit,
        top_level: args.no_children,
    };
    let runs = query::list_runs(&store, &filter, |id| lock::is_live(&home, id))?;
    if args.json {
        let rows: Vec<RunJson<'_>> = runs.iter().map(RunJson::from).collect();
        emit(&format!("{}\n", to_json(&rows)?))?;
        return Ok(Exit::Success);
    }
    if runs.is_empty() {
        if !cx.quiet {
            eprintln!("no runs match");
        }
        return Ok(Exit::Success);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.run.id.clone(),
                r.run.workflow.clone(),
                r.shown_status.to_string(),
                time_text(Some(r.run.started_at.unwrap_or(r.run.created_at))),
                duration_text(r.run.duration_ms),
            ]
        })
        .collect();
    emit(&table(
        &["ID", "WORKFLOW", "STATUS", "STARTED", "DURATION"],
        &rows,
    ))?;
    Ok(Exit::Success)
}

/// Unix ms of `d` ago.
fn ago(d: Duration) -> i64 {
    now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn status_filter(s: RunStatusArg) -> ShownStatus {
    let recorded = match s {
        RunStatusArg::Pending => Status::Pending,
        RunStatusArg::Running => Status::Running,
        RunStatusArg::Waiting => Status::Waiting,
        RunStatusArg::Succeeded => Status::Succeeded,
        RunStatusArg::Failed => Status::Failed,
        RunStatusArg::Cancelled => Status::Cancelled,
        RunStatusArg::Interrupted => return ShownStatus::Interrupted,
    };
    ShownStatus::Recorded(recorded)
}

/// One element of `orch history --json` (a documented format).
#[derive(Serialize)]
struct RunJson<'a> {
    id: &'a str,
    workflow: &'a str,
    status: &'a str,
    started_at: Option<String>,
    finished_at: Option<String>,
    duration_ms: Option<i64>,
    parent_run_id: Option<&'a str>,
}

impl<'a> From<&'a ListedRun> for RunJson<'a> {
    fn from(r: &'a ListedRun) -> Self {
        RunJson {
            id: &r.run.id,
            workflow: &r.run.workflow,
            status: r.shown_status.as_str(),
            started_at: rfc3339(r.run.started_at),
            finished_at: rfc3339(r.run.finished_at),
            duration_ms: r.run.duration_ms,
            parent_run_id: r.run.parent_run_id.as_deref(),
        }
    }
}

fn prune(cx: &Context, older_than: Duration, dry_run: bool) -> Result<Exit, Error> {
    let home = cx.home()?;
    let Some(mut store) = Store::open_existing(&home)? else {
        if !cx.quiet {
            emit(if dry_run {
                "would delete 0 runs\n"
            } else {
                "deleted 0 runs\n"
            })?;
        }
        return Ok(Exit::Success);
    };
    let before = ago(older_than);
    let pruned = query::prune(&mut store, before, dry_run, |id| lock::is_live(&home, id))?;
    drop(store);
    let mut problems = Vec::new();
    if !dry_run {
        for r in &pruned.deleted {
            problems.extend(remove_files(&home, &r.id));
        }
    }
    if !cx.quiet {
        let n = pruned.deleted.len();
        let mut out = format!(
            "{} {n} run{}\n",
            if dry_run { "would delete" } else { "deleted" },
            if n == 1 { "" } else { "s" }
        );
        if cx.verbose > 0 {
            for r in &pruned.deleted {
                out.push_str(&format!(
                    "  {}  {}  {}  {}\n",
                    r.id,
                    r.workflow,
                    ShownStatus::of_run(r.status, || false),
                    time_text(Some(r.started_at.unwrap_or(r.created_at)))
                ));
            }
        }
        emit(&out)?;
        if !pruned.live.is_empty() {
            let n = pruned.live.len();
            eprintln!(
                "kept {n} old run{} still running: {}",
                if n == 1 { "" } else { "s" },
                pruned
                    .live
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for p in &problems {
        eprintln!("warning: {p}");
    }
    Ok(Exit::Success)
}

/// Remove a deleted run's log directory and lock file; what could not be
/// removed, in words.
fn remove_files(home: &Home, run_id: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let logs = home.run_logs(run_id);
    match std::fs::remove_dir_all(&logs) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            problems.push(format!("cannot remove {}: {e}", logs.display()));
        }
        _ => {}
    }
    let lock = home.lock_path(run_id);
    match std::fs::remove_file(&lock) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            problems.push(format!("cannot remove {}: {e}", lock.display()));
        }
        _ => {}
    }
    problems
}

// ------------------------------------------------ shared with show, stats

/// A time as RFC 3339 with milliseconds (UTC), for JSON.
pub(super) fn rfc3339(ms: Option<i64>) -> Option<String> {
    let ms = u64::try_from(ms?).ok()?;
    Some(humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string())
}

/// A time for people: `2026-11-21 20:39:30` (UTC), `-` when unknown.
pub(super) fn time_text(ms: Option<i64>) -> String {
    let Some(ms) = ms.and_then(|m| u64::try_from(m).ok()) else {
        return "-".to_string();
    };
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms))
        .to_string()
        .trim_end_matches('Z')
        .replacen('T', " ", 1)
}

/// A duration for people: `820ms`, `3.2s`, `2m05s`; `-` when unknown.
pub(super) fn duration_text(ms: Option<i64>) -> String {
    match ms.and_then(|m| u64::try_from(m).ok()) {
        Some(ms) => crate::report::short_duration(Duration::from_millis(ms)),
        None => "-".to_string(),
    }
}

/// Columns separated by two spaces, left-aligned; no trailing spaces.
pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|h| console::measure_text_width(h))
        .collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(console::measure_text_width(cell));
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = w.saturating_sub(console::measure_text_width(cell));
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One line of free text (an error message) for a table cell.
pub(super) fn one_line(s: &str) -> String {
    let mut lines = s.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("").trim().to_string();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first
    }
}

pub(super) fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, Error> {
    serde_json::to_string_pretty(v)
        .map_err(|e| Diag::new("internal", format!("cannot write JSON: {e}")).into())
}

/// Write data to stdout. A closed pipe (`orch history | head`) is not an
/// error: the reader has what it wanted.
pub(super) fn emit(text: &str) -> Result<(), Error> {
    write_stdout(text.as_bytes()).map(drop)
}

/// Write to stdout; `false` when the reader has gone away.
pub(super) fn write_stdout(bytes: &[u8]) -> Result<bool, Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Diag::new("io", format!("cannot write to stdout: {e}")).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_durations() {
        assert_eq!(time_text(Some(1_795_293_650_462)), "2026-11-21 20:40:50");
        assert_eq!(time_text(None), "-");
        assert_eq!(
            rfc3339(Some(1_795_293_650_462)).as_deref(),
            Some("2026-11-21T20:40:50.462Z")
        );
        assert_eq!(rfc3339(None), None);
        assert_eq!(duration_text(Some(1_234)), "1.2s");
        assert_eq!(duration_text(Some(184_000)), "3m04s");
        assert_eq!(duration_text(None), "-");
    }

    #[test]
    fn tables_align_without_trailing_spaces() {
        let t = table(
            &["A", "LONGER", "C"],
            &[
                vec!["xx".into(), "y".into(), "".into()],
                vec!["x".into(), "yyyyyyy".into(), "z".into()],
            ],
        );
        assert_eq!(t, "A   LONGER   C\nxx  y\nx   yyyyyyy  z\n");
    }

    #[test]
    fn one_line_of_an_error() {
        assert_eq!(one_line("boom"), "boom");
        assert_eq!(one_line("boom\n  at here\n"), "boom …");
        assert_eq!(one_line(""), "");
    }
}
