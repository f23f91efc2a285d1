import assert from "node:assert/strict";
import { Encoder } from "cbor-x/index-no-eval";
import {
  decodeCbor,
  decodeMessage,
  encodeCbor,
  encodeMessage,
  MAX_CBOR_NESTING,
  plainCborProblem,
} from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import { FrameDecoder, MAX_FRAME_BYTES } from "./frame.ts";
import type { Message } from "./messages.ts";
import { cborMapOf, EXAMPLES, prng, randomBytes, sharedReferenceBomb } from "./testing/mod.ts";

/** A permissive encoder for crafting frames the real encoder would never produce. */
const raw = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });

const TYPES = new Set(EXAMPLES.map((e) => e.type));
const CANARY = encodeMessage({ type: "stream.data", stream: 9, fd: 2, data: new Uint8Array([1]) })
  .subarray(4);

function isCode(code: string) {
  return (e: unknown) => e instanceof ProtocolError && e.code === code;
}

function payloadOf(message: Message): Uint8Array {
  const frame = encodeMessage(message);
  assert.equal(new DataView(frame.buffer).getUint32(0), frame.length - 4);
  return frame.subarray(4);
}

/** Decode garbage: a valid message or a ProtocolError, nothing else; the codec stays usable. */
function decodeHostile(payload: Uint8Array, label: string): Message | undefined {
  let message: Message | undefined;
  try {
    message = decodeMessage(payload);
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `${label}: threw ${error}`);
    assert.ok(
      ["bad_frame", "bad_message", "unknown_type"].includes(error.code),
      `${label}: ${error.code}`,
    );
  }
  if (message) {
    assert.ok(TYPES.has(message.type), label);
    // What comes out is a fixed point: it encodes and decodes to itself.
    assert.deepEqual(decodeMessage(payloadOf(message)), decodeMessage(payloadOf(message)), label);
  }
  // No decoder state leaks from one frame to the next.
  assert.deepEqual(decodeMessage(CANARY), {
    type: "stream.data",
    stream: 9,
    fd: 2,
    data: new Uint8Array([1]),
  }, `${label}: canary`);
  return message;
}

Deno.test("encodeMessage/decodeMessage round-trip every message type", () => {
  for (const example of EXAMPLES) {
    const decoded = decodeMessage(payloadOf(example)) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(example)) {
      assert.deepEqual(
        key === "data" ? new Uint8Array(decoded[key] as Uint8Array) : decoded[key],
        value,
        `${example.type}.${key}`,
      );
    }
  }
});

Deno.test("encodeMessage writes plain CBOR: a map, text keys, untagged byte strings", () => {
  const payload = payloadOf({
    type: "stream.data",
    stream: 1,
    fd: 1,
    data: new Uint8Array([0xaa, 0xbb]),
  });
  assert.equal(payload[0] >> 5, 5, "top level is a CBOR map");
  const hex = Array.from(payload, (b) => b.toString(16).padStart(2, "0")).join("");
  assert.ok(hex.includes("6464617461" + "42aabb"), `"data" then a bare 2-byte string: ${hex}`);
  assert.ok(!hex.includes("d840"), "no tag 64 (typed array) anywhere");
  // Undefined optional fields are left out, not encoded as CBOR undefined (0xf7).
  const start = payloadOf({ type: "exec.start", stream: 1, argv: ["x"], env: {}, stdin: false });
  assert.ok(!start.includes(0xf7));
  assert.ok(!new TextDecoder().decode(start).includes("cwd"));
});

Deno.test("decodeMessage accepts byte strings from other CBOR encoders", () => {
  // A hand-written map: {"type": "stream.data", "stream": 1, "fd": 2, "data": h'0102'}
  const text = (s: string) => [0x60 + s.length, ...new TextEncoder().encode(s)];
  const payload = new Uint8Array([
    0xa4,
    ...text("type"),
    ...text("stream.data"),
    ...text("stream"),
    0x01,
    ...text("fd"),
    0x02,
    ...text("data"),
    0x42,
    1,
    2,
  ]);
  const msg = decodeMessage(payload);
  assert.equal(msg.type, "stream.data");
  if (msg.type === "stream.data") assert.deepEqual([...msg.data], [1, 2]);
});

