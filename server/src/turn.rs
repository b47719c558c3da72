//! The per-trace rules, applied to every span of a trace whatever the order they
//! arrived in: which session and user the trace belongs to, what the turn's input
//! and output are, and the token and cost sums.
//!
//! Invariant: a session id belongs to a trace, not a span. The root span's id
//! wins; without one, the earliest-starting span that has one (ties by span id).
//! The other ids seen are kept as conflicts on the trace.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};

use crate::messages::holds_json;
use crate::model::{EventFacts, Io, SpanFacts, TraceSummary};

/// Topmost-first order key: depth in the trace, then start, then span id. A span
/// whose parent has not arrived counts as depth 0.
fn depths(spans: &[&SpanFacts]) -> Vec<usize> {
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

/// Which model-call spans the token and cost sums count. One call seen by two
/// instrumentations (OpenInference's span and the SDK's own under it, or a
/// framework's and a client library's) is two nested LLM spans with the same
/// usage: a model call is counted unless an LLM span above it already reports
/// tokens.
fn counted_calls(spans: &[&SpanFacts]) -> Vec<bool> {
    let index: HashMap<[u8; 8], usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id, i))
        .collect();
    let reports = |s: &SpanFacts| s.is_llm && (s.tokens.total > 0 || s.cost.total > 0.0);
    spans
        .iter()
        .map(|s| {
            if !s.is_llm {
                return false;
            }
            let mut parent = s.parent_span_id;
            let mut hops = 0;
            while let Some(p) = parent {
                let Some(&i) = index.get(&p) else { break };
                if reports(spans[i]) {
                    return false;
                }
                hops += 1;
                if hops > spans.len() {
                    break; // a parent cycle in hostile input
                }
                parent = spans[i].parent_span_id;
            }
            true
        })
        .collect()
}

/// The winning value of a per-trace id (session or user): roots first, then the
/// earliest start, then the smallest span id.
fn winner<'a>(
    spans: &[&'a SpanFacts],
    get: impl Fn(&'a SpanFacts) -> Option<&'a String>,
) -> Option<&'a String> {
    spans
        .iter()
        .filter_map(|&s| get(s).map(|v| ((s.parent_span_id.is_some(), s.start_ns, s.span_id), v)))
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

/// Which spans a turn's input or output is read from (the rule table of
/// `docs/server.md`, "Read: turns"), decided by which spans have a value and
/// words, not by the texts themselves: the topmost span that has the value,
/// and the model call's words (`fallback`: the first call for the input, the
/// last for the output), else the topmost span that has words.
struct IoSources {
    /// The topmost span that has the value.
    topmost: Option<usize>,
    /// The model call whose words stand in, when it has words.
    fallback: Option<usize>,
    /// Without either, the topmost span that has words.
    first_words: Option<usize>,
}

fn io_sources(
    order: &[usize],
    spans: &[&SpanFacts],
    has_value: impl Fn(&SpanFacts) -> bool,
    has_words: impl Fn(&SpanFacts) -> bool,
    fallback: Option<usize>,
) -> IoSources {
    let topmost = order.iter().copied().find(|&i| has_value(spans[i]));
    let fallback = fallback.filter(|&j| has_words(spans[j]));
    let first_words = match (topmost, fallback) {
        (None, None) => order.iter().copied().find(|&i| has_words(spans[i])),
        _ => None,
    };
    IoSources {
        topmost,
        fallback,
        first_words,
    }
}

/// Reads a turn's input or output from its [`IoSources`]. The topmost span
/// that has the value decides: what it says the person said (or the
/// assistant answered) when it can tell, keeping the raw value beside; else,
/// when its value is JSON nobody can read words out of, the turn's model
/// call's words; else the value as it is. Without any span having the value,
/// the model calls' words.
fn read_io(
    sources: &IoSources,
    spans: &[&SpanFacts],
    value: impl Fn(&SpanFacts) -> (Option<&String>, Option<&String>),
    words: impl Fn(&SpanFacts) -> Option<&String>,
) -> Option<Io> {
    let read = |text: &String, raw: &String| Io {
        value: text.clone(),
        mime_type: "text/plain".to_owned(),
        raw_value: Some(raw.clone()),
    };
    let fallback_words = sources.fallback.and_then(|j| words(spans[j]));
    if let Some(i) = sources.topmost {
        let s = spans[i];
        let (Some(v), mime) = value(s) else {
            return None;
        };
        if let Some(w) = words(s) {
            return Some(read(w, v));
        }
        if holds_json(v, mime.map(String::as_str))
            && let Some(w) = fallback_words
        {
            return Some(read(w, v));
        }
        return Some(Io {
            value: v.clone(),
            mime_type: mime.cloned().unwrap_or_else(|| "text/plain".to_owned()),
            raw_value: None,
        });
    }
    fallback_words
        .or_else(|| sources.first_words.and_then(|i| words(spans[i])))
        .cloned()
        .map(plain)
}

/// A text of a span's facts that a summary may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FactText {
    /// `input_value`.
    Input,
    /// `output_value`.
    Output,
    /// `user_text`.
    UserWords,
    /// `reply_text`.
    ReplyWords,
}

