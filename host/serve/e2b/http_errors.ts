/**
 * How the E2B endpoints report a failure: the server's HTTP status of an `AgentboxError`'s kind
 * (host/serve/http_status.ts) in the body E2B's API uses (`{code, message}`), and the Connect code
 * envd's RPCs use.
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { AgentboxError, asAgentboxError, type ErrorKind } from "../../api/errors.ts";
import { HTTP_STATUS } from "../http_status.ts";

/** The Connect code of each kind of failure. */
export const CONNECT_CODE: Record<ErrorKind, Code> = {
  usage: Code.InvalidArgument,
  not_found: Code.NotFound,
  conflict: Code.AlreadyExists,
  state: Code.FailedPrecondition,
  command_not_found: Code.InvalidArgument,
  timeout: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
  vm: Code.Unavailable,
  guest: Code.Internal,
  failed: Code.Internal,
  internal: Code.Internal,
};

/** Codes whose status E2B's SDK reads in its own way. */
const E2B_STATUS: Record<string, number> = { e2b_unsupported: 501, e2b_too_many_sandboxes: 429 };

/** The E2B API's error body and status for `error`. */
export function apiError(
  error: unknown,
): { status: number; body: { code: number; message: string } } {
  const e = asAgentboxError(error);
  // Not 503: the SDK reads that as "busy, retry". 429 is E2B's "too many sandboxes".
  const status = E2B_STATUS[e.code] ?? HTTP_STATUS[e.kind];
  return { status, body: { code: status, message: e.message } };
}

/** `error` as a Connect error (one already is stays as it is). */
export function connectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const e = asAgentboxError(error);
  const code = e.code === "e2b_unsupported" ? Code.Unimplemented : CONNECT_CODE[e.kind];
  return new ConnectError(e.message, code, undefined, undefined, e);
}

/** A feature agentbox does not serve, said the same way everywhere. */
export function unsupported(what: string): AgentboxError {
  return new AgentboxError(`${what} is not supported by agentbox's E2B endpoints (docs/e2b.md)`, {
    kind: "unavailable",
    code: "e2b_unsupported",
  });
}
