//! `oi-sessions migrate --from <data-dir> --to postgres://...`: everything in
//! a SQLite data dir copied into PostgreSQL through the [`Store`] trait, in
//! batches, resumable, and verified at the end.
//!
//! - **What is copied.** Projects (with their descriptions and settings),
//!   evaluators, spans (with their own events), the GenAI events that arrived
//!   as log records, session annotations (notes too), annotation configs.
//!   Traces, sessions, turns, sums and costs are not copied but derived again
//!   by the target from the spans, by the same rules as on ingest (costs from
//!   the price table: pass `--prices` as given to `serve`). What the server
//!   keeps about its own work is not copied: the evaluation job queue and
//!   backfills; every copied session counts as already judged (its verdicts
//!   are annotations, copied), so evaluators judge only what arrives next.
//!   Each session keeps its original's last activity (which idleness and
//!   retention count from), set after its spans are written; when
//!   annotations were written is the time of the copy.
//! - **Resumable.** Every write is idempotent (a span is stored once per
//!   (project, trace id, span id), an event per digest, an annotation per key), and
//!   after each committed batch the position reached is saved in
//!   `oi-sessions.migrate.json` in the data dir. A migration interrupted (even
//!   by `kill -9`) continues from there when run again with the same `--to`;
//!   the batch in flight is written again, which changes nothing.
//! - **Verified.** At the end both stores are read whole and compared: counts
//!   and order-independent checksums of projects, sessions (their fields and
//!   sums), spans, events, annotations, evaluators, configs and settings.
//!   Any difference is printed and the command exits 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};

use super::progress::Progress;
use super::{CliError, out};
use crate::annotation::NewAnnotation;
use crate::config::{StoreArgs, StoreLocation};
use crate::pricing::PriceTable;
use crate::store::postgres::{PostgresStore, describe, parse_url};
use crate::store::sqlite::{Check, DB_FILE, SqliteStore};
use crate::store::{PageQuery, Put, SessionQuery, Store, StoreError};

/// Where an interrupted migration's position is kept, in the data dir.
pub const CHECKPOINT_FILE: &str = "oi-sessions.migrate.json";

/// `oi-sessions migrate`
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite data dir to copy from (no server may be running on it)
    #[arg(long)]
    pub from: PathBuf,
    /// The PostgreSQL database to copy into (postgres://user:password@host:port/db; from the environment, the password stays out of the process list)
    #[arg(long, env = "OI_SESSIONS_DATABASE_URL", hide_env_values = true)]
    pub to: String,
    /// The price file `serve` was given, if any (costs are derived again from it)
    #[arg(long, env = "OI_SESSIONS_PRICES")]
    pub prices: Option<PathBuf>,
    /// Start over, ignoring the position an interrupted migration saved
    #[arg(long)]
    pub restart: bool,
    /// Spans (events, annotations) per batch, one transaction each
    #[arg(long, default_value_t = 2_000)]
    pub batch: usize,
    /// Print the verification as JSON
    #[arg(long)]
    pub json: bool,
}

/// How far a migration got: the last row id copied of each kind.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    /// The target, without its password (for people).
    target: String,
    /// A digest of the target URL (to tell targets apart).
    target_key: String,
    spans_after: i64,
    events_after: i64,
    annotations_after: i64,
    annotations_done: bool,
}

impl Checkpoint {
    fn path(dir: &Path) -> PathBuf {
        dir.join(CHECKPOINT_FILE)
    }

    fn load(dir: &Path) -> Result<Option<Self>, CliError> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                CliError::Usage(format!(
                    "{} is not a migration's position ({e}): remove it or pass --restart",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CliError::io(path.display(), e)),
        }
    }

    /// Saves the position: written aside, then renamed over the last one, so
    /// a kill leaves either the old position or the new one.
    fn save(&self, dir: &Path) -> Result<(), CliError> {
        let path = Self::path(dir);
        let tmp = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).unwrap_or_default())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| CliError::io(path.display(), e))
    }
}

/// 64-bit FNV-1a.
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// JSON text with object keys sorted and non-integer numbers written to 12
/// significant digits (sums of costs may differ in the last bits between
/// databases that add in another order).
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            out.push_str(&format!("{f:.11e}"));
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A count and an order-independent checksum of a set of items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    count: u64,
    sum: u64,
}

impl Tally {
    fn add(&mut self, item: &Value) {
        let mut text = String::new();
        canonical(item, &mut text);
        self.count += 1;
        self.sum = self.sum.wrapping_add(fnv(text.as_bytes()));
    }
}

/// What the verification compares, by name.
type Tallies = BTreeMap<&'static str, Tally>;

fn store_err(context: &str) -> impl Fn(StoreError) -> CliError + '_ {
    move |e| CliError::store(context, e)
}

