// evaluateSessions, LLMJudge and errorFree against the real server. There is no
// LLM here: the judge's `complete` is a deterministic function that reads the
// prompt, so what is checked is our prompt, our parsing and what is stored.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  DEFAULT_JUDGE_TEMPLATE,
  LLMJudge,
  SessionTranscript,
  SessionsClient,
  errorFree,
  evaluateSessions,
  sessionTranscript,
} from "openinference-session";
import { sendSessions, startServer } from "./helpers.mjs";

let server;
let client;
const P = "support-bot";

before(async () => {
  server = await startServer();
  client = new SessionsClient({ baseUrl: server.base });
  await sendSessions(server.base, P, [
    {
      sessionId: "happy",
      tags: ["billing"],
      turns: [
        { input: "my invoice is wrong", output: "I corrected it" },
        { input: "thanks, that solved it", output: "glad to help" },
      ],
    },
    {
      sessionId: "broken",
      tags: ["billing"],
      turns: [
        { input: "the export fails", output: "which file?" },
        { input: "report.csv", error: "tool crashed" },
      ],
    },
    { sessionId: "stuck", tags: ["support"], turns: [{ input: "still not working", output: "please try again" }] },
  ]);
});

after(() => server?.stop());

test("sessionTranscript: the turns as user and assistant messages", async () => {
  const t = await sessionTranscript(client, P, "broken");
  assert.ok(t instanceof SessionTranscript);
  assert.equal(t.project, P);
  assert.equal(t.sessionId, "broken");
  assert.equal(t.session.num_traces, 2);
  assert.equal(t.turns.length, 2);
  assert.deepEqual(t.messages, [
    { role: "user", content: "the export fails" },
    { role: "assistant", content: "which file?" },
    { role: "user", content: "report.csv" },
  ]);
  assert.equal(t.text(), "user: the export fails\nassistant: which file?\nuser: report.csv");
  // cut from the start, to at most maxChars characters (code points) with the mark
  assert.equal(t.text(11), "…report.csv");
  assert.equal([...t.text(12)].length, 12);
  assert.equal(t.text(12), "… report.csv");
  const emoji = new SessionTranscript({ project: P, sessionId: "e", session: {}, turns: [], messages: [{ role: "user", content: "😀😀😀" }] });
  assert.equal(emoji.text(3), "…😀😀");
  assert.equal(emoji.text(9), "user: 😀😀😀");
});

test("evaluateSessions with errorFree: one CODE annotation per session, logged in bulk", async () => {
  const run = await evaluateSessions(client, P, errorFree, { name: "error_free" });
  assert.deepEqual({ ...run.errors }, {});
  const bySession = Object.fromEntries(run.annotations.map((a) => [a.session_id, a]));
  assert.deepEqual(Object.keys(bySession).sort(), ["broken", "happy", "stuck"]);
  assert.equal(bySession.happy.label, "clean");
  assert.equal(bySession.happy.score, 1);
  assert.equal(bySession.broken.label, "had_errors");
  assert.equal(bySession.broken.score, 0.5);
  assert.equal(bySession.broken.explanation, "1 of 2 turns errored");
  assert.equal(bySession.broken.annotator_kind, "CODE");
  // a re-run replaces: still one annotation of the name per session
  await evaluateSessions(client, P, errorFree, { name: "error_free" });
  assert.equal((await client.getSessionAnnotations(P, "broken")).filter((a) => a.name === "error_free").length, 1);
  const summary = (await client.getSession(P, "broken")).annotations.find((s) => s.name === "error_free");
  assert.deepEqual(summary.labels, { had_errors: 1 });
});

test("a code evaluator (async) over the sessions matching filters; null skips a session", async () => {
  const seen = [];
  const turnsCount = async (t) => {
    seen.push(t.sessionId);
    await new Promise((resolve) => setImmediate(resolve)); // really asynchronous
    return t.sessionId === "broken" ? null : { score: t.turns.length, metadata: { checked: true } };
  };
  const run = await evaluateSessions(client, P, turnsCount, { name: "turns", tag: "billing", concurrency: 1, identifier: "v1" });
  assert.deepEqual(seen.sort(), ["broken", "happy"]);
  assert.deepEqual(run.annotations.map((a) => [a.session_id, a.score, a.identifier, a.metadata]), [["happy", 2, "v1", { checked: true }]]);
  assert.deepEqual({ ...run.errors }, {});
});

