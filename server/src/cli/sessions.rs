//! `oi-sessions sessions list|show|delete` and `oi-sessions annotate`: a
//! project's sessions from a terminal, as a table or the conversation for
//! people, as JSON for scripts.

use serde_json::{Value, json};

use super::http::{ApiClient, encode, query};
use super::{
    AnnotateArgs, CliError, ClientArgs, SessionFilter, SessionsArgs, SessionsCommand, out,
};

/// Runs `oi-sessions sessions ...`.
pub async fn run(args: SessionsArgs) -> Result<(), CliError> {
    let client = args.client.client()?;
    match args.command {
        SessionsCommand::List { filter, limit } => {
            list(&client, &args.client, &filter, limit).await
        }
        SessionsCommand::Show { session_id } => show(&client, &args.client, &session_id).await,
        SessionsCommand::Delete { session_ids } => {
            delete(&client, &args.client, &session_ids).await
        }
    }
}

/// Calls `each` with every session of the project matching `filter`, page by
/// page (one page in memory at a time), up to `limit`.
pub async fn for_each_session<F>(
    client: &ApiClient,
    args: &ClientArgs,
    filter: &SessionFilter,
    limit: Option<usize>,
    mut each: F,
) -> Result<usize, CliError>
where
    F: AsyncFnMut(Value) -> Result<(), CliError>,
{
    let base = filter.params()?;
    let mut cursor: Option<String> = None;
    let mut seen = 0usize;
    loop {
        let page_size = limit.map_or(200, |l| (l - seen).clamp(1, 200));
        let mut params = base.clone();
        params.push(("limit".into(), page_size.to_string()));
        if let Some(c) = &cursor {
            params.push(("cursor".into(), c.clone()));
        }
        let path = format!("{}/sessions{}", args.project_path(), query(&params));
        let page = client.get(&path).await?;
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| CliError::Answer {
                path: path.clone(),
                reason: "no data array".into(),
            })?;
        for session in data {
            each(session.clone()).await?;
            seen += 1;
            if limit.is_some_and(|l| seen >= l) {
                return Ok(seen);
            }
        }
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(seen),
        }
    }
}

async fn list(
    client: &ApiClient,
    args: &ClientArgs,
    filter: &SessionFilter,
    limit: usize,
) -> Result<(), CliError> {
    let mut rows: Vec<Value> = Vec::new();
    for_each_session(client, args, filter, Some(limit.max(1)), async |s| {
        rows.push(s);
        Ok(())
    })
    .await?;
    if args.json {
        return out(&Value::Array(rows).to_string());
    }
    if rows.is_empty() {
        return out("no sessions");
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            vec![
                text(s, "session_id"),
                short_time(&text(s, "start_time")),
                num(s, "/num_traces"),
                num(s, "/token_count/total"),
                format!(
                    "{:.4}",
                    s.pointer("/cost/total")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0)
                ),
                list_text(s, "user_ids"),
                if num(s, "/num_traces_with_error") == "0" {
                    String::new()
                } else {
                    num(s, "/num_traces_with_error")
                },
                one_line(
                    s.pointer("/first_input/value")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    60,
                ),
            ]
        })
        .collect();
    print_table(
        &[
            "SESSION",
            "START",
            "TURNS",
            "TOKENS",
            "COST",
            "USERS",
            "ERRORS",
            "FIRST INPUT",
        ],
        &table,
    )
}

