/**
 * The workspace options of sandbox commands (`--share`, `--apply`, `--discard`) and what happens
 * to a session's changes when its command ends: a summary, then apply, discard, ask (on a
 * terminal) or keep them for a later `agentbox diff` / `agentbox apply`.
 *
 * @module
 */

import type { CollectedChanges } from "../session/workspace_session.ts";
import type { SessionRecord } from "../store/sessions.ts";
import type { ApplySummary } from "../workspace/apply.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";
import { renderStat } from "../workspace/render_stat.ts";
import { applySession, printSummary } from "./apply.ts";
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
 * import { afterRun } from "./workspace_options.ts";
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

/**
 * Report the changes of `session` on `log` and act on them. Returns the apply summary when the
 * changes were applied.
 *
 * @example
 * ```ts ignore
 * import { finishWorkspace } from "./workspace_options.ts";
 * await finishWorkspace(session, root, collected, "keep", console.error);
 * ```
 */
export async function finishWorkspace(
  session: SessionRecord,
  root: string,
  collected: CollectedChanges,
  after: AfterRun,
  log: (line: string) => void,
): Promise<ApplySummary | undefined> {
  const short = session.id.slice(0, 8);
  const paths = changesetPaths(sessionStateDir(session.id));
  if (collected.entries.length === 0) {
    log(`agentbox: no changes in ${root} (session ${short})`);
    return undefined;
  }
  log(`agentbox: changes in ${root} (session ${short}):`);
  const stat = await renderStat(collected.entries, { root, blobs: paths.blobs, color: false });
  for (const line of stat) log(`  ${line}`);
  if (after === "ask") after = confirm(`Apply these changes to ${root}?`) ? "apply" : "keep";
  if (after === "discard") {
    await Deno.remove(paths.changes, { recursive: true });
    log("agentbox: changes discarded");
    return undefined;
  }
  if (after === "keep") {
    log(
      `agentbox: kept: review with \`agentbox diff ${short}\`, apply with \`agentbox apply ${short}\``,
    );
    return undefined;
  }
  const summary = await applySession(session, {});
  printSummary(summary, false, (line) => log(`agentbox: ${line}`));
  return summary;
}
