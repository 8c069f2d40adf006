//! [`MaskingSink`]: masks every event and output line before the sink it
//! wraps sees them.
//!
//! Step output arrives line by line, and a secret may straddle two lines (a
//! multi-line secret, or a line cut at the maximum line length). The sink
//! keeps, per step and stream, the text that could still be the beginning of
//! a secret, and releases it once it cannot be, or when the step ends.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{Masker, Patterns, MASK};
use crate::event::{Durable, Event, EventKind, Output, OutputLine, Sink, Stream, Verdict};

/// A line held back longer than this (a line cut into pieces whose tail
/// keeps looking like the start of a secret) is released in pieces.
const HOLD_CAP: usize = 256 * 1024;

impl Patterns {
    fn matches(&self, s: &str) -> Vec<(usize, usize)> {
        self.ac.find_iter(s).map(|m| (m.start(), m.end())).collect()
    }

    /// Where the longest tail of `text` that is a proper prefix of some
    /// pattern starts (`text.len()` when there is none): what may not be
    /// released yet, because more text could complete a secret.
    fn hold_from(&self, text: &str) -> usize {
        let b = text.as_bytes();
        let lo = b.len().saturating_sub(self.max_len.saturating_sub(1));
        for i in lo..b.len() {
            if !self.starts[b[i] as usize] {
                continue;
            }
            let tail = &b[i..];
            let at = self.sorted.partition_point(|p| p.as_bytes() <= tail);
            if self
                .sorted
                .get(at)
                .is_some_and(|p| p.as_bytes().starts_with(tail))
            {
                return i;
            }
        }
        b.len()
    }

    /// Split `buf` (held text; complete lines end with `\n`) into what can
    /// go out now, as masked lines `(text, partial)`, and what must wait.
    /// Returns the lines and how many bytes of `buf` they used. `fin`: the
    /// step ended, release everything.
    fn release(&self, buf: &str, fin: bool) -> (Vec<(String, bool)>, usize) {
        let len = buf.len();
        let matches = self.matches(buf);
        let straddling = |at: usize| matches.iter().find(|&&(s, e)| s < at && at < e);
        // Everything before `r` is final: no match starts there that more
        // text could lengthen, and no match crosses `r`.
        let mut r = if fin { len } else { self.hold_from(buf) };
        if let Some(&(s, _)) = straddling(r) {
            r = s;
        }
        // Lines go out whole: cut after a newline that no match spans.
        let mut cut = r;
        if r < len {
            cut = 0;
            let mut end = r;
            while let Some(i) = buf[..end].rfind('\n') {
                match straddling(i + 1) {
                    Some(&(s, _)) => end = s,
                    None => {
                        cut = i + 1;
                        break;
                    }
                }
            }
            if len - cut > HOLD_CAP {
                // A very long line that keeps looking like a secret's start:
                // release what is certain as a piece of it.
                cut = r;
            }
        }
        if cut == 0 {
            return (Vec::new(), 0);
        }
        let mut masked = String::with_capacity(cut);
        let mut at = 0;
        for &(s, e) in matches.iter().take_while(|&&(_, e)| e <= cut) {
            masked.push_str(&buf[at..s]);
            masked.push_str(MASK);
            at = e;
        }
        masked.push_str(&buf[at..cut]);
        let complete = masked.ends_with('\n');
        let mut lines: Vec<(String, bool)> =
            masked.split('\n').map(|l| (l.to_string(), false)).collect();
        if complete {
            lines.pop();
        } else if !fin {
            if let Some(last) = lines.last_mut() {
                last.1 = true;
            }
        }
        (lines, cut)
    }
}

/// Text not yet released for one step: `[stdout, stderr]`.
type Held = HashMap<String, [String; 2]>;

/// Wraps a sink: every event and every output line is masked before it
/// reaches `inner`.
pub(crate) struct MaskingSink {
    inner: Arc<dyn Sink>,
    masker: Arc<Masker>,
    held: Mutex<Held>,
    /// `held.len()`, readable without the lock (for the fast path).
    held_steps: AtomicUsize,
}

impl MaskingSink {
    pub(crate) fn new(inner: Arc<dyn Sink>, masker: Arc<Masker>) -> MaskingSink {
        MaskingSink {
            inner,
            masker,
            held: Mutex::new(HashMap::new()),
            held_steps: AtomicUsize::new(0),
        }
    }

