import assert from "node:assert/strict";
import { CLI_DOC, fillHelpBlocks, renderCliDoc } from "./help_doc.ts";

Deno.test("docs/cli.md carries the current --help of every command (deno task docs:cli)", async () => {
  const current = await Deno.readTextFile(CLI_DOC);
  const wanted = await renderCliDoc(current);
  assert.ok(wanted === current, "docs/cli.md is stale: run `deno task docs:cli`");
});

Deno.test("help blocks: filled between markers; a missing or unknown one is an error", () => {
  const doc = "prose\n<!-- agentbox help: exec -->\n```\nold\n```\n<!-- /agentbox help -->\nmore\n";
  assert.equal(
    fillHelpBlocks(doc, new Map([["exec", "new"]])),
    "prose\n<!-- agentbox help: exec -->\n\n```\nnew\n```\n\n<!-- /agentbox help -->\nmore\n",
  );
  assert.throws(() => fillHelpBlocks(doc, new Map([["exec", "x"], ["run", "y"]])), /run/);
  assert.throws(() => fillHelpBlocks(doc, new Map()), /exec/);
});
