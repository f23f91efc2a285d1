/**
 * Leaf certificates minted on demand, one per host, cached for the session. Concurrent requests
 * for the same host share one minting; the cache is bounded (least recently used goes first).
 *
 * @module
 */

import type { CanonicalHost } from "../net/canonical_host.ts";
import type { LeafCertificate, SessionCa } from "./session_ca.ts";

/** Default bound of {@linkcode LeafCache}. */
export const MAX_LEAVES = 1024;

/**
 * A bounded per-host cache in front of {@linkcode SessionCa.mintLeaf}.
 *
 * @example
 * ```ts
 * import { LeafCache } from "./leaf_cache.ts";
 * import { SessionCa } from "./session_ca.ts";
 * import { canonicalHost } from "../net/canonical_host.ts";
 * const leaves = new LeafCache(await SessionCa.create());
 * const leaf = await leaves.get(canonicalHost("api.github.com"));
 * console.assert(leaf === await leaves.get(canonicalHost("api.github.com")));
 * ```
 */
export class LeafCache {
  readonly #ca: SessionCa;
  readonly #max: number;
  readonly #leaves = new Map<string, Promise<LeafCertificate>>();
  /** Leaves minted so far (cache misses), for tests and statistics. */
  minted = 0;

  constructor(ca: SessionCa, max = MAX_LEAVES) {
    this.#ca = ca;
    this.#max = max;
  }

  /** The leaf for `host`, minted on first use. Rejects like `SessionCa.mintLeaf`. */
  get(host: CanonicalHost): Promise<LeafCertificate> {
    const cached = this.#leaves.get(host.name);
    if (cached) {
      // Refresh its place in the LRU order.
      this.#leaves.delete(host.name);
      this.#leaves.set(host.name, cached);
      return cached;
    }
    this.minted++;
    const leaf = this.#ca.mintLeaf(host);
    leaf.catch(() => this.#leaves.delete(host.name));
    this.#leaves.set(host.name, leaf);
    if (this.#leaves.size > this.#max) this.#leaves.delete(this.#leaves.keys().next().value!);
    return leaf;
  }

  /** Hosts with a cached (or pending) leaf. */
  hosts(): string[] {
    return [...this.#leaves.keys()];
  }
}
