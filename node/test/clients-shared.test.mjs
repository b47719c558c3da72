// The shared cases of the API client and the evaluations (tests/clients/cases.json),
// run against the packed package. The Python package runs the same file
// (python/tests/test_clients_shared.py); tests/clients/README.md describes the format.
//
// No server: requests go to a fake global `fetch` that records them and answers
// what the case says; evaluations get a fake client holding the case's sessions.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import {
  LLMJudge,
  SessionTranscript,
  SessionsApiError,
  SessionsClient,
  errorFree,
  evaluateSessions,
} from "openinference-session";

// `npm test` copies this folder into a scratch app and says where the repository's file is.
const CASES_FILE = process.env.OI_CLIENT_CASES ?? new URL("../../tests/clients/cases.json", import.meta.url);
const { cases: CASES } = JSON.parse(readFileSync(CASES_FILE, "utf8"));
const FAKE_BASE_URL = "http://oi.test";

// Python's names → ours: a few renamed options, the rest camelCase.
const RENAMED = { max_workers: "concurrency", timeout: "timeoutMs" };
const camel = (name) => RENAMED[name] ?? name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** An argument's name in a message: each part camelCase (`annotations[1].sessionId`). */
const argumentName = (name) => name.replace(/[a-z0-9_]+/gi, camel);
// A wrong value is a ValueError in Python, a TypeError here; the API errors are spelled our way.
const ERROR_NAMES = {
  TypeError: "TypeError",
  ValueError: "TypeError",
  SessionsAPIError: "SessionsApiError",
  SessionsTimeoutError: "SessionsTimeoutError",
};

class EvaluatorFailure extends Error {
  name = "EvaluatorFailure";
}

/** Values JSON cannot spell. */
function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    if ("$number" in value) return Number(value.$number);
    if ("$opaque" in value) return new Map();
    if ("$date" in value) return new Date(value.$date);
    if ("$not_callable" in value) return value.$not_callable;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

/** Options as we spell them: camelCase keys, the timeout in milliseconds. */
function options(object) {
  const out = {};
  for (const [key, value] of Object.entries(decode(object))) {
    out[camel(key)] = key === "timeout" && typeof value === "number" ? value * 1000 : value;
  }
  return out;
}

function snakeKeys(object) {
  const out = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined && value !== null) out[snake(key)] = value;
  }
  return out;
}

const json = (value) => (value === undefined ? null : JSON.parse(JSON.stringify(value)));

// --- the fake transport ------------------------------------------------------------

function transport(replies) {
  const left = [...replies];
  const requests = [];
  const fetch = async (url, init = {}) => {
    assert.ok(String(url).startsWith(FAKE_BASE_URL), String(url));
    requests.push({
      method: init.method ?? "GET",
      url: String(url).slice(FAKE_BASE_URL.length),
      body: init.body === undefined ? null : JSON.parse(init.body),
      authorization: init.headers?.authorization ?? null,
    });
    const reply = left.shift();
    if (reply === undefined) throw new assert.AssertionError({ message: `an unexpected request: ${JSON.stringify(requests.at(-1))}` });
    const failure = (code, message) => new TypeError("fetch failed", { cause: Object.assign(new Error(message), { code }) });
    switch (reply.fail) {
      case undefined:
        break;
      case "refused":
        throw failure("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:80");
      case "reset":
        throw failure("ECONNRESET", "read ECONNRESET");
      case "timeout_connect":
      case "timeout_read":
        throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
      default:
        throw new Error(`unknown failure ${reply.fail}`);
    }
    const body = "json" in reply ? JSON.stringify(reply.json) : (reply.text ?? "");
    return new Response(reply.status === 204 ? null : body, { status: reply.status, statusText: reply.reason ?? "" });
  };
  return { fetch, requests, left };
}

// --- the fake client of evaluations -------------------------------------------------

