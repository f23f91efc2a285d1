import assert from "node:assert/strict";
import { startAgent } from "../channel/testing/in_process_agent.ts";
import { AgentClient, AgentError } from "../channel/agent_client.ts";
import { type OwnerOperations, serveControl } from "./control_server.ts";
import { openCappedLog } from "./capped_log.ts";
import { startConsole } from "./command_console.ts";

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
  // Awaited, or a hang-up racing the exit would reject it unhandled (a flake seen before).
  assert.equal((await second.result).code, 0);
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

Deno.test("control socket: session.snapshot is done by the owner, one at a time, never relayed", async () => {
  const calls: string[] = [];
  let busy = false;
  await using r = await relay(undefined, {
    async saveSnapshot(dir) {
      assert.ok(!busy, "two saves at once");
      busy = true;
      await new Promise((f) => setTimeout(f, 50));
      busy = false;
      if (dir === "/fail") throw new Error("disk full");
      calls.push(dir);
    },
  });
  const client = await r.connect();
  await Promise.all([client.saveSessionSnapshot("/a"), client.saveSessionSnapshot("/b")]);
  assert.deepEqual(calls.sort(), ["/a", "/b"]);
  await assert.rejects(
    client.saveSessionSnapshot("/fail"),
    (e) => e instanceof AgentError && e.code === "snapshot_failed" && /disk full/.test(e.message),
  );
  // An argv that looks like the old tunnelled operation is an ordinary (missing) command now.
  const old = client.exec({ argv: ["agentbox:snapshot.save", "/c"] });
  await assert.rejects(old.result, (e) => e instanceof AgentError && e.code === "spawn_failed");
  assert.deepEqual(calls.sort(), ["/a", "/b"]);
  // The session is still usable afterwards.
  const run = client.exec({ argv: ["sh", "-c", "echo ok"] });
  assert.equal(await text(run.stdout), "ok\n");
});

Deno.test("control socket: a session that cannot snapshot says so with its own code", async () => {
  await using r = await relay(undefined, {});
  const client = await r.connect();
  await assert.rejects(
    client.saveSessionSnapshot("/a"),
    (e) => e instanceof AgentError && e.code === "unknown_type",
  );
});

Deno.test("agent: session.snapshot sent to an agent is refused on its stream, not as a command", async () => {
  await using agent = await startAgent();
  await assert.rejects(
    agent.client.saveSessionSnapshot("/a"),
    (e) => e instanceof AgentError && e.code === "unknown_type",
  );
  const run = agent.client.exec({ argv: ["true"] });
  assert.equal((await run.result).code, 0);
});

Deno.test("agent: session.attach sent to an agent is refused on its stream", async () => {
  await using agent = await startAgent();
  // The client checks the capability first; an agent never announces it.
  assert.ok(!agent.client.hello.capabilities.includes("session.attach"));
  const refused = agent.client.attach({ readOnly: true });
  await assert.rejects(
    refused.result,
    (e) => e instanceof AgentError && e.code === "version_mismatch",
  );
});

