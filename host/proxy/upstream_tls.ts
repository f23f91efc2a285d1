/**
 * The upstream side of an inspected request: TLS to a vetted address with SNI = the canonical
 * host, the certificate verified against the default root store (plus, in tests only, the
 * roots of `TlsInspection.upstreamCaCerts`).
 *
 * @module
 */

import type { CanonicalHost } from "../net/canonical_host.ts";
import { dialFirst } from "../net/dialer.ts";
import { withDeadline } from "./deadline.ts";
import type { ProxyContext } from "./proxy_context.ts";
import { ProxyError } from "./proxy_error.ts";
import { safeClose } from "./tunnel.ts";

/**
 * Dial the first vetted address that answers and complete a verified TLS handshake for `host`.
 * Throws {@linkcode ProxyError} `upstream_failed` (the message never carries request data).
 *
 * @example
 * ```ts
 * // In the HTTP app, for a decrypted request:
 * // const conn = await connectTlsUpstream(ctx, ["203.0.113.9"], 443, canonicalHost("api.example.com"));
 * ```
 */
export async function connectTlsUpstream(
  ctx: ProxyContext,
  addresses: string[],
  port: number,
  host: CanonicalHost,
): Promise<Deno.TlsConn> {
  const tcp = await dialFirst(addresses, port, ctx.dialer);
  const extra = ctx.inspect?.upstreamCaCerts ?? [];
  try {
    const tls = await Deno.startTls(tcp, {
      hostname: host.name,
      caCerts: extra.length > 0 ? extra : undefined,
      alpnProtocols: ["http/1.1"],
    });
    await withDeadline(
      tls.handshake(),
      ctx.helloTimeoutMs,
      () => safeClose(tls),
      "in the upstream TLS handshake",
    );
    return tls;
  } catch (cause) {
    safeClose(tcp);
    throw new ProxyError(
      "upstream_failed",
      `agentbox: TLS with ${host.name} failed (certificate not trusted, or handshake refused)`,
      { cause },
    );
  }
}
