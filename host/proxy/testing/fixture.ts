/**
 * A complete proxy test bench on loopback: TLS echo, TCP echo and HTTP upstreams, a policy, a
 * table resolver, a mapped dialer, an in-memory store and the proxy under test.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { applyConfigText } from "../../config/load_config.ts";
import { emptyPolicy } from "../../config/policy.ts";
import { openDatabase } from "../../store/database.ts";
import { listRequests, type RequestRecord } from "../../store/requests.ts";
import { createSession } from "../../store/sessions.ts";
import type { ProxyOptions } from "../proxy_context.ts";
import { type ProxyServer, startProxy } from "../proxy_server.ts";
import { storeRecorder } from "../recorder.ts";
import { mappedDialer, selfSignedCert, tableResolver } from "./mod.ts";

/** Public test addresses the resolver hands out; the dialer maps them to loopback servers. */
export const TLS_ADDR = "203.0.113.10";
export const HTTP_ADDR = "203.0.113.20";
export const ECHO_ADDR = "203.0.113.30";

const POLICY = `
[network]
allow = ["allowed.test", "echo.test", "web.test", "rebind.test", "late.test", "other.test",
         "loop.test", "ten.test", "cgnat.test", "meta.test", "linklocal.test", "mcast.test",
         "v6loop.test", "ula.test", "v6ll.test", "mapped.test"]
deny = ["other.test"]
gray = ["gray.test"]
`;

/** Everything a proxy test needs; call `close()` in `finally`. */
export interface Fixture {
  proxy: ProxyServer;
  cert: string;
  db: DatabaseSync;
  session: string;
  dialled: string[];
  resolverCalls: Map<string, number>;
  /** Connections each upstream accepted: evidence on the receiving side. */
  accepted: { tls: number; http: number; echo: number };
  rows(): RequestRecord[];
  /** Open a TCP connection to the proxy. */
  connect(): Promise<Deno.TcpConn>;
  close(): Promise<void>;
}

/**
 * Start the bench. `options` override proxy options (e.g. `mode`, `approve`, `recorder`).
 *
 * @example
 * ```ts
 * import { startFixture } from "./fixture.ts";
 * const f = await startFixture();
 * await f.close();
 * ```
 */
export async function startFixture(options: Partial<ProxyOptions> = {}): Promise<Fixture> {
  const { cert, key } = await selfSignedCert([
    "allowed.test",
    "other.test",
    "gray.test",
    "rebind.test",
  ]);
  const accepted = { tls: 0, http: 0, echo: 0 };
  const tls = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const servers = [
    acceptLoop(tls, () => accepted.tls++),
    acceptLoop(echo, () => accepted.echo++),
  ];
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      accepted.http++;
      return httpUpstream(req);
    },
  );
  const resolve = tableResolver(RESOLVER_TABLE);
  const dial = mappedDialer({
    [`${TLS_ADDR}:443`]: tls.addr.port,
    [`${ECHO_ADDR}:443`]: echo.addr.port,
    [`${HTTP_ADDR}:80`]: http.addr.port,
  });
  const db = openDatabase(":memory:");
  const session = createSession(db).id;
  const policy = emptyPolicy();
  applyConfigText(policy, POLICY, "test.toml");
  const proxy = startProxy({
    policy,
    recorder: storeRecorder(db, session),
    resolver: resolve.resolver,
    dialer: dial.dialer,
    ...options,
  });
  return {
    proxy,
    cert,
    db,
    session,
    dialled: dial.dialled,
    resolverCalls: resolve.calls,
    accepted,
    rows: () => listRequests(db, { session }),
    connect: () => Deno.connect({ hostname: "127.0.0.1", port: proxy.addr.port }),
    async close() {
      await proxy.close();
      tls.close();
      echo.close();
      await http.shutdown();
      await Promise.allSettled(servers);
      db.close();
    },
  };
}

const RESOLVER_TABLE: Record<string, string[] | ((call: number) => string[])> = {
  "allowed.test": [TLS_ADDR],
  "other.test": [TLS_ADDR],
  "gray.test": [TLS_ADDR],
  "echo.test": [ECHO_ADDR],
  "web.test": [HTTP_ADDR],
  // Answers public first, loopback afterwards: a rebinding attempt.
  "rebind.test": (n) => (n === 0 ? [TLS_ADDR] : ["127.0.0.1"]),
  // Answers loopback first, public afterwards.
  "late.test": (n) => (n === 0 ? ["127.0.0.1"] : [TLS_ADDR]),
  "loop.test": ["127.0.0.1"],
  "ten.test": ["10.0.0.1"],
  "cgnat.test": ["100.64.0.1"],
  "meta.test": ["169.254.169.254"],
  "linklocal.test": ["169.254.10.1"],
  "mcast.test": ["224.0.0.251"],
  "v6loop.test": ["::1"],
  "ula.test": ["fd00::1"],
  "v6ll.test": ["fe80::1"],
  "mapped.test": ["::ffff:127.0.0.1"],
};

async function acceptLoop(listener: Deno.Listener, onAccept: () => void): Promise<void> {
  for await (const conn of listener) {
    onAccept();
    echoConn(conn);
  }
}

async function echoConn(conn: Deno.Conn): Promise<void> {
  try {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
    if ("closeWrite" in conn) await (conn as Deno.TcpConn).closeWrite();
  } catch {
    // Peer went away.
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function httpUpstream(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === "/echo") {
    return new Response(req.body, { headers: { "x-seen-host": req.headers.get("host") ?? "" } });
  }
  if (url.pathname.startsWith("/bytes/")) {
    const n = Number(url.pathname.slice(7));
    return new Response(new Uint8Array(n).fill(0x61));
  }
  await req.body?.cancel();
  return new Response(`hello from ${req.headers.get("host")} ${url.pathname}${url.search}`);
}
