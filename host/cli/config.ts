/**
 * `agentbox config`: the effective configuration for the project in the current directory (or
 * `--share DIR`), each value with the file and line it came from, and where agentbox looked for
 * the files. Exit status 0 when both files are valid, 125 when one is not.
 *
 * @module
 */

import { resolve } from "node:path";
import { type ConfigReport, configReport } from "../api/project.ts";
import { escapeControls } from "../terminal_text.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox config`. */
export const CONFIG_HELP =
  `Show the effective configuration, with the file and line each value came from.

Usage: agentbox config [--share DIR] [--json]

agentbox reads the user's ~/.config/agentbox/config.toml and the project's .agentbox.toml,
found from the project directory (DIR, else the current directory) up to the repository root
(a directory holding .git) or the file system root, as git finds .git. Lists add up across the
files; other values come from the last file that sets them (docs/configuration.md).

Options:
  --share DIR  show the configuration of the project at DIR
  --json       print the report as JSON: version, project, files, values
  -h, --help   show this help

Exit status: 0, or 125 when a configuration file is invalid (the error names file and line).`;

/** Run `agentbox config ARGS`. */
export async function configCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("config", args, {
    share: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(CONFIG_HELP);
    return 0;
  }
  const cwd = Deno.cwd();
  const share = values.share as string | undefined;
  const report = await configReport({
    projectDir: share === undefined ? cwd : resolve(cwd, share),
  });
  if (values.json) console.log(JSON.stringify({ version: 1, ...report }, null, 2));
  else for (const line of renderConfig(report)) console.log(escapeControls(line));
  const bad = report.files.filter((f) => f.error);
  if (values.json) return bad.length > 0 ? 125 : 0;
  for (const f of bad) console.error(`agentbox: error: ${escapeControls(f.error!.message)}`);
  return bad.length > 0 ? 125 : 0;
}

/**
 * The report as lines: where agentbox looked, then `key = value  file:line` per value.
 *
 * @example
 * ```ts ignore
 * import { renderConfig } from "./config.ts";
 * for (const line of renderConfig(report)) console.log(line);
 * ```
 */
export function renderConfig(report: ConfigReport): string[] {
  const lines: string[] = [];
  for (const f of report.files) {
    const state = f.error ? "INVALID" : f.exists ? "found" : "missing";
    const label = f.role === "user" ? "user file:   " : "project file:";
    lines.push(`${label} ${f.file} (${state})`);
  }
  const p = report.project;
  lines.push(
    `project:      ${p.projectDir}` +
      (p.repoRoot ? ` (repository root ${p.repoRoot})` : " (no repository: searched up to /)"),
  );
  lines.push("");
  const shown = report.values.map((v) => [
    `${v.key} = ${JSON.stringify(v.value)}`,
    v.file ? `${v.file}${v.line ? `:${v.line}` : ""}` : "default",
  ]);
  const width = Math.min(60, Math.max(...shown.map(([s]) => s.length)));
  for (const [setting, source] of shown) lines.push(`${setting.padEnd(width)}  ${source}`);
  return lines;
}
