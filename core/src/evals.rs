//! The rules of whole-session evaluation shared by every evaluator, wherever
//! it runs (the server's online evaluators, the Python and Node
//! `evaluate_sessions`): how a session's turns read as a conversation, how
//! much of it a judge is shown, and the judge's prompt template syntax.
//!
//! The Python (`evals.py`) and Node (`evals.ts`) packages are this module's
//! twins; `tests/clients/cases.json` pins the three to the same answers
//! (`core/tests/shared_cases.rs` runs its transcript and template cases here).

use std::fmt;

/// How much conversation an LLM judge is shown, at most, in characters (the
/// end is kept: it is where a session is decided).
pub const DEFAULT_MAX_TRANSCRIPT_CHARS: usize = 600_000;

/// The placeholders of a judge's prompt template.
pub const PLACEHOLDERS: [&str; 3] = ["criteria", "transcript", "labels"];

/// Who said a message of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user: a turn's input.
    User,
    /// The assistant: a turn's output.
    Assistant,
}

impl Role {
    /// The role's name in a transcript line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

/// The messages of a session's turns, in order: each turn's input as a user
/// message and its output as an assistant message; a turn without an input or
/// an output (`None`) has no such message.
pub fn messages<'a, I>(turns: I) -> Vec<Message>
where
    I: IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
{
    let mut messages = Vec::new();
    for (input, output) in turns {
        for (text, role) in [(input, Role::User), (output, Role::Assistant)] {
            if let Some(text) = text {
                messages.push(Message {
                    role,
                    content: text.to_owned(),
                });
            }
        }
    }
    messages
}

/// The conversation as `role: content` lines; when longer than `max_chars`
/// characters (Unicode scalar values), the start is cut and marked with `…`.
/// `max_chars` is at least 1 (a zero is read as 1: the mark alone).
pub fn transcript_text(messages: &[Message], max_chars: usize) -> String {
    let max_chars = max_chars.max(1);
    let full = messages
        .iter()
        .map(|m| format!("{}: {}", m.role.as_str(), m.content))
        .collect::<Vec<_>>()
        .join("\n");
    let len = full.chars().count();
    if len <= max_chars {
        return full;
    }
    let skip = len - max_chars + 1;
    let start = full.char_indices().nth(skip).map_or(full.len(), |(i, _)| i);
    format!("…{}", &full[start..])
}

/// Why a prompt template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// A `{` or `}` that is neither a placeholder nor doubled.
    SingleBrace(char),
    /// A `{name}` that is not one of the placeholders.
    UnknownPlaceholder(String),
    /// A required placeholder does not appear.
    Missing(&'static str),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::SingleBrace(c) => {
                write!(
                    f,
                    "template has a single \"{c}\": write braces as {{{{ and }}}}"
                )
            }
            TemplateError::UnknownPlaceholder(name) => write!(
                f,
                "template has an unknown placeholder {{{name}}}; \
                 the placeholders are {{criteria}}, {{transcript}} and {{labels}}"
            ),
            TemplateError::Missing(name) => write!(f, "template must contain {{{name}}}"),
        }
    }
}

impl std::error::Error for TemplateError {}

/// Fills a template: `{criteria}`, `{transcript}` and `{labels}` are replaced
/// by `value(name)`, `{{` and `}}` are braces; anything else in braces (another
/// name, a conversion or format spec, a single brace) is refused.
pub fn fill_template(
    template: &str,
    mut value: impl FnMut(&'static str) -> String,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(TemplateError::SingleBrace('}'));
        }
        // `{name}` with no brace inside, else a single `{`
        let Some(end) = tail[1..].find(['{', '}']).map(|j| j + 1) else {
            return Err(TemplateError::SingleBrace('{'));
        };
        if !tail[end..].starts_with('}') {
            return Err(TemplateError::SingleBrace('{'));
        }
        let name = &tail[1..end];
        match PLACEHOLDERS.iter().find(|p| **p == name) {
            Some(p) => out.push_str(&value(p)),
            None => return Err(TemplateError::UnknownPlaceholder(name.to_owned())),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks a template: well formed, and containing every placeholder in
/// `required`.
pub fn check_template(template: &str, required: &[&'static str]) -> Result<(), TemplateError> {
    let mut used = Vec::new();
    fill_template(template, |p| {
        used.push(p);
        String::new()
    })?;
    match required.iter().find(|p| !used.contains(p)) {
        Some(missing) => Err(TemplateError::Missing(missing)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Vec<Message> {
        messages([
            (Some("hi"), Some("hello")),
            (None, Some("anything else?")),
            (Some("no"), None),
        ])
    }

    #[test]
    fn turns_read_as_user_then_assistant_and_missing_sides_are_left_out() {
        let roles: Vec<_> = chat().iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::User, Role::Assistant, Role::Assistant, Role::User]
        );
        assert_eq!(
            transcript_text(&chat(), 1000),
            "user: hi\nassistant: hello\nassistant: anything else?\nuser: no"
        );
    }

    #[test]
    fn a_long_transcript_keeps_its_end() {
        let text = transcript_text(&chat(), 10);
        assert_eq!(text.chars().count(), 10);
        assert_eq!(text, "…\nuser: no");
    }

    #[test]
    fn templates_fill_placeholders_and_braces() {
        let filled =
            fill_template("{{\"x\": {labels}}} {transcript}", |p| p.to_uppercase()).unwrap();
        assert_eq!(filled, "{\"x\": LABELS} TRANSCRIPT");
        assert_eq!(
            fill_template("a } b", |_| String::new()),
            Err(TemplateError::SingleBrace('}'))
        );
        assert_eq!(
            fill_template("a { b", |_| String::new()),
            Err(TemplateError::SingleBrace('{'))
        );
        assert_eq!(
            fill_template("{nope}", |_| String::new()),
            Err(TemplateError::UnknownPlaceholder("nope".into()))
        );
        assert_eq!(
            check_template("{labels}", &["transcript"]),
            Err(TemplateError::Missing("transcript"))
        );
    }
}
