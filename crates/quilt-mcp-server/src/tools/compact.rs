//! What `tools/list` says about each tool's schemas, made small (issue 16): every byte of a
//! tool definition is loaded into the client model's context window, on every conversation.
//!
//! The schemas are derived from the Rust types (schemars), which is what keeps them true; this
//! module only removes what a client does not need from the derived form:
//! - input schemas keep everything that constrains or explains an argument (property
//!   descriptions, formats, bounds, enums, defaults that say something) and lose the derived
//!   prose of the arguments struct itself ("Arguments of `x`."), the Rust type name (`title`),
//!   `$schema` (MCP fixes the dialect) and the defaults that say nothing an absent argument
//!   does not (`null`, `false`, `""`, `[]`, `{}`). Nothing a validator checks is removed, so
//!   no input is accepted that was refused.
//! - output schemas keep their structure — types, `required`, enums, `$defs` — and lose prose
//!   (`description`, `title`) and the integer width annotations schemars adds (`format`,
//!   `minimum: 0`): an output schema tells a client the shape of an answer, what the answer
//!   means is said once, in the tool's description. A string enum written as `oneOf` of
//!   `const`s (how schemars derives a documented Rust enum) becomes one `enum`.
//!
//! Hand-written because the walk must know which JSON Schema keywords hold subschemas: a
//! property *named* `description` or `title` is data, not a keyword, and must stay.

use rmcp::model::JsonObject;
use serde_json::{Map, Value};

/// The input schema as listed: the derived schema without its own prose and type name.
pub(crate) fn input(schema: &JsonObject) -> JsonObject {
    let mut schema = schema.clone();
    for key in ["$schema", "title", "description"] {
        schema.remove(key);
    }
    without_empty_defaults(&mut schema);
    schema
}

/// Drops `default` where it is the empty value of its kind, in every subschema: a model
/// learns nothing from "absent means null" (or false, or empty).
fn without_empty_defaults(schema: &mut Map<String, Value>) {
    let empty = match schema.get("default") {
        Some(Value::Null) | Some(Value::Bool(false)) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    };
    if empty {
        schema.remove("default");
    }
    for_each_subschema(schema, without_empty_defaults);
}

/// The output schema as listed: structure only (see the module documentation).
pub(crate) fn output(schema: &JsonObject) -> JsonObject {
    let mut schema = schema.clone();
    schema.remove("$schema");
    structure_only(&mut schema);
    schema
}

/// Keywords whose value is one subschema.
const ONE: [&str; 7] = [
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
];
/// Keywords whose value is an array of subschemas.
const MANY: [&str; 4] = ["anyOf", "oneOf", "allOf", "prefixItems"];
/// Keywords whose value maps names to subschemas.
const NAMED: [&str; 4] = ["properties", "$defs", "definitions", "patternProperties"];
/// Annotations an output schema does not need (none of them constrains a value but the
/// integer bounds, which only restate the Rust type of a number the server itself produced).
const PROSE: [&str; 7] = [
    "title",
    "description",
    "format",
    "minimum",
    "maximum",
    "examples",
    "default",
];

fn structure_only(schema: &mut Map<String, Value>) {
    for key in PROSE {
        schema.remove(key);
    }
    for_each_subschema(schema, structure_only);
    string_enum(schema);
}

/// Applies `f` to every direct subschema of `schema` (the keywords above).
fn for_each_subschema(schema: &mut Map<String, Value>, f: fn(&mut Map<String, Value>)) {
    for key in ONE {
        if let Some(Value::Object(sub)) = schema.get_mut(key) {
            f(sub);
        }
    }
    for key in MANY {
        if let Some(Value::Array(subs)) = schema.get_mut(key) {
            for sub in subs.iter_mut() {
                if let Value::Object(sub) = sub {
                    f(sub);
                }
            }
        }
    }
    for key in NAMED {
        if let Some(Value::Object(named)) = schema.get_mut(key) {
            for sub in named.values_mut() {
                if let Value::Object(sub) = sub {
                    f(sub);
                }
            }
        }
    }
}

