/**
 * Resolve once, vet every address, hand back exactly what may be dialled (security rule 5).
 *
 * @module
 */

import { refusedAddressReason } from "./address_class.ts";
import type { CanonicalHost } from "./canonical_host.ts";
import { type HostAddressCheck, systemHostAddresses } from "./host_addresses.ts";
import { NetError } from "./net_error.ts";
import type { Resolver } from "./resolver.ts";

/** Options of {@linkcode vetDestination}. */
export interface VetOptions {
  resolver: Resolver;
  /** IP literals the policy allowed explicitly; any other IP literal host is refused. */
  allowedIpLiterals?: ReadonlySet<string>;
  /** Upper bound for a resolution, in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Whether an address is one of this host's own; default: its interfaces, re-read each second. */
  isHostAddress?: HostAddressCheck;
}

/**
 * Addresses the proxy may dial for `host`, in resolver order. The name is resolved exactly once;
 * every answer is checked against the refused ranges and this host's own interface addresses; if
 * *any* answer is refused the whole destination is refused (a mixed answer is a rebinding
 * attempt or a misconfiguration either way). Throws {@linkcode NetError}.
 *
 * @example
 * ```ts
 * import { canonicalHost } from "./canonical_host.ts";
 * import { vetDestination } from "./vet_destination.ts";
 * const addresses = await vetDestination(canonicalHost("example.test"), {
 *   resolver: () => Promise.resolve(["203.0.113.9"]),
 * });
 * console.assert(addresses[0] === "203.0.113.9");
 * ```
 */
export async function vetDestination(host: CanonicalHost, options: VetOptions): Promise<string[]> {
  if (host.kind !== "dns" && !options.allowedIpLiterals?.has(host.name)) {
    throw new NetError(
      "ip_literal",
      `Cannot connect to IP address ${host.name}: not allowed explicitly`,
    );
  }
  const addresses = host.kind === "dns" ? await resolve(host.name, options) : [host.name];
  const isHostAddress = options.isHostAddress ?? systemHostAddresses;
  for (const address of addresses) {
    const reason = refusedAddressReason(address) ?? hostAddressReason(address, isHostAddress);
    if (reason) {
      throw new NetError(
        "refused_address",
        `Cannot connect to ${host.name} (${address}): ${reason}`,
      );
    }
  }
  return addresses;
}

/** Refuse this host's own addresses; fail closed when they cannot be read. */
function hostAddressReason(address: string, isHostAddress: HostAddressCheck): string | undefined {
  try {
    return isHostAddress(address) ? "an address of this host" : undefined;
  } catch (cause) {
    throw new NetError(
      "refused_address",
      `Cannot connect to ${address}: cannot read this host's own addresses`,
      { cause },
    );
  }
}

async function resolve(name: string, options: VetOptions): Promise<string[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), options.timeoutMs ?? 5000);
  });
  try {
    const addresses = await Promise.race([options.resolver(name), timeout]);
    if (addresses.length === 0) throw new Error("no addresses");
    return addresses;
  } catch (cause) {
    throw new NetError("resolve_failed", `Cannot resolve ${name}`, { cause });
  } finally {
    clearTimeout(timer);
  }
}
