/**
 * An incremental server-sent-events parser (the WHATWG event-stream format) that never holds more
 * than one bounded line and one bounded event: fed arbitrary byte chunks, it calls back with each
 * complete event. A line or event beyond the bound throws {@linkcode AiUsageError}
 * `line_too_long`; the caller stops parsing (and keeps forwarding).
 *
 * @module
 */

import { AiUsageError } from "./ai_usage_error.ts";

const LF = 10;
const CR = 13;

/** Options of {@linkcode SseParser}. */
export interface SseParserOptions {
  /** Largest line, and largest event data, in bytes (default 4 MiB). */
  maxEventBytes?: number;
  /** Whether the data of an event of this type is wanted; unwanted data is not kept. */
  wants?: (type: string) => boolean;
}

/**
 * Incremental SSE parser.
 *
 * @example
 * ```ts
 * import { SseParser } from "./sse_parser.ts";
 * const seen: string[] = [];
 * const p = new SseParser((type, data) => seen.push(`${type}=${data}`));
 * p.push(new TextEncoder().encode("event: ping\ndata: {}\n\ndata: a\r"));
 * p.push(new TextEncoder().encode("\ndata: b\n\n"));
 * console.assert(seen.join(",") === "ping={},message=a\nb");
 * ```
 */
export class SseParser {
  readonly #onEvent: (type: string, data: string) => void;
  readonly #max: number;
  readonly #wants: (type: string) => boolean;
  readonly #decoder = new TextDecoder();
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  #skipLf = false;
  #type = "";
  #data: string[] = [];
  #dataBytes = 0;

  constructor(onEvent: (type: string, data: string) => void, options: SseParserOptions = {}) {
    this.#onEvent = onEvent;
    this.#max = options.maxEventBytes ?? 4 * 1024 * 1024;
    this.#wants = options.wants ?? (() => true);
  }

  /** Feed the next bytes of the stream. Throws {@linkcode AiUsageError} `line_too_long`. */
  push(chunk: Uint8Array): void {
    let i = 0;
    if (this.#skipLf && chunk.length > 0 && chunk[0] === LF) i = 1;
    if (chunk.length > 0) this.#skipLf = false;
    let lf = chunk.indexOf(LF, i);
    let cr = chunk.indexOf(CR, i);
    while (i < chunk.length) {
      if (lf !== -1 && lf < i) lf = chunk.indexOf(LF, i);
      if (cr !== -1 && cr < i) cr = chunk.indexOf(CR, i);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) {
        this.#keep(chunk.subarray(i));
        return;
      }
      this.#line(this.#take(chunk.subarray(i, end)));
      if (chunk[end] === CR) {
        if (end + 1 === chunk.length) this.#skipLf = true;
        else if (chunk[end + 1] === LF) i = end + 2;
        else i = end + 1;
        if (this.#skipLf) return;
      } else {
        i = end + 1;
      }
    }
  }

  /** The stream ended: an event still missing its blank line is delivered too. */
  end(): void {
    if (this.#partialBytes > 0) this.#line(this.#take(new Uint8Array()));
    this.#dispatch();
  }

  #keep(part: Uint8Array): void {
    if (part.length === 0) return;
    this.#checkSize(this.#partialBytes + part.length);
    this.#partial.push(part.slice());
    this.#partialBytes += part.length;
  }

  #take(tail: Uint8Array): string {
    this.#checkSize(this.#partialBytes + tail.length);
    if (this.#partialBytes === 0) return this.#decoder.decode(tail);
    const whole = new Uint8Array(this.#partialBytes + tail.length);
    let off = 0;
    for (const part of this.#partial) {
      whole.set(part, off);
      off += part.length;
    }
    whole.set(tail, off);
    this.#partial = [];
    this.#partialBytes = 0;
    return this.#decoder.decode(whole);
  }

  #checkSize(bytes: number): void {
    if (bytes > this.#max) {
      throw new AiUsageError("line_too_long", `SSE line longer than ${this.#max} bytes`);
    }
  }

  #line(line: string): void {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") {
      this.#type = value;
    } else if (name === "data") {
      if (this.#type !== "" && !this.#wants(this.#type)) return;
      this.#dataBytes += value.length + 1;
      if (this.#dataBytes > this.#max) {
        throw new AiUsageError("line_too_long", `SSE event larger than ${this.#max} bytes`);
      }
      this.#data.push(value);
    }
  }

  #dispatch(): void {
    const type = this.#type || "message";
    const data = this.#data;
    this.#type = "";
    this.#data = [];
    this.#dataBytes = 0;
    if (data.length > 0 && this.#wants(type)) this.#onEvent(type, data.join("\n"));
  }
}
