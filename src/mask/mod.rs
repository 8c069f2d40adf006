//! Secret masking: every byte orch writes passes through here.
//!
//! A [`Masker`] holds the secrets of a run (added as they are resolved, so
//! it grows while the run goes on) and replaces each occurrence of a secret,
//! and of its base64 and URL-encoded forms, with `***`. A [`MaskingSink`]
//! (in `sink`) sits in front of every other sink (terminal, log file,
//! history, webhook), so nothing reaches them unmasked.

mod sink;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::event::{Outputs, RunSummary, StepReport};

pub(crate) use sink::MaskingSink;

/// What every occurrence of a secret becomes.
pub(crate) const MASK: &str = "***";

/// Secrets shorter than this (in bytes) are not masked: masking them would
/// destroy all output.
pub(crate) const MIN_SECRET_LEN: usize = 3;

/// Base64 fragments (a secret encoded inside a longer value, at any byte
/// offset) shorter than this are not masked: too likely to occur by chance.
const MIN_FRAGMENT_LEN: usize = 8;

/// RFC 3986 unreserved characters stay; everything else is `%XX`.
const URL_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The WHATWG `application/x-www-form-urlencoded` set (`*` stays, `~` not).
const FORM_WHATWG: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// The secrets of a run. Thread-safe; share it as `Arc<Masker>`.
pub(crate) struct Masker {
    /// Set once the first pattern is in: the fast path checks only this.
    active: AtomicBool,
    current: RwLock<Option<Arc<Patterns>>>,
    /// Every pattern so far (also serializes `add`).
    all: Mutex<BTreeSet<String>>,
}

impl Default for Masker {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets themselves.
        let n = self.all.lock().unwrap_or_else(|e| e.into_inner()).len();
        f.debug_struct("Masker").field("patterns", &n).finish()
    }
}

impl Masker {
    pub(crate) fn new() -> Masker {
        Masker {
            active: AtomicBool::new(false),
            current: RwLock::new(None),
            all: Mutex::new(BTreeSet::new()),
        }
    }

    /// Add a secret: its value, its base64 forms (standard and URL-safe
    /// alphabets, with and without padding, and as a fragment of a longer
    /// encoded value) and its URL-encoded forms are masked from now on.
    /// An empty value is ignored (returns true: nothing can leak). A value
    /// shorter than [`MIN_SECRET_LEN`] bytes is not masked and returns false,
    /// so the caller can warn.
    pub(crate) fn add(&self, secret: &str) -> bool {
        if secret.is_empty() {
            return true;
        }
        let Some(forms) = forms(secret) else {
            return false;
        };
        let mut all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        let before = all.len();
        all.extend(forms);
        if all.len() == before {
            return true;
        }
        let Some(patterns) = Patterns::build(&all) else {
            // Cannot happen for sane sizes; keep what masked so far.
            return false;
        };
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(patterns));
        self.active.store(true, Ordering::Release);
        true
    }

    /// True while no secret is masked (cheap: one atomic load).
    pub(crate) fn is_empty(&self) -> bool {
        !self.active.load(Ordering::Acquire)
    }

    fn patterns(&self) -> Option<Arc<Patterns>> {
        if self.is_empty() {
            return None;
        }
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `s` with each occurrence of a secret replaced by `***`; borrowed when
    /// nothing changed.
    pub(crate) fn mask_str<'a>(&self, s: &'a str) -> Cow<'a, str> {
        match self.patterns() {
            Some(p) => p.mask(s),
            None => Cow::Borrowed(s),
        }
    }

    /// `j` with secrets masked in every string, object key and number
    /// (a masked number becomes a string); None when nothing changed.
    pub(crate) fn mask_json(&self, j: &Value) -> Option<Value> {
        self.patterns()?.mask_json(j)
    }

    /// Mask a run's summary in place (errors and outputs); true when
    /// anything changed.
    pub(crate) fn mask_summary(&self, o: &mut RunSummary) -> bool {
        if self.is_empty() {
            return false;
        }
        let mut changed = false;
        let mut text = |t: &mut String| {
            if let Cow::Owned(m) = self.mask_str(t) {
                *t = m;
                changed = true;
            }
        };
        fn each(r: &mut StepReport, f: &mut dyn FnMut(&mut StepReport)) {
            f(r);
            r.items.iter_mut().for_each(|i| each(i, f));
        }
        if let Some(e) = &mut o.error {
            text(e);
        }
        let mut json_changed = false;
        for r in &mut o.steps {
            each(r, &mut |r| {
                if let Some(e) = &mut r.error {
                    text(e);
                }
                if let Some(l) = &mut r.label {
                    text(l);
                }
                if let Some(j) = self.mask_json(&r.outputs) {
                    r.outputs = j;
                    json_changed = true;
                }
            });
        }
        if self.mask_outputs(&mut o.outputs) {
            json_changed = true;
        }
        changed || json_changed
    }

    /// Mask a workflow's outputs in place, names and values, keeping their
    /// order; true when anything changed.
    pub(crate) fn mask_outputs(&self, o: &mut Outputs) -> bool {
        let Some(p) = self.patterns() else {
            return false;
        };
        let mut changed = false;
        for (k, v) in o.iter_mut() {
            if let Cow::Owned(m) = p.mask(k) {
                *k = m;
                changed = true;
            }
            if let Some(m) = p.mask_json(v) {
                *v = m;
                changed = true;
            }
        }
        changed
    }
}

