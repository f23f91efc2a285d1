import assert from "node:assert/strict";
import { HTTP_ADDR, startFixture, TLS_ADDR } from "./testing/fixture.ts";
import { readUntilText, tlsEcho } from "./testing/mod.ts";

const enc = new TextEncoder();

async function tlsDirect(port: number, sni: string, cert: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  return await tlsEcho(conn, sni, cert);
}

Deno.test("transparent TLS: routed by SNI for allowed names, closed for others", async () => {
  const f = await startFixture({ mode: "transparent" });
  try {
    assert.equal(await tlsDirect(f.proxy.addr.port, "allowed.test", f.cert), "ping");
    assert.deepEqual(f.dialled, [`${TLS_ADDR}:443`]);
    assert.match(await tlsDirect(f.proxy.addr.port, "other.test", f.cert), /^error/);
    assert.equal(f.dialled.length, 1, "the blocked name was never dialled");
    assert.equal(f.accepted.tls, 1);
    const rows = f.rows();
    assert.deepEqual(rows.map((r) => [r.host, r.decision]), [
      ["allowed.test", "allow"],
      ["other.test", "deny"],
    ]);
  } finally {
    await f.close();
  }
});

Deno.test("transparent HTTP: routed by Host for allowed names, 403 for others", async () => {
  const f = await startFixture({ mode: "transparent" });
  try {
    for (const [host, status] of [["web.test", 200], ["nope.test", 403]] as const) {
      const conn = await f.connect();
      await conn.write(enc.encode(`GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      const text = await readUntilText(conn, () => false);
      conn.close();
      assert.match(text, new RegExp(`^HTTP/1\\.1 ${status}`), host);
    }
    assert.deepEqual(f.dialled, [`${HTTP_ADDR}:80`]);
    assert.equal(f.accepted.http, 1);
  } finally {
    await f.close();
  }
});

Deno.test("transparent mode does not accept CONNECT", async () => {
  const f = await startFixture({ mode: "transparent" });
  try {
    const conn = await f.connect();
    await conn.write(
      enc.encode("CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n"),
    );
    const text = await readUntilText(conn, () => false);
    conn.close();
    assert.match(text, /^HTTP\/1\.1 400/);
    assert.deepEqual(f.dialled, []);
  } finally {
    await f.close();
  }
});