function fakeClient(sessions) {
  const fake = {
    listing: null,
    logCalls: [],
    turns(sessionId) {
      if (!Object.hasOwn(sessions, sessionId)) throw new SessionsApiError(404, "not_found", `no session ${sessionId}`);
      return structuredClone(sessions[sessionId]);
    },
    async getSession(project, sessionId) {
      fake.turns(sessionId);
      return { session_id: sessionId };
    },
    async getTurns(project, sessionId) {
      return fake.turns(sessionId);
    },
    async *iterSessions(project, filters = {}) {
      fake.listing = snakeKeys(filters);
      for (const sessionId of Object.keys(sessions)) yield { session_id: sessionId };
    },
    async logSessionAnnotations(project, annotations) {
      fake.logCalls.push(annotations.map((a) => json(snakeKeys(a))));
      return annotations;
    },
  };
  return fake;
}

function makeJudge(spec, complete = () => "") {
  const { complete: given, ...rest } = decode(spec);
  return new LLMJudge({ complete: "complete" in spec ? given : complete, ...options(rest) });
}

function makeEvaluator(spec) {
  switch (spec.kind) {
    case "error_free":
      return errorFree;
    case "value":
      return spec.value;
    case "judge": {
      const answers = decode(spec.answers);
      return makeJudge(spec.judge, async (prompt) => answers.find(([part]) => prompt.includes(part))[1]);
    }
    case "returns": {
      const evaluator = (transcript) => {
        const result = spec.results[transcript.sessionId];
        if (result !== null && typeof result === "object" && "$raise" in result) throw new EvaluatorFailure(result.$raise);
        return decode(result);
      };
      if ("annotator_kind" in spec) evaluator.annotatorKind = spec.annotator_kind;
      return evaluator;
    }
    default:
      throw new Error(`unknown evaluator ${spec.kind}`);
  }
}

const verdict = (r) => ({ label: r.label ?? null, score: r.score ?? null, explanation: r.explanation ?? null, metadata: r.metadata ?? {} });
const transcriptOf = (turns) => SessionTranscript.fromTurns({ project: "p", sessionId: "s", session: {}, turns: decode(turns) });

// --- running a case -----------------------------------------------------------------

async function call(testCase) {
  const { args } = testCase;
  switch (testCase.call) {
    case "client": {
      const client = new SessionsClient(options(args));
      return { base_url: client.baseUrl, timeout: client.timeoutMs / 1000 };
    }
    case "client_method": {
      const client = new SessionsClient({ baseUrl: FAKE_BASE_URL, ...options(args.client ?? {}) });
      const positional = decode(args.args);
      if (args.method === "log_session_annotations" && Array.isArray(positional[1])) {
        positional[1] = positional[1].map((a) => (a !== null && typeof a === "object" ? options(a) : a));
      }
      if ("options" in args) positional.push(options(args.options));
      const result = client[camel(args.method)](...positional);
      if (result !== null && typeof result === "object" && Symbol.asyncIterator in result) {
        const all = [];
        for await (const item of result) all.push(item);
        return all;
      }
      return json(await result);
    }
    case "transcript": {
      const t = transcriptOf(args.turns);
      const text = "max_chars" in args ? t.text(decode(args.max_chars)) : t.text();
      return { messages: t.messages.map((m) => [m.role, m.content]), text };
    }
    case "judge":
      return { labels: [...makeJudge(args).labels] };
    case "judge_prompt":
      return makeJudge(args.judge).prompt(transcriptOf(args.turns));
    case "judge_parse":
      return verdict(makeJudge(args.judge).parse(decode(args.answer)));
    case "error_free":
      return verdict(errorFree(transcriptOf(args.turns)));
    case "evaluate_sessions": {
      const client = fakeClient(args.sessions);
      const run = await evaluateSessions(client, args.project ?? "p", makeEvaluator(args.evaluator), options(args.options));
      assert.equal(run.annotations.length, client.logCalls.flat().length);
      return { listing: client.listing, log_calls: client.logCalls, errors: { ...run.errors } };
    }
    default:
      throw new Error(`unknown call ${testCase.call}`);
  }
}

function errorProblems(error, expected) {
  const problems = [];
  const name = ERROR_NAMES[expected.error] ?? expected.error;
  if (error?.name !== name) problems.push(`expected ${name}, got ${error?.name}: ${error?.message}`);
  if (name === "TypeError" && !(error instanceof TypeError)) problems.push(`${error?.name} is not a TypeError`);
  const message = String(error?.message);
  const fragments = [...(expected.message_contains ?? []), ...(expected.argument ? [argumentName(expected.argument)] : [])];
  for (const fragment of fragments) if (!message.includes(fragment)) problems.push(`${JSON.stringify(message)} does not contain ${JSON.stringify(fragment)}`);
  for (const field of ["status", "code", "parameter"]) {
    if (field in expected && (error?.[field] ?? null) !== expected[field]) {
      problems.push(`${field} is ${JSON.stringify(error?.[field])}, expected ${JSON.stringify(expected[field])}`);
    }
  }
  return problems;
}

