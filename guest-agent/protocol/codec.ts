/**
 * CBOR encoding of messages into frames and back. Decoding validates: the result is always a
 * well-formed {@linkcode Message} or a {@linkcode ProtocolError}.
 *
 * @module
 */

// The self-contained pure-JS build: the package's main entry loads the optional native
// `cbor-extract` addon, which is built against Node's V8 ABI and aborts the whole Deno process
// (undefined symbol `v8::Isolate::GetCurrent`) on some frames of a few hundred bytes.
// This build also never compiles record readers with `new Function`.
import { Decoder, Encoder } from "cbor-x/index-no-eval";
import { ProtocolError } from "./errors.ts";
import { encodeFrame, MAX_FRAME_BYTES } from "./frame.ts";
import { type Message, parseMessage } from "./messages.ts";

// Plain CBOR only: no cbor-x record extension, byte strings untagged, maps as plain objects.
const OPTIONS = { useRecords: false, mapsAsObjects: true, tagUint8Array: false } as const;
const encoder = new Encoder(OPTIONS);
const decoder = new Decoder(OPTIONS);

/**
 * Encode a message as one complete frame (length prefix included).
 *
 * @example
 * ```ts
 * import { decodeMessage, encodeMessage } from "@agentbox/protocol";
 * const frame = encodeMessage({ type: "stream.end", stream: 1, fd: 1 });
 * console.assert(decodeMessage(frame.subarray(4)).type === "stream.end");
 * ```
 */
export function encodeMessage(message: Message, maxFrameBytes = MAX_FRAME_BYTES): Uint8Array {
  const fields = Object.fromEntries(Object.entries(message).filter(([, v]) => v !== undefined));
  return encodeFrame(encoder.encode(fields), maxFrameBytes);
}

/** Decode and validate one frame payload. */
export function decodeMessage(payload: Uint8Array): Message {
  let value: unknown;
  try {
    value = decoder.decode(payload);
  } catch (cause) {
    throw new ProtocolError("bad_frame", "Frame is not valid CBOR", { cause });
  }
  return parseMessage(value);
}

/**
 * Encode a plain value as CBOR with the protocol's options (no records, untagged byte strings).
 *
 * @example
 * ```ts
 * import { decodeCbor, encodeCbor } from "@agentbox/protocol";
 * console.assert((decodeCbor(encodeCbor({ a: 1 })) as { a: number }).a === 1);
 * ```
 */
export function encodeCbor(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Decode CBOR with the protocol's options; throws `bad_frame` on invalid input. */
export function decodeCbor(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new ProtocolError("bad_frame", "Entry is not valid CBOR", { cause });
  }
}
