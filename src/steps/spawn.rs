//! Starting a step's process: `posix_spawn` over an environment converted
//! once per orch process, waited on through a pidfd.
//!
//! std's `Command` copies orch's whole environment into a map and back into
//! C strings on every spawn that sets one variable — most of orch's own cost
//! per `run:` step. Here orch's environment (less the `ORCH_SECRET_*`
//! variables a step never inherits) becomes C strings once, and a step's
//! variables are laid over it. The rest is what std does: a new process
//! group, SIGPIPE back to its default, an empty signal mask, stdin from
//! /dev/null, stdout and stderr into pipes, the working directory set in the
//! child.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::time::Duration;

use nix::libc;
use tokio::net::unix::pipe::Receiver;

/// What to start. `argv[0]` is what the program sees as its name.
pub(crate) struct Spec<'a> {
    /// The program's path (looked up already: no `PATH` search here).
    pub(crate) program: &'a Path,
    pub(crate) argv: &'a [&'a str],
    /// Laid over orch's environment; a later entry wins over an earlier one.
    pub(crate) env: &'a [(String, String)],
    pub(crate) cwd: &'a Path,
}

/// A started process. It leads its own process group (its pid is the
/// group's id). Dropped before [`Child::wait`] returned, it is reaped in the
/// background so that no zombie is left.
pub(crate) struct Child {
    pid: libc::pid_t,
    /// `CLOCK_BOOTTIME` just before and just after the process was made:
    /// its start time lies between (see `process::start_stamp`).
    forked: (Duration, Duration),
    waiter: Option<Waiter>,
    pub(crate) stdout: Option<Receiver>,
    pub(crate) stderr: Option<Receiver>,
}

enum Waiter {
    /// Readable once the process has exited (Linux 5.3 and later).
    #[cfg(target_os = "linux")]
    Pidfd(tokio::io::unix::AsyncFd<OwnedFd>),
    /// A blocking `waitpid` on the blocking pool, where there is no pidfd.
    Thread(tokio::sync::oneshot::Receiver<io::Result<ExitStatus>>),
}

/// orch's environment less `ORCH_SECRET_*`, as `NAME=value` C strings, and
/// where each name is. Read once: orch never changes its own environment.
struct BaseEnv {
    entries: Vec<CString>,
    index: HashMap<Box<[u8]>, usize>,
}

fn base_env() -> &'static BaseEnv {
    static BASE: OnceLock<BaseEnv> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut entries = Vec::new();
        let mut index = HashMap::new();
        for (k, v) in std::env::vars_os() {
            let k = k.as_bytes();
            if k.starts_with(b"ORCH_SECRET_") {
                continue;
            }
            // The environment holds no NUL bytes: it came to us as C strings.
            let Ok(entry) = CString::new([k, b"=", v.as_bytes()].concat()) else {
                continue;
            };
            index.insert(Box::from(k), entries.len());
            entries.push(entry);
        }
        BaseEnv { entries, index }
    })
}

fn c_string(what: &str, s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

/// The step's environment: orch's, with `env` over it.
fn envp(env: &[(String, String)]) -> io::Result<(Vec<CString>, Vec<*mut libc::c_char>)> {
    let base = base_env();
    let mut own: Vec<CString> = Vec::with_capacity(env.len());
    let mut hidden = vec![false; base.entries.len()];
    let mut seen: Vec<&str> = Vec::with_capacity(env.len());
    // From the end: the last value of a name is the one that counts.
    for (k, v) in env.iter().rev() {
        if seen.contains(&k.as_str()) {
            continue;
        }
        seen.push(k);
        if let Some(&i) = base.index.get(k.as_bytes()) {
            hidden[i] = true;
        }
        let entry = [k.as_bytes(), b"=", v.as_bytes()].concat();
        own.push(CString::new(entry).map_err(|_| {
            let what = format!("environment variable `{k}`");
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{what} contains a NUL byte"),
            )
        })?);
    }
    let mut ptrs: Vec<*mut libc::c_char> = Vec::with_capacity(base.entries.len() + own.len() + 1);
    ptrs.extend(
        base.entries
            .iter()
            .zip(&hidden)
            .filter(|(_, h)| !**h)
            .map(|(e, _)| e.as_ptr().cast_mut()),
    );
    ptrs.extend(own.iter().map(|e| e.as_ptr().cast_mut()));
    ptrs.push(std::ptr::null_mut());
    Ok((own, ptrs))
}