/** A run's errors: exact text, or `{ error, message_contains }` for the error's name and message. */
function runErrorsProblems(actual, expected) {
  if (!isDeepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort())) {
    return [`errors of sessions ${JSON.stringify(actual)}, expected ${JSON.stringify(Object.keys(expected).sort())}`];
  }
  const problems = [];
  for (const [sessionId, want] of Object.entries(expected)) {
    const text = actual[sessionId];
    if (typeof want === "string") {
      if (text !== want) problems.push(`errors[${sessionId}] is ${JSON.stringify(text)}, expected ${JSON.stringify(want)}`);
      continue;
    }
    const name = ERROR_NAMES[want.error] ?? want.error;
    if (!text.startsWith(`${name}: `)) problems.push(`errors[${sessionId}] is ${JSON.stringify(text)}, expected a ${name}`);
    for (const f of want.message_contains ?? []) if (!text.includes(f)) problems.push(`errors[${sessionId}]: ${JSON.stringify(text)} does not contain ${JSON.stringify(f)}`);
  }
  return problems;
}

const ENV = ["OI_SESSIONS_URL", "OI_SESSIONS_API_KEY"];

/** What is wrong with the behaviour against the case's expectation ([] when nothing). */
async function check(testCase) {
  const savedEnv = ENV.map((name) => process.env[name]);
  const savedFetch = globalThis.fetch;
  for (const name of ENV) delete process.env[name];
  Object.assign(process.env, testCase.env ?? {});
  const fake = transport(testCase.transport ?? []);
  globalThis.fetch = fake.fetch;
  const { expect } = testCase;
  const problems = [];
  try {
    let result;
    let threw = false;
    try {
      result = await call(testCase);
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      if (!("error" in expect)) return [`threw ${error?.name}: ${error?.message}`];
      threw = true;
      problems.push(...errorProblems(error, expect));
    }
    if (!threw) {
      if ("error" in expect) return [`expected ${expect.error}, got the result ${JSON.stringify(result)}`];
      let wanted = expect.result;
      if (testCase.call === "evaluate_sessions") {
        const { errors, ...rest } = result;
        problems.push(...runErrorsProblems(errors, wanted.errors));
        result = rest;
        wanted = { ...wanted };
        delete wanted.errors;
      }
      if (!isDeepStrictEqual(json(result), wanted)) problems.push(`result ${JSON.stringify(result)}, expected ${JSON.stringify(wanted)}`);
    }
    if ("requests" in expect) {
      const wanted = expect.requests.map((r) => ({ body: null, authorization: null, ...r }));
      if (!isDeepStrictEqual(fake.requests, wanted)) problems.push(`requests ${JSON.stringify(fake.requests)}, expected ${JSON.stringify(wanted)}`);
    }
    if (fake.left.length > 0) problems.push(`${fake.left.length} replies left: fewer requests than the case expects`);
    return problems;
  } finally {
    globalThis.fetch = savedFetch;
    ENV.forEach((name, i) => {
      if (savedEnv[i] === undefined) delete process.env[name];
      else process.env[name] = savedEnv[i];
    });
  }
}

for (const testCase of CASES) {
  test(testCase.name, async () => {
    const problems = await check(testCase);
    assert.deepEqual(problems, []);
  });
}

/** The case with a wrong expectation: what `check` must catch. */
function mutated(testCase) {
  const copy = structuredClone(testCase);
  const { expect } = copy;
  if ("error" in expect) expect.message_contains = [...(expect.message_contains ?? []), "\u2603 not in any message"];
  else if (copy.call === "evaluate_sessions") expect.result.errors["\u2603"] = "not a session";
  else expect.result = { not: expect.result };
  return copy;
}

test("every case can fail: a wrong expectation is caught", async () => {
  for (const testCase of CASES) {
    assert.notDeepEqual(await check(mutated(testCase)), [], testCase.name);
  }
});
