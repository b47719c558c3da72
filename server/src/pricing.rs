//! Prices used to cost an LLM call that did not report `llm.cost.*`: a small
//! shipped table of US dollars per million tokens, which a JSON file can extend
//! or override (`--prices`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Cost, TokenCount};

/// Dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Price {
    /// Prompt (input) tokens.
    pub prompt: f64,
    /// Completion (output) tokens.
    pub completion: f64,
}

/// Why a price file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file could not be read.
    #[error("cannot read price file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not `{"model": {"prompt": x, "completion": y}}`.
    #[error("invalid price file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
}

const SHIPPED: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4-turbo", 10.00, 30.00),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o1-mini", 1.10, 4.40),
    ("o1", 15.00, 60.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("o3", 2.00, 8.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
    ("gemini-1.5-flash", 0.075, 0.30),
    ("gemini-1.5-pro", 1.25, 5.00),
    ("gemini-2.0-flash", 0.10, 0.40),
];

/// Model name to price; the longest matching prefix wins so that dated model
/// names (`gpt-4o-mini-2024-07-18`) find their family.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self {
            prices: SHIPPED
                .iter()
                .map(|&(m, prompt, completion)| (m.to_owned(), Price { prompt, completion }))
                .collect(),
        }
    }
}

impl PriceTable {
    /// The shipped table with the entries of a JSON file laid over it.
    pub fn with_file(path: &std::path::Path) -> Result<Self, PriceError> {
        let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let extra: BTreeMap<String, Price> =
            serde_json::from_str(&text).map_err(|source| PriceError::Parse {
                path: path.display().to_string(),
                source,
            })?;
        let mut table = Self::default();
        for (model, price) in extra {
            table.prices.insert(model.to_ascii_lowercase(), price);
        }
        Ok(table)
    }

    /// The price of a model, if known.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        let model = model.to_ascii_lowercase();
        // Provider prefixes such as `openai/gpt-4o` are common in proxies.
        let model = model.rsplit('/').next().unwrap_or(&model);
        self.prices
            .range(..=model.to_owned())
            .rev()
            .find(|(k, _)| model.starts_with(k.as_str()))
            .map(|(_, p)| *p)
    }

    /// The cost of a call, if its model is known.
    pub fn cost(&self, model: &str, tokens: &TokenCount) -> Option<Cost> {
        let price = self.lookup(model)?;
        let prompt = tokens.prompt as f64 * price.prompt / 1e6;
        let completion = tokens.completion as f64 * price.completion / 1e6;
        Some(Cost {
            prompt,
            completion,
            total: prompt + completion,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let t = PriceTable::default();
        assert_eq!(t.lookup("gpt-4o-mini-2024-07-18").unwrap().prompt, 0.15);
        assert_eq!(t.lookup("gpt-4o-2024-08-06").unwrap().prompt, 2.50);
        assert_eq!(t.lookup("openai/GPT-4o-mini").unwrap().completion, 0.60);
        assert!(t.lookup("llama-3").is_none());
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let t = PriceTable::default();
        let c = t
            .cost(
                "gpt-4o-mini",
                &TokenCount {
                    prompt: 1_000_000,
                    completion: 2_000_000,
                    total: 3_000_000,
                },
            )
            .unwrap();
        assert!((c.total - 1.35).abs() < 1e-9);
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn a_price_file_adds_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prices.json");
        std::fs::write(
            &path,
            r#"{"my-model": {"prompt": 1.0, "completion": 2.0}, "GPT-4o-mini": {"prompt": 9.0, "completion": 9.0}}"#,
        )
        .unwrap();
        let t = PriceTable::with_file(&path).unwrap();
        assert_eq!(t.lookup("my-model-v2").unwrap().completion, 2.0);
        assert_eq!(t.lookup("gpt-4o-mini").unwrap().prompt, 9.0);
        assert_eq!(
            t.lookup("gpt-4o").unwrap().prompt,
            2.50,
            "shipped entries stay"
        );
        std::fs::write(&path, "[1, 2]").unwrap();
        let err = PriceTable::with_file(&path).unwrap_err().to_string();
        assert!(err.starts_with("invalid price file"), "{err}");
        let err = PriceTable::with_file(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read price file"), "{err}");
    }
}