impl FactText {
    /// Every text of a span's facts, in the order stores list them.
    pub const ALL: [FactText; 4] = [Self::Input, Self::Output, Self::UserWords, Self::ReplyWords];

    /// This text of `facts`.
    pub fn of(self, facts: &SpanFacts) -> &Option<String> {
        match self {
            Self::Input => &facts.input_value,
            Self::Output => &facts.output_value,
            Self::UserWords => &facts.user_text,
            Self::ReplyWords => &facts.reply_text,
        }
    }

    /// This text of `facts`, to change.
    pub fn of_mut(self, facts: &mut SpanFacts) -> &mut Option<String> {
        match self {
            Self::Input => &mut facts.input_value,
            Self::Output => &mut facts.output_value,
            Self::UserWords => &mut facts.user_text,
            Self::ReplyWords => &mut facts.reply_text,
        }
    }
}

/// A span's texts, in [`FactText::ALL`] order.
pub fn fact_texts(facts: &SpanFacts) -> [&Option<String>; 4] {
    FactText::ALL.map(|text| text.of(facts))
}

/// The spans with what their GenAI events (log records joined by span id) say
/// of their model calls, where the span itself does not say it: the last user
/// message among a span's events, and its first reply.
fn with_events(spans: &[&SpanFacts], events: &[EventFacts]) -> Vec<SpanFacts> {
    let mut ordered: Vec<&EventFacts> = events.iter().collect();
    ordered.sort_by_key(|e| (e.time_ns, e.seq));
    spans
        .iter()
        .map(|&span| {
            let mut span = span.clone();
            let of_span = || ordered.iter().filter(|e| e.span_id == span.span_id);
            if span.user_text.is_none() {
                span.user_text = of_span().rev().find_map(|e| e.user_message.clone());
            }
            if span.reply_text.is_none() {
                span.reply_text = of_span().find_map(|e| e.reply.clone());
            }
            span
        })
        .collect()
}

/// The spans' indexes, topmost first ([`depths`], then start, then span id).
fn topmost_first(spans: &[&SpanFacts]) -> Vec<usize> {
    let depth = depths(spans);
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (depth[i], spans[i].start_ns, spans[i].span_id));
    order
}

/// Where the turn's input and output come from.
fn turn_sources(spans: &[&SpanFacts], order: &[usize]) -> [IoSources; 2] {
    // The turn's first model call that says what the user said, and its last
    // that says what the assistant answered.
    let first_call = (0..spans.len())
        .filter(|&i| spans[i].is_llm && spans[i].user_text.is_some())
        .min_by_key(|&i| (spans[i].start_ns, spans[i].span_id));
    let last_call = (0..spans.len())
        .filter(|&i| spans[i].is_llm && spans[i].reply_text.is_some())
        .max_by_key(|&i| (spans[i].end_ns, spans[i].start_ns, spans[i].span_id));
    [
        io_sources(
            order,
            spans,
            |s| s.input_value.is_some(),
            |s| s.user_text.is_some(),
            first_call,
        ),
        io_sources(
            order,
            spans,
            |s| s.output_value.is_some(),
            |s| s.reply_text.is_some(),
            last_call,
        ),
    ]
}

/// The texts [`summarize`] reads of `spans` (by index), knowing only which
/// they have: a store that keeps its spans' texts apart reads these and
/// leaves the others unread (any value standing for them: it is never
/// looked at). A text the span lacks and a GenAI event gives is not listed.
pub fn texts_read<S: Borrow<SpanFacts>>(
    spans: &[S],
    events: &[EventFacts],
) -> BTreeSet<(usize, FactText)> {
    let spans: Vec<&SpanFacts> = spans.iter().map(Borrow::borrow).collect();
    let [input, output] = joined_with_events(&spans, events, |joined| {
        turn_sources(joined, &topmost_first(joined))
    });
    let mut read = BTreeSet::new();
    for (sources, value, words) in [
        (input, FactText::Input, FactText::UserWords),
        (output, FactText::Output, FactText::ReplyWords),
    ] {
        if let Some(i) = sources.topmost {
            read.insert((i, value));
            read.insert((i, words));
        }
        for i in [sources.fallback, sources.first_words]
            .into_iter()
            .flatten()
        {
            read.insert((i, words));
        }
    }
    read.retain(|&(i, text)| text.of(spans[i]).is_some());
    read
}

