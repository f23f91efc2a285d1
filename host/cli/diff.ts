/**
 * `agentbox diff [SESSION] [--stat | --name-only | --patch | --json] [--hide-gitignored]`: what a
 * session's guest changed in the shared project directory, from the changeset stored on the
 * host. Read-only: nothing is applied. Everything shown came from the guest and is escaped.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { latestSessionWithChanges, sessionStateDir } from "../workspace/latest_session.ts";
import { openDatabase } from "../store/database.ts";
import { ChangesetError } from "../workspace/changeset.ts";
import { classifyChanges } from "../workspace/classify.ts";
import { hostIgnoreMatcher } from "../workspace/gitignore.ts";
import {
  hasChangeset,
  loadChangeset,
  NoChangesetError,
  type StoredChangeset,
} from "../workspace/load_changeset.ts";
import { renderJson, renderNameOnly, renderPatch } from "../workspace/render_diff.ts";
import { renderStat } from "../workspace/render_stat.ts";
import { recoverable, recoverChanges } from "../session/recover_changes.ts";
import { escapeControls, printable } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { sessionArgument } from "./logs.ts";
import { parseCommandArgs, projectOption } from "./options.ts";

/** Help text of `agentbox diff`. */
export const DIFF_HELP = `Show what a sandbox changed in the shared project directory.

Usage: agentbox diff [SESSION] [--share DIR] [--stat | --name-only | --patch | --json]
                     [--hide-gitignored]

SESSION is a session's name, id or a unique prefix of an id; without it, the most recent session
of this project (the current directory, or --share DIR) that recorded workspace changes, named
on stderr. Nothing is applied to the project. A long-lived session that
ended without collecting its changes (killed, or the host went down) gets them recovered first
from its disk, which boots a VM.

Options:
  --share DIR         the project whose latest session to show (default: the current directory)
  --patch             git-style patch (the default)
  --stat              one line per changed path with its +/- counts, then a summary
  --name-only         changed paths only, one per line (directories end in /)
  --json              one JSON document (its shape is in docs/workspace.md)
  --hide-gitignored   leave out paths ignored by the project's own .gitignore files
                      (as they were on the host; changes under .git/ are always shown)
  -h, --help          show this help`;

type Mode = "patch" | "stat" | "name-only" | "json";
const MODES: Mode[] = ["patch", "stat", "name-only", "json"];

/** Run `agentbox diff ARGS`. */
export async function diffCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("diff", args, {
    patch: { type: "boolean" },
    stat: { type: "boolean" },
    "name-only": { type: "boolean" },
    json: { type: "boolean" },
    "hide-gitignored": { type: "boolean" },
    share: { type: "string" },
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
  const db = openDatabase();
  let session: string;
  try {
    session = await chooseSession(db, positionals, await projectOption("diff", values.share));
  } finally {
    db.close();
  }
  if (!await hasChangeset(sessionStateDir(session)) && await recoverable(session)) {
    await recoverChanges(session, {
      onStart: () =>
        console.error(
          `agentbox: session ${session.slice(0, 8)} ended before its changes were collected: ` +
            "recovering them from its disk (this boots a VM)",
        ),
      onWarning: (message) => console.error(`agentbox: warning: ${escapeControls(message)}`),
    });
  }
  const changeset = await loadSessionChangeset(session);
  const output = await renderDiff(session, changeset, {
    mode: chosen[0] ?? "patch",
    hideIgnored: !!values["hide-gitignored"],
    color: Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"),
  });
  await writeOut(output);
  return 0;
}

/**
 * The id of the session named by the argument, else of the latest one of `project` with a
 * changeset (said on stderr, with the project).
 */
async function chooseSession(
  db: DatabaseSync,
  positionals: string[],
  project: string,
): Promise<string> {
  const named = sessionArgument({ db }, positionals, "diff");
  if (named !== undefined) return named;
  const latest = await latestSessionWithChanges(db, { project });
  if (!latest) {
    throw new UsageError(
      `No session of project ${printable(project)} has recorded workspace changes: name a ` +
        "SESSION, or give the project with --share DIR",
    );
  }
  console.error(`agentbox: session ${latest.id.slice(0, 8)}, project ${printable(project)}`);
  return latest.id;
}

async function loadSessionChangeset(id: string): Promise<StoredChangeset> {
  const short = printable(id.slice(0, 12));
  try {
    return await loadChangeset(sessionStateDir(id));
  } catch (error) {
    if (error instanceof NoChangesetError) {
      throw new UsageError(
        `Session ${short} has no workspace changes recorded (it shared no directory, or ` +
          "its changes were not transferred): run `agentbox diff` without SESSION for the " +
          "latest one that has",
        { cause: error },
      );
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new ChangesetError(
      `Cannot show the changes of session ${short}: ${detail}`,
      { cause: error },
    );
  }
}

/** What to print and how. */
interface DiffOptions {
  mode: Mode;
  hideIgnored: boolean;
  color: boolean;
}

/**
 * The output of `agentbox diff` for a loaded changeset, as chunks of text.
 *
 * @example
 * ```ts
 * import { renderDiff } from "./diff.ts";
 * import { loadChangeset } from "../workspace/load_changeset.ts";
 * const changeset = await loadChangeset("/state/sessions/abc");
 * const options = { mode: "stat" as const, hideIgnored: false, color: false };
 * for await (const chunk of await renderDiff("abc", changeset, options)) console.log(chunk);
 * ```
 */
export async function renderDiff(
  session: string,
  changeset: StoredChangeset,
  options: DiffOptions,
): Promise<AsyncIterable<string>> {
  const { baseline, records, paths } = changeset;
  const root = baseline.root;
  const matcher = options.hideIgnored ? hostIgnoreMatcher(baseline, root) : undefined;
  const entries = await classifyChanges(records, baseline, {
    root,
    blobs: paths.blobs,
    ignore: matcher && ((path, isDir) => matcher.ignored(path, isDir)),
  });
  const render = { root, blobs: paths.blobs, color: options.color };
  switch (options.mode) {
    case "json":
      return lines([renderJson(entries, { session, root })]);
    case "name-only":
      return lines(renderNameOnly(entries));
    case "stat":
      return lines(await renderStat(entries, render));
    case "patch":
      return entries.length ? renderPatch(entries, render) : lines(["No changes."]);
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
