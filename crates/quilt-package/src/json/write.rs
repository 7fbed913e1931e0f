//! The two JSON text forms quilt3 produces.
//!
//! - [`Style::Manifest`]: `json.JSONEncoder(ensure_ascii=False)` — separators `", "` and
//!   `": "`, keys in stored order, non-ASCII raw.
//! - [`Style::Hash`]: `json.JSONEncoder(sort_keys=True, separators=(',', ':'))` — keys sorted
//!   at every level, everything outside printable ASCII as `\uXXXX` (lowercase hex, astral
//!   characters as surrogate pairs, DEL included).
//!
//! Both escape `"` `\` and the control characters with Python's short forms (`\n` `\r` `\t`
//! `\b` `\f`) or `\u00XX`, leave `/` alone, and print numbers as Python does. Hand-written
//! because serde_json's escaping differs (it never escapes non-ASCII or DEL) and its
//! formatter cannot print Python's float forms.

use std::fmt::Write as _;

use super::{JsonObject, JsonValue};

/// Which of quilt3's two encoders to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// How manifest lines are written.
    Manifest,
    /// How the top hash's parts are serialised.
    Hash,
}

pub(crate) fn write_value(out: &mut String, v: &JsonValue, style: Style) {
    match v {
        JsonValue::Null => out.push_str("null"),
        JsonValue::Bool(true) => out.push_str("true"),
        JsonValue::Bool(false) => out.push_str("false"),
        JsonValue::Number(n) => out.push_str(&n.python_text()),
        JsonValue::String(s) => write_string(out, s, style),
        JsonValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator(style));
                }
                write_value(out, item, style);
            }
            out.push(']');
        }
        JsonValue::Object(o) => write_object(out, o, style),
    }
}

fn item_separator(style: Style) -> &'static str {
    match style {
        Style::Manifest => ", ",
        Style::Hash => ",",
    }
}

fn key_separator(style: Style) -> &'static str {
    match style {
        Style::Manifest => ": ",
        Style::Hash => ":",
    }
}

pub(crate) fn write_object(out: &mut String, o: &JsonObject, style: Style) {
    let mut pairs: Vec<(&str, &JsonValue)> = o.iter().collect();
    if style == Style::Hash {
        // Rust orders `str` by UTF-8 bytes, which is code-point order, as Python sorts str.
        pairs.sort_by(|a, b| a.0.cmp(b.0));
    }
    write_pairs(out, pairs, style);
}

/// Writes an object from pairs already in the order wanted.
pub(crate) fn write_pairs<'a>(
    out: &mut String,
    pairs: impl IntoIterator<Item = (&'a str, &'a JsonValue)>,
    style: Style,
) {
    write_fields(
        out,
        pairs.into_iter().map(|(k, v)| (k, Field::Value(v))),
        style,
    );
}

/// A field value borrowed from a typed record, so records are written without first being
/// copied into a [`JsonValue`].
#[derive(Clone, Copy)]
pub(crate) enum Field<'a> {
    Value(&'a JsonValue),
    Object(&'a JsonObject),
    Str(&'a str),
    U64(u64),
    Strings(&'a [String]),
}

impl Field<'_> {
    /// Whether NaN or ±Infinity is inside (quilt3 refuses to write them).
    pub(crate) fn has_non_finite(self) -> bool {
        fn value(v: &JsonValue) -> bool {
            match v {
                JsonValue::Number(n) => !n.is_integer() && !n.as_f64().is_finite(),
                JsonValue::Array(a) => a.iter().any(value),
                JsonValue::Object(o) => o.iter().any(|(_, v)| value(v)),
                _ => false,
            }
        }
        match self {
            Field::Value(v) => value(v),
            Field::Object(o) => o.iter().any(|(_, v)| value(v)),
            Field::Str(_) | Field::U64(_) | Field::Strings(_) => false,
        }
    }
}

/// Writes an object from fields already in the order wanted.
pub(crate) fn write_fields<'a>(
    out: &mut String,
    fields: impl IntoIterator<Item = (&'a str, Field<'a>)>,
    style: Style,
) {
    out.push('{');
    for (i, (k, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push_str(item_separator(style));
        }
        write_string(out, k, style);
        out.push_str(key_separator(style));
        match v {
            Field::Value(v) => write_value(out, v, style),
            Field::Object(o) => write_object(out, o, style),
            Field::Str(s) => write_string(out, s, style),
            Field::U64(n) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "{n}");
            }
            Field::Strings(items) => {
                out.push('[');
                for (j, item) in items.iter().enumerate() {
                    if j > 0 {
                        out.push_str(item_separator(style));
                    }
                    write_string(out, item, style);
                }
                out.push(']');
            }
        }
    }
    out.push('}');
}

pub(crate) fn write_string(out: &mut String, s: &str, style: Style) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => push_u_escape(out, c as u32),
            c if style == Style::Hash && (c as u32) >= 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u_escape(out, u32::from(*unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_u_escape(out: &mut String, unit: u32) {
    // Writing to a String cannot fail.
    let _ = write!(out, "\\u{unit:04x}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str, style: Style) -> String {
        let mut out = String::new();
        write_string(&mut out, text, style);
        out
    }

    #[test]
    fn manifest_style_keeps_non_ascii_and_del_raw() {
        assert_eq!(s("é😀\u{7f}/", Style::Manifest), "\"é😀\u{7f}/\"");
        assert_eq!(
            s("\"\\\n\r\t\u{8}\u{c}\u{1}", Style::Manifest),
            r#""\"\\\n\r\t\b\f\u0001""#
        );
    }

    #[test]
    fn hash_style_escapes_everything_outside_printable_ascii() {
        assert_eq!(
            s("é😀\u{7f}~", Style::Hash),
            r#""\u00e9\ud83d\ude00\u007f~""#
        );
        assert_eq!(s("\u{1f}", Style::Hash), r#""\u001f""#);
    }
}