    /// Send released lines on as one batch.
    fn forward(&self, step_id: &str, lines: Vec<(Stream, String, bool)>) {
        if lines.is_empty() {
            return;
        }
        let lines: Vec<OutputLine<'_>> = lines
            .iter()
            .map(|(stream, line, partial)| OutputLine {
                stream: *stream,
                line,
                partial: *partial,
            })
            .collect();
        self.inner.output(&Output {
            step_id,
            lines: &lines,
        });
    }

    /// One line that may straddle a secret: add it to what is held for its
    /// step and stream, and move what can no longer be part of a secret to
    /// `released`, masked.
    fn hold_or_release(
        &self,
        p: &Patterns,
        held: &mut Held,
        step_id: &str,
        line: &OutputLine<'_>,
        released: &mut Vec<(Stream, String, bool)>,
    ) {
        let slot = usize::from(line.stream == Stream::Stderr);
        let mut buf = held
            .get_mut(step_id)
            .map(|b| std::mem::take(&mut b[slot]))
            .unwrap_or_default();
        let nothing_to_hold =
            !p.multiline && (!line.partial || p.hold_from(line.line) == line.line.len());
        if buf.is_empty() && nothing_to_hold {
            // Nothing held and nothing to hold: the common case.
            released.push((line.stream, p.mask(line.line).into_owned(), line.partial));
            return;
        }
        buf.push_str(line.line);
        if !line.partial {
            buf.push('\n');
        }
        let (lines, used) = p.release(&buf, false);
        released.extend(
            lines
                .into_iter()
                .map(|(l, partial)| (line.stream, l, partial)),
        );
        buf.drain(..used);
        if buf.is_empty() {
            if let Some(b) = held.get_mut(step_id) {
                if b.iter().all(String::is_empty) {
                    held.remove(step_id);
                }
            }
        } else {
            held.entry(step_id.to_string()).or_default()[slot] = buf;
        }
    }

    /// Release everything held for `step_id` (and its `for_each` items).
    fn flush_step(&self, step_id: &str) {
        self.flush_where(|k| {
            k == step_id
                || k.strip_prefix(step_id)
                    .is_some_and(|rest| rest.starts_with('['))
        });
    }

    fn flush_where(&self, pick: impl Fn(&str) -> bool) {
        if self.held_steps.load(Ordering::SeqCst) == 0 {
            return;
        }
        let Some(p) = self.masker.patterns() else {
            return;
        };
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<String> = held.keys().filter(|k| pick(k)).cloned().collect();
        for key in keys {
            let Some(bufs) = held.remove(&key) else {
                continue;
            };
            for (buf, stream) in bufs.iter().zip([Stream::Stdout, Stream::Stderr]) {
                if !buf.is_empty() {
                    let (lines, _) = p.release(buf, true);
                    let lines = lines.into_iter().map(|(l, partial)| (stream, l, partial));
                    self.forward(&key, lines.collect());
                }
            }
        }
        self.held_steps.store(held.len(), Ordering::SeqCst);
    }

    /// A copy of `ev` with every secret masked, or `None` when it holds none.
    fn mask_event(&self, ev: &Event) -> Option<Event> {
        let label = ev
            .label
            .as_deref()
            .and_then(|l| match self.masker.mask_str(l) {
                Cow::Owned(m) => Some(Arc::<str>::from(m)),
                Cow::Borrowed(_) => None,
            });
        let Some(label) = label else {
            return self.mask_kind(ev);
        };
        let mut masked = self.mask_kind(ev).unwrap_or_else(|| ev.clone());
        masked.label = Some(label);
        Some(masked)
    }