/// Runs `oi-sessions migrate`.
pub fn run(args: MigrateArgs) -> Result<(), CliError> {
    let StoreLocation::Postgres(url) = (StoreArgs {
        data_dir: None,
        database_url: Some(args.to.clone()),
    })
    .resolve()
    .map_err(|_| CliError::Usage("--to must be a postgres:// or postgresql:// url".into()))?
    else {
        unreachable!("a database url was given")
    };
    if args.batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".into()));
    }
    let prices = match &args.prices {
        Some(p) => PriceTable::with_file(p).map_err(|e| CliError::Usage(e.to_string()))?,
        None => PriceTable::default(),
    };
    if !args.from.join(DB_FILE).exists() {
        return Err(CliError::Usage(format!(
            "no database in {} (the --from data dir holds {DB_FILE})",
            args.from.display()
        )));
    }
    let source = SqliteStore::open_dir_with(&args.from, Check::Quick)
        .map_err(store_err(&format!("cannot open {}", args.from.display())))?;
    let config = parse_url(url.expose()).map_err(store_err("--to"))?;
    let target_name = format!("postgresql {}", describe(&config));
    let target = PostgresStore::open(url.expose())
        .map_err(store_err(&format!("cannot open {target_name}")))?;
    let key = format!("{:016x}", fnv(url.expose().as_bytes()));

    let mut checkpoint = match Checkpoint::load(&args.from)? {
        Some(c) if args.restart => {
            let _ = c;
            None
        }
        Some(c) if c.target_key != key => {
            return Err(CliError::Usage(format!(
                "an interrupted migration into {} is recorded in {}: run it again with that --to, or pass --restart",
                c.target,
                Checkpoint::path(&args.from).display()
            )));
        }
        other => other,
    };
    if checkpoint.is_none() {
        let holds = target
            .projects()
            .map_err(store_err("cannot read the target"))?
            .iter()
            .any(|p| p.trace_count > 0 || p.session_count > 0);
        if holds && !args.restart {
            return Err(CliError::Usage(format!(
                "{target_name} already holds sessions: migrate into an empty database (or pass --restart to copy over what is there)"
            )));
        }
        checkpoint = Some(Checkpoint {
            target: target_name.clone(),
            target_key: key,
            ..Default::default()
        });
    }
    let mut at = checkpoint.unwrap_or_default();
    let resumed = at.spans_after > 0 || at.events_after > 0 || at.annotations_after > 0;
    if resumed && !args.json {
        out(&format!(
            "continuing the migration into {target_name} (spans after row {}, events after {}, annotations after {})",
            at.spans_after, at.events_after, at.annotations_after
        ))?;
    }
    at.save(&args.from)?;

    copy_projects(&source, &target)?;
    let mut progress = Progress::new("spans", None);
    loop {
        let batch = source
            .copy_spans(at.spans_after, args.batch)
            .map_err(store_err("cannot read spans"))?;
        let Some(last) = batch.last().map(|s| s.rowid) else {
            break;
        };
        let n = batch.len();
        let records = batch
            .into_iter()
            .map(|s| s.into_record(&prices))
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_err("cannot read spans"))?;
        target
            .write(&records)
            .map_err(store_err("cannot write spans"))?;
        at.spans_after = last;
        at.save(&args.from)?;
        progress.add(n as u64);
    }
    progress.phase("events", None);
    loop {
        let batch = source
            .copy_events(at.events_after, args.batch)
            .map_err(store_err("cannot read events"))?;
        let Some(last) = batch.last().map(|e| e.0) else {
            break;
        };
        let events: Vec<_> = batch.into_iter().map(|(_, e)| e).collect();
        target
            .write_events(&events)
            .map_err(store_err("cannot write events"))?;
        at.events_after = last;
        at.save(&args.from)?;
        progress.add(events.len() as u64);
    }
    progress.phase("annotations", None);
    while !at.annotations_done {
        let batch = source
            .copy_annotations(at.annotations_after, args.batch.min(1_000))
            .map_err(store_err("cannot read annotations"))?;
        let Some(last) = batch.last().map(|a| a.1.id) else {
            at.annotations_done = true;
            at.save(&args.from)?;
            break;
        };
        let new: Vec<(String, NewAnnotation)> = batch
            .into_iter()
            .map(|(project, a)| {
                (
                    project,
                    NewAnnotation {
                        session_id: a.session_id,
                        name: a.name,
                        annotator_kind: a.annotator_kind,
                        label: a.label,
                        score: a.score,
                        explanation: a.explanation,
                        metadata: a.metadata,
                        identifier: a.identifier,
                        user_id: a.user_id,
                        source: a.source,
                    },
                )
            })
            .collect();
        target
            .upsert_annotations_in(&new)
            .map_err(store_err("cannot write annotations"))?;
        at.annotations_after = last;
        at.save(&args.from)?;
        progress.add(new.len() as u64);
    }
    progress.finish();
    // After the annotations: a config governs writes from now on, and
    // annotations older than their config need not fit it.
    copy_annotation_configs(&source, &target)?;
    carry_over_sessions(&source, &target)?;

    let (a, b) = (tally(&source)?, tally(&target)?);
    let mut rows = Vec::new();
    let mut mismatches = Vec::new();
    for (what, x) in &a {
        let y = b.get(what).copied().unwrap_or_default();
        let ok = *x == y;
        if !ok {
            mismatches.push(*what);
        }
        rows.push(json!({
            "what": what,
            "source": {"count": x.count, "checksum": format!("{:016x}", x.sum)},
            "copy": {"count": y.count, "checksum": format!("{:016x}", y.sum)},
            "ok": ok,
        }));
    }
    if args.json {
        out(
            &json!({"target": target_name, "verified": mismatches.is_empty(), "tables": rows})
                .to_string(),
        )?;
    } else {
        out(&format!(
            "copied {} into {target_name}",
            args.from.display()
        ))?;
        out(&format!(
            "{:<14} {:>10} {:>10}  {:<16} {:<16}",
            "WHAT", "SOURCE", "COPY", "CHECKSUM", "COPY CHECKSUM"
        ))?;
        for r in &rows {
            out(&format!(
                "{:<14} {:>10} {:>10}  {} {}{}",
                r["what"].as_str().unwrap_or_default(),
                r["source"]["count"].as_u64().unwrap_or_default(),
                r["copy"]["count"].as_u64().unwrap_or_default(),
                r["source"]["checksum"].as_str().unwrap_or_default(),
                r["copy"]["checksum"].as_str().unwrap_or_default(),
                if r["ok"] == true { "" } else { "  MISMATCH" }
            ))?;
        }
    }
    if mismatches.is_empty() {
        // Done: the next run starts over.
        let _ = std::fs::remove_file(Checkpoint::path(&args.from));
        if !args.json {
            out("verified: counts and checksums match")?;
        }
        Ok(())
    } else {
        Err(CliError::Mismatch(format!(
            "the copy differs from the source in {} (different prices? pass --prices as given to serve); run again to retry",
            mismatches.join(", ")
        )))
    }
}

