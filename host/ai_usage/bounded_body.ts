/**
 * A body buffer with a hard size bound, for reading a whole JSON response.
 *
 * @module
 */

import { AiUsageError } from "./ai_usage_error.ts";

/**
 * Collects bytes up to `maxBytes`; one more byte throws {@linkcode AiUsageError} `too_large`.
 *
 * @example
 * ```ts
 * import { BoundedBody } from "./bounded_body.ts";
 * const body = new BoundedBody(1024);
 * body.push(new TextEncoder().encode('{"a":1}'));
 * console.assert(body.text() === '{"a":1}');
 * ```
 */
export class BoundedBody {
  readonly #max: number;
  #parts: Uint8Array[] = [];
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  /** Add the next bytes. */
  push(chunk: Uint8Array): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#max) {
      this.#parts = [];
      throw new AiUsageError("too_large", `Body larger than ${this.#max} bytes`);
    }
    this.#parts.push(chunk);
  }

  /** Everything pushed, decoded as UTF-8. */
  text(): string {
    const whole = new Uint8Array(this.#bytes);
    let off = 0;
    for (const part of this.#parts) {
      whole.set(part, off);
      off += part.length;
    }
    this.#parts = [];
    return new TextDecoder().decode(whole);
  }
}
