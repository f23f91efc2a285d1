/**
 * The server side of TLS inspection. Deno has no server-side TLS over an accepted connection and
 * no SNI callback, so each inspected `host:port` gets its own `Deno.listenTls` listener on
 * 127.0.0.1 with that host's minted leaf (created on first use, closed with the proxy). An
 * authorised tunnel is spliced to a fresh loopback connection to it — ClientHello included — and
 * the decrypted requests accepted there are served by the proxy's HTTP loop and Hono app with the
 * tunnel's pinned origin.
 *
 * An accepted connection is served only if its source address and port, and the endpoint it
 * reached, are those of a loopback connection this proxy opened for a tunnel it just authorised:
 * another local process connecting to the listener gets nothing, whatever address it binds.
 *
 * @module
 */

import type { CanonicalHost } from "../net/canonical_host.ts";
import { ByteReader } from "./byte_reader.ts";
import { withDeadline } from "./deadline.ts";
import type { createHttpApp } from "./http_app.ts";
import { serveHttpConnection } from "./http_connection.ts";
import type { ProxyContext } from "./proxy_context.ts";
import { safeClose } from "./tunnel.ts";

/** The destination of an inspected tunnel, fixed when the CONNECT was authorised. */
export interface InspectedOrigin {
  /** The pinned name: CONNECT host = SNI; the decrypted requests' Host must equal it too. */
  host: CanonicalHost;
  port: number;
  /** Vetted addresses from the tunnel's resolution (resolved once, never again). */
  addresses: string[];
  /** The policy rule that allowed the tunnel. */
  rule: string;
}

/** How long an accepted connection waits for its tunnel to register it (a stranger: closed). */
const CLAIM_WAIT_MS = 1000;
/** Most listeners kept open; the least recently used is closed beyond it. */
const MAX_ENDPOINTS = 256;

interface Endpoint {
  listener: Deno.TlsListener;
  serving: Promise<void>;
}

/**
 * A proxy's loopback TLS endpoints.
 *
 * @example
 * ```ts
 * // startProxy creates one when ProxyOptions.inspect is set:
 * // const endpoints = new InspectEndpoints(ctx, app);
 * // const loopback = await endpoints.connect(origin); // then splice the client to it
 * ```
 */
export class InspectEndpoints {
  readonly #ctx: ProxyContext;
  readonly #app: ReturnType<typeof createHttpApp>;
  readonly #endpoints = new Map<string, Promise<Endpoint>>();
  /** Our loopback connection (see {@linkcode connectionKey}) → the origin it carries. */
  readonly #expected = new Map<string, InspectedOrigin>();
  /** Accepted connections whose registration has not happened yet (accept won the race). */
  readonly #waiting = new Map<string, (origin: InspectedOrigin | undefined) => void>();
  readonly #open = new Set<Deno.Conn>();
  readonly #handlers = new Set<Promise<void>>();
  #closed = false;

  constructor(ctx: ProxyContext, app: ReturnType<typeof createHttpApp>) {
    this.#ctx = ctx;
    this.#app = app;
  }

  /**
   * A loopback connection to `origin`'s endpoint, registered so the endpoint serves it with
   * `origin`. Mints the host's leaf if needed — call only after the tunnel was authorised.
   */
  async connect(origin: InspectedOrigin): Promise<Deno.TcpConn> {
    const endpoint = await this.#endpoint(origin);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: endpoint.listener.addr.port });
    conn.setNoDelay(true);
    const key = connectionKey(conn.localAddr as Deno.NetAddr, conn.remoteAddr as Deno.NetAddr);
    const waiter = this.#waiting.get(key);
    if (waiter) waiter(origin);
    else this.#expected.set(key, origin);
    return conn;
  }

  /** Close every listener and served connection; wait for their handlers. */
  async close(): Promise<void> {
    this.#closed = true;
    const endpoints = await Promise.allSettled([...this.#endpoints.values()]);
    for (const e of endpoints) if (e.status === "fulfilled") e.value.listener.close();
    for (const conn of this.#open) safeClose(conn);
    await Promise.allSettled([
      ...endpoints.map((e) => e.status === "fulfilled" ? e.value.serving : undefined),
      ...this.#handlers,
    ]);
  }

  #endpoint(origin: InspectedOrigin): Promise<Endpoint> {
    const key = `${origin.host.name}:${origin.port}`;
    const existing = this.#endpoints.get(key);
    if (existing) {
      this.#endpoints.delete(key);
      this.#endpoints.set(key, existing);
      return existing;
    }
    const created = this.#start(origin);
    created.catch(() => this.#endpoints.delete(key));
    this.#endpoints.set(key, created);
    if (this.#endpoints.size > MAX_ENDPOINTS) {
      const [oldest, evicted] = this.#endpoints.entries().next().value!;
      this.#endpoints.delete(oldest);
      evicted.then((e) => e.listener.close(), () => {});
    }
    return created;
  }

  async #start(origin: InspectedOrigin): Promise<Endpoint> {
    const leaf = await this.#ctx.inspect!.leaves.get(origin.host);
    if (this.#closed) throw new Error("proxy closed");
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: leaf.certPem,
      key: leaf.keyPem,
      // The HTTP loop speaks HTTP/1.1; a client offering h2 as well settles on it.
      alpnProtocols: ["http/1.1"],
    });
    const serving = (async () => {
      for await (const conn of listener) this.#accept(conn);
    })().catch(() => {});
    return { listener, serving };
  }

  #accept(conn: Deno.TlsConn): void {
    this.#open.add(conn);
    const handler = this.#claim(conn).then((origin) => {
      if (!origin || this.#closed) return safeClose(conn);
      return this.#serve(conn, origin);
    }).finally(() => {
      this.#open.delete(conn);
      this.#handlers.delete(handler);
    });
    this.#handlers.add(handler);
  }

  /** The origin registered for `conn`, waiting briefly for the registration. */
  #claim(conn: Deno.TlsConn): Promise<InspectedOrigin | undefined> {
    const key = connectionKey(conn.remoteAddr as Deno.NetAddr, conn.localAddr as Deno.NetAddr);
    const origin = this.#expected.get(key);
    this.#expected.delete(key);
    if (origin) return Promise.resolve(origin);
    const { promise, resolve } = Promise.withResolvers<InspectedOrigin | undefined>();
    const timer = setTimeout(() => resolve(undefined), CLAIM_WAIT_MS);
    this.#waiting.set(key, resolve);
    return promise.finally(() => {
      clearTimeout(timer);
      this.#waiting.delete(key);
    });
  }

  async #serve(conn: Deno.TlsConn, origin: InspectedOrigin): Promise<void> {
    const ctx = this.#ctx;
    try {
      await withDeadline(
        conn.handshake(),
        ctx.helloTimeoutMs,
        () => safeClose(conn),
        "in the TLS handshake",
      );
    } catch {
      // The client refused our certificate or went away: nothing to answer.
      return safeClose(conn);
    }
    await serveHttpConnection(ctx, this.#app, conn, new ByteReader(conn), origin);
  }
}

/** A loopback connection as both ends see it: source address and port, endpoint port. */
function connectionKey(source: Deno.NetAddr, endpoint: Deno.NetAddr): string {
  return `${source.hostname}:${source.port}>${endpoint.port}`;
}
