/**
 * Test helpers for the wire protocol: an in-memory duplex pair, a raw peer that reads and writes
 * frames without a {@linkcode Connection}, a seeded PRNG and a hang detector. Used by the protocol,
 * agent and host-client tests; not part of the protocol module.
 *
 * @module
 */

import { decodeMessage, encodeCbor, encodeMessage } from "../codec.ts";
import type { Duplex } from "../connection.ts";
import { FrameDecoder } from "../frame.ts";
import type { Message } from "../messages.ts";

/** One valid example of every message type. */
export const EXAMPLES: Message[] = [
  { type: "hello", version: 1, role: "agent", capabilities: ["exec"], software: "test/1" },
  {
    type: "exec.start",
    stream: 1,
    argv: ["sh", "-c", "true"],
    env: { A: "1" },
    cwd: "/tmp",
    stdin: true,
    timeoutMs: 1000,
  },
  {
    type: "exec.start",
    stream: 2,
    argv: ["vi"],
    env: {},
    cwd: undefined,
    stdin: true,
    timeoutMs: undefined,
    pty: { rows: 24, cols: 80, term: "xterm-256color" },
  },
  { type: "exec.started", stream: 1, pid: 42 },
  { type: "stream.data", stream: 1, fd: 1, data: new Uint8Array([0, 255, 7]) },
  { type: "stream.end", stream: 1, fd: 0 },
  { type: "stream.credit", stream: 1, fd: 2, bytes: 65536 },
  { type: "exec.signal", stream: 1, signal: "SIGINT" },
  { type: "exec.resize", stream: 2, rows: 50, cols: 132 },
  { type: "exec.exit", stream: 1, code: null, signal: "SIGTERM", timedOut: false },
  { type: "exec.exit", stream: 1, code: 255, signal: null, timedOut: true },
  { type: "error", stream: 1, code: "spawn_failed", message: "Cannot start x" },
  { type: "error", code: "flow_violation", message: "too much" },
  { type: "session.collect", stream: 3, scope: "workspace" },
  { type: "session.collect.done", stream: 3, entries: 4 },
  { type: "session.attach", stream: 3, readOnly: false, rows: 30, cols: 100 },
  { type: "session.attach", stream: 4, readOnly: true },
  { type: "session.stop", stream: 5, graceMs: 10_000 },
  { type: "error", stream: 3, code: "no_command", message: "no command" },
  { type: "files.read", stream: 3, path: "/workspace/out" },
  { type: "files.write", stream: 4, path: "/tmp", user: "agent" },
  { type: "files.done", stream: 4, entries: 12 },
  { type: "port.open", stream: 5, port: 8080 },
  { type: "port.opened", stream: 5 },
  { type: "port.closed", stream: 5 },
  { type: "session.forward", stream: 6, guestPort: 80, hostname: "::1", hostPort: 0 },
  { type: "session.forward.done", stream: 6, hostname: "127.0.0.1", hostPort: 41234 },
];

/**
 * Two connected in-memory duplexes: what one writes, the other reads. Like a socket, each
 * direction buffers up to `bufferBytes` before a write has to wait for the reader.
 */
export function duplexPair(bufferBytes = 64 * 1024): [Duplex, Duplex] {
  const strategy = { highWaterMark: bufferBytes, size: (chunk: Uint8Array) => chunk.length };
  const ab = new TransformStream<Uint8Array, Uint8Array>({}, strategy, strategy);
  const ba = new TransformStream<Uint8Array, Uint8Array>({}, strategy, strategy);
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ];
}

/**
 * The far end of a duplex driven by hand: write raw bytes or messages, read decoded messages.
 * It never validates what it writes, so it can play a hostile peer.
 */
export class RawPeer {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new FrameDecoder();
  readonly #inbox: Message[] = [];
  #eof = false;

  constructor(duplex: Duplex) {
    this.#writer = duplex.writable.getWriter();
    this.#reader = duplex.readable.getReader();
    this.#writer.closed.catch(() => {});
  }

  /** Write raw bytes; resolves once the other side accepted them (or failed). */
  async write(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes).catch(() => {});
  }

  /** Encode and write one message. */
  send(message: Message): Promise<void> {
    return this.write(encodeMessage(message));
  }

  /** End this side's output (EOF for the other side). */
  async end(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  /** Next message from the other side, or undefined at EOF. */
  async next(): Promise<Message | undefined> {
    while (this.#inbox.length === 0 && !this.#eof) {
      const { value, done } = await this.#reader.read().catch(() => ({
        value: undefined,
        done: true as const,
      }));
      if (done || value === undefined) this.#eof = true;
      else {for (const payload of this.#decoder.push(value)) {
          this.#inbox.push(decodeMessage(payload));
        }}
    }
    return this.#inbox.shift();
  }

  /** Skip messages until one of `type` arrives; undefined at EOF. */
  async expect<T extends Message["type"]>(
    type: T,
  ): Promise<Extract<Message, { type: T }> | undefined> {
    for (let m = await this.next(); m; m = await this.next()) {
      if (m.type === type) return m as Extract<Message, { type: T }>;
    }
    return undefined;
  }

  /** Read until EOF, returning everything that arrived. */
  async drain(): Promise<Message[]> {
    const all: Message[] = [];
    for (let m = await this.next(); m; m = await this.next()) all.push(m);
    return all;
  }

  /** Stop reading (cancels the other side's writes). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` pseudo-random bytes from `random`. */
export function randomBytes(random: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Settle like `promise`, or reject with a "hang" error after `ms` milliseconds. */
export async function within<T>(promise: Promise<T>, ms: number, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Hang: ${what} did not settle in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Join byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Resolve after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * CBOR for nested shared references (tags 28/29, "value sharing"), as a hostile peer may send:
 * level 0 is a shareable 16-character string, each next level a shareable pair of references to
 * the level before, so that level `levels` stands for 2^levels copies of the string in about
 * 11 bytes per level. The value is the array of all levels.
 */
export function sharedReferenceBomb(levels: number): Uint8Array {
  if (levels > 255) throw new RangeError("At most 255 levels");
  const out = [0x99, (levels + 1) >> 8, (levels + 1) & 0xff, 0xd8, 0x1c];
  out.push(...encodeCbor("abcdefghijklmnop"));
  for (let i = 1; i <= levels; i++) {
    out.push(0xd8, 0x1c, 0x82, 0xd8, 0x1d, 0x18, i - 1, 0xd8, 0x1d, 0x18, i - 1);
  }
  return new Uint8Array(out);
}

/** A CBOR map of text keys to values that are given already encoded (e.g. hostile CBOR). */
export function cborMapOf(fields: Record<string, Uint8Array>): Uint8Array {
  const entries = Object.entries(fields);
  if (entries.length > 23) throw new RangeError("At most 23 fields");
  return concat([
    new Uint8Array([0xa0 + entries.length]),
    ...entries.flatMap(([key, value]) => [encodeCbor(key), value]),
  ]);
}
