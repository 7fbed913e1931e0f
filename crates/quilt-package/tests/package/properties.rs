//! Property tests: name and key rules, walk order, key-set checks, physical-key and JSON
//! round trips, Python float repr.

use std::collections::HashSet;

use proptest::prelude::*;
use quilt_package::json::python_float_repr;
use quilt_package::{
    JsonNumber, JsonObject, JsonValue, KeySetError, LogicalKey, PackageName, PhysicalKey,
    check_key_set,
};

fn component() -> impl Strategy<Value = String> {
    "[^/]{1,6}".prop_filter("not . or ..", |c| c != "." && c != "..")
}

fn logical_key() -> impl Strategy<Value = String> {
    prop::collection::vec(component(), 1..4).prop_map(|c| c.join("/"))
}

fn json_value() -> impl Strategy<Value = JsonValue> {
    let leaf = prop_oneof![
        Just(JsonValue::Null),
        any::<bool>().prop_map(JsonValue::Bool),
        any::<i64>().prop_map(|i| JsonValue::Number(JsonNumber::from_i64(i))),
        any::<u64>().prop_map(|i| JsonValue::Number(JsonNumber::from_u64(i))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| JsonValue::Number(JsonNumber::from_f64(f))),
        any::<String>().prop_map(JsonValue::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(JsonValue::Array),
            prop::collection::vec((any::<String>(), inner), 0..5)
                .prop_map(|pairs| JsonValue::Object(pairs.into_iter().collect::<JsonObject>())),
        ]
    })
}

proptest! {
    #[test]
    fn package_names_of_word_characters_are_valid(name in "[\\p{L}\\p{N}_-]{1,12}/[\\p{L}\\p{N}_-]{1,12}") {
        let n = PackageName::new(name.clone()).expect("valid");
        prop_assert_eq!(format!("{}/{}", n.user(), n.package()), name);
    }

    #[test]
    fn package_names_with_other_characters_are_invalid(
        user in "[a-z]{1,5}", pkg in "[a-z]{1,5}", bad in "[ ./:@#?\\n\\t*]", at in 0usize..3,
    ) {
        let name = match at {
            0 => format!("{user}{bad}/{pkg}"),
            1 => format!("{user}/{bad}{pkg}"),
            _ => format!("{user}/{pkg}{bad}"),
        };
        prop_assert!(PackageName::new(name).is_err());
    }

    #[test]
    fn keys_built_from_valid_components_are_valid(key in logical_key()) {
        prop_assert!(LogicalKey::new(key).is_ok());
    }

    #[test]
    fn keys_with_a_bad_component_are_invalid(key in logical_key(), bad in prop_oneof![Just(""), Just("."), Just("..")], at_end in any::<bool>()) {
        let key = if at_end { format!("{key}/{bad}") } else { format!("{bad}/{key}") };
        prop_assert!(LogicalKey::new(key).is_err());
    }

    #[test]
    fn walk_order_is_component_order(a in logical_key(), b in logical_key()) {
        let (ka, kb) = (LogicalKey::new(a.clone()).expect("valid"), LogicalKey::new(b.clone()).expect("valid"));
        let by_components = a.split('/').collect::<Vec<_>>().cmp(&b.split('/').collect::<Vec<_>>());
        prop_assert_eq!(ka.cmp(&kb), by_components);
    }

    #[test]
    fn key_set_check_agrees_with_a_naive_one(keys in prop::collection::vec("[ab]{1,2}(/[ab]{1,2}){0,2}", 1..8)) {
        let keys: Vec<LogicalKey> = keys.into_iter().map(|k| LogicalKey::new(k).expect("valid")).collect();
        let mut seen = HashSet::new();
        let dup = keys.iter().any(|k| !seen.insert(k.as_str()));
        let clash = keys.iter().any(|a| keys.iter().any(|b| b.as_str().starts_with(&format!("{a}/"))));
        match check_key_set(&keys) {
            Ok(()) => prop_assert!(!dup && !clash),
            Err(KeySetError::Duplicate(_)) => prop_assert!(dup),
            Err(KeySetError::FileDirectoryClash { .. }) => prop_assert!(clash),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn physical_keys_round_trip(
        bucket in "[a-z0-9][a-z0-9.-]{2,20}",
        key in any::<String>().prop_filter("non-empty", |k| !k.is_empty()),
        version in prop::option::of(any::<String>().prop_filter("non-empty", |v| !v.is_empty())),
    ) {
        let pk = PhysicalKey::new(bucket, key, version).expect("valid");
        let url = pk.to_string();
        prop_assert!(url.bytes().all(|b| b.is_ascii_graphic()), "{}", url);
        let back = PhysicalKey::parse(&url).expect("parses");
        prop_assert_eq!(back.to_string(), url);
        prop_assert_eq!(back, pk);
    }

    #[test]
    fn python_float_repr_round_trips_and_reads_as_a_float(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let text = python_float_repr(f);
        prop_assert!(text.contains('.') || text.contains('e'), "{}", text);
        let back: f64 = text.parse().expect("Rust parses Python's repr");
        prop_assert_eq!(back.to_bits(), f.to_bits());
    }

    #[test]
    fn json_values_round_trip_through_quilt_text(v in json_value()) {
        let text = v.to_quilt_string();
        let back = JsonValue::parse(&text).expect("parses");
        prop_assert_eq!(back.to_quilt_string(), text);
        prop_assert_eq!(back, v);
    }
}
