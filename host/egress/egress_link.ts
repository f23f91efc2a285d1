/**
 * The host side of a user network made before its session exists: the relay key and the two
 * loopback listeners a warm VM's QEMU is started against (its `guestfwd` relays carry the
 * listeners' ports and the key's file, fixed when QEMU starts). The session that takes the VM
 * serves its proxies on these listeners (`startEgress` with `link`), so nothing about the VM's
 * network has to change when it is taken. Until then nothing accepts on the listeners and the VM
 * is paused: no guest connection can be made.
 *
 * @module
 */

import { createRelayKey, findRelay, proxyNetwork, type RelayKey } from "../net/user_network.ts";
import type { UserNetwork } from "../net/user_network.ts";

/** A user network's host side, made ahead of its session. */
export interface EgressLink {
  /** What the VM's network device is given. */
  network: UserNetwork;
  key: RelayKey;
  forward: Deno.TcpListener;
  transparent: Deno.TcpListener;
  /** Close the listeners and remove the key: for a link nobody took. */
  close(): Promise<void>;
}

/**
 * Bind the two loopback listeners and make the relay key of a future session's user network.
 * Throws `RelayMissingError` without busybox, and what binding threw (nothing is left then).
 *
 * @example
 * ```ts
 * import { prepareEgressLink } from "./egress_link.ts";
 * const link = await prepareEgressLink();
 * console.log(link.network.forwards);
 * await link.close();
 * ```
 */
export async function prepareEgressLink(): Promise<EgressLink> {
  const relay = await findRelay();
  const key = await createRelayKey();
  const bound: Deno.TcpListener[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      bound.push(Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" }));
    }
  } catch (error) {
    for (const listener of bound) listener.close();
    await key.remove();
    throw error;
  }
  const [forward, transparent] = bound;
  return {
    network: proxyNetwork(relay, {
      forwardPort: forward.addr.port,
      transparentPort: transparent.addr.port,
      relayKey: key.path,
    }),
    key,
    forward,
    transparent,
    async close() {
      for (const listener of bound) {
        try {
          listener.close();
        } catch {
          // Already closed (a proxy served it).
        }
      }
      await key.remove();
    },
  };
}