/** Read from `reader` until the text so far matches `pattern`; returns the text. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, pattern: RegExp) {
  let text = "";
  const decoder = new TextDecoder();
  while (!pattern.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`ended before ${pattern}: ${JSON.stringify(text)}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

Deno.test("control socket: attach replays the scrollback, relays typing, two at once, read-only cannot type, detach leaves it running", async () => {
  const agent = await startAgent();
  const path = `${agent.dir}/control.sock`;
  const log = await openCappedLog(`${agent.dir}/command.log`);
  const console_ = startConsole((r) => agent.client.exec(r), {
    argv: ["sh", "-c", 'echo before; while read -r line; do echo "got:$line"; done'],
  }, log);
  const server = serveControl(path, agent.client, { env: {} }, { commandConsole: console_ });
  const connect = async () =>
    await AgentClient.connect(await Deno.connect({ transport: "unix", path }));
  try {
    await console_.started;
    const typing = new TransformStream<Uint8Array, Uint8Array>();
    const writer = typing.writable.getWriter();
    const a = await connect();
    const first = a.attach({
      readOnly: false,
      size: { rows: 30, cols: 100 },
      stdin: typing.readable,
    });
    const aOut = first.stdout.getReader();
    await readUntil(aOut, /before/);
    // A watcher sees the same output and cannot type.
    const watching = new TransformStream<Uint8Array, Uint8Array>();
    const b = await connect();
    const watcher = b.attach({ readOnly: true, stdin: watching.readable });
    watcher.result.catch(() => {}); // Rejects when it hangs up.
    const bOut = watcher.stdout.getReader();
    assert.match(await readUntil(bOut, /before/), /before/);
    await watching.writable.getWriter().write(new TextEncoder().encode("sneaky\n")).catch(() => {});
    await writer.write(new TextEncoder().encode("hello\n"));
    assert.match(await readUntil(aOut, /got:hello/), /got:hello/);
    const seen = await readUntil(bOut, /got:hello/);
    assert.doesNotMatch(seen, /got:sneaky/);
    // Detaching (hanging up) leaves the command running; a new client gets the scrollback.
    a.close();
    b.close();
    await assert.rejects(first.result);
    assert.equal(console_.ended, false);
    const c = await connect();
    const typing2 = new TransformStream<Uint8Array, Uint8Array>();
    const again = c.attach({ readOnly: false, stdin: typing2.readable });
    const cOut = again.stdout.getReader();
    const replay = await readUntil(cOut, /got:hello/);
    assert.match(replay, /before[\s\S]*got:hello/);
    assert.doesNotMatch(replay, /got:sneaky/);
    // The command's end reaches the attached client as its exit.
    const w2 = typing2.writable.getWriter();
    await w2.write(new TextEncoder().encode("\x04"));
    while (!(await cOut.read()).done) { /* drain */ }
    assert.equal((await again.result).code, 0);
    assert.match(await Deno.readTextFile(`${agent.dir}/command.log`), /before[\s\S]*got:hello/);
    c.close();
  } finally {
    await server.close();
    await agent[Symbol.asyncDispose]();
  }
});

Deno.test("control socket: attach without a command is refused with no_command", async () => {
  await using r = await relay();
  const client = await r.connect();
  assert.ok(client.hello.capabilities.includes("session.attach"));
  const run = client.attach({ readOnly: true });
  await assert.rejects(run.result, (e) => e instanceof AgentError && e.code === "no_command");
});

Deno.test("control socket: files and ports relayed; refusals keep their codes; forward asks the owner", async () => {
  const forwards: unknown[] = [];
  await using r = await relay(undefined, {
    forwardPort: (request) => {
      forwards.push(request);
      return Promise.resolve({ hostname: "127.0.0.1", hostPort: 40000 });
    },
  });
  const client = await r.connect();
  const dir = await Deno.makeTempDir();
  try {
    // In and back out, through the owner.
    const { sendFiles } = await import("../workspace/send_files.ts");
    await Deno.mkdir(`${dir}/src`);
    await Deno.writeTextFile(`${dir}/src/a.txt`, "relayed");
    await Deno.mkdir(`${dir}/guest`);
    assert.equal(await client.writeFiles(`${dir}/guest`, sendFiles(`${dir}/src`).data), 2);
    const out = client.readFiles(`${dir}/guest/src/a.txt`);
    const bytes = await new Response(out.data).bytes();
    assert.equal(await out.entries, 1);
    assert.ok(new TextDecoder().decode(bytes).endsWith("relayed"));
    // The agent's refusal reaches the client with its code, not as a cut pipe.
    const missing = client.readFiles(`${dir}/nope`);
    await new Response(missing.data).bytes().catch(() => {});
    await assert.rejects(
      missing.entries,
      (e) => e instanceof AgentError && e.code === "files_failed",
    );
    // A connection to a port in the "guest", both ways.
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("pong"),
    );
    const port = await client.openPort(server.addr.port);
    const writer = port.writable.getWriter();
    await writer.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
    const answer = await new Response(port.readable).text();
    await writer.close().catch(() => {});
    await port.closed;
    assert.match(answer, /200 OK[\s\S]*pong$/);
    await server.shutdown();
    await assert.rejects(
      client.openPort(1),
      (e) => e instanceof AgentError && e.code === "connect_failed",
    );
    // session.forward is the owner's.
    assert.deepEqual(await client.forwardPort({ guestPort: 80 }), {
      hostname: "127.0.0.1",
      hostPort: 40000,
    });
    assert.deepEqual(forwards, [{
      type: "session.forward",
      stream: 6,
      guestPort: 80,
      hostname: undefined,
      hostPort: undefined,
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
