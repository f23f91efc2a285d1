import assert from "node:assert/strict";
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, MAX_FRAME_BYTES } from "./frame.ts";
import { ProtocolError } from "./errors.ts";
import { concat, prng, randomBytes } from "./testing/mod.ts";

function isCode(code: string) {
  return (e: unknown) => e instanceof ProtocolError && e.code === code;
}

const random = prng(7);
const PAYLOADS = [
  new Uint8Array(0),
  new Uint8Array([42]),
  randomBytes(random, 5),
  randomBytes(random, 300),
  new Uint8Array(0),
  randomBytes(random, 70),
];
const STREAM = concat(PAYLOADS.map((p) => encodeFrame(p)));

Deno.test("encodeFrame writes a 4-byte big-endian length, then the payload", () => {
  const payload = randomBytes(random, 0x0102);
  const frame = encodeFrame(payload);
  assert.equal(frame.length, FRAME_HEADER_BYTES + payload.length);
  assert.deepEqual([...frame.subarray(0, 4)], [0, 0, 1, 2]);
  assert.deepEqual(frame.subarray(4), payload);
});

Deno.test("encodeFrame refuses a payload above the limit", () => {
  assert.throws(() => encodeFrame(new Uint8Array(11), 10), isCode("frame_too_large"));
  assert.equal(encodeFrame(new Uint8Array(10), 10).length, 14);
});

Deno.test("FrameDecoder decodes a whole stream pushed at once", () => {
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(STREAM), PAYLOADS);
  assert.equal(decoder.buffered, 0);
  decoder.finish();
});

Deno.test("FrameDecoder gives the same frames when the stream is split at any byte", () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const decoder = new FrameDecoder();
    const frames = [
      ...decoder.push(STREAM.subarray(0, cut)),
      ...decoder.push(STREAM.subarray(cut)),
    ];
    assert.deepEqual(frames, PAYLOADS, `split at ${cut}`);
    decoder.finish();
  }
});

Deno.test("FrameDecoder gives the same frames when split at every pair of bytes", () => {
  // Two cuts exercise frames spanning three chunks (header split across chunks, and so on).
  const small = concat(PAYLOADS.slice(0, 3).map((p) => encodeFrame(p)));
  for (let a = 0; a <= small.length; a++) {
    for (let b = a; b <= small.length; b++) {
      const decoder = new FrameDecoder();
      const frames = [
        ...decoder.push(small.subarray(0, a)),
        ...decoder.push(small.subarray(a, b)),
        ...decoder.push(small.subarray(b)),
      ];
      assert.deepEqual(frames, PAYLOADS.slice(0, 3), `cuts at ${a}, ${b}`);
    }
  }
});

Deno.test("FrameDecoder decodes a stream fed one byte at a time", () => {
  const decoder = new FrameDecoder();
  const frames: Uint8Array[] = [];
  for (let i = 0; i < STREAM.length; i++) frames.push(...decoder.push(STREAM.subarray(i, i + 1)));
  assert.deepEqual(frames, PAYLOADS);
  decoder.finish();
});

Deno.test("FrameDecoder decodes random chunkings of a random stream", () => {
  const rnd = prng(1234);
  for (let round = 0; round < 200; round++) {
    const payloads = Array.from(
      { length: 1 + Math.floor(rnd() * 8) },
      () => randomBytes(rnd, Math.floor(rnd() * 600)),
    );
    const stream = concat(payloads.map((p) => encodeFrame(p)));
    const decoder = new FrameDecoder();
    const frames: Uint8Array[] = [];
    for (let offset = 0; offset < stream.length;) {
      const n = 1 + Math.floor(rnd() * 700);
      frames.push(...decoder.push(stream.subarray(offset, offset + n)));
      offset += n;
    }
    assert.deepEqual(frames, payloads, `round ${round}`);
    decoder.finish();
  }
});

Deno.test("FrameDecoder.finish throws bad_frame for every truncation of a frame", () => {
  const frame = encodeFrame(randomBytes(random, 20));
  for (let n = 1; n < frame.length; n++) {
    const decoder = new FrameDecoder();
    assert.deepEqual(decoder.push(frame.subarray(0, n)), []);
    assert.equal(decoder.buffered, n);
    assert.throws(() => decoder.finish(), isCode("bad_frame"), `truncated to ${n}`);
  }
  new FrameDecoder().finish(); // Nothing received is a clean end.
});

Deno.test("FrameDecoder refuses an oversized length prefix before the body arrives", () => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  assert.throws(() => new FrameDecoder().push(header), isCode("frame_too_large"));

  // Even a header split over several pushes is refused as soon as its 4 bytes are in.
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(header.subarray(0, 3)), []);
  assert.throws(() => decoder.push(header.subarray(3)), isCode("frame_too_large"));

  new DataView(header.buffer).setUint32(0, 0xffff_ffff);
  assert.throws(() => new FrameDecoder().push(header), isCode("frame_too_large"));
});

Deno.test("FrameDecoder accepts a frame of exactly the limit and honours a custom limit", () => {
  const limited = new FrameDecoder(16);
  assert.deepEqual(limited.push(encodeFrame(new Uint8Array(16).fill(3))), [
    new Uint8Array(16).fill(3),
  ]);
  assert.throws(() => limited.push(encodeFrame(new Uint8Array(17))), isCode("frame_too_large"));

  const full = new FrameDecoder();
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES);
  assert.deepEqual(full.push(header), []);
  assert.equal(full.buffered, 4);
});

Deno.test("FrameDecoder never throws anything but ProtocolError on random bytes", () => {
  const rnd = prng(99);
  for (let round = 0; round < 2000; round++) {
    const decoder = new FrameDecoder(4096);
    const bytes = randomBytes(rnd, Math.floor(rnd() * 64));
    try {
      for (const frame of decoder.push(bytes)) assert.ok(frame.length <= 4096);
      assert.ok(decoder.buffered <= 4 + 4096);
      decoder.finish();
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `round ${round}: ${error}`);
    }
  }
});
