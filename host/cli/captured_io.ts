/**
 * The command's stdout and stderr captured to files (`exec --json`): agentbox's own stdout then
 * carries the report alone and its stderr only agentbox's lines, while the command's streams are
 * kept byte-exact in `DIR/stdout` and `DIR/stderr` (0600, in a 0700 directory the report names).
 * Stdin and Ctrl-C are handled as with pipes (piped_io.ts).
 *
 * @module
 */

import type { ExecHandle } from "../channel/agent_client.ts";
import type { CommandIo } from "./attached_command.ts";
import { forwardInterrupts } from "./signals.ts";

/** A {@linkcode CommandIo} that writes the command's output to files. */
export interface CapturedIo extends CommandIo {
  /** Where the command's streams are written. */
  files: { stdout: string; stderr: string };
}

/**
 * Capture the command's output under `dir` (created, with its parents).
 *
 * @example
 * ```ts ignore
 * import { capturedIo } from "./captured_io.ts";
 * const io = capturedIo("/state/sessions/abc/output/1f2e3d4c");
 * console.log(io.files.stdout); // /state/sessions/abc/output/1f2e3d4c/stdout
 * ```
 */
export function capturedIo(dir: string): CapturedIo {
  let stopInterrupts = () => {};
  const files = { stdout: `${dir}/stdout`, stderr: `${dir}/stderr` };
  return {
    files,
    open: () => ({ stdin: Deno.stdin.isTerminal() ? undefined : Deno.stdin.readable }),
    async attach(run: ExecHandle, stopVm) {
      stopInterrupts = forwardInterrupts(run, stopVm);
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      await Promise.all([
        toFile(run.stdout, files.stdout),
        toFile(run.stderr, files.stderr),
      ]);
    },
    close() {
      stopInterrupts();
    },
  };
}

async function toFile(from: ReadableStream<Uint8Array>, path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  // pipeTo closes the file when the stream ends.
  await from.pipeTo(file.writable);
}
