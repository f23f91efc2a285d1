/**
 * Splice two connections together, counting bytes each way. Half-closes are passed on, so
 * request/response protocols that signal the end of a request by shutting down writes work.
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import { writeAll } from "./http_body.ts";

/** Bytes moved by {@linkcode pipeTunnel}. */
export interface TunnelCounts {
  up: number;
  down: number;
}

/**
 * Copy client → upstream (starting with what `clientReader` has buffered) and upstream → client
 * until both directions end, then close both connections. Never throws; a broken side ends the
 * tunnel.
 *
 * @example
 * ```ts
 * import { ByteReader } from "./byte_reader.ts";
 * import { pipeTunnel } from "./tunnel.ts";
 * const client = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * const upstream = await Deno.connect({ hostname: "127.0.0.1", port: 8081 });
 * const { up, down } = await pipeTunnel(new ByteReader(client), client, upstream);
 * ```
 */
export async function pipeTunnel(
  clientReader: ByteReader,
  client: Deno.Conn,
  upstream: Deno.Conn,
): Promise<TunnelCounts> {
  const counts: TunnelCounts = { up: 0, down: 0 };
  // What the reader already holds goes first; after that the client is read directly.
  const buffered = clientReader.take(clientReader.buffered);
  const up = copy(client, buffered, upstream, (n) => counts.up += n);
  const down = copy(upstream, new Uint8Array(0), client, (n) => counts.down += n);
  // When one side fails, tear down both so the other copy ends too.
  const failed = () => {
    safeClose(client);
    safeClose(upstream);
  };
  await Promise.all([up.catch(failed), down.catch(failed)]);
  safeClose(client);
  safeClose(upstream);
  return counts;
}

/** Read buffer of a tunnel direction: small while the traffic is, grown for bulk transfers. */
const MIN_CHUNK = 16 * 1024;
const MAX_CHUNK = 256 * 1024;

/**
 * Copy `first`, then everything `from` sends, to `to`. One buffer per direction, reused: a write
 * completes before the next read, so nothing is copied or allocated per chunk. It starts at 16
 * KiB (a full TLS record; a thousand idle tunnels stay small) and grows while reads fill it.
 */
async function copy(
  from: Deno.Conn,
  first: Uint8Array,
  to: Deno.Conn,
  count: (n: number) => void,
): Promise<void> {
  if (first.length > 0) {
    await writeAll(to, first);
    count(first.length);
  }
  let buf = new Uint8Array(MIN_CHUNK);
  for (;;) {
    const n = await from.read(buf);
    if (n === null) break;
    await writeAll(to, buf.subarray(0, n));
    count(n);
    if (n === buf.length && buf.length < MAX_CHUNK) buf = new Uint8Array(buf.length * 4);
  }
  await to.closeWrite().catch(() => {});
}

/**
 * Close a connection that may already be closed.
 *
 * @example
 * ```ts
 * import { safeClose } from "./tunnel.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * safeClose(conn);
 * safeClose(conn);
 * ```
 */
export function safeClose(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
