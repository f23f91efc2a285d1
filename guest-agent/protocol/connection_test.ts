import assert from "node:assert/strict";
import { decodeMessage, encodeMessage } from "./codec.ts";
import { Connection, type Duplex } from "./connection.ts";
import { ProtocolError } from "./errors.ts";
import { FrameDecoder, MAX_FRAME_BYTES } from "./frame.ts";
import type { Message } from "./messages.ts";
import {
  concat,
  delay,
  duplexPair,
  EXAMPLES,
  prng,
  randomBytes,
  RawPeer,
  within,
} from "./testing/mod.ts";

function isCode(code: string) {
  return (e: unknown) => e instanceof ProtocolError && e.code === code;
}

/** A duplex pair whose two directions report every message that crosses them. */
function tappedPair(
  onAB: (m: Message) => void,
  onBA: (m: Message) => void,
): [Duplex, Duplex] {
  const tap = (on: (m: Message) => void) => {
    const decoder = new FrameDecoder();
    return new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        for (const payload of decoder.push(chunk)) on(decodeMessage(payload));
        controller.enqueue(chunk);
      },
    });
  };
  const ab = tap(onAB);
  const ba = tap(onBA);
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ];
}

/** A connection under test facing a raw (possibly hostile) peer. */
function underTest(options: ConstructorParameters<typeof Connection>[1] = {}) {
  const [mine, theirs] = duplexPair();
  const conn = new Connection(mine, options);
  const seen: Message[] = [];
  conn.start((m) => seen.push(m));
  return { conn, peer: new RawPeer(theirs), seen };
}

Deno.test("Connection: a sender never has more than the window in flight, even to a slow consumer", async () => {
  const window = 64 * 1024;
  let sent = 0;
  let credited = 0;
  let worst = 0;
  const [a, b] = tappedPair((m) => {
    if (m.type === "stream.data") {
      sent += m.data.length;
      worst = Math.max(worst, sent - credited);
    }
  }, (m) => {
    if (m.type === "stream.credit") credited += m.bytes;
  });
  const producer = new Connection(a, { windowBytes: window });
  const consumer = new Connection(b, { windowBytes: window });
  producer.start(() => {});
  consumer.start(() => {});
  const readable = consumer.receive(1, 1);
  const writable = producer.transmit(1, 1);

  const total = 1024 * 1024;
  const source = randomBytes(prng(3), total);
  let produced = 0;
  let consumed = 0;
  let worstBacklog = 0;
  const produce = (async () => {
    const writer = writable.getWriter();
    for (let offset = 0; offset < total; offset += 8192) {
      await writer.write(source.subarray(offset, offset + 8192));
      produced += 8192;
    }
    await writer.close();
  })();
  const received: Uint8Array[] = [];
  for await (const chunk of readable) {
    received.push(chunk);
    consumed += chunk.length;
    worstBacklog = Math.max(worstBacklog, produced - consumed);
    if (received.length % 4 === 0) await delay(1); // A slow consumer.
  }
  await produce;

  assert.deepEqual(concat(received), source);
  assert.ok(worst <= window, `${worst} bytes in flight with a window of ${window}`);
  assert.ok(worst > window / 2, `the window was used (${worst} bytes in flight at most)`);
  assert.ok(worstBacklog <= window, `producer ran ${worstBacklog} bytes ahead of the consumer`);
  assert.equal(credited, total, "every byte read was credited back");
  producer.close();
  consumer.close();
});

Deno.test("Connection: a stalled consumer stops the producer at one window", async () => {
  const { conn, peer } = underTest({ windowBytes: 1000 });
  const writer = conn.transmit(1, 1).getWriter();
  let written = false;
  const write = writer.write(new Uint8Array(3000)).then(() => written = true);
  const first = await peer.expect("stream.data");
  assert.equal(first?.data.length, 1000);
  await delay(20);
  assert.equal(written, false, "the write waits for credit");
  await peer.send({ type: "stream.credit", stream: 1, fd: 1, bytes: 500 });
  assert.equal((await peer.expect("stream.data"))?.data.length, 500);
  await peer.send({ type: "stream.credit", stream: 1, fd: 1, bytes: 5000 });
  assert.equal((await peer.expect("stream.data"))?.data.length, 1500);
  await within(write, 1000, "write");
  await writer.close();
  assert.deepEqual(await peer.next(), { type: "stream.end", stream: 1, fd: 1 });
  conn.close();
  await peer.end();
});

