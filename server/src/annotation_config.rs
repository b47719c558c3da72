//! Annotation configs: what a project's annotation of a given name may hold,
//! so that verdicts stay comparable whoever gives them (a reviewer in the UI,
//! a script, an evaluator). A config is one of
//!
//! - **categorical**: a label from a fixed list, each with its score (the
//!   score is filled from the list when left out);
//! - **continuous**: a score within optional bounds;
//! - **freeform**: a text, in the explanation.
//!
//! Every write of an annotation whose name has a config is checked against
//! it, in the store's transaction, so no path (our API, Phoenix's, the
//! evaluators) can store one that does not fit.

use serde::{Deserialize, Serialize};

use crate::annotation::{MAX_LABEL_BYTES, MAX_NAME_BYTES, NOTE, NewAnnotation};

/// Most labels of a categorical config.
pub const MAX_VALUES: usize = 100;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// Which way is better, for sorting and charts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Optimize {
    /// Higher scores are better.
    #[default]
    Maximize,
    /// Lower scores are better.
    Minimize,
    /// Neither.
    None,
}

/// One label of a categorical config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoricalValue {
    /// The label.
    pub label: String,
    /// Its score, when it has one.
    #[serde(default)]
    #[schema(required = true)]
    pub score: Option<f64>,
}

/// What an annotation of the config's name holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConfigKind {
    /// A label from `values`.
    Categorical,
    /// A score, within `lower_bound` and `upper_bound` when given.
    Continuous,
    /// A text (the explanation); no label or score.
    Freeform,
}

/// A project's config for annotations of one name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnotationConfig {
    /// The annotation name it governs (from the path on `PUT`).
    #[serde(default)]
    pub name: String,
    /// What the annotation holds.
    #[serde(rename = "type")]
    pub kind: ConfigKind,
    /// `categorical`: the allowed labels, in the order the UI offers them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<CategoricalValue>,
    /// `continuous`: the lowest allowed score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<f64>,
    /// `continuous`: the highest allowed score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_bound: Option<f64>,
    /// What the annotation means, for whoever gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which way is better.
    #[serde(default)]
    pub optimization_direction: Optimize,
}

/// A config or an annotation refused: the field and why.
pub type Refusal = (String, String);

fn refuse<T>(field: &str, message: impl Into<String>) -> Result<T, Refusal> {
    Err((field.to_owned(), message.into()))
}

impl AnnotationConfig {
    /// Checks the config itself.
    pub fn validate(&self) -> Result<(), Refusal> {
        if self.name.trim().is_empty() || self.name.len() > MAX_NAME_BYTES {
            return refuse("name", format!("name must be 1 to {MAX_NAME_BYTES} bytes"));
        }
        if self.name == NOTE {
            return refuse(
                "name",
                "notes are free text by definition: \"note\" takes no config",
            );
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_DESCRIPTION_BYTES)
        {
            return refuse(
                "description",
                format!("description is over {MAX_DESCRIPTION_BYTES} bytes"),
            );
        }
        let bounds = self.lower_bound.is_some() || self.upper_bound.is_some();
        match self.kind {
            ConfigKind::Categorical => {
                let values = &self.values;
                if bounds {
                    return refuse("lower_bound", "bounds are for continuous configs");
                }
                if values.is_empty() || values.len() > MAX_VALUES {
                    return refuse(
                        "values",
                        format!("a categorical config needs 1 to {MAX_VALUES} values"),
                    );
                }
                let mut seen = std::collections::BTreeSet::new();
                for (i, v) in values.iter().enumerate() {
                    if v.label.trim().is_empty() || v.label.len() > MAX_LABEL_BYTES {
                        return refuse(
                            &format!("values[{i}].label"),
                            "each label must be 1 to 1024 bytes",
                        );
                    }
                    if !seen.insert(v.label.as_str()) {
                        return refuse(
                            &format!("values[{i}].label"),
                            format!("label {:?} is listed twice", v.label),
                        );
                    }
                    if v.score.is_some_and(|s| !s.is_finite()) {
                        return refuse(
                            &format!("values[{i}].score"),
                            "score must be a finite number",
                        );
                    }
                }
                Ok(())
            }
            ConfigKind::Continuous => {
                let (lower_bound, upper_bound) = (&self.lower_bound, &self.upper_bound);
                if !self.values.is_empty() {
                    return refuse("values", "values are for categorical configs");
                }
                if [lower_bound, upper_bound]
                    .into_iter()
                    .flatten()
                    .any(|b| !b.is_finite())
                {
                    return refuse("lower_bound", "bounds must be finite numbers");
                }
                if let (Some(l), Some(u)) = (lower_bound, upper_bound)
                    && l > u
                {
                    return refuse("upper_bound", "upper_bound is below lower_bound");
                }
                Ok(())
            }
            ConfigKind::Freeform => {
                if !self.values.is_empty() || bounds {
                    return refuse("values", "a freeform config takes no values or bounds");
                }
                Ok(())
            }
        }
    }

