//! The scheduler: one task per server that, every [`TICK`](super::TICK) or
//! when woken, queues the evaluators of sessions that went idle, claims due
//! jobs up to its free slots, and runs each on its own task. Store calls run
//! on the blocking pool; a judge call is async and bounded by the timeout.
//!
//! Nothing here holds state a crash would lose: the queue, the leases and the
//! sessions seen idle are in the store. A job whose server died is claimed
//! again when its lease ends, and the verdict is written with the job's new
//! state in one transaction, by the lease holder only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openinference_session::evals::{
    DEFAULT_MAX_TRANSCRIPT_CHARS, fill_template, messages, transcript_text,
};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::judge::{self, JudgeError};
use super::rules::{self, Verdict};
use super::spec::{EvaluatorKind, EvaluatorSpec};
use crate::AppState;
use crate::annotation::{AnnotationSource, AnnotatorKind, MAX_EXPLANATION_BYTES, NewAnnotation};
use crate::model::{TraceDetail, Turn, rfc3339, unhex};
use crate::store::queries::now_ns;
use crate::store::{EvaluationJob, JobOutcome, NewJob, PageQuery, Store, StoreError};

/// Sessions gone idle handled per tick (the rest wait for the next one).
const IDLE_BATCH: usize = 500;
/// Most turns a job reads of a session.
const MAX_TURNS: usize = 10_000;

/// Runs until `stop` turns true.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let evaluations = state.evaluations.clone();
    let slots = Arc::new(Semaphore::new(evaluations.settings.concurrency.max(1)));
    let mut tick = tokio::time::interval(super::TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = evaluations.wake.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || queue_idle_sessions(store.as_ref())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::debug!(jobs = n, "queued evaluations of sessions gone idle");
                evaluations.changed.notify_waiters();
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "looking for sessions gone idle failed"),
            Err(e) => tracing::error!(error = %e, "the idle scan panicked"),
        }
        let free = slots.available_permits();
        if free == 0 {
            continue;
        }
        let store = state.store.clone();
        let owner = evaluations.owner.clone();
        let lease = i64::try_from(evaluations.settings.lease().as_nanos()).unwrap_or(i64::MAX);
        let claimed =
            tokio::task::spawn_blocking(move || store.claim_jobs(&owner, now_ns(), lease, free))
                .await;
        let jobs = match claimed {
            Ok(Ok(jobs)) => jobs,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "claiming evaluation jobs failed");
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming evaluation jobs panicked");
                continue;
            }
        };
        for job in jobs {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            let state = state.clone();
            tokio::spawn(async move {
                run_job(&state, job).await;
                drop(permit);
                state.evaluations.wake.notify_one();
                state.evaluations.changed.notify_waiters();
            });
        }
    }
}

