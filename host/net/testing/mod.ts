/**
 * Test support: talk to a session's proxy from the host as the user network's relay does —
 * the session's relay key first — without a VM.
 *
 * @module
 */

import type { VmNetwork } from "../../vm/spec.ts";

/**
 * A connection to the listener `network` forwards guest port `guestPort` to, with the session's
 * relay key already sent: what the proxy sees from a guest connection.
 *
 * @example
 * ```ts ignore
 * import { relayedConnect } from "./testing/mod.ts";
 * const conn = await relayedConnect(egress.network, 3128);
 * ```
 */
export async function relayedConnect(network: VmNetwork, guestPort: number): Promise<Deno.TcpConn> {
  if (network.kind !== "user") throw new Error("relayedConnect needs a user network");
  const forward = network.forwards.find((f) => f.guestPort === guestPort);
  if (!forward) throw new Error(`No forward for guest port ${guestPort}`);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: forward.hostPort });
  await conn.write(await Deno.readFile(network.relayKey));
  return conn;
}
