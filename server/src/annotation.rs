//! Session annotations: the verdicts people, code and LLM judges give on how a
//! whole session went (a label, a score, an explanation), keyed so that an
//! evaluator re-running on a session replaces its earlier verdict.
//!
//! An annotation is identified by (project, session id, name, identifier): a
//! second write with the same four replaces the first, so `user_feedback` from
//! one user toggles instead of piling up, and distinct `identifier`s keep
//! several annotations of one name.
//!
//! A **note** is an annotation named [`NOTE`] whose explanation is the text: a
//! remark, not a verdict. Notes are appended (each under a fresh identifier
//! unless one is given) and left out of the summaries.

use std::collections::BTreeMap;

use openinference_session::attributes::MAX_ID_BYTES;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest annotation name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest label or identifier, in bytes.
pub const MAX_LABEL_BYTES: usize = 1024;
/// Longest explanation, in bytes.
pub const MAX_EXPLANATION_BYTES: usize = 64 * 1024;
/// Largest metadata object, serialized, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Most annotations in one bulk request.
pub const MAX_BATCH: usize = 1000;
/// The name of notes (Phoenix's): reserved for them, left out of summaries.
pub const NOTE: &str = "note";

/// A fresh identifier for a note, `<prefix>:<uuid v4>` (Phoenix's form), so
/// that each note is appended rather than replacing the last one.
pub fn note_identifier(prefix: &str) -> String {
    let mut b = [0u8; 16];
    // Without the OS's randomness, time and a counter still never repeat
    // within this process.
    if getrandom::fill(&mut b).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let now = crate::store::queries::now_ns() as u64;
        b[..8].copy_from_slice(&now.to_le_bytes());
        b[8..].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::model::hex(&b);
    format!(
        "{prefix}:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Where an annotation was written from (Phoenix's `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AnnotationSource {
    /// Through the API (a client, an evaluator run).
    #[default]
    Api,
    /// In the web UI.
    App,
}

impl AnnotationSource {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationSource::Api => "API",
            AnnotationSource::App => "APP",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "API" => Some(AnnotationSource::Api),
            "APP" => Some(AnnotationSource::App),
            _ => None,
        }
    }
}

/// Who (or what) gave the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AnnotatorKind {
    /// A person, in the UI or through the API.
    #[default]
    Human,
    /// An LLM judge.
    Llm,
    /// Code (a heuristic, a test).
    Code,
}

impl AnnotatorKind {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotatorKind::Human => "HUMAN",
            AnnotatorKind::Llm => "LLM",
            AnnotatorKind::Code => "CODE",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HUMAN" => Some(AnnotatorKind::Human),
            "LLM" => Some(AnnotatorKind::Llm),
            "CODE" => Some(AnnotatorKind::Code),
            _ => None,
        }
    }
}

/// An annotation as a client writes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnnotation {
    /// The session annotated (taken from the path for single writes).
    #[serde(default)]
    pub session_id: String,
    /// What is judged: `goal_completion`, `user_feedback`, ...; `note` for a
    /// note (its text in `explanation`).
    pub name: String,
    /// Who judged.
    #[serde(default)]
    pub annotator_kind: AnnotatorKind,
    /// A categorical verdict.
    #[serde(default)]
    pub label: Option<String>,
    /// A numeric verdict.
    #[serde(default)]
    pub score: Option<f64>,
    /// Why.
    #[serde(default)]
    pub explanation: Option<String>,
    /// Anything else (the judge's model, a run id).
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Distinguishes several annotations of one name on one session; empty by
    /// default, so a rewrite replaces.
    #[serde(default)]
    pub identifier: String,
    /// The person who annotated, when known.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Where it was written from: `API` (default) or `APP` (the web UI).
    #[serde(default)]
    pub source: AnnotationSource,
}

impl NewAnnotation {
    /// Checks the annotation; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        fn check_len(
            field: &'static str,
            value: &str,
            limit: usize,
        ) -> Result<(), (&'static str, String)> {
            if value.len() > limit {
                return Err((
                    field,
                    format!(
                        "{field} is {} bytes, over the limit of {limit}",
                        value.len()
                    ),
                ));
            }
            Ok(())
        }
        if self.session_id.trim().is_empty() {
            return Err((
                "session_id",
                "session_id must be a non-empty string".to_owned(),
            ));
        }
        check_len("session_id", &self.session_id, MAX_ID_BYTES)?;
        if self.name.trim().is_empty() {
            return Err(("name", "name must be a non-empty string".to_owned()));
        }
        check_len("name", &self.name, MAX_NAME_BYTES)?;
        if self.label.is_none() && self.score.is_none() && self.explanation.is_none() {
            return Err((
                "label",
                "an annotation needs a label, a score or an explanation".to_owned(),
            ));
        }
        if let Some(label) = &self.label {
            if label.trim().is_empty() {
                return Err(("label", "label must not be empty".to_owned()));
            }
            check_len("label", label, MAX_LABEL_BYTES)?;
        }
        if let Some(score) = self.score
            && !score.is_finite()
        {
            return Err(("score", "score must be a finite number".to_owned()));
        }
        if let Some(explanation) = &self.explanation {
            check_len("explanation", explanation, MAX_EXPLANATION_BYTES)?;
        }
        check_len("identifier", &self.identifier, MAX_LABEL_BYTES)?;
        if let Some(user) = &self.user_id {
            check_len("user_id", user, MAX_ID_BYTES)?;
        }
        let metadata_len = serde_json::to_string(&self.metadata)
            .map(|s| s.len())
            .unwrap_or(0);
        if metadata_len > MAX_METADATA_BYTES {
            return Err((
                "metadata",
                format!("metadata is {metadata_len} bytes, over the limit of {MAX_METADATA_BYTES}"),
            ));
        }
        Ok(())
    }
}

