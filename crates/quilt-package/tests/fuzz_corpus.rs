//! Replays the `manifest` fuzz corpus (`fuzz/corpus/manifest/`) on stable, through the same
//! invariants the fuzz target checks (`fuzz/checks/manifest.rs`, included by path): no panic,
//! deterministic reading, and write → read keeps the bytes and the top hash.

use std::path::PathBuf;

#[path = "../../../fuzz/checks/manifest.rs"]
mod checks;

#[test]
fn manifest_corpus_replays_through_the_fuzz_invariants() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/manifest");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "only {} manifest inputs", inputs.len());
    let broken: Vec<String> = inputs
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).expect("read");
            std::panic::catch_unwind(|| checks::check(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        broken.is_empty(),
        "inputs that broke an invariant: {broken:#?}"
    );
}
