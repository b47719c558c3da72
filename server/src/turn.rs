//! The per-trace rules, applied to every span of a trace whatever the order they
//! arrived in: which session and user the trace belongs to, what the turn's input
//! and output are, and the token and cost sums.
//!
//! Invariant: a session id belongs to a trace, not a span. The root span's id
//! wins; without one, the earliest-starting span that has one (ties by span id).
//! The other ids seen are kept as conflicts on the trace.

use std::collections::{BTreeSet, HashMap};

use crate::model::{EventFacts, Io, SpanFacts, TraceSummary};

/// Topmost-first order key: depth in the trace, then start, then span id. A span
/// whose parent has not arrived counts as depth 0.
fn depths(spans: &[SpanFacts]) -> Vec<usize> {
    let index: HashMap<[u8; 8], usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id, i))
        .collect();
    spans
        .iter()
        .map(|s| {
            let mut depth = 0;
            let mut parent = s.parent_span_id;
            while let Some(p) = parent {
                let Some(&i) = index.get(&p) else { break };
                depth += 1;
                if depth > spans.len() {
                    break; // a parent cycle in hostile input
                }
                parent = spans[i].parent_span_id;
            }
            depth
        })
        .collect()
}

/// The winning value of a per-trace id (session or user): roots first, then the
/// earliest start, then the smallest span id.
fn winner<'a>(
    spans: &'a [SpanFacts],
    get: impl Fn(&'a SpanFacts) -> Option<&'a String>,
) -> Option<&'a String> {
    spans
        .iter()
        .filter_map(|s| get(s).map(|v| ((s.parent_span_id.is_some(), s.start_ns, s.span_id), v)))
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v)
}

fn plain(value: String) -> Io {
    Io {
        value,
        mime_type: "text/plain".to_owned(),
        raw_value: None,
    }
}

/// Reads a turn's input or output: the topmost span that has the value; when
/// that span is an LLM call, what the user typed (or the reply) out of its
/// messages, keeping the raw value; failing all spans, the topmost LLM call's
/// messages.
fn turn_io(
    order: &[usize],
    spans: &[SpanFacts],
    value: impl Fn(&SpanFacts) -> (Option<&String>, Option<&String>),
    message: impl Fn(&SpanFacts) -> Option<&String>,
) -> Option<Io> {
    for &i in order {
        let s = &spans[i];
        if let (Some(v), mime) = value(s) {
            if s.is_llm
                && let Some(m) = message(s)
            {
                return Some(Io {
                    value: m.clone(),
                    mime_type: "text/plain".to_owned(),
                    raw_value: Some(v.clone()),
                });
            }
            return Some(Io {
                value: v.clone(),
                mime_type: mime.cloned().unwrap_or_else(|| "text/plain".to_owned()),
                raw_value: None,
            });
        }
    }
    order
        .iter()
        .find_map(|&i| message(&spans[i]).cloned())
        .map(plain)
}

/// The spans with what their GenAI events (log records joined by span id) say
/// of their model calls, where the span itself does not say it: the last user
/// message among a span's events, and its first reply.
fn with_events(spans: &[SpanFacts], events: &[EventFacts]) -> Vec<SpanFacts> {
    let mut ordered: Vec<&EventFacts> = events.iter().collect();
    ordered.sort_by_key(|e| (e.time_ns, e.seq));
    spans
        .iter()
        .map(|span| {
            let mut span = span.clone();
            let of_span = || ordered.iter().filter(|e| e.span_id == span.span_id);
            if span.llm_last_user.is_none() {
                span.llm_last_user = of_span().rev().find_map(|e| e.user_message.clone());
            }
            if span.llm_reply.is_none() {
                span.llm_reply = of_span().find_map(|e| e.reply.clone());
            }
            span
        })
        .collect()
}

/// Applies the trace rules to all spans of one trace and the GenAI events
/// sent apart from them.
pub fn summarize(spans: &[SpanFacts], events: &[EventFacts]) -> TraceSummary {
    if events.is_empty() {
        summarize_spans(spans)
    } else {
        summarize_spans(&with_events(spans, events))
    }
}

