import assert from "node:assert/strict";
import { HTTP_ADDR, startFixture } from "./testing/fixture.ts";
import { readUntilText } from "./testing/mod.ts";

const enc = new TextEncoder();

/** Read one complete response with a Content-Length body from `conn`. */
async function response(conn: Deno.Conn): Promise<{ head: string; body: string }> {
  let text = "";
  text = await readUntilText(conn, (t) => {
    const end = t.indexOf("\r\n\r\n");
    if (end < 0) return false;
    const length = Number(/content-length: (\d+)/i.exec(t.slice(0, end))?.[1] ?? 0);
    return enc.encode(t.slice(end + 4)).length >= length;
  });
  const end = text.indexOf("\r\n\r\n");
  return { head: text.slice(0, end), body: text.slice(end + 4) };
}

Deno.test("HTTP forward: allowed absolute-URI requests reach the upstream over keep-alive", async () => {
  const f = await startFixture();
  try {
    const conn = await f.connect();
    for (const path of ["/one?x=1", "/two"]) {
      await conn.write(enc.encode(`GET http://web.test${path} HTTP/1.1\r\nHost: web.test\r\n\r\n`));
      const res = await response(conn);
      assert.match(res.head, /^HTTP\/1\.1 200/);
      assert.equal(res.body, `hello from web.test ${path}`);
    }
    conn.close();
    assert.deepEqual(f.dialled, [`${HTTP_ADDR}:80`, `${HTTP_ADDR}:80`]);
    const rows = f.rows();
    assert.deepEqual(rows.map((r) => r.path), ["/one?x=1", "/two"]);
    assert.equal(rows[0].scheme, "http");
    assert.equal(rows[0].status, 200);
  } finally {
    await f.close();
  }
});

Deno.test("HTTP forward: a denied host gets 403 with how to allow it, and no dial", async () => {
  const f = await startFixture();
  try {
    const conn = await f.connect();
    await conn.write(enc.encode(`GET http://nope.test/ HTTP/1.1\r\nHost: nope.test\r\n\r\n`));
    const res = await response(conn);
    conn.close();
    assert.match(res.head, /^HTTP\/1\.1 403/);
    assert.match(res.body, /nope\.test:80 refused by default deny.*--allow nope\.test/);
    assert.deepEqual(f.dialled, []);
    assert.equal(f.accepted.http, 0);
    assert.equal(f.rows()[0].decision, "deny");
  } finally {
    await f.close();
  }
});

Deno.test("HTTP forward: a host on the deny list is refused with how to take it off, not --allow", async () => {
  const f = await startFixture();
  try {
    // other.test is on both lists in the fixture's policy: the deny list wins.
    const conn = await f.connect();
    await conn.write(enc.encode(`GET http://other.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n`));
    const res = await response(conn);
    conn.close();
    assert.match(res.head, /^HTTP\/1\.1 403/);
    assert.match(
      res.body,
      /other\.test:80 refused by deny "other\.test" \(network\.deny in test\.toml\); to allow it, remove "other\.test" from network\.deny in test\.toml \(the deny list wins over --allow\)/,
    );
    assert.doesNotMatch(res.body, /run with --allow/);
    assert.deepEqual(f.dialled, []);
  } finally {
    await f.close();
  }
});

Deno.test("HTTP forward: a Host header naming another host is refused", async () => {
  const f = await startFixture();
  try {
    const conn = await f.connect();
    await conn.write(enc.encode(`GET http://web.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n`));
    const res = await response(conn);
    conn.close();
    assert.match(res.head, /^HTTP\/1\.1 403/);
    assert.match(res.head, /x-agentbox-refusal: name_mismatch/);
    assert.equal(f.accepted.http, 0);
  } finally {
    await f.close();
  }
});

Deno.test("HTTP forward: ambiguous framing and origin-form requests are refused", async () => {
  const f = await startFixture();
  try {
    const bad = [
      "POST http://web.test/ HTTP/1.1\r\nHost: web.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST http://web.test/ HTTP/1.1\r\nHost: web.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "GET http://web.test/ HTTP/1.1\r\nHost: web.test\r\n folded: yes\r\n\r\n",
      "GET /local HTTP/1.1\r\nHost: web.test\r\n\r\n",
      "GET https://web.test/ HTTP/1.1\r\nHost: web.test\r\n\r\n",
    ];
    for (const request of bad) {
      const conn = await f.connect();
      await conn.write(enc.encode(request));
      const res = await response(conn);
      conn.close();
      assert.match(res.head, /^HTTP\/1\.1 400/, request);
    }
    assert.equal(f.accepted.http, 0);
  } finally {
    await f.close();
  }
});

Deno.test("HTTP forward: large bodies both ways, chunked and fixed-length", async () => {
  const f = await startFixture();
  try {
    const proxyUrl = `http://127.0.0.1:${f.proxy.addr.port}`;
    const client = Deno.createHttpClient({ proxy: { url: proxyUrl } });
    const size = 8 * 1024 * 1024;
    const upload = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(upload.subarray(i, i + 65536));
    const echoed = await fetch("http://web.test/echo", { method: "POST", body: upload, client });
    assert.equal(echoed.status, 200);
    assert.equal(echoed.headers.get("x-seen-host"), "web.test");
    assert.deepEqual(new Uint8Array(await echoed.arrayBuffer()), upload);
    const streamed = new Blob([upload]).stream();
    const chunked = await fetch("http://web.test/echo", { method: "POST", body: streamed, client });
    assert.equal((await chunked.arrayBuffer()).byteLength, size);
    const download = await fetch(`http://web.test/bytes/${size}`, { client });
    assert.equal((await download.arrayBuffer()).byteLength, size);
    client.close();
    const rows = f.rows();
    assert.equal(rows.length, 3);
    assert.equal(rows[0].bytesUp, size);
    assert.equal(rows[0].bytesDown, size);
    assert.equal(rows[2].bytesDown, size);
  } finally {
    await f.close();
  }
});

Deno.test("HTTP forward: a client that stalls in the head is cut off", async () => {
  const f = await startFixture({ headTimeoutMs: 200 });
  try {
    const conn = await f.connect();
    await conn.write(enc.encode("GET http://web.test/ HTTP/1.1\r\nHost: web"));
    const started = Date.now();
    const res = await readUntilText(conn, () => false);
    conn.close();
    assert.equal(res, "", "the proxy closes without answering");
    assert.ok(Date.now() - started < 5000);
    assert.equal(f.accepted.http, 0);
  } finally {
    await f.close();
  }
});
