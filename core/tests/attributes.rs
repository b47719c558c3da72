//! The attribute model through its public API: validation, the inheritance rule
//! (example-based and property-based), span attributes and context values.

use openinference_session::attributes::{MAX_ID_BYTES, MAX_VALUE_BYTES};
use openinference_session::{
    Aliases, AttributeValue, ContextAttributes, ContextValues, Error, Field, JsonObject, keys,
};
use proptest::prelude::*;
use serde_json::json;

fn object(value: serde_json::Value) -> JsonObject {
    value.as_object().cloned().expect("test object")
}

fn span_map(attrs: &ContextAttributes, aliases: Aliases) -> Vec<(String, AttributeValue)> {
    attrs
        .span_attributes(aliases)
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v))
        .collect()
}

#[test]
fn ids_must_be_non_empty_after_trimming() {
    for bad in ["", "   ", "\t\n"] {
        let err = ContextAttributes::new().with_session_id(bad).unwrap_err();
        assert_eq!(err.field(), Field::SessionId);
        assert!(matches!(err, Error::Empty { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("session_id must be a non-empty string")
        );
    }
    // kept exactly as given: other tools record the raw id
    let attrs = ContextAttributes::new().with_session_id(" s-1 ").unwrap();
    assert_eq!(attrs.session_id(), Some(" s-1 "));
}

#[test]
fn ids_are_limited_to_4_kib() {
    let at_limit = "a".repeat(MAX_ID_BYTES);
    assert!(ContextAttributes::new().with_user_id(at_limit).is_ok());
    let err = ContextAttributes::new()
        .with_user_id("a".repeat(10 * 1024 * 1024))
        .unwrap_err();
    assert_eq!(
        err,
        Error::TooLong {
            field: Field::UserId,
            len: 10 * 1024 * 1024,
            limit: MAX_ID_BYTES
        }
    );
}

#[test]
fn metadata_must_be_a_json_object_within_limits() {
    let err = ContextAttributes::new()
        .with_metadata_json("[1, 2]")
        .unwrap_err();
    assert_eq!(
        err,
        Error::NotAnObject {
            field: Field::Metadata,
            found: "an array"
        }
    );
    let err = ContextAttributes::new()
        .with_metadata_json("{nope")
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidJson {
            field: Field::Metadata,
            ..
        }
    ));
    let big = json!({ "blob": "x".repeat(MAX_VALUE_BYTES) });
    let err = ContextAttributes::new()
        .with_metadata(object(big))
        .unwrap_err();
    assert!(matches!(
        err,
        Error::TooLong {
            field: Field::Metadata,
            ..
        }
    ));
}

#[test]
fn tags_are_validated_and_deduplicated() {
    let attrs = ContextAttributes::new().with_tags(["a", "b", "a"]).unwrap();
    assert_eq!(attrs.tags(), Some(&["a".to_owned(), "b".to_owned()][..]));
    let err = ContextAttributes::new().with_tags(["ok", " "]).unwrap_err();
    assert_eq!(err.field(), Field::Tags);
}

#[test]
fn free_form_attributes_refuse_reserved_keys_and_mixed_lists() {
    let err = ContextAttributes::new()
        .with_attribute("session.id", AttributeValue::String("x".into()))
        .unwrap_err();
    assert_eq!(
        err,
        Error::ReservedKey {
            key: "session.id".into()
        }
    );
    let err = AttributeValue::from_json("k", &json!([1, "a"])).unwrap_err();
    assert_eq!(err, Error::MixedArray { key: "k".into() });
    assert_eq!(
        AttributeValue::from_json("k", &json!([1, 2.5])).unwrap(),
        AttributeValue::FloatArray(vec![1.0, 2.5])
    );
    let err = ContextAttributes::new()
        .with_attribute("f", AttributeValue::Float(f64::NAN))
        .unwrap_err();
    assert!(matches!(err, Error::NonFiniteNumber { .. }));
}

