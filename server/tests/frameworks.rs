//! Golden turns of real frameworks: each directory of
//! `tests/fixtures/frameworks/` holds what one framework's 3-turn chat app
//! exported (recorded by `tests/frameworks/record.sh`) and `expected.json`, the
//! turns a person should read. Each test posts the recorded OTLP JSON requests
//! to a real server, in the recorded order, and compares the session's turns
//! from the API with the golden ones: session, user, each turn's input and
//! output text, token totals (tool steps: `tools_called`). A failure lists
//! every difference, with what the server returned.

mod common;

use std::path::{Path, PathBuf};

use common::{Backend, TestServer};
use serde_json::Value;

/// One test per fixture directory, so a failure names the framework.
macro_rules! frameworks {
    ($($test:ident => $dir:literal),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                check($dir).await;
            }
        )*
    };
}

frameworks! {
    langchain_chain => "langchain-chain",
    langchain_agent => "langchain-agent",
    langgraph => "langgraph",
    llama_index => "llama-index",
    openai_agents => "openai-agents",
    pydantic_ai => "pydantic-ai",
    openai_openinference => "openai-openinference",
    openai_genai_latest => "openai-genai-latest",
    openai_genai_events => "openai-genai-events",
    anthropic_openinference => "anthropic-openinference",
    vercel_ai => "vercel-ai",
    vercel_ai_openinference => "vercel-ai-openinference",
    langchain_js => "langchain-js",
    openai_js_openinference => "openai-js-openinference",
}

/// Every fixture directory has its test above.
#[test]
fn every_fixture_directory_is_tested() {
    let listed = include_str!("frameworks.rs");
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().into_string().unwrap();
            assert!(
                listed.contains(&format!("=> \"{name}\"")),
                "fixture directory {name} has no test in frameworks!"
            );
        }
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frameworks")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn check(name: &str) {
    let dir = fixtures().join(name);
    let expected = read_json(&dir.join("expected.json"));
    let server = TestServer::start(Backend::Sqlite).await;
    let mut diffs = post_recorded(&server, &dir).await;

    let project = expected["project"].as_str().unwrap();
    let session = expected["session_id"].as_str().unwrap();
    let turns = server
        .get(&format!(
            "/v1/projects/{project}/sessions/{session}/turns?limit=1000"
        ))
        .await;
    let actual: Vec<Value> = if turns.status == 200 {
        turns.json()["data"].as_array().unwrap().clone()
    } else {
        // No such session: compare with the project's traces, so the report
        // still says what each turn read as.
        let traces = server
            .get(&format!("/v1/projects/{project}/traces?limit=1000"))
            .await;
        let mut traces: Vec<Value> = if traces.status == 200 {
            traces.json()["data"].as_array().unwrap().clone()
        } else {
            Vec::new()
        };
        traces.reverse(); // newest first in the API; turns are in time order
        diffs.push(format!(
            "session {session:?}: GET .../turns answered {}; the project's {} traces have session ids {:?}",
            turns.status,
            traces.len(),
            traces.iter().map(|t| &t["session_id"]).collect::<Vec<_>>()
        ));
        traces
    };

    let want = expected["turns"].as_array().unwrap();
    if actual.len() != want.len() {
        diffs.push(format!(
            "turns: {} expected, {} returned",
            want.len(),
            actual.len()
        ));
    }
    for (i, (want, got)) in want.iter().zip(&actual).enumerate() {
        let n = i + 1;
        compare(
            &mut diffs,
            &format!("turn {n} user_id"),
            &expected["user_id"],
            &got["user_id"],
        );
        compare(
            &mut diffs,
            &format!("turn {n} input"),
            &want["input"],
            &got["input"]["value"],
        );
        compare(
            &mut diffs,
            &format!("turn {n} output"),
            &want["output"],
            &got["output"]["value"],
        );
        match want["tokens"].as_object() {
            Some(tokens) => {
                for key in ["prompt", "completion", "total"] {
                    compare(
                        &mut diffs,
                        &format!("turn {n} tokens.{key}"),
                        &tokens[key],
                        &got["token_count"][key],
                    );
                }
            }
            // the framework reports none: nothing may be made up
            None => compare(
                &mut diffs,
                &format!("turn {n} tokens.total"),
                &Value::from(0),
                &got["token_count"]["total"],
            ),
        }
        let trace_id = got["trace_id"].as_str().unwrap_or_default();
        if let Some(tools) = tools_called(&server, project, trace_id).await {
            compare(
                &mut diffs,
                &format!("turn {n} tools"),
                &want["tools"],
                &Value::from(tools),
            );
        }
    }

    server.stop().await;
    assert!(
        diffs.is_empty(),
        "{name}: {} difference(s) from expected.json (expected vs returned):\n  {}",
        diffs.len(),
        diffs.join("\n  ")
    );
}

