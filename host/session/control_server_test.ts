import assert from "node:assert/strict";
import { startAgent } from "../channel/testing/in_process_agent.ts";
import { AgentClient, AgentError } from "../channel/agent_client.ts";
import { type OwnerOperations, serveControl, SNAPSHOT_SAVE_OPERATION } from "./control_server.ts";

const text = (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

async function relay(
  defaults = { env: { FROM_OWNER: "owner" } as Record<string, string> },
  operations: OwnerOperations = {},
) {
  const agent = await startAgent();
  const path = `${agent.dir}/control.sock`;
  const server = serveControl(path, agent.client, defaults, operations);
  const clients: AgentClient[] = [];
  return {
    path,
    async connect() {
      const client = await AgentClient.connect(await Deno.connect({ transport: "unix", path }));
      clients.push(client);
      return client;
    },
    async [Symbol.asyncDispose]() {
      for (const c of clients) c.close();
      await server.close();
      await agent[Symbol.asyncDispose]();
    },
  };
}

Deno.test("control socket: clients run commands through the owner's agent, with its defaults", async () => {
  await using r = await relay();
  const client = await r.connect();
  assert.ok(client.hello.capabilities.includes("exec"));
  assert.ok(!client.hello.capabilities.includes("changes"));
  const run = client.exec({
    argv: ["sh", "-c", 'echo "$FROM_OWNER $MINE"; echo err >&2; exit 3'],
    env: { MINE: "client" },
  });
  const [out, err, result] = await Promise.all([text(run.stdout), text(run.stderr), run.result]);
  assert.deepEqual([out, err, result.code], ["owner client\n", "err\n", 3]);
});

Deno.test("control socket: two clients at once, stdin relayed, spawn failures typed", async () => {
  await using r = await relay();
  const [a, b] = await Promise.all([r.connect(), r.connect()]);
  const first = a.exec({
    argv: ["cat"],
    stdin: ReadableStream.from([new TextEncoder().encode("A")]),
  });
  const second = b.exec({ argv: ["sh", "-c", "echo B"] });
  const outputs = await Promise.all([text(first.stdout), text(second.stdout)]);
  await Promise.all([first.stderr.cancel(), second.stderr.cancel()]);
  assert.deepEqual(outputs, ["A", "B\n"]);
  assert.equal((await first.result).code, 0);
  const missing = a.exec({ argv: ["no-such-command-here"] });
  await assert.rejects(missing.result, (e) => e instanceof AgentError && e.code === "spawn_failed");
});

Deno.test("control socket: a client that hangs up takes its commands with it", async () => {
  await using r = await relay();
  const client = await r.connect();
  const run = client.exec({ argv: ["sh", "-c", "echo $$; exec sleep 600"] });
  run.result.catch(() => {}); // Fails when the client hangs up, as it should.
  const reader = run.stdout.getReader();
  const pid = Number(new TextDecoder().decode((await reader.read()).value).trim());
  client.close();
  const gone = () => {
    try {
      Deno.kill(pid, "SIGCONT");
      return false;
    } catch {
      return true;
    }
  };
  const deadline = Date.now() + 5000;
  while (!gone() && Date.now() < deadline) await new Promise((f) => setTimeout(f, 50));
  assert.ok(gone(), "the command outlived its client");
});

Deno.test("control socket: owner operations are done by the owner, one at a time, never relayed", async () => {
  const calls: string[] = [];
  let busy = false;
  await using r = await relay(undefined, {
    async saveSnapshot(dir) {
      assert.ok(!busy, "two saves at once");
      busy = true;
      await new Promise((f) => setTimeout(f, 50));
      busy = false;
      if (dir === "/fail") throw new Error("Cannot save: disk full");
      calls.push(dir);
    },
  });
  const client = await r.connect();
  const save = (dir: string) => {
    const run = client.exec({ argv: [SNAPSHOT_SAVE_OPERATION, dir] });
    return Promise.all([text(run.stdout), text(run.stderr), run.result]);
  };
  const [one, two] = await Promise.all([save("/a"), save("/b")]);
  assert.deepEqual([one[0], one[1], one[2].code, two[2].code], ["", "", 0, 0]);
  assert.deepEqual(calls.sort(), ["/a", "/b"]);
  await assert.rejects(
    save("/fail"),
    (e) => e instanceof AgentError && /disk full/.test(e.message),
  );
  const unknown = client.exec({ argv: ["agentbox:nope"] });
  await assert.rejects(unknown.result, (e) => e instanceof AgentError && e.code === "spawn_failed");
  // The session is still usable afterwards.
  const run = client.exec({ argv: ["sh", "-c", "echo ok"] });
  assert.equal(await text(run.stdout), "ok\n");
});
