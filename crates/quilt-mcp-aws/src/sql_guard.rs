//! The Athena SQL guard: exactly one statement, and only one that reads.
//!
//! The statement is parsed with a real SQL parser (`sqlparser`; Athena's engine is Trino,
//! which has no dialect of its own there, so the generic dialect is tried first, then Hive's
//! for its SHOW/DESCRIBE forms, then PostgreSQL's for `TABLE t`). Trying several dialects only
//! widens which reads parse: whatever parses is still classified on its tree. What is allowed is decided on the syntax tree, never on the
//! text: a `'delete'` string literal, a column named `insert` or a comment mentioning UNLOAD
//! cannot trip it, and a write cannot hide in a CTE, a subquery or `SELECT … INTO`.
//!
//! Allowed: queries (SELECT, WITH, VALUES, TABLE), SHOW …, DESCRIBE, and EXPLAIN of an allowed
//! statement without ANALYZE. Everything else — UNLOAD, CREATE TABLE AS, INSERT, MERGE,
//! DELETE, UPDATE, DDL, MSCK, EXPLAIN ANALYZE — is refused, naming the construct. A statement
//! the parser cannot read is refused too: what cannot be understood cannot be shown to be a
//! read.

use std::ops::ControlFlow;

use sqlparser::ast::{SetExpr, Statement, Visit, Visitor};
use sqlparser::dialect::{Dialect, GenericDialect, HiveDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Longest statement accepted, in bytes (Athena's own limit is 256 KiB).
pub const MAX_SQL_BYTES: usize = 256 * 1024;

/// The guard's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// Whether the statement may run.
    pub allowed: bool,
    /// What the statement is (e.g. `SELECT`, `SHOW TABLES`, `CREATE TABLE`, `UNLOAD`).
    pub statement: String,
    /// Why it was refused.
    pub reason: Option<String>,
}

impl Verdict {
    fn allow(statement: impl Into<String>) -> Self {
        Self {
            allowed: true,
            statement: statement.into(),
            reason: None,
        }
    }

    fn refuse(statement: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            statement: statement.into(),
            reason: Some(reason.into()),
        }
    }
}

