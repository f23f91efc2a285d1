/**
 * Run a host tool (mkfs, cp, the image build's tools) and turn its failure into the caller's
 * error type (default: an `AgentboxError` of kind `unavailable`, code `command_failed`). In the
 * bottom layer, so that any room can run a tool without importing another.
 *
 * @module
 */

import { AgentboxError } from "./agentbox_error.ts";
import { readLines } from "./read_lines.ts";

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  cwd?: string;
  /** Said when the tool cannot be started at all, e.g. "install erofs-utils". */
  missingHint?: string;
  /** The error to throw (default an `AgentboxError`), for callers outside the image build. */
  makeError?: (message: string, options?: ErrorOptions) => Error;
  /** The whole environment of the command (nothing of agentbox's own is passed on). */
  env?: Record<string, string>;
}

/**
 * Run `command` with `args` (never through a shell) and return its stdout. Throws
 * {@link ImageError} with the last lines of stderr when it fails.
 *
 * @example
 * ```ts
 * import { runCommand } from "./run_command.ts";
 * const version = await runCommand("mkfs.erofs", ["--help"], { missingHint: "install erofs-utils" });
 * ```
 */
export async function runCommand(
  command: string,
  args: string[],
  options: RunCommandOptions = {},
): Promise<string> {
  const output = await spawnTool(command, args, options).output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join("\n");
    throw makeError(options)(`${command} failed (exit code ${output.code}): ${stderr}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** Start `command` with piped output (never through a shell); a tool that cannot start is the caller's error. */
function spawnTool(
  command: string,
  args: string[],
  options: RunCommandOptions,
): Deno.ChildProcess {
  try {
    return new Deno.Command(command, {
      args,
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.env !== undefined,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    const hint = options.missingHint ? `: ${options.missingHint}` : "";
    throw makeError(options)(`Cannot run ${command}${hint}`, { cause });
  }
}

function makeError(options: RunCommandOptions) {
  return options.makeError ??
    ((message: string, errorOptions?: ErrorOptions) =>
      new AgentboxError(message, { ...errorOptions, kind: "unavailable", code: "command_failed" }));
}

/** Options of {@linkcode runCommandLines}. */
export interface RunCommandLinesOptions extends RunCommandOptions {
  /** Called with each non-empty line of stdout and stderr as it comes. */
  onLine?: (line: string) => void;
}

/**
 * Run a long `command` (never through a shell), handing each output line to `onLine`. Throws
 * an `AgentboxError` (or the caller's error) with the last lines of output when it fails.
 *
 * @example
 * ```ts
 * import { runCommandLines } from "./run_command.ts";
 * await runCommandLines("sh", ["-c", "echo one; echo two"], { onLine: (line) => console.log(line) });
 * ```
 */
export async function runCommandLines(
  command: string,
  args: string[],
  options: RunCommandLinesOptions = {},
): Promise<void> {
  const child = spawnTool(command, args, options);
  const tail: string[] = [];
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const line of readLines(stream)) {
      tail.push(line);
      if (tail.length > 8) tail.shift();
      options.onLine?.(line);
    }
  };
  const [status] = await Promise.all([child.status, read(child.stdout), read(child.stderr)]);
  if (!status.success) {
    throw makeError(options)(
      `${command} failed (exit code ${status.code}):\n${tail.join("\n")}`,
    );
  }
}
