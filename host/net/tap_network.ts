/**
 * The root guest network: a tap device per VM, with its own /30 subnet, and an nftables table per
 * session as the wall (see nft_wall.ts). The guest reaches its gateway's proxy ports and nothing
 * else; TCP 80/443 to any address is redirected to the transparent listener.
 *
 * The guest sees the same proxy address as on the user network (10.0.2.100):
 * the wall translates it to the listeners on the gateway address, so the guest's environment and
 * DNS stub do not depend on the backend.
 *
 * @module
 */

/** A VM's tap network: the host's device and the guest's side of its /30. */
export interface TapNetwork {
  kind: "tap";
  /** The host's tap device, made by agentbox for one session (see {@linkcode tapName}). */
  ifname: string;
  /** The host's address on the tap: the guest's gateway. */
  gateway: string;
  /** The guest's address. */
  guest: string;
  /** Prefix length of the link's subnet (30). */
  prefixLength: number;
}

/**
 * The QEMU `-netdev`/`-device` arguments for `network`: the same virtio-net device as on the user
 * network (so a template saved on one restores on the other), backed by the session's tap.
 * `vnet_hdr=off` keeps the device's offload features those of the user network.
 *
 * @example
 * ```ts
 * import { tapNetworkArgs } from "./tap_network.ts";
 * const args = tapNetworkArgs({
 *   kind: "tap", ifname: "ab-0123abcd", gateway: "10.213.0.1", guest: "10.213.0.2", prefixLength: 30,
 * });
 * console.assert(args[1] === "tap,id=net0,ifname=ab-0123abcd,script=no,downscript=no,vnet_hdr=off");
 * ```
 */
export function tapNetworkArgs(network: TapNetwork): string[] {
  if (!/^[\w-]{1,15}$/.test(network.ifname)) {
    throw new RangeError(`Invalid tap name ${network.ifname}`);
  }
  const options = [
    "tap",
    "id=net0",
    `ifname=${network.ifname}`,
    "script=no",
    "downscript=no",
    "vnet_hdr=off",
  ];
  return ["-netdev", options.join(","), "-device", "virtio-net-device,netdev=net0"];
}
