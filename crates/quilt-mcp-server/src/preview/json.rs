//! JSON documents and JSON Lines: the first records, and the top-level keys of the records
//! sampled with the JSON types seen for each.
//!
//! The bytes read are usually the start of a larger file, so a document is walked element
//! by element (an array's items, an object's members) with `serde_json` parsing each value,
//! and the walk stops cleanly where the bytes end. `serde_json` has no incremental reader of
//! a cut document; the walk around it is small.

use serde_json::Value;

use super::{Body, Column, bound_rows, json_type, text};

/// Records parsed to collect keys and types.
const SAMPLE: usize = 1000;

/// One value at the start of `s`: the value and the bytes it took, `Err(true)` when `s` ends
/// inside it, `Err(false)` (with the error) when it is not JSON.
fn one<T: serde::de::DeserializeOwned>(s: &str) -> Result<(T, usize), (bool, String)> {
    let mut it = serde_json::Deserializer::from_str(s).into_iter::<T>();
    match it.next() {
        Some(Ok(v)) => Ok((v, it.byte_offset())),
        Some(Err(e)) => Err((e.is_eof(), e.to_string())),
        None => Err((true, "no value".to_owned())),
    }
}

fn skip_ws(s: &str, pos: usize) -> usize {
    pos + (s[pos..].len() - s[pos..].trim_start().len())
}

/// JSON Lines: one value per line.
pub(super) fn lines(text: &str, complete: bool, rows: usize) -> Body {
    let mut records = Vec::new();
    let mut bad = 0usize;
    let mut first_bad = None;
    let mut cut = false;
    let all: Vec<&str> = text.lines().collect();
    for (i, line) in all.iter().enumerate() {
        if records.len() >= SAMPLE {
            cut = true;
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) => records.push(v),
            // The last line of a partial read is cut, not bad.
            Err(_) if i + 1 == all.len() && !complete => cut = true,
            Err(e) => {
                bad += 1;
                first_bad.get_or_insert((i + 1, e.to_string()));
            }
        }
    }
    let mut body = records_body("jsonl", records, rows, !complete || cut);
    if let Some((line, e)) = first_bad {
        body.notes.push(format!(
            "{bad} lines are not JSON (first: line {line}: {e})"
        ));
    }
    body
}

/// A JSON document (or values one after another): `Err` with a text preview when it is not
/// JSON.
#[expect(
    clippy::result_large_err,
    reason = "both arms are the answer itself, built once per call; boxing buys nothing"
)]
pub(super) fn document(text: &str, complete: bool, rows: usize) -> Result<Body, Body> {
    let s = text.trim_start_matches('\u{feff}');
    let start = skip_ws(s, 0);
    match s[start..].chars().next() {
        Some('[') => Ok(array(s, start + 1, complete, rows)),
        Some('{') => object_or_lines(s, start, complete, rows),
        _ => match one::<Value>(&s[start..]) {
            Ok((v, _)) => Ok(records_body("json", vec![v], rows, !complete)),
            Err((_, e)) => Err(not_json(text, complete, &e)),
        },
    }
}

fn not_json(text: &str, complete: bool, e: &str) -> Body {
    let mut body = text::plain(text, complete);
    body.notes.push(format!("not valid JSON: {e}"));
    body
}

/// The elements of an array whose `[` ends at `pos`.
fn array(s: &str, mut pos: usize, complete: bool, rows: usize) -> Body {
    let mut records = Vec::new();
    let mut note = None;
    let mut more = true;
    loop {
        pos = skip_ws(s, pos);
        if s[pos..].starts_with(']') {
            more = false;
            break;
        }
        if records.len() >= SAMPLE || pos >= s.len() {
            break;
        }
        match one::<Value>(&s[pos..]) {
            Ok((v, used)) => {
                records.push(v);
                pos = skip_ws(s, pos + used);
                if s[pos..].starts_with(',') {
                    pos += 1;
                } else if !s[pos..].starts_with(']') && pos < s.len() {
                    note = Some(format!("unexpected text after item {}", records.len()));
                    break;
                }
            }
            Err((true, _)) => break,
            Err((false, e)) => {
                note = Some(format!("item {} is not valid JSON: {e}", records.len() + 1));
                break;
            }
        }
    }
    let mut body = records_body("json", records, rows, more || !complete);
    body.notes.extend(note);
    body
}

/// An object starting at `pos`: one record; several values one after another are JSON Lines.
#[expect(
    clippy::result_large_err,
    reason = "both arms are the answer itself, built once per call; boxing buys nothing"
)]
fn object_or_lines(s: &str, pos: usize, complete: bool, rows: usize) -> Result<Body, Body> {
    match one::<Value>(&s[pos..]) {
        Ok((v, used)) => {
            let rest = skip_ws(s, pos + used);
            if rest < s.len() {
                return Ok(lines(s, complete, rows));
            }
            Ok(records_body("json", vec![v], rows, !complete))
        }
        // The bytes read end inside the object: show the members read so far.
        Err((true, _)) if !complete => Ok(members(s, pos + 1, rows)),
        Err((_, e)) => Err(not_json(s, complete, &e)),
    }
}

/// The members of a cut object whose `{` ends at `pos`.
fn members(s: &str, mut pos: usize, rows: usize) -> Body {
    let mut map = serde_json::Map::new();
    while map.len() < SAMPLE {
        pos = skip_ws(s, pos);
        let Ok((key, used)) = one::<String>(&s[pos..]) else {
            break;
        };
        pos = skip_ws(s, pos + used);
        if !s[pos..].starts_with(':') {
            break;
        }
        let Ok((value, used)) = one::<Value>(&s[pos + 1..]) else {
            break;
        };
        map.insert(key, value);
        pos = skip_ws(s, pos + 1 + used);
        if !s[pos..].starts_with(',') {
            break;
        }
        pos += 1;
    }
    let n = map.len();
    let mut body = records_body("json", vec![Value::Object(map)], rows, true);
    body.notes.push(format!(
        "the object continues past the bytes read: its first {n} members are shown"
    ));
    body
}

/// Rows and key types from parsed records.
fn records_body(format: &'static str, records: Vec<Value>, rows: usize, more: bool) -> Body {
    let mut columns: Vec<(String, Vec<&'static str>, usize)> = Vec::new();
    let objects = records.iter().filter(|r| r.is_object()).count();
    for r in &records {
        if let Value::Object(map) = r {
            for (k, v) in map {
                let t = json_type(v);
                match columns.iter_mut().find(|c| c.0 == *k) {
                    Some(c) => {
                        if !c.1.contains(&t) {
                            c.1.push(t);
                        }
                        c.2 += 1;
                    }
                    None => columns.push((k.clone(), vec![t], 1)),
                }
            }
        }
    }
    let columns = columns
        .into_iter()
        .map(|(name, types, seen)| Column {
            nullable: types.contains(&"null") || seen < objects,
            kind: types.join("|"),
            name,
        })
        .collect();
    let sampled = records.len();
    let mut notes = Vec::new();
    let shown: Vec<Value> = records.into_iter().take(rows).collect();
    let (shown, cut) = bound_rows(shown, &mut notes);
    Body {
        format,
        columns,
        truncated: more || cut || sampled > shown.len(),
        rows: shown,
        notes,
        ..Body::default()
    }
}
