"""Checks a session read back through a running oi-sessions against a
fixture's expected.json: the session exists, has the expected turns, and each
turn's user, input (the user's words) and output (the reply) are the golden
ones. Prints every difference; exits 1 when there is one.

    python check_session.py http://127.0.0.1:PORT server/tests/fixtures/frameworks/langgraph/expected.json
"""

import json
import sys
import urllib.error
import urllib.request


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None


def main(base: str, expected_path: str) -> int:
    with open(expected_path) as f:
        want = json.load(f)
    project, session = want["project"], want["session_id"]
    problems = []
    status, body = get(f"{base}/v1/projects/{project}/sessions/{session}/turns?limit=1000")
    if status != 200:
        _, traces = get(f"{base}/v1/projects/{project}/traces?limit=1000")
        traces = (traces or {}).get("data", [])
        problems.append(
            f"no session {session!r} in project {project!r} ({status}); its {len(traces)} traces have "
            f"session ids {[t['session_id'] for t in traces]}"
        )
        turns = list(reversed(traces))
    else:
        turns = body["data"]
    if len(turns) != len(want["turns"]):
        problems.append(f"{len(want['turns'])} turns expected, {len(turns)} returned")
    for n, (w, t) in enumerate(zip(want["turns"], turns), 1):
        for what, expected, got in (
            ("user", want["user_id"], t.get("user_id")),
            ("input", w["input"], (t.get("input") or {}).get("value")),
            ("output", w["output"], (t.get("output") or {}).get("value")),
        ):
            if expected != got:
                problems.append(f"turn {n} {what}: expected {expected!r}, returned {str(got)[:300]!r}")
    name = expected_path.rstrip("/").split("/")[-2]
    if problems:
        print(f"FAIL {name}: {len(problems)} difference(s)\n  " + "\n  ".join(problems))
        return 1
    print(f"ok   {name}: session {session!r}, {len(turns)} turns read as the conversation")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
