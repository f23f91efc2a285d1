/**
 * One client connection speaking HTTP/1.1 to the proxy: a keep-alive loop of requests, each
 * handed to the Hono app; a CONNECT turns the connection into a tunnel. In transparent mode the
 * requests are origin-form and the destination comes from the `Host` header. On an inspected
 * (decrypted) connection the destination is the tunnel's pinned origin.
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import { withDeadline } from "./deadline.ts";
import { type createHttpApp, UNPROXIED_METHODS } from "./http_app.ts";
import type { InspectedOrigin } from "./inspect_endpoints.ts";
import { readBody, writeAll, writeBody } from "./http_body.ts";
import { type MessageHead, readHead, serializeHead } from "./http_head.ts";
import type { ProxyContext } from "./proxy_context.ts";
import { ProxyError } from "./proxy_error.ts";
import { handleConnect } from "./tls_tunnel.ts";
import { safeClose } from "./tunnel.ts";

const METHOD = /^[A-Z]{1,20}$/;

/**
 * Serve HTTP requests on `conn` until the client or an error ends the connection, then close it.
 * Never throws: protocol errors are answered with a status and the connection closed.
 *
 * @example
 * ```ts
 * // In the accept loop:
 * // await serveHttpConnection(ctx, app, conn, new ByteReader(conn));
 * ```
 */
export async function serveHttpConnection(
  ctx: ProxyContext,
  app: ReturnType<typeof createHttpApp>,
  conn: Deno.Conn,
  reader: ByteReader,
  inspected?: InspectedOrigin,
): Promise<void> {
  try {
    for (;;) {
      const head = await withDeadline(
        readHead(reader),
        ctx.headTimeoutMs,
        () => safeClose(conn),
        "reading the request head",
      );
      if (head === null) break;
      const [method, target, version] = head.start;
      if (!METHOD.test(method) || !/^HTTP\/1\.[01]$/.test(version)) {
        throw new ProxyError("bad_request", "Malformed request line");
      }
      if (method === "CONNECT" && ctx.mode === "forward" && !inspected) {
        return await handleConnect(ctx, conn, reader, target);
      }
      if (!(await exchange(ctx, app, conn, reader, head, inspected))) break;
    }
  } catch (err) {
    const refusal = err instanceof ProxyError ? err : undefined;
    if (refusal) await writeRefusal(conn, refusal).catch(() => {});
    // A read interrupted by closing the connection (proxy shutdown) is no failure.
    const closed = err instanceof Deno.errors.Interrupted || err instanceof Deno.errors.BadResource;
    if (!refusal && !closed) ctx.onWarning(err);
  } finally {
    safeClose(conn);
  }
}

/** One request/response; true when the connection may carry another request. */
async function exchange(
  ctx: ProxyContext,
  app: ReturnType<typeof createHttpApp>,
  conn: Deno.Conn,
  reader: ByteReader,
  head: MessageHead,
  inspected: InspectedOrigin | undefined,
): Promise<boolean> {
  const [method, target, version] = head.start;
  const url = inspected ? inspectedUrl(inspected, target) : requestUrl(ctx, target, head.headers);
  const body = readBody(reader, head.framing, false);
  // Fetch forbids these methods in a `Request`: the app gets a bodiless GET and the real method,
  // and refuses it (recorded); an unread body then ends the connection.
  const unproxied = UNPROXIED_METHODS.has(method);
  if (unproxied) await body.stream?.cancel().catch(() => {});
  const request = new Request(url, {
    method: unproxied ? "GET" : method,
    headers: head.headers,
    body: unproxied ? null : body.stream,
    // @ts-ignore: `duplex` is required for streaming bodies but missing from Deno's RequestInit.
    duplex: "half",
  });
  let consumed = body.stream === null;
  if (!unproxied) body.done.then(() => consumed = true, () => {});
  const response = await app.fetch(request, {
    requestBytes: unproxied ? Promise.resolve(0) : body.done,
    inspected,
    method: unproxied ? method : undefined,
  });
  const keepAlive = version === "HTTP/1.1" &&
    head.headers.get("connection")?.toLowerCase() !== "close";
  await writeResponse(conn, method, response, keepAlive);
  // A body the app did not read leaves the stream mid-message: end the connection.
  return keepAlive && consumed;
}

/** A decrypted request's URL: origin-form only, authority from the pinned origin, never Host. */
function inspectedUrl(origin: InspectedOrigin, target: string): string {
  if (!target.startsWith("/")) {
    throw new ProxyError("bad_request", "agentbox: expected an origin-form request target");
  }
  const host = origin.host.kind === "ipv6" ? `[${origin.host.name}]` : origin.host.name;
  const url = URL.parse(`https://${host}:${origin.port}${target}`);
  if (!url) throw new ProxyError("bad_request", "Invalid request URL");
  return url.href;
}

function requestUrl(ctx: ProxyContext, target: string, headers: Headers): string {
  if (ctx.mode === "transparent" && target.startsWith("/")) {
    const host = headers.get("host");
    if (!host) throw new ProxyError("bad_request", "Transparent HTTP needs a Host header");
    return `http://${host}${target}`;
  }
  if (!/^http:\/\//i.test(target)) {
    throw new ProxyError("bad_request", "agentbox: a proxy request needs an absolute http:// URL");
  }
  try {
    return new URL(target).href;
  } catch {
    throw new ProxyError("bad_request", "Invalid request URL");
  }
}

async function writeResponse(conn: Deno.Conn, method: string, res: Response, keepAlive: boolean) {
  const headers = new Headers(res.headers);
  const bodyless = method === "HEAD" || res.status === 204 || res.status === 304;
  const chunked = !bodyless && res.body !== null && !headers.has("content-length");
  if (!bodyless && res.body === null) headers.set("content-length", "0");
  if (chunked) headers.set("transfer-encoding", "chunked");
  headers.set("connection", keepAlive ? "keep-alive" : "close");
  const head = serializeHead(`HTTP/1.1 ${res.status} ${res.statusText || "agentbox"}`, headers);
  if (bodyless) {
    await writeAll(conn, head);
    return void (await res.body?.cancel());
  }
  await writeBody(conn, res.body, chunked, head);
}

async function writeRefusal(conn: Deno.Conn, err: ProxyError): Promise<void> {
  const res = new Response(`${err.message}\n`, {
    status: err.status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-agentbox-refusal": err.code },
  });
  await writeResponse(conn, "GET", res, false);
}
