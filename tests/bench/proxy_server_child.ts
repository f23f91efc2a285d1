/**
 * The agentbox egress proxy as its own process, for tests/bench/proxy.ts: measuring it in a
 * separate process keeps its RSS apart from the load generator's. Production code paths run
 * unchanged — policy, resolution, address vetting, SQLite recording (a WAL database file) — and
 * the test seams of host/proxy/testing/mod.ts map the bench names onto loopback upstreams after the
 * address guard has vetted their documentation addresses (the guard refuses loopback by design).
 *
 * Run (by the benches, not by hand):
 *   deno run -A tests/bench/proxy_server_child.ts DB_PATH TUNNEL_PORT ECHO_PORT HTTP_PORT \
 *     [HTTPS_PORT UPSTREAM_CERT_FILE]
 * With the last two (tests/bench/tls_inspect.ts), TLS inspection is on for `inspect.bench.test`
 * and off for `tls.bench.test`, both mapped to the HTTPS upstream, whose certificate is trusted
 * through the test-only upstream roots seam. Prints `{"port":N}` (plus `"ca"`, the session CA in
 * PEM, with inspection) on one line once listening; stops when stdin closes.
 *
 * @module
 */

import { applyConfigText } from "../../host/config/load_config.ts";
import { emptyPolicy } from "../../host/config/policy.ts";
import { startProxy, storeRecorder } from "../../host/proxy/mod.ts";
import { tableResolver } from "../../host/proxy/testing/mod.ts";
import type { Dialer } from "../../host/net/dialer.ts";
import { openDatabase } from "../../host/store/database.ts";
import { createSession } from "../../host/store/sessions.ts";
import { createTlsInspection } from "../../host/tls/tls_inspection.ts";

/** Names the bench asks for, and the documentation addresses they resolve to. */
export const BENCH_NAMES = {
  tunnel: { name: "tunnel.bench.test", address: "203.0.113.41", port: 443 },
  echo: { name: "echo.bench.test", address: "203.0.113.42", port: 443 },
  http: { name: "web.bench.test", address: "203.0.113.43", port: 80 },
  https: { name: "tls.bench.test", address: "203.0.113.44", port: 443 },
  inspect: { name: "inspect.bench.test", address: "203.0.113.45", port: 443 },
} as const;

if (import.meta.main) {
  const [dbPath, tunnelPort, echoPort, httpPort, httpsPort, upstreamCertFile] = Deno.args;
  if (!dbPath || !httpPort) {
    console.error("usage: proxy_server_child.ts DB_PATH TUNNEL_PORT ECHO_PORT HTTP_PORT");
    Deno.exit(2);
  }
  const local = {
    tunnel: tunnelPort,
    echo: echoPort,
    http: httpPort,
    https: httpsPort,
    inspect: httpsPort,
  };
  const table: Record<string, string[]> = {};
  const map: Record<string, number> = {};
  for (const [key, { name, address, port }] of Object.entries(BENCH_NAMES)) {
    if (local[key as keyof typeof local] === undefined) continue;
    table[name] = [address];
    map[`${address}:${port}`] = Number(local[key as keyof typeof local]);
  }
  const policy = emptyPolicy();
  applyConfigText(
    policy,
    `[network]\nallow = ${JSON.stringify(Object.keys(table))}\n` +
      `[inspect]\nhosts = ["${BENCH_NAMES.inspect.name}"]\n`,
    "bench.toml",
  );
  const inspect = upstreamCertFile === undefined ? undefined : await createTlsInspection(policy, {
    testUpstreamCaCerts: [await Deno.readTextFile(upstreamCertFile)],
  });
  const db = openDatabase(dbPath);
  const proxy = startProxy({
    policy,
    recorder: storeRecorder(db, createSession(db, { tool: "bench" }).id),
    resolver: tableResolver(table).resolver,
    dialer: loopbackDialer(map),
    maxConnections: 4096,
    onWarning: (err) => console.error("agentbox proxy warning:", err),
    inspect,
  });
  console.log(JSON.stringify({ port: proxy.addr.port, ca: inspect?.ca.certPem }));
  // The parent holds our stdin open; when it closes (or the parent dies) we stop.
  for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
  await proxy.close();
  db.close();
}

/**
 * Like host/proxy/testing/mod.ts `mappedDialer`, without its log of every dial (which would grow the
 * RSS being measured): vetted `address:port` → a loopback port; anything else fails.
 */
function loopbackDialer(map: Record<string, number>): Dialer {
  return (address, port) => {
    const local = map[`${address}:${port}`];
    if (local === undefined) {
      return Promise.reject(new Error(`bench dialer: no ${address}:${port}`));
    }
    return Deno.connect({ hostname: "127.0.0.1", port: local });
  };
}
