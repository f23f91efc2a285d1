/**
 * The X.509 name constraints extension (RFC 5280 §4.2.1.10) for the session CA: @peculiar/x509
 * has no class for it, so the DER is assembled here from the library's own `GeneralName`
 * encoding — only the SEQUENCE and context tags around it are written by hand.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";

const OID_NAME_CONSTRAINTS = "2.5.29.30";

/** What the CA may vouch for: DNS subtrees it is limited to (none = any name), IPs never. */
export interface NameConstraints {
  /** DNS names whose subtree is permitted (`github.com` covers `api.github.com`); empty = any. */
  permittedDns: string[];
  /** Exclude every IPv4 and IPv6 address (the CA never vouches for an IP literal). */
  excludeAllIps: boolean;
}

/**
 * A critical name constraints extension.
 *
 * @example
 * ```ts
 * import { nameConstraintsExtension } from "./name_constraints.ts";
 * const ext = nameConstraintsExtension({ permittedDns: ["github.com"], excludeAllIps: true });
 * console.assert(ext.critical);
 * ```
 */
export function nameConstraintsExtension(constraints: NameConstraints): x509.Extension {
  const parts: Uint8Array[] = [];
  if (constraints.permittedDns.length > 0) {
    const subtrees = constraints.permittedDns.map((name) =>
      subtree(new x509.GeneralName("dns", name))
    );
    parts.push(tlv(0xa0, concat(subtrees)));
  }
  if (constraints.excludeAllIps) {
    // iPAddress constraints are address + mask: 0.0.0.0/0 and ::/0.
    const v4 = subtree(rawIp(new Uint8Array(8)));
    const v6 = subtree(rawIp(new Uint8Array(32)));
    parts.push(tlv(0xa1, concat([v4, v6])));
  }
  const value = tlv(0x30, concat(parts));
  return new x509.Extension(OID_NAME_CONSTRAINTS, true, value);
}

/** GeneralSubtree ::= SEQUENCE { base GeneralName } (minimum 0 and no maximum are defaults). */
function subtree(name: x509.GeneralName | Uint8Array): Uint8Array {
  const der = name instanceof Uint8Array ? name : new Uint8Array(name.rawData);
  return tlv(0x30, der);
}

/** iPAddress [7] IMPLICIT OCTET STRING: the address followed by the mask. */
function rawIp(addressAndMask: Uint8Array): Uint8Array {
  return tlv(0x87, addressAndMask);
}

function tlv(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const n = content.length;
  const length = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat([Uint8Array.from([tag, ...length]), content]);
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
