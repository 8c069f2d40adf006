//! Reading a step's stdout and stderr: both pipes in one loop, so lines
//! reach the sinks in the order they arrived, in large reads handed on as
//! batches of lines (one sink call per read, not per line).
//!
//! The order between the two pipes is the order the reads return: writes a
//! millisecond or more apart keep their order; writes to both within
//! microseconds of each other may swap, which no reader of two pipes can
//! tell apart. A line counts when it is complete, so a stdout line written in
//! two pieces around a stderr line comes after it.

use std::borrow::Cow;
use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::event::{Output, OutputLine, Sink, Stream};

/// Longer lines are cut into pieces so one line cannot hold unbounded memory.
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// How much one read asks for at most: a whole pipe buffer (64 KiB on Linux).
const READ: usize = 64 * 1024;
/// How much the first read asks for. Most steps write little or nothing: a
/// whole pipe buffer for each of a step's two pipes made glibc grow and trim
/// its heap once per step (page faults on the scheduler's thread).
const FIRST_READ: usize = 4 * 1024;

/// One pipe being read: what is not yet a whole line.
struct Pipe<R> {
    r: Option<R>,
    stream: Stream,
    acc: Vec<u8>,
    /// What the next read asks for: doubles each time a read fills it.
    ask: usize,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    fn new(r: Option<R>, stream: Stream) -> Self {
        Pipe {
            r,
            stream,
            acc: Vec::new(),
            ask: FIRST_READ,
        }
    }

    /// Read once: how many bytes were added to `acc`, 0 at the end of the
    /// pipe (or on a read error).
    async fn fill(&mut self) -> usize {
        let Some(r) = self.r.as_mut() else {
            return 0;
        };
        if self.acc.capacity() - self.acc.len() < self.ask / 4 {
            self.acc.reserve(self.ask);
        }
        let spare = self.acc.capacity() - self.acc.len();
        match r.read_buf(&mut self.acc).await {
            Ok(0) | Err(_) => {
                self.r = None;
                0
            }
            Ok(n) => {
                if n == spare {
                    self.ask = (self.ask * 2).min(READ);
                }
                n
            }
        }
    }
}

/// Read both pipes to their ends; give the sink every line, and return the
/// last `keep` bytes of stdout.
pub(crate) async fn read_both<O, E>(
    stdout: Option<O>,
    stderr: Option<E>,
    id: &str,
    sink: &dyn Sink,
    keep: usize,
) -> VecDeque<u8>
where
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let mut out = Pipe::new(stdout, Stream::Stdout);
    let mut err = Pipe::new(stderr, Stream::Stderr);
    let mut tail = Tail::new(keep);
    while out.r.is_some() || err.r.is_some() {
        // Whichever pipe has data first is read first: that is arrival order.
        tokio::select! {
            n = out.fill(), if out.r.is_some() => {
                tail.push(&out.acc[out.acc.len() - n..]);
                emit(&mut out.acc, out.stream, id, sink, n == 0);
            }
            n = err.fill(), if err.r.is_some() => {
                emit(&mut err.acc, err.stream, id, sink, n == 0);
            }
        }
    }
    tail.into_inner()
}

/// Give the sink the whole lines in `acc` (and, at the end or when the line
/// is too long, what remains), and keep the rest for the next read.
fn emit(acc: &mut Vec<u8>, stream: Stream, id: &str, sink: &dyn Sink, eof: bool) {
    let whole = match memchr_last(acc) {
        Some(i) => i + 1,
        None => 0,
    };
    if whole > 0 {
        // One UTF-8 check for the whole read; lossy only where it must be.
        let text = decode(&acc[..whole]);
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let lines: Vec<OutputLine<'_>> = body
            .split('\n')
            .map(|l| OutputLine {
                stream,
                line: l.strip_suffix('\r').unwrap_or(l),
                partial: false,
            })
            .collect();
        sink.output(&Output {
            step_id: id,
            lines: &lines,
        });
        acc.drain(..whole);
    }
    if acc.is_empty() {
        return;
    }
    if eof {
        let text = decode(acc);
        let line = OutputLine {
            stream,
            line: text.strip_suffix('\r').unwrap_or(&text),
            partial: false,
        };
        sink.output(&Output::one(id, &line));
        acc.clear();
    } else if acc.len() > MAX_LINE {
        let cut = char_boundary(acc);
        let text = decode(&acc[..cut]);
        let line = OutputLine {
            stream,
            line: &text,
            partial: true,
        };
        sink.output(&Output::one(id, &line));
        acc.drain(..cut);
    }
}

