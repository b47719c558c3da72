//! An evaluator's definition as the API takes it: its kind (an LLM judge or a
//! code rule), its scope and sample rate, checked field by field so that a
//! mistake is a 400 naming the field, never a job that fails later.

use std::collections::BTreeMap;

use openinference_session::evals::check_template;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::annotation::{MAX_LABEL_BYTES, MAX_NAME_BYTES};
use crate::model::SessionInfo;

/// Longest prompt template, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Longest regular expression of a rule, in bytes (compiled size is bounded
/// too, by the regex crate's own limit).
pub const MAX_PATTERN_BYTES: usize = 4096;
/// Most labels of a judge.
pub const MAX_LABELS: usize = 50;

/// The prompt a judge is sent when its definition has none: the conversation
/// and the labels, asking for the JSON object the judge parses.
pub const DEFAULT_JUDGE_TEMPLATE: &str =
    "You are judging a whole conversation between a user and an AI assistant.

Criteria: {criteria}

Conversation:
{transcript}

Answer with a JSON object: {{\"label\": one of {labels}, \"explanation\": a short reason}}.";

/// An evaluator's definition (`POST`/`PUT .../evaluators`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorSpec {
    /// Unique in the project; the verdicts are annotations of this name. Taken
    /// from the path on `PUT`.
    #[serde(default)]
    pub name: String,
    /// `llm_judge` or `code`.
    pub kind: EvaluatorKind,
    /// Whether sessions that go idle are judged (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The share of sessions in scope judged, 0 to 1 (default 1). A session is
    /// in or out of the sample for good (a hash of its id and the evaluator's
    /// name), so re-runs judge the same ones.
    #[serde(default = "one")]
    pub sample_rate: f64,
    /// Which sessions it judges (all when empty).
    #[serde(default)]
    pub filter: Scope,
    /// The judge's endpoint (`llm_judge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmEndpoint>,
    /// What the judge looks for: fills `{criteria}` (`llm_judge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<String>,
    /// The judge's prompt, with `{transcript}`, `{labels}` and `{criteria}`
    /// (`{{` and `}}` for braces); a default asks for `{"label",
    /// "explanation"}` (`llm_judge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<String>,
    /// Each label the judge may answer and its score (`llm_judge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, f64>>,
    /// The rule (`code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    /// How much conversation the judge is shown, in characters (the end is
    /// kept; default 600,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_transcript_chars: Option<usize>,
}

fn yes() -> bool {
    true
}

fn one() -> f64 {
    1.0
}

/// What judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvaluatorKind {
    /// An LLM over an OpenAI-compatible chat-completions endpoint.
    LlmJudge,
    /// A rule shipped with the server.
    Code,
}

/// Which sessions an evaluator judges: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Sessions with a trace of this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Sessions with a trace carrying this tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Sessions whose metadata maps each key to this value (compared as text:
    /// strings as they are, other values as JSON).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Scope {
    /// Whether a session is in scope.
    pub fn matches(&self, session: &SessionInfo) -> bool {
        let user = self
            .user_id
            .as_ref()
            .is_none_or(|u| session.user_ids.contains(u));
        let tag = self.tag.as_ref().is_none_or(|t| session.tags.contains(t));
        let metadata = self
            .metadata
            .iter()
            .all(|(k, want)| match session.metadata.get(k) {
                Some(Value::String(s)) => s == want,
                Some(other) => serde_json::from_str::<Value>(want).is_ok_and(|w| w == *other),
                None => false,
            });
        user && tag && metadata
    }
}

/// Where a judge is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmEndpoint {
    /// The API's base URL, e.g. `https://api.openai.com/v1`; the judge posts to
    /// `<base_url>/chat/completions`. Its host must be one the server allows
    /// (`--eval-allowed-hosts`).
    pub base_url: String,
    /// The model asked.
    pub model: String,
    /// The name of the server's environment variable holding the API key (the
    /// key itself is never stored, returned or logged); none for an endpoint
    /// without auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Sampling temperature (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// A code rule: pass or fail, with what was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Fails when any turn errored.
    NoErrors,
    /// Fails outside `[min, max]` turns.
    TurnCount {
        /// Fewest turns that pass.
        #[serde(default)]
        min: Option<i64>,
        /// Most turns that pass.
        #[serde(default)]
        max: Option<i64>,
    },
    /// Fails when a turn, or the whole session, took longer.
    Latency {
        /// Slowest turn that passes, ms.
        #[serde(default)]
        max_turn_ms: Option<f64>,
        /// Longest session that passes (first start to last end), ms.
        #[serde(default)]
        max_session_ms: Option<f64>,
    },
    /// Fails when more than this share of tool calls errored.
    ToolErrorRate {
        /// Highest share (0 to 1) that passes.
        max_rate: f64,
    },
    /// Looks for a regular expression in the messages: fails on a match
    /// (frustration phrases, leaked secrets), or passes on one with
    /// `fail_on_match: false`.
    Regex {
        /// The expression (Rust `regex` syntax).
        pattern: String,
        /// Whose messages: `user` (default), `assistant` or `any`.
        #[serde(default)]
        on: Speaker,
        /// Ignore case (default true).
        #[serde(default = "yes")]
        case_insensitive: bool,
        /// A match fails (default) or passes.
        #[serde(default = "yes")]
        fail_on_match: bool,
    },
}

