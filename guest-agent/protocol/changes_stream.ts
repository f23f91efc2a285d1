/**
 * The changes stream: how the agent sends a workspace's changes on fd 1 of a `changes.start`
 * stream. Each entry is a frame (4-byte big-endian length, CBOR map — a record as described in
 * host/workspace/changeset.ts) followed, when the record is a file, by exactly `size` bytes of its
 * content. The stream is flow-controlled like any other; entries are bounded to 64 KiB.
 *
 * The reader validates framing only; what a record may say is for the host to check.
 *
 * @module
 */

import { decodeCbor, encodeCbor } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import { encodeFrame, FRAME_HEADER_BYTES } from "./frame.ts";

/** Largest encoded entry (a record never needs more: paths and link targets are capped). */
export const MAX_CHANGE_ENTRY_BYTES = 64 * 1024;

/**
 * Encode one record as a changes-stream entry.
 *
 * @example
 * ```ts
 * import { encodeChangeEntry } from "@agentbox/protocol";
 * const entry = encodeChangeEntry({ path: "a.txt", type: "deleted" });
 * console.assert(entry.length > 4);
 * ```
 */
export function encodeChangeEntry(record: Record<string, unknown>): Uint8Array {
  return encodeFrame(encodeCbor(record), MAX_CHANGE_ENTRY_BYTES);
}

/** What {@linkcode readChangesStream} hands each entry to. */
export interface ChangesStreamHandler {
  /** A decoded record; returns how many content bytes follow it (0 for all but files). */
  entry(record: unknown): number | Promise<number>;
  /** The next piece of the current entry's content. */
  content(chunk: Uint8Array): void | Promise<void>;
  /** The current entry's content is complete. */
  contentEnd(): void | Promise<void>;
}

/**
 * Parse a changes stream, calling `handler` in order. Resolves with the number of entries;
 * rejects with `bad_frame` when an entry is too large, not CBOR, or the stream ends inside an
 * entry or its content.
 *
 * @example
 * ```ts
 * import { encodeChangeEntry, readChangesStream } from "@agentbox/protocol";
 * const stream = ReadableStream.from([encodeChangeEntry({ path: "a", type: "deleted" })]);
 * const n = await readChangesStream(stream, { entry: () => 0, content() {}, contentEnd() {} });
 * console.assert(n === 1);
 * ```
 */
export async function readChangesStream(
  stream: ReadableStream<Uint8Array>,
  handler: ChangesStreamHandler,
): Promise<number> {
  // An incomplete entry's pieces, joined only once the whole entry is there: joining at every
  // piece would copy a trickled 64 KiB entry some 65,000 times.
  let parts: Uint8Array[] = [];
  let partsBytes = 0;
  let needed = FRAME_HEADER_BYTES;
  let contentLeft = 0;
  let entries = 0;
  for await (const chunk of stream) {
    let data: Uint8Array = chunk;
    while (data.length > 0) {
      if (contentLeft > 0) {
        const piece = data.subarray(0, Math.min(contentLeft, data.length));
        data = data.subarray(piece.length);
        contentLeft -= piece.length;
        await handler.content(piece);
        if (contentLeft === 0) await handler.contentEnd();
        continue;
      }
      parts.push(data);
      partsBytes += data.length;
      data = new Uint8Array(0);
      if (partsBytes < needed) continue;
      let buffer = concat(parts);
      parts = [];
      partsBytes = 0;
      needed = FRAME_HEADER_BYTES;
      for (;;) {
        const entry = takeEntry(buffer);
        if (!entry) break;
        buffer = entry.rest;
        entries++;
        contentLeft = await handler.entry(entry.value);
        if (contentLeft === 0) continue;
        // The rest of the buffer starts the content.
        data = buffer;
        buffer = new Uint8Array(0);
        break;
      }
      if (buffer.length > 0) {
        parts = [buffer];
        partsBytes = buffer.length;
        needed = FRAME_HEADER_BYTES +
          (buffer.length >= FRAME_HEADER_BYTES ? entryLength(buffer) : 0);
      }
    }
  }
  if (contentLeft > 0 || partsBytes > 0) {
    throw new ProtocolError("bad_frame", "The changes stream ended inside an entry");
  }
  return entries;
}

function entryLength(buffer: Uint8Array): number {
  return new DataView(buffer.buffer, buffer.byteOffset, 4).getUint32(0);
}

function takeEntry(buffer: Uint8Array): { value: unknown; rest: Uint8Array } | undefined {
  if (buffer.length < FRAME_HEADER_BYTES) return undefined;
  const length = entryLength(buffer);
  if (length > MAX_CHANGE_ENTRY_BYTES) {
    throw new ProtocolError("bad_frame", `A changes entry of ${length} bytes is over the limit`);
  }
  if (buffer.length < FRAME_HEADER_BYTES + length) return undefined;
  const value = decodeCbor(buffer.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length));
  return { value, rest: buffer.subarray(FRAME_HEADER_BYTES + length) };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
