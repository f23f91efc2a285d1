/**
 * TLS inspection vs a plain tunnel (issue 5): the same HTTPS upstream on loopback, reached
 * through one agentbox proxy (its own process, tests/bench/proxy_server_child.ts, SQLite file
 * recorder) either as an opaque CONNECT tunnel (`tls.bench.test`, the client's TLS ends at the
 * upstream) or inspected (`inspect.bench.test`, the client's TLS ends at the proxy's endpoint
 * with a minted leaf; the proxy opens its own verified TLS connection upstream per request).
 *
 * 1. Added latency: sequential 100-byte `GET`s over one keep-alive client TLS connection, after
 *    50 warm-up ones; p50/p95 per path, inspected minus tunnelled.
 * 2. Throughput: one `GET` of SIZE MiB per path over a fresh tunnel, MB/s from request to last
 *    byte.
 *
 * Figures are medians over RUNS repetitions, interleaved (tunnel, inspected in each).
 * Run: deno run -A tests/bench/tls_inspect.ts [RUNS] [SIZE_MIB] [REQUESTS]   (default 7 64 500)
 *
 * @module
 */

import { readyLine } from "./child_ready.ts";
import { selfSignedCert } from "../../host/proxy/testing/mod.ts";
import { BufferedConn, writeAll } from "./buffered_conn.ts";
import { BENCH_NAMES } from "./proxy_server_child.ts";
import { median, percentile } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 7);
const sizeMib = Number(Deno.args[1] ?? 64);
const requests = Number(Deno.args[2] ?? 500);
const BYTES = sizeMib * 1024 * 1024;
const SMALL_BODY = "x".repeat(100);
const BULK = new Uint8Array(1024 * 1024).fill(0x61);
const enc = new TextEncoder();

const names = [BENCH_NAMES.https.name, BENCH_NAMES.inspect.name];
const upstreamCert = await selfSignedCert(names);
const upstream = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen() {},
  cert: upstreamCert.cert,
  key: upstreamCert.key,
}, (req) => {
  if (new URL(req.url).pathname !== "/bulk") return new Response(SMALL_BODY);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= BYTES) return controller.close();
      controller.enqueue(BULK);
      sent += BULK.length;
    },
  });
  return new Response(body, { headers: { "content-length": String(BYTES) } });
});

const work = await Deno.makeTempDir({ prefix: "agentbox-bench-inspect-" });
await Deno.writeTextFile(`${work}/upstream.pem`, upstreamCert.cert);
const httpsPort = String(upstream.addr.port);
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    new URL("./proxy_server_child.ts", import.meta.url).pathname,
    `${work}/agentbox.db`,
    httpsPort,
    httpsPort,
    httpsPort,
    httpsPort,
    `${work}/upstream.pem`,
  ],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const line = await readyLine(child, "the proxy child");
const { port: proxyPort, ca } = JSON.parse(line) as { port: number; ca: string };

type PathName = "tunnel" | "inspected";
const PATHS: PathName[] = ["tunnel", "inspected"];
const HOST: Record<PathName, string> = {
  tunnel: BENCH_NAMES.https.name,
  inspected: BENCH_NAMES.inspect.name,
};
/** What the client trusts: the upstream's certificate through a tunnel, the session CA else. */
const TRUST: Record<PathName, string> = { tunnel: upstreamCert.cert, inspected: ca };

/** CONNECT through the proxy and start TLS with the destination's name. */
async function open(path: PathName): Promise<BufferedConn<Deno.TlsConn>> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
  tcp.setNoDelay(true);
  const host = HOST[path];
  await writeAll(tcp, enc.encode(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`));
  const head = await new BufferedConn(tcp).readHead();
  if (!head.startsWith("HTTP/1.1 200")) throw new Error(`${path}: ${head.split("\r\n")[0]}`);
  const tls = await Deno.startTls(tcp, { hostname: host, caCerts: [TRUST[path]] });
  await tls.handshake();
  return new BufferedConn(tls);
}

async function latencies(path: PathName): Promise<number[]> {
  const conn = await open(path);
  const request = enc.encode(`GET /small HTTP/1.1\r\nHost: ${HOST[path]}\r\n\r\n`);
  const times: number[] = [];
  try {
    for (let i = 0; i < requests + 50; i++) {
      const t0 = performance.now();
      await writeAll(conn.conn, request);
      const head = await conn.readHead();
      if (!/^HTTP\/1\.1 200/.test(head)) throw new Error(`${path}: ${head.split("\r\n")[0]}`);
      if ((await conn.readBody(head)) !== SMALL_BODY.length) throw new Error(`${path}: body`);
      if (i >= 50) times.push(performance.now() - t0);
    }
  } finally {
    conn.close();
  }
  return times.sort((a, b) => a - b);
}

async function throughput(path: PathName): Promise<number> {
  const conn = await open(path);
  try {
    const t0 = performance.now();
    await writeAll(conn.conn, enc.encode(`GET /bulk HTTP/1.1\r\nHost: ${HOST[path]}\r\n\r\n`));
    const head = await conn.readHead();
    const n = await conn.discardBody(head);
    if (n !== BYTES) throw new Error(`${path}: ${n} bytes`);
    return BYTES / 1e6 / ((performance.now() - t0) / 1000);
  } finally {
    conn.close();
  }
}

const p50: Record<PathName, number[]> = { tunnel: [], inspected: [] };
const p95: Record<PathName, number[]> = { tunnel: [], inspected: [] };
const mbs: Record<PathName, number[]> = { tunnel: [], inspected: [] };
try {
  for (let run = 0; run < runs; run++) {
    for (const path of PATHS) {
      const times = await latencies(path);
      p50[path].push(percentile(times, 0.5));
      p95[path].push(percentile(times, 0.95));
      mbs[path].push(await throughput(path));
    }
    console.error(`run ${run + 1}/${runs} done`);
  }
} finally {
  await child.stdin.getWriter().close();
  await child.status;
  await upstream.shutdown();
  await Deno.remove(work, { recursive: true });
}

const f = (n: number) => n.toFixed(3);
console.log(`${runs} runs, ${requests} requests, ${sizeMib} MiB; medians`);
console.log(`| measure | tunnel | inspected |`);
console.log(`| --- | --- | --- |`);
console.log(`| request p50 | ${f(median(p50.tunnel))} ms | ${f(median(p50.inspected))} ms |`);
console.log(`| request p95 | ${f(median(p95.tunnel))} ms | ${f(median(p95.inspected))} ms |`);
console.log(`| added latency p50 | | ${f(median(p50.inspected) - median(p50.tunnel))} ms |`);
console.log(
  `| download MB/s | ${median(mbs.tunnel).toFixed(0)} | ${median(mbs.inspected).toFixed(0)} |`,
);
console.log(`runs p50 tunnel: ${p50.tunnel.map(f).join(", ")}`);
console.log(`runs p50 inspected: ${p50.inspected.map(f).join(", ")}`);
console.log(`runs MB/s tunnel: ${mbs.tunnel.map((n) => n.toFixed(0)).join(", ")}`);
console.log(`runs MB/s inspected: ${mbs.inspected.map((n) => n.toFixed(0)).join(", ")}`);
