/**
 * The workspace options of sandbox commands (`--share`, `--apply`, `--discard`) as flags: their
 * specs, help and validation. Apart from workspace_options.ts (what happens to the changes when
 * the command ends) so that the flag table, which `exec --session` loads, loads no apply code.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/** `parseCommandArgs` specs of the workspace options. */
export const SHARE_OPTIONS = {
  share: { type: "string" },
  apply: { type: "boolean" },
  discard: { type: "boolean" },
  "system-diff": { type: "boolean" },
} as const;

/** Help line of `--system-diff`. */
export const SYSTEM_DIFF_HELP =
  `  --system-diff     also record what the command changed on the machine outside the
                    workspace, for \`agentbox diff ID --system\` (and in --json's report)`;

/** Help lines of the workspace options. */
export const SHARE_HELP =
  `  --share DIR       show DIR to the command at /workspace (its working directory); its
                    changes are kept aside for review, never written to DIR directly
  --apply           apply the changes to DIR when the command ends
  --discard         throw the changes away when the command ends
${SYSTEM_DIFF_HELP}`;

/** What to do with the changes: `ask` on a terminal, else `keep` unless told. */
export type AfterRun = "apply" | "discard" | "ask" | "keep";

/**
 * Validate the workspace options.
 *
 * @example
 * ```ts
 * import { afterRun } from "./share_options.ts";
 * console.assert(afterRun({ share: ".", apply: true }, false) === "apply");
 * ```
 */
export function afterRun(values: Record<string, unknown>, interactive: boolean): AfterRun {
  if (values.apply && values.discard) {
    throw new UsageError("--apply and --discard cannot be used together");
  }
  if ((values.apply || values.discard) && values.share === undefined) {
    throw new UsageError(`--${values.apply ? "apply" : "discard"} needs --share DIR`);
  }
  if (values.apply) return "apply";
  if (values.discard) return "discard";
  return interactive ? "ask" : "keep";
}
