/**
 * The host side of a guest network made before its session exists, for a warm VM whose QEMU is
 * started against it (host/api/warm_pool.ts): on the user network the relay key and the two
 * loopback listeners its `guestfwd` relays point at; on a tap network the lease, the tap device
 * on its own /30 and the two listeners on the tap's gateway address. All of it is fixed when QEMU
 * starts. The session that takes the VM takes the link's session id as its own (a tap's lease and
 * wall are keyed by it) and serves its proxies on these listeners (`startEgress` with `link`),
 * loading its wall first on a tap. Until then nothing accepts on the listeners and the VM is
 * paused: no guest connection can be made.
 *
 * @module
 */

import type { NetBackend } from "../net/net_backend.ts";
import { createTap, deleteTap, usedIpv4Networks } from "../net/tap_device.ts";
import { takeTapLease, whileAllocating } from "../net/tap_lease.ts";
import { sweepTapOrphans } from "../net/tap_orphans.ts";
import { pickTapSubnet } from "../net/tap_subnet.ts";
import { createRelayKey, findRelay, proxyNetwork, type RelayKey } from "../net/user_network.ts";
import type { VmNetwork } from "../vm/spec.ts";

/** A guest network's host side, made ahead of its session. */
export interface EgressLink {
  /** The id the taking session must have. */
  sessionId: string;
  /** What the VM's network device is given. */
  network: VmNetwork;
  /** The user network's relay key (none on a tap: its wall admits by source address). */
  key?: RelayKey;
  forward: Deno.TcpListener;
  transparent: Deno.TcpListener;
  /** Close the listeners and remove the rest (idempotent): for a link nobody took, or at the end. */
  close(): Promise<void>;
}

/**
 * Make the host side of a future session's `backend` network, for session `sessionId` (default: a
 * new id). Throws `RelayMissingError` without
 * busybox, `TapError` when a tap cannot be made, and what binding threw (nothing is left then).
 *
 * @example
 * ```ts ignore
 * import { prepareEgressLink } from "./egress_link.ts";
 * const link = await prepareEgressLink("user");
 * console.log(link.network);
 * await link.close();
 * ```
 */
export async function prepareEgressLink(
  backend: NetBackend,
  sessionId: string = crypto.randomUUID(),
): Promise<EgressLink> {
  const undo: (() => Promise<void> | void)[] = [];
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => {});
    })();
  try {
    const listen = (hostname: string) => {
      const listener = Deno.listen({ hostname, port: 0, transport: "tcp" });
      undo.push(() => {
        try {
          listener.close();
        } catch {
          // Already closed (a proxy served it).
        }
      });
      return listener;
    };
    if (backend === "tap") {
      await sweepTapOrphans({ remove: true });
      const lease = await takeTapLease(sessionId);
      undo.push(() => lease.release());
      const { subnet, ifname } = await whileAllocating(async () => {
        const subnet = pickTapSubnet(await usedIpv4Networks());
        return { subnet, ifname: await createTap(sessionId, subnet.gateway, subnet.prefixLength) };
      });
      undo.push(() => deleteTap(ifname));
      return {
        sessionId,
        network: { kind: "tap", ifname, ...subnet },
        forward: listen(subnet.gateway),
        transparent: listen(subnet.gateway),
        close,
      };
    }
    const relay = await findRelay();
    const key = await createRelayKey();
    undo.push(() => key.remove());
    const forward = listen("127.0.0.1");
    const transparent = listen("127.0.0.1");
    return {
      sessionId,
      network: proxyNetwork(relay, {
        forwardPort: forward.addr.port,
        transparentPort: transparent.addr.port,
        relayKey: key.path,
      }),
      key,
      forward,
      transparent,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
