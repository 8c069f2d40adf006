//! The YAML parser's events straight into our spanned tree, with no tree of
//! the YAML crate's in between: a 100,000-step file then needs one tree in
//! memory, not two. Anchors, aliases and tags are refused, duplicate keys
//! are errors, and the top level must be a mapping.

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::yaml::{scalar, scalar_len, Key, Yaml, YamlKind};
use crate::source::{Source, Span};

/// Why the text is not a workflow's YAML, and where (byte offsets).
#[derive(Debug)]
pub(super) enum LoadError {
    TopLevelNotMapping(usize),
    Anchor(usize),
    KeyNotScalar(usize),
    Tag(usize),
    DuplicateKey {
        first: usize,
        second: usize,
        key: String,
    },
    Scan(usize, String),
}

/// A mapping with more keys than this checks duplicates with a hash map.
const LINEAR_KEYS: usize = 16;

enum Frame {
    Seq {
        start: usize,
        items: Vec<Yaml>,
    },
    Map {
        start: usize,
        entries: Vec<(Key, Yaml)>,
        /// The key whose value comes next.
        key: Option<Key>,
        /// Key → entry, once the mapping is large.
        index: Option<HashMap<String, usize>>,
    },
}

struct Loader<'s> {
    source: &'s Source,
    stack: Vec<Frame>,
    /// Inside the (first) document, before its top-level node.
    in_document: bool,
    done: Option<Yaml>,
    error: Option<LoadError>,
}

/// Parse `source` into the tree.
pub(super) fn load(source: &Arc<Source>) -> Result<Yaml, LoadError> {
    let mut loader = Loader {
        source,
        stack: Vec::new(),
        in_document: false,
        done: None,
        error: None,
    };
    let mut parser = Parser::new_from_str(&source.text);
    if let Err(e) = parser.load(&mut loader, false) {
        if loader.error.is_none() {
            let at = loader.offset(*e.marker());
            return Err(LoadError::Scan(at, e.info().to_string()));
        }
    }
    if let Some(e) = loader.error {
        return Err(e);
    }
    Ok(loader.done.unwrap_or(Yaml {
        span: Span::new(0, 1),
        kind: YamlKind::Map(Vec::new()),
    }))
}

impl Loader<'_> {
    fn offset(&self, m: Marker) -> usize {
        // The parser's lines count from 1, its columns (in characters) from 0.
        self.source.offset_of(m.line().saturating_sub(1), m.col())
    }

    fn fail(&mut self, e: LoadError) {
        self.error = Some(e);
    }

    /// Whether a node may start here; the top level must be a mapping and
    /// a key must be a scalar.
    fn may_start(&mut self, at: usize, is_map: bool) -> bool {
        match self.stack.last() {
            None if self.in_document && self.done.is_none() => {
                if !is_map {
                    self.fail(LoadError::TopLevelNotMapping(at));
                    return false;
                }
                true
            }
            Some(Frame::Map { key: None, .. }) => {
                self.fail(LoadError::KeyNotScalar(at));
                false
            }
            _ => true,
        }
    }

    /// A finished node goes into what holds it.
    fn place(&mut self, node: Yaml) {
        match self.stack.last_mut() {
            None => self.done = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                index,
                ..
            }) => {
                // Keys are set by the scalar event; a node in key position
                // is refused before it starts (`may_start`).
                let Some(k) = key.take() else { return };
                let dup = match index {
                    Some(ix) => ix.get(&k.name).copied(),
                    None => entries.iter().position(|(e, _)| e.name == k.name),
                };
                if let Some(i) = dup {
                    let first = entries[i].0.span.offset;
                    let e = LoadError::DuplicateKey {
                        first,
                        second: k.span.offset,
                        key: k.name,
                    };
                    self.fail(e);
                    return;
                }
                if let Some(ix) = index {
                    ix.insert(k.name.clone(), entries.len());
                } else if entries.len() >= LINEAR_KEYS {
                    let mut ix: HashMap<String, usize> = entries
                        .iter()
                        .enumerate()
                        .map(|(i, (e, _))| (e.name.clone(), i))
                        .collect();
                    ix.insert(k.name.clone(), entries.len());
                    *index = Some(ix);
                }
                entries.push((k, node));
            }
        }
    }
}

