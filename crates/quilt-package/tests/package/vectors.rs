//! The two reference manifests: top hash, byte-exact rewrite, streaming, entry contents.

use quilt_package::{
    Manifest, ManifestReader, ManifestWriter, ObjectHash, Record, TopHasher, diff,
    registry::manifest_key,
};

pub(crate) const VECTOR1: &[u8] = include_bytes!("../data/vector1.jsonl");
pub(crate) const VECTOR2: &[u8] = include_bytes!("../data/vector2.jsonl");
const HASH1: &str = "1a17a9c50c4016fbb2bf3be25c27e5a3d998209f1bf3ce2e7633ddfa43613593";
const HASH2: &str = "155b08f7b41d007b8a472b58b1e7b6a9075908736b87eeeff6fccc1635cfc434";

fn read(bytes: &[u8]) -> Manifest {
    Manifest::read(bytes).expect("vector parses")
}

#[test]
fn vectors_hash_to_quilt3_top_hashes() {
    assert_eq!(read(VECTOR1).top_hash().to_string(), HASH1);
    assert_eq!(read(VECTOR2).top_hash().to_string(), HASH2);
}

#[test]
fn vectors_rewrite_byte_for_byte() {
    for v in [VECTOR1, VECTOR2] {
        let out = read(v).to_bytes().expect("writes");
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(v));
        assert_eq!(out, v);
    }
}

#[test]
fn streaming_read_hash_and_write_match_the_whole_manifest() {
    for (v, want) in [(VECTOR1, HASH1), (VECTOR2, HASH2)] {
        let reader = ManifestReader::new(v).expect("header");
        let mut hasher = TopHasher::new(reader.header());
        let mut writer = ManifestWriter::new(Vec::new(), reader.header()).expect("header writes");
        for record in reader {
            match record.expect("record") {
                Record::Dir(d) => writer.write_dir(&d).expect("dir"),
                Record::Entry(e) => {
                    hasher.push(&e).expect("walk order");
                    writer.write_entry(&e).expect("entry");
                }
            }
        }
        assert_eq!(hasher.finish().to_string(), want);
        let (bytes, top) = writer.finish().expect("finish");
        assert_eq!(top.to_string(), want);
        assert_eq!(bytes, v);
        assert_eq!(manifest_key(&top), format!(".quilt/packages/{want}"));
    }
}

#[test]
fn vector2_keeps_its_edge_cases() {
    let m = read(VECTOR2);
    let keys: Vec<&str> = m.entries().map(|e| e.logical_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "B.txt",
            "a/b.txt",
            "a-c.txt",
            "a.txt",
            "données/é.txt",
            "empty.bin"
        ]
    );
    assert_eq!(m.dirs.len(), 1);
    assert_eq!(m.header.message(), None);
    assert!(m.header.fields().contains_key("message"));
    let ac = m.get("a-c.txt").expect("entry");
    let pk = ac.physical_key().expect("s3 url");
    assert_eq!(
        (pk.bucket(), pk.key(), pk.version_id()),
        ("other-bucket", "raw data/a-c #1.txt", Some("ver+/=1"))
    );
    assert_eq!(pk.to_string(), ac.physical_keys[0]);
}

#[test]
fn vector_entries_verify_against_their_contents() {
    let contents: &[(&str, &[u8])] = &[
        ("README.md", b"hello world\n"),
        ("data/table.csv", b"a,b\n1,2\n"),
        ("B.txt", b"B\n"),
        ("a/b.txt", b"ab\n"),
        ("a-c.txt", b"dash\n"),
        ("a.txt", b"dot\n"),
        ("donn\u{e9}es/\u{e9}.txt", "é\n".as_bytes()),
        ("empty.bin", b""),
    ];
    let manifests = [read(VECTOR1), read(VECTOR2)];
    let mut checked = 0;
    for m in &manifests {
        for e in m.entries() {
            let (_, data) = contents
                .iter()
                .find(|(k, _)| *k == e.logical_key.as_str())
                .expect("known content");
            assert_eq!(e.size, data.len() as u64);
            let mut h = e.hash.hasher(e.size).expect("supported type");
            // Feed in awkward pieces: the split must not matter.
            for piece in data.chunks(3) {
                h.update(piece);
            }
            let got: ObjectHash = h.finish().expect("size matches");
            assert!(
                got.same_digest(&e.hash),
                "{}: {got:?} vs {:?}",
                e.logical_key,
                e.hash
            );
            checked += 1;
        }
    }
    // All three hash types are among them (vector2 has SHA256 and CRC64NVME entries).
    assert_eq!(checked, 8);
}

#[test]
fn diff_reports_added_removed_modified() {
    let a = read(VECTOR2);
    let mut b = a.clone();
    b.remove("B.txt").expect("present");
    let mut e = a.get("a.txt").expect("present").clone();
    e.set_user_meta(None);
    b.upsert(e).expect("no clash");
    let mut e = a.get("empty.bin").expect("present").clone();
    e.size = 1;
    e.hash = ObjectHash::sha2_256_chunked(b"x");
    b.upsert(e).expect("no clash");
    let mut e = a.get("a/b.txt").expect("present").clone();
    e.logical_key = "z/new.txt".parse().expect("valid");
    e.physical_keys = vec!["s3://elsewhere/k".into()];
    b.insert(e).expect("new");
    // Only the physical key differs: not a change.
    let mut e = a.get("B.txt").expect("present").clone();
    e.physical_keys = vec!["s3://elsewhere/B".into()];
    b.insert(e).expect("re-added");

    let d = diff(&a, &b);
    assert_eq!(
        d.added.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["z/new.txt"]
    );
    assert!(d.removed.is_empty());
    let modified: Vec<(&str, bool, bool)> = d
        .modified
        .iter()
        .map(|m| (m.logical_key.as_str(), m.content_changed, m.meta_changed))
        .collect();
    assert_eq!(
        modified,
        [("a.txt", false, true), ("empty.bin", true, false)]
    );
    assert!(!d.user_meta_changed);
    assert!(diff(&a, &a).is_empty());
    let d = diff(&b, &a);
    assert_eq!(
        d.removed.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["z/new.txt"]
    );
}
