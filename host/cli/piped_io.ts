/**
 * The command's stdio as pipes (`agentbox exec`, and `agentbox run` without a terminal): stdin
 * forwarded when it is not a terminal, stdout and stderr copied byte-exact to ours, Ctrl-C
 * forwarded as in signals.ts. The output waits while a graylist question is on the terminal
 * (output_gate.ts).
 *
 * @module
 */

import type { ExecHandle } from "../channel/agent_client.ts";
import type { CommandIo } from "./attached_command.ts";
import { terminalOutput } from "./output_gate.ts";
import { forwardInterrupts } from "./signals.ts";

/**
 * Pipes between the command and agentbox's own stdio (`exec --json` captures them to files
 * instead: captured_io.ts). With `forwardStdin` (`exec -i`) a terminal's input is forwarded too,
 * line by line as the terminal sends it.
 *
 * @example
 * ```ts ignore
 * import { pipedIo } from "./piped_io.ts";
 * import { runOneShot } from "./one_shot.ts";
 * await runOneShot(plan, pipedIo());
 * ```
 */
export function pipedIo(options: { forwardStdin?: boolean } = {}): CommandIo {
  let stopInterrupts = () => {};
  const forwardStdin = options.forwardStdin || !Deno.stdin.isTerminal();
  return {
    open: () => ({ stdin: forwardStdin ? Deno.stdin.readable : undefined }),
    attach(run, stopVm) {
      stopInterrupts = forwardInterrupts(run, stopVm);
      return Promise.all([
        forward(run, run.stdout, Deno.stdout.writable),
        forward(run, run.stderr, Deno.stderr.writable),
      ]).then(() => {});
    },
    close() {
      stopInterrupts();
    },
  };
}

/**
 * Copy a command's output to ours, through the terminal's gate: it waits while agentbox asks the
 * user something (the graylist question), so the guest cannot draw over the question.
 */
async function forward(
  run: ExecHandle,
  from: ReadableStream<Uint8Array>,
  to: WritableStream<Uint8Array>,
): Promise<void> {
  try {
    // The gate's stream lets go of `to` without closing it.
    await from.pipeTo(terminalOutput.writable(to));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    // Our reader went away (`agentbox exec -- yes | head`): as in a shell pipeline, the command
    // gets SIGPIPE rather than writing forever into a pipe nobody reads.
    await run.signal("SIGPIPE").catch(() => {});
  }
}
