//! YAML read the way quilt3 reads `config.yml`: PyYAML's `yaml.safe_load`, which is YAML 1.1.
//!
//! Why by hand on top of `yaml-rust2`'s event parser: every maintained Rust YAML crate resolves
//! plain scalars by YAML 1.2 rules, where `yes`, `on`, `1_000`, `010` or `1:30` are strings.
//! PyYAML makes them `True`, `True`, `1000`, `8` and `90`, and the config schema checks types
//! (`is_workflow_required: yes` is a valid config for quilt3, `name: yes` an invalid one), so
//! the same file must give the same verdict here. The parser gives us each scalar with its
//! style and tag; this module applies PyYAML's implicit resolvers (the regular expressions of
//! `yaml/resolver.py`, in its order), its safe constructors, `<<` merge keys, duplicate keys
//! (last one wins) and its one-document rule.
//!
//! Values JSON cannot hold are mapped so the config schema gives the verdict Python gives:
//! a timestamp (Python `date`/`datetime`, which is no JSON Schema type) becomes the array
//! `["!!timestamp", "<text>"]` (the config schema allows arrays nowhere, as it allows dates
//! nowhere); `.inf`/`.nan` become `null`; a non-string mapping key becomes its Python `str()`.
//! `!!binary` (Python `bytes`) is mapped like a timestamp; `!!set`, `!!omap`, `!!pairs` and
//! other tags are refused (unsupported here).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Why a document is not YAML quilt3 would load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(pub String);

/// A parsed node, before PyYAML's resolution.
#[derive(Clone, Debug)]
enum Node {
    Scalar {
        value: String,
        plain: bool,
        tag: Option<Tag>,
    },
    Seq(Vec<Node>, Option<Tag>),
    Map(Vec<(Node, Node)>, Option<Tag>),
}

/// Builds [`Node`] trees from parser events, expanding aliases.
#[derive(Default)]
struct Builder {
    stack: Vec<Node>,
    /// A mapping's pending key, per open mapping (None while waiting for a key).
    keys: Vec<Option<Node>>,
    anchors: HashMap<usize, Node>,
    /// Anchor ids of the open collections.
    open_anchors: Vec<usize>,
    documents: Vec<Node>,
    error: Option<String>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Node::Seq(items, _)) => items.push(node),
            Some(Node::Map(pairs, _)) => {
                let slot = self.keys.last_mut().expect("a key slot per open mapping");
                match slot.take() {
                    None => *slot = Some(node),
                    Some(key) => pairs.push((key, node)),
                }
            }
            Some(Node::Scalar { .. }) => self.error = Some("internal: scalar on stack".into()),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain;
                self.push_value(Node::Scalar { value, plain, tag }, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(n) => {
                    let n = n.clone();
                    self.push_value(n, 0);
                }
                None => self.error = Some(format!("found undefined alias {id}")),
            },
            Event::SequenceStart(anchor, tag) => {
                self.stack.push(Node::Seq(Vec::new(), tag));
                self.open_anchors.push(anchor);
            }
            Event::MappingStart(anchor, tag) => {
                self.stack.push(Node::Map(Vec::new(), tag));
                self.keys.push(None);
                self.open_anchors.push(anchor);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if matches!(ev, Event::MappingEnd) {
                    self.keys.pop();
                }
                let anchor = self.open_anchors.pop().unwrap_or(0);
                if let Some(node) = self.stack.pop() {
                    self.push_value(node, anchor);
                }
            }
            _ => {}
        }
    }
}

/// `yaml.safe_load(text)` as a JSON value (see the module doc for the mapping).
pub fn safe_load(text: &str) -> Result<Value, YamlError> {
    let mut b = Builder::default();
    Parser::new_from_str(text)
        .load(&mut b, true)
        .map_err(|e| YamlError(e.to_string()))?;
    if let Some(e) = b.error {
        return Err(YamlError(e));
    }
    match b.documents.len() {
        0 => Ok(Value::Null),
        1 => construct(&b.documents[0]),
        _ => Err(YamlError(
            "expected a single document in the stream, but found another document".into(),
        )),
    }
}

const CORE: &str = "tag:yaml.org,2002:";

/// The tag's name in the YAML core namespace (`!!str` → `str`); `Some("")` for the
/// non-specific `!`; `None` for other tags.
fn core_tag(tag: &Tag) -> Option<&str> {
    if tag.handle == CORE {
        Some(tag.suffix.as_str())
    } else if tag.handle == "!" && tag.suffix.is_empty() {
        Some("")
    } else {
        None
    }
}

fn tag_text(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

static BOOL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
});
static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
        r"|[-+]?\.(?:inf|Inf|INF)",
        r"|\.(?:nan|NaN|NAN))$"
    ))
});
static INT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"^(?:[-+]?0b[0-1_]+",
        r"|[-+]?0[0-7_]+",
        r"|[-+]?(?:0|[1-9][0-9_]*)",
        r"|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
    ))
});
static NULL: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:~|null|Null|NULL|)$"));
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
        r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?",
        r"(?:[Tt]|[ \t]+)[0-9][0-9]?",
        r":[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?",
        r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"
    ))
});

