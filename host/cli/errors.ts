/**
 * The CLI's one error path: every failure becomes one `agentbox: error: …` line (plus its causes
 * with `--verbose`) and an exit status chosen by the error's kind from one table.
 *
 * | status | meaning                                                              |
 * |--------|----------------------------------------------------------------------|
 * | 124    | the command hit `--timeout` (kind `timeout`)                          |
 * | 125    | usage or configuration error, unknown name, name taken                |
 * | 126    | VM, image, guest or host failure (every other kind)                   |
 * | 127    | the command was not found or could not start (`command_not_found`)    |
 *
 * @module
 */

import { asAgentboxError, type ErrorKind, UsageError } from "../api/errors.ts";

export { UsageError };
import { escapeControls } from "../terminal_text.ts";
import { useColor } from "./output_settings.ts";

/** SGR sequences of the `error:` and `warning:` labels on a colour terminal. */
const LABEL_COLOR = { error: "\x1b[1;31m", warning: "\x1b[1;33m" } as const;

/**
 * `agentbox: error: ` / `agentbox: warning: `, the label coloured when stderr is (`--color`).
 *
 * @example
 * ```ts
 * import { stderrLabel } from "./errors.ts";
 * console.error(`${stderrLabel("warning")}the disk is almost full`);
 * ```
 */
export function stderrLabel(kind: "error" | "warning"): string {
  return useColor(Deno.stderr)
    ? `agentbox: ${LABEL_COLOR[kind]}${kind}:\x1b[0m `
    : `agentbox: ${kind}: `;
}

/** Exit statuses agentbox uses for its own failures. */
export const EXIT = {
  timeout: 124,
  usage: 125,
  vm: 126,
  notFound: 127,
} as const;

/** The exit status of each kind of failure: the CLI's one mapping (a server has its own). */
export const EXIT_STATUS: Record<ErrorKind, number> = {
  usage: EXIT.usage,
  not_found: EXIT.usage,
  conflict: EXIT.usage,
  state: EXIT.vm,
  command_not_found: EXIT.notFound,
  timeout: EXIT.timeout,
  unavailable: EXIT.vm,
  vm: EXIT.vm,
  guest: EXIT.vm,
  failed: EXIT.vm,
  internal: EXIT.vm,
};

/**
 * The exit status for an error that reached the top.
 *
 * @example
 * ```ts
 * import { exitStatusFor, UsageError } from "./errors.ts";
 * console.assert(exitStatusFor(new UsageError("bad")) === 125);
 * ```
 */
export function exitStatusFor(error: unknown): number {
  return EXIT_STATUS[asAgentboxError(error).kind];
}

/**
 * Print `error` as one line on stderr; with `verbose`, its chain of causes and the console tail.
 * With `json`, also print `{"error": {kind, code, message}}` on stdout, for scripts.
 *
 * @example
 * ```ts
 * import { reportError } from "./errors.ts";
 * reportError(new Error("Cannot boot VM", { cause: new Error("no kernel") }), { verbose: true });
 * ```
 */
export function reportError(
  error: unknown,
  options: { verbose?: boolean; json?: boolean } = {},
): void {
  const typed = asAgentboxError(error);
  // Messages can quote the guest (an agent's error, a session's detail): escape its controls.
  console.error(`${stderrLabel("error")}${escapeControls(typed.message, { keep: "\t\n" })}`);
  const consoleTail = (error as { consoleTail?: unknown } | undefined)?.consoleTail;
  if (typeof consoleTail === "string" && consoleTail) {
    console.error(
      `agentbox: last lines of the VM console:\n${indent(consoleTail)}`,
    );
  }
  if (options.json) {
    console.log(JSON.stringify({
      version: 1,
      error: { kind: typed.kind, code: typed.code, message: typed.message },
    }));
  }
  if (!options.verbose) return;
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause !== undefined) {
    const text = cause instanceof Error ? cause.message : String(cause).slice(0, 500);
    console.error(`Caused by: ${escapeControls(text, { keep: "\t\n" })}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  | ${line}`).join("\n");
}
