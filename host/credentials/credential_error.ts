/**
 * Typed errors of credential injection. Messages name the credential's host and source kind,
 * never the secret or anything a secret source printed.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";

/** Stable reasons; callers branch on these, never on the message. */
export type CredentialErrorCode = "unavailable" | "invalid_secret";

/**
 * A secret that could not be read (variable unset, file unreadable, command failed or too slow)
 * or that cannot go into a header.
 *
 * @example
 * ```ts
 * import { CredentialError } from "./credential_error.ts";
 * const err = new CredentialError("unavailable", "Cannot read the secret for api.example.com: env ANTHROPIC_API_KEY is not set");
 * console.assert(err.code === "unavailable");
 * ```
 */
export class CredentialError extends AgentboxError {
  /** Stable code; see {@linkcode CredentialErrorCode}. */
  declare readonly code: CredentialErrorCode;

  constructor(code: CredentialErrorCode, message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unavailable", code });
    this.name = "CredentialError";
  }
}
