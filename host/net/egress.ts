/**
 * A VM's way out: the forward proxy and the transparent listener of one session, and the user
 * network that forwards the guest's proxy ports to them. Start it before the VM boots, close it
 * after the VM is gone.
 *
 * @module
 */

import { type ProxyOptions, type ProxyServer, startProxy } from "../proxy/mod.ts";
import { findRelay, guestProxyEnv, proxyNetwork, type UserNetwork } from "./user_network.ts";

/** Options of {@linkcode startEgress}: the proxy's, less the listener's own settings. */
export type EgressOptions = Omit<ProxyOptions, "hostname" | "port" | "mode">;

/** A running egress path. */
export interface Egress {
  /** What the VM's network device must be given. */
  network: UserNetwork;
  /** Environment for guest commands: the proxy variables. */
  guestEnv: Record<string, string>;
  /** Stop both listeners and close their connections. */
  close(): Promise<void>;
}

/**
 * Start the two listeners of a session on loopback. Throws `RelayMissingError` when the
 * connection relay is missing.
 *
 * @example
 * ```ts
 * import { startEgress } from "./egress.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * const egress = await startEgress({ policy: emptyPolicy(), recorder: { begin: () => 0, finish() {} } });
 * console.log(egress.network.forwards);
 * await egress.close();
 * ```
 */
export async function startEgress(options: EgressOptions): Promise<Egress> {
  const relay = await findRelay();
  const forward = startProxy({ ...options, mode: "forward" });
  let transparent: ProxyServer;
  try {
    transparent = startProxy({ ...options, mode: "transparent" });
  } catch (error) {
    forward.close();
    throw error;
  }
  return {
    network: proxyNetwork(relay, forward.addr.port, transparent.addr.port),
    guestEnv: guestProxyEnv(),
    async close() {
      await Promise.all([forward.close(), transparent.close()]);
    },
  };
}