/// Queues, for each session gone idle, the evaluators that take it, and marks
/// it seen idle (in one transaction per project); returns the jobs queued.
pub fn queue_idle_sessions(store: &dyn Store) -> Result<usize, StoreError> {
    let idle = store.idle_sessions(now_ns(), IDLE_BATCH)?;
    let mut by_project: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for s in idle {
        by_project
            .entry(s.project)
            .or_default()
            .push((s.session_id, s.last_activity_ns));
    }
    let mut queued = 0;
    for (project, sessions) in by_project {
        let evaluators: Vec<(EvaluatorSpec, i64)> = store
            .evaluators(&project)?
            .into_iter()
            .filter(|e| e.enabled)
            .filter_map(|e| {
                let mut spec: EvaluatorSpec = serde_json::from_value(e.definition).ok()?;
                spec.name = e.name;
                Some((spec, e.version))
            })
            .collect();
        let mut jobs = Vec::new();
        for (session_id, activity) in &sessions {
            let candidates: Vec<&(EvaluatorSpec, i64)> = evaluators
                .iter()
                .filter(|(spec, _)| spec.samples(session_id))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            // the scope needs the session's users, tags and metadata
            let info = if candidates
                .iter()
                .any(|(spec, _)| spec.filter != Default::default())
            {
                match store.session(&project, session_id) {
                    Ok(info) => Some(info),
                    Err(StoreError::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            for (spec, version) in candidates {
                if info.as_ref().is_none_or(|i| spec.filter.matches(i)) {
                    jobs.push(NewJob {
                        session_id: session_id.clone(),
                        evaluator: spec.name.clone(),
                        version: *version,
                        activity_ns: *activity,
                        backfill_id: None,
                    });
                }
            }
        }
        queued += store.enqueue_jobs(&project, &jobs, &sessions)?;
    }
    Ok(queued)
}

/// Runs a claimed job and records how it ended (if this server still holds
/// its lease).
async fn run_job(state: &AppState, job: EvaluationJob) {
    let settings = &state.evaluations.settings;
    let mut outcome = evaluate(state, &job).await;
    if let JobOutcome::Retry { error, .. } = &outcome
        && job.attempts >= i64::from(settings.max_attempts)
    {
        outcome = JobOutcome::Failed(format!("gave up after {} attempts: {error}", job.attempts));
    }
    let store = state.store.clone();
    let owner = state.evaluations.owner.clone();
    let finished = tokio::task::spawn_blocking(move || {
        match store.finish_job(&job, &owner, &outcome) {
            // the session went away between the read and the write
            Err(StoreError::NotFound("session")) => store.finish_job(
                &job,
                &owner,
                &JobOutcome::Skipped("the session was deleted".into()),
            ),
            // the project's annotation config refuses the verdict (a label
            // outside its list, say)
            Err(StoreError::Invalid { field, message, .. }) => store.finish_job(
                &job,
                &owner,
                &JobOutcome::Failed(format!(
                    "the verdict does not fit the annotation config ({field}): {message}"
                )),
            ),
            other => other,
        }
        .map(|held| (held, job))
    })
    .await;
    match finished {
        Ok(Ok((true, _))) => {}
        Ok(Ok((false, job))) => tracing::warn!(
            job = job.id,
            "the evaluation job's lease was lost (it ran longer than the lease, or another server took it); its result is dropped"
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "recording an evaluation job failed; it runs again when its lease ends")
        }
        Err(e) => tracing::error!(error = %e, "recording an evaluation job panicked"),
    }
}

/// The backoff before attempt `attempts + 1`: 1 s, 2 s, 4 s, ... up to 5 min,
/// or what the endpoint asked for.
fn backoff(attempts: i64, asked: Option<Duration>) -> Duration {
    asked
        .unwrap_or_else(|| Duration::from_secs(1 << attempts.clamp(0, 8) as u32))
        .min(Duration::from_secs(300))
}

async fn store_call<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| StoreError::Backend(format!("a store call panicked: {e}")))?
}

/// Judges a job's session with its evaluator's current definition.
async fn evaluate(state: &AppState, job: &EvaluationJob) -> JobOutcome {
    let retry = |error: String, asked: Option<Duration>| JobOutcome::Retry {
        run_after_ns: now_ns().saturating_add(
            i64::try_from(backoff(job.attempts, asked).as_nanos()).unwrap_or(i64::MAX),
        ),
        error,
    };
    let (project, name, session_id) = (
        job.project.clone(),
        job.evaluator.clone(),
        job.session_id.clone(),
    );
    let read = store_call(state, move |s| {
        let evaluator = s.evaluator(&project, &name)?;
        let session = s.session(&project, &session_id)?;
        let mut turns: Vec<Turn> = Vec::new();
        let mut page = PageQuery {
            limit: 1000,
            cursor: None,
        };
        loop {
            let p = s.turns(&project, &session_id, &page)?;
            turns.extend(p.data);
            match p.next_cursor {
                Some(c) if turns.len() < MAX_TURNS => page.cursor = Some(c),
                _ => break,
            }
        }
        Ok((evaluator, session, turns))
    })
    .await;
    let (stored, session, turns) = match read {
        Ok(r) => r,
        Err(StoreError::NotFound("evaluator")) => {
            return JobOutcome::Skipped("the evaluator was deleted".into());
        }
        Err(StoreError::NotFound(_)) => {
            return JobOutcome::Skipped("the session was deleted".into());
        }
        Err(e) => return retry(format!("reading the session failed: {e}"), None),
    };
    if !stored.enabled && job.backfill_id.is_none() {
        return JobOutcome::Skipped("the evaluator is disabled".into());
    }
    let mut spec: EvaluatorSpec = match serde_json::from_value(stored.definition.clone()) {
        Ok(spec) => spec,
        Err(e) => {
            return JobOutcome::Failed(format!(
                "the evaluator's stored definition does not read: {e}"
            ));
        }
    };
    spec.name = stored.name.clone();
    let verdict = match spec.kind {
        EvaluatorKind::Code => {
            let Some(rule) = spec.rule.clone() else {
                return JobOutcome::Failed("the code evaluator has no rule".into());
            };
            let traces = if rules::needs_spans(&rule) {
                let ids: Vec<String> = turns.iter().map(|t| t.trace_id.clone()).collect();
                let project = job.project.clone();
                match store_call(state, move |s| {
                    ids.iter()
                        .filter_map(|id| unhex(id).and_then(|v| <[u8; 16]>::try_from(v).ok()))
                        .map(|id| s.trace(&project, &id))
                        .collect::<Result<Vec<TraceDetail>, _>>()
                })
                .await
                {
                    Ok(t) => t,
                    Err(StoreError::NotFound(_)) => {
                        return JobOutcome::Skipped("the session was deleted".into());
                    }
                    Err(e) => {
                        return retry(format!("reading the session's spans failed: {e}"), None);
                    }
                }
            } else {
                Vec::new()
            };
            rules::apply(&rule, &session, &turns, &traces)
        }
        EvaluatorKind::LlmJudge => {
            let (Some(llm), Some(labels)) = (&spec.llm, &spec.labels) else {
                return JobOutcome::Failed("the judge has no llm or labels".into());
            };
            // the operator may have narrowed the allowed hosts since
            if let Err(e) = state
                .evaluations
                .settings
                .allowed_hosts
                .check(&llm.base_url)
            {
                return JobOutcome::Failed(e);
            }
            let prompt = match judge_prompt(&spec, &turns) {
                Ok(p) => p,
                Err(e) => return JobOutcome::Failed(e),
            };
            match judge::ask(llm, &prompt, labels, state.evaluations.settings.timeout).await {
                Ok(v) => v,
                Err(JudgeError::Retryable {
                    message,
                    retry_after,
                }) => return retry(message, retry_after),
                Err(JudgeError::Fatal(message)) => return JobOutcome::Failed(message),
            }
        }
    };
    JobOutcome::Done(annotation(&spec, stored.version, job, verdict))
}

