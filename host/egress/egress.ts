/**
 * A VM's way out: the forward proxy and the transparent listener of one session, and the guest
 * network that brings the guest's connections to them — QEMU user networking (rootless) or a tap
 * device behind an nftables wall (root). Start it before the VM boots, close it after the VM is
 * gone.
 *
 * @module
 */

import {
  type Admission,
  ConnectionBudget,
  type ProxyOptions,
  type ProxyServer,
  startProxy,
} from "../proxy/mod.ts";
import type { VmNetwork } from "../vm/spec.ts";
import type { NetBackend } from "../net/net_backend.ts";
import { startTapNetwork } from "./tap_egress.ts";
import { createRelayKey, findRelay, guestProxyEnv, proxyNetwork } from "../net/user_network.ts";
import type { EgressLink } from "./egress_link.ts";

/**
 * Most connections a guest on the user network may have open through its proxies at once: each
 * is four small host processes (its relay). Beyond it a connection is answered `503` and closed.
 */
export const MAX_GUEST_CONNECTIONS = 64;

/** Options of {@linkcode startEgress}: the proxy's, less the listener's own settings. */
export type EgressOptions = Omit<
  ProxyOptions,
  "hostname" | "port" | "listener" | "mode" | "admission" | "budget"
>;

/** A running egress path. */
export interface Egress {
  /** What the VM's network device must be given. */
  network: VmNetwork;
  /** Environment for guest commands: the proxy variables. */
  guestEnv: Record<string, string>;
  /**
   * Stop both listeners and close their connections: nothing is recorded after this. The
   * network's host side (tap, wall, relay key) stays until `close` (idempotent).
   */
  closeListeners(): Promise<void>;
  /** Stop both listeners, close their connections and remove the network's host side. */
  close(): Promise<void>;
}

/** Which guest network to build, for which session. */
export interface EgressNetwork {
  backend: NetBackend;
  /** The session's id: a tap network and its wall carry it. */
  sessionId: string;
  /**
   * Tests only: `false` loads no nftables wall and leaves IPv6 on the tap (the isolation tests'
   * positive control).
   */
  wall?: boolean;
  /**
   * The network's host side made ahead of the session (a warm VM's: egress_link.ts), of this
   * backend and for this session id: its listeners (and key, tap) are used instead of new ones,
   * and closed with the egress.
   */
  link?: EgressLink;
}

/**
 * Start the two listeners of a session and the guest network in front of them: on loopback
 * behind slirp's forwards (`user`), or on the gateway address of a new tap behind a wall (`tap`).
 * Throws `RelayMissingError` when the user network's relay is missing, and `TapError`/`NftError`
 * when the tap network cannot be made (nothing is left behind then).
 *
 * @example
 * ```ts
 * import { startEgress } from "./egress.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * const egress = await startEgress(
 *   { policy: emptyPolicy(), recorder: { begin: () => 0, finish() {} } },
 *   { backend: "user", sessionId: crypto.randomUUID() },
 * );
 * console.log(egress.network);
 * await egress.close();
 * ```
 */
export async function startEgress(
  options: EgressOptions,
  network: EgressNetwork = { backend: "user", sessionId: crypto.randomUUID() },
): Promise<Egress> {
  const link = network.link;
  if (network.backend === "tap") {
    return await startTapNetwork(
      network,
      (hostname, guest) =>
        startListeners(options, hostname, { kind: "source", address: guest }, undefined, link),
    );
  }
  const relay = link?.network.kind === "user" ? link.network.relay : await findRelay();
  const key = link?.key ?? await createRelayKey();
  let listeners: Listeners;
  try {
    listeners = startListeners(
      options,
      "127.0.0.1",
      { kind: "relay_key", key: key.bytes },
      new ConnectionBudget(MAX_GUEST_CONNECTIONS),
      link,
    );
  } catch (error) {
    await (link ? link.close() : key.remove());
    throw error;
  }
  return {
    network: link?.network ?? proxyNetwork(relay, {
      forwardPort: listeners.forward.addr.port,
      transparentPort: listeners.transparent.addr.port,
      relayKey: key.path,
    }),
    guestEnv: guestProxyEnv(),
    closeListeners: () => listeners.close(),
    async close() {
      await listeners.close();
      await (link ? link.close() : key.remove());
    },
  };
}

/** A session's two proxy listeners. */
export interface Listeners {
  forward: ProxyServer;
  transparent: ProxyServer;
  close(): Promise<void>;
}

/**
 * The forward and transparent listeners on `hostname` (or `bound`'s), serving only what
 * `admission` admits, sharing `budget` when one is given.
 */
function startListeners(
  options: EgressOptions,
  hostname: string,
  admission: Admission,
  budget?: ConnectionBudget,
  bound?: Pick<EgressLink, "forward" | "transparent">,
): Listeners {
  const forward = startProxy({
    ...options,
    hostname,
    mode: "forward",
    admission,
    budget,
    listener: bound?.forward,
  });
  let transparent: ProxyServer;
  try {
    transparent = startProxy({
      ...options,
      hostname,
      mode: "transparent",
      admission,
      budget,
      listener: bound?.transparent,
    });
  } catch (error) {
    forward.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    forward,
    transparent,
    close: () => closing ??= Promise.all([forward.close(), transparent.close()]).then(() => {}),
  };
}
