//! The code rules shipped with the server: each reads a session (its turns,
//! and for tool calls its spans) and gives `pass` or `fail` with a score of 1
//! or 0, an explanation saying what was measured, and the measures in the
//! verdict's metadata.

use serde_json::{Map, Value, json};

use super::spec::{Rule, Speaker, compile};
use crate::model::{SessionInfo, SpanStatus, TraceDetail, TraceStatus, Turn};
use crate::steps::StepKind;

/// A verdict before it becomes an annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The label.
    pub label: Option<String>,
    /// The score.
    pub score: Option<f64>,
    /// Why.
    pub explanation: Option<String>,
    /// What was measured, or what the judge said besides.
    pub metadata: Map<String, Value>,
}

fn verdict(pass: bool, explanation: String, measures: Value) -> Verdict {
    Verdict {
        label: Some(if pass { "pass" } else { "fail" }.to_owned()),
        score: Some(if pass { 1.0 } else { 0.0 }),
        explanation: Some(explanation),
        metadata: measures.as_object().cloned().unwrap_or_default(),
    }
}

/// Whether the rule needs the session's spans (only tool calls do: the
/// others read the turns alone).
pub fn needs_spans(rule: &Rule) -> bool {
    matches!(rule, Rule::ToolErrorRate { .. })
}

/// Applies a rule to a session, its turns (oldest first) and, when
/// [`needs_spans`], its traces.
pub fn apply(
    rule: &Rule,
    session: &SessionInfo,
    turns: &[Turn],
    traces: &[TraceDetail],
) -> Verdict {
    match rule {
        Rule::NoErrors => {
            let errored = turns
                .iter()
                .filter(|t| t.status == TraceStatus::Error)
                .count();
            verdict(
                errored == 0,
                if errored == 0 {
                    format!("none of {} turns errored", turns.len())
                } else {
                    format!("{errored} of {} turns errored", turns.len())
                },
                json!({"errored_turns": errored, "turns": turns.len()}),
            )
        }
        Rule::TurnCount { min, max } => {
            let n = turns.len() as i64;
            let (low, high) = (min.is_some_and(|m| n < m), max.is_some_and(|m| n > m));
            let explanation = if low {
                format!(
                    "{n} turns, under the minimum of {}",
                    min.unwrap_or_default()
                )
            } else if high {
                format!("{n} turns, over the maximum of {}", max.unwrap_or_default())
            } else {
                format!("{n} turns, within bounds")
            };
            verdict(!low && !high, explanation, json!({"turns": n}))
        }
        Rule::Latency {
            max_turn_ms,
            max_session_ms,
        } => {
            let slowest = turns.iter().map(|t| t.latency_ms).fold(0.0, f64::max);
            let session_ms = session.duration_ms;
            let mut problems = Vec::new();
            if let Some(max) = max_turn_ms
                && slowest > *max
            {
                problems.push(format!(
                    "the slowest turn took {slowest:.0} ms, over {max:.0} ms"
                ));
            }
            if let Some(max) = max_session_ms
                && session_ms > *max
            {
                problems.push(format!(
                    "the session took {session_ms:.0} ms, over {max:.0} ms"
                ));
            }
            let pass = problems.is_empty();
            let explanation = if pass {
                format!("slowest turn {slowest:.0} ms, session {session_ms:.0} ms: within bounds")
            } else {
                problems.join("; ")
            };
            verdict(
                pass,
                explanation,
                json!({"slowest_turn_ms": slowest, "session_ms": session_ms}),
            )
        }
        Rule::ToolErrorRate { max_rate } => {
            let tools: Vec<_> = traces
                .iter()
                .flat_map(|t| &t.spans)
                .filter(|s| s.step.as_ref().is_some_and(|st| st.kind == StepKind::Tool))
                .collect();
            let failed = tools
                .iter()
                .filter(|s| s.status == SpanStatus::Error)
                .count();
            let rate = if tools.is_empty() {
                0.0
            } else {
                failed as f64 / tools.len() as f64
            };
            verdict(
                rate <= *max_rate,
                if tools.is_empty() {
                    "no tool calls".to_owned()
                } else {
                    format!(
                        "{failed} of {} tool calls failed ({:.0}%), limit {:.0}%",
                        tools.len(),
                        rate * 100.0,
                        max_rate * 100.0
                    )
                },
                json!({"tool_calls": tools.len(), "failed_tool_calls": failed, "tool_error_rate": rate}),
            )
        }
        Rule::Regex {
            pattern,
            on,
            case_insensitive,
            fail_on_match,
        } => {
            let Ok(re) = compile(pattern, *case_insensitive) else {
                // checked when the evaluator was stored; a pattern the regex
                // crate now refuses is reported, not guessed at
                return Verdict {
                    label: None,
                    score: None,
                    explanation: Some(format!("the pattern {pattern:?} does not compile")),
                    metadata: Map::new(),
                };
            };
            let found = turns.iter().enumerate().find_map(|(i, t)| {
                let sides: &[(&Option<crate::model::Io>, &str)] = match on {
                    Speaker::User => &[(&t.input, "user")],
                    Speaker::Assistant => &[(&t.output, "assistant")],
                    Speaker::Any => &[(&t.input, "user"), (&t.output, "assistant")],
                };
                sides.iter().find_map(|(io, who)| {
                    let text = &io.as_ref()?.value;
                    re.find(text).map(|m| (i, *who, m.as_str().to_owned()))
                })
            });
            let matched = found.is_some();
            let explanation = match &found {
                Some((i, who, text)) => {
                    format!("turn {} ({who}) matches: {:?}", i + 1, clip(text, 200))
                }
                None => format!("no {} message matches", on_name(*on)),
            };
            verdict(
                matched != *fail_on_match,
                explanation,
                json!({"matched": matched, "turn": found.as_ref().map(|(i, _, _)| i + 1)}),
            )
        }
    }
}

fn on_name(on: Speaker) -> &'static str {
    match on {
        Speaker::User => "user",
        Speaker::Assistant => "assistant",
        Speaker::Any => "",
    }
}

fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