    /// Checks an annotation of this config's name; returns it as stored (a
    /// categorical label's score filled in).
    pub fn apply(&self, annotation: &NewAnnotation) -> Result<NewAnnotation, Refusal> {
        let mut out = annotation.clone();
        let name = &self.name;
        match self.kind {
            ConfigKind::Categorical => {
                let values = &self.values;
                let Some(label) = &annotation.label else {
                    return refuse(
                        "label",
                        format!("{name} takes a label: one of {}", labels(values)),
                    );
                };
                let Some(value) = values.iter().find(|v| v.label == *label) else {
                    return refuse(
                        "label",
                        format!(
                            "{label:?} is not a label of {name}: one of {}",
                            labels(values)
                        ),
                    );
                };
                match (annotation.score, value.score) {
                    (None, score) => out.score = score,
                    (Some(given), Some(configured)) if given != configured => {
                        return refuse(
                            "score",
                            format!(
                                "{label:?} scores {configured} in {name}'s config, not {given}"
                            ),
                        );
                    }
                    _ => {}
                }
            }
            ConfigKind::Continuous => {
                let (lower_bound, upper_bound) = (self.lower_bound, self.upper_bound);
                let Some(score) = annotation.score else {
                    return refuse("score", format!("{name} takes a score"));
                };
                if lower_bound.is_some_and(|l| score < l) || upper_bound.is_some_and(|u| score > u)
                {
                    return refuse(
                        "score",
                        format!(
                            "{score} is outside {name}'s bounds [{}, {}]",
                            lower_bound.map_or("-inf".to_owned(), |l| l.to_string()),
                            upper_bound.map_or("inf".to_owned(), |u| u.to_string())
                        ),
                    );
                }
            }
            ConfigKind::Freeform => {
                if annotation.label.is_some() || annotation.score.is_some() {
                    return refuse(
                        "label",
                        format!("{name} is free text: the explanation, without a label or score"),
                    );
                }
                if annotation
                    .explanation
                    .as_deref()
                    .is_none_or(|e| e.trim().is_empty())
                {
                    return refuse(
                        "explanation",
                        format!("{name} is free text: give it as the explanation"),
                    );
                }
            }
        }
        Ok(out)
    }
}

fn labels(values: &[CategoricalValue]) -> String {
    values
        .iter()
        .map(|v| format!("{:?}", v.label))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: serde_json::Value) -> AnnotationConfig {
        let mut c: AnnotationConfig = serde_json::from_value(kind).unwrap();
        c.name = "quality".into();
        c
    }

    fn annotation(
        label: Option<&str>,
        score: Option<f64>,
        explanation: Option<&str>,
    ) -> NewAnnotation {
        NewAnnotation {
            session_id: "s".into(),
            name: "quality".into(),
            label: label.map(Into::into),
            score,
            explanation: explanation.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn categorical_fills_the_score_and_refuses_other_labels() {
        let c = config(
            serde_json::json!({"type": "categorical", "values": [{"label": "good", "score": 1}, {"label": "bad", "score": 0}]}),
        );
        c.validate().unwrap();
        assert_eq!(
            c.apply(&annotation(Some("good"), None, None))
                .unwrap()
                .score,
            Some(1.0)
        );
        assert_eq!(
            c.apply(&annotation(Some("meh"), None, None)).unwrap_err().0,
            "label"
        );
        assert_eq!(
            c.apply(&annotation(Some("good"), Some(0.5), None))
                .unwrap_err()
                .0,
            "score"
        );
        assert_eq!(
            c.apply(&annotation(None, Some(1.0), None)).unwrap_err().0,
            "label"
        );
    }

    #[test]
    fn continuous_keeps_scores_in_bounds_and_freeform_is_text() {
        let c =
            config(serde_json::json!({"type": "continuous", "lower_bound": 0, "upper_bound": 10}));
        assert!(c.apply(&annotation(None, Some(7.5), None)).is_ok());
        assert_eq!(
            c.apply(&annotation(None, Some(11.0), None)).unwrap_err().0,
            "score"
        );
        assert_eq!(
            c.apply(&annotation(Some("x"), None, None)).unwrap_err().0,
            "score"
        );
        let f = config(serde_json::json!({"type": "freeform"}));
        assert!(
            f.apply(&annotation(None, None, Some("the user gave up")))
                .is_ok()
        );
        assert_eq!(
            f.apply(&annotation(Some("x"), None, Some("y")))
                .unwrap_err()
                .0,
            "label"
        );
        let bad =
            config(serde_json::json!({"type": "continuous", "lower_bound": 5, "upper_bound": 1}));
        assert_eq!(bad.validate().unwrap_err().0, "upper_bound");
    }
}