/// Every form of one secret that is masked; None when it is too short.
fn forms(secret: &str) -> Option<BTreeSet<String>> {
    // A value read from a file or `echo … |` often ends with a newline; the
    // newline is not the secret (and masking it would join lines).
    let plain = secret.trim_matches(['\r', '\n']);
    if plain.len() < MIN_SECRET_LEN {
        return None;
    }
    let mut sources = vec![plain.to_string()];
    if plain.contains("\r\n") {
        // Step output reaches the masker with `\r\n` turned into `\n`.
        sources.push(plain.replace("\r\n", "\n"));
    }
    let mut out: BTreeSet<String> = sources.iter().cloned().collect();
    if secret != plain {
        sources.push(secret.to_string());
    }
    for src in &sources {
        let bytes = src.as_bytes();
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            out.insert(engine.encode(bytes));
        }
        for frag in base64_fragments(bytes) {
            out.insert(frag);
        }
        for enc in url_forms(src) {
            out.insert(enc);
        }
        // Inside a JSON string (`toJSON()` of a value holding it): quotes,
        // backslashes and control characters escaped.
        if let Ok(quoted) = serde_json::to_string(src.as_str()) {
            out.insert(quoted[1..quoted.len() - 1].to_string());
        }
    }
    out.retain(|f| !f.is_empty());
    Some(out)
}

/// The base64 characters that depend on the secret alone, when it is
/// encoded inside a longer value starting at any byte offset (as in
/// `Basic base64(user:password)`), in both alphabets.
fn base64_fragments(src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for shift in 0..3usize {
        let mut buf = vec![0u8; shift];
        buf.extend_from_slice(src);
        // Characters whose 6 bits include a byte before the secret…
        let skip = [0, 2, 3][shift];
        // …or a byte after it.
        let keep = 8 * buf.len() / 6;
        if keep < skip + MIN_FRAGMENT_LEN {
            continue;
        }
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let enc = engine.encode(&buf);
            if let Some(frag) = enc.get(skip..keep) {
                out.push(frag.to_string());
            }
        }
    }
    out
}

/// Percent-encodings (upper- and lower-case hex) and form encodings.
fn url_forms(src: &str) -> Vec<String> {
    let pct = percent_encode(src.as_bytes(), URL_UNRESERVED).to_string();
    let form = src
        .split(' ')
        .map(|part| percent_encode(part.as_bytes(), URL_UNRESERVED).to_string())
        .collect::<Vec<_>>()
        .join("+");
    let whatwg = src
        .split(' ')
        .map(|part| percent_encode(part.as_bytes(), FORM_WHATWG).to_string())
        .collect::<Vec<_>>()
        .join("+");
    let mut out = Vec::new();
    for f in [pct, form, whatwg] {
        let lower = lower_hex(&f);
        if lower != f {
            out.push(lower);
        }
        if f != src {
            out.push(f);
        }
    }
    out
}

