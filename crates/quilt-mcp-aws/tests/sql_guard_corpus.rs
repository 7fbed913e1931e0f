//! Replays `tests/data/sql_guard_corpus.txt` through the SQL guard: every read must pass,
//! every write and every unparseable statement must be refused. Zero misclassifications.

use quilt_mcp_aws::sql_guard::check;

#[test]
fn corpus_has_no_misclassifications() {
    let corpus = include_str!("data/sql_guard_corpus.txt");
    let mut cases = 0;
    let mut wrong = Vec::new();
    for (n, line) in corpus.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (expect, sql) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("line {}: no tab", n + 1));
        let sql = sql.replace("\\n", "\n");
        let verdict = check(&sql);
        if expect == "unparsed" {
            assert!(
                !verdict.allowed
                    && verdict
                        .reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("syntax error")),
                "line {}: the parser now reads this; move it to allow: {sql} ({verdict:?})",
                n + 1
            );
            continue;
        }
        let expected = match expect {
            "allow" => true,
            "refuse" => false,
            other => panic!("line {}: {other:?} is not allow or refuse", n + 1),
        };
        cases += 1;
        if verdict.allowed != expected {
            wrong.push(format!(
                "line {}: expected {expect}, got {verdict:?}: {sql}",
                n + 1
            ));
        }
        if !verdict.allowed {
            assert!(
                verdict.reason.as_deref().is_some_and(|r| !r.is_empty()),
                "line {}: a refusal without a reason",
                n + 1
            );
        }
    }
    assert!(cases >= 150, "the corpus has only {cases} statements");
    assert!(
        wrong.is_empty(),
        "{} of {cases} misclassified:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
