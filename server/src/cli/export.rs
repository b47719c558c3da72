//! `oi-sessions export`: the sessions matching a filter, streamed page by page
//! from the API into JSONL (one session per line, with everything `import`
//! needs to rebuild it), CSV (one row per turn) or OpenAI-style chat messages
//! (one conversation per line). Memory holds one page of the list and one
//! session, whatever the number of sessions.

use std::collections::VecDeque;
use std::io::Write;

use tokio::task::JoinHandle;

use openinference_session::evals::{Role, messages};
use serde_json::{Map, Value, json};

use super::http::{ApiClient, encode};
use super::progress::Progress;
use super::sessions::{for_each_session, turns};
use super::{CliError, ExportArgs, ExportFormat};

/// Sessions fetched at once.
const IN_FLIGHT: usize = 8;

/// The version of the JSONL layout, in every line (`import` checks it).
pub const JSONL_VERSION: i64 = 1;

/// The CSV columns, one row per turn.
pub const CSV_COLUMNS: [&str; 16] = [
    "project",
    "session_id",
    "turn",
    "trace_id",
    "start_time",
    "end_time",
    "latency_ms",
    "status",
    "user_id",
    "input",
    "output",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
    "session_tags",
];

/// Runs `oi-sessions export`.
pub async fn run(args: ExportArgs) -> Result<(), CliError> {
    let client = args.client.client()?;
    let (mut sink, name): (Box<dyn Write>, String) = match &args.output {
        Some(path) => (
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| CliError::io(path.display(), e))?,
            )),
            path.display().to_string(),
        ),
        None => (
            Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            "stdout".to_owned(),
        ),
    };
    let write_err = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        CliError::io(&name, e)
    };
    if args.format == ExportFormat::Csv {
        sink.write_all(csv_row(CSV_COLUMNS.iter().map(|c| (*c).to_owned())).as_bytes())
            .map_err(write_err)?;
    }
    let mut progress = Progress::new("sessions", None);
    let project_path = args.client.project_path();
    let mut skipped = 0usize;
    // Sessions are fetched a few at once (the server answers in parallel) and
    // written in list order; memory holds at most that many sessions.
    let mut in_flight: VecDeque<JoinHandle<Result<Option<String>, CliError>>> = VecDeque::new();
    let mut write = |text: Option<String>| -> Result<(), CliError> {
        match text {
            Some(text) => sink.write_all(text.as_bytes()).map_err(write_err)?,
            None => skipped += 1,
        }
        progress.add(1);
        Ok(())
    };
    let count = for_each_session(
        &client,
        &args.client,
        &args.filter,
        args.limit,
        async |session| {
            let (client, project_path, format) =
                (client.clone(), project_path.clone(), args.format);
            in_flight.push_back(tokio::spawn(async move {
                render(&client, &project_path, format, session).await
            }));
            if in_flight.len() >= IN_FLIGHT
                && let Some(first) = in_flight.pop_front()
            {
                write(joined(first).await?)?;
            }
            Ok(())
        },
    )
    .await?;
    while let Some(next) = in_flight.pop_front() {
        write(joined(next).await?)?;
    }
    sink.flush().map_err(write_err)?;
    progress.finish();
    drop(sink);
    if skipped > 0 {
        eprintln!("{skipped} sessions without any message were left out of the openai export");
    }
    if args.output.is_some() {
        eprintln!("exported {count} sessions to {name}");
    }
    Ok(())
}

async fn joined(
    task: JoinHandle<Result<Option<String>, CliError>>,
) -> Result<Option<String>, CliError> {
    task.await.map_err(|e| CliError::Answer {
        path: "export".into(),
        reason: format!("a fetch failed: {e}"),
    })?
}

/// One session in the chosen format (`None`: an OpenAI line without any
/// message, left out).
async fn render(
    client: &ApiClient,
    project_path: &str,
    format: ExportFormat,
    session: Value,
) -> Result<Option<String>, CliError> {
    let session_id = session
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let path = format!("{project_path}/sessions/{}", encode(&session_id));
    let turns = turns(client, &path).await?;
    Ok(match format {
        ExportFormat::Jsonl => {
            let line = jsonl_line(client, project_path, &path, session, turns).await?;
            Some(format!("{line}\n"))
        }
        ExportFormat::Csv => {
            let mut rows = String::new();
            for (i, turn) in turns.iter().enumerate() {
                rows.push_str(&csv_turn(&session, i, turn));
            }
            Some(rows)
        }
        ExportFormat::Openai => openai_line(&turns).map(|line| format!("{line}\n")),
    })
}

