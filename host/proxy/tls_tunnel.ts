/**
 * TLS tunnels: explicit (`CONNECT host:port`) and transparent (name from SNI). Both pin the
 * name — the ClientHello's SNI must equal the authorised host (security rule 4) — record the
 * decision before dialling, and dial only a vetted address. With TLS inspection on for the host,
 * the tunnel ends at the proxy's own TLS endpoint instead (inspect_endpoints.ts).
 *
 * @module
 */

import { needsInspection, shouldInspect } from "../config/inspect_settings.ts";
import { type CanonicalHost, canonicalHost } from "../net/canonical_host.ts";
import { dialFirst } from "../net/dialer.ts";
import { NetError } from "../net/net_error.ts";
import { authorize, type Verdict } from "./authorize.ts";
import type { ByteReader } from "./byte_reader.ts";
import { type ClientHello, readClientHello } from "./client_hello.ts";
import { withDeadline } from "./deadline.ts";
import { writeAll } from "./http_body.ts";
import type { ProxyContext } from "./proxy_context.ts";
import { ProxyError } from "./proxy_error.ts";
import { beginRecord, finishRecord } from "./recorder.ts";
import { pipeTunnel, safeClose } from "./tunnel.ts";

const encoder = new TextEncoder();

/**
 * Serve `CONNECT authority`: authorise, answer 200, check the ClientHello, tunnel. Closes
 * `conn` when done; throws {@linkcode ProxyError} for a malformed request (before the 200).
 *
 * @example
 * ```ts
 * // Called by the forward listener after reading a CONNECT head:
 * // await handleConnect(ctx, conn, reader, "example.com:443");
 * ```
 */