impl MarkedEventReceiver for Loader<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let at = self.offset(mark);
        let is_map = matches!(ev, Event::MappingStart(..));
        match ev {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            Event::DocumentStart => self.in_document = true,
            Event::Alias(_) => self.fail(LoadError::Anchor(at)),
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag) => {
                if tag.is_some() {
                    self.fail(LoadError::Tag(at));
                } else if anchor != 0 {
                    self.fail(LoadError::Anchor(at));
                } else if self.may_start(at, is_map) {
                    self.stack.push(if is_map {
                        Frame::Map {
                            start: at,
                            entries: Vec::new(),
                            key: None,
                            index: None,
                        }
                    } else {
                        Frame::Seq {
                            start: at,
                            items: Vec::new(),
                        }
                    });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq { start, items }) => Yaml {
                        span: Span::new(start, 1),
                        kind: YamlKind::Seq(items),
                    },
                    Some(Frame::Map { start, entries, .. }) => {
                        // A block mapping's start mark is where the parser
                        // recognised it (after its first key); labels read
                        // better on that key.
                        let begin = entries
                            .first()
                            .map_or(start, |(k, _)| k.span.offset.min(start));
                        Yaml {
                            span: Span::new(begin, 1),
                            kind: YamlKind::Map(entries),
                        }
                    }
                    None => return,
                };
                self.place(node);
            }
            // A scalar's anchor is reported before its tag; a collection's
            // tag first (the label is on the token written first either way).
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 {
                    self.fail(LoadError::Anchor(at));
                } else if tag.is_some() {
                    self.fail(LoadError::Tag(at));
                } else if let Some(Frame::Map {
                    key: key @ None, ..
                }) = self.stack.last_mut()
                {
                    let len = scalar_len(&self.source.text, at, &value);
                    *key = Some(Key {
                        name: value,
                        span: Span::new(at, len),
                    });
                } else if self.stack.is_empty() {
                    self.fail(LoadError::TopLevelNotMapping(at));
                } else {
                    let plain = matches!(style, TScalarStyle::Plain);
                    let node = scalar(self.source, at, value, plain);
                    self.place(node);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(t: &str) -> Result<Yaml, LoadError> {
        load(&Arc::new(Source::new("t.yaml", "t.yaml", t)))
    }

    #[test]
    fn a_duplicate_in_a_large_mapping_is_found_by_its_index() {
        let mut t: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        t.push_str("k7: again\n");
        match load_str(&t) {
            Err(LoadError::DuplicateKey { first, second, key }) => {
                assert_eq!(key, "k7");
                assert_eq!(&t[first..first + 2], "k7");
                assert_eq!(second, t.len() - "k7: again\n".len());
            }
            other => panic!("{other:?}"),
        }
        let ok: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        let y = load_str(&ok).unwrap();
        assert_eq!(y.as_map().unwrap().len(), 40);
    }

    #[test]
    fn what_is_not_a_workflow_mapping_is_refused_where_it_is() {
        assert!(matches!(
            load_str("- a\n"),
            Err(LoadError::TopLevelNotMapping(0))
        ));
        assert!(matches!(
            load_str("just text\n"),
            Err(LoadError::TopLevelNotMapping(0))
        ));
        assert!(matches!(
            load_str("? [a]\n: 1\n"),
            Err(LoadError::KeyNotScalar(_))
        ));
        assert!(matches!(
            load_str("a: &x 1\nb: *x\n"),
            Err(LoadError::Anchor(_))
        ));
        assert!(matches!(load_str("a: [1\n"), Err(LoadError::Scan(..))));
    }

    #[test]
    fn nesting_and_spans_follow_the_text() {
        let t = "a:\n  - x: 1\n    y: 'two'\nb: {c: [3]}\n";
        let y = load_str(t).unwrap();
        let a = y.get("a").unwrap().as_seq().unwrap();
        let x = a[0].get("x").unwrap();
        assert_eq!(&t[x.span.offset..x.span.offset + x.span.len], "1");
        let two = a[0].get("y").unwrap().as_scalar().unwrap();
        assert!(!two.plain);
        assert_eq!(two.text, "two");
        let c = y.get("b").unwrap().get("c").unwrap().as_seq().unwrap();
        assert_eq!(c[0].as_str(), Some("3"));
    }
}
