/**
 * Send one plain-HTTP request to a vetted upstream connection and stream the response back.
 * One connection per request (`Connection: close`): no pooling, so no state crosses requests.
 *
 * @module
 */

import { ByteReader } from "./byte_reader.ts";
import { readBody, writeAll, writeBody } from "./http_body.ts";
import { endToEndHeaders, readHead, serializeHead } from "./http_head.ts";
import { ProxyError } from "./proxy_error.ts";
import { safeClose } from "./tunnel.ts";

/** The upstream's answer; `done` settles with the body size once it was fully relayed. */
export interface UpstreamResponse {
  response: Response;
  done: Promise<number>;
}

/**
 * Write `request` (origin-form, `Host` = `hostHeader`) to `conn` and read the response head.
 * The response body streams from `conn`, which is closed once the body ends or is cancelled.
 *
 * @example
 * ```ts
 * import { forwardRequest } from "./upstream_http.ts";
 * const conn = await Deno.connect({ hostname: "203.0.113.9", port: 80 });
 * const { response } = await forwardRequest(conn, new Request("http://example.com/"), "example.com");
 * ```
 */
export async function forwardRequest(
  conn: Deno.Conn,
  request: Request,
  hostHeader: string,
): Promise<UpstreamResponse> {
  const url = new URL(request.url);
  const headers = endToEndHeaders(request.headers);
  headers.set("host", hostHeader);
  headers.set("connection", "close");
  const chunked = request.body !== null && !headers.has("content-length");
  if (chunked) headers.set("transfer-encoding", "chunked");
  const head = serializeHead(`${request.method} ${url.pathname}${url.search} HTTP/1.1`, headers);
  // Send the body while reading the response: an upstream may answer (or echo) before it has
  // read the whole request, and waiting for one side first would deadlock on full buffers.
  const sending = request.body === null
    ? writeAll(conn, head)
    : writeBody(conn, request.body, chunked, head);
  sending.catch(() => safeClose(conn));
  return await readResponse(conn, request.method);
}

async function readResponse(conn: Deno.Conn, method: string): Promise<UpstreamResponse> {
  const reader = new ByteReader(conn);
  for (;;) {
    const head = await readHead(reader);
    if (head === null) {
      throw new ProxyError("upstream_failed", "Upstream closed without a response");
    }
    const status = Number(head.start[1]);
    if (!/^[1-5][0-9][0-9]$/.test(head.start[1])) {
      throw new ProxyError("upstream_failed", "Malformed upstream status line");
    }
    if (status === 101) {
      throw new ProxyError("upstream_failed", "Protocol upgrades are not proxied");
    }
    if (status < 200) continue;
    const bodyless = method === "HEAD" || status === 204 || status === 304;
    const body = bodyless
      ? { stream: null, done: Promise.resolve(0) }
      : readBody(reader, head.framing, true);
    body.done.finally(() => safeClose(conn)).catch(() => {});
    if (!body.stream) safeClose(conn);
    const response = new Response(body.stream, {
      status,
      statusText: head.start[2],
      headers: endToEndHeaders(head.headers),
    });
    return { response, done: body.done };
  }
}
