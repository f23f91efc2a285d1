import assert from "node:assert/strict";
import { binEntries } from "./npm_install.ts";

Deno.test("binEntries: a package's commands with their paths; unsafe ones left out", () => {
  assert.deepEqual(binEntries("@anthropic-ai/claude-code", { claude: "bin/claude.exe" }), [
    { name: "claude", path: "bin/claude.exe" },
  ]);
  assert.deepEqual(binEntries("@scope/tool", "./cli.js"), [{ name: "tool", path: "cli.js" }]);
  assert.deepEqual(
    binEntries("x", {
      ok: "a.js",
      "../evil": "b.js",
      up: "../../etc/passwd",
      abs: "/bin/sh",
      n: 1,
    }),
    [{ name: "ok", path: "a.js" }],
  );
  assert.deepEqual(binEntries("x", undefined), []);
});
