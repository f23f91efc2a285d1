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
  const upstreamReader = { readSome: (max: number) => readOnce(upstream, max) };
  const up = copy(clientReader, upstream, (n) => counts.up += n);
  const down = copy(upstreamReader, client, (n) => counts.down += n);
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

async function copy(
  from: { readSome(max: number): Promise<Uint8Array | null> },
  to: Deno.Conn,
  count: (n: number) => void,
): Promise<void> {
  for (;;) {
    const chunk = await from.readSome(64 * 1024);
    if (chunk === null) break;
    await writeAll(to, chunk);
    count(chunk.length);
  }
  await to.closeWrite().catch(() => {});
}

async function readOnce(conn: Deno.Conn, max: number): Promise<Uint8Array | null> {
  const buf = new Uint8Array(max);
  const n = await conn.read(buf);
  return n === null ? null : buf.subarray(0, n);
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
