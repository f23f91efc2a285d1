/**
 * One session's TLS inspection: the CA (fresh, in memory only — or the persisted one the user
 * asked for), the leaf cache, the inspection settings and the credential store (whose placeholders
 * the guest gets). The proxy takes it as `ProxyOptions.inspect`; what the guest needs to trust the
 * CA is guest_trust.ts.
 *
 * @module
 */

import { CredentialStore, type CredentialStoreOptions } from "../credentials/credential_store.ts";
import type { HostPattern } from "../config/host_pattern.ts";
import type { InspectSettings } from "../config/inspect_settings.ts";
import type { Policy } from "../config/policy.ts";
import { loadOrCreateCaFile } from "./ca_file.ts";
import { LeafCache } from "./leaf_cache.ts";
import { SessionCa } from "./session_ca.ts";

/** A name no real host has: the only DNS subtree of a CA that may vouch for nothing. */
const NOTHING = "agentbox.invalid";

/** A running inspection, shared by a session's proxies. */
export interface TlsInspection {
  ca: SessionCa;
  leaves: LeafCache;
  settings: InspectSettings;
  credentials: CredentialStore;
  /**
   * Test seam: extra roots trusted for *upstream* certificates, in addition to the default
   * store, so loopback test upstreams with a test CA verify. Empty in production.
   */
  upstreamCaCerts: string[];
}

/** Options of {@linkcode createTlsInspection}. */
export interface TlsInspectionOptions extends CredentialStoreOptions {
  /** See {@linkcode TlsInspection.upstreamCaCerts}; tests only. */
  testUpstreamCaCerts?: string[];
}

/**
 * Start inspection for a session under `policy` (its `inspect` settings say where). The CA is
 * name-constrained to the DNS names the session may inspect: everything in `open`/`learn` mode
 * with inspection on globally, else the allowlist, graylist, tool lists and `inspect` hosts.
 *
 * @example
 * ```ts
 * import { createTlsInspection } from "./tls_inspection.ts";
 * import { loadPolicy } from "../config/load_config.ts";
 * const policy = await loadPolicy({ projectDir: Deno.cwd(), tlsInspect: true });
 * const inspect = await createTlsInspection(policy);
 * // startProxy({ policy, recorder, inspect }); the guest trusts inspect.ca (guest_trust.ts)
 * ```
 */
export async function createTlsInspection(
  policy: Policy,
  options: TlsInspectionOptions = {},
): Promise<TlsInspection> {
  const settings = policy.inspect;
  const ca = settings.caFile
    ? await loadOrCreateCaFile(settings.caFile)
    : await SessionCa.create({ permittedDns: permittedNames(policy) });
  return {
    ca,
    leaves: new LeafCache(ca),
    settings,
    credentials: new CredentialStore(settings.credentials, options),
    upstreamCaCerts: options.testUpstreamCaCerts ?? [],
  };
}

/**
 * DNS subtrees for the CA's name constraints (empty = any name).
 *
 * @example
 * ```ts
 * import { permittedNames } from "./tls_inspection.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * console.assert(permittedNames(emptyPolicy())[0] === "agentbox.invalid");
 * ```
 */
export function permittedNames(policy: Policy): string[] {
  const s = policy.inspect;
  if (s.enabled && policy.mode !== "allowlist") return [];
  const patterns: HostPattern[] = [
    ...s.hosts.map((r) => r.pattern),
    ...s.rules.map((r) => r.host.pattern),
  ];
  if (s.enabled) {
    patterns.push(...[...policy.allow, ...policy.gray, ...[...policy.tools.values()].flat()]
      .map((r) => r.pattern));
  }
  const names = patterns.flatMap((p) =>
    p.suffix !== undefined ? [p.suffix.slice(1)] : /^[0-9.]+$|:/.test(p.exact!) ? [] : [p.exact!]
  );
  names.push(...s.rewrites.map((r) => r.host), ...s.credentials.map((c) => c.host));
  return names.length > 0 ? [...new Set(names)] : [NOTHING];
}
