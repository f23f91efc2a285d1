/**
 * Where the `exec` report goes: stdout (`--json`, the command's own streams then captured to
 * files) or a file (`--report FILE`, the command's streams untouched). A file is written whole or
 * not at all (a temporary file renamed into place), so a CI step never reads half a report.
 *
 * @module
 */

import type { ExecResult } from "../channel/agent_client.ts";
import { jsonSafe } from "../terminal_text.ts";
import type { CommandIo } from "./attached_command.ts";
import type { CapturedIo } from "./captured_io.ts";
import type { ExecReport } from "./report_schemas.ts";
import { EXEC_REPORT_VERSION } from "./report_versions.ts";

/** `"stdout"`, or the path of the report file. */
export type ReportTarget = "stdout" | { file: string };

/**
 * Write `report` (or `{version, error}` when the run failed) to `target`, as one line of JSON.
 *
 * @example
 * ```ts ignore
 * import { emitReport } from "./exec_report.ts";
 * await emitReport({ file: "report.json" }, report);
 * ```
 */
export async function emitReport(
  target: ReportTarget,
  report: ExecReport | { version: number; error: unknown },
): Promise<void> {
  const text = jsonSafe(JSON.stringify(report));
  if (target === "stdout") {
    console.log(text);
    return;
  }
  const temp = `${target.file}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(temp, `${text}\n`, { createNew: true });
  await Deno.rename(temp, target.file);
}

/** What a report is made of: the run's outcome plus what the one-shot lifecycle adds. */
export interface ReportParts {
  session: string;
  /** agentbox's exit status. */
  exitCode: number;
  result: ExecResult;
  /** The command's io: its files are named when it captured the output. */
  io?: CommandIo;
  warnings: string[];
  changes?: ExecReport["changes"];
  applied?: ExecReport["applied"];
  network?: ExecReport["network"];
  timings: ExecReport["timings"];
  /** With `--system-diff`: the system diff's JSON. */
  system?: unknown;
}

/**
 * The `exec` report from its parts; what a part does not apply to (changes, network with
 * `--session`) is `null`.
 *
 * @example
 * ```ts
 * import { execReport } from "./exec_report.ts";
 * const report = execReport({
 *   session: "abc", exitCode: 0, result: { code: 0, signal: null, timedOut: false },
 *   warnings: [], timings: { commandMs: 5, totalMs: 6 },
 * });
 * console.assert(report.output.stdout === null && report.network === null);
 * ```
 */
export function execReport(parts: ReportParts): ExecReport {
  const files = (parts.io as Partial<CapturedIo> | undefined)?.files;
  return {
    version: EXEC_REPORT_VERSION,
    session: parts.session,
    exitCode: parts.exitCode,
    code: parts.result.code,
    signal: parts.result.signal,
    timedOut: parts.result.timedOut,
    output: { stdout: files?.stdout ?? null, stderr: files?.stderr ?? null },
    warnings: parts.warnings,
    changes: parts.changes ?? null,
    applied: parts.applied ?? null,
    network: parts.network ?? null,
    timings: parts.timings,
    ...(parts.system === undefined ? {} : { system: parts.system }),
  };
}
