//! A run's workflow outputs in the order `outputs:` declares them. A
//! `serde_json` map sorts its keys, so the outputs travel as a list of
//! pairs through the summary, the JSON event, `$GITHUB_OUTPUT` and the
//! history, and are read back from the history in the order they were
//! written.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

/// Names and values, in declaration order; a name appears once.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Outputs(Vec<(String, Json)>);

impl Outputs {
    /// Set `name`; a name set again keeps its first place.
    pub(crate) fn insert(&mut self, name: String, value: Json) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name, value)),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Names and values to rewrite in place (masking).
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&mut String, &mut Json)> {
        self.0.iter_mut().map(|(k, v)| (k, v))
    }

    /// As a JSON object, for what reads outputs by name (a parent workflow's
    /// `steps.<id>.outputs`); the order is lost there.
    pub(crate) fn to_json(&self) -> Json {
        Json::Object(self.0.iter().cloned().collect())
    }

    /// The outputs stored as JSON text, in the order the text has them;
    /// empty for no text, text that is not JSON, or JSON that is no object.
    pub(crate) fn parse(text: Option<&str>) -> Outputs {
        text.and_then(|t| serde_json::from_str::<Maybe>(t).ok())
            .and_then(|m| m.0)
            .unwrap_or_default()
    }
}

impl FromIterator<(String, Json)> for Outputs {
    fn from_iter<I: IntoIterator<Item = (String, Json)>>(iter: I) -> Self {
        let mut out = Outputs::default();
        for (k, v) in iter {
            out.insert(k, v);
        }
        out
    }
}

impl Serialize for Outputs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Outputs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(InOrder)
    }
}

/// Collects a JSON object's entries as they come (the document's order).
struct InOrder;

impl<'de> Visitor<'de> for InOrder {
    type Value = Outputs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of outputs")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outputs, A::Error> {
        let mut out = Outputs::default();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            out.insert(k, v);
        }
        Ok(out)
    }
}

/// An object of outputs, or `None` for any other JSON value (`null` is
/// what a run that never got to its outputs may have stored).
struct Maybe(Option<Outputs>);

impl<'de> Deserialize<'de> for Maybe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Maybe;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Maybe, A::Error> {
                InOrder.visit_map(map).map(|o| Maybe(Some(o)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Maybe, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Maybe(None))
            }
            fn visit_unit<E>(self) -> Result<Maybe, E> {
                Ok(Maybe(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Maybe, E> {
                Ok(Maybe(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Maybe, E> {
                Ok(Maybe(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Maybe, E> {
                Ok(Maybe(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Maybe, E> {
                Ok(Maybe(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Maybe, E> {
                Ok(Maybe(None))
            }
        }
        d.deserialize_any(Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn zam() -> Outputs {
        [
            ("z", json!(1)),
            ("a", json!("x")),
            ("m", json!({"b": 2, "a": 1})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn serialized_and_read_back_in_declaration_order() {
        let text = serde_json::to_string(&zam()).unwrap();
        assert_eq!(text, r#"{"z":1,"a":"x","m":{"a":1,"b":2}}"#);
        let back = Outputs::parse(Some(&text));
        let names: Vec<&str> = back.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["z", "a", "m"]);
        assert_eq!(back, zam());
        // Whoever reads them by name gets the same values.
        assert_eq!(
            back.to_json(),
            json!({"a": "x", "m": {"a": 1, "b": 2}, "z": 1})
        );
    }

    #[test]
    fn a_name_set_again_keeps_its_place() {
        let mut o = zam();
        o.insert("z".into(), json!(9));
        let names: Vec<&str> = o.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["z", "a", "m"]);
        assert_eq!(
            o.to_json(),
            json!({"z": 9, "a": "x", "m": {"a": 1, "b": 2}})
        );
    }

    #[test]
    fn stored_text_that_is_no_object_is_no_outputs() {
        for t in [
            None,
            Some("null"),
            Some("[1, {}]"),
            Some("3"),
            Some("\"x\""),
            Some("nope"),
        ] {
            assert!(Outputs::parse(t).is_empty(), "{t:?}");
        }
        assert_eq!(Outputs::parse(Some("{}")), Outputs::default());
    }
}
