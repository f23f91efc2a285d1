/**
 * Port forwards through the real agent (in-process, on a unix socket): a real HTTP server on
 * loopback stands for the guest's, a host listener carries connections to it as `port.open`
 * streams. Many concurrent requests with checked bodies, half-close, a port nobody listens on,
 * a taken host port, and the forward's end.
 */

import assert from "node:assert/strict";
import { startAgent } from "../channel/testing/in_process_agent.ts";
import { AgentError } from "../channel/agent_client.ts";
import { PortForwardError, startPortForward } from "./port_forward.ts";

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("port forward: 100 concurrent requests with checked bodies, then it closes", async () => {
  await using agent = await startAgent();
  // Bodies of different sizes (up to 300 KiB, past a flow-control window's quarter), by path.
  const bodies = new Map<string, Uint8Array<ArrayBuffer>>();
  for (let i = 0; i < 10; i++) {
    const body = new Uint8Array(1000 + i * 30_000);
    crypto.getRandomValues(body.subarray(0, Math.min(body.length, 65536)));
    body.fill(i, 65536);
    bodies.set(`/f${i}`, body);
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/echo") return new Response(await request.arrayBuffer());
      const body = bodies.get(path);
      return body ? new Response(body) : new Response("no", { status: 404 });
    },
  );
  const forward = startPortForward(agent.client, {
    hostname: "127.0.0.1",
    hostPort: 0,
    guestPort: server.addr.port,
  });
  try {
    assert.equal(forward.hostname, "127.0.0.1");
    assert.ok(forward.hostPort > 0);
    const base = `http://127.0.0.1:${forward.hostPort}`;
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, n) => {
        const path = `/f${n % 10}`;
        const response = await fetch(`${base}${path}`, { headers: { connection: "close" } });
        const got = await response.bytes();
        return [await sha256Hex(got), await sha256Hex(bodies.get(path)!)];
      }),
    );
    for (const [got, want] of results) assert.equal(got, want);
    // The request body goes the other way, a megabyte of it.
    const upload = new Uint8Array(1 << 20).fill(7);
    const echoed = await (await fetch(`${base}/echo`, { method: "POST", body: upload })).bytes();
    assert.equal(await sha256Hex(echoed), await sha256Hex(upload));

    // A second forward on the taken port is refused, saying so.
    assert.throws(
      () =>
        startPortForward(agent.client, {
          hostname: "127.0.0.1",
          hostPort: forward.hostPort,
          guestPort: 1,
        }),
      (e) => e instanceof PortForwardError && /in use/.test(e.message),
    );
  } finally {
    await forward.close();
    await server.shutdown();
  }
  // Closed: nothing listens there any more.
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: forward.hostPort }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("port forward: a guest port nobody listens on closes the client's connection", async () => {
  await using agent = await startAgent();
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const unused = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await assert.rejects(
    agent.client.openPort(unused),
    (e) => e instanceof AgentError && e.code === "connect_failed",
  );
  const forward = startPortForward(agent.client, {
    hostname: "127.0.0.1",
    hostPort: 0,
    guestPort: unused,
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: forward.hostPort });
    const n = await conn.read(new Uint8Array(16));
    assert.equal(n, null);
    conn.close();
    // The agent's connection is unharmed.
    const run = agent.client.exec({ argv: ["true"] });
    assert.equal((await run.result).code, 0);
  } finally {
    await forward.close();
  }
});

Deno.test("port forward: half-close reaches the guest's server, its answer comes back", async () => {
  await using agent = await startAgent();
  // A server that answers only after the client's end of input: the byte count it read.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    let total = 0;
    const buffer = new Uint8Array(65536);
    for (let n; (n = await conn.read(buffer)) !== null;) total += n;
    await conn.write(new TextEncoder().encode(`read ${total}`));
    conn.close();
  })();
  const port = await agent.client.openPort((listener.addr as Deno.NetAddr).port);
  const writer = port.writable.getWriter();
  await writer.write(new Uint8Array(300_000));
  await writer.close();
  const answer = await new Response(port.readable).text();
  assert.equal(answer, "read 300000");
  await port.closed;
  await serving.catch(() => {});
  listener.close();
});

Deno.test("port forward: a reset while neither side has ended still closes the stream", async () => {
  await using agent = await startAgent();
  // A server that accepts and then neither sends nor closes.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const port = await agent.client.openPort((listener.addr as Deno.NetAddr).port);
  const server = await accepted;
  port.reset();
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error("port.closed never came after a reset")), 5000)
  );
  await Promise.race([port.closed, timeout]);
  // The guest's side of the connection is gone too.
  assert.equal(await server.read(new Uint8Array(1)), null);
  server.close();
  listener.close();
  await port.readable.cancel().catch(() => {});
});
