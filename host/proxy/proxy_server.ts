/**
 * The proxy listener: accepts connections on a loopback TCP port and serves each as an HTTP
 * forward proxy (absolute-URI requests and CONNECT) or, in transparent mode, as the origin
 * (TLS routed by SNI, HTTP by `Host`). The VM's user-mode network forwards 10.0.2.100:3128 here.
 * With `admission` set, a connection is served only if it comes from the session's guest, and
 * with `budget`, only while the guest has fewer than its most connections open (admission.ts).
 *
 * @module
 */

import { admits, refuseOverBudget } from "./admission.ts";
import { ByteReader } from "./byte_reader.ts";
import { createHttpApp } from "./http_app.ts";
import { serveHttpConnection } from "./http_connection.ts";
import { InspectEndpoints } from "./inspect_endpoints.ts";
import { type ProxyContext, proxyContext, type ProxyOptions } from "./proxy_context.ts";
import { ProxyError } from "./proxy_error.ts";
import { handleTransparentTls } from "./tls_tunnel.ts";
import { safeClose } from "./tunnel.ts";

const TLS_HANDSHAKE = 0x16;

/** A running proxy. */
export interface ProxyServer {
  /** The bound address (port chosen by the system when 0 was asked). */
  addr: Deno.NetAddr;
  /** Connections currently open. */
  readonly connections: number;
  /** Stop accepting, close every open connection and wait for their handlers. */
  close(): Promise<void>;
}

/**
 * Start a proxy. Every request is decided by `options.policy`, recorded through
 * `options.recorder` before any byte goes upstream, and dialled only to vetted addresses.
 *
 * @example
 * ```ts
 * import { startProxy } from "./proxy_server.ts";
 * import { storeRecorder } from "./recorder.ts";
 * import { loadPolicy } from "../config/load_config.ts";
 * import { openDatabase } from "../store/database.ts";
 * import { createSession } from "../store/sessions.ts";
 *
 * const db = openDatabase();
 * const session = createSession(db, { tool: "claude" });
 * const proxy = startProxy({
 *   policy: await loadPolicy({ projectDir: Deno.cwd() }),
 *   recorder: storeRecorder(db, session.id),
 *   tool: "claude",
 * });
 * console.log(`HTTPS_PROXY=http://127.0.0.1:${proxy.addr.port}`);
 * await proxy.close();
 * ```
 */
export function startProxy(options: ProxyOptions): ProxyServer {
  const ctx = proxyContext(options);
  const listener = options.listener ?? Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    transport: "tcp",
  });
  const open = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  const app = createHttpApp(ctx);
  if (options.inspect) ctx.endpoints = new InspectEndpoints(ctx, app);
  const accepting = (async () => {
    for await (const conn of listener) {
      if (open.size >= ctx.maxConnections) {
        safeClose(conn);
        continue;
      }
      // A relay must not hold back small writes: with Nagle's algorithm a response body written
      // after its head waits for the client's delayed ACK (~40 ms per request on Linux).
      conn.setNoDelay(true);
      open.add(conn);
      const handler = serve(ctx, app, conn).finally(() => {
        open.delete(conn);
        handlers.delete(handler);
      });
      handlers.add(handler);
    }
  })().catch(() => {});
  return {
    addr: listener.addr as Deno.NetAddr,
    get connections() {
      return open.size;
    },
    async close() {
      listener.close();
      await accepting;
      for (const conn of open) safeClose(conn);
      await Promise.allSettled([...handlers, ctx.endpoints?.close()]);
    },
  };
}

async function serve(
  ctx: ProxyContext,
  app: ReturnType<typeof createHttpApp>,
  conn: Deno.Conn,
): Promise<void> {
  const reader = new ByteReader(conn);
  let counted = false;
  try {
    if (ctx.admission && !(await admits(ctx.admission, conn, reader))) return;
    if (ctx.budget) {
      counted = ctx.budget.take();
      if (!counted) {
        if (ctx.budget.shouldWarn()) {
          ctx.onWarning(
            new ProxyError(
              "too_many_connections",
              `The guest has ${ctx.budget.max} connections open through the proxy, the most it ` +
                "may have: further ones are refused until some close",
            ),
          );
        }
        return await refuseOverBudget(conn, reader, ctx.budget);
      }
    }
    if (ctx.mode === "transparent" && (await reader.peekByte()) === TLS_HANDSHAKE) {
      return await handleTransparentTls(ctx, conn, reader);
    }
    await serveHttpConnection(ctx, app, conn, reader);
  } catch (err) {
    if (!(err instanceof ProxyError)) ctx.onWarning(err);
  } finally {
    if (counted) ctx.budget!.release();
    safeClose(conn);
  }
}