#[test]
fn metadata_set_as_text_is_the_same_as_set_as_an_object() {
    let value = json!({"b": [1, 2.5, {"y": null, "x": true}], "a": "é\n", "c": -0.0});
    let from_object = ContextAttributes::new()
        .with_metadata(object(value.clone()))
        .unwrap();
    let text = from_object.metadata_json().unwrap().to_owned();
    let from_text = ContextAttributes::new().with_metadata_text(text).unwrap();
    assert_eq!(from_text, from_object);
    assert_eq!(from_text.metadata(), Some(&object(value)));
    assert_eq!(
        from_text.to_context_values(),
        from_object.to_context_values()
    );
    let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_VALUE_BYTES));
    let err = ContextAttributes::new()
        .with_metadata_text(big)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLong {
                field: Field::Metadata,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn merged_metadata_keeps_each_number_as_written() {
    // numbers that parsing and writing again might not give back as they were
    let outer = ContextAttributes::new()
        .with_metadata_text(
            r#"{"a":[1.7976931348623157e+308,5e-324,0.30000000000000004],"z":1.0}"#.to_owned(),
        )
        .unwrap();
    let inner = ContextAttributes::new()
        .with_metadata(object(
            json!({"b": -0.0, "z": {"n": 18446744073709551615u64}}),
        ))
        .unwrap();
    assert_eq!(
        outer.with_scope(&inner).metadata_json(),
        Some(
            r#"{"a":[1.7976931348623157e+308,5e-324,0.30000000000000004],"b":-0.0,"z":{"n":18446744073709551615}}"#
        )
    );
    assert_eq!(
        inner.with_scope(&outer).metadata_json(),
        Some(r#"{"a":[1.7976931348623157e+308,5e-324,0.30000000000000004],"b":-0.0,"z":1.0}"#)
    );
}

#[test]
fn nested_scope_overrides_what_it_sets_and_inherits_the_rest() {
    let outer = ContextAttributes::new()
        .with_session_id("s-outer")
        .unwrap()
        .with_user_id("u-1")
        .unwrap()
        .with_metadata(object(json!({"plan": "pro", "region": "eu"})))
        .unwrap()
        .with_tags(["billing"])
        .unwrap()
        .with_prompt_template("Hi {name}")
        .unwrap()
        .with_prompt_template_variables(object(json!({"name": "Ada"})))
        .unwrap();
    let inner = ContextAttributes::new()
        .with_session_id("s-inner")
        .unwrap()
        .with_metadata(object(json!({"region": "us", "turn": 2})))
        .unwrap()
        .with_tags(["urgent", "billing"])
        .unwrap()
        .with_prompt_template_variables(object(json!({"other": 1})))
        .unwrap();
    let effective = outer.with_scope(&inner);
    assert_eq!(effective.session_id(), Some("s-inner"));
    assert_eq!(effective.user_id(), Some("u-1"));
    assert_eq!(
        effective.metadata(),
        Some(&object(json!({"plan": "pro", "region": "us", "turn": 2})))
    );
    assert_eq!(effective.tags().unwrap(), ["billing", "urgent"]);
    assert_eq!(effective.prompt_template(), Some("Hi {name}"));
    assert_eq!(
        effective.prompt_template_variables(),
        Some(&object(json!({"other": 1})))
    );
}

#[test]
fn span_attributes_use_openinference_keys_and_types() {
    let attrs = ContextAttributes::new()
        .with_session_id("s")
        .unwrap()
        .with_user_id("u")
        .unwrap()
        .with_metadata(object(json!({"b": 1, "a": "x"})))
        .unwrap()
        .with_tags(["t1", "t2"])
        .unwrap()
        .with_prompt_template_version("v3")
        .unwrap()
        .with_attribute("app.tier", AttributeValue::String("gold".into()))
        .unwrap();
    assert_eq!(
        span_map(&attrs, Aliases::NONE),
        vec![
            ("session.id".into(), AttributeValue::String("s".into())),
            ("user.id".into(), AttributeValue::String("u".into())),
            // keys sorted, compact: the same bytes from every language
            (
                "metadata".into(),
                AttributeValue::String(r#"{"a":"x","b":1}"#.into())
            ),
            (
                "tag.tags".into(),
                AttributeValue::StringArray(vec!["t1".into(), "t2".into()])
            ),
            (
                "llm.prompt_template.version".into(),
                AttributeValue::String("v3".into())
            ),
            ("app.tier".into(), AttributeValue::String("gold".into())),
        ]
    );
    let with_aliases = span_map(&attrs, Aliases::parse(["gen_ai", "traceloop"]).unwrap());
    let keys: Vec<&str> = with_aliases.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"gen_ai.conversation.id"));
    assert!(keys.contains(&"traceloop.association.properties.session_id"));
    assert!(keys.contains(&"traceloop.association.properties.user_id"));
    assert!(!keys.contains(&"langsmith.metadata.thread_id"));
    assert!(matches!(
        Aliases::parse(["nope"]),
        Err(Error::UnknownAlias { .. })
    ));
}

#[test]
fn context_values_round_trip_and_foreign_values_are_read_leniently() {
    let attrs = ContextAttributes::new()
        .with_session_id("s")
        .unwrap()
        .with_metadata(object(json!({"k": [1, 2]})))
        .unwrap()
        .with_tags(["a"])
        .unwrap()
        .with_attribute("n", AttributeValue::Int(3))
        .unwrap();
    let values = attrs.to_context_values();
    assert_eq!(values.metadata.as_deref(), Some(r#"{"k":[1,2]}"#));
    assert_eq!(values.attributes.as_deref(), Some(r#"{"n":3}"#));
    let (back, errors) = ContextAttributes::from_context_values(&values);
    assert!(errors.is_empty());
    assert_eq!(back, attrs);

    let foreign = ContextValues {
        session_id: Some("s-9".into()),
        user_id: Some("  ".into()),
        metadata: Some("not json".into()),
        ..ContextValues::default()
    };
    let (read, errors) = ContextAttributes::from_context_values(&foreign);
    assert_eq!(read.session_id(), Some("s-9"));
    assert_eq!(read.user_id(), None);
    assert_eq!(errors.len(), 2);
}

#[test]
fn context_values_sit_in_the_slots_of_their_keys() {
    // every value set to its own key's name: each slot must hold its key
    let named = ContextValues {
        session_id: Some(keys::SESSION_ID.into()),
        user_id: Some(keys::USER_ID.into()),
        metadata: Some(keys::METADATA.into()),
        tags: Some(vec![keys::TAG_TAGS.into()]),
        prompt_template: Some(keys::PROMPT_TEMPLATE_TEMPLATE.into()),
        prompt_template_version: Some(keys::PROMPT_TEMPLATE_VERSION.into()),
        prompt_template_variables: Some(keys::PROMPT_TEMPLATE_VARIABLES.into()),
        attributes: Some(keys::ATTRIBUTES.into()),
    };
    let slots = named.clone().into_slots(|s| s, |tags| tags.concat());
    let expected: Vec<Option<String>> = keys::CONTEXT_KEYS
        .iter()
        .map(|k| Some((*k).to_owned()))
        .collect();
    assert_eq!(slots.to_vec(), expected);
    assert_eq!(keys::CONTEXT_KEYS[keys::slot::TAG_TAGS], keys::TAG_TAGS);
    assert_eq!(keys::CONTEXT_KEYS[keys::slot::ATTRIBUTES], keys::ATTRIBUTES);
    assert_eq!(keys::SHARED_CONTEXT_KEYS, &keys::CONTEXT_KEYS[..7]);

    let back = ContextValues::from_slots(slots, |_, s| Some(s), |s| Some(vec![s]));
    assert_eq!(back, named);
    // a declined value is unset; missing slots are unset
    let partial = ContextValues::from_slots(
        [Some("s"), None, Some("m")],
        |slot, s| (slot != keys::slot::METADATA).then(|| s.to_owned()),
        |_| None,
    );
    assert_eq!(
        partial,
        ContextValues {
            session_id: Some("s".into()),
            ..ContextValues::default()
        }
    );
}

fn arb_attrs() -> impl Strategy<Value = ContextAttributes> {
    let id = proptest::option::of("[a-z0-9]{1,6}");
    let meta = proptest::option::of(proptest::collection::btree_map("[a-c]", 0i64..5, 0..3));
    let tags = proptest::option::of(proptest::collection::vec("[x-z]", 0..4));
    (id.clone(), id.clone(), meta, tags, id).prop_map(|(s, u, m, t, v)| {
        let mut a = ContextAttributes::new();
        if let Some(s) = s {
            a = a.with_session_id(s).unwrap();
        }
        if let Some(u) = u {
            a = a.with_user_id(u).unwrap();
        }
        if let Some(m) = m {
            let obj: JsonObject = m.into_iter().map(|(k, v)| (k, json!(v))).collect();
            a = a.with_metadata(obj).unwrap();
        }
        if let Some(t) = t {
            a = a.with_tags(t).unwrap();
        }
        if let Some(v) = v {
            a = a.with_prompt_template_version(v).unwrap();
        }
        a
    })
}

proptest! {
    #[test]
    fn scalar_fields_come_from_the_innermost_scope_that_sets_them(
        outer in arb_attrs(), inner in arb_attrs()
    ) {
        let e = outer.with_scope(&inner);
        prop_assert_eq!(e.session_id(), inner.session_id().or(outer.session_id()));
        prop_assert_eq!(e.user_id(), inner.user_id().or(outer.user_id()));
        prop_assert_eq!(
            e.prompt_template_version(),
            inner.prompt_template_version().or(outer.prompt_template_version())
        );
    }

    #[test]
    fn metadata_merge_keeps_every_key_with_the_inner_value_winning(
        outer in arb_attrs(), inner in arb_attrs()
    ) {
        let e = outer.with_scope(&inner);
        let empty = JsonObject::new();
        let (o, i) = (outer.metadata().unwrap_or(&empty), inner.metadata().unwrap_or(&empty));
        if outer.metadata().is_none() && inner.metadata().is_none() {
            prop_assert!(e.metadata().is_none());
        } else {
            let m = e.metadata().unwrap();
            for (k, v) in o { if !i.contains_key(k) { prop_assert_eq!(m.get(k), Some(v)); } }
            for (k, v) in i { prop_assert_eq!(m.get(k), Some(v)); }
            prop_assert_eq!(m.len(), o.keys().chain(i.keys()).collect::<std::collections::BTreeSet<_>>().len());
        }
    }

    #[test]
    fn tags_are_the_ordered_union_without_duplicates(outer in arb_attrs(), inner in arb_attrs()) {
        let e = outer.with_scope(&inner);
        let all: Vec<&String> = outer.tags().unwrap_or(&[]).iter().chain(inner.tags().unwrap_or(&[])).collect();
        let tags = e.tags().unwrap_or(&[]);
        let mut seen = std::collections::HashSet::new();
        prop_assert!(tags.iter().all(|t| seen.insert(t)));
        for t in &all { prop_assert!(tags.contains(t)); }
        prop_assert!(tags.starts_with(outer.tags().unwrap_or(&[])));
    }

    #[test]
    fn leaving_scopes_restores_the_outer_values_exactly(
        a in arb_attrs(), b in arb_attrs(), c in arb_attrs()
    ) {
        let before = a.clone();
        let ab = a.with_scope(&b);
        let _abc = ab.with_scope(&c);
        prop_assert_eq!(&a, &before);
        // opening nothing changes nothing
        prop_assert_eq!(a.with_scope(&ContextAttributes::new()), a.clone());
        prop_assert_eq!(ContextAttributes::new().with_scope(&a), a.clone());
    }

    #[test]
    fn nesting_is_associative(a in arb_attrs(), b in arb_attrs(), c in arb_attrs()) {
        prop_assert_eq!(a.with_scope(&b).with_scope(&c), a.with_scope(&b.with_scope(&c)));
    }
}
