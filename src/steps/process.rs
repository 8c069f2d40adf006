//! Process groups of `run:` steps seen from outside orch's own wait: the
//! start stamp that tells a group from a later one reusing its id, and
//! stopping the groups a killed orch left running (`orch resume` does,
//! before it runs those steps again).
//!
//! Start stamps are `boot_id:starttime` (Linux: `/proc/sys/kernel/random/boot_id`
//! and field 22 of `/proc/<pid>/stat`, clock ticks since boot). Elsewhere
//! there is no stamp, and a group without one is never signalled.

use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The start stamp of process `pid`; `None` when it is gone or unknown.
pub(crate) fn start_of(pid: i32) -> Option<String> {
    let ticks = proc_stat(pid)?.start;
    Some(format!("{}:{ticks}", boot_id()?))
}

/// The start stamp of our child `pid`, made between the boot-clock
/// readings `forked`: the kernel counts a start time in whole clock ticks
/// (10 ms), so when both readings fall in one tick (by a margin for the
/// two clocks' reading paths), that tick is the start time and `/proc` is
/// not read. Reading `/proc/<pid>/stat` was a tenth of the engine's time
/// per started step; it remains for a start near a tick's edge.
pub(crate) fn start_stamp(pid: i32, forked: (Duration, Duration)) -> Option<String> {
    match tick_between(forked) {
        Some(ticks) => Some(format!("{}:{ticks}", boot_id()?)),
        None => start_of(pid),
    }
}

/// The clock tick both `forked` readings fall in, if they fall in one.
fn tick_between((before, after): (Duration, Duration)) -> Option<u64> {
    const MARGIN: Duration = Duration::from_micros(200);
    let per_tick = tick_nanos()?;
    let tick = |d: Duration| (d.as_nanos() / per_tick) as u64;
    let first = tick(before.checked_sub(MARGIN)?);
    (before <= after && first == tick(after + MARGIN)).then_some(first)
}

/// Nanoseconds in a clock tick (`sysconf(_SC_CLK_TCK)`, 100 a second on
/// every Linux port orch builds for).
#[cfg(target_os = "linux")]
fn tick_nanos() -> Option<u128> {
    static NANOS: std::sync::OnceLock<Option<u128>> = std::sync::OnceLock::new();
    *NANOS.get_or_init(|| {
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
        (hz > 0 && 1_000_000_000 % hz == 0).then(|| 1_000_000_000 / hz as u128)
    })
}

#[cfg(not(target_os = "linux"))]
fn tick_nanos() -> Option<u128> {
    None
}

/// What a process group's leftovers are, as `orch resume` sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftover {
    /// Nothing of the group is running.
    Gone,
    /// The id now belongs to another group (or the machine rebooted).
    Reused,
    /// Processes of the recorded group still run.
    Running,
}

/// Whether group `pgid`, whose leader had start stamp `start`, still runs.
///
/// While the leader lives, its stamp must match exactly. Once it is gone,
/// the members must have started no
/// earlier than it: a reused id needs a new leader with that pid, which
/// started later. A reused group whose new leader has exited as well
/// cannot be told apart; that takes a pid wrap-around onto this very id.
pub(crate) fn leftover(pgid: i32, start: &str) -> Leftover {
    let Some((boot, ticks)) = start.rsplit_once(':') else {
        return Leftover::Reused;
    };
    let (Some(now_boot), Ok(ticks)) = (boot_id(), ticks.parse::<u64>()) else {
        return Leftover::Reused;
    };
    let members = members(pgid);
    if members.is_empty() {
        return Leftover::Gone;
    }
    if boot != now_boot {
        return Leftover::Reused;
    }
    let ours = match members.iter().find(|m| m.pid == pgid) {
        Some(leader) => leader.start == ticks,
        None => members.iter().all(|m| m.start >= ticks),
    };
    if ours {
        Leftover::Running
    } else {
        Leftover::Reused
    }
}

/// SIGTERM to each group, SIGKILL to what is left of them after `grace`,
/// as a cancelled step gets. Returns once no member runs (or 2 s after SIGKILL).
pub(crate) fn stop_groups(pgids: &[i32], grace: Duration) {
    let gone = |within: Duration| {
        let until = Instant::now() + within;
        loop {
            if pgids.iter().all(|&g| members(g).is_empty()) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // ESRCH: it ended on its own in between.
    for &g in pgids {
        let _ = killpg(Pid::from_raw(g), Signal::SIGTERM);
    }
    if gone(grace) {
        return;
    }
    for &g in pgids {
        let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
    }
    gone(Duration::from_secs(2));
}

struct Stat {
    pid: i32,
    /// State letter: `Z` (zombie) and `X` (dead) no longer run.
    state: char,
    pgrp: i32,
    start: u64,
}

/// Read once per process: it is the same for every step.
#[cfg(target_os = "linux")]
fn boot_id() -> Option<String> {
    static ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(id.trim().to_string())
    })
    .clone()
}

