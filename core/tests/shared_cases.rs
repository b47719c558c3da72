//! The transcript and judge-template cases of `tests/clients/cases.json` (the
//! file that pins the Python and Node evaluation twins) run against the core's
//! rules, so the server's online evaluators read a session exactly as
//! `evaluate_sessions` does. Cases about a binding's own argument types are
//! the bindings' business and are skipped here.

use openinference_session::evals::{
    DEFAULT_MAX_TRANSCRIPT_CHARS, PLACEHOLDERS, check_template, messages, transcript_text,
};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/clients/cases.json");
    let text =
        std::fs::read_to_string(path).expect("tests/clients/cases.json (run from the repository)");
    let all: Value = serde_json::from_str(&without_lone_surrogates(&text)).unwrap();
    all["cases"].as_array().unwrap().clone()
}

/// The file has cases with lone UTF-16 surrogates (`"\\ud800"`: bad input for
/// the bindings), which JSON allows and serde_json refuses; none is a
/// transcript or template case, so they become U+FFFD here.
fn without_lone_surrogates(text: &str) -> String {
    let escape = |s: &str| {
        s.len() >= 6
            && s.starts_with("\\u")
            && u16::from_str_radix(&s[2..6], 16).is_ok_and(|u| (0xD800..0xE000).contains(&u))
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let high = escape(tail) && u16::from_str_radix(&tail[2..6], 16).is_ok_and(|u| u < 0xDC00);
        if high && escape(&tail[6..]) {
            out.push_str(&tail[..12]); // a pair: kept
            rest = &tail[12..];
        } else if escape(tail) {
            out.push_str("\\ufffd");
            rest = &tail[6..];
        } else {
            out.push_str(&tail[..2]);
            rest = &tail[2..];
        }
    }
    out.push_str(rest);
    out
}

fn side(turn: &Value, key: &str) -> Option<String> {
    turn.get(key)
        .and_then(|io| io.get("value"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[test]
fn transcripts_read_as_the_bindings_read_them() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c["call"] == "transcript") {
        let Some(expected) = case["expect"].get("result") else {
            continue;
        };
        let turns: Vec<(Option<String>, Option<String>)> = case["args"]["turns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (side(t, "input"), side(t, "output")))
            .collect();
        let msgs = messages(turns.iter().map(|(i, o)| (i.as_deref(), o.as_deref())));
        let pairs: Vec<Value> = msgs
            .iter()
            .map(|m| serde_json::json!([m.role.as_str(), m.content]))
            .collect();
        assert_eq!(
            Value::Array(pairs),
            expected["messages"],
            "{}",
            case["name"]
        );
        let max = case["args"]
            .get("max_chars")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_MAX_TRANSCRIPT_CHARS, |n| n as usize);
        assert_eq!(
            transcript_text(&msgs, max),
            expected["text"].as_str().unwrap(),
            "{}",
            case["name"]
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} transcript cases");
}

#[test]
fn judge_templates_are_refused_with_the_bindings_messages() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c["call"] == "judge") {
        let Some(template) = case["args"].get("template").and_then(Value::as_str) else {
            continue;
        };
        let result = check_template(template, &PLACEHOLDERS);
        match case["expect"].get("message_contains") {
            Some(parts) => {
                let message = result
                    .expect_err(case["name"].as_str().unwrap())
                    .to_string();
                for part in parts.as_array().unwrap() {
                    assert!(
                        message.contains(part.as_str().unwrap()),
                        "{}: {message}",
                        case["name"]
                    );
                }
            }
            None => assert!(result.is_ok(), "{}: {result:?}", case["name"]),
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} template cases");
}