fn re(p: &str) -> Regex {
    #[expect(clippy::unwrap_used, reason = "fixed patterns, covered by the tests")]
    Regex::new(p).unwrap()
}

/// The implicit tag PyYAML gives a plain scalar: its resolvers are tried in the order they
/// were added, among those registered for the scalar's first character.
fn resolve_plain(v: &str) -> &'static str {
    let first = v.chars().next();
    let candidates: &[(&str, &LazyLock<Regex>)] = match first {
        None => &[("null", &NULL)],
        Some('y' | 'Y' | 'o' | 'O') => &[("bool", &BOOL)],
        Some('n' | 'N') => &[("bool", &BOOL), ("null", &NULL)],
        Some('t' | 'T' | 'f' | 'F') => &[("bool", &BOOL)],
        Some('~') => &[("null", &NULL)],
        Some('-' | '+') => &[("float", &FLOAT), ("int", &INT)],
        Some('.') => &[("float", &FLOAT)],
        Some('0'..='9') => &[("float", &FLOAT), ("int", &INT), ("timestamp", &TIMESTAMP)],
        Some('<') if v == "<<" => return "merge",
        Some('=') if v == "=" => return "value",
        _ => &[],
    };
    for (tag, rx) in candidates {
        if rx.is_match(v) {
            return tag;
        }
    }
    "str"
}

fn construct(node: &Node) -> Result<Value, YamlError> {
    match node {
        Node::Scalar { value, plain, tag } => {
            let kind = match tag {
                Some(t) => match core_tag(t) {
                    Some("") => "str",
                    Some(k) => k,
                    None => return Err(unsupported(t)),
                },
                None if *plain => resolve_plain(value),
                None => "str",
            };
            scalar(value, kind, tag.as_ref())
        }
        Node::Seq(items, tag) => {
            if let Some(t) = tag
                && !matches!(core_tag(t), Some("seq" | ""))
            {
                return Err(unsupported(t));
            }
            items
                .iter()
                .map(construct)
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        Node::Map(pairs, tag) => {
            if let Some(t) = tag
                && !matches!(core_tag(t), Some("map" | ""))
            {
                return Err(unsupported(t));
            }
            let mut map = Map::new();
            for (k, v) in flatten(pairs)? {
                let key = key_text(&k)?;
                map.insert(key, construct(&v)?);
            }
            Ok(Value::Object(map))
        }
    }
}

fn unsupported(t: &Tag) -> YamlError {
    YamlError(format!(
        "could not determine a constructor for the tag {:?}",
        tag_text(t)
    ))
}

fn is_merge_key(n: &Node) -> bool {
    match n {
        Node::Scalar {
            value,
            plain: true,
            tag: None,
        } => value == "<<",
        Node::Scalar { tag: Some(t), .. } => core_tag(t) == Some("merge"),
        _ => false,
    }
}

/// PyYAML's `flatten_mapping`: `<<` pairs merged in front of the explicit ones (a sequence of
/// mappings merged with the earlier ones winning), so explicit keys override merged ones.
fn flatten(pairs: &[(Node, Node)]) -> Result<Vec<(Node, Node)>, YamlError> {
    let mut merge = Vec::new();
    let mut own = Vec::new();
    for (k, v) in pairs {
        if !is_merge_key(k) {
            own.push((k.clone(), v.clone()));
            continue;
        }
        match v {
            Node::Map(sub, _) => merge.extend(flatten(sub)?),
            Node::Seq(items, _) => {
                let mut subs = Vec::new();
                for item in items {
                    match item {
                        Node::Map(sub, _) => subs.push(flatten(sub)?),
                        _ => {
                            return Err(YamlError(
                                "while constructing a mapping: expected a mapping for merging"
                                    .into(),
                            ));
                        }
                    }
                }
                for s in subs.into_iter().rev() {
                    merge.extend(s);
                }
            }
            _ => {
                return Err(YamlError(
                    "while constructing a mapping: expected a mapping or list of mappings for merging"
                        .into(),
                ));
            }
        }
    }
    merge.extend(own);
    Ok(merge)
}

/// A mapping key as the string Python's `str()` would give it (keys of the config are
/// strings; anything else is kept distinguishable rather than refused).
fn key_text(k: &Node) -> Result<String, YamlError> {
    match construct(k)? {
        Value::String(s) => Ok(s),
        Value::Null => Ok("None".into()),
        Value::Bool(true) => Ok("True".into()),
        Value::Bool(false) => Ok("False".into()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(a) if a.first() == Some(&Value::from("!!timestamp")) => Ok(a
            .get(1)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()),
        _ => Err(YamlError(
            "while constructing a mapping: found unhashable key".into(),
        )),
    }
}

fn scalar(value: &str, kind: &str, tag: Option<&Tag>) -> Result<Value, YamlError> {
    let bad = || {
        YamlError(format!(
            "cannot construct a {kind} from {value:?}{}",
            tag.map(|t| format!(" (tag {})", tag_text(t)))
                .unwrap_or_default()
        ))
    };
    match kind {
        "str" => Ok(Value::String(value.to_owned())),
        "null" => Ok(Value::Null),
        "bool" => match value.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Ok(Value::Bool(true)),
            "no" | "false" | "off" => Ok(Value::Bool(false)),
            _ => Err(bad()),
        },
        "int" => int(value).ok_or_else(bad),
        "float" => float(value).ok_or_else(bad),
        // Python `date` / `bytes`: no JSON type (see the module doc).
        "timestamp" | "binary" => Ok(Value::Array(vec![
            Value::from(format!("!!{kind}")),
            Value::from(value),
        ])),
        "merge" => Err(YamlError(
            "a merge key '<<' is only allowed as a mapping key".into(),
        )),
        other => Err(YamlError(format!(
            "could not determine a constructor for the tag 'tag:yaml.org,2002:{other}'"
        ))),
    }
}

/// `construct_yaml_int`.
fn int(value: &str) -> Option<Value> {
    let v = value.replace('_', "");
    let (neg, digits) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v.as_str()),
    };
    let magnitude: i128 = if digits == "0" {
        0
    } else if let Some(b) = digits.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()?
    } else if let Some(h) = digits.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()?
    } else if digits.starts_with('0') {
        i128::from_str_radix(digits, 8).ok()?
    } else if digits.contains(':') {
        let mut total: i128 = 0;
        for part in digits.split(':') {
            total = total
                .checked_mul(60)?
                .checked_add(part.parse::<i128>().ok()?)?;
        }
        total
    } else {
        digits.parse().ok()?
    };
    let n = if neg { -magnitude } else { magnitude };
    Some(match (i64::try_from(n), u64::try_from(n)) {
        (Ok(i), _) => Value::from(i),
        (_, Ok(u)) => Value::from(u),
        // Beyond 64 bits (Python keeps it exact): the nearest float.
        _ => Number::from_f64(n as f64).map_or(Value::Null, Value::Number),
    })
}

