/**
 * `--net learn`: turn the hosts a run reached into the smallest allowlist that lets the same run
 * pass under the default `allowlist` mode.
 *
 * @module
 */

import { canonicalHost } from "../net/canonical_host.ts";
import { decide, type Policy } from "./policy.ts";

/** A host the run reached, with the kind of access. */
export interface ObservedHost {
  host: string;
  port: number;
  kind: "connect" | "http";
}

/**
 * Exact host names (sorted, deduplicated, canonical) that `policy` in `allowlist` mode would not
 * already allow. Hosts the blocklist denies and IP literals are left out: learning never widens
 * past the blocklist and never allows an address.
 *
 * @example
 * ```ts
 * import { minimalAllowlist } from "./learned_allowlist.ts";
 * import { emptyPolicy } from "./policy.ts";
 * const hosts = minimalAllowlist([{ host: "B.test", port: 443, kind: "connect" }], emptyPolicy());
 * console.assert(hosts[0] === "b.test");
 * ```
 */
export function minimalAllowlist(observed: ObservedHost[], policy: Policy): string[] {
  const strict: Policy = { ...policy, mode: "allowlist" };
  const needed = new Set<string>();
  for (const o of observed) {
    const host = canonicalHost(o.host);
    if (host.kind !== "dns") continue;
    const decision = decide(strict, { host, port: o.port, kind: o.kind });
    if (decision.verdict !== "allow" && !decision.rule.startsWith("deny ")) needed.add(host.name);
  }
  return [...needed].sort();
}