test("a failing evaluator is reported in errors, per session, and the others are stored", async () => {
  const flaky = (t) => {
    if (t.sessionId === "stuck") throw new RangeError("model overloaded");
    if (t.sessionId === "broken") return { verdict: "bad" }; // not an EvaluationResult
    return { label: "ok" };
  };
  const run = await evaluateSessions(client, P, flaky, { name: "flaky", sessionIds: ["happy", "broken", "stuck", "ghost"] });
  assert.deepEqual(run.annotations.map((a) => [a.session_id, a.label]), [["happy", "ok"]]);
  assert.deepEqual(Object.keys(run.errors).sort(), ["broken", "ghost", "stuck"]);
  assert.equal(run.errors.stuck, "RangeError: model overloaded");
  assert.equal(run.errors.broken, 'TypeError: evaluator returned unknown keys ["verdict"]');
  assert.match(run.errors.ghost, /^SessionsApiError: 404 not_found: /);
  const empty = await evaluateSessions(client, P, () => ({ metadata: { a: 1 } }), { name: "empty", sessionIds: ["happy"] });
  assert.deepEqual(empty.annotations, []);
  assert.deepEqual({ ...empty.errors }, { happy: "evaluator returned no label, score or explanation" });
});

const CRITERIA = "Did the assistant resolve the user's problem by the end of the conversation?";

/** A stand-in for a model: answers from the conversation in the prompt. */
async function fakeModel(prompt) {
  const conversation = prompt.split("\nConversation:\n")[1].split("\n\nAnswer with")[0];
  if (conversation.includes("solved it")) return "Resolved\nEXPLANATION: the user confirmed it worked";
  if (conversation.includes("report.csv")) return "I am not sure what to say.";
  return "unresolved - the user is still stuck\nexplanation:   the last message is a complaint  ";
}

test("LLMJudge: the prompt, the parsed verdicts and what is stored", async () => {
  const prompts = [];
  const judge = new LLMJudge({
    complete: async (prompt) => {
      prompts.push(prompt);
      return fakeModel(prompt);
    },
    criteria: CRITERIA,
    labels: { resolved: 1, unresolved: 0 },
  });
  assert.equal(judge.annotatorKind, "LLM");
  const run = await evaluateSessions(client, P, judge, { name: "resolution" });
  assert.deepEqual({ ...run.errors }, {});
  const by = Object.fromEntries(run.annotations.map((a) => [a.session_id, a]));
  assert.deepEqual([by.happy.label, by.happy.score, by.happy.explanation, by.happy.annotator_kind], ["resolved", 1, "the user confirmed it worked", "LLM"]);
  // "unresolved" is never read as "resolved" (the longest label first)
  assert.deepEqual([by.stuck.label, by.stuck.score, by.stuck.explanation], ["unresolved", 0, "the last message is a complaint"]);
  // no label on the first line: the answer as the explanation, marked unparsable, not guessed
  assert.deepEqual([by.broken.label, by.broken.score, by.broken.explanation], [null, null, "I am not sure what to say."]);
  assert.deepEqual(by.broken.metadata, { unparsable: true });

  const happyPrompt = prompts.find((p) => p.includes("solved it"));
  assert.equal(
    happyPrompt,
    "You are judging a whole conversation between a user and an AI assistant.\n\n" +
      `Criteria: ${CRITERIA}\n\n` +
      "Conversation:\nuser: my invoice is wrong\nassistant: I corrected it\nuser: thanks, that solved it\nassistant: glad to help\n\n" +
      "Answer with one of these labels on the first line: resolved, unresolved.\n" +
      'Then, on the next line, write "EXPLANATION:" and a short reason.',
  );
  assert.equal(judge.prompt(await sessionTranscript(client, P, "happy")), happyPrompt);
});

