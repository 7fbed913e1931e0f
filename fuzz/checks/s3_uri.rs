//! Invariants of S3 URI parsing, shared by the `s3_uri` fuzz target and the corpus replay
//! test `crates/quilt-mcp-aws/tests/fuzz_corpus.rs` (which includes this file by path).
//!
//! Checked: no panic on any string; the same input always parses the same way; whatever is
//! accepted satisfies the rules the tools rely on (a valid bucket name, a key that passes
//! `validate_key`, a non-empty version without control characters); and every parsed URI
//! printed and parsed again is the same URI (keys are verbatim: `%`, a literal
//! `?versionId=` and spaces at either end all survive).

use quilt_mcp_aws::s3uri::{MAX_KEY_BYTES, parse_s3_uri, validate_bucket, validate_key};

/// Checks one input. See the module docs.
pub(crate) fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = parse_s3_uri(text);
    assert_eq!(first, parse_s3_uri(text), "the same URI parsed two ways");
    let Ok(uri) = first else {
        let error = first.expect_err("checked");
        assert!(!error.to_string().is_empty());
        return;
    };
    assert!(
        validate_bucket(&uri.bucket).is_ok(),
        "accepted bucket {:?}",
        uri.bucket
    );
    assert!(validate_key(&uri.key).is_ok(), "accepted key {:?}", uri.key);
    assert!(uri.key.len() <= MAX_KEY_BYTES);
    if let Some(version) = &uri.version_id {
        assert!(!version.is_empty() && !version.chars().any(char::is_control));
    }
    // Printing writes the key verbatim and adds an empty version after a key that holds
    // `?versionId=` itself: every accepted URI prints to text that parses back to it.
    let printed = uri.to_string();
    assert_eq!(
        parse_s3_uri(&printed).as_ref(),
        Ok(&uri),
        "{printed:?} does not parse back to {uri:?}"
    );
}
