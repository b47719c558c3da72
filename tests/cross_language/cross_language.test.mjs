// The same inputs give byte-identical span attributes from Python, Node and
// Rust: each language's dumper opens the scopes of every case in cases.json
// with its own package, starts a span under a real SDK with the session span
// processor, and prints the span's attributes in one canonical JSON form.
//
//   node --test tests/cross_language/        (from the repository root)
//
// Needs: `npm install` at the root (builds the Node package), the Python
// package installed in $PYTHON (default .venv/bin/python), and cargo.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const cases = join(here, "cases.json");
const python = process.env.PYTHON ?? (existsSync(join(root, ".venv/bin/python")) ? join(root, ".venv/bin/python") : "python3");

function run(command, args) {
  return execFileSync(command, args, { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] });
}

const dumps = {};

before(() => {
  dumps.rust = run("flock", [
    "/tmp/oi-cargo.lock",
    "cargo", "run", "-q", "-p", "openinference-session", "--example", "dump_span_attributes", "--", cases,
  ]);
  dumps.python = run(python, [join(here, "dump_python.py"), cases]);
  dumps.node = run(process.execPath, [join(here, "dump_node.mjs"), cases]);
});

for (const language of ["python", "node"]) {
  test(`${language} gives the span attributes rust gives, case by case`, () => {
    const expected = JSON.parse(dumps.rust);
    const actual = JSON.parse(dumps[language]);
    assert.equal(actual.length, expected.length);
    for (let i = 0; i < expected.length; i++) {
      assert.deepEqual(actual[i], expected[i], `case ${expected[i].name}`);
    }
  });

  test(`${language} output is byte-identical to rust's`, () => {
    assert.ok(dumps.rust.length > 1000, "the dump is not empty");
    assert.equal(Buffer.compare(Buffer.from(dumps[language]), Buffer.from(dumps.rust)), 0);
  });
}

test("every case stamps attributes", () => {
  for (const c of JSON.parse(dumps.rust)) assert.ok(c.attributes.length > 0, c.name);
});
