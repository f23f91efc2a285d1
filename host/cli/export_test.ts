import assert from "node:assert/strict";
import { exportCommand } from "./export.ts";
import { UsageError } from "./errors.ts";

Deno.test("export: one of --ansible and --script, known --skip kinds, a SESSION", async () => {
  await assert.rejects(exportCommand(["abc"]), UsageError);
  await assert.rejects(exportCommand(["abc", "--ansible", "--script"]), UsageError);
  await assert.rejects(
    exportCommand(["abc", "--script", "--skip", "kernels"]),
    /Unknown --skip "kernels": choose from packages, users, files, services/,
  );
  const state = await Deno.makeTempDir();
  const previous = Deno.env.get("XDG_STATE_HOME");
  Deno.env.set("XDG_STATE_HOME", state);
  try {
    await assert.rejects(exportCommand(["--script"]), /export needs a SESSION/);
  } finally {
    if (previous === undefined) Deno.env.delete("XDG_STATE_HOME");
    else Deno.env.set("XDG_STATE_HOME", previous);
    await Deno.remove(state, { recursive: true });
  }
});