/// The prompt for a session: the template with the criteria, the
/// conversation (the core's transcript rule) and the labels.
pub fn judge_prompt(spec: &EvaluatorSpec, turns: &[Turn]) -> Result<String, String> {
    let msgs = messages(turns.iter().map(|t| {
        (
            t.input.as_ref().map(|io| io.value.as_str()),
            t.output.as_ref().map(|io| io.value.as_str()),
        )
    }));
    let transcript = transcript_text(
        &msgs,
        spec.max_transcript_chars
            .unwrap_or(DEFAULT_MAX_TRANSCRIPT_CHARS),
    );
    let labels = spec
        .labels
        .iter()
        .flatten()
        .map(|(l, _)| l.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    fill_template(spec.template(), |p| match p {
        "criteria" => spec.criteria.clone().unwrap_or_default(),
        "transcript" => transcript.clone(),
        _ => labels.clone(),
    })
    .map_err(|e| e.to_string())
}

/// The annotation a verdict becomes.
fn annotation(
    spec: &EvaluatorSpec,
    version: i64,
    job: &EvaluationJob,
    verdict: Verdict,
) -> NewAnnotation {
    let mut metadata = verdict.metadata;
    metadata.insert("evaluator".into(), Value::String(spec.name.clone()));
    metadata.insert("evaluator_version".into(), json!(version));
    metadata.insert(
        "judged_activity".into(),
        Value::String(rfc3339(job.activity_ns)),
    );
    if let Some(llm) = &spec.llm {
        metadata.insert("model".into(), Value::String(llm.model.clone()));
    }
    if let Some(b) = job.backfill_id {
        metadata.insert("backfill_id".into(), json!(b));
    }
    let explanation = verdict
        .explanation
        .map(|e| clip_bytes(e, MAX_EXPLANATION_BYTES));
    NewAnnotation {
        session_id: job.session_id.clone(),
        name: spec.name.clone(),
        annotator_kind: match spec.kind {
            EvaluatorKind::LlmJudge => AnnotatorKind::Llm,
            EvaluatorKind::Code => AnnotatorKind::Code,
        },
        label: verdict.label,
        score: verdict.score,
        explanation,
        metadata,
        identifier: format!("{}@v{version}", spec.name),
        user_id: None,
        // written by a program through the server, not by a person in the UI
        source: AnnotationSource::Api,
    }
}

fn clip_bytes(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}
