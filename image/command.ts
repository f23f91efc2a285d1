/**
 * Run a host tool (for the image build, or a workspace image) and turn its failure into an
 * {@link ImageError} or the caller's error type.
 *
 * @module
 */

import { ImageError } from "./errors.ts";

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  cwd?: string;
  /** Said when the tool cannot be started at all, e.g. "install erofs-utils". */
  missingHint?: string;
  /** The error to throw (default {@link ImageError}), for callers outside the image build. */
  makeError?: (message: string, options?: ErrorOptions) => Error;
}

/**
 * Run `command` with `args` (never through a shell) and return its stdout. Throws
 * {@link ImageError} with the last lines of stderr when it fails.
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * const version = await runCommand("mkfs.erofs", ["--help"], { missingHint: "install erofs-utils" });
 * ```
 */
export async function runCommand(
  command: string,
  args: string[],
  options: RunCommandOptions = {},
): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, {
      args,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (cause) {
    const hint = options.missingHint ? `: ${options.missingHint}` : "";
    throw makeError(options)(`Cannot run ${command}${hint}`, { cause });
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join("\n");
    throw makeError(options)(`${command} failed (exit code ${output.code}): ${stderr}`);
  }
  return new TextDecoder().decode(output.stdout);
}

function makeError(options: RunCommandOptions) {
  return options.makeError ??
    ((message: string, errorOptions?: ErrorOptions) => new ImageError(message, errorOptions));
}