Deno.test("Connection: credits go back to the peer as the consumer reads", async () => {
  const { conn, peer } = underTest({ windowBytes: 1000 });
  const readable = conn.receive(4, 2);
  for (let i = 0; i < 10; i++) {
    await peer.send({ type: "stream.data", stream: 4, fd: 2, data: new Uint8Array(100) });
  }
  await peer.send({ type: "stream.end", stream: 4, fd: 2 });
  assert.equal((await new Response(readable).bytes()).length, 1000);
  let credited = 0;
  while (credited < 1000) {
    const credit = await within(peer.expect("stream.credit"), 1000, "credit");
    assert.equal(credit?.stream, 4);
    assert.equal(credit?.fd, 2);
    credited += credit!.bytes;
  }
  assert.equal(credited, 1000);
  conn.close();
  await peer.end();
});

Deno.test("Connection: a peer that overruns the window is disconnected with flow_violation", async () => {
  const { conn, peer } = underTest({ windowBytes: 1000 });
  const readable = conn.receive(1, 1);
  await peer.send({ type: "stream.data", stream: 1, fd: 1, data: new Uint8Array(600) });
  await peer.send({ type: "stream.data", stream: 1, fd: 1, data: new Uint8Array(600) });
  const reason = await within(conn.closed, 1000, "closed");
  assert.ok(isCode("flow_violation")(reason), String(reason));
  const error = await peer.expect("error");
  assert.equal(error?.code, "flow_violation");
  assert.equal(await peer.next(), undefined, "then the connection ends");
  await assert.rejects(new Response(readable).bytes(), isCode("flow_violation"));
  await assert.rejects(conn.send(EXAMPLES[0]), isCode("flow_violation"));
});

Deno.test("Connection: strict side refuses data for an unknown stream", async () => {
  const { conn, peer } = underTest({ strictStreams: true });
  await peer.send({ type: "stream.data", stream: 77, fd: 1, data: new Uint8Array(1) });
  assert.ok(isCode("unknown_stream")(await within(conn.closed, 1000, "closed")));
  assert.equal((await peer.expect("error"))?.code, "unknown_stream");
});

Deno.test("Connection: lenient side drops data for an unknown stream and carries on", async () => {
  const { conn, peer, seen } = underTest({ strictStreams: false });
  await peer.send({ type: "stream.data", stream: 77, fd: 0, data: new Uint8Array(1) });
  await peer.send({ type: "stream.end", stream: 77, fd: 0 });
  await peer.send({ type: "stream.credit", stream: 77, fd: 1, bytes: 10 });
  await peer.send({ type: "exec.signal", stream: 77, signal: "SIGINT" });
  await peer.end();
  assert.equal(await within(conn.closed, 1000, "closed"), undefined, "a clean EOF");
  assert.deepEqual(seen, [{ type: "exec.signal", stream: 77, signal: "SIGINT" }]);
});

Deno.test("Connection: EOF in the middle of a frame closes it with bad_frame", async () => {
  const { conn, peer } = underTest();
  const frame = encodeMessage(EXAMPLES[0]);
  await peer.write(frame.subarray(0, frame.length - 1));
  await peer.end();
  assert.ok(isCode("bad_frame")(await within(conn.closed, 1000, "closed")));
});

Deno.test("Connection: half a frame and then nothing closes it with timed_out, not a hang", async () => {
  const { conn, peer } = underTest({ frameTimeoutMs: 200 });
  const frame = encodeMessage(EXAMPLES[0]);
  await peer.write(frame.subarray(0, 9)); // No rest, and no EOF either.
  const started = performance.now();
  const reason = await within(conn.closed, 2000, "closed");
  assert.ok(isCode("timed_out")(reason), `${reason}`);
  assert.match((reason as Error).message, /sent 9 bytes of a frame and not the rest within 0.2 s/);
  assert.ok(performance.now() - started >= 150);
  await peer.cancel();
});

Deno.test("Connection: with frameTimeoutMs Infinity (the agent's side) half a frame waits", async () => {
  const { conn, peer } = underTest({ frameTimeoutMs: Infinity });
  const frame = encodeMessage(EXAMPLES[0]);
  await peer.write(frame.subarray(0, 9));
  await delay(100);
  assert.equal(conn.isClosed, false);
  await peer.write(frame.subarray(9));
  conn.close();
  await peer.cancel();
});

