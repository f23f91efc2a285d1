/**
 * What the guest trusts beyond its own image: the session's inspection CA (`--tls-inspect`), the
 * host's extra CAs (`--trust-host-ca`, host_trust.ts), or both — as files written into the guest
 * before commands run and the variables common TLS stacks read. The one path for both.
 *
 * @module
 */

/** Where the guest finds the session CA alone (Debian's local CA directory). */
export const GUEST_CA_FILE = "/usr/local/share/ca-certificates/agentbox-session.crt";
/** Where the guest finds the host's extra CAs (Debian's local CA directory). */
export const GUEST_HOST_CA_FILE = "/usr/local/share/ca-certificates/agentbox-host.crt";
/** Every CA added to the guest's roots, in one file (for tools that add a file to their roots). */
export const GUEST_EXTRA_CA_FILE = "/etc/agentbox/extra-ca.pem";
/** The roots plus every added CA (for tools that replace their roots). */
export const GUEST_CA_BUNDLE = "/etc/agentbox/ca-bundle.pem";
/** Where Debian's OpenSSL (and the guest image) keeps its roots; the bundle is written there too. */
export const GUEST_TRUST_STORE = "/etc/ssl/certs/ca-certificates.crt";

/** A file the VM wiring writes into the guest before commands run. */
export interface GuestFile {
  path: string;
  contents: string;
  mode: number;
}

/** What the guest is to trust. */
export interface GuestTrust {
  /** The roots the bundle starts from (PEM; the host's bundle). */
  roots: string;
  /** The session's inspection CA (PEM). */
  sessionCa?: string;
  /** The host's extra CAs (PEM, one certificate each). */
  hostCas?: string[];
}

/**
 * The files: each added CA in Debian's local CA directory (so `update-ca-certificates` in the guest
 * keeps them), all of them in {@linkcode GUEST_EXTRA_CA_FILE}, and the roots followed by them in
 * {@linkcode GUEST_CA_BUNDLE} and over the guest's {@linkcode GUEST_TRUST_STORE}, for programs
 * that read it directly instead of the variables.
 *
 * @example
 * ```ts
 * import { guestTrustFiles } from "./guest_trust.ts";
 * const roots = await Deno.readTextFile("/etc/ssl/certs/ca-certificates.crt");
 * const files = guestTrustFiles({ roots, hostCas: [] });
 * ```
 */
export function guestTrustFiles(trust: GuestTrust): GuestFile[] {
  const file = (path: string, pems: string[]) => ({
    path,
    contents: pems.map((pem) => `${pem.trim()}\n`).join(""),
    mode: 0o644,
  });
  const session = trust.sessionCa ? [trust.sessionCa] : [];
  const host = trust.hostCas ?? [];
  const added = [...session, ...host];
  const roots = trust.roots.trim() ? [trust.roots] : [];
  return [
    ...(session.length > 0 ? [file(GUEST_CA_FILE, session)] : []),
    ...(host.length > 0 ? [file(GUEST_HOST_CA_FILE, host)] : []),
    file(GUEST_EXTRA_CA_FILE, added),
    file(GUEST_CA_BUNDLE, [...roots, ...added]),
    file(GUEST_TRUST_STORE, [...roots, ...added]),
  ];
}

/**
 * The variables pointing the common TLS stacks at the files of {@linkcode guestTrustFiles}; the
 * ones that add a file to the roots only when there is a CA to add (Node warns on an empty one).
 *
 * @example
 * ```ts
 * import { guestTrustEnv } from "./guest_trust.ts";
 * const env = guestTrustEnv({ roots: "", hostCas: ["-----BEGIN CERTIFICATE-----…"] });
 * console.assert(env.NODE_EXTRA_CA_CERTS === "/etc/agentbox/extra-ca.pem");
 * ```
 */
export function guestTrustEnv(trust: GuestTrust): Record<string, string> {
  const adds = !!trust.sessionCa || (trust.hostCas ?? []).length > 0;
  return {
    // Replace the roots: OpenSSL (curl, Python ssl, Ruby, git), requests, curl, git.
    SSL_CERT_FILE: GUEST_CA_BUNDLE,
    REQUESTS_CA_BUNDLE: GUEST_CA_BUNDLE,
    CURL_CA_BUNDLE: GUEST_CA_BUNDLE,
    GIT_SSL_CAINFO: GUEST_CA_BUNDLE,
    // Add to the roots: Node.js and Deno.
    ...(adds ? { NODE_EXTRA_CA_CERTS: GUEST_EXTRA_CA_FILE, DENO_CERT: GUEST_EXTRA_CA_FILE } : {}),
  };
}