/// Projects with their descriptions, settings and evaluators (idempotent:
/// run again on every resume).
fn copy_projects(source: &SqliteStore, target: &PostgresStore) -> Result<(), CliError> {
    for p in source
        .projects()
        .map_err(store_err("cannot read projects"))?
    {
        match target.create_project(&p.name, p.description.as_deref()) {
            Ok(_) => {}
            Err(StoreError::AlreadyExists(_)) => {
                target
                    .update_project(&p.name, p.description.as_deref())
                    .map_err(store_err("cannot write a project"))?;
            }
            Err(e) => return Err(CliError::store("cannot write a project", e)),
        }
        let settings = source
            .project_settings(&p.name)
            .map_err(store_err("cannot read settings"))?;
        target
            .set_project_settings(&p.name, &settings)
            .map_err(store_err("cannot write settings"))?;
        for e in source
            .evaluators(&p.name)
            .map_err(store_err("cannot read evaluators"))?
        {
            target
                .put_evaluator(&p.name, &e.name, e.enabled, &e.definition, Put::Upsert)
                .map_err(store_err("cannot write an evaluator"))?;
        }
    }
    Ok(())
}

fn copy_annotation_configs(source: &SqliteStore, target: &PostgresStore) -> Result<(), CliError> {
    for p in source
        .projects()
        .map_err(store_err("cannot read projects"))?
    {
        for c in source
            .annotation_configs(&p.name)
            .map_err(store_err("cannot read annotation configs"))?
        {
            target
                .put_annotation_config(&p.name, &c, Put::Upsert)
                .map_err(store_err("cannot write an annotation config"))?;
        }
    }
    Ok(())
}

