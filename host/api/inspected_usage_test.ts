// Usage under TLS inspection is counted once: a decrypted request is one request, and the tunnel
// that carried it is transport — in the session's report (`exec --json`'s `network.requests`),
// in `usage` and in the request log. Real proxy, real TLS upstream on loopback, real SQLite
// file; the totals are checked against the upstream's own counts.

import assert from "node:assert/strict";
import { relayedConnect } from "../net/testing/mod.ts";
import { mappedDialer, selfSignedCert, tableResolver } from "../proxy/testing/mod.ts";
import { startNetworkSession } from "../session/network_session.ts";
import { openDatabase } from "../store/database.ts";
import { GUEST_CA_FILE } from "../tls/guest_trust.ts";
import { openContext } from "./context.ts";
import { requestRecords, usageReport } from "./network_records.ts";

const ADDR = "203.0.113.60";
const HOST = "count.test";
const enc = new TextEncoder();

/** What the upstream itself saw: its requests and the body bytes each way. */
interface ServerCounts {
  requests: number;
  bytesIn: number;
  bytesOut: number;
}

Deno.test("under TLS inspection a request is counted once: report, usage and log match the server", async () => {
  const { cert, key } = await selfSignedCert([HOST]);
  const counts: ServerCounts = { requests: 0, bytesIn: 0, bytesOut: 0 };
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, cert, key },
    async (req) => {
      counts.requests++;
      counts.bytesIn += (await req.arrayBuffer()).byteLength;
      const size = Number(new URL(req.url).searchParams.get("size") ?? "0");
      counts.bytesOut += size;
      return new Response(new Uint8Array(size).fill(0x62));
    },
  );
  const dir = await Deno.makeTempDir({ prefix: "agentbox-usage-once-" });
  const db = openDatabase(`${dir}/agentbox.db`);
  try {
    const session = await startNetworkSession({
      backend: "user",
      db,
      allow: [HOST],
      tlsInspect: true,
      projectDir: dir,
      userConfig: `${dir}/no-user-config.toml`,
      inspection: { testUpstreamCaCerts: [cert] },
      proxy: {
        resolver: tableResolver({ [HOST]: [ADDR] }).resolver,
        dialer: mappedDialer({ [`${ADDR}:443`]: upstream.addr.port }).dialer,
      },
    });
    const ca = session.guestFiles.find((f) => f.path === GUEST_CA_FILE)!.contents;
    // Two tunnels: three requests on the first (keep-alive), two on the second.
    const plan = [
      [["GET", 1000, 0], ["POST", 20, 500], ["GET", 70_000, 0]],
      [["PUT", 3, 12_345], ["GET", 0, 0]],
    ] as const;
    for (const requests of plan) {
      const tls = await inspectedTunnel(session.egress!.network, ca);
      for (const [method, size, body] of requests) {
        const status = await exchange(tls, method, `/r?size=${size}`, body);
        assert.equal(status, 200);
      }
      tls.close();
    }
    const report = await session.finish();
    assert.equal(counts.requests, 5);
    assert.equal(counts.bytesIn, 500 + 12_345);
    assert.equal(counts.bytesOut, 1000 + 20 + 70_000 + 3);

    using ctx = openContext({ db });
    // `exec --json`'s network.requests.
    assert.equal(report.requests, counts.requests);
    // `agentbox usage`.
    const [host, ...others] = usageReport(ctx, { by: "model" }).hosts;
    assert.equal(others.length, 0);
    assert.deepEqual(
      { host: host.host, requests: host.requests, up: host.bytesUp, down: host.bytesDown },
      { host: HOST, requests: counts.requests, up: counts.bytesIn, down: counts.bytesOut },
    );
    // The tunnels are transport: counted apart, with the encrypted bytes they carried.
    assert.equal(host.tunnels, 2);
    assert.ok(host.tunnelBytesDown! > counts.bytesOut, JSON.stringify(host));
    // The request log: five requests, two tunnels marked as such.
    const rows = [];
    for await (const row of requestRecords(ctx, { session: report.sessionId })) rows.push(row);
    const requests = rows.filter((r) => r.kind === "request");
    const tunnels = rows.filter((r) => r.kind === "tunnel");
    assert.equal(requests.length, counts.requests);
    assert.deepEqual(tunnels.map((r) => r.method), ["CONNECT", "CONNECT"]);
    assert.equal(rows.length, requests.length + tunnels.length);
  } finally {
    db.close();
    await upstream.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** CONNECT through the session's forward proxy, then TLS trusting only the session CA. */
async function inspectedTunnel(
  network: Parameters<typeof relayedConnect>[0],
  ca: string,
): Promise<Deno.TlsConn> {
  const conn = await relayedConnect(network, 3128);
  await conn.write(enc.encode(`CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`));
  const head = await readHead(conn);
  assert.match(head.text, /^HTTP\/1\.1 200/);
  const tls = await Deno.startTls(conn, { hostname: HOST, caCerts: [ca] });
  await tls.handshake();
  return tls;
}

/** One keep-alive request with a body of `bodySize` bytes; returns the status after the body. */
async function exchange(
  tls: Deno.TlsConn,
  method: string,
  path: string,
  bodySize: number,
): Promise<number> {
  const head = `${method} ${path} HTTP/1.1\r\nHost: ${HOST}\r\ncontent-length: ${bodySize}\r\n\r\n`;
  await tls.write(enc.encode(head));
  if (bodySize > 0) await tls.write(new Uint8Array(bodySize).fill(0x61));
  const response = await readHead(tls);
  const length = Number(/content-length: *([0-9]+)/i.exec(response.text)?.[1] ?? "0");
  let received = response.rest.length;
  const buf = new Uint8Array(64 * 1024);
  while (received < length) {
    const n = await tls.read(buf);
    if (n === null) throw new Error("connection ended inside a body");
    received += n;
  }
  return Number(response.text.split(" ")[1]);
}

/** Read a response head byte-exactly; `rest` is what came after it. */
async function readHead(conn: Deno.Conn): Promise<{ text: string; rest: Uint8Array }> {
  let bytes = new Uint8Array(0);
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const text = new TextDecoder().decode(bytes);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) return { text: text.slice(0, end), rest: bytes.subarray(end + 4) };
    const n = await conn.read(buf);
    if (n === null) throw new Error(`connection ended in a head: ${text}`);
    const next = new Uint8Array(bytes.length + n);
    next.set(bytes);
    next.set(buf.subarray(0, n), bytes.length);
    bytes = next;
  }
}
