/**
 * Which destination addresses the proxy refuses after resolution (security rule 5): everything
 * that reaches the host itself, its LAN, a cloud metadata service or a non-unicast target.
 *
 * The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are
 * deliberately *not* refused: the build machines' package registries resolve into 203.0.113.0/24.
 *
 * @module
 */

import { parseIp } from "./ip_address.ts";

interface Range {
  prefix: number[];
  bits: number;
  label: string;
}

const V4: Range[] = [
  { prefix: [0], bits: 8, label: "this-network address (0.0.0.0/8)" },
  { prefix: [10], bits: 8, label: "private address (10.0.0.0/8)" },
  { prefix: [100, 64], bits: 10, label: "carrier-grade NAT address (100.64.0.0/10)" },
  { prefix: [127], bits: 8, label: "loopback address (127.0.0.0/8)" },
  { prefix: [169, 254, 169, 254], bits: 32, label: "cloud metadata address (169.254.169.254)" },
  { prefix: [169, 254], bits: 16, label: "link-local address (169.254.0.0/16)" },
  { prefix: [172, 16], bits: 12, label: "private address (172.16.0.0/12)" },
  { prefix: [192, 0, 0], bits: 24, label: "IETF protocol address (192.0.0.0/24)" },
  { prefix: [192, 168], bits: 16, label: "private address (192.168.0.0/16)" },
  { prefix: [198, 18], bits: 15, label: "benchmarking address (198.18.0.0/15)" },
  { prefix: [224], bits: 4, label: "multicast address (224.0.0.0/4)" },
  { prefix: [240], bits: 4, label: "reserved address (240.0.0.0/4)" },
];

const V6: Range[] = [
  { prefix: [], bits: 128, label: "unspecified address (::)" },
  { prefix: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], bits: 128, label: "loopback (::1)" },
  {
    prefix: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
    bits: 96,
    label: "IPv4-mapped (::ffff:0:0/96)",
  },
  { prefix: [], bits: 96, label: "IPv4-compatible address (::/96)" },
  { prefix: [0, 0x64, 0xff, 0x9b, 0, 1], bits: 48, label: "local NAT64 address (64:ff9b:1::/48)" },
  { prefix: [0, 0x64, 0xff, 0x9b], bits: 96, label: "NAT64 address (64:ff9b::/96)" },
  { prefix: [1, 0], bits: 64, label: "discard address (100::/64)" },
  { prefix: [0x20, 0x01, 0, 0], bits: 32, label: "Teredo address (2001::/32)" },
  { prefix: [0x20, 0x02], bits: 16, label: "6to4 address (2002::/16)" },
  { prefix: [0xfc], bits: 7, label: "unique local address (fc00::/7)" },
  { prefix: [0xfe, 0x80], bits: 10, label: "link-local address (fe80::/10)" },
  { prefix: [0xfe, 0xc0], bits: 10, label: "site-local address (fec0::/10)" },
  { prefix: [0xff], bits: 8, label: "multicast address (ff00::/8)" },
];

/**
 * Why `address` must not be dialled, or `undefined` when it is a public unicast address.
 * Unparseable input is refused too. IPv6 forms that embed an IPv4 address (mapped, compatible,
 * NAT64, 6to4, Teredo) are refused outright rather than decoded.
 *
 * @example
 * ```ts
 * import { refusedAddressReason } from "./address_class.ts";
 * console.assert(refusedAddressReason("169.254.169.254")?.startsWith("cloud metadata"));
 * console.assert(refusedAddressReason("203.0.113.7") === undefined);
 * ```
 */
export function refusedAddressReason(address: string): string | undefined {
  const bytes = parseIp(address);
  if (!bytes) return "not an IP address";
  const ranges = bytes.length === 4 ? V4 : V6;
  if (bytes.length === 4 && bytes.every((b) => b === 255)) return "broadcast address";
  return ranges.find((r) => matches(bytes, r))?.label;
}

function matches(bytes: Uint8Array, range: Range): boolean {
  for (let bit = 0; bit < range.bits; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((bytes[byte] & mask) !== ((range.prefix[byte] ?? 0) & mask)) return false;
  }
  return true;
}
