import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { decodeFrame, encodeFrame, WebSocketConnection } from "./websocket.ts";
import { Transport } from "./transport.ts";

Deno.test("frames: the three length forms round-trip, masked", () => {
  for (const size of [0, 125, 126, 65535, 65536, 200_000]) {
    const payload = Buffer.alloc(size, 7);
    const frame = encodeFrame(0x2, payload);
    assert.equal(frame[1] & 0x80, 0x80, "a client frame is masked");
    const decoded = decodeFrame(frame);
    assert.ok(decoded && decoded !== "too_large");
    assert.equal(decoded.size, frame.length);
    assert.equal(decoded.opcode, 0x2);
    assert.ok(decoded.payload.equals(payload));
    assert.equal(decodeFrame(frame.subarray(0, frame.length - 1)), undefined, "not all there");
  }
});

Deno.test("frames: a length over the bound is refused before it is buffered", () => {
  const header = Buffer.alloc(10);
  header[0] = 0x82;
  header[1] = 127;
  header.writeBigUInt64BE(1n << 40n, 2);
  assert.equal(decodeFrame(header), "too_large");
});

Deno.test("a fragmented message is joined, a ping answered, a close answered", async () => {
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk, _encoding, done) {
      written.push(chunk);
      done();
    },
  });
  const messages: (string | Uint8Array)[] = [];
  let closed: number | undefined;
  new WebSocketConnection(socket, new Uint8Array([0x01, 3, 0x68, 0x65]), {
    message: (data) => messages.push(data),
    close: (code) => closed = code,
  });
  socket.push(Buffer.from([0x6c])); // the rest of "hel"
  socket.push(Buffer.from([0x89, 2, 0x70, 0x70])); // a ping between the fragments
  socket.push(Buffer.from([0x80, 2, 0x6c, 0x6f])); // the last fragment: "lo"
  socket.push(Buffer.from([0x88, 2, 0x03, 0xe8])); // close 1000
  await new Promise((resolve) => setTimeout(resolve, 50)); // a stream delivers on a later tick
  assert.deepEqual(messages, ["hello"]);
  assert.equal(closed, 1000);
  const pong = decodeFrame(written[0]);
  assert.ok(pong && pong !== "too_large");
  assert.equal(pong.opcode, 0xA);
  assert.equal(pong.payload.toString(), "pp");
  const close = decodeFrame(written[1]);
  assert.ok(close && close !== "too_large");
  assert.equal(close.opcode, 0x8);
});

Deno.test("a real Deno WebSocket server over a unix socket: text, large binary, close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sdk-ws-" });
  const path = `${dir}/s.sock`;
  const server = Deno.serve({ path, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request, { protocol: "agentbox.pty.v1" });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (m) => {
      if (typeof m.data === "string") {
        if (m.data === "bye") return socket.close(4000, "asked to");
        socket.send(`echo:${m.data}`);
      } else socket.send(new Uint8Array(m.data).reverse());
    };
    return response;
  });
  const transport = new Transport({ socketPath: path });
  try {
    const upgraded = await transport.upgrade("/ws", ["agentbox.pty.v1"]);
    assert.equal(upgraded.protocol, "agentbox.pty.v1");
    const messages: (string | Uint8Array)[] = [];
    let closed: [number, string] | undefined;
    let wake = () => {};
    const ws = new WebSocketConnection(upgraded.socket, upgraded.head, {
      message: (data) => {
        messages.push(data);
        wake();
      },
      close: (code, reason) => {
        closed = [code, reason];
        wake();
      },
    });
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise<void>((resolve) => wake = resolve);
    };
    ws.sendText("héllo");
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    ws.sendBinary(big);
    await until(() => messages.length === 2);
    assert.equal(messages[0], "echo:héllo");
    assert.deepEqual(messages[1], big.slice().reverse());
    ws.sendText("bye");
    await until(() => closed !== undefined);
    assert.deepEqual(closed, [4000, "asked to"]);
  } finally {
    transport.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
