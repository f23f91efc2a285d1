/**
 * The host client against a hostile agent: every misbehaviour must end in an AgentError with the
 * right code, and nothing the host waits on may hang.
 */

import assert from "node:assert/strict";
import {
  encodeMessage,
  type Hello,
  MAX_FRAME_BYTES,
  type Message,
  PROTOCOL_VERSION,
  STREAM_WINDOW_BYTES,
} from "@agentbox/protocol";
import { delay, duplexPair, RawPeer, within } from "../../guest-agent/protocol/testing/mod.ts";
import { AgentClient, AgentError, type ConnectOptions } from "./agent_client.ts";

const AGENT_HELLO: Hello = {
  type: "hello",
  version: PROTOCOL_VERSION,
  role: "agent",
  capabilities: ["exec"],
  software: "fake-agent/0",
};

/** Tests wait at most this long for anything: longer means a hang. */
const HANG_MS = 2000;

function isAgentError(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof AgentError, `expected AgentError(${code}), got ${e}`);
    assert.equal(e.code, code, `${e}`);
    return true;
  };
}

/** A fake agent on one end of an in-memory duplex, the real client on the other. */
function fakeAgent(options: ConnectOptions = {}) {
  const [host, agent] = duplexPair();
  const peer = new RawPeer(agent);
  const connecting = AgentClient.connect(host, options);
  connecting.catch(() => {});
  return { peer, connecting };
}

/** A fake agent that completed the handshake, and one exec the host started on it. */
async function greetedWithExec(options: ConnectOptions = {}) {
  const { peer, connecting } = fakeAgent(options);
  await peer.send(AGENT_HELLO);
  const client = await within(connecting, HANG_MS, "connect");
  assert.equal((await peer.expect("hello"))?.role, "host");
  const run = client.exec({ argv: ["cat"] });
  const start = await within(peer.expect("exec.start"), HANG_MS, "exec.start");
  assert.ok(start);
  return { peer, client, run, stream: start.stream };
}

/** Everything the host exposes about `run` must fail with `code`, promptly. */
async function assertExecFails(
  client: AgentClient,
  run: ReturnType<AgentClient["exec"]>,
  code: string,
) {
  await assert.rejects(within(run.result, HANG_MS, "result"), isAgentError(code));
  // `started` settled: with the pid if the agent said so, else with the same failure.
  await within(run.started.catch((e) => isAgentError(code)(e)), HANG_MS, "started");
  await assert.rejects(within(new Response(run.stdout).bytes(), HANG_MS, "stdout"));
  const reason = await within(client.closed, HANG_MS, "closed");
  if (code !== "closed") assert.equal((reason as { code?: string })?.code, code);
  // A new exec on the dead connection fails at once too.
  const late = client.exec({ argv: ["true"] });
  await assert.rejects(within(late.result, HANG_MS, "late result"), (e) => e instanceof AgentError);
  await assert.rejects(
    within(late.signal("SIGINT"), HANG_MS, "signal"),
    (e) => e instanceof AgentError,
  );
}

Deno.test("AgentClient: a well-behaved fake agent runs an exec end to end", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.started", stream, pid: 1234 });
  await peer.send({ type: "stream.data", stream, fd: 1, data: new TextEncoder().encode("out") });
  await peer.send({ type: "stream.data", stream, fd: 2, data: new TextEncoder().encode("err") });
  await peer.send({ type: "stream.end", stream, fd: 1 });
  await peer.send({ type: "stream.end", stream, fd: 2 });
  await peer.send({ type: "exec.exit", stream, code: 3, signal: null, timedOut: false });
  assert.equal(await within(run.started, HANG_MS, "started"), 1234);
  assert.equal(await new Response(run.stdout).text(), "out");
  assert.equal(await new Response(run.stderr).text(), "err");
  assert.deepEqual(await within(run.result, HANG_MS, "result"), {
    code: 3,
    signal: null,
    timedOut: false,
  });
  client.close();
  await peer.drain();
});

Deno.test("AgentClient.connect: garbage instead of a hello is bad_frame", async () => {
  const { peer, connecting } = fakeAgent();
  await peer.write(new Uint8Array([0, 0, 0, 3, 0xff, 0xfe, 0xfd]));
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("bad_frame"));
  // The host told the agent why before hanging up.
  assert.equal((await peer.expect("error"))?.code, "bad_frame");
});