/// A stored annotation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Annotation {
    /// Stable id (for deletion).
    pub id: i64,
    /// The session annotated.
    pub session_id: String,
    /// What is judged.
    pub name: String,
    /// Who judged.
    pub annotator_kind: AnnotatorKind,
    /// Categorical verdict.
    #[schema(required = true)]
    pub label: Option<String>,
    /// Numeric verdict.
    #[schema(required = true)]
    pub score: Option<f64>,
    /// Why.
    #[schema(required = true)]
    pub explanation: Option<String>,
    /// Anything else.
    pub metadata: Map<String, Value>,
    /// See [`NewAnnotation::identifier`].
    pub identifier: String,
    /// Who annotated, when known.
    #[schema(required = true)]
    pub user_id: Option<String>,
    /// Where it was written from.
    pub source: AnnotationSource,
    /// First written, RFC 3339.
    pub created_at: String,
    /// Last written, RFC 3339.
    pub updated_at: String,
    /// An evaluator's verdict on an earlier state of the session: traces
    /// arrived after what it judged (it is replaced when the session goes
    /// idle again and is re-judged). Always false for other annotations.
    pub stale: bool,
}

/// The annotations of one name on a session, summarized for lists and headers.
#[derive(Debug, Clone, PartialEq, Serialize, Default, utoipa::ToSchema)]
pub struct AnnotationSummary {
    /// The annotation name.
    pub name: String,
    /// How many annotations of this name.
    pub count: i64,
    /// Mean of their scores, when any has one.
    #[schema(required = true)]
    pub mean_score: Option<f64>,
    /// How many carry each label.
    pub labels: BTreeMap<String, i64>,
    /// Whether any of them is stale (see [`Annotation::stale`]).
    pub stale: bool,
}

/// Summarizes annotations by name, names in order; notes are remarks, not
/// verdicts, and are left out.
pub fn summarize(annotations: &[Annotation]) -> Vec<AnnotationSummary> {
    let mut by_name: BTreeMap<&str, (AnnotationSummary, f64, i64)> = BTreeMap::new();
    for a in annotations.iter().filter(|a| a.name != NOTE) {
        let (summary, sum, scored) = by_name.entry(&a.name).or_insert_with(|| {
            (
                AnnotationSummary {
                    name: a.name.clone(),
                    ..Default::default()
                },
                0.0,
                0,
            )
        });
        summary.count += 1;
        summary.stale |= a.stale;
        if let Some(score) = a.score {
            *sum += score;
            *scored += 1;
        }
        if let Some(label) = &a.label {
            *summary.labels.entry(label.clone()).or_default() += 1;
        }
    }
    by_name
        .into_values()
        .map(|(mut summary, sum, scored)| {
            summary.mean_score = (scored > 0).then(|| sum / scored as f64);
            summary
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &str) -> NewAnnotation {
        NewAnnotation {
            session_id: "s".into(),
            name: name.into(),
            label: Some("good".into()),
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(note("ok").validate().is_ok());
        assert_eq!(note(" ").validate().unwrap_err().0, "name");
        let mut a = note("x");
        a.label = None;
        assert_eq!(a.validate().unwrap_err().0, "label");
        a.score = Some(f64::NAN);
        assert_eq!(a.validate().unwrap_err().0, "score");
        let mut b = note("x");
        b.explanation = Some("e".repeat(MAX_EXPLANATION_BYTES + 1));
        assert_eq!(b.validate().unwrap_err().0, "explanation");
        let mut c = note("x");
        c.session_id = String::new();
        assert_eq!(c.validate().unwrap_err().0, "session_id");
    }

    #[test]
    fn summaries_count_labels_and_average_scores() {
        let make = |name: &str, label: Option<&str>, score: Option<f64>| Annotation {
            id: 0,
            session_id: "s".into(),
            name: name.into(),
            annotator_kind: AnnotatorKind::Llm,
            label: label.map(Into::into),
            score,
            explanation: None,
            metadata: Map::new(),
            identifier: String::new(),
            user_id: None,
            source: AnnotationSource::Api,
            created_at: String::new(),
            updated_at: String::new(),
            stale: false,
        };
        let s = summarize(&[
            make("goal", Some("met"), Some(1.0)),
            make("goal", Some("missed"), Some(0.0)),
            make("goal", Some("met"), None),
            make("feedback", Some("thumbs_up"), None),
            make(NOTE, None, None),
        ]);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "feedback");
        assert_eq!(s[0].mean_score, None);
        assert_eq!(s[1].count, 3);
        assert_eq!(s[1].mean_score, Some(0.5));
        assert_eq!(s[1].labels.get("met"), Some(&2));
    }

    #[test]
    fn note_identifiers_are_fresh_uuids() {
        let (a, b) = (
            note_identifier("px-session-note"),
            note_identifier("px-session-note"),
        );
        assert_ne!(a, b);
        let uuid = a.strip_prefix("px-session-note:").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
    }
}