Deno.test("Connection: a frame trickled byte by byte times out however steadily it comes", async () => {
  const { conn, peer } = underTest({ frameTimeoutMs: 300 });
  const frame = encodeMessage(EXAMPLES[1]);
  const trickle = (async () => {
    for (let i = 0; i < frame.length - 1 && !conn.isClosed; i++) {
      await peer.write(frame.subarray(i, i + 1));
      await delay(20);
    }
  })();
  assert.ok(isCode("timed_out")(await within(conn.closed, 3000, "closed")));
  await trickle;
  await peer.cancel();
});

Deno.test("Connection: frames that keep straddling chunk boundaries are not taken for a stall", async () => {
  const { conn, peer, seen } = underTest({ frameTimeoutMs: 150 });
  // Chunks of 7 bytes never end on a frame boundary, for longer than the frame timeout.
  const frames = concat(Array.from({ length: 30 }, () => encodeMessage(EXAMPLES[3])));
  for (let i = 0; i < frames.length; i += 7) {
    await peer.write(frames.subarray(i, i + 7));
    await delay(2);
  }
  await delay(50);
  assert.equal(conn.isClosed, false);
  assert.equal(seen.length, 30);
  conn.close();
  await peer.cancel();
});

Deno.test("Connection: an oversized length prefix closes it before any body arrives", async () => {
  const { conn, peer } = underTest();
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  await peer.write(header); // No body and no EOF: the decision cannot wait for either.
  assert.ok(isCode("frame_too_large")(await within(conn.closed, 1000, "closed")));
  assert.equal((await peer.expect("error"))?.code, "frame_too_large");
});

Deno.test("Connection: a peer that does not read cannot hold off the close after a violation", async () => {
  const [mine, theirs] = duplexPair(64);
  const conn = new Connection(mine);
  conn.start(() => {});
  // Fill the (small) buffer towards the peer, which never reads.
  for (let i = 0; i < 4; i++) conn.send(EXAMPLES[0]).catch(() => {});
  const writer = theirs.writable.getWriter();
  await writer.write(new Uint8Array([0, 0, 0, 1, 0xff]));
  assert.ok(isCode("bad_frame")(await within(conn.closed, 1000, "closed")));
  await theirs.readable.cancel();
});

Deno.test("Connection: close() stops reading from a silent peer and ends its output", async () => {
  const [mine, theirs] = duplexPair();
  const conn = new Connection(mine);
  conn.start(() => {});
  conn.close();
  assert.equal(await within(conn.closed, 1000, "closed"), undefined);
  // The peer sees EOF on what it reads and an error on what it writes: nothing stays open.
  const reader = theirs.readable.getReader();
  assert.equal((await within(reader.read(), 1000, "peer read")).done, true);
  const writer = theirs.writable.getWriter();
  await assert.rejects(
    within(writer.closed, 1000, "peer writer"),
    (e) => !String(e).includes("Hang"),
  );
  await assert.rejects(conn.send(EXAMPLES[0]), isCode("closed"));
});

Deno.test("Connection: pending readers and writers fail when the connection is lost", async () => {
  const { conn, peer } = underTest({ windowBytes: 10 });
  const readable = conn.receive(1, 1);
  const writer = conn.transmit(1, 2).getWriter();
  const writing = writer.write(new Uint8Array(100));
  await peer.expect("stream.data");
  await peer.end();
  await within(conn.closed, 1000, "closed");
  await assert.rejects(within(writing, 1000, "write"), isCode("closed"));
  await assert.rejects(within(new Response(readable).bytes(), 1000, "read"), isCode("closed"));
});

Deno.test("Connection: random garbage always ends in a clean close or a ProtocolError", async () => {
  const random = prng(31337);
  const valid = EXAMPLES.filter((e) => e.type !== "stream.data");
  for (let i = 0; i < 300; i++) {
    const { conn, peer, seen } = underTest({ strictStreams: i % 2 === 0, windowBytes: 256 });
    conn.receive(1, 1);
    const parts: number[] = [];
    for (let n = Math.floor(random() * 4); n > 0; n--) {
      parts.push(...encodeMessage(valid[Math.floor(random() * valid.length)]));
    }
    parts.push(...randomBytes(random, Math.floor(random() * 80)));
    const bytes = new Uint8Array(parts);
    for (let offset = 0; offset < bytes.length;) {
      const n = 1 + Math.floor(random() * 40);
      await peer.write(bytes.subarray(offset, offset + n));
      offset += n;
    }
    await peer.end();
    const reason = await within(conn.closed, 2000, `closed #${i}`);
    assert.ok(reason === undefined || reason instanceof ProtocolError, `#${i}: ${reason}`);
    for (const m of seen) assert.ok(valid.some((v) => v.type === m.type), `#${i}: ${m.type}`);
    await peer.cancel();
  }
});
