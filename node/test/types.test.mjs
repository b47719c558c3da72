// The shipped type declarations compile for a consumer (strict, NodeNext).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const tsc = process.env.OI_TSC;

test("the declarations type-check in a strict ES module consumer", { skip: !tsc && "OI_TSC is not set" }, () => {
  const dir = join(process.cwd(), "test", "fixtures");
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, types: [] },
      files: ["consumer.mts"],
    }),
  );
  const run = spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