fn summarize_spans(spans: &[SpanFacts]) -> TraceSummary {
    let mut summary = TraceSummary {
        start_ns: spans.iter().map(|s| s.start_ns).min().unwrap_or(0),
        end_ns: spans.iter().map(|s| s.end_ns).max().unwrap_or(0),
        span_count: spans.len() as i64,
        has_error: spans.iter().any(|s| s.status_code == 2),
        ..Default::default()
    };
    summary.session_id = winner(spans, |s| s.session_id.as_ref()).cloned();
    summary.session_conflicts = spans
        .iter()
        .filter_map(|s| s.session_id.as_ref())
        .filter(|id| Some(*id) != summary.session_id.as_ref())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    summary.user_id = winner(spans, |s| s.user_id.as_ref()).cloned();
    summary.root_span_id = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .min_by_key(|s| (s.start_ns, s.span_id))
        .map(|s| s.span_id);

    let depth = depths(spans);
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (depth[i], spans[i].start_ns, spans[i].span_id));
    summary.input = turn_io(
        &order,
        spans,
        |s| (s.input_value.as_ref(), s.input_mime.as_ref()),
        |s| s.llm_last_user.as_ref(),
    );
    summary.output = turn_io(
        &order,
        spans,
        |s| (s.output_value.as_ref(), s.output_mime.as_ref()),
        |s| s.llm_reply.as_ref(),
    );

    let mut tags = BTreeSet::new();
    for &i in &order {
        let s = &spans[i];
        if s.is_llm {
            summary.tokens.add(&s.tokens);
            summary.cost.add(&s.cost);
        }
        tags.extend(s.tags.iter().cloned());
        for (key, value) in &s.metadata {
            summary
                .metadata
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
    }
    summary.tags = tags.into_iter().collect();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u8, parent: Option<u8>, start: i64, session: Option<&str>) -> SpanFacts {
        SpanFacts {
            span_id: [id; 8],
            parent_span_id: parent.map(|p| [p; 8]),
            start_ns: start,
            end_ns: start + 10,
            session_id: session.map(str::to_owned),
            ..Default::default()
        }
    }

    fn check(spans: &[SpanFacts], session: Option<&str>, conflicts: &[&str]) {
        // Every arrival order gives the same answer.
        let mut spans = spans.to_vec();
        for _ in 0..spans.len() {
            let s = summarize(&spans, &[]);
            assert_eq!(s.session_id.as_deref(), session);
            assert_eq!(s.session_conflicts, conflicts);
            spans.rotate_left(1);
        }
        spans.reverse();
        assert_eq!(summarize(&spans, &[]).session_id.as_deref(), session);
    }

    #[test]
    fn root_session_wins_over_earlier_child() {
        check(
            &[
                span(1, None, 100, Some("root")),
                span(2, Some(1), 50, Some("child")),
            ],
            Some("root"),
            &["child"],
        );
    }

    #[test]
    fn without_root_id_earliest_span_wins_ties_by_span_id() {
        check(
            &[
                span(1, None, 100, None),
                span(3, Some(1), 120, Some("b")),
                span(2, Some(1), 120, Some("a")),
                span(4, Some(1), 130, Some("c")),
            ],
            Some("a"),
            &["b", "c"],
        );
    }

    #[test]
    fn no_session_anywhere() {
        check(
            &[span(1, None, 1, None), span(2, Some(1), 2, None)],
            None,
            &[],
        );
    }

    #[test]
    fn llm_turn_source_reads_as_chat() {
        let mut s = span(1, None, 1, None);
        s.is_llm = true;
        s.input_value = Some("{\"messages\":[]}".into());
        s.llm_last_user = Some("hi".into());
        s.output_value = Some("{\"choices\":[]}".into());
        s.llm_reply = Some("hello".into());
        let t = summarize(&[s], &[]);
        let input = t.input.unwrap();
        assert_eq!(input.value, "hi");
        assert_eq!(input.raw_value.as_deref(), Some("{\"messages\":[]}"));
        assert_eq!(t.output.unwrap().value, "hello");
    }

    #[test]
    fn events_give_a_model_call_its_messages_in_either_arrival_order() {
        let mut llm = span(1, None, 1, Some("s"));
        llm.is_llm = true;
        let event = |seq, user: Option<&str>, reply: Option<&str>| EventFacts {
            span_id: [1; 8],
            time_ns: 5,
            seq,
            user_message: user.map(str::to_owned),
            reply: reply.map(str::to_owned),
        };
        let events = [
            event(2, None, Some("hello")),
            event(1, Some("the latest question"), None),
            event(0, Some("an earlier question"), None),
        ];
        let t = summarize(std::slice::from_ref(&llm), &events);
        assert_eq!(t.input.unwrap().value, "the latest question");
        assert_eq!(t.output.unwrap().value, "hello");
        // What the span says itself wins over its events.
        llm.llm_last_user = Some("from the span".into());
        let t = summarize(&[llm], &events);
        assert_eq!(t.input.unwrap().value, "from the span");
    }

    #[test]
    fn hostile_parent_cycle_terminates() {
        let t = summarize(&[span(1, Some(2), 1, None), span(2, Some(1), 2, None)], &[]);
        assert_eq!(t.span_count, 2);
    }
}
