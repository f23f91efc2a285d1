/**
 * Dialling vetted addresses. The proxy takes a {@linkcode Dialer} as an option: production dials
 * the address it is given; tests map documentation addresses onto loopback servers *after* the
 * production guard has vetted them, so the guard itself is never bypassed.
 *
 * @module
 */

/** Open a TCP connection to an already vetted IP address. */
export type Dialer = (address: string, port: number) => Promise<Deno.TcpConn>;

/**
 * Dial exactly `address:port`.
 *
 * @example
 * ```ts
 * import { directDialer } from "./dialer.ts";
 * const conn = await directDialer("203.0.113.9", 443);
 * conn.close();
 * ```
 */
export const directDialer: Dialer = (address, port) =>
  Deno.connect({ hostname: address, port, transport: "tcp" });

/**
 * Try each vetted address in order and return the first connection that opens, with Nagle's
 * algorithm off (the proxy relays writes as they come; Nagle plus the peer's delayed ACK would
 * stall a small write behind the previous one); rethrows the last error when none opens.
 *
 * @example
 * ```ts
 * import { dialFirst, directDialer } from "./dialer.ts";
 * const conn = await dialFirst(["203.0.113.9", "2001:db8::9"], 443, directDialer);
 * conn.close();
 * ```
 */
export async function dialFirst(
  addresses: string[],
  port: number,
  dialer: Dialer,
): Promise<Deno.TcpConn> {
  let last: unknown;
  for (const address of addresses) {
    try {
      const conn = await dialer(address, port);
      conn.setNoDelay(true);
      return conn;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
