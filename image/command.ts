/**
 * Host tools run for the image build: host/run_command.ts with {@link ImageError} as the error.
 *
 * @module
 */

import {
  runCommand as run,
  runCommandLines as runLines,
  type RunCommandLinesOptions,
  type RunCommandOptions,
} from "../host/run_command.ts";
import { ImageError } from "./errors.ts";

export type { RunCommandLinesOptions, RunCommandOptions };

const imageError = (message: string, options?: ErrorOptions) => new ImageError(message, options);

/**
 * Run `command` (never through a shell) and return its stdout; throws {@link ImageError}.
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * console.log(await runCommand("uname", ["-r"]));
 * ```
 */
export function runCommand(
  command: string,
  args: string[],
  options: RunCommandOptions = {},
): Promise<string> {
  return run(command, args, { makeError: imageError, ...options });
}

/**
 * Run a long `command`, handing each output line to `onLine`; throws {@link ImageError}.
 *
 * @example
 * ```ts
 * import { runCommandLines } from "./command.ts";
 * await runCommandLines("sh", ["-c", "echo one"], { onLine: (line) => console.log(line) });
 * ```
 */
export function runCommandLines(
  command: string,
  args: string[],
  options: RunCommandLinesOptions = {},
): Promise<void> {
  return runLines(command, args, { makeError: imageError, ...options });
}
