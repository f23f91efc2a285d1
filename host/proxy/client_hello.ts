/**
 * Peek the TLS ClientHello at the start of a tunnel and pull out the SNI server name, so the
 * proxy can pin CONNECT host = SNI (security rule 4) and route transparent TLS by name.
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import { ProxyError } from "./proxy_error.ts";

const MAX_HELLO = 64 * 1024;
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_NAME = 0x0000;

/** The bytes read (to forward unchanged) and the server name they carry, if any. */
export interface ClientHello {
  raw: Uint8Array;
  serverName?: string;
}

/**
 * Read TLS records until a whole ClientHello handshake message is in, and parse it. Throws
 * {@linkcode ProxyError} `bad_request` when the bytes are not a TLS ClientHello.
 *
 * @example
 * ```ts
 * import { ByteReader } from "./byte_reader.ts";
 * import { readClientHello } from "./client_hello.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8443 });
 * const hello = await readClientHello(new ByteReader(conn));
 * console.log(hello.serverName);
 * ```
 */
export async function readClientHello(reader: ByteReader): Promise<ClientHello> {
  const raw: Uint8Array[] = [];
  let handshake: Uint8Array = new Uint8Array(0);
  let needed = Infinity;
  while (handshake.length < needed) {
    const header = await reader.readExact(5);
    const length = (header[3] << 8) | header[4];
    if (header[0] !== HANDSHAKE || header[1] !== 3 || length === 0 || length > 16384) {
      throw new ProxyError("bad_request", "Tunnel does not start with a TLS handshake");
    }
    const payload = await reader.readExact(length);
    raw.push(header, payload);
    handshake = concat([handshake, payload]);
    if (handshake.length >= 4) {
      needed = 4 + ((handshake[1] << 16) | (handshake[2] << 8) | handshake[3]);
    }
    if (handshake[0] !== CLIENT_HELLO || needed > MAX_HELLO) {
      throw new ProxyError("bad_request", "Tunnel does not start with a TLS ClientHello");
    }
  }
  return { raw: concat(raw), serverName: serverName(handshake.subarray(4, needed)) };
}

function serverName(body: Uint8Array): string | undefined {
  const r = new Cursor(body);
  r.skip(2 + 32); // legacy_version, random
  r.skip(r.u8()); // session id
  r.skip(r.u16()); // cipher suites
  r.skip(r.u8()); // compression methods
  if (r.done()) return undefined;
  const end = r.u16() + r.pos;
  while (r.pos < end) {
    const type = r.u16();
    const ext = new Cursor(r.bytes(r.u16()));
    if (type === SERVER_NAME) return hostName(ext);
  }
  return undefined;
}

function hostName(ext: Cursor): string | undefined {
  const list = new Cursor(ext.bytes(ext.u16()));
  while (!list.done()) {
    const kind = list.u8();
    const name = list.bytes(list.u16());
    if (kind === 0) {
      if (!name.every((b) => b > 0x20 && b < 0x7f)) {
        throw new ProxyError("bad_request", "Invalid server name in ClientHello");
      }
      return new TextDecoder().decode(name);
    }
  }
  return undefined;
}

class Cursor {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  done(): boolean {
    return this.pos >= this.buf.length;
  }
  u8(): number {
    return this.bytes(1)[0];
  }
  u16(): number {
    const b = this.bytes(2);
    return (b[0] << 8) | b[1];
  }
  skip(n: number): void {
    this.bytes(n);
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) {
      throw new ProxyError("bad_request", "Truncated ClientHello");
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
