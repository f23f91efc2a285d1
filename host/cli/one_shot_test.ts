import assert from "node:assert/strict";
import { printEvent } from "./one_shot.ts";

Deno.test("core events are printed with the guest's terminal controls escaped", () => {
  const lines: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    printEvent({ type: "warning", message: "changes of \x1b[2Jx\u009b\u202e lost" });
    printEvent({ type: "progress", message: "collecting \x07" });
  } finally {
    console.error = error;
  }
  assert.deepEqual(lines, [
    "agentbox: warning: changes of \\x1b[2Jx\\x9b\\u202e lost",
    "agentbox: collecting \\x07",
  ]);
});
