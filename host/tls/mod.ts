/**
 * TLS inspection: the per-session CA, its leaf certificates, and what the guest needs to trust it.
 * Create one {@linkcode createTlsInspection} per session when {@linkcode inspectionWanted} and
 * pass it to the proxy as `ProxyOptions.inspect`. See docs/proxy.md, "TLS inspection".
 *
 * @example
 * ```ts
 * import { createTlsInspection, inspectionGuestEnv, inspectionWanted } from "./mod.ts";
 * import { loadPolicy } from "../config/load_config.ts";
 * const policy = await loadPolicy({ projectDir: Deno.cwd(), tlsInspect: true });
 * if (inspectionWanted(policy.inspect)) {
 *   const inspect = await createTlsInspection(policy);
 *   console.log(inspectionGuestEnv(inspect));
 * }
 * ```
 *
 * @module
 */

export {
  createTlsInspection,
  GUEST_CA_BUNDLE,
  GUEST_CA_FILE,
  type GuestFile,
  inspectionGuestEnv,
  inspectionGuestFiles,
  type TlsInspection,
  type TlsInspectionOptions,
} from "./tls_inspection.ts";
export { inspectionWanted } from "../config/inspect_settings.ts";
export { type LeafCertificate, SessionCa, type SessionCaOptions } from "./session_ca.ts";
export { LeafCache } from "./leaf_cache.ts";
export { loadOrCreateCaFile } from "./ca_file.ts";
export { TlsError, type TlsErrorCode } from "./tls_error.ts";
