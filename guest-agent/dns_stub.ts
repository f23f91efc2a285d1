/**
 * The guest's DNS: a stub on 127.0.0.1:53 that answers every IPv4 query with one address, the
 * proxy's (10.0.2.100), and every other query with no records. Programs that ignore
 * `HTTP_PROXY`/`HTTPS_PROXY` (Node's `fetch`, Go binaries) then connect to the proxy's
 * transparent ports, where the host picks the destination from TLS SNI or `Host` and applies the
 * same policy. Names are never resolved in the guest, and no query leaves it.
 *
 * This is a convenience, not a wall: the guest's root can change it, and gains nothing — the host
 * forwards only the proxy's ports (docs/security.md).
 *
 * @module
 */

const TYPE_A = 1;
const CLASS_IN = 1;
const HEADER_BYTES = 12;
/** Bound on what one query may hold; real queries are far smaller. */
const MAX_QUERY_BYTES = 512;
/** Answers are not cached: the mapping never changes, so a long TTL is safe. */
const TTL_SECONDS = 3600;

/**
 * Build the answer to one DNS query, or `undefined` for a packet that is not a single-question
 * query (dropped, as a resolver would).
 *
 * @example
 * ```ts
 * import { answerQuery } from "./dns_stub.ts";
 * const query = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1]);
 * const reply = answerQuery(query, [10, 0, 2, 100])!;
 * console.assert(reply.at(-1) === 100);
 * ```
 */
export function answerQuery(query: Uint8Array, address: number[]): Uint8Array | undefined {
  if (query.length < HEADER_BYTES || query.length > MAX_QUERY_BYTES) return undefined;
  const view = new DataView(query.buffer, query.byteOffset, query.byteLength);
  const flags = view.getUint16(2);
  const isQuery = (flags & 0x8000) === 0 && ((flags >> 11) & 0xf) === 0;
  if (!isQuery || view.getUint16(4) !== 1) return undefined;
  const nameEnd = skipName(query, HEADER_BYTES);
  if (nameEnd === undefined || nameEnd + 4 > query.length) return undefined;
  const qtype = view.getUint16(nameEnd);
  const qclass = view.getUint16(nameEnd + 2);
  const question = query.subarray(HEADER_BYTES, nameEnd + 4);
  const answered = qtype === TYPE_A && qclass === CLASS_IN;
  const answer = answered ? aRecord(address) : new Uint8Array();
  const reply = new Uint8Array(HEADER_BYTES + question.length + answer.length);
  const out = new DataView(reply.buffer);
  out.setUint16(0, view.getUint16(0)); // id
  // QR, opcode 0, AA, RD copied, RA, rcode 0 (NOERROR; no records for other types = NODATA).
  out.setUint16(2, 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080);
  out.setUint16(4, 1);
  out.setUint16(6, answered ? 1 : 0);
  reply.set(question, HEADER_BYTES);
  reply.set(answer, HEADER_BYTES + question.length);
  return reply;
}

/** End offset of the (uncompressed) name starting at `offset`, or `undefined` when malformed. */
function skipName(packet: Uint8Array, offset: number): number | undefined {
  let at = offset;
  while (at < packet.length) {
    const length = packet[at];
    if (length === 0) return at + 1;
    if (length > 63) return undefined; // Compression pointers have no place in a question.
    at += 1 + length;
  }
  return undefined;
}

function aRecord(address: number[]): Uint8Array {
  const record = new Uint8Array(16);
  const view = new DataView(record.buffer);
  view.setUint16(0, 0xc000 | HEADER_BYTES); // pointer to the question's name
  view.setUint16(2, TYPE_A);
  view.setUint16(4, CLASS_IN);
  view.setUint32(6, TTL_SECONDS);
  view.setUint16(10, 4);
  record.set(address, 12);
  return record;
}

/**
 * Parse a dotted IPv4 address into its four bytes.
 *
 * @example
 * ```ts
 * import { parseIpv4 } from "./dns_stub.ts";
 * console.assert(parseIpv4("10.0.2.100").join(".") === "10.0.2.100");
 * ```
 */
export function parseIpv4(text: string): number[] {
  const parts = text.split(".").map(Number);
  if (parts.length !== 4 || !parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255)) {
    throw new Error(`not an IPv4 address: ${text}`);
  }
  return parts;
}

/**
 * Answer queries on `hostname:port` (UDP) until the listener is closed. Needs `--unstable-net`.
 *
 * @example
 * ```ts
 * import { serveDnsStub } from "./dns_stub.ts";
 * const stub = serveDnsStub({ address: "10.0.2.100", port: 5353 });
 * stub.close();
 * ```
 */
export function serveDnsStub(
  options: { address: string; hostname?: string; port?: number },
): Deno.DatagramConn {
  const address = parseIpv4(options.address);
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 53,
  });
  (async () => {
    for await (const [packet, from] of socket) {
      const reply = answerQuery(packet, address);
      if (reply) await socket.send(reply, from).catch(() => {});
    }
  })().catch(() => {}); // Ends when the socket is closed.
  return socket;
}
