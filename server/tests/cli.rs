//! The command line against real servers: `sessions list|show|delete`,
//! `annotate`, `export` in its three formats and `import` into a second
//! server, run as the `oi-sessions` binary against `oi-sessions serve` on
//! 127.0.0.1:0 over SQLite, with recorded framework traces (tool calls, GenAI
//! events sent as logs).

mod common;

use common::binary::{ServerProcess, oi, post_framework};
use serde_json::Value;

const LANGGRAPH: &str = "parcel-langgraph";
const EVENTS: &str = "parcel-openai-genai-events";

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// An export line without what a server sets by itself on arrival: when the
/// session's traces arrived (and so its status), and the annotations' ids
/// and times.
fn comparable(mut line: Value) -> Value {
    let o = line.as_object_mut().unwrap();
    o.remove("last_activity");
    o.remove("status");
    for a in o["annotations"].as_array_mut().unwrap() {
        let a = a.as_object_mut().unwrap();
        for k in ["id", "created_at", "updated_at"] {
            assert!(a.remove(k).is_some(), "{k}");
        }
    }
    line
}

fn export(url: &str, project: &str, format: &str) -> String {
    oi(
        &[
            "export",
            "--url",
            url,
            "--project",
            project,
            "--format",
            format,
        ],
        &[],
    )
    .ok()
    .to_owned()
}

#[test]
fn sessions_list_show_annotate_delete() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let expected = post_framework(server.http, "langgraph");
    let session = expected["session_id"].as_str().unwrap();
    post_framework(server.http, "openai-genai-events");
    let url = server.url();
    // The project and the server from the environment, as for serve.
    let env = [
        ("OI_SESSIONS_URL", url.as_str()),
        ("OI_SESSIONS_PROJECT", LANGGRAPH),
    ];

    let listed = lines(oi(&["sessions", "list", "--json"], &env).ok());
    let rows = listed[0].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["session_id"], session);
    assert_eq!(rows[0]["num_traces"], 3);
    let table = oi(&["sessions", "list"], &env);
    let table = table.ok();
    assert!(table.starts_with("SESSION "), "{table}");
    assert!(
        table.contains(session) && table.contains("user-7"),
        "{table}"
    );
    // The API's filters pass through: nobody else's sessions.
    let none = oi(&["sessions", "list", "--json", "--user-id", "user-8"], &env);
    assert_eq!(none.ok().trim(), "[]");
    let bad = oi(&["sessions", "list", "--sort", "colour"], &env);
    let err = bad.failed(1);
    assert!(
        err.contains("400 invalid_parameter") && err.contains("sort"),
        "{err}"
    );

    let shown = oi(&["sessions", "show", session], &env);
    let shown = shown.ok();
    for turn in expected["turns"].as_array().unwrap() {
        let input = turn["input"].as_str().unwrap();
        let output = turn["output"].as_str().unwrap();
        assert!(
            shown.contains(&format!("user: {input}")),
            "{input} in {shown}"
        );
        assert!(
            shown.contains(&format!("assistant: {output}")),
            "{output} in {shown}"
        );
        for tool in turn["tools"].as_array().unwrap() {
            let tool = tool.as_str().unwrap();
            assert!(
                shown.contains(&format!("↳ tool {tool}(")),
                "{tool} in {shown}"
            );
        }
    }
    assert!(shown.contains("── turn 3"), "{shown}");

    let annotated = oi(
        &[
            "annotate",
            session,
            "--name",
            "resolved",
            "--label",
            "yes",
            "--score",
            "1",
            "--explanation",
            "parcel found",
        ],
        &env,
    );
    assert!(
        annotated
            .ok()
            .starts_with(&format!("annotated {session} with resolved"))
    );
    let shown = oi(&["sessions", "show", session, "--json"], &env);
    let shown = &lines(shown.ok())[0];
    let a = &shown["annotations"][0];
    assert_eq!(
        (&a["name"], &a["label"], &a["score"], &a["explanation"]),
        (
            &"resolved".into(),
            &"yes".into(),
            &1.0.into(),
            &"parcel found".into()
        )
    );
    assert_eq!(shown["turns"].as_array().unwrap().len(), 3);
    let filtered = oi(
        &[
            "sessions",
            "list",
            "--json",
            "--annotation",
            "resolved",
            "--annotation-label",
            "yes",
        ],
        &env,
    );
    assert_eq!(lines(filtered.ok())[0].as_array().unwrap().len(), 1);
    let empty = oi(&["annotate", session, "--name", "resolved"], &env);
    assert!(
        empty
            .failed(1)
            .contains("--label, --score or --explanation")
    );

    // Bad input: a clear message, exit 1, no panic.
    let missing = oi(&["sessions", "show", "no-such-session"], &env);
    let err = missing.failed(1);
    assert!(
        err.starts_with(
            "error: GET /v1/projects/parcel-langgraph/sessions/no-such-session: 404 not_found:"
        ),
        "{err}"
    );
    let other = oi(&["sessions", "show", session, "--project", "nope"], &env);
    assert!(other.failed(1).contains("404 not_found"));
    let unreachable = oi(&["sessions", "list", "--url", "http://127.0.0.1:9"], &[]);
    let err = unreachable.failed(1);
    assert!(
        err.starts_with("error: cannot reach the server at http://127.0.0.1:9:"),
        "{err}"
    );
    let not_url = oi(&["sessions", "list", "--url", "localhost"], &[]);
    assert!(
        not_url
            .failed(1)
            .contains("is not an http:// or https:// url")
    );

    let deleted = oi(&["sessions", "delete", session, "--json"], &env);
    assert_eq!(lines(deleted.ok())[0]["deleted"][0], session);
    assert!(
        oi(&["sessions", "show", session], &env)
            .failed(1)
            .contains("404")
    );
    assert!(
        oi(&["sessions", "delete", session], &env)
            .failed(1)
            .contains("404")
    );
    // The other project was not touched.
    let left = oi(&["sessions", "list", "--json", "--project", EVENTS], &env);
    assert_eq!(lines(left.ok())[0].as_array().unwrap().len(), 1);
    server.stop();
}

