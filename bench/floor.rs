//! The "floor": the least work any orchestrator must do to run a workflow of
//! COUNT steps — spawn `sh -c CMD` COUNT times and wait for each, in the
//! given shape. No parsing, no scheduling data structures, no output.
//! Anything an orchestrator measures above this is its own overhead.
//!
//! Usage: floor COUNT CONCURRENCY SHAPE CMD
//!   SHAPE = wide     COUNT independent spawns, at most CONCURRENCY at once
//!         | chain    COUNT spawns, one after another
//!         | diamond  1 root, then COUNT-2 with at most CONCURRENCY at once,
//!                    then 1 sink
//!
//! Std only, so run.sh can build it with a bare `rustc -O`.

use std::process::{exit, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

fn spawn_one(cmd: &str) -> bool {
    match Command::new("sh").arg("-c").arg(cmd).status() {
        Ok(st) => st.success(),
        Err(e) => {
            eprintln!("floor: cannot spawn sh: {e}");
            false
        }
    }
}

/// Runs `count` spawns on `concurrency` worker threads pulling from a shared
/// counter, the cheapest bounded-parallel scheduler there is.
fn run_parallel(count: usize, concurrency: usize, cmd: &str) -> bool {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicBool::new(true));
    let workers: Vec<_> = (0..concurrency.clamp(1, count.max(1)))
        .map(|_| {
            let (next, ok, cmd) = (Arc::clone(&next), Arc::clone(&ok), cmd.to_owned());
            thread::spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    if !spawn_one(&cmd) {
                        ok.store(false, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread panicked");
    }
    ok.load(Ordering::Relaxed)
}

fn run_chain(count: usize, cmd: &str) -> bool {
    // Like a real orchestrator, stop at the first failure: later steps depend on it.
    (0..count).all(|_| spawn_one(cmd))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: floor COUNT CONCURRENCY wide|chain|diamond CMD");
        exit(2);
    }
    let parse = |s: &str, what: &str| -> usize {
        s.parse().unwrap_or_else(|_| {
            eprintln!("floor: {what} must be a non-negative integer, got {s:?}");
            exit(2)
        })
    };
    let count = parse(&args[1], "COUNT");
    let concurrency = parse(&args[2], "CONCURRENCY").max(1);
    let cmd = args[4].as_str();

    let ok = match args[3].as_str() {
        "wide" => run_parallel(count, concurrency, cmd),
        "chain" => run_chain(count, cmd),
        "diamond" => {
            // root, fan-out of the rest but one, sink; degenerate counts shrink gracefully.
            let middle = count.saturating_sub(2);
            (count == 0 || spawn_one(cmd))
                && run_parallel(middle, concurrency, cmd)
                && (count < 2 || spawn_one(cmd))
        }
        other => {
            eprintln!("floor: unknown shape {other:?} (want wide, chain or diamond)");
            exit(2);
        }
    };
    exit(if ok { 0 } else { 1 });
}
