/**
 * A buffered reader over a connection: the proxy reads HTTP heads and TLS records byte-exactly
 * and hands whatever it read ahead to the next stage (body, tunnel), so nothing is lost or
 * re-ordered.
 *
 * @module
 */

import { ProxyError } from "./proxy_error.ts";

/**
 * Bytes asked of the source per fill. Heads and ClientHellos are small, and every connection
 * allocates at least one such buffer: 16 KiB (one TLS record) rather than 64 KiB cut the proxy's
 * RSS with 1000 tunnels open by about a quarter (docs/benchmarks.md).
 */
const CHUNK = 16 * 1024;

/**
 * Buffered reads from a `Deno.Reader`-like source.
 *
 * @example
 * ```ts
 * import { ByteReader } from "./byte_reader.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * const reader = new ByteReader(conn);
 * const line = await reader.readUntil(new Uint8Array([13, 10, 13, 10]), 65536);
 * ```
 */
export class ByteReader {
  #source: { read(p: Uint8Array): Promise<number | null> };
  #buf = new Uint8Array(0);
  /** Bytes read from the source so far (including buffered ones). */
  bytesRead = 0;

  constructor(source: { read(p: Uint8Array): Promise<number | null> }) {
    this.#source = source;
  }

  /** Read more from the source into the buffer; false at end of stream. */
  async fill(): Promise<boolean> {
    const chunk = new Uint8Array(CHUNK);
    const n = await this.#source.read(chunk);
    if (n === null) return false;
    this.bytesRead += n;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** The next byte without consuming it; `null` at end of stream. */
  async peekByte(): Promise<number | null> {
    if (this.#buf.length === 0 && !(await this.fill())) return null;
    return this.#buf[0];
  }

  /** Whether bytes are buffered. */
  get buffered(): number {
    return this.#buf.length;
  }

  /**
   * Bytes up to and including `delimiter`; `null` at a clean end of stream before any byte.
   * Throws {@linkcode ProxyError} `head_too_large` past `max` bytes, `bad_request` on a
   * truncated stream.
   */
  async readUntil(delimiter: Uint8Array, max: number): Promise<Uint8Array | null> {
    let from = 0;
    for (;;) {
      const at = indexOf(this.#buf, delimiter, from);
      if (at >= 0) return this.take(at + delimiter.length);
      if (this.#buf.length > max) {
        throw new ProxyError("head_too_large", "Header section too large");
      }
      from = Math.max(0, this.#buf.length - delimiter.length + 1);
      if (!(await this.fill())) {
        if (this.#buf.length === 0) return null;
        throw new ProxyError("bad_request", "Connection closed in the middle of a message");
      }
    }
  }

  /** Exactly `n` bytes; throws `bad_request` when the stream ends first. */
  async readExact(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.fill())) {
        throw new ProxyError("bad_request", "Connection closed in the middle of a message");
      }
    }
    return this.take(n);
  }

  /** Up to `max` bytes: buffered ones first, else one read; `null` at end of stream. */
  async readSome(max = CHUNK): Promise<Uint8Array | null> {
    if (this.#buf.length === 0 && !(await this.fill())) return null;
    return this.take(Math.min(max, this.#buf.length));
  }

  /** Remove and return the first `n` buffered bytes. */
  take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
