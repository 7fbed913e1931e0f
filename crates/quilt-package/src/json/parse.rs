//! A strict JSON parser for one manifest line, accepting what Python's `json.loads` accepts.
//!
//! Hand-written (see the [`json`](super) module doc for why not serde_json): it keeps object
//! order, integers of any size, and refuses duplicate object keys, which Python silently
//! collapses and which we treat as a malformed manifest. Like Python (`strict=True`) it
//! refuses raw control characters inside strings and accepts `NaN`, `Infinity` and
//! `-Infinity`; unlike Python it refuses lone UTF-16 surrogates (`"\ud800"`), which a Rust
//! string cannot hold and no manifest quilt3 writes to UTF-8 can contain.

use super::{JsonNumber, JsonObject, JsonValue};

/// Nesting deeper than this is refused (Python would hit its recursion limit near 1000).
const MAX_DEPTH: usize = 512;
/// Python refuses to turn longer digit strings into an `int` (`sys.int_info`
/// `default_max_str_digits`), so quilt3 cannot read such a manifest: neither do we.
const MAX_INT_DIGITS: usize = 4300;

/// Why a line is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The text is not JSON; `offset` is the byte offset in the line.
    #[error("invalid JSON at byte {offset}: {reason}")]
    Syntax {
        /// Byte offset in the line.
        offset: usize,
        /// What was expected or found.
        reason: &'static str,
    },
    /// An object has the same key twice.
    #[error("duplicate object key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
}

/// Parses `text` as exactly one JSON value, with optional surrounding whitespace.
pub(crate) fn parse_value(text: &str) -> Result<JsonValue, JsonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.err("extra data after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.peek() {
            None => Err(self.err("expected a value, found the end of the line")),
            Some(b'{') => self.object(depth).map(JsonValue::Object),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(JsonValue::String),
            Some(b't') if self.eat(b"true") => Ok(JsonValue::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(JsonValue::Bool(false)),
            Some(b'n') if self.eat(b"null") => Ok(JsonValue::Null),
            Some(b'N') if self.eat(b"NaN") => Ok(JsonValue::Number(JsonNumber::from_f64(f64::NAN))),
            Some(b'I') if self.eat(b"Infinity") => {
                Ok(JsonValue::Number(JsonNumber::from_f64(f64::INFINITY)))
            }
            Some(b'-') if self.eat(b"-Infinity") => {
                Ok(JsonValue::Number(JsonNumber::from_f64(f64::NEG_INFINITY)))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsonObject, JsonError> {
        self.pos += 1; // '{'
        let mut obj = JsonObject::new();
        self.ws();
        if self.eat(b"}") {
            return Ok(obj);
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(b":") {
                return Err(self.err("expected ':'"));
            }
            self.ws();
            let value = self.value(depth + 1)?;
            if obj.contains_key(&key) {
                return Err(JsonError::DuplicateKey { key });
            }
            obj.push_unchecked(key, value);
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"}") {
                return Ok(obj);
            }
            return Err(self.err("expected ',' or '}'"));
        }
    }

    fn array(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.ws();
        if self.eat(b"]") {
            return Ok(JsonValue::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"]") {
                return Ok(JsonValue::Array(items));
            }
            return Err(self.err("expected ',' or ']'"));
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        self.eat(b"-");
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("expected a digit")),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("expected a digit after '.'"));
            }
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected a digit in the exponent"));
            }
            is_float = true;
        }
        let text =
            std::str::from_utf8(&self.s[start..self.pos]).map_err(|_| JsonError::Syntax {
                offset: start,
                reason: "invalid number",
            })?;
        if is_float {
            // Rust's parse is correctly rounded, as Python's float() is; overflow gives ±inf
            // in both.
            let f: f64 = text.parse().map_err(|_| JsonError::Syntax {
                offset: start,
                reason: "invalid number",
            })?;
            Ok(JsonValue::Number(JsonNumber::from_f64(f)))
        } else if text.trim_start_matches('-').len() > MAX_INT_DIGITS {
            Err(JsonError::Syntax {
                offset: start,
                reason: "integer longer than Python's 4300-digit limit",
            })
        } else {
            Ok(JsonValue::Number(JsonNumber::from_int_token(text)))
        }
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let Some(h) = self.s.get(self.pos..self.pos + 4) else {
            return Err(self.err("truncated \\u escape"));
        };
        let h = std::str::from_utf8(h).map_err(|_| self.err("invalid \\u escape"))?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.err("invalid \\u escape"));
        }
        let v = u16::from_str_radix(h, 16).map_err(|_| self.err("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The input is a &str and we only stop at ASCII bytes, so this is whole chars.
            out.push_str(
                std::str::from_utf8(&self.s[run_start..self.pos])
                    .map_err(|_| self.err("invalid UTF-8 in string"))?,
            );
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = match hi {
                                0xD800..=0xDBFF => {
                                    if !self.eat(b"\\u") {
                                        return Err(self.err("lone UTF-16 surrogate"));
                                    }
                                    let lo = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&lo) {
                                        return Err(self.err("lone UTF-16 surrogate"));
                                    }
                                    0x10000
                                        + ((u32::from(hi) - 0xD800) << 10)
                                        + (u32::from(lo) - 0xDC00)
                                }
                                0xDC00..=0xDFFF => return Err(self.err("lone UTF-16 surrogate")),
                                _ => u32::from(hi),
                            };
                            out.push(
                                char::from_u32(c).ok_or_else(|| self.err("invalid \\u escape"))?,
                            );
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(_) => return Err(self.err("raw control character in string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_big_integers() {
        let v = parse_value(r#"{"b": 1, "a": 123456789012345678901234567890, "c": -0}"#);
        let v = v.expect("valid");
        assert_eq!(
            v.to_quilt_string(),
            r#"{"b": 1, "a": 123456789012345678901234567890, "c": 0}"#
        );
    }

    #[test]
    fn duplicate_object_key_is_refused() {
        let e = parse_value(r#"{"a": {"x": 1, "x": 2}}"#).expect_err("dup");
        assert_eq!(e, JsonError::DuplicateKey { key: "x".into() });
    }

    #[test]
    fn python_number_forms_are_reprinted_as_python_does() {
        let v =
            parse_value("[1.50, 1E5, 1e-7, 10000000000000000.0, NaN, -Infinity]").expect("valid");
        assert_eq!(
            v.to_quilt_string(),
            "[1.5, 100000.0, 1e-07, 1e+16, NaN, -Infinity]"
        );
    }

    #[test]
    fn strictness_matches_python() {
        for bad in [
            "{\"a\": 01}",
            "{\"a\": 1.}",
            "{\"a\": .5}",
            "{'a': 1}",
            "{\"a\": 1,}",
            "[1 2]",
            "\"tab\there\"",
            "\"\\ud800\"",
            "\"\\x\"",
            "{} {}",
            "",
            "tru",
        ] {
            assert!(parse_value(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_value(&"9".repeat(4300)).is_ok());
        assert!(parse_value(&"9".repeat(4301)).is_err());
        let astral = parse_value("\"\\ud83d\\ude00\"").expect("pair");
        assert_eq!(astral, JsonValue::String("😀".into()));
    }
}