Deno.test("AgentClient.connect: an unknown message type is unknown_type", async () => {
  const { peer, connecting } = fakeAgent();
  const cbor = encodeMessage(AGENT_HELLO);
  // Re-spell the type "hello" as "hellx": a well-formed frame of an unknown type.
  const at = cbor.findIndex((_, i) =>
    new TextDecoder().decode(cbor.subarray(i, i + 5)) === "hello"
  );
  cbor[at + 4] = "x".charCodeAt(0);
  await peer.write(cbor);
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("unknown_type"));
});

Deno.test("AgentClient.connect: a hello with another version is version_mismatch", async () => {
  const { peer, connecting } = fakeAgent();
  await peer.send({ ...AGENT_HELLO, version: PROTOCOL_VERSION + 1 });
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("version_mismatch"));
  const error = await within(peer.expect("error"), HANG_MS, "error frame");
  assert.equal(error?.code, "version_mismatch");
  assert.equal(await peer.next(), undefined, "then the host hangs up");
});

Deno.test("AgentClient.connect: a hello claiming the host role is bad_message", async () => {
  const { peer, connecting } = fakeAgent();
  await peer.send({ ...AGENT_HELLO, role: "host" });
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("bad_message"));
});

Deno.test("AgentClient.connect: any message before the hello is bad_message", async () => {
  const { peer, connecting } = fakeAgent();
  await peer.send({ type: "exec.started", stream: 1, pid: 1 });
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("bad_message"));
});

Deno.test("AgentClient.connect: an oversized frame is refused before its body", async () => {
  const { peer, connecting } = fakeAgent();
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  await peer.write(header);
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("frame_too_large"));
});

Deno.test("AgentClient.connect: EOF in the middle of the hello is bad_frame", async () => {
  const { peer, connecting } = fakeAgent();
  const frame = encodeMessage(AGENT_HELLO);
  await peer.write(frame.subarray(0, frame.length - 2));
  await peer.end();
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("bad_frame"));
});

Deno.test("AgentClient.connect: an agent that hangs up at once is closed", async () => {
  const { peer, connecting } = fakeAgent();
  await peer.end();
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("closed"));
});

Deno.test("AgentClient.connect: a silent agent can be given up on with an AbortSignal", async () => {
  const controller = new AbortController();
  const { peer, connecting } = fakeAgent({ signal: controller.signal });
  await delay(20);
  controller.abort();
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("closed"));
  assert.equal(await within(peer.next(), HANG_MS, "peer EOF"), undefined, "the host hung up");
});

Deno.test("AgentClient.connect: an already aborted signal gives up at once", async () => {
  const { connecting } = fakeAgent({ signal: AbortSignal.abort() });
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("closed"));
});

Deno.test("AgentClient.connect: AbortSignal.timeout bounds the wait for a silent agent", async () => {
  const { connecting } = fakeAgent({ signal: AbortSignal.timeout(50) });
  await assert.rejects(within(connecting, HANG_MS, "connect"), isAgentError("closed"));
});

Deno.test("AgentClient: garbage after the hello fails pending execs with bad_frame", async () => {
  const { peer, client, run } = await greetedWithExec();
  await peer.write(new Uint8Array([0, 0, 0, 2, 0xc1, 0xc1]));
  await assertExecFails(client, run, "bad_frame");
});

Deno.test("AgentClient: an oversized frame mid-session is frame_too_large", async () => {
  const { peer, client, run } = await greetedWithExec();
  await peer.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  await assertExecFails(client, run, "frame_too_large");
});

Deno.test("AgentClient: stream data for an unknown stream is unknown_stream", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.started", stream, pid: 1 });
  await peer.send({ type: "stream.data", stream: stream + 100, fd: 1, data: new Uint8Array(1) });
  await assertExecFails(client, run, "unknown_stream");
});

Deno.test("AgentClient: stdin data from the agent is unknown_stream", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "stream.data", stream, fd: 0, data: new Uint8Array(1) });
  await assertExecFails(client, run, "unknown_stream");
});

Deno.test("AgentClient: exec.exit for an unknown stream is unknown_stream", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({
    type: "exec.exit",
    stream: stream + 1,
    code: 0,
    signal: null,
    timedOut: false,
  });
  await assertExecFails(client, run, "unknown_stream");
});

