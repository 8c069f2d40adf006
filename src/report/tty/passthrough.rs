//! Step output for a redirected stdout beside the live view
//! (`orch run x > log`): the view stays on the terminal, the file gets
//! every line as `[id] line`, one write per batch.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::event::{Event, Output, Sink};

pub(crate) struct StdoutLines {
    out: Mutex<Box<dyn Write + Send>>,
    /// Set when a write failed (a closed pipe): the run goes on, silently.
    broken: AtomicBool,
}

impl StdoutLines {
    pub(crate) fn stdout() -> StdoutLines {
        Self::to(Box::new(std::io::stdout()))
    }

    pub(crate) fn to(out: Box<dyn Write + Send>) -> StdoutLines {
        StdoutLines {
            out: Mutex::new(out),
            broken: AtomicBool::new(false),
        }
    }
}

impl Sink for StdoutLines {
    fn event(&self, _ev: &Event) {}

    fn output(&self, out: &Output<'_>) {
        if out.lines.is_empty() || self.broken.load(Ordering::Relaxed) {
            return;
        }
        let text = crate::report::prefixed(out);
        let mut w = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if w.write_all(text.as_bytes())
            .and_then(|()| w.flush())
            .is_err()
        {
            self.broken.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{OutputLine, Stream};
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_batch_is_one_write_of_prefixed_lines() {
        let buf = Shared::default();
        let s = StdoutLines::to(Box::new(buf.clone()));
        let lines = [
            OutputLine {
                stream: Stream::Stdout,
                line: "one",
                partial: false,
            },
            OutputLine {
                stream: Stream::Stderr,
                line: "two",
                partial: false,
            },
        ];
        s.output(&Output {
            step_id: "build",
            lines: &lines,
        });
        let writes = buf.0.lock().unwrap();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0], b"[build] one\n[build] two\n");
    }
}
