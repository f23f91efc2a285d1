import assert from "node:assert/strict";
import { wrapperScript, writeWrappers } from "./agent_wrappers.ts";
import { ImageError } from "./errors.ts";

Deno.test("a wrapper runs a Node script with the agents' Node and a native build directly", () => {
  assert.equal(
    wrapperScript("/opt/agentbox/agents", { name: "codex", native: false }).split("\n").at(-2),
    'exec /opt/agentbox/agents/bin/node /opt/agentbox/agents/bin/codex "$@"',
  );
  const claude = wrapperScript("/opt/agentbox/agents", { name: "claude", native: true });
  assert.equal(claude.split("\n").at(-2), 'exec /opt/agentbox/agents/bin/claude "$@"');
  assert.ok(claude.startsWith("#!/bin/sh\n"));
  // Nothing on PATH changes: no variable is set.
  assert.doesNotMatch(claude, /PATH=|export /);
  for (
    const [prefix, name] of [["/opt/a b", "x"], ["relative", "x"], ["/opt", "x;rm"], [
      "/opt",
      "../x",
    ]]
  ) {
    assert.throws(() => wrapperScript(prefix, { name, native: false }), ImageError);
  }
});

Deno.test("wrappers are written executable, replacing what was there", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/usr/local/bin`, { recursive: true });
    await Deno.writeTextFile(`${root}/usr/local/bin/codex`, "old");
    await writeWrappers(root, {
      prefix: "/opt/agentbox/agents",
      binDir: "usr/local/bin",
      commands: [{ name: "codex", native: false }, { name: "claude", native: true }],
    });
    for (const name of ["codex", "claude"]) {
      const info = await Deno.stat(`${root}/usr/local/bin/${name}`);
      assert.equal(info.mode! & 0o777, 0o755);
    }
    assert.match(await Deno.readTextFile(`${root}/usr/local/bin/codex`), /bin\/node /);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
