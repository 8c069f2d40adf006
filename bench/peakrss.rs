//! peakrss RUNS CMD [ARGS...]: runs CMD RUNS times (stdin/stdout to /dev/null,
//! stderr inherited) and prints the peak RSS in KiB of the largest process in
//! its tree over all runs, or exits 1 if a run fails.
//!
//! Why not measure from Python: on exec, Linux charges the *parent's* RSS
//! high-water mark to the child (fork/vfork share or copy its memory), so every
//! child of a ~14 MiB python3 reports at least ~14 MiB. This launcher is ~2 MiB,
//! the same floor as GNU `/usr/bin/time -f %M`, which reads the same counter.
//!
//! Std only (getrusage declared by hand), so run.sh can build it with `rustc -O`.

use std::os::raw::{c_int, c_long};
use std::process::{exit, Command, Stdio};

/// `struct rusage` on 64-bit Linux: two timevals, then 14 longs, ru_maxrss first.
#[repr(C)]
struct Rusage {
    utime: [c_long; 2],
    stime: [c_long; 2],
    maxrss: c_long,
    rest: [c_long; 13],
}

extern "C" {
    fn getrusage(who: c_int, usage: *mut Rusage) -> c_int;
}
const RUSAGE_CHILDREN: c_int = -1;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = match args.first().map(|s| s.parse()) {
        Some(Ok(n)) if args.len() >= 2 => n,
        _ => {
            eprintln!("usage: peakrss RUNS CMD [ARGS...]");
            exit(2)
        }
    };
    for _ in 0..runs {
        let status = Command::new(&args[1])
            .args(&args[2..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| {
                eprintln!("peakrss: cannot run {}: {e}", args[1]);
                exit(1)
            });
        if !status.success() {
            eprintln!("peakrss: {} failed: {status}", args[1]);
            exit(1);
        }
    }
    // RUSAGE_CHILDREN's maxrss is the largest over every reaped descendant
    // (children fold in their own reaped children), i.e. across all runs.
    let mut ru = Rusage { utime: [0; 2], stime: [0; 2], maxrss: 0, rest: [0; 13] };
    if unsafe { getrusage(RUSAGE_CHILDREN, &mut ru) } != 0 {
        eprintln!("peakrss: getrusage failed");
        exit(1);
    }
    println!("{}", ru.maxrss);
}
