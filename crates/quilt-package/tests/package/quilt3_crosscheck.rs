//! quilt3 itself (the project venv, `make venv`) computes the top hash of manifests this
//! crate writes, and re-dumps them: both must equal ours. Also object hashes of a
//! multi-chunk file. Fails, does not skip, when the venv is missing: `make test` always
//! creates it first, so a missing venv is a broken setup, not an optional check.

use std::path::{Path, PathBuf};
use std::process::Command;

use quilt_package::{
    ChunkedSha256Hasher, Crc64NvmeHasher, Entry, Header, JsonNumber, JsonObject, JsonValue,
    Manifest, ObjectHash, PhysicalKey,
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::object_hashes::pattern;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "quilt3 cross-check needs the project venv: {} is missing. Run `make venv` (make test does) \
         to install tests/python/requirements.txt, which pins quilt3.",
        python.display()
    );
    python
}

fn quilt3_tool(args: &[&Path]) -> Value {
    let out = Command::new(python())
        .arg(repo_root().join("tests/python/quilt3_tool.py"))
        .args(args)
        .output()
        .expect("run quilt3_tool.py");
    assert!(
        out.status.success(),
        "quilt3_tool.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("quilt3_tool.py prints JSON")
}

fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quilt-package-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn num(f: f64) -> JsonValue {
    JsonValue::Number(JsonNumber::from_f64(f))
}

fn obj(pairs: Vec<(&str, JsonValue)>) -> JsonObject {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn entry(key: &str, data: &[u8], user_meta: Option<JsonValue>) -> Entry {
    let pk = PhysicalKey::new("cross-check", format!("pkg/{key}"), Some("v 1+/=".into()))
        .expect("valid");
    let mut meta = JsonObject::new();
    if let Some(um) = user_meta {
        meta.insert("user_meta", um);
    }
    Entry::new(
        key.parse().expect("valid key"),
        &pk,
        data.len() as u64,
        ObjectHash::sha2_256_chunked(data),
        meta,
    )
}

/// Floats across magnitudes and forms, from a fixed LCG so failures reproduce.
fn floats() -> Vec<JsonValue> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out: Vec<JsonValue> = [
        0.0,
        -0.0,
        1.0,
        2.5,
        1e-7,
        1e-5,
        1e-4,
        1e15,
        1e16,
        1.5e16,
        0.1,
        1.0 / 3.0,
        f64::MAX,
        5e-324,
        -123.456,
    ]
    .into_iter()
    .map(num)
    .collect();
    for _ in 0..2_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let f = f64::from_bits(x);
        if f.is_finite() {
            out.push(num(f));
        }
        let scaled = (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 40) as i32 - 20);
        out.push(num(scaled));
    }
    out
}

fn manifests() -> Vec<(&'static str, Manifest)> {
    let mut list = Vec::new();

    let mut h = Header::new();
    h.set_message(Some("unicode ✓ \"quotes\" \\ tab\t"));
    let mut m = Manifest::new(h);
    for key in [
        "données/é.txt",
        "数据/表.csv",
        "emoji 😀/a b.txt",
        "B.txt",
        "a/b.txt",
        "a-c.txt",
        "a.txt",
        "ctl\u{7f}",
    ] {
        m.insert(entry(key, key.as_bytes(), None)).expect("unique");
    }
    list.push(("unicode_keys", m));

    let mut h = Header::new();
    h.set_user_meta(Some(JsonValue::Object(obj(vec![
        ("floats", JsonValue::Array(floats())),
        (
            "nested",
            JsonValue::Object(obj(vec![
                ("z", JsonValue::Null),
                (
                    "a",
                    JsonValue::Array(vec![num(1.0), JsonValue::Number(JsonNumber::from_i64(2))]),
                ),
            ])),
        ),
        (
            "big",
            JsonValue::parse("123456789012345678901234567890").expect("int"),
        ),
    ]))));
    h.set_message(None);
    let mut m = Manifest::new(h);
    m.insert(entry(
        "meta/x.json",
        b"{}",
        Some(JsonValue::Object(obj(vec![
            ("b", num(1e-7)),
            ("a", num(1e16)),
            ("é", "ü".into()),
        ]))),
    ))
    .expect("unique");
    m.insert(entry("meta/y", b"y", Some(JsonValue::Array(floats()))))
        .expect("unique");
    list.push(("float_and_nested_meta", m));

    let mut h = Header::new();
    h.set_message(Some("empty"));
    let mut m = Manifest::new(h);
    m.insert(entry("empty.bin", b"", None)).expect("unique");
    list.push(("empty_object", m));

    // Header only, no message field at all.
    list.push(("header_only", Manifest::new(Header::new())));
    list
}