/// Applies the trace rules to all spans of one trace and the GenAI events
/// sent apart from them. The spans may be owned or borrowed: the writer
/// summarizes a new trace from the facts of the records it is writing,
/// without copying them.
pub fn summarize<S: Borrow<SpanFacts>>(spans: &[S], events: &[EventFacts]) -> TraceSummary {
    let spans: Vec<&SpanFacts> = spans.iter().map(Borrow::borrow).collect();
    joined_with_events(&spans, events, summarize_spans)
}

/// `f` of the spans with what the events say ([`with_events`]); of the spans
/// themselves, uncopied, when there are no events (nearly always).
fn joined_with_events<R>(
    spans: &[&SpanFacts],
    events: &[EventFacts],
    f: impl FnOnce(&[&SpanFacts]) -> R,
) -> R {
    if events.is_empty() {
        f(spans)
    } else {
        let joined = with_events(spans, events);
        f(&joined.iter().collect::<Vec<_>>())
    }
}

fn summarize_spans(spans: &[&SpanFacts]) -> TraceSummary {
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

    let order = topmost_first(spans);
    let [input, output] = turn_sources(spans, &order);
    summary.input = read_io(
        &input,
        spans,
        |s| (s.input_value.as_ref(), s.input_mime.as_ref()),
        |s| s.user_text.as_ref(),
    );
    summary.output = read_io(
        &output,
        spans,
        |s| (s.output_value.as_ref(), s.output_mime.as_ref()),
        |s| s.reply_text.as_ref(),
    );

    let counted = counted_calls(spans);
    let mut tags = BTreeSet::new();
    for &i in &order {
        let s = spans[i];
        if counted[i] {
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
        s.user_text = Some("hi".into());
        s.output_value = Some("{\"choices\":[]}".into());
        s.reply_text = Some("hello".into());
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
        llm.user_text = Some("from the span".into());
        let t = summarize(&[llm], &events);
        assert_eq!(t.input.unwrap().value, "from the span");
    }

    fn chain(id: u8, parent: Option<u8>, start: i64, input: &str, output: &str) -> SpanFacts {
        let mut s = span(id, parent, start, None);
        s.input_value = Some(input.to_owned());
        s.input_mime = Some("application/json".to_owned());
        s.output_value = Some(output.to_owned());
        s.output_mime = Some("application/json".to_owned());
        s
    }

    fn llm(id: u8, parent: u8, start: i64, user: &str, reply: &str) -> SpanFacts {
        let mut s = span(id, Some(parent), start, None);
        s.is_llm = true;
        s.user_text = Some(user.to_owned());
        s.reply_text = Some(reply.to_owned());
        s
    }

    #[test]
    fn a_root_that_says_the_words_is_read_for_them() {
        let mut root = chain(1, None, 1, "{\"messages\": [...]}", "{\"messages\": [...]}");
        root.user_text = Some("this turn's question".into());
        root.reply_text = Some("the final answer".into());
        let t = summarize(&[root, llm(2, 1, 2, "from the call", "call reply")], &[]);
        let (input, output) = (t.input.unwrap(), t.output.unwrap());
        assert_eq!(input.value, "this turn's question");
        assert_eq!(input.raw_value.as_deref(), Some("{\"messages\": [...]}"));
        assert_eq!(output.value, "the final answer");
    }

    #[test]
    fn unreadable_json_roots_read_the_first_and_last_model_calls() {
        let root = chain(1, None, 1, "{\"state\": 1}", "{\"state\": 2}");
        let t = summarize(
            &[
                root,
                llm(3, 1, 5, "question again", "final reply"),
                llm(2, 1, 2, "the question", "I will call a tool"),
            ],
            &[],
        );
        let (input, output) = (t.input.unwrap(), t.output.unwrap());
        assert_eq!(input.value, "the question");
        assert_eq!(input.raw_value.as_deref(), Some("{\"state\": 1}"));
        assert_eq!(output.value, "final reply");
        assert_eq!(output.raw_value.as_deref(), Some("{\"state\": 2}"));
    }

    #[test]
    fn plain_text_roots_are_the_turn_as_they_are() {
        let mut root = span(1, None, 1, None);
        root.input_value = Some("hi there".into());
        root.output_value = Some("hello".into());
        let t = summarize(
            &[root, llm(2, 1, 2, "with history: hi there", "hello!")],
            &[],
        );
        assert_eq!(t.input.unwrap().value, "hi there");
        assert_eq!(t.output.unwrap().value, "hello");
    }

    #[test]
    fn a_call_seen_by_two_instrumentations_is_counted_once() {
        let mut outer = llm(1, 9, 1, "q", "a");
        outer.parent_span_id = None;
        outer.tokens = crate::model::TokenCount {
            prompt: 25,
            completion: 14,
            total: 39,
        };
        let mut inner = llm(2, 1, 2, "q", "a");
        inner.tokens = outer.tokens;
        let mut quiet_outer = llm(3, 1, 3, "q", "a");
        quiet_outer.parent_span_id = None;
        let mut reporting_inner = llm(4, 3, 4, "q", "a");
        reporting_inner.tokens = crate::model::TokenCount {
            prompt: 1,
            completion: 1,
            total: 2,
        };
        let t = summarize(&[outer, inner], &[]);
        assert_eq!(t.tokens.total, 39);
        let t = summarize(&[quiet_outer, reporting_inner], &[]);
        assert_eq!(
            t.tokens.total, 2,
            "an outer span without usage does not hide the call's"
        );
    }

    #[test]
    fn hostile_parent_cycle_terminates() {
        let t = summarize(&[span(1, Some(2), 1, None), span(2, Some(1), 2, None)], &[]);
        assert_eq!(t.span_count, 2);
    }

    /// Every text `texts_read` leaves out, replaced, changes no summary.
    #[test]
    fn a_summary_reads_only_the_texts_it_lists() {
        let unread = |spans: &[SpanFacts], events: &[EventFacts]| -> Vec<SpanFacts> {
            let read = texts_read(spans, events);
            let mark = |i: usize, text: FactText, value: &mut Option<String>| {
                if value.is_some() && !read.contains(&(i, text)) {
                    *value = Some("{\"unread\": true}".to_owned());
                }
            };
            let mut spans = spans.to_vec();
            for (i, s) in spans.iter_mut().enumerate() {
                mark(i, FactText::Input, &mut s.input_value);
                mark(i, FactText::Output, &mut s.output_value);
                mark(i, FactText::UserWords, &mut s.user_text);
                mark(i, FactText::ReplyWords, &mut s.reply_text);
            }
            spans
        };
        let mut plain_root = span(1, None, 1, None);
        plain_root.input_value = Some("hi there".into());
        plain_root.output_value = Some("hello".into());
        let mut speaking_root = chain(1, None, 1, "{\"messages\": []}", "{\"messages\": []}");
        speaking_root.user_text = Some("this turn's question".into());
        let mut silent_llm = span(4, Some(1), 3, None);
        silent_llm.is_llm = true;
        let event = EventFacts {
            span_id: [4; 8],
            time_ns: 5,
            seq: 0,
            user_message: Some("from an event".into()),
            reply: Some("an event's reply".into()),
        };
        let cases: Vec<(Vec<SpanFacts>, Vec<EventFacts>)> = vec![
            (
                vec![
                    chain(1, None, 1, "{\"state\": 1}", "{\"state\": 2}"),
                    llm(3, 1, 5, "question again", "final reply"),
                    llm(2, 1, 2, "the question", "I will call a tool"),
                ],
                vec![],
            ),
            (
                vec![plain_root, llm(2, 1, 2, "with history", "hello!")],
                vec![],
            ),
            (
                vec![speaking_root, llm(2, 1, 2, "from the call", "call reply")],
                vec![],
            ),
            (
                vec![
                    llm(2, 1, 2, "no root yet", "a reply"),
                    llm(3, 2, 3, "deeper", "deeper reply"),
                ],
                vec![],
            ),
            (
                vec![
                    chain(1, None, 1, "{\"state\": 1}", "{\"state\": 2}"),
                    silent_llm,
                ],
                vec![event],
            ),
        ];
        for (spans, events) in cases {
            let whole = summarize(&spans, &events);
            assert!(whole.input.is_some() && whole.output.is_some());
            assert_eq!(summarize(&unread(&spans, &events), &events), whole);
        }
    }
}
