import assert from "node:assert/strict";
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
