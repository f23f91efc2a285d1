/**
 * Typed errors of the TLS inspection CA and its leaf certificates.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";

/** Stable reasons; callers branch on these, never on the message. */
export type TlsErrorCode = "not_mintable" | "ca_file" | "ca_expired" | "host_trust";

/**
 * A certificate agentbox will not or cannot produce: a leaf for a name the CA must not vouch for
 * (an IP literal, a name outside the CA's name constraints), or a persisted CA file that cannot be
 * used.
 *
 * @example
 * ```ts
 * import { TlsError } from "./tls_error.ts";
 * const err = new TlsError("not_mintable", "Cannot mint a certificate for 10.0.0.1");
 * console.assert(err.code === "not_mintable");
 * ```
 */
export class TlsError extends AgentboxError {
  /** Stable code; see {@linkcode TlsErrorCode}. */
  declare readonly code: TlsErrorCode;

  constructor(code: TlsErrorCode, message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "failed", code });
    this.name = "TlsError";
  }
}
