//! Cancellation shared by the scheduler and every running step.

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CancelLevel {
    None,
    /// First Ctrl-C / SIGTERM / workflow timeout: SIGTERM, SIGKILL after the grace period.
    Graceful,
    /// Second Ctrl-C: SIGKILL now, run nothing more.
    Immediate,
}

#[derive(Clone)]
pub(crate) struct Canceller(watch::Sender<CancelLevel>);

#[derive(Clone)]
pub(crate) struct CancelWatch(watch::Receiver<CancelLevel>);

pub(crate) fn channel() -> (Canceller, CancelWatch) {
    let (tx, rx) = watch::channel(CancelLevel::None);
    (Canceller(tx), CancelWatch(rx))
}

impl Canceller {
    /// Raise the level (never lowers it).
    pub(crate) fn raise(&self, level: CancelLevel) {
        self.0.send_if_modified(|cur| {
            if level > *cur {
                *cur = level;
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn level(&self) -> CancelLevel {
        *self.0.borrow()
    }

    pub(crate) fn watch(&self) -> CancelWatch {
        CancelWatch(self.0.subscribe())
    }
}

impl CancelWatch {
    pub(crate) fn level(&self) -> CancelLevel {
        *self.0.borrow()
    }

    /// Resolves when the level changes; never when every sender is gone.
    pub(crate) async fn changed(&mut self) -> CancelLevel {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        *self.0.borrow_and_update()
    }
}
