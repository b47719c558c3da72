//! What a span is as a step of its turn, whichever convention it follows:
//! OpenInference's span kinds, the OpenTelemetry GenAI operations, the Vercel
//! AI SDK's span names. Every span the API returns carries its step (kind,
//! title, and which of its attributes hold the step's input and output), so
//! the UI and clients show tool calls, model calls and retrievals without each
//! knowing every convention.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::semconv as k;

/// The kind of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum StepKind {
    /// A call to a model.
    Llm,
    /// A tool call.
    Tool,
    /// A retrieval.
    Retriever,
    /// An embedding.
    Embedding,
    /// A reranking.
    Reranker,
    /// An agent's run.
    Agent,
    /// A chain (a framework's step that holds others).
    Chain,
    /// A guardrail check.
    Guardrail,
    /// An evaluation.
    Evaluator,
}

/// A span as a step of its turn.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Step {
    /// What the step is.
    pub kind: StepKind,
    /// A name to show: the tool's, the model's, else the span's.
    pub title: String,
    /// The attribute holding the step's input, when one does.
    #[schema(required = true)]
    pub input_key: Option<String>,
    /// The attribute holding the step's output, when one does.
    #[schema(required = true)]
    pub output_key: Option<String>,
}

/// Attributes naming a step, first present wins.
const TITLE_KEYS: &[&str] = &[
    "tool.name",
    "gen_ai.tool.name",
    "ai.toolCall.name",
    "llm.model_name",
    "gen_ai.request.model",
    "ai.model.id",
];
/// Attributes holding a step's input, first present wins.
const INPUT_KEYS: &[&str] = &[
    k::INPUT_VALUE,
    k::GEN_AI_INPUT_MESSAGES,
    "ai.toolCall.args",
    "gen_ai.tool.call.arguments",
    k::VERCEL_PROMPT_MESSAGES,
];
/// Attributes holding a step's output, first present wins.
const OUTPUT_KEYS: &[&str] = &[
    k::OUTPUT_VALUE,
    k::GEN_AI_OUTPUT_MESSAGES,
    "ai.toolCall.result",
    "gen_ai.tool.call.result",
    k::VERCEL_RESPONSE_TEXT,
];

fn kind_of(name: &str, attrs: &Map<String, Value>) -> Option<StepKind> {
    if let Some(kind) = attrs.get(k::OI_SPAN_KIND).and_then(Value::as_str) {
        return match kind.to_ascii_uppercase().as_str() {
            "LLM" => Some(StepKind::Llm),
            "TOOL" => Some(StepKind::Tool),
            "RETRIEVER" => Some(StepKind::Retriever),
            "EMBEDDING" => Some(StepKind::Embedding),
            "RERANKER" => Some(StepKind::Reranker),
            "AGENT" => Some(StepKind::Agent),
            "CHAIN" => Some(StepKind::Chain),
            "GUARDRAIL" => Some(StepKind::Guardrail),
            "EVALUATOR" => Some(StepKind::Evaluator),
            _ => None,
        };
    }
    if let Some(op) = attrs.get(k::GEN_AI_OPERATION).and_then(Value::as_str) {
        return match op {
            op if k::GEN_AI_LLM_OPERATIONS.contains(&op) => Some(StepKind::Llm),
            "execute_tool" => Some(StepKind::Tool),
            "invoke_agent" | "create_agent" => Some(StepKind::Agent),
            "embeddings" => Some(StepKind::Embedding),
            _ => None,
        };
    }
    // The Vercel AI SDK names its spans (a function id may follow a space).
    let base = name.split(' ').next().unwrap_or(name);
    if base == "ai.toolCall" {
        return Some(StepKind::Tool);
    }
    let mut parts = base.split('.');
    if let (Some("ai"), Some(_), Some("doGenerate" | "doStream" | "doEmbed"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    {
        return Some(if base.ends_with("doEmbed") {
            StepKind::Embedding
        } else {
            StepKind::Llm
        });
    }
    None
}

/// The step a span is, when it is one a reader would want to see.
pub fn step_of(name: &str, attrs: &Map<String, Value>) -> Option<Step> {
    let kind = kind_of(name, attrs)?;
    let first = |keys: &[&str]| {
        keys.iter()
            .find(|key| attrs.get(**key).is_some_and(|v| !v.is_null()))
            .map(|key| (*key).to_owned())
    };
    let title = TITLE_KEYS
        .iter()
        .find_map(|key| attrs.get(*key).and_then(Value::as_str))
        .map_or_else(|| name.to_owned(), str::to_owned);
    Some(Step {
        kind,
        title,
        input_key: first(INPUT_KEYS),
        output_key: first(OUTPUT_KEYS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(name: &str, attrs: Value) -> Option<Step> {
        step_of(name, attrs.as_object().unwrap())
    }

    #[test]
    fn every_convention_names_its_tool_calls() {
        let oi = step("track_parcel", json!({"openinference.span.kind": "TOOL", "tool.name": "track_parcel", "input.value": "7731"})).unwrap();
        assert_eq!(
            (oi.kind, oi.title.as_str(), oi.input_key.as_deref()),
            (StepKind::Tool, "track_parcel", Some("input.value"))
        );
        let genai = step("execute_tool track_parcel", json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "track_parcel", "gen_ai.tool.call.result": "ok"})).unwrap();
        assert_eq!(
            (
                genai.kind,
                genai.title.as_str(),
                genai.output_key.as_deref()
            ),
            (
                StepKind::Tool,
                "track_parcel",
                Some("gen_ai.tool.call.result")
            )
        );
        let vercel = step(
            "ai.toolCall",
            json!({"ai.toolCall.name": "track_parcel", "ai.toolCall.args": "{}"}),
        )
        .unwrap();
        assert_eq!(
            (vercel.kind, vercel.title.as_str()),
            (StepKind::Tool, "track_parcel")
        );
        let llm = step(
            "ai.generateText.doGenerate parcel-chat",
            json!({"ai.model.id": "gpt-4o-mini"}),
        )
        .unwrap();
        assert_eq!(
            (llm.kind, llm.title.as_str()),
            (StepKind::Llm, "gpt-4o-mini")
        );
        assert_eq!(step("ai.generateText", json!({})), None, "the turn itself");
        assert_eq!(step("GET /health", json!({"http.method": "GET"})), None);
    }
}
