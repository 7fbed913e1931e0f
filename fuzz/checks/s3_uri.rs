//! Invariants of S3 URI parsing, shared by the `s3_uri` fuzz target and the corpus replay
//! test `crates/quilt-mcp-aws/tests/fuzz_corpus.rs` (which includes this file by path).
//!
//! Checked: no panic on any string; the same input always parses the same way; whatever is
//! accepted satisfies the rules the tools rely on (a valid bucket name, a key that passes
//! `validate_key`, a non-empty version without control characters); and a parsed URI printed
//! and parsed again is the same URI whenever its key has nothing printing cannot carry
//! (`%` escapes, a literal `?versionId=`, whitespace at either end).

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
    // Printing does not escape, so keys with `%`, a literal `?versionId=`, or whitespace at
    // either end (which parsing trims; found by this target: `s3://pst/%20`) do not survive
    // a print and a parse. Known and reported; everything else must.
    let printable = !uri.key.contains('%')
        && !uri.key.contains("?versionId=")
        && uri.key.trim() == uri.key
        && uri
            .version_id
            .as_deref()
            .is_none_or(|v| !v.contains('%') && v.trim() == v);
    if printable {
        let printed = uri.to_string();
        assert_eq!(
            parse_s3_uri(&printed).as_ref(),
            Ok(&uri),
            "{printed:?} does not parse back to {uri:?}"
        );
    }
}
