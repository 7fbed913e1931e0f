//! Invariants of Quilt manifest reading and writing (`quilt_package::Manifest`), shared by
//! the `manifest` fuzz target and the corpus replay test
//! `crates/quilt-package/tests/fuzz_corpus.rs` (which includes this file by path).
//!
//! Checked: no panic on any bytes; reading is deterministic; a manifest that reads also
//! writes (unless it holds what quilt3 never writes: NaN/Infinity, or a record over the line
//! limit), and what it writes reads back to the same bytes and the same top hash (writing is
//! a fixed point after one round).

use quilt_package::{Manifest, WriteError};

/// Checks one input. See the module docs.
pub(crate) fn check(data: &[u8]) {
    let first = Manifest::read(data);
    let second = Manifest::read(data);
    let manifest = match (first, second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.top_hash(), b.top_hash(), "one manifest read two ways");
            a
        }
        (Err(a), Err(b)) => {
            assert_eq!(
                a.to_string(),
                b.to_string(),
                "one manifest refused two ways"
            );
            assert!(!a.to_string().is_empty());
            return;
        }
        _ => panic!("the same bytes were accepted once and refused once"),
    };
    let hash = manifest.top_hash();
    let written = match manifest.to_bytes() {
        Ok(bytes) => bytes,
        // Documented refusals (docs/PACKAGES.md): NaN/Infinity are read but never written,
        // and a re-serialised record may outgrow the line limit.
        Err(WriteError::NonFiniteNumber { .. } | WriteError::RecordTooLarge { .. }) => return,
        Err(other) => panic!("a manifest that was read cannot be written: {other}"),
    };
    let again = Manifest::read(&written[..]).expect("a written manifest reads back");
    assert_eq!(
        again.top_hash(),
        hash,
        "the top hash changed in a write and read"
    );
    assert_eq!(again.len(), manifest.len());
    assert_eq!(
        again.to_bytes().expect("writes"),
        written,
        "writing is not a fixed point"
    );
}
