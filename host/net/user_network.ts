/**
 * The rootless guest network: QEMU user networking (slirp) with `restrict=on`, so the guest
 * reaches nothing but the `guestfwd` ports below, each forwarded to a proxy listener on the host's
 * loopback. Addresses inside the VM are QEMU's defaults: guest 10.0.2.15, gateway 10.0.2.2.
 *
 * ```
 * guest 10.0.2.100:3128 → forward proxy (HTTP_PROXY / HTTPS_PROXY)
 * guest 10.0.2.100:80   → transparent listener (Host header)
 * guest 10.0.2.100:443  → transparent listener (TLS SNI)
 * ```
 *
 * QEMU's `guestfwd=…-tcp:HOST:PORT` form connects one character device at start-up and pushes
 * every guest connection through it, interleaved: useless for more than one connection. The
 * `cmd:` form starts a relay process per guest connection instead; the relay is `busybox nc`
 * (Debian `busybox-static`), which copies bytes and passes half-closes on.
 *
 * @module
 */

/** Where the relay's busybox is looked for, in order. */
export const RELAY_CANDIDATES = ["/bin/busybox", "/usr/bin/busybox"] as const;

/** The proxy's address as the guest sees it; the guest's DNS stub answers every name with it. */
export const PROXY_GUEST_ADDRESS = "10.0.2.100";

/** The forward proxy's port as the guest sees it. */
export const PROXY_GUEST_PORT = 3128;

/** Ports of {@linkcode PROXY_GUEST_ADDRESS} that reach the transparent listener. */
export const TRANSPARENT_GUEST_PORTS = [80, 443] as const;

/** One guest-side port of {@linkcode PROXY_GUEST_ADDRESS} forwarded to a host loopback port. */
export interface GuestForward {
  guestPort: number;
  hostPort: number;
}

/** A VM's user-mode network. */
export interface UserNetwork {
  kind: "user";
  forwards: GuestForward[];
  /** The busybox binary that relays each guest connection (see {@linkcode findRelay}). */
  relay: string;
  /**
   * `false` lifts slirp's restriction so the guest can reach anything the host can. Only for the
   * positive controls of the isolation tests; nothing in the CLI sets it.
   */
  restrict?: boolean;
}

/**
 * The network of a sandbox: the forward proxy's port and the transparent ports, forwarded to the
 * host listeners at `forwardPort` and `transparentPort`.
 *
 * @example
 * ```ts
 * import { proxyNetwork } from "./user_network.ts";
 * const network = proxyNetwork("/bin/busybox", 40000, 40001);
 * console.assert(network.forwards.length === 3);
 * ```
 */
export function proxyNetwork(
  relay: string,
  forwardPort: number,
  transparentPort: number,
): UserNetwork {
  return {
    kind: "user",
    relay,
    forwards: [
      { guestPort: PROXY_GUEST_PORT, hostPort: forwardPort },
      ...TRANSPARENT_GUEST_PORTS.map((guestPort) => ({ guestPort, hostPort: transparentPort })),
    ],
  };
}

/**
 * The QEMU `-netdev`/`-device` arguments for `network`. IPv6 is off: the guest gets no route
 * there at all.
 *
 * @example
 * ```ts
 * import { userNetworkArgs } from "./user_network.ts";
 * const args = userNetworkArgs({
 *   kind: "user",
 *   forwards: [{ guestPort: 3128, hostPort: 40000 }],
 *   relay: "/bin/busybox",
 * });
 * console.assert(args[1].includes("guestfwd=tcp:10.0.2.100:3128-cmd:/bin/busybox nc 127.0.0.1 40000"));
 * ```
 */
export function userNetworkArgs(network: UserNetwork): string[] {
  // A relay path with a comma or space would break the option list or the command.
  if (!/^\/[\w./-]+$/.test(network.relay)) throw new RangeError(`Invalid relay ${network.relay}`);
  const options = [
    "user",
    "id=net0",
    `restrict=${network.restrict === false ? "off" : "on"}`,
    "ipv6=off",
    ...network.forwards.map((f) =>
      `guestfwd=tcp:${PROXY_GUEST_ADDRESS}:${port(f.guestPort)}-cmd:${network.relay} nc 127.0.0.1 ${
        port(f.hostPort)
      }`
    ),
  ];
  return ["-netdev", options.join(","), "-device", "virtio-net-device,netdev=net0"];
}

function port(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new RangeError(`Invalid port ${value}`);
  }
  return value;
}

/**
 * The environment every guest command gets so that proxy-aware clients use the forward proxy.
 * Both spellings: curl reads only the lower-case `http_proxy`.
 *
 * @example
 * ```ts
 * import { guestProxyEnv } from "./user_network.ts";
 * console.assert(guestProxyEnv().HTTPS_PROXY === "http://10.0.2.100:3128");
 * ```
 */
export function guestProxyEnv(): Record<string, string> {
  const url = `http://${PROXY_GUEST_ADDRESS}:${PROXY_GUEST_PORT}`;
  const noProxy = "localhost,127.0.0.1,::1";
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
  };
}

/** The relay program is missing: the guest's connections could not reach the proxy. */
export class RelayMissingError extends Error {
  constructor() {
    super(
      `Cannot give the VM a network: busybox is missing (looked for ${
        RELAY_CANDIDATES.join(", ")
      }); install it with \`apt-get install busybox-static\`, or run with --net none`,
    );
    this.name = "RelayMissingError";
  }
}

/**
 * The first busybox of {@linkcode RELAY_CANDIDATES} that exists. Throws
 * {@linkcode RelayMissingError}.
 *
 * @example
 * ```ts
 * import { findRelay } from "./user_network.ts";
 * console.log(await findRelay()); // /bin/busybox
 * ```
 */
export async function findRelay(): Promise<string> {
  for (const path of RELAY_CANDIDATES) {
    const info = await Deno.stat(path).catch(() => undefined);
    if (info?.isFile) return path;
  }
  throw new RelayMissingError();
}
