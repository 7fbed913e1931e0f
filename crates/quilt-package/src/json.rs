//! The JSON values a manifest holds, with the semantics quilt3 (Python's `json`) gives them.
//!
//! Why not `serde_json::Value`: byte-exact quilt3 output needs three things it does not give
//! without workspace-wide feature flags. Objects must keep their order (`preserve_order`
//! would change every other crate's output), integers must survive at any size and numbers
//! must be re-printed the way Python prints them (`arbitrary_precision` changes how every
//! crate in the build deserialises numbers, and breaks untagged/flattened serde types that
//! rmcp uses), and duplicate object keys must be an error rather than "last one wins". So
//! this module has a small value type, a strict parser ([`JsonValue::parse`]) and the two
//! writers quilt3 uses (manifest style, [`JsonValue::to_quilt_string`]; hash style,
//! [`JsonObject::to_hash_string`]); conversions to and from `serde_json::Value`
//! are for the tools that take metadata as MCP arguments.

mod float;
pub(crate) mod parse;
pub(crate) mod write;

use std::fmt;

pub use float::python_float_repr;
pub use parse::JsonError;

/// A JSON value as Python's `json.loads` would hold it.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonValue {
    /// `null` (Python `None`).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number: an integer of any size, or a float.
    Number(JsonNumber),
    /// A string (always valid Unicode: lone surrogates are refused when parsing).
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object, in its original key order.
    Object(JsonObject),
}

impl JsonValue {
    /// Parses one JSON value the way Python's `json.loads` reads it, but refusing duplicate
    /// object keys and lone surrogates (see [`JsonError`]).
    pub fn parse(text: &str) -> Result<JsonValue, JsonError> {
        parse::parse_value(text)
    }

    /// The object inside, if this is one.
    pub fn as_object(&self) -> Option<&JsonObject> {
        match self {
            JsonValue::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The string inside, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The JSON text in quilt3's manifest style (`json.dumps(v, ensure_ascii=False)`).
    pub fn to_quilt_string(&self) -> String {
        let mut out = String::new();
        write::write_value(&mut out, self, write::Style::Manifest);
        out
    }

    /// Converts to a `serde_json::Value`. Lossy where serde_json cannot hold the value:
    /// an integer beyond 64 bits becomes the nearest f64, and NaN/±Infinity become `null`.
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            JsonValue::Null => serde_json::Value::Null,
            JsonValue::Bool(b) => serde_json::Value::Bool(*b),
            JsonValue::Number(n) => n.to_serde(),
            JsonValue::String(s) => serde_json::Value::String(s.clone()),
            JsonValue::Array(a) => serde_json::Value::Array(a.iter().map(Self::to_serde).collect()),
            JsonValue::Object(o) => serde_json::Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_serde()))
                    .collect(),
            ),
        }
    }
}

impl From<&serde_json::Value> for JsonValue {
    /// Exact for every value serde_json holds: integers stay integers, floats keep their
    /// f64 value (and print as Python would), object order is serde_json's.
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => JsonValue::Null,
            serde_json::Value::Bool(b) => JsonValue::Bool(*b),
            serde_json::Value::Number(n) => JsonValue::Number(JsonNumber::from_serde(n)),
            serde_json::Value::String(s) => JsonValue::String(s.clone()),
            serde_json::Value::Array(a) => JsonValue::Array(a.iter().map(Self::from).collect()),
            serde_json::Value::Object(o) => JsonValue::Object(JsonObject(
                o.iter().map(|(k, v)| (k.clone(), Self::from(v))).collect(),
            )),
        }
    }
}

impl From<&str> for JsonValue {
    fn from(s: &str) -> Self {
        JsonValue::String(s.to_owned())
    }
}

impl From<String> for JsonValue {
    fn from(s: String) -> Self {
        JsonValue::String(s)
    }
}

impl From<JsonObject> for JsonValue {
    fn from(o: JsonObject) -> Self {
        JsonValue::Object(o)
    }
}

impl fmt::Display for JsonValue {
    /// quilt3's manifest style, as [`JsonValue::to_quilt_string`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_quilt_string())
    }
}

/// A JSON number as Python holds it: an `int` of any size, or a `float`.
///
/// Python's `json` makes a token with `.`, `e` or `E` a float and anything else an int, and
/// prints floats with `repr` — so `1.50` reads back as `1.5` and `1E5` as `100000.0`. Writing
/// follows quilt3, not the input text.
#[derive(Clone, Debug)]
pub struct JsonNumber(Num);

#[derive(Clone, Debug)]
enum Num {
    /// Canonical decimal digits, optional leading `-`, never `-0`.
    Int(Box<str>),
    Float(f64),
}