/// /dev/null for every step's stdin, opened once.
fn dev_null() -> io::Result<RawFd> {
    static NULL: OnceLock<Result<OwnedFd, i32>> = OnceLock::new();
    let got = NULL.get_or_init(|| {
        std::fs::File::open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    });
    match got {
        Ok(fd) => Ok(fd.as_raw_fd()),
        Err(code) => Err(io::Error::from_raw_os_error(*code)),
    }
}

/// A pipe whose read end orch keeps (non-blocking, close-on-exec) and whose
/// write end becomes the child's stdout or stderr.
fn pipe() -> io::Result<(Receiver, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    nix::fcntl::fcntl(
        &r,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(io::Error::from)?;
    Ok((Receiver::from_owned_fd_unchecked(r)?, w))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// posix_spawn's two argument objects, destroyed however spawning ends.
struct Actions(libc::posix_spawn_file_actions_t);
impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: initialised in `spawn` before an `Actions` is made.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}
struct Attr(libc::posix_spawnattr_t);
impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in `spawn` before an `Attr` is made.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// Start `spec`. Must be called within a tokio runtime (the pipes and the
/// pidfd register with its reactor).
pub(crate) fn spawn(spec: &Spec<'_>) -> io::Result<Child> {
    let program = c_string("the program's path", spec.program.as_os_str().as_bytes())?;
    let cwd = c_string("the working directory", spec.cwd.as_os_str().as_bytes())?;
    let args: Vec<CString> = spec
        .argv
        .iter()
        .map(|a| c_string("an argument", a.as_bytes()))
        .collect::<io::Result<_>>()?;
    let mut argv: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv.push(std::ptr::null_mut());
    let (_own, envp) = envp(spec.env)?;
    let null = dev_null()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;

    let before;
    // SAFETY: the objects are initialised before use and destroyed by their
    // guards; every pointer handed to posix_spawn (program, argv, envp and
    // what they point to, cwd) lives until it returns. The child gets copies
    // of the file descriptors by dup2; orch's ends are close-on-exec.
    let pid = unsafe {
        let mut fa = std::mem::MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
        check(libc::posix_spawn_file_actions_init(fa.as_mut_ptr()))?;
        let mut fa = Actions(fa.assume_init());
        check(libc::posix_spawn_file_actions_adddup2(&mut fa.0, null, 0))?;
        check(libc::posix_spawn_file_actions_adddup2(
            &mut fa.0,
            out_w.as_raw_fd(),
            1,
        ))?;
        check(libc::posix_spawn_file_actions_adddup2(
            &mut fa.0,
            err_w.as_raw_fd(),
            2,
        ))?;
        check(libc::posix_spawn_file_actions_addchdir_np(
            &mut fa.0,
            cwd.as_ptr(),
        ))?;

        let mut at = std::mem::MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        check(libc::posix_spawnattr_init(at.as_mut_ptr()))?;
        let mut at = Attr(at.assume_init());
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        let mut set = set.assume_init();
        check(libc::posix_spawnattr_setsigmask(&mut at.0, &set))?;
        // Rust ignores SIGPIPE; a program expects its default.
        libc::sigaddset(&mut set, libc::SIGPIPE);
        check(libc::posix_spawnattr_setsigdefault(&mut at.0, &set))?;
        check(libc::posix_spawnattr_setpgroup(&mut at.0, 0))?;
        let flags = libc::POSIX_SPAWN_SETPGROUP
            | libc::POSIX_SPAWN_SETSIGMASK
            | libc::POSIX_SPAWN_SETSIGDEF;
        check(libc::posix_spawnattr_setflags(&mut at.0, flags as _))?;

        let mut pid: libc::pid_t = 0;
        before = boot_time();
        check(libc::posix_spawn(
            &mut pid,
            program.as_ptr(),
            &fa.0,
            &at.0,
            argv.as_ptr(),
            envp.as_ptr(),
        ))?;
        pid
    };
    let forked = (before, boot_time());
    drop((out_w, err_w));
    Ok(Child {
        pid,
        forked,
        waiter: Some(waiter(pid)),
        stdout: Some(out_r),
        stderr: Some(err_r),
    })
}

fn waiter(pid: libc::pid_t) -> Waiter {
    #[cfg(target_os = "linux")]
    if let Some(fd) = pidfd(pid) {
        let interest = tokio::io::Interest::READABLE;
        // SAFETY: the OwnedFd keeps the descriptor open, and the same, for
        // as long as the AsyncFd that owns it.
        if let Ok(fd) = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, interest) } {
            return Waiter::Pidfd(fd);
        }
        // No room in the reactor: wait on a thread instead.
    }
    Waiter::Thread(wait_on_thread(pid))
}

