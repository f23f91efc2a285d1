/**
 * A VM restored from a snapshot: the agent's end of the byte stream stays open while a new host
 * takes over the other end and greets first. The new host gets a fresh hello and fresh stream
 * numbers; what the previous host started is killed and never heard from again.
 */

import assert from "node:assert/strict";
import { AgentClient } from "../host/channel/agent_client.ts";
import type { Duplex, Hello } from "@agentbox/protocol";
import { within } from "./protocol/testing/mod.ts";
import { serveConnection } from "./session.ts";

const HANG_MS = 10_000;

/** One agent-side duplex whose host side can be handed to a new host, as QEMU's socket can. */
function switchableLink() {
  const toAgent = new TransformStream<Uint8Array, Uint8Array>();
  const toAgentWriter = toAgent.writable.getWriter();
  let toHost = new TransformStream<Uint8Array, Uint8Array>();
  let toHostWriter = toHost.writable.getWriter();
  const agent: Duplex = {
    readable: toAgent.readable,
    writable: new WritableStream({ write: (chunk) => toHostWriter.write(chunk).catch(() => {}) }),
  };
  const host = (): Duplex => ({
    readable: toHost.readable,
    // A host hanging up does not close the agent's end: the guest's port stays open.
    writable: new WritableStream({ write: (chunk) => toAgentWriter.write(chunk) }),
  });
  const newHost = (): Duplex => {
    toHostWriter.close().catch(() => {});
    toHost = new TransformStream();
    toHostWriter = toHost.writable.getWriter();
    return host();
  };
  return { agent, host, newHost, end: () => toAgentWriter.close() };
}

Deno.test("a second host hello gets a new agent hello and silences the first host's streams", async () => {
  const link = switchableLink();
  const hellos: Hello[] = [];
  const served = serveConnection(link.agent, { onHostHello: (hello) => hellos.push(hello) });
  const first = await within(AgentClient.connect(link.host()), HANG_MS, "first hello");
  const sleeper = first.exec({ argv: ["sleep", "30"] });
  sleeper.result.catch(() => {}); // Fails when the first host loses its link.
  const pid = await within(sleeper.started, HANG_MS, "sleep started");

  const second = await within(AgentClient.reconnect(link.newHost()), HANG_MS, "second hello");
  assert.ok(second.hello.capabilities.includes("exec"));
  assert.equal(hellos.length, 2);
  assert.ok(Math.abs(hellos[1].time! - Date.now()) < 5000);
  assert.equal(hellos[1].entropy!.length, 32);
  assert.notDeepEqual(hellos[0].entropy, hellos[1].entropy);

  // Stream 1 again, on the new host: only its own exit arrives, not the killed sleeper's.
  const run = second.exec({ argv: ["sh", "-c", "echo again"] });
  const [out, result] = await within(
    Promise.all([new Response(run.stdout).text(), run.result, run.stderr.cancel()]),
    HANG_MS,
    "exec on the new host",
  );
  assert.deepEqual([out, result.code], ["again\n", 0]);
  assert.ok(await waitGone(pid), "the first host's process was killed");
  first.close();
  second.close();
  await link.end();
  await within(served, HANG_MS, "agent to end");
});

async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return true;
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

Deno.test("a host hello the agent cannot apply is a warning passed up, and the connection goes on", async () => {
  const link = switchableLink();
  const warnings: string[] = [];
  const served = serveConnection(link.agent, {
    onHostHello: () => {
      throw new Error("clock refused");
    },
    onWarning: (message) => warnings.push(message),
  });
  const client = await within(AgentClient.connect(link.host()), HANG_MS, "hello");
  assert.deepEqual(warnings, ["cannot apply the host's hello: Error: clock refused"]);
  const run = client.exec({ argv: ["true"] });
  const [result] = await within(
    Promise.all([run.result, run.stdout.cancel(), run.stderr.cancel()]),
    HANG_MS,
    "exec after the warning",
  );
  assert.equal(result.code, 0);
  client.close();
  await link.end();
  await within(served, HANG_MS, "agent to end");
});

Deno.test("rehello on the same connection: the agent takes the new clock and entropy, execs go on", async () => {
  const link = switchableLink();
  const hellos: Hello[] = [];
  const served = serveConnection(link.agent, { onHostHello: (hello) => hellos.push(hello) });
  const client = await within(AgentClient.connect(link.host()), HANG_MS, "hello");
  const run = async (script: string) => {
    const exec = client.exec({ argv: ["sh", "-c", script] });
    const [out, result] = await within(
      Promise.all([new Response(exec.stdout).text(), exec.result, exec.stderr.cancel()]),
      HANG_MS,
      script,
    );
    return [out, result.code];
  };
  assert.deepEqual(await run("echo before"), ["before\n", 0]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await within(client.rehello(), HANG_MS, "rehello");
  assert.equal(hellos.length, 2);
  assert.ok(hellos[1].time! > hellos[0].time!, "the second hello carries a later clock");
  assert.notDeepEqual(hellos[0].entropy, hellos[1].entropy);
  assert.deepEqual(await run("echo after"), ["after\n", 0]);

  // Not while something runs: the agent would kill it.
  const sleeper = client.exec({ argv: ["sleep", "30"] });
  await within(sleeper.started, HANG_MS, "sleep started");
  await assert.rejects(client.rehello(), /in flight/);
  sleeper.signal("SIGKILL");
  await within(
    Promise.all([sleeper.result, sleeper.stdout.cancel(), sleeper.stderr.cancel()]),
    HANG_MS,
    "sleeper killed",
  );
  client.close();
  await link.end();
  await within(served, HANG_MS, "agent to end");
});