#[cfg(not(target_os = "linux"))]
fn boot_id() -> Option<String> {
    None
}

fn proc_stat(pid: i32) -> Option<Stat> {
    use std::io::Read;
    // One read: the line is a few hundred bytes (`comm` is at most 64),
    // and this runs once per started step.
    let mut buf = [0u8; 2048];
    let mut f = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let n = f.read(&mut buf).ok()?;
    parse_stat(pid, std::str::from_utf8(&buf[..n]).ok()?)
}

/// `pid (comm) state ppid pgrp … starttime …`; `comm` may hold spaces
/// and parentheses, so fields are counted from the last `)`.
fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?.chars().next()?;
    let pgrp = f.nth(1)?.parse().ok()?;
    let start = f.nth(16)?.parse().ok()?;
    Some(Stat {
        pid,
        state,
        pgrp,
        start,
    })
}

/// The processes of group `pgid` that still run (zombies excluded: an
/// orphan's zombie waits for whoever adopted it, and holds nothing).
fn members(pgid: i32) -> Vec<Stat> {
    if pgid <= 1 {
        return Vec::new();
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        // No /proc: the group exists or not, members unknown.
        return match killpg(Pid::from_raw(pgid), None) {
            Ok(()) => vec![Stat {
                pid: -1,
                state: 'R',
                pgrp: pgid,
                start: u64::MAX,
            }],
            Err(_) => Vec::new(),
        };
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_stat)
        .filter(|s| s.pgrp == pgid && !matches!(s.state, 'Z' | 'X'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (a) b (c)) S 1 4240 4240 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        let s = parse_stat(4242, line).unwrap();
        assert_eq!((s.state, s.pgrp, s.start), ('S', 4240, 987654));
        assert!(parse_stat(1, "garbage").is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_live_group_is_running_and_a_wrong_stamp_is_reuse() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let stamp = start_of(pgid).unwrap();
        assert_eq!(leftover(pgid, &stamp), Leftover::Running);
        let (boot, ticks) = stamp.rsplit_once(':').unwrap();
        let later = format!("{boot}:{}", ticks.parse::<u64>().unwrap() + 1);
        assert_eq!(leftover(pgid, &later), Leftover::Reused);
        assert_eq!(
            leftover(pgid, &format!("other-boot:{ticks}")),
            Leftover::Reused
        );
        stop_groups(&[pgid], Duration::from_secs(5));
        let _ = child.wait();
        assert_eq!(leftover(pgid, &stamp), Leftover::Gone);
    }

    #[test]
    fn a_tick_is_known_only_when_both_readings_fall_in_it() {
        let ms = Duration::from_millis;
        if tick_nanos() != Some(10_000_000) {
            return; // The cases below are for 100 ticks a second.
        }
        assert_eq!(tick_between((ms(12_341), ms(12_342))), Some(1234));
        // Within the margin of an edge, on either side: not known.
        assert_eq!(tick_between((ms(12_340), ms(12_341))), None);
        assert_eq!(
            tick_between((ms(12_341), Duration::from_micros(12_349_900))),
            None
        );
        assert_eq!(tick_between((ms(12_345), ms(12_355))), None);
        assert_eq!(tick_between((ms(5), ms(4))), None);
        assert_eq!(tick_between((Duration::ZERO, Duration::ZERO)), None);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_stamp_from_the_clock_is_the_one_in_proc() {
        use crate::steps::spawn;
        let mut from_clock = 0;
        for _ in 0..40 {
            let mut c = spawn::spawn(&spawn::Spec {
                program: std::path::Path::new("/bin/sh"),
                argv: &["sh", "-c", "exit 0"],
                env: &[],
                cwd: std::path::Path::new("/"),
            })
            .unwrap();
            // Unreaped, the child keeps its pid and its /proc entry.
            let stamp = start_stamp(c.id(), c.forked());
            assert_eq!(stamp, start_of(c.id()), "pid {}", c.id());
            from_clock += usize::from(tick_between(c.forked()).is_some());
            c.wait().await.unwrap();
        }
        // A start takes well under a millisecond: most fall inside a tick.
        assert!(from_clock >= 20, "only {from_clock} of 40 from the clock");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_group_that_ignores_sigterm_is_killed_after_the_grace() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; sleep 30"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        stop_groups(&[pgid], Duration::from_millis(300));
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(members(pgid).is_empty());
        let _ = child.wait();
    }
}
