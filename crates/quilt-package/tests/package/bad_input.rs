//! Each way a manifest can be bad gets its own error.

use quilt_package::{
    Entry, Header, JsonError, JsonNumber, JsonObject, JsonValue, KeySetError, LogicalKeyError,
    MAX_LINE_BYTES, Manifest, ManifestError, ManifestReader, ManifestWriter, ObjectHash,
    PhysicalKey, WriteError,
};

const HEADER: &str = "{\"version\": \"v0\", \"message\": null}\n";

fn entry_line(key: &str) -> String {
    format!(
        "{{\"logical_key\": \"{key}\", \"physical_keys\": [\"s3://b/{key}\"], \"size\": 0, \"hash\": {{\"type\": \"sha2-256-chunked\", \"value\": \"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"}}, \"meta\": {{}}}}\n"
    )
}

fn read_err(text: &str) -> ManifestError {
    Manifest::read(text.as_bytes()).expect_err("must be refused")
}

#[test]
fn a_line_over_a_million_bytes_is_refused_without_holding_it() {
    let long = format!(
        "{{\"version\": \"v0\", \"pad\": \"{}\"}}\n",
        "x".repeat(MAX_LINE_BYTES)
    );
    assert!(matches!(
        read_err(&long),
        ManifestError::LineTooLong { line: 1 }
    ));
    // Exactly at the limit is fine.
    let pad = MAX_LINE_BYTES - "{\"version\": \"v0\", \"pad\": \"\"}".len();
    let exact = format!(
        "{{\"version\": \"v0\", \"pad\": \"{}\"}}\n",
        "x".repeat(pad)
    );
    assert!(Manifest::read(exact.as_bytes()).is_ok());
    // And quilt3 would not have written it either.
    let mut h = Header::new();
    h.fields_mut().insert("pad", "x".repeat(MAX_LINE_BYTES));
    assert!(matches!(
        ManifestWriter::new(Vec::new(), &h),
        Err(WriteError::RecordTooLarge { .. })
    ));
}

#[test]
fn bad_json_is_invalid_json_with_its_line() {
    let text = format!("{HEADER}{{\"logical_key\": \"a\",,}}\n");
    assert!(matches!(
        read_err(&text),
        ManifestError::InvalidJson {
            line: 2,
            source: JsonError::Syntax { .. }
        }
    ));
    assert!(matches!(
        read_err("{\"version\": \"v0\"\n"),
        ManifestError::InvalidJson { line: 1, .. }
    ));
    assert!(matches!(
        read_err("[1]\n"),
        ManifestError::NotAnObject { line: 1 }
    ));
    assert!(matches!(read_err(""), ManifestError::MissingHeader));
    assert!(matches!(
        Manifest::read(&b"{\"version\": \"v\xff\"}\n"[..]).expect_err("not utf-8"),
        ManifestError::InvalidUtf8 { line: 1 }
    ));
}

