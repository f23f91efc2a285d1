/**
 * The host side of a tap network, made in order and undone in reverse: the lease (so no sweep
 * takes it for an orphan), a free /30 and the tap on it, the proxy listeners on the gateway
 * address, the wall. See host/net/tap_network.ts for what the guest sees.
 *
 * @module
 */

import type { Egress, EgressNetwork, Listeners } from "./egress.ts";
import { loadWall, removeWall } from "../net/nft_wall.ts";
import { createTap, deleteTap, usedIpv4Networks } from "../net/tap_device.ts";
import { takeTapLease, whileAllocating } from "../net/tap_lease.ts";
import { sweepTapOrphans } from "../net/tap_orphans.ts";
import { pickTapSubnet } from "../net/tap_subnet.ts";
import { guestProxyEnv } from "../net/user_network.ts";
import type { TapNetwork } from "../net/tap_network.ts";

/**
 * Make session `network.sessionId`'s tap network with listeners from `listen` (called with the
 * gateway address). Orphans of crashed sessions are removed first. Throws `TapError`/`NftError`;
 * whatever was made is removed again then.
 *
 * @example
 * ```ts
 * import { startTapNetwork } from "./tap_egress.ts";
 * declare const sessionId: string;
 * declare const listen: Parameters<typeof startTapNetwork>[1];
 * const egress = await startTapNetwork({ backend: "tap", sessionId }, listen);
 * await egress.close();
 * ```
 */
export async function startTapNetwork(
  network: EgressNetwork,
  listen: (hostname: string, guest: string) => Listeners,
): Promise<Egress> {
  const { sessionId, link } = network;
  const undo: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const step of undo.reverse()) await step().catch(() => {});
    undo.length = 0;
  };
  try {
    let made: { subnet: Omit<TapNetwork, "kind" | "ifname">; ifname: string };
    if (link?.network.kind === "tap") {
      // Made ahead with its lease (a warm VM's: egress_link.ts), for this session id.
      const { kind: _, ifname, ...subnet } = link.network;
      undo.push(() => link.close());
      made = { subnet, ifname };
    } else {
      await sweepTapOrphans({ remove: true });
      const lease = await takeTapLease(sessionId);
      undo.push(() => lease.release());
      made = await whileAllocating(async () => {
        const subnet = pickTapSubnet(await usedIpv4Networks());
        const ipv6 = network.wall === false;
        const ifname = await createTap(sessionId, subnet.gateway, subnet.prefixLength, { ipv6 });
        return { subnet, ifname };
      });
      undo.push(() => deleteTap(made.ifname));
    }
    const { subnet, ifname } = made;
    const listeners = listen(subnet.gateway, subnet.guest);
    undo.push(() => listeners.close());
    if (network.wall !== false) {
      undo.push(() => removeWall(sessionId));
      await loadWall({
        sessionId,
        ifname,
        gateway: subnet.gateway,
        forwardPort: listeners.forward.addr.port,
        transparentPort: listeners.transparent.addr.port,
      });
    }
    return {
      // A link's own network object: its VM was started on it (sandbox.ts checks that).
      network: link?.network.kind === "tap" ? link.network : { kind: "tap", ifname, ...subnet },
      guestEnv: guestProxyEnv(),
      closeListeners: () => listeners.close(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
