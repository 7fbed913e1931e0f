//! Replays the `s3_uri` and `sql_guard` fuzz corpora (`fuzz/corpus/<target>/`) on stable,
//! through the same invariants the fuzz targets check (`fuzz/checks/*.rs`, included by path).

use std::path::PathBuf;

#[path = "../../../fuzz/checks/s3_uri.rs"]
mod s3_uri;
#[path = "../../../fuzz/checks/sql_guard.rs"]
mod sql_guard;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("read");
            (p, data)
        })
        .collect()
}

fn replay(target: &str, at_least: usize, check: fn(&[u8])) {
    let inputs = corpus(target);
    assert!(
        inputs.len() >= at_least,
        "only {} {target} inputs",
        inputs.len()
    );
    let broken: Vec<String> = inputs
        .iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| check(data)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        broken.is_empty(),
        "inputs that broke an invariant: {broken:#?}"
    );
}

#[test]
fn s3_uri_corpus_replays_through_the_fuzz_invariants() {
    replay("s3_uri", 15, s3_uri::check);
}

#[test]
fn sql_guard_corpus_replays_through_the_fuzz_invariants() {
    replay("sql_guard", 150, sql_guard::check);
}
