// The NDJSON reading of exec against a scripted server on loopback: the edge cases a real server
// rarely produces on demand. The real thing is tests/e2e/sdk_ts_test.ts.
import assert from "node:assert/strict";
import { AgentboxError, CommandError } from "./errors.ts";
import { execEvents, runExec } from "./exec.ts";
import { Transport } from "./transport.ts";

async function withServer(
  lines: string[],
  run: (transport: Transport, seen: unknown[]) => Promise<void>,
): Promise<void> {
  const seen: unknown[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    seen.push(await r.json());
    const text = lines.join("");
    const bytes = new TextEncoder().encode(text);
    // Three bytes a chunk: lines and base64 split anywhere.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 3) controller.enqueue(bytes.slice(at, at + 3));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
  });
  const transport = new Transport({ url: `http://127.0.0.1:${server.addr.port}`, token: "t" });
  try {
    await run(transport, seen);
  } finally {
    transport.close();
    await server.shutdown();
  }
}

const line = (value: unknown) => JSON.stringify(value) + "\n";
const b64 = (text: string) => btoa(text);

Deno.test("exec: events in order, output decoded, stdin sent as base64", async () => {
  await withServer([
    line({ type: "started", pid: 7 }),
    line({ type: "stdout", data: b64("hello ") }),
    line({ type: "stderr", data: b64("warn") }),
    line({ type: "stdout", data: b64("world") }),
    line({ type: "exit", code: 3, signal: null, timedOut: false }),
  ], async (transport, seen) => {
    const result = await runExec(transport, "sb", ["cat"], { stdin: "in\u00e9", env: { A: "1" } });
    assert.deepEqual(
      [result.exitCode, result.stdout, result.stderr, result.signal, result.timedOut],
      [3, "hello world", "warn", null, false],
    );
    assert.deepEqual(seen[0], { argv: ["cat"], env: { A: "1" }, stdin: "aW7DqQ==" });
    const types = [];
    for await (const event of execEvents(transport, "sb", ["cat"])) types.push(event.type);
    assert.deepEqual(types, ["started", "stdout", "stderr", "stdout", "exit"]);
    const failed = await runExec(transport, "sb", ["cat"], { check: true }).catch((e) => e);
    assert.ok(failed instanceof CommandError);
    assert.equal(failed.code, "command_failed");
    assert.equal(failed.result.stdout, "hello world");
  });
});

Deno.test("exec: an error event is thrown with its kind and code", async () => {
  await withServer([
    line({ type: "started", pid: 7 }),
    line({
      type: "error",
      error: { kind: "command_not_found", code: "exec_enoent", message: "No such command: x" },
    }),
  ], async (transport) => {
    const error = await runExec(transport, "sb", ["x"]).catch((e) => e);
    assert.ok(error instanceof AgentboxError);
    assert.deepEqual([error.kind, error.code, error.message], [
      "command_not_found",
      "exec_enoent",
      "No such command: x",
    ]);
  });
});

Deno.test("exec: a stream that ends without an exit, or with junk, is an error", async () => {
  await withServer([line({ type: "stdout", data: b64("partial") })], async (transport) => {
    const error = await runExec(transport, "sb", ["x"]).catch((e) => e);
    assert.equal(error.code, "connection_lost");
  });
  await withServer(["not json\n"], async (transport) => {
    const error = await runExec(transport, "sb", ["x"]).catch((e) => e);
    assert.equal(error.code, "protocol_error");
  });
  await withServer([line({ type: "surprise" })], async (transport) => {
    const error = await runExec(transport, "sb", ["x"]).catch((e) => e);
    assert.equal(error.code, "protocol_error");
  });
});
