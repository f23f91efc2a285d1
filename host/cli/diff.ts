/**
 * `agentbox diff [SESSION] [--stat | --name-only | --patch | --json] [--hide-gitignored]`: what a
 * session's guest changed in the shared project directory, from the changeset stored on the
 * host. Read-only: nothing is applied. Everything shown came from the guest and is escaped.
 *
 * @module
 */

import { diffChanges, findChangesSession, loadChanges, projectPaths } from "../api/changes.ts";
import type { ChangesView } from "../api/changes.ts";
import { openContext } from "../api/context.ts";
import { collectIfRunning } from "../api/live_changes.ts";
import { resolveSessionRef } from "../api/network_records.ts";
import type { StoredChangeset } from "../api/changes.ts";
import { renderJson, renderNameOnly, renderPatch, renderStat } from "../api/change_text.ts";
import { printable } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { useColor } from "./output_settings.ts";
import { printEvent } from "./print_event.ts";
import { parseCommandArgs, projectOption } from "./options.ts";
import { systemDiffCommand } from "./system_diff.ts";

/** Help text of `agentbox diff`. */
export const DIFF_HELP = `Show what a sandbox changed in the shared project directory.

Usage: agentbox diff [SESSION] [--share DIR] [--stat | --name-only | --patch | --json]
                     [--hide-gitignored] [-- PATH...]
       agentbox diff SESSION --system [--stat | --name-only | --json] [--exclude GLOB]...

SESSION is a session's name, id or a unique prefix of an id; without it, the most recent session
of this project (the current directory, or --share DIR) that recorded workspace changes, named
on stderr. Nothing is applied to the project. A long-lived session that
ended without collecting its changes (killed, or the host went down) gets them recovered first
from its disk, which boots a VM. PATHs after \`--\` (relative to the project, or absolute
inside it; globs as in \`agentbox apply --path\`) show only the changes at or below them.
Entries already applied to the host are marked as applied. Entries a filter hides are counted.

Options:
  --share DIR         the project whose latest session to show (default: the current directory)
  --patch             git-style patch (the default)
  --stat              one line per changed path with its +/- counts, then a summary
  --name-only         changed paths only, one per line (directories end in /)
  --json              one JSON document (its shape is in docs/workspace.md)
  --hide-gitignored   leave out paths ignored by the project's own .gitignore files
                      (as they were on the host; changes under .git/ are always shown)
  --system            what the session changed on its machine outside the workspace:
                      packages, users and groups, services, /etc diffs, files
                      (docs/system-diff.md); recorded when the session stopped
  --exclude GLOB      with --system: also leave out matching paths (repeatable; relative
                      to /, on top of the default list of caches, logs and temporary dirs)
  -h, --help          show this help`;

type Mode = "patch" | "stat" | "name-only" | "json";
const MODES: Mode[] = ["patch", "stat", "name-only", "json"];

/** Run `agentbox diff ARGS`. */
export async function diffCommand(args: string[]): Promise<number> {
  // `-- PATH...` is this command's own: the paths are not options, whatever they look like.
  const dash = args.indexOf("--");
  const pathArgs = dash < 0 ? [] : args.slice(dash + 1);
  const { values, positionals } = parseCommandArgs("diff", dash < 0 ? args : args.slice(0, dash), {
    patch: { type: "boolean" },
    stat: { type: "boolean" },
    "name-only": { type: "boolean" },
    json: { type: "boolean" },
    "hide-gitignored": { type: "boolean" },
    share: { type: "string" },
    system: { type: "boolean" },
    exclude: { type: "string", multiple: true },
  });
  if (values.help) {
    console.log(DIFF_HELP);
    return 0;
  }
  const chosen = MODES.filter((mode) => values[mode]);
  if (chosen.length > 1) {
    throw new UsageError(
      `Choose one of --${chosen.join(", --")}: see \`agentbox diff --help\``,
    );
  }
  if (values.system) {
    return await systemDiffHook(positionals, (values.exclude ?? []) as string[], chosen[0]);
  }
  if (positionals.length > 1) {
    throw new UsageError(
      "Too many arguments: paths go after `--` (`agentbox diff [SESSION] -- PATH...`)",
    );
  }
  await using ctx = openContext({ onEvent: printEvent });
  const target = await findChangesSession(ctx, {
    ref: positionals[0],
    project: await projectOption("diff", values.share),
    purpose: "diff",
  });
  if (target.latest) {
    console.error(
      `agentbox: session ${target.session.id.slice(0, 8)}, project ${printable(target.project)}`,
    );
  }
  const changeset = await loadChanges(ctx, target.session);
  const view = await diffChanges(changeset, {
    hideIgnored: !!values["hide-gitignored"],
    paths: projectPaths(pathArgs, changeset.baseline.root),
  });
  const mode = chosen[0] ?? "patch";
  const output = await renderDiff(target.session.id, changeset, view, {
    mode,
    color: useColor(Deno.stdout),
  });
  await writeOut(output);
  const hidden = hiddenNote(view);
  // Said on stderr where stdout did not say it (a patch or a list stays clean for tools).
  const said = mode === "json" || (view.entries.length === 0 && mode !== "name-only");
  if (hidden && !said) console.error(`agentbox: ${hidden}`);
  return 0;
}

