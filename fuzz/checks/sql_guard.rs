//! Invariants of the Athena SQL guard, shared by the `sql_guard` fuzz target and the corpus
//! replay test `crates/quilt-mcp-aws/tests/fuzz_corpus.rs` (which includes this file by path).
//!
//! Checked: no panic (or stack overflow) on any string; the verdict is deterministic; every
//! refusal has a reason and no allowed statement has one; and a statement the guard allows
//! stops being allowed once a second statement (a write) is appended — one statement only.

use quilt_mcp_aws::sql_guard::check as guard;

/// Checks one input. See the module docs.
pub(crate) fn check(data: &[u8]) {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let verdict = guard(sql);
    assert_eq!(verdict, guard(sql), "the same SQL got two verdicts");
    assert!(
        !verdict.statement.is_empty(),
        "a verdict names no statement"
    );
    if verdict.allowed {
        assert!(
            verdict.reason.is_none(),
            "an allowed statement has a reason: {verdict:?}"
        );
        let smuggled = format!("{sql}\n;DROP TABLE fuzz_victim");
        let second = guard(&smuggled);
        assert!(
            !second.allowed,
            "a second statement after an allowed one was allowed: {smuggled:?} → {second:?}"
        );
    } else {
        assert!(
            verdict.reason.as_deref().is_some_and(|r| !r.is_empty()),
            "a refusal without a reason: {verdict:?}"
        );
    }
}
