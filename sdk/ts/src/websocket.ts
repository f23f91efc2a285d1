/**
 * A minimal WebSocket client (RFC 6455) over a socket that `node:http` upgraded: masked frames
 * out, text and binary messages in (fragmented or not), ping answered, close handshake. Node 20
 * has no WebSocket, and neither Node's nor Deno's can use a unix socket, so the terminal speaks
 * through this.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";

/** The largest message accepted from the server. */
const MAX_MESSAGE = 64 * 1024 * 1024;

/** What the socket delivers. */
export interface WebSocketHandlers {
  /** A text message (string) or a binary one (bytes). */
  message(data: string | Uint8Array): void;
  /** The connection ended: the server's close code (1006 when none came). */
  close(code: number, reason: string): void;
}

/**
 * One WebSocket connection on `socket`, which the upgrade answer's `head` bytes started.
 *
 * @example
 * ```ts ignore
 * import { WebSocketConnection } from "./websocket.ts";
 * const ws = new WebSocketConnection(socket, head, { message: console.log, close: () => {} });
 * ws.sendText("hello");
 * ```
 */
export class WebSocketConnection {
  readonly #socket: Duplex;
  readonly #handlers: WebSocketHandlers;
  #buffer: Buffer = Buffer.alloc(0);
  #fragments: Buffer[] = [];
  #fragmentOpcode = 0;
  #closeSent = false;
  #closed = false;

  constructor(socket: Duplex, head: Uint8Array, handlers: WebSocketHandlers) {
    this.#socket = socket;
    this.#handlers = handlers;
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("close", () => this.#finish(1006, "connection closed"));
    socket.on("error", () => this.#finish(1006, "connection failed"));
    if (head.length > 0) this.#receive(Buffer.from(head));
  }

  /** Send a text message. */
  sendText(text: string): void {
    this.#send(0x1, Buffer.from(text, "utf8"));
  }

  /** Send a binary message. */
  sendBinary(data: Uint8Array): void {
    this.#send(0x2, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Start the close handshake (the socket ends when the server answers, or now if it cannot). */
  close(code = 1000, reason = ""): void {
    if (this.#closed) return;
    if (!this.#closeSent) {
      const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2);
      this.#send(0x8, payload);
      this.#closeSent = true;
    }
    setTimeout(() => this.#socket.destroy(), 2000).unref?.();
  }

  #send(opcode: number, payload: Buffer): void {
    if (this.#closeSent || this.#closed || this.#socket.destroyed) return;
    this.#socket.write(encodeFrame(opcode, payload));
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (!this.#closed) {
      const frame = decodeFrame(this.#buffer);
      if (frame === undefined) return;
      if (frame === "too_large") return this.#fail(1009, "message too large");
      this.#buffer = this.#buffer.subarray(frame.size);
      this.#frame(frame.fin, frame.opcode, frame.payload);
    }
  }

  #frame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode === 0x8) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      const reason = payload.subarray(2).toString("utf8");
      if (!this.#closeSent) {
        this.#send(0x8, payload.subarray(0, 2));
        this.#closeSent = true;
      }
      this.#socket.end();
      return this.#finish(code, reason);
    }
    if (opcode === 0x9) return this.#send(0xA, payload);
    if (opcode === 0xA) return;
    if (opcode !== 0x0 && opcode !== 0x1 && opcode !== 0x2) {
      return this.#fail(1002, `unknown opcode ${opcode}`);
    }
    if (opcode !== 0x0) {
      if (this.#fragments.length > 0) return this.#fail(1002, "a message inside a message");
      this.#fragmentOpcode = opcode;
    } else if (this.#fragments.length === 0) {
      return this.#fail(1002, "a continuation with nothing to continue");
    }
    this.#fragments.push(payload);
    const total = this.#fragments.reduce((n, f) => n + f.length, 0);
    if (total > MAX_MESSAGE) return this.#fail(1009, "message too large");
    if (!fin) return;
    const message = this.#fragments.length === 1
      ? this.#fragments[0]
      : Buffer.concat(this.#fragments);
    this.#fragments = [];
    this.#handlers.message(
      this.#fragmentOpcode === 0x1
        ? message.toString("utf8")
        : new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
    );
  }

  #fail(code: number, reason: string): void {
    this.close(code, reason);
    this.#socket.destroy();
    this.#finish(code, reason);
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.close(code, reason);
  }
}

/**
 * A client frame: FIN set, masked with a fresh key.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./websocket.ts";
 * import { Buffer } from "node:buffer";
 * const frame = encodeFrame(0x1, Buffer.from("hi"));
 * console.assert(frame[0] === 0x81 && frame[1] === (0x80 | 2) && frame.length === 8);
 * ```
 */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = Buffer.alloc(2 + extra + 4 + length);
  frame[0] = 0x80 | opcode;
  if (extra === 0) frame[1] = 0x80 | length;
  else if (extra === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  const at = 2 + extra;
  mask.copy(frame, at);
  for (let i = 0; i < length; i++) frame[at + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/**
 * The first frame in `buffer`, or undefined when it is not all there yet.
 *
 * @example
 * ```ts
 * import { decodeFrame } from "./websocket.ts";
 * import { Buffer } from "node:buffer";
 * const frame = decodeFrame(Buffer.from([0x82, 2, 7, 8]));
 * console.assert(frame !== undefined && frame !== "too_large" && frame.payload[1] === 8);
 * ```
 */
export function decodeFrame(
  buffer: Buffer,
): { fin: boolean; opcode: number; payload: Buffer; size: number } | "too_large" | undefined {
  if (buffer.length < 2) return undefined;
  const fin = (buffer[0] & 0x80) !== 0;
  const opcode = buffer[0] & 0x0f;
  const masked = (buffer[1] & 0x80) !== 0;
  let length = buffer[1] & 0x7f;
  let at = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    const big = buffer.readBigUInt64BE(2);
    if (big > BigInt(MAX_MESSAGE)) return "too_large";
    length = Number(big);
    at = 10;
  }
  const maskAt = at;
  if (masked) at += 4;
  if (buffer.length < at + length) return undefined;
  let payload = buffer.subarray(at, at + length);
  if (masked) {
    payload = Buffer.from(payload);
    for (let i = 0; i < length; i++) payload[i] ^= buffer[maskAt + (i & 3)];
  }
  return { fin, opcode, payload, size: at + length };
}