/// Whose messages a rule reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The user's (turn inputs).
    #[default]
    User,
    /// The assistant's (turn outputs).
    Assistant,
    /// Both.
    Any,
}

/// A definition refused: the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The field at fault, dotted (`llm.api_key_env`).
    pub field: String,
    /// What is wrong, said so that it can be fixed.
    pub message: String,
}

fn refuse<T>(field: &str, message: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError {
        field: field.to_owned(),
        message: message.into(),
    })
}

/// Whether a name can be an environment variable the server reads a key from:
/// shell-style, upper case, and not one of the server's own settings (so an
/// evaluator cannot send `OI_SESSIONS_API_KEY` or the database URL away).
pub fn check_key_env(name: &str) -> Result<(), String> {
    let shaped = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !shaped {
        return Err(format!(
            "llm.api_key_env must name an environment variable of the server (like OPENAI_API_KEY), \
             not hold the key itself; got {} characters that are not an upper-case variable name",
            name.chars().count()
        ));
    }
    if name.starts_with("OI_SESSIONS_") {
        return Err(
            "llm.api_key_env must not name one of the server's own OI_SESSIONS_* settings"
                .to_owned(),
        );
    }
    Ok(())
}

impl EvaluatorSpec {
    /// Checks the definition against the kind's needs; `allowed_hosts` are
    /// the hosts a judge may be sent to.
    pub fn validate(&self, allowed_hosts: &AllowedHosts) -> Result<(), SpecError> {
        if self.name.trim().is_empty() {
            return refuse("name", "name must be a non-empty string");
        }
        if self.name.len() > MAX_NAME_BYTES {
            return refuse("name", format!("name is over {MAX_NAME_BYTES} bytes"));
        }
        if self.name.contains('/') || self.name.chars().any(char::is_control) {
            return refuse("name", "name must not contain '/' or control characters");
        }
        if !(0.0..=1.0).contains(&self.sample_rate) {
            return refuse("sample_rate", "sample_rate must be a number from 0 to 1");
        }
        let judge_only: [(&str, bool); 5] = [
            ("llm", self.llm.is_some()),
            ("criteria", self.criteria.is_some()),
            ("prompt_template", self.prompt_template.is_some()),
            ("labels", self.labels.is_some()),
            ("max_transcript_chars", self.max_transcript_chars.is_some()),
        ];
        match self.kind {
            EvaluatorKind::Code => {
                if let Some((field, _)) = judge_only.iter().find(|(_, set)| *set) {
                    return refuse(field, format!("{field} is for kind llm_judge, not code"));
                }
                match &self.rule {
                    None => refuse(
                        "rule",
                        "a code evaluator needs a rule: no_errors, turn_count, latency, tool_error_rate or regex",
                    ),
                    Some(rule) => rule.validate(),
                }
            }
            EvaluatorKind::LlmJudge => {
                if self.rule.is_some() {
                    return refuse("rule", "rule is for kind code, not llm_judge");
                }
                let Some(llm) = &self.llm else {
                    return refuse(
                        "llm",
                        "an llm_judge needs llm: {base_url, model, api_key_env}",
                    );
                };
                allowed_hosts.check(&llm.base_url).map_err(|m| SpecError {
                    field: "llm.base_url".into(),
                    message: m,
                })?;
                if llm.model.trim().is_empty() {
                    return refuse("llm.model", "llm.model must be a non-empty string");
                }
                if let Some(env) = &llm.api_key_env {
                    check_key_env(env).map_err(|m| SpecError {
                        field: "llm.api_key_env".into(),
                        message: m,
                    })?;
                }
                if let Some(t) = llm.temperature
                    && !(0.0..=2.0).contains(&t)
                {
                    return refuse("llm.temperature", "llm.temperature must be from 0 to 2");
                }
                let labels = self.labels.as_ref().map_or(0, BTreeMap::len);
                if labels == 0 {
                    return refuse(
                        "labels",
                        "labels must map at least one label to its score, e.g. {\"pass\": 1, \"fail\": 0}",
                    );
                }
                if labels > MAX_LABELS {
                    return refuse("labels", format!("at most {MAX_LABELS} labels"));
                }
                let mut seen = BTreeMap::new();
                for (label, score) in self.labels.iter().flatten() {
                    if label.trim().is_empty() || label.len() > MAX_LABEL_BYTES {
                        return refuse(
                            "labels",
                            "each label must be a non-empty string of at most 1024 bytes",
                        );
                    }
                    if !score.is_finite() {
                        return refuse(
                            "labels",
                            format!("the score of {label:?} must be a finite number"),
                        );
                    }
                    if let Some(other) = seen.insert(label.to_lowercase(), label) {
                        return refuse(
                            "labels",
                            format!("{label:?} repeats {other:?}: answers are read in any case"),
                        );
                    }
                }
                if self
                    .criteria
                    .as_deref()
                    .is_some_and(|c| c.trim().is_empty())
                {
                    return refuse("criteria", "criteria must be a non-empty string when given");
                }
                let template = self.template();
                if template.len() > MAX_TEMPLATE_BYTES {
                    return refuse(
                        "prompt_template",
                        format!("prompt_template is over {MAX_TEMPLATE_BYTES} bytes"),
                    );
                }
                let mut required = vec!["transcript"];
                if self.criteria.is_none() && self.prompt_template.is_none() {
                    return refuse(
                        "criteria",
                        "give criteria (what the judge looks for) or a prompt_template",
                    );
                }
                if self.criteria.is_some() {
                    required.push("criteria");
                }
                check_template(template, &required).map_err(|e| SpecError {
                    field: "prompt_template".into(),
                    message: e.to_string(),
                })?;
                if self.criteria.is_none() && template_uses(template, "criteria") {
                    return refuse(
                        "prompt_template",
                        "prompt_template has {criteria} but no criteria is given",
                    );
                }
                if self.max_transcript_chars == Some(0) {
                    return refuse(
                        "max_transcript_chars",
                        "max_transcript_chars must be at least 1",
                    );
                }
                Ok(())
            }
        }
    }