Deno.test("AgentClient: exec.exit without exec.started is bad_message", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.exit", stream, code: 0, signal: null, timedOut: false });
  await assertExecFails(client, run, "bad_message");
});

Deno.test("AgentClient: data beyond the window is flow_violation", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.started", stream, pid: 1 });
  // The host reads nothing: one byte beyond a window must end the connection.
  const chunk = new Uint8Array(128 * 1024);
  for (let sent = 0; sent < STREAM_WINDOW_BYTES; sent += chunk.length) {
    await peer.send({ type: "stream.data", stream, fd: 1, data: chunk });
  }
  await peer.send({ type: "stream.data", stream, fd: 1, data: new Uint8Array(1) });
  await assertExecFails(client, run, "flow_violation");
});

Deno.test("AgentClient: data after stream.end is bad_message", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.started", stream, pid: 1 });
  await peer.send({ type: "stream.end", stream, fd: 2 });
  await peer.send({ type: "stream.data", stream, fd: 2, data: new Uint8Array(1) });
  await assertExecFails(client, run, "bad_message");
});

Deno.test("AgentClient: a message only a host sends is bad_message", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.signal", stream, signal: "SIGKILL" });
  await assertExecFails(client, run, "bad_message");
});

Deno.test("AgentClient: an invalid field in an agent message is bad_message", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.started", stream, pid: 1 });
  const forged = { type: "exec.exit", stream, code: 300, signal: null, timedOut: false };
  await peer.send(forged as unknown as Message);
  await assertExecFails(client, run, "bad_message");
});

Deno.test("AgentClient: EOF mid-frame during an exec is bad_frame", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.started", stream, pid: 1 });
  const frame = encodeMessage({ type: "stream.data", stream, fd: 1, data: new Uint8Array(50) });
  await peer.write(frame.subarray(0, 20));
  await peer.end();
  await assertExecFails(client, run, "bad_frame");
});

Deno.test("AgentClient: an agent that hangs up mid-exec fails it with closed", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.started", stream, pid: 1 });
  await peer.end();
  await assertExecFails(client, run, "closed");
});

Deno.test("AgentClient: a connection-level error from the agent fails every exec with its code", async () => {
  const { peer, client, run } = await greetedWithExec();
  const second = client.exec({ argv: ["true"] });
  await peer.send({ type: "error", code: "internal", message: "agent is shutting down" });
  await assertExecFails(client, run, "internal");
  await assert.rejects(within(second.result, HANG_MS, "second"), isAgentError("internal"));
});

Deno.test("AgentClient: a stream error fails that exec only", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  const other = client.exec({ argv: ["true"] });
  const otherStart = await peer.expect("exec.start");
  assert.ok(otherStart && otherStart.stream !== stream, "every exec gets its own stream");
  await peer.send({ type: "error", stream, code: "spawn_failed", message: "Cannot start cat" });
  await assert.rejects(within(run.result, HANG_MS, "result"), isAgentError("spawn_failed"));
  await assert.rejects(within(run.started, HANG_MS, "started"), isAgentError("spawn_failed"));
  // The other exec carries on.
  await peer.send({ type: "exec.started", stream: otherStart.stream, pid: 2 });
  await peer.send({ type: "stream.end", stream: otherStart.stream, fd: 1 });
  await peer.send({ type: "stream.end", stream: otherStart.stream, fd: 2 });
  await peer.send({
    type: "exec.exit",
    stream: otherStart.stream,
    code: 0,
    signal: null,
    timedOut: false,
  });
  assert.equal((await within(other.result, HANG_MS, "other")).code, 0);
  client.close();
  await peer.drain();
});

Deno.test("AgentClient: cancelling stdout keeps the agent flowing instead of breaking the connection", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  await peer.send({ type: "exec.started", stream, pid: 1 });
  await run.stdout.cancel();
  // Twice the window: only possible if the host keeps returning credit for what it drops.
  let credit = STREAM_WINDOW_BYTES;
  const chunk = new Uint8Array(128 * 1024);
  for (let sent = 0; sent < 2 * STREAM_WINDOW_BYTES; sent += chunk.length) {
    while (credit < chunk.length) {
      const m = await within(peer.expect("stream.credit"), HANG_MS, "credit");
      assert.ok(m);
      credit += m.bytes;
    }
    await peer.send({ type: "stream.data", stream, fd: 1, data: chunk });
    credit -= chunk.length;
  }
  await peer.send({ type: "stream.end", stream, fd: 1 });
  await peer.send({ type: "stream.end", stream, fd: 2 });
  await peer.send({ type: "exec.exit", stream, code: 0, signal: null, timedOut: false });
  assert.equal((await within(run.result, HANG_MS, "result")).code, 0);
  client.close();
  await peer.drain();
});

