/**
 * The command's stdio as pipes (`agentbox exec`, and `agentbox run` without a terminal): stdin
 * forwarded when it is not a terminal, stdout and stderr copied byte-exact to ours, Ctrl-C
 * forwarded as in signals.ts.
 *
 * @module
 */

import type { ExecHandle } from "../channel/agent_client.ts";
import type { CommandIo } from "./attached_command.ts";
import { forwardInterrupts } from "./signals.ts";

/** agentbox keeps using its own stdout and stderr after the command's streams end or fail. */
const KEEP_OPEN = { preventClose: true, preventAbort: true } as const;

/**
 * Pipes between the command and agentbox's own stdio. With `stdoutToStderr` (`exec --json`) the
 * command's stdout goes to our stderr, leaving stdout to the report.
 *
 * @example
 * ```ts ignore
 * import { pipedIo } from "./piped_io.ts";
 * import { runOneShot } from "./one_shot.ts";
 * await runOneShot(plan, pipedIo({ stdoutToStderr: false }));
 * ```
 */
export function pipedIo(options: { stdoutToStderr?: boolean } = {}): CommandIo {
  let stopInterrupts = () => {};
  return {
    open: () => ({ stdin: Deno.stdin.isTerminal() ? undefined : Deno.stdin.readable }),
    attach(run, stopVm) {
      stopInterrupts = forwardInterrupts(run, stopVm);
      return Promise.all([
        forward(run, run.stdout, options.stdoutToStderr ? stderrSink() : Deno.stdout.writable),
        forward(run, run.stderr, Deno.stderr.writable),
      ]).then(() => {});
    },
    close() {
      stopInterrupts();
    },
  };
}

/** A second writer on our stderr, for the command's stdout under `--json`. */
function stderrSink(): WritableStream<Uint8Array> {
  return new WritableStream({
    async write(chunk) {
      for (let written = 0; written < chunk.length;) {
        written += await Deno.stderr.write(chunk.subarray(written));
      }
    },
  });
}

/** Copy a command's output to ours. */
async function forward(
  run: ExecHandle,
  from: ReadableStream<Uint8Array>,
  to: WritableStream<Uint8Array>,
): Promise<void> {
  try {
    await from.pipeTo(to, KEEP_OPEN);
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    // Our reader went away (`agentbox exec -- yes | head`): as in a shell pipeline, the command
    // gets SIGPIPE rather than writing forever into a pipe nobody reads.
    await run.signal("SIGPIPE").catch(() => {});
  }
}
