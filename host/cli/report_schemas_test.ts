import assert from "node:assert/strict";
import { agentbox } from "../../tests/helpers.ts";
import { jsonSchema, REPORT_SCHEMAS } from "./report_schemas.ts";

Deno.test("docs/schemas/ carries the JSON Schema generated from each report's zod type", async () => {
  for (const [name, schema] of Object.entries(REPORT_SCHEMAS)) {
    const file = new URL(`../../docs/schemas/${name}`, import.meta.url);
    assert.equal(
      await Deno.readTextFile(file),
      jsonSchema(schema),
      `docs/schemas/${name} is stale: run \`deno task docs:schemas\``,
    );
  }
});

Deno.test("exec --report FILE: a run that fails before its command still leaves a report, with the error's code", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/report.json`;
    const out = await agentbox(["exec", "--session", "nosuch", "--report", file, "--", "true"], {
      env: { XDG_STATE_HOME: `${dir}/state`, XDG_RUNTIME_DIR: dir },
      cwd: dir,
    }).output();
    assert.equal(out.code, 125);
    const report = JSON.parse(await Deno.readTextFile(file));
    assert.equal(report.version, 1);
    assert.equal(report.error.code, "session_unknown");
    assert.equal(report.error.kind, "not_found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