Deno.test("decodeMessage refuses invalid CBOR and trailing bytes with bad_frame", () => {
  assert.throws(() => decodeMessage(new Uint8Array(0)), isCode("bad_frame"));
  assert.throws(() => decodeMessage(new Uint8Array([0xff])), isCode("bad_frame"));
  assert.throws(
    () => decodeMessage(new Uint8Array([0x5a, 0xff, 0xff, 0xff, 0xff])),
    isCode("bad_frame"),
  );
  const payload = payloadOf(EXAMPLES[0]);
  const trailing = new Uint8Array([...payload, 0x00]);
  assert.throws(() => decodeMessage(trailing), isCode("bad_frame"));
  for (let n = 0; n < payload.length; n++) {
    assert.throws(() => decodeMessage(payload.subarray(0, n)), isCode("bad_frame"), `cut ${n}`);
  }
});

Deno.test("decodeMessage refuses unknown types and bad fields in real CBOR", () => {
  assert.throws(
    () => decodeMessage(raw.encode({ type: "fs.read", path: "/" })),
    isCode("unknown_type"),
  );
  assert.throws(() => decodeMessage(raw.encode([1, 2])), isCode("bad_message"));
  assert.throws(() => decodeMessage(raw.encode("hello")), isCode("bad_message"));
  assert.throws(
    () => decodeMessage(raw.encode({ type: "stream.data", stream: 1, fd: 1, data: "text" })),
    isCode("bad_message"),
  );
  // A CBOR map with non-text keys, tags and sets in odd places.
  assert.throws(() => decodeMessage(new Uint8Array([0xa1, 0x01, 0x02])), isCode("unknown_type"));
  assert.throws(() => decodeMessage(raw.encode(new Map([[1, 2]]))), isCode("bad_frame"));
  assert.throws(
    () =>
      decodeMessage(
        raw.encode({
          type: "hello",
          version: 1,
          role: "agent",
          capabilities: new Set(["exec"]),
          software: "x",
        }),
      ),
    isCode("bad_frame"),
  );
  // Tagged values (a date, a bignum) are refused before any field is looked at.
  assert.throws(
    () => decodeMessage(raw.encode({ type: "exec.started", stream: 1, pid: new Date(0) })),
    isCode("bad_frame"),
  );
  assert.throws(
    () => decodeMessage(raw.encode({ type: "exec.started", stream: 2n ** 70n, pid: 1 })),
    isCode("bad_frame"),
  );
});

