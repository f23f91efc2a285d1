/**
 * Egress proxy vs Squid (issue 3), in one run, against a direct connection:
 *
 * 1. CONNECT tunnel throughput: one tunnel carries a TLS ClientHello (SNI = the CONNECT host, so
 *    agentbox's name pinning passes) and then SIZE MiB up to a loopback sink, which answers with
 *    SIZE MiB down. MB/s each way; direct = the same bytes without a proxy.
 * 2. Added latency per request: sequential small `GET`s over one keep-alive client connection
 *    (absolute-URI through the proxies, origin-form direct); p50 and p95 per path, minus direct.
 * 3. 1000 concurrent CONNECT tunnels: each sends a ClientHello and a line to a loopback echo and
 *    waits until it is echoed and every other tunnel is open. Errors, time to all open, and the
 *    proxy process's RSS at that moment.
 *
 * The agentbox proxy runs in its own process (tests/bench/proxy_server_child.ts) with a SQLite
 * file recorder, Squid in its own (tests/bench/squid.ts, with an access log); upstreams and the
 * load run in this process. Everything is on 127.0.0.1. Figures are medians over RUNS repetitions,
 * interleaved (direct, Squid, agentbox within each repetition).
 *
 * Needs Squid: apt-get install -y --no-install-recommends squid
 * Run: deno run -A tests/bench/proxy.ts [RUNS] [SIZE_MIB] [REQUESTS]   (default 7 256 500)
 *   or: deno task bench:proxy
 *
 * @module
 */

import { readyLine } from "./child_ready.ts";
import { clientHelloBytes } from "../../host/proxy/testing/mod.ts";
import { BufferedConn, safeClose, writeAll } from "./buffered_conn.ts";
import { BENCH_NAMES } from "./proxy_server_child.ts";
import { findSquid, SQUID_INSTALL, startSquid } from "./squid.ts";
import { median, percentile } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 7);
const sizeMib = Number(Deno.args[1] ?? 256);
const requests = Number(Deno.args[2] ?? 500);
const TUNNELS = 1000;
const BYTES = sizeMib * 1024 * 1024;
const CHUNK = 256 * 1024;
const enc = new TextEncoder();

const squidBinary = await findSquid();
if (!squidBinary) {
  console.error(`error: squid is not installed; install it with: ${SQUID_INSTALL}`);
  Deno.exit(1);
}
const fdLimit = openFilesLimit();
if (fdLimit < 3 * TUNNELS) {
  console.error(
    `error: open-files limit ${fdLimit} is too low for ${TUNNELS} tunnels; ` +
      `run with a higher one (ulimit -n 8192)`,
  );
  Deno.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Upstreams on loopback

const HELLO = clientHelloBytes(BENCH_NAMES.tunnel.name);
const HELLO_ECHO = clientHelloBytes(BENCH_NAMES.echo.name);
const SOURCE = new Uint8Array(CHUNK).fill(0x61);

/** Sink then source: reads the ClientHello and BYTES, then writes BYTES and closes. */
const tunnelUpstream = Deno.listen({ hostname: "127.0.0.1", port: 0 });
serveEach(tunnelUpstream, async (conn) => {
  const buf = new Uint8Array(CHUNK);
  let left = HELLO.length + BYTES;
  while (left > 0) {
    const n = await conn.read(buf.subarray(0, Math.min(buf.length, left)));
    if (n === null) throw new Error("tunnel upstream: client went away");
    left -= n;
  }
  for (let sent = 0; sent < BYTES;) {
    sent += await writeAll(conn, SOURCE.subarray(0, Math.min(CHUNK, BYTES - sent)));
  }
  await conn.closeWrite();
});

/** Echo, for the concurrency test. */
const echoUpstream = Deno.listen({ hostname: "127.0.0.1", port: 0 });
serveEach(echoUpstream, async (conn) => {
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    await writeAll(conn, buf.subarray(0, n));
  }
  await conn.closeWrite();
});

/** Small HTTP responses, for the latency test. */
const SMALL_BODY = "x".repeat(100);
const httpUpstream = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response(SMALL_BODY, { headers: { "content-type": "text/plain" } }),
);

function serveEach(
  listener: Deno.Listener<Deno.TcpConn>,
  handle: (c: Deno.TcpConn) => Promise<void>,
) {
  (async () => {
    for await (const conn of listener) {
      handle(conn).catch(() => {}).finally(() => safeClose(conn));
    }
  })().catch(() => {});
}

