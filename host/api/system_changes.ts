/**
 * The system diff and its export, as operations: what a session's guest changed on its machine
 * outside the workspace (`agentbox diff --system`), summarized (packages, accounts, services,
 * `/etc` diffs, files), and that summary turned into an Ansible playbook or an idempotent shell
 * script (`agentbox export`) — only what the caller selected, never a secret. Both read the system
 * changeset the session stored when it stopped (or a one-shot run stored with `--system-diff`).
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import type { ExportPlan, ExportStep } from "../system/export_plan.ts";
import { type ExportKind, exportPlan } from "../system/export_plan.ts";
import { INLINE_BYTES, renderAnsible } from "../system/render_ansible.ts";
import { renderScript } from "../system/render_script.ts";
import {
  loadSystemChangeset,
  NoSystemChangesetError,
  type StoredSystemChangeset,
} from "../system/system_changeset.ts";
import { afterText, summarizeSystemChanges, type SystemSummary } from "../system/system_summary.ts";
import { parseGroup, parsePasswd } from "../system/user_db.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";
import { pathSelector } from "../workspace/path_glob.ts";

export { EXPORT_KINDS, type ExportKind } from "../system/export_plan.ts";
export type { SystemSummary } from "../system/system_summary.ts";

/** Version of the JSON document `agentbox diff --system --json` prints. */
export const SYSTEM_DIFF_JSON_VERSION = 1;

/** Options of {@linkcode systemDiff}. */
export interface SystemDiffOptions {
  /** Globs (relative to `/`) left out on top of the default exclude list. */
  exclude?: readonly string[];
}

/** A session's system diff. */
export interface SystemDiffReport {
  session: string;
  summary: SystemSummary;
}

/**
 * The system diff of `session` (a full id). Throws `AgentboxError` `no_system_changeset`
 * (not_found) when the session recorded none, `GlobError` (usage) for a bad exclude glob.
 *
 * @example
 * ```ts ignore
 * import { systemDiff } from "./system_changes.ts";
 * const { summary } = await systemDiff("0f3c2a9e…");
 * console.log(summary.packages.installed);
 * ```
 */
export async function systemDiff(
  session: string,
  options: SystemDiffOptions = {},
): Promise<SystemDiffReport> {
  const stored = await loadStored(session);
  return { session, summary: await summarizeSystemChanges(stored, options) };
}

async function loadStored(session: string): Promise<StoredSystemChangeset> {
  try {
    return await loadSystemChangeset(sessionStateDir(session));
  } catch (error) {
    if (!(error instanceof NoSystemChangesetError)) throw error;
    throw new AgentboxError(
      `Session ${session.slice(0, 12)} has no system changes recorded: they are collected when ` +
        "a session stops (`agentbox stop`), or by `exec`/`run --system-diff`, with an image built " +
        "by this version",
      { kind: "not_found", code: "no_system_changeset", cause: error },
    );
  }
}

/** Options of {@linkcode exportSystemChanges}. */
export interface SystemExportOptions extends SystemDiffOptions {
  format: "ansible" | "script";
  /** Path globs (relative to `/`, or absolute) of the files to take; none: every file. */
  paths?: readonly string[];
  /** Kinds of change left out. */
  skip?: readonly ExportKind[];
  /** Take high-risk files too; else they are TODOs. */
  allowHighRisk?: boolean;
  /**
   * Write the export into this directory (created; it must be empty): `playbook.yml` and
   * `files/` (ansible), or `apply.sh` (script). Without it only the text is returned, and files
   * an Ansible playbook cannot inline become TODOs.
   */
  out?: string;
}

/** An export. */
export interface SystemExport {
  session: string;
  format: "ansible" | "script";
  /** The playbook or the script. */
  text: string;
  plan: ExportPlan;
  /** Files written under `out`, relative to it. */
  written: string[];
}

/**
 * Export the system diff of `session` as an Ansible playbook or a shell script. Throws as
 * {@linkcode systemDiff} does, and `AgentboxError` `out_not_empty` (usage) when `out` holds files.
 *
 * @example
 * ```ts ignore
 * import { exportSystemChanges } from "./system_changes.ts";
 * const { text } = await exportSystemChanges("0f3c2a9e…", { format: "script", paths: ["etc/nginx"] });
 * ```
 */
export async function exportSystemChanges(
  session: string,
  options: SystemExportOptions,
): Promise<SystemExport> {
  const stored = await loadStored(session);
  const summary = await summarizeSystemChanges(stored, options);
  const names = {
    users: new Map(
      [...parsePasswd(await afterText(stored, "etc/passwd") ?? "").values()].map((u) =>
        [u.uid, u.name] as const
      ),
    ),
    groups: new Map(
      [...parseGroup(await afterText(stored, "etc/group") ?? "").values()].map((g) =>
        [g.gid, g.name] as const
      ),
    ),
  };
  const globs = (options.paths ?? []).map((glob) => glob.replace(/^\/+/, ""));
  const plan = exportPlan(summary, names, {
    selected: pathSelector(globs),
    allowHighRisk: options.allowHighRisk ?? false,
    skip: new Set(options.skip ?? []),
  });
  const blob = (step: FileStep) => Deno.readFile(`${stored.changes.blobs}/${step.sha256}`);
  const title = `Reproduce the system changes of agentbox session ${session.slice(0, 12)}`;
  if (options.out) await prepareOut(options.out);
  const written: string[] = [];
  let text: string;
  if (options.format === "script") {
    text = await renderScript(plan, { title, content: blob });
    if (options.out) {
      await Deno.writeTextFile(`${options.out}/apply.sh`, text, { mode: 0o755 });
      written.push("apply.sh");
    }
  } else {
    const inline = new Map<string, string>();
    const steps: ExportStep[] = [];
    for (const step of plan.steps) {
      if (step.kind !== "file") {
        steps.push(step);
        continue;
      }
      const content = step.size <= INLINE_BYTES ? textOf(await blob(step)) : undefined;
      if (content !== undefined) inline.set(step.path, content);
      else if (!options.out) {
        steps.push({ kind: "todo", path: step.path, reason: "binary or large: export with --out" });
        continue;
      }
      steps.push(step);
    }
    const finalPlan = { ...plan, steps };
    text = renderAnsible(finalPlan, { title, inline: (step) => inline.get(step.path) });
    if (options.out) {
      await Deno.mkdir(`${options.out}/files`, { mode: 0o700 });
      for (const step of steps) {
        if (step.kind !== "file" || inline.has(step.path)) continue;
        const name = `files/${step.sha256}`;
        if (written.includes(name)) continue;
        await Deno.writeFile(`${options.out}/${name}`, await blob(step), { mode: 0o600 });
        written.push(name);
      }
      await Deno.writeTextFile(`${options.out}/playbook.yml`, text, { mode: 0o644 });
      written.push("playbook.yml");
    }
    return { session, format: "ansible", text, plan: finalPlan, written };
  }
  return { session, format: options.format, text, plan, written };
}

type FileStep = Extract<ExportStep, { kind: "file" }>;

function textOf(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

async function prepareOut(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  for await (const _ of Deno.readDir(dir)) {
    throw new AgentboxError(
      `Cannot export into ${dir}: it is not empty; choose a new or empty directory`,
      { kind: "usage", code: "out_not_empty" },
    );
  }
}
