/**
 * The guest's address. Images configure eth0 for the user network at boot (10.0.2.15/24,
 * gateway 10.0.2.2), and a template restores with that; on a tap the host moves it to the
 * session's /30 once the agent answers. A restored session snapshot may come from either
 * network and be restored onto either, so it is configured whatever the network.
 *
 * @module
 */

import { GUEST_BUSYBOX } from "../../image/dev_profile.ts";
import type { AgentClient } from "../channel/agent_client.ts";
import type { VmNetwork } from "./spec.ts";
import { runGuestSetup } from "./guest_setup.ts";

// Addresses come in as positional parameters, never spliced into the script. Images without
// iproute2 (the dev image's Debian) have `ip` only as an applet of the busybox their boot uses.
const CONFIGURE = [
  "set -e",
  `command -v ip >/dev/null || ip() { ${GUEST_BUSYBOX} ip "$@"; }`,
  "ip address flush dev eth0",
  'ip address add "$1/$3" dev eth0',
  "ip link set eth0 up",
  'ip route replace default via "$2" dev eth0',
].join("\n");

/** The user network's addresses, as QEMU's slirp hands them out. */
const USER_ADDRESSING = { guest: "10.0.2.15", gateway: "10.0.2.2", prefixLength: 24 };

/**
 * Give the guest's eth0 its address on `network` and a default route through the gateway.
 * Throws `VmError` when the guest refuses.
 *
 * @example
 * ```ts
 * import { configureGuestNetwork } from "./guest_network.ts";
 * import type { RunningVm } from "./running_vm.ts";
 * declare const vm: RunningVm;
 * import type { VmNetwork } from "./spec.ts";
 * declare const egress: { network: VmNetwork };
 * await configureGuestNetwork(vm.agent, egress.network);
 * ```
 */
export async function configureGuestNetwork(
  agent: AgentClient,
  network: VmNetwork,
): Promise<void> {
  const { guest, gateway, prefixLength } = network.kind === "tap" ? network : USER_ADDRESSING;
  const args = [guest, gateway, String(prefixLength)];
  if (!args.every((arg) => /^[\d.]+$/.test(arg))) {
    throw new RangeError(`Invalid tap network ${JSON.stringify(network)}`);
  }
  const argv = ["sh", "-c", CONFIGURE, "configure-net", ...args];
  await runGuestSetup(agent, argv, "configure the VM's network");
}
