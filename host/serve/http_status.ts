/**
 * The server's one error path: every failure becomes `{"error": {kind, code, message}}` with an
 * HTTP status chosen by the error's kind from one table, as the CLI chooses exit statuses.
 *
 * @module
 */

import { asAgentboxError, type ErrorKind } from "../api/errors.ts";

/** The HTTP status of each kind of failure: the server's one mapping. */
export const HTTP_STATUS: Record<ErrorKind, 400 | 404 | 409 | 422 | 500 | 502 | 503 | 504> = {
  usage: 400,
  not_found: 404,
  conflict: 409,
  state: 409,
  command_not_found: 422,
  timeout: 504,
  unavailable: 503,
  vm: 500,
  guest: 502,
  failed: 500,
  internal: 500,
};

/** The body of an error response (and of an `error` event on a stream). */
export interface ErrorBody {
  error: { kind: ErrorKind; code: string; message: string };
}

/**
 * The status and body for `error`.
 *
 * @example
 * ```ts
 * import { errorResponse } from "./http_status.ts";
 * import { UsageError } from "../api/errors.ts";
 * const { status, body } = errorResponse(new UsageError("bad", { code: "spec_invalid" }));
 * console.assert(status === 400 && body.error.code === "spec_invalid");
 * ```
 */
export function errorResponse(error: unknown): { status: number; body: ErrorBody } {
  const failure = asAgentboxError(error);
  return {
    status: HTTP_STATUS[failure.kind],
    body: { error: { kind: failure.kind, code: failure.code, message: failure.message } },
  };
}
