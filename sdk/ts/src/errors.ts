/**
 * The SDK's one error type: what the server answered (`kind`, `code`, `status`), or why it could
 * not be reached.
 *
 * @module
 */

/**
 * A failure reported by `agentbox serve` (its `{"error": {kind, code, message}}` body, with the
 * HTTP status), or by the SDK itself (`status` 0: the server could not be reached, or it broke
 * the protocol).
 *
 * @example
 * ```ts
 * import { AgentboxError } from "./errors.ts";
 * const error = new AgentboxError("No sandbox x", { kind: "not_found", code: "session_unknown", status: 404 });
 * console.assert(error.kind === "not_found" && error.status === 404);
 * ```
 */
export class AgentboxError extends Error {
  /** The kind of failure: `usage`, `not_found`, `conflict`, `state`, `timeout`, … */
  readonly kind: string;
  /** A stable code naming the failure, e.g. `session_unknown`, `unauthorized`. */
  readonly code: string;
  /** The HTTP status (0 when there was no answer). */
  readonly status: number;

  constructor(
    message: string,
    options: { kind: string; code: string; status: number; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AgentboxError";
    this.kind = options.kind;
    this.code = options.code;
    this.status = options.status;
  }
}

/**
 * The error a server's error body (or a stream's `error` event) describes; a body that is not
 * one still gives an error with the status.
 */
export function errorFromBody(status: number, body: unknown, fallback: string): AgentboxError {
  const error = (body as { error?: unknown } | null)?.error as
    | Record<string, unknown>
    | undefined;
  if (
    error && typeof error.kind === "string" && typeof error.code === "string" &&
    typeof error.message === "string"
  ) {
    return new AgentboxError(error.message, { kind: error.kind, code: error.code, status });
  }
  return new AgentboxError(fallback, {
    kind: status >= 500 ? "internal" : "usage",
    code: `http_${status}`,
    status,
  });
}

/** The SDK's own error for an answer that breaks the protocol. */
export function protocolError(message: string): AgentboxError {
  return new AgentboxError(message, { kind: "internal", code: "protocol_error", status: 0 });
}

/**
 * A command that did not exit 0, thrown by `exec(argv, { check: true })`: kind `failed`, code
 * `command_failed`, with the command's result.
 */
export class CommandError<Result extends { exitCode: number | null }> extends AgentboxError {
  /** What the command did: exit code, signal, output. */
  readonly result: Result;

  constructor(argv: string[], result: Result & { signal?: string | null }) {
    const how = result.exitCode === null
      ? `was killed by ${result.signal}`
      : `exited ${result.exitCode}`;
    super(`${JSON.stringify(argv).slice(0, 200)} ${how}`, {
      kind: "failed",
      code: "command_failed",
      status: 0,
    });
    this.name = "CommandError";
    this.result = result;
  }
}