#[cfg(target_os = "linux")]
fn pidfd(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; the pid is our unreaped child, so it cannot have been reused.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // ENOSYS before Linux 5.3, EPERM under some sandboxes: wait on a thread.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn wait_on_thread(pid: libc::pid_t) -> tokio::sync::oneshot::Receiver<io::Result<ExitStatus>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own rather than the blocking pool, whose end a
    // runtime's shutdown would wait for.
    std::thread::spawn(move || {
        let got = waitpid(pid, 0)
            .and_then(|s| s.ok_or_else(|| io::Error::other("waitpid returned no status")));
        let _ = tx.send(got);
    });
    rx
}

/// `waitpid(pid)`: the status, or `None` when `WNOHANG` finds it running.
fn waitpid(pid: libc::pid_t, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid writes the status into a valid c_int.
        let rc = unsafe { libc::waitpid(pid, &mut status, flags) };
        match rc {
            0 => return Ok(None),
            r if r == pid => return Ok(Some(ExitStatus::from_raw(status))),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Time since boot, suspend included: the clock a process's start time in
/// `/proc/<pid>/stat` is counted on. Zero where there is none.
fn boot_time() -> Duration {
    #[cfg(target_os = "linux")]
    if let Ok(t) = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME) {
        return Duration::from(t);
    }
    Duration::ZERO
}

impl Child {
    /// The process's (and its group's) id.
    pub(crate) fn id(&self) -> i32 {
        self.pid
    }

    /// Boot-clock readings just before and just after the process was made.
    pub(crate) fn forked(&self) -> (Duration, Duration) {
        self.forked
    }

    /// Wait for the process to end. Cancel-safe: dropping the future and
    /// calling again waits on.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = match self.waiter.as_mut() {
            None => return Err(io::Error::other("the process was already waited for")),
            #[cfg(target_os = "linux")]
            Some(Waiter::Pidfd(fd)) => loop {
                let mut ready = fd.readable().await?;
                match waitpid(self.pid, libc::WNOHANG)? {
                    Some(status) => break status,
                    None => ready.clear_ready(),
                }
            },
            Some(Waiter::Thread(rx)) => match rx.await {
                Ok(r) => r?,
                Err(_) => return Err(io::Error::other("the process's waiter went away")),
            },
        };
        self.waiter = None;
        Ok(status)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        match self.waiter.take() {
            None => {}
            // The thread reaps it.
            Some(Waiter::Thread(_)) => {}
            #[cfg(target_os = "linux")]
            Some(Waiter::Pidfd(_)) => {
                let pid = self.pid;
                if !matches!(waitpid(pid, libc::WNOHANG), Ok(Some(_))) {
                    std::thread::spawn(move || waitpid(pid, 0));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn sh(script: &str, env: &[(String, String)]) -> io::Result<Child> {
        spawn(&Spec {
            program: Path::new("/bin/sh"),
            argv: &["sh", "-c", script],
            env,
            cwd: Path::new("/"),
        })
    }

    async fn stdout_of(child: &mut Child) -> String {
        let mut s = String::new();
        if let Some(mut r) = child.stdout.take() {
            r.read_to_string(&mut s).await.unwrap();
        }
        s
    }

    fn var(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[tokio::test]
    async fn env_is_laid_over_orchs_and_the_last_value_wins() {
        let env = [var("X", "1"), var("PATH", "/bin:/usr/bin"), var("X", "2")];
        let mut c = sh(r#"printf '%s|%s|%s' "$PATH" "$X" "$(pwd)""#, &env).unwrap();
        let out = stdout_of(&mut c).await;
        assert!(c.wait().await.unwrap().success());
        assert_eq!(out, "/bin:/usr/bin|2|/");
        // orch's own variables are there too (HOME is set wherever tests run).
        let mut c = sh(r#"printf '%s' "${HOME:-unset}""#, &[]).unwrap();
        let home = std::env::var("HOME").unwrap_or_else(|_| "unset".into());
        assert_eq!(stdout_of(&mut c).await, home);
        c.wait().await.unwrap();
    }

    #[tokio::test]
    async fn exit_codes_signals_and_the_process_group() {
        let mut c = sh("exit 7", &[]).unwrap();
        assert_eq!(c.wait().await.unwrap().code(), Some(7));
        let mut c = sh("kill -TERM $$", &[]).unwrap();
        assert_eq!(c.wait().await.unwrap().signal(), Some(libc::SIGTERM));
        let mut c = sh("sleep 5", &[]).unwrap();
        let pgid = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(c.id()))).unwrap();
        assert_eq!(pgid.as_raw(), c.id(), "the child leads its own group");
        nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL).unwrap();
        assert_eq!(c.wait().await.unwrap().signal(), Some(libc::SIGKILL));
        assert!(c.wait().await.is_err(), "a second wait says so");
    }

    #[tokio::test]
    async fn stdin_is_empty_sigpipe_is_default_and_no_signal_is_blocked() {
        // The step's own process reads its masks (`exec`, no fork): a
        // shell blocks every signal for a moment while it forks, so a
        // child reading its parent's status could catch that moment.
        let mut c = sh("cat; exec grep -E '^Sig(Ign|Blk)' /proc/self/status", &[]).unwrap();
        let out = stdout_of(&mut c).await;
        assert!(c.wait().await.unwrap().success());
        let mask = |name: &str| {
            let line = out.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        // orch (as every Rust program) ignores SIGPIPE; its steps must not.
        assert_eq!(mask("SigIgn:") & (1 << (libc::SIGPIPE - 1)), 0, "{out}");
        assert_eq!(mask("SigBlk:"), 0, "{out}");
    }

    #[tokio::test]
    async fn the_thread_waiter_gives_the_same_status() {
        let mut c = sh("exit 3", &[]).unwrap();
        c.waiter = Some(Waiter::Thread(wait_on_thread(c.id())));
        assert_eq!(c.wait().await.unwrap().code(), Some(3));
    }

    #[tokio::test]
    async fn a_child_dropped_unwaited_is_reaped() {
        let c = sh("sleep 0.1", &[]).unwrap();
        let pid = c.id();
        drop(c);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{pid} was never reaped"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn bad_input_is_an_error_not_a_panic() {
        let e = sh("true", &[var("A", "x\0y")]).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("`A`"), "{e}");
        let e = spawn(&Spec {
            program: Path::new("/nonexistent/prog"),
            argv: &["prog"],
            env: &[],
            cwd: Path::new("/"),
        })
        .err()
        .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = spawn(&Spec {
            program: Path::new("/bin/sh"),
            argv: &["sh"],
            env: &[],
            cwd: Path::new("/nonexistent/dir"),
        })
        .err()
        .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
