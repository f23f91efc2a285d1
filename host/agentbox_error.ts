/**
 * The one error taxonomy every front end maps outward: each error a caller may branch on is an
 * {@linkcode AgentboxError} with a `kind` (what class of failure, closed set) and a stable `code`
 * (which failure, documented where it is thrown). The CLI maps kinds to exit statuses and a server
 * maps them to HTTP statuses, each with one table (`Record<ErrorKind, …>`); nobody branches on
 * `message`.
 *
 * It sits in the bottom layer so that mechanisms (`host/vm/`, `host/net/`, …) can throw it without
 * importing upward; `host/api/errors.ts` is the core's view of it.
 *
 * @module
 */

/** Every kind of failure, in the order docs list them. */
export const ERROR_KINDS = [
  "usage",
  "not_found",
  "conflict",
  "state",
  "command_not_found",
  "timeout",
  "unavailable",
  "vm",
  "guest",
  "failed",
  "internal",
] as const;

/**
 * What class of failure an error is:
 *
 * - `usage`: the request itself is wrong (a flag, a value, a configuration file);
 * - `not_found`: it names something that does not exist (a session, a snapshot);
 * - `conflict`: it would clash with something that exists (a name taken);
 * - `state`: the thing exists but is not in a state to do it (a session that is not running);
 * - `command_not_found`: the guest could not start the command;
 * - `timeout`: a deadline passed;
 * - `unavailable`: this host lacks something (an image, KVM, a tap network, a package);
 * - `vm`: the VM could not start or died;
 * - `guest`: the guest or its agent misbehaved or refused;
 * - `failed`: an operation on the host failed (apply, journal, snapshot copy);
 * - `internal`: a bug in agentbox.
 */
export type ErrorKind = typeof ERROR_KINDS[number];

/** Options of {@linkcode AgentboxError}. */
export interface AgentboxErrorOptions extends ErrorOptions {
  kind: ErrorKind;
  /** Stable, snake_case; documented by the module that throws it. */
  code: string;
}

/**
 * A failure with a kind and a stable code. Messages are one sentence-case line without a trailing
 * period ("Cannot X: detail"); causes are chained with `cause`, never pasted into the message.
 *
 * @example
 * ```ts
 * import { AgentboxError } from "./agentbox_error.ts";
 * const error = new AgentboxError("No session is named web", {
 *   kind: "not_found",
 *   code: "session_unknown",
 * });
 * console.assert(error.kind === "not_found" && error.code === "session_unknown");
 * ```
 */
export class AgentboxError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;

  constructor(message: string, options: AgentboxErrorOptions) {
    super(message, options);
    this.name = "AgentboxError";
    this.kind = options.kind;
    this.code = options.code;
  }
}

/**
 * `error` as an {@linkcode AgentboxError}: itself when it is one, else an `internal` error that
 * keeps it as its cause.
 *
 * @example
 * ```ts
 * import { asAgentboxError } from "./agentbox_error.ts";
 * console.assert(asAgentboxError(new TypeError("x")).kind === "internal");
 * ```
 */
export function asAgentboxError(error: unknown): AgentboxError {
  if (error instanceof AgentboxError) return error;
  const message = error instanceof Error ? error.message : String(error).slice(0, 200);
  return new AgentboxError(message, { kind: "internal", code: "internal", cause: error });
}

/**
 * A request that cannot be carried out as asked: `kind` `usage`.
 *
 * @example
 * ```ts
 * import { UsageError } from "./agentbox_error.ts";
 * console.assert(new UsageError("Unknown option --foo").code === "usage");
 * ```
 */
export class UsageError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, { ...options, kind: "usage", code: options?.code ?? "usage" });
    this.name = "UsageError";
  }
}
