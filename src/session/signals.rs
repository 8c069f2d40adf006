//! Ctrl-C and SIGTERM during a run: the first stops it gracefully (running
//! steps get SIGTERM, then SIGKILL after the grace period), a second one
//! stops it at once.

use std::sync::Arc;

use crate::exec::{CancelLevel, Canceller};
use crate::report::Reporter;

/// Watch for signals until the run's runtime ends; `hint`, when given, is
/// told what the first one does (the live view shows it above its bars).
pub(crate) async fn watch(canceller: Canceller, hint: Option<Arc<dyn Reporter>>) {
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
        escalate(&canceller, hint.as_deref());
    }
}

/// What the first signal prints.
const HINT: &str = "cancelling: stopping running steps (press Ctrl-C again to stop at once)";

/// One signal's worth of cancelling.
fn escalate(canceller: &Canceller, hint: Option<&dyn Reporter>) {
    if canceller.level() == CancelLevel::None {
        canceller.raise(CancelLevel::Graceful);
        if let Some(r) = hint {
            r.notice(HINT);
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
        escalate(&canceller, None);
        assert_eq!(watch.level(), CancelLevel::Graceful);
        escalate(&canceller, None);
        assert_eq!(watch.level(), CancelLevel::Immediate);
        escalate(&canceller, None);
        assert_eq!(watch.level(), CancelLevel::Immediate);
    }
}
