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
 * `cmd:` form starts a relay per guest connection instead, with the connection on its stdin and
 * stdout: a `busybox sh` (Debian `busybox-static`) that sends the session's relay key (a 0600 file
 * in the private runtime directory) and then the guest's bytes through `busybox dd` to
 * `busybox nc`, which passes half-closes on. The proxy serves only connections that start with
 * the key (proxy/admission.ts), so no other local process can use the session's proxy. When `nc`
 * ends the relay ends its process group (slirp starts each relay in a session of its own), so
 * the guest sees the close at once. Four host processes per guest connection: the proxy caps the
 * connections a guest may have open (proxy/admission.ts, `ConnectionBudget`).
 *
 * @module
 */

import { runtimeDir } from "../paths.ts";

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
  /** The file holding the key the relay presents to the proxy (see {@linkcode createRelayKey}). */
  relayKey: string;
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
 * const network = proxyNetwork("/bin/busybox", {
 *   forwardPort: 40000,
 *   transparentPort: 40001,
 *   relayKey: "/run/user/1000/agentbox/relay-1.key",
 * });
 * console.assert(network.forwards.length === 3);
 * ```
 */
export function proxyNetwork(
  relay: string,
  options: { forwardPort: number; transparentPort: number; relayKey: string },
): UserNetwork {
  const { forwardPort, transparentPort, relayKey } = options;
  return {
    kind: "user",
    relay,
    relayKey,
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
 *   relayKey: "/run/user/1000/agentbox/relay-1.key",
 * });
 * console.assert(args[1].includes("guestfwd=tcp:10.0.2.100:3128-cmd:'/bin/busybox' 'sh' '-c'"));
 * ```
 */
export function userNetworkArgs(network: UserNetwork): string[] {
  const options = [
    "user",
    "id=net0",
    `restrict=${network.restrict === false ? "off" : "on"}`,
    "ipv6=off",
    ...network.forwards.map((f) =>
      `guestfwd=tcp:${PROXY_GUEST_ADDRESS}:${port(f.guestPort)}-cmd:${
        relayArgv(network, f.hostPort).map((arg) => `'${arg}'`).join(" ")
      }`
    ),
  ];
  return ["-netdev", options.join(","), "-device", "virtio-net-device,netdev=net0"];
}

/**
 * The relay's script: `$1` busybox, `$2` the key file, `$3` the proxy's port. The key (`cat`), then
 * the guest's bytes (`dd`) go to nc; nc's output goes to the guest. `dd` rather than `cat` for the
 * socket: busybox cat moves data with sendfile, which can sit on the pipe while it waits for the
 * guest, so nc never gets the key. When nc ends, the relay's process group (its own: slirp calls
 * setsid, so `$$` leads it) is ended, so that dd lets go of the guest's connection and the guest
 * sees the close at once; outside such a group the kill finds nothing.
 */
const RELAY_SCRIPT = '{ "$1" cat "$2" && exec "$1" dd bs=16384 2>/dev/null; } | ' +
  '{ "$1" nc 127.0.0.1 "$3"; kill -- -$$; }';

/**
 * The argv QEMU runs (through slirp) for each guest connection to a port forwarded to
 * `hostPort`. Throws `RangeError` for a relay or key path that could not pass through QEMU's
 * option list and slirp's argv parsing unchanged.
 *
 * @example
 * ```ts
 * import { relayArgv } from "./user_network.ts";
 * const argv = relayArgv({
 *   kind: "user", forwards: [], relay: "/bin/busybox", relayKey: "/run/agentbox/relay-1.key",
 * }, 40000);
 * console.assert(argv[0] === "/bin/busybox" && argv.at(-1) === "40000");
 * ```
 */
export function relayArgv(network: UserNetwork, hostPort: number): string[] {
  // A comma would end QEMU's option, a space or quote would split slirp's argv.
  if (!SAFE_PATH.test(network.relay)) throw new RangeError(`Invalid relay ${network.relay}`);
  if (!SAFE_PATH.test(network.relayKey)) {
    throw new RangeError(`Invalid relay key path ${network.relayKey}`);
  }
  return [
    network.relay,
    "sh",
    "-c",
    RELAY_SCRIPT,
    "agentbox-relay",
    network.relay,
    network.relayKey,
    String(port(hostPort)),
  ];
}

const SAFE_PATH = /^\/[\w./-]+$/;

/**
 * The relay key of a network whose ports nothing serves (a template being made): its relays
 * present nothing, and nothing would accept them anyway.
 */
export const NO_RELAY_KEY = "/dev/null";

/** Bytes of a relay key: 64 hex digits and a newline. */
export const RELAY_KEY_LENGTH = 65;

/** A session's relay key: the file the relays read and the bytes the proxy expects. */
export interface RelayKey {
  path: string;
  bytes: Uint8Array;
  /** Remove the file (when the session's network is closed). */
  remove(): Promise<void>;
}

/**
 * Make a new random relay key in a new file (mode 0600, created exclusively) in the private
 * runtime directory. Throws `RuntimeDirError` when that directory is unsafe.
 *
 * @example
 * ```ts ignore
 * import { createRelayKey } from "./user_network.ts";
 * const key = await createRelayKey();
 * await key.remove();
 * ```
 */
export async function createRelayKey(): Promise<RelayKey> {
  const random = crypto.getRandomValues(new Uint8Array(32));
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  const bytes = new TextEncoder().encode(`${hex}\n`);
  const path = `${runtimeDir()}/relay-${crypto.randomUUID()}.key`;
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  try {
    await Deno.chmod(path, 0o600);
    await file.write(bytes);
  } finally {
    file.close();
  }
  return { path, bytes, remove: () => Deno.remove(path).catch(() => {}) };
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