    /// A copy of `ev` with every secret of its kind masked, or `None`.
    fn mask_kind(&self, ev: &Event) -> Option<Event> {
        let p = self.masker.patterns()?;
        let owned = |s: &str| match p.mask(s) {
            Cow::Owned(m) => Some(m),
            Cow::Borrowed(_) => None,
        };
        let opt = |s: &Option<String>| s.as_deref().and_then(owned);
        let kind = match &ev.kind {
            EventKind::StepRetrying {
                step,
                attempt,
                max_attempts,
                error,
                exit_code,
                http_status,
                delay,
            } => EventKind::StepRetrying {
                error: owned(error)?,
                step: step.clone(),
                attempt: *attempt,
                max_attempts: *max_attempts,
                exit_code: *exit_code,
                http_status: *http_status,
                delay: *delay,
            },
            EventKind::StepFinished { step, outcome } => {
                let error = opt(&outcome.error);
                let result = outcome.result.as_deref().and_then(|r| p.mask_json(r));
                if error.is_none() && result.is_none() {
                    return None;
                }
                let mut o = outcome.clone();
                if error.is_some() {
                    o.error = error;
                }
                if let Some(m) = result {
                    o.result = Some(Arc::new(m));
                    // A masked value must never become a cache entry.
                    o.cache = None;
                }
                EventKind::StepFinished {
                    step: step.clone(),
                    outcome: o,
                }
            }
            EventKind::ApprovalRequested {
                step,
                message,
                timeout,
            } => EventKind::ApprovalRequested {
                message: owned(message)?,
                step: step.clone(),
                timeout: *timeout,
            },
            EventKind::ApprovalDecided { step, verdict } => {
                let masked = |by: &String, comment: &Option<String>| {
                    let (b, c) = (owned(by), opt(comment));
                    (b.is_some() || c.is_some())
                        .then(|| (b.unwrap_or_else(|| by.clone()), c.or(comment.clone())))
                };
                let verdict = match verdict {
                    Verdict::Approved { by, comment } => {
                        let (by, comment) = masked(by, comment)?;
                        Verdict::Approved { by, comment }
                    }
                    Verdict::Rejected { by, comment } => {
                        let (by, comment) = masked(by, comment)?;
                        Verdict::Rejected { by, comment }
                    }
                    Verdict::TimedOut => return None,
                };
                EventKind::ApprovalDecided {
                    step: step.clone(),
                    verdict,
                }
            }
            // Nothing to mask: no copy of every step's report.
            EventKind::RunFinished { .. } if self.masker.is_empty() => return None,
            EventKind::RunFinished { summary } => {
                let mut s = (**summary).clone();
                if !self.masker.mask_summary(&mut s) {
                    return None;
                }
                EventKind::RunFinished {
                    summary: Arc::new(s),
                }
            }
            EventKind::CompensationFinished { step, outcome } => {
                let error = opt(&outcome.error)?;
                let mut o = outcome.clone();
                o.error = Some(error);
                EventKind::CompensationFinished {
                    step: step.clone(),
                    outcome: o,
                }
            }
            EventKind::RunCreated
            | EventKind::RunStarted
            | EventKind::StepStarted { .. }
            | EventKind::CompensationStarted { .. } => return None,
        };
        Some(Event { kind, ..ev.clone() })
    }
}

impl Drop for MaskingSink {
    /// A run that ended without its last event: what was held still goes out.
    fn drop(&mut self) {
        self.flush_where(|_| true);
    }
}

impl Sink for MaskingSink {
    fn event(&self, ev: &Event) {
        if self.masker.is_empty() {
            return self.inner.event(ev);
        }
        // What a step printed goes out before the event that ends it.
        match &ev.kind {
            EventKind::StepFinished { step, .. } | EventKind::StepRetrying { step, .. } => {
                self.flush_step(step)
            }
            EventKind::RunFinished { .. } => self.flush_where(|_| true),
            _ => {}
        }
        match self.mask_event(ev) {
            Some(masked) => self.inner.event(&masked),
            None => self.inner.event(ev),
        }
    }

    fn output(&self, out: &Output<'_>) {
        let Some(p) = self.masker.patterns() else {
            return self.inner.output(out);
        };
        // Complete lines, nothing held, no multi-line secret: nothing can
        // straddle them, mask and go; a batch without a secret goes as it is.
        if !p.multiline
            && self.held_steps.load(Ordering::SeqCst) == 0
            && out.lines.iter().all(|l| !l.partial)
        {
            let masked: Vec<Cow<'_, str>> = out.lines.iter().map(|l| p.mask(l.line)).collect();
            if masked.iter().all(|m| matches!(m, Cow::Borrowed(_))) {
                return self.inner.output(out);
            }
            let lines: Vec<OutputLine<'_>> = out
                .lines
                .iter()
                .zip(&masked)
                .map(|(l, m)| OutputLine { line: m, ..*l })
                .collect();
            return self.inner.output(&Output {
                step_id: out.step_id,
                lines: &lines,
            });
        }
        let mut released: Vec<(Stream, String, bool)> = Vec::new();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        for line in out.lines {
            self.hold_or_release(&p, &mut held, out.step_id, line, &mut released);
        }
        self.held_steps.store(held.len(), Ordering::SeqCst);
        // Forwarded under the lock: a step's lines keep their order.
        self.forward(out.step_id, released);
    }

