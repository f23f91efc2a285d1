/**
 * What happens to a session's changes when its command ends (the `--share`, `--apply` and
 * `--discard` flags themselves are share_options.ts): a summary, then apply, discard, ask (on a
 * terminal) or keep them for a later `agentbox diff` / `agentbox apply`.
 *
 * @module
 */

import type { CollectedChanges } from "../session/workspace_session.ts";
import { applyChanges, type ApplySummary } from "../api/apply_changes.ts";
import { sessionStat } from "../api/change_text.ts";
import { discardChanges, type SessionRef } from "../api/changes.ts";
import type { ApiContext } from "../api/context.ts";
import { confirmHighRisk, printSummary } from "./apply.ts";
import type { AfterRun } from "./share_options.ts";

/** A new directory with this many changed entries below it is one line of the summary. */
export const COLLAPSE_AT = 20;

/**
 * Report the changes of `session` on `log` and act on them. Returns the apply summary when the
 * changes were applied.
 *
 * @example
 * ```ts ignore
 * import { finishWorkspace } from "./workspace_options.ts";
 * await finishWorkspace(ctx, session, root, collected, "keep", console.error);
 * ```
 */
export async function finishWorkspace(
  ctx: ApiContext,
  session: SessionRef,
  root: string,
  collected: CollectedChanges,
  after: AfterRun,
  log: (line: string) => void,
): Promise<ApplySummary | undefined> {
  const short = session.id.slice(0, 8);
  if (collected.entries.length === 0) {
    log(`agentbox: no changes in ${root} (session ${short})`);
    return undefined;
  }
  log(`agentbox: changes in ${root} (session ${short}):`);
  const stat = await sessionStat(session.id, collected.entries, { root, collapseAt: COLLAPSE_AT });
  for (const line of stat) log(`  ${line}`);
  if (stat.some((line) => line.endsWith("(new directory, collapsed)"))) {
    log(`agentbox: every file: \`agentbox diff ${short} --stat\``);
  }
  if (after === "ask") after = confirm(`Apply these changes to ${root}?`) ? "apply" : "keep";
  if (after === "discard") {
    await discardChanges(session);
    log("agentbox: changes discarded");
    return undefined;
  }
  if (after === "keep") {
    log(
      `agentbox: kept: review with \`agentbox diff ${short}\`, apply with \`agentbox apply ${short}\``,
    );
    return undefined;
  }
  const summary = await applyChanges(ctx, session, {}, {
    confirmHighRisk: Deno.stdin.isTerminal() ? confirmHighRisk : undefined,
  });
  printSummary(summary, {
    session: session.id,
    project: root,
    log: (line) => log(`agentbox: ${line}`),
  });
  return summary;
}
