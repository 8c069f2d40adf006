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

    #[derive(Default)]
    struct Notes(std::sync::Mutex<Vec<String>>);

    impl crate::event::Sink for Notes {
        fn event(&self, _ev: &crate::event::Event) {}
    }

    impl Reporter for Notes {
        fn summary(&self, _outcome: &crate::event::RunSummary) {}
        fn notice(&self, text: &str) {
            self.0.lock().unwrap().push(text.to_string());
        }
    }

    #[test]
    fn the_hint_goes_through_the_reporter_once() {
        let (canceller, _watch) = crate::exec::cancel::channel();
        let notes = Notes::default();
        escalate(&canceller, Some(&notes));
        escalate(&canceller, Some(&notes));
        assert_eq!(*notes.0.lock().unwrap(), [HINT]);
    }
}