    fn process(&self, p: &crate::event::ProcessStarted<'_>) {
        // Ids and numbers only: nothing to mask.
        self.inner.process(p);
    }

    fn durable(&self) -> Option<Durable> {
        self.inner.durable()
    }

    fn durable_now(&self) -> Option<Durable> {
        self.inner.durable_now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::wire::Name;
    use crate::event::{sample, CacheNote, Status};
    use serde_json::json;

    #[derive(Default)]
    struct Rec {
        /// Everything in arrival order: `E <kind>` or `<step>/<stream> <line>[…]`.
        log: Mutex<Vec<String>>,
        events: Mutex<Vec<Event>>,
        /// Addresses of what arrived, to tell forwarded from copied.
        ptrs: Mutex<Vec<usize>>,
    }

    impl Sink for Rec {
        fn event(&self, ev: &Event) {
            self.log.lock().unwrap().push(format!("E {}", ev.name()));
            self.events.lock().unwrap().push(ev.clone());
            self.ptrs.lock().unwrap().push(ev as *const Event as usize);
        }

        fn output(&self, o: &Output<'_>) {
            for l in o.lines {
                let s = if l.stream == Stream::Stdout {
                    "out"
                } else {
                    "err"
                };
                let p = if l.partial { "…" } else { "" };
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("{}/{s} {}{p}", o.step_id, l.line));
                self.ptrs.lock().unwrap().push(l.line.as_ptr() as usize);
            }
        }
    }

