//! Where a key of a step is written, for diagnostics about constructs the
//! model keeps no span for (`retry:`, `cache:`, `timeout:` …).

use crate::load::yaml::Yaml;
use crate::model::Workflow;
use crate::source::Span;

fn get<'y>(y: &'y Yaml, key: &str) -> Option<&'y Yaml> {
    y.as_map()?
        .iter()
        .find(|(k, _)| k.name == key)
        .map(|(_, v)| v)
}

pub(crate) struct Locator {
    root: Option<Yaml>,
}

impl Locator {
    pub(crate) fn new(wf: &Workflow) -> Locator {
        Locator {
            root: crate::load::yaml::parse(&wf.source).ok(),
        }
    }

    fn step(&self, id: &str) -> Option<&Yaml> {
        let root = self.root.as_ref()?;
        ["steps", "on_failure", "finally"]
            .iter()
            .filter_map(|k| get(root, k).and_then(Yaml::as_seq))
            .flatten()
            .find(|s| get(s, "id").and_then(Yaml::as_str) == Some(id))
    }

    /// The span of `key` in step `id` (its key, so the diagnostic points at
    /// the word), else `fallback`.
    pub(crate) fn step_key(&self, id: &str, key: &str, fallback: Span) -> Span {
        self.step(id)
            .and_then(Yaml::as_map)
            .and_then(|m| m.iter().find(|(k, _)| k.name == key))
            .map_or(fallback, |(k, _)| k.span)
    }

    /// The span of `outer.inner` in step `id` (`retry.jitter`).
    pub(crate) fn step_subkey(&self, id: &str, outer: &str, inner: &str, fallback: Span) -> Span {
        self.step(id)
            .and_then(|s| get(s, outer))
            .and_then(Yaml::as_map)
            .and_then(|m| m.iter().find(|(k, _)| k.name == inner))
            .map_or_else(|| self.step_key(id, outer, fallback), |(k, _)| k.span)
    }

    /// A top-level key (`outputs`, `timeout`).
    pub(crate) fn top_key(&self, key: &str, fallback: Span) -> Span {
        self.root
            .as_ref()
            .and_then(Yaml::as_map)
            .and_then(|m| m.iter().find(|(k, _)| k.name == key))
            .map_or(fallback, |(k, _)| k.span)
    }
}
