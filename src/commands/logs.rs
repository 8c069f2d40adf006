//! `orch logs RUN [STEP] [--follow] [--compensation]`: a run's step output as recorded in
//! `ORCH_HOME/logs/<run>/<step>.log`. One step's log is printed as it is;
//! without STEP every step's log in step order, each line prefixed
//! `[step] `. `--follow` keeps printing new lines until the run's process
//! ends (its lock is released), then prints the rest and exits.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::LogsArgs;
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::history::{lock, Home, Store};

use super::history::write_stdout;
use super::show::open_store;
use super::Context;

/// How often `--follow` looks for new output.
const POLL: Duration = Duration::from_millis(200);

pub(crate) fn run(cx: &Context, args: &LogsArgs) -> Result<Exit, Error> {
    let home = cx.home()?;
    let store = open_store(&home)?;
    let run = store.resolve_run(&args.run)?;
    let dir = home.run_logs(&run.id);
    match &args.step {
        Some(step) => {
            check_step(&store, &home, &run.id, step)?;
            let path = if args.compensation {
                check_compensation(&store, &run.id, step)?;
                dir.join(format!("{step}.compensate.log"))
            } else {
                dir.join(format!("{step}.log"))
            };
            if args.follow {
                follow(&home, &run.id, || Ok(vec![(None, path.clone())]))?;
            } else if path.exists() || args.compensation {
                copy(&path)?;
            } else {
                no_log_of_its_own(&store, &run.id, &dir, step)?;
            }
        }
        None if args.follow => {
            follow(&home, &run.id, || {
                Ok(log_files(&store, &run.id, &dir)?
                    .into_iter()
                    .map(|(step, path)| (Some(step), path))
                    .collect())
            })?;
        }
        None => {
            for (step, path) in log_files(&store, &run.id, &dir)? {
                let prefix = format!("[{step}] ");
                let file = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(read_error(&path, &e).into()),
                };
                let mut reader = BufReader::new(file);
                let mut line = Vec::new();
                let mut out = Vec::with_capacity(64 * 1024);
                loop {
                    line.clear();
                    let n = reader
                        .read_until(b'\n', &mut line)
                        .map_err(|e| read_error(&path, &e))?;
                    if n == 0 {
                        break;
                    }
                    prefixed(&mut out, &prefix, &line);
                    if out.len() >= 64 * 1024 {
                        if !write_stdout(&out)? {
                            return Ok(Exit::Success);
                        }
                        out.clear();
                    }
                }
                if !write_stdout(&out)? {
                    return Ok(Exit::Success);
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// A step without a log file of its own: a `for_each` step's output is in
/// its items' logs (each printed under a header); a cached step printed
/// nothing in this run (said on stderr, so stdout stays the output).
#[allow(clippy::print_stderr, reason = "a note beside the output, not output")]
fn no_log_of_its_own(store: &Store, run_id: &str, dir: &Path, step: &str) -> Result<(), Error> {
    let rows = store.steps(run_id)?;
    let items: Vec<_> = rows
        .iter()
        .filter(|r| r.parent.as_deref() == Some(step))
        .collect();
    for item in &items {
        let path = dir.join(format!("{}.log", item.step_id));
        if !write_stdout(format!("== {} ==\n", item.step_id).as_bytes())? {
            return Ok(());
        }
        copy(&path)?;
    }
    if items.is_empty() && rows.iter().any(|r| r.step_id == step && r.cached) {
        eprintln!("`{step}` was cached: it printed nothing in run {run_id}");
    }
    Ok(())
}

/// `--compensation` of a step that was never undone is an error, not an
/// empty log.
fn check_compensation(store: &Store, run_id: &str, step: &str) -> Result<(), Error> {
    if store
        .compensations(run_id)?
        .iter()
        .any(|c| c.step_id == step)
    {
        return Ok(());
    }
    Err(Diag::new(
        "history",
        format!("step `{step}` of run {run_id} was not compensated"),
    )
    .help("a step's `compensate:` runs only when the run fails or is cancelled after the step completed")
    .into())
}

fn read_error(path: &Path, e: &std::io::Error) -> Diag {
    Diag::new("history", format!("cannot read {}: {e}", path.display()))
}

/// `[step] line\n`, adding the newline a last unfinished line lacks.
fn prefixed(out: &mut Vec<u8>, prefix: &str, line: &[u8]) {
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(line);
    if !line.ends_with(b"\n") {
        out.push(b'\n');
    }
}

/// A step of the run (or one for_each item of it); anything else is an
/// error naming the closest step.
fn check_step(store: &Store, home: &Home, run_id: &str, step: &str) -> Result<(), Error> {
    let steps = store.steps(run_id)?;
    if steps.iter().any(|s| s.step_id == step) {
        return Ok(());
    }
    // An item that has not started yet, of a run still running.
    if let Some((parent, rest)) = step.split_once('[') {
        let index = rest
            .strip_suffix(']')
            .is_some_and(|i| i.parse::<u32>().is_ok());
        if index && steps.iter().any(|s| s.step_id == parent) && lock::is_live(home, run_id) {
            return Ok(());
        }
    }
    let names: Vec<&str> = steps.iter().map(|s| s.step_id.as_str()).collect();
    let top: Vec<&str> = steps
        .iter()
        .filter(|s| s.parent.is_none())
        .map(|s| s.step_id.as_str())
        .collect();
    let d = Diag::new("history", format!("run {run_id} has no step `{step}`"));
    Err(
        match crate::diag::did_you_mean(step, names.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("steps of this run: {}", top.join(", "))),
        }
        .into(),
    )
}

/// The run's log files: its steps' (in the order of [`Store::steps`]) that
/// exist, then any others in the directory, by name.
fn log_files(store: &Store, run_id: &str, dir: &Path) -> Result<Vec<(String, PathBuf)>, Diag> {
    let mut on_disk: HashMap<String, PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let step = name.strip_suffix(".log")?.to_string();
                Some((step, e.path()))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_error(dir, &e)),
    };
    let mut files = Vec::new();
    for s in store.steps(run_id)? {
        if let Some(path) = on_disk.remove(&s.step_id) {
            files.push((s.step_id, path));
        }
    }
    let mut rest: Vec<(String, PathBuf)> = on_disk.into_iter().collect();
    rest.sort();
    files.extend(rest);
    Ok(files)
}

/// Print a file as it is.
fn copy(path: &Path) -> Result<(), Error> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(read_error(path, &e).into()),
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| read_error(path, &e))?;
        if n == 0 {
            return Ok(());
        }
        if !write_stdout(&buf[..n])? {
            return Ok(());
        }
    }
}

