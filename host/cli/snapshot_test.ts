import assert from "node:assert/strict";
import {
  SNAPSHOT_LS_HELP,
  SNAPSHOT_RESTORE_HELP,
  SNAPSHOT_RM_HELP,
  SNAPSHOT_SAVE_HELP,
} from "./snapshot.ts";

Deno.test("docs/cli.md carries the exact snapshot --help texts", async () => {
  const docs = await Deno.readTextFile(new URL("../../docs/cli.md", import.meta.url));
  for (
    const help of [SNAPSHOT_SAVE_HELP, SNAPSHOT_RESTORE_HELP, SNAPSHOT_LS_HELP, SNAPSHOT_RM_HELP]
  ) {
    assert.ok(docs.includes(help), `update docs/cli.md with:\n${help}`);
  }
});
