/**
 * IP addresses as bytes, for range checks. Input is the canonical text form produced by
 * {@linkcode canonicalHost} or by the resolver.
 *
 * @module
 */

/**
 * Parse an IPv4 dotted quad or an IPv6 address into 4 or 16 bytes; `undefined` when it is
 * neither. IPv6 may embed a dotted quad (`::ffff:1.2.3.4`).
 *
 * @example
 * ```ts
 * import { parseIp } from "./ip_address.ts";
 * console.assert(parseIp("10.0.0.1")?.length === 4);
 * console.assert(parseIp("::1")?.[15] === 1);
 * ```
 */
export function parseIp(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p))) return undefined;
  const bytes = parts.map(Number);
  return bytes.every((b) => b <= 255) ? Uint8Array.from(bytes) : undefined;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function groups(part: string): number[] | undefined {
  if (part === "") return [];
  const fields = part.split(":");
  const last = fields[fields.length - 1];
  const result: number[] = [];
  for (const f of fields.slice(0, -1)) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return undefined;
    result.push(parseInt(f, 16));
  }
  if (last.includes(".")) {
    const v4 = parseIpv4(last);
    if (!v4) return undefined;
    result.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
  } else {
    if (!/^[0-9a-fA-F]{1,4}$/.test(last)) return undefined;
    result.push(parseInt(last, 16));
  }
  return result;
}
