/**
 * Run a host tool for the image build and turn its failure into an {@link ImageError}.
 *
 * @module
 */

import { ImageError } from "./errors.ts";

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  cwd?: string;
  /** Said when the tool cannot be started at all, e.g. "install erofs-utils". */
  missingHint?: string;
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
    throw new ImageError(`Cannot run ${command}${hint}`, { cause });
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join("\n");
    throw new ImageError(`${command} failed (exit code ${output.code}): ${stderr}`);
  }
  return new TextDecoder().decode(output.stdout);
}
