import assert from "node:assert/strict";
import { AgentError } from "../channel/agent_client.ts";
import { ConfigError } from "../config/config_error.ts";
import { SessionError } from "../session/session_client.ts";
import { SnapshotError } from "../session/snapshot_store.ts";
import { VmError } from "../vm/errors.ts";
import { ERROR_KINDS } from "../api/errors.ts";
import { EXIT_STATUS, exitStatusFor, reportError, UsageError } from "./errors.ts";

Deno.test("exit statuses come from the error's kind, through one table", () => {
  const cases: [unknown, number][] = [
    [new UsageError("bad flag"), 125],
    [new ConfigError({ file: "/p/.agentbox.toml" }, "bad"), 125],
    [new SessionError("no such session", { code: "session_unknown" }), 125],
    [new SessionError("stopped", { code: "session_not_running" }), 126],
    [new SnapshotError("taken", { code: "snapshot_exists" }), 125],
    [new SnapshotError("old", { code: "snapshot_incompatible" }), 126],
    [new AgentError("spawn_failed", "no such command"), 127],
    [new AgentError("bad_frame", "garbage"), 126],
    [new VmError("died"), 126],
    [new TypeError("a bug"), 126],
    ["a string thrown", 126],
  ];
  for (const [error, status] of cases) assert.equal(exitStatusFor(error), status, String(error));
  // Every kind has a status: the table is complete by construction (Record<ErrorKind, …>).
  assert.deepEqual(Object.keys(EXIT_STATUS).sort(), [...ERROR_KINDS].sort());
});

Deno.test("errors carry stable codes an edge can report", () => {
  assert.equal(new AgentError("spawn_failed", "x").code, "spawn_failed");
  assert.equal(new AgentError("spawn_failed", "x").kind, "command_not_found");
  assert.equal(new ConfigError({ file: "f" }, "x").code, "config_invalid");
  assert.equal(new VmError("x").code, "vm_failed");
  assert.equal(new UsageError("x").kind, "usage");
});

Deno.test("reportError escapes terminal controls in messages and causes, keeping newlines", () => {
  const lines: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    const cause = new Error("guest said \u009b2J\u202e");
    reportError(new Error("Cannot run: \x1b]0;pwned\x07\nsecond line", { cause }), {
      verbose: true,
    });
  } finally {
    console.error = error;
  }
  const text = lines.join("\n");
  // deno-lint-ignore no-control-regex
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/.test(text), text);
  assert.match(text, /Cannot run: \\x1b\]0;pwned\\x07\nsecond line/);
  assert.match(text, /Caused by: guest said \\x9b2J\\u202e/);
});