/// `{"oneOf": [{"const": "a", "type": "string"}, …]}` → `{"type": "string", "enum": ["a", …]}`
/// when every branch is exactly a string `const` (after its prose is gone): the same set of
/// values, a third of the bytes.
fn string_enum(schema: &mut Map<String, Value>) {
    let Some(Value::Array(branches)) = schema.get("oneOf") else {
        return;
    };
    let values: Option<Vec<Value>> = branches
        .iter()
        .map(|b| {
            let b = b.as_object()?;
            let is_string_const = b.len() == 2
                && b.get("type") == Some(&Value::String("string".into()))
                && b.get("const").is_some_and(Value::is_string);
            is_string_const.then(|| b["const"].clone())
        })
        .collect();
    if let Some(values) = values.filter(|v| !v.is_empty()) {
        schema.remove("oneOf");
        schema.insert("type".into(), Value::String("string".into()));
        schema.insert("enum".into(), Value::Array(values));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> JsonObject {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn output_prose_goes_but_properties_named_like_keywords_stay() {
        let schema = obj(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Out", "description": "The answer.", "type": "object",
            "properties": {
                "description": {"description": "A field named description.", "type": "string"},
                "title": {"type": ["string", "null"], "title": "T"},
                "size": {"type": "integer", "format": "uint64", "minimum": 0},
                "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            },
            "required": ["description", "size"],
            "$defs": {"Item": {"description": "One.", "type": "object",
                "properties": {"reason": {"oneOf": [
                    {"const": "allowed", "type": "string", "description": "Allowed."},
                    {"const": "denied", "type": "string"}]}}}},
        }));
        assert_eq!(
            Value::Object(output(&schema)),
            json!({
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "title": {"type": ["string", "null"]},
                    "size": {"type": "integer"},
                    "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
                },
                "required": ["description", "size"],
                "$defs": {"Item": {"type": "object",
                    "properties": {"reason": {"type": "string", "enum": ["allowed", "denied"]}}}},
            })
        );
    }

    #[test]
    fn a_oneof_that_is_not_all_string_consts_is_kept() {
        let schema = obj(json!({"oneOf": [{"const": "a", "type": "string"}, {"type": "integer"}]}));
        assert_eq!(Value::Object(output(&schema)), Value::Object(schema));
    }

    #[test]
    fn input_keeps_every_constraint_and_property_description() {
        let schema = obj(json!({
            "$schema": "x", "title": "In", "description": "Arguments of `t`.", "type": "object",
            "additionalProperties": false,
            "properties": {
                "limit": {"description": "At most this many.", "type": "integer",
                    "format": "uint32", "minimum": 1, "maximum": 1000, "default": 100},
                "copy": {"type": "boolean", "default": true},
                "force": {"type": "boolean", "default": false},
                "top_hash": {"type": ["string", "null"], "default": null},
                "remove": {"type": "array", "items": {"type": "string"}, "default": []},
                "entries": {"type": "array", "items": {"$ref": "#/$defs/Entry"}},
            },
            "$defs": {"Entry": {"type": "object", "properties": {
                "meta": {"default": {}}, "logical_key": {"type": "string", "default": ""}}}},
        }));
        assert_eq!(
            Value::Object(input(&schema)),
            json!({
                "type": "object", "additionalProperties": false,
                "properties": {
                    "limit": {"description": "At most this many.", "type": "integer",
                        "format": "uint32", "minimum": 1, "maximum": 1000, "default": 100},
                    "copy": {"type": "boolean", "default": true},
                    "force": {"type": "boolean"},
                    "top_hash": {"type": ["string", "null"]},
                    "remove": {"type": "array", "items": {"type": "string"}},
                    "entries": {"type": "array", "items": {"$ref": "#/$defs/Entry"}},
                },
                "$defs": {"Entry": {"type": "object", "properties": {
                    "meta": {}, "logical_key": {"type": "string"}}}},
            })
        );
    }
}
