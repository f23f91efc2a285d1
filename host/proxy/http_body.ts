/**
 * HTTP/1.1 message bodies as web streams: reading by the framing of the head, and writing with
 * `Content-Length` or chunked encoding.
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import type { MessageHead } from "./http_head.ts";
import { ProxyError } from "./proxy_error.ts";

const CRLF = new Uint8Array([13, 10]);
const MAX_CHUNK_LINE = 1024;

/** A body stream plus a promise that settles when it was read to its end. */
export interface BodyReading {
  stream: ReadableStream<Uint8Array> | null;
  /** Resolves with the body's byte count once fully read; rejects when it broke off. */
  done: Promise<number>;
}

/**
 * Stream the body that follows a head. `untilClose` reads to end of stream when the head has no
 * framing (responses only). Throws {@linkcode ProxyError} `bad_request` through the stream on
 * malformed chunking or a truncated body.
 *
 * @example
 * ```ts
 * import { ByteReader } from "./byte_reader.ts";
 * import { readHead } from "./http_head.ts";
 * import { readBody } from "./http_body.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * const reader = new ByteReader(conn);
 * const head = (await readHead(reader))!;
 * const { stream } = readBody(reader, head.framing, false);
 * ```
 */
export function readBody(
  reader: ByteReader,
  framing: MessageHead["framing"],
  untilClose: boolean,
): BodyReading {
  if (framing.kind === "none" && !untilClose) return { stream: null, done: Promise.resolve(0) };
  if (framing.kind === "length" && framing.length === 0) {
    return { stream: null, done: Promise.resolve(0) };
  }
  const chunks = framing.kind === "chunked"
    ? chunked(reader)
    : framing.kind === "length"
    ? fixed(reader, framing.length)
    : toEnd(reader);
  const { promise: done, resolve, reject } = Promise.withResolvers<number>();
  done.catch(() => {});
  let total = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: finished } = await chunks.next();
        if (finished) {
          controller.close();
          resolve(total);
        } else {
          total += value.length;
          controller.enqueue(value);
        }
      } catch (err) {
        controller.error(err);
        reject(err);
      }
    },
    cancel(reason) {
      reject(reason ?? new Error("Body cancelled"));
    },
  }, { highWaterMark: 0 });
  return { stream, done };
}

async function* fixed(reader: ByteReader, length: number): AsyncGenerator<Uint8Array> {
  let left = length;
  while (left > 0) {
    const chunk = await reader.readSome(left);
    if (chunk === null) throw new ProxyError("bad_request", "Body shorter than Content-Length");
    left -= chunk.length;
    yield chunk;
  }
}

async function* toEnd(reader: ByteReader): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = await reader.readSome();
    if (chunk === null) return;
    yield chunk;
  }
}

async function* chunked(reader: ByteReader): AsyncGenerator<Uint8Array> {
  for (;;) {
    const line = await reader.readUntil(CRLF, MAX_CHUNK_LINE);
    const text = new TextDecoder().decode(line ?? new Uint8Array()).trim().split(";")[0];
    if (line === null || !/^[0-9a-fA-F]{1,12}$/.test(text)) {
      throw new ProxyError("bad_request", "Malformed chunk size");
    }
    const size = parseInt(text, 16);
    if (size === 0) break;
    yield* fixed(reader, size);
    await expectCrlf(reader);
  }
  // Trailer fields are dropped; read up to the final empty line.
  for (;;) {
    const trailer = await reader.readUntil(CRLF, MAX_CHUNK_LINE);
    if (trailer === null) throw new ProxyError("bad_request", "Truncated chunked body");
    if (trailer.length === 2) return;
  }
}

async function expectCrlf(reader: ByteReader): Promise<void> {
  const crlf = await reader.readExact(2);
  if (crlf[0] !== 13 || crlf[1] !== 10) throw new ProxyError("bad_request", "Malformed chunk");
}

/**
 * Write a body to `writer`: raw when its length was declared in the head, chunked otherwise.
 * `head` (the serialised head, when given) goes out in the same write as the first chunk, and a
 * chunk's size line, data and CRLF go out as one write: a TLS connection's socket cannot turn off
 * Nagle's algorithm in Deno, and a small write behind an unacknowledged one would wait for the
 * peer's delayed ACK (~40 ms). Resolves with the number of body bytes (payload only).
 *
 * @example
 * ```ts
 * import { writeBody } from "./http_body.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * await writeBody(conn, new Response("hi").body, true);
 * ```
 */
export async function writeBody(
  conn: { write(p: Uint8Array): Promise<number> },
  body: ReadableStream<Uint8Array> | null,
  chunkedEncoding: boolean,
  head?: Uint8Array,
): Promise<number> {
  let total = 0;
  let pending = head;
  if (body) {
    for await (const chunk of body) {
      if (chunk.length === 0) continue;
      total += chunk.length;
      const parts = chunkedEncoding
        ? [encode(`${chunk.length.toString(16)}\r\n`), chunk, CRLF]
        : [chunk];
      await writeAll(conn, concat(pending ? [pending, ...parts] : parts));
      pending = undefined;
    }
  }
  const end = chunkedEncoding ? [encode("0\r\n\r\n")] : [];
  if (pending || end.length > 0) await writeAll(conn, concat(pending ? [pending, ...end] : end));
  return total;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Write every byte of `data`.
 *
 * @example
 * ```ts
 * import { writeAll } from "./http_body.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * await writeAll(conn, new TextEncoder().encode("ping"));
 * ```
 */
export async function writeAll(
  conn: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
