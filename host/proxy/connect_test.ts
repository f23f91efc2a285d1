import assert from "node:assert/strict";
import { startFixture, TLS_ADDR } from "./testing/fixture.ts";
import { readUntilText, tlsEcho } from "./testing/mod.ts";

const enc = new TextEncoder();

async function connectVia(conn: Deno.TcpConn, target: string): Promise<string> {
  await conn.write(enc.encode(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
  return await readUntilText(conn, (t) => t.includes("\r\n\r\n"));
}

/** CONNECT, then TLS with `sni`, then one echo round trip; returns the echoed text or the error. */
async function tlsThroughProxy(
  f: Awaited<ReturnType<typeof startFixture>>,
  target: string,
  sni: string,
  payload = "ping",
): Promise<string> {
  const conn = await f.connect();
  const head = await connectVia(conn, target);
  if (!head.startsWith("HTTP/1.1 200")) {
    conn.close();
    return head.split("\r\n")[0];
  }
  return await tlsEcho(conn, sni, f.cert, payload);
}

Deno.test("CONNECT to an allowed host tunnels TLS end to end and is recorded", async () => {
  const f = await startFixture();
  try {
    assert.equal(await tlsThroughProxy(f, "allowed.test:443", "allowed.test"), "ping");
    assert.equal(f.accepted.tls, 1);
    assert.deepEqual(f.dialled, [`${TLS_ADDR}:443`]);
    await waitFor(() => f.rows()[0]?.status === 200);
    const [row] = f.rows();
    assert.equal(row.method, "CONNECT");
    assert.equal(row.decision, "allow");
    assert.match(row.rule, /allow "allowed.test"/);
    assert.ok(row.bytesUp! > 4 && row.bytesDown! > 4);
  } finally {
    await f.close();
  }
});

Deno.test("CONNECT whose TLS SNI differs from the CONNECT host is refused before dialling", async () => {
  const f = await startFixture();
  try {
    // other.test is on the blocklist; fronting it behind allowed.test must not work.
    const result = await tlsThroughProxy(f, "allowed.test:443", "other.test");
    assert.match(result, /^error/);
    assert.equal(f.accepted.tls, 0, "upstream never saw a connection");
    assert.deepEqual(f.dialled, []);
    const [row] = f.rows();
    assert.equal(row.decision, "deny");
    assert.equal(row.rule, "TLS SNI other.test does not match CONNECT host allowed.test");
    // Positive control: same proxy, matching SNI.
    assert.equal(await tlsThroughProxy(f, "allowed.test:443", "allowed.test"), "ping");
    assert.equal(f.accepted.tls, 1);
  } finally {
    await f.close();
  }
});

Deno.test("CONNECT to port 22 is refused; 443 on the same host works", async () => {
  const f = await startFixture();
  try {
    const conn = await f.connect();
    const head = await connectVia(conn, "allowed.test:22");
    conn.close();
    assert.match(head, /^HTTP\/1\.1 403/);
    assert.match(head, /port 22 not in network\.connect_ports/);
    assert.deepEqual(f.dialled, []);
    assert.equal(f.rows()[0].rule, "port 22 not in network.connect_ports");
    assert.equal(await tlsThroughProxy(f, "allowed.test:443", "allowed.test"), "ping");
  } finally {
    await f.close();
  }
});

Deno.test("CONNECT refuses every private, loopback, link-local and metadata resolution", async () => {
  const f = await startFixture();
  try {
    const names = [
      "loop.test",
      "ten.test",
      "cgnat.test",
      "meta.test",
      "linklocal.test",
      "mcast.test",
      "v6loop.test",
      "ula.test",
      "v6ll.test",
      "mapped.test",
    ];
    for (const name of names) {
      const status = await tlsThroughProxy(f, `${name}:443`, name);
      assert.match(status, /^HTTP\/1\.1 403/, name);
    }
    assert.deepEqual(f.dialled, [], "nothing was dialled");
    assert.equal(f.rows().length, names.length);
    for (const row of f.rows()) {
      assert.equal(row.decision, "deny");
      assert.match(row.rule, /^address check: Cannot connect to/);
    }
    assert.match(f.rows().find((r) => r.host === "meta.test")!.rule, /cloud metadata/);
    // Positive control: an allowed name with a public answer goes through.
    assert.equal(await tlsThroughProxy(f, "allowed.test:443", "allowed.test"), "ping");
  } finally {
    await f.close();
  }
});

Deno.test("CONNECT resolves once: a name that rebinds after the check still dials the vetted address", async () => {
  const f = await startFixture();
  try {
    assert.equal(await tlsThroughProxy(f, "rebind.test:443", "rebind.test"), "ping");
    assert.equal(f.resolverCalls.get("rebind.test"), 1, "resolved exactly once");
    assert.deepEqual(f.dialled, [`${TLS_ADDR}:443`], "dialled the vetted public address");
    // The opposite order: loopback at check time is refused, whatever it resolves to later.
    assert.match(await tlsThroughProxy(f, "late.test:443", "late.test"), /^HTTP\/1\.1 403/);
    assert.equal(f.resolverCalls.get("late.test"), 1);
    assert.equal(f.dialled.length, 1);
  } finally {
    await f.close();
  }
});

Deno.test("CONNECT to an IP literal is refused unless allowed by address", async () => {
  const f = await startFixture();
  try {
    const conn = await f.connect();
    const head = await connectVia(conn, `${TLS_ADDR}:443`);
    conn.close();
    assert.match(head, /^HTTP\/1\.1 403/);
    assert.deepEqual(f.dialled, []);
    assert.equal(await tlsThroughProxy(f, "allowed.test:443", "allowed.test"), "ping");
  } finally {
    await f.close();
  }
});

Deno.test("CONNECT to a graylisted host: denied without approval, tunnelled when approved", async () => {
  const denied = await startFixture();
  try {
    const conn = await denied.connect();
    const head = await connectVia(conn, "gray.test:443");
    const body = await readUntilText(conn, (t) => t.includes("\n"));
    conn.close();
    assert.match(head, /^HTTP\/1\.1 403/);
    assert.match(head + body, /needs approval .* --allow gray\.test/);
    assert.deepEqual(denied.dialled, []);
  } finally {
    await denied.close();
  }
  const asked: string[] = [];
  const approved = await startFixture({
    approve: (r) => {
      asked.push(r.host);
      return Promise.resolve(true);
    },
  });
  try {
    assert.equal(await tlsThroughProxy(approved, "gray.test:443", "gray.test"), "ping");
    assert.deepEqual(asked, ["gray.test"]);
    assert.match(approved.rows()[0].rule, /gray "gray.test".*approved/);
  } finally {
    await approved.close();
  }
});

Deno.test("CONNECT tunnels large bodies both ways intact", async () => {
  const f = await startFixture();
  try {
    const size = 8 * 1024 * 1024;
    const conn = await f.connect();
    await connectVia(conn, "allowed.test:443");
    const tls = await Deno.startTls(conn, { hostname: "allowed.test", caCerts: [f.cert] });
    const data = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const writing = (async () => {
      for (let sent = 0; sent < size; sent += data.length) await tls.write(data);
    })();
    const received = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = await tls.read(received.subarray(got));
      if (n === null) break;
      got += n;
    }
    await writing;
    tls.close();
    assert.equal(got, size);
    for (let i = 0; i < size; i += data.length) {
      assert.deepEqual(received.subarray(i, i + data.length), data);
    }
    await waitFor(() => (f.rows()[0]?.bytesDown ?? 0) >= size);
    assert.ok(f.rows()[0].bytesUp! >= size);
  } finally {
    await f.close();
  }
});

Deno.test("a recorder that fails refuses the request (fail closed)", async () => {
  const f = await startFixture({
    recorder: {
      begin: () => {
        throw new Error("database is locked");
      },
      finish() {},
    },
  });
  try {
    const result = await tlsThroughProxy(f, "allowed.test:443", "allowed.test");
    assert.match(result, /^error/);
    assert.equal(f.accepted.tls, 0);
    assert.deepEqual(f.dialled, []);
  } finally {
    await f.close();
  }
});

Deno.test("a client that never sends its ClientHello is cut off", async () => {
  const f = await startFixture({ helloTimeoutMs: 200 });
  try {
    const conn = await f.connect();
    assert.match(await connectVia(conn, "allowed.test:443"), /^HTTP\/1\.1 200/);
    const rest = await readUntilText(conn, () => false);
    conn.close();
    assert.equal(rest, "");
    assert.deepEqual(f.dialled, []);
  } finally {
    await f.close();
  }
});

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