    /// The judge's template (the default when none is given).
    pub fn template(&self) -> &str {
        self.prompt_template
            .as_deref()
            .unwrap_or(DEFAULT_JUDGE_TEMPLATE)
    }

    /// Whether a session is in this evaluator's sample: stable for a session
    /// and evaluator name.
    pub fn samples(&self, session_id: &str) -> bool {
        if self.sample_rate >= 1.0 {
            return true;
        }
        // FNV-1a over name, a separator and the session id
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.name.bytes().chain([0]).chain(session_id.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h as f64 / u64::MAX as f64) < self.sample_rate
    }
}

fn template_uses(template: &str, placeholder: &'static str) -> bool {
    let mut used = false;
    let _ = openinference_session::evals::fill_template(template, |p| {
        used |= p == placeholder;
        String::new()
    });
    used
}

impl Rule {
    fn validate(&self) -> Result<(), SpecError> {
        match self {
            Rule::NoErrors => Ok(()),
            Rule::TurnCount { min, max } => {
                if min.is_none() && max.is_none() {
                    return refuse("rule", "turn_count needs min, max or both");
                }
                if min.is_some_and(|m| m < 0) || max.is_some_and(|m| m < 0) {
                    return refuse("rule", "turn_count bounds must not be negative");
                }
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    return refuse("rule", "turn_count min is over max");
                }
                Ok(())
            }
            Rule::Latency {
                max_turn_ms,
                max_session_ms,
            } => {
                if max_turn_ms.is_none() && max_session_ms.is_none() {
                    return refuse("rule", "latency needs max_turn_ms, max_session_ms or both");
                }
                if [max_turn_ms, max_session_ms]
                    .into_iter()
                    .flatten()
                    .any(|v| !v.is_finite() || *v < 0.0)
                {
                    return refuse("rule", "latency bounds must be non-negative numbers");
                }
                Ok(())
            }
            Rule::ToolErrorRate { max_rate } => {
                if !(0.0..=1.0).contains(max_rate) {
                    return refuse("rule", "tool_error_rate max_rate must be from 0 to 1");
                }
                Ok(())
            }
            Rule::Regex {
                pattern,
                case_insensitive,
                ..
            } => {
                if pattern.is_empty() || pattern.len() > MAX_PATTERN_BYTES {
                    return refuse(
                        "rule",
                        format!("regex pattern must be 1 to {MAX_PATTERN_BYTES} bytes"),
                    );
                }
                compile(pattern, *case_insensitive)
                    .map(|_| ())
                    .map_err(|e| SpecError {
                        field: "rule".into(),
                        message: format!("regex pattern does not compile: {e}"),
                    })
            }
        }
    }
}