/// `construct_yaml_float` (non-finite values become `null`, see the module doc).
fn float(value: &str) -> Option<Value> {
    let v = value.replace('_', "").to_ascii_lowercase();
    let (sign, body) = match v.as_bytes().first()? {
        b'-' => (-1.0, &v[1..]),
        b'+' => (1.0, &v[1..]),
        _ => (1.0, v.as_str()),
    };
    let f: f64 = if body == ".inf" || body == ".nan" {
        return Some(Value::Null);
    } else if body.contains(':') {
        let mut total = 0.0;
        for part in body.split(':') {
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        total
    } else {
        // Python's float() takes "1." and ".5"; so does Rust's parser.
        body.parse().ok()?
    };
    Some(Number::from_f64(sign * f).map_or(Value::Null, Value::Number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_scalars_resolve_as_pyyaml_does() {
        let doc = "a: yes\nb: Off\nc: 1_000\nd: 010\ne: 1:30\nf: 0x1F\ng: 1e10\nh: 1.0e+3\ni: ~\nj:\nk: 'yes'\nl: 2020-01-02\nm: .5\nn: NO\no: y\np: -0b11\nq: 1.5.0\n";
        let v = safe_load(doc).expect("yaml");
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": 1000, "d": 8, "e": 90, "f": 31, "g": "1e10",
                   "h": 1000.0, "i": null, "j": null, "k": "yes",
                   "l": ["!!timestamp", "2020-01-02"], "m": 0.5, "n": false, "o": "y",
                   "p": -3, "q": "1.5.0"})
        );
    }

    #[test]
    fn merge_keys_duplicates_and_tags() {
        let doc =
            "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nd: 1\nd: 2\ns: !!str 12\ni: !!int '7'\n";
        let v = safe_load(doc).expect("yaml");
        assert_eq!(v["m"], json!({"x": 1, "y": 3}));
        assert_eq!(v["d"], json!(2));
        assert_eq!(v["s"], json!("12"));
        assert_eq!(v["i"], json!(7));
    }

    #[test]
    fn what_pyyaml_refuses_is_refused() {
        for doc in [
            "a: [1, 2",
            "---\na: 1\n---\nb: 2\n",
            "a: =\n",
            "? [1]\n: x\n",
            "a: *nope\n",
        ] {
            assert!(safe_load(doc).is_err(), "{doc:?}");
        }
        assert_eq!(safe_load("").expect("empty"), Value::Null);
    }
}
