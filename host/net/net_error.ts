/**
 * Typed errors of host-side name handling and address vetting. Callers branch on `code`.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";

/** Why a destination was refused before any byte was sent to it. */
export type NetErrorCode =
  | "invalid_host"
  | "ip_literal"
  | "refused_address"
  | "resolve_failed";

/**
 * A destination agentbox will not dial: a malformed name, an IP literal nobody allowed, a name
 * that does not resolve, or one that resolves to a refused address.
 *
 * @example
 * ```ts
 * import { NetError } from "./net_error.ts";
 * const err = new NetError("refused_address", "Cannot dial 127.0.0.1: loopback address");
 * console.assert(err.code === "refused_address");
 * ```
 */
export class NetError extends AgentboxError {
  /** Stable code; see {@linkcode NetErrorCode}. */
  declare readonly code: NetErrorCode;

  constructor(code: NetErrorCode, message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unavailable", code });
    this.name = "NetError";
  }
}
