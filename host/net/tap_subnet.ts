/**
 * The /30 a tap network lives on: the first one of agentbox's pool (10.213.0.0/16) that overlaps
 * no address or route the host already has — other sessions' taps included.
 *
 * @module
 */

/** Where tap subnets come from. */
export const TAP_POOL = "10.213.0.0/16";

/** A tap link's addresses. */
export interface TapSubnet {
  /** The host's end: the guest's gateway. */
  gateway: string;
  guest: string;
  prefixLength: 30;
}

/** No free subnet was left in the pool. */
export class SubnetExhaustedError extends Error {
  constructor() {
    super(
      `No free /30 left in ${TAP_POOL} for a tap network: stop some sessions, ` +
        `or use --net-backend user`,
    );
    this.name = "SubnetExhaustedError";
  }
}

/**
 * The first /30 of {@linkcode TAP_POOL} that overlaps none of `used` (`address/prefix` strings;
 * a bare address counts as /32).
 *
 * @example
 * ```ts
 * import { pickTapSubnet } from "./tap_subnet.ts";
 * const subnet = pickTapSubnet(["10.213.0.1/30", "127.0.0.1/8"]);
 * console.assert(subnet.gateway === "10.213.0.5" && subnet.guest === "10.213.0.6");
 * ```
 */
export function pickTapSubnet(used: string[]): TapSubnet {
  const taken = used.flatMap((network) => {
    const parsed = parseNetwork(network);
    return parsed ? [parsed] : [];
  });
  const pool = parseNetwork(TAP_POOL)!;
  for (let base = pool.first; base + 3 <= pool.last; base += 4) {
    const clash = taken.some((t) => t.first <= base + 3 && base <= t.last);
    if (!clash) {
      return { gateway: formatIpv4(base + 1), guest: formatIpv4(base + 2), prefixLength: 30 };
    }
  }
  throw new SubnetExhaustedError();
}

function parseNetwork(text: string): { first: number; last: number } | undefined {
  const [address, prefixText = "32"] = text.split("/");
  const octets = address.split(".").map(Number);
  const prefix = Number(prefixText);
  if (
    octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255) ||
    !Number.isInteger(prefix) || prefix < 0 || prefix > 32
  ) return undefined;
  const value = octets.reduce((sum, o) => sum * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const first = value - (value % size);
  return { first, last: first + size - 1 };
}

function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}
