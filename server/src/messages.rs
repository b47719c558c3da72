//! Reading what people said out of the shapes frameworks put it in, so that a
//! turn reads as a conversation whatever produced it:
//!
//! - a model call's messages: OpenInference's flattened
//!   `llm.{input,output}_messages.<i>.message.*`, GenAI's
//!   `gen_ai.{input,output}.messages` (`parts`), the chat-completions request
//!   and response in `input.value`/`output.value`, the Vercel AI SDK's
//!   `ai.prompt.messages`/`ai.response.text`;
//! - the JSON inputs and outputs of chains and agents: `{"messages": [...]}`
//!   (LangGraph's state), `{"input"|"question"|...: ...}` (LangChain chains,
//!   agents), LangChain message objects (plain and serialized), message lists,
//!   `{"output"|"answer"|...: ...}`, chat completions.
//!
//! The rule every reader follows: what the user said is the **last user
//! message** of an input (a history ends with the turn's own message); what
//! the assistant answered is the **last assistant message with text** of an
//! output (a state ends with the final reply), or the first choice of a model
//! call's output.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::semconv as k;

/// Who said a message, as the readers tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The person: `user`, `human`.
    User,
    /// The model: `assistant`, `ai`, `model`.
    Assistant,
    /// Anything else: `system`, `tool`, `developer`, `function`.
    Other,
}

fn role_of(name: &str) -> Role {
    let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
    if is(&["user", "human", "humanmessage", "humanmessagechunk"]) {
        Role::User
    } else if is(&["assistant", "ai", "model", "aimessage", "aimessagechunk"]) {
        Role::Assistant
    } else {
        Role::Other
    }
}

/// The text of a message content: a string, or the text parts of a list
/// (`{"type": "text", "text"|"content": ...}`; other parts are skipped).
pub fn content_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| match p {
                    Value::String(s) => Some(s.as_str()),
                    Value::Object(o) => {
                        let kind = o.get("type").and_then(Value::as_str);
                        if kind.is_some_and(|t| !matches!(t, "text" | "input_text" | "output_text"))
                        {
                            return None;
                        }
                        o.get("text")
                            .or_else(|| o.get("content"))
                            .and_then(Value::as_str)
                    }
                    _ => None,
                })
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

/// A message's role and text, from any of the shapes above: `{role,
/// content|parts}`, LangChain's `{type: "human", content}` and serialized
/// `{lc, id: [..., "HumanMessage"], kwargs: {content}}`, and the `[role,
/// text]` tuples LangChain accepts.
pub fn message(v: &Value) -> Option<(Role, String)> {
    match v {
        Value::Object(o) => {
            if let (Some(id), Some(kwargs)) = (o.get("id"), o.get("kwargs")) {
                let class = id.as_array()?.last()?.as_str()?;
                let text = kwargs.get("content").and_then(content_text)?;
                return Some((role_of(class), text));
            }
            let role = o
                .get("role")
                .or_else(|| o.get("type"))
                .and_then(Value::as_str)?;
            // LangChain's `messages_to_dict` form keeps the content under `data`.
            let body = o.get("data").filter(|d| d.is_object()).unwrap_or(v);
            let text = body
                .get("parts")
                .and_then(content_text)
                .or_else(|| body.get("content").and_then(content_text))
                .unwrap_or_default();
            Some((role_of(role), text))
        }
        Value::Array(pair) if pair.len() == 2 => {
            Some((role_of(pair[0].as_str()?), pair[1].as_str()?.to_owned()))
        }
        _ => None,
    }
}

/// The messages of a list (entries that are not messages are skipped).
pub fn messages(list: &Value) -> Vec<(Role, String)> {
    list.as_array()
        .map(|l| l.iter().filter_map(message).collect())
        .unwrap_or_default()
}

/// The last message of `role` with text.
pub fn last_of<T: AsRef<str>>(messages: &[(Role, T)], role: Role) -> Option<String> {
    messages
        .iter()
        .rev()
        .find(|(r, text)| *r == role && !text.as_ref().trim().is_empty())
        .map(|(_, t)| t.as_ref().to_owned())
}

/// The first message of `role` with text.
pub fn first_of<T: AsRef<str>>(messages: &[(Role, T)], role: Role) -> Option<String> {
    messages
        .iter()
        .find(|(r, text)| *r == role && !text.as_ref().trim().is_empty())
        .map(|(_, t)| t.as_ref().to_owned())
}

/// Keys under which chains and agents put what the user said.
const INPUT_KEYS: &[&str] = &[
    "messages",
    "input",
    "question",
    "query",
    "message",
    "prompt",
    "user_input",
    "text",
    "content",
];
/// Keys under which chains and agents put their answer.
const OUTPUT_KEYS: &[&str] = &[
    "messages",
    "output",
    "answer",
    "response",
    "result",
    "final_output",
    "text",
    "content",
    "generation",
];

