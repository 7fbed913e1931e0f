//! Every operation the server can send is valid against the catalog's schema, checked by
//! graphql-core (`tests/catalog/validate.py`, from the project venv) — the same engine the
//! stand-in serves, so what passes here is what the stand-in accepts. Why not a Rust
//! validator: one validator for both sides means a document cannot pass one check and fail
//! the other, and graphql-core is the maintained port of the reference implementation
//! (graphql-js); `apollo-compiler` would add a second, heavier dependency tree for a test.
//!
//! Also: the repository's copy of the schema is the reference one, when the reference is
//! beside the checkout (`shared/reference/` in a parent directory).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validate(documents: &[(&str, &str)]) -> Value {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make venv` (make test does)",
        python.display()
    );
    let input: Vec<Value> = documents
        .iter()
        .map(|(name, document)| json!({"name": name, "document": document}))
        .collect();
    let mut child = Command::new(python)
        .arg(root().join("tests/catalog/validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start validate.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(Value::Array(input).to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("validate.py");
    assert!(out.status.success(), "validate.py failed");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn every_operation_is_valid_against_the_catalog_schema() {
    let all: Vec<(&str, &str)> = quilt_catalog::operations::ALL
        .iter()
        .chain(quilt_catalog::operations::admin::ADMIN)
        .copied()
        .collect();
    let verdicts = validate(&all);
    assert_eq!(verdicts.as_object().map(|o| o.len()), Some(all.len()));
    for (name, errors) in verdicts.as_object().expect("object") {
        assert_eq!(errors, &json!([]), "{name} is not valid: {errors}");
    }
}

#[test]
fn the_validator_refuses_what_the_schema_does_not_have() {
    // Negative controls: the check can fail.
    let verdicts = validate(&[
        (
            "unknown_field",
            "query q { bucketConfigs { name notAField } }",
        ),
        (
            "wrong_argument",
            "query q { searchPackages(bucket: \"x\") { __typename } }",
        ),
        ("syntax", "query q { "),
    ]);
    for name in ["unknown_field", "wrong_argument", "syntax"] {
        let errors = verdicts[name].as_array().expect("list");
        assert!(!errors.is_empty(), "{name} was accepted");
    }
}

#[test]
fn the_schema_copy_is_the_reference() {
    let copy = std::fs::read(root().join("tests/catalog/quilt-catalog-schema.graphql"))
        .expect("the repository's copy");
    let root = root().canonicalize().expect("root");
    let reference = root
        .ancestors()
        .map(|dir| dir.join("shared/reference/quilt-catalog-schema.graphql"))
        .find(|p| Path::exists(p));
    match reference {
        Some(reference) => assert_eq!(
            copy,
            std::fs::read(&reference).expect("reference"),
            "tests/catalog/quilt-catalog-schema.graphql differs from {}",
            reference.display()
        ),
        None => eprintln!("no shared/reference beside the checkout: copy not compared"),
    }
}