/// Checks `sql`. See the module docs.
pub fn check(sql: &str) -> Verdict {
    if sql.len() > MAX_SQL_BYTES {
        return Verdict::refuse(
            "unknown",
            format!("the query is longer than {MAX_SQL_BYTES} bytes"),
        );
    }
    let dialects: [&dyn Dialect; 3] = [&GenericDialect {}, &HiveDialect {}, &PostgreSqlDialect {}];
    let mut first_error = None;
    for dialect in dialects {
        match parse_all(dialect, sql) {
            Ok(statements) => return classify(&statements),
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    // Unparseable: name the leading keyword when it is a write, so the answer is useful.
    let leading = leading_keywords(sql);
    let error = first_error.unwrap_or_default();
    if let Some(write) = WRITE_KEYWORDS
        .iter()
        .find(|k| leading.first().is_some_and(|w| w == *k))
    {
        return Verdict::refuse(*write, format!("{write} is not a read-only statement"));
    }
    if leading.is_empty() {
        // Not empty (an empty query parses, as no statement): it just starts with no keyword.
        return Verdict::refuse("unknown", format!("syntax error: {error}"));
    }
    Verdict::refuse(leading.join(" "), format!("syntax error: {error}"))
}

/// `Parser::parse_sql`, but the whole text must be read: sqlparser stops at a bare `END`
/// (the end of a `BEGIN … END` block) and returns what it had, silently ignoring the rest —
/// `SELECT 1 END; DROP TABLE t` parsed as just `SELECT 1` (found by the `sql_guard` fuzz
/// target). Whatever is left over is a syntax error here.
fn parse_all(dialect: &dyn Dialect, sql: &str) -> Result<Vec<Statement>, String> {
    let mut parser = Parser::new(dialect)
        .try_with_sql(sql)
        .map_err(|e| e.to_string())?;
    let statements = parser.parse_statements().map_err(|e| e.to_string())?;
    let rest = parser.peek_token();
    if rest.token != Token::EOF {
        return Err(format!(
            "unexpected {} at {} after the statement",
            rest.token, rest.span.start
        ));
    }
    Ok(statements)
}

const WRITE_KEYWORDS: [&str; 16] = [
    "UNLOAD", "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "MSCK",
    "VACUUM", "OPTIMIZE", "GRANT", "REVOKE", "CALL", "PREPARE",
];

/// The first two keywords of `sql` (tokens, so comments and literals are skipped).
fn leading_keywords(sql: &str) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .take(2)
        .filter_map(|t| match t {
            // A quoted word is an identifier, never a keyword.
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            _ => None,
        })
        .collect()
}

fn classify(statements: &[Statement]) -> Verdict {
    let [statement] = statements else {
        return if statements.is_empty() {
            Verdict::refuse("none", "the query is empty")
        } else {
            Verdict::refuse(
                format!("{} statements", statements.len()),
                "exactly one statement is allowed",
            )
        };
    };
    classify_one(statement)
}

fn classify_one(statement: &Statement) -> Verdict {
    let name = statement_name(statement);
    match statement {
        Statement::Query(_) => match nested_write(statement) {
            Some(write) => Verdict::refuse(name, format!("the query contains {write}")),
            None => Verdict::allow(name),
        },
        Statement::Explain {
            analyze,
            statement: inner,
            ..
        } => {
            let inner_verdict = classify_one(inner);
            if !inner_verdict.allowed {
                Verdict::refuse(
                    format!("EXPLAIN {}", inner_verdict.statement),
                    inner_verdict.reason.unwrap_or_default(),
                )
            } else if *analyze {
                Verdict::refuse(
                    "EXPLAIN ANALYZE",
                    "EXPLAIN ANALYZE runs the statement; use EXPLAIN",
                )
            } else {
                Verdict::allow(format!("EXPLAIN {}", inner_verdict.statement))
            }
        }
        Statement::ExplainTable { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowCreate { .. } => Verdict::allow(name),
        Statement::Unload { .. } => Verdict::refuse(name, "UNLOAD writes query results to S3"),
        Statement::CreateTable(t) if t.query.is_some() => Verdict::refuse(
            "CREATE TABLE AS SELECT",
            "CREATE TABLE AS SELECT (CTAS) writes a table",
        ),
        _ => Verdict::refuse(name.clone(), format!("{name} is not a read-only statement")),
    }
}

/// The statement's leading keywords, from its canonical form (e.g. `CREATE TABLE`, `SELECT`).
fn statement_name(statement: &Statement) -> String {
    if let Statement::Query(q) = statement {
        return match q.body.as_ref() {
            SetExpr::Values(_) => "VALUES".into(),
            _ if q.with.is_some() => "WITH … SELECT".into(),
            _ => "SELECT".into(),
        };
    }
    let text = statement.to_string();
    let mut words = text
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_'));
    let first = words.next().unwrap_or_default().to_ascii_uppercase();
    match first.as_str() {
        "CREATE" | "DROP" | "ALTER" | "SHOW" | "MSCK" => {
            let second = words.next().unwrap_or_default().to_ascii_uppercase();
            format!("{first} {second}").trim().to_owned()
        }
        _ => first,
    }
}

/// A write hidden inside a query (a data-modifying CTE or `SELECT … INTO`), if any.
fn nested_write(statement: &Statement) -> Option<String> {
    struct Finder {
        depth: usize,
    }
    impl Visitor for Finder {
        type Break = String;

        fn pre_visit_statement(&mut self, s: &Statement) -> ControlFlow<String> {
            self.depth += 1;
            if self.depth > 1 {
                return ControlFlow::Break(statement_name(s));
            }
            ControlFlow::Continue(())
        }

        fn post_visit_statement(&mut self, _: &Statement) -> ControlFlow<String> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }

        fn pre_visit_select(&mut self, select: &sqlparser::ast::Select) -> ControlFlow<String> {
            if select.into.is_some() {
                return ControlFlow::Break("SELECT … INTO (which creates a table)".into());
            }
            ControlFlow::Continue(())
        }
    }
    match statement.visit(&mut Finder { depth: 0 }) {
        ControlFlow::Break(write) => Some(write),
        ControlFlow::Continue(()) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_after_a_bare_end_escapes_the_guard() {
        // Found by the `sql_guard` fuzz target: sqlparser stops at END and drops the rest.
        for sql in [
            "SELECT n END\n;DROP TABLE fuzz_victim",
            "SELECT 1 END; DROP TABLE x",
            "SELECT 1 END",
            "WITH a AS (SELECT 1) SELECT * FROM a END UNLOAD (SELECT 1) TO 's3://b/'",
        ] {
            let v = check(sql);
            assert!(!v.allowed, "{sql:?} was allowed: {v:?}");
        }
        // END inside an expression is still fine.
        assert!(check("SELECT CASE WHEN x THEN 1 ELSE 0 END FROM t").allowed);
    }

    #[test]
    fn unparseable_text_without_keywords_is_named_unknown_not_empty() {
        // Found by the `sql_guard` fuzz target: "``\06@2" was refused naming the statement "".
        for sql in ["``\u{0}6@2", "1 +", "\"select\" 1 2"] {
            let v = check(sql);
            assert!(!v.allowed, "{sql:?}");
            assert_eq!(v.statement, "unknown", "{sql:?}");
            assert!(
                v.reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("syntax error")),
                "{v:?}"
            );
        }
    }

    #[test]
    fn reads_pass_and_writes_are_named() {
        assert!(check("SELECT 'delete from x' AS \"insert\" -- UNLOAD\nFROM t").allowed);
        assert_eq!(
            check("SELECT 1; SELECT 2").reason.as_deref(),
            Some("exactly one statement is allowed")
        );
        let ctas = check("CREATE TABLE t2 AS SELECT * FROM t");
        assert_eq!(
            (ctas.allowed, ctas.statement.as_str()),
            (false, "CREATE TABLE AS SELECT")
        );
        assert!(
            !check("UNLOAD (SELECT * FROM t) TO 's3://b/p/' WITH (format = 'PARQUET')").allowed
        );
        assert!(!check("EXPLAIN ANALYZE SELECT 1").allowed);
        assert!(check("EXPLAIN SELECT 1").allowed);
        assert!(!check("EXPLAIN INSERT INTO t VALUES (1)").allowed);
        assert!(!check("").allowed);
    }
}