impl JsonNumber {
    /// An integer.
    pub fn from_i64(i: i64) -> Self {
        JsonNumber(Num::Int(i.to_string().into()))
    }

    /// An integer.
    pub fn from_u64(i: u64) -> Self {
        JsonNumber(Num::Int(i.to_string().into()))
    }

    /// A float (printed like Python's `repr`, so `1.0` stays a float).
    pub fn from_f64(f: f64) -> Self {
        JsonNumber(Num::Float(f))
    }

    /// Builds from the text of a JSON integer token (already checked by the parser).
    pub(crate) fn from_int_token(digits: &str) -> Self {
        let canonical = if digits == "-0" { "0" } else { digits };
        JsonNumber(Num::Int(canonical.into()))
    }

    fn from_serde(n: &serde_json::Number) -> Self {
        if let Some(u) = n.as_u64() {
            Self::from_u64(u)
        } else if let Some(i) = n.as_i64() {
            Self::from_i64(i)
        } else {
            Self::from_f64(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    /// Whether this is an integer (Python `int`).
    pub fn is_integer(&self) -> bool {
        matches!(self.0, Num::Int(_))
    }

    /// The value as a `u64`, when it is an integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match &self.0 {
            Num::Int(s) => s.parse().ok(),
            Num::Float(_) => None,
        }
    }

    /// The value as an `f64` (integers rounded to the nearest f64).
    pub fn as_f64(&self) -> f64 {
        match &self.0 {
            Num::Int(s) => s.parse().unwrap_or(f64::NAN),
            Num::Float(f) => *f,
        }
    }

    /// The text Python's `json.dumps` prints for this number.
    pub fn python_text(&self) -> String {
        match &self.0 {
            Num::Int(s) => s.to_string(),
            Num::Float(f) => python_float_repr(*f),
        }
    }

    fn to_serde(&self) -> serde_json::Value {
        match &self.0 {
            Num::Int(s) => {
                if let Ok(u) = s.parse::<u64>() {
                    serde_json::Value::from(u)
                } else if let Ok(i) = s.parse::<i64>() {
                    serde_json::Value::from(i)
                } else {
                    serde_json::Number::from_f64(self.as_f64())
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                }
            }
            Num::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
        }
    }
}

impl PartialEq for JsonNumber {
    /// Python's `==`: `1 == 1.0`, exactly (no rounding of big integers), `nan != nan`.
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Num::Int(a), Num::Int(b)) => a == b,
            (Num::Float(a), Num::Float(b)) => a == b,
            (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => {
                f.is_finite() && f.fract() == 0.0 && {
                    let whole = format!("{f:.0}");
                    let whole = if whole == "-0" { "0" } else { &whole };
                    whole == &**i
                }
            }
        }
    }
}

/// A JSON object that keeps its keys in order and holds each key once.
///
/// Equality is Python's dict equality: the same keys with equal values, in any order.
#[derive(Clone, Debug, Default)]
pub struct JsonObject(Vec<(String, JsonValue)>);

impl PartialEq for JsonObject {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl JsonObject {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut JsonValue> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` (in place if present, else appended, as a Python dict does); returns the
    /// old value.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Into<JsonValue>,
    ) -> Option<JsonValue> {
        let key = key.into();
        let value = value.into();
        match self.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the rest.
    pub fn remove(&mut self, key: &str) -> Option<JsonValue> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Key/value pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &JsonValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends without checking for an existing key (the parser checks first).
    pub(crate) fn push_unchecked(&mut self, key: String, value: JsonValue) {
        self.0.push((key, value));
    }

    /// Converts a `serde_json` object (see [`JsonValue::from`]).
    pub fn from_serde(map: &serde_json::Map<String, serde_json::Value>) -> Self {
        JsonObject(
            map.iter()
                .map(|(k, v)| (k.clone(), JsonValue::from(v)))
                .collect(),
        )
    }

    /// The JSON text in quilt3's manifest style.
    pub fn to_quilt_string(&self) -> String {
        let mut out = String::new();
        write::write_object(&mut out, self, write::Style::Manifest);
        out
    }

    /// The JSON text quilt3 hashes: sorted keys, `,`/`:`, ASCII only.
    pub fn to_hash_string(&self) -> String {
        let mut out = String::new();
        write::write_object(&mut out, self, write::Style::Hash);
        out
    }
}

impl FromIterator<(String, JsonValue)> for JsonObject {
    /// Later duplicates replace earlier ones in place, as in a Python dict.
    fn from_iter<I: IntoIterator<Item = (String, JsonValue)>>(iter: I) -> Self {
        let mut o = JsonObject::new();
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}
