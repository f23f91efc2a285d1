import assert from "node:assert/strict";
import { ECHO_ADDR, startFixture } from "./testing/fixture.ts";
import { clientHelloBytes, readUntilText } from "./testing/mod.ts";

const TUNNELS = 1000;
const enc = new TextEncoder();

/** Resolves once every tunnel has its echo, so all of them are open at the same time. */
function barrier(count: number): { arrive(): Promise<void> } {
  let arrived = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  return {
    arrive() {
      if (++arrived === count) resolve();
      return promise;
    },
  };
}

async function oneTunnel(port: number, i: number, allOpen: () => Promise<void>): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode("CONNECT echo.test:443 HTTP/1.1\r\nHost: echo.test:443\r\n\r\n"));
    const head = await readUntilText(conn, (t) => t.includes("\r\n\r\n"));
    if (!head.startsWith("HTTP/1.1 200")) throw new Error(`tunnel ${i}: ${head}`);
    const hello = clientHelloBytes("echo.test");
    const payload = enc.encode(`tunnel ${i}\n`);
    await conn.write(Uint8Array.from([...hello, ...payload]));
    // The echo upstream returns the ClientHello bytes and then the payload.
    const expected = hello.length + payload.length;
    let got = 0;
    const buf = new Uint8Array(4096);
    while (got < expected) {
      const n = await conn.read(buf);
      if (n === null) throw new Error(`tunnel ${i}: closed after ${got} bytes`);
      got += n;
    }
    await allOpen();
  } finally {
    conn.close();
  }
}

Deno.test({
  name: `${TUNNELS} concurrent CONNECT tunnels through one proxy without errors`,
  async fn() {
    const f = await startFixture();
    try {
      const started = performance.now();
      const gate = barrier(TUNNELS);
      let peak = 0;
      const allOpen = () => {
        peak = Math.max(peak, f.proxy.connections);
        return gate.arrive();
      };
      const results = await Promise.allSettled(
        Array.from({ length: TUNNELS }, (_, i) => oneTunnel(f.proxy.addr.port, i, allOpen)),
      );
      const failures = results.filter((r) => r.status === "rejected");
      assert.deepEqual(failures.slice(0, 3), [], `${failures.length} tunnels failed`);
      assert.equal(f.accepted.echo, TUNNELS);
      assert.equal(peak, TUNNELS, "every tunnel was open at once");
      assert.equal(f.dialled.filter((d) => d === `${ECHO_ADDR}:443`).length, TUNNELS);
      const until = Date.now() + 10_000;
      while (f.rows().filter((r) => r.status === 200).length < TUNNELS && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(f.rows().filter((r) => r.status === 200).length, TUNNELS);
      assert.ok(performance.now() - started < 30_000);
    } finally {
      await f.close();
    }
  },
});