Deno.test("AgentClient over a unix socket: garbage closes the socket and fails the exec", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-client-test-" });
  const path = `${dir}/agent.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  try {
    const accepting = listener.accept();
    const client = await AgentClient.connect(await Deno.connect({ transport: "unix", path }), {
      signal: AbortSignal.timeout(100),
    }).catch((e) => e);
    // The silent fake agent was given up on by the signal.
    assert.ok(client instanceof AgentError && client.code === "closed", String(client));
    const agent = await accepting;
    // The host closed its socket: the agent reads EOF (or a reset), never blocks forever.
    const buf = new Uint8Array(16);
    const n = await within(agent.read(buf).catch(() => null), HANG_MS, "agent read");
    assert.equal(n, null);
    agent.close();

    const accepting2 = listener.accept();
    const connecting = AgentClient.connect(await Deno.connect({ transport: "unix", path }));
    const agent2 = await accepting2;
    await agent2.write(encodeMessage(AGENT_HELLO));
    const client2 = await within(connecting, HANG_MS, "connect");
    const run = client2.exec({ argv: ["true"] });
    await agent2.write(new Uint8Array([0, 0, 0, 1, 0xff]));
    await assert.rejects(within(run.result, HANG_MS, "result"), isAgentError("bad_frame"));
    // The host said why and hung up: the agent reads frames then EOF.
    const rest = await within(new Response(agent2.readable).bytes(), HANG_MS, "agent EOF");
    assert.ok(new TextDecoder().decode(rest).includes("bad_frame"));
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client: a terminal exec on an agent without exec.pty fails with version_mismatch", async () => {
  const { peer, connecting } = fakeAgent();
  await peer.send(AGENT_HELLO);
  const client = await within(connecting, HANG_MS, "connect");
  await peer.expect("hello");
  const run = client.exec({ argv: ["sh"], pty: { rows: 24, cols: 80, term: "xterm" } });
  await assert.rejects(within(run.result, HANG_MS, "result"), isAgentError("version_mismatch"));
  // Nothing reached the agent: an old agent would have ignored `pty` and run without a terminal.
  client.exec({ argv: ["true"] }).result.catch(() => {});
  const first = await within(peer.expect("exec.start"), HANG_MS, "exec.start");
  assert.deepEqual(first?.argv, ["true"]);
  client.close();
});

Deno.test("client: resize sends exec.resize for the stream", async () => {
  const { peer, client, run, stream } = await greetedWithExec();
  run.result.catch(() => {});
  await run.resize({ rows: 40, cols: 100 });
  assert.deepEqual(await within(peer.expect("exec.resize"), HANG_MS, "exec.resize"), {
    type: "exec.resize",
    stream,
    rows: 40,
    cols: 100,
  });
  client.close();
});

/** A fake agent that completed the handshake with a client using `deadlines`. */
async function greeted(deadlines: ConnectOptions["deadlines"]) {
  const { peer, connecting } = fakeAgent({ deadlines });
  await peer.send(AGENT_HELLO);
  const client = await within(connecting, HANG_MS, "connect");
  assert.equal((await peer.expect("hello"))?.role, "host");
  return { peer, client };
}

function isTimedOut(what: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof AgentError && e.code === "timed_out", `${e}`);
    assert.match(e.message, what);
    return true;
  };
}

Deno.test("AgentClient: an exec.start the agent never answers fails with timed_out", async () => {
  const { peer, client, run } = await greetedWithExec({ deadlines: { answerMs: 200 } });
  await assert.rejects(
    within(run.result, HANG_MS, "result"),
    isTimedOut(/did not answer exec.start within 0.2 s/),
  );
  assert.equal((await within(client.closed, HANG_MS, "closed") as AgentError).code, "timed_out");
  await peer.cancel();
});

Deno.test("AgentClient: an answered exec may run silently for longer than the answer deadline", async () => {
  const { peer, client, run, stream } = await greetedWithExec({ deadlines: { answerMs: 100 } });
  await peer.send({ type: "exec.started", stream, pid: 1 });
  await delay(300);
  await peer.send({ type: "stream.end", stream, fd: 1 });
  await peer.send({ type: "stream.end", stream, fd: 2 });
  await peer.send({ type: "exec.exit", stream, code: 0, signal: null, timedOut: false });
  assert.equal((await within(run.result, HANG_MS, "result")).code, 0);
  client.close();
});

Deno.test("AgentClient: half a frame mid-exec and then nothing fails the exec with timed_out", async () => {
  const { peer, client, run, stream } = await greetedWithExec({ deadlines: { frameMs: 200 } });
  await peer.send({ type: "exec.started", stream, pid: 1 });
  const frame = encodeMessage({ type: "stream.data", stream, fd: 1, data: new Uint8Array(50) });
  await peer.write(frame.subarray(0, 20)); // and no EOF
  await assert.rejects(
    within(run.result, HANG_MS, "result"),
    isTimedOut(/20 bytes of a frame and not the rest/),
  );
  client.close();
  await peer.cancel();
});

Deno.test("AgentClient.changes: an agent that never answers changes.start times out idle", async () => {
  const { peer, client } = await greeted({ changesIdleMs: 200 });
  const { data, entries } = client.changes();
  assert.ok(await within(peer.expect("changes.start"), HANG_MS, "changes.start"));
  await assert.rejects(
    within(new Response(data).bytes(), HANG_MS, "data"),
    isTimedOut(/sent nothing for 0.2 s while sending the workspace's changes \(0 bytes/),
  );
  await assert.rejects(within(entries, HANG_MS, "entries"), isTimedOut(/sent nothing/));
  await peer.cancel();
});

Deno.test("AgentClient.changes: a stream ended without changes.done times out idle", async () => {
  const { peer, client } = await greeted({ changesIdleMs: 200 });
  const { data, entries } = client.changes();
  const start = await within(peer.expect("changes.start"), HANG_MS, "changes.start");
  await peer.send({ type: "stream.data", stream: start!.stream, fd: 1, data: new Uint8Array(5) });
  await peer.send({ type: "stream.end", stream: start!.stream, fd: 1 });
  assert.equal((await within(new Response(data).bytes(), HANG_MS, "data")).length, 5);
  await assert.rejects(within(entries, HANG_MS, "entries"), isTimedOut(/5 bytes received/));
  await peer.cancel();
});

Deno.test("AgentClient.changes: a trickled stream is cut at the total deadline", async () => {
  const { peer, client } = await greeted({ changesIdleMs: 150, changesTotalMs: 600 });
  const { data, entries } = client.changes();
  const start = await within(peer.expect("changes.start"), HANG_MS, "changes.start");
  const started = performance.now();
  // One byte every 50 ms: never idle for long, never done.
  let cut = false;
  const trickle = (async () => {
    while (!cut) {
      await peer.send({
        type: "stream.data",
        stream: start!.stream,
        fd: 1,
        data: new Uint8Array(1),
      });
      await delay(50);
    }
  })();
  await assert.rejects(
    within(new Response(data).bytes(), HANG_MS, "data"),
    isTimedOut(/did not finish sending the workspace's changes within 0.6 s \(\d+ bytes/),
  );
  await assert.rejects(within(entries, HANG_MS, "entries"), isTimedOut(/did not finish/));
  assert.ok(performance.now() - started >= 550, "not before the deadline");
  cut = true;
  await trickle;
  await peer.cancel();
});

Deno.test("AgentClient.changes: a deadline sooner than the agent's own cuts the transfer then", async () => {
  const { peer, client } = await greeted({ changesIdleMs: 5000 });
  const { entries } = client.changes({ deadline: Date.now() + 200 });
  await assert.rejects(
    within(entries, HANG_MS, "entries"),
    isTimedOut(/did not finish sending the workspace's changes within 0.2 s/),
  );
  await peer.cancel();
});

Deno.test("AgentClient: a host command the agent starts but never ends fails at its deadline", async () => {
  const { peer, client } = await greeted({});
  const run = client.exec({ argv: ["mount-workspace"], deadlineMs: 300 });
  const start = await within(peer.expect("exec.start"), HANG_MS, "exec.start");
  await peer.send({ type: "exec.started", stream: start!.stream, pid: 7 });
  await assert.rejects(
    within(run.result, HANG_MS, "result"),
    isTimedOut(/did not run "mount-workspace" to its end within 0.3 s/),
  );
  await peer.cancel();
});

Deno.test("AgentClient: a host command that ends in time is not cut by its deadline", async () => {
  const { peer, client } = await greeted({});
  const run = client.exec({ argv: ["true"], deadlineMs: 300 });
  const start = await within(peer.expect("exec.start"), HANG_MS, "exec.start");
  const stream = start!.stream;
  await peer.send({ type: "exec.started", stream, pid: 7 });
  await peer.send({ type: "stream.end", stream, fd: 1 });
  await peer.send({ type: "stream.end", stream, fd: 2 });
  await peer.send({ type: "exec.exit", stream, code: 0, signal: null, timedOut: false });
  assert.equal((await within(run.result, HANG_MS, "result")).code, 0);
  await delay(400);
  const closed = await Promise.race([
    client.closed.then(() => "closed"),
    delay(0).then(() => "open"),
  ]);
  assert.equal(closed, "open");
  client.close();
  await peer.cancel();
});

Deno.test("AgentClient: hostile port and files answers end the connection", async () => {
  const cases: [string, (stream: number) => Message[]][] = [
    ["port.closed before port.opened", (s) => [{ type: "port.closed", stream: s }]],
    ["port.opened twice", (s) => [{ type: "port.opened", stream: s }, {
      type: "port.opened",
      stream: s,
    }]],
    ["port.opened for another stream", (s) => [{ type: "port.opened", stream: s + 7 }]],
    ["files.done for another stream", (s) => [{ type: "files.done", stream: s + 7, entries: 0 }]],
    ["session.forward.done unasked", (s) => [{
      type: "session.forward.done",
      stream: s + 7,
      hostname: "127.0.0.1",
      hostPort: 80,
    }]],
  ];
  for (const [what, answers] of cases) {
    const { peer, connecting } = fakeAgent();
    await peer.send({ ...AGENT_HELLO, capabilities: ["exec", "files", "port"] });
    const client = await within(connecting, HANG_MS, "connect");
    await peer.expect("hello");
    const opening = client.openPort(8080);
    opening.catch(() => {});
    const open = await within(peer.expect("port.open"), HANG_MS, "port.open");
    assert.ok(open && open.type === "port.open");
    for (const answer of answers(open.stream)) await peer.send(answer);
    const reason = await within(client.closed, HANG_MS, `${what}: closed`);
    assert.ok(reason instanceof Error, what);
    const code = (reason as { code?: string }).code;
    assert.ok(code === "unknown_stream", `${what}: ${code}`);
  }
});

Deno.test("AgentClient: files and ports need the agent's capabilities", async () => {
  const { peer, connecting } = fakeAgent();
  await peer.send(AGENT_HELLO);
  const client = await within(connecting, HANG_MS, "connect");
  await assert.rejects(client.openPort(80), isAgentError("version_mismatch"));
  await assert.rejects(client.readFiles("/x").entries, isAgentError("version_mismatch"));
  await assert.rejects(
    client.writeFiles("/x", ReadableStream.from([new Uint8Array(1)])),
    isAgentError("version_mismatch"),
  );
  client.close();
});

Deno.test("AgentClient: an agent hello nobody asked for ends the connection", async () => {
  const { peer, client, run } = await greetedWithExec();
  await peer.send(AGENT_HELLO);
  await assertExecFails(client, run, "bad_message");
  await peer.drain();
});

Deno.test("AgentClient.rehello: an agent that never answers times out", async () => {
  const { peer, connecting } = fakeAgent({ deadlines: { answerMs: 200 } });
  await peer.send(AGENT_HELLO);
  const client = await within(connecting, HANG_MS, "connect");
  assert.equal((await peer.expect("hello"))?.role, "host");
  const rehello = client.rehello();
  assert.equal((await peer.expect("hello"))?.role, "host");
  await assert.rejects(rehello, isAgentError("timed_out"));
  client.close();
  await peer.drain();
});
