//! Replays the `token` fuzz corpus (`fuzz/corpus/token/`) on stable, through the same
//! invariants the fuzz target checks (`fuzz/checks/token.rs`, included by path): no panic,
//! deterministic answers, size bound, usable subjects, no secret in a principal's `Debug`.

use std::path::PathBuf;

#[path = "../../../fuzz/checks/token.rs"]
mod checks;

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

#[test]
fn token_corpus_replays_through_the_fuzz_invariants() {
    let verifier = checks::verifier();
    let inputs = corpus("token");
    assert!(inputs.len() >= 40, "only {} token inputs", inputs.len());
    for (path, data) in &inputs {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            checks::check(&verifier, data)
        }));
        assert!(result.is_ok(), "{} broke an invariant", path.display());
    }
}

#[test]
fn the_seeds_reach_acceptance_and_refusal() {
    // The corpus must keep exercising both sides: a signed seed is accepted, a forged one not.
    let verifier = checks::verifier();
    let accept = |name: &str| {
        let data = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../fuzz/corpus/token")
                .join(name),
        )
        .expect("seed");
        let header = if data[0] % 2 == 0 {
            data[1..].to_vec()
        } else {
            format!("Bearer {}", checks::sign(&data[1..])).into_bytes()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(verifier.verify_authorization(Some(&header)))
            .map(|(p, _)| p.subject)
            .map_err(|e| e.label())
    };
    assert_eq!(accept("header-plain"), Ok("alice".into()));
    assert_eq!(accept("payload-aws-credentials"), Ok("bob".into()));
    assert_eq!(accept("header-wrong-secret"), Err("bad_signature"));
    assert_eq!(
        accept("header-alg-none"),
        Err("malformed"),
        "alg none is not even a known algorithm"
    );
    assert_eq!(accept("header-oversized"), Err("too_large"));
    assert_eq!(accept("payload-no-exp"), Err("missing_claim"));
}