test("LLMJudge parsing: first line, whole word, any case, longest label first", () => {
  const judge = new LLMJudge({ complete: () => "", criteria: "c", labels: { resolved: 1, unresolved: 0, partially_resolved: 0.5 } });
  const read = (answer) => judge.parse(answer);
  assert.deepEqual(read("RESOLVED"), { label: "resolved", score: 1 });
  assert.deepEqual(read("  \n Label: Unresolved.\nEXPLANATION: no fix"), { label: "unresolved", score: 0, explanation: "no fix" });
  assert.deepEqual(read("partially_resolved, I think"), { label: "partially_resolved", score: 0.5 });
  assert.deepEqual(read("It is resolved, not unresolved"), { label: "resolved", score: 1 }); // the first one found
  assert.deepEqual(read("resolved\nbecause it works"), { label: "resolved", score: 1, explanation: "because it works" });
  assert.deepEqual(read("resolvedness"), { explanation: "resolvedness", metadata: { unparsable: true } });
  assert.deepEqual(read("hmm\nresolved"), { explanation: "hmm\nresolved", metadata: { unparsable: true } });
  assert.deepEqual(read("   "), { explanation: "(empty answer)", metadata: { unparsable: true } });
  // word boundaries count letters of any script, as Python's \b does
  const fr = new LLMJudge({ complete: () => "", criteria: "c", labels: new Map([["résolu", 1], ["non", 0]]) });
  assert.deepEqual(fr.parse("RÉSOLU"), { label: "résolu", score: 1 });
  assert.deepEqual(fr.parse("nonrésolu"), { explanation: "nonrésolu", metadata: { unparsable: true } });
  // defaults: yes/no
  const yn = new LLMJudge({ complete: () => "", criteria: "c" });
  assert.deepEqual([...yn.labels], [["yes", 1], ["no", 0]]);
  assert.deepEqual(yn.parse("No."), { label: "no", score: 0 });
  assert.equal(DEFAULT_JUDGE_TEMPLATE.includes("{transcript}"), true);
});

test("LLMJudge: a custom template (Python format syntax), a shorter transcript, a bad answer type", async () => {
  const transcript = await sessionTranscript(client, P, "stuck");
  const judge = new LLMJudge({
    complete: (prompt) => (prompt.startsWith("{json}") ? 42 : "yes"),
    criteria: "helpful?",
    template: "{{json}} {criteria} | {labels} | {transcript}",
    maxTranscriptChars: 10,
  });
  assert.equal(judge.prompt(transcript), "{json} helpful? | yes, no | …try again");
  await assert.rejects(judge.evaluate(transcript), { name: "TypeError", message: "complete must return a string, not a number" });
  const run = await evaluateSessions(client, P, judge, { name: "typed", sessionIds: ["stuck"] });
  assert.deepEqual({ ...run.errors }, { stuck: "TypeError: complete must return a string, not a number" });
});

test("bad arguments: TypeError naming the argument", async () => {
  const throws = (fn, message) => assert.throws(fn, { name: "TypeError", message });
  throws(() => new LLMJudge({ criteria: "c" }), /^complete must be a function/);
  throws(() => new LLMJudge({ complete: () => "", criteria: " " }), "criteria must be a non-empty string");
  throws(() => new LLMJudge({ complete: () => "", criteria: "c", labels: {} }), "labels must not be empty");
  throws(() => new LLMJudge({ complete: () => "", criteria: "c", labels: { yes: "1" } }), /^labels\["yes"\] must be a finite number/);
  throws(() => new LLMJudge({ complete: () => "", criteria: "c", template: "{criteria} {labels}" }), "template must contain {transcript}");
  throws(() => new LLMJudge({ complete: () => "", criteria: "c", template: "{criteria} {labels} {transcript} {other}" }), /unknown placeholder \{other\}/);
  throws(() => new LLMJudge({ complete: () => "", criteria: "c", maxTranscriptChars: 0 }), /^maxTranscriptChars must be an integer of at least 1/);
  const reject = (promise, message) => assert.rejects(promise, { name: "TypeError", message });
  await reject(evaluateSessions(client, P, errorFree, { name: "" }), 'options.name must be a non-empty string, got ""');
  await reject(evaluateSessions(client, P, errorFree, {}), "options.name must be a non-empty string, got undefined");
  await reject(evaluateSessions(client, P, "errorFree", { name: "x" }), /^evaluator must be a function or an object with an evaluate method/);
  await reject(evaluateSessions(client, P, errorFree, { name: "x", annotatorKind: "BOT" }), /^options\.annotatorKind must be HUMAN, LLM or CODE/);
  await reject(evaluateSessions(client, P, errorFree, { name: "x", concurrency: 0 }), /^options\.concurrency must be an integer of at least 1/);
  await reject(evaluateSessions(client, P, errorFree, { name: "x", sessionIds: "happy" }), /^options\.sessionIds must be an array/);
  await reject(evaluateSessions(client, P, errorFree, { name: "x", sessionIds: ["happy", 3] }), /^options\.sessionIds\[1\] must be a non-empty string/);
  await reject(evaluateSessions(client, P, errorFree, { name: "x", sessionIds: ["happy"], tag: "billing" }), /cannot be combined with filters \(tag\)/);
  await reject(evaluateSessions(client, P, errorFree, { name: "x", user_id: "u" }), /unknown option "user_id"/);
  await reject(evaluateSessions({}, P, errorFree, { name: "x" }), /^client must be a SessionsClient/);
});