/** `--system`: the session must be named; the rendering is system_diff.ts's. */
async function systemDiffHook(
  positionals: string[],
  exclude: string[],
  mode: Mode | undefined,
): Promise<number> {
  if (positionals.length !== 1) throw new UsageError("diff --system needs one SESSION");
  await using ctx = openContext({ onEvent: printEvent });
  const session = resolveSessionRef(ctx, positionals[0]);
  await collectIfRunning(ctx, session, "system");
  return await systemDiffCommand(session, {
    json: mode === "json",
    nameOnly: mode === "name-only",
    stat: mode === "stat",
    exclude,
  });
}

/** How many entries the filters left out, as words, or `undefined` when none. */
function hiddenNote(view: ChangesView): string | undefined {
  const parts = [];
  if (view.hiddenIgnored) parts.push(`${view.hiddenIgnored} hidden by --hide-gitignored`);
  if (view.hiddenByPath) parts.push(`${view.hiddenByPath} outside the given paths`);
  if (parts.length === 0) return undefined;
  const total = view.hiddenIgnored + view.hiddenByPath;
  return `${total} ${total === 1 ? "entry" : "entries"} not shown: ${parts.join(", ")}`;
}

/** What to print and how. */
interface DiffOptions {
  mode: Mode;
  color: boolean;
}

/**
 * The output of `agentbox diff` for a diff, as chunks of text.
 *
 * @example
 * ```ts ignore
 * import { renderDiff } from "./diff.ts";
 * import { diffChanges, loadChanges } from "../api/changes.ts";
 * const changeset = await loadChanges(ctx, session);
 * const view = await diffChanges(changeset);
 * const options = { mode: "stat" as const, color: false };
 * for await (const chunk of await renderDiff("abc", changeset, view, options)) console.log(chunk);
 * ```
 */
export async function renderDiff(
  session: string,
  changeset: StoredChangeset,
  view: ChangesView,
  options: DiffOptions,
): Promise<AsyncIterable<string>> {
  const root = changeset.baseline.root;
  const entries = view.entries;
  const render = { root, blobs: changeset.paths.blobs, color: options.color };
  const hidden = hiddenNote(view);
  const none = hidden ? `No changes shown (${hidden}).` : "No changes.";
  switch (options.mode) {
    case "json":
      return lines([renderJson(entries, {
        session,
        root,
        applied: view.applied,
        hidden: { gitignored: view.hiddenIgnored, byPath: view.hiddenByPath },
      })]);
    case "name-only":
      return lines(renderNameOnly(entries));
    case "stat": {
      if (entries.length === 0) return lines([none]);
      const stat = await renderStat(entries, render);
      if (view.applied) stat.push(` ${view.applied} of ${entries.length} already applied`);
      return lines(stat);
    }
    case "patch":
      return entries.length ? renderPatch(entries, render) : lines([none]);
  }
}

async function* lines(texts: string[]): AsyncGenerator<string> {
  if (texts.length) yield texts.join("\n") + "\n";
}

/** Write chunks to stdout; a reader that went away (`| head`) ends the output quietly. */
async function writeOut(chunks: AsyncIterable<string>): Promise<void> {
  const encoder = new TextEncoder();
  try {
    for await (const chunk of chunks) {
      const bytes = encoder.encode(chunk);
      for (let written = 0; written < bytes.length;) {
        written += await Deno.stdout.write(bytes.subarray(written));
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}
