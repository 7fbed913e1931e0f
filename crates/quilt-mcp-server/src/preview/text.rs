//! Text, binary and compressed content: decides what the bytes read are (binary data, CSV,
//! JSON, plain text) and decompresses gzip/zstd streams with their output capped, so a
//! compression bomb costs at most [`DECOMPRESSED_BYTES`] of output and the compressed bytes
//! read.

use std::io::Read as _;

use super::{Body, DECOMPRESSED_BYTES, Hint, MAX_OUTPUT_BYTES, json, table};

/// Bytes shown as hex for binary data.
const HEX_BYTES: usize = 256;
/// Largest zstd window accepted (16 MiB): a frame asking for more would cost its window in
/// memory before producing a byte.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// The start of a `codec` stream whose first compressed bytes are `head` (`complete`: the
/// whole object), previewed as its content.
pub(super) fn decompressed(
    codec: &'static str,
    head: &[u8],
    complete: bool,
    hint: Hint,
    rows: usize,
) -> Body {
    let mut out = Vec::new();
    // Read one byte past the cap to know whether the stream goes on.
    let limit = DECOMPRESSED_BYTES as u64 + 1;
    let result = match codec {
        "gzip" => flate2::read::MultiGzDecoder::new(head)
            .take(limit)
            .read_to_end(&mut out),
        _ => match zstd::stream::read::Decoder::with_buffer(head) {
            Ok(mut d) => match d.window_log_max(ZSTD_WINDOW_LOG_MAX) {
                Ok(()) => d.take(limit).read_to_end(&mut out),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
    };
    let mut notes = Vec::new();
    let capped = out.len() > DECOMPRESSED_BYTES;
    out.truncate(DECOMPRESSED_BYTES);
    let ended = match &result {
        Ok(_) => !capped && complete,
        // The compressed bytes read stop inside the stream: what came out so far is good.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !complete => false,
        Err(e) => {
            notes.push(format!(
                "the {codec} stream is corrupt after {} decompressed bytes: {e}",
                out.len()
            ));
            false
        }
    };
    if capped {
        notes.push(format!(
            "decompressed output capped at {DECOMPRESSED_BYTES} bytes"
        ));
    } else if !complete && !ended {
        notes.push(format!(
            "read the first {} compressed bytes ({} decompressed)",
            head.len(),
            out.len()
        ));
    }
    let mut body = content(&out, ended, hint, rows);
    body.compression = Some(codec);
    body.notes.splice(0..0, notes);
    body
}

/// Previews `data`, the start of an object (`complete`: all of it), by its content and the
/// format its name suggests.
pub(super) fn content(data: &[u8], complete: bool, hint: Hint, rows: usize) -> Body {
    let Some(text) = as_text(data, complete) else {
        let mut body = binary(data);
        let named = match hint {
            Hint::Csv => Some("CSV"),
            Hint::Tsv => Some("TSV"),
            Hint::Json | Hint::JsonLines => Some("JSON"),
            Hint::Parquet | Hint::None => None,
        };
        if let Some(named) = named {
            body.notes.push(format!(
                "the name says {named}, but the content is binary data (not UTF-8 text)"
            ));
        }
        return body;
    };
    match hint {
        Hint::Csv | Hint::Tsv => table::preview(text, complete, hint, rows),
        Hint::JsonLines => json::lines(text, complete, rows),
        Hint::Json => json::document(text, complete, rows).unwrap_or_else(|mut body| {
            body.notes
                .push("the name says JSON, but the content is not JSON".to_owned());
            body
        }),
        Hint::Parquet | Hint::None => {
            let start = text.trim_start_matches('\u{feff}').trim_start();
            if (start.starts_with('{') || start.starts_with('['))
                && let Ok(body) = json::document(text, complete, rows)
            {
                return body;
            }
            plain(text, complete)
        }
    }
}

/// `data` as text: UTF-8 without NUL bytes (a character cut at the end of a partial read is
/// dropped); `None` for binary data.
fn as_text(data: &[u8], complete: bool) -> Option<&str> {
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() && !complete => {
            std::str::from_utf8(&data[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    (!text.contains('\0')).then_some(text)
}

/// The start of `text`, within the output cap.
pub(super) fn plain(text: &str, complete: bool) -> Body {
    let mut cut = text.len().min(MAX_OUTPUT_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut notes = Vec::new();
    if cut < text.len() {
        notes.push(format!(
            "text cut at {cut} bytes: the output cap is {MAX_OUTPUT_BYTES} bytes"
        ));
    }
    Body {
        format: "text",
        text: Some(text[..cut].to_owned()),
        truncated: cut < text.len() || !complete,
        notes,
        ..Body::default()
    }
}

/// The first bytes as hex.
fn binary(data: &[u8]) -> Body {
    let shown = &data[..data.len().min(HEX_BYTES)];
    let hex = shown
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    Body {
        format: "binary",
        hex: Some(hex),
        truncated: true,
        notes: vec![format!("the first {} bytes, as hex", shown.len())],
        ..Body::default()
    }
}
