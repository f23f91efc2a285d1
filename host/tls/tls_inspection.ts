/**
 * One session's TLS inspection: the CA (fresh, in memory only — or the persisted one the user
 * asked for), the leaf cache, the inspection settings, the credential store, and what the guest
 * needs to trust the CA and to find its placeholders. The proxy takes it as `ProxyOptions.inspect`.
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

/** Where the guest finds the CA alone (for tools that add it to their roots). */
export const GUEST_CA_FILE = "/usr/local/share/ca-certificates/agentbox-session.crt";
/** Where the guest finds its system roots plus the CA (for tools that replace their roots). */
export const GUEST_CA_BUNDLE = "/etc/agentbox/ca-bundle.pem";
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
 * import { createTlsInspection, inspectionGuestEnv } from "./tls_inspection.ts";
 * import { loadPolicy } from "../config/load_config.ts";
 * const policy = await loadPolicy({ projectDir: Deno.cwd(), tlsInspect: true });
 * const inspect = await createTlsInspection(policy);
 * // startProxy({ policy, recorder, inspect }); guest env: inspectionGuestEnv(inspect)
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

/**
 * Environment for guest commands: the CA paths under the variables common TLS stacks read, and
 * each credential's placeholder.
 *
 * @example
 * ```ts
 * import { createTlsInspection, inspectionGuestEnv } from "./tls_inspection.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * const env = inspectionGuestEnv(await createTlsInspection(emptyPolicy()));
 * console.assert(env.NODE_EXTRA_CA_CERTS.endsWith(".crt"));
 * ```
 */
export function inspectionGuestEnv(inspection: TlsInspection): Record<string, string> {
  return {
    ...inspection.credentials.guestEnv(),
    // Replace the roots: OpenSSL (curl, Python ssl, Ruby, git), requests, curl, git.
    SSL_CERT_FILE: GUEST_CA_BUNDLE,
    REQUESTS_CA_BUNDLE: GUEST_CA_BUNDLE,
    CURL_CA_BUNDLE: GUEST_CA_BUNDLE,
    GIT_SSL_CAINFO: GUEST_CA_BUNDLE,
    // Add to the roots: Node.js and Deno.
    NODE_EXTRA_CA_CERTS: GUEST_CA_FILE,
    DENO_CERT: GUEST_CA_FILE,
  };
}

/** A file the VM wiring writes into the guest before commands run. */
export interface GuestFile {
  path: string;
  contents: string;
  mode: number;
}

/**
 * The files behind {@linkcode inspectionGuestEnv}: the CA alone (in Debian's local CA directory,
 * so `update-ca-certificates` in the guest adds it to the system store) and a bundle of
 * `systemRoots` — the guest image's own root bundle, PEM — followed by the CA, so tunnelled
 * (bypassed) hosts still verify for tools that replace their roots.
 *
 * @example
 * ```ts
 * import { createTlsInspection, inspectionGuestFiles } from "./tls_inspection.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * const roots = await Deno.readTextFile("/etc/ssl/certs/ca-certificates.crt");
 * const files = inspectionGuestFiles(await createTlsInspection(emptyPolicy()), roots);
 * ```
 */
export function inspectionGuestFiles(inspection: TlsInspection, systemRoots: string): GuestFile[] {
  const ca = inspection.ca.certPem.trim();
  const roots = systemRoots.trim();
  return [
    { path: GUEST_CA_FILE, contents: `${ca}\n`, mode: 0o644 },
    { path: GUEST_CA_BUNDLE, contents: roots ? `${roots}\n${ca}\n` : `${ca}\n`, mode: 0o644 },
  ];
}