/// Posts traces.json and logs.json, request by request, in the order the app
/// sent them (order.json, when logs were sent; else the traces alone).
/// Returns what went wrong: a non-200 answer or records rejected one by one.
async fn post_recorded(server: &TestServer, dir: &Path) -> Vec<String> {
    let traces = read_json(&dir.join("traces.json"));
    let logs_path = dir.join("logs.json");
    let logs = if logs_path.exists() {
        read_json(&logs_path)
    } else {
        Value::Array(Vec::new())
    };
    let order_path = dir.join("order.json");
    let order: Vec<String> = if order_path.exists() {
        serde_json::from_value(read_json(&order_path)).unwrap()
    } else {
        vec!["traces".to_owned(); traces.as_array().unwrap().len()]
    };
    let (mut traces, mut logs) = (
        traces.as_array().unwrap().iter(),
        logs.as_array().unwrap().iter(),
    );
    let mut problems = Vec::new();
    for (i, signal) in order.iter().enumerate() {
        let request = match signal.as_str() {
            "traces" => traces.next(),
            "logs" => logs.next(),
            other => panic!("order.json: unknown signal {other:?}"),
        }
        .unwrap_or_else(|| {
            panic!("order.json names more {signal} requests than {signal}.json holds")
        });
        let reply = server
            .request(
                "POST",
                &format!("/v1/{signal}"),
                &[("content-type", "application/json")],
                request.to_string().as_bytes(),
            )
            .await;
        if reply.status != 200 {
            problems.push(format!(
                "request {} to /v1/{signal}: {} {}",
                i + 1,
                reply.status,
                reply.text()
            ));
        } else if let Some(partial) = reply
            .json()
            .get("partialSuccess")
            .filter(|p| !p.as_object().is_some_and(|o| o.is_empty()))
        {
            problems.push(format!(
                "request {} to /v1/{signal}: partial success {partial}",
                i + 1
            ));
        }
    }
    assert!(
        traces.next().is_none() && logs.next().is_none(),
        "order.json lists fewer requests than the files hold"
    );
    problems
}

/// The names of the tools called in a turn, in call order, read from the
/// trace's spans (`GET /v1/projects/{project}/traces/{trace_id}`): the spans
/// whose step is a tool call.
async fn tools_called(server: &TestServer, project: &str, trace_id: &str) -> Option<Vec<String>> {
    let trace = server
        .get_ok(&format!("/v1/projects/{project}/traces/{trace_id}"))
        .await;
    let mut tools: Vec<(String, String)> = trace["spans"]
        .as_array()?
        .iter()
        .filter(|s| s["step"]["kind"] == "TOOL")
        .map(|s| {
            (
                s["start_time"].as_str().unwrap_or_default().to_owned(),
                s["step"]["title"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    tools.sort();
    Some(tools.into_iter().map(|(_, name)| name).collect())
}

fn compare(diffs: &mut Vec<String>, what: &str, expected: &Value, returned: &Value) {
    if expected != returned {
        diffs.push(format!(
            "{what}: {} vs {}",
            shown(expected),
            shown(returned)
        ));
    }
}

/// A value as the report shows it: JSON, cut after 300 characters.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}… ({} chars)", &text[..cut], text.chars().count()),
        None => text,
    }
}
