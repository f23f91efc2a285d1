/**
 * `agentbox export SESSION (--ansible | --script) [--out DIR] [--path GLOB]... [--skip KIND]...
 * [--yes-high-risk] [--exclude GLOB]...`: a session's system diff as an Ansible playbook or an
 * idempotent shell script that reproduces it on a fresh Debian machine. Only what was selected
 * goes in; secrets never do (they are TODOs).
 *
 * @module
 */

import { EXPORT_KINDS, type ExportKind, exportSystemChanges } from "../api/system_changes.ts";
import { openContext } from "../api/context.ts";
import { collectIfRunning } from "../api/live_changes.ts";
import { printEvent } from "./print_event.ts";
import { escapeControls, printable } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { sessionArgument } from "./logs.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox export`. */
export const EXPORT_HELP =
  `Export what a session changed on its machine as Ansible or a shell script.

Usage: agentbox export SESSION (--ansible | --script) [--out DIR] [--path GLOB]...
                      [--skip KIND]... [--yes-high-risk] [--exclude GLOB]...

Reads the session's system diff (\`agentbox diff SESSION --system\`): packages with the versions
the session had, users and groups, services, and the files it changed (with owner and mode).
Files of installed packages come with the packages; secrets (keys, *.pem, shadow, tokens) are
never copied: they are listed as TODOs, as are high-risk paths not allowed with --yes-high-risk.
Review the result before running it.

Options:
  --ansible         an Ansible playbook (ansible-core's builtin modules)
  --script          an idempotent POSIX shell script (run it as root)
  --out DIR         write into DIR (new or empty): playbook.yml and files/, or apply.sh;
                    without it the playbook or script goes to stdout (files a playbook cannot
                    inline then become TODOs)
  --path GLOB       take only the files matching GLOB (repeatable; relative to /; * and ?
                    within a name, ** across names; a directory takes what is below it)
  --skip KIND       leave out a kind of change: ${EXPORT_KINDS.join(", ")} (repeatable)
  --yes-high-risk   take high-risk files too (sudoers, ssh, cron, units, profile…)
  --exclude GLOB    leave out matching paths, as \`diff --system --exclude\`
  -h, --help        show this help`;

/** Run `agentbox export ARGS`. */
export async function exportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("export", args, {
    ansible: { type: "boolean" },
    script: { type: "boolean" },
    out: { type: "string" },
    path: { type: "string", multiple: true },
    skip: { type: "string", multiple: true },
    "yes-high-risk": { type: "boolean" },
    exclude: { type: "string", multiple: true },
  });
  if (values.help) {
    console.log(EXPORT_HELP);
    return 0;
  }
  if (!!values.ansible === !!values.script) {
    throw new UsageError("Choose one of --ansible and --script: see `agentbox export --help`");
  }
  const strings = (value: unknown) => (value ?? []) as string[];
  const skip = strings(values.skip).flatMap((s) => s.split(","));
  for (const kind of skip) {
    if (!EXPORT_KINDS.includes(kind as ExportKind)) {
      throw new UsageError(
        `Unknown --skip "${printable(kind)}": choose from ${EXPORT_KINDS.join(", ")}`,
      );
    }
  }
  let session: string | undefined;
  {
    await using ctx = openContext({ onEvent: printEvent });
    session = sessionArgument(ctx, positionals, "export");
    if (session !== undefined) await collectIfRunning(ctx, session, "system");
  }
  if (session === undefined) throw new UsageError("export needs a SESSION: see `agentbox ps -a`");
  const result = await exportSystemChanges(session, {
    format: values.ansible ? "ansible" : "script",
    out: values.out as string | undefined,
    paths: strings(values.path),
    skip: skip as ExportKind[],
    allowHighRisk: !!values["yes-high-risk"],
    exclude: strings(values.exclude),
  });
  if (values.out) {
    console.error(
      escapeControls(`agentbox: wrote ${result.written.length} files into ${String(values.out)}`),
    );
  } else {
    await Deno.stdout.write(new TextEncoder().encode(result.text));
  }
  const todos = result.plan.steps.filter((s) => s.kind === "todo").length;
  if (result.plan.heldBack.length) {
    console.error(
      `agentbox: ${result.plan.heldBack.length} high-risk file(s) held back (see the TODOs): ` +
        "review them, then export with --yes-high-risk or --path",
    );
  } else if (todos) {
    console.error(`agentbox: ${todos} TODO(s) in the export: review them`);
  }
  return 0;
}