/// Reads a JSON value for the words of `role`: a string is itself; a message
/// list gives its last message of the role; a message gives its text when it
/// is the role's; an object gives what is under the first of `keys` that
/// reads (chat-completions responses give their first choice). Depth-bounded:
/// hostile nesting reads as nothing.
fn words(v: &Value, role: Role, keys: &[&str], depth: usize) -> Option<String> {
    if depth > 8 {
        return None;
    }
    let found = match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(list) => {
            let msgs = messages(v);
            if msgs.is_empty() {
                // One item that reads, as in `[{"input": ...}]`.
                match list.as_slice() {
                    [only] => words(only, role, keys, depth + 1),
                    _ => None,
                }
            } else {
                last_of(&msgs, role)
            }
        }
        Value::Object(o) => {
            if let Some(text) = o
                .get("choices")
                .and_then(|c| c.get(0))
                .and_then(|c| c.get("message"))
                .and_then(|m| m.get("content"))
                .and_then(content_text)
                .filter(|_| role == Role::Assistant)
            {
                return Some(text);
            }
            let is_message = ["content", "kwargs", "parts", "data"]
                .iter()
                .any(|key| o.contains_key(*key));
            if let Some((r, text)) = message(v).filter(|_| is_message) {
                return (r == role).then_some(text);
            }
            keys.iter()
                .filter_map(|key| o.get(*key))
                .find_map(|inner| words(inner, role, keys, depth + 1))
        }
        _ => None,
    };
    found.filter(|t| !t.trim().is_empty())
}

/// What the user said, read out of a span's JSON input (a chain's or an
/// agent's), or `None` when it holds no such thing.
pub fn user_words(input: &Value) -> Option<String> {
    words(input, Role::User, INPUT_KEYS, 0)
}

/// What the assistant answered, read out of a span's JSON output.
pub fn assistant_words(output: &Value) -> Option<String> {
    words(output, Role::Assistant, OUTPUT_KEYS, 0)
}

/// Whether a span's input or output value is JSON to read words out of: its
/// mime type says so, or (none given) it is an object or a list.
pub fn holds_json(value: &str, mime: Option<&str>) -> bool {
    match mime {
        Some(m) => m.contains("json"),
        None => matches!(value.trim_start().as_bytes().first(), Some(b'{' | b'[')),
    }
}

/// Parses a value that holds JSON: an attribute given as JSON text, or as a
/// structured value.
pub fn json_attr(attrs: &Map<String, Value>, key: &str) -> Option<Value> {
    match attrs.get(key)? {
        Value::String(s) => serde_json::from_str(s).ok(),
        v @ (Value::Array(_) | Value::Object(_)) => Some(v.clone()),
        _ => None,
    }
}

