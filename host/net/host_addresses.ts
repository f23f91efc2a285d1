/**
 * The addresses of this host's own interfaces, which the proxy refuses after resolution like
 * loopback: a public IPv4 or global IPv6 address of the host reaches every service bound to
 * `0.0.0.0` / `[::]` on it, just as 127.0.0.1 would.
 *
 * @module
 */

import { parseIp } from "./ip_address.ts";

/** Whether an address (text form) is one of this host's own. */
export type HostAddressCheck = (address: string) => boolean;

/** Options of {@linkcode hostAddressCheck}. */
export interface HostAddressOptions {
  /** The interfaces; default `Deno.networkInterfaces`. */
  interfaces?: () => { address: string }[];
  /** How long a reading is reused, in milliseconds (default 1000). */
  refreshMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * A check against this host's interface addresses, read again when the last reading is older
 * than `refreshMs` (addresses come and go: DHCP, SLAAC privacy addresses, VPNs). A reading that
 * fails throws: the caller refuses rather than guessing.
 *
 * @example
 * ```ts
 * import { hostAddressCheck } from "./host_addresses.ts";
 * const isHost = hostAddressCheck({ interfaces: () => [{ address: "198.51.100.7" }] });
 * console.assert(isHost("198.51.100.7") && !isHost("198.51.100.8"));
 * ```
 */
export function hostAddressCheck(options: HostAddressOptions = {}): HostAddressCheck {
  const interfaces = options.interfaces ?? Deno.networkInterfaces;
  const refreshMs = options.refreshMs ?? 1000;
  const now = options.now ?? Date.now;
  let cached: { keys: Set<string>; at: number } | undefined;
  return (address) => {
    const key = addressKey(address);
    if (key === undefined) return false;
    const t = now();
    if (!cached || t - cached.at >= refreshMs || t < cached.at) {
      const keys = new Set<string>();
      for (const i of interfaces()) {
        // Link-local IPv6 addresses may carry a zone (`fe80::1%eth0`).
        const k = addressKey(i.address.split("%")[0]);
        if (k !== undefined) keys.add(k);
      }
      cached = { keys, at: t };
    }
    return cached.keys.has(key);
  };
}

/** One comparable form per address: its bytes in hex (`::ffff:1.2.3.4` and `1.2.3.4` differ). */
function addressKey(address: string): string | undefined {
  const bytes = parseIp(address);
  return bytes ? [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("") : undefined;
}

/** The check on this host's interfaces that the proxy uses unless told otherwise. */
export const systemHostAddresses: HostAddressCheck = hostAddressCheck();
