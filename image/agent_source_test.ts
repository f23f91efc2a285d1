import assert from "node:assert/strict";
import { agentSourceDigest } from "./agent_source.ts";

Deno.test("agentSourceDigest changes with the source and ignores tests and test support", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/handlers`);
  await Deno.writeTextFile(`${dir}/main.ts`, "export const a = 1;\n");
  await Deno.writeTextFile(`${dir}/handlers/exec.ts`, "export const b = 2;\n");
  const first = await agentSourceDigest(dir);
  assert.match(first ?? "", /^[0-9a-f]{64}$/);
  await Deno.writeTextFile(`${dir}/main_test.ts`, "Deno.test('x', () => {});\n");
  assert.equal(await agentSourceDigest(dir), first, "tests do not count");
  await Deno.mkdir(`${dir}/protocol/testing`, { recursive: true });
  await Deno.writeTextFile(`${dir}/protocol/testing/mod.ts`, "export const peer = 1;\n");
  assert.equal(await agentSourceDigest(dir), first, "test support does not count");
  await Deno.writeTextFile(`${dir}/handlers/exec.ts`, "export const b = 3;\n");
  assert.notEqual(await agentSourceDigest(dir), first, "a changed handler counts");
  assert.equal(await agentSourceDigest(`${dir}/missing`), undefined);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("agentSourceDigest covers this checkout's agent", async () => {
  assert.match(await agentSourceDigest() ?? "", /^[0-9a-f]{64}$/);
});