/// `(role, text)` of OpenInference's flattened `llm.{input,output}_messages.<i>.message.*`,
/// borrowed from `attrs` where a message is one text (a model call's input
/// repeats the conversation so far: copying every message to keep one cost
/// a third of mapping a history-heavy span).
fn oi_messages<'a>(attrs: &'a Map<String, Value>, prefix: &str) -> Vec<(Role, Cow<'a, str>)> {
    /// A message's role and its ordered text parts.
    type Parts<'a> = (Option<&'a str>, Vec<(usize, &'a str)>);
    let mut by_index: std::collections::BTreeMap<usize, Parts<'a>> = Default::default();
    for (key, value) in attrs {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        let Some((index, field)) = rest.split_once('.') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        let entry = by_index.entry(index).or_default();
        match field {
            "message.role" => entry.0 = value.as_str(),
            "message.content" => {
                if let Some(s) = value.as_str() {
                    entry.1.push((0, s));
                }
            }
            _ => {
                // message.contents.<j>.message_content.text
                if let Some(rest) = field.strip_prefix("message.contents.")
                    && let Some((j, "message_content.text")) = rest.split_once('.')
                    && let (Ok(j), Some(s)) = (j.parse::<usize>(), value.as_str())
                {
                    entry.1.push((j + 1, s));
                }
            }
        }
    }
    by_index
        .into_values()
        .filter_map(|(role, mut parts)| {
            parts.sort();
            // `message.content` (part 0) says it all; instrumentations that
            // also list `message.contents` repeat it there.
            let text = match parts.first() {
                Some((0, content)) => Cow::Borrowed(*content),
                _ => Cow::Owned(
                    parts
                        .into_iter()
                        .map(|(_, s)| s)
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
            };
            Some((role_of(role?), text))
        })
        .collect()
}

/// The last user message and the reply of a model call, from whichever of its
/// message attributes it has.
pub fn model_call(attrs: &Map<String, Value>) -> (Option<String>, Option<String>) {
    let user = last_of(&oi_messages(attrs, k::OI_INPUT_MESSAGES), Role::User)
        .or_else(|| {
            json_attr(attrs, k::GEN_AI_INPUT_MESSAGES)
                .and_then(|v| last_of(&messages(&v), Role::User))
        })
        .or_else(|| {
            json_attr(attrs, k::VERCEL_PROMPT_MESSAGES)
                .and_then(|v| last_of(&messages(&v), Role::User))
        })
        .or_else(|| {
            // The provider request in `input.value` (chat-completions shape).
            json_attr(attrs, k::INPUT_VALUE)
                .and_then(|v| v.get("messages").map(messages))
                .and_then(|m| last_of(&m, Role::User))
        });
    let reply = first_of(&oi_messages(attrs, k::OI_OUTPUT_MESSAGES), Role::Assistant)
        .or_else(|| {
            json_attr(attrs, k::GEN_AI_OUTPUT_MESSAGES)
                .and_then(|v| first_of(&messages(&v), Role::Assistant))
        })
        .or_else(|| {
            attrs
                .get(k::VERCEL_RESPONSE_TEXT)
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .map(str::to_owned)
        })
        .or_else(|| {
            json_attr(attrs, k::OUTPUT_VALUE).and_then(|v| {
                let message = v.get("choices")?.get(0)?.get("message")?;
                content_text(message.get("content")?)
            })
        });
    (user, reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_user(input: Value, expected: Option<&str>) {
        assert_eq!(user_words(&input).as_deref(), expected, "{input}");
    }

    fn check_reply(output: Value, expected: Option<&str>) {
        assert_eq!(assistant_words(&output).as_deref(), expected, "{output}");
    }

    #[test]
    fn user_words_of_chain_and_agent_inputs() {
        check_user(json!("plain"), Some("plain"));
        check_user(
            json!({"history": [{"role": "user", "content": "old"}, {"role": "assistant", "content": "old reply"}], "question": "new"}),
            Some("new"),
        );
        check_user(
            json!({"messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "second"}]}),
            Some("second"),
        );
        check_user(
            json!({"messages": [["user", "tuple form"]]}),
            Some("tuple form"),
        );
        check_user(
            json!({"messages": [{"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "HumanMessage"], "kwargs": {"content": "serialized", "type": "human"}}]}),
            Some("serialized"),
        );
        check_user(
            json!({"messages": [{"type": "human", "content": "dict form"}]}),
            Some("dict form"),
        );
        check_user(
            json!({"input": "agent input", "chat_history": []}),
            Some("agent input"),
        );
        check_user(
            json!([{"role": "user", "content": [{"type": "input_text", "text": "parts"}]}]),
            Some("parts"),
        );
        check_user(
            json!({"system": "be brief", "prompt": "vercel prompt"}),
            Some("vercel prompt"),
        );
        check_user(json!({"config": {"x": 1}}), None);
        check_user(
            json!({"messages": [{"role": "assistant", "content": "no user"}]}),
            None,
        );
    }

    #[test]
    fn assistant_words_of_chain_and_agent_outputs() {
        check_reply(json!("plain"), Some("plain"));
        check_reply(
            json!({"messages": [{"type": "human", "content": "q"}, {"type": "ai", "content": "", "tool_calls": [{"name": "t"}]}, {"type": "tool", "content": "42"}, {"type": "ai", "content": "final"}]}),
            Some("final"),
        );
        check_reply(
            json!({"input": "q", "output": "agent answer"}),
            Some("agent answer"),
        );
        check_reply(
            json!({"choices": [{"message": {"role": "assistant", "content": "completion"}}]}),
            Some("completion"),
        );
        check_reply(
            json!({"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "AIMessage"], "kwargs": {"content": "ai message"}}),
            Some("ai message"),
        );
        check_reply(json!({"type": "human", "content": "not a reply"}), None);
        check_reply(
            json!({"type": "ai", "data": {"content": "dict form", "type": "ai"}}),
            Some("dict form"),
        );
        check_reply(
            json!({"messages": [{"type": "human", "data": {"content": "q"}}, {"type": "ai", "data": {"content": "state form"}}]}),
            Some("state form"),
        );
    }

    #[test]
    fn hostile_nesting_reads_as_nothing() {
        let mut v = json!("deep");
        for _ in 0..100 {
            v = json!({"input": v});
        }
        assert_eq!(user_words(&v), None);
    }
}
