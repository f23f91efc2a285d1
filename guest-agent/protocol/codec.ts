/**
 * CBOR encoding of messages into frames and back. Decoding validates: the result is always a
 * well-formed {@linkcode Message} or a {@linkcode ProtocolError}.
 *
 * @module
 */

// cbor-x's pure-JavaScript ES modules. Under Deno's `node` + `import` conditions the package's
// `./decode` export is its `index.js` (Encoder and Decoder, nothing native); its main entry
// (`node-index.js`) would load the optional native `cbor-extract` addon, which is built against
// Node's V8 ABI and aborts the whole Deno process (undefined symbol `v8::Isolate::GetCurrent`) on
// some frames of a few hundred bytes. Not the `index-no-eval` build either: that one is CommonJS,
// and the first CommonJS module a process loads starts Deno's Node module system, ~25 ms of every
// CLI start (docs/benchmarks.md, "The cost of one exec"). That build's one difference, record
// readers compiled with `new Function`, cannot be reached: records need a tag, and no tag gets
// past plainCborProblem to the decoder.
import { Decoder, Encoder } from "cbor-x/decode";
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
  return parseMessage(decodePlain(payload, "Frame"));
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

/**
 * Decode plain CBOR with the protocol's options; throws `bad_frame` on invalid input and on
 * anything but plain data (see {@linkcode checkPlainCbor}).
 */
export function decodeCbor(bytes: Uint8Array): unknown {
  return decodePlain(bytes, "Entry");
}

function decodePlain(bytes: Uint8Array, what: string): unknown {
  const problem = plainCborProblem(bytes);
  if (problem) throw new ProtocolError("bad_frame", `${what} is not plain CBOR: ${problem}`);
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new ProtocolError("bad_frame", `${what} is not valid CBOR`, { cause });
  }
}

/** Deepest nesting of arrays and maps a payload may have (messages need 3, records 1). */
export const MAX_CBOR_NESTING = 16;

/**
 * Why `bytes` is not one plain CBOR data item, or undefined when it is. Plain means: unsigned and
 * negative integers, byte and text strings, arrays and maps, all of definite length and nested at
 * most {@linkcode MAX_CBOR_NESTING} deep, `false`, `true`, `null`, `undefined` and floats — and
 * nothing else. In particular no tag at all: no shared references (tags 28/29, whose nested
 * re-use turns a 200-byte entry into gigabytes once a value is walked or printed), no record
 * structures, packed values, dates, bignums, sets or typed arrays, which cbor-x would otherwise
 * decode into objects the validators never expect. The check walks the item headers once, in
 * time proportional to the number of items, before cbor-x sees a byte.
 *
 * @example
 * ```ts
 * import { encodeCbor, plainCborProblem } from "@agentbox/protocol";
 * console.assert(plainCborProblem(encodeCbor({ a: [1, "x"] })) === undefined);
 * console.assert(plainCborProblem(new Uint8Array([0xd8, 0x1c, 0x80])) !== undefined);
 * ```
 */
export function plainCborProblem(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Items still to read in each open array or map, innermost last; the payload is one item.
  const open = [1];
  let at = 0;
  while (open.length > 0) {
    if (open[open.length - 1] === 0) {
      open.pop();
      continue;
    }
    open[open.length - 1]--;
    if (at >= bytes.length) return "it ends inside an item";
    const initial = bytes[at++];
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) {
      if (info >= 20 && info <= 23) continue; // false, true, null, undefined
      const floatBytes = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
      if (floatBytes === 0) {
        return info === 31 ? "a break outside an indefinite item" : `simple value ${info}`;
      }
      at += floatBytes;
      continue;
    }
    if (info === 31) return "indefinite lengths are not allowed";
    if (info >= 28) return `reserved header byte 0x${initial.toString(16)}`;
    let argument = info;
    if (info >= 24) {
      const size = 1 << (info - 24);
      if (at + size > bytes.length) return "it ends inside an item";
      argument = size === 1
        ? view.getUint8(at)
        : size === 2
        ? view.getUint16(at)
        : size === 4
        ? view.getUint32(at)
        : Number(view.getBigUint64(at));
      at += size;
    }
    switch (major) {
      case 2:
      case 3:
        if (argument > bytes.length - at) return "a string runs past the end";
        at += argument;
        break;
      case 4:
      case 5: {
        const items = major === 4 ? argument : 2 * argument;
        if (items > bytes.length - at) return "a container runs past the end";
        if (open.length > MAX_CBOR_NESTING) {
          return `nesting deeper than ${MAX_CBOR_NESTING} levels`;
        }
        open.push(items);
        break;
      }
      case 6:
        return `tag ${argument} (tags are not allowed)`;
    }
  }
  return at === bytes.length ? undefined : "bytes after the item";
}
