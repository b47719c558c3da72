//! Opaque ids in Phoenix's style (a "GlobalID": base64 of `Type:node`), so that
//! Phoenix's clients, which carry a session's or project's `id` from one call
//! to the next, work unchanged.
//!
//! Phoenix's node is a row id. Ours is what identifies the thing for good: a
//! project's name, a session's (project, session id), a trace's (project, trace
//! id), a span's (trace id, span id). Such an id never comes to mean another
//! session after a delete (a SQLite row id can be reused), reads the same on
//! SQLite and PostgreSQL, and is decoded without a lookup. The alphabet is
//! base64url without padding: Phoenix's clients put ids into URL paths
//! unescaped, where a `/` would split the path. Decoding also takes standard
//! base64, padded or not.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// The type of a project id.
pub const PROJECT: &str = "Project";
/// The type of a session id (Phoenix's `ProjectSession`).
pub const SESSION: &str = "ProjectSession";
/// The type of a trace id.
pub const TRACE: &str = "Trace";
/// The type of a span id.
pub const SPAN: &str = "Span";
/// The type of a session annotation id (Phoenix's `ProjectSessionAnnotation`).
pub const ANNOTATION: &str = "ProjectSessionAnnotation";

fn encode(kind: &str, node: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{node}"))
}

/// The `(type, node)` of an id, `None` when it is not one.
fn decode(id: &str) -> Option<(String, String)> {
    let trimmed = id.trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, node) = text.split_once(':')?;
    Some((kind.to_owned(), node.to_owned()))
}

/// The node of an id of type `kind`.
fn node_of(id: &str, kind: &str) -> Option<String> {
    decode(id).filter(|(k, _)| k == kind).map(|(_, node)| node)
}

/// `<byte length of scope>:<scope><rest>`: a node made of a scope (a project
/// name, which may hold any character) and what it scopes, unambiguously.
fn scoped(scope: &str, rest: &str) -> String {
    format!("{}:{scope}{rest}", scope.len())
}

fn unscoped(node: &str) -> Option<(String, String)> {
    let (len, tail) = node.split_once(':')?;
    let len: usize = len.parse().ok()?;
    if !tail.is_char_boundary(len) {
        return None;
    }
    let (scope, rest) = tail.split_at(len);
    Some((scope.to_owned(), rest.to_owned()))
}

/// A project's id.
pub fn project(name: &str) -> String {
    encode(PROJECT, name)
}

/// The project a path names: a project id is read as the project it encodes,
/// anything else is a project name (Phoenix takes either, the id first).
pub fn project_name(identifier: &str) -> String {
    node_of(identifier, PROJECT).unwrap_or_else(|| identifier.to_owned())
}

/// A session's id.
pub fn session(project: &str, session_id: &str) -> String {
    encode(SESSION, &scoped(project, session_id))
}

/// The (project, session id) a session id encodes; `None` when the
/// identifier is not a session id (it is then the session id an app sent).
pub fn parse_session(identifier: &str) -> Option<(String, String)> {
    node_of(identifier, SESSION)
        .as_deref()
        .and_then(unscoped)
        .filter(|(_, session)| !session.is_empty())
}

/// A trace's id, from its hex trace id.
pub fn trace(project: &str, trace_id: &str) -> String {
    encode(TRACE, &scoped(project, trace_id))
}

/// A span's id, from its hex trace and span ids (a span is unique by the two).
pub fn span(trace_id: &str, span_id: &str) -> String {
    encode(SPAN, &format!("{trace_id}:{span_id}"))
}

/// A session annotation's id, from the row id our own API uses.
pub fn annotation(id: i64) -> String {
    encode(ANNOTATION, &id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_never_hold_a_slash() {
        for name in ["support-bot", "a/b:c", "Ünïcode", "", "x?y#z"] {
            let id = project(name);
            assert!(!id.contains(['/', '+', '=']), "{id}");
            assert_eq!(project_name(&id), name);
            for session_id in ["conv-42", "a:b:c", "ü/ß"] {
                let id = session(name, session_id);
                assert!(!id.contains('/'), "{id}");
                assert_eq!(
                    parse_session(&id),
                    Some((name.to_owned(), session_id.to_owned()))
                );
            }
        }
    }

    #[test]
    fn names_and_session_ids_stay_what_they_are() {
        assert_eq!(project_name("support-bot"), "support-bot");
        assert_eq!(parse_session("conv-42"), None);
        assert_eq!(parse_session(&project("p")), None, "a project id");
        assert_eq!(project_name(&session("p", "s")), session("p", "s"));
    }

    #[test]
    fn phoenix_style_standard_base64_is_read_too() {
        // Phoenix's own form: standard alphabet, padded.
        assert_eq!(project_name("UHJvamVjdDpkZWZhdWx0"), "default");
        let padded = base64::engine::general_purpose::STANDARD.encode("Project:ab");
        assert!(padded.ends_with('='));
        assert_eq!(project_name(&padded), "ab");
    }
}
