//! Where the live view draws: stderr (or, in tests, a buffer of a fixed
//! size).
//!
//! indicatif pads every line to the full width, which leaves the cursor in
//! the terminal's "pending wrap" state after the last bar. The `^C` the
//! terminal echoes on Ctrl-C then lands on a new line, the frame moves down
//! one line and the next redraw leaves its top line behind. So the padding
//! of the last line is replaced by an erase to the end of the line, and our
//! lines keep two columns free: the cursor stays on the bars' last line,
//! with room for the echo, which the next frame overwrites.

use std::io;
use std::sync::{Arc, Mutex};

use console::Term;
use indicatif::{ProgressDrawTarget, TermLike};

/// Columns left free at the right edge (room for an echoed `^C`).
const MARGIN: u16 = 2;
/// Redraws per second at most, whatever the steps print.
const DRAW_HZ: u8 = 15;

/// The terminal the view is drawn on.
#[derive(Debug, Clone)]
pub(crate) struct Screen {
    kind: Kind,
    /// Padding written last, held back until we know whether more follows.
    held: Arc<Mutex<Option<String>>>,
}

#[derive(Debug, Clone)]
enum Kind {
    Stderr(Term),
    /// A terminal of a fixed size that keeps what was written (tests).
    #[cfg(test)]
    Buffer {
        rows: u16,
        cols: u16,
        written: Arc<Mutex<String>>,
    },
    /// Nothing is drawn (stderr is no terminal).
    Hidden,
}

impl Screen {
    /// stderr when it is a terminal that can move the cursor; else nothing.
    pub(crate) fn stderr() -> Screen {
        let term = Term::buffered_stderr();
        let kind = if term.is_term() && !console::is_dumb() {
            Kind::Stderr(term)
        } else {
            Kind::Hidden
        };
        Screen {
            kind,
            held: Arc::default(),
        }
    }

    #[cfg(test)]
    pub(crate) fn hidden() -> Screen {
        Screen {
            kind: Kind::Hidden,
            held: Arc::default(),
        }
    }

    /// A `rows` × `cols` terminal whose output is kept in `written`.
    #[cfg(test)]
    pub(crate) fn buffer(rows: u16, cols: u16, written: Arc<Mutex<String>>) -> Screen {
        Screen {
            kind: Kind::Buffer {
                rows,
                cols,
                written,
            },
            held: Arc::default(),
        }
    }

    pub(crate) fn is_hidden(&self) -> bool {
        matches!(self.kind, Kind::Hidden)
    }

    /// Rows and columns as the terminal says.
    fn raw_size(&self) -> (u16, u16) {
        let (rows, cols) = match &self.kind {
            Kind::Stderr(t) => t.size_checked().unwrap_or((24, 80)),
            #[cfg(test)]
            Kind::Buffer { rows, cols, .. } => (*rows, *cols),
            Kind::Hidden => (24, 80),
        };
        (rows.max(1), cols.max(1))
    }

    /// Rows and the columns our lines may use (the margin taken off; a
    /// terminal too small to say anything still gets one).
    pub(crate) fn size(&self) -> (usize, usize) {
        let (rows, cols) = self.raw_size();
        (
            usize::from(rows),
            usize::from(cols.saturating_sub(MARGIN).max(1)),
        )
    }

    /// A rate-limited indicatif target drawing here.
    pub(crate) fn target(&self) -> ProgressDrawTarget {
        if self.is_hidden() {
            return ProgressDrawTarget::hidden();
        }
        ProgressDrawTarget::term_like_with_hz(Box::new(self.clone()), DRAW_HZ)
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write `s`, after any padding held back.
    fn write(&self, s: &str) -> io::Result<()> {
        if let Some(pad) = self.lock_held().take() {
            self.put(&pad)?;
        }
        self.put(s)
    }

    fn put(&self, s: &str) -> io::Result<()> {
        match &self.kind {
            Kind::Stderr(t) => t.write_str(s),
            #[cfg(test)]
            Kind::Buffer { written, .. } => {
                written
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(s);
                Ok(())
            }
            Kind::Hidden => Ok(()),
        }
    }
}

impl TermLike for Screen {
    fn width(&self) -> u16 {
        // The real width: indicatif's padding must wrap where the terminal does.
        self.raw_size().1
    }

    fn height(&self) -> u16 {
        self.raw_size().0
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.write(&format!("\x1b[{n}A"))
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.write(&format!("\x1b[{n}B"))
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.write(&format!("\x1b[{n}C"))
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.write(&format!("\x1b[{n}D"))
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write(s)?;
        self.write("\n")
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        if !s.is_empty() && s.bytes().all(|b| b == b' ') {
            // Maybe the last line's padding: decided at the next write or flush.
            let earlier = self.lock_held().replace(s.to_string());
            if let Some(pad) = earlier {
                self.put(&pad)?;
            }
            return Ok(());
        }
        self.write(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        if self.lock_held().take().is_some() {
            // The frame's last line: erase its rest, keep the cursor on it.
            self.put("\x1b[K")?;
        }
        match &self.kind {
            Kind::Stderr(t) => t.flush(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_kept_off_the_width() {
        let s = Screen::buffer(10, 50, Arc::default());
        assert_eq!(s.size(), (10, 48));
        assert_eq!(TermLike::width(&s), 50);
        let tiny = Screen::buffer(1, 1, Arc::default());
        assert_eq!(tiny.size(), (1, 1));
    }

    #[test]
    fn the_cursor_stays_on_the_last_line() {
        let written = Arc::new(Mutex::new(String::new()));
        let s = Screen::buffer(10, 20, written.clone());
        s.write_str("first").unwrap();
        s.write_str("               ").unwrap();
        s.write_str("last").unwrap();
        s.write_str("                ").unwrap();
        s.flush().unwrap();
        // Inner padding wraps as indicatif expects; the last is an erase.
        assert_eq!(
            *written.lock().unwrap(),
            format!("first{}last\x1b[K", " ".repeat(15))
        );
    }
}