/// Every session of `store`, page by page.
fn for_each_session(
    store: &dyn Store,
    project: &str,
    mut each: impl FnMut(crate::model::SessionInfo) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut cursor = None;
    loop {
        let page = store
            .sessions(
                project,
                &SessionQuery {
                    page: PageQuery {
                        limit: 1000,
                        cursor,
                    },
                    ..Default::default()
                },
            )
            .map_err(store_err("cannot read sessions"))?;
        for s in page.data {
            each(s)?;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// Gives every copied session its original's last activity (the copy's is
/// when the migration wrote its traces), so idleness and retention count
/// from when the traces first arrived, and records it as seen idle up to
/// then, so the target's evaluators do not judge the whole history again.
fn carry_over_sessions(source: &SqliteStore, target: &PostgresStore) -> Result<(), CliError> {
    for p in source
        .projects()
        .map_err(store_err("cannot read projects"))?
    {
        let mut original = Vec::new();
        for_each_session(source, &p.name, |s| {
            original.push((s.session_id, s.last_activity_ns));
            Ok(())
        })?;
        for chunk in original.chunks(1_000) {
            target
                .restore_last_activity(&p.name, chunk)
                .map_err(store_err("cannot restore the sessions' last activity"))?;
            target
                .enqueue_jobs(&p.name, &[], chunk)
                .map_err(store_err("cannot record sessions as judged"))?;
        }
    }
    Ok(())
}

/// Counts and checksums of everything a migration copies, read through the
/// trait (the same reads on either side).
fn tally(store: &dyn Store) -> Result<Tallies, CliError> {
    let mut t = Tallies::new();
    for name in [
        "projects",
        "settings",
        "evaluators",
        "configs",
        "sessions",
        "spans",
        "events",
        "annotations",
    ] {
        t.insert(name, Tally::default());
    }
    let get = |t: &mut Tallies, k: &'static str, v: &Value| t.get_mut(k).map(|x| x.add(v));
    for p in store
        .projects()
        .map_err(store_err("cannot read projects"))?
    {
        get(
            &mut t,
            "projects",
            &json!([
                p.name,
                p.description,
                p.trace_count,
                p.session_count,
                p.traces_without_session
            ]),
        );
        let s = store
            .project_settings(&p.name)
            .map_err(store_err("cannot read settings"))?;
        get(
            &mut t,
            "settings",
            &json!([p.name, s.session_idle_ns, s.retention_ns]),
        );
        for e in store
            .evaluators(&p.name)
            .map_err(store_err("cannot read evaluators"))?
        {
            get(
                &mut t,
                "evaluators",
                &json!([p.name, e.name, e.enabled, e.definition]),
            );
        }
        for c in store
            .annotation_configs(&p.name)
            .map_err(store_err("cannot read annotation configs"))?
        {
            get(
                &mut t,
                "configs",
                &json!([p.name, serde_json::to_value(&c).unwrap_or_default()]),
            );
        }
        for_each_session(store, &p.name, |s| {
            let mut v = serde_json::to_value(&s).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                // read at the time of the read: it may change between the two
                o.remove("status");
            }
            get(&mut t, "sessions", &v);
            Ok(())
        })?;
    }
    let mut after = 0;
    loop {
        let batch = store
            .copy_spans(after, 2_000)
            .map_err(store_err("cannot read spans"))?;
        let Some(last) = batch.last().map(|s| s.rowid) else {
            break;
        };
        for s in batch {
            get(
                &mut t,
                "spans",
                &json!([
                    s.project,
                    crate::model::hex(&s.trace_id),
                    serde_json::to_value(&s.span).unwrap_or_default()
                ]),
            );
        }
        after = last;
    }
    let mut after = 0;
    loop {
        let batch = store
            .copy_events(after, 2_000)
            .map_err(store_err("cannot read events"))?;
        let Some(last) = batch.last().map(|e| e.0) else {
            break;
        };
        for (_, e) in batch {
            get(
                &mut t,
                "events",
                &json!([
                    e.project,
                    crate::model::hex(&e.trace_id),
                    crate::model::hex(&e.facts.span_id),
                    e.digest,
                    e.facts.time_ns,
                    e.name,
                    e.attributes,
                    e.body
                ]),
            );
        }
        after = last;
    }
    let mut after = 0;
    loop {
        let batch = store
            .copy_annotations(after, 1_000)
            .map_err(store_err("cannot read annotations"))?;
        let Some(last) = batch.last().map(|a| a.1.id) else {
            break;
        };
        for (p, a) in batch {
            get(
                &mut t,
                "annotations",
                &json!([
                    p,
                    a.session_id,
                    a.name,
                    a.identifier,
                    a.annotator_kind.as_str(),
                    a.label,
                    a.score,
                    a.explanation,
                    a.metadata,
                    a.user_id,
                    serde_json::to_value(a.source).unwrap_or_default()
                ]),
            );
        }
        after = last;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_ignore_key_order_and_the_last_bits_of_sums() {
        let mut a = Tally::default();
        a.add(&json!({"b": 0.1 + 0.2, "a": [1, "x"]}));
        a.add(&json!({"c": 1}));
        let mut b = Tally::default();
        b.add(&json!({"c": 1}));
        b.add(&json!({"a": [1, "x"], "b": 0.3}));
        assert_eq!(a, b);
        let mut c = Tally::default();
        c.add(&json!({"c": 2}));
        c.add(&json!({"a": [1, "x"], "b": 0.3}));
        assert_ne!(a.sum, c.sum);
    }
}