export async function handleConnect(
  ctx: ProxyContext,
  conn: Deno.Conn,
  reader: ByteReader,
  authority: string,
): Promise<void> {
  const { host, port } = parseAuthority(authority);
  const verdict = await authorize(ctx, host, port, "connect");
  if (verdict.refusal) {
    refusedRecord(ctx, host, port, verdict.rule, verdict.refusal.status);
    const body = encoder.encode(`${verdict.refusal.message}\n`);
    const head = `HTTP/1.1 ${verdict.refusal.status} Refused by agentbox\r\n` +
      `content-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
    await writeAll(conn, encoder.encode(head)).catch(() => {});
    await writeAll(conn, body).catch(() => {});
    return safeClose(conn);
  }
  await writeAll(conn, encoder.encode("HTTP/1.1 200 Connection established\r\n\r\n"));
  const hello = await readHello(ctx, conn, reader);
  await tunnel(ctx, conn, reader, { host, port, verdict, hello });
}

/**
 * Serve a transparent TLS connection: the destination is the ClientHello's SNI on
 * `ctx.transparentTlsPort`. Closes `conn` when done.
 *
 * @example
 * ```ts
 * // Called by the transparent listener when the first byte is a TLS handshake:
 * // await handleTransparentTls(ctx, conn, reader);
 * ```
 */
export async function handleTransparentTls(
  ctx: ProxyContext,
  conn: Deno.Conn,
  reader: ByteReader,
): Promise<void> {
  const hello = await readHello(ctx, conn, reader);
  if (hello.serverName === undefined) {
    throw new ProxyError("bad_request", "Transparent TLS needs SNI to know the destination");
  }
  const host = canonicalHost(hello.serverName);
  const port = ctx.transparentTlsPort;
  const verdict = await authorize(ctx, host, port, "connect");
  if (verdict.refusal) {
    refusedRecord(ctx, host, port, verdict.rule, verdict.refusal.status);
    return safeClose(conn);
  }
  await tunnel(ctx, conn, reader, { host, port, verdict, hello });
}

interface Tunnel {
  host: CanonicalHost;
  port: number;
  verdict: Verdict;
  hello: ClientHello;
}

async function tunnel(ctx: ProxyContext, conn: Deno.Conn, reader: ByteReader, t: Tunnel) {
  const mismatch = sniMismatch(t.host, t.hello.serverName);
  if (mismatch) {
    refusedRecord(ctx, t.host, t.port, mismatch, 403);
    return safeClose(conn);
  }
  const inspect = ctx.inspect && shouldInspect(ctx.inspect.settings, t.host);
  if (!inspect && needsInspection(ctx.policy.inspect, t.host)) {
    const why = `TLS inspection is off but inspect settings for ${t.host.name} need it`;
    refusedRecord(ctx, t.host, t.port, why, 403);
    return safeClose(conn);
  }
  const started = performance.now();
  const rule = inspect ? `${t.verdict.rule}; inspected` : t.verdict.rule;
  // An inspected tunnel is transport: the requests it carries are recorded one by one.
  const kind = inspect ? "tunnel" : "request";
  const id = beginRecord(ctx.recorder, { ...start(t.host, t.port, rule, "allow"), kind });
  const elapsed = () => performance.now() - started;
  let upstream: Deno.TcpConn;
  try {
    const { host, port, verdict } = t;
    // Inspected: the "upstream" is this proxy's own TLS endpoint for the host, which serves
    // the decrypted requests and dials the vetted addresses itself.
    upstream = inspect
      ? await ctx.endpoints!.connect({
        host,
        port,
        addresses: verdict.addresses,
        rule: verdict.rule,
      })
      : await dialFirst(t.verdict.addresses, t.port, ctx.dialer);
    await writeAll(upstream, t.hello.raw);
  } catch (err) {
    const end = {
      status: 502,
      bytesUp: 0,
      bytesDown: 0,
      durationMs: elapsed(),
      error: String(err),
    };
    finishRecord(ctx.recorder, id, end, ctx.onWarning);
    return safeClose(conn);
  }
  const counts = await pipeTunnel(reader, conn, upstream);
  const end = { status: 200, bytesUp: counts.up + t.hello.raw.length, bytesDown: counts.down };
  finishRecord(ctx.recorder, id, { ...end, durationMs: elapsed() }, ctx.onWarning);
}

function readHello(ctx: ProxyContext, conn: Deno.Conn, reader: ByteReader): Promise<ClientHello> {
  return withDeadline(
    readClientHello(reader),
    ctx.helloTimeoutMs,
    () => safeClose(conn),
    "waiting for the TLS ClientHello",
  );
}

/** Why the ClientHello's name does not fit the authorised host, or undefined when it does. */
function sniMismatch(host: CanonicalHost, serverName: string | undefined): string | undefined {
  if (serverName === undefined) {
    // Clients send no SNI to IP literals; those were allowed explicitly by address.
    return host.kind === "dns" ? `TLS ClientHello has no SNI for ${host.name}` : undefined;
  }
  let sni: string;
  try {
    sni = canonicalHost(serverName).name;
  } catch (err) {
    if (err instanceof NetError) return `TLS SNI ${JSON.stringify(serverName)} is not a host name`;
    throw err;
  }
  return sni === host.name ? undefined : `TLS SNI ${sni} does not match CONNECT host ${host.name}`;
}

function parseAuthority(authority: string): { host: CanonicalHost; port: number } {
  const match = /^(\[[^\]]+\]|[^:\[\]]+):([0-9]{1,5})$/.exec(authority);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new ProxyError("bad_request", "CONNECT needs host:port");
  }
  try {
    return { host: canonicalHost(match[1]), port };
  } catch (cause) {
    throw new ProxyError("bad_request", `Invalid CONNECT host ${JSON.stringify(match[1])}`, {
      cause,
    });
  }
}

function start(host: CanonicalHost, port: number, rule: string, decision: "allow" | "deny") {
  return { method: "CONNECT", scheme: "https" as const, host: host.name, port, decision, rule };
}

function refusedRecord(
  ctx: ProxyContext,
  host: CanonicalHost,
  port: number,
  rule: string,
  status: number,
) {
  const id = beginRecord(ctx.recorder, start(host, port, rule, "deny"));
  finishRecord(
    ctx.recorder,
    id,
    { status, bytesUp: 0, bytesDown: 0, durationMs: 0 },
    ctx.onWarning,
  );
}
