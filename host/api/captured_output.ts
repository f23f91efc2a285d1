/**
 * Where a command's captured output goes (`exec --json`): a fresh directory below the session's
 * state directory. Light on purpose: `exec --session` loads it.
 *
 * @module
 */

import { sessionStateDir } from "../workspace/latest_session.ts";

/**
 * A fresh directory for one command's captured output, `…/sessions/ID/output/RANDOM` (not
 * created here).
 *
 * @example
 * ```ts
 * import { commandOutputDir } from "./captured_output.ts";
 * console.log(commandOutputDir("0f3c2a9e")); // …/agentbox/sessions/0f3c2a9e/output/1a2b3c4d
 * ```
 */
export function commandOutputDir(sessionId: string): string {
  return `${sessionStateDir(sessionId)}/output/${crypto.randomUUID().slice(0, 8)}`;
}
