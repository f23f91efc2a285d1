/**
 * The one place a host name is canonicalised (security rule 3). Every later step — policy,
 * credentials, logs, dialling — sees only the canonical form.
 *
 * @module
 */

import { NetError } from "./net_error.ts";

/** A canonical destination host. `name` is what policy, logs and the dialler use. */
export interface CanonicalHost {
  /** Lower case, no trailing dot, IDNA (punycode); IPv4 dotted quad; IPv6 compressed, no brackets. */
  name: string;
  kind: "dns" | "ipv4" | "ipv6";
}

const MAX_HOST_LENGTH = 253;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
// Characters that would make the URL parser read something other than a host.
const NOT_A_HOST = /[\s/\\?#@%]|^$/;

/**
 * Canonicalise a host name or IP literal as the WHATWG URL parser would (lower case, IDNA,
 * `127.1` → `127.0.0.1`, `[::FFFF:7F00:1]` → `::ffff:7f00:1`), then drop a trailing dot and check
 * that each DNS label is well formed. Throws {@linkcode NetError} `invalid_host` otherwise.
 *
 * @example
 * ```ts
 * import { canonicalHost } from "./canonical_host.ts";
 * console.assert(canonicalHost("Bücher.DE.").name === "xn--bcher-kva.de");
 * console.assert(canonicalHost("127.1").name === "127.0.0.1");
 * ```
 */
export function canonicalHost(raw: string): CanonicalHost {
  const invalid = () => new NetError("invalid_host", `Invalid host name ${JSON.stringify(raw)}`);
  if (raw.length > MAX_HOST_LENGTH + 2 || NOT_A_HOST.test(raw)) throw invalid();
  const bracketed = raw.startsWith("[") ? raw : raw.includes(":") ? `[${raw}]` : raw;
  let parsed: string;
  try {
    const url = new URL(`http://${bracketed}/`);
    if (url.port !== "" || url.username !== "" || url.password !== "") throw invalid();
    parsed = url.hostname;
  } catch {
    throw invalid();
  }
  if (parsed.startsWith("[")) return { name: parsed.slice(1, -1), kind: "ipv6" };
  const name = parsed.endsWith(".") ? parsed.slice(0, -1) : parsed;
  if (/^[0-9.]+$/.test(name) && name.split(".").length === 4) return { name, kind: "ipv4" };
  if (name.length > MAX_HOST_LENGTH || !name.split(".").every((l) => LABEL.test(l))) {
    throw invalid();
  }
  return { name, kind: "dns" };
}
