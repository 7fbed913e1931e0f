//! CSV and TSV: delimiter and header detection, inferred column types, the first rows.
//!
//! Records are parsed by the `csv` crate (quoting, escapes, embedded newlines). It has no
//! sniffer, and the sniffing crates are unmaintained, so the two guesses are made here and
//! kept small: the delimiter is the candidate that splits the first records into the same
//! number of fields (more than one) most consistently, the name's `.csv`/`.tsv` winning ties;
//! the first row is a header when, in columns whose other values share a type (numbers,
//! booleans, dates), it does not have that type — or, when every column is text, when its
//! cells are distinct, non-empty and never repeated below (Python's `csv.Sniffer` reasons
//! the same way).

use serde_json::{Map, Value};

use super::{Body, Column, Hint, TableInfo, bound_rows};

/// Records parsed to infer types (and counted for ragged rows).
const SAMPLE: usize = 1000;
/// Records used to choose the delimiter.
const SNIFF: usize = 50;
const CANDIDATES: [u8; 4] = [b',', b'\t', b';', b'|'];

fn reader(text: &str, delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
}

/// How well `delimiter` splits the first records: (fields per record, share of records with
/// that many).
fn fit(text: &str, delimiter: u8) -> (usize, f64) {
    let counts: Vec<usize> = reader(text, delimiter)
        .records()
        .take(SNIFF)
        .filter_map(Result::ok)
        .map(|r| r.len())
        .collect();
    let Some(&first) = counts.first() else {
        return (0, 0.0);
    };
    let same = counts.iter().filter(|&&c| c == first).count();
    (first, same as f64 / counts.len() as f64)
}

fn sniff(text: &str, hint: Hint) -> u8 {
    let preferred = if hint == Hint::Tsv { b'\t' } else { b',' };
    let mut best = (preferred, fit(text, preferred));
    for d in CANDIDATES {
        let f = fit(text, d);
        let (_, (fields, share)) = best;
        // A strictly more consistent split wins; the name's delimiter keeps ties.
        if f.0 > 1 && (fields <= 1 || f.1 > share + 1e-9) {
            best = (d, f);
        }
    }
    best.0
}

/// The type a cell's text has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Number,
    Boolean,
    Date,
    Timestamp,
    String,
}

impl Kind {
    fn of(cell: &str) -> Option<Self> {
        let c = cell.trim();
        if c.is_empty() {
            return None;
        }
        Some(if c.parse::<i64>().is_ok() {
            Self::Integer
        } else if c.parse::<f64>().is_ok() && c.chars().any(|ch| ch.is_ascii_digit()) {
            Self::Number
        } else if ["true", "false"].contains(&c.to_ascii_lowercase().as_str()) {
            Self::Boolean
        } else if is_date(c) && c.len() == 10 {
            Self::Date
        } else if c.len() > 10 && is_date(&c[..10]) && matches!(c.as_bytes()[10], b'T' | b' ') {
            Self::Timestamp
        } else {
            Self::String
        })
    }

    fn join(self, other: Self) -> Self {
        match (self, other) {
            (a, b) if a == b => a,
            (Self::Integer, Self::Number) | (Self::Number, Self::Integer) => Self::Number,
            (Self::Date, Self::Timestamp) | (Self::Timestamp, Self::Date) => Self::Timestamp,
            _ => Self::String,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Timestamp => "timestamp",
            Self::String => "string",
        }
    }
}

/// `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Each column's type over `rows` (`None`: no values), and whether any cell was empty.
fn kinds(rows: &[Vec<String>], width: usize) -> Vec<(Option<Kind>, bool)> {
    (0..width)
        .map(|i| {
            let mut kind = None;
            let mut empty = false;
            for r in rows {
                match r.get(i).and_then(|c| Kind::of(c)) {
                    Some(k) => kind = Some(kind.map_or(k, |prev: Kind| prev.join(k))),
                    None => empty = true,
                }
            }
            (kind, empty)
        })
        .collect()
}

fn has_header(first: &[String], rest: &[Vec<String>]) -> bool {
    if rest.is_empty() {
        // One row: a header when nothing in it looks like data.
        return first
            .iter()
            .all(|c| matches!(Kind::of(c), Some(Kind::String)));
    }
    let mut votes = 0i32;
    for (i, (kind, _)) in kinds(rest, first.len()).into_iter().enumerate() {
        match kind {
            Some(Kind::String) | None => {}
            Some(k) => {
                let fits = Kind::of(&first[i]).is_some_and(|h| h.join(k) == k);
                votes += if fits { -1 } else { 1 };
            }
        }
    }
    if votes != 0 {
        return votes > 0;
    }
    let mut seen = std::collections::HashSet::new();
    first.iter().enumerate().all(|(i, c)| {
        !c.trim().is_empty() && seen.insert(c.as_str()) && rest.iter().all(|r| r.get(i) != Some(c))
    })
}

pub(super) fn preview(text: &str, complete: bool, hint: Hint, rows: usize) -> Body {
    // The last line of a partial read is cut: leave it out.
    let text = if complete {
        text
    } else {
        text.rfind('\n').map_or(text, |i| &text[..=i])
    };
    let delimiter = sniff(text, hint);
    let mut records = Vec::new();
    let mut notes = Vec::new();
    let mut more = !complete;
    for r in reader(text, delimiter).records() {
        if records.len() > SAMPLE {
            more = true;
            break;
        }
        match r {
            Ok(r) => records.push(r.iter().map(str::to_owned).collect::<Vec<_>>()),
            Err(e) => {
                notes.push(format!("parsing stopped: {e}"));
                more = true;
                break;
            }
        }
    }
    let format = if delimiter == b'\t' { "tsv" } else { "csv" };
    let Some(first) = records.first().cloned() else {
        return Body {
            format,
            truncated: more,
            notes,
            ..Body::default()
        };
    };
    let header = has_header(&first, &records[1..]);
    let data = if header { &records[1..] } else { &records[..] };
    let width = first.len();
    let mut names: Vec<String> = Vec::with_capacity(width);
    for (i, cell) in first.iter().enumerate().take(width) {
        let base = if header && !cell.trim().is_empty() {
            cell.trim().to_owned()
        } else {
            format!("column_{}", i + 1)
        };
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    let ragged: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, r)| r.len() != width)
        .map(|(i, _)| i)
        .collect();
    if let Some(&at) = ragged.first() {
        notes.push(format!(
            "{} of {} rows have a different number of fields than the first row's {width} (first: data row {})",
            ragged.len(),
            data.len(),
            at + 1
        ));
    }
    let columns = kinds(data, width)
        .into_iter()
        .zip(&names)
        .map(|((kind, empty), name)| Column {
            name: name.clone(),
            kind: kind.map_or("empty", Kind::name).to_owned(),
            nullable: empty,
        })
        .collect();
    let shown: Vec<Value> = data
        .iter()
        .take(rows)
        .map(|r| {
            if header {
                let mut m = Map::new();
                for (i, cell) in r.iter().enumerate() {
                    let key = names
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("column_{}", i + 1));
                    m.insert(key, Value::String(cell.clone()));
                }
                Value::Object(m)
            } else {
                Value::Array(r.iter().cloned().map(Value::String).collect())
            }
        })
        .collect();
    let (shown, cut) = bound_rows(shown, &mut notes);
    Body {
        format,
        columns,
        truncated: more || cut || data.len() > shown.len(),
        table: Some(TableInfo {
            delimiter: (delimiter as char).to_string(),
            header,
            rows_sampled: data.len(),
            ragged_rows: ragged.len(),
        }),
        rows: shown,
        notes,
        ..Body::default()
    }
}
