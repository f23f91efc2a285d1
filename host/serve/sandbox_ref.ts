/**
 * The sandbox a route's `{id}` names. A name that matches no sandbox is the resource missing
 * (`404`, kind `not_found`), not a bad request: the CLI's `session_unknown` usage error, mapped
 * for the API.
 *
 * @module
 */

import type { ApiContext } from "../api/context.ts";
import { AgentboxError, asAgentboxError } from "../api/errors.ts";
import { resolveSessionRef } from "../api/network_records.ts";

/**
 * The id of the sandbox `ref` (an id, a name or a unique id prefix); throws kind `not_found`,
 * code `session_unknown`, when none matches.
 *
 * @example
 * ```ts
 * import { sandboxId } from "./sandbox_ref.ts";
 * import { openContext } from "../api/context.ts";
 * import { openDatabase } from "../store/database.ts";
 * using ctx = openContext({ db: openDatabase(":memory:") });
 * try {
 *   sandboxId(ctx, "nope");
 * } catch (error) {
 *   console.assert((error as { kind: string }).kind === "not_found");
 * }
 * ```
 */
export function sandboxId(ctx: Pick<ApiContext, "db">, ref: string): string {
  try {
    return resolveSessionRef(ctx, ref);
  } catch (error) {
    const failure = asAgentboxError(error);
    if (failure.code !== "session_unknown") throw error;
    throw new AgentboxError(failure.message.replace(/^No single session/, "No sandbox"), {
      kind: "not_found",
      code: "session_unknown",
      cause: error,
    });
  }
}
