//! Ctrl-C and SIGTERM during a run: the first stops it gracefully (running
//! steps get SIGTERM, then SIGKILL after the grace period), a second one
//! stops it at once.

use crate::exec::{CancelLevel, Canceller};

/// Watch for signals until the run's runtime ends; `hint` says on stderr
/// what the first one does.
pub(crate) async fn watch(canceller: Canceller, hint: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        escalate(&canceller, hint);
    }
}

/// One signal's worth of cancelling.
#[allow(
    clippy::print_stderr,
    reason = "the one hint a user needs while a run stops"
)]
fn escalate(canceller: &Canceller, hint: bool) {
    if canceller.level() == CancelLevel::None {
        canceller.raise(CancelLevel::Graceful);
        if hint {
            eprintln!("cancelling: stopping running steps (press Ctrl-C again to stop at once)");
        }
    } else {
        canceller.raise(CancelLevel::Immediate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_signal_is_graceful_the_second_immediate() {
        let (canceller, watch) = crate::exec::cancel::channel();
        escalate(&canceller, false);
        assert_eq!(watch.level(), CancelLevel::Graceful);
        escalate(&canceller, false);
        assert_eq!(watch.level(), CancelLevel::Immediate);
        escalate(&canceller, false);
        assert_eq!(watch.level(), CancelLevel::Immediate);
    }
}