/// A session as one JSONL line: the list's fields, every turn, every
/// annotation (notes too), and each turn's trace with its spans, in the shape
/// the API returns them.
async fn jsonl_line(
    client: &ApiClient,
    project_path: &str,
    session_path: &str,
    session: Value,
    turns: Vec<Value>,
) -> Result<Value, CliError> {
    let Value::Object(mut line) = session else {
        return Err(CliError::Answer {
            path: session_path.to_owned(),
            reason: "a session is not an object".into(),
        });
    };
    // Summaries and references; the full annotations and traces follow.
    line.remove("traces");
    line.remove("annotations");
    let annotations = client.get(&format!("{session_path}/annotations")).await?;
    let annotations = annotations
        .get("data")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    let mut traces = Vec::with_capacity(turns.len());
    for turn in &turns {
        let trace_id = turn
            .get("trace_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let trace = client
            .get(&format!("{project_path}/traces/{}", encode(trace_id)))
            .await?;
        let spans: Vec<Value> = trace
            .get("spans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| {
                let mut s = s.clone();
                if let Some(o) = s.as_object_mut() {
                    // Derived by the server from the attributes on read.
                    o.remove("step");
                }
                s
            })
            .collect();
        traces.push(json!({"trace_id": trace_id, "spans": spans}));
    }
    let mut out = Map::new();
    out.insert("oi_sessions_export".into(), json!(JSONL_VERSION));
    out.append(&mut line);
    out.insert("turns".into(), Value::Array(turns));
    out.insert("annotations".into(), annotations);
    out.insert("traces".into(), Value::Array(traces));
    Ok(Value::Object(out))
}

/// The conversation as OpenAI chat messages, by the core's transcript rules
/// (a turn's input is the user's message, its output the assistant's); `None`
/// when it has no message.
fn openai_line(turns: &[Value]) -> Option<Value> {
    let pairs: Vec<(Option<&str>, Option<&str>)> = turns
        .iter()
        .map(|t| {
            (
                t.pointer("/input/value").and_then(Value::as_str),
                t.pointer("/output/value").and_then(Value::as_str),
            )
        })
        .collect();
    let messages = messages(pairs);
    if messages.is_empty() {
        return None;
    }
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "role": match m.role { Role::User => "user", Role::Assistant => "assistant" },
                "content": m.content,
            })
        })
        .collect();
    Some(json!({ "messages": messages }))
}

fn csv_turn(session: &Value, index: usize, turn: &Value) -> String {
    let s = |v: &Value, p: &str| match v.pointer(p) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let tags = session
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(";")
        })
        .unwrap_or_default();
    csv_row(
        [
            s(session, "/project"),
            s(session, "/session_id"),
            (index + 1).to_string(),
            s(turn, "/trace_id"),
            s(turn, "/start_time"),
            s(turn, "/end_time"),
            s(turn, "/latency_ms"),
            s(turn, "/status"),
            s(turn, "/user_id"),
            s(turn, "/input/value"),
            s(turn, "/output/value"),
            s(turn, "/token_count/prompt"),
            s(turn, "/token_count/completion"),
            s(turn, "/token_count/total"),
            s(turn, "/cost/total"),
            tags,
        ]
        .into_iter(),
    )
}

/// One CSV record (RFC 4180: a field with a comma, quote or line break is
/// quoted, its quotes doubled), ended by CRLF.
fn csv_row(fields: impl Iterator<Item = String>) -> String {
    let mut row = String::new();
    for (i, f) in fields.enumerate() {
        if i > 0 {
            row.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            row.push('"');
            row.push_str(&f.replace('"', "\"\""));
            row.push('"');
        } else {
            row.push_str(&f);
        }
    }
    row.push_str("\r\n");
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        let row = csv_row(
            ["a", "b,c", "say \"hi\"", "two\nlines"]
                .into_iter()
                .map(str::to_owned),
        );
        assert_eq!(row, "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
    }

    #[test]
    fn openai_lines_follow_the_transcript_rules() {
        let turns = vec![
            json!({"input": {"value": "hi"}, "output": {"value": "hello"}}),
            json!({"input": {"value": "bye"}, "output": null}),
        ];
        assert_eq!(
            openai_line(&turns).unwrap(),
            json!({"messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "bye"},
            ]})
        );
        assert_eq!(openai_line(&[json!({"input": null, "output": null})]), None);
    }
}