/// The text of `b`; invalid UTF-8 becomes U+FFFD. (`from_utf8` first: its
/// check of valid text is several times faster than the lossy decoder's.)
fn decode(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

fn memchr_last(b: &[u8]) -> Option<usize> {
    memchr::memrchr(b'\n', b)
}

/// Where to cut `b` so that no UTF-8 sequence is split (both pieces decode
/// cleanly, and a masker can join them again).
fn char_boundary(b: &[u8]) -> usize {
    let len = b.len();
    let lead = (1..=4.min(len))
        .map(|back| len - back)
        .find(|&i| (b[i] & 0xC0) != 0x80);
    if let Some(i) = lead {
        let need = match b[i] {
            x if x >= 0xF0 => 4,
            x if x >= 0xE0 => 3,
            x if x >= 0xC0 => 2,
            _ => 1,
        };
        if len - i < need {
            return i;
        }
    }
    len
}

/// The last `cap` bytes of a stream.
struct Tail {
    buf: VecDeque<u8>,
    cap: usize,
}

impl Tail {
    fn new(cap: usize) -> Self {
        Tail {
            buf: VecDeque::new(),
            cap,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.cap == 0 {
            return;
        }
        let chunk = &chunk[chunk.len().saturating_sub(self.cap)..];
        let excess = (self.buf.len() + chunk.len()).saturating_sub(self.cap);
        self.buf.drain(..excess);
        self.buf.extend(chunk);
    }

    fn into_inner(self) -> VecDeque<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Rec(Mutex<Vec<(Stream, String, bool)>>, Mutex<usize>);

    impl Sink for Rec {
        fn event(&self, _: &Event) {}
        fn output(&self, o: &Output<'_>) {
            *self.1.lock().unwrap() += 1;
            let mut v = self.0.lock().unwrap();
            for l in o.lines {
                v.push((l.stream, l.line.to_string(), l.partial));
            }
        }
    }

    async fn read(out: &[u8], err: &[u8], keep: usize) -> (Vec<(Stream, String, bool)>, Vec<u8>) {
        let rec = Rec::default();
        let tail = read_both(Some(out), Some(err), "s", &rec, keep).await;
        (rec.0.into_inner().unwrap(), tail.into_iter().collect())
    }

    #[tokio::test]
    async fn lines_crlf_and_a_last_line_without_newline() {
        let (lines, tail) = read(b"a\r\nb\n\nc", b"", 1 << 20).await;
        let texts: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
        assert_eq!(texts, ["a", "b", "", "c"]);
        assert!(lines.iter().all(|l| l.0 == Stream::Stdout && !l.2));
        assert_eq!(tail, b"a\r\nb\n\nc");
    }

    #[tokio::test]
    async fn one_read_is_one_batch() {
        let rec = Rec::default();
        let text = "x\n".repeat(1000);
        read_both(Some(text.as_bytes()), None::<&[u8]>, "s", &rec, 0).await;
        assert_eq!(rec.0.lock().unwrap().len(), 1000);
        assert_eq!(*rec.1.lock().unwrap(), 1, "a single read gives one batch");
    }

    #[tokio::test]
    async fn reads_grow_to_a_whole_pipe_buffer() {
        let rec = Rec::default();
        let text = "0123456789abcde\n".repeat(200 * 1024 / 16);
        read_both(Some(text.as_bytes()), None::<&[u8]>, "s", &rec, 0).await;
        assert_eq!(rec.0.lock().unwrap().len(), 200 * 1024 / 16);
        // Reads of 4, 8, 16, 32 and then 64 KiB (less what a cut line
        // keeps): a handful, not the fifty reads of 4 KiB.
        let reads = *rec.1.lock().unwrap();
        assert!((5..=10).contains(&reads), "{reads} reads");
    }

    #[tokio::test]
    async fn long_lines_are_cut_on_a_character_boundary() {
        let mut line = "é".repeat(MAX_LINE); // 2 bytes each
        line.push('\n');
        let (lines, _) = read(line.as_bytes(), b"", 0).await;
        assert!(lines.len() >= 2);
        assert!(
            lines[..lines.len() - 1].iter().all(|l| l.2),
            "pieces are partial"
        );
        let joined: String = lines.iter().map(|l| l.1.as_str()).collect();
        assert_eq!(joined, "é".repeat(MAX_LINE));
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_not_dropped() {
        let (lines, _) = read(b"ok\n\xff\xfe bad\n", b"", 0).await;
        assert_eq!(lines[0].1, "ok");
        assert_eq!(lines[1].1, "\u{FFFD}\u{FFFD} bad");
    }

    #[tokio::test]
    async fn the_tail_keeps_the_last_bytes_of_stdout_only() {
        let (_, tail) = read(b"0123456789\n", b"stderr\n", 4).await;
        assert_eq!(tail, b"789\n");
    }

    #[test]
    fn tail_of_many_chunks() {
        let mut t = Tail::new(5);
        for c in [&b"abc"[..], b"defg", b"", b"hijklmnop"] {
            t.push(c);
        }
        assert_eq!(t.into_inner().into_iter().collect::<Vec<u8>>(), b"lmnop");
    }
}