#[test]
fn missing_meta_and_other_required_fields_are_named() {
    let good = entry_line("a");
    for field in ["meta", "size", "hash", "logical_key"] {
        let mut obj = JsonValue::parse(&good).expect("valid line");
        if let JsonValue::Object(o) = &mut obj {
            o.remove(field);
        }
        let text = format!("{HEADER}{}\n", obj.to_quilt_string());
        match read_err(&text) {
            ManifestError::MissingField { line: 2, field: f } => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let bad_size = good.replace("\"size\": 0", "\"size\": -1");
    assert!(matches!(
        read_err(&format!("{HEADER}{bad_size}")),
        ManifestError::InvalidField { field: "size", .. }
    ));
    let bad_hash = good.replace("\"type\": \"sha2-256-chunked\", ", "");
    assert!(matches!(
        read_err(&format!("{HEADER}{bad_hash}")),
        ManifestError::InvalidField { field: "hash", .. }
    ));
    let dir_without_meta = "{\"logical_key\": \"a/\"}\n";
    assert!(matches!(
        read_err(&format!("{HEADER}{dir_without_meta}")),
        ManifestError::MissingField { field: "meta", .. }
    ));
}

#[test]
fn duplicate_logical_keys_are_refused() {
    let text = format!("{HEADER}{}{}", entry_line("a"), entry_line("a"));
    let e = read_err(&text);
    assert!(e.is_duplicate_logical_key(), "{e:?}");
    assert!(matches!(
        e,
        ManifestError::KeySet {
            line: 3,
            source: KeySetError::Duplicate(_)
        }
    ));
    // Also when not adjacent (whole read accepts any order).
    let text = format!(
        "{HEADER}{}{}{}",
        entry_line("b"),
        entry_line("a"),
        entry_line("b")
    );
    assert!(read_err(&text).is_duplicate_logical_key());
}

#[test]
fn duplicate_json_object_keys_are_refused() {
    let text = "{\"version\": \"v0\", \"message\": \"a\", \"message\": \"b\"}\n";
    assert!(
        matches!(read_err(text), ManifestError::DuplicateObjectKey { line: 1, ref key } if key == "message")
    );
    let nested = entry_line("a").replace(
        "\"meta\": {}",
        "\"meta\": {\"user_meta\": {\"k\": 1, \"k\": 2}}",
    );
    assert!(matches!(
        read_err(&format!("{HEADER}{nested}")),
        ManifestError::DuplicateObjectKey { line: 2, .. }
    ));
}

#[test]
fn invalid_logical_keys_and_clashes_are_refused() {
    for (key, check) in [
        (
            "a/../b",
            (|e: &LogicalKeyError| matches!(e, LogicalKeyError::DotComponent { .. }))
                as fn(&_) -> bool,
        ),
        ("a//b", |e| matches!(e, LogicalKeyError::EmptyComponent(_))),
        ("/a", |e| matches!(e, LogicalKeyError::LeadingSlash(_))),
        ("", |e| matches!(e, LogicalKeyError::Empty)),
    ] {
        match read_err(&format!("{HEADER}{}", entry_line(key))) {
            ManifestError::InvalidLogicalKey { line: 2, source } => {
                assert!(check(&source), "{key}: {source:?}")
            }
            other => panic!("{key}: {other:?}"),
        }
    }
    let text = format!("{HEADER}{}{}", entry_line("a"), entry_line("a/b"));
    assert!(matches!(
        read_err(&text),
        ManifestError::KeySet {
            source: KeySetError::FileDirectoryClash { .. },
            ..
        }
    ));
    let text = format!("{HEADER}{}{}", entry_line("a/b"), entry_line("a"));
    assert!(matches!(
        read_err(&text),
        ManifestError::KeySet {
            source: KeySetError::FileDirectoryClash { .. },
            ..
        }
    ));
}

#[test]
fn streaming_needs_walk_order_and_finds_duplicates_in_constant_memory() {
    let text = format!("{HEADER}{}{}", entry_line("b"), entry_line("a"));
    // Whole read accepts any order and writes walk order.
    let m = Manifest::read(text.as_bytes()).expect("any order");
    assert_eq!(
        m.to_bytes().expect("writes"),
        format!("{HEADER}{}{}", entry_line("a"), entry_line("b")).into_bytes()
    );
    let errors: Vec<ManifestError> = ManifestReader::new(text.as_bytes())
        .expect("header")
        .filter_map(Result::err)
        .collect();
    assert!(matches!(
        errors.as_slice(),
        [ManifestError::KeySet {
            line: 3,
            source: KeySetError::NotInWalkOrder { .. }
        }]
    ));
    let text = format!("{HEADER}{}{}", entry_line("a"), entry_line("a"));
    let errors: Vec<ManifestError> = ManifestReader::new(text.as_bytes())
        .expect("header")
        .filter_map(Result::err)
        .collect();
    assert!(errors[0].is_duplicate_logical_key());
}

#[test]
fn writing_refuses_what_quilt3_would_not_write() {
    let h = Header::new();
    let pk = PhysicalKey::new("b", "k", None).expect("valid");
    let mut meta = JsonObject::new();
    meta.insert("x", JsonValue::Number(JsonNumber::from_f64(f64::NAN)));
    let e = Entry::new(
        "k".parse().expect("valid"),
        &pk,
        0,
        ObjectHash::sha2_256_chunked(b""),
        meta,
    );
    let mut w = ManifestWriter::new(Vec::new(), &h).expect("header");
    assert!(matches!(
        w.write_entry(&e),
        Err(WriteError::NonFiniteNumber { .. })
    ));
    let mut m = Manifest::new(h);
    let ok = Entry::new(
        "a/b".parse().expect("valid"),
        &pk,
        0,
        ObjectHash::sha2_256_chunked(b""),
        Default::default(),
    );
    m.insert(ok.clone()).expect("first");
    assert!(matches!(m.insert(ok), Err(KeySetError::Duplicate(_))));
    let clash = Entry::new(
        "a".parse().expect("valid"),
        &pk,
        0,
        ObjectHash::sha2_256_chunked(b""),
        Default::default(),
    );
    assert!(matches!(
        m.insert(clash),
        Err(KeySetError::FileDirectoryClash { .. })
    ));
}