/// A log being followed: where reading got to, and the start of a line
/// whose end has not been written yet.
struct Tail {
    file: Option<File>,
    partial: Vec<u8>,
}

/// Print what the files listed by `files` gain, whole lines at a time,
/// until the run's process is gone; then the rest. `files` is asked again
/// on every poll (new steps start, new logs appear); a `Some` step prefixes
/// its lines with `[step] `.
fn follow(
    home: &Home,
    run_id: &str,
    files: impl Fn() -> Result<Vec<(Option<String>, PathBuf)>, Diag>,
) -> Result<(), Error> {
    let mut tails: HashMap<PathBuf, Tail> = HashMap::new();
    loop {
        // Asked before reading: output written before the process ended is
        // then always read on the last pass.
        let live = lock::is_live(home, run_id);
        let mut out = Vec::new();
        for (step, path) in files()? {
            let tail = tails.entry(path.clone()).or_insert(Tail {
                file: None,
                partial: Vec::new(),
            });
            if tail.file.is_none() {
                match File::open(&path) {
                    Ok(f) => tail.file = Some(f),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(read_error(&path, &e).into()),
                }
            }
            let Some(file) = tail.file.as_mut() else {
                continue;
            };
            file.read_to_end(&mut tail.partial)
                .map_err(|e| read_error(&path, &e))?;
            let whole = if live {
                tail.partial
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1)
            } else {
                tail.partial.len()
            };
            if whole == 0 {
                continue;
            }
            let done: Vec<u8> = tail.partial.drain(..whole).collect();
            match &step {
                Some(step) => {
                    let prefix = format!("[{step}] ");
                    for line in done.split_inclusive(|&b| b == b'\n') {
                        prefixed(&mut out, &prefix, line);
                    }
                }
                None => out.extend_from_slice(&done),
            }
        }
        if !write_stdout(&out)? || !live {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_every_line() {
        let mut out = Vec::new();
        prefixed(&mut out, "[a] ", b"one\n");
        prefixed(&mut out, "[a] ", b"two");
        assert_eq!(out, b"[a] one\n[a] two\n");
    }
}
