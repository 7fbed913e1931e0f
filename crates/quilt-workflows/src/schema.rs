//! A workflow's JSON Schema (`make_validator_from_schema` in quilt3): parsed, `$ref` refused
//! anywhere in it (quilt3's JSON object hook sees every object, `enum` values included), only
//! the draft-07 meta-schema accepted in `$schema`, checked against that meta-schema, then
//! used as `Draft7Validator(schema)`: formats are annotations, not assertions.

use serde_json::Value;

use crate::config::describe;
use crate::{Failure, FailureKind};

/// The only `$schema` quilt3 accepts (`SUPPORTED_META_SCHEMAS`), compared as a string.
pub(crate) const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// A compiled schema, ready to validate.
#[derive(Debug)]
pub struct Schema {
    validator: jsonschema::Validator,
}

impl Schema {
    /// Compiles schema `id`, fetched from `location`, from its bytes.
    pub fn compile(id: &str, location: &str, bytes: &[u8]) -> Result<Schema, Failure> {
        let f = |m: String| Failure::new(FailureKind::Schema, m);
        let schema: Value = std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| serde_json::from_str(t).ok())
            .ok_or_else(|| {
                f(format!(
                    "Couldn't parse {location} as JSON (schema {id:?})."
                ))
            })?;
        if has_ref(&schema) {
            return Err(f(format!(
                "Currently we don't support $ref in schema (schema {id:?} at {location})."
            )));
        }
        if let Some(meta) = schema.get("$schema") {
            let Some(meta) = meta.as_str() else {
                return Err(f(format!("$schema must be a string (schema {id:?}).")));
            };
            if meta != DRAFT_07 {
                return Err(f(format!(
                    "Unsupported meta-schema: {meta} (schema {id:?}; quilt3 supports {DRAFT_07})."
                )));
            }
        }
        // `check_schema`: the schema must itself be a valid draft-07 schema.
        if let Err(e) = jsonschema::draft7::meta::validate(&schema) {
            return Err(f(format!("Schema {id:?} is not valid: {}", describe(&e))));
        }
        let validator = jsonschema::draft7::options()
            .should_validate_formats(false)
            .build(&schema)
            .map_err(|e| f(format!("Schema {id:?} is not valid: {e}")))?;
        Ok(Schema { validator })
    }

    /// Every way `instance` fails the schema, each naming the path and the keyword.
    pub fn errors(&self, instance: &Value) -> Vec<String> {
        self.validator
            .iter_errors(instance)
            .map(|e| describe(&e))
            .collect()
    }

    /// The JSON pointer of each failure (for naming the entry an entries failure is about).
    pub(crate) fn error_paths(&self, instance: &Value) -> Vec<(String, String)> {
        self.validator
            .iter_errors(instance)
            .map(|e| (e.instance_path().to_string(), describe(&e)))
            .collect()
    }
}

fn has_ref(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("$ref") || m.values().any(has_ref),
        Value::Array(a) => a.iter().any(has_ref),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(v: &Value) -> Result<Schema, Failure> {
        Schema::compile("s", "s3://b/s.json", v.to_string().as_bytes())
    }

    #[test]
    fn refuses_what_quilt3_refuses() {
        for bad in [
            json!({"properties": {"a": {"$ref": "#/definitions/x"}}}),
            json!({"enum": [{"$ref": 1}]}),
            json!({"$schema": "http://json-schema.org/draft-04/schema#"}),
            json!({"$schema": "http://json-schema.org/draft-07/schema"}),
            json!({"$schema": 7}),
            json!({"type": "nope"}),
            json!({"pattern": "("}),
            json!([]),
        ] {
            let e = compile(&bad).expect_err(&bad.to_string());
            assert_eq!(e.kind, FailureKind::Schema);
        }
        let e = Schema::compile("s", "u", b"{not json").expect_err("json");
        assert!(e.message.contains("Couldn't parse"), "{e}");
    }

    #[test]
    fn validates_as_draft7_without_format_assertions() {
        let s = compile(&json!({
            "$schema": DRAFT_07,
            "type": "object",
            "required": ["owner"],
            "properties": {"owner": {"type": "string", "format": "email"}, "n": {"maximum": 3}}
        }))
        .expect("schema");
        assert!(s.errors(&json!({"owner": "not an email"})).is_empty());
        let errors = s.errors(&json!({"n": 5}));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("/n") && e.contains("maximum"))
        );
        assert!(compile(&json!(true)).is_ok());
    }
}
