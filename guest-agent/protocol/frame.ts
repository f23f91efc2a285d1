/**
 * Length-prefixed frames: a 4-byte big-endian payload length followed by that many bytes of CBOR.
 *
 * The decoder is incremental and bounded: it never holds more than one frame's worth of bytes
 * beyond what it was given, and refuses a length prefix above the limit before reading the body.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** Bytes in the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Largest payload either side accepts (1 MiB). Data chunks are kept well below it. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Prefix a payload with its length.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "@agentbox/protocol";
 * const frame = encodeFrame(new Uint8Array([1, 2, 3]));
 * console.assert(frame.length === 7 && frame[3] === 3);
 * ```
 */
export function encodeFrame(payload: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES): Uint8Array {
  if (payload.length > maxFrameBytes) {
    throw new ProtocolError(
      "frame_too_large",
      `Cannot send a frame of ${payload.length} bytes: the limit is ${maxFrameBytes}`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Splits a byte stream into frame payloads.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder } from "@agentbox/protocol";
 * const decoder = new FrameDecoder();
 * const frame = encodeFrame(new Uint8Array([9, 9]));
 * console.assert(decoder.push(frame.subarray(0, 3)).length === 0);
 * console.assert(decoder.push(frame.subarray(3))[0].length === 2);
 * ```
 */
export class FrameDecoder {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #maxFrameBytes: number;

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received that do not yet form a whole frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Feed bytes; returns every payload completed by them, in order. */
  push(bytes: Uint8Array): Uint8Array[] {
    if (bytes.length > 0) {
      this.#chunks.push(bytes);
      this.#buffered += bytes.length;
    }
    const frames: Uint8Array[] = [];
    while (this.#buffered >= FRAME_HEADER_BYTES) {
      const length = new DataView(this.#peek(FRAME_HEADER_BYTES).buffer).getUint32(0);
      if (length > this.#maxFrameBytes) {
        throw new ProtocolError(
          "frame_too_large",
          `Peer announced a frame of ${length} bytes: the limit is ${this.#maxFrameBytes}`,
        );
      }
      if (this.#buffered < FRAME_HEADER_BYTES + length) break;
      this.#take(FRAME_HEADER_BYTES);
      frames.push(this.#take(length));
    }
    return frames;
  }

  /** Throws when the stream ended in the middle of a frame. */
  finish(): void {
    if (this.#buffered > 0) {
      throw new ProtocolError(
        "bad_frame",
        `Connection ended inside a frame (${this.#buffered} bytes left over)`,
      );
    }
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.length >= n) return first.slice(0, n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (const chunk of this.#chunks) {
      const part = chunk.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.length;
      if (filled === n) break;
    }
    return out;
  }

  #take(n: number): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first && first.length === n) {
      this.#chunks.shift();
      return first;
    }
    if (first && first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0];
      const want = n - filled;
      if (chunk.length <= want) {
        out.set(chunk, filled);
        filled += chunk.length;
        this.#chunks.shift();
      } else {
        out.set(chunk.subarray(0, want), filled);
        this.#chunks[0] = chunk.subarray(want);
        filled += want;
      }
    }
    return out;
  }
}