    impl Rec {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.lock().unwrap())
        }
    }

    fn setup(secrets: &[&str]) -> (Arc<Masker>, Arc<Rec>, MaskingSink) {
        let m = Arc::new(Masker::new());
        for s in secrets {
            assert!(m.add(s));
        }
        let rec = Arc::new(Rec::default());
        let sink = MaskingSink::new(rec.clone(), m.clone());
        (m, rec, sink)
    }

    fn out(sink: &MaskingSink, step: &str, line: &str, partial: bool) {
        let line = OutputLine {
            stream: Stream::Stdout,
            line,
            partial,
        };
        sink.output(&Output::one(step, &line));
    }

    fn ev(name: Name, step: Option<&str>) -> Event {
        sample::of(name, step.unwrap_or(""))
    }

    fn wire(e: &Event) -> serde_json::Value {
        serde_json::to_value(e).unwrap()
    }

    #[test]
    fn fast_path_without_secrets_forwards_as_is() {
        let (_m, rec, sink) = setup(&[]);
        let mut e = ev(Name::StepCompleted, Some("a"));
        e.outcome_mut().error = Some("boom".into());
        sink.event(&e);
        let line = String::from("hello");
        out(&sink, "a", &line, false);
        out(&sink, "a", &line, true);
        let ptrs = rec.ptrs.lock().unwrap().clone();
        assert_eq!(ptrs[0], &e as *const Event as usize, "the event itself");
        assert_eq!(ptrs[1], line.as_ptr() as usize, "the line itself");
        assert_eq!(ptrs[2], line.as_ptr() as usize);
        assert_eq!(
            rec.take(),
            [
                "E orchestration.step.completed",
                "a/out hello",
                "a/out hello…"
            ]
        );
    }

    #[test]
    fn lines_without_secrets_are_not_copied() {
        let (_m, rec, sink) = setup(&["s3cret"]);
        let line = String::from("hello");
        out(&sink, "a", &line, false);
        out(&sink, "a", "a s3cret", false);
        assert_eq!(rec.ptrs.lock().unwrap()[0], line.as_ptr() as usize);
        assert_eq!(rec.take(), ["a/out hello", "a/out a ***"]);
    }

    #[test]
    fn events_are_masked() {
        let (_m, rec, sink) = setup(&["s3cret"]);
        let mut summary = sample::summary(Status::Failed);
        summary.error = Some("bad s3cret".into());
        summary.outputs.insert("z".into(), json!(1));
        summary.outputs.insert("o".into(), json!("s3cret"));
        sink.event(&sample::event(EventKind::RunFinished {
            summary: Arc::new(summary),
        }));
        sink.event(&sample::event(EventKind::ApprovalRequested {
            step: "gate".into(),
            message: "deploy with s3cret?".into(),
            timeout: None,
        }));
        sink.event(&sample::event(EventKind::ApprovalDecided {
            step: "gate".into(),
            verdict: Verdict::Approved {
                by: "s3cret-user".into(),
                comment: Some("ok".into()),
            },
        }));
        let got = rec.events.lock().unwrap().clone();
        assert_eq!(wire(&got[0])["error"], "bad ***");
        assert_eq!(wire(&got[0])["outputs"], json!({"z": 1, "o": "***"}));
        // Masked in place: the declaration order stays.
        let line = serde_json::to_string(&got[0]).unwrap();
        assert!(line.contains(r#""outputs":{"z":1,"o":"***"}"#), "{line}");
        assert_eq!(wire(&got[1])["approval"]["message"], "deploy with ***?");
        let note = &wire(&got[2])["approval"];
        assert_eq!(note["comment"], "ok");
        assert_eq!(note["by"], "***-user");
    }

    #[test]
    fn masked_result_is_not_cached() {
        let (_m, rec, sink) = setup(&["s3cret"]);
        let note = Arc::new(CacheNote {
            fingerprint: "f".into(),
            parts: "{}".into(),
            ttl: None,
        });
        let mut clean = ev(Name::StepCompleted, Some("a"));
        clean.outcome_mut().result = Some(Arc::new(json!({"outputs": {"x": "1"}})));
        clean.outcome_mut().cache = Some(note.clone());
        sink.event(&clean);
        let mut dirty = ev(Name::StepCompleted, Some("b"));
        dirty.outcome_mut().cache = Some(note.clone());
        dirty.outcome_mut().result = Some(Arc::new(json!({"outputs": {"x": "s3cret"}})));
        sink.event(&dirty);
        let mut got = rec.events.lock().unwrap().clone();
        let (got0, got1) = (got[0].outcome_mut().clone(), got[1].outcome_mut().clone());
        assert!(got0.cache.is_some());
        assert!(Arc::ptr_eq(
            got0.result.as_ref().unwrap(),
            clean.outcome_mut().result.as_ref().unwrap()
        ));
        assert!(got1.cache.is_none(), "a masked value must not be cached");
        assert_eq!(
            *got1.result.clone().unwrap(),
            json!({"outputs": {"x": "***"}})
        );
    }

    #[test]
    fn secret_split_across_partial_pieces() {
        let (_m, rec, sink) = setup(&["SECRETVALUE123"]);
        out(&sink, "a", "aaa SECRET", true);
        assert!(rec.take().is_empty(), "the tail may start the secret: held");
        out(&sink, "a", "VALUE123 bbb", false);
        assert_eq!(rec.take(), ["a/out aaa *** bbb"], "one complete line");
        // A piece that cannot start the secret goes out at once, still partial.
        out(&sink, "a", "xxxx", true);
        assert_eq!(rec.take(), ["a/out xxxx…"]);
        out(&sink, "a", "yyyy", false);
        assert_eq!(rec.take(), ["a/out yyyy"]);
    }

    #[test]
    fn multi_line_secret_across_lines() {
        let (_m, rec, sink) = setup(&["-----BEGIN KEY-----\nMIIEvQIBADAN\n-----END KEY-----"]);
        out(&sink, "a", "before", false);
        assert_eq!(rec.take(), ["a/out before"], "cannot start the secret");
        out(&sink, "a", "key: -----BEGIN KEY-----", false);
        out(&sink, "a", "MIIEvQIBADAN", false);
        assert!(rec.take().is_empty());
        out(&sink, "a", "-----END KEY----- done", false);
        assert_eq!(rec.take(), ["a/out key: *** done"]);
        // A beginning that turns out not to be the secret is released whole.
        out(&sink, "a", "-----BEGIN KEY-----", false);
        assert!(rec.take().is_empty());
        out(&sink, "a", "something else", false);
        assert_eq!(
            rec.take(),
            ["a/out -----BEGIN KEY-----", "a/out something else"]
        );
    }

    #[test]
    fn crlf_secret_matches_output_lines() {
        let (_m, rec, sink) = setup(&["line-one\r\nline-two"]);
        out(&sink, "a", "x line-one", false);
        out(&sink, "a", "line-two y", false);
        assert_eq!(rec.take(), ["a/out x *** y"]);
    }

    #[test]
    fn holdback_does_not_delay_other_lines() {
        let (_m, rec, sink) = setup(&["SECRETVALUE123", "multi\nline-secret"]);
        out(&sink, "a", "waiting SECRET", true);
        assert!(rec.take().is_empty());
        // Another step, and the other stream of the same step, go through.
        out(&sink, "b", "from b", false);
        let line = OutputLine {
            stream: Stream::Stderr,
            line: "from a's stderr",
            partial: false,
        };
        sink.output(&Output::one("a", &line));
        out(&sink, "b", "a multi", false);
        out(&sink, "b", "not it", false);
        assert_eq!(
            rec.take(),
            [
                "b/out from b",
                "a/err from a's stderr",
                "b/out a multi",
                "b/out not it"
            ]
        );
        out(&sink, "a", "VALUE123", false);
        assert_eq!(rec.take(), ["a/out waiting ***"]);
    }

    #[test]
    fn flush_on_step_end_before_the_event() {
        let (_m, rec, sink) = setup(&["SECRETVALUE123", "multi\nline-secret"]);
        out(&sink, "a", "tail SECRET", true);
        out(&sink, "b", "x multi", false);
        out(&sink, "deploy[0]", "SECRETVAL", true);
        assert!(rec.take().is_empty());
        sink.event(&ev(Name::StepCompleted, Some("a")));
        assert_eq!(
            rec.take(),
            ["a/out tail SECRET", "E orchestration.step.completed"]
        );
        sink.event(&ev(Name::StepFailed, Some("deploy")));
        assert_eq!(
            rec.take(),
            ["deploy[0]/out SECRETVAL", "E orchestration.step.failed"]
        );
        sink.event(&ev(Name::RunCompleted, None));
        assert_eq!(
            rec.take(),
            ["b/out x multi", "E orchestration.run.completed"]
        );
        assert_eq!(sink.held_steps.load(Ordering::SeqCst), 0);
        // Nothing left: the fast path is back.
        out(&sink, "a", "plain", false);
        assert_eq!(rec.take(), ["a/out plain"]);
    }

    /// However the text is cut into lines and pieces, what comes out is the
    /// whole text masked at once.
    #[test]
    fn streaming_equals_masking_the_whole_text() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let secrets = ["aab", "abab", "ab\nba", "bbb\nab\na", "baaab"];
        let (m, _, _) = setup(&secrets);
        for round in 0..300 {
            let rec = Arc::new(Rec::default());
            let sink = MaskingSink::new(rec.clone(), m.clone());
            let len = 1 + next(120) as usize;
            let mut text: String = (0..len)
                .map(|_| match next(7) {
                    0 => '\n',
                    1..=3 => 'a',
                    _ => 'b',
                })
                .collect();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            for line in text.split_terminator('\n') {
                // Cut each line into pieces at random places.
                let mut rest = line;
                while rest.len() > 1 && next(3) == 0 {
                    let at = 1 + next(rest.len() as u64 - 1) as usize;
                    out(&sink, "s", &rest[..at], true);
                    rest = &rest[at..];
                }
                out(&sink, "s", rest, false);
            }
            sink.event(&ev(Name::StepCompleted, Some("s")));
            let mut got = String::new();
            for l in rec.take() {
                if let Some(body) = l.strip_prefix("s/out ") {
                    match body.strip_suffix('…') {
                        Some(piece) => got.push_str(piece),
                        None => {
                            got.push_str(body);
                            got.push('\n');
                        }
                    }
                }
            }
            assert_eq!(got, m.mask_str(&text), "round {round}: {text:?}");
        }
    }

    #[test]
    fn held_text_goes_out_when_the_sink_is_dropped() {
        let (_m, rec, sink) = setup(&["SECRETVALUE123"]);
        out(&sink, "a", "tail SECRET", true);
        assert!(rec.take().is_empty());
        drop(sink);
        assert_eq!(rec.take(), ["a/out tail SECRET"]);
    }

    #[test]
    fn a_very_long_held_line_is_released_in_pieces() {
        let (_m, rec, sink) = setup(&["SECRETVALUE123"]);
        let long = format!("{}SECRET", "x".repeat(HOLD_CAP + 10));
        out(&sink, "a", &long, true);
        let got = rec.take();
        assert_eq!(got.len(), 1);
        assert!(
            got[0].ends_with("xx…"),
            "released up to the possible secret"
        );
        out(&sink, "a", "VALUE123 end", false);
        assert_eq!(rec.take(), ["a/out *** end"]);
    }

    #[test]
    fn secret_added_mid_run() {
        let (m, rec, sink) = setup(&[]);
        out(&sink, "a", "tok3n before", false);
        assert!(m.add("tok3n"));
        out(&sink, "a", "tok3n after", false);
        assert_eq!(rec.take(), ["a/out tok3n before", "a/out *** after"]);
    }
}
