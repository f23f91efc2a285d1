/**
 * HTTP/1.1 message heads: strict parsing (anything ambiguous is refused, so the proxy and the
 * upstream can never disagree on where a message ends) and serialisation.
 *
 * @module
 */

import { ByteReader } from "./byte_reader.ts";
import { ProxyError } from "./proxy_error.ts";

/** Upper bound for a head (request line + headers). */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_HEADERS = 100;
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_VALUE = /[\0\r\n]/;

/** A parsed head. `start` holds the three parts of the request or status line. */
export interface MessageHead {
  start: [string, string, string];
  headers: Headers;
  /** How the body is delimited. */
  framing: { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" };
}

/**
 * Read one head; `null` when the peer closed cleanly before sending anything. Throws
 * {@linkcode ProxyError} `bad_request` for anything malformed or ambiguous: obsolete line
 * folding, invalid names, both Content-Length and Transfer-Encoding, repeated or non-numeric
 * Content-Length, transfer codings other than `chunked`.
 *
 * @example
 * ```ts
 * import { ByteReader } from "./byte_reader.ts";
 * import { readHead } from "./http_head.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * const head = await readHead(new ByteReader(conn));
 * ```
 */
export async function readHead(reader: ByteReader): Promise<MessageHead | null> {
  const bytes = await reader.readUntil(CRLFCRLF, MAX_HEAD_BYTES);
  if (bytes === null) return null;
  const lines = new TextDecoder("latin1").decode(bytes.subarray(0, -4)).split("\r\n");
  const start = lines[0].split(" ");
  if (start.length < 3 && !(start.length === 2 && /^HTTP\/1\.[01]$/.test(start[0]))) {
    throw new ProxyError("bad_request", "Malformed start line");
  }
  const parts: [string, string, string] = [start[0], start[1], start.slice(2).join(" ")];
  const headers = parseHeaders(lines.slice(1));
  return { start: parts, headers, framing: framing(headers) };
}

function parseHeaders(lines: string[]): Headers {
  if (lines.length > MAX_HEADERS) throw new ProxyError("head_too_large", "Too many header fields");
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (colon <= 0 || !TOKEN.test(name) || BAD_VALUE.test(value)) {
      throw new ProxyError("bad_request", "Malformed header field");
    }
    if (name.toLowerCase() === "content-length" && headers.has(name)) {
      throw new ProxyError("bad_request", "Repeated Content-Length");
    }
    headers.append(name, value);
  }
  return headers;
}

function framing(headers: Headers): MessageHead["framing"] {
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  if (te !== null) {
    if (cl !== null) {
      throw new ProxyError("bad_request", "Both Content-Length and Transfer-Encoding");
    }
    if (te.toLowerCase() !== "chunked") {
      throw new ProxyError("bad_request", "Unsupported Transfer-Encoding");
    }
    return { kind: "chunked" };
  }
  if (cl === null) return { kind: "none" };
  if (!/^[0-9]{1,15}$/.test(cl)) throw new ProxyError("bad_request", "Invalid Content-Length");
  return { kind: "length", length: Number(cl) };
}

/**
 * Serialise a head: start line, headers, blank line.
 *
 * @example
 * ```ts
 * import { serializeHead } from "./http_head.ts";
 * const bytes = serializeHead("HTTP/1.1 200 OK", new Headers({ "content-length": "0" }));
 * ```
 */
export function serializeHead(startLine: string, headers: Headers): Uint8Array {
  let text = `${startLine}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return new TextEncoder().encode(`${text}\r\n`);
}

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/**
 * A copy of `headers` without hop-by-hop fields (those named in `Connection` included).
 *
 * @example
 * ```ts
 * import { endToEndHeaders } from "./http_head.ts";
 * const h = endToEndHeaders(new Headers({ connection: "x-a", "x-a": "1", accept: "*" }));
 * console.assert(!h.has("x-a") && h.has("accept"));
 * ```
 */
export function endToEndHeaders(headers: Headers): Headers {
  const named = (headers.get("connection") ?? "").split(",").map((s) => s.trim().toLowerCase());
  const out = new Headers();
  for (const [name, value] of headers) {
    if (!HOP_BY_HOP.includes(name) && !named.includes(name)) out.append(name, value);
  }
  return out;
}