#[test]
fn quilt3_computes_our_top_hashes_and_writes_our_bytes() {
    let dir = scratch_dir("tophash");
    let mut paths = Vec::new();
    let mut expected = Vec::new();
    for (name, m) in manifests() {
        let bytes = m.to_bytes().expect("writes");
        let path = dir.join(format!("{name}.jsonl"));
        std::fs::write(&path, &bytes).expect("write manifest");
        // Our own reader agrees with our writer.
        assert_eq!(
            Manifest::read(bytes.as_slice())
                .expect("reads back")
                .top_hash(),
            m.top_hash(),
            "{name}"
        );
        expected.push((
            name,
            m.top_hash().to_string(),
            hex(&Sha256::digest(&bytes)),
            m.len(),
        ));
        paths.push(path);
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let got = quilt3_tool(
        &[Path::new("tophash")]
            .into_iter()
            .chain(refs)
            .collect::<Vec<_>>(),
    );
    let results = got["results"].as_array().expect("results");
    for ((name, top, sha, n), r) in expected.iter().zip(results) {
        assert_eq!(
            r["top_hash"].as_str(),
            Some(top.as_str()),
            "{name}: top hash"
        );
        assert_eq!(
            r["dump_sha256"].as_str(),
            Some(sha.as_str()),
            "{name}: quilt3 writes other bytes"
        );
        assert_eq!(r["entries"].as_u64(), Some(*n as u64), "{name}: entries");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quilt3_computes_our_object_hashes_of_a_multi_chunk_file() {
    let dir = scratch_dir("objects");
    let data = pattern(20 * 1024 * 1024 + 7);
    let path = dir.join("big.bin");
    std::fs::write(&path, &data).expect("write");
    let mut chunked = ChunkedSha256Hasher::new(data.len() as u64);
    let mut crc = Crc64NvmeHasher::new();
    for piece in data.chunks(65_536) {
        chunked.update(piece);
        crc.update(piece);
    }
    let ours = [
        ("sha2-256-chunked", chunked.finish().expect("size").value),
        ("CRC64NVME", crc.finish().value),
    ];
    for (kind, value) in ours {
        let got = quilt3_tool(&[
            Path::new("checksum"),
            &path,
            Path::new("--type"),
            Path::new(kind),
        ]);
        assert_eq!(got["value"].as_str(), Some(value.as_str()), "{kind}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn manifests_quilt3_writes_read_here_with_the_same_hash_and_bytes() {
    let dir = scratch_dir("quilt3-written");
    let files = dir.join("files");
    let contents: &[(&str, &[u8])] = &[
        ("README.md", b"# Hello\n"),
        ("données/é.txt", "é\n".as_bytes()),
        ("数据/表 1.csv", b"a,b\n1,2\n"),
        ("a-c.txt", b"dash\n"),
        ("a/b.txt", b"ab\n"),
        ("a.txt", b"dot\n"),
        ("empty.bin", b""),
    ];
    for (key, data) in contents {
        let path = files.join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(&path, data).expect("write");
    }
    let out = dir.join("quilt3.jsonl");
    let meta = r#"{"floats": [1.0, 1e-07, 1e+16, 2.5, 0.30000000000000004], "nested": {"z": null, "a": [true, "ü"]}}"#;
    let got = quilt3_tool(&[
        Path::new("manifest"),
        Path::new("--dir"),
        &files,
        Path::new("--out"),
        &out,
        Path::new("--meta"),
        Path::new(meta),
        Path::new("--entry-meta"),
        Path::new(r#"{"k": 0.1, "é": {"b": 1, "a": 2}}"#),
        Path::new("--message"),
        Path::new("from quilt3 ✓"),
    ]);
    let bytes = std::fs::read(&out).expect("manifest");
    let m = Manifest::read(bytes.as_slice()).expect("quilt3's manifest reads");
    assert_eq!(
        got["top_hash"].as_str(),
        Some(m.top_hash().to_string().as_str())
    );
    assert_eq!(
        m.to_bytes().expect("writes"),
        bytes,
        "rewrite differs from quilt3's bytes"
    );
    assert_eq!(m.len(), contents.len());
    for (key, data) in contents {
        let e = m.get(key).expect("entry");
        let mut h = e.hash.hasher(e.size).expect("supported");
        h.update(data);
        assert!(h.finish().expect("size").same_digest(&e.hash), "{key}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
