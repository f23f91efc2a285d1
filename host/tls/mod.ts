/**
 * TLS inspection: the per-session CA, its leaf certificates, and what the guest needs to trust it.
 * Create one {@linkcode createTlsInspection} per session when {@linkcode inspectionWanted} and
 * pass it to the proxy as `ProxyOptions.inspect`. See docs/proxy.md, "TLS inspection".
 *
 * @example
 * ```ts
 * import { createTlsInspection, guestTrustEnv, inspectionWanted } from "./mod.ts";
 * import { loadPolicy } from "../config/load_config.ts";
 * const policy = await loadPolicy({ projectDir: Deno.cwd(), tlsInspect: true });
 * if (inspectionWanted(policy.inspect)) {
 *   const inspect = await createTlsInspection(policy);
 *   console.log(inspect.credentials.guestEnv(), guestTrustEnv({ roots: "", sessionCa: inspect.ca.certPem }));
 * }
 * ```
 *
 * @module
 */

export {
  createTlsInspection,
  type TlsInspection,
  type TlsInspectionOptions,
} from "./tls_inspection.ts";
export {
  GUEST_CA_BUNDLE,
  GUEST_CA_FILE,
  GUEST_EXTRA_CA_FILE,
  GUEST_HOST_CA_FILE,
  GUEST_TRUST_STORE,
  type GuestFile,
  type GuestTrust,
  guestTrustEnv,
  guestTrustFiles,
} from "./guest_trust.ts";
export { type HostTrust, hostTrust, type HostTrustOptions } from "./host_trust.ts";
export { inspectionWanted } from "../config/inspect_settings.ts";
export { type LeafCertificate, SessionCa, type SessionCaOptions } from "./session_ca.ts";
export { LeafCache } from "./leaf_cache.ts";
export { loadOrCreateCaFile } from "./ca_file.ts";
export { TlsError, type TlsErrorCode } from "./tls_error.ts";