async fn show(client: &ApiClient, args: &ClientArgs, session_id: &str) -> Result<(), CliError> {
    let base = format!("{}/sessions/{}", args.project_path(), encode(session_id));
    let session = client.get(&base).await?;
    let turns = turns(client, &base).await?;
    let annotations = client.get(&format!("{base}/annotations")).await?;
    let annotations = annotations.get("data").cloned().unwrap_or(annotations);
    if args.json {
        return out(
            &json!({"session": session, "turns": turns, "annotations": annotations}).to_string(),
        );
    }
    out(&format!(
        "session {}  ({})",
        text(&session, "session_id"),
        text(&session, "project")
    ))?;
    out(&format!(
        "  {} → {}  ·  {} turns  ·  {} tokens  ·  ${:.4}{}",
        short_time(&text(&session, "start_time")),
        short_time(&text(&session, "end_time")),
        num(&session, "/num_traces"),
        num(&session, "/token_count/total"),
        session
            .pointer("/cost/total")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        match list_text(&session, "user_ids") {
            u if u.is_empty() => String::new(),
            u => format!("  ·  user {u}"),
        }
    ))?;
    if let Some(tags) = session
        .get("tags")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
    {
        out(&format!("  tags: {}", list_text(&json!({"t": tags}), "t")))?;
    }
    if let Some(m) = session
        .get("metadata")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
    {
        out(&format!("  metadata: {}", Value::Object(m.clone())))?;
    }
    for (i, turn) in turns.iter().enumerate() {
        out("")?;
        out(&format!(
            "── turn {} · {} · {:.1}s{}",
            i + 1,
            short_time(&text(turn, "start_time")),
            turn.get("latency_ms")
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
                / 1000.0,
            if text(turn, "status") == "error" {
                " · ERROR"
            } else {
                ""
            }
        ))?;
        if let Some(input) = turn.pointer("/input/value").and_then(Value::as_str) {
            out(&format!("user: {}", indent(input)))?;
        }
        // The tool calls of the turn, from its trace's spans.
        let trace_id = text(turn, "trace_id");
        let trace = client
            .get(&format!(
                "{}/traces/{}",
                args.project_path(),
                encode(&trace_id)
            ))
            .await?;
        for span in trace
            .get("spans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(step) = span.get("step").filter(|s| !s.is_null()) else {
                continue;
            };
            if step.get("kind").and_then(Value::as_str) != Some("TOOL") {
                continue;
            }
            let attr = |key: &str| {
                step.get(key)
                    .and_then(Value::as_str)
                    .and_then(|k| {
                        span.pointer(&format!(
                            "/attributes/{}",
                            k.replace('~', "~0").replace('/', "~1")
                        ))
                    })
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .unwrap_or_default()
            };
            out(&format!(
                "  ↳ tool {}({}) → {}",
                text(step, "title"),
                one_line(&attr("input_key"), 80),
                one_line(&attr("output_key"), 80)
            ))?;
        }
        if let Some(output) = turn.pointer("/output/value").and_then(Value::as_str) {
            out(&format!("assistant: {}", indent(output)))?;
        }
    }
    let annotations = annotations.as_array().cloned().unwrap_or_default();
    if !annotations.is_empty() {
        out("")?;
        out("annotations:")?;
        for a in &annotations {
            let mut parts = vec![text(a, "name")];
            if let Some(l) = a.get("label").and_then(Value::as_str) {
                parts.push(format!("label={l}"));
            }
            if let Some(s) = a.get("score").and_then(Value::as_f64) {
                parts.push(format!("score={s}"));
            }
            parts.push(format!("({})", text(a, "annotator_kind")));
            if let Some(e) = a.get("explanation").and_then(Value::as_str) {
                parts.push(format!("— {}", one_line(e, 100)));
            }
            out(&format!("  {}", parts.join(" ")))?;
        }
    }
    Ok(())
}

/// Every turn of a session, page by page.
pub async fn turns(client: &ApiClient, session_path: &str) -> Result<Vec<Value>, CliError> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = vec![("limit".to_owned(), "1000".to_owned())];
        if let Some(c) = &cursor {
            params.push(("cursor".into(), c.clone()));
        }
        let page = client
            .get(&format!("{session_path}/turns{}", query(&params)))
            .await?;
        if let Some(data) = page.get("data").and_then(Value::as_array) {
            all.extend(data.iter().cloned());
        }
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(all),
        }
    }
}

async fn delete(client: &ApiClient, args: &ClientArgs, ids: &[String]) -> Result<(), CliError> {
    let mut deleted = Vec::new();
    for id in ids {
        client
            .delete(&format!("{}/sessions/{}", args.project_path(), encode(id)))
            .await?;
        deleted.push(id.clone());
        if !args.json {
            out(&format!("deleted {id}"))?;
        }
    }
    if args.json {
        out(&json!({"deleted": deleted}).to_string())?;
    }
    Ok(())
}

/// Runs `oi-sessions annotate`.
pub async fn annotate(args: AnnotateArgs) -> Result<(), CliError> {
    if args.label.is_none() && args.score.is_none() && args.explanation.is_none() {
        return Err(CliError::Usage(
            "an annotation needs --label, --score or --explanation".into(),
        ));
    }
    let client = args.client.client()?;
    let body = json!({
        "name": args.name,
        "annotator_kind": args.annotator_kind,
        "label": args.label,
        "score": args.score,
        "explanation": args.explanation,
        "identifier": args.identifier,
    });
    let answer = client
        .post(
            &format!(
                "{}/sessions/{}/annotations",
                args.client.project_path(),
                encode(&args.session_id)
            ),
            &body,
        )
        .await?;
    if args.client.json {
        return out(&answer.to_string());
    }
    let stored = answer.get("data").unwrap_or(&answer);
    let stored = stored.as_array().and_then(|a| a.first()).unwrap_or(stored);
    out(&format!(
        "annotated {} with {} (id {})",
        args.session_id,
        text(stored, "name"),
        stored.get("id").map(Value::to_string).unwrap_or_default()
    ))
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn num(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).map(Value::to_string).unwrap_or_default()
}

fn list_text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// `2026-11-25T14:11:04.481083091Z` as `2026-11-25 14:11:04`.
fn short_time(t: &str) -> String {
    t.get(..19)
        .map_or_else(|| t.to_owned(), |s| s.replacen('T', " ", 1))
}

/// One line of at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A message's continuation lines indented under its role.
fn indent(s: &str) -> String {
    s.trim_end().replace('\n', "\n  ")
}

/// A table, columns padded to their widest cell (counted in characters).
fn print_table(header: &[&str], rows: &[Vec<String>]) -> Result<(), CliError> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    out(line(header.iter().map(|h| (*h).to_owned()).collect()).trim_end())?;
    for row in rows {
        out(line(row.clone()).trim_end())?;
    }
    Ok(())
}
