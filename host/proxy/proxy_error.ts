/**
 * Why the proxy refused or failed a request, with the HTTP status the client sees.
 *
 * @module
 */

/** Stable reasons; clients of the API branch on these, never on the message. */
export type ProxyErrorCode =
  | "bad_request"
  | "head_too_large"
  | "timeout"
  | "policy_denied"
  | "address_refused"
  | "name_mismatch"
  | "upstream_failed"
  | "log_failed"
  | "credential_unavailable"
  | "too_many_connections";

const STATUS: Record<ProxyErrorCode, number> = {
  bad_request: 400,
  head_too_large: 431,
  timeout: 408,
  policy_denied: 403,
  address_refused: 403,
  name_mismatch: 403,
  upstream_failed: 502,
  log_failed: 503,
  credential_unavailable: 503,
  too_many_connections: 503,
};

/**
 * A refusal or failure inside the proxy. `status` is what the client is answered with; the
 * message is safe to show to the sandboxed program (it says which rule refused it and how to
 * allow it, never anything secret).
 *
 * @example
 * ```ts
 * import { ProxyError } from "./proxy_error.ts";
 * const err = new ProxyError("policy_denied", "example.com is not on the allowlist");
 * console.assert(err.status === 403);
 * ```
 */
export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;

  constructor(code: ProxyErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProxyError";
    this.code = code;
    this.status = STATUS[code];
  }
}
