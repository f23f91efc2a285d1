/**
 * `agentbox cp SRC DEST`: copy files between the host and a running session; one side is
 * `SESSION:PATH`. Parse → call api/files.ts → render.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { copyFromSession, copyToSession } from "../api/files.ts";
import { resolve } from "node:path";
import { printable } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox cp`. */
export const CP_HELP = `Copy files and directories between the host and a running session.

Usage: agentbox cp [OPTIONS] PATH SESSION:GUEST_PATH
       agentbox cp [OPTIONS] SESSION:GUEST_PATH PATH

SESSION is a session's name, id or a unique prefix of an id. A GUEST_PATH that does not start
with / is taken from /workspace (the shared directory in the guest); the copy can go anywhere in
the guest. A host PATH containing a colon is written with a / before it (./a:b). Put -- before
a PATH that starts with a dash.

The copy goes into the destination when it is an existing directory, and is made as the
destination otherwise (its parent must exist). Symbolic links are copied as links, never
followed, in both directions.

Into the guest, new files belong to the session's user (the image's user) and keep their
permission bits; an existing guest file is replaced, an existing directory merged into.

Out of the guest, the rules of \`agentbox apply\` hold: names with control characters (a newline),
that are not valid UTF-8 or too long for the host are skipped and listed; no host symlink is
followed; only the execute bit of a mode crosses (less the umask) unless --exact-modes; setuid,
setgid and sticky bits never do. The copy is built aside and appears whole or not at all; it
replaces a file at the destination, never a directory.

Options:
  --exact-modes  copying out: give files and directories the guest's permission bits
  --verbose      print the causes of an error
  -h, --help     show this help

Exit status: 0 copied, 1 copied but some entries were skipped (listed), 125 usage error or
unknown session, 126 the copy failed (nothing kept).`;

/** `SESSION:PATH`: a session reference, a colon, a path. A path with a / before its colon is a host path. */
const SESSION_PATH = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,127}):(.*)$/s;

/**
 * Run `agentbox cp ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { cpCommand } from "./cp.ts";
 * await cpCommand(["web:/var/log/app.log", "."]);
 * ```
 */
export async function cpCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("cp", args, {
    "exact-modes": { type: "boolean" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(CP_HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError(
      "Name a source and a destination: usage is `agentbox cp PATH SESSION:PATH` or " +
        "`agentbox cp SESSION:PATH PATH`",
    );
  }
  const [from, to] = positionals.map((p) => SESSION_PATH.exec(p));
  if ((from === null) === (to === null)) {
    throw new UsageError(
      from
        ? "Both paths name a session: one side of `agentbox cp` is a host path"
        : "Neither path names a session: write one side as SESSION:PATH",
    );
  }
  await using ctx = openContext();
  if (to) {
    const source = resolve(Deno.cwd(), positionals[0]);
    if (values["exact-modes"]) {
      throw new UsageError("--exact-modes is for copying out of a session");
    }
    const report = await copyToSession(ctx, { session: to[1], source, dest: to[2] });
    for (const { path, reason } of report.skipped) {
      console.error(`agentbox: skipped ${path}: ${reason}`);
    }
    console.error(
      `agentbox: copied ${report.entries} entries (${report.bytes} bytes) to ` +
        `${to[1]}:${printable(report.guestPath)}`,
    );
    return report.skipped.length > 0 ? 1 : 0;
  }
  const dest = resolve(Deno.cwd(), positionals[1]);
  const report = await copyFromSession(ctx, {
    session: from![1],
    source: from![2],
    dest,
    exactModes: !!values["exact-modes"],
  });
  for (const { path, reason } of report.skipped) {
    console.error(`agentbox: skipped ${path}: ${reason}`);
  }
  if (report.skippedCount > report.skipped.length) {
    console.error(`agentbox: … and ${report.skippedCount - report.skipped.length} more skipped`);
  }
  console.error(
    `agentbox: copied ${report.files} files, ${report.dirs} directories, ${report.symlinks} ` +
      `links (${report.bytes} bytes) to ${printable(report.path)}`,
  );
  return report.skippedCount > 0 ? 1 : 0;
}
