/**
 * The core's errors, as front ends see them: every failure an operation reports is an
 * {@linkcode AgentboxError} with a `kind` (closed set, {@linkcode ERROR_KINDS}) and a stable
 * `code`. Edges map kinds outward with one table each — the CLI to exit statuses
 * (host/cli/errors.ts), a server to HTTP statuses — and never branch on a message.
 *
 * The class lives in the bottom layer (host/agentbox_error.ts) so that mechanisms throw it
 * without importing the core; this module is where the core's callers import it from.
 *
 * Codes the core itself throws: `spec_invalid` (a sandbox spec that fails validation),
 * `plan_invalid` (a detached session's plan), `name_taken` (a session name in use); mechanisms add
 * theirs (`session_unknown`, `snapshot_exists`, `vm_died`, `config_invalid`, the protocol's codes,
 * …), each documented where it is thrown.
 *
 * @module
 */

export {
  AgentboxError,
  asAgentboxError,
  ERROR_KINDS,
  type ErrorKind,
  UsageError,
} from "../agentbox_error.ts";