#[test]
fn the_api_key_comes_from_the_flag_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--api-key", "s3cret"]);
    let url = server.url();
    let denied = oi(&["sessions", "list", "--url", &url], &[]);
    assert!(
        denied.failed(1).contains("401 unauthorized"),
        "{}",
        denied.stderr
    );
    // Past the key, the empty server has no project yet.
    let by_flag = oi(
        &["sessions", "list", "--url", &url, "--api-key", "s3cret"],
        &[],
    );
    assert!(
        by_flag
            .failed(1)
            .contains("404 not_found: project not found"),
        "{}",
        by_flag.stderr
    );
    let by_env = oi(
        &["sessions", "list"],
        &[("OI_SESSIONS_URL", &url), ("OI_SESSIONS_API_KEY", "s3cret")],
    );
    assert!(
        by_env
            .failed(1)
            .contains("404 not_found: project not found"),
        "{}",
        by_env.stderr
    );
    server.stop();
}

#[test]
fn export_then_import_rebuilds_the_sessions_and_a_second_import_changes_nothing() {
    let dir_a = tempfile::tempdir().unwrap();
    let a = ServerProcess::start(dir_a.path(), &[]);
    let expected = post_framework(a.http, "openai-genai-events");
    let session = expected["session_id"].as_str().unwrap();
    post_framework(a.http, "langgraph");
    let url_a = a.url();
    for (name, label) in [("resolved", "yes"), ("note", "")] {
        let mut args = vec![
            "annotate",
            session,
            "--url",
            &url_a,
            "--project",
            EVENTS,
            "--name",
            name,
        ];
        if label.is_empty() {
            args.extend(["--explanation", "asked about the neighbour"]);
        } else {
            args.extend(["--label", label]);
        }
        oi(&args, &[]).ok();
    }

    // JSONL: the session with its turns, users, metadata, annotations, spans.
    let jsonl = export(&a.url(), EVENTS, "jsonl");
    let exported = lines(&jsonl);
    assert_eq!(exported.len(), 1);
    let line = &exported[0];
    assert_eq!(line["oi_sessions_export"], 1);
    assert_eq!(line["session_id"], session);
    assert_eq!(line["user_ids"][0], expected["user_id"]);
    assert_eq!(line["turns"].as_array().unwrap().len(), 3);
    assert_eq!(line["annotations"].as_array().unwrap().len(), 2);
    let traces = line["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 3);
    // The GenAI events sent as logs travel with their spans, bodies and all.
    assert!(jsonl.contains("\"body\""), "{jsonl}");

    // CSV: a header and one row per turn.
    let csv = export(&a.url(), EVENTS, "csv");
    let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert!(
        rows[0].starts_with("project,session_id,turn,trace_id,"),
        "{csv}"
    );
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(
        rows[1].starts_with(&format!("{EVENTS},{session},1,")),
        "{csv}"
    );

    // OpenAI: the conversation as chat messages.
    let openai = lines(&export(&a.url(), EVENTS, "openai"));
    let messages = openai[0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 6);
    for (i, turn) in expected["turns"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            messages[2 * i],
            serde_json::json!({"role": "user", "content": turn["input"]})
        );
        assert_eq!(
            messages[2 * i + 1],
            serde_json::json!({"role": "assistant", "content": turn["output"]})
        );
    }

    // Into a second server, from a file; the same export comes back out.
    let file = dir_a.path().join("export.jsonl");
    let written = oi(
        &[
            "export",
            "--url",
            &a.url(),
            "--project",
            EVENTS,
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(written.ok().is_empty());
    assert!(
        written.stderr.contains("exported 1 sessions to"),
        "{}",
        written.stderr
    );
    // No progress line when stderr is not a terminal.
    assert!(!written.stderr.contains('\r'), "{:?}", written.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), jsonl);
    let dir_b = tempfile::tempdir().unwrap();
    let b = ServerProcess::start(dir_b.path(), &[]);
    let first = oi(
        &[
            "import",
            file.to_str().unwrap(),
            "--url",
            &b.url(),
            "--json",
        ],
        &[],
    );
    let first = &lines(first.ok())[0];
    assert_eq!(first["sessions"], 1);
    assert_eq!(first["annotations_written"], 2);
    let imported = export(&b.url(), EVENTS, "jsonl");
    assert_eq!(
        comparable(lines(&imported).remove(0)),
        comparable(line.clone())
    );
    assert_eq!(export(&b.url(), EVENTS, "csv"), csv);

    let second = oi(
        &[
            "import",
            file.to_str().unwrap(),
            "--url",
            &b.url(),
            "--json",
        ],
        &[],
    );
    let second = &lines(second.ok())[0];
    assert_eq!(second["annotations_written"], 0);
    assert_eq!(second["annotations_unchanged"], 2);
    assert_eq!(
        export(&b.url(), EVENTS, "jsonl"),
        imported,
        "a second import changed nothing"
    );

    // Into another project of the same server: a span is one project's, so
    // the copy is a session of its own and the original stays.
    let moved = oi(
        &[
            "import",
            file.to_str().unwrap(),
            "--url",
            &b.url(),
            "--into-project",
            "archive",
        ],
        &[],
    );
    assert!(
        moved.ok().starts_with("imported 1 sessions:"),
        "{}",
        moved.stdout
    );
    assert_eq!(
        export(&b.url(), EVENTS, "jsonl"),
        imported,
        "the original session is unchanged"
    );
    let mut archived = lines(&export(&b.url(), "archive", "jsonl")).remove(0);
    assert_eq!(archived["project"], "archive");
    archived["project"] = EVENTS.into();
    for k in ["id", "project_id"] {
        archived.as_object_mut().unwrap().remove(k);
    }
    let mut original = comparable(line.clone());
    for k in ["id", "project_id"] {
        original.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(comparable(archived), original);

    // Bad input: a clear message, exit 1 (2 for flags), no panic.
    let garbage = dir_a.path().join("garbage.jsonl");
    std::fs::write(
        &garbage,
        "{\"oi_sessions_export\": 1, \"project\": \"p\"}\n",
    )
    .unwrap();
    let bad = oi(
        &["import", garbage.to_str().unwrap(), "--url", &b.url()],
        &[],
    );
    assert!(
        bad.failed(1).contains("garbage.jsonl:1: no session_id"),
        "{}",
        bad.stderr
    );
    std::fs::write(&garbage, "not json\n").unwrap();
    let bad = oi(
        &["import", garbage.to_str().unwrap(), "--url", &b.url()],
        &[],
    );
    assert!(
        bad.failed(1).contains("garbage.jsonl:1: not JSON"),
        "{}",
        bad.stderr
    );
    let bad = oi(&["import", "/nonexistent.jsonl", "--url", &b.url()], &[]);
    assert!(
        bad.failed(1).contains("/nonexistent.jsonl: No such file"),
        "{}",
        bad.stderr
    );
    let bad = oi(&["export", "--url", &a.url(), "--format", "parquet"], &[]);
    assert!(
        bad.failed(2)
            .contains("invalid value 'parquet' for '--format"),
        "{}",
        bad.stderr
    );
    a.stop();
    b.stop();
}
