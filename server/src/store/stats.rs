//! A project's numbers over a time window, for the stats panel: how many
//! sessions and turns, how long and how many turns a session takes
//! (percentiles), and every annotation's label distribution or mean score,
//! overall and per time bucket (its trend), bucketed by when the sessions
//! started. Written once over [`SqlTx`]; the aggregation is done here rather
//! than in SQL so that percentiles are the same in every backend.

use std::collections::BTreeMap;

use serde::Serialize;

use super::StoreError;
use super::queries::project_rowid;
use super::sql::{Args, SqlTx};
use crate::annotation::NOTE;
use crate::model::rfc3339;

/// Most buckets a trend may have.
pub const MAX_BUCKETS: i64 = 1000;

/// What the stats cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsQuery {
    /// Sessions that end at or after this time (Unix ns).
    pub start_ns: Option<i64>,
    /// Sessions that start at or before this time (Unix ns).
    pub end_ns: Option<i64>,
    /// The width of a trend bucket, ns.
    pub bucket_ns: i64,
}

/// A distribution's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Distribution {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Distribution {
    fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Distribution::default();
        }
        values.sort_by(f64::total_cmp);
        let at =
            |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Distribution {
            mean: values.iter().sum::<f64>() / values.len() as f64,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: values[values.len() - 1],
        }
    }
}

/// Sessions started in one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionBucket {
    /// The bucket's start, RFC 3339.
    pub start: String,
    /// Sessions that started in it.
    pub sessions: i64,
    /// Their turns.
    pub turns: i64,
    /// Of them, sessions with an errored turn.
    pub sessions_with_error: i64,
}

/// An annotation's verdicts, overall or in one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Verdicts {
    /// How many.
    pub count: i64,
    /// Their mean score, when any has one.
    #[schema(required = true)]
    pub mean_score: Option<f64>,
    /// How many carry each label.
    pub labels: BTreeMap<String, i64>,
    #[serde(skip)]
    #[schema(ignore)]
    score_sum: f64,
    #[serde(skip)]
    #[schema(ignore)]
    scored: i64,
}

impl Verdicts {
    fn add(&mut self, label: Option<String>, score: Option<f64>) {
        self.count += 1;
        if let Some(l) = label {
            *self.labels.entry(l).or_default() += 1;
        }
        if let Some(s) = score {
            self.score_sum += s;
            self.scored += 1;
            self.mean_score = Some(self.score_sum / self.scored as f64);
        }
    }
}

/// One annotation name's verdicts and their trend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnnotationStats {
    /// The annotation name.
    pub name: String,
    /// All its verdicts in the window.
    #[serde(flatten)]
    pub overall: Verdicts,
    /// Per bucket of session start, oldest first; buckets without verdicts
    /// are left out.
    pub trend: Vec<AnnotationBucket>,
}

/// An annotation's verdicts on the sessions started in one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnnotationBucket {
    /// The bucket's start, RFC 3339.
    pub start: String,
    /// The verdicts.
    #[serde(flatten)]
    pub verdicts: Verdicts,
}

/// A project's numbers over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProjectStats {
    /// Sessions in the window.
    pub sessions: i64,
    /// Their turns.
    pub turns: i64,
    /// Of them, sessions with an errored turn.
    pub sessions_with_error: i64,
    /// Turns per session.
    pub turns_per_session: Distribution,
    /// Session duration, first start to last end, ms.
    pub duration_ms: Distribution,
    /// The trend bucket's width, ms.
    pub bucket_ms: i64,
    /// Sessions per bucket of their start, oldest first; empty buckets left out.
    pub trend: Vec<SessionBucket>,
    /// Each annotation name's verdicts (notes left out), by name.
    pub annotations: Vec<AnnotationStats>,
}

fn window(a: &mut Args, q: &StatsQuery) -> String {
    let mut sql = String::new();
    if let Some(start) = q.start_ns {
        sql.push_str(&format!(" AND s.end_ns >= {}", a.add(start)));
    }
    if let Some(end) = q.end_ns {
        sql.push_str(&format!(" AND s.start_ns <= {}", a.add(end)));
    }
    sql
}

/// The project's stats over the window.
pub(super) fn project_stats(
    tx: &mut dyn SqlTx,
    project: &str,
    q: &StatsQuery,
) -> Result<ProjectStats, StoreError> {
    let pid = project_rowid(tx, project)?;
    let bucket_ns = q.bucket_ns.max(1);
    let bucket_of = |start_ns: i64| start_ns.div_euclid(bucket_ns) * bucket_ns;
    let mut a = Args::default();
    let sql = format!(
        "SELECT s.num_traces, s.duration_ns, s.start_ns, s.num_traces_with_error FROM sessions s
         WHERE s.project_id = {}{}",
        a.add(pid),
        window(&mut a, q)
    );
    let mut stats = ProjectStats {
        bucket_ms: bucket_ns / 1_000_000,
        ..Default::default()
    };
    let (mut turns, mut durations) = (Vec::new(), Vec::new());
    let mut trend: BTreeMap<i64, SessionBucket> = BTreeMap::new();
    for r in tx.query(&sql, &a.0)? {
        let (n, duration, start, errors) = (r.int(0)?, r.int(1)?, r.int(2)?, r.int(3)?);
        stats.sessions += 1;
        stats.turns += n;
        stats.sessions_with_error += i64::from(errors > 0);
        turns.push(n as f64);
        durations.push(duration as f64 / 1e6);
        let b = trend.entry(bucket_of(start)).or_default();
        b.sessions += 1;
        b.turns += n;
        b.sessions_with_error += i64::from(errors > 0);
    }
    stats.turns_per_session = Distribution::of(turns);
    stats.duration_ms = Distribution::of(durations);
    stats.trend = trend
        .into_iter()
        .map(|(start, b)| SessionBucket {
            start: rfc3339(start),
            ..b
        })
        .collect();

    let mut a = Args::default();
    let sql = format!(
        "SELECT an.name, an.label, an.score, s.start_ns FROM session_annotations an
         JOIN sessions s ON s.project_id = an.project_id AND s.session_id = an.session_id
         WHERE an.project_id = {} AND an.name <> {}{}",
        a.add(pid),
        a.add(NOTE),
        window(&mut a, q)
    );
    let mut by_name: BTreeMap<String, (Verdicts, BTreeMap<i64, Verdicts>)> = BTreeMap::new();
    for mut r in tx.query(&sql, &a.0)? {
        let (name, label, score, start) = (r.text(0)?, r.opt_text(1)?, r.opt_real(2)?, r.int(3)?);
        let (overall, buckets) = by_name.entry(name).or_default();
        overall.add(label.clone(), score);
        buckets
            .entry(bucket_of(start))
            .or_default()
            .add(label, score);
    }
    stats.annotations = by_name
        .into_iter()
        .map(|(name, (overall, buckets))| AnnotationStats {
            name,
            overall,
            trend: buckets
                .into_iter()
                .map(|(start, verdicts)| AnnotationBucket {
                    start: rfc3339(start),
                    verdicts,
                })
                .collect(),
        })
        .collect();
    Ok(stats)
}