/// `%2F` → `%2f` (some encoders write lower-case hex).
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex_left = 0;
    for c in s.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            if c == '%' {
                hex_left = 2;
            }
            out.push(c);
        }
    }
    out
}

/// The compiled pattern set; replaced as a whole by each `add`.
struct Patterns {
    ac: AhoCorasick,
    /// Sorted: the patterns that start with a given text are contiguous.
    sorted: Vec<String>,
    /// Bytes some pattern starts with.
    starts: [bool; 256],
    max_len: usize,
    /// Some pattern holds a newline (a multi-line secret).
    multiline: bool,
}

impl Patterns {
    fn build(all: &BTreeSet<String>) -> Option<Patterns> {
        let sorted: Vec<String> = all.iter().cloned().collect();
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&sorted)
            .ok()?;
        let mut starts = [false; 256];
        for p in &sorted {
            if let Some(&b) = p.as_bytes().first() {
                starts[b as usize] = true;
            }
        }
        Some(Patterns {
            ac,
            max_len: sorted.iter().map(String::len).max().unwrap_or(0),
            multiline: sorted.iter().any(|p| p.contains('\n')),
            sorted,
            starts,
        })
    }

    fn mask<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut it = self.ac.find_iter(s).peekable();
        if it.peek().is_none() {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for m in it {
            out.push_str(&s[at..m.start()]);
            out.push_str(MASK);
            at = m.end();
        }
        out.push_str(&s[at..]);
        Cow::Owned(out)
    }

    fn mask_json(&self, j: &Value) -> Option<Value> {
        match j {
            Value::String(s) => match self.mask(s) {
                Cow::Owned(m) => Some(Value::String(m)),
                Cow::Borrowed(_) => None,
            },
            Value::Number(n) => match self.mask(&n.to_string()) {
                Cow::Owned(m) => Some(Value::String(m)),
                Cow::Borrowed(_) => None,
            },
            Value::Array(a) => {
                let mut changed: Option<Vec<Value>> = None;
                for (i, v) in a.iter().enumerate() {
                    if let Some(m) = self.mask_json(v) {
                        changed.get_or_insert_with(|| a.clone())[i] = m;
                    }
                }
                changed.map(Value::Array)
            }
            Value::Object(o) => {
                let masked: Vec<(Option<String>, Option<Value>)> = o
                    .iter()
                    .map(|(k, v)| {
                        let key = match self.mask(k) {
                            Cow::Owned(m) => Some(m),
                            Cow::Borrowed(_) => None,
                        };
                        (key, self.mask_json(v))
                    })
                    .collect();
                if masked.iter().all(|(k, v)| k.is_none() && v.is_none()) {
                    return None;
                }
                let mut out = serde_json::Map::with_capacity(o.len());
                for ((k, v), (mk, mv)) in o.iter().zip(masked) {
                    out.insert(
                        mk.unwrap_or_else(|| k.clone()),
                        mv.unwrap_or_else(|| v.clone()),
                    );
                }
                Some(Value::Object(out))
            }
            Value::Null | Value::Bool(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_the_value() {
        let m = Masker::new();
        assert!(m.is_empty());
        assert!(matches!(m.mask_str("pw=hunter2!"), Cow::Borrowed(_)));
        assert!(m.add("hunter2"));
        assert!(!m.is_empty());
        assert_eq!(m.mask_str("pw=hunter2! again hunter2"), "pw=***! again ***");
        assert!(matches!(m.mask_str("nothing here"), Cow::Borrowed(_)));
        // A trailing newline (from `echo … |`) is not part of the secret.
        let m = Masker::new();
        assert!(m.add("s3cret\n"));
        assert_eq!(m.mask_str("a s3cret b"), "a *** b");
    }

    #[test]
    fn masks_each_base64_form() {
        let secret = "pa>ss?wo~rd";
        let m = Masker::new();
        assert!(m.add(secret));
        let forms = [
            STANDARD.encode(secret),
            STANDARD_NO_PAD.encode(secret),
            URL_SAFE.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
        ];
        // The four really differ: both alphabets, padding or not.
        assert_eq!(forms.iter().collect::<BTreeSet<_>>().len(), 4, "{forms:?}");
        for f in &forms {
            assert_eq!(m.mask_str(&format!("x {f} y")), "x *** y", "{f}");
        }
    }

    #[test]
    fn masks_base64_inside_a_longer_value() {
        let m = Masker::new();
        assert!(m.add("correct-horse-battery"));
        for user in ["u", "us", "usr"] {
            let header = format!(
                "Basic {}",
                STANDARD.encode(format!("{user}:correct-horse-battery"))
            );
            let masked = m.mask_str(&header);
            assert!(masked.contains(MASK), "{user}: {header} → {masked}");
        }
    }

    #[test]
    fn masks_url_encoded_forms() {
        let secret = "p@ss word/+&=~é";
        let m = Masker::new();
        assert!(m.add(secret));
        for f in [
            "p%40ss%20word%2F%2B%26%3D~%C3%A9",
            "p%40ss%20word%2f%2b%26%3d~%c3%a9",
            "p%40ss+word%2F%2B%26%3D~%C3%A9",
            "p%40ss+word%2F%2B%26%3D%7E%C3%A9",
        ] {
            assert_eq!(m.mask_str(&format!("?q={f}&x=1")), "?q=***&x=1", "{f}");
        }
        assert_eq!(m.mask_str(secret), MASK);
    }

    #[test]
    fn several_secrets_longer_wins() {
        let m = Masker::new();
        assert!(m.add("abc"));
        assert!(m.add("abcdef"));
        assert!(m.add("xyz123"));
        assert_eq!(m.mask_str("1abcdef2"), "1***2");
        assert_eq!(m.mask_str("1abc2 xyz123 abcde"), "1***2 *** ***de");
        // Adding the same secret again changes nothing.
        assert!(m.add("abc"));
        assert_eq!(m.mask_str("abc"), MASK);
    }

    #[test]
    fn short_secrets_refused() {
        let m = Masker::new();
        assert!(m.add(""), "empty values are ignored");
        assert!(m.is_empty());
        assert!(!m.add("ab"));
        assert!(!m.add("ab\n"));
        assert!(!m.add("x"));
        assert!(m.is_empty());
        assert_eq!(m.mask_str("ab x"), "ab x");
        assert!(m.add("abc"));
        assert!(!m.is_empty());
    }

    #[test]
    fn masks_json_strings_keys_and_numbers() {
        let m = Masker::new();
        assert_eq!(m.mask_json(&json!({"a": "s3cret"})), None, "no secrets yet");
        assert!(m.add("s3cret"));
        assert!(m.add("424242"));
        let j = json!({
            "plain": "nothing",
            "s3cret": "key is masked",
            "nested": {"list": [1, "x s3cret y", {"deep": "s3cret"}], "n": 424242},
            "flag": true,
        });
        let masked = m.mask_json(&j).unwrap();
        assert_eq!(
            masked,
            json!({
                "plain": "nothing",
                "***": "key is masked",
                "nested": {"list": [1, "x *** y", {"deep": "***"}], "n": "***"},
                "flag": true,
            })
        );
        assert_eq!(m.mask_json(&json!({"a": ["b", 1, null]})), None);
    }
}

#[cfg(test)]
mod json_form_tests {
    use super::Masker;

    #[test]
    fn a_secret_escaped_in_json_is_masked() {
        let m = Masker::new();
        assert!(m.add(r#"pa"ss\wo rd"#));
        let json = serde_json::json!({ "token": r#"pa"ss\wo rd"# }).to_string();
        assert_eq!(m.mask_str(&json), r#"{"token":"***"}"#);
    }
}