/// Compiles a rule's pattern within the regex crate's size limits (a pattern
/// that would take more memory is refused, not run).
pub fn compile(pattern: &str, case_insensitive: bool) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(1 << 20)
        .build()
}

/// The hosts a judge may be sent to (`--eval-allowed-hosts`): the server
/// calls out only where its operator said it may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts(Vec<String>);

/// The hosts allowed when the operator names none: OpenAI's API and this
/// machine (a local model server).
pub const DEFAULT_ALLOWED_HOSTS: &str = "api.openai.com,127.0.0.1,localhost,[::1]";

impl AllowedHosts {
    /// From a comma-separated list of hosts (`*` allows any).
    pub fn parse(list: &str) -> Self {
        AllowedHosts(
            list.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        )
    }

    /// Checks a base URL: `http` or `https`, and its host allowed.
    pub fn check(&self, base_url: &str) -> Result<(), String> {
        let uri: http::Uri = base_url
            .parse()
            .map_err(|_| format!("llm.base_url {base_url:?} is not a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err("llm.base_url must be an http:// or https:// URL".to_owned());
        }
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        if host.is_empty() {
            return Err("llm.base_url has no host".to_owned());
        }
        if uri.query().is_some() {
            return Err("llm.base_url must not have a query".to_owned());
        }
        if self.0.iter().any(|h| h == "*" || *h == host) {
            Ok(())
        } else {
            Err(format!(
                "llm.base_url's host {host} is not one the server calls (its --eval-allowed-hosts: {})",
                self.0.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge() -> EvaluatorSpec {
        serde_json::from_value(serde_json::json!({
            "name": "resolved", "kind": "llm_judge",
            "llm": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "JUDGE_KEY"},
            "criteria": "was it solved?", "labels": {"yes": 1, "no": 0}
        }))
        .unwrap()
    }

    fn field_of(spec: &EvaluatorSpec) -> String {
        spec.validate(&AllowedHosts::parse(DEFAULT_ALLOWED_HOSTS))
            .unwrap_err()
            .field
    }

    #[test]
    fn a_judge_with_what_it_needs_passes() {
        judge()
            .validate(&AllowedHosts::parse(DEFAULT_ALLOWED_HOSTS))
            .unwrap();
    }

    #[test]
    fn each_mistake_names_its_field() {
        let mut s = judge();
        s.llm.as_mut().unwrap().api_key_env = Some("sk-proj-abc123".into());
        assert_eq!(field_of(&s), "llm.api_key_env");
        let mut s = judge();
        s.llm.as_mut().unwrap().api_key_env = Some("OI_SESSIONS_API_KEY".into());
        assert_eq!(field_of(&s), "llm.api_key_env");
        let mut s = judge();
        s.llm.as_mut().unwrap().base_url = "https://evil.example/v1".into();
        assert_eq!(field_of(&s), "llm.base_url");
        let mut s = judge();
        s.labels = Some(BTreeMap::new());
        assert_eq!(field_of(&s), "labels");
        let mut s = judge();
        s.sample_rate = 1.5;
        assert_eq!(field_of(&s), "sample_rate");
        let mut s = judge();
        s.prompt_template = Some("{transcript} {nope}".into());
        assert_eq!(field_of(&s), "prompt_template");
        let mut s = judge();
        s.rule = Some(Rule::NoErrors);
        assert_eq!(field_of(&s), "rule");
    }

    #[test]
    fn sampling_is_stable_and_near_the_rate() {
        let mut s = judge();
        s.sample_rate = 0.3;
        let picked = (0..10_000)
            .filter(|i| s.samples(&format!("session-{i}")))
            .count();
        assert!((2_700..3_300).contains(&picked), "{picked}");
        assert_eq!(s.samples("session-7"), s.samples("session-7"));
    }
}