const upstreamPorts = {
  tunnel: port(tunnelUpstream.addr),
  echo: port(echoUpstream.addr),
  http: port(httpUpstream.addr),
};

// ---------------------------------------------------------------------------------------------
// The two proxies

const work = await Deno.makeTempDir({ prefix: "agentbox-bench-proxy-" });
// Its own directory: Squid drops to the `proxy` user, which cannot enter `work` (mode 0700).
const squidDir = await Deno.makeTempDir({ prefix: "agentbox-bench-squid-" });
const squid = await startSquid(squidBinary, {
  dir: squidDir,
  upstreamPorts: Object.values(upstreamPorts),
});
const agentbox = await startAgentboxProxy(`${work}/agentbox.db`);

async function startAgentboxProxy(dbPath: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./proxy_server_child.ts", import.meta.url).pathname,
      dbPath,
      String(upstreamPorts.tunnel),
      String(upstreamPorts.echo),
      String(upstreamPorts.http),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const line = await readyLine(child, "the agentbox proxy child");
  const stdin = child.stdin.getWriter();
  return {
    port: JSON.parse(line).port as number,
    pid: child.pid,
    async stop() {
      await stdin.close();
      await child.status;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Paths: how a client reaches an upstream

type PathName = "direct" | "squid" | "agentbox";
const PATHS: PathName[] = ["direct", "squid", "agentbox"];

/** A tunnel to `which` upstream through `path`, ready for the ClientHello. */
async function openTunnel(path: PathName, which: "tunnel" | "echo"): Promise<BufferedConn> {
  if (path === "direct") {
    return new BufferedConn(
      await Deno.connect({ hostname: "127.0.0.1", port: upstreamPorts[which] }),
    );
  }
  const proxyPort = path === "squid" ? squid.port : agentbox.port;
  const authority = path === "squid"
    ? `127.0.0.1:${upstreamPorts[which]}`
    : `${BENCH_NAMES[which].name}:${BENCH_NAMES[which].port}`;
  const conn = new BufferedConn(await Deno.connect({ hostname: "127.0.0.1", port: proxyPort }));
  try {
    await writeAll(
      conn.conn,
      enc.encode(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`),
    );
    const head = await conn.readHead();
    if (!/^HTTP\/1\.[01] 200/.test(head)) {
      throw new Error(`CONNECT refused: ${head.split("\r\n")[0]}`);
    }
    return conn;
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** Absolute-URI target and Host header for the small HTTP resource through `path`. */
function httpTarget(path: PathName): { port: number; target: string; host: string } {
  const direct = `127.0.0.1:${upstreamPorts.http}`;
  if (path === "direct") return { port: upstreamPorts.http, target: "/small", host: direct };
  if (path === "squid") return { port: squid.port, target: `http://${direct}/small`, host: direct };
  const name = BENCH_NAMES.http.name;
  return { port: agentbox.port, target: `http://${name}/small`, host: name };
}

// ---------------------------------------------------------------------------------------------
// The three measurements

/** MB/s up and down through one tunnel. */
async function throughput(path: PathName): Promise<{ up: number; down: number }> {
  const conn = await openTunnel(path, "tunnel");
  try {
    const t0 = performance.now();
    await writeAll(conn.conn, HELLO);
    for (let sent = 0; sent < BYTES;) {
      sent += await writeAll(conn.conn, SOURCE.subarray(0, Math.min(CHUNK, BYTES - sent)));
    }
    const buf = new Uint8Array(CHUNK);
    let got = 0;
    let t1 = 0;
    while (got < BYTES) {
      const n = await conn.conn.read(buf);
      if (n === null) throw new Error(`${path}: tunnel closed after ${got} bytes down`);
      if (got === 0) t1 = performance.now();
      got += n;
    }
    const t2 = performance.now();
    const mb = BYTES / 1e6;
    return { up: mb / ((t1 - t0) / 1000), down: mb / ((t2 - t1) / 1000) };
  } finally {
    conn.close();
  }
}

/** Per-request round trips in ms over one keep-alive connection (after a warm-up). */
async function latencies(path: PathName): Promise<number[]> {
  const { port, target, host } = httpTarget(path);
  const conn = new BufferedConn(await Deno.connect({ hostname: "127.0.0.1", port }));
  conn.conn.setNoDelay(true);
  const request = enc.encode(
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: bench\r\n\r\n`,
  );
  const times: number[] = [];
  try {
    for (let i = 0; i < requests + 50; i++) {
      const t0 = performance.now();
      await writeAll(conn.conn, request);
      const head = await conn.readHead();
      if (!/^HTTP\/1\.1 200/.test(head)) throw new Error(`${path}: ${head.split("\r\n")[0]}`);
      const body = await conn.readBody(head);
      if (body !== SMALL_BODY.length) throw new Error(`${path}: body of ${body} bytes`);
      if (i >= 50) times.push(performance.now() - t0);
      if (/\r\nconnection: *close/i.test(head)) {
        throw new Error(`${path}: connection not kept alive`);
      }
    }
  } finally {
    conn.close();
  }
  return times;
}

/** TUNNELS tunnels open at once through `path`: errors, ms until all were open, RSS then. */
async function concurrent(
  path: "squid" | "agentbox",
  pid: number,
): Promise<{ errors: number; ms: number; rssMb: number; firstError?: string }> {
  const started = performance.now();
  let arrived = 0;
  let settled = 0;
  let allOpenMs = 0;
  let rssMb = 0;
  const { promise: release, resolve } = Promise.withResolvers<void>();
  const arrive = () => {
    if (++arrived + settled === TUNNELS) {
      allOpenMs = performance.now() - started;
      rssMb = procStatusKb(pid, "VmRSS") / 1024;
      resolve();
    }
    return release;
  };
  const one = async (i: number) => {
    let conn: BufferedConn | undefined;
    try {
      conn = await openTunnel(path, "echo");
      const line = enc.encode(`tunnel ${i}\n`);
      await writeAll(conn.conn, Uint8Array.from([...HELLO_ECHO, ...line]));
      await conn.readExact(HELLO_ECHO.length + line.length);
    } catch (err) {
      conn?.close();
      // A failed tunnel no longer counts towards "all open".
      if (arrived + ++settled === TUNNELS) {
        allOpenMs = performance.now() - started;
        rssMb = procStatusKb(pid, "VmRSS") / 1024;
        resolve();
      }
      throw err;
    }
    await arrive();
    conn.close();
  };
  const results = await Promise.allSettled(Array.from({ length: TUNNELS }, (_, i) => one(i)));
  const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  return {
    errors: failed.length,
    ms: allOpenMs,
    rssMb,
    firstError: failed[0] ? String(failed[0].reason) : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Run

const pids = { squid: squid.pid, agentbox: agentbox.pid };
const idleRss = {
  squid: procStatusKb(squid.pid, "VmRSS") / 1024,
  agentbox: procStatusKb(agentbox.pid, "VmRSS") / 1024,
};
const tp: Record<PathName, { up: number[]; down: number[] }> = {
  direct: { up: [], down: [] },
  squid: { up: [], down: [] },
  agentbox: { up: [], down: [] },
};
const lat: Record<PathName, { p50: number[]; p95: number[] }> = {
  direct: { p50: [], p95: [] },
  squid: { p50: [], p95: [] },
  agentbox: { p50: [], p95: [] },
};
const conc: Record<"squid" | "agentbox", { errors: number[]; ms: number[]; rss: number[] }> = {
  squid: { errors: [], ms: [], rss: [] },
  agentbox: { errors: [], ms: [], rss: [] },
};

console.log(
  `squid ${squidBinary} pid ${squid.pid}, agentbox proxy pid ${agentbox.pid}; ` +
    `${runs} runs, ${sizeMib} MiB each way, ${requests} requests, ${TUNNELS} tunnels`,
);
let peak = { squid: NaN, agentbox: NaN };
try {
  await throughput("agentbox"); // Warm-up: JIT, first SQLite write.
  await latencies("agentbox");
  for (let run = 1; run <= runs; run++) {
    for (const path of PATHS) {
      const r = await throughput(path);
      tp[path].up.push(r.up);
      tp[path].down.push(r.down);
    }
    for (const path of PATHS) {
      const times = (await latencies(path)).sort((a, b) => a - b);
      lat[path].p50.push(percentile(times, 0.5));
      lat[path].p95.push(percentile(times, 0.95));
    }
    for (const path of ["squid", "agentbox"] as const) {
      const r = await concurrent(path, pids[path]);
      conc[path].errors.push(r.errors);
      conc[path].ms.push(r.ms);
      conc[path].rss.push(r.rssMb);
      if (r.firstError) console.log(`  ${path}: ${r.errors} errors, first: ${r.firstError}`);
      await new Promise((res) => setTimeout(res, 500)); // Let the closes drain.
    }
    console.log(
      `run ${run}: MB/s up ${PATHS.map((p) => `${p} ${tp[p].up.at(-1)!.toFixed(0)}`).join(", ")}` +
        `; p50 ${PATHS.map((p) => `${p} ${lat[p].p50.at(-1)!.toFixed(3)}`).join(", ")} ms` +
        `; 1000 tunnels agentbox ${conc.agentbox.errors.at(-1)} errors ` +
        `${conc.agentbox.ms.at(-1)!.toFixed(0)} ms ${conc.agentbox.rss.at(-1)!.toFixed(0)} MB`,
    );
  }
} finally {
  peak = {
    squid: procStatusKb(squid.pid, "VmHWM") / 1024,
    agentbox: procStatusKb(agentbox.pid, "VmHWM") / 1024,
  };
  await agentbox.stop();
  await squid.stop();
  tunnelUpstream.close();
  echoUpstream.close();
  await httpUpstream.shutdown();
  await Deno.remove(work, { recursive: true });
  await Deno.remove(squidDir, { recursive: true });
}

const f0 = (x: number) => x.toFixed(0);
const f3 = (x: number) => x.toFixed(3);
const list = (xs: number[], f: (x: number) => string) => xs.map(f).join(", ");
const rows: string[][] = [["measure", "direct", "squid", "agentbox", "target"]];
for (const dir of ["up", "down"] as const) {
  rows.push([
    `tunnel MB/s ${dir}`,
    ...PATHS.map((p) => f0(median(tp[p][dir]))),
    `agentbox ≥ squid: ${median(tp.agentbox[dir]) >= median(tp.squid[dir]) ? "met" : "not met"}`,
  ]);
}
for (const q of ["p50", "p95"] as const) {
  rows.push([
    `request ${q} ms`,
    ...PATHS.map((p) => f3(median(lat[p][q]))),
    "",
  ]);
}
const added = (p: PathName, q: "p50" | "p95") => median(lat[p][q]) - median(lat.direct[q]);
for (const q of ["p50", "p95"] as const) {
  rows.push([
    `added ${q} ms`,
    "",
    f3(added("squid", q)),
    f3(added("agentbox", q)),
    q === "p50" ? `agentbox ≤ 1 ms: ${added("agentbox", q) <= 1 ? "met" : "not met"}` : "",
  ]);
}
const totalErrors = conc.agentbox.errors.reduce((a, b) => a + b, 0);
rows.push([
  `${TUNNELS} tunnels: errors (all runs)`,
  "",
  String(conc.squid.errors.reduce((a, b) => a + b, 0)),
  String(totalErrors),
  `agentbox 0: ${totalErrors === 0 ? "met" : "not met"}`,
]);
rows.push([
  `${TUNNELS} tunnels: ms to all open`,
  "",
  f0(median(conc.squid.ms)),
  f0(median(conc.agentbox.ms)),
  "",
]);
rows.push([`RSS MB idle`, "", f0(idleRss.squid), f0(idleRss.agentbox), ""]);
rows.push([
  `RSS MB, ${TUNNELS} tunnels open`,
  "",
  f0(median(conc.squid.rss)),
  f0(median(conc.agentbox.rss)),
  "",
]);
rows.push([`peak RSS MB (VmHWM, whole run)`, "", f0(peak.squid), f0(peak.agentbox), ""]);
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
console.log("\nper run:");
for (const p of PATHS) {
  console.log(`  ${p} MB/s up [${list(tp[p].up, f0)}] down [${list(tp[p].down, f0)}]`);
  console.log(`  ${p} p50 ms [${list(lat[p].p50, f3)}] p95 ms [${list(lat[p].p95, f3)}]`);
}
for (const p of ["squid", "agentbox"] as const) {
  console.log(
    `  ${p} ${TUNNELS} tunnels: errors [${conc[p].errors.join(", ")}] ms [${
      list(conc[p].ms, f0)
    }] ` +
      `RSS MB [${list(conc[p].rss, f0)}]`,
  );
}

// ---------------------------------------------------------------------------------------------
// Helpers

function port(addr: Deno.Addr): number {
  return (addr as Deno.NetAddr).port;
}

/** A `/proc/PID/status` field in kB (VmRSS, VmHWM). */
function procStatusKb(pid: number, field: string): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
}

function openFilesLimit(): number {
  const limits = Deno.readTextFileSync("/proc/self/limits");
  return Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? 0);
}