Deno.test("decodeMessage does not let __proto__ keys pollute or satisfy fields", () => {
  const payload = raw.encode(JSON.parse(
    '{"type":"stream.end","__proto__":{"stream":1,"fd":1,"polluted":true}}',
  ));
  assert.ok(new TextDecoder().decode(payload).includes("__proto__"), "the key is on the wire");
  assert.throws(() => decodeMessage(payload), isCode("bad_message"));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);

  const env = raw.encode(JSON.parse(
    '{"type":"exec.start","stream":1,"argv":["x"],"stdin":false,' +
      '"env":{"__proto__":"x","A":"1"}}',
  ));
  const msg = decodeMessage(env);
  assert.equal(msg.type, "exec.start");
  if (msg.type !== "exec.start") return;
  assert.equal(Object.getPrototypeOf(msg.env), Object.prototype);
  assert.equal(msg.env.A, "1");
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("decodeCbor and decodeMessage refuse nested shared references at once, briefly", () => {
  // 40 levels stand for 2^40 copies of a string: walking or printing the value never ends.
  const bomb = sharedReferenceBomb(40);
  assert.ok(bomb.length < 500, `${bomb.length} bytes`);
  const record = cborMapOf({ path: bomb, type: encodeCbor("file"), size: encodeCbor("x") });
  const message = cborMapOf({ type: encodeCbor("hello"), software: bomb });
  for (const [label, decode] of [["entry", decodeCbor], ["frame", decodeMessage]] as const) {
    const started = performance.now();
    assert.throws(
      () => decode(label === "entry" ? record : message),
      (e: unknown) => {
        assert.ok(e instanceof ProtocolError && e.code === "bad_frame", `${label}: ${e}`);
        assert.match(e.message, /tag 28/);
        assert.ok(e.message.length < 200, `${label}: ${e.message.length} characters`);
        return true;
      },
    );
    assert.ok(performance.now() - started < 100, `${label}: refused fast`);
  }
});

Deno.test("plainCborProblem: plain data passes, every tag and every non-plain construct is named", () => {
  const plain = [
    { a: [1, -1, 2 ** 40, -(2 ** 40), 0.5, NaN, "text", new Uint8Array([1, 2]), true, null] },
    [undefined, false, "", {}, []],
    "x".repeat(70_000),
    EXAMPLES,
  ];
  for (const value of plain) {
    assert.equal(
      plainCborProblem(encodeCbor(value)),
      undefined,
      JSON.stringify(value)?.slice(0, 40),
    );
  }
  const tags = [0, 1, 2, 3, 4, 5, 14, 15, 25, 27, 28, 29, 51, 64, 256, 258, 259, 55799, 0xdfff];
  for (const tag of tags) {
    const header = tag < 24 ? [0xc0 + tag] : tag < 256 ? [0xd8, tag] : [0xd9, tag >> 8, tag & 0xff];
    assert.equal(
      plainCborProblem(new Uint8Array([0x81, ...header, 0x01])),
      `tag ${tag} (tags are not allowed)`,
    );
  }
  const nested = (depth: number) => new Uint8Array([...new Array(depth).fill(0x81), 0x00]);
  assert.equal(plainCborProblem(nested(MAX_CBOR_NESTING)), undefined);
  assert.match(plainCborProblem(nested(MAX_CBOR_NESTING + 1))!, /nesting deeper/);
  const problems: [Uint8Array, RegExp][] = [
    [new Uint8Array([0x9f, 0x01, 0xff]), /indefinite/],
    [new Uint8Array([0xbf, 0xff]), /indefinite/],
    [new Uint8Array([0x5f, 0x41, 0x00, 0xff]), /indefinite/],
    [new Uint8Array([0xf0]), /simple value 16/],
    [new Uint8Array([0xf8, 0x20]), /simple value 24/],
    [new Uint8Array([0xff]), /break/],
    [new Uint8Array([0x1c]), /reserved/],
    [new Uint8Array([0x82, 0x01]), /past the end/],
    [new Uint8Array([0x82, 0x81, 0x01]), /ends inside/],
    [new Uint8Array([0x5a, 0xff, 0xff, 0xff, 0xff]), /past the end/],
    [new Uint8Array([0x9b, ...new Array(8).fill(0xff)]), /past the end/],
    [new Uint8Array([0x01, 0x02]), /bytes after/],
    [new Uint8Array([]), /ends inside/],
  ];
  for (const [bytes, expected] of problems) {
    assert.match(plainCborProblem(bytes) ?? "accepted", expected, `${[...bytes]}`);
  }
});

Deno.test("decodeMessage survives hostile CBOR constructs", () => {
  const cases: [string, Uint8Array][] = [
    ["array of 2^32-1 items", new Uint8Array([0x9a, 0xff, 0xff, 0xff, 0xff, 0x00])],
    ["map of 2^32-1 pairs", new Uint8Array([0xba, 0xff, 0xff, 0xff, 0xff, 0x00])],
    ["byte string of 2^64-1", new Uint8Array([0x5b, ...new Array(8).fill(0xff)])],
    ["deep nesting", new Uint8Array(200_000).fill(0x81)],
    ["deep maps", new Uint8Array(Array.from({ length: 100_000 }, (_, i) => i % 2 ? 0x61 : 0xa1))],
    [
      "tag 27 generic object",
      raw.encode({ type: "hello" }).length
        ? new Uint8Array([0xd8, 0x1b, 0x82, 0x64, ...new TextEncoder().encode("eval"), 0x61, 0x31])
        : new Uint8Array(),
    ],
    [
      "tag 27 with prototype name",
      new Uint8Array([
        0xd8,
        0x1b,
        0x82,
        0x69,
        ...new TextEncoder().encode("__proto__"),
        0x61,
        0x31,
      ]),
    ],
    ["shared reference to nothing", new Uint8Array([0xd8, 0x1d, 0x05])],
    [
      "record definition",
      new Uint8Array([
        0xd9,
        0xdf,
        0xff,
        0x84,
        0x19,
        0xe0,
        0x00,
        0x81,
        0x64,
        ...new TextEncoder().encode("type"),
        0x65,
        ...new TextEncoder().encode("hello"),
        0x00,
      ]),
    ],
    ["tag 259 around a non-map", new Uint8Array([0xd9, 0x01, 0x03, 0x01])],
    ["indefinite map without break", new Uint8Array([0xbf, 0x61, 0x61, 0x01])],
    ["half float NaN stream", raw.encode({ type: "exec.started", stream: NaN, pid: 1 })],
    // These crashed the whole process when cbor-x loaded its native string extractor.
    [
      "1 kB of invalid UTF-8 strings",
      new Uint8Array(Array.from({ length: 1000 }, (_, i) => i % 2 ? 0x61 : 0xa1)),
    ],
    [
      "long invalid UTF-8 string",
      new Uint8Array([0xa1, 0x79, 0x01, 0x00, ...new Array(256).fill(0xc3)]),
    ],
    ["undefined values", new Uint8Array([0xa1, 0x64, ...new TextEncoder().encode("type"), 0xf7])],
  ];
  for (const [label, payload] of cases) decodeHostile(payload, label);
  assert.equal(({} as Record<string, unknown>)[1], undefined);
});

/** A random CBOR-able value, biased towards the protocol's field names and types. */
function randomValue(random: () => number, depth = 0): unknown {
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  switch (Math.floor(random() * (depth > 3 ? 8 : 11))) {
    case 0:
      return Math.floor(random() * 2 ** 32) * (random() < 0.1 ? -1 : 1);
    case 1:
      return pick([0, 1, 2, 3, 255, 256, -1, 0.5, NaN, Infinity, 2 ** 53, 2 ** 32]);
    case 2:
      return pick([...TYPES, "SIGINT", "SIGKILL", "agent", "host", "", "__proto__"]);
    case 3:
      return randomBytes(random, Math.floor(random() * 20));
    case 4:
      return pick([true, false, null, undefined]);
    case 5:
      return 2n ** BigInt(Math.floor(random() * 80));
    case 6:
      return new Date(Math.floor(random() * 1e12));
    case 7:
      return String.fromCharCode(...randomBytes(random, Math.floor(random() * 8)));
    case 8:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    case 9:
      return new Set([randomValue(random, depth + 1)]);
    default: {
      const keys = ["type", "stream", "fd", "data", "bytes", "argv", "env", "cwd", "stdin", "pid"];
      const obj: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 6); i > 0; i--) {
        obj[pick(keys)] = randomValue(random, depth + 1);
      }
      return obj;
    }
  }
}

Deno.test("decodeMessage: random bytes give a valid message or a ProtocolError", () => {
  const random = prng(2024);
  for (let i = 0; i < 3000; i++) {
    decodeHostile(randomBytes(random, Math.floor(random() * 48)), `random #${i}`);
  }
});

Deno.test("decodeMessage: mutated valid frames give a valid message or a ProtocolError", () => {
  const random = prng(42);
  const payloads = EXAMPLES.map(payloadOf);
  let valid = 0;
  for (let i = 0; i < 6000; i++) {
    const bytes = new Uint8Array(payloads[i % payloads.length]);
    const mutations = 1 + Math.floor(random() * 3);
    let mutated: Uint8Array = bytes;
    for (let m = 0; m < mutations; m++) {
      const at = Math.floor(random() * mutated.length);
      switch (Math.floor(random() * 4)) {
        case 0:
          mutated[at] ^= 1 << Math.floor(random() * 8);
          break;
        case 1:
          mutated[at] = Math.floor(random() * 256);
          break;
        case 2:
          mutated = mutated.subarray(0, at);
          break;
        default:
          mutated = new Uint8Array([
            ...mutated.subarray(0, at),
            ...randomBytes(random, 3),
            ...mutated.subarray(at),
          ]);
      }
    }
    if (decodeHostile(mutated, `mutation #${i}`)) valid++;
  }
  // The mutations must reach the validator, not only the CBOR parser.
  assert.ok(valid > 100, `${valid} mutated frames still decoded`);
});

Deno.test("decodeMessage: valid messages with random field values give a message or a ProtocolError", () => {
  const random = prng(5);
  const extraKeys = ["future", "__proto__", "constructor", "0"];
  let valid = 0;
  for (let i = 0; i < 3000; i++) {
    const example = EXAMPLES[i % EXAMPLES.length];
    const obj: Record<string, unknown> = { ...example };
    const keys = [...Object.keys(obj).filter((k) => k !== "type"), ...extraKeys];
    for (let m = 1 + Math.floor(random() * 2); m > 0; m--) {
      const key = keys[Math.floor(random() * keys.length)];
      if (random() < 0.15) delete obj[key];
      else obj[key] = randomValue(random);
    }
    let payload: Uint8Array;
    try {
      payload = raw.encode(obj);
    } catch {
      continue; // Not encodable (e.g. NaN as a key): nothing to send.
    }
    if (decodeHostile(payload, `structured #${i}`)) valid++;
  }
  assert.ok(valid > 100, `${valid} randomised messages were valid`);
});

Deno.test("frames and messages together: a random byte stream never escapes as another error", () => {
  const random = prng(77);
  for (let i = 0; i < 500; i++) {
    const decoder = new FrameDecoder(MAX_FRAME_BYTES);
    const stream = new Uint8Array([
      ...EXAMPLES.flatMap((e) => [...encodeMessage(e)]).slice(0, Math.floor(random() * 400)),
      ...randomBytes(random, Math.floor(random() * 64)),
    ]);
    try {
      for (const payload of decoder.push(stream)) decodeMessage(payload);
      decoder.finish();
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `stream #${i}: ${error}`);
    }
  }
});
